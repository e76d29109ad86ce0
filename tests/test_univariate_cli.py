"""``workbench univariate`` as a user runs it: a v1.1 body or a CSV column in, timestamps in the summary.

Each test runs ``python -m workbench.cli`` in a subprocess with its own ``WORKBENCH_HOME``.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "data" / "azure_mvad_sample" / "univariate"


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, WORKBENCH_HOME=str(tmp_path / "home"), PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "workbench.cli", "univariate", *args], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=300)


@pytest.fixture(scope="module")
def metrics(tmp_path_factory) -> Path:
    """Two weeks of 5-minute readings: cpu with one spike on 2024-03-10 22:40, mem with the same spike
    and a lasting step up on 2024-03-14 10:00."""
    folder = tmp_path_factory.mktemp("csv")
    n = 288 * 14
    index = pd.date_range("2024-03-04", periods=n, freq="5min", tz="UTC")
    cpu = 10 + np.sin(2 * np.pi * np.arange(n) / 288) + 0.02 * np.random.default_rng(3).standard_normal(n)
    cpu[2000] += 1.0
    mem = cpu.copy()
    mem[3000:] += 0.5
    stamps = index.strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.DataFrame({"timestamp": stamps, "cpu": cpu, "mem": mem}).to_csv(folder / "metrics.csv", index=False)
    pd.DataFrame({"timestamp": stamps, "value": cpu}).to_csv(folder / "cpu.csv", index=False)
    return folder


def test_a_timestamp_value_csv_gives_timestamps(metrics):
    done = cli(metrics, "entire", "cpu.csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["1 anomaly in 4032 points (period 288):",
                                        "  2024-03-10T22:40:00Z  above expected 9.66, severity 0.911"]
    last = cli(metrics, "last", "cpu.csv")
    assert last.returncode == 0 and last.stdout.startswith("the last point (2024-03-17T23:55:00Z) is not an anomaly")


def test_a_column_of_a_one_table_csv(metrics):
    several = cli(metrics, "entire", "metrics.csv")
    assert several.returncode == 2 and "[BadArgument] the CSV has 2 columns (cpu, mem): choose one with --column" \
        in several.stderr
    unknown = cli(metrics, "entire", "metrics.csv", "--column", "disk")
    assert unknown.returncode == 2 and "there is no column 'disk' (cpu, mem)" in unknown.stderr
    done = cli(metrics, "entire", "metrics.csv", "--column", "mem", "--max-anomaly-ratio", "0.3")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()  # the spike, then the step up to the end as one stretch
    assert len(lines) == 3 and lines[1].startswith("  2024-03-10T22:40:00Z  above")
    assert lines[2][:25] in ("  2024-03-14T09:50:00Z ..", "  2024-03-14T09:55:00Z ..", "  2024-03-14T10:00:00Z ..")
    assert ".. 2024-03-17T23:55:00Z" in lines[2] and "points above expected" in lines[2]


def test_change_points_of_a_csv_column_leave_the_spike_out(metrics):
    step = cli(metrics, "changepoint", "metrics.csv", "--column", "mem")
    assert step.returncode == 0, step.stderr
    assert step.stdout.splitlines() == ["1 change point in 4032 points (period 288):",
                                        "  2024-03-14T10:00:00Z  confidence 1"]
    spike_only = cli(metrics, "changepoint", "cpu.csv")
    assert spike_only.stdout.strip() == "0 change points in 4032 points (period 288)"


def test_a_v11_body_with_options_over_its_fields(tmp_path):
    body = str(SAMPLES / "request-data.json")
    done = cli(tmp_path, "entire", body)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "12 anomalies in 47 points (period 7):"
    assert "  2018-03-22T00:00:00Z .. 2018-04-02T00:00:00Z  10 of 12 points above and below expected" in done.stdout
    refused = cli(tmp_path, "entire", body, "--sensitivity", "120")
    assert refused.returncode == 2 and "[InvalidModelArgument] The 'sensitivity' field" in refused.stderr


def test_csv_dialects_and_bad_cells(tmp_path):
    (tmp_path / "euro.csv").write_text("timestamp;value\n" + "".join(
        f"2024-01-{d:02d}T00:00:00Z;{10 + (d % 7) / 10:.1f}\n".replace(".", ",") for d in range(1, 31)))
    refused = cli(tmp_path, "entire", "euro.csv")
    assert refused.returncode == 2 and "[InvalidSeparator]" in refused.stderr
    done = cli(tmp_path, "entire", "euro.csv", "--sep", ";", "--decimal", ",")
    assert done.returncode == 0 and done.stdout.startswith("0 anomalies in 30 points"), done.stderr
    (tmp_path / "dm.csv").write_text("timestamp,value\n01/02/2024,1\n02/02/2024,2\n")
    bad = cli(tmp_path, "entire", "dm.csv")
    assert bad.returncode == 2 and "[InvalidTimestampFormat]" in bad.stderr and "Traceback" not in bad.stderr
