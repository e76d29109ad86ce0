"""Data preparation and detect-last parsing of this checkout against another one, side by side in one run.

Each tree is timed in its own process, alternately, ``--rounds`` times: ``workbench.data.load`` of a
MultiTable zip (``--rows`` x 10 variables, one a minute; every variable on every row, then 5% of each
variable's rows missing) and of a OneTable CSV with two hours missing in every column, and the
detect-last request variables of a 38-variable x 400-timestamp body (``inference._request_column``, or
``_request_series`` in a checkout before it: the server's hot path).  The machine's load moves single figures, so read the pairs::

    git worktree add /tmp/before <commit>
    .venv/bin/python -m benchmarks.prep_ab /tmp/before .
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.jobs import CACHE

CHILD = """
import sys, time, statistics, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, sys.argv[1])
from workbench import data
kind, path = sys.argv[2], sys.argv[3]
if kind == "body":
    import json
    from workbench.contracts import LastDetectionRequest
    try:
        from workbench.mvad.inference import _request_column as _request_series  # arrays, no Series (issue 25)
    except ImportError:  # a checkout before it
        from workbench.mvad.inference import _request_series
    request = LastDetectionRequest.from_json(json.loads(open(path).read()))
    times = []
    for _ in range(30):
        started = time.perf_counter()
        for item in request.variables:
            _request_series(item)
        times.append(time.perf_counter() - started)
    print(statistics.median(times))
else:
    started = time.perf_counter()
    data.load(path, kind)
    print(time.perf_counter() - started)
"""


def make_inputs(folder: Path, rows: int) -> dict[str, tuple[str, Path]]:
    """The inputs, written once into ``folder``: label -> (kind, path)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamps = pd.date_range("2021-01-01", periods=rows, freq="min", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    rng = np.random.default_rng(0)
    values = rng.normal(size=(rows, 10)).round(6)
    inputs = {}
    for label, share in (("MultiTable zip, every variable on every row", 0.0),
                         ("MultiTable zip, 5% of each variable's rows missing", 0.05)):
        path = folder / f"multi-{rows}-{share}.zip"
        if not path.exists():
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
                for j in range(values.shape[1]):
                    keep = rng.random(rows) >= share
                    archive.writestr(f"s{j}.csv", pd.DataFrame({"timestamp": stamps[keep], "value": values[keep, j]})
                                     .to_csv(index=False))
        inputs[label] = ("MultiTable", path)
    path = folder / f"hole-{rows}.csv"
    if not path.exists():
        keep = np.ones(rows, dtype=bool)
        keep[1000:1120] = False
        frame = pd.DataFrame(values[keep], columns=[f"s{j}" for j in range(values.shape[1])])
        frame.insert(0, "timestamp", stamps[keep])
        frame.to_csv(path, index=False)
    inputs["OneTable CSV, 2 h missing in every column"] = ("OneTable", path)
    path = folder / "detect-last-38x400.json"
    if not path.exists():
        body = {"variables": [{"variable": f"v{j}", "timestamps": list(stamps[:400]),
                               "values": values[:400, j % 10].tolist()} for j in range(38)]}
        path.write_text(json.dumps(body))
    inputs["detect-last body, 38 variables x 400 timestamps (median of 30)"] = ("body", path)
    return inputs


def seconds(tree: Path, kind: str, path: Path) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}   # the tree's own code, nothing else
    out = subprocess.run([sys.executable, "-c", CHILD, str(tree.resolve()), kind, str(path)], capture_output=True,
                         text=True, check=True, env=env, cwd=str(tree.resolve()))
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path, help="the other checkout (e.g. a git worktree of the old commit)")
    parser.add_argument("after", type=Path, help="this checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=300_000)
    args = parser.parse_args(argv)
    inputs = make_inputs(CACHE / "prep_ab", args.rows)
    trees = [("before", args.before), ("after", args.after)]
    for label, (kind, path) in inputs.items():
        times: dict[str, list[float]] = {"before": [], "after": []}
        for round_ in range(args.rounds):
            for name, tree in (trees if round_ % 2 == 0 else trees[::-1]):
                times[name].append(seconds(tree, kind, path))
        before, after = (float(np.median(times[name])) for name in ("before", "after"))
        unit, scale = ("ms", 1e3) if kind == "body" else ("s", 1.0)
        print(f"{label}: before {before * scale:.2f} {unit}, after {after * scale:.2f} {unit}, "
              f"after/before {after / before:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
