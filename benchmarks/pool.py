"""The development pool: every labelled family in ``../shared/data`` and the generated ones, as entities.

A model change is judged on the whole pool (``benchmarks/selection.py``), family by family, so that a change
that wins one family and loses another is seen.  Families:

| family | entities | window | what |
|---|---|---|---|
| ``smd`` | 11 machines | 200 | server metrics, 38 variables at 1-minute steps (train half, test half) |
| ``smap_msl`` | 71 channels | 100 | spacecraft telemetry: one value beside 24 or 54 0/1 command columns |
| ``daphnet`` | 1 series | 200 | 9 accelerometer channels, freezing-of-gait episodes |
| ``skab`` | 34 files, one model | 100 | a water-pump testbed, trained on its anomaly-free recording |
| ``gutentag`` | 29 sets | 200 | synthetic, every anomaly kind (needs ``benchmarks/.venv-gutentag``) |
| ``daily`` | 4 entities | 300 | server metrics with a daily pattern and temporal anomalies (``daily_proxy``) |
| ``fleet`` | 12 entities, 2 faulty | 60 | a synthetic fleet (``fleet_data``): what clean entities flag |
| ``noise`` | 1 | 200 | the Azure MVAD sample (i.i.d. noise, no anomalies): false alarms |

Nothing here imports ``workbench``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import datasets
from benchmarks.datasets import SHARED_DATA, Benchmark, Case

SMD_MACHINES = ("machine-1-2", "machine-1-5", "machine-1-6", "machine-1-8", "machine-2-1", "machine-2-3",
                "machine-2-4", "machine-2-5", "machine-2-8", "machine-3-2", "machine-3-3")
FAMILIES = ("smd", "smap_msl", "daphnet", "skab", "gutentag", "daily", "fleet", "noise")
WINDOWS = {"smd": 200, "smap_msl": 100, "daphnet": 200, "skab": 100, "gutentag": 200, "daily": 300, "fleet": 60,
           "noise": 200}
DAPHNET = "018_Daphnet_id_1_HumanActivity_tr_9693_1st_20732.csv"
DAPHNET_TRAIN_ROWS = 9693
FLEET = {"entities": 12, "rows": 3000, "variables": 8, "faulty": (3, 8), "train_share": 0.6}


@dataclass
class Entity:
    """One model's data: a family, a window and a Benchmark (train + scored cases)."""

    family: str
    window: int
    benchmark: Benchmark

    @property
    def name(self) -> str:
        return self.benchmark.name


def smap_msl_channels(root: Path | None = None) -> list[str]:
    root = Path(root) if root is not None else SHARED_DATA / "smap_msl"
    return sorted(p.stem for p in (root / "train").glob("*.csv"))


def load_smap_msl(channel: str, root: Path | None = None) -> Benchmark:
    """One telemanom channel: train on ``train/``, score ``test/`` (no shared history: separate recordings)."""
    root = Path(root) if root is not None else SHARED_DATA / "smap_msl"
    train = pd.read_csv(root / "train" / f"{channel}.csv").drop(columns="index")
    test = pd.read_csv(root / "test" / f"{channel}.csv").drop(columns="index")
    labels = test.pop("label").to_numpy().astype(np.int8)
    case = Case(channel, test.to_numpy(dtype=np.float32), labels)
    return Benchmark(f"SMAP_MSL/{channel}", train.to_numpy(dtype=np.float32), list(train.columns), [case])


def load_daphnet(root: Path | None = None) -> Benchmark:
    """TSB-AD's Daphnet series 018: its first 9,693 rows (no anomalies) train, the rest is scored."""
    root = Path(root) if root is not None else SHARED_DATA / "daphnet"
    frame = pd.read_csv(root / DAPHNET).drop(columns="index")
    labels = frame.pop("label").to_numpy().astype(np.int8)
    values = frame.to_numpy(dtype=np.float32)
    cut = DAPHNET_TRAIN_ROWS
    case = Case("daphnet-018", values[cut:], labels[cut:], history=values[:cut])
    return Benchmark("Daphnet/018", values[:cut], list(frame.columns), [case])


def load_fleet(seed: int = 0) -> list[Benchmark]:
    """``fleet_data``'s synthetic fleet: each entity trains on its first rows and scores the rest."""
    from benchmarks.fleet_data import make_fleet

    spec = FLEET
    fleet = make_fleet(spec["entities"], spec["rows"], spec["variables"], faulty=spec["faulty"], seed=seed)
    cut = int(spec["rows"] * spec["train_share"])
    out = []
    for i, (name, frame) in enumerate(fleet.items()):
        values = frame.drop(columns="timestamp").to_numpy(dtype=np.float32)
        labels = np.zeros(len(values) - cut, dtype=np.int8)
        if i in spec["faulty"]:  # make_fleet's fault: 12 rows from 92% of the rows on
            first = int(spec["rows"] * 0.92)
            labels[first - cut:first - cut + 12] = 1
        out.append(Benchmark(f"fleet/{name}", values[:cut], list(frame.columns[1:]),
                             [Case(name, values[cut:], labels, history=values[:cut])]))
    return out


def load_noise() -> Benchmark:
    """The Azure MVAD sample: the first 2,000 rows train, the last 1,000 are scored (no anomalies)."""
    _, values, names = datasets.load_azure_sample()
    return Benchmark("noise/azure-sample", values[:2000], names,
                     [Case("azure-sample", values[2000:], np.zeros(1000, dtype=np.int8), history=values[:2000])])


def entities(families: tuple[str, ...] = FAMILIES, *, cache_dir: Path | None = None, log=print,
             smap_msl_share: float = 1.0, seed: int = 0) -> list[Entity]:
    """The pool's entities of ``families`` (GutenTAG only where its venv is built; a note otherwise).

    ``smap_msl_share`` < 1 keeps a fixed share of the telemetry channels (drawn with ``seed``), the same for
    every training seed, so that seeds compare like with like.
    """
    out: list[Entity] = []
    for family in families:
        window = WINDOWS[family]
        if family == "smd":
            out += [Entity(family, window, datasets.load_smd(m)) for m in SMD_MACHINES]
        elif family == "smap_msl":
            channels = smap_msl_channels()
            if smap_msl_share < 1.0:
                keep = np.random.default_rng(seed).permutation(len(channels))[:max(1, round(smap_msl_share * len(channels)))]
                channels = [channels[i] for i in sorted(keep)]
            out += [Entity(family, window, load_smap_msl(c)) for c in channels]
        elif family == "daphnet":
            out.append(Entity(family, window, load_daphnet()))
        elif family == "skab":
            out.append(Entity(family, window, datasets.load_skab()))
        elif family == "gutentag":
            try:
                out += [Entity(family, window, b) for b in datasets.load_gutentag(
                    cache_dir or datasets.BENCH_DIR / "cache", log=log)]
            except datasets.GutenTAGUnavailable as exc:
                log(f"gutentag family skipped: {exc}")
        elif family == "daily":
            from benchmarks.daily_proxy import make_entity
            out += [Entity(family, window, make_entity(s)[0]) for s in range(4)]
        elif family == "fleet":
            out += [Entity(family, window, b) for b in load_fleet()]
        elif family == "noise":
            out.append(Entity(family, window, load_noise()))
        else:
            raise ValueError(f"unknown family {family!r}; known: {FAMILIES}")
    return out
