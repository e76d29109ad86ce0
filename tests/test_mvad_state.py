"""Models saved by every earlier state version load and score as they were saved.

``tests/data/states/vN`` were written by the code of each version (``make_states.py`` there says how): the
network alone (1), with the linear branch (2), with the analog branch (3), with its anchor (4, and 4 with
``analog_anchor=0.5``), composed branches and one flag rule (5; before the rule's ``drift_top_share``).  Each must give the scores, contributions, flags and severities that code gave.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from workbench.exceptions import ErrorCode, ValidationError
from workbench.mvad.detector import MultivariateDetector
from workbench.mvad.flags import FlagRule

STATES = Path(__file__).parent / "data" / "states"
KINDS = {"v1": ["network"], "v2": ["network", "linear"], "v3": ["network", "linear", "analog"],
         "v4": ["network", "linear", "analog"], "v4-anchor": ["network", "linear", "analog"],
         "v5": ["network", "linear", "analog"]}


def load(name: str) -> tuple[MultivariateDetector, dict]:
    folder = STATES / name
    meta = json.loads((folder / "state.json").read_text())
    return MultivariateDetector.from_state(load_file(str(folder / "state.safetensors")), meta), meta


@pytest.mark.parametrize("name", sorted(KINDS))
def test_a_saved_state_of_every_version_scores_as_saved(name):
    detector, meta = load(name)
    assert [b.kind for b in detector.branches_] == KINDS[name]
    with np.load(STATES / name / "expected.npz") as expected:
        result = detector.score(expected["test"])
        np.testing.assert_allclose(result.score, expected["score"], rtol=1e-5)
        np.testing.assert_allclose(result.contributions, expected["contributions"], rtol=1e-5, atol=1e-9)
        np.testing.assert_array_equal(result.is_anomaly, expected["is_anomaly"])
        np.testing.assert_allclose(result.severity, expected["severity"], rtol=1e-5)
        assert result.threshold == pytest.approx(float(expected["threshold"]), rel=1e-6)
    facts = meta["branches"][0] if "branches" in meta else meta  # the network's facts (version 5 on: per branch)
    assert detector.train_losses_ == facts["trainLosses"] and detector.best_epoch_ == facts["bestEpoch"]


@pytest.mark.parametrize("name", sorted(KINDS))
def test_an_upgraded_state_saves_as_today_and_loads_again_unchanged(name):
    detector, _ = load(name)
    tensors, meta = detector.get_state()
    assert meta["stateVersion"] == 6
    again = MultivariateDetector.from_state(tensors, json.loads(json.dumps(meta)))
    with np.load(STATES / name / "expected.npz") as expected:
        np.testing.assert_array_equal(again.score(expected["test"]).score, detector.score(expected["test"]).score)


def test_states_saved_before_the_top_share_cap_keep_the_drift_raise_they_were_saved_with():
    assert load("v5")[0].flag_rule_.drift_top_share == 0.0
    assert MultivariateDetector().flag_rule is None and FlagRule().drift_top_share > 0  # new models: the cap


def test_a_state_of_an_unknown_version_or_with_a_retired_study_option_is_refused():
    folder = STATES / "v4"
    tensors = load_file(str(folder / "state.safetensors"))
    meta = json.loads((folder / "state.json").read_text())
    with pytest.raises(ValidationError) as unknown:
        MultivariateDetector.from_state(tensors, {**meta, "stateVersion": 99})
    assert unknown.value.code == ErrorCode.INVALID_MODEL_ARCHIVE
    with pytest.raises(ValidationError) as retired:
        MultivariateDetector.from_state(tensors, {**meta, "params": {**meta["params"], "long_bins": 8}})
    assert retired.value.code == ErrorCode.INVALID_MODEL_ARCHIVE and "long_bins" in retired.value.message
