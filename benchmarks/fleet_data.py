"""Synthetic fleets: entities of correlated periodic variables with faults injected near the end.

Each entity has its own phases, periods and noise; a fault adds a few standard deviations to some of its
variables over a block of rows and breaks their correlation.  Used by the fleet tests, the fleet benchmark
and ``data/samples/fleet`` (made by ``python -m benchmarks.fleet_data --sample``).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

START = pd.Timestamp("2024-01-01T00:00:00Z")


@dataclass(frozen=True)
class Fault:
    first_row: int
    rows: int
    variables: tuple[int, ...]
    size: float = 6.0   # in standard deviations of the variable


def make_entity(rows: int, n_vars: int, seed: int, faults: tuple[Fault, ...] = ()) -> pd.DataFrame:
    """A wide frame (``timestamp`` column + ``v00..``) on a one-minute grid."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows, dtype=np.float64)
    drivers = np.stack([np.sin(2 * np.pi * t / rng.uniform(40, 160) + rng.uniform(0, 6)) for _ in range(3)], axis=1)
    mixing = rng.normal(size=(3, n_vars))
    values = drivers @ mixing + 0.15 * rng.normal(size=(rows, n_vars))
    scale = values.std(axis=0) + 1e-9
    for fault in faults:
        block = slice(fault.first_row, min(rows, fault.first_row + fault.rows))
        for j in fault.variables:
            values[block, j] += fault.size * scale[j]
    frame = pd.DataFrame(values.round(4), columns=[f"v{j:02d}" for j in range(n_vars)])
    frame.insert(0, "timestamp", (START + pd.to_timedelta(t, unit="min")).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return frame


def make_fleet(n_entities: int, rows: int, n_vars: int, *, faulty: tuple[int, ...] = (), fault_at: float = 0.92,
               fault_rows: int = 12, seed: int = 0) -> dict[str, pd.DataFrame]:
    """``{entity: frame}``; entities listed in ``faulty`` get a fault starting at ``fault_at`` of their rows."""
    out = {}
    for i in range(n_entities):
        faults = ()
        if i in faulty:
            faults = (Fault(int(rows * fault_at), fault_rows, (i % n_vars, (i + 1) % n_vars)),)
        out[f"asset-{i:03d}"] = make_entity(rows, n_vars, seed * 10_000 + i, faults)
    return out


def write_folder(entities: dict[str, pd.DataFrame], folder: Path) -> Path:
    """One OneTable CSV per entity."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in entities.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def long_table(entities: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The same entities as one long table: ``entity, timestamp, v00..``."""
    return pd.concat([frame.assign(entity=name)[["entity", *frame.columns]] for name, frame in entities.items()],
                     ignore_index=True)


def timestamp_at(row: int) -> str:
    return (START + pd.Timedelta(minutes=row)).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_sample(folder: Path) -> None:
    """``data/samples/fleet``: 6 assets x 3 variables x 600 minutes; faults in assets 1 and 4, a manifest."""
    entities = make_fleet(6, 600, 3, faulty=(1, 4), fault_at=0.97, fault_rows=18, seed=7)
    write_folder(entities, folder)
    manifest = [{"entity": name, "dataSource": f"{name}.csv"} for name in entities]
    manifest[0]["slidingWindow"] = 40  # a per-entity override
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Write the sample fleet (data/samples/fleet).")
    parser.add_argument("--sample", default="data/samples/fleet", help="folder to write")
    write_sample(Path(parser.parse_args().sample))
