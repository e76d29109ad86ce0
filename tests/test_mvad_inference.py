"""Batch and streaming inference: the v1.1 result schema, history rows, verification, severity and contributors."""
from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

from workbench.client import AnomalyDetectorClient
from workbench.contracts import parse_timestamp
from workbench.exceptions import ErrorCode, WorkbenchError
from workbench import MultivariateModel

SAMPLE = "data/samples/sample_data_5_3000.csv"
WINDOW = 40
TRAIN = {"dataSource": SAMPLE, "dataSchema": "OneTable", "startTime": "2021-01-01T00:00:00Z",
         "endTime": "2021-01-02T09:19:00Z", "slidingWindow": WINDOW, "displayName": "inference"}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    client = AnomalyDetectorClient(tmp_path_factory.mktemp("home"), epochs=15)
    doc = client.train_multivariate_model(TRAIN, wait=True)
    assert doc["modelInfo"]["status"] == "READY", doc["modelInfo"]["errors"]
    return client, doc["modelId"]


def _batch(client, model_id, **body):
    result = client.detect_multivariate_batch_anomaly(model_id, dict({"dataSource": SAMPLE}, **body))
    deadline = time.time() + 120
    while result["summary"]["status"] not in ("READY", "FAILED") and time.time() < deadline:
        time.sleep(0.1)
        result = client.get_multivariate_batch_detection_result(result["resultId"])
    return result


def test_batch_result_schema_field_by_field(model):
    client, model_id = model
    result = _batch(client, model_id, startTime="2021-01-02T12:00:00Z", endTime="2021-01-03T00:00:00Z",
                    topContributorCount=3)
    assert set(result) == {"resultId", "summary", "results"}
    summary = result["summary"]
    assert summary["status"] == "READY" and summary["errors"] == []
    assert summary["setupInfo"] == {"dataSource": SAMPLE, "topContributorCount": 3,
                                    "startTime": "2021-01-02T12:00:00Z", "endTime": "2021-01-03T00:00:00Z"}
    assert {s["variable"] for s in summary["variableStates"]} == {f"series_{i}" for i in range(5)}
    assert summary["variableStates"][0]["effectiveCount"] == 721
    rows = result["results"]
    assert len(rows) == 721          # as the service returned for this request; history came from earlier rows
    assert rows[0]["timestamp"] == "2021-01-02T12:00:00Z" and rows[-1]["timestamp"] == "2021-01-03T00:00:00Z"
    for row in rows:
        assert set(row) == {"timestamp", "value", "errors"} and row["errors"] == []
        value = row["value"]
        assert set(value) == {"isAnomaly", "severity", "score", "interpretation"}
        assert 0.0 <= value["severity"] <= 1.0
        if value["isAnomaly"]:
            assert value["severity"] > 0
            contributors = value["interpretation"]
            assert 1 <= len(contributors) <= 3
            scores = [c["contributionScore"] for c in contributors]
            assert scores == sorted(scores, reverse=True)
            for item in contributors:
                assert set(item) == {"variable", "contributionScore", "correlationChanges"}
                assert set(item["correlationChanges"]) == {"changedVariables"}
        else:
            assert value["severity"] == 0.0 and value["interpretation"] == []


def test_rows_without_history_get_insufficient_historical_data(model):
    client, model_id = model
    result = _batch(client, model_id, endTime="2021-01-01T01:39:00Z")
    rows = result["results"]
    assert len(rows) == 100
    missing = [r for r in rows if r.get("errors")]
    assert len(missing) == WINDOW
    assert all(r["errors"] == [{"code": "InsufficientHistoricalData", "message": "historical data is not enough."}]
               and "value" not in r for r in missing)
    assert all("value" in r for r in rows[WINDOW:])


def test_variable_mismatch_fails_the_job_naming_the_variables(model, tmp_path):
    client, model_id = model
    frame = pd.read_csv(SAMPLE).drop(columns=["series_4"]).assign(cpu=1.0)
    path = tmp_path / "other.csv"
    frame.to_csv(path, index=False)
    result = _batch(client, model_id, dataSource=str(path))
    assert result["summary"]["status"] == "FAILED"
    [error] = result["summary"]["errors"]
    assert error["code"] == ErrorCode.VARIABLE_MISMATCH
    assert "series_4" in error["message"] and "cpu" in error["message"]
    assert result["results"] == []


def test_batch_on_a_model_that_is_not_ready(model, tmp_path):
    client = AnomalyDetectorClient(tmp_path, epochs=1)
    failed = client.train_multivariate_model(dict(TRAIN, dataSource="missing.csv"), wait=True)
    with pytest.raises(WorkbenchError) as err:
        client.detect_multivariate_batch_anomaly(failed["modelId"], {"dataSource": SAMPLE})
    assert err.value.code == ErrorCode.MODEL_NOT_READY
    with pytest.raises(WorkbenchError) as err:
        client.get_multivariate_batch_detection_result("00000000-0000-0000-0000-000000000000")
    assert err.value.code == ErrorCode.RESULT_NOT_FOUND


