"""Align policy and variable states, on the v1.1 documentation's own example tables."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import data
from workbench.contracts import AlignPolicy
from workbench.exceptions import ErrorCode, ValidationError


def _write_multitable(folder, tables: dict[str, list[tuple[str, float | str]]]):
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        lines = ["timestamp,value"] + [f"{t},{v}" for t, v in rows]
        (folder / f"{name}.csv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def seed_tables(tmp_path):
    """Variable-1 and Variable-2 exactly as in the v1.1 alignMode example."""
    return _write_multitable(tmp_path / "seed", {
        "Variable-1": [("2020-11-01", 1), ("2020-11-02", 2), ("2020-11-04", 4), ("2020-11-05", 5)],
        "Variable-2": [("2020-11-01", 1), ("2020-11-02", 2), ("2020-11-03", 3), ("2020-11-04", 4)],
    })


def _load(folder, **policy):
    return data.load(str(folder), "MultiTable", align_policy=policy or None)


def test_inner_join_keeps_only_shared_timestamps(seed_tables):
    frame = _load(seed_tables, alignMode="Inner").frame
    assert [t.strftime("%Y-%m-%d") for t in frame.index] == ["2020-11-01", "2020-11-02", "2020-11-04"]
    assert frame["Variable-1"].tolist() == [1, 2, 4]
    assert frame["Variable-2"].tolist() == [1, 2, 4]


def test_outer_join_is_the_default_and_keeps_every_timestamp(seed_tables):
    prepared = _load(seed_tables)
    assert [t.strftime("%Y-%m-%d") for t in prepared.frame.index] == [
        "2020-11-01", "2020-11-02", "2020-11-03", "2020-11-04", "2020-11-05"]
    # the cells the example table shows as nan are exactly the unobserved ones
    observed = pd.DataFrame(prepared.history.observed, index=prepared.frame.index, columns=prepared.variables)
    assert not observed.loc["2020-11-03", "Variable-1"]
    assert not observed.loc["2020-11-05", "Variable-2"]
    assert observed.to_numpy().sum() == 8


@pytest.mark.parametrize("policy, v1_nov3, v2_nov5", [
    ({"fillNAMethod": "Linear"}, 3.0, 4.0),          # interpolated; a trailing gap keeps the last value
    ({"fillNAMethod": "Previous"}, 2.0, 4.0),
    ({"fillNAMethod": "Subsequent"}, 4.0, 4.0),       # trailing gap: no next value, the last one is kept
    ({"fillNAMethod": "Zero"}, 0.0, 0.0),
    ({"fillNAMethod": "Fixed", "paddingValue": 7.5}, 7.5, 7.5),
])
def test_every_fill_method_on_the_outer_example(seed_tables, policy, v1_nov3, v2_nov5):
    frame = _load(seed_tables, alignMode="Outer", **policy).frame
    assert frame.loc["2020-11-03", "Variable-1"] == v1_nov3
    assert frame.loc["2020-11-05", "Variable-2"] == v2_nov5
    assert not frame.isna().any().any()
    # observed values are never changed by filling
    assert frame["Variable-1"].iloc[[0, 1, 3, 4]].tolist() == [1, 2, 4, 5]


@pytest.mark.parametrize("method, expected", [
    ("Previous", [1, 2, 2, 3, 3, 4]),
    ("Subsequent", [1, 2, 3, 3, 4, 4]),
    ("Linear", [1, 2, 2.5, 3, 3.5, 4]),
])
def test_fill_examples_from_the_fill_na_method_table(tmp_path, method, expected):
    stamps = pd.date_range("2021-01-01", periods=6, freq="min", tz="UTC")
    frame = pd.DataFrame({"a": [1, 2, np.nan, 3, np.nan, 4], "b": range(6)}, index=stamps)
    prepared = data.from_frame(frame, align_policy={"fillNAMethod": method})
    assert prepared.frame["a"].tolist() == expected


def test_linear_fill_weights_by_time_on_irregular_timestamps():
    stamps = pd.to_datetime(["2021-01-01T00:00Z", "2021-01-01T00:01Z", "2021-01-01T00:04Z"])
    frame = pd.DataFrame({"a": [0.0, np.nan, 4.0]}, index=stamps)
    with pytest.warns(data.DataWarning, match="missing at 1 timestamp in 1 gap"):  # its only variable
        assert data.from_frame(frame).frame["a"].tolist() == [0.0, 1.0, 4.0]


def test_previous_fill_takes_first_value_for_a_leading_gap():
    stamps = pd.date_range("2021-01-01", periods=4, freq="h", tz="UTC")
    frame = pd.DataFrame({"a": [np.nan, np.nan, 5.0, 6.0]}, index=stamps)
    with pytest.warns(data.DataWarning, match="missing at 2 timestamps"):
        assert data.from_frame(frame, align_policy={"fillNAMethod": "Previous"}).frame["a"].tolist() == [5, 5, 5, 6]


def test_variable_states_figures_and_order(tmp_path):
    folder = _write_multitable(tmp_path / "states", {
        "full": [(f"2021-01-01T00:0{i}:00Z", i) for i in range(10)],
        "half": [(f"2021-01-01T00:0{i}:00Z", i) for i in range(0, 10, 2)],
        "most": [(f"2021-01-01T00:0{i}:00Z", i) for i in range(1, 10)],
    })
    states = _load(folder).variable_states
    assert [s.variable for s in states] == ["half", "most", "full"]  # filledNARatio descending
    half, most, full = states
    assert half.filled_na_ratio == pytest.approx(0.5) and half.effective_count == 5
    assert most.filled_na_ratio == pytest.approx(0.1) and most.effective_count == 9
    assert full.filled_na_ratio == 0.0 and full.effective_count == 10
    assert half.to_json()["firstTimestamp"] == "2021-01-01T00:00:00Z"
    assert half.to_json()["lastTimestamp"] == "2021-01-01T00:08:00Z"
    assert most.to_json()["firstTimestamp"] == "2021-01-01T00:01:00Z"
    assert set(half.to_json()) == {"variable", "filledNARatio", "effectiveCount", "firstTimestamp",
                                   "lastTimestamp", "errors"}


def test_variable_states_describe_the_clipped_range(tmp_path):
    folder = _write_multitable(tmp_path / "clip", {
        "a": [(f"2021-01-01T00:0{i}:00Z", i) for i in range(10)],
        "b": [(f"2021-01-01T00:0{i}:00Z", i) for i in range(5)],
    })
    prepared = data.load(str(folder), "MultiTable", start_time="2021-01-01T00:05:00Z")
    b = next(s for s in prepared.variable_states if s.variable == "b")
    assert len(prepared.frame) == 5
    assert b.effective_count == 0 and b.filled_na_ratio == 1.0
    assert b.first_timestamp is None


def test_start_and_end_are_clipped_to_the_data():
    path = "data/samples/sample_data_5_3000.csv"
    prepared = data.load(path, "OneTable", start_time="2020-01-01T00:00:00Z", end_time="2030-01-01T00:00:00Z")
    assert len(prepared.frame) == 3000
    one = data.load(path, "OneTable", start_time="2021-01-01T01:00:00Z", end_time="2021-01-01T01:00:00Z")
    assert len(one.frame) == 1  # endTime == startTime: a single timestamp


def test_end_before_start_is_an_error():
    with pytest.raises(ValidationError) as err:
        data.load("data/samples/sample_data_5_3000.csv", start_time="2021-01-02T00:00:00Z",
                  end_time="2021-01-01T00:00:00Z")
    assert err.value.code == ErrorCode.INVALID_TIMESTAMP_RANGE


@pytest.mark.parametrize("policy, code", [
    ({"alignMode": "Sideways"}, ErrorCode.INVALID_ALIGN_MODE),
    ({"fillNAMethod": "Spline"}, ErrorCode.INVALID_FILL_NA_METHOD),
    ({"fillNAMethod": "Fixed"}, ErrorCode.INVALID_PADDING_VALUE),
    ({"fillNAMethod": "Fixed", "paddingValue": "zero"}, ErrorCode.INVALID_PADDING_VALUE),
])
def test_bad_align_policy(policy, code):
    with pytest.raises(ValidationError) as err:
        AlignPolicy.from_json(policy)
    assert err.value.code == code


def test_onetable_and_multitable_give_the_same_frame():
    one = data.load("data/samples/sample_data_5_3000.csv", "OneTable").frame
    multi = data.load("data/samples/multivariate_sample_data_5_3000.zip", "MultiTable").frame
    assert list(one.columns) == list(multi.columns)
    assert one.index.equals(multi.index)
    # the OneTable file is rounded to 9 decimals (see data/samples/README.md), the zip is not
    np.testing.assert_allclose(one.to_numpy(), multi.to_numpy(), rtol=0, atol=1e-7)


# ---------------------------------------------------------------- gaps where every variable is missing


def _holed(minutes: int = 600, hole=(120, 240)) -> pd.DataFrame:
    """Two variables, one row a minute, with the rows of ``hole`` missing in every column."""
    stamps = pd.date_range("2021-01-01", periods=minutes, freq="min", tz="UTC")
    frame = pd.DataFrame({"a": np.arange(minutes, dtype=float), "b": np.ones(minutes)}, index=stamps)
    return frame.drop(index=stamps[slice(*hole)])


def test_a_gap_in_every_column_is_filled_on_the_grid_warned_and_counted(tmp_path):
    """Once: 480 rows, filledNARatio 0, no warning, the index jumping 01:59 -> 04:00."""
    path = tmp_path / "holed.csv"
    _holed().rename_axis("timestamp").to_csv(path, date_format="%Y-%m-%dT%H:%M:%SZ")
    with pytest.warns(data.DataWarning) as caught:
        prepared = data.load(str(path), align_policy={"fillNAMethod": "Previous"})
    [message] = [str(w.message) for w in caught]
    assert message == ("every variable is missing at 120 timestamps in 1 gap: 2 h from 2021-01-01T02:00:00Z to "
                       "2021-01-01T03:59:00Z (filled by fillNAMethod Previous, counted in filledNARatio)")
    assert prepared.warnings == [message]
    assert len(prepared.frame) == 600 and prepared.frame.index.to_series().diff().max() == pd.Timedelta("1min")
    assert (prepared.frame["a"].iloc[120:240] == 119.0).all()  # Previous: the value before the gap
    assert [s.filled_na_ratio for s in prepared.variable_states] == [pytest.approx(0.2)] * 2
    assert [s.effective_count for s in prepared.variable_states] == [480, 480]
    [gap] = prepared.gaps.itertuples()
    assert (gap.start, gap.end, gap.timestamps, gap.duration, gap.filled) == (
        pd.Timestamp("2021-01-01T02:00Z"), pd.Timestamp("2021-01-01T03:59Z"), 120, pd.Timedelta("2h"), True)
    with pytest.warns(data.DataWarning, match="120 timestamps in 1 gap"):  # a DataFrame alike
        assert data.from_frame(_holed()).frame.index.equals(prepared.frame.index)
    clipped = data.load(str(path), start_time="2021-01-01T05:00:00Z")  # no gap in the range: no warning
    assert clipped.gaps.empty and clipped.warnings == []


@pytest.mark.parametrize("frame, policy, reason", [
    (_holed(), {"alignMode": "Inner"}, "alignMode Inner keeps only the timestamps every variable has"),
    (_holed().set_axis(_holed().index.insert(300, pd.Timestamp("2021-01-01T06:30:30Z"))[:-1].sort_values()),
     None, "the timestamps are not all on one 1 min grid"),
    (pd.DataFrame({"a": np.arange(6.0)}, index=pd.DatetimeIndex(
        [*pd.date_range("2021-01-01", periods=5, freq="s", tz="UTC"), pd.Timestamp("2021-03-01", tz="UTC")])),
     None, "they would make 5,097,601 timestamps, over the 1,000,000 limit"),
])
def test_a_gap_that_cannot_be_filled_is_still_named(frame, policy, reason):
    with pytest.warns(data.DataWarning, match="the timestamps skip") as caught:
        prepared = data.from_frame(frame, align_policy=policy)
    assert reason in str(caught[0].message)
    assert len(prepared.frame) == len(frame) and not prepared.gaps["filled"].any()


def test_regular_data_has_no_gap_and_no_warning(recwarn):
    prepared = data.load("data/samples/sample_data_5_3000.csv")
    assert prepared.gaps.empty and prepared.warnings == [] and not recwarn.list
