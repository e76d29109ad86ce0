"""The local server never answers a bad request with a 500: malformed bodies on every route, each error in v1.1 shape.

Cases are generated here (seeded): raw bytes that are not JSON or nest too deep, and each field of a
valid body for every route replaced by odd values or removed.  Every answer must be below 500, and every
error a ``{code, message}`` body whose code is repeated in ``x-ms-error-code``.
"""
from __future__ import annotations

import copy
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from workbench.server.app import MAX_JSON_DEPTH, ServerSettings, create_app

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
KEY = "fuzz-key"
HEADERS = {"Ocp-Apim-Subscription-Key": KEY}
P = "/anomalydetector/v1.1"
ODD = [None, True, -1, 0, 2**70, -1e308, 1e308, "", "x" * 3000, "2021-13-45T99:99:99Z", [], {}, [None],
       {"a": None}, [[[]]], "\u0000\u202e", 0.5]
RAW = [b"", b"{", b"[", b"nul", b"{'a': 1}", b"\xff\xfe\x00", b'{"a":' * 500, b"[" * 100_000 + b"]" * 100_000,
       b'{"a":' * 100_000 + b"1" + b"}" * 100_000, b"1" * 5000, b"1e999", b"NaN", b"-Infinity", b"0", b'"x"',
       b"true", b"null", b"[]", b'{"series": [' + b"{}," * 20 + b"{}]}", b'{"\\ud800": 1}',
       b'"' + b"\\" * 10_001 + b'"']


def _series(n: int, step_minutes: int = 60) -> list[dict[str, Any]]:
    return [{"timestamp": f"2021-01-{1 + (i * step_minutes) // 1440:02d}T{(i * step_minutes) // 60 % 24:02d}:"
             f"{i * step_minutes % 60:02d}:00Z", "value": float(i % 7)} for i in range(n)]


def _mutations(body: Any, rng: random.Random) -> Iterator[Any]:
    """``body`` with one field (at any depth; a list's first item) replaced by an odd value or removed."""
    def paths(node: Any, prefix: tuple) -> Iterator[tuple]:
        if isinstance(node, dict):
            for key, value in node.items():
                yield prefix + (key,)
                yield from paths(value, prefix + (key,))
        elif isinstance(node, list) and node:
            yield prefix + (0,)
            yield from paths(node[0], prefix + (0,))

    for path in paths(body, ()):
        for value in rng.sample(ODD, 4) + ["<drop>"]:
            mutated = copy.deepcopy(body)
            parent = mutated
            for key in path[:-1]:
                parent = parent[key]
            if value == "<drop>":
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
            yield mutated
    yield [body]
    yield {**body, "unknownField": {"nested": [1, 2, {"deep": None}]}}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    settings = ServerSettings(api_key=KEY, home=tmp_path_factory.mktemp("fuzz-home"), data_roots=(SAMPLES,),
                              max_body_bytes=512 * 1024, job_workers=1, epochs=1)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def model_id(app):
    body = {"dataSource": str(SAMPLES / "sample_data_5_3000.csv"), "startTime": "2021-01-01T00:00:00Z",
            "endTime": "2021-01-01T16:39:00Z", "slidingWindow": 30}
    response = app.post(f"{P}/multivariate/models", headers=HEADERS, json=body)
    assert response.status_code == 201, response.text
    model = response.json()["modelId"]
    deadline = time.time() + 120
    while app.get(f"{P}/multivariate/models/{model}", headers=HEADERS).json()["modelInfo"]["status"] \
            not in ("READY", "FAILED") and time.time() < deadline:
        time.sleep(0.2)
    assert app.get(f"{P}/multivariate/models/{model}", headers=HEADERS).json()["modelInfo"]["status"] == "READY"
    return model


