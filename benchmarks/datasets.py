"""Benchmark data sets as plain numpy arrays.

Each loader returns a :class:`Benchmark`: one training matrix and one or more
test cases, each with 0/1 labels per row and, for SMD, the root-cause ranges
of ``interpretation_label/``.  Nothing here imports ``workbench``: the same
arrays feed the product, the anchor (in its own venv, via npz files) and the
baselines.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.signal import lfilter

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BENCH_DIR = Path(__file__).resolve().parent
GUTENTAG_CONFIGS = BENCH_DIR / "gutentag"
GUTENTAG_VENV = BENCH_DIR / ".venv-gutentag"
GUTENTAG_PYTHON = GUTENTAG_VENV / "bin" / "python"
GUTENTAG_RUNNER = BENCH_DIR / "gutentag_runner.py"
SMD_MACHINES = ("machine-1-6", "machine-2-1", "machine-3-3")
SKAB_GROUPS = ("valve1", "valve2", "other")
SKAB_LABEL_COLUMNS = ("anomaly", "changepoint")


class RootCause(NamedTuple):
    """One interpretation-label range: rows ``[start, end)`` explained by ``variables`` (0-based)."""

    start: int
    end: int
    variables: tuple[int, ...]


@dataclass
class Case:
    """One scored series: ``test`` rows, their labels, and optional root causes.

    ``history`` holds the rows that immediately precede ``test`` in the same
    recording (SMD's test continues its train); methods that need a window of
    past rows may use it, and every method sees the same rows.
    """

    name: str
    test: np.ndarray
    labels: np.ndarray
    history: np.ndarray | None = None
    root_causes: list[RootCause] = field(default_factory=list)


@dataclass
class Benchmark:
    """A training matrix plus the cases scored by a model fitted on it."""

    name: str
    train: np.ndarray
    variables: list[str]
    cases: list[Case]
    meta: dict = field(default_factory=dict)  # e.g. GutenTAG's base oscillation and anomaly kind

    @property
    def n_test_rows(self) -> int:
        return int(sum(len(c.test) for c in self.cases))


def _read_matrix(path: Path) -> np.ndarray:
    frame = pd.read_csv(path, header=None, dtype=np.float32)
    return frame.to_numpy()


def parse_interpretation_label(text: str) -> list[RootCause]:
    """Parse SMD ``start-end:d1,d2,...`` lines (half-open rows, 1-based columns)."""
    causes = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        span, dims = line.split(":")
        start, end = (int(x) for x in span.split("-"))
        variables = tuple(sorted({int(d) - 1 for d in dims.split(",") if d.strip()}))
        causes.append(RootCause(start, end, variables))
    return causes


def load_smd(machine: str, root: Path | None = None) -> Benchmark:
    """One SMD machine: train on ``train/``, score ``test/`` with labels and root causes."""
    root = Path(root) if root is not None else SHARED_DATA / "smd"
    train = _read_matrix(root / "train" / f"{machine}.txt")
    test = _read_matrix(root / "test" / f"{machine}.txt")
    labels = np.loadtxt(root / "test_label" / f"{machine}.txt", dtype=np.int8)
    causes = parse_interpretation_label((root / "interpretation_label" / f"{machine}.txt").read_text())
    if len(labels) != len(test):
        raise ValueError(f"{machine}: {len(labels)} labels for {len(test)} test rows")
    variables = [f"dim{j + 1:02d}" for j in range(train.shape[1])]
    # SMD's test set is the second half of one contiguous recording: train's tail is its history.
    case = Case(machine, test, labels, history=train, root_causes=causes)
    return Benchmark(f"SMD/{machine}", train, variables, [case])


def _read_skab(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep=";", index_col="datetime")


def load_skab(root: Path | None = None, groups: tuple[str, ...] = SKAB_GROUPS) -> Benchmark:
    """SKAB: train on ``anomaly-free.csv``, one case per experiment file (scored independently)."""
    root = Path(root) if root is not None else SHARED_DATA / "skab"
    free = _read_skab(root / "anomaly-free" / "anomaly-free.csv")
    variables = list(free.columns)
    cases = []
    for group in groups:
        files = sorted((root / group).glob("*.csv"), key=lambda p: int(p.stem))
        for path in files:
            frame = _read_skab(path)
            labels = frame["anomaly"].to_numpy().astype(np.int8)
            test = frame[variables].to_numpy(dtype=np.float32)
            cases.append(Case(f"{group}/{path.stem}", test, labels))
    return Benchmark("SKAB", free.to_numpy(dtype=np.float32), variables, cases)


def load_azure_sample(root: Path | None = None) -> tuple[pd.DatetimeIndex, np.ndarray, list[str]]:
    """The Azure MVAD sample (5 variables x 3,000 rows, no labels): timestamps, values, names."""
    root = Path(root) if root is not None else SHARED_DATA / "azure_mvad_sample"
    frame = pd.read_csv(root / "onetable" / "sample_data_5_3000.csv", index_col="timestamp")
    return pd.DatetimeIndex(pd.to_datetime(frame.index)), frame.to_numpy(dtype=np.float32), list(frame.columns)


def make_synthetic(n_rows: int = 1_000_000, n_vars: int = 20, seed: int = 0,
                   n_anomalies: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Correlated periodic signals with injected anomaly segments: ``(values, labels)``.

    Each variable mixes two of four shared latent sines (periods 60..1440 rows)
    plus AR(1) noise, so the variables are correlated as real metrics are.
    Anomalies are level shifts, spikes or broken correlations on 1-4 variables
    over 10-200 rows; ``labels`` marks their rows.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows, dtype=np.float64)
    periods = np.array([60.0, 240.0, 720.0, 1440.0])
    latent = np.sin(2 * np.pi * t[:, None] / periods[None, :] + rng.uniform(0, 2 * np.pi, 4))
    mix = rng.normal(size=(4, n_vars)) * (rng.random((4, n_vars)) < 0.5)
    mix[rng.integers(0, 4, n_vars), np.arange(n_vars)] += 1.0
    values = (latent @ mix).astype(np.float32)
    noise = rng.normal(scale=0.1, size=(n_rows, n_vars)).astype(np.float32)
    ar = lfilter([1.0], [1.0, -0.7], noise, axis=0).astype(np.float32)  # AR(1) noise
    values += ar
    labels = np.zeros(n_rows, dtype=np.int8)
    starts = np.sort(rng.choice(np.arange(n_rows // 10, n_rows - 300), n_anomalies, replace=False))
    for start in starts:
        length = int(rng.integers(10, 200))
        cols = rng.choice(n_vars, size=int(rng.integers(1, 5)), replace=False)
        kind = rng.integers(0, 3)
        rows = slice(start, start + length)
        if kind == 0:
            values[rows, cols] += np.float32(rng.choice([-1, 1]) * rng.uniform(1.5, 3.0))
        elif kind == 1:
            values[rows, cols] += np.float32(rng.uniform(3, 6)) * (rng.random((length, len(cols))) < 0.2)
        else:
            values[rows, cols] = values[rows, cols][::-1]
        labels[rows] = 1
    return values, labels


def write_multitable_zip(values: np.ndarray, path: Path, variables: list[str] | None = None,
                         start: str = "2021-01-01T00:00:00Z", freq: str = "min",
                         missing_share: float = 0.01, seed: int = 0) -> Path:
    """Write ``values`` as a v1.1 MultiTable zip: one ``timestamp,value`` CSV per variable.

    Each variable drops a random ``missing_share`` of its rows, so that an
    Outer alignment has gaps to fill as real exports do.
    """
    n_rows, n_vars = values.shape
    variables = variables or [f"series_{j}" for j in range(n_vars)]
    stamps = np.asarray(pd.date_range(start, periods=n_rows, freq=freq).strftime("%Y-%m-%dT%H:%M:%SZ"), dtype=object)
    rng = np.random.default_rng(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for j, name in enumerate(variables):
            keep = rng.random(n_rows) >= missing_share
            buffer = io.StringIO()
            pd.DataFrame({"timestamp": stamps[keep], "value": values[keep, j]}).to_csv(
                buffer, index=False, float_format="%.6g")
            zf.writestr(f"{name}.csv", buffer.getvalue())
    tmp.replace(path)
    return path


class GutenTAGUnavailable(RuntimeError):
    """The GutenTAG venv is missing or generation failed: the suite cannot run here."""


def gutentag_configs() -> list[Path]:
    """The committed GutenTAG configs of the suite, in a stable order."""
    return sorted(GUTENTAG_CONFIGS.glob("*.yaml"))


def generate_gutentag(config: Path, cache_dir: Path, log=None) -> Path:
    """Generate one config into ``cache_dir/gutentag/<stem>-<hash>/`` (skipped when that folder is complete).

    The hash covers the config's bytes and the generator script, so an edited config or runner generates
    anew; GutenTAG itself is pinned by ``setup_gutentag.sh``. Runs in ``benchmarks/.venv-gutentag``.
    """
    config = Path(config)
    digest = hashlib.sha256(config.read_bytes() + GUTENTAG_RUNNER.read_bytes()).hexdigest()[:16]
    out = Path(cache_dir) / "gutentag" / f"{config.stem}-{digest}"
    if (out / "index.json").is_file():
        return out
    if not GUTENTAG_PYTHON.exists():
        raise GutenTAGUnavailable(f"{GUTENTAG_VENV.relative_to(BENCH_DIR.parent)} is missing: "
                                  "build it with `bash benchmarks/setup_gutentag.sh` (timeeval-gutentag 1.5.0)")
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    if log is not None:
        log(f"generating GutenTAG {config.name} into {out}")
    env = dict(os.environ, TQDM_DISABLE="1", PYTHONWARNINGS="ignore")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([str(GUTENTAG_PYTHON), str(GUTENTAG_RUNNER), str(config), str(tmp)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise GutenTAGUnavailable(f"GutenTAG failed on {config.name} (exit {proc.returncode}):\n"
                                  f"{proc.stderr[-3000:]}")
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    return out


def _read_gutentag_csv(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    frame = pd.read_csv(path, index_col="timestamp")
    labels = frame.pop("is_anomaly").to_numpy().astype(np.int8)
    return frame.to_numpy(dtype=np.float32), labels, list(frame.columns)


def load_gutentag(cache_dir: Path, configs: list[Path] | None = None, names: list[str] | None = None,
                  log=None) -> list[Benchmark]:
    """The GutenTAG suite: one benchmark per dataset (train: GutenTAG's anomaly-free series, one test case).

    Generates missing configs first (see :func:`generate_gutentag`). ``names`` keeps only those datasets.
    ``meta`` holds ``base``, ``kind``, ``anomalies`` and the config file.
    """
    out = []
    for config in configs if configs is not None else gutentag_configs():
        folder = generate_gutentag(config, cache_dir, log=log)
        index = json.loads((folder / "index.json").read_text())
        for entry in index["datasets"]:
            if names is not None and entry["name"] not in names:
                continue
            train, train_labels, variables = _read_gutentag_csv(folder / entry["name"] / "train_no_anomaly.csv")
            test, labels, test_vars = _read_gutentag_csv(folder / entry["name"] / "test.csv")
            if train_labels.any() or test_vars != variables or not labels.any():
                raise ValueError(f"GutenTAG {entry['name']}: unexpected training labels, columns or no anomaly")
            meta = {"base": entry["base"], "kind": entry["kind"], "anomalies": entry["anomalies"],
                    "config": config.name, "gutentag": index["gutentag"]}
            out.append(Benchmark(f"GutenTAG/{entry['name']}", train, variables,
                                 [Case(entry["name"], test, labels)], meta=meta))
    return out
