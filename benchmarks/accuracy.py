"""Accuracy suite: every method on SMD (3 machines) and SKAB, several seeds, honest metrics.

Each (benchmark, method, seed) is one process (``jobs.run_job``).  Rows a
method cannot score (not enough history) get that method's lowest score, so
they are never ranked as anomalies and no method is scored on different rows.
SKAB's 34 experiment files are scored one by one and their metrics averaged.
The GutenTAG suite (``run_gutentag``) runs the same protocol on the synthetic
datasets of ``benchmarks/gutentag/*.yaml`` and summarises them per anomaly kind
and per base oscillation.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import datasets
from benchmarks.datasets import Benchmark, Case
from benchmarks.jobs import CACHE, JobResult, run_job
from workbench import evaluation as ev

METRICS = ("vus_pr", "auc_pr", "auc_roc", "best_f1", "f1", "flagged_share", "hit100", "hit150", "pa_f1_best",
           "vus_roc", "unscored_share")


@dataclass
class Target:
    """A benchmark with the detection window its methods use and the VUS buffer its metrics use.

    ``vus_window`` None means TSB-AD's protocol: per case, the dominant period
    of the first variable of the test data (``evaluation.period_window``).
    """

    benchmark: Benchmark
    window: int
    vus_window: int | None
    group: str

    def case_vus_window(self, case: Case) -> int:
        return self.vus_window if self.vus_window is not None else ev.period_window(case.test[:, 0])


def targets(quick: bool = False, vus_window: int | None = None) -> list[Target]:
    """SMD machines (window 200) and SKAB (window 100); ``quick`` keeps a few thousand rows of each."""
    out = []
    machines = datasets.SMD_MACHINES[:1] if quick else datasets.SMD_MACHINES
    for machine in machines:
        bench = datasets.load_smd(machine)
        if quick:
            bench = _shrink_smd(bench, 3000)
        out.append(Target(bench, 200, vus_window, "SMD"))
    skab = datasets.load_skab()
    if quick:
        skab.cases = [skab.cases[0], skab.cases[16], skab.cases[21]]
        skab.train = skab.train[:3000]
    out.append(Target(skab, 100, vus_window, "SKAB"))
    return out


def _shrink_smd(bench: Benchmark, rows: int) -> Benchmark:
    case = bench.cases[0]
    causes = [c for c in case.root_causes if c.end <= rows]
    small = Case(case.name, case.test[:rows], case.labels[:rows], history=case.history, root_causes=causes)
    return Benchmark(bench.name + f"[:{rows}]", bench.train[:rows], bench.variables, [small])


def case_metrics(case: Case, out: dict[str, np.ndarray], vus_window: int) -> dict[str, float]:
    """All metrics of one method's output on one case."""
    score = np.asarray(out["score"], dtype=np.float64)
    valid = np.isfinite(score)
    if not valid.any():
        raise ValueError(f"{case.name}: the method scored no row")
    filled = np.where(valid, score, score[valid].min())
    pred = np.asarray(out["is_anomaly"], dtype=bool) if "is_anomaly" in out else None
    metrics = ev.evaluate(case.labels, filled, pred, window=vus_window)
    metrics["unscored_share"] = float(1.0 - valid.mean())
    if case.root_causes and "contributions" in out:
        metrics["hit100"] = ev.hit_rate(out["contributions"], case.root_causes, 100)
        metrics["hit150"] = ev.hit_rate(out["contributions"], case.root_causes, 150)
    return metrics


def job_metrics(target: Target, result: JobResult) -> dict[str, float]:
    """Metrics of one job, averaged over the benchmark's cases."""
    per_case = [case_metrics(case, result.case(i), target.case_vus_window(case))
                for i, case in enumerate(target.benchmark.cases)]
    keys = set().union(*per_case)
    return {k: float(np.mean([m[k] for m in per_case if k in m])) for k in sorted(keys)}


def case_shares(target: Target, result: JobResult) -> list[list[float]]:
    """``[flagged share, true share]`` of each case, for methods that flag rows (empty otherwise)."""
    out = []
    for i, case in enumerate(target.benchmark.cases):
        flags = result.case(i).get("is_anomaly")
        if flags is not None:
            out.append([float(np.mean(np.asarray(flags, dtype=bool))), float(np.mean(case.labels))])
    return out


# issue 15: a flag means the same everywhere when each case is flagged within ``WITHIN`` times its true share,
# and never beyond ``BEYOND`` times it where anomalies are at least ``COUNTED_SHARE`` of the rows
WITHIN, BEYOND, COUNTED_SHARE = 2.0, 3.0, 0.01


