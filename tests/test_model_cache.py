"""The in-memory model cache of the detection paths: answers never stale (delete, import, a replaced artifact),
bounded by count and by memory, and the v1.1 JSON codec accepting and refusing bodies as the standard library."""
from __future__ import annotations

import json
import shutil

import pytest

from workbench.client import AnomalyDetectorClient
from workbench.contracts import Model
from workbench.exceptions import ErrorCode, NotFoundError
from workbench.mvad.artifacts import METADATA, WEIGHTS
from workbench.server import codec
from conftest import SAMPLES

SAMPLE = str(SAMPLES / "sample_data_5_3000.csv")
BODY = json.loads((SAMPLES / "detect_last_5_3000.json").read_text())


def _train(client: AnomalyDetectorClient, window: int, seed_end: str = "2021-01-02T09:19:00Z") -> str:
    model = client.train_multivariate_model({"dataSource": SAMPLE, "dataSchema": "OneTable",
                                             "startTime": "2021-01-01T00:00:00Z", "endTime": seed_end,
                                             "slidingWindow": window}, wait=True)
    assert model["modelInfo"]["status"] == "READY", model["modelInfo"]["errors"]
    return model["modelId"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two READY models of the sample, different windows, so their answers to one body differ."""
    home = tmp_path_factory.mktemp("cache-home")
    client = AnomalyDetectorClient(home, epochs=2)
    first, second = _train(client, 40), _train(client, 90, "2021-01-02T06:00:00Z")
    return home, first, second


def _score(answer: dict) -> float:
    return answer["results"][0]["value"]["score"]


def test_a_model_deleted_by_another_process_is_not_answered_from_memory(trained, tmp_path):
    home, first, _ = trained
    local = tmp_path / "home"
    shutil.copytree(home, local)
    worker, other_worker = AnomalyDetectorClient(local), AnomalyDetectorClient(local)
    worker.detect_multivariate_last_anomaly(first, BODY)  # cached now
    other_worker.delete_multivariate_model(first)         # as another server worker would
    with pytest.raises(NotFoundError) as err:
        worker.detect_multivariate_last_anomaly(first, BODY)
    assert err.value.code == ErrorCode.MODEL_NOT_FOUND
    with pytest.raises(NotFoundError):
        worker.get_multivariate_model(first)


def test_a_model_deleted_in_process_is_forgotten(trained, tmp_path):
    home, first, _ = trained
    local = tmp_path / "home"
    shutil.copytree(home, local)
    client = AnomalyDetectorClient(local)
    client.detect_multivariate_last_anomaly(first, BODY)
    assert first in client._models
    client.delete_multivariate_model(first)
    assert first not in client._models
    with pytest.raises(NotFoundError):
        client.detect_multivariate_last_anomaly(first, BODY)


def test_an_imported_or_overwritten_model_answers_with_its_own_detector(trained, tmp_path):
    home, first, second = trained
    local = tmp_path / "home"
    shutil.copytree(home, local)
    client = AnomalyDetectorClient(local)
    alone = {m: AnomalyDetectorClient(local).detect_multivariate_last_anomaly(m, BODY) for m in (first, second)}
    assert _score(alone[first]) != _score(alone[second])
    assert client.detect_multivariate_last_anomaly(first, BODY) == alone[first]   # cached now

    imported = client.import_model(client.export_model(second, tmp_path / "second.zip"))["modelId"]
    assert client.detect_multivariate_last_anomaly(imported, BODY) == alone[second]

    # the first model's artifact replaced by the second's, under the first's id (as a restore would)
    registry = client.registry
    model = registry.get_model(first)
    with registry.writing_model_dir(first) as folder:
        for name in (WEIGHTS, METADATA):
            shutil.copy(registry.model_dir(second) / name, folder / name)
    replaced = registry.get_model(second)
    model.model_info = replaced.model_info
    registry.update_model(model)
    assert client.detect_multivariate_last_anomaly(first, BODY) == alone[second]
    assert client.get_multivariate_model(first)["modelInfo"]["slidingWindow"] == 90


def test_the_cache_keeps_at_most_its_count_and_memory(trained, tmp_path):
    home, first, second = trained
    local = tmp_path / "home"
    shutil.copytree(home, local)
    third = AnomalyDetectorClient(local).import_model(
        AnomalyDetectorClient(local).export_model(first, tmp_path / "first.zip"))["modelId"]
    by_count = AnomalyDetectorClient(local, cache_models=2)
    for model_id in (first, second, third):
        by_count.detect_multivariate_last_anomaly(model_id, BODY)
    assert len(by_count._models) == 2 and first not in by_count._models and third in by_count._models

    weights = (by_count.registry.model_dir(first) / WEIGHTS).stat().st_size
    by_memory = AnomalyDetectorClient(local, cache_mb=1)
    by_memory._models.max_bytes = int(weights * 1.5)  # room for one detector
    answers = [by_memory.detect_multivariate_last_anomaly(m, BODY) for m in (first, second, third)]
    assert len(by_memory._models) == 1 and third in by_memory._models
    assert answers[0] == answers[2]  # the same detector (third is first's import), loaded again


@pytest.mark.parametrize("raw", [
    b"", b"null", b'{"a": [1, 2.5, null, "x"]}', (SAMPLES / "detect_last_5_3000.json").read_bytes(),
    b'{"v": NaN, "w": Infinity}', b'{"big": 123456789012345678901234567890}', b"\xef\xbb\xbf{}",
    b'{"s": "\\ud800"}', b'{"a": 1, "a": 2}', b"[" * 64 + b"]" * 64, b"[" * 65 + b"]" * 65,
    b"[" * 5000 + b"]" * 5000, json.dumps({"displayName": "[" * 1000}).encode(), b"{nope", b"\xff\xfe",
    b'{"a": [1, 2', b"1e400",
    # few containers, an object deep in a long list: the walk must still find it (and its huge integer)
    json.dumps({"values": [1.5] * 1000 + [{"big": 2**64}]}).encode(),
    json.dumps({"values": [1.5] * 1000 + [[[[["x"]]]]]}).encode(), b"[" * 30 + b"{}" + b"]" * 30,
])
def test_bodies_are_read_as_the_standard_library_reads_them(raw):
    try:
        expected = ("ok", json.loads(raw or b"null")) if codec.json_depth(raw) <= 64 else \
            ("refused", f"the request body nests {codec.json_depth(raw)} levels deep; at most 64 are accepted")
    except ValueError as exc:
        expected = ("refused", f"the request body is not valid JSON: {exc}")
    try:
        got = ("ok", codec.loads(raw, 64))
    except codec.BodyError as bad:
        got = ("refused", bad.message)
    assert repr(got) == repr(expected)


def test_numbers_beyond_64_bits_in_lists_are_the_floats_every_reader_makes_of_them():
    big = 123456789012345678901234567890
    assert codec.loads(json.dumps({"values": [big, 1.5]}).encode(), 64)["values"] == [float(big), 1.5]
    assert codec.loads(json.dumps({"slidingWindow": big}).encode(), 64) == {"slidingWindow": big}  # stays an int


def test_responses_render_as_json_with_numbers_and_keys_intact():
    content = Model.from_json({"modelId": "x", "modelInfo": {"dataSource": "s", "slidingWindow": 30}}).to_json()
    content.update({"nested": {1: [0.1, 1e-5, 2**53]}, "text": "ünï"})
    rendered = codec.FastJSONResponse(content).body
    assert json.loads(rendered) == json.loads(json.dumps(content))
