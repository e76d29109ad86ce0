# Sourced by the setup_*.sh scripts: isolated_venv NAME creates benchmarks/NAME (once) with python3.11 (or
# $PYTHON), upgrades its pip, and sets $venv to its folder.  Idempotent.
isolated_venv() {
    venv="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$1"
    if [ ! -x "$venv/bin/python" ]; then
        "${PYTHON:-python3.11}" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --upgrade pip
}
