"""The ``workbench`` command as a user runs it: summaries, exit codes, id prefixes, choices, closed pipes.

Each test runs ``python -m workbench.cli`` in a subprocess with its own ``WORKBENCH_HOME``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from workbench.exceptions import NotFoundError, ValidationError
from workbench.contracts import ModelInfo
from workbench.service.registry import Registry

REPO = Path(__file__).resolve().parents[1]
SAMPLE = str(REPO / "data" / "samples" / "sample_data_5_3000.csv")
DETECT_LAST = str(REPO / "data" / "samples" / "detect_last_5_3000.json")
TRAIN = ["train", SAMPLE, "--sliding-window", "30", "--epochs", "1", "--end-time", "2021-01-02T09:19:00Z"]


def _env(home: Path) -> dict[str, str]:
    return dict(os.environ, WORKBENCH_HOME=str(home), PYTHONPATH=str(REPO))


def cli(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True,
                          env=_env(home), cwd=cwd or REPO, timeout=300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    done = cli(home, *TRAIN)
    assert done.returncode == 0, done.stderr
    listed = json.loads(cli(home, "models", "list", "--json").stdout)
    return home, listed["models"][0]["modelId"], done


def test_train_prints_a_short_summary_and_json_on_request(trained):
    home, model_id, done = trained
    assert done.stdout.splitlines()[0] == f"model {model_id} READY"
    assert len(done.stdout.splitlines()) <= 6 and "series_0" in done.stdout
    body = json.loads(cli(home, "models", "get", model_id, "--json").stdout)
    assert body["modelId"] == model_id and body["modelInfo"]["status"] == "READY"


def test_detect_summarises_and_json_is_the_full_body(trained, tmp_path):
    home, model_id, _ = trained
    summary = cli(home, "detect", model_id[:8], SAMPLE, "--start-time", "2021-01-02T09:20:00Z")
    assert summary.returncode == 0, summary.stderr
    assert summary.stdout.startswith("result ") and "1000 timestamps" in summary.stdout
    assert len(summary.stdout.splitlines()) <= 10
    full = json.loads(cli(home, "detect", model_id, SAMPLE, "--start-time", "2021-01-02T09:20:00Z",
                          "--json").stdout)
    assert len(full["results"]) == 1000
    out = tmp_path / "result.json"
    written = cli(home, "detect", model_id[:8], SAMPLE, "--start-time", "2021-01-02T09:20:00Z", "-o", str(out))
    assert str(out) in written.stdout and len(json.loads(out.read_text())["results"]) == 1000


def test_bad_data_for_detection_exits_non_zero_and_registers_no_result(trained, tmp_path):
    home, model_id, _ = trained
    before = Registry(home).list_results(model_id)
    three = tmp_path / "three.csv"
    three.write_text("\n".join(",".join(line.split(",")[:3]) for line in Path(SAMPLE).read_text().splitlines()))
    done = cli(home, "detect", model_id, str(three))
    assert done.returncode == 2 and done.stdout == ""
    assert "error [VariableMismatch]" in done.stderr and "Traceback" not in done.stderr
    assert Registry(home).list_results(model_id) == before


def test_training_that_fails_exits_non_zero_with_the_coded_error(tmp_path):
    noise = tmp_path / "noise.csv"
    noise.write_bytes(bytes(range(256)) * 20)
    done = cli(tmp_path / "home", "train", str(noise), "--sliding-window", "30", "--epochs", "1")
    assert done.returncode == 2 and "error [InvalidFileFormat]" in done.stderr and str(noise) in done.stderr
    assert "Traceback" not in done.stderr and "TrainingFailed" not in done.stderr


def test_models_list_is_a_table_and_ids_resolve_by_prefix(trained):
    home, model_id, _ = trained
    table = cli(home, "models", "list").stdout.splitlines()
    assert table[0].split() == ["ID", "STATUS", "UPDATED", "VARIABLES", "WINDOW", "NAME"]
    assert table[1].split()[:2] == [model_id[:8], "READY"]
    got = cli(home, "models", "get", model_id[:8])
    assert got.returncode == 0 and got.stdout.startswith(f"model {model_id} READY")
    last = cli(home, "detect-last", model_id[:6].upper(), DETECT_LAST)
    assert last.returncode == 0 and last.stdout.startswith("2021-01-03T01:59:00Z: ")
    missing = cli(home, "models", "get", "ffffffff")
    assert missing.returncode == 2 and "[ModelNotExist]" in missing.stderr


def test_an_ambiguous_prefix_lists_the_candidates(tmp_path, monkeypatch):
    ids = iter([uuid.UUID("abcd1111-0000-4000-8000-000000000000"), uuid.UUID("abcd2222-0000-4000-8000-000000000000")])
    monkeypatch.setattr("workbench.service.registry.uuid.uuid4", lambda: next(ids))
    registry = Registry(tmp_path)
    for _ in range(2):
        registry.create_model(ModelInfo.create("x.csv", sliding_window=30))
    assert registry.resolve_model_id("ABCD1") == "abcd1111-0000-4000-8000-000000000000"
    with pytest.raises(ValidationError) as info:
        registry.resolve_model_id("abcd")
    assert info.value.code == "AmbiguousModelId" and "abcd1111" in info.value.message and "abcd2222" in info.value.message
    with pytest.raises(NotFoundError):
        registry.resolve_model_id("0bcd")
    done = cli(tmp_path, "models", "delete", "abcd")
    assert done.returncode == 2 and "[AmbiguousModelId]" in done.stderr and registry.count_models() == 2


def test_choices_are_case_insensitive_and_come_from_the_contract(tmp_path):
    done = cli(tmp_path, "prepare", SAMPLE, "--schema", "onetable", "--align-mode", "INNER", "--fill-na-method",
               "previous", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["timestamps"] == 3000
    wrong = cli(tmp_path, "prepare", SAMPLE, "--schema", "table")
    assert wrong.returncode == 2 and "'OneTable', 'MultiTable'" in wrong.stderr


def test_day_month_start_time_is_refused_with_the_iso_forms(tmp_path):
    done = cli(tmp_path, "prepare", SAMPLE, "--start-time", "01/02/2021 12:00")
    assert done.returncode == 2 and "[InvalidTimestampFormat]" in done.stderr
    assert "2021-02-01T12:00:00Z (day first)" in done.stderr and "2021-01-02T12:00:00Z (month first)" in done.stderr


def test_prepare_reads_other_dialects_when_told(tmp_path):
    euro = tmp_path / "euro.csv"
    euro.write_text("timestamp;a\n2021-01-01T00:00:00Z;1,5\n2021-01-01T00:01:00Z;2,5\n")
    refused = cli(tmp_path, "prepare", str(euro))
    assert refused.returncode == 2 and "[InvalidSeparator]" in refused.stderr
    done = cli(tmp_path, "prepare", str(euro), "--sep", ";", "--decimal", ",", "-o", str(tmp_path / "out.csv"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.csv").read_text().splitlines()[1:] == ["2021-01-01T00:00:00Z,1.5", "2021-01-01T00:01:00Z,2.5"]


def test_missing_files_show_the_absolute_path(tmp_path):
    done = cli(tmp_path, "univariate", "entire", "body.json", cwd=tmp_path)
    assert done.returncode == 2 and "[FileNotFound]" in done.stderr and str(tmp_path / "body.json") in done.stderr


def test_a_closed_pipe_ends_quietly(trained):
    home, model_id, _ = trained
    process = subprocess.Popen([sys.executable, "-m", "workbench.cli", "detect", model_id, SAMPLE, "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(home), cwd=REPO)
    assert process.stdout.readline().strip() == b"{"
    process.stdout.close()  # like `| head -1`: the ~300 KB body cannot all fit in the pipe
    _, err = process.communicate(timeout=300)
    assert process.returncode == 141 and b"Traceback" not in err and b"BrokenPipe" not in err


def test_train_and_detect_read_other_dialects_and_bad_data_registers_nothing(trained, tmp_path):
    """``detect`` advised "pass sep=';', decimal=','" with no such flag, and left a FAILED result behind."""
    home, model_id, _ = trained
    euro = tmp_path / "euro.csv"
    lines = Path(SAMPLE).read_text().splitlines()
    euro.write_text("\n".join(line.replace(",", ";").replace(".", ",") for line in lines[:1300]) + "\n")
    results = Registry(home).list_results(model_id)
    refused = cli(home, "detect", model_id[:8], str(euro))
    assert refused.returncode == 2 and "[InvalidSeparator]" in refused.stderr
    assert "--sep ';' --decimal ','" in refused.stderr and refused.stdout == ""
    assert Registry(home).list_results(model_id) == results
    done = cli(home, "detect", model_id[:8], str(euro), "--sep", ";", "--decimal", ",", "--start-time",
               "2021-01-01T21:00:00Z")
    assert done.returncode == 0, done.stderr
    assert "READY" in done.stdout.splitlines()[0] and "39 timestamps" in done.stdout  # 21:00 .. 21:38
    other = tmp_path / "home"
    assert cli(other, "train", str(euro), "--sliding-window", "30", "--epochs", "1").returncode == 2
    assert cli(other, "train", str(euro), "--sliding-window", "30", "--epochs", "0", "--sep", ";",
               "--decimal", ",").returncode == 2  # a bad argument: refused before anything is read or registered
    assert Registry(other).count_models() == 0
    trained_euro = cli(other, "train", str(euro), "--sliding-window", "30", "--epochs", "1", "--sep", ";",
                       "--decimal", ",")
    assert trained_euro.returncode == 0, trained_euro.stderr
    assert Registry(other).count_models() == 1


def test_prepare_prints_a_short_summary_with_the_gaps_and_json_on_request(tmp_path):
    """~230 lines of JSON once; a two-hour hole in every column passed unseen (7,080 rows, filledNARatio 0)."""
    holed = tmp_path / "holed.csv"
    lines = Path(REPO / "data" / "samples" / "smd_machine-1-6.csv").read_text().splitlines()
    holed.write_text("\n".join(lines[:121] + lines[241:]) + "\n")  # 02:00 .. 03:59 missing in every column
    done = cli(tmp_path, "prepare", str(holed))
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) <= 5 and done.stdout.startswith("7,200 timestamps 2021-01-01T00:00:00Z")
    assert "1 gap where every variable is missing, 120 timestamps (filled); the longest 2 h, " \
           "2021-01-01T02:00:00Z .. 2021-01-01T03:59:00Z" in done.stdout
    assert "DataWarning: every variable is missing at 120 timestamps" in done.stderr
    body = json.loads(cli(tmp_path, "prepare", str(holed), "--json").stdout)
    assert body["timestamps"] == 7200 and len(body["variableStates"]) == 38
    assert body["gaps"] == [{"start": "2021-01-01T02:00:00Z", "end": "2021-01-01T03:59:00Z", "timestamps": 120,
                             "seconds": 7200.0, "filled": True}]
    assert all(s["filledNARatio"] == pytest.approx(120 / 7200) for s in body["variableStates"])


def test_every_command_that_reads_a_csv_takes_sep_and_decimal():
    """The InvalidSeparator advice names --sep/--decimal: every command with a data source must have them."""
    import argparse

    from workbench.cli import _build_parser

    def commands(parser, path=()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    yield from commands(child, (*path, name))
        yield path, parser

    reading = {path: {flag for a in parser._actions for flag in a.option_strings}
               for path, parser in commands(_build_parser())
               if any(a.dest in ("data_source", "source") for a in parser._actions)}
    assert {("prepare",), ("train",), ("detect",), ("fleet", "train"), ("fleet", "detect")} <= set(reading)
    assert all({"--sep", "--decimal"} <= flags for flags in reading.values()), reading
