"""The selection command (benchmarks/selection.py): its cached errors score exactly as the product does."""
from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import pool, selection
from benchmarks.datasets import SHARED_DATA
from workbench.mvad.detector import MultivariateDetector

pytestmark = pytest.mark.skipif(not (SHARED_DATA / "smd").is_dir(), reason="shared/data is not beside the repo")


def small_entity() -> pool.Entity:
    bench = pool.load_fleet()[3]    # a faulty fleet entity: 1,800 rows to train, 1,200 scored
    return pool.Entity("fleet", 60, bench)


@pytest.mark.parametrize("spec", [{}, {"flag_rule": {"release": 1.0}},
                                  {"branches": [{"kind": "network", "weight": 1.0}, "analog"]}])
def test_scores_from_the_cache_are_the_products(tmp_path, spec):
    """Mixing, smoothing, aggregation and the flag rule from cached branch errors give the scores and flags the
    detector gives itself: a rule or mix study on the cache judges the product, not a copy of it."""
    entity = small_entity()
    candidate = selection.Candidate("c", spec, epochs=2)
    path = tmp_path / candidate.training_key(entity, 0)
    selection.train_entity(entity, 0, selection.Candidate("c", {}, epochs=2), path)  # one training serves every mix
    branches, rule, params = candidate.resolved()
    result = selection.scored(path, entity, branches, 0.2)
    det = MultivariateDetector(sliding_window=60, epochs=2, seed=0, num_threads=1, **spec).fit(
        entity.benchmark.train, entity.benchmark.variables)
    case = entity.benchmark.cases[0]
    own = det.score(np.vstack([case.history[-60:], case.test]))
    call = result.calls[0]
    np.testing.assert_allclose(call, own.score, rtol=1e-6)
    flags = selection.make_rule(rule).fit(result.held).apply(call, np.isfinite(call))
    np.testing.assert_array_equal(flags.is_anomaly, own.is_anomaly)
    assert flags.threshold == pytest.approx(own.threshold, rel=1e-6)
    figures = selection.flag_figures(selection.make_rule(rule), result, entity.benchmark.cases)[0]
    assert figures["flagged"] == own.is_anomaly[60:].mean() and 0 <= figures["vus_pr"] <= 1


def test_the_adoption_rule_wants_the_pooled_mean_beyond_the_spread_and_no_family_worse():
    def table(means, sd=0.01):
        return {f: {"vus_pr": {"mean": m, "sd": sd}} for f, m in means.items()}
    base = table({"a": 0.5, "b": 0.6})
    better = selection.verdict(base, table({"a": 0.55, "b": 0.6}), {"mean": 0.55, "sd": 0.01}, {"mean": 0.575, "sd": 0.01})
    assert better["adopt"] and better["families_worse"] == []
    traded = selection.verdict(base, table({"a": 0.65, "b": 0.55}), {"mean": 0.55, "sd": 0.01}, {"mean": 0.6, "sd": 0.01})
    assert not traded["adopt"] and traded["families_worse"] == ["b"]
    within = selection.verdict(base, table({"a": 0.505, "b": 0.6}), {"mean": 0.55, "sd": 0.01}, {"mean": 0.5525, "sd": 0.01})
    assert not within["adopt"]


def test_a_flag_rule_is_adopted_on_f1_with_no_family_worse_and_the_noise_sample_quiet():
    def table(f1, within=0.5, noise=0.0):
        rows = {f: {"pooled_f1": {"mean": m, "sd": 0.01}, "labelled": {"mean": 0.05},
                    "within_per_seed": {"mean": within, "sd": 0.02},
                    "per_seed": {0: {"pooled_f1": m - 0.01}, 1: {"pooled_f1": m + 0.01}}} for f, m in f1.items()}
        rows["noise"] = {"pooled_f1": {"mean": 0.0, "sd": 0.0}, "labelled": {"mean": 0.0},
                         "flagged": {"mean": noise}, "per_seed": {0: {"pooled_f1": 0.0}, 1: {"pooled_f1": 0.0}}}
        return rows
    base = table({"a": 0.3, "b": 0.5})
    assert selection.flag_verdict(base, table({"a": 0.4, "b": 0.5}), (0, 1))["adopt"]
    traded = selection.flag_verdict(base, table({"a": 0.5, "b": 0.45}), (0, 1))
    assert not traded["adopt"] and traded["families_worse"] == ["b"]
    assert selection.flag_verdict(base, table({"a": 0.4, "b": 0.5}, within=0.49), (0, 1))["adopt"]  # within spread
    assert not selection.flag_verdict(base, table({"a": 0.4, "b": 0.5}, within=0.4), (0, 1))["adopt"]
    noisy = selection.flag_verdict(base, table({"a": 0.4, "b": 0.5}, noise=0.02), (0, 1))
    assert not noisy["adopt"] and noisy["noise_flagged"] == 0.02


def test_a_small_selection_run_writes_its_table_and_verdict(tmp_path):
    out = tmp_path / "results"
    assert selection.main(["--families", "noise", "--epochs", "1", "--seeds", "0", "--workers", "1", "--cache",
                        str(tmp_path / "cache"), "--output", str(out), "--candidate", "no-analog"]) == 0
    results = json.loads((out / "no-analog.json").read_text())
    assert results["default"]["noise"]["clean_flagged"] is not None
    assert "Verdict" in (out / "no-analog.md").read_text()


def test_the_rule_report_names_the_entities_a_rule_moves_beyond_the_family_means():
    def records(f1s):
        return [{"family": "smd", "entity": e, "seed": s, "f1": f} for e, per_seed in f1s.items()
                for s, f in enumerate(per_seed)] + [{"family": "noise", "entity": "clean", "seed": 0, "f1": None}]
    default = records({"machine-a": [0.90, 0.88], "machine-b": [0.30, 0.32]})
    rule = records({"machine-a": [0.72, 0.74], "machine-b": [0.33, 0.33]})  # a loses 0.16, b gains 0.02
    moved = selection.entity_f1_changes(default, rule)
    assert [(m["entity"], round(m["default_f1"], 2), round(m["rule_f1"], 2)) for m in moved] == [("machine-a", 0.89, 0.73)]
