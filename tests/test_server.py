"""The v1.1 service, driven by Microsoft's own unmodified client (azure-ai-anomalydetector 3.0.0b6) over loopback."""
from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import httpx
import pytest
from azure.ai.anomalydetector import AnomalyDetectorClient as AzureClient
from azure.ai.anomalydetector.models import (
    AlignPolicy, ModelInfo, MultivariateBatchDetectionOptions, MultivariateLastDetectionOptions, TimeSeriesPoint,
    UnivariateChangePointDetectionOptions, UnivariateDetectionOptions, VariableValues,
)
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from conftest import start_server, stop_process

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
KEY = "test-key-123"
SAMPLE_CSV = str(SAMPLES / "sample_data_5_3000.csv")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``workbench serve`` in its own process on a free loopback port; stopped after the module."""
    proc, endpoint = start_server(tmp_path_factory.mktemp("server-home"), KEY, "--epochs", "5", "--max-body-mb", "2")
    yield endpoint
    stop_process(proc)


@pytest.fixture(scope="module")
def sdk(server):
    return AzureClient(server, AzureKeyCredential(KEY))


@pytest.fixture(scope="module")
def ready_model(sdk):
    info = ModelInfo(data_source=SAMPLE_CSV, data_schema="OneTable", start_time=dt.datetime(2021, 1, 1),
                     end_time=dt.datetime(2021, 1, 2, 9, 19), sliding_window=40, display_name="sdk",
                     align_policy=AlignPolicy(align_mode="Outer", fill_n_a_method="Linear", padding_value=0))
    model = sdk.train_multivariate_model(info)
    deadline = time.time() + 300
    while model.model_info.status not in ("READY", "FAILED") and time.time() < deadline:
        time.sleep(1)
        model = sdk.get_multivariate_model(model.model_id)
    assert model.model_info.status == "READY", model.model_info.errors
    return model


def test_train_poll_and_diagnostics(ready_model):
    state = ready_model.model_info.diagnostics_info.model_state
    assert state.epoch_ids == [5]
    assert len(state.train_losses) == 1
    assert [v.variable for v in ready_model.model_info.diagnostics_info.variable_states] == \
        [f"series_{i}" for i in range(5)]


def test_batch_detection_and_result_polling(sdk, ready_model):
    options = MultivariateBatchDetectionOptions(data_source=SAMPLE_CSV, top_contributor_count=3,
                                                start_time=dt.datetime(2021, 1, 2, 12), end_time=dt.datetime(2021, 1, 3))
    result = sdk.detect_multivariate_batch_anomaly(ready_model.model_id, options)
    deadline = time.time() + 120
    while result.summary.status not in ("READY", "FAILED") and time.time() < deadline:
        time.sleep(0.5)
        result = sdk.get_multivariate_batch_detection_result(result.result_id)
    assert result.summary.status == "READY", result.summary.errors
    assert len(result.results) == 721
    assert result.results[0].timestamp == dt.datetime(2021, 1, 2, 12, tzinfo=dt.timezone.utc)
    assert 0 <= result.results[0].value.severity <= 1


def test_detect_last_with_the_shared_streaming_body(sdk, ready_model):
    body = json.loads((SAMPLES / "detect_last_5_3000.json").read_text())
    options = MultivariateLastDetectionOptions(
        variables=[VariableValues(variable=v["variable"], timestamps=v["timestamps"], values=v["values"])
                   for v in body["variables"]], top_contributor_count=10)
    result = sdk.detect_multivariate_last_anomaly(ready_model.model_id, options)
    assert len(result.variable_states) == 5
    assert result.results[0].timestamp == dt.datetime(2021, 1, 3, 1, 59, tzinfo=dt.timezone.utc)


def test_list_and_delete(sdk, ready_model):
    info = ModelInfo(data_source=SAMPLE_CSV, data_schema="OneTable", sliding_window=30,
                     start_time=dt.datetime(2021, 1, 1), end_time=dt.datetime(2021, 1, 1, 0, 10))
    extra = [sdk.train_multivariate_model(info).model_id for _ in range(2)]   # too little data: FAILED fast
    listed = [m.model_id for m in sdk.list_multivariate_models(skip=0, top=2)]  # ItemPaged follows nextLink
    assert ready_model.model_id in listed and set(extra) <= set(listed)
    for model_id in extra:
        sdk.delete_multivariate_model(model_id)
    with pytest.raises(ResourceNotFoundError) as err:
        sdk.get_multivariate_model(extra[0])
    assert err.value.error.code == "ModelNotExist"


def test_univariate_calls(sdk):
    request = json.loads((ROOT.parent / "shared/data/azure_mvad_sample/univariate/request-data.json").read_text())
    options = UnivariateDetectionOptions(
        series=[TimeSeriesPoint(timestamp=p["timestamp"], value=p["value"]) for p in request["series"]],
        granularity=request["granularity"])
    entire = sdk.detect_univariate_entire_series(options)
    assert len(entire.is_anomaly) == len(request["series"])
    last = sdk.detect_univariate_last_point(options)
    assert last.expected_value is not None
    change = sdk.detect_univariate_change_point(UnivariateChangePointDetectionOptions(
        series=options.series, granularity=request["granularity"]))
    assert len(change.is_change_point) == len(request["series"])


def test_openapi_document_lists_the_routes(server):
    doc = httpx.get(f"{server}/anomalydetector/v1.1/openapi.json").json()
    paths = set(doc["paths"])
    for route in ("/multivariate/models", "/multivariate/models/{model_id}",
                  "/multivariate/models/{model_id}:detect-batch", "/multivariate/detect-batch/{result_id}",
                  "/multivariate/models/{model_id}:detect-last", "/timeseries/entire/detect",
                  "/timeseries/last/detect", "/timeseries/changepoint/detect"):
        assert f"/anomalydetector/v1.1{route}" in paths


@pytest.mark.parametrize("headers, body, path, method, status, code", [
    ({}, None, "/multivariate/models", "GET", 401, "Unauthorized"),
    ({"Ocp-Apim-Subscription-Key": "wrong"}, None, "/multivariate/models", "GET", 401, "Unauthorized"),
    ({"Ocp-Apim-Subscription-Key": KEY}, b"{not json", "/multivariate/models", "POST", 400, "BadArgument"),
    ({"Ocp-Apim-Subscription-Key": KEY}, None, "/multivariate/models/nope", "GET", 404, "ModelNotExist"),
    ({"Ocp-Apim-Subscription-Key": KEY}, None, "/multivariate/detect-batch/00000000-0000-0000-0000-000000000000",
     "GET", 404, "ResultNotExist"),
    ({"Ocp-Apim-Subscription-Key": KEY}, json.dumps({"dataSource": "/etc/passwd.csv"}).encode(),
     "/multivariate/models", "POST", 403, "DataSourceNotAllowed"),
    ({"Ocp-Apim-Subscription-Key": KEY}, json.dumps({"dataSource": "https://evil.example.com/x.csv"}).encode(),
     "/multivariate/models", "POST", 403, "DataSourceNotAllowed"),
    ({"Ocp-Apim-Subscription-Key": KEY}, json.dumps({"dataSource": SAMPLE_CSV, "slidingWindow": 5}).encode(),
     "/multivariate/models", "POST", 400, "InvalidSlidingWindow"),
    ({"Ocp-Apim-Subscription-Key": KEY}, b"x" * (3 * 1024 * 1024), "/multivariate/models", "POST", 413,
     "RequestTooLarge"),
])
def test_errors_have_the_right_status_and_code(server, headers, body, path, method, status, code):
    response = httpx.request(method, f"{server}/anomalydetector/v1.1{path}", headers=headers, content=body,
                             timeout=30)
    assert response.status_code == status
    assert response.json()["code"] == code and response.json()["message"]


def test_sdk_sees_a_wrong_key_as_an_http_error(server):
    with pytest.raises(HttpResponseError) as err:
        list(AzureClient(server, AzureKeyCredential("bad")).list_multivariate_models())
    assert err.value.status_code == 401
