"""Write the labelled demo sample ``data/samples/smd_machine-1-6.csv`` (and its labels) from SMD.

SMD (Server Machine Dataset, MIT, NetManAIOps) has no timestamps: one row per minute, its test
half continues its train half.  The sample is the last ``TRAIN_ROWS`` rows of machine-1-6's train
half followed by the first ``TEST_ROWS`` rows of its test half (three labelled incidents), on a
one-minute grid whose test part starts at ``TEST_START``.  Run from the repository root:
``python scripts/make_smd_sample.py [path/to/smd]`` (default ``/work/shared/data/smd``).
"""
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

MACHINE = "machine-1-6"
TRAIN_ROWS, TEST_ROWS = 5040, 2160
TEST_START = pd.Timestamp("2021-01-04T12:00:00Z")
# Column names used by third-party SMD code (MyM-Uniovi/conmo); the official repository names none.
NAMES = ("cpu_r load_1 load_5 load_15 mem_shmem mem_u mem_u_e total_mem disk_q disk_r disk_rb disk_svc disk_u "
         "disk_w disk_wa disk_wb si so eth1_fi eth1_fo eth1_pi eth1_po tcp_tw tcp_use active_opens curr_estab "
         "in_errs in_segs listen_overflows out_rsts out_segs passive_opens retransegs tcp_timeouts udp_in_dg "
         "udp_out_dg udp_rcv_buf_errs udp_snd_buf_errs").split()
OUT = Path(__file__).resolve().parents[1] / "data" / "samples"


def main(root: Path) -> None:
    train = pd.read_csv(root / "train" / f"{MACHINE}.txt", header=None, dtype=np.float32).to_numpy()[-TRAIN_ROWS:]
    test = pd.read_csv(root / "test" / f"{MACHINE}.txt", header=None, dtype=np.float32).to_numpy()[:TEST_ROWS]
    labels = np.loadtxt(root / "test_label" / f"{MACHINE}.txt", dtype=np.int8)[:TEST_ROWS]
    stamps = pd.date_range(TEST_START - pd.Timedelta(minutes=TRAIN_ROWS), periods=TRAIN_ROWS + TEST_ROWS,
                           freq="min", tz="UTC")
    iso = stamps.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame = pd.DataFrame(np.vstack([train, test]), columns=NAMES)
    frame.insert(0, "timestamp", iso)
    frame.to_csv(OUT / f"smd_{MACHINE}.csv", index=False, float_format="%.6g")
    pd.DataFrame({"timestamp": iso[TRAIN_ROWS:], "label": labels}).to_csv(OUT / f"smd_{MACHINE}_labels.csv",
                                                                          index=False)
    causes = []
    for line in (root / "interpretation_label" / f"{MACHINE}.txt").read_text().split():
        span, dims = line.split(":")
        start, end = (int(x) for x in span.split("-"))
        if end <= TEST_ROWS:   # half-open [start, end) test rows; 1-based columns
            causes.append({"startTime": iso[TRAIN_ROWS + start], "endTime": iso[TRAIN_ROWS + end - 1],
                           "variables": [NAMES[int(d) - 1] for d in dims.split(",")]})
    (OUT / f"smd_{MACHINE}_root_causes.json").write_text(json.dumps(causes, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/shared/data/smd"))
