"""Threshold study: the evidence behind the product's ``isAnomaly`` threshold.

    .venv/bin/python -m benchmarks.threshold_study --cache --seeds 0 1 2   # train and cache (~2 min)
    .venv/bin/python -m benchmarks.threshold_study --seeds 0 1 2           # compare rules (seconds)

``--cache`` trains the product's detector (100 epochs) on each SMD machine, on SKAB, on a synthetic
set unlike SMD (``datasets.make_synthetic``) and on the Azure i.i.d. noise sample (first 2,000 rows)
and keeps, per case, the smoothed per-variable errors of the held-out training rows and of the
scored rows (``benchmarks/cache/``), so rules, including ones that rescale variables, are compared
without retraining. The comparison prints F1 of the flags (no point adjustment) and the flagged
share per benchmark, and writes ``benchmarks/results/threshold_study.json``. Rules are computed from
held-out scores only, plus, for the drift-aware ones, the median score of the rows being scored:
never from labels.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from benchmarks import datasets
from benchmarks.model_search import SKAB_WINDOW, SMD_WINDOW, _targets
from workbench.mvad import scoring
from workbench.mvad.detector import MultivariateDetector

CACHE = Path(__file__).resolve().parent / "cache"
RESULTS = Path(__file__).resolve().parent / "results" / "threshold_study.json"


def _smoothed_errors(det: MultivariateDetector, values: np.ndarray) -> np.ndarray:
    """(T, V) smoothed scaled errors, NaN for rows without a full window (what the score aggregates)."""
    return det.variable_errors(values).astype(np.float32)


def _synthetic() -> datasets.Benchmark:
    """Data unlike SMD, to check the rule was not fitted to it: ``make_synthetic`` (correlated sines, AR(1)
    noise, shifts, spikes and broken correlations), 60,000 x 20; train on the first 10,000 rows (clean)."""
    values, labels = datasets.make_synthetic(60_000, 20, seed=7, n_anomalies=40)
    cut = 10_000
    case = datasets.Case("synthetic", values[cut:], labels[cut:].astype(bool), history=values[:cut])
    return datasets.Benchmark("synthetic", values[:cut], [f"v{i}" for i in range(20)], [case])


def cache(seeds: list[int], epochs: int) -> None:
    torch.set_num_threads(1)
    CACHE.mkdir(exist_ok=True)
    smd, skab = _targets(False)
    _, noise, noise_names = datasets.load_azure_sample()
    synthetic = _synthetic()
    for seed in seeds:
        arrays = {}
        meta = []
        jobs = [(b, SMD_WINDOW) for b in smd] + [(skab, SKAB_WINDOW), (synthetic, SMD_WINDOW)]
        for bench, window in jobs:
            det = MultivariateDetector(sliding_window=window, epochs=epochs, seed=seed, num_threads=1)
            det.fit(bench.train, bench.variables)
            cut = len(bench.train) - int(round(len(bench.train) * det.validation_fraction))
            held = _smoothed_errors(det, bench.train[cut - window:])[window:]
            arrays[f"{bench.name}/held"] = held
            for i, case in enumerate(bench.cases):
                history = case.history[-window:] if case.history is not None else case.test[:0]
                e = _smoothed_errors(det, np.vstack([history, case.test]))[len(history):]
                arrays[f"{bench.name}/{i}/errors"] = e
                arrays[f"{bench.name}/{i}/labels"] = case.labels.astype(bool)
            meta.append({"bench": bench.name, "cases": len(bench.cases), "threshold": det.threshold_,
                         "top": scoring.top_count(len(bench.variables), det.top_fraction)})
            print(seed, bench.name, flush=True)
        det = MultivariateDetector(sliding_window=200, epochs=epochs, seed=seed, num_threads=1)
        det.fit(noise[:2000], noise_names)
        arrays["noise/held"] = _smoothed_errors(det, noise[:2000])[1600:]
        arrays["noise/0/errors"] = _smoothed_errors(det, noise[1800:])[200:]
        arrays["noise/0/labels"] = np.zeros(len(noise) - 2000, dtype=bool)
        meta.append({"bench": "noise", "cases": 1, "threshold": det.threshold_,
                     "top": scoring.top_count(noise.shape[1], det.top_fraction)})
        np.savez_compressed(CACHE / f"threshold_study_seed{seed}.npz", meta=json.dumps(meta), **arrays)


# ----------------------------------------------------------------------------- rules

def _load(seed: int) -> dict:
    arrays = np.load(CACHE / f"threshold_study_seed{seed}.npz")
    out = {}
    for m in json.loads(str(arrays["meta"])):
        b, top = m["bench"], m["top"]
        out[b] = {"held": _aggregate(arrays[f"{b}/held"], top),
                  "cases": [(_aggregate(arrays[f"{b}/{i}/errors"], top), arrays[f"{b}/{i}/labels"])
                            for i in range(m["cases"])]}
    return out


def _aggregate(errors: np.ndarray, top: int) -> np.ndarray:
    score = np.full(len(errors), np.nan)
    ok = np.isfinite(errors).all(axis=1)
    score[ok] = scoring.aggregate(errors[ok], top)
    return score


def _former(held: np.ndarray) -> float:
    """The rule before this study: max(2 x 99th percentile, 99.9th percentile) of held-out scores."""
    return max(2 * float(np.quantile(held, 0.99)), float(np.quantile(held, 0.999)))


def rules() -> dict:
    """name -> f(held-out scores, scored rows' scores) -> threshold."""
    out = {"former max(2*q99, q99.9)": lambda h, s: _former(h),
           "former, drift x3": lambda h, s: scoring.drift_threshold(_former(h), s, 3.0)}
    for k in (3.5, 4.0, 4.5):
        out[f"robust k={k}"] = lambda h, s, k=k: scoring.calibrate_threshold(h, k)
        for factor in (2.0, 3.0, 4.0):
            out[f"robust k={k}, drift x{factor:g}"] = (
                lambda h, s, k=k, f=factor: scoring.drift_threshold(scoring.calibrate_threshold(h, k), s, f))
    return out


def compare(seeds: list[int]) -> list[dict]:
    runs = [_load(seed) for seed in seeds]
    rows = []
    for name, rule in rules().items():
        row = {"rule": name}
        for bench in runs[0]:
            f1s, flagged = [], []
            for run in runs:
                for score, labels in run[bench]["cases"]:
                    valid = np.isfinite(score)
                    pred = valid & (np.nan_to_num(score, nan=-np.inf) >= rule(run[bench]["held"], score[valid]))
                    f1s.append(2 * float(np.sum(pred & labels)) / max(1.0, float(labels.sum() + pred.sum())))
                    flagged.append(float(pred.mean()))
            row[bench] = {"f1": float(np.mean(f1s)), "flagged": float(np.mean(flagged))}
        smd = [v for k, v in row.items() if k.startswith("SMD/")]
        row["SMD"] = {"f1": float(np.mean([v["f1"] for v in smd])),
                      "flagged": float(np.mean([v["flagged"] for v in smd]))}
        rows.append(row)
    return rows


def _table(rows: list[dict]) -> str:
    benches = [k for k in rows[0] if k != "rule"]
    lines = ["| rule | " + " | ".join(f"{b} F1 (flagged)" for b in benches) + " |",
             "|---" * (len(benches) + 1) + "|"]
    for r in rows:
        lines.append(f"| {r['rule']} | " + " | ".join(
            f"{r[b]['f1']:.3f} ({100 * r[b]['flagged']:.1f}%)" for b in benches) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache", action="store_true")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args()
    if args.cache:
        cache(args.seeds, args.epochs)
    rows = compare(args.seeds)
    print(_table(rows))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"seeds": args.seeds, "epochs": args.epochs, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
