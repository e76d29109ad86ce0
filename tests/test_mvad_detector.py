"""The multivariate detector's numeric core: determinism, state, invariants, detection and explanation."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.numpy import load as load_tensors
from safetensors.numpy import save as save_tensors

from workbench.exceptions import ErrorCode, ValidationError
from workbench.mvad import flags, scoring
from workbench.mvad.branches import linear
from workbench.mvad.detector import EpochReport, MultivariateDetector
from workbench.mvad.flags import FlagRule

WINDOW = 40
NAMES = ["a", "b", "c", "d", "e"]
NETWORK_ALONE = [{"kind": "network", "weight": 1.0}, "analog"]  # no linear branch: the network's error whole


def correlated(n_rows: int, seed: int) -> np.ndarray:
    """Five metrics: a, b, c follow one wave, d and e a second one, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows)
    wave, slow = np.sin(2 * np.pi * t / 37.0), np.cos(2 * np.pi * t / 91.0)
    x = np.column_stack([wave, 0.8 * wave, 0.6 * wave + 0.3 * slow, slow, -slow])
    return x + 0.05 * rng.normal(size=x.shape)


def fitted(values: np.ndarray, seed: int = 0, epochs: int = 8, **params) -> MultivariateDetector:
    return MultivariateDetector(sliding_window=WINDOW, epochs=epochs, seed=seed, num_threads=1, **params).fit(
        values, NAMES)


@pytest.fixture(scope="module")
def detector() -> MultivariateDetector:
    return fitted(correlated(1500, seed=1), epochs=15)


def test_same_seed_gives_identical_scores_and_another_seed_does_not():
    train, test = correlated(700, 1), correlated(300, 2)
    first, second, other = fitted(train, seed=3), fitted(train, seed=3), fitted(train, seed=4)
    np.testing.assert_array_equal(first.score(test).score, second.score(test).score)
    assert first.train_losses_ == second.train_losses_
    assert not np.allclose(first.score(test).score[WINDOW:], other.score(test).score[WINDOW:])


def test_state_round_trip_through_safetensors_and_json_gives_identical_results(detector):
    tensors, meta = detector.get_state()
    loaded = MultivariateDetector.from_state(load_tensors(save_tensors(tensors)), json.loads(json.dumps(meta)))
    test = correlated(400, 5)
    before, after = detector.score(test), loaded.score(test)
    for field in ("valid", "score", "severity", "is_anomaly", "contributions"):
        np.testing.assert_array_equal(getattr(before, field), getattr(after, field))
    assert loaded.variables_ == NAMES and loaded.threshold_ == detector.threshold_
    assert loaded.correlation_changes(test, 300, 2) == detector.correlation_changes(test, 300, 2)


def test_scoring_in_small_chunks_changes_nothing(detector):
    test = correlated(600, 4)
    whole = detector.score(test)
    detector.chunk_rows = 37
    try:
        chunked = detector.score(test)
    finally:
        detector.chunk_rows = 16384
    # equal up to float32 rounding: BLAS kernels may sum in another order for another batch size
    np.testing.assert_allclose(whole.score, chunked.score, rtol=1e-5)
    np.testing.assert_allclose(whole.contributions, chunked.contributions, rtol=1e-5, atol=1e-9)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_model_trained_on_a_gpu_loads_on_a_cpu_only_machine(detector):
    tensors, meta = detector.get_state()
    meta = dict(meta, params=dict(meta["params"], device="cuda"))
    test = correlated(300, 3)
    np.testing.assert_array_equal(MultivariateDetector.from_state(tensors, meta).score(test).score,
                                  detector.score(test).score)


def test_score_invariants(detector):
    test = correlated(500, 6)
    test[300:305, 3] += 6.0
    r = detector.score(test)
    n = len(test)
    assert r.valid.shape == r.score.shape == r.severity.shape == r.is_anomaly.shape == (n,)
    assert r.contributions.shape == (n, 5)
    np.testing.assert_array_equal(r.valid, np.arange(n) >= WINDOW)
    assert np.isnan(r.score[:WINDOW]).all() and np.isfinite(r.score[WINDOW:]).all()
    assert not r.is_anomaly[:WINDOW].any() and (r.severity[:WINDOW] == 0).all()
    assert ((r.severity >= 0) & (r.severity <= 1)).all()
    np.testing.assert_array_equal(r.severity > 0, r.is_anomaly)   # 0 exactly for normal rows
    flagged = np.flatnonzero(r.is_anomaly)
    assert len(flagged) >= 2
    order = np.argsort(r.score[flagged])
    assert (np.diff(r.severity[flagged][order]) >= 0).all()       # grows with the score
    assert (r.contributions >= 0).all() and (r.contributions[:WINDOW] == 0).all()
    np.testing.assert_allclose(r.contributions[WINDOW:].sum(axis=1), 1.0, rtol=1e-9)


