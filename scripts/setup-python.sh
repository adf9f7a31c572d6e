#!/usr/bin/env bash
# Creates <repo>/.venv with the pinned Python packages of tools/requirements.txt (coremltools for the
# CoreML export, numpy, safetensors). Idempotent: a stamp file holding the hash of the requirements
# and of the interpreter makes a re-run a silent no-op. CI runs it before the tests.
#
# Environment: PYTHON (interpreter to build the venv from; default python3),
#              SCENEBENCH_VENV (venv folder; default <repo>/.venv).
# The fixture-regeneration environment (torch, timm) is NOT made here: see tools/fixtures/README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
VENV="${SCENEBENCH_VENV:-$ROOT/.venv}"
REQ="$ROOT/tools/requirements.txt"
STAMP="$VENV/.scenebench-requirements.sha256"

command -v "$PY" >/dev/null 2>&1 || { echo "setup-python: '$PY' not found; install Python 3.10+ (Debian: apt-get install python3 python3-venv)" >&2; exit 1; }

want="$( { sha256sum "$REQ" | cut -d' ' -f1; "$PY" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    exit 0
fi

make_venv() {
    rm -rf "$VENV"
    if "$PY" -m venv "$VENV" >/dev/null 2>&1; then return 0; fi
    rm -rf "$VENV"
    # Debian's python3 ships venv without ensurepip unless python3-venv is installed.
    if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
        echo "setup-python: python3 -m venv failed; installing the python3-venv package" >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv) >/dev/null 2>&1 || true
        if "$PY" -m venv "$VENV" >/dev/null 2>&1; then return 0; fi
        rm -rf "$VENV"
    fi
    # Last resort: a venv without pip, then bootstrap pip through virtualenv.
    echo "setup-python: falling back to virtualenv" >&2
    "$PY" -m pip install -q --user virtualenv >/dev/null 2>&1 || "$PY" -m pip install -q --break-system-packages --user virtualenv
    "$PY" -m virtualenv -q "$VENV"
}
# Reuse an existing venv (pip brings it to the pinned versions); make one only when there is none.
if ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    echo "setup-python: creating $VENV" >&2
    make_venv
fi
echo "setup-python: installing $REQ" >&2
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
# Import once (fail here, not in a test, if the install is broken). coremltools prints
# "Failed to load _MLModelProxy" lines on Linux, where the CoreML runtime does not exist: hide them.
if ! "$VENV/bin/python" -c 'import coremltools, numpy, safetensors' >/dev/null 2>&1; then
    "$VENV/bin/python" -c 'import coremltools, numpy, safetensors'
    exit 1
fi
echo "$want" > "$STAMP"
echo "setup-python: ready (coremltools $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("coremltools"))'))" >&2
