"""Known-answer tests for workbench.evaluation (VUS, AUCs, F1 variants, HitRate)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from workbench import evaluation as ev
from workbench.exceptions import ErrorCode, ValidationError


# ----------------------------------------------------------------------------- AUC-PR / AUC-ROC

def test_auc_values_of_the_textbook_example():
    y = [0, 0, 1, 1]
    s = [0.1, 0.4, 0.35, 0.8]
    assert ev.auc_roc(y, s) == pytest.approx(0.75)
    # thresholds 0.8 (P=1, R=.5), 0.4 (P=.5), 0.35 (P=2/3, R=1): .5*1 + .5*2/3
    assert ev.auc_pr(y, s) == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_tied_scores_count_as_one_threshold():
    assert ev.auc_roc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert ev.auc_pr([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == pytest.approx(0.5)


def test_perfect_and_reversed_scores():
    y = np.array([0, 0, 0, 1, 1])
    assert ev.auc_roc(y, y * 1.0) == 1.0
    assert ev.auc_pr(y, y * 1.0) == 1.0
    assert ev.auc_roc(y, 1.0 - y) == 0.0


# ----------------------------------------------------------------------------- F1 variants

def test_best_f1_picks_the_best_threshold():
    y = [0, 1, 1, 0, 1]
    s = [0.1, 0.9, 0.8, 0.7, 0.2]
    f1, threshold = ev.best_f1(y, s)
    # threshold 0.2 flags 4 rows with 3 true: F1 = 6/7
    assert f1 == pytest.approx(6 / 7)
    assert threshold == pytest.approx(0.2)


def test_f1_of_a_prediction_is_not_point_adjusted():
    y = [0, 1, 1, 1, 0]
    pred = [0, 1, 0, 0, 0]
    assert ev.f1_score(y, pred) == pytest.approx(2 * 1 / (3 + 1))
    assert ev.point_adjusted_f1(y, pred) == pytest.approx(1.0)
    assert ev.f1_score(y, [0, 0, 0, 0, 0]) == 0.0


def test_point_adjust_fills_only_hit_ranges_and_keeps_false_alarms():
    y = [1, 1, 0, 0, 1, 1, 1, 0, 1]
    pred = [0, 1, 0, 1, 0, 0, 0, 0, 1]
    assert ev.point_adjust(y, pred).astype(int).tolist() == [1, 1, 0, 1, 0, 0, 0, 0, 1]


def test_best_point_adjusted_f1_by_hand():
    y = [1, 1, 0, 0, 1, 1, 1, 0]
    s = [0.1, 0.9, 0.2, 0.3, 0.0, 0.0, 0.4, 0.5]
    # threshold 0.4: both ranges hit (tp 5), one false alarm (0.5): 10 / 11
    assert ev.best_point_adjusted_f1(y, s) == pytest.approx(10 / 11)


def test_random_scores_get_high_pa_f1_but_low_f1():
    rng = np.random.default_rng(0)
    y = np.zeros(5000, dtype=int)
    for start in range(100, 5000, 500):
        y[start:start + 100] = 1
    s = rng.random(5000)
    assert ev.best_point_adjusted_f1(y, s) > 0.6
    assert ev.best_f1(y, s)[0] < 0.4


# ----------------------------------------------------------------------------- VUS

def test_range_ap_without_buffer_penalises_a_missed_range():
    y = [1, 1, 0, 0, 0, 1]
    s = [0.9, 0.8, 0.1, 0.2, 0.3, 0.05]
    # existence 1/2 until the last range is reached: 1/6 + 1/6 + (1 - 1/3) * 1/2
    assert ev.vus_pr(y, s, window=0, n_thresholds=6) == pytest.approx(2 / 3)
    assert ev.auc_pr(y, s) == pytest.approx(5 / 6)


def test_vus_pr_with_a_buffer_by_hand():
    y = [0, 0, 1, 1, 0, 0, 0, 0]
    s = [0.1, 0.7, 0.9, 0.2, 0.8, 0.3, 0.4, 0.5]
    # widths 0 and 1 have no buffer: range-AP = .5 + .5 * 2/7
    no_buffer = 0.5 + 0.5 * 2 / 7
    # width 2: rows 1 and 4 weigh sqrt(1 - 1/2) once predicted
    r = math.sqrt(0.5)
    rec2, prec2 = (1 + r) / (2 + r / 2), (1 + r) / 2
    rec3, prec3 = (1 + 2 * r) / (2 + r), (1 + 2 * r) / 3
    prec7 = (2 + 2 * r) / 7
    width2 = 0.5 + (rec2 - 0.5) * prec2 + (rec3 - rec2) * prec3 + (1 - rec3) * prec7
    assert ev.vus_pr(y, s, window=2, n_thresholds=8) == pytest.approx((2 * no_buffer + width2) / 3)


def test_vus_matches_the_tsb_ad_reference_on_a_fixed_case():
    # Value printed by TSB-AD 1.5 generate_curve(y, s, 24, "opt", 250) for this exact input.
    n = 600
    t = np.arange(n)
    y = np.zeros(n, dtype=int)
    y[50:80] = 1
    y[300:305] = 1
    y[590:600] = 1
    s = (np.sin(t / 7.0) * 0.3 + np.exp(-((t - 60) / 15.0) ** 2)
         + 0.8 * np.exp(-((t - 310) / 6.0) ** 2) + (t % 11) / 40)
    assert ev.vus_pr(y, s, window=24) == pytest.approx(0.5071146668102827, abs=1e-12)
    assert ev.vus_roc(y, s, window=24) == pytest.approx(0.8177117977305112, abs=1e-12)


def test_vus_rewards_detections_just_outside_a_range_and_auc_pr_does_not():
    y = np.zeros(400, dtype=int)
    y[200:210] = 1
    late = np.zeros(400)
    late[210:216] = 1.0  # fires right after the labelled range
    assert ev.auc_pr(y, late) < 0.1
    assert ev.vus_pr(y, late, window=40) > ev.vus_pr(y, late, window=0)


def test_evaluate_returns_every_metric_and_handles_25k_rows():
    rng = np.random.default_rng(1)
    y = np.zeros(25_000, dtype=int)
    for start in rng.choice(24_000, 30, replace=False):
        y[start:start + int(rng.integers(5, 300))] = 1
    s = rng.random(25_000) + 0.5 * y
    pred = s > 1.2
    out = ev.evaluate(y, s, pred, window=200)
    assert set(out) == {"vus_pr", "vus_roc", "auc_pr", "auc_roc", "best_f1", "pa_f1_best", "f1",
                        "flagged_share", "pa_f1"}
    assert out["flagged_share"] == pytest.approx(pred.mean())
    assert out["auc_roc"] > 0.7
    assert 0.0 < out["vus_pr"] < 1.0


def test_period_window_follows_the_tsb_ad_rule():
    t = np.arange(3000)
    assert ev.period_window(np.sin(2 * np.pi * t / 24)) == 24
    assert ev.period_window(np.sin(2 * np.pi * t / 90) + 0.1 * np.cos(2 * np.pi * t / 9)) == 90
    assert ev.period_window(np.sin(2 * np.pi * t / 360)) == 125  # beyond 300 lags: the default
    assert ev.period_window(np.ones(500)) == 125


# ----------------------------------------------------------------------------- HitRate

def test_hit_rate_at_100_and_150_percent():
    c = np.tile([0.4, 0.3, 0.2, 0.1], (3, 1))
    assert ev.hit_rate(c, [(0, 3, (0, 1))], 100) == 1.0
    assert ev.hit_rate(c, [(0, 3, (0, 2))], 100) == 0.5
    assert ev.hit_rate(c, [(0, 3, (0, 2))], 150) == 1.0  # top ceil(1.5 * 2) = 3


def test_hit_rate_averages_ranges_and_uses_the_range_mean():
    c = np.array([[0.9, 0.1, 0.0],
                  [0.0, 0.2, 0.8],
                  [0.0, 0.0, 1.0],
                  [0.1, 0.8, 0.1]])
    # range rows 0-1: mean (.45, .15, .4) -> top1 = var 0; range rows 2-3: mean (.05, .4, .55) -> var 2
    assert ev.hit_rate(c, [(0, 2, [0]), (2, 4, [1])], 100) == pytest.approx(0.5)


def test_hit_rate_ties_give_no_advantage_to_column_order():
    c = np.full((5, 4), 0.25)
    assert ev.hit_rate(c, [(0, 5, [0])], 100) == pytest.approx(0.25)


def test_hit_rate_skips_unscored_rows_and_counts_unscored_ranges_as_misses():
    c = np.array([[np.nan] * 3, [0.1, 0.7, 0.2], [np.nan] * 3])
    assert ev.hit_rate(c, [(0, 2, [1])], 100) == 1.0
    assert ev.hit_rate(c, [(0, 2, [1]), (2, 3, [0])], 100) == 0.5


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("call", [
    lambda: ev.vus_pr([0, 1, 0], [0.1, 0.2]),
    lambda: ev.auc_pr([0, 2, 1], [0.1, 0.2, 0.3]),
    lambda: ev.auc_roc([0, 1, 0], [0.1, np.nan, 0.3]),
    lambda: ev.vus_pr([0, 0, 0], [0.1, 0.2, 0.3]),
    lambda: ev.vus_pr([0, 1, 0], [0.1, 0.2, 0.3], window=-1),
    lambda: ev.f1_score([0, 1], [1, 0, 1]),
    lambda: ev.hit_rate(np.ones((3, 2)), [(0, 4, [0])]),
    lambda: ev.hit_rate(np.ones(3), [(0, 1, [0])]),
])
def test_bad_input_raises_a_validation_error(call):
    with pytest.raises(ValidationError) as err:
        call()
    assert err.value.code == ErrorCode.BAD_ARGUMENT