def test_last_row_of_a_short_input_scores_as_in_the_long_batch(detector):
    test = correlated(400, 7)
    batch = detector.score(test)
    for row in (WINDOW, 250, 399):
        last = detector.score(test[row - WINDOW:row + 1])
        assert last.valid[-1] and last.valid.sum() == 1
        assert last.score[-1] == pytest.approx(batch.score[row], rel=1e-5)
        np.testing.assert_allclose(last.contributions[-1], batch.contributions[row], rtol=1e-5, atol=1e-9)


def test_noise_false_positive_rate_is_at_most_one_percent():
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(5000, 5))
    det = MultivariateDetector(sliding_window=200, epochs=10, seed=0, num_threads=1).fit(noise[:2000], NAMES)
    r = det.score(noise[1800:])
    assert r.is_anomaly[r.valid].mean() <= 0.01


def test_spike_is_flagged_and_its_variable_ranks_first(detector):
    test = correlated(500, 8)
    test[300:304, 3] += 5.0
    r = detector.score(test)
    assert r.is_anomaly[300:306].any()
    # the threshold is capped at the held-out 99.9th percentile: clean rows may cross it, rarely, and the
    # event then lasts while the score stays above half the threshold
    clean = r.is_anomaly[WINDOW:290].astype(int)
    assert np.sum(np.diff(np.r_[0, clean]) == 1) <= 1 and clean.mean() <= 0.03
    assert np.argmax(r.contributions[302]) == 3


def test_broken_correlation_is_flagged_and_explained(detector):
    test = correlated(500, 9)
    test[250:400, 1] *= -1.0   # b now moves against a and c; its own range is unchanged
    r = detector.score(test)
    assert r.is_anomaly[250:400].mean() > 0.5
    assert not r.is_anomaly[WINDOW:245].any()
    assert np.argmax(r.contributions[250:400].mean(axis=0)) == 1
    changes = detector.correlation_changes(test, 390, top_k=2)
    assert list(changes)[0] == "b" and len(changes) == 2
    assert {"a", "c"} <= set(changes["b"])
    assert detector.correlation_changes(test, 200, top_k=2) != changes   # differs between timestamps


def test_on_epoch_sees_every_epoch_and_best_weights_are_kept():
    reports: list[EpochReport] = []
    det = MultivariateDetector(sliding_window=WINDOW, epochs=6, seed=0, num_threads=1).fit(
        correlated(600, 1), NAMES, on_epoch=reports.append)
    assert [r.epoch for r in reports] == list(range(1, 7))
    assert all(np.isfinite([r.train_loss, r.validation_loss]).all() and r.latency_seconds > 0 for r in reports)
    assert det.train_losses_ == [r.train_loss for r in reports]
    assert det.validation_losses_[det.best_epoch_ - 1] == min(det.validation_losses_)


def test_too_little_data_is_a_validation_error():
    det = MultivariateDetector(sliding_window=WINDOW, epochs=1)
    with pytest.raises(ValidationError) as info:
        det.fit(correlated(det.minimum_rows() - 1, 0))
    assert info.value.code == ErrorCode.NOT_ENOUGH_DATA
    assert str(det.minimum_rows()) in info.value.message
    det.fit(correlated(det.minimum_rows(), 0))   # the minimum itself is enough


@pytest.mark.parametrize("params", [{"sliding_window": 1}, {"epochs": 0}, {"validation_fraction": 1.0},
                                    {"device": "tpu"}, {"smoothing": 0}])
def test_bad_parameters_are_validation_errors(params):
    with pytest.raises(ValidationError) as info:
        MultivariateDetector(**{"sliding_window": WINDOW, **params}).fit(correlated(600, 0))
    assert info.value.code == ErrorCode.BAD_ARGUMENT


