"""Serving under load, with real servers in their own processes: backpressure (429 with Retry-After, never a
dropped connection or a 500), clients that retry on it, and ``serve --workers 2`` sharing one registry."""
from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from azure.ai.anomalydetector import AnomalyDetectorClient as AzureClient
from azure.ai.anomalydetector.models import MultivariateLastDetectionOptions, VariableValues
from azure.core.credentials import AzureKeyCredential
from conftest import SAMPLES, start_server, stop_process
from fastapi.testclient import TestClient

from workbench.remote import RemoteClient, TooManyRequestsError
from workbench.server.app import GC_YOUNG_THRESHOLD, ServerSettings, create_app

KEY = "scale-test-key"
PREFIX = "/anomalydetector/v1.1"
HEADERS = {"Ocp-Apim-Subscription-Key": KEY}
BODY = (SAMPLES / "detect_last_5_3000.json").read_bytes()
UNIVARIATE = (SAMPLES / "univariate_request.json").read_bytes()
TRAIN = {"dataSource": str(SAMPLES / "sample_data_5_3000.csv"), "dataSchema": "OneTable",
         "startTime": "2021-01-01T00:00:00Z", "endTime": "2021-01-02T09:19:00Z", "slidingWindow": 40}


def _start(home: Path, *options: str) -> tuple[subprocess.Popen, str]:
    return start_server(home, KEY, "--epochs", "3", *options)


def _ready_model(endpoint: str) -> str:
    model = httpx.post(f"{endpoint}{PREFIX}/multivariate/models", headers=HEADERS, json=TRAIN, timeout=60)
    assert model.status_code == 201, model.text
    model_id = model.json()["modelId"]
    deadline = time.time() + 300
    while time.time() < deadline:
        status = httpx.get(f"{endpoint}{PREFIX}/multivariate/models/{model_id}", headers=HEADERS).json()
        if status["modelInfo"]["status"] in ("READY", "FAILED"):
            break
        time.sleep(0.3)
    assert status["modelInfo"]["status"] == "READY", status["modelInfo"]["errors"]
    return model_id


@pytest.fixture(scope="module")
def busy_server(tmp_path_factory):
    """One process that admits at most 2 detection calls at a time."""
    proc, endpoint = _start(tmp_path_factory.mktemp("busy-home"), "--max-queue", "2")
    yield endpoint, _ready_model(endpoint)
    stop_process(proc)


async def _flood(urls_bodies: list[tuple[str, bytes]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(urls_bodies))
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        return await asyncio.gather(*(client.post(url, headers={**HEADERS, "Content-Type": "application/json"},
                                                  content=body) for url, body in urls_bodies))


def test_a_flood_beyond_the_queue_is_answered_200_or_429_with_retry_after(busy_server):
    endpoint, model_id = busy_server
    last = f"{endpoint}{PREFIX}/multivariate/models/{model_id}:detect-last"
    alone = httpx.post(last, headers=HEADERS, content=BODY, timeout=60).json()
    calls = [(last, BODY)] * 60 + [(f"{endpoint}{PREFIX}/timeseries/last/detect", UNIVARIATE)] * 20
    responses = asyncio.run(_flood(calls))  # any dropped connection raises here
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 429} and statuses.count(429) > 0 and statuses.count(200) >= 2
    for response in responses:
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) >= 1
            assert response.json() == {"code": "TooManyRequests", "message": response.json()["message"]}
            assert response.headers["x-ms-error-code"] == "TooManyRequests"
    answered = [r.json() for r in responses[:60] if r.status_code == 200]
    assert answered and all(answer == alone for answer in answered)  # the load changes no answer
    assert any(r.status_code == 429 for r in responses[60:]) or any(r.status_code == 200 for r in responses[60:])


