"""Telemetry-like data (issue 15's spacecraft channels): one value column beside rare binary command columns.

No labelled telemetry is in ``../shared/data``; this proxy shows the failure the issue reports (flags on
clean rows, anomalies of the value missed) so that a fix can be measured before it meets the real thing.
A sine value (period 100, 5% noise) and 24 binary commands, each switched on at random for 1-5 rows (0.2% of
rows start one; 4 never issued in training, issued in the test with ``--new-commands``); the test's value
is flattened (0.3 x its wave + 0.2, inside its range) over four 60-row stretches, the labels.  Trains the
detector with and without the linear branch and prints flagged share, F1 of ``isAnomaly``, VUS-PR, the
share of clean rows flagged, and for the flagged clean rows the share whose top contributor is a command::

    .venv/bin/python -m benchmarks.telemetry_proxy [--new-commands] [--analog-anchor 0.5]
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from workbench import evaluation as ev
from workbench.mvad import scoring
from workbench.mvad.detector import MultivariateDetector


def make(n_rows: int, seed: int, anomalies: bool = False, new_commands: bool = False):
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows)
    value = np.sin(2 * np.pi * t / 100) + 0.05 * rng.normal(size=n_rows)
    commands = np.zeros((n_rows, 24))
    for c in range(24):
        rate = 0.002 if c < 20 or new_commands else 0.0
        for start in np.flatnonzero(rng.random(n_rows) < rate):
            commands[start:start + rng.integers(1, 6), c] = 1.0
    labels = np.zeros(n_rows, dtype=bool)
    if anomalies:
        for start in rng.choice(np.arange(300, n_rows - 100, 200), 4, replace=False):
            value[start:start + 60] = 0.3 * value[start:start + 60] + 0.2
            labels[start:start + 60] = True
    return np.column_stack([value, commands]), labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new-commands", action="store_true", help="issue in the test 4 commands training never saw")
    parser.add_argument("--analog-anchor", type=float, default=scoring.ANALOG_ANCHOR,
                        help="the detector's analog_anchor (0.5: the flattened wave is half followed)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    train, _ = make(2000, 0)
    test, labels = make(3000, 1, anomalies=True, new_commands=args.new_commands)
    for weight in (0.0, 0.5):
        det = MultivariateDetector(sliding_window=100, epochs=30, seed=0, num_threads=1, linear_weight=weight,
                                   analog_anchor=args.analog_anchor)
        result = det.fit(train).score(test)
        valid, flags = result.valid, result.is_anomaly
        score = np.where(valid, result.score, np.nanmin(result.score))
        clean = valid & ~labels & flags
        by_command = float((np.argmax(result.contributions[clean], axis=1) > 0).mean()) if clean.any() else 0.0
        print(f"linear_weight {weight}: flagged {flags[valid].mean():.3f} (true {labels[valid].mean():.3f}), "
              f"F1 {2 * (flags & labels).sum() / (flags.sum() + labels.sum()):.3f}, "
              f"VUS-PR {ev.vus_pr(labels[valid], score[valid], window=100):.3f}, "
              f"clean rows flagged {flags[valid & ~labels].mean():.3f}, of them led by a command {by_command:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
