"""The two front doors over one service layer: the pandas ``MultivariateModel`` and the Azure-style client.

Every public method either shows in the README or a docstring is called here or elsewhere in the
suite (a test below checks that), the lifecycle rules hold the same through both doors, and the
layering left the scores exactly as they were.
"""
from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import MultivariateModel
from workbench.client import AnomalyDetectorClient
from workbench.contracts import Model, ModelInfo
from workbench.exceptions import DataError, ErrorCode, ModelStateError, NotFoundError, ValidationError
from workbench.mvad.detector import MultivariateDetector
from workbench.service.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "sample_data_5_3000.csv"
REFERENCE = Path(__file__).resolve().parent / "data" / "scores_before_layering_threshold_cap.npz"


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.read_csv(SAMPLE, index_col="timestamp")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, frame) -> MultivariateModel:
    registry = Registry(tmp_path_factory.mktemp("home"))
    return MultivariateModel.fit(frame.iloc[:1500], sliding_window=30, epochs=3, seed=0, progress=False,
                                 registry=registry)


def test_scores_are_those_of_the_code_before_the_layering(tmp_path, frame):
    """Same seed, same data, the linear branch off: the per-row scores and contributions the pre-layering code
    saved (made at aa7f89a); the threshold (and severity) since the held-out 99.9th-percentile cap of issue 15
    (the flag rule's ``tail_quantile``).  The network's path is unchanged by everything since."""
    network_only = MultivariateModel.fit(frame.iloc[:1500], sliding_window=30, epochs=3, seed=0, progress=False,
                                         registry=Registry(tmp_path / "home"),
                                         branches=[{"kind": "network", "weight": 1.0}, "analog"])
    detections = network_only.detect(frame.iloc[1400:2000], start_time=frame.index[1500])
    with np.load(REFERENCE) as before:
        np.testing.assert_allclose(detections.frame["score"].to_numpy(), before["score"], rtol=1e-4)
        np.testing.assert_allclose(detections.contributions.to_numpy(), before["contributions"], rtol=1e-4,
                                   atol=1e-7)
        assert detections.threshold == pytest.approx(float(before["threshold"]), rel=1e-4)


def test_pandas_detect_last_scores_the_last_row_like_detect(fitted, frame):
    history = frame.iloc[1700:1801]
    last = fitted.detect_last(history, top_contributor_count=2)
    [row] = last["results"]
    assert row["timestamp"] == "2021-01-02T06:00:00Z"
    batch = fitted.detect(history, start_time=history.index[-1])
    assert row["value"]["score"] == pytest.approx(float(batch.frame["score"].iloc[-1]), rel=1e-5)
    assert len(row["value"]["interpretation"]) == (2 if row["value"]["isAnomaly"] else 0)
    assert [s["variable"] for s in last["variableStates"]] == [f"series_{i}" for i in range(5)]


def test_detections_show_as_one_short_line(fitted, frame):
    """The dataclass repr printed every anomalous row's changedVariables: thousands of characters."""
    detections = fitted.detect(frame.iloc[1400:2000], start_time=frame.index[1500])
    flagged = int(detections.frame["is_anomaly"].sum())
    assert repr(detections) == (f"Detections(2021-01-02T01:00:00Z .. 2021-01-02T09:19:00Z, 500 timestamps, 5 variables, "
                                f"{flagged} anomalies ({flagged / 5:.1f}%), threshold {detections.threshold:.4g})")


def test_fit_raises_the_coded_error_and_registers_nothing_for_bad_data(tmp_path, frame):
    registry = Registry(tmp_path / "home")
    with pytest.raises(DataError) as missing:
        MultivariateModel.fit(str(tmp_path / "nope.csv"), sliding_window=30, epochs=1, progress=False,
                              registry=registry)
    assert missing.value.code == ErrorCode.DATA_SOURCE_NOT_FOUND
    with pytest.raises(ValidationError) as window:
        MultivariateModel.fit(frame, sliding_window=5, epochs=1, progress=False, registry=registry)
    assert window.value.code == ErrorCode.INVALID_SLIDING_WINDOW
    with pytest.raises(DataError) as short:
        MultivariateModel.fit(frame.iloc[:20], sliding_window=30, epochs=1, progress=False, registry=registry)
    assert short.value.code == ErrorCode.NOT_ENOUGH_DATA
    assert registry.count_models() == 0


