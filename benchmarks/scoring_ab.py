"""Batch-scoring speed of this checkout against another one, side by side in one run (one torch thread).

Each tree is timed in its own process, alternately, ``--rounds`` times: train a 5-epoch detector on
SMD/machine-1-6 (window 200) and score its 23.7k test rows (plus one window of history) five times
(``--data synthetic``: 100,000 rows of 20 correlated periodic variables after 100,000 of training);
the median rate of each process is printed.  The machine's load moves single figures by up to 1.5x,
so read the pairs, not one number::

    git worktree add /tmp/before <commit>
    .venv/bin/python -m benchmarks.scoring_ab /tmp/before .
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.datasets import SHARED_DATA

CHILD = """
import sys, time
import numpy as np, torch
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[1])
from benchmarks.datasets import load_smd, make_synthetic
from workbench.mvad.detector import MultivariateDetector
if sys.argv[3] == "smd":
    bench = load_smd("machine-1-6", root=sys.argv[2]); case = bench.cases[0]
    train, rows = bench.train, np.vstack([case.history[-200:], case.test])
else:  # correlated periodic signals: every variable takes part in the analog branch
    values, _ = make_synthetic(200_000, 20, seed=0)
    train, rows = values[:100_000], values[100_000:]
det = MultivariateDetector(sliding_window=200, epochs=5, seed=0, num_threads=1).fit(train)
det.score(rows[:3000])
times = []
for _ in range(5):
    started = time.perf_counter(); det.score(rows); times.append(time.perf_counter() - started)
print(round(len(rows) / float(np.median(times))))
"""


def rate(tree: Path, data: str = "smd") -> int:
    """Median batch-scoring rows/s of the workbench in ``tree`` (a fresh process)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}   # the tree's own code, nothing else
    out = subprocess.run([sys.executable, "-c", CHILD, str(tree.resolve()), str(SHARED_DATA / "smd"), data],
                         capture_output=True, text=True, check=True, env=env)
    return int(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path, help="the other checkout (e.g. a git worktree of the old commit)")
    parser.add_argument("after", type=Path, help="this checkout")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--data", choices=("smd", "synthetic"), default="smd",
                        help="synthetic: 100,000 rows of datasets.make_synthetic (20 periodic variables) scored")
    args = parser.parse_args(argv)
    for round_ in range(1, args.rounds + 1):
        before, after = rate(args.before, args.data), rate(args.after, args.data)
        print(f"round {round_}: before {before:,} rows/s, after {after:,} rows/s, ratio {after / before:.2f}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
