"""Load test of ``workbench serve``: the code before (another checkout) and this code side by side, in one run.

    .venv/bin/python -m benchmarks.server_load --before /tmp/before25 [--workers 2] [--before-workers 2]
        [--requests 2000] [--concurrency 200] [--models 100] [--soak 5000] [--soak-concurrency 500] [--rounds 2]
        [--out FILE]

(the checkout before: ``git worktree add --detach /tmp/before25 <commit>``)

Both servers start in their own processes on free 127.0.0.1 ports, each on its own copy of one registry
holding 100 READY models (5 variables, window 200: one trained, 99 imported from it) and one 38-variable
model.  The shared streaming body (5 variables x 1,000 points) is fired as detect-last calls with
``--concurrency`` in flight: at one model, round-robin over ``--models`` models, and while training jobs
run one after another; then the fleet again with each model's call a minute on from its last (a stream of
bodies, as assets send them); the scenarios alternate between the sides round by round (``--rounds``), so
a neighbour's load falls on both.  Then a soak of ``--soak`` calls with ``--soak-concurrency`` in flight.
Calls are not retried: 429 answers are counted, and so are dropped connections (any transport error).
A body sent again, or a minute on, shares its history with the model's last call: code with the stream
memo (``inference.StreamMemo``) scores only the new rows of it, which the stream scenario shows as fleets
see it.  Also timed, in alternating subprocesses: one detect-last call in process (the client, no HTTP), the
same body again and each call a minute on.
Results: ``benchmarks/results/server_load.json`` and ``.md``.  Traffic never leaves this machine.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
RESULTS = ROOT / "benchmarks" / "results"
KEY = "load-test-key"
PREFIX = "/anomalydetector/v1.1"
HEADERS = {"Ocp-Apim-Subscription-Key": KEY, "Content-Type": "application/json"}
WINDOW = 200
# the stated bound: a training job may slow concurrent detect-last p99 latency by at most this factor
MAX_P99_SLOWDOWN_DURING_TRAINING = 1.5
TRAIN_BODY = {"dataSource": str(SAMPLES / "sample_data_5_3000.csv"), "dataSchema": "OneTable",
              "startTime": "2021-01-01T00:00:00Z", "endTime": "2021-01-02T09:19:00Z", "slidingWindow": WINDOW}


# ---------------------------------------------------------------- the registry both sides start from


PREPARE = r"""
import importlib.util, json, pathlib, sys
sys.path.insert(0, sys.argv[1])  # the workbench of the code before
spec = importlib.util.spec_from_file_location("server_load", sys.argv[2])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(module.prepare_home(pathlib.Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))))
"""


def prepare_home_with(code: Path, folder: Path, models: int, epochs: int) -> dict:
    """:func:`prepare_home` run by the checkout ``code`` (the code before): its models are saved in the older
    state version, which both sides read (the code after upgrades it as it loads)."""
    env = dict(os.environ, PYTHONPATH=str(code), WORKBENCH_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", PREPARE, str(code), __file__, str(folder), str(models), str(epochs)],
                         cwd=code, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"preparing the registry with {code} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def prepare_home(folder: Path, models: int, epochs: int) -> dict:
    """A registry with ``models`` READY 5-variable models (one trained, the rest imported copies) and one
    38-variable model, written by the client that is importable (see :func:`prepare_home_with`)."""
    from workbench.client import AnomalyDetectorClient

    client = AnomalyDetectorClient(folder, epochs=epochs)
    first = client.train_multivariate_model(TRAIN_BODY, wait=True)
    assert first["modelInfo"]["status"] == "READY", first["modelInfo"]["errors"]
    archive = client.export_model(first["modelId"], folder / "first.zip")
    ids = [first["modelId"]] + [client.import_model(archive)["modelId"] for _ in range(models - 1)]
    frame = _wide_frame()
    csv = folder / "wide.csv"
    frame.iloc[:2400].to_csv(csv, date_format="%Y-%m-%dT%H:%M:%SZ")
    wide = client.train_multivariate_model({**TRAIN_BODY, "dataSource": str(csv), "endTime": "2021-01-02T15:59:00Z"},
                                           wait=True)
    assert wide["modelInfo"]["status"] == "READY", wide["modelInfo"]["errors"]
    tail = frame.iloc[2400:2400 + WINDOW + 1]
    stamps = [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in tail.index]
    wide_body = {"variables": [{"variable": c, "timestamps": stamps, "values": tail[c].tolist()} for c in frame],
                 "topContributorCount": 10}
    (folder / "wide_body.json").write_text(json.dumps(wide_body))
    return {"models": ids, "wide_model": wide["modelId"]}


def _wide_frame() -> pd.DataFrame:
    """38 periodic variables with noise, one row a minute (the in-process goal's shape)."""
    rng = np.random.default_rng(0)
    rows, columns = 3000, 38
    values = np.sin(np.arange(rows)[:, None] / 50 + np.arange(columns)) + 0.1 * rng.standard_normal((rows, columns))
    index = pd.date_range("2021-01-01", periods=rows, freq="min", tz="UTC", name="timestamp")
    return pd.DataFrame(values, index=index, columns=[f"s{i}" for i in range(columns)])


# ---------------------------------------------------------------- servers


class Server:
    """``workbench serve`` of one checkout, in its own process (and its workers), on its own registry copy."""

    def __init__(self, name: str, code: Path, home: Path, options: list[str]) -> None:
        self.name, self.code, self.home, self.options = name, code, home, options

    def start(self) -> "Server":
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = dict(os.environ, WORKBENCH_API_KEY=KEY, WORKBENCH_NUM_THREADS="1", PYTHONPATH=str(self.code))
        self.log = open(self.home.parent / f"{self.name}.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "workbench.cli", "--home", str(self.home), "serve", "--port", str(port),
             "--data-dir", str(SAMPLES), "--epochs", "100", *self.options],
            cwd=self.code, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{port}{PREFIX}"
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.process.poll() is not None:
                log = (self.home.parent / f"{self.name}.log").read_text()
                raise RuntimeError(f"the {self.name} server exited: {log}")
            try:
                httpx.get(f"{self.base}/openapi.json", timeout=2)
                return self
            except httpx.HTTPError:
                time.sleep(0.3)
        raise RuntimeError(f"the {self.name} server did not answer")

    def cpu_seconds(self) -> float:
        """CPU time of the server and its worker processes so far."""
        try:
            parent = psutil.Process(self.process.pid)
            processes = [parent, *parent.children(recursive=True)]
        except psutil.Error:
            return float("nan")
        total = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
        return total

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


# ---------------------------------------------------------------- load


async def _fire(base: str, model_ids: list[str], body: bytes | list[bytes], requests: int, concurrency: int,
                first: int = 0) -> dict:
    """``requests`` detect-last calls, ``concurrency`` in flight, model ids round-robin; nothing retried.

    ``body``: one body for every call, or a stream of them: call ``first + i`` sends ``body[(first + i) //
    len(model_ids)]``, so each model gets the next one each time round the fleet (a minute on, as fleets stream).
    A minimal HTTP/1.1 client on asyncio streams, one keep-alive connection per call in flight: a Python HTTP
    library with hundreds of connections (httpx) spends most of a core itself on this 2-core machine.
    """
    url = httpx.URL(base)
    host, port, prefix = url.host, url.port, url.path
    bodies = body if isinstance(body, list) else [body]
    heads = [[(f"POST {prefix}/multivariate/models/{m}:detect-last HTTP/1.1\r\nHost: {host}:{port}\r\n"
               f"Ocp-Apim-Subscription-Key: {KEY}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(b)}\r\n\r\n").encode() for m in model_ids] for b in bodies]
    latencies: list[float] = []
    statuses: collections.Counter = collections.Counter()
    dropped: collections.Counter = collections.Counter()
    first_answer: dict = {}
    calls = iter(range(requests))

    async def connection() -> None:
        reader = writer = None
        for i in calls:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                start = time.perf_counter()
                which = (first + i) // len(model_ids) % len(bodies) if len(bodies) > 1 else 0
                writer.write(heads[which][i % len(model_ids)])
                writer.write(bodies[which])
                await writer.drain()
                status, closing, payload = await _response(reader)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
                dropped[type(exc).__name__] += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            statuses[status] += 1
            if status == 200:
                latencies.append(time.perf_counter() - start)
                if not first_answer and i % len(model_ids) == 0:
                    first_answer.update(json.loads(payload))
            if closing:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    cpu, start = time.process_time(), time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(connection() for _ in range(min(concurrency, requests)))), 3600)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"requests": requests, "concurrency": concurrency, "seconds": wall, "latencies": latencies,
            "statuses": dict(statuses), "dropped": dict(dropped), "load_generator_cpu_seconds": cpu,
            "first_answer": first_answer}


