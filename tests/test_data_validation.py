"""Bad input gets an error code and the file, column and line at fault; nothing half-written is left behind."""
from __future__ import annotations

import io
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

from workbench import data
from workbench.cli import main as cli_main
from workbench.data.blob import zip_csv_folder
from workbench.data.prepare import DataWarning
from workbench.exceptions import ErrorCode, StorageError, WorkbenchError


def _error(call) -> WorkbenchError:
    with pytest.raises(WorkbenchError) as err:
        call()
    return err.value


def _one_table(tmp_path, text: str, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _zip(tmp_path, members: dict[str, bytes], name="data.zip", compress=zipfile.ZIP_DEFLATED):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", compress) as archive:
        for member, payload in members.items():
            archive.writestr(member, payload)
    return str(path)


GOOD_ROWS = "2021-01-01T00:00:00Z,1\n2021-01-01T00:01:00Z,2\n"


@pytest.mark.parametrize("text, code, column, row", [
    ("time,a\n2021-01-01T00:00:00Z,1\n", ErrorCode.INVALID_HEADER, None, 1),
    ("2021-01-01T00:00:00Z,1\n2021-01-01T00:01:00Z,2\n", ErrorCode.INVALID_HEADER, None, 1),
    ("timestamp\n2021-01-01T00:00:00Z\n", ErrorCode.NO_VARIABLES, None, 1),
    ("timestamp,a,a\n2021-01-01T00:00:00Z,1,2\n", ErrorCode.INVALID_HEADER, None, 1),
    ("timestamp,a\n2021-01-01T00:00:00Z,1\n01/02/2021 10:00,2\n", ErrorCode.INVALID_TIMESTAMP, "timestamp", 3),
    ("timestamp,a\n2021-01-01T00:00:00Z,1\nyesterday,2\n", ErrorCode.INVALID_TIMESTAMP, "timestamp", 3),
    ("timestamp,a,b\n2021-01-01T00:00:00Z,1,2\n2021-01-01T00:01:00Z,1,abc\n", ErrorCode.INVALID_VALUE, "b", 3),
    ("timestamp,a\n2021-01-01T00:00:00Z,1\n2021-01-01T00:01:00Z,2\n2021-01-01T00:00:00Z,3\n",
     ErrorCode.DUPLICATE_TIMESTAMP, "timestamp", 4),
    ("", ErrorCode.EMPTY_FILE, None, None),
    ("timestamp,a\n", ErrorCode.EMPTY_FILE, None, None),
])
def test_one_table_errors_name_the_code_column_and_line(tmp_path, text, code, column, row):
    path = _one_table(tmp_path, text)
    err = _error(lambda: data.load(path, "OneTable"))
    assert err.code == code
    assert err.file == path
    assert err.column == column
    assert err.row == row
    assert path in str(err)  # the message a person reads names the file


def test_blank_cells_are_missing_values_filled_by_the_policy(tmp_path):
    path = _one_table(tmp_path, "timestamp,a,b\n2021-01-01T00:00:00Z,1,\n2021-01-01T00:01:00Z,3,4\n"
                                "2021-01-01T00:02:00Z,,6\n")
    prepared = data.load(path)
    assert prepared.frame["a"].tolist() == [1, 3, 3]
    assert prepared.frame["b"].tolist() == [4, 4, 6]
    assert {s.variable: s.effective_count for s in prepared.variable_states} == {"a": 2, "b": 2}


def test_multitable_member_with_wrong_header(tmp_path):
    path = _zip(tmp_path, {"good.csv": b"timestamp,value\n" + GOOD_ROWS.encode(),
                           "bad.csv": b"timestamp,value,extra\n2021-01-01T00:00:00Z,1,2\n"})
    err = _error(lambda: data.load(path, "MultiTable"))
    assert err.code == ErrorCode.INVALID_HEADER
    assert err.file.endswith("!bad.csv") and err.row == 1


def test_multitable_member_with_non_numeric_value(tmp_path):
    path = _zip(tmp_path, {"cpu.csv": b"timestamp,value\n2021-01-01T00:00:00Z,1\n2021-01-01T00:01:00Z,high\n"})
    err = _error(lambda: data.load(path, "MultiTable"))
    assert (err.code, err.column, err.row) == (ErrorCode.INVALID_VALUE, "value", 3)
    assert "cpu.csv" in err.file


@pytest.mark.parametrize("members, code", [
    ({"a.csv": b"timestamp,value\n" + GOOD_ROWS.encode(), "notes.txt": b"hello"}, ErrorCode.STRAY_ZIP_MEMBER),
    ({"series/a.csv": b"timestamp,value\n" + GOOD_ROWS.encode()}, ErrorCode.STRAY_ZIP_MEMBER),
    ({"../evil.csv": b"timestamp,value\n" + GOOD_ROWS.encode()}, ErrorCode.UNSAFE_ZIP),
    ({"/etc/evil.csv": b"timestamp,value\n" + GOOD_ROWS.encode()}, ErrorCode.UNSAFE_ZIP),
    ({}, ErrorCode.NO_VARIABLES),
])
def test_zip_layout_errors(tmp_path, members, code):
    path = _zip(tmp_path, members)
    err = _error(lambda: data.load(path, "MultiTable"))
    assert err.code == code and err.file == path


def test_zip_bomb_is_refused_before_expanding(tmp_path):
    bomb = b"timestamp,value\n" + b"0" * (50 * 1024 * 1024)
    path = _zip(tmp_path, {"a.csv": bomb})
    assert (tmp_path / "data.zip").stat().st_size < 200_000
    err = _error(lambda: data.load(path, "MultiTable"))
    assert err.code == ErrorCode.UNSAFE_ZIP


def test_not_a_zip(tmp_path):
    path = tmp_path / "data.zip"
    path.write_bytes(b"this is not a zip")
    assert _error(lambda: data.load(str(path), "MultiTable")).code == ErrorCode.INVALID_ZIP


@pytest.mark.parametrize("source, schema, code", [
    ("data/samples/sample_data_5_3000.csv", "MultiTable", ErrorCode.INVALID_DATA_SCHEMA),
    ("data/samples/multivariate_sample_data_5_3000.zip", "OneTable", ErrorCode.INVALID_DATA_SCHEMA),
    ("data/samples/sample_data_5_3000.csv", "ThreeTable", ErrorCode.INVALID_DATA_SCHEMA),
    ("data/samples/missing.csv", "OneTable", ErrorCode.DATA_SOURCE_NOT_FOUND),
    ("ftp://example.com/data.csv", "OneTable", ErrorCode.INVALID_DATA_SOURCE),
    ("http://example.com/data.csv", "OneTable", ErrorCode.INVALID_DATA_SOURCE),
    ("data/samples/README.md", "OneTable", ErrorCode.INVALID_DATA_SOURCE),
])
def test_source_and_schema_errors(source, schema, code):
    assert _error(lambda: data.load(source, schema)).code == code


def test_file_url_is_a_local_path():
    from pathlib import Path
    url = Path("data/samples/sample_data_5_3000.csv").resolve().as_uri()
    assert data.load(url).frame.shape == (3000, 5)


def test_too_many_timestamps():
    stamps = pd.date_range("2000-01-01", periods=1_000_001, freq="s", tz="UTC")
    frame = pd.DataFrame({"a": np.zeros(len(stamps), dtype=np.float32)}, index=stamps)
    assert _error(lambda: data.from_frame(frame)).code == ErrorCode.TOO_MANY_TIMESTAMPS
    # clipping with endTime brings it under the limit
    assert len(data.from_frame(frame, end_time=stamps[999_999]).frame) == 1_000_000


def test_too_few_timestamps_for_the_window_and_warning_under_5000():
    path = "data/samples/sample_data_5_3000.csv"
    err = _error(lambda: data.load(path, end_time="2021-01-01T00:09:00Z", min_timestamps=300))
    assert err.code == ErrorCode.NOT_ENOUGH_DATA and "10 timestamps" in err.message
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prepared = data.load(path, min_timestamps=300)
    assert any(issubclass(w.category, DataWarning) for w in caught)
    assert "5,000" in prepared.warnings[0]


def test_no_timestamp_in_range():
    err = _error(lambda: data.load("data/samples/sample_data_5_3000.csv", start_time="2030-01-01T00:00:00Z"))
    assert err.code == ErrorCode.NOT_ENOUGH_DATA


def test_inner_join_with_no_shared_timestamp(tmp_path):
    folder = tmp_path / "disjoint"
    folder.mkdir()
    (folder / "a.csv").write_text("timestamp,value\n2021-01-01T00:00:00Z,1\n")
    (folder / "b.csv").write_text("timestamp,value\n2021-01-02T00:00:00Z,1\n")
    err = _error(lambda: data.load(str(folder), "MultiTable", align_policy={"alignMode": "Inner"}))
    assert err.code == ErrorCode.NOT_ENOUGH_DATA


def test_cli_prepare_failure_leaves_no_output_file(tmp_path, capsys):
    bad = _one_table(tmp_path, "timestamp,a\nnot-a-time,1\n")
    out = tmp_path / "aligned.csv"
    assert cli_main(["prepare", bad, "--output", str(out)]) == 2
    assert not out.exists()
    assert "InvalidTimestampFormat" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [tmp_path / "data.csv"]


def test_cli_prepare_writes_aligned_table(tmp_path, capsys):
    out = tmp_path / "aligned.csv"
    assert cli_main(["prepare", "data/samples/multivariate_sample_data_5_3000.zip", "--schema", "MultiTable",
                     "--end-time", "2021-01-01T00:09:00Z", "-o", str(out), "--json"]) == 0
    assert '"filledNARatio": 0.0' in capsys.readouterr().out
    table = pd.read_csv(out)
    assert list(table.columns) == ["timestamp", "series_0", "series_1", "series_2", "series_3", "series_4"]
    assert len(table) == 10 and table["timestamp"].iloc[0] == "2021-01-01T00:00:00Z"


def test_zip_failure_leaves_no_partial_zip(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(StorageError) as err:
        zip_csv_folder(empty, tmp_path / "out.zip")
    assert err.value.code == ErrorCode.ZIP_FAILED
    assert not (tmp_path / "out.zip").exists()


def test_zip_is_flat_and_holds_only_csvs(tmp_path):
    folder = tmp_path / "series"
    folder.mkdir()
    (folder / "a.csv").write_text("timestamp,value\n" + GOOD_ROWS)
    (folder / "b.csv").write_text("timestamp,value\n" + GOOD_ROWS)
    (folder / "notes.txt").write_text("not data")
    archive = zip_csv_folder(folder, tmp_path / "series.zip")
    assert sorted(zipfile.ZipFile(archive).namelist()) == ["a.csv", "b.csv"]
    assert data.load(str(archive), "MultiTable").variables == ["a", "b"]


def test_dataframe_input_errors():
    stamps = ["2021-01-01T00:00:00Z", "2021-01-01T00:00:00Z"]
    err = _error(lambda: data.from_frame(pd.DataFrame({"timestamp": stamps, "a": [1, 2]})))
    assert err.code == ErrorCode.DUPLICATE_TIMESTAMP
    err = _error(lambda: data.from_frame(pd.DataFrame({"timestamp": ["2021-01-01", "2021-01-02"], "a": ["x", "y"]})))
    assert (err.code, err.column) == (ErrorCode.INVALID_VALUE, "a")
    assert _error(lambda: data.from_frame([1, 2])).code == ErrorCode.BAD_ARGUMENT


def test_error_object_is_the_v11_shape(tmp_path):
    err = _error(lambda: data.load(_one_table(tmp_path, "timestamp,a\nnope,1\n")))
    body = err.to_error()
    assert set(body) == {"code", "message"}
    assert body["code"] == "InvalidTimestampFormat" and "line" not in body["message"] and "row 2" in body["message"]
    assert isinstance(io.StringIO(str(err)).read(), str)
