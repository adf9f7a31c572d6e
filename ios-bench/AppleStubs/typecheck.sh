#!/usr/bin/env bash
# Type-check the Apple-only sources of ios-bench (CoreML backend, ImageIO/CoreVideo pixel
# sources, the CLI's CoreML branch) on Linux against the stand-in modules in this folder.
# Run inside the Swift chroot from the package root (scripts/swift-test.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for m in CoreVideo CoreGraphics ImageIO CoreML; do
    swiftc -parse-as-library -I "$out" -emit-module -module-name "$m" "AppleStubs/$m.swift" -emit-module-path "$out/$m.swiftmodule"
done
swiftc -parse-as-library -swift-version 6 -I "$out" -emit-module -module-name SceneBench Sources/SceneBench/*.swift \
    -emit-module-path "$out/SceneBench.swiftmodule"
swiftc -typecheck -swift-version 6 -I "$out" Sources/scenebench-ios-bench/main.swift
echo "AppleStubs/typecheck.sh: Apple-only code type-checks against the stand-in SDK modules"
