#!/usr/bin/env bash
# Run the test suite (Azurite and Voila are started and stopped by the tests' fixtures).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/.tools/node_modules/.bin:$PATH"
exec .venv/bin/python -m pytest "$@"
