"""Run Microsoft's ``time-series-anomaly-detector`` 0.4.0 (the anchor) on given arrays.

Runs INSIDE ``benchmarks/.venv-anchor`` as a subprocess (numpy<2, pandas<=2.2.3),
so it imports neither ``workbench`` nor anything else from this repository.

    .venv-anchor/bin/python anchor_runner.py IN.npz OUT_PREFIX '{"mode": "fit_score", ...}'

``IN.npz`` holds ``train`` (T, V), ``variables`` (V,), and per case ``test_i``
and optionally ``history_i`` (rows preceding ``test_i``, scored as context and
dropped).  Modes:

* ``fit_score``: fit with ``window``/``epochs``/``seed``/``threads``, then score
  every case.  Writes ``OUT_PREFIX.npz`` with ``score_i``, ``is_anomaly_i``,
  ``severity_i`` (NaN/False where the anchor returns no row) and
  ``contributions_i`` (rows x V, in the input's variable order).
* ``latency``: fit, then time ``n_calls`` predictions on the last ``window``
  rows of ``test_0`` (the smallest request the anchor accepts: one result).

Both write ``OUT_PREFIX.json``: per-epoch seconds, fit and score seconds, rows
scored, import seconds, peak RSS bytes, versions.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv: list[str]) -> int:
    in_path, out_prefix, params_json = argv[1], argv[2], argv[3]
    params = json.loads(params_json)
    os.environ.setdefault("TQDM_DISABLE", "1")

    t0 = time.perf_counter()
    import numpy as np
    import pandas as pd
    import torch
    from anomaly_detector import MultivariateAnomalyDetector
    import_s = time.perf_counter() - t0

    threads = int(params.get("threads", 1))
    torch.set_num_threads(threads)
    seed = int(params.get("seed", 0))
    np.random.seed(seed)
    torch.manual_seed(seed)

    class TimedDetector(MultivariateAnomalyDetector):
        """The anchor's detector, recording the wall time of each training epoch."""

        def __init__(self):
            super().__init__()
            self.epoch_seconds: list[float] = []
            self._epoch_start = 0.0

        def train_epoch(self, model, optimizer, dataloader, criterion):
            self._epoch_start = time.perf_counter()
            return super().train_epoch(model, optimizer, dataloader, criterion)

        def evaluate_epoch(self, model, criterion, dataloader):
            out = super().evaluate_epoch(model, criterion, dataloader)
            self.epoch_seconds.append(time.perf_counter() - self._epoch_start)
            return out

    data = np.load(in_path, allow_pickle=False)
    variables = [str(v) for v in data["variables"]]
    n_cases = int(sum(1 for k in data.files if k.startswith("test_")))
    window = int(params["window"])

    detector = TimedDetector()
    with tempfile.TemporaryDirectory() as save_dir:
        fit_params = {"sliding_window": window, "epochs": int(params["epochs"]), "seed": seed, "save": save_dir}
        train = pd.DataFrame(np.asarray(data["train"], dtype=np.float64), columns=variables)
        t0 = time.perf_counter()
        detector.fit(train, dict(fit_params))
        fit_s = time.perf_counter() - t0
        rss_after_fit = _peak_rss_bytes()

        report: dict = {
            "mode": params["mode"], "params": params, "import_s": import_s, "fit_s": fit_s,
            "epoch_s": detector.epoch_seconds, "peak_rss_after_fit_bytes": rss_after_fit,
            "n_train_rows": int(len(train)), "n_vars": len(variables),
            "versions": {"torch": torch.__version__, "numpy": np.__version__, "pandas": pd.__version__,
                         "python": sys.version.split()[0]},
        }
        order = {name: j for j, name in enumerate(variables)}
        arrays: dict[str, np.ndarray] = {}
        if params["mode"] == "fit_score":
            score_s, rows = [], []
            for i in range(n_cases):
                test = np.asarray(data[f"test_{i}"], dtype=np.float64)
                hist_key = f"history_{i}"
                history = np.asarray(data[hist_key], dtype=np.float64) if hist_key in data.files else test[:0]
                frame = pd.DataFrame(np.vstack([history, test]), columns=variables)
                t0 = time.perf_counter()
                results = detector.predict(None, frame, {"sliding_window": window})
                score_s.append(time.perf_counter() - t0)
                rows.append(len(results))
                n_test, offset = len(test), len(history)
                score = np.full(n_test, np.nan)
                flag = np.zeros(n_test, dtype=bool)
                severity = np.full(n_test, np.nan)
                contrib = np.full((n_test, len(variables)), np.nan)
                for r in results:
                    row = int(r["index"]) - offset
                    if row < 0:
                        continue
                    score[row], flag[row], severity[row] = r["score"], r["is_anomaly"], r["severity"]
                    for item in r["interpretation"]:
                        contrib[row, order[item["variable_name"]]] = item["contribution_score"]
                arrays.update({f"score_{i}": score, f"is_anomaly_{i}": flag,
                               f"severity_{i}": severity, f"contributions_{i}": contrib})
            report.update({"score_s": score_s, "rows_returned": rows})
        elif params["mode"] == "latency":
            test = np.asarray(data["test_0"], dtype=np.float64)[-window:]
            frame = pd.DataFrame(test, columns=variables)
            latencies = []
            for _ in range(int(params.get("n_calls", 50))):
                t0 = time.perf_counter()
                results = detector.predict(None, frame, {"sliding_window": window})
                latencies.append(time.perf_counter() - t0)
            report.update({"latency_s": latencies, "rows_returned": [len(results)]})
        else:
            raise SystemExit(f"unknown mode {params['mode']!r}")

    report["peak_rss_bytes"] = _peak_rss_bytes()
    np.savez_compressed(out_prefix + ".npz", **arrays)
    with open(out_prefix + ".json", "w") as fh:
        json.dump(report, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
