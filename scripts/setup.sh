#!/usr/bin/env bash
# Everything scenebench needs besides Rust, on a fresh Debian/Ubuntu machine. Idempotent.
#   - ONNX Runtime 1.31 shared library (from the PyPI wheel) into .cache/onnxruntime/
#   - Python venv .venv with coremltools (CoreML export and its Linux numeric check)
#   - with --swift: Swift 6 in a Debian 13 chroot (ios-bench tests); needs root
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
if ! command -v python3 >/dev/null || ! python3 -m pip --version >/dev/null 2>&1; then
    echo "setup: installing python3 and pip (apt-get)" >&2
    apt-get update -qq && apt-get install -y -qq python3 python3-pip python3-venv >/dev/null
fi
bash scripts/fetch-onnxruntime.sh >/dev/null
bash scripts/setup-python.sh
if [[ "${1:-}" == "--swift" ]]; then
    bash scripts/setup-swift.sh
fi
echo "setup: done (ONNX Runtime in .cache/onnxruntime, Python env in .venv)" >&2
