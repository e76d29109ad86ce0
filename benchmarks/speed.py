"""Speed suite: the product against the anchor on the same data, one process per measurement.

* training: the Azure sample (5 variables x 3,000 rows), window 200, 100 epochs;
* training per epoch and batch scoring on SMD machine-1-6 (38 variables, 23.7k test rows);
* detect-last latency: the smallest request (the last ``window`` rows), 38 variables, window 200;
* ``import`` time of each package in a fresh interpreter.

Torch runs with the same thread count (default 1) in both.  Ratios are
anchor / product for times (higher is better for the product) and
product / anchor for memory (lower is better).
"""
from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks import datasets
from benchmarks.accuracy import _shrink_smd
from benchmarks.datasets import Benchmark, Case
from benchmarks.jobs import ANCHOR_PYTHON, CACHE, REPO, run_job

IMPORTS = {"product": [("workbench", "import workbench"),
                       ("workbench.mvad.detector", "import workbench.mvad.detector")],
           "anchor": [("anomaly_detector", "import anomaly_detector")]}


def import_seconds(python: str, statement: str, repeats: int = 3) -> float:
    """Median wall time of ``statement`` in a fresh interpreter (interpreter start-up excluded)."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    times = []
    for _ in range(repeats):
        proc = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=str(REPO),
                              env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "PYTHONWARNINGS": "ignore"})
        if proc.returncode != 0:
            raise RuntimeError(f"{statement!r} failed: {proc.stderr[-2000:]}")
        times.append(float(proc.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def _train_figures(report: dict) -> dict:
    epochs = report.get("epoch_s") or []
    n = int(report["params"]["epochs"])
    per_epoch = float(np.median(epochs)) if epochs else report["fit_s"] / n
    return {"epochs": n, "fit_s": report["fit_s"], "s_per_epoch": per_epoch,
            "s_per_100_epochs": float(np.sum(epochs)) if n == 100 and epochs else per_epoch * 100,
            "peak_rss_after_fit_bytes": report.get("peak_rss_after_fit_bytes")}


def run_speed(methods: list[str], *, quick: bool = False, reuse_anchor: bool = False, threads: int = 1,
              cache_dir: Path = CACHE, log=print) -> dict:
    """Measure each figure for ``methods`` (a subset of ``product``, ``anchor``) and the ratios."""
    methods = [m for m in methods if m in ("product", "anchor")]
    figures: dict[str, dict] = {m: {} for m in methods}
    python = {"product": sys.executable, "anchor": str(ANCHOR_PYTHON)}
    for method in methods:
        for name, statement in IMPORTS[method]:
            figures[method][f"import_s[{name}]"] = import_seconds(python[method], statement, 1 if quick else 3)

    _, values, names = datasets.load_azure_sample()
    azure = Benchmark("azure-sample", values, names,
                      [Case("last-1000", values[-1000:], np.zeros(1000, dtype=np.int8))])
    smd = datasets.load_smd("machine-1-6")
    if quick:
        smd = _shrink_smd(smd, 2000)
    n_test = smd.n_test_rows
    train_epochs = 2 if quick else 100
    for method in methods:
        reuse = reuse_anchor and method == "anchor"
        log(f"speed: {method} training on the Azure sample ({train_epochs} epochs)")
        job = run_job(method, azure, {"mode": "fit_score", "window": 200, "epochs": train_epochs, "seed": 0,
                                      "threads": threads}, reuse=reuse, cache_dir=cache_dir, log=log)
        figures[method]["cached"] = job.cached
        r = job.report
        figures[method]["azure_train"] = _train_figures(r)
        figures[method]["azure_train"]["peak_rss_bytes"] = r["peak_rss_bytes"]

        log(f"speed: {method} epochs and batch scoring on {smd.name}")
        r = run_job(method, smd, {"mode": "fit_score", "window": 200, "epochs": 1 if quick else 3, "seed": 0,
                                  "threads": threads}, reuse=reuse, cache_dir=cache_dir, log=log).report
        score_s = float(np.sum(r["score_s"]))
        figures[method]["smd_train"] = _train_figures(r)
        figures[method]["smd_batch"] = {"rows": n_test, "score_s": score_s, "rows_per_s": n_test / score_s,
                                        "ms_per_1000_rows": 1e6 * score_s / n_test,
                                        "peak_rss_bytes": r["peak_rss_bytes"]}

        log(f"speed: {method} detect-last latency")
        r = run_job(method, smd, {"mode": "latency", "window": 200, "epochs": 1, "seed": 0, "threads": threads,
                                  "n_calls": 5 if quick else 50}, reuse=reuse, cache_dir=cache_dir, log=log).report
        lat = np.asarray(r["latency_s"]) * 1000
        figures[method]["detect_last"] = {"calls": len(lat), "median_ms": float(np.median(lat)),
                                          "p99_ms": float(np.percentile(lat, 99)),
                                          "peak_rss_bytes": r["peak_rss_bytes"]}
    return {"settings": {"threads": threads, "quick": quick, "azure_epochs": train_epochs,
                         "smd_benchmark": smd.name, "window": 200},
            "figures": figures, "ratios": ratios(figures) if len(methods) == 2 else {}}


def ratios(figures: dict) -> dict:
    """anchor/product for times (x faster), product/anchor for memory."""
    p, a = figures["product"], figures["anchor"]

    def div(x, y):
        return float(x / y) if x is not None and y else None

    return {
        "train_speedup_per_epoch_azure": div(a["azure_train"]["s_per_epoch"], p["azure_train"]["s_per_epoch"]),
        "train_speedup_100_epochs_azure": div(a["azure_train"]["s_per_100_epochs"],
                                              p["azure_train"]["s_per_100_epochs"]),
        "train_peak_rss_ratio_azure": div(p["azure_train"]["peak_rss_after_fit_bytes"],
                                          a["azure_train"]["peak_rss_after_fit_bytes"]),
        "train_speedup_per_epoch_smd": div(a["smd_train"]["s_per_epoch"], p["smd_train"]["s_per_epoch"]),
        "batch_speedup_smd": div(p["smd_batch"]["rows_per_s"], a["smd_batch"]["rows_per_s"]),
        "batch_peak_rss_ratio_smd": div(p["smd_batch"]["peak_rss_bytes"], a["smd_batch"]["peak_rss_bytes"]),
        "detect_last_speedup_median": div(a["detect_last"]["median_ms"], p["detect_last"]["median_ms"]),
        "detect_last_speedup_p99": div(a["detect_last"]["p99_ms"], p["detect_last"]["p99_ms"]),
        # like for like: the anchor's package against the product's detector module (both load torch)
        "import_speedup": div(a["import_s[anomaly_detector]"], p["import_s[workbench.mvad.detector]"]),
    }
