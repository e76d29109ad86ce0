"""The network's optimizer: the hand-written Adam against ``torch.optim.Adam`` (foreach, fused), side by side.

    .venv/bin/python -m benchmarks.optimizer_ab [--rounds 3] [--epochs 30]

Each round fits the default detector on SMD machine-1-6 (window 200, one torch thread) once per optimizer, each in
a fresh process, alternately, and reports the median epoch time, the CPU seconds of the first fit and of a second one in the same process
(what loading the optimizer costs once), and the process's peak RSS.  Writes ``results/optimizer.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

from benchmarks.datasets import BENCH_DIR, SHARED_DATA

CHILD = r"""
import json, resource, sys, time
import numpy as np, torch
torch.set_num_threads(1)
from benchmarks.datasets import load_smd
from workbench.mvad.branches import network
which = sys.argv[2]
if which != "hand-written":
    class TorchAdam:
        def __init__(self, params, lr):
            self.optimizer = torch.optim.Adam(params, lr=lr, foreach=which == "foreach", fused=which == "fused")
        def step(self):
            self.optimizer.step()
    network._Adam = TorchAdam
from workbench.mvad.detector import MultivariateDetector
bench = load_smd("machine-1-6", root=sys.argv[1])
fits = []
for seed in (0, 1):  # the first fit pays what the optimizer loads once per process; the second is steady
    started = time.process_time()
    det = MultivariateDetector(sliding_window=200, epochs=int(sys.argv[3]), seed=seed, num_threads=1).fit(bench.train)
    fits.append((time.process_time() - started, float(np.median(det.epoch_seconds_))))
print(json.dumps({"epoch_s": fits[1][1], "fit_cpu_s": fits[0][0], "second_fit_cpu_s": fits[1][0],
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
OPTIMIZERS = ("hand-written", "foreach", "fused")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    runs: dict[str, list[dict]] = {name: [] for name in OPTIMIZERS}
    for round_ in range(1, args.rounds + 1):
        for name in OPTIMIZERS:
            done = subprocess.run([sys.executable, "-c", CHILD, str(SHARED_DATA / "smd"), name, str(args.epochs)],
                                  capture_output=True, text=True, env=env, check=True, cwd=BENCH_DIR.parent)
            runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
            r = runs[name][-1]
            print(f"round {round_} {name:12s}: epoch {r['epoch_s']:.3f} s, fit {r['fit_cpu_s']:.1f} cpu-s (second "
                  f"{r['second_fit_cpu_s']:.1f}), "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
    summary = {name: {k: float(np.median([r[k] for r in rs])) for k in rs[0]} for name, rs in runs.items()}
    print(json.dumps(summary, indent=1))
    out = BENCH_DIR / "results" / "optimizer.json"
    out.write_text(json.dumps({"command": "python -m benchmarks.optimizer_ab " + " ".join(sys.argv[1:]),
                               "epochs": args.epochs, "runs": runs, "medians": summary}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
