"""Time one data-preparation run of a MultiTable zip in its own process (honest peak RSS).

    python -m benchmarks.prep pandas|workbench ZIP OUT.json

``pandas`` is the plain baseline: ``read_csv`` per member, ``concat`` (outer
join on timestamps), linear ``interpolate``.  ``workbench`` is the product's
``workbench.data.load`` with ``alignMode`` Outer and ``fillNAMethod`` Linear.
"""
from __future__ import annotations

import json
import resource
import sys
import time
import zipfile


def _pandas(path: str) -> tuple[int, int]:
    import pandas as pd
    frames = []
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            with zf.open(name) as fh:
                frame = pd.read_csv(fh, index_col="timestamp", parse_dates=["timestamp"])
            frames.append(frame["value"].rename(name.rsplit(".", 1)[0]))
    table = pd.concat(frames, axis=1, join="outer").sort_index()
    table = table.interpolate(method="linear", limit_direction="both")
    return table.shape


def _workbench(path: str) -> tuple[int, int]:
    from workbench.data import load
    prepared = load(path, "MultiTable", align_policy={"alignMode": "Outer", "fillNAMethod": "Linear"})
    return prepared.frame.shape


def main(argv: list[str]) -> int:
    kind, path, out = argv[1], argv[2], argv[3]
    t0 = time.perf_counter()
    rows, cols = {"pandas": _pandas, "workbench": _workbench}[kind](path)
    seconds = time.perf_counter() - t0
    report = {"kind": kind, "seconds": seconds, "rows": int(rows), "variables": int(cols),
              "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    with open(out, "w") as fh:
        json.dump(report, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
