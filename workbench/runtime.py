"""How many CPU threads torch may use here: the CPUs this process can really run on, and a policy.

Why: torch starts one thread per *visible* core and its OpenMP threads spin while they wait.
On a shared machine (a busy laptop, several fits at once, Dask workers on one node, a container
limited by a cgroup quota) those threads wait on each other at every barrier while another
process holds a core, and a small model's training slows by tens of times
(``benchmarks/contention.py``, ``benchmarks/results/contention.json``).

So the policy (:func:`torch_threads`) is:

* the user's ``num_threads`` wins;
* never more threads than :func:`usable_cpus`: the affinity mask (``taskset``, ``--cpuset-cpus``)
  and the cgroup CPU quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us / cpu.cfs_period_us``, as set
  by Docker ``--cpus`` and Kubernetes CPU limits), not the machine's core count;
* one thread while a step's work is small enough that one thread is as fast
  (:data:`WORK_PER_THREAD`); a second thread only per that much work;
* waiting threads yield instead of spinning (:func:`prefer_passive_waiting`, ``OMP_WAIT_POLICY=PASSIVE``
  and ``KMP_BLOCKTIME=0`` unless already set; it must run before torch is imported, which
  ``import workbench`` does), and one inter-op thread (torch's inter-op pool only serves
  ``torch.jit.fork``, which nothing here uses).

A process that runs one task per core (a Dask worker) calls ``use_threads(1)`` once.
"""
from __future__ import annotations

import contextlib
import math
import numbers
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from workbench.exceptions import ErrorCode, ValidationError

# Multiply-accumulates per training step (batch x model size) that keep one thread busy before a
# second one pays (the MVAD model's layer shapes on the 2-core development machine: benchmarks/contention.py).
WORK_PER_THREAD = 4e9
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")
PASSIVE_WAITING = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}
USABLE_CPUS_SECONDS = 5.0  # how long this process's usable CPUs are taken as read
_usable: list[float] = [0.0, -math.inf]  # [cpus, read again after this monotonic time]


def prefer_passive_waiting() -> bool:
    """Ask OpenMP's waiting threads to sleep instead of spinning (env defaults the user did not set).

    OpenMP reads these once, when torch loads it, so this only works before ``import torch``;
    returns whether that was still the case.
    """
    for name, value in PASSIVE_WAITING.items():
        os.environ.setdefault(name, value)
    return "torch" not in sys.modules


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _quota_v2(folder: Path) -> float | None:
    text = _read(folder / "cpu.max")  # "max 100000" or "<quota> <period>"
    if not text:
        return None
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        quota, period = float(parts[0]), float(parts[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _quota_v1(folder: Path) -> float | None:
    quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
    try:
        q, p = float(quota or "-1"), float(period or "0")
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None


def _own_cgroups(proc_cgroup: Path) -> dict[str, str]:
    """``{controller: path}`` from /proc/self/cgroup (``""`` is the v2 unified hierarchy)."""
    out: dict[str, str] = {}
    for line in (_read(proc_cgroup) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(",") if parts[1] else [""]:
                out[controller] = parts[2]
    return out


def _folders(mount: Path, own: str | None) -> list[Path]:
    """The process's cgroup folder under ``mount`` and every folder above it, up to ``mount``
    (a quota on any of them limits the process); ``mount`` alone when the path is unknown,
    as inside a container whose cgroup namespace starts at its own cgroup."""
    folders = [mount]
    if own:
        folder = mount
        for part in [p for p in own.split("/") if p and p != ".."]:
            folder = folder / part
            folders.append(folder)
    return folders


def cgroup_cpu_limit(cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> float | None:
    """CPUs the cgroup quota allows (e.g. 1.5), the tightest on the process's path; None: no quota."""
    own = _own_cgroups(proc_cgroup)
    limits = [_quota_v2(f) for f in _folders(cgroup_root, own.get(""))]
    for mount in ("cpu,cpuacct", "cpu", "cpuacct,cpu"):
        if (cgroup_root / mount).is_dir():
            limits += [_quota_v1(f) for f in _folders(cgroup_root / mount, own.get("cpu"))]
            break
    found = [x for x in limits if x is not None]
    return min(found) if found else None


def usable_cpus(cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP,
                affinity: set[int] | None = None) -> float:
    """CPUs this process may really use: its affinity mask, capped by its cgroup quota.

    Reading the cgroup files costs a good part of a detect-last call, so this process's own figure is read
    again only after ``USABLE_CPUS_SECONDS``."""
    own = cgroup_root == CGROUP_ROOT and proc_cgroup == PROC_CGROUP and affinity is None
    if own and _usable[1] > time.monotonic():
        return _usable[0]
    cpus = _usable_cpus(cgroup_root, proc_cgroup, affinity)
    if own:
        _usable[:] = [cpus, time.monotonic() + USABLE_CPUS_SECONDS]
    return cpus


def _usable_cpus(cgroup_root: Path, proc_cgroup: Path, affinity: set[int] | None) -> float:
    if affinity is None:
        try:
            affinity = os.sched_getaffinity(0)
        except (AttributeError, OSError):  # not Linux
            affinity = set(range(os.cpu_count() or 1))
    cpus = float(max(1, len(affinity)))
    limit = cgroup_cpu_limit(cgroup_root, proc_cgroup)
    return min(cpus, limit) if limit is not None else cpus


def torch_threads(requested: int | None = None, work_size: float | None = None,
                  cpus: float | None = None) -> int:
    """Threads for one torch call: ``requested`` when given (the user wins), else one per
    :data:`WORK_PER_THREAD` of ``work_size`` (multiply-accumulates per step; unknown: no cap),
    never more than the usable CPUs (``cpus``, measured when None) and never fewer than one."""
    if requested is not None:
        if isinstance(requested, bool) or not isinstance(requested, numbers.Integral) or requested < 1:
            raise ValidationError(ErrorCode.BAD_ARGUMENT,
                                  f"num_threads must be a positive integer or None; got {requested!r}")
        return int(requested)
    most = max(1, math.floor(usable_cpus() if cpus is None else cpus))
    if work_size is None:
        return most
    return max(1, min(most, math.ceil(work_size / WORK_PER_THREAD)))


_interop_done = False
_process_threads: int | None = None  # set by use_threads: a cap for every later call


def _single_interop() -> None:
    global _interop_done
    if _interop_done:
        return
    import torch

    _interop_done = True
    with contextlib.suppress(RuntimeError):  # already started (e.g. by the user): leave it
        torch.set_num_interop_threads(1)


def use_threads(n: int) -> int:
    """Set torch's threads for this whole process (a Dask worker: ``use_threads(1)``); returns the
    previous count.  Child processes inherit the count through ``OMP_NUM_THREADS``/``MKL_NUM_THREADS``."""
    import torch

    global _process_threads
    n = _process_threads = torch_threads(n)
    _single_interop()
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(n)
    return before


@contextlib.contextmanager
def threads(requested: int | None = None, work_size: float | None = None) -> Iterator[int]:
    """Run a block with :func:`torch_threads` threads, then restore torch's setting.

    A count set by :func:`use_threads` caps it unless ``requested`` is given.  torch's setting is
    process-wide: concurrent blocks in one process share the last one set.
    """
    import torch

    n = torch_threads(requested, work_size)
    if requested is None and _process_threads is not None:
        n = min(n, _process_threads)
    _single_interop()
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


__all__ = ["WORK_PER_THREAD", "cgroup_cpu_limit", "prefer_passive_waiting", "threads", "torch_threads",
           "usable_cpus", "use_threads"]