def _concurrently(calls: int, call) -> tuple[list, list]:
    """Run ``call()`` in ``calls`` threads released together; (answers, exceptions)."""
    barrier, answers, failures = threading.Barrier(calls), [], []

    def one() -> None:
        barrier.wait()
        try:
            answers.append(call())
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            failures.append(exc)

    threads = [threading.Thread(target=one) for _ in range(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return answers, failures


def test_the_official_sdk_retries_on_429_until_answered(busy_server):
    endpoint, model_id = busy_server
    body = json.loads(BODY)
    options = MultivariateLastDetectionOptions(
        variables=[VariableValues(variable=v["variable"], timestamps=v["timestamps"], values=v["values"])
                   for v in body["variables"]], top_contributor_count=10)
    sdk = AzureClient(endpoint, AzureKeyCredential(KEY))
    answers, failures = _concurrently(12, lambda: sdk.detect_multivariate_last_anomaly(model_id, options))
    assert failures == [] and len(answers) == 12
    assert len({a.results[0].value.score for a in answers}) == 1


def test_the_remote_client_retries_on_429_and_gives_up_when_told(busy_server):
    endpoint, model_id = busy_server
    body = json.loads(BODY)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    patient = RemoteClient(endpoint, KEY, max_attempts=20, sleep=sleep)
    answers, failures = _concurrently(12, lambda: patient.detect_multivariate_last_anomaly(model_id, body))
    assert failures == [] and len(answers) == 12 and all(a == answers[0] for a in answers)
    assert waits and all(w >= 1 for w in waits)  # it was told to wait, and waited as told

    impatient = RemoteClient(endpoint, KEY, max_attempts=1)
    answers, failures = _concurrently(12, lambda: impatient.detect_multivariate_last_anomaly(model_id, body))
    assert failures and all(isinstance(f, TooManyRequestsError) and f.code == "TooManyRequests" for f in failures)
    assert len(answers) + len(failures) == 12


def test_several_workers_share_the_registry_and_run_a_job_once(tmp_path):
    proc, endpoint = _start(tmp_path / "home", "--workers", "2")
    try:
        created = httpx.post(f"{endpoint}{PREFIX}/multivariate/models", headers=HEADERS, json=TRAIN, timeout=60)
        assert created.status_code == 201
        model_id = created.json()["modelId"]
        url = f"{endpoint}{PREFIX}/multivariate/models/{model_id}"
        seen: list[str] = []
        answered_by: set[str] = set()
        deadline = time.time() + 300
        while time.time() < deadline and (not seen or seen[-1] != "READY" or len(answered_by) < 2):
            response = httpx.get(url, headers=HEADERS)  # a new connection each time: either worker may answer
            assert response.status_code == 200
            answered_by.add(response.headers["x-workbench-process"])
            seen.append(response.json()["modelInfo"]["status"])
            time.sleep(0.05)
        assert len(answered_by) == 2, "every status read came from one worker"
        assert seen[-1] == "READY" and "FAILED" not in seen
        first_ready = seen.index("READY")
        assert set(seen[first_ready:]) == {"READY"}  # never back to RUNNING: the job ran once
        documents = {}
        while len(documents) < 2 and time.time() < deadline:
            response = httpx.get(url, headers=HEADERS)
            documents[response.headers["x-workbench-process"]] = response.json()
        first, second = documents.values()
        assert first == second and first["modelInfo"]["diagnosticsInfo"]["modelState"]["epochIds"] == [3]
        listed = httpx.get(f"{endpoint}{PREFIX}/multivariate/models", headers=HEADERS).json()
        assert listed["currentCount"] == 1

        answers = {}
        while len(answers) < 2 and time.time() < deadline:
            response = httpx.post(f"{url}:detect-last", headers=HEADERS, content=BODY, timeout=60)
            assert response.status_code == 200, response.text
            answers[response.headers["x-workbench-process"]] = response.json()
        first, second = answers.values()
        assert first == second and first["results"][0]["timestamp"] == "2021-01-03T01:59:00Z"
    finally:
        stop_process(proc)


def test_refused_callers_are_spread_over_the_coming_seconds():
    from workbench.server.admission import Admission

    now = [100.2]
    admission = Admission(2, clock=lambda: now[0])
    assert [admission.enter() for _ in range(3)] == [True, True, False]
    assert [admission.retry_after() for _ in range(6)] == [1, 1, 2, 2, 3, 3]
    now[0] = 101.5  # a second later: the next two seconds are still promised in full
    assert admission.retry_after() == 3
    now[0] = 104.5  # every promise has come due
    assert admission.retry_after() == 1
    admission.leave()
    assert admission.enter() and admission.rejected == 1


def test_job_threads_run_at_a_lower_cpu_priority_so_detections_go_first():
    from workbench.server.app import _lower_priority

    seen = {}

    def job() -> None:
        before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        _lower_priority(10)
        seen["job"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) - before

    thread = threading.Thread(target=job)
    thread.start()
    thread.join()
    assert seen["job"] == min(10, 19 - os.getpriority(os.PRIO_PROCESS, 0))  # this thread's own nice, capped at 19
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == os.getpriority(os.PRIO_PROCESS, 0)


def test_serving_collects_garbage_less_often_and_an_embedded_app_leaves_the_collector_as_it_was(tmp_path):
    """While the app serves, start-up objects are frozen and young objects collected every 10,000 allocations
    (hundreds of parsed bodies in flight were traversed again and again); afterwards the settings are back."""
    before = gc.get_threshold()
    with TestClient(create_app(ServerSettings(api_key="k", home=tmp_path))) as client:
        serving, frozen = gc.get_threshold(), gc.get_freeze_count()
        assert client.get("/anomalydetector/v1.1/openapi.json").status_code == 200
    assert serving == (max(GC_YOUNG_THRESHOLD, before[0]), *before[1:]) and frozen > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