def test_scoring_checks_its_input(detector):
    with pytest.raises(ValidationError) as info:
        detector.score(np.zeros((100, 4)))
    assert info.value.code == ErrorCode.VARIABLE_MISMATCH
    bad = correlated(100, 0)
    bad[7, 2] = np.nan
    with pytest.raises(ValidationError) as info:
        detector.score(bad)
    assert info.value.code == ErrorCode.INVALID_VALUE and info.value.row == 7
    with pytest.raises(ValidationError):
        detector.correlation_changes(correlated(100, 0), WINDOW - 1, 2)


def test_constant_training_column_and_short_input():
    values = correlated(600, 2)
    values[:, 4] = 3.0
    det = fitted(values)
    assert det.scale_[4] == 1.0
    r = det.score(values[:WINDOW])        # no row has a full window
    assert not r.valid.any() and np.isnan(r.score).all()


def test_threshold_is_a_log_normal_tail_capped_at_a_high_percentile_that_anomalies_cannot_lift_past_it():
    """Log-normal held-out scores: ``threshold_spread`` (5) log-spreads above the median, unmoved by 1% anomalies;
    a high percentile caps it (a training period's anomalies can raise the cap at most to the log-normal
    tail); where scores are far from log-normal (bimodal, as periodic data's errors) the cap is what holds."""
    rng = np.random.default_rng(0)
    clean = np.exp(rng.normal(0.0, 0.5, size=20000))

    def threshold(scores, **params):
        return FlagRule(**params).fit(scores).threshold_
    spread, quantile = FlagRule().threshold_spread, FlagRule().tail_quantile
    assert 0.99 <= quantile < 1.0
    tail = threshold(clean, tail_quantile=1.0)
    assert tail == pytest.approx(np.exp(spread * 0.5), rel=0.05)  # median 1, k log-spreads above
    contaminated = np.r_[clean, np.full(200, 1e3)]                  # 1% anomalies in the training period
    assert threshold(contaminated, tail_quantile=1.0) == pytest.approx(tail, rel=0.05)
    capped = threshold(clean)
    assert capped == pytest.approx(np.quantile(clean, quantile))    # 2.6-3.1 log-spreads: below the tail
    assert capped < threshold(contaminated) <= tail * 1.05
    assert threshold(np.r_[clean, np.nan]) == pytest.approx(capped)
    bimodal = np.r_[np.full(5000, 0.05), np.full(5000, 5.0)] * np.exp(rng.normal(0.0, 0.1, size=10000))
    assert threshold(bimodal, tail_quantile=1.0) > 20 * bimodal.max()  # flags nothing
    assert threshold(bimodal) == pytest.approx(np.quantile(bimodal, quantile))
    assert threshold(np.ones(100), tail_quantile=1.0) == pytest.approx(np.exp(spread * flags.MIN_LOG_SPREAD))


def test_threshold_follows_data_that_drifted_as_a_whole():
    rng = np.random.default_rng(1)
    normal = np.exp(rng.normal(0.0, 0.5, size=1000))
    rule = FlagRule()
    rule.threshold_ = 10.0
    assert rule.threshold_for(normal) == 10.0                       # no drift: the training threshold
    drifted = 50.0 * normal                                         # every row 50x its training level
    raised = rule.threshold_for(drifted)                           # the rows standing out of the new level:
    assert raised > 3 * np.median(drifted) and (drifted >= raised).mean() <= rule.drift_top_share  # its top 0.5%
    assert rule.set_params(drift_top_share=0).threshold_for(drifted) == pytest.approx(3 * np.median(drifted))
    assert rule.set_params(drift_factor=0).threshold_for(drifted) == 10.0
    assert rule.set_params(drift_factor=3.0).threshold_for(drifted[:50]) == 10.0   # too few rows to judge drift


def test_the_drift_threshold_is_numpys_median_and_quantiles_to_the_last_bit():
    """The rule reads its median and quantiles off one sorted copy; they must be numpy's, bit for bit."""
    def by_numpy(threshold, scores, factor, spread, top_share):
        s = scores[np.isfinite(scores)]
        median = float(np.median(s))
        if len(s) < flags.DRIFT_MIN_ROWS or factor * median <= threshold:
            return threshold
        logs = np.log(np.maximum(s, 1e-12))
        low = (float(np.median(logs)) - float(np.quantile(logs, 0.25))) / 0.6745
        cap = max(factor * median, float(np.quantile(s, 1 - top_share)) if top_share else 0.0)
        return max(threshold, min(cap, float(np.exp(float(np.median(logs)) + spread * low))))

    rng = np.random.default_rng(0)
    for case in range(400):
        n = int(rng.integers(100, 2000))
        scores = [rng.lognormal(size=n), rng.integers(0, 4, n).astype(float), np.abs(rng.standard_cauchy(n)),
                  np.round(rng.exponential(size=n), 2)][case % 4]
        scores[rng.integers(0, n, case % 3)] = np.nan
        threshold = float(np.nanmedian(scores) * rng.uniform(0.5, 6))
        for top_share in (0.0, 0.005, 0.02):
            assert flags.drift_threshold(threshold, scores, 3.0, 3.0, top_share) == \
                by_numpy(threshold, scores, 3.0, 3.0, top_share)


