"""Training and scoring beside a busy process: torch's default threads against ``workbench.runtime``'s policy.

Three tasks, each idle and with one busy process beside it (a pure-Python loop at normal priority,
as another user's job would be), under the old policy (torch's default threads, OpenMP's default
spin-waiting) and the new one (``workbench.runtime``: threads from the usable CPUs and the model's
work, passive waiting), all in one run:

* ``train``: fitting a 2,690 x 25 model (default window and network) for ``--epochs`` epochs;
* ``score``: batch scoring of 20,000 x 25 rows with a fitted model;
* ``two fits``: two ``train`` processes started at once (the slower one's time).

Every task runs in a fresh process (OpenMP reads its settings when torch loads), timed after imports.  Figures are
seconds (median of ``--repeats``) and ratios: busy / idle per policy (goal: at most 1.5) and
old / new.  Other users of a shared machine add their own load to both columns: repeat if noisy.

    nice -n 0 .venv/bin/python -m benchmarks.contention --epochs 30 --repeats 3
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROWS, VARIABLES, SCORE_ROWS = 2_690, 25, 20_000
BUSY_LOOP = "while True:\n    pass\n"
RESULTS = Path(__file__).resolve().parent / "results" / "contention.json"


def _data(rows: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(rows)[:, None]
    return np.sin(t / 24.0 + np.arange(VARIABLES)) + 0.1 * rng.standard_normal((rows, VARIABLES))


def worker(task: str, policy: str, epochs: int) -> float:
    """Run one task in this process; returns its seconds."""
    if policy == "old":
        import torch  # noqa: F401  (loads OpenMP before workbench could ask for passive waiting)
    import contextlib

    from workbench import runtime
    from workbench.mvad.detector import MultivariateDetector

    if policy == "old":
        runtime.threads = lambda requested=None, work_size=None: contextlib.nullcontext()  # torch's default
    det = MultivariateDetector(epochs=epochs if task == "train" else 1, seed=0)
    print("ready", flush=True)
    sys.stdin.readline()  # the parent starts every process's task at once
    if task == "train":
        start = time.perf_counter()
        det.fit(_data(ROWS, 0))
        return time.perf_counter() - start
    det.fit(_data(ROWS, 0))
    values = _data(SCORE_ROWS, 1)
    start = time.perf_counter()
    det.score(values)
    return time.perf_counter() - start


def _env(policy: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("OMP_WAIT_POLICY", "KMP_BLOCKTIME", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "GOMP_SPINCOUNT"):
        env.pop(name, None)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    return env


def _spawn(task: str, policy: str, epochs: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "benchmarks.contention", "--worker", task, "--policy", policy,
                             "--epochs", str(epochs)], env=_env(policy), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parent.parent)


def measure(task: str, policy: str, busy: bool, epochs: int) -> float:
    """Seconds for ``task`` (two processes at once for ``two fits``), with or without a busy neighbour."""
    neighbour = subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) if busy else None
    try:
        if neighbour:
            time.sleep(0.5)  # the neighbour is running before the task starts
        procs = [_spawn("train", policy, epochs) for _ in range(2 if task == "two fits" else 1)]
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        return max(float(p.communicate()[0].strip().splitlines()[-1]) for p in procs)
    finally:
        if neighbour:
            neighbour.kill()
            neighbour.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", default="train,score,two fits")
    parser.add_argument("--worker", choices=["train", "score"])
    parser.add_argument("--policy", choices=["old", "new"], default="new")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.worker:
        print(worker(args.worker, args.policy, args.epochs))
        return 0
    rows = []
    for task in args.tasks.split(","):
        runs: dict[tuple[str, bool], list[float]] = {}
        for _ in range(args.repeats):  # interleaved, so that other users' load drifts into every column alike
            for policy in ("new", "old"):
                for busy in (False, True):
                    runs.setdefault((policy, busy), []).append(measure(task, policy, busy, args.epochs))
        figures = {key: statistics.median(values) for key, values in runs.items()}
        for (policy, busy), values in runs.items():
            print(f"{task:9s} {policy} {'busy' if busy else 'idle'}: " + " ".join(f"{r:.2f}" for r in values),
                  flush=True)
        rows.append({
            "task": task, **{f"{p}_{'busy' if b else 'idle'}_s": round(v, 3) for (p, b), v in figures.items()},
            "old_busy_over_idle": round(figures[("old", True)] / figures[("old", False)], 2),
            "new_busy_over_idle": round(figures[("new", True)] / figures[("new", False)], 2),
            "old_over_new_busy": round(figures[("old", True)] / figures[("new", True)], 2),
            "load_average": os.getloadavg()[0],
        })
    print("\n| task | old idle s | old busy s | new idle s | new busy s | old busy/idle | new busy/idle |"
          " old/new busy |\n|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['task']} | {r['old_idle_s']} | {r['old_busy_s']} | {r['new_idle_s']} | {r['new_busy_s']} | "
              f"{r['old_busy_over_idle']} | {r['new_busy_over_idle']} | {r['old_over_new_busy']} |")
    command = "python -m benchmarks.contention " + " ".join(sys.argv[1:] if argv is None else argv)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"command": command, "cpus": os.cpu_count(), "epochs": args.epochs,
                                       "repeats": args.repeats, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