def test_a_repeated_timestamp_names_the_rows_iloc_finds(tmp_path, frame):
    """Row 3000 repeats row 2995, row 3001 repeats row 2996: the message names 2995 and 3000 (once it said 2995
    and 2996, the first two rows of any repeat), and nothing is registered."""
    repeated = pd.concat([frame, frame.iloc[[2995, 2996]]])
    registry = Registry(tmp_path / "home")
    with pytest.raises(DataError) as err:
        MultivariateModel.fit(repeated, sliding_window=30, epochs=1, progress=False, registry=registry)
    assert err.value.code == ErrorCode.DUPLICATE_TIMESTAMP and err.value.row == 3000
    assert "appears twice (rows 2995 and 3000)" in err.value.message
    assert repeated.iloc[2995].name == repeated.iloc[3000].name == frame.index[2995]
    assert registry.count_models() == 0


def test_a_misspelt_or_bad_argument_raises_at_once_and_registers_nothing(tmp_path, frame):
    """``slidingwindow=30`` once trained, failed deep inside and left a FAILED model behind."""
    registry = Registry(tmp_path / "home")
    with pytest.raises(TypeError, match=r"MultivariateModel.fit\(\) got an unexpected keyword argument "
                                        r"'slidingwindow'; did you mean 'sliding_window'\?"):
        MultivariateModel.fit(frame, slidingwindow=30, epochs=1, progress=False, registry=registry)
    with pytest.raises(TypeError, match="'flag_rules'; did you mean 'flag_rule'"):
        MultivariateModel.fit(frame, sliding_window=30, flag_rules={}, progress=False, registry=registry)
    for bad in ({"epochs": 0}, {"epochs": 2.5}, {"seed": "one"}, {"branches": [{"kind": "linear", "weight": -1}]},
                {"branches": ["nope"]}, {"flag_rule": {"release": 2.0}}, {"device": "tpu"}):
        with pytest.raises(ValidationError):
            MultivariateModel.fit(frame, **{"sliding_window": 30, "progress": False, "registry": registry, **bad})
    client = AnomalyDetectorClient(registry.home)
    for epochs in (0, -1):
        with pytest.raises(ValidationError, match="epochs"):
            client.train_multivariate_model({"dataSource": str(SAMPLE), "slidingWindow": 30}, wait=True,
                                            epochs=epochs)
    with pytest.raises(ValidationError, match="epochs"):
        AnomalyDetectorClient(registry.home, epochs=0).train_multivariate_model(
            {"dataSource": str(SAMPLE), "slidingWindow": 30})
    assert registry.count_models() == 0


def test_training_that_fails_raises_and_stays_failed_in_the_registry(tmp_path, frame):
    registry = Registry(tmp_path / "home")
    with pytest.raises(ModelStateError) as failed:  # 40 rows: a window fits, the validation split does not
        MultivariateModel.fit(frame.iloc[:40], sliding_window=30, epochs=1, progress=False, registry=registry)
    assert failed.value.code == ErrorCode.NOT_ENOUGH_DATA and "validation" in str(failed.value)
    [model], _ = registry.list_models()
    assert model.model_info.status.value == "FAILED"
    assert model.model_info.errors[0].code == ErrorCode.NOT_ENOUGH_DATA


def test_an_unknown_model_id_raises_at_once(tmp_path):
    with pytest.raises(NotFoundError) as err:
        MultivariateModel("no-such-model", Registry(tmp_path))
    assert err.value.code == ErrorCode.MODEL_NOT_FOUND


def test_the_pandas_model_is_the_same_model_through_the_client(fitted, tmp_path):
    client = AnomalyDetectorClient(fitted.registry.home)
    assert fitted.status == "READY" and fitted.errors == []
    assert client.get_multivariate_model(fitted.model_id) == fitted.document
    archive = fitted.export(tmp_path / "model.zip")
    imported = client.import_model(archive)
    assert imported["modelId"] != fitted.model_id and imported["modelInfo"]["status"] == "READY"
    twin = MultivariateModel.load(imported["modelId"][:8], fitted.registry)
    assert twin.model_id == imported["modelId"]
    assert twin.variable_states().equals(fitted.variable_states())
    assert twin.diagnostics().equals(fitted.diagnostics())
    assert repr(twin) == f"MultivariateModel('{imported['modelId']}', status=READY)"
    client.delete_multivariate_model(imported["modelId"])
    with pytest.raises(NotFoundError):
        MultivariateModel(imported["modelId"], fitted.registry)