def test_drifted_data_with_a_long_fault_flag_the_fault_not_the_new_normal():
    """SKAB-like: every row scores ~1,000x the training level and a third of them 10% more (the fault).
    3 x the median would flag nothing; the scored rows' own tail, spread measured below their median,
    flags the fault and almost none of the rest."""
    rng = np.random.default_rng(2)
    normal = 1000.0 * np.exp(rng.normal(0.0, 0.01, size=650))
    fault = 1100.0 * np.exp(rng.normal(0.0, 0.01, size=350))
    threshold = flags.drift_threshold(5.0, np.r_[normal, fault], 3.0, 3.0, 0.0)
    assert 5.0 < threshold < 3 * np.median(np.r_[normal, fault])
    assert (fault >= threshold).mean() > 0.99 and (normal >= threshold).mean() < 0.01


def test_a_drifted_period_is_not_flagged_whole_and_its_fault_still_is(detector):
    test = correlated(1000, 4)
    test[:, 3] += 1.0            # 'd' sits at a new level for the whole scored period
    test[600:630, 0] += 3.0      # and 'a' has a fault
    drift_aware = detector.score(test)
    valid = drift_aware.valid
    assert drift_aware.threshold > detector.threshold_
    assert drift_aware.is_anomaly[601:630].all()  # the 5-row trailing mean crosses a row after the onset
    assert drift_aware.is_anomaly[valid].mean() < 0.06
    detector.flag_rule_.drift_factor = 0    # the training threshold alone flags most of the period
    try:
        fixed = detector.score(test)
    finally:
        detector.flag_rule_.drift_factor = FlagRule().drift_factor
    assert fixed.threshold == detector.threshold_ and fixed.is_anomaly[valid].mean() > 0.5


def test_a_channel_that_leaves_the_shared_pattern_within_its_range_is_flagged_by_the_linear_branch():
    """'b' keeps following a's wave at half its usual amplitude: every value stays inside b's range and the
    recent rows predict the next one, so the network alone flags almost nothing; the linear reconstruction
    (b no longer sits where a and c put it) flags most of the period and names b."""
    train, test = correlated(1500, seed=1), correlated(500, seed=9)
    test[250:400, 1] *= 0.5
    with_linear = fitted(train, epochs=15).score(test)
    network_only = fitted(train, epochs=15, branches=NETWORK_ALONE).score(test)
    assert with_linear.is_anomaly[250:400].mean() > 0.5
    assert network_only.is_anomaly[250:400].mean() < 0.1
    assert not with_linear.is_anomaly[WINDOW:245].any()
    assert np.argmax(with_linear.contributions[250:400].mean(axis=0)) == 1


@pytest.mark.parametrize("n_vars", [1, 2, 5])
def test_the_linear_branch_always_leaves_a_residual_direction(n_vars):
    """At most V - 1 components, so a single variable is judged by its distance from the training mean and
    constant columns cost nothing."""
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(400, n_vars)) @ rng.normal(size=(n_vars, n_vars))
    mean, components = linear.fit_components(rows, variance=1.0)
    assert components.shape == (n_vars, n_vars - 1)
    residual = linear.residuals(torch.from_numpy(rows[:3].astype(np.float32)), torch.from_numpy(mean),
                                torch.from_numpy(components))
    assert residual.shape == (3, n_vars) and bool((residual >= 0).all()) and float(residual.sum()) > 0
    # a column constant in training (a command never issued) is rebuilt as it is when it moves
    with_constant = np.column_stack([rows, np.zeros(len(rows))])
    mean, components = linear.fit_components(with_constant, variance=1.0)
    moved = torch.from_numpy(np.column_stack([rows[:3], np.ones(3)]).astype(np.float32))
    residual = linear.residuals(moved, torch.from_numpy(mean), torch.from_numpy(components))
    np.testing.assert_allclose(residual[:, -1].numpy(), 0.0, atol=1e-10)
    assert linear.residuals(torch.ones(2, n_vars), *map(torch.from_numpy, linear.fit_components(
        np.ones((50, n_vars)), 0.99))).abs().max() < 1e-10


