"""A local HTTP service with the Anomaly Detector v1.1 routes, so the official SDKs work by changing the endpoint.

Every route calls :class:`workbench.client.AnomalyDetectorClient`; this module
only maps HTTP to it: the subscription key, status codes, ``Location`` and
``Operation-Location`` headers, ``{code, message}`` error bodies, request size
limits and the allowed data locations.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from workbench.client import AnomalyDetectorClient
from workbench.data import SourcePolicy
from workbench.exceptions import (
    ErrorCode,
    ModelStateError,
    NotFoundError,
    ValidationError,
    WorkbenchError,
)
from workbench.server import codec
from workbench.server.admission import Admission
from workbench.server.codec import FastJSONResponse as JSONResponse

API_PREFIX = "/anomalydetector/v1.1"
KEY_HEADER = "Ocp-Apim-Subscription-Key"
PROCESS_HEADER = "x-workbench-process"
MAX_JSON_DEPTH = 64  # v1.1 bodies nest a few levels; deeper ones are refused (codec.loads)
GC_YOUNG_THRESHOLD = 10_000  # allocations between collections of young objects while serving (Python: 700)
_STATUS_CODES = {404: "NotFound", 405: "MethodNotAllowed", 413: "RequestTooLarge", 415: "UnsupportedMediaType"}


@dataclass
class ServerSettings:
    """What the service needs to run safely: the key, the registry, where data may come from, limits."""

    api_key: str
    home: Path | None = None
    data_roots: tuple[Path, ...] = ()
    blob_hosts: tuple[str, ...] = ()
    max_body_bytes: int = 64 * 1024 * 1024
    job_workers: int = 2
    sync_workers: int = 8
    epochs: int = 100
    max_queue: int = 256      # synchronous detections queued or running in one process; more are answered 429
    cache_models: int = 256   # models whose document and detector stay in memory ...
    cache_mb: int = 1024      # ... within about this many MiB
    job_nice: int = 10        # how much lower the CPU priority of job threads is (Linux nice 0-19): jobs yield

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "job_workers", "sync_workers", "epochs", "max_queue", "cache_models",
                     "cache_mb"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(ErrorCode.BAD_ARGUMENT, f"{name} must be a positive integer; got {value!r}")
        if isinstance(self.job_nice, bool) or not isinstance(self.job_nice, int) or not 0 <= self.job_nice <= 19:
            raise ValidationError(ErrorCode.BAD_ARGUMENT, f"job_nice must be an integer in [0, 19]; got {self.job_nice!r}")


def create_app(settings: ServerSettings) -> FastAPI:
    if not settings.api_key:
        raise ValueError("an API key is required (set WORKBENCH_API_KEY)")
    jobs = ThreadPoolExecutor(max_workers=settings.job_workers, thread_name_prefix="job",
                              initializer=_lower_priority, initargs=(settings.job_nice,))
    # synchronous detections get their own pool, so a running training cannot starve them
    sync_pool = ThreadPoolExecutor(max_workers=settings.sync_workers, thread_name_prefix="sync")
    client = AnomalyDetectorClient(
        settings.home, executor=jobs, epochs=settings.epochs,
        source_policy=SourcePolicy(tuple(Path(p) for p in settings.data_roots), tuple(settings.blob_hosts)),
        cache_models=settings.cache_models, cache_mb=settings.cache_mb,
    )
    admission = Admission(settings.max_queue)
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        with _serving_gc():
            yield
        jobs.shutdown(wait=False, cancel_futures=True)
        sync_pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="Anomaly Workbench (Anomaly Detector v1.1 compatible)", version="1.1", lifespan=lifespan,
                  docs_url=f"{API_PREFIX}/docs", openapi_url=f"{API_PREFIX}/openapi.json")
    app.state.client = client

    app.add_middleware(_Guard, settings=settings)

    async def run(fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(sync_pool, fn)

    async def admitted(request: Request, fn: Callable[[Any], Any]) -> Any:
        """``fn(body)`` in the sync pool if the admission queue has room; else 429 with ``Retry-After``.

        A refused request's body is still read (and dropped), so the client gets the answer rather than a
        connection closed under its upload.  An admitted body waits as bytes and is parsed by the thread that
        answers it: hundreds of calls in flight would otherwise each hold a parsed body (about a megabyte of
        Python objects for 5 x 1,000 points) while they queue.
        """
        if not admission.enter():
            await raw_body(request)  # read and dropped
            raise _HttpError(429, ErrorCode.TOO_MANY_REQUESTS,
                             f"the server is busy: {admission.limit} detection calls are queued or running; "
                             "retry after the number of seconds in the Retry-After header",
                             headers={"Retry-After": str(admission.retry_after())})
        try:
            raw = await raw_body(request)
            return await run(lambda: fn(parsed(raw)))
        finally:
            admission.leave()

    async def raw_body(request: Request) -> bytes:
        """The body's bytes, its size checked while it streams in."""
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > settings.max_body_bytes:
                raise _HttpError(413, "RequestTooLarge", f"the request body exceeds {settings.max_body_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def body_of(request: Request) -> Any:
        """The JSON body: its size checked while it streams in and its nesting before it is parsed."""
        return parsed(await raw_body(request))

    def parsed(raw: bytes) -> Any:
        try:
            return codec.loads(raw, MAX_JSON_DEPTH)
        except codec.BodyError as bad:
            raise _HttpError(400, bad.code, bad.message) from None

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/") + API_PREFIX

    @app.exception_handler(_HttpError)
    async def http_error(_: Request, exc: _HttpError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_exception(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, ErrorCode.BAD_ARGUMENT if exc.status_code < 500 else "InternalServerError")
        message = f"no route {request.method} {request.url.path}" if exc.status_code in (404, 405) else str(exc.detail)
        return _error(exc.status_code, code, message)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(400, ErrorCode.BAD_ARGUMENT, f"the request is malformed: {exc.errors()!s:.500}")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # a bug, not a bad request: still answered in the v1.1 shape, the traceback goes to the log
        logging.getLogger("workbench.server").exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(500, "InternalServerError", f"an unexpected error occurred: {type(exc).__name__}")

    @app.exception_handler(WorkbenchError)
    async def workbench_error(_: Request, exc: WorkbenchError) -> JSONResponse:
        status = 404 if isinstance(exc, NotFoundError) else 409 if isinstance(exc, ModelStateError) else \
            403 if exc.code == ErrorCode.DATA_SOURCE_NOT_ALLOWED else 400
        return _error(status, exc.code, exc.to_error()["message"])

    # ------------------------------------------------------------ multivariate

    @app.post(f"{API_PREFIX}/multivariate/models", status_code=201)
    async def train_model(request: Request) -> JSONResponse:
        body = await body_of(request)
        model = await run(lambda: client.train_multivariate_model(body))
        location = f"{base(request)}/multivariate/models/{model['modelId']}"
        return JSONResponse(model, status_code=201, headers={"Location": location})

    @app.get(f"{API_PREFIX}/multivariate/models")
    async def list_models(request: Request) -> JSONResponse:
        params = request.query_params
        skip = _int_param(params.get("skip", params.get("$skip")), "skip", 0)
        top = _int_param(params.get("top", params.get("$top")), "top", 10)
        page = await run(lambda: client.list_multivariate_models(skip=skip, top=top))
        if page["nextLink"]:
            page["nextLink"] = f"{base(request)}/{page['nextLink']}"
        return JSONResponse(page)

    @app.get(API_PREFIX + "/multivariate/models/{model_id}")
    async def get_model(model_id: str) -> JSONResponse:
        return JSONResponse(await run(lambda: client.get_multivariate_model(model_id)))

    @app.delete(API_PREFIX + "/multivariate/models/{model_id}", status_code=204)
    async def delete_model(model_id: str) -> Response:
        await run(lambda: client.delete_multivariate_model(model_id))
        return Response(status_code=204)

    @app.post(API_PREFIX + "/multivariate/models/{model_id}:detect-batch", status_code=202)
    async def detect_batch(model_id: str, request: Request) -> JSONResponse:
        result = await admitted(request, lambda body: client.detect_multivariate_batch_anomaly(model_id, body))
        location = f"{base(request)}/multivariate/detect-batch/{result['resultId']}"
        return JSONResponse(result, status_code=202,
                            headers={"Operation-Location": location, "Operation-Id": result["resultId"]})

    @app.get(API_PREFIX + "/multivariate/detect-batch/{result_id}")
    async def get_batch_result(result_id: str) -> JSONResponse:
        return JSONResponse(await run(lambda: client.get_multivariate_batch_detection_result(result_id)))

    @app.post(API_PREFIX + "/multivariate/models/{model_id}:detect-last")
    async def detect_last(model_id: str, request: Request) -> JSONResponse:
        answer = await admitted(request, lambda body: client.detect_multivariate_last_anomaly(model_id, body))
        return JSONResponse(answer)

    # ------------------------------------------------------------ univariate

    @app.post(f"{API_PREFIX}/timeseries/entire/detect")
    async def entire(request: Request) -> JSONResponse:
        return JSONResponse(await admitted(request, client.detect_univariate_entire_series))

    @app.post(f"{API_PREFIX}/timeseries/last/detect")
    async def last(request: Request) -> JSONResponse:
        return JSONResponse(await admitted(request, client.detect_univariate_last_point))

    @app.post(f"{API_PREFIX}/timeseries/changepoint/detect")
    async def change_point(request: Request) -> JSONResponse:
        return JSONResponse(await admitted(request, client.detect_univariate_change_point))

    return app


class _Guard:
    """Before any route: the subscription key and the declared body size; on every answer, the process that
    gave it (``serve --workers N``).  Plain ASGI rather than ``BaseHTTPMiddleware``, which costs each call a
    task and a stream wrapper."""

    def __init__(self, app: Callable, settings: ServerSettings) -> None:
        self.app = app
        self.key = settings.api_key.encode()
        self.max_body_bytes = settings.max_body_bytes
        self.process = str(os.getpid()).encode()

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        refusal = self._refusal(scope)
        if refusal is not None:
            return await refusal(scope, receive, self._stamped(send))
        await self.app(scope, receive, self._stamped(send))

    def _refusal(self, scope: dict) -> Response | None:
        headers = dict(scope["headers"])
        path = scope["path"]
        if path.startswith(API_PREFIX) and not path.endswith(("/openapi.json", "/docs")):
            given = headers.get(KEY_HEADER.lower().encode(), b"")
            if not given or not hmac.compare_digest(given, self.key):
                return _error(401, "Unauthorized", f"a valid '{KEY_HEADER}' header is required")
        length = headers.get(b"content-length", b"").decode("latin-1")
        if length.isdigit() and int(length) > self.max_body_bytes:
            return _error(413, "RequestTooLarge", f"the request body exceeds {self.max_body_bytes} bytes")
        return None

    def _stamped(self, send: Callable) -> Callable:
        async def stamped(message: dict) -> None:
            if message["type"] == "http.response.start":
                stamp = (PROCESS_HEADER.encode(), self.process)
                message = {**message, "headers": [*message.get("headers", []), stamp]}
            await send(message)
        return stamped


@contextlib.contextmanager
def _serving_gc(young: int = GC_YOUNG_THRESHOLD):
    """While serving: what start-up built (modules, the app) is frozen out of the cyclic garbage collector, and
    it looks at young objects every ``young`` allocations rather than 700.

    Hundreds of calls in flight each hold a parsed body; the default collector traversed them again and again
    (about a tenth of a detect-last call's CPU), though they are freed by reference counting.  The previous
    settings come back when serving ends (an app run inside another program leaves it as it was).
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(young, threshold[0]), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _lower_priority(nice: int) -> None:
    """Lower this thread's CPU priority by ``nice`` (Linux threads have their own), so jobs yield to detections."""
    if nice > 0 and hasattr(os, "setpriority"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


class _HttpError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status,
                        headers={"x-ms-error-code": code, **(headers or {})})


def _int_param(value: str | None, name: str, default: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise _HttpError(400, ErrorCode.BAD_ARGUMENT, f"'{name}' must be an integer; got {value!r}") from None
    if not 0 <= number <= 2**31 - 1:
        raise _HttpError(400, ErrorCode.BAD_ARGUMENT, f"'{name}' must be an integer in [0, 2147483647]; got {value}")
    return number