def test_the_model_cap_holds_for_both_front_doors(tmp_path, frame, monkeypatch):
    monkeypatch.setenv("WORKBENCH_MAX_MODELS", "1")
    registry = Registry(tmp_path / "home")
    MultivariateModel.fit(frame.iloc[:300], sliding_window=30, epochs=1, progress=False, registry=registry)
    with pytest.raises(ValidationError, match="maximum of 1 models"):
        MultivariateModel.fit(frame.iloc[:300], sliding_window=30, epochs=1, progress=False, registry=registry)
    with pytest.raises(ValidationError, match="maximum of 1 models"):
        AnomalyDetectorClient(registry.home).train_multivariate_model(
            {"dataSource": str(SAMPLE), "slidingWindow": 30}, wait=True)
    assert registry.count_models() == 1


def test_stored_documents_are_typed_and_round_trip(fitted):
    model = fitted.registry.get_model(fitted.model_id)
    assert isinstance(model, Model) and model.model_info.is_ready
    assert Model.from_json(model.to_json()).to_json() == model.to_json()
    request = ModelInfo.create("x.csv", data_schema="onetable", sliding_window=30,
                               start_time="2021-01-01T00:00:00Z")
    assert request == ModelInfo.from_json({"dataSource": "x.csv", "dataSchema": "OneTable", "slidingWindow": 30,
                                           "startTime": "2021-01-01T00:00:00Z"})


class _WithExtraParameter(MultivariateDetector):
    def __init__(self, extra: int = 7, **params) -> None:
        super().__init__(**params)
        self.extra = extra


def test_detector_parameters_come_from_the_signature():
    detector = _WithExtraParameter(extra=3, sliding_window=40)
    params = detector.get_params()
    assert params["extra"] == 3 and params["sliding_window"] == 40 and "epochs" in params
    assert set(params) == set(inspect.signature(MultivariateDetector).parameters) | {"extra"}
    assert detector.set_params(epochs=5) is detector and detector.epochs == 5
    with pytest.raises(ValidationError):
        detector.set_params(nope=1)


def test_an_unfitted_detector_raises_a_model_state_error():
    with pytest.raises(ModelStateError) as err:
        MultivariateDetector().score(np.zeros((400, 3)))
    assert err.value.code == ErrorCode.MODEL_NOT_READY


def test_the_detector_seams_agree_with_its_score(fitted, frame):
    detector = fitted.detector
    values = frame.iloc[1400:1700].to_numpy()
    result = detector.score(values)
    np.testing.assert_array_equal(detector.score_samples(values), result.score)
    np.testing.assert_array_equal(detector.predict(values), result.is_anomaly)
    decision = detector.decision_function(values)
    np.testing.assert_array_equal(decision >= 0, result.is_anomaly)
    errors = detector.variable_errors(values)
    assert errors.shape == values.shape and np.isnan(errors[:30]).all()
    top = max(1, int(round(0.2 * values.shape[1])))
    from_errors = np.sort(errors[30:], axis=1)[:, -top:].mean(axis=1)
    np.testing.assert_allclose(from_errors, result.score[30:], rtol=1e-6)


_DOCUMENTED = {
    MultivariateModel: ["fit", "load", "detect", "detect_last", "export", "diagnostics", "variable_states", "status",
                        "errors", "document", "detector"],
    AnomalyDetectorClient: [name for name, _ in inspect.getmembers(AnomalyDetectorClient, inspect.isfunction)
                            if not name.startswith("_")],
}


@pytest.mark.parametrize("cls", list(_DOCUMENTED), ids=lambda c: c.__name__)
def test_every_public_method_of_the_front_doors_is_called_by_a_test(cls):
    """How ``MultivariateModel.detect_last``'s ImportError went unnoticed: no test called it."""
    public = {name for name, _ in inspect.getmembers(cls) if not name.startswith("_")}
    assert set(_DOCUMENTED[cls]) == public, "list new public members here and call them in a test"
    source = "\n".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    uncalled = [name for name in public if not re.search(rf"\.{name}\b", source)]
    assert not uncalled, f"{cls.__name__} members no test calls: {uncalled}"