def calibration(runs: list[dict], key=lambda run: run["group"]) -> list[dict]:
    """Per ``key(run)`` and method, over every case and seed: the mean flagged and true shares, the share of
    cases flagged within half to twice their true share, and how many of the cases with at least 1% anomalies
    are flagged beyond a third or three times it (and how many of those flag nothing)."""
    cases: dict[tuple[str, str], list[list[float]]] = {}
    for run in runs:
        if run.get("shares"):
            cases.setdefault((key(run), run["method"]), []).extend(run["shares"])
    rows = []
    for (group, method), pairs in sorted(cases.items(), key=lambda item: item[0][0]):  # methods as run
        shares = np.array(pairs)
        labelled = shares[shares[:, 1] > 0]
        ratio = labelled[:, 0] / labelled[:, 1]
        counted = labelled[:, 1] >= COUNTED_SHARE
        outside = counted & ((ratio < 1 / BEYOND) | (ratio > BEYOND))
        rows.append({"group": group, "method": method, "cases": len(shares),
                     "flagged": float(shares[:, 0].mean()), "true": float(shares[:, 1].mean()),
                     "within": float(np.mean((ratio >= 1 / WITHIN) & (ratio <= WITHIN))) if len(ratio) else None,
                     "beyond": int(outside.sum()), "counted": int(counted.sum()),
                     "beyond_none": int((outside & (labelled[:, 0] == 0)).sum())})
    return rows


GUTENTAG_WINDOW = 200
GUTENTAG_QUICK = {"sine.yaml": "sine.amplitude.10ch",
                  "random-mode-jump.yaml": "random-mode-jump.mode-correlation.6ch"}


def gutentag_targets(quick: bool = False, vus_window: int | None = None, cache_dir: Path = CACHE,
                     log=None) -> list[Target]:
    """The GutenTAG suite (window 200 throughout), generated into ``cache_dir/gutentag`` when missing.

    Raises :class:`datasets.GutenTAGUnavailable` when the GutenTAG venv is missing and the cache lacks a config.
    ``quick`` keeps two datasets (sine amplitude, mode correlation).
    """
    if quick:
        configs = [datasets.GUTENTAG_CONFIGS / name for name in GUTENTAG_QUICK]
        benches = datasets.load_gutentag(cache_dir, configs, names=list(GUTENTAG_QUICK.values()), log=log)
    else:
        benches = datasets.load_gutentag(cache_dir, log=log)
    return [Target(b, GUTENTAG_WINDOW, vus_window, "GutenTAG") for b in benches]


def run_accuracy(methods: list[str], seeds: list[int], epochs: int, *, quick: bool = False,
                 reuse_anchor: bool = False, vus_window: int | None = None, threads: int = 1,
                 product_epochs: int | None = None, cache_dir: Path = CACHE, log=print,
                 method_seeds: dict[str, list[int]] | None = None, chosen: list[Target] | None = None) -> dict:
    """Run the suite; returns per-run figures, timings and per-benchmark aggregates.

    ``epochs`` trains the anchor, ``product_epochs`` (default ``epochs``) the product. ``method_seeds``
    overrides ``seeds`` per method; ``chosen`` replaces SMD and SKAB by other targets.
    """
    product_epochs = epochs if product_epochs is None else product_epochs
    runs = []
    chosen = targets(quick, vus_window) if chosen is None else chosen
    for target in chosen:
        for method in methods:
            for seed in (method_seeds or {}).get(method, seeds):
                n_epochs = product_epochs if method == "product" else epochs
                params = {"mode": "fit_score", "window": target.window, "epochs": n_epochs, "seed": seed,
                          "threads": threads}
                result = run_job(method, target.benchmark, params, reuse=(reuse_anchor and method == "anchor"),
                                 cache_dir=cache_dir, log=log)
                metrics = job_metrics(target, result)
                runs.append({"benchmark": target.benchmark.name, "group": target.group, "method": method,
                             "seed": seed, "window": target.window, "shares": case_shares(target, result),
                             "cached": result.cached, "metrics": metrics, "timing": _timing(result)})
                log(f"  {target.benchmark.name:24s} {method:8s} seed {seed}: VUS-PR {metrics['vus_pr']:.3f} "
                    f"AUC-PR {metrics['auc_pr']:.3f} F1(own) {metrics.get('f1', float('nan')):.3f}")
    infos = [{"benchmark": t.benchmark.name, "group": t.group, "window": t.window,
              "vus_windows": [t.case_vus_window(c) for c in t.benchmark.cases],
              "train_rows": len(t.benchmark.train), "test_rows": t.benchmark.n_test_rows,
              "cases": len(t.benchmark.cases), "variables": len(t.benchmark.variables),
              "anomaly_share": float(np.mean(np.concatenate([c.labels for c in t.benchmark.cases])))}
             | t.benchmark.meta for t in chosen]
    return {"settings": {"methods": methods, "seeds": seeds, "epochs": epochs, "product_epochs": product_epochs,
                         "threads": threads, "quick": quick, "method_seeds": method_seeds,
                         "vus_window": "auto (TSB-AD period rule)" if vus_window is None else vus_window},
            "benchmarks": infos, "runs": runs, "summary": summarize(runs)}