async def _response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    """(status, whether the server closes the connection, body) of one HTTP/1.1 response with Content-Length."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
    payload = await reader.readexactly(int(fields.get("content-length", "0")))
    return status, fields.get("connection", "").lower() == "close", payload


def _summary(parts: list[dict], server_cpu: float) -> dict:
    """One side's figures over its rounds of one scenario."""
    latencies = np.array([x for part in parts for x in part["latencies"]]) * 1000
    statuses: collections.Counter = collections.Counter()
    dropped: collections.Counter = collections.Counter()
    for part in parts:
        statuses.update({int(k): v for k, v in part["statuses"].items()})
        dropped.update(part["dropped"])
    seconds = sum(part["seconds"] for part in parts)
    requests = sum(part["requests"] for part in parts)
    ok = statuses.get(200, 0)
    return {
        "requests": requests, "concurrency": parts[0]["concurrency"], "seconds": round(seconds, 3),
        "answered_200": ok, "calls_per_s": round(ok / seconds, 2) if seconds else None,
        "p50_ms": round(float(np.percentile(latencies, 50)), 1) if ok else None,
        "p99_ms": round(float(np.percentile(latencies, 99)), 1) if ok else None,
        "max_ms": round(float(latencies.max()), 1) if ok else None,
        "too_many_requests_429": statuses.get(429, 0),
        "errors": sum(v for k, v in statuses.items() if k not in (200, 429)),
        "error_statuses": {str(k): v for k, v in statuses.items() if k not in (200, 429)},
        "dropped_connections": sum(dropped.values()), "dropped_kinds": dict(dropped),
        "server_cpu_ms_per_answer": round(1000 * server_cpu / ok, 2) if ok else None,
        "load_generator_cpu_share": round(sum(p["load_generator_cpu_seconds"] for p in parts) / seconds, 2),
    }


