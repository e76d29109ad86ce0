"""Launch one measurement in its own process and cache its outputs.

Every method runs through the same file protocol (see ``worker.py`` and
``anchor_runner.py``): an input npz written here, a JSON of parameters, and an
output npz + JSON read back.  Outputs are cached under ``benchmarks/cache/``
keyed by the input data, the parameters and the runner's source, so a cached
result is reused only when the caller asks (``reuse=True``) and never for
different data or settings.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.datasets import Benchmark

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = HERE / "cache"
ANCHOR_VENV = HERE / ".venv-anchor"
ANCHOR_PYTHON = ANCHOR_VENV / "bin" / "python"


@dataclass
class JobResult:
    """Arrays (per case ``i``: ``score_i``, ``is_anomaly_i``, ...) and the JSON report of one run."""

    arrays: dict[str, np.ndarray]
    report: dict
    cached: bool = False

    def case(self, i: int) -> dict[str, np.ndarray]:
        suffix = f"_{i}"
        return {k[: -len(suffix)]: v for k, v in self.arrays.items() if k.endswith(suffix)}


def _digest_arrays(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(arr.dtype).encode() + str(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def input_arrays(benchmark: Benchmark, window: int, cases: list[int] | None = None) -> dict[str, np.ndarray]:
    """The npz content for a benchmark: train, variables, tests and ``window`` rows of history."""
    arrays = {"train": np.asarray(benchmark.train, dtype=np.float32),
              "variables": np.asarray(benchmark.variables, dtype=str)}
    chosen = range(len(benchmark.cases)) if cases is None else cases
    for j, i in enumerate(chosen):
        case = benchmark.cases[i]
        arrays[f"test_{j}"] = np.asarray(case.test, dtype=np.float32)
        if case.history is not None:
            arrays[f"history_{j}"] = np.asarray(case.history[-window:], dtype=np.float32)
    return arrays


def _runner(method: str) -> tuple[list[str], Path]:
    if method == "anchor":
        script = HERE / "anchor_runner.py"
        return [str(ANCHOR_PYTHON), str(script)], script
    return [sys.executable, "-m", "benchmarks.worker"], HERE / "worker.py"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)


def run_job(method: str, benchmark: Benchmark, params: dict, *, cases: list[int] | None = None,
            reuse: bool = False, timeout: float | None = None, cache_dir: Path = CACHE,
            log=None) -> JobResult:
    """Run ``method`` on ``benchmark`` in a fresh process (or load the cached run when ``reuse``)."""
    window = int(params.get("window", 1))
    arrays = input_arrays(benchmark, window, cases)
    cmd, source = _runner(method)
    params = dict(params, method=method)
    key_src = json.dumps({"params": params, "data": _digest_arrays(arrays),
                          "runner": hashlib.sha256(source.read_bytes()).hexdigest()}, sort_keys=True)
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    stem = f"{method}-{_slug(benchmark.name)}-{params['mode']}-s{params.get('seed', 0)}-{key}"
    jobs = Path(cache_dir) / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    out_prefix = jobs / stem
    out_npz, out_json = Path(str(out_prefix) + ".npz"), Path(str(out_prefix) + ".json")
    if reuse and out_npz.exists() and out_json.exists():
        return _load(out_npz, out_json, cached=True)

    in_path = jobs / f"input-{_digest_arrays(arrays)[:16]}.npz"
    if not in_path.exists():
        tmp = in_path.with_name(in_path.stem + ".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(in_path)
    env = dict(os.environ, TQDM_DISABLE="1", PYTHONWARNINGS="ignore")
    threads = str(params.get("threads", 1))
    env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
    if method != "anchor":
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    if log is not None:
        log(f"run {stem}")
    proc = subprocess.run(cmd + [str(in_path), str(out_prefix), json.dumps(params)], cwd=str(REPO), env=env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{method} on {benchmark.name} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return _load(out_npz, out_json, cached=False)


def _load(npz: Path, js: Path, cached: bool) -> JobResult:
    with np.load(npz, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return JobResult(arrays, json.loads(js.read_text()), cached=cached)
