"""Training lifecycle, registry, export/import, recovery and bad requests, through the Azure-compatible client."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from workbench.client import AnomalyDetectorClient
from workbench.exceptions import ErrorCode, WorkbenchError
from workbench.service.registry import Registry

SAMPLE = "data/samples/sample_data_5_3000.csv"
TRAIN = {"dataSource": SAMPLE, "dataSchema": "OneTable", "startTime": "2021-01-01T00:00:00Z",
         "endTime": "2021-01-02T09:19:00Z", "slidingWindow": 40,
         "alignPolicy": {"alignMode": "Outer", "fillNAMethod": "Linear", "paddingValue": 0},
         "displayName": "lifecycle"}
EPOCHS = 12


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One model trained once for the module (12 epochs, window 40)."""
    home = tmp_path_factory.mktemp("home")
    client = AnomalyDetectorClient(home, epochs=EPOCHS)
    model = client.train_multivariate_model(TRAIN, wait=True)
    return client, model


def _wait(client, model_id, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        doc = client.get_multivariate_model(model_id)
        if doc["modelInfo"]["status"] in ("READY", "FAILED"):
            return doc
        time.sleep(0.2)
    raise AssertionError("training did not finish")


def test_trained_model_has_the_documented_shape(trained):
    _, model = trained
    info = model["modelInfo"]
    assert info["status"] == "READY", info["errors"]
    assert set(model) == {"modelId", "createdTime", "lastUpdatedTime", "modelInfo"}
    for key in ("dataSource", "dataSchema", "startTime", "endTime", "displayName", "slidingWindow", "alignPolicy",
                "status", "errors", "diagnosticsInfo"):
        assert key in info
    state = info["diagnosticsInfo"]["modelState"]
    assert state["epochIds"] == [10, 12]        # every 10 epochs, and the last one
    assert len(state["trainLosses"]) == len(state["validationLosses"]) == len(state["latenciesInSeconds"]) == 2
    assert all(loss > 0 for loss in state["trainLosses"] + state["validationLosses"])
    states = info["diagnosticsInfo"]["variableStates"]
    assert [s["variable"] for s in states] == [f"series_{i}" for i in range(5)]
    assert states[0]["effectiveCount"] == 2000 and states[0]["filledNARatio"] == 0.0
    assert states[0]["firstTimestamp"] == "2021-01-01T00:00:00Z"


def test_background_training_goes_through_the_states(tmp_path):
    client = AnomalyDetectorClient(tmp_path, epochs=3)
    created = client.train_multivariate_model(TRAIN)
    assert created["modelInfo"]["status"] in ("CREATED", "RUNNING")
    assert created["modelInfo"]["diagnosticsInfo"]["modelState"]["epochIds"] == []
    done = _wait(client, created["modelId"])
    assert done["modelInfo"]["status"] == "READY"


def test_list_paging_and_delete(tmp_path, trained):
    client, model = trained
    page = client.list_multivariate_models(skip=0, top=10)
    assert page["currentCount"] >= 1 and page["maxCount"] >= page["currentCount"]
    assert model["modelId"] in [m["modelId"] for m in page["models"]]
    # paging over several failed (fast) models
    other = AnomalyDetectorClient(tmp_path, epochs=1)
    ids = [other.train_multivariate_model(dict(TRAIN, dataSource="missing.csv"), wait=True)["modelId"]
           for _ in range(3)]
    first = other.list_multivariate_models(skip=0, top=2)
    assert len(first["models"]) == 2 and first["currentCount"] == 3 and first["nextLink"]
    second = other.list_multivariate_models(skip=2, top=2)
    assert len(second["models"]) == 1 and second["nextLink"] == ""
    listed = [m["modelId"] for m in first["models"] + second["models"]]
    assert sorted(listed) == sorted(ids)
    other.delete_multivariate_model(ids[0])
    assert other.list_multivariate_models()["currentCount"] == 2
    with pytest.raises(WorkbenchError) as err:
        other.get_multivariate_model(ids[0])
    assert err.value.code == ErrorCode.MODEL_NOT_FOUND


def test_registry_lasts_across_processes(trained):
    client, model = trained
    code = ("import json,sys; from workbench.client import AnomalyDetectorClient as C; "
            f"print(json.dumps(C({str(client.registry.home)!r}).get_multivariate_model({model['modelId']!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["modelInfo"]["status"] == "READY"


def test_export_import_gives_identical_scores(trained, tmp_path):
    client, model = trained
    path = client.export_model(model["modelId"], tmp_path / "model.zip")
    elsewhere = AnomalyDetectorClient(tmp_path / "elsewhere")
    imported = elsewhere.import_model(path)
    assert imported["modelInfo"]["status"] == "READY"
    assert imported["modelInfo"]["diagnosticsInfo"] == model["modelInfo"]["diagnosticsInfo"]
    body = json.load(open("data/samples/detect_last_5_3000.json"))
    a = client.detect_multivariate_last_anomaly(model["modelId"], body)
    b = elsewhere.detect_multivariate_last_anomaly(imported["modelId"], body)
    assert a == b


def test_import_rejects_foreign_archives(tmp_path):
    import zipfile
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("model.json", "{}")
        archive.writestr("payload.pkl", b"\x80\x04")
    with pytest.raises(WorkbenchError) as err:
        AnomalyDetectorClient(tmp_path / "h").import_model(bad)
    assert err.value.code == ErrorCode.INVALID_MODEL_ARCHIVE


def test_training_is_deterministic_for_a_seed(tmp_path, trained):
    _, model = trained
    again = AnomalyDetectorClient(tmp_path, epochs=EPOCHS).train_multivariate_model(TRAIN, wait=True)
    assert again["modelInfo"]["diagnosticsInfo"]["modelState"]["trainLosses"] == \
        model["modelInfo"]["diagnosticsInfo"]["modelState"]["trainLosses"]


@pytest.mark.parametrize("change, code", [
    ({"slidingWindow": 27}, ErrorCode.INVALID_SLIDING_WINDOW),
    ({"slidingWindow": 2881}, ErrorCode.INVALID_SLIDING_WINDOW),
    ({"alignPolicy": {"alignMode": "Diagonal"}}, ErrorCode.INVALID_ALIGN_MODE),
    ({"alignPolicy": {"fillNAMethod": "Fixed"}}, ErrorCode.INVALID_PADDING_VALUE),
    ({"dataSource": None}, ErrorCode.BAD_ARGUMENT),
    ({"endTime": "2020-01-01T00:00:00Z"}, ErrorCode.INVALID_TIMESTAMP_RANGE),
])
def test_bad_training_requests_are_refused_at_once(tmp_path, change, code):
    client = AnomalyDetectorClient(tmp_path)
    with pytest.raises(WorkbenchError) as err:
        client.train_multivariate_model({k: v for k, v in dict(TRAIN, **change).items() if v is not None})
    assert err.value.code == code
    assert client.list_multivariate_models()["currentCount"] == 0


def test_too_little_data_fails_the_model_with_a_reason(tmp_path):
    client = AnomalyDetectorClient(tmp_path, epochs=1)
    model = client.train_multivariate_model(dict(TRAIN, endTime="2021-01-01T00:30:00Z"), wait=True)
    assert model["modelInfo"]["status"] == "FAILED"
    assert model["modelInfo"]["errors"][0]["code"] == ErrorCode.NOT_ENOUGH_DATA


def test_unknown_model_id(tmp_path):
    client = AnomalyDetectorClient(tmp_path)
    for call in (lambda: client.get_multivariate_model("nope"),
                 lambda: client.delete_multivariate_model("00000000-0000-0000-0000-000000000000"),
                 lambda: client.detect_multivariate_last_anomaly("nope", {"variables": [
                     {"variable": "a", "timestamps": ["2021-01-01T00:00:00Z"], "values": [1]}]})):
        with pytest.raises(WorkbenchError) as err:
            call()
        assert err.value.code == ErrorCode.MODEL_NOT_FOUND


def test_killed_training_is_marked_failed_and_others_survive(tmp_path, trained):
    client, ready = trained
    home = tmp_path / "crash"
    keep = AnomalyDetectorClient(home, epochs=2).train_multivariate_model(TRAIN, wait=True)
    script = ("from workbench.client import AnomalyDetectorClient as C; import json,sys; "
              f"c=C({str(home)!r}, epochs=100000); m=c.train_multivariate_model({TRAIN!r}, wait=False); "
              "print(m['modelId'], flush=True); import time; time.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    model_id = proc.stdout.readline().strip()
    deadline = time.time() + 60
    while Registry(home).get_model(model_id).model_info.status.value != "RUNNING" and time.time() < deadline:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    reopened = AnomalyDetectorClient(home)
    killed = reopened.get_multivariate_model(model_id)["modelInfo"]
    assert killed["status"] == "FAILED"
    assert killed["errors"][-1]["code"] == ErrorCode.TRAINING_INTERRUPTED
    assert not reopened.registry.model_dir(model_id).exists()
    assert reopened.get_multivariate_model(keep["modelId"])["modelInfo"]["status"] == "READY"
    assert np.isfinite(reopened.detect_multivariate_last_anomaly(
        keep["modelId"], json.load(open("data/samples/detect_last_5_3000.json")))["results"][0]["value"]["score"])
