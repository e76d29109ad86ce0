"""The thread policy: usable CPUs from the affinity mask and the cgroup quota, and the count it picks."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from workbench import runtime
from workbench.exceptions import ValidationError


def _cgroup_v2(tmp_path: Path, quotas: dict[str, str], own: str = "/pod/app") -> tuple[Path, Path]:
    """A fake /sys/fs/cgroup (v2) with ``cpu.max`` per folder, and a /proc/self/cgroup naming ``own``."""
    root = tmp_path / "cgroup"
    for folder, text in quotas.items():
        (root / folder.strip("/")).mkdir(parents=True, exist_ok=True)
        (root / folder.strip("/") / "cpu.max").write_text(text + "\n")
    proc = tmp_path / "proc_self_cgroup"
    proc.write_text(f"0::{own}\n")
    return root, proc


def test_a_v2_quota_of_one_and_a_half_cpus_gives_one_thread(tmp_path):
    root, proc = _cgroup_v2(tmp_path, {"": "max 100000", "pod": "150000 100000", "pod/app": "max 100000"})
    assert runtime.usable_cpus(root, proc, affinity={0, 1, 2, 3}) == 1.5
    assert runtime.torch_threads(cpus=runtime.usable_cpus(root, proc, affinity={0, 1, 2, 3})) == 1


def test_the_tightest_quota_on_the_path_wins_and_the_affinity_mask_caps_it(tmp_path):
    root, proc = _cgroup_v2(tmp_path, {"": "max 100000", "pod": "800000 100000", "pod/app": "300000 100000"})
    assert runtime.usable_cpus(root, proc, affinity=set(range(16))) == 3.0
    assert runtime.usable_cpus(root, proc, affinity={0, 1}) == 2.0  # taskset -c 0,1
    no_quota, proc2 = _cgroup_v2(tmp_path / "b", {"": "max 100000"})
    assert runtime.usable_cpus(no_quota, proc2, affinity=set(range(6))) == 6.0


def test_a_v1_cfs_quota_inside_a_container(tmp_path):
    root = tmp_path / "cgroup"
    cpu = root / "cpu,cpuacct"  # the container's cgroup namespace: its own cgroup is the mount root
    cpu.mkdir(parents=True)
    (cpu / "cpu.cfs_quota_us").write_text("200000\n")
    (cpu / "cpu.cfs_period_us").write_text("100000\n")
    proc = tmp_path / "proc_self_cgroup"
    proc.write_text("4:cpu,cpuacct:/\n1:name=systemd:/\n")
    assert runtime.cgroup_cpu_limit(root, proc) == 2.0
    assert runtime.usable_cpus(root, proc, affinity=set(range(8))) == 2.0
    (cpu / "cpu.cfs_quota_us").write_text("-1\n")  # unlimited
    assert runtime.cgroup_cpu_limit(root, proc) is None


def test_the_policy_user_first_then_work_then_cpus():
    assert runtime.torch_threads(3, work_size=1e3, cpus=1) == 3  # the user's num_threads wins
    assert runtime.torch_threads(None, work_size=3e7, cpus=16) == 1  # a small model: one thread
    assert runtime.torch_threads(None, work_size=2.5 * runtime.WORK_PER_THREAD, cpus=16) == 3
    assert runtime.torch_threads(None, work_size=1e15, cpus=4.9) == 4  # never more than the usable CPUs
    assert runtime.torch_threads(None, work_size=None, cpus=0.5) == 1
    with pytest.raises(ValidationError, match="num_threads"):
        runtime.torch_threads(0)


def test_the_detector_runs_a_default_model_on_one_thread_and_restores_torch():
    import torch

    from workbench.mvad.branches import NetworkBranch
    from workbench.mvad.detector import MultivariateDetector

    before = torch.get_num_threads()
    seen = []
    det = MultivariateDetector(sliding_window=20, epochs=1, branches=[NetworkBranch(context=8, hidden=16)])
    x = np.sin(np.arange(400)[:, None] / 5 + np.arange(3)) + 0.01 * np.random.default_rng(0).standard_normal((400, 3))
    det.fit(x, on_epoch=lambda report: seen.append(torch.get_num_threads()))
    assert seen == [1]
    assert torch.get_num_threads() == before
    det.num_threads = 2
    det.fit(x, on_epoch=lambda report: seen.append(torch.get_num_threads()))
    assert seen[-1] == 2


def test_import_workbench_makes_waiting_threads_sleep_before_torch_loads():
    code = ("import os, workbench, workbench.mvad.detector, torch; "
            "print(os.environ['OMP_WAIT_POLICY'], os.environ['KMP_BLOCKTIME'])")
    env = {k: v for k, v in os.environ.items() if k not in runtime.PASSIVE_WAITING}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["PASSIVE", "0"]
    env["OMP_WAIT_POLICY"] = "ACTIVE"  # the user's own setting stays
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "ACTIVE"


def test_use_threads_sets_the_process_and_caps_later_calls():
    code = ("from workbench import runtime; import torch, os; runtime.use_threads(1); "
            "\nwith runtime.threads(None, 1e15) as n: print(n, torch.get_num_threads(), os.environ['OMP_NUM_THREADS'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "1", "1"]