class _Trainer:
    """Keeps one training job running on a server (a new one as each finishes) until stopped."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.finished: list[str] = []
        self._stop = threading.Event()

    def __enter__(self) -> "_Trainer":
        self._current = self._start()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _start(self) -> str:
        response = httpx.post(f"{self.server.base}/multivariate/models", headers=HEADERS, json=TRAIN_BODY, timeout=120)
        response.raise_for_status()
        model_id = response.json()["modelId"]
        while self._status(model_id) == "CREATED":
            time.sleep(0.05)
        return model_id

    def _status(self, model_id: str) -> str:
        url = f"{self.server.base}/multivariate/models/{model_id}"
        return httpx.get(url, headers=HEADERS, timeout=120).json()["modelInfo"]["status"]

    def _loop(self) -> None:
        while not self._stop.is_set():
            status = self._status(self._current)
            if status in ("READY", "FAILED"):
                self.finished.append(status)
                if not self._stop.is_set():
                    self._current = self._start()
            time.sleep(0.2)

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join(timeout=600)
        deadline = time.time() + 600
        while (status := self._status(self._current)) not in ("READY", "FAILED") and time.time() < deadline:
            time.sleep(0.2)
        self.finished.append(status)


def _scenario(servers: list[Server], name: str, ids: dict[str, list[str]], body: bytes, requests: int,
              concurrency: int, rounds: int, training: bool = False) -> dict:
    """``requests`` calls per side, in ``rounds`` rounds whose order alternates between the sides."""
    parts: dict[str, list[dict]] = {s.name: [] for s in servers}
    cpu = {s.name: 0.0 for s in servers}
    trainings: dict[str, list[str]] = {s.name: [] for s in servers}
    for r in range(rounds):
        for server in (servers if r % 2 == 0 else servers[::-1]):
            share = requests // rounds + (1 if r < requests % rounds else 0)
            first = sum(part["requests"] for part in parts[server.name])  # a stream goes on where it stopped
            before_cpu = server.cpu_seconds()
            if training:
                with _Trainer(server) as trainer:
                    parts[server.name].append(asyncio.run(_fire(server.base, ids[server.name], body, share,
                                                                concurrency, first)))
                    cpu[server.name] += server.cpu_seconds() - before_cpu
                trainings[server.name] += trainer.finished
            else:
                parts[server.name].append(asyncio.run(_fire(server.base, ids[server.name], body, share, concurrency,
                                                            first)))
                cpu[server.name] += server.cpu_seconds() - before_cpu
            print(f"  {name} round {r + 1} {server.name}: {_summary(parts[server.name][-1:], float('nan'))}",
                  flush=True)
    out = {}
    for server in servers:
        out[server.name] = _summary(parts[server.name], cpu[server.name])
        if training:
            out[server.name]["training_jobs"] = collections.Counter(trainings[server.name])
    answers = [parts[s.name][0]["first_answer"] for s in servers]
    out["answers_identical"] = all(a == answers[0] for a in answers) and bool(answers[0])
    out["answers_equal_to_float32"] = bool(answers[0]) and all(equal_to_rounding(a, answers[0]) for a in answers)
    return out


def equal_to_rounding(a, b, rel: float = 1e-5) -> bool:
    """Equal JSON answers, numbers within ``rel`` (the scorer's float32 rounding may move the last digits)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal_to_rounding(a[k], b[k], rel) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal_to_rounding(x, y, rel) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= rel * max(abs(a), abs(b), 1e-12)
    return a == b


# ---------------------------------------------------------------- in process


INPROC = """
import json, sys, time
from workbench.client import AnomalyDetectorClient
home, model, bodies, calls = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3])), int(sys.argv[4])
bodies = bodies if isinstance(bodies, list) else [bodies]  # a list: a stream, each body a minute on
client = AnomalyDetectorClient(home)
client.detect_multivariate_last_anomaly(model, bodies[0])
calls = min(calls, len(bodies) - 1) if len(bodies) > 1 else calls
start = time.perf_counter()
for i in range(calls):
    client.detect_multivariate_last_anomaly(model, bodies[(i + 1) % len(bodies)])
print((time.perf_counter() - start) / calls * 1000)
"""


def _in_process(sides: dict[str, Path], home: Path, cases: dict[str, tuple[str, Path]], rounds: int,
                calls: int) -> dict:
    """Milliseconds per detect-last call in process (the client, no HTTP): medians of alternating rounds."""
    times: dict[str, dict[str, list[float]]] = {case: {s: [] for s in sides} for case in cases}
    for r in range(rounds):
        for name, code in (list(sides.items()) if r % 2 == 0 else list(sides.items())[::-1]):
            for case, (model, body) in cases.items():
                env = dict(os.environ, PYTHONPATH=str(code), WORKBENCH_NUM_THREADS="1")
                out = subprocess.run([sys.executable, "-c", INPROC, str(home), model, str(body), str(calls)],
                                     cwd=code, env=env, capture_output=True, text=True, check=True)
                times[case][name].append(float(out.stdout.strip().splitlines()[-1]))
    return {case: {name: {"median_ms": round(float(np.median(v)), 2), "rounds_ms": [round(x, 2) for x in v]}
                   for name, v in by_side.items()} for case, by_side in times.items()}


# ---------------------------------------------------------------- main


def _machine() -> dict:
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return {"cpus": os.cpu_count(), "uptime": uptime, "load_average": [round(x, 2) for x in os.getloadavg()]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="a checkout of the code before (git worktree add ...)")
    parser.add_argument("--workers", type=int, default=2, help="server processes for this code (default 2)")
    parser.add_argument("--before-workers", type=int, default=0,
                        help="server processes for the code before (default 0: one process, no --workers option, "
                             "for code that predates it)")
    parser.add_argument("--requests", type=int, default=2000, help="calls per side and scenario (default 2000)")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--soak", type=int, default=5000)
    parser.add_argument("--soak-concurrency", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=20, help="epochs of the models the registry starts with")
    parser.add_argument("--inproc-calls", type=int, default=200)
    parser.add_argument("--out", default=str(RESULTS / "server_load.json"))
    args = parser.parse_args(argv)
    before = Path(args.before).resolve()
    if not (before / "workbench").is_dir():
        parser.error(f"--before {before} is not a checkout of the workbench")

    work = Path(tempfile.mkdtemp(prefix="server-load-"))
    machine_start = _machine()
    print("machine:", machine_start, flush=True)
    made = prepare_home_with(before, work / "home", args.models, args.epochs)
    body = (SAMPLES / "detect_last_5_3000.json").read_bytes()
    sides = {"before": before, "after": ROOT}
    servers = []
    try:
        for name, code in sides.items():
            shutil.copytree(work / "home", work / f"home-{name}")
            workers = args.workers if name == "after" else args.before_workers
            options = ["--workers", str(workers)] if workers else []
            servers.append(Server(name, code, work / f"home-{name}", options).start())
        one = {s.name: made["models"][:1] for s in servers}
        fleet = {s.name: made["models"] for s in servers}
        for server in servers:  # warm up: every model loaded once, and a burst at full concurrency, as a
            # fleet's server is in its steady state (the first burst after start pays for allocations)
            asyncio.run(_fire(server.base, made["models"], body, len(made["models"]), 20))
            asyncio.run(_fire(server.base, made["models"][:1], body, 2 * args.concurrency, args.concurrency))
        report = {"command": "python -m benchmarks.server_load " + " ".join(argv if argv is not None else sys.argv[1:]),
                  "before": str(before), "after_options": f"--workers {args.workers}",
                  "before_options": f"--workers {args.before_workers}" if args.before_workers else "",
                  "window": WINDOW,
                  "body": "data/samples/detect_last_5_3000.json (5 variables x 1,000 points)",
                  "machine_at_start": machine_start}
        print("one model", flush=True)
        report["one_model"] = _scenario(servers, "one model", one, body, args.requests, args.concurrency, args.rounds)
        print(f"{args.models} models round-robin", flush=True)
        report["fleet_models"] = _scenario(servers, "fleet", fleet, body, args.requests, args.concurrency,
                                           args.rounds)
        print(f"{args.models} models streaming", flush=True)
        stream = _streaming_bodies(args.requests // len(made["models"]) + 2)
        report["fleet_streaming"] = _scenario(servers, "streaming", fleet, stream, args.requests, args.concurrency,
                                              args.rounds)
        print("one model during training", flush=True)
        report["one_model_during_training"] = _scenario(servers, "training", one, body, args.requests,
                                                        args.concurrency, args.rounds, training=True)
        for name in sides:
            idle, busy = report["one_model"][name]["p99_ms"], report["one_model_during_training"][name]["p99_ms"]
            report["one_model_during_training"][name]["p99_vs_idle"] = round(busy / idle, 2) if idle and busy else None
        print("soak", flush=True)
        report["soak"] = _scenario(servers, "soak", fleet, body, args.soak, args.soak_concurrency, 1)
        report["machine_after_load"] = _machine()
    finally:
        for server in servers:
            server.stop()
    print("in process", flush=True)
    stream_file = work / "home" / "stream_bodies.json"
    stream_file.write_text("[" + ",".join(b.decode() for b in _streaming_bodies(args.inproc_calls + 1)) + "]")
    report["in_process_detect_last"] = _in_process(
        sides, work / "home", {"5x1000 (window 200)": (made["models"][0], SAMPLES / "detect_last_5_3000.json"),
                               "5x1000, each call a minute on": (made["models"][0], stream_file),
                               "38x201 (window 200)": (made["wide_model"], work / "home" / "wide_body.json")},
        rounds=3, calls=args.inproc_calls)
    report["machine_at_end"] = _machine()
    report["goals"] = _goals(report)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1, default=dict))
    Path(args.out).with_suffix(".md").write_text(_markdown(report))
    print(Path(args.out).with_suffix(".md").read_text())
    shutil.rmtree(work, ignore_errors=True)
    return 0


