"""The classic detectors (seed 003): documented columns, each detector, seasonality, preprocessing."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.exceptions import ErrorCode, ValidationError
from workbench.univariate import score, score_with_seasonality
from workbench.univariate.classic import SCORE_COLUMNS, SEASONAL_COLUMNS

N = 24 * 7 * 4


def _frame(seed: int = 0, amplitude: float = 3.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(N)
    data = 10 + amplitude * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.3, N)
    return pd.DataFrame({"Time": pd.date_range("2024-01-01", periods=N, freq="h"), "Data": data})


def _flagged(out: pd.DataFrame, column: str) -> set[int]:
    return set(np.flatnonzero(out[column].to_numpy()).tolist())


def test_documented_columns():
    df = _frame()
    assert list(score_with_seasonality(df).columns) == SEASONAL_COLUMNS
    assert list(score(df).columns) == SCORE_COLUMNS
    assert SEASONAL_COLUMNS[3:] == ["TSpike", "ZSpike", "BiLevelChangeScore", "BiLevelChangeAlert", "PosTrendScore",
                                    "PosTrendAlert", "NegTrendScore", "NegTrendAlert"]


def test_spikes_and_dips_with_direction_filter():
    df = _frame(1)
    df.loc[400, "Data"] += 5
    df.loc[500, "Data"] -= 5
    both = score_with_seasonality(df, history_window=200)
    assert {400, 500} <= _flagged(both, "TSpike") and {400, 500} <= _flagged(both, "ZSpike")
    spikes = score_with_seasonality(df, history_window=200, spikes_dips="Spikes")
    assert 400 in _flagged(spikes, "TSpike") and 500 not in _flagged(spikes, "TSpike")
    dips = score_with_seasonality(df, history_window=200, spikes_dips="dips")
    assert 500 in _flagged(dips, "ZSpike") and 400 not in _flagged(dips, "ZSpike")


def test_sensitivity_makes_spike_detectors_stricter():
    df = _frame(2)
    counts = [score_with_seasonality(df, tspike_sensitivity=k, zspike_sensitivity=k)[["TSpike", "ZSpike"]].sum().sum()
              for k in (1, 3, 10)]
    assert counts[0] > counts[1] >= counts[2]


def test_dip_visible_only_after_deseasonalising():
    df = _frame(3)
    peak = 24 * 15 + 6
    df.loc[peak, "Data"] = 10.0  # the series mean, at a seasonal peak
    assert peak in _flagged(score_with_seasonality(df, history_window=200), "ZSpike")
    assert peak not in _flagged(score_with_seasonality(df, history_window=200, transform="none"), "ZSpike")
    assert peak not in _flagged(score_with_seasonality(df, history_window=200, seasonality_enable=False), "ZSpike")


def test_level_change_alert():
    df = _frame(4)
    df.loc[450:, "Data"] += 3
    out = score_with_seasonality(df, history_window=200)
    alerts = _flagged(out, "BiLevelChangeAlert")
    assert alerts & set(range(450, 480)) and not alerts & set(range(250, 450))
    assert out["BiLevelChangeScore"].iloc[470] > 3.25 > out["BiLevelChangeScore"].iloc[300]
    down = _frame(4)
    down.loc[450:, "Data"] -= 3
    assert _flagged(score_with_seasonality(down, history_window=200), "BiLevelChangeAlert") & set(range(450, 480))


def test_trend_alerts_by_direction():
    up = _frame(5)
    up.loc[400:, "Data"] += np.arange(N - 400) * 0.02
    out = score_with_seasonality(up, history_window=200)
    assert out["PosTrendAlert"].iloc[-50:].all() and not out["NegTrendAlert"].any()
    assert not out["PosTrendAlert"].iloc[200:400].any()
    assert np.allclose(out["NegTrendScore"], -out["PosTrendScore"])
    down = _frame(5)
    down.loc[400:, "Data"] -= np.arange(N - 400) * 0.02
    out = score_with_seasonality(down, history_window=200)
    assert out["NegTrendAlert"].iloc[-50:].all() and not out["PosTrendAlert"].iloc[200:].any()


def test_deseasontrend_removes_the_trend_from_processed_data():
    df = _frame(6)
    df["Data"] += np.arange(N) * 0.05
    processed = score_with_seasonality(df, transform="deseasontrend")["ProcessedData"].to_numpy()
    assert abs(np.polyfit(np.arange(N), processed, 1)[0]) < 0.005
    assert np.std(processed) < 0.5


def test_two_seasonalities():
    df = _frame(7)
    weekend = (np.arange(N) // 24) % 7 >= 5
    df["Data"] += 2.0 * weekend
    one = score_with_seasonality(df, num_seasonality=1)["ProcessedData"].std()
    two = score_with_seasonality(df, num_seasonality=2)["ProcessedData"].std()
    assert two <= one and two < 0.5


def test_aggregation_missing_values_and_tail_rows():
    df = _frame(8).drop(index=range(100, 110))
    hourly = score_with_seasonality(df, replace_missing="zero", seasonality_enable=False)
    assert len(hourly) == N and hourly["OriginalData"].iloc[100:110].eq(0).all()
    lkv = score_with_seasonality(df, seasonality_enable=False)
    assert lkv["OriginalData"].iloc[100:110].eq(df.loc[99, "Data"]).all()
    mean = score_with_seasonality(df, replace_missing="mean", seasonality_enable=False)
    assert np.allclose(mean["OriginalData"].iloc[100:110], df["Data"].mean())
    counts = score_with_seasonality(df, aggregation_interval=6 * 3600, aggregation_func="length",
                                    seasonality_enable=False)
    # hours 100-109 are missing: bucket 16 (hours 96-101) holds 4 points, bucket 17 none (imputed: lkv)
    assert len(counts) == N // 6 and counts["OriginalData"].max() == 6
    assert counts["OriginalData"].iloc[16] == 4 and counts["OriginalData"].iloc[17] == 4
    sums = score_with_seasonality(_frame(8), aggregation_interval=2 * 3600, aggregation_func="sum",
                                  seasonality_enable=False)
    assert np.isclose(sums["OriginalData"].iloc[0], _frame(8)["Data"].iloc[:2].sum())
    tail = score_with_seasonality(df, tail_rows=24)
    assert len(tail) == 24 and tail["Time"].iloc[-1] == df["Time"].iloc[-1].tz_localize("UTC")


def test_score_api_on_a_series():
    s = _frame(9, amplitude=0.0).set_index("Time")["Data"]
    s.iloc[300] += 4
    out = score(s, history_window=100)
    assert 300 in _flagged(out, "TSpike") and 300 in _flagged(out, "ZSpike")
    assert out["rpalert"].sum() == 0 and out["talert"].sum() == 0


@pytest.mark.parametrize("kwargs", [
    {"history_window": 5}, {"history_window": 5000}, {"tspike_sensitivity": 0}, {"zspike_sensitivity": 11},
    {"spikes_dips": "Up"}, {"num_seasonality": 3}, {"transform": "log"}, {"aggregation_func": "max"},
    {"replace_missing": "spline"}, {"bilevel_sensitivity": -1}, {"tail_rows": -1}, {"seasonality_enable": "yes"},
])
def test_bad_arguments(kwargs):
    with pytest.raises(ValidationError) as err:
        score_with_seasonality(_frame(), **kwargs)
    assert err.value.code == ErrorCode.BAD_ARGUMENT


def test_too_short_and_unreadable_data():
    with pytest.raises(ValidationError):
        score(_frame().iloc[:5])
    bad = _frame()
    bad["Data"] = "x"
    with pytest.raises(ValidationError):
        score(bad)
