"""Generate one GutenTAG config of the benchmark suite into a folder, with an index of what it holds.

Runs INSIDE ``benchmarks/.venv-gutentag`` (``timeeval-gutentag`` 1.5.0, built by ``setup_gutentag.sh``)
as a subprocess, so it imports nothing from this repository:

    .venv-gutentag/bin/python gutentag_runner.py CONFIG.yaml OUT_DIR

Writes GutenTAG's own output (``OUT_DIR/<dataset>/test.csv`` with an ``is_anomaly`` column,
``train_no_anomaly.csv``, ``overview.yaml``) and ``OUT_DIR/index.json``: per dataset its name, base
oscillation (the kind of the channels that carry its anomalies), anomaly kind, channels and rows, and
the GutenTAG version. The config's top-level ``seed`` is GutenTAG's seed.
"""
from __future__ import annotations

import json
import os
import sys
from importlib.metadata import version
from pathlib import Path


def main(argv: list[str]) -> int:
    os.environ.setdefault("TQDM_DISABLE", "1")
    import yaml
    from gutenTAG import GutenTAG

    config_path, out_dir = Path(argv[1]), Path(argv[2])
    config = yaml.safe_load(config_path.read_text())
    seed = int(config.pop("seed"))
    out_dir.mkdir(parents=True, exist_ok=True)
    gt = GutenTAG(n_jobs=1, seed=seed)
    gt.load_config_dict(config)
    gt.generate(output_folder=out_dir)

    index = []
    for ts in config["timeseries"]:
        bos = ts.get("base-oscillations") or [ts["base-oscillation"]] * int(ts["channels"])
        kinds = sorted({k["kind"] for a in ts["anomalies"] for k in a["kinds"]})
        # a cosine is a phase-shifted sine: the suite counts both as the sine base
        bases = sorted({bos[a.get("channel", 0)]["kind"].replace("cosine", "sine") for a in ts["anomalies"]})
        if len(kinds) != 1:
            raise SystemExit(f"{ts['name']}: one anomaly kind per dataset expected, got {kinds}")
        name = ts["name"]
        for part in ("test.csv", "train_no_anomaly.csv"):
            if not (out_dir / name / part).is_file():
                raise SystemExit(f"{ts['name']}: GutenTAG wrote no {part}")
        index.append({"name": name, "kind": kinds[0], "base": "/".join(bases),
                      "channels": len(bos), "rows": int(ts["length"]), "anomalies": len(ts["anomalies"])})
    (out_dir / "index.json").write_text(json.dumps({"gutentag": version("timeeval-gutentag"), "seed": seed,
                                                    "config": config_path.name, "datasets": index}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