def _streaming_bodies(count: int, points: int = 1000) -> list[bytes]:
    """``count`` detect-last bodies of the 5-variable sample, each ``points`` minutes ending a minute after the
    one before (what an asset streaming once a minute sends), compact JSON as the SDK writes it."""
    frame = pd.read_csv(SAMPLES / "sample_data_5_3000.csv", index_col=0)
    start = len(frame) - points - count
    return [json.dumps({"variables": [{"variable": c, "timestamps": list(part.index), "values": part[c].tolist()}
                                      for c in part.columns]}).encode()
            for part in (frame.iloc[start + i:start + i + points] for i in range(count))]


def _goals(report: dict) -> dict:
    after = {k: report[k]["after"] for k in ("one_model", "fleet_models", "one_model_during_training", "soak")}
    inproc = report["in_process_detect_last"]["38x201 (window 200)"]["after"]["median_ms"]
    return {
        "one_model_300_per_s_p99_under_1s": after["one_model"]["calls_per_s"] >= 300
        and after["one_model"]["p99_ms"] < 1000,
        "fleet_200_per_s": after["fleet_models"]["calls_per_s"] >= 200,
        "soak_no_errors_no_drops": after["soak"]["errors"] == 0 and after["soak"]["dropped_connections"] == 0,
        "training_p99_within_1.5x": (after["one_model_during_training"].get("p99_vs_idle") or 99)
        <= MAX_P99_SLOWDOWN_DURING_TRAINING,
        "in_process_38x200_at_most_5ms": inproc <= 5.0,
    }


