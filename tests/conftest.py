"""Shared fixtures: paths to the shared data and a real Azurite blob service."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
AZURE_SAMPLE = SHARED_DATA / "azure_mvad_sample"
SAMPLES = ROOT / "data" / "samples"

# Azurite's well-known development account (public, documented by Microsoft)
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    """A loopback port nobody listens on (for servers the tests start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    """Terminate a server the tests started, killing it if it does not exit in time."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for_port(port: int, process: subprocess.Popen, name: str, read_log, timeout: float = 60) -> None:
    """Wait until ``process`` listens on ``port``; fail the test with its log if it exits or never listens."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{name} exited early: {read_log()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"{name} did not listen on port {port} within {timeout:.0f} s")


def start_server(home: Path, key: str, *options: str, timeout: float = 60) -> tuple[subprocess.Popen, str]:
    """``workbench serve`` in its own process on a free loopback port, reading ``data/samples``; returns the
    process and its endpoint once it answers (the caller stops it with :func:`stop_process`)."""
    port = free_port()
    env = dict(os.environ, WORKBENCH_API_KEY=key, WORKBENCH_NUM_THREADS="1")
    process = subprocess.Popen([sys.executable, "-m", "workbench.cli", "--home", str(home), "serve", "--port",
                                str(port), "--data-dir", str(SAMPLES), *options],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited: {process.stdout.read()}")
        try:
            httpx.get(f"{endpoint}/anomalydetector/v1.1/openapi.json", timeout=1)
            return process, endpoint
        except httpx.HTTPError:
            time.sleep(0.3)
    stop_process(process)
    pytest.fail(f"the server did not answer within {timeout:.0f} s")


def _azurite_binary() -> str | None:
    local = ROOT / ".tools" / "node_modules" / ".bin" / "azurite-blob"
    return str(local) if local.exists() else shutil.which("azurite-blob")


@pytest.fixture(scope="session")
def azurite():
    """Start azurite-blob in memory on a free loopback port; yields its connection string; stops it after."""
    binary = _azurite_binary()
    if binary is None:
        pytest.fail("azurite-blob is not installed: run scripts/setup.sh")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="azurite-")  # its debug/extent files, if any, go here, not in the repo
    proc = subprocess.Popen(
        [binary, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence",
         "--skipApiVersionCheck", "--silent"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=workdir,
    )
    wait_for_port(port, proc, "azurite", lambda: proc.stdout.read().decode(errors="replace"), timeout=30)
    conn = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
    )
    try:
        yield conn
    finally:
        stop_process(proc)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _workbench_home(tmp_path, monkeypatch):
    """Each test gets its own model registry home."""
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "workbench-home"))
    os.environ.setdefault("WORKBENCH_NUM_THREADS", "1")
