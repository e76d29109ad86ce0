"""Scale suite: 1,000,000 timestamps x 20 variables (the service's limit).

Data preparation of a MultiTable zip (the product's ``workbench.data.load``
against plain pandas), then the product's training and batch inference on the
same matrix, each in its own process with its time and peak RSS.  The anchor
is not run here: at its measured speed (speed suite) it would need hours.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import datasets
from benchmarks.datasets import Benchmark, Case
from benchmarks.jobs import CACHE, REPO, run_job

N_VARS = 20


def _prep(kind: str, zip_path: Path, out_dir: Path) -> dict:
    out = out_dir / f"prep-{kind}-{zip_path.stem}.json"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.prep", kind, str(zip_path), str(out)],
                          capture_output=True, text=True, cwd=str(REPO), env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"data preparation ({kind}) failed: {proc.stderr[-3000:]}")
    return json.loads(out.read_text())


def run_scale(methods: list[str], *, quick: bool = False, epochs: int | None = None, threads: int = 1,
              cache_dir: Path = CACHE, log=print) -> dict:
    """Prepare, train and score the synthetic matrix; returns times and peak RSS."""
    n_rows = 20_000 if quick else 1_000_000
    out_dir = Path(cache_dir) / "scale"
    out_dir.mkdir(parents=True, exist_ok=True)
    values, labels = datasets.make_synthetic(n_rows, N_VARS, seed=0)
    zip_path = out_dir / f"synthetic-{n_rows}x{N_VARS}.zip"
    if not zip_path.exists():
        t0 = time.perf_counter()
        datasets.write_multitable_zip(values, zip_path)
        log(f"scale: wrote {zip_path.name} in {time.perf_counter() - t0:.0f} s")
    result: dict = {"settings": {"rows": n_rows, "variables": N_VARS, "threads": threads, "quick": quick,
                                 "zip_bytes": zip_path.stat().st_size, "window": 200},
                    "prep": {}, "product": None}
    log("scale: data preparation, pandas baseline")
    result["prep"]["pandas"] = _prep("pandas", zip_path, out_dir)
    log("scale: data preparation, workbench.data.load")
    result["prep"]["workbench"] = _prep("workbench", zip_path, out_dir)
    result["prep"]["time_ratio_vs_pandas"] = (result["prep"]["workbench"]["seconds"]
                                              / result["prep"]["pandas"]["seconds"])
    if "product" in methods:
        bench = Benchmark(f"synthetic-{n_rows}x{N_VARS}", values, [f"series_{j}" for j in range(N_VARS)],
                          [Case("in-sample", values, labels)])
        params = {"mode": "fit_score", "window": 200, "epochs": 1 if quick else epochs, "seed": 0,
                  "threads": threads}
        log(f"scale: product training and inference on {n_rows:,} x {N_VARS}")
        r = run_job("product", bench, params, cache_dir=cache_dir, log=log).report
        result["product"] = {"fit_s": r["fit_s"], "score_s": float(np.sum(r["score_s"])),
                             "rows_per_s": n_rows / float(np.sum(r["score_s"])),
                             "peak_rss_after_fit_bytes": r["peak_rss_after_fit_bytes"],
                             "peak_rss_bytes": r["peak_rss_bytes"],
                             "epochs": len(r["epoch_s"]) if r.get("epoch_s") else r["params"]["epochs"]}
    return result
