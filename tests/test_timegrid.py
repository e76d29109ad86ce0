"""Irregular univariate timestamps: the dominant step, off-grid points, and the opt-in timestamp policy."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.contracts import TimestampPolicy, UnivariateDetectionOptions
from workbench.exceptions import ErrorCode, ValidationError
from workbench.timegrid import infer_granularity, off_grid, snap
from workbench.univariate import (
    detect_change_points,
    detect_entire,
    detect_entire_series,
)


def _daily(n: int = 2016, step: str = "5min", noise: float = 0.01, seed: int = 0) -> pd.Series:
    index = pd.date_range("2024-03-01", periods=n, freq=step, tz="UTC")
    phase = 2 * np.pi * (index - index[0]).total_seconds().to_numpy() / 86_400
    rng = np.random.default_rng(seed)
    return pd.Series(10 + np.sin(phase) + noise * rng.standard_normal(n), index=index)


def _body(series: pd.Series, **fields) -> dict:
    return {"series": [{"timestamp": t.isoformat(), "value": float(v)} for t, v in series.items()], **fields}


def test_one_off_grid_point_keeps_the_dominant_step():
    s = _daily()
    stamps = s.index.delete(100).insert(100, s.index[100] + pd.Timedelta(minutes=1))  # 08:21 on a 5-minute grid
    assert infer_granularity(stamps) == ("minutely", 5)  # the gcd would say minutely/1
    assert off_grid(stamps, "minutely", 5).tolist() == [100]
    assert snap(stamps, "minutely", 5)[100] == s.index[100]
    gappy = s.index.delete(np.arange(10, 400, 3))  # many gaps: still 5 minutes
    assert infer_granularity(gappy) == ("minutely", 5)


def test_an_off_grid_point_is_an_error_naming_the_timestamp_and_the_fix_unless_snapped():
    s = _daily()
    moved = s.copy()
    moved.index = s.index.delete(100).insert(100, s.index[100] + pd.Timedelta(minutes=1))
    body = _body(moved, granularity="minutely", customInterval=5)
    with pytest.raises(ValidationError) as err:
        detect_entire_series(body)
    assert err.value.code == ErrorCode.INVALID_SERIES and err.value.row == 100
    assert "2024-03-01T08:21:00Z" in err.value.message and "timestampPolicy.snap" in err.value.message
    with pytest.raises(ValidationError, match="timestamp_policy='lenient'"):
        detect_entire(moved)  # the pandas API infers minutely/5 and names the fix
    out = detect_entire_series({**body, "timestampPolicy": {"snap": True}})
    assert len(out["isAnomaly"]) == len(s) and not any(out["isAnomaly"])
    frame = detect_entire(moved, timestamp_policy="lenient")
    assert frame.index.equals(s.index) and not frame.is_anomaly.any()


def _dst_local(days: int = 14) -> pd.Series:
    """Hourly readings logged in naive Europe/Berlin local time across the October clock change:
    02:00-02:59 occurs twice on 2024-10-27 (a repeated timestamp), values follow UTC."""
    utc = pd.date_range("2024-10-20", periods=24 * days, freq="h", tz="UTC")
    local = utc.tz_convert("Europe/Berlin").tz_localize(None)
    phase = 2 * np.pi * utc.hour.to_numpy() / 24
    return pd.Series(5 + np.sin(phase) + 0.01 * np.random.default_rng(1).standard_normal(len(utc)), index=local)


def test_the_repeated_daylight_saving_hour_is_an_error_or_merged_by_the_duplicates_rule():
    s = _dst_local()
    assert s.index.has_duplicates and infer_granularity(s.index) == ("hourly", 1)
    with pytest.raises(ValidationError) as err:
        detect_entire(s)
    assert "duplicated timestamp (2024-10-27T02:00:00Z" in err.value.message
    assert "timestampPolicy.duplicates" in err.value.message and "daylight-saving" in err.value.message
    for rule, expected in (("first", s.iloc[:200][s.index[:200].duplicated(keep="last")]),
                           ("last", s.iloc[:200][s.index[:200].duplicated(keep="first")])):
        frame = detect_entire(s, timestamp_policy={"duplicates": rule})
        assert frame.index.is_unique and len(frame) == len(s) - 1
        assert frame.loc[expected.index[0], "value"] == expected.iloc[0]
    mean = detect_entire(s, timestamp_policy={"duplicates": "mean"})
    twice = s[s.index.duplicated(keep=False)]
    assert mean.loc[twice.index[0], "value"] == pytest.approx(twice.mean())
    assert not mean.is_anomaly.any()


def test_sorting_is_asked_for_and_the_json_answer_keeps_one_entry_per_input_point():
    s = _daily(600)
    shuffled = s.iloc[np.random.default_rng(2).permutation(len(s))]
    with pytest.raises(ValidationError, match="timestampPolicy.sort"):
        detect_entire_series(_body(shuffled, granularity="minutely", customInterval=5))
    body = _body(shuffled, granularity="minutely", customInterval=5, timestampPolicy={"sort": True})
    out = detect_entire_series(body)
    in_order = detect_entire_series(_body(s, granularity="minutely", customInterval=5))
    position = np.argsort(shuffled.index.asi8)
    assert np.allclose(np.asarray(out["expectedValues"])[position], in_order["expectedValues"])
    assert detect_change_points(shuffled, timestamp_policy="lenient").index.equals(s.index)


def test_the_json_contract_stays_strict_by_default_and_checks_the_policy():
    s = _daily(100)
    body = _body(s.iloc[[0, 0, *range(1, 100)]], granularity="minutely", customInterval=5)
    with pytest.raises(ValidationError, match="duplicated timestamp"):
        UnivariateDetectionOptions.from_json(body)
    options = UnivariateDetectionOptions.from_json({**body, "timestampPolicy": {"duplicates": "last"}})
    assert len(options.values) == 100 and options.source_rows.tolist() == [0, 0, *range(1, 100)]
    assert options.to_json()["timestampPolicy"] == {"snap": False, "duplicates": "last", "sort": False}
    for bad in ({"snap": "yes"}, {"duplicates": "median"}, [1]):
        with pytest.raises(ValidationError):
            UnivariateDetectionOptions.from_json({**body, "timestampPolicy": bad})
    assert TimestampPolicy.of("lenient") == TimestampPolicy.from_json({"snap": True, "duplicates": "mean",
                                                                       "sort": True})


def test_a_missing_ratio_error_names_the_granularity_mismatch():
    s = _daily(200, step="5min")
    with pytest.raises(ValidationError) as err:
        detect_entire_series(_body(s, granularity="minutely", customInterval=1))
    assert "most common step is 5 minutes" in err.value.message
