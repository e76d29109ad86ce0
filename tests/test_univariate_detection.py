"""Entire, last-point and change-point detection: the service's sample answers, injected
anomalies in seasonal synthetic series, and each request field's effect."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.contracts import ImputeMode
from workbench.exceptions import ErrorCode, ValidationError
from workbench.univariate import (
    detect_change_point,
    detect_change_points,
    detect_entire,
    detect_entire_series,
    detect_last,
    detect_last_point,
    detect_period,
    infer_granularity,
)
from workbench.univariate.detection import _fill

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "azure_mvad_sample" / "univariate"
N = 24 * 7 * 6  # six weeks of hourly points


def _seasonal(seed: int = 0, n: int = N) -> pd.Series:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 10 + 3 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.3, n)
    return pd.Series(values, index=pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"))


def _body(series: pd.Series, **fields) -> dict:
    points = [{"timestamp": t, "value": v} for t, v in
              zip(series.index.strftime("%Y-%m-%dT%H:%M:%SZ"), series.to_numpy().tolist())]
    return {"granularity": "hourly", "series": points, **fields}


# ---------------------------------------------------------------- the service's own answers


def test_agrees_with_service_batch_response():
    request = json.loads((SAMPLES / "request-data.json").read_text())
    service = json.loads((SAMPLES / "batch-response.json").read_text())
    ours = detect_entire_series(request)
    assert ours["period"] == service["period"] == 7
    ours_flags, service_flags = np.array(ours["isAnomaly"]), np.array(service["isAnomaly"])
    # the service flagged 14 of these 47 points; we flag 12 of them (measured; 43 of 47 while the noise
    # floor from one-period differences still counted the differences that the anomalies sit in)
    assert (ours_flags == service_flags).sum() >= 45
    assert not (ours_flags & ~service_flags).any()  # every point we flag, the service flagged too
    expected = np.array(ours["expectedValues"])
    assert np.median(np.abs(expected / np.array(service["expectedValues"]) - 1)) < 0.005


def test_agrees_with_service_last_point():
    request = json.loads((SAMPLES / "request-data.json").read_text())
    service = json.loads((SAMPLES / "latest-point-response.json").read_text())
    ours = detect_last_point(request)
    for key in ("isAnomaly", "isNegativeAnomaly", "isPositiveAnomaly", "period", "suggestedWindow"):
        assert ours[key] == service[key], key
    assert abs(ours["expectedValue"] / service["expectedValue"] - 1) < 0.02


def test_periods_of_the_samples():
    def values(name):
        return np.array([p["value"] for p in json.loads((SAMPLES / name).read_text())["series"]], dtype=float)

    assert detect_period(values("change-point-sample-seasonality.json"), "daily") == 7
    assert detect_period(values("change-point-sample-seasonality.json")) == 7  # found without a granularity hint
    assert detect_period(values("change-point-sample.json"), "daily") == 0  # a smooth trend, no cycle


# ---------------------------------------------------------------- response shape and consistency


def test_entire_response_shape_and_boundaries():
    s = _seasonal()
    s.iloc[[100, 400]] += [4.0, -4.0]
    out = detect_entire_series(_body(s))
    assert set(out) == {"period", "expectedValues", "upperMargins", "lowerMargins", "isAnomaly",
                        "isNegativeAnomaly", "isPositiveAnomaly", "severity"}
    assert all(len(out[k]) == N for k in out if k != "period")
    json.dumps(out)  # plain JSON types
    v, e = s.to_numpy(), np.array(out["expectedValues"])
    outside = (v > e + np.array(out["upperMargins"])) | (v < e - np.array(out["lowerMargins"]))
    flags = np.array(out["isAnomaly"])
    assert (outside == flags).all()
    assert (np.array(out["isPositiveAnomaly"]) == (flags & (v > e))).all()
    assert (np.array(out["isNegativeAnomaly"]) == (flags & (v < e))).all()
    severity = np.array(out["severity"])
    assert (severity[~flags] == 0).all() and ((severity[flags] > 0) & (severity[flags] <= 1)).all()


# ---------------------------------------------------------------- injected anomalies


def test_detects_spikes_dips_and_level_shift_in_seasonal_series():
    s = _seasonal(1)
    s.iloc[300] += 4
    s.iloc[600] -= 4
    s.iloc[800:850] += 2.5
    frame = detect_entire(s)
    assert frame.attrs["period"] == 24
    flagged = set(np.flatnonzero(frame["is_anomaly"].to_numpy()))
    assert frame["is_positive_anomaly"].iloc[300] and frame["is_negative_anomaly"].iloc[600]
    assert len(flagged & set(range(800, 850))) >= 45
    assert flagged - {300, 600} - set(range(795, 855)) == set()


def test_detects_a_dip_hidden_in_the_seasonal_swing():
    """At a seasonal peak, a drop to the series mean is anomalous though the value itself is ordinary."""
    s = _seasonal(2)
    peak = 24 * 20 + 6  # sin(2 pi t / 24) = 1
    s.iloc[peak] = 10.0
    frame = detect_entire(s)
    assert frame["is_negative_anomaly"].iloc[peak]


def test_detects_a_trend_burst():
    s = _seasonal(3)
    s.iloc[500:560] += np.linspace(0, 4, 60)  # a ramp that ends abruptly
    flagged = np.flatnonzero(detect_entire(s)["is_anomaly"].to_numpy())
    assert len(set(flagged) & set(range(530, 560))) >= 20


def _plain(values: np.ndarray) -> pd.Series:
    return pd.Series(values, index=pd.date_range("2024-01-01", periods=len(values), freq="min", tz="UTC"))


@pytest.mark.parametrize("seed", range(3))
def test_long_level_shift_is_flagged_along_its_length(seed):
    """A 2.5-sigma shift over 30% of the series (longer than the trend window, longer than the
    25% cap): the expected value keeps the level before it, and the flags fill the cap inside
    it rather than marking only its edges."""
    n = 1000
    values = np.random.default_rng(seed).normal(0, 1, n)
    values[400:700] += 2.5
    frame = detect_entire(_plain(values))
    flags, expected = frame["is_anomaly"].to_numpy(), frame["expected_value"].to_numpy()
    assert np.abs(np.median(expected[400:700])) < 0.5  # not following the shift up to 2.5
    assert flags[400:700].sum() >= 180 and flags.sum() <= math.ceil(0.25 * n)
    assert flags[:390].sum() + flags[710:].sum() == 0
    # boundaries agree with the flags for points flagged for their stretch, too
    v, margin = frame["value"].to_numpy(), frame["upper_margin"].to_numpy()
    assert ((np.abs(v - expected) > margin) == flags).all()
    severity = frame["severity"].to_numpy()
    assert ((severity[flags] > 0) & (severity[flags] < 1)).all() and (severity[~flags] == 0).all()


def test_long_level_shift_respects_a_smaller_cap():
    values = np.random.default_rng(7).normal(0, 1, 1000)
    values[400:700] += 2.5
    out = detect_entire_series({"series": [{"value": v} for v in values.tolist()], "maxAnomalyRatio": 0.1})
    flags = np.array(out["isAnomaly"])
    assert 50 <= flags.sum() <= 100 and flags[400:700].sum() == flags.sum()


def test_sustained_small_drift_is_found_though_no_point_stands_out():
    """A 1.5-sigma bump over 60 points: no single point passes the point threshold, the stretch does."""
    values = np.random.default_rng(3).normal(0, 1, 2000)
    values[1000:1060] += 1.5
    flags = detect_entire(_plain(values))["is_anomaly"].to_numpy()
    assert flags[1000:1060].sum() >= 30 and flags.sum() - flags[1000:1060].sum() <= 2


def test_bursty_metric_is_judged_by_its_own_tail():
    """A mostly idle metric (a disk's write rate: zero most minutes, bursts of any size) has a median
    absolute deviation that measures only its idle minutes: a Gaussian margin on it flagged the cap's
    25% of the points.  The residuals' own tail (peaks over threshold) sets the margin; the three
    writes a hundred times the usual burst are still found."""
    rng = np.random.default_rng(0)
    n = 4000
    values = np.round(np.where(rng.random(n) < 0.4, rng.lognormal(-6, 1.2, n), 0.0), 5)
    values[[700, 2100, 3300]] = 0.5
    frame = detect_entire(_plain(values))
    assert frame["is_anomaly"].iloc[[700, 2100, 3300]].all()
    assert frame["is_anomaly"].mean() <= 0.01
    assert frame["upper_margin"].median() > 10 * np.quantile(values, 0.75)  # the margin spans ordinary bursts


def test_many_far_spikes_are_anomalies_not_a_heavy_tail():
    """Scores far beyond the Gaussian margin with none in between are a cluster of anomalies: the
    margin stays Gaussian and every spike is flagged (as in the maxAnomalyRatio test, with 5%)."""
    values = np.random.default_rng(8).normal(0, 1, 3000)
    spikes = np.random.default_rng(9).choice(3000, 150, replace=False)
    values[spikes] += 12
    frame = detect_entire(_plain(values))
    assert frame["is_anomaly"].iloc[spikes].all()
    assert frame["upper_margin"].median() < 5  # the Gaussian margin (4.7 sigmas), not raised to the spikes


@pytest.mark.parametrize("seed", range(3))
def test_gridded_values_raise_no_false_alarms(seed):
    """Integer readings that sit mostly on one level: an ordinary step to the next level is no anomaly."""
    values = np.round(np.random.default_rng(seed).normal(0, 0.6, 1500))
    assert detect_entire(_plain(values))["is_anomaly"].sum() <= 2
    values[700] = 6  # far off the grid's usual spread: still found
    assert detect_entire(_plain(values))["is_anomaly"].iloc[700]


@pytest.mark.parametrize("experiment", ["valve1/1", "valve1/5", "other/10"])
def test_a_gauge_reading_in_rounded_steps_raises_no_false_alarms(experiment):
    """SKAB's pressure gauge reads in steps of 0.32793 bar written with 6 decimals, so its values sit
    on their grid only to rounding: each step to the next level is ordinary (25% were flagged)."""
    frame = pd.read_csv(SAMPLES.parents[1] / "skab" / f"{experiment}.csv", sep=";")
    pressure = pd.Series(frame["Pressure"].to_numpy(dtype=float))
    assert detect_entire(pressure)["is_anomaly"].mean() <= 0.01


def test_constant_series_has_no_anomalies():
    assert not detect_entire(_plain(np.full(200, 5.0)))["is_anomaly"].any()


@pytest.mark.parametrize("seed", range(4))
def test_clean_series_have_next_to_no_false_alarms(seed):
    assert detect_entire(_seasonal(10 + seed))["is_anomaly"].sum() <= 1


# ---------------------------------------------------------------- request fields


def test_sensitivity_widens_margins_and_drops_anomalies():
    s = _seasonal(4)
    s.iloc[::97] += np.linspace(1, 5, len(s.iloc[::97]))
    counts, margins = [], []
    for sensitivity in (99, 80, 50, 0):
        out = detect_entire_series(_body(s, sensitivity=sensitivity))
        counts.append(sum(out["isAnomaly"]))
        margins.append(np.median(out["upperMargins"]))
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]
    assert margins == sorted(margins)


def test_max_anomaly_ratio_caps_the_count():
    s = _seasonal(5)
    spikes = np.random.default_rng(5).choice(N, N // 10, replace=False)  # 10% spikes
    s.iloc[spikes] += 5
    for ratio in (0.02, 0.05):
        out = detect_entire_series(_body(s, maxAnomalyRatio=ratio))
        assert 0 < sum(out["isAnomaly"]) <= math.ceil(ratio * N)
    assert sum(detect_entire_series(_body(s, maxAnomalyRatio=0.25))["isAnomaly"]) >= 90


def test_given_period_is_used():
    s = _seasonal(6)
    assert detect_entire_series(_body(s))["period"] == 24
    assert detect_entire_series(_body(s, period=48))["period"] == 48
    assert detect_entire_series(_body(s, period=0))["period"] == 0


def test_custom_interval_and_granularity_none():
    s = _seasonal(7).iloc[:300]
    five = pd.Series(s.to_numpy(), index=pd.date_range("2024-01-01", periods=300, freq="5min"))
    body = _body(five, granularity="minutely", customInterval=5)
    assert detect_entire_series(body)["period"] == 24
    plain = {"series": [{"value": v} for v in s.to_numpy().tolist()]}
    assert detect_entire_series(plain)["period"] == 24


@pytest.mark.parametrize("mode", ["auto", "previous", "linear", "zero", "fixed", "notFill"])
def test_impute_modes_answer_each_given_point(mode):
    s = _seasonal(8).drop(index=_seasonal(8).index[200:210])
    fields = {"imputeMode": mode, **({"imputeFixedValue": 10.0} if mode == "fixed" else {})}
    out = detect_entire_series(_body(s, **fields))
    assert len(out["isAnomaly"]) == len(s)
    if mode != "notFill":  # notFill closes the gap up, shifting the phase of what follows
        assert out["period"] == 24


def test_fill_values():
    values, at = np.array([1.0, 3.0, 7.0]), np.array([0, 2, 4])
    assert _fill(values, at, 5, ImputeMode.LINEAR, None).tolist() == [1, 2, 3, 5, 7]
    assert _fill(values, at, 5, ImputeMode.AUTO, None).tolist() == [1, 2, 3, 5, 7]
    assert _fill(values, at, 5, ImputeMode.PREVIOUS, None).tolist() == [1, 1, 3, 3, 7]
    assert _fill(values, at, 5, ImputeMode.ZERO, None).tolist() == [1, 0, 3, 0, 7]
    assert _fill(values, at, 5, ImputeMode.FIXED, -1.0).tolist() == [1, -1, 3, -1, 7]


# ---------------------------------------------------------------- last point


def test_last_point():
    s = _seasonal(9)
    normal = detect_last_point(_body(s))
    assert not normal["isAnomaly"] and normal["period"] == 24 and normal["suggestedWindow"] == 97
    assert normal["severity"] == 0
    s.iloc[-1] += 3
    spiked = detect_last_point(_body(s))
    assert spiked["isAnomaly"] and spiked["isPositiveAnomaly"] and not spiked["isNegativeAnomaly"]
    assert s.iloc[-1] > spiked["expectedValue"] + spiked["upperMargin"] and 0 < spiked["severity"] <= 1
    row = detect_last(s)
    assert bool(row["is_anomaly"]) and row["suggested_window"] == 97


# ---------------------------------------------------------------- change points


def test_change_point_at_a_level_shift():
    s = _seasonal(11)
    s.iloc[700:] += 3
    frame = detect_change_points(s)
    points = np.flatnonzero(frame["is_change_point"].to_numpy())
    assert points.tolist() == [700]
    confidence = frame["confidence_score"].to_numpy()
    assert ((confidence >= 0) & (confidence <= 1)).all() and confidence[700] > 0.99


def test_change_point_at_a_slope_change():
    s = _seasonal(12)
    s.iloc[600:] += np.arange(N - 600) * 0.1
    frame = detect_change_points(s, stable_trend_window=24)
    points = np.flatnonzero(frame["is_change_point"].to_numpy())
    best = int(np.argmax(frame["confidence_score"].to_numpy() * frame["is_change_point"].to_numpy()))
    assert abs(best - 600) <= 6 and min(abs(points - 600)) <= 6


def test_steady_series_rarely_show_a_change_point():
    """Threshold 0.9 allows about a 10% chance of one false change point per clean series."""
    with_false = [detect_change_points(_seasonal(20 + seed))["is_change_point"].any() for seed in range(6)]
    assert sum(with_false) <= 1


def test_a_lone_spike_is_no_change_point():
    """A change point starts a trend that lasts stableTrendWindow points: a spike, even a huge one, or
    two in a row, is none; the step beside it still is."""
    for width in (1, 2):
        s = _seasonal(15)
        s.iloc[400:400 + width] += 30
        assert not detect_change_points(s)["is_change_point"].any()
        s.iloc[700:] += 3
        assert np.flatnonzero(detect_change_points(s)["is_change_point"].to_numpy()).tolist() == [700]


def test_change_point_samples_and_threshold():
    body = json.loads((SAMPLES / "change-point-sample.json").read_text())
    out = detect_change_point(body)
    assert set(out) == {"period", "isChangePoint", "confidenceScores"} and len(out["isChangePoint"]) == 60
    seasonal = detect_change_point(json.loads((SAMPLES / "change-point-sample-seasonality.json").read_text()))
    assert seasonal["period"] == 7
    loose = detect_change_point({**body, "threshold": 0.01})
    assert sum(loose["isChangePoint"]) >= sum(out["isChangePoint"])


# ---------------------------------------------------------------- pandas API


def test_pandas_frame_and_inferred_granularity():
    s = _seasonal(13)
    frame = detect_entire(s)
    assert list(frame.columns) == ["value", "expected_value", "upper_margin", "lower_margin", "is_anomaly",
                                   "is_negative_anomaly", "is_positive_anomaly", "severity"]
    assert frame.index.equals(s.index)
    assert infer_granularity(s.index) == ("hourly", 1)
    assert infer_granularity(pd.date_range("2024-01-01", periods=5, freq="15min")) == ("minutely", 15)
    assert infer_granularity(pd.date_range("2024-01-01", periods=5, freq="MS")) == ("monthly", 1)
    assert infer_granularity(pd.RangeIndex(5)) == ("none", 1)
    gappy = s.copy()
    gappy.iloc[50:55] = np.nan
    assert len(detect_entire(gappy)) == len(s) - 5


def test_iso_string_index_answers_as_timestamps():
    """A series read with ``index_col`` keeps its ISO-8601 strings: the same period and anomalies as
    with a DatetimeIndex (it was period 287 and 6 anomalies, 5 false), for all three calls."""
    n = 288 * 14
    index = pd.date_range("2024-03-04", periods=n, freq="5min", tz="UTC")
    values = 10 + np.sin(2 * np.pi * np.arange(n) / 288) + 0.02 * np.random.default_rng(3).standard_normal(n)
    values[2000] += 1.0
    dated = pd.Series(values, index=index)
    text = pd.Series(values, index=index.strftime("%Y-%m-%dT%H:%M:%SZ"))
    a, b = detect_entire(dated), detect_entire(text)
    assert a.attrs["period"] == b.attrs["period"] == 288
    assert np.flatnonzero(b["is_anomaly"].to_numpy()).tolist() == np.flatnonzero(a["is_anomaly"].to_numpy()).tolist() == [2000]
    assert b.index.equals(index)
    assert detect_last(text)["suggested_window"] == detect_last(dated)["suggested_window"] == 4 * 288 + 1
    assert detect_change_points(text).attrs["period"] == 288
    naive = pd.Series(values, index=index.strftime("%Y-%m-%d %H:%M:%S"))  # no zone: UTC, as in CSV cells
    assert detect_entire(naive)["is_anomaly"].sum() == 1


def test_non_iso_string_index_is_refused_with_its_row():
    s = pd.Series(np.arange(40.0), index=[f"2024-01-{d:02d}T00:00:00Z" for d in range(1, 31)] + ["01/02/2024"] * 10)
    with pytest.raises(ValidationError) as err:
        detect_entire(s)
    assert err.value.code == ErrorCode.INVALID_TIMESTAMP and err.value.row == 30
    assert "2024-02-01T00:00:00Z (day first)" in err.value.message


def test_deterministic():
    body = _body(_seasonal(14))
    assert detect_entire_series(body) == detect_entire_series(body)


@pytest.mark.parametrize("shape", ["sine", "peak", "weekdays", "trend", "gaps"])
@pytest.mark.parametrize("points", [1000, 4032])
def test_clean_periodic_series_with_one_percent_noise_stay_quiet(shape, points):
    """A daily pattern at 5-minute steps with noise of 1% of its swing: at most 1% of the points flagged
    (the residuals of a profile fitted to few days understate the noise; weekends follow their own
    pattern once three weeks show it)."""
    n = 6048 if shape == "weekdays" else points
    index = pd.date_range("2024-03-04", periods=n, freq="5min", tz="UTC")
    phase = 2 * np.pi * np.arange(n) / 288
    base = {"sine": np.sin(phase), "peak": np.exp(3 * np.sin(phase)) / np.exp(3),
            "weekdays": np.sin(phase) * np.where(index.day_of_week >= 5, 0.6, 1.0),
            "trend": np.sin(phase) + np.arange(n) / n, "gaps": np.sin(phase)}[shape]
    flagged = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        series = pd.Series(10 + base + 0.01 * np.ptp(base) * rng.standard_normal(n), index=index)
        if shape == "gaps":
            series = series.drop(series.index[rng.choice(n, n // 10, replace=False)])
        flagged.append(detect_entire(series).is_anomaly.mean())
    assert max(flagged) <= 0.01, flagged


def test_tail_margin_raises_only_for_a_heavier_continuous_tail():
    from workbench.univariate._tail import tail_margin

    rng = np.random.default_rng(0)
    gaussian = np.abs(rng.standard_normal(20000))
    assert tail_margin(gaussian, 4.5, 1e-3) == 4.5  # nothing passes the Gaussian margin: kept
    heavy = rng.pareto(1.5, 20000)  # a tail that spreads on from any margin
    assert tail_margin(heavy, 4.5, 1e-3) > 50
    clustered = np.r_[gaussian, np.full(500, 40.0) + rng.random(500)]  # far peaks, none in between
    assert tail_margin(clustered, 4.5, 1e-3) == 4.5