def test_detect_last_on_the_shared_streaming_sample(model):
    client, model_id = model
    body = json.load(open("data/samples/detect_last_5_3000.json"))
    response = client.detect_multivariate_last_anomaly(model_id, body)
    assert set(response) == {"variableStates", "results"}
    assert len(response["variableStates"]) == 5
    assert response["variableStates"][0]["effectiveCount"] == 1000
    [row] = response["results"]
    assert row["timestamp"] == "2021-01-03T01:59:00Z" and row["errors"] == []
    assert set(row["value"]) == {"isAnomaly", "severity", "score", "interpretation"}


def test_detect_last_matches_batch_scoring_of_the_same_timestamp(model):
    client, model_id = model
    body = json.load(open("data/samples/detect_last_5_3000.json"))
    last = client.detect_multivariate_last_anomaly(model_id, body)["results"][0]["value"]
    batch = _batch(client, model_id, startTime="2021-01-03T01:59:00Z", endTime="2021-01-03T01:59:00Z")
    assert batch["results"][0]["value"]["score"] == pytest.approx(last["score"], rel=1e-5)


def test_detect_last_errors(model):
    client, model_id = model
    body = json.load(open("data/samples/detect_last_5_3000.json"))
    wrong = dict(body, variables=body["variables"][:4])
    with pytest.raises(WorkbenchError) as err:
        client.detect_multivariate_last_anomaly(model_id, wrong)
    assert err.value.code == ErrorCode.VARIABLE_MISMATCH and "series_4" in err.value.message
    short = dict(body, variables=[dict(v, timestamps=v["timestamps"][-5:], values=v["values"][-5:])
                                  for v in body["variables"]])
    [row] = client.detect_multivariate_last_anomaly(model_id, short)["results"]
    assert row["errors"][0]["code"] == "InsufficientHistoricalData"
    bad = dict(body, variables=[dict(body["variables"][0], values=["x"] * 1000)] + body["variables"][1:])
    with pytest.raises(WorkbenchError) as err:
        client.detect_multivariate_last_anomaly(model_id, bad)
    assert err.value.code == ErrorCode.INVALID_VALUE


def test_noise_false_positive_rate_and_severity(model):
    client, model_id = model
    result = _batch(client, model_id, startTime="2021-01-02T09:20:00Z")
    values = [r["value"] for r in result["results"]]
    flagged = [v for v in values if v["isAnomaly"]]
    assert len(values) == 1000
    assert len(flagged) / len(values) <= 0.01        # the retired service flagged ~5% of this i.i.d. noise
    assert all(v["severity"] == 0 for v in values if not v["isAnomaly"])


def test_pandas_native_detection_flags_an_injected_anomaly(model):
    client, model_id = model
    frame = pd.read_csv(SAMPLE, index_col="timestamp")
    frame.iloc[2500:2506, 2] += 12.0                        # a large burst on series_2
    detections = MultivariateModel(model_id, client.registry).detect(frame, start_time="2021-01-02T09:20:00Z")
    hit = detections.frame.loc[frame.index[2500]:frame.index[2505]]
    assert hit["is_anomaly"].any()
    peak = hit["score"].idxmax()
    assert detections.contributions.loc[peak].idxmax() == "series_2"
    np.testing.assert_allclose(detections.contributions.dropna().sum(axis=1), 1.0, rtol=1e-5)
    row = int(np.flatnonzero(detections.frame.index == peak)[0])
    top = detections.interpretation(row, 2)
    assert top[0].variable == "series_2" and len(top) == 2
    assert parse_timestamp(detections.frame.index[0]) == parse_timestamp("2021-01-02T09:20:00Z")


def _shifted_last_body(shift: float, burst: float, rows: int | None = None) -> dict:
    """The streaming sample with series_1 moved by ``shift`` throughout and a ``burst`` on series_2's last rows."""
    body = json.load(open("data/samples/detect_last_5_3000.json"))
    for v in body["variables"]:
        v["timestamps"], v["values"] = v["timestamps"][-(rows or 0):], v["values"][-(rows or 0):]
    body["variables"][1]["values"] = [x + shift for x in body["variables"][1]["values"]]
    body["variables"][2]["values"][-3:] = [x + burst for x in body["variables"][2]["values"][-3:]]
    return body


def test_detect_last_judges_drift_from_the_history_sent(model):
    client, model_id = model

    def last(**kw):
        return client.detect_multivariate_last_anomaly(model_id, _shifted_last_body(**kw))["results"][0]["value"]

    # series_1 sits 4 units off for all 1,000 rows: the new normal, not an anomaly ...
    assert not last(shift=4.0, burst=0.0)["isAnomaly"]
    # ... though the same last row alone, with just one window of history, is judged by the training threshold
    assert last(shift=4.0, burst=0.0, rows=WINDOW + 1)["isAnomaly"]
    # a burst on top of the drift still stands out
    assert last(shift=4.0, burst=12.0)["isAnomaly"] and last(shift=0.0, burst=12.0)["isAnomaly"]
