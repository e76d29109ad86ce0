"""Check that a refactoring left the scores alone: train with a fixed seed, score, save or compare per-row scores.

Uses only ``workbench.MultivariateModel`` and ``workbench.Registry`` (the lazy top-level names, which
exist before and after the layering change), so the same script runs on an old checkout and a new one::

    PYTHONPATH=<old checkout> .venv/bin/python -m benchmarks.score_identity --save /tmp/before.npz
    .venv/bin/python -m benchmarks.score_identity --compare /tmp/before.npz

Cases, 30 epochs each, seed 0, one torch thread: the Azure MVAD sample (5 x 3,000, window 200), SMD
machine-1-6 (38 variables, train on ``train/``, score ``test/``, window 100), server-like metrics with a daily
pattern (every branch takes part, window 120) and the SMAP channel A-1 (one value beside 24 0/1 command
columns, window 100).
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


def _daily(days: int = 24, seed: int = 0) -> pd.DataFrame:
    """Six load metrics on one working-day curve (15-minute steps, days +-10%), two noise columns; 12 rows of
    daytime load at night on the fourth-last day."""
    rng = np.random.default_rng(seed)
    t = np.arange(days * 96)
    hour = 24 * ((t / 96) % 1.0)
    load = 0.15 + 0.85 * np.exp(-((hour - 10.5) / 2.2) ** 2) + 0.7 * np.exp(-((hour - 15.5) / 2.0) ** 2)
    load = load * (1 + 0.1 * rng.uniform(-1, 1, days))[t // 96]
    bump = (days - 4) * 96 + 6
    load[bump:bump + 12] = 0.15 + 0.6 * np.sin(np.linspace(0, np.pi, 12))
    gains = np.array([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    columns = [g * load + 0.04 * g * rng.normal(size=len(t)) for g in gains]
    values = np.column_stack(columns + [rng.normal(size=len(t)), rng.normal(size=len(t))])
    index = pd.date_range("2021-01-01", periods=len(t), freq="15min", tz="UTC", name="timestamp")
    return pd.DataFrame(values, index=index, columns=[f"v{i}" for i in range(values.shape[1])])


def _telemetry(channel: str = "A-1") -> tuple[pd.DataFrame, pd.DataFrame]:
    train = pd.read_csv(DATA / "smap_msl" / "train" / f"{channel}.csv").drop(columns="index")
    test = pd.read_csv(DATA / "smap_msl" / "test" / f"{channel}.csv").drop(columns=["index", "label"])
    whole = pd.concat([train, test], ignore_index=True).astype(float)
    whole.index = pd.date_range("2021-01-01", periods=len(whole), freq="min", tz="UTC", name="timestamp")
    return whole.iloc[:len(train)], whole


def cases():
    sample = pd.read_csv(SAMPLE, index_col="timestamp")
    sample.index = pd.to_datetime(sample.index, utc=True)
    yield "azure-sample", sample.iloc[:2000], sample, sample.index[2000], 200
    train, whole = _smd()
    yield "smd-machine-1-6", train, whole, whole.index[len(train)], 100
    daily = _daily()
    yield "daily-pattern", daily.iloc[:20 * 96], daily, daily.index[20 * 96], 120
    train, whole = _telemetry()
    yield "smap-A-1", train, whole, whole.index[len(train)], 100


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
            if not np.array_equal(np.isnan(ref), np.isnan(now)):
                diff = float("inf")
            elif name.endswith(".contributions"):  # shares of 1: tiny ones differ most in relative terms
                diff = float(np.nanmax(np.abs(now - ref)))
            else:
                diff = float(np.nanmax(np.abs(now - ref) / np.maximum(np.abs(ref), 1e-12)))
            worst = max(worst, diff)
            kind = "absolute" if name.endswith(".contributions") else "relative"
            print(f"{name}: {np.isfinite(now).sum()} finite values, largest {kind} difference {diff:.2e}")
    print("identical" if worst == 0.0 else f"largest difference {worst:.2e} (float32 rounding when <= 1e-5)")
    return 0 if worst <= 1e-5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
