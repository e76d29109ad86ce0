"""The Azure-style client's calls over HTTP, against ``workbench serve`` or any v1.1 endpoint, retrying 429.

:class:`RemoteClient` has the method names of :class:`workbench.client.AnomalyDetectorClient` and takes and
returns the same v1.1 JSON dicts, but sends them to a server.  A busy server answers 429 ``TooManyRequests``
with ``Retry-After``; the client waits that long (capped by ``max_wait``) and tries again, at most
``max_attempts`` times in all, as the official SDK's retry policy does.  Other errors raise the workbench's
coded exceptions with the server's ``{code, message}``.  Standard library only (``urllib``).
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable

from workbench.exceptions import ErrorCode, ModelStateError, NotFoundError, ValidationError, WorkbenchError

API_PREFIX = "/anomalydetector/v1.1"
KEY_HEADER = "Ocp-Apim-Subscription-Key"


class TooManyRequestsError(WorkbenchError):
    """The server stayed busy (429) through every attempt; ``retry_after`` is its last ``Retry-After``."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(ErrorCode.TOO_MANY_REQUESTS, message)
        self.retry_after = retry_after


class RemoteClient:
    """v1.1 calls to ``endpoint`` (``http://host:port``) with the subscription ``key``."""

    def __init__(self, endpoint: str, key: str, *, max_attempts: int = 5, max_wait: float = 30.0,
                 timeout: float = 120.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.key = key
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.timeout = timeout
        self.sleep = sleep

    # ------------------------------------------------------------ multivariate

    def train_multivariate_model(self, model_info: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/multivariate/models", model_info)

    def get_multivariate_model(self, model_id: str) -> dict[str, Any]:
        return self._call("GET", f"/multivariate/models/{_quoted(model_id)}")

    def delete_multivariate_model(self, model_id: str) -> None:
        self._call("DELETE", f"/multivariate/models/{_quoted(model_id)}")

    def detect_multivariate_batch_anomaly(self, model_id: str, options: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"/multivariate/models/{_quoted(model_id)}:detect-batch", options)

    def get_multivariate_batch_detection_result(self, result_id: str) -> dict[str, Any]:
        return self._call("GET", f"/multivariate/detect-batch/{_quoted(result_id)}")

    def detect_multivariate_last_anomaly(self, model_id: str, options: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"/multivariate/models/{_quoted(model_id)}:detect-last", options)

    # ------------------------------------------------------------ univariate

    def detect_univariate_entire_series(self, options: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/timeseries/entire/detect", options)

    def detect_univariate_last_point(self, options: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/timeseries/last/detect", options)

    def detect_univariate_change_point(self, options: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/timeseries/changepoint/detect", options)

    # ------------------------------------------------------------ transport

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {KEY_HEADER: self.key, **({"Content-Type": "application/json"} if data is not None else {})}
        request = urllib.request.Request(self.endpoint + API_PREFIX + path, data=data, method=method, headers=headers)
        for attempt in range(1, self.max_attempts + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    payload = response.read()
                return json.loads(payload) if payload else None
            except urllib.error.HTTPError as answer:
                status, error = answer.code, _error_body(answer)
                if status != 429:
                    raise _exception(status, error) from None
                wait = min(_retry_after(answer.headers.get("Retry-After")), self.max_wait)
                if attempt == self.max_attempts:
                    raise TooManyRequestsError(f"{error['message']} (gave up after {attempt} attempts)",
                                               wait) from None
                self.sleep(wait)
        raise AssertionError("unreachable")


def _quoted(text: str) -> str:
    return urllib.parse.quote(str(text), safe="")


def _retry_after(value: str | None) -> float:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds; 1 when absent or an HTTP date)."""
    try:
        return max(0.0, float(value)) if value is not None else 1.0
    except ValueError:
        return 1.0


def _error_body(answer: urllib.error.HTTPError) -> dict[str, str]:
    try:
        body = json.loads(answer.read() or b"{}")
        body = body.get("error", body)  # v1.1 answers {code, message}; some gateways wrap it in "error"
        return {"code": str(body["code"]), "message": str(body["message"])}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {"code": f"Http{answer.code}", "message": f"the server answered {answer.code} {answer.reason}"}


def _exception(status: int, error: dict[str, str]) -> WorkbenchError:
    kind = NotFoundError if status == 404 else ModelStateError if status == 409 else \
        ValidationError if 400 <= status < 500 else WorkbenchError
    return kind(error["code"], error["message"])