def commanded(n_rows: int, seed: int) -> np.ndarray:
    """Telemetry-like: one measured wave beside four rare 0/1 command columns (each on for 1-4 rows at a time)."""
    rng = np.random.default_rng(seed)
    value = np.sin(2 * np.pi * np.arange(n_rows) / 37.0) + 0.05 * rng.normal(size=n_rows)
    commands = np.zeros((n_rows, 4))
    for c in range(4):
        for start in np.flatnonzero(rng.random(n_rows) < 0.006):
            commands[start:start + rng.integers(1, 5), c] = 1.0
    return np.column_stack([value, commands])


def test_a_two_valued_column_is_scaled_by_its_step():
    flags = np.zeros((2000, 1))
    flags[::200] = 5.0                                       # a flag at 0 or 5, on in 0.5% of rows
    center, scale = scoring.fit_normalizer(np.column_stack([flags, np.linspace(0, 1, 2000)]))
    assert center[0] == 0.0 and scale[0] == 5.0               # by its std it would switch by 14 scale units
    assert scoring.indicator_steps(scoring.normalize(flags, center[:1], scale[:1])).tolist() == [1.0]
    mixed = np.array([[0.0, 1.0, 3.0], [1.0, np.nan, 3.0], [0.0, 2.0, 3.0], [0.0, 1.5, 3.0]])
    assert scoring.indicator_steps(mixed).tolist() == [1.0, 0.0, 0.0]   # two values; three; one


def test_commands_switching_as_in_training_are_not_anomalies_and_a_fault_of_the_measurement_is():
    det = MultivariateDetector(sliding_window=WINDOW, epochs=15, seed=0, num_threads=1).fit(commanded(3000, 1))
    test = commanded(1500, 2)
    test[1000:1030, 0] += 2.0
    result = det.score(test)
    clean = result.valid & (np.arange(len(test)) < 990)
    flagged = clean & result.is_anomaly                       # std-scaled commands: 5-10% (seeds 0-2)
    assert flagged.mean() < 0.02                              # the value's analog error: 0-1.2% (seeds 0-2)
    assert (np.argmax(result.contributions[flagged], axis=1) == 0).all()   # none led by a command
    assert result.is_anomaly[1001:1030].all()                 # std-scaled: 14-62% of the fault
    assert (np.argmax(result.contributions[1001:1030], axis=1) == 0).all()


def test_an_event_starts_at_the_threshold_and_goes_on_while_the_score_stays_above_the_release():
    score = np.array([0.1, 1.2, 0.8, 0.6, 0.4, 0.7, 1.1, np.nan, 0.9, 1.0, 0.55, 0.2])
    events = flags.flag_events(score, 1.0, 0.5)
    assert events.astype(int).tolist() == [0, 1, 1, 1, 0, 0, 1, 0, 0, 1, 1, 0]   # 0.7 after a break starts nothing
    severity = flags.severity(score, 1.0, events)
    assert severity[1] == pytest.approx(1 - 0.7 / 1.2) and severity[2] == pytest.approx(0.3 * 0.8)
    assert ((severity > 0) == events).all()
    assert flags.release_level(1.0, np.full(200, 0.1), 0.5) == 0.5
    assert flags.release_level(1.0, np.full(200, 0.8), 0.5) == 0.8          # drifted data: not below their median


def test_a_few_rows_are_flagged_as_the_rule_flags_many():
    """A detect-last call (a window, then a few scored rows) takes a row-by-row path: same flags, same severity
    as the vectorised rule on the same rows, with events running into the last row and rows without a score."""
    rng = np.random.default_rng(3)
    rule = FlagRule(release=0.5)
    rule.threshold_ = 1.0
    for trial in range(300):
        n_valid = int(rng.integers(1, flags.FEW_ROWS + 1))
        score = np.full(10 + n_valid, np.nan)
        score[10:] = rng.choice([0.2, 0.5, 0.7, 1.0, 1.3, 3.0, np.nan], size=n_valid) * rng.uniform(0.9, 1.1)
        valid = np.arange(len(score)) >= 10
        few = rule.apply(score, valid)
        assert few.release == flags.release_level(1.0, score[10:], 0.5)
        events = flags.flag_events(score[10:], 1.0, few.release)
        assert few.is_anomaly[:10].sum() == 0 and (few.is_anomaly[10:] == events).all(), trial
        np.testing.assert_array_equal(few.severity[10:], flags.severity(score[10:], 1.0, events))
        assert few.threshold == 1.0


