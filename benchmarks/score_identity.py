"""Check that a refactoring left the scores alone: train with a fixed seed, score, save or compare per-row scores.

Uses only ``workbench.MultivariateModel`` and ``workbench.Registry`` (the lazy top-level names, which
exist before and after the layering change), so the same script runs on an old checkout and a new one::

    PYTHONPATH=<old checkout> .venv/bin/python -m benchmarks.score_identity --save /tmp/before.npz
    .venv/bin/python -m benchmarks.score_identity --compare /tmp/before.npz

Cases: the Azure MVAD sample (5 x 3,000, window 200) and SMD machine-1-6 (38 variables, train on
``train/``, score ``test/``, window 100), 30 epochs each, seed 0, one torch thread.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "sample_data_5_3000.csv"
EPOCHS = 30


def _smd(machine: str = "machine-1-6") -> tuple[pd.DataFrame, pd.DataFrame]:
    train = np.loadtxt(DATA / "smd" / "train" / f"{machine}.txt", delimiter=",")
    test = np.loadtxt(DATA / "smd" / "test" / f"{machine}.txt", delimiter=",")
    index = pd.date_range("2021-01-01", periods=len(train) + len(test), freq="min", tz="UTC", name="timestamp")
    columns = [f"m{i:02d}" for i in range(train.shape[1])]
    whole = pd.DataFrame(np.vstack([train, test]), index=index, columns=columns)
    return whole.iloc[:len(train)], whole


def cases():
    sample = pd.read_csv(SAMPLE, index_col="timestamp")
    sample.index = pd.to_datetime(sample.index, utc=True)
    yield "azure-sample", sample.iloc[:2000], sample, sample.index[2000], 200
    train, whole = _smd()
    yield "smd-machine-1-6", train, whole, whole.index[len(train)], 100


def run() -> dict[str, np.ndarray]:
    import workbench

    torch.set_num_threads(1)
    out = {}
    with tempfile.TemporaryDirectory() as home:
        registry = workbench.Registry(home)
        for name, train, whole, start, window in cases():
            started = time.perf_counter()
            model = workbench.MultivariateModel.fit(train, sliding_window=window, epochs=EPOCHS, seed=0,
                                                    progress=False, registry=registry)
            detections = model.detect(whole, start_time=start)
            out[name] = detections.frame["score"].to_numpy()
            out[name + ".contributions"] = detections.contributions.to_numpy()
            print(f"{name}: {len(out[name])} rows scored in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", type=Path, help="write the scores to this .npz")
    group.add_argument("--compare", type=Path, help="compare with scores saved by --save")
    args = parser.parse_args(argv)
    scores = run()
    if args.save:
        np.savez(args.save, **scores)
        return 0
    with np.load(args.compare) as before:
        worst = 0.0
        for name, now in scores.items():
            ref = before[name]
            same_nan = bool(np.array_equal(np.isnan(ref), np.isnan(now)))
            diff = float(np.nanmax(np.abs(now - ref) / np.maximum(np.abs(ref), 1e-12))) if same_nan else float("inf")
            worst = max(worst, diff)
            print(f"{name}: {np.isfinite(now).sum()} finite values, largest relative difference {diff:.2e}")
    print("identical" if worst == 0.0 else f"largest relative difference {worst:.2e}")
    return 0 if worst <= 1e-5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