def run_gutentag(methods: list[str], seeds: list[int], epochs: int, *, quick: bool = False, cache_dir: Path = CACHE,
                 vus_window: int | None = None, log=print, **kwargs) -> dict:
    """The accuracy protocol on the GutenTAG suite, summarised per dataset, anomaly kind and base oscillation.

    Raises :class:`datasets.GutenTAGUnavailable` when the suite's data cannot be generated here.
    """
    chosen = gutentag_targets(quick, vus_window, cache_dir, log=log)
    out = run_accuracy(methods, seeds, epochs, quick=quick, cache_dir=cache_dir, vus_window=vus_window, log=log,
                       chosen=chosen, **kwargs)
    meta = {t.benchmark.name: t.benchmark.meta for t in chosen}
    out["summary"] = summarize(out["runs"], group_rows=False)
    out["by_kind"] = group_summary(out["runs"], lambda r: meta[r["benchmark"]]["kind"])
    out["by_base"] = group_summary(out["runs"], lambda r: meta[r["benchmark"]]["base"])
    out["overall"] = group_summary(out["runs"], lambda r: "all")
    out["settings"]["generator"] = sorted({m["gutentag"] for m in meta.values()})
    out["settings"]["window"] = GUTENTAG_WINDOW
    return out


def group_summary(runs: list[dict], key) -> list[dict]:
    """Mean and sample std over seeds of the per-seed mean over the runs sharing ``key(run)``, per method."""
    groups: dict[tuple[str, str], dict[int, list[dict]]] = {}
    for run in runs:
        groups.setdefault((key(run), run["method"]), {}).setdefault(run["seed"], []).append(run["metrics"])
    rows = []
    for (group, method), per_seed in sorted(groups.items()):
        seed_means = [{k: float(np.mean([m[k] for m in ms if k in m])) for k in set().union(*ms)}
                      for ms in per_seed.values()]
        rows.append({"group": group, "method": method,
                     "n_benchmarks": len({r["benchmark"] for r in runs
                                          if key(r) == group and r["method"] == method}),
                     **_aggregate(seed_means)})
    return rows


def _timing(result: JobResult) -> dict:
    r = result.report
    return {k: r[k] for k in ("fit_s", "import_s", "peak_rss_bytes", "peak_rss_after_fit_bytes") if k in r} | {
        "score_s": float(np.sum(r.get("score_s", [0.0]))),
        "epoch_s_median": float(np.median(r["epoch_s"])) if r.get("epoch_s") else None}


def summarize(runs: list[dict], group_rows: bool = True) -> list[dict]:
    """Mean and sample std over seeds, per benchmark and per group (group mean first taken per seed)."""
    rows = []
    by_key: dict[tuple[str, str], dict[int, dict]] = {}
    for run in runs:
        by_key.setdefault((run["benchmark"], run["method"]), {})[run["seed"]] = run["metrics"]
    groups: dict[tuple[str, str], dict[int, list[dict]]] = {}
    for run in runs:
        groups.setdefault((run["group"], run["method"]), {}).setdefault(run["seed"], []).append(run["metrics"])
    for (bench, method), per_seed in by_key.items():
        rows.append({"benchmark": bench, "method": method, **_aggregate(list(per_seed.values()))})
    for (group, method), per_seed in groups.items():
        if not group_rows or len({r["benchmark"] for r in runs if r["group"] == group}) < 2:
            continue
        seed_means = [{k: float(np.mean([m[k] for m in ms if k in m])) for k in set().union(*ms)}
                      for ms in per_seed.values()]
        rows.append({"benchmark": f"{group} (mean of machines)", "method": method, **_aggregate(seed_means)})
    return rows


def _aggregate(per_seed: list[dict]) -> dict:
    out = {"n_seeds": len(per_seed)}
    for key in METRICS:
        values = [m[key] for m in per_seed if key in m]
        if values:
            out[key] = {"mean": float(np.mean(values)),
                        "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0}
    return out