def test_a_fault_whose_score_swings_around_the_threshold_is_flagged_as_few_long_events(detector):
    test = correlated(600, 8)
    test[300:360, 3] += 0.1 + 0.1 * (1 + np.sin(2 * np.pi * np.arange(60) / 20))   # a weak, pulsing fault
    scored = detector.score(test)
    assert scored.is_anomaly[300:365].sum() >= 20 and not scored.is_anomaly[:295].any()
    # the events at the call's 3 x median tail (the top-share cap off: a fault of 10% of the rows lifts the
    # call's top 0.5%, and with it the threshold, to the fault's peaks), where the crossings fragment most
    rule = FlagRule(drift_top_share=0.0)
    rule.threshold_ = detector.threshold_
    r = rule.apply(scored.score, scored.valid)
    assert r.release == pytest.approx(0.5 * r.threshold)    # no drift
    score = scored.score

    def fragments(flags):
        return int(np.sum(np.diff(np.r_[0, flags.astype(int)]) == 1))
    crossings, events = (score >= r.threshold)[295:380], r.is_anomaly[295:380]
    assert fragments(events) < fragments(crossings) and events.sum() >= crossings.sum() + 5
    carried = r.is_anomaly & (score < r.threshold)
    assert carried.any() and (score[carried] >= r.release).all()
    assert ((r.severity[carried] > 0) & (r.severity[carried] < flags.SEVERITY_AT_THRESHOLD)).all()
    assert r.is_anomaly[np.flatnonzero(carried) - 1].all()  # every such row continues a flagged one


DAY = 96  # a day at 15-minute steps


def server_day(days: int, seed: int, bump_at: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Six load metrics following one working-day curve (two peaks, each day +-10%) and two noise columns;
    ``bump_at``: 12 rows of daytime load at night, every value inside its usual range."""
    rng = np.random.default_rng(seed)
    t = np.arange(days * DAY)
    hour = 24 * ((t / DAY) % 1.0)
    load = 0.15 + 0.85 * np.exp(-((hour - 10.5) / 2.2) ** 2) + 0.7 * np.exp(-((hour - 15.5) / 2.0) ** 2)
    load = load * (1 + 0.1 * rng.uniform(-1, 1, days))[t // DAY]
    labels = np.zeros(len(t), dtype=bool)
    if bump_at is not None:
        load[bump_at:bump_at + 12] = 0.15 + 0.6 * np.sin(np.linspace(0, np.pi, 12))
        labels[bump_at:bump_at + 12] = True
    gains = np.array([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    columns = [g * load + 0.04 * g * rng.normal(size=len(t)) for g in gains]
    return np.column_stack(columns + [rng.normal(size=len(t)), rng.normal(size=len(t))]), labels


def test_load_at_night_is_caught_by_what_the_hours_before_say_and_not_by_the_network_alone():
    """The analog branch: the six load metrics take part (their hours before predict them), the noise columns do
    not; a daytime bump at 01:30 -- in range, smooth, so the 32-row forecaster follows it -- scores several times
    the threshold and is flagged, while clean rows stay quiet; batch and short inputs agree (to float32 rounding)."""
    train, _ = server_day(20, 0)
    test, labels = server_day(5, 1, bump_at=3 * DAY + 6)
    det = MultivariateDetector(sliding_window=120, epochs=10, seed=0, num_threads=1).fit(train)
    network = MultivariateDetector(sliding_window=120, epochs=10, seed=0, num_threads=1,
                                   branches=["network", "linear"]).fit(train)
    assert det.named_branches_["analog"].analogs_.keep.tolist() == [1.0] * 6 + [0.0] * 2
    result, alone = det.score(test), network.score(test)
    clean = result.valid & ~labels
    assert result.score[labels].max() > 3 * result.threshold
    assert result.score[labels].max() / result.threshold > 2 * alone.score[labels].max() / alone.threshold
    assert result.is_anomaly[labels].mean() >= 0.5 > alone.is_anomaly[labels].mean()
    assert result.is_anomaly[clean].mean() < 0.05
    for row in (200, 3 * DAY + 12, len(test) - 1):
        assert det.score(test[row - 120:row + 1]).score[-1] == pytest.approx(result.score[row], rel=1e-6)
