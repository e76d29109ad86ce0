"""Fleet benchmark: a serial loop over ``MultivariateModel`` against the fleet on a 2-worker LocalCluster, one run.

N synthetic entities (default 200; 38 variables x 5,000 one-minute rows, a fault near the end of every
fourth), each trained on its first 80% of rows and batch-detected on the rest.  Both sides do the same
work with one torch thread per process: ``MultivariateModel.fit`` + ``detect`` per entity in this process,
then ``train_fleet`` + ``detect_fleet`` on a ``LocalCluster(n_workers=2, threads_per_worker=1)``.

Reported: wall times and the speedup; the fleet's scheduling + transfer overhead as a share of the work
(1 - sum of the tasks' own wall times / (fleet wall time x workers)); peak RSS of each worker; entities per
hour per core; and a linear extrapolation to 10,000 entities (the per-entity work does not depend on
the fleet size; the registry's 1,000-model cap must be raised with WORKBENCH_MAX_MODELS).

    .venv/bin/python -m benchmarks.fleet_bench                          # 200 entities, 100 epochs (hours)
    .venv/bin/python -m benchmarks.fleet_bench --entities 8 --epochs 5  # a smoke run, about a minute
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
import warnings
from pathlib import Path

from benchmarks.fleet_data import make_fleet, timestamp_at, write_folder
from benchmarks.report import describe_machine

RESULTS = Path(__file__).resolve().parent / "results" / "fleet.json"
EXTRAPOLATE_TO = 10_000


def _peak_rss_bytes() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def run_serial(folder: Path, names: list[str], home: Path, train_end: str, detect_from: str, *, epochs: int,
               window: int) -> dict:
    """Each entity in turn: MultivariateModel.fit then detect, one torch thread, one process."""
    import torch

    from workbench.multivariate import MultivariateModel
    from workbench.service.registry import Registry

    torch.set_num_threads(1)
    registry = Registry(home)
    started = time.perf_counter()
    cpu = time.process_time()
    anomalies = 0
    for name in names:
        source = str(folder / f"{name}.csv")
        model = MultivariateModel.fit(source, sliding_window=window, end_time=train_end, epochs=epochs,
                                      progress=False, registry=registry)
        anomalies += int(model.detect(source, start_time=detect_from).frame["is_anomaly"].sum())
    wall = time.perf_counter() - started
    return {"seconds": wall, "cpu_seconds": time.process_time() - cpu, "anomalies": anomalies,
            "peak_rss_bytes": _peak_rss_bytes()}


def run_fleet(folder: Path, home: Path, train_end: str, detect_from: str, *, epochs: int, window: int,
              workers: int) -> dict:
    """train_fleet + detect_fleet on a LocalCluster of ``workers`` processes (cluster start-up timed apart)."""
    from distributed import Client, LocalCluster

    from workbench.fleet import detect_fleet, train_fleet

    boot = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster)
    client.run(lambda: __import__("workbench.fleet.tasks"))  # workers import torch and the core before timing
    boot = time.perf_counter() - boot
    try:
        started = time.perf_counter()
        trained = train_fleet(folder, {"slidingWindow": window, "epochs": epochs, "endTime": train_end},
                              client=client, home=home, show_progress=False)
        detected = detect_fleet(folder, start_time=detect_from, client=client, home=home, show_progress=False)
        wall = time.perf_counter() - started
        rss = client.run(_peak_rss_bytes)
    finally:
        client.close()
        cluster.close()
    runs = [trained.attrs["run"], detected.attrs["run"]]
    task_seconds = sum(r["task_seconds"] for r in runs)
    return {"seconds": wall, "cluster_start_seconds": boot, "train_seconds": runs[0]["seconds"],
            "detect_seconds": runs[1]["seconds"], "task_seconds": task_seconds,
            "task_cpu_seconds": sum(r["task_cpu_seconds"] for r in runs),
            "overhead_share": 1.0 - task_seconds / (wall * workers),
            "peak_rss_per_worker_bytes": sorted(rss.values()), "trained": runs[0]["trained"],
            "failed": runs[0]["failed"] + runs[1]["failed"], "anomalies": int(detected["anomalies"].sum()),
            "anomalous_now": int((detected["attention"] == "anomalous now").sum())}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=200)
    parser.add_argument("--variables", type=int, default=38)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--window", type=int, default=100, help="slidingWindow (default 100)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    os.environ.setdefault("WORKBENCH_MAX_MODELS", str(max(1000, 2 * args.entities)))
    work = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    try:
        faulty = tuple(range(0, args.entities, 4))
        entities = make_fleet(args.entities, args.rows, args.variables, faulty=faulty, fault_at=0.98,
                              fault_rows=max(10, args.rows // 50), seed=11)
        folder = write_folder(entities, work / "fleet")
        del entities
        split = int(args.rows * 0.8)
        train_end, detect_from = timestamp_at(split - 1), timestamp_at(split)
        print(f"{args.entities} entities x {args.variables} variables x {args.rows} rows, {args.epochs} epochs, "
              f"window {args.window}")
        serial = run_serial(folder, sorted(p.stem for p in folder.glob("*.csv")), work / "serial", train_end,
                            detect_from, epochs=args.epochs, window=args.window)
        print(f"serial loop: {serial['seconds']:.1f} s")
        fleet = run_fleet(folder, work / "fleet-home", train_end, detect_from, epochs=args.epochs,
                          window=args.window, workers=args.workers)
        print(f"fleet on {args.workers} workers: {fleet['seconds']:.1f} s (+ {fleet['cluster_start_seconds']:.1f} s "
              f"cluster start)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    per_hour_per_core = args.entities / (fleet["seconds"] / 3600) / args.workers
    # the same from CPU time, which a busy machine does not inflate: what a quiet core would do
    per_hour_per_core_cpu = args.entities / (fleet["task_cpu_seconds"] / 3600)
    result = {
        "command": "python -m benchmarks.fleet_bench " + " ".join(argv or []),
        "params": vars(args) | {"output": str(args.output)},
        "machine": describe_machine(),
        "serial": serial, "fleet": fleet,
        "speedup": serial["seconds"] / fleet["seconds"],
        "speedup_with_cluster_start": serial["seconds"] / (fleet["seconds"] + fleet["cluster_start_seconds"]),
        "entities_per_hour_per_core": per_hour_per_core,
        "entities_per_hour_per_core_from_cpu_time": per_hour_per_core_cpu,
        "cpu_share_serial": serial["cpu_seconds"] / serial["seconds"],
        "cpu_share_fleet_tasks": fleet["task_cpu_seconds"] / fleet["task_seconds"],
        "extrapolation": {
            "entities": EXTRAPOLATE_TO,
            "method": "linear in entities: each entity is one independent task of the same size; "
                      "hours = entities / (entities per hour per core x cores)",
            "hours_on_2_cores": EXTRAPOLATE_TO / (per_hour_per_core * 2),
            "hours_on_64_cores": EXTRAPOLATE_TO / (per_hour_per_core * 64),
            "hours_on_2_quiet_cores_from_cpu_time": EXTRAPOLATE_TO / (per_hour_per_core_cpu * 2),
            "note": "set WORKBENCH_MAX_MODELS above 10,000; the driver writes ~2 registry rows per entity",
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"CPU share of wall time (1.0 = a quiet machine): serial {result['cpu_share_serial']:.2f}, fleet tasks "
          f"{result['cpu_share_fleet_tasks']:.2f}")
    print(f"speedup {result['speedup']:.2f}x, overhead {fleet['overhead_share']:.1%} of the work, "
          f"{per_hour_per_core:.0f} entities/hour/core; 10,000 entities: "
          f"{result['extrapolation']['hours_on_2_cores']:.1f} h on 2 cores -> {args.output}")
    return result


if __name__ == "__main__":
    main()
