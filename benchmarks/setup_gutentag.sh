#!/usr/bin/env bash
# Build benchmarks/.venv-gutentag: TimeEval's GutenTAG 1.5.0, the generator of the labelled synthetic suite
# (benchmarks/gutentag/*.yaml). Isolated from the workbench venv because it pins scipy<1.15 and
# neurokit2==0.1.2 (ECG bases). No torch here: the venv only generates data, in a subprocess
# (benchmarks/gutentag_gen.py). Idempotent: re-running only checks the install.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/isolated_venv.sh"
isolated_venv .venv-gutentag
# GutenTAG's own bounds (scipy<1.15, neurokit2==0.1.2; it uses numpy 2's np._core), pinned to versions that work together and whose
# generated data the committed configs were checked against.
"$venv/bin/python" -m pip install --quiet "timeeval-gutentag==1.5.0" "scipy==1.14.1" "numpy==2.1.3" \
    "pandas==2.2.3" "scikit-learn==1.5.2" "neurokit2==0.1.2" "matplotlib==3.9.4" "pyyaml==6.0.2"
"$venv/bin/python" -c "import gutenTAG, numpy, scipy; from importlib.metadata import version as v; \
print('gutentag venv ok: timeeval-gutentag', v('timeeval-gutentag'), 'numpy', numpy.__version__, 'scipy', scipy.__version__)"
