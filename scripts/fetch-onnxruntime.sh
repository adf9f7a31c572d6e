#!/usr/bin/env bash
# Fetch the ONNX Runtime shared library that the `ort` backend loads at run time.
#
# The `ort` crate is built with `load-dynamic` (no download at build time); the library comes from
# the official `onnxruntime` Python wheel, which ships `onnxruntime/capi/libonnxruntime.so.<ver>`
# (C API exported, depends only on glibc/libstdc++). The wheel is fetched with pip's default index
# and unpacked into `<repo>/.cache/onnxruntime/` (ignored by git); `libonnxruntime.so` there is
# what scenebench finds when ORT_DYLIB_PATH is not set.
#
# Idempotent: when the pinned library is already in place nothing is downloaded.
# Prints the library path on stdout (progress goes to stderr).
set -euo pipefail

ORT_VERSION="1.31.1"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$repo/.cache/onnxruntime"
lib="$dest/libonnxruntime.so.$ORT_VERSION"
link="$dest/libonnxruntime.so"

check_exports() {
    # The C API entry point must be exported, otherwise `ort` cannot use the library.
    local f="$1"
    if command -v nm >/dev/null 2>&1; then
        # (no `grep -q`: it would close the pipe early and trip pipefail)
        nm -D --defined-only "$f" | grep -E ' OrtGetApiBase(@|$)' >/dev/null
    else
        python3 - "$f" <<'PY'
import ctypes, sys
ctypes.CDLL(sys.argv[1]).OrtGetApiBase
PY
    fi
}

if [[ -f "$lib" && -L "$link" ]] && check_exports "$lib"; then
    echo "onnxruntime $ORT_VERSION already present" >&2
    echo "$link"
    exit 0
fi

mkdir -p "$dest"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "downloading the onnxruntime==$ORT_VERSION wheel with pip ..." >&2
python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --dest "$tmp" "onnxruntime==$ORT_VERSION" >&2
shopt -s nullglob
wheels=("$tmp"/onnxruntime-"$ORT_VERSION"-*.whl)
shopt -u nullglob
wheel="${wheels[0]:-}"
if [[ -z "$wheel" ]]; then
    echo "error: pip did not produce an onnxruntime $ORT_VERSION wheel in $tmp" >&2
    exit 1
fi

# A wheel is a zip file; python3's zipfile avoids depending on `unzip`.
python3 - "$wheel" "$tmp/lib" "$ORT_VERSION" <<'PY'
import sys, zipfile, shutil, os
wheel, out, ver = sys.argv[1:4]
name = f"onnxruntime/capi/libonnxruntime.so.{ver}"
with zipfile.ZipFile(wheel) as z:
    if name not in z.namelist():
        cands = [n for n in z.namelist() if "libonnxruntime.so" in n]
        sys.exit(f"error: {name} not found in {wheel} (found: {cands})")
    with z.open(name) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
os.chmod(out, 0o755)
PY

if ! check_exports "$tmp/lib"; then
    echo "error: $wheel's libonnxruntime.so.$ORT_VERSION does not export OrtGetApiBase" >&2
    exit 1
fi

mv -f "$tmp/lib" "$lib"
ln -sfn "libonnxruntime.so.$ORT_VERSION" "$link"
echo "installed onnxruntime $ORT_VERSION into $dest" >&2
echo "$link"
