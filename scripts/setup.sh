#!/usr/bin/env bash
# One command from a fresh clone to a working environment:
#   .venv/ (Python 3.11, pinned dependencies, the workbench in editable mode),
#   .tools/ (Azurite 3.35 from npm, the local Azure Blob Storage the tests use),
#   Debian's chromium (for the Voila browser tests) when running as root and it is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python_bin="${PYTHON:-python3.11}"
command -v "$python_bin" >/dev/null 2>&1 || python_bin=python3
"$python_bin" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
    || { echo "setup: Python 3.11 is required" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
    "$python_bin" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# torch first and pinned exactly: pip then takes the local CPU build instead of CUDA wheels
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[dev]"

if [ ! -x .tools/node_modules/.bin/azurite-blob ]; then
    mkdir -p .tools
    npm install --prefix .tools --no-audit --no-fund --loglevel=error azurite@3.35.0
fi

if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
            || echo "setup: could not install chromium; browser tests will be skipped" >&2
    else
        echo "setup: chromium missing and not root; install it with: sudo apt-get install chromium" >&2
    fi
fi
.venv/bin/workbench --version
echo "setup: done. Activate with: source .venv/bin/activate"
