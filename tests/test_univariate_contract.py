"""v1.1 univariate request checks: every field and every error code, in the service's terms."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.contracts import (
    ImputeMode,
    TimeGranularity,
    UnivariateChangePointDetectionOptions,
    UnivariateDetectionOptions,
)
from workbench.exceptions import ErrorCode, ValidationError
from workbench.univariate import detect_change_point, detect_entire_series, detect_last_point

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "azure_mvad_sample" / "univariate"


def _request(n: int = 30, **fields) -> dict:
    stamps = pd.date_range("2024-01-01", periods=n, freq="D")
    series = [{"timestamp": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "value": float(10 + (i % 7))}
              for i, t in enumerate(stamps)]
    return {"granularity": "daily", "series": series, **fields}


def _code(fn, body) -> str:
    with pytest.raises(ValidationError) as err:
        fn(body)
    return err.value.code


@pytest.mark.parametrize("fields, code", [
    ({"granularity": "fortnightly"}, ErrorCode.INVALID_GRANULARITY),
    ({"customInterval": 0}, ErrorCode.INVALID_CUSTOM_INTERVAL),
    ({"customInterval": 1.5}, ErrorCode.INVALID_CUSTOM_INTERVAL),
    ({"period": -1}, ErrorCode.INVALID_PERIOD),
    ({"period": "7"}, ErrorCode.INVALID_PERIOD),
    ({"period": 15}, ErrorCode.INVALID_MODEL_ARGUMENT),  # 30 points < 2 * 15 + 1
    ({"maxAnomalyRatio": 0.6}, ErrorCode.INVALID_MODEL_ARGUMENT),
    ({"maxAnomalyRatio": 0}, ErrorCode.INVALID_MODEL_ARGUMENT),
    ({"sensitivity": 100}, ErrorCode.INVALID_MODEL_ARGUMENT),
    ({"sensitivity": 9.5}, ErrorCode.INVALID_MODEL_ARGUMENT),
    ({"imputeMode": "spline"}, ErrorCode.INVALID_IMPUTE_MODE),
    ({"imputeMode": "fixed"}, ErrorCode.INVALID_IMPUTE_FIXED_VALUE),
    ({"imputeMode": "fixed", "imputeFixedValue": "0"}, ErrorCode.INVALID_IMPUTE_FIXED_VALUE),
])
def test_parameter_errors(fields, code):
    assert _code(detect_entire_series, _request(**fields)) == code
    assert _code(detect_last_point, _request(**fields)) == code


def test_series_errors():
    assert _code(detect_entire_series, {"granularity": "daily"}) == ErrorCode.REQUIRED_SERIES
    assert _code(detect_entire_series, {"series": "1,2,3"}) == ErrorCode.BAD_ARGUMENT
    assert _code(detect_entire_series, _request(n=11)) == ErrorCode.INVALID_SERIES  # too few points
    body = _request()
    body["series"][3]["value"] = None
    assert _code(detect_entire_series, body) == ErrorCode.BAD_ARGUMENT
    body = _request()
    body["series"][3]["value"] = "12"
    assert _code(detect_entire_series, body) == ErrorCode.BAD_ARGUMENT
    body = _request()
    body["series"][3]["value"] = 1e101
    assert _code(detect_entire_series, body) == ErrorCode.INVALID_SERIES
    body = _request()
    del body["series"][5]["timestamp"]
    assert _code(detect_entire_series, body) == ErrorCode.BAD_ARGUMENT


def test_timestamp_order_duplicates_and_granularity():
    body = _request()
    body["series"][4], body["series"][5] = body["series"][5], body["series"][4]
    with pytest.raises(ValidationError, match="ascending") as err:
        detect_entire_series(body)
    assert err.value.code == ErrorCode.INVALID_SERIES and err.value.row == 5
    body = _request()
    body["series"][5]["timestamp"] = body["series"][4]["timestamp"]
    with pytest.raises(ValidationError, match="duplicated"):
        detect_entire_series(body)
    # hourly stamps sent as daily: off the grid
    body = _request()
    body["series"][6]["timestamp"] = "2024-01-07T05:00:00Z"
    with pytest.raises(ValidationError, match="index 6") as err:
        detect_entire_series(body)
    assert err.value.code == ErrorCode.INVALID_SERIES
    # the same stamps are fine with granularity none (timestamps ignored there)
    body["granularity"] = "none"
    assert len(detect_entire_series(body)["isAnomaly"]) == 30


def test_granularity_custom_interval_monthly_and_none():
    stamps = pd.date_range("2024-01-01", periods=40, freq="5min")
    series = [{"timestamp": t.isoformat(), "value": float(i % 4)} for i, t in enumerate(stamps)]
    options = UnivariateDetectionOptions.from_json({"granularity": "minutely", "customInterval": 5, "series": series})
    assert options.positions == list(range(40))
    with pytest.raises(ValidationError):
        UnivariateDetectionOptions.from_json({"granularity": "minutely", "customInterval": 10, "series": series})
    months = [{"timestamp": f"{2020 + i // 12}-{i % 12 + 1:02d}-01T00:00:00Z", "value": float(i)} for i in range(24)]
    monthly = UnivariateDetectionOptions.from_json({"granularity": "monthly", "series": months})
    assert monthly.positions == list(range(24))
    plain = {"series": [{"value": float(i % 3)} for i in range(20)]}  # granularity defaults to none
    options = UnivariateDetectionOptions.from_json(plain)
    assert options.granularity is TimeGranularity.NONE and options.positions is None


def test_defaults_and_round_trip():
    options = UnivariateDetectionOptions.from_json(_request())
    assert (options.sensitivity, options.max_anomaly_ratio, options.impute_mode, options.period) == (
        99, 0.25, ImputeMode.AUTO, None)
    body = options.to_json()
    assert body["series"][0] == {"timestamp": "2024-01-01T00:00:00Z", "value": 10.0}
    again = UnivariateDetectionOptions.from_json(body)
    assert again.values.tolist() == options.values.tolist() and again.positions == options.positions


def test_missing_ratio_over_half_is_rejected():
    body = _request(n=30)
    body["series"] = body["series"][:12] + [{"timestamp": "2024-03-30T00:00:00Z", "value": 1.0}]
    assert _code(detect_entire_series, body) == ErrorCode.INVALID_SERIES
    body["imputeMode"] = "notFill"  # nothing is laid on the grid then
    assert len(detect_entire_series(body)["isAnomaly"]) == 13


def test_change_point_errors():
    body = json.loads((SAMPLES / "change-point-sample.json").read_text())
    for fields, code in [
        ({"granularity": None}, ErrorCode.REQUIRED_GRANULARITY),
        ({"threshold": 1.5}, ErrorCode.INVALID_MODEL_ARGUMENT),
        ({"stableTrendWindow": 2}, ErrorCode.INVALID_MODEL_ARGUMENT),
        ({"stableTrendWindow": 30}, ErrorCode.INVALID_MODEL_ARGUMENT),  # not < 60 / 2
        ({"period": -2}, ErrorCode.INVALID_PERIOD),
    ]:
        assert _code(detect_change_point, {**copy.deepcopy(body), **fields}) == code
    options = UnivariateChangePointDetectionOptions.from_json(body)
    assert (options.stable_trend_window, options.threshold) == (5, 0.9)
    bare = {k: v for k, v in body.items() if k not in ("stableTrendWindow", "threshold")}
    defaults = UnivariateChangePointDetectionOptions.from_json(bare)
    assert defaults.stable_trend_window == 5  # the daily default


def test_pandas_series_validation():
    index = pd.date_range("2024-01-01", periods=20, freq="h")
    s = pd.Series(np.arange(20.0), index=index)
    assert UnivariateDetectionOptions.from_series(s, {"granularity": "hourly"}).positions == list(range(20))
    with pytest.raises(ValidationError) as err:
        UnivariateDetectionOptions.from_series(s.iloc[::-1], {"granularity": "hourly"})
    assert err.value.code == ErrorCode.INVALID_SERIES
    gappy = s.copy()
    gappy.iloc[[3, 4]] = np.nan  # NaN = missing point, imputed on the grid
    options = UnivariateDetectionOptions.from_series(gappy, {"granularity": "hourly"})
    assert options.positions[:4] == [0, 1, 2, 5]
