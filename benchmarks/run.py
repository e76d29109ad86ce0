"""The benchmark harness: one command, a markdown report and a JSON file of every figure.

    .venv/bin/python -m benchmarks.run --suite all                 # full run (hours on 2 cores)
    .venv/bin/python -m benchmarks.run --suite all --reuse-anchor  # reuse cached anchor runs
    .venv/bin/python -m benchmarks.run --suite all --quick --output /tmp/bench   # seconds-long smoke run

Suites: ``accuracy`` (SMD 3 machines + SKAB; product, anchor, PCA, IsolationForest,
random; VUS-PR first), ``gutentag`` (the same on 29 synthetic GutenTAG datasets,
per anomaly kind and per base; needs ``benchmarks/.venv-gutentag`` from
``benchmarks/setup_gutentag.sh``, skipped with a note without it), ``speed``
(product vs anchor: training, batch scoring, detect-last, import), ``scale``
(1,000,000 x 20 synthetic: data prep, training, inference).  The anchor
(Microsoft's time-series-anomaly-detector 0.4.0) runs in ``benchmarks/.venv-anchor``,
built by ``benchmarks/setup_anchor.sh`` when missing.
Writes ``report.md`` and ``report.json`` (``--report-name``) to ``--output``
(default ``benchmarks/results``).
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import report as report_mod
from benchmarks.jobs import ANCHOR_PYTHON, CACHE, HERE

ALL_METHODS = ("product", "anchor", "pca", "iforest", "random")


def product_available() -> bool:
    """Whether ``workbench.mvad.detector`` (the product's detector) can be imported."""
    try:
        return importlib.util.find_spec("workbench.mvad.detector") is not None
    except ModuleNotFoundError:
        return False


def ensure_anchor_venv(log) -> bool:
    """Build the anchor's virtualenv when it is missing; False when that fails."""
    if ANCHOR_PYTHON.exists():
        return True
    log("building benchmarks/.venv-anchor (torch==2.13.0, time-series-anomaly-detector==0.4.0) ...")
    proc = subprocess.run(["bash", str(HERE / "setup_anchor.sh")], capture_output=True, text=True)
    if proc.returncode != 0:
        log(proc.stderr[-3000:])
    return proc.returncode == 0 and ANCHOR_PYTHON.exists()


def _anchor_versions() -> str | None:
    if not ANCHOR_PYTHON.exists():
        return None
    code = ("from importlib.metadata import version as v; "
            "print(', '.join(f'{p} {v(p)}' for p in "
            "('time-series-anomaly-detector', 'torch', 'numpy', 'pandas', 'mlflow')))")
    proc = subprocess.run([str(ANCHOR_PYTHON), "-c", code], capture_output=True, text=True)
    return proc.stdout.strip() or None


def _vus_window(text: str) -> int | None:
    if text == "auto":
        return None
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 'auto' or a non-negative integer")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", choices=("accuracy", "gutentag", "speed", "scale", "all"), default="all")
    p.add_argument("--quick", action="store_true",
                   help="tiny data, 1-2 epochs, 2 seeds: a smoke run that takes seconds per method")
    p.add_argument("--methods", default=",".join(ALL_METHODS),
                   help="comma-separated subset of " + ",".join(ALL_METHODS) + " (default: all available)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2 (quick: 0 1)")
    p.add_argument("--anchor-seeds", type=int, nargs="+", default=None,
                   help="seeds of the anchor in the accuracy and gutentag suites (default: --seeds)")
    p.add_argument("--gutentag-anchor-seeds", type=int, nargs="+", default=None,
                   help="seeds of the anchor in the gutentag suite (default: --anchor-seeds); an anchor run "
                        "there takes about a minute per dataset")
    p.add_argument("--epochs", type=int, default=30, help="training epochs of the anchor in the accuracy suite")
    p.add_argument("--product-epochs", type=int, default=None,
                   help="training epochs of the product (accuracy suite; default: --epochs)")
    p.add_argument("--scale-epochs", type=int, default=None,
                   help="product epochs on the 1M x 20 scale case (default: the product's own default)")
    p.add_argument("--vus-window", type=_vus_window, default=None,
                   help="VUS buffer width in rows, or 'auto' (default): TSB-AD's rule, the dominant period of "
                        "each test series' first variable")
    p.add_argument("--threads", type=int, default=1, help="torch threads in every method (default 1)")
    p.add_argument("--reuse-anchor", action="store_true",
                   help="reuse cached anchor runs from benchmarks/cache/ (same data, parameters and runner only)")
    p.add_argument("--output", type=Path, default=HERE / "results", help="folder for report.md and report.json")
    p.add_argument("--report-name", default="report",
                   help="file stem of the report in --output (default 'report': report.md, report.json)")
    p.add_argument("--cache", type=Path, default=CACHE,
                   help="folder for inputs, per-run outputs and the scale data (default benchmarks/cache)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t_start = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - t_start:7.1f}s] {msg}", flush=True)

    requested = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(requested) - set(ALL_METHODS))
    if unknown:
        raise SystemExit(f"unknown method(s): {', '.join(unknown)}")
    notes = []
    methods = []
    for m in requested:
        if m == "product" and not product_available():
            notes.append("The product (`workbench.mvad.detector`) was not importable: its rows are missing.")
            continue
        if m == "anchor" and not ensure_anchor_venv(log):
            notes.append("The anchor's venv could not be built: its rows are missing.")
            continue
        methods.append(m)
    seeds = args.seeds or ([0, 1] if args.quick else [0, 1, 2])
    product_epochs = args.product_epochs if args.product_epochs is not None else args.epochs

    results: dict = {"command": "python -m benchmarks.run " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
                     "started": dt.datetime.now().isoformat(timespec="seconds"),
                     "machine": report_mod.describe_machine(),
                     "anchor_versions": _anchor_versions() if "anchor" in methods else None,
                     "notes": notes, "accuracy": None, "gutentag": None, "speed": None, "scale": None}
    suites = ("accuracy", "gutentag", "speed", "scale") if args.suite == "all" else (args.suite,)
    accuracy_kwargs = {"quick": args.quick, "reuse_anchor": args.reuse_anchor, "vus_window": args.vus_window,
                       "threads": args.threads, "product_epochs": 1 if args.quick else product_epochs,
                       "cache_dir": args.cache, "log": log,
                       "method_seeds": {"anchor": args.anchor_seeds} if args.anchor_seeds else None}
    if "accuracy" in suites:
        from benchmarks.accuracy import run_accuracy
        results["accuracy"] = run_accuracy(methods, seeds, 1 if args.quick else args.epochs, **accuracy_kwargs)
    if "gutentag" in suites:
        from benchmarks.accuracy import run_gutentag
        from benchmarks.datasets import GutenTAGUnavailable
        gutentag_kwargs = dict(accuracy_kwargs)
        if args.gutentag_anchor_seeds:
            gutentag_kwargs["method_seeds"] = {"anchor": args.gutentag_anchor_seeds}
        try:
            results["gutentag"] = run_gutentag(methods, seeds, 1 if args.quick else args.epochs, **gutentag_kwargs)
        except GutenTAGUnavailable as exc:
            notes.append(f"GutenTAG suite skipped: {exc}")
            log(f"GutenTAG suite skipped: {exc}")
    if "speed" in suites:
        from benchmarks.speed import run_speed
        if not {"product", "anchor"} & set(methods):
            notes.append("Speed suite skipped: neither the product nor the anchor was run.")
        else:
            results["speed"] = run_speed(methods, quick=args.quick, reuse_anchor=args.reuse_anchor,
                                         threads=args.threads, cache_dir=args.cache, log=log)
    if "scale" in suites:
        from benchmarks.scale import run_scale
        results["scale"] = run_scale(methods, quick=args.quick, epochs=args.scale_epochs, threads=args.threads,
                                     cache_dir=args.cache, log=log)
    results["finished"] = dt.datetime.now().isoformat(timespec="seconds")

    args.output.mkdir(parents=True, exist_ok=True)
    md, js = args.output / f"{args.report_name}.md", args.output / f"{args.report_name}.json"
    js.write_text(json.dumps(results, indent=1, default=float))
    md.write_text(report_mod.render(results))
    log(f"wrote {md} and {js.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
