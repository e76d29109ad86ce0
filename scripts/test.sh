#!/usr/bin/env bash
# Check the import layering, then run the test suite (Azurite and Voila are started and stopped by the tests' fixtures).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/.tools/node_modules/.bin:$PATH"
# the layering contracts in pyproject.toml ([tool.importlinter]) first: an import back up the floors fails here
.venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest "$@"