def _check(response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        error = response.json()
        assert set(error) == {"code", "message"} and error["code"] and error["message"], what
        assert response.headers["x-ms-error-code"] == error["code"], what


def test_malformed_bodies_on_every_route_are_answered_below_500(app, model_id):
    rng = random.Random(16)
    start = "2021-01-01T00:00:00Z"
    detect_last = {"variables": [{"variable": f"series_{i}", "timestamps": [p["timestamp"] for p in _series(31, 1)],
                                  "values": [float(j % 5) for j in range(31)]} for i in range(5)],
                   "topContributorCount": 3}
    routes = [
        ("POST", f"{P}/multivariate/models",
         {"dataSource": "/nowhere/x.csv", "startTime": start, "endTime": "2021-01-02T00:00:00Z", "slidingWindow": 30,
          "alignPolicy": {"alignMode": "Outer", "fillNAMethod": "Linear", "paddingValue": 0}, "displayName": "f"}),
        ("POST", f"{P}/multivariate/models/{model_id}:detect-batch",
         {"dataSource": str(SAMPLES / "sample_data_5_3000.csv"), "topContributorCount": 3, "startTime": start,
          "endTime": "2021-01-01T01:00:00Z"}),
        ("POST", f"{P}/multivariate/models/{model_id}:detect-last", detect_last),
        ("POST", f"{P}/timeseries/entire/detect", {"series": _series(30), "granularity": "hourly",
                                                   "maxAnomalyRatio": 0.25, "sensitivity": 95, "period": 7,
                                                   "imputeMode": "auto"}),
        ("POST", f"{P}/timeseries/last/detect", {"series": _series(30), "granularity": "hourly"}),
        ("POST", f"{P}/timeseries/changepoint/detect", {"series": _series(30), "granularity": "hourly",
                                                        "stableTrendWindow": 5, "threshold": 0.9}),
    ]
    count = 0
    for method, url, body in routes:
        for raw in RAW:
            _check(app.request(method, url, headers=HEADERS, content=raw), f"{url} raw {raw[:40]!r}")
            count += 1
        for mutated in _mutations(body, rng):
            if "/multivariate/models" == url[len(P):] and isinstance(mutated, dict):
                mutated["dataSource"] = mutated.get("dataSource", "/nowhere/x.csv") if not \
                    isinstance(mutated.get("dataSource"), str) else "/nowhere/x.csv"  # no training runs
            _check(app.request(method, url, headers=HEADERS, content=json.dumps(mutated)), f"{url} {mutated!r:.200}")
            count += 1
    assert count > 300


def test_odd_paths_ids_and_queries_are_answered_in_v11_shape(app):
    for method, url in [("GET", f"{P}/multivariate/models/..%2F..%2Fetc"), ("GET", f"{P}/multivariate/models/" + "a" * 5000),
                        ("DELETE", f"{P}/multivariate/models/\u202e"), ("GET", f"{P}/multivariate/detect-batch/x"),
                        ("GET", f"{P}/multivariate/models?top=abc"), ("GET", f"{P}/multivariate/models?skip=-1"),
                        ("GET", f"{P}/multivariate/models?top=1000000000000000000000000"),
                        ("GET", f"{P}/nowhere"), ("GET", "/"), ("PUT", f"{P}/timeseries/entire/detect"),
                        ("PATCH", f"{P}/multivariate/models")]:
        _check(app.request(method, url, headers=HEADERS), f"{method} {url}")
    unknown = app.get(f"{P}/nowhere", headers=HEADERS)
    assert unknown.status_code == 404 and unknown.json()["code"] == "NotFound"
    assert app.put(f"{P}/timeseries/entire/detect", headers=HEADERS).status_code == 405


def test_a_body_nested_too_deep_is_refused_before_parsing(app):
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"series":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1)):
        response = app.post(f"{P}/multivariate/models", headers=HEADERS, content=body)
        assert response.status_code == 400 and "nests" in response.json()["message"]
    brackets_in_strings = json.dumps({"displayName": "[" * 1000, "dataSource": "/nowhere/x.csv"})
    assert "nests" not in app.post(f"{P}/multivariate/models", headers=HEADERS,
                                   content=brackets_in_strings).json()["message"]


def test_a_chunked_body_over_the_limit_is_refused(app):
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 65536

    response = app.post(f"{P}/timeseries/entire/detect", headers=HEADERS, content=chunks())
    assert response.status_code == 413 and response.json()["code"] == "RequestTooLarge"
