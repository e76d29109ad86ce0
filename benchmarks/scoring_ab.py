"""Scoring and training speed of this checkout against another one, side by side in one run (one torch thread).

Each tree runs in its own process, alternately, ``--rounds`` times.  A process trains a 5-epoch detector on
SMD/machine-1-6 (window 200, 38 variables; ``--data synthetic``: 20 correlated periodic variables, every one
taking part in the analog branch) and measures

* **batch**: rows/s scoring the 23.7k test rows (plus one window of history), median of 5 passes;
* **last**: detect-last in the detector, ``score`` of the last row with its window (201 rows), median over 300
  calls of consecutive windows -- and ``last+explain``: the same plus the correlation changes of its top 10
  contributors, what a detect-last answer needs;
* **epoch**: median seconds of a training epoch (20 epochs of the default network).

Times are CPU seconds of the process (``time.process_time``), which waiting for a busy core does not inflate;
wall figures are printed beside them.  Read the ratios of each round::

    git worktree add /tmp/before <commit>
    .venv/bin/python -m benchmarks.scoring_ab /tmp/before . --rounds 3
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.datasets import SHARED_DATA

CHILD = r"""
import json, sys, time
import numpy as np, torch
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[1])
from benchmarks.datasets import load_smd, make_synthetic
from workbench.mvad.detector import MultivariateDetector
if sys.argv[3] == "smd":
    bench = load_smd("machine-1-6", root=sys.argv[2]); case = bench.cases[0]
    train, rows = bench.train, np.vstack([case.history[-200:], case.test])
else:
    values, _ = make_synthetic(200_000, 20, seed=0)
    train, rows = values[:100_000], values[100_000:]
out = {}

def timed(call, repeats):
    cpu, wall = [], []
    for i in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        call(i)
        cpu.append(time.process_time() - c); wall.append(time.perf_counter() - w)
    return float(np.median(cpu)), float(np.median(wall))

det = MultivariateDetector(sliding_window=200, epochs=20, seed=0, num_threads=1).fit(train)
out["epoch_s"] = float(np.median(det.epoch_seconds_))
det.score(rows[:3000])
cpu, wall = timed(lambda i: det.score(rows), 5)
out["batch_rows_per_cpu_s"], out["batch_rows_per_wall_s"] = len(rows) / cpu, len(rows) / wall
for i in range(50):
    det.score(rows[i:i + 201])

def last(i):
    det.score(rows[1000 + i:1201 + i])

def explained(i):
    x = rows[1000 + i:1201 + i]
    result = det.score(x)
    try:
        det.correlation_changes(x, 200, 10, contributions=result.contributions[-1])
    except TypeError:  # the code before: correlation_changes scored the window again itself
        det.correlation_changes(x, 200, 10)
cpu, wall = timed(last, 300)
out["last_cpu_ms"], out["last_wall_ms"] = 1000 * cpu, 1000 * wall
cpu, wall = timed(explained, 300)
out["explained_cpu_ms"], out["explained_wall_ms"] = 1000 * cpu, 1000 * wall
print(json.dumps(out))
"""


def measure(tree: Path, data: str = "smd") -> dict:
    """One process's figures for the workbench in ``tree``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}   # the tree's own code, nothing else
    done = subprocess.run([sys.executable, "-c", CHILD, str(tree.resolve()), str(SHARED_DATA / "smd"), data],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path, help="the other checkout (e.g. a git worktree of the old commit)")
    parser.add_argument("after", type=Path, help="this checkout")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--data", choices=("smd", "synthetic"), default="smd",
                        help="synthetic: 100,000 rows of datasets.make_synthetic (20 periodic variables) scored")
    parser.add_argument("--out", type=Path, help="also write every round's figures here (JSON)")
    args = parser.parse_args(argv)
    rounds = []
    for round_ in range(1, args.rounds + 1):
        before, after = measure(args.before, args.data), measure(args.after, args.data)
        rounds.append({"before": before, "after": after})
        print(f"round {round_}: batch {before['batch_rows_per_cpu_s']:,.0f} -> {after['batch_rows_per_cpu_s']:,.0f} "
              f"rows/cpu-s (x{after['batch_rows_per_cpu_s'] / before['batch_rows_per_cpu_s']:.2f}; wall "
              f"x{after['batch_rows_per_wall_s'] / before['batch_rows_per_wall_s']:.2f}), "
              f"last {before['last_cpu_ms']:.2f} -> {after['last_cpu_ms']:.2f} ms "
              f"(x{before['last_cpu_ms'] / after['last_cpu_ms']:.2f}; wall {before['last_wall_ms']:.2f} -> "
              f"{after['last_wall_ms']:.2f}), last+explain {before['explained_cpu_ms']:.2f} -> "
              f"{after['explained_cpu_ms']:.2f} ms (x{before['explained_cpu_ms'] / after['explained_cpu_ms']:.2f}), "
              f"epoch {before['epoch_s']:.3f} -> {after['epoch_s']:.3f} s", flush=True)
    if args.out:
        args.out.write_text(json.dumps({"argv": sys.argv, "data": args.data, "rounds": rounds}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