def _markdown(report: dict) -> str:
    rows = []
    labels = {"one_model": "one model", "fleet_models": "100 models round-robin",
              "fleet_streaming": "100 models, each call a minute on (compact bodies)",
              "one_model_during_training": "one model, training jobs running", "soak": "soak"}
    for key, label in labels.items():
        for side in ("before", "after"):
            r = report[key][side]
            rows.append(f"| {label} | {side} | {r['requests']:,} / {r['concurrency']} | {r['calls_per_s']} | "
                        f"{r['p50_ms']} | {r['p99_ms']} | {r['errors']} | {r['dropped_connections']} | "
                        f"{r['too_many_requests_429']} | {r['server_cpu_ms_per_answer']} |")
        b, a = report[key]["before"]["calls_per_s"] or 0, report[key]["after"]["calls_per_s"] or 0
        rows.append(f"| | **after / before** | | **{a / b:.1f}x** | | | | | | |" if b else "| | | | | | | | | | |")
    inproc = report["in_process_detect_last"]
    lines = [
        "# Server load: the code before and this code, side by side",
        "",
        f"Command: `{report['command']}` (this code with `{report['after_options']}`; the code before "
        + (f"with `{report['before_options']}`" if report.get("before_options") else "in one process")
        + "). Body: " + report["body"] + f", window {report['window']}; calls not retried.",
        "",
        f"Machine: {report['machine_at_start']['cpus']} CPUs; `uptime` at the start: "
        f"`{report['machine_at_start']['uptime']}`; after the load: `{report['machine_after_load']['uptime']}`."
        + (" **The machine was shared** (a load average above its CPU count before this run began): calls/s swing "
           "with the neighbour's load, so read the ratios of one run and the server CPU per answer."
           if report["machine_at_start"]["load_average"][0] > report["machine_at_start"]["cpus"] else ""),
        "",
        "| scenario | code | calls / in flight | calls/s (200s) | p50 ms | p99 ms | errors | dropped | 429 | "
        "server CPU ms per answer |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Training during load: jobs finished " + ", ".join(
            f"{side} {dict(report['one_model_during_training'][side]['training_jobs'])}"
            for side in ("before", "after"))
        + "; p99 with training / idle p99: " + ", ".join(
            f"{side} {report['one_model_during_training'][side]['p99_vs_idle']}" for side in ("before", "after"))
        + ". Answers of both sides identical: " + str(all(report[k]["answers_identical"] for k in labels))
        + "; equal to float32 rounding (numbers within 1e-5): "
        + str(all(report[k].get("answers_equal_to_float32") for k in labels)) + ".",
        "",
        "In process (the client, no HTTP), ms per detect-last call, median of 3 alternating rounds: " + "; ".join(
            f"{case}: before {v['before']['median_ms']}, after {v['after']['median_ms']} "
            f"({v['before']['median_ms'] / v['after']['median_ms']:.1f}x)" for case, v in inproc.items()) + ".",
        "",
        "Goals (issue 25): " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in report["goals"].items()) + ".",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
