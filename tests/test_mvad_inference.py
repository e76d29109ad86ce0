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
from benchmarks.server_load import equal_to_rounding

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


def _edited_bodies() -> dict[str, dict]:
    """The streaming sample as fleets send it and as they should not: shuffled, gapped, misaligned, with
    repeated or bad timestamps, non-canonical timestamp text, missing values, a variable twice."""
    sample = json.load(open("data/samples/detect_last_5_3000.json"))
    rng = np.random.default_rng(5)

    def edited(edit) -> dict:
        body = json.loads(json.dumps(sample))
        for j, variable in enumerate(body["variables"]):
            pairs = edit(j, list(zip(variable["timestamps"], variable["values"])))
            variable["timestamps"], variable["values"] = [t for t, _ in pairs], [v for _, v in pairs]
        return body

    bodies = {
        "as sent": sample,
        "shuffled": edited(lambda j, p: [p[i] for i in rng.permutation(len(p))]),
        "one variable reversed": edited(lambda j, p: p[::-1] if j == 1 else p),
        "gapped in every variable": edited(lambda j, p: p[:300] + p[340:]),
        "misaligned gaps": edited(lambda j, p: p[:200 + 30 * j] + p[220 + 30 * j:]),
        "staggered starts": edited(lambda j, p: p[7 * j:]),
        "missing values": edited(lambda j, p: [(t, None if i % (j + 7) == 3 else v) for i, (t, v) in enumerate(p)]),
        "offsets and fractions": edited(lambda j, p: [(t.replace("Z", "+00:00" if j % 2 else ".000Z"), v)
                                                      for t, v in p]),
        "an offset repeating a timestamp": edited(lambda j, p: [(t.replace("Z", "+01:00") if i == 500 and j == 2
                                                                 else t, v) for i, (t, v) in enumerate(p)]),
        "repeated timestamp": edited(lambda j, p: p[:10] + [(p[11][0], p[10][1])] + p[11:] if j == 3 else p),
        "repeated in every variable": edited(lambda j, p: p[:10] + [(p[11][0], p[10][1])] + p[11:]),
        "no such day": edited(lambda j, p: [("2021-02-29T00:00:00Z", p[0][1])] + p[1:] if j == 2 else p),
        "beyond the year 2261": edited(lambda j, p: p[:5] + [("2300-01-02T00:00:00Z", p[5][1])] + p[6:] if j == 2 else p),
        "hour 24": edited(lambda j, p: p[:5] + [("2021-01-02T24:00:00Z", p[5][1])] + p[6:] if j == 4 else p),
        "day first": edited(lambda j, p: p[:5] + [("02/01/2021 10:00", p[5][1])] + p[6:] if j == 0 else p),
        "blank timestamp": edited(lambda j, p: p[:5] + [("", p[5][1])] + p[6:] if j == 1 else p),
        "a value that is text": edited(lambda j, p: p[:5] + [(p[5][0], "x")] + p[6:] if j == 1 else p),
    }
    twice = json.loads(json.dumps(sample))
    twice["variables"][4] = twice["variables"][3]
    bodies["a variable twice"] = twice
    return bodies


def _outcome(client, model_id: str, body: dict) -> dict:
    """A detect-last answer, or its error."""
    try:
        return client.detect_multivariate_last_anomaly(model_id, body)
    except WorkbenchError as exc:
        return {"error": exc.to_error()}


def test_detect_last_answers_as_the_general_path_does(model, monkeypatch):
    """The detect-last path (timestamps read by numpy where canonical, variables handed to alignment as arrays)
    answers every body, valid or not, exactly as pandas' timestamp parsing and per-variable Series do."""
    from workbench.contracts import LastDetectionRequest
    from workbench.mvad.inference import StreamMemo, detect_last_series
    from workbench.timegrid import parse_timestamps

    monkeypatch.setattr(StreamMemo, "known", lambda self, stamps, values: None)  # every call scores every row
    client, model_id = model
    bodies = _edited_bodies()
    fast = {name: _outcome(client, model_id, body) for name, body in bodies.items()}
    monkeypatch.setattr("workbench.timegrid._canonical_utc", lambda values: None)  # pandas reads every list
    general = {name: _outcome(client, model_id, body) for name, body in bodies.items()}
    assert json.dumps(fast, sort_keys=True) == json.dumps(general, sort_keys=True)
    document, detector = client._models.ready(model_id)
    for name, answer in fast.items():
        if "error" in answer:
            continue
        request = LastDetectionRequest.from_json(bodies[name])
        series = {v.variable: pd.Series([np.nan if x is None else float(x) for x in v.values],
                                        index=parse_timestamps(v.timestamps)).sort_index()
                  for v in request.variables}
        as_series = detect_last_series(detector, series, document.model_info.align_policy,
                                       request.top_contributor_count).to_json()
        assert json.dumps(answer, sort_keys=True) == json.dumps(as_series, sort_keys=True), name
    errors = {name for name, answer in fast.items() if "error" in answer}
    assert errors == {"repeated timestamp", "repeated in every variable", "an offset repeating a timestamp",
                      "no such day", "beyond the year 2261", "hour 24", "day first", "blank timestamp", "a value that is text",
                      "a variable twice"}
    assert fast["gapped in every variable"]["variableStates"][0]["filledNARatio"] > 0
    assert fast["beyond the year 2261"]["error"]["code"] == "InvalidTimestampFormat"


def test_a_streaming_caller_gets_a_fresh_calls_answer_while_only_new_rows_are_scored(model):
    """Fleets send detect-last the same history again, a few rows on: the model's memo keeps the scores of the
    rows the calls share value for value, so only new rows are scored -- and every answer is a fresh call's."""
    from workbench.contracts import LastDetectionRequest
    from workbench.mvad.inference import detect_last

    client, model_id = model
    frame = pd.read_csv(SAMPLE, index_col=0)

    def body(first: int, rows: int = 300, edit=None) -> dict:
        part = frame.iloc[first:first + rows].copy()
        if edit is not None:
            part.iloc[edit, 2] += 5.0
        return {"variables": [{"variable": c, "timestamps": list(part.index), "values": part[c].tolist()}
                              for c in part.columns], "topContributorCount": 3}

    document, detector, memo = client._models.streaming(model_id)
    scored = [0]
    score = detector.score

    def counting(values, known=None):
        scored[0] += len(values) - (min(len(known), len(values) - 1) if known is not None else 0)
        return score(values, known=known)

    detector.score = counting
    calls = [("first", body(0)), ("one row on", body(1)), ("three rows on", body(4)), ("the same again", body(4)),
             ("a past value changed", body(5, edit=150)), ("a longer history", body(0, 400)),
             ("a shorter history", body(300, 100)), ("a jump past the memo", body(1000)),
             ("the anomaly of the sample", body(2700))]
    rows_scored, answers = [], {}
    try:
        for name, sent in calls:
            scored[0] = 0
            answers[name] = client.detect_multivariate_last_anomaly(model_id, sent)
            rows_scored.append(scored[0])
            fresh = detect_last(detector, document.model_info.align_policy,
                                LastDetectionRequest.from_json(sent)).to_json()
            assert equal_to_rounding(answers[name], fresh), name
            if name == "first":
                assert answers[name] == fresh  # nothing in the memo: the very same arithmetic
    finally:
        detector.score = score
    assert answers["the same again"] == answers["three rows on"]  # the same body: the same answer, to the last digit
    assert rows_scored[:5] == [300, 1, 3, 1, 300 - 150]  # the first, then only new rows (the last row always)
    assert rows_scored[5:] == [400, 1, 300, 300]  # before the memo: every row; inside it: the last; past it: every row


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
