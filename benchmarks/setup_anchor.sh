#!/usr/bin/env bash
# Build benchmarks/.venv-anchor: Microsoft's time-series-anomaly-detector 0.4.0 (the "anchor"),
# isolated from the workbench venv because its pins (numpy<2, pandas<=2.2.3, mlflow) conflict with ours.
# torch==2.13.0 (CPU) goes in first so the package's torch requirement is already met by the same
# build the workbench uses. Idempotent: re-running only checks the install.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/isolated_venv.sh"
isolated_venv .venv-anchor
"$venv/bin/python" -m pip install --quiet "torch==2.13.0"
"$venv/bin/python" -m pip install --quiet "time-series-anomaly-detector==0.4.0"
"$venv/bin/python" -c "import torch, numpy; print('anchor venv ok: torch', torch.__version__, 'numpy', numpy.__version__)"
