"""Files that are not the expected CSV, other CSV dialects, day/month timestamps and DataFrame errors.

Each unreadable input is refused with its own code and names the file (or the DataFrame's row), in
the workbench's words: never pandas' advice (``format='mixed'``, ``dayfirst``) or a csv module error.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import data
from workbench.client import AnomalyDetectorClient
from workbench.contracts import ModelInfo, parse_timestamp
from workbench.exceptions import WorkbenchError

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "samples" / "sample_data_5_3000.csv"
DAY_FIRST, MONTH_FIRST = "2021-02-01T12:00:00Z", "2021-01-02T12:00:00Z"


def _error(call) -> WorkbenchError:
    with pytest.raises(WorkbenchError) as info:
        call()
    text = str(info.value)
    assert "Traceback" not in text and "format='mixed'" not in text and "dayfirst" not in text
    return info.value


def _write(path: Path, content: str | bytes) -> str:
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return str(path)


@pytest.fixture
def euro_csv(tmp_path):
    """A OneTable CSV as Excel saves it in much of Europe: ';' separators and decimal commas."""
    return _write(tmp_path / "euro.csv", "timestamp;a;b\n2021-01-01T00:00:00Z;1,5;2\n2021-01-01T00:01:00Z;1,75;-3,25\n")


# ---------------------------------------------------------------- files that are not CSV text


def test_random_bytes_are_an_invalid_file_naming_it(tmp_path):
    path = _write(tmp_path / "noise.csv", np.random.default_rng(3).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    err = _error(lambda: data.load(path))
    assert err.code == "InvalidFileFormat" and err.file == path


def test_random_bytes_fail_training_with_the_coded_error_not_training_failed(tmp_path):
    path = _write(tmp_path / "noise.csv", bytes(range(256)) * 40)
    client = AnomalyDetectorClient(tmp_path / "home", epochs=1)
    model = client.train_multivariate_model({"dataSource": path, "slidingWindow": 30}, wait=True)
    assert model["modelInfo"]["status"] == "FAILED"
    assert [e["code"] for e in model["modelInfo"]["errors"]] == ["InvalidFileFormat"]
    assert path in model["modelInfo"]["errors"][0]["message"]


def test_an_excel_workbook_named_csv_is_named_as_a_workbook(tmp_path):
    path = tmp_path / "book.csv"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    err = _error(lambda: data.load(str(path)))
    assert err.code == "InvalidFileFormat" and "Excel" in err.message and "export it as CSV" in err.message


def test_a_latin1_file_is_an_encoding_error_with_its_line(tmp_path):
    path = _write(tmp_path / "latin.csv", "timestamp,a\n2021-01-01T00:00:00Z,1\n2021-01-01T00:01:00Z,2 \u00b0C\n"
                  .encode("latin-1"))
    err = _error(lambda: data.load(path))
    assert err.code == "InvalidFileEncoding" and err.row == 3 and "UTF-8" in err.message


# ---------------------------------------------------------------- separators and decimal commas


def test_a_semicolon_csv_names_the_separator_and_the_decimal_comma(euro_csv):
    err = _error(lambda: data.load(euro_csv))
    assert err.code == "InvalidSeparator" and err.file == euro_csv
    assert "separated by ';'" in err.message and "sep=';'" in err.message and "decimal=','" in err.message


def test_sep_and_decimal_read_the_european_csv(euro_csv):
    prepared = data.load(euro_csv, sep=";", decimal=",")
    assert prepared.frame["a"].tolist() == [1.5, 1.75] and prepared.frame["b"].tolist() == [2.0, -3.25]


def test_sep_without_decimal_names_the_decimal_comma_cell(euro_csv):
    err = _error(lambda: data.load(euro_csv, sep=";"))
    assert (err.code, err.column, err.row) == ("InvalidDecimalSeparator", "a", 2) and "decimal=','" in err.message


def test_a_tab_separated_file_names_tabs(tmp_path):
    path = _write(tmp_path / "tabs.csv", "timestamp\ta\n2021-01-01T00:00:00Z\t1\n")
    err = _error(lambda: data.load(path))
    assert err.code == "InvalidSeparator" and "tabs" in err.message and "sep='\\t'" in err.message
    assert data.load(path, sep="\t").frame["a"].tolist() == [1.0]


def test_a_multitable_member_with_semicolons_is_named(tmp_path):
    folder = tmp_path / "series"
    folder.mkdir()
    _write(folder / "cpu.csv", "timestamp,value\n2021-01-01T00:00:00Z,1\n")
    _write(folder / "mem.csv", "timestamp;value\n2021-01-01T00:00:00Z;1\n")
    err = _error(lambda: data.load(str(folder), "MultiTable"))
    assert err.code == "InvalidSeparator" and err.file.endswith("mem.csv")


def test_a_row_split_by_a_decimal_comma_is_an_invalid_row(tmp_path):
    path = _write(tmp_path / "split.csv", "timestamp,a\n2021-01-01T00:00:00Z,1\n2021-01-01T00:01:00Z,1,5\n")
    err = _error(lambda: data.load(path))
    assert (err.code, err.row) == ("InvalidRow", 3) and "3 fields" in err.message and "decimal comma" in err.message


def test_a_short_row_is_not_silently_filled(tmp_path):
    path = _write(tmp_path / "short.csv", "timestamp,a,b\n2021-01-01T00:00:00Z,1,2\n2021-01-01T00:01:00Z,1\n")
    assert (_error(lambda: data.load(path)).code, _error(lambda: data.load(path)).row) == ("InvalidRow", 3)


def test_bad_dialect_arguments_are_refused():
    assert _error(lambda: data.load(str(SAMPLE), sep=";;")).code == "BadArgument"
    assert _error(lambda: data.load(str(SAMPLE), decimal="x")).code == "BadArgument"


# ---------------------------------------------------------------- day/month timestamps, refused the same way


def _assert_ambiguous(err: WorkbenchError) -> None:
    assert err.code == "InvalidTimestampFormat"
    assert DAY_FIRST in err.message and MONTH_FIRST in err.message and "ambiguous" in err.message


def test_day_month_text_is_refused_alike_in_cells_arguments_bodies_and_frames(tmp_path):
    path = _write(tmp_path / "excel.csv", "timestamp,a\n2021-01-01T00:00:00Z,1\n01/02/2021 12:00,2\n")
    cell = _error(lambda: data.load(path))
    _assert_ambiguous(cell)
    assert (cell.column, cell.row) == ("timestamp", 3)
    _assert_ambiguous(_error(lambda: data.load(str(SAMPLE), start_time="01/02/2021 12:00")))
    _assert_ambiguous(_error(lambda: parse_timestamp("01/02/2021 12:00")))
    _assert_ambiguous(_error(lambda: ModelInfo.from_json({"dataSource": "x.csv", "startTime": "01/02/2021 12:00"})))
    frame = pd.DataFrame({"a": [1.0, 2.0]}, index=pd.Index(["2021-01-01T00:00:00Z", "01/02/2021 12:00"],
                                                           name="timestamp"))
    framed = _error(lambda: data.from_frame(frame))
    _assert_ambiguous(framed)
    assert framed.row == 1


def test_unambiguous_non_iso_text_gets_its_iso_form():
    err = _error(lambda: parse_timestamp("13/02/2021 08:30", field_name="endTime"))
    assert "'endTime'" in err.message and "write 2021-02-13T08:30:00Z" in err.message
    assert parse_timestamp("2021-01-01 00:00") == pd.Timestamp("2021-01-01", tz="UTC")


# ---------------------------------------------------------------- paths


def test_a_missing_relative_path_shows_the_absolute_path_tried(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    err = _error(lambda: data.load("data/missing.csv"))
    assert err.code == "DataSourceNotFound" and err.file == str(tmp_path / "data" / "missing.csv")
    assert str(tmp_path) in err.message


# ---------------------------------------------------------------- DataFrames name the row


def test_dataframe_errors_name_the_column_and_row():
    index = pd.date_range("2021-01-01", periods=3, freq="min", tz="UTC")
    err = _error(lambda: data.from_frame(pd.DataFrame({"a": [1.0, "oops", 3.0]}, index=index)))
    assert (err.code, err.column, err.row) == ("InvalidValue", "a", 1) and "2021-01-01T00:01:00Z" in err.message
    dup = pd.DataFrame({"a": [1.0, 2.0, 3.0]}, index=pd.Index(["2021-01-01", "2021-01-02", "2021-01-01"]))
    err = _error(lambda: data.from_frame(dup))
    assert (err.code, err.row) == ("DuplicateTimestamp", 2) and "rows 0 and 2" in err.message


def test_a_dataframe_read_with_the_wrong_separator_or_without_its_index(euro_csv, tmp_path):
    plain = _write(tmp_path / "plain.csv", "timestamp;a\n2021-01-01T00:00:00Z;1\n")
    err = _error(lambda: data.from_frame(pd.read_csv(plain)))
    assert err.code == "InvalidSeparator" and "sep=';'" in err.message
    frame = pd.read_csv(euro_csv, sep=";", index_col="timestamp")
    assert _error(lambda: data.from_frame(frame)).code == "InvalidDecimalSeparator"
    assert data.from_frame(frame, decimal=",").frame["b"].tolist() == [2.0, -3.25]
    numbered = _error(lambda: data.from_frame(pd.read_csv(euro_csv, sep=";", decimal=",").drop(columns="timestamp")))
    assert numbered.code == "InvalidTimestampFormat" and "index_col='timestamp'" in numbered.message


# ---------------------------------------------------------------- warnings


def test_data_warnings_show_no_internal_source_line(tmp_path):
    code = (f"from workbench import data; data.load({str(SAMPLE)!r}, min_timestamps=10)")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "DataWarning: only 3,000 timestamps; at least 5,000 are recommended for training"
    assert json.dumps(done.stderr).count(".py") == 0
