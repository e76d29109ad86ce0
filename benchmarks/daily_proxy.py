"""Server metrics with a daily pattern (issue 15's application servers): do temporal anomalies get caught?

No labelled application-server data is in ``../shared/data``.  The issue reports the workbench losing to the
anchor on entities whose anomalies are mostly *temporal*: a metric's usual shape over hours breaks while its
values stay inside their normal range, at 5-minute steps (a day is 288 rows).  This proxy generates such
entities so the gap can be measured here before a fix meets the real thing.

An entity has 19 metrics on a 5-minute grid: 12 follow one shared load curve (a two-peak working-day shape,
each day's amplitude varying +-10%, weekends at 60%) with their own gain, offset, lag of 0-2 rows and noise;
4 wander slowly (AR(1), 0.995); 3 are noisy counters unrelated to the load.  Training is 30 days (8,640 rows), the
test the 15 days that follow (4,320 rows; the training's last rows are its history).  The test carries
``ANOMALIES_PER_ENTITY`` anomalies of these kinds, every value inside the metric's training range:

* ``missed-peak``: the load metrics stay at the level of the segment's first row through a daily peak (48 rows);
* ``early-peak``: the load metrics run 36 rows ahead of the clock (72 rows);
* ``night-bump``: the load metrics show a daytime bump at night (36 rows);
* ``flat-metric``: one load metric holds its daily mean (48 rows);
* ``fast-wiggle``: one load metric oscillates every 12 rows around its curve, half its daily swing (36 rows).

Runs the product, PCA and the anchor through the accuracy harness's protocol (one process per job, results
cached by data and parameters) and prints VUS-PR, AUC-PR and own-flag F1 per entity, and VUS-PR per kind
(each kind scored on an entity where only that kind's rows count as anomalies, the others' rows removed)::

    .venv/bin/python -m benchmarks.daily_proxy --entities 4 --variants '{"branches": ["network", "linear"]}'  # ~25 min

``--growth 1.2`` multiplies the scored days' load metrics by 1.2 (the load grew since training), ``--window``
sets another slidingWindow; each writes its own results file.

Writes ``results/daily_proxy.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

from benchmarks.accuracy import Target, job_metrics
from benchmarks.datasets import Benchmark, Case
from benchmarks.jobs import run_job

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DAY = 288  # 5-minute steps
TRAIN_DAYS, TEST_DAYS = 30, 15
LOAD_METRICS, WALK_METRICS, COUNTER_METRICS = 12, 4, 3
KINDS = ("missed-peak", "early-peak", "night-bump", "flat-metric", "fast-wiggle")
ANOMALIES_PER_ENTITY = 10
WINDOW = 300  # the service's default slidingWindow: a little over a day


def _day_shape(phase: np.ndarray) -> np.ndarray:
    """A working day in [0, 1]: quiet night, a morning and an afternoon peak (phase in days)."""
    hour = 24 * (phase % 1.0)
    return (0.15 + 0.85 * np.exp(-((hour - 10.5) / 2.2) ** 2) + 0.7 * np.exp(-((hour - 15.5) / 2.0) ** 2)).clip(0, 1)


def _load(n_rows: int, start: int, rng: np.random.Generator) -> np.ndarray:
    """The shared load curve for rows ``start .. start + n_rows``: day shape x daily amplitude."""
    t = np.arange(start, start + n_rows)
    day = t // DAY
    amplitude = np.where(day % 7 >= 5, 0.6, 1.0) * (1 + 0.1 * rng.uniform(-1, 1, size=day.max() + 1))[day]
    return amplitude * _day_shape(t / DAY)


def make_entity(seed: int) -> tuple[Benchmark, np.ndarray]:
    """One entity: a Benchmark (train, one test case with the train's tail as history) and the test's kind
    per row ('' for normal rows)."""
    rng = np.random.default_rng(seed)
    n_train, n_test = TRAIN_DAYS * DAY, TEST_DAYS * DAY
    n = n_train + n_test
    load = _load(n, 0, rng)
    gains, offsets = rng.uniform(0.5, 3.0, LOAD_METRICS), rng.uniform(0, 2, LOAD_METRICS)
    lags, noise = rng.integers(0, 3, LOAD_METRICS), rng.uniform(0.02, 0.08, LOAD_METRICS)

    def load_metric(j: int, curve: np.ndarray) -> np.ndarray:
        return offsets[j] + gains[j] * np.roll(curve, lags[j]) + gains[j] * noise[j] * rng.normal(size=len(curve))

    clean_curve = load.copy()
    curve = load.copy()
    kinds = np.full(n, "", dtype=object)
    starts = np.sort(rng.choice(np.arange(n_train + DAY, n - DAY, DAY // 2), ANOMALIES_PER_ENTITY, replace=False))
    chosen = [KINDS[i % len(KINDS)] for i in rng.permutation(ANOMALIES_PER_ENTITY)]
    events = []
    for start, kind in zip(starts, chosen):
        hour_shift = {"missed-peak": 9.5, "early-peak": 8.0, "night-bump": 1.5}.get(kind, rng.uniform(8, 16))
        start = int(start - (start % DAY) + hour_shift / 24 * DAY)  # place it at the hour its kind needs
        length = {"missed-peak": 48, "early-peak": 72, "night-bump": 36, "flat-metric": 48, "fast-wiggle": 36}[kind]
        seg = slice(start, start + length)
        if kind == "missed-peak":
            curve[seg] = curve[start]
        elif kind == "early-peak":
            curve[seg] = clean_curve[start + 36:start + 36 + length]
        elif kind == "night-bump":
            curve[seg] = 0.15 + 0.6 * np.sin(np.linspace(0, np.pi, length))
        events.append((kind, start, length))
        kinds[seg] = kind
    x = np.empty((n, LOAD_METRICS + WALK_METRICS + COUNTER_METRICS))
    for j in range(LOAD_METRICS):
        x[:, j] = load_metric(j, curve)
    for kind, start, length in events:
        if kind not in ("flat-metric", "fast-wiggle"):
            continue
        j = int(rng.integers(0, LOAD_METRICS))
        seg = slice(start, start + length)
        swing = gains[j] * (clean_curve[seg].max() - clean_curve[seg].min() + 0.3)
        if kind == "flat-metric":
            x[seg, j] = offsets[j] + gains[j] * clean_curve[start - DAY:start].mean()
        else:
            x[seg, j] += 0.5 * swing * np.sin(2 * np.pi * np.arange(length) / 12)
        lo, hi = x[:n_train, j].min(), x[:n_train, j].max()
        x[seg, j] = x[seg, j].clip(lo, hi)
    for j in range(WALK_METRICS):
        x[:, LOAD_METRICS + j] = lfilter([1.0], [1.0, -0.995], rng.normal(scale=0.02, size=n))  # AR(1): wanders, stays
    for j in range(COUNTER_METRICS):
        x[:, LOAD_METRICS + WALK_METRICS + j] = rng.poisson(rng.uniform(2, 20), size=n)
    names = [f"load_{j}" for j in range(LOAD_METRICS)] + [f"walk_{j}" for j in range(WALK_METRICS)] \
        + [f"counter_{j}" for j in range(COUNTER_METRICS)]
    x = x.astype(np.float32)
    test_kinds = kinds[n_train:]
    case = Case(f"entity-{seed}", x[n_train:], test_kinds != "", history=x[:n_train])
    return Benchmark(f"daily/entity-{seed}", x[:n_train], names, [case], meta={"kinds": sorted(set(chosen))}), \
        test_kinds


def _per_kind(kinds: np.ndarray, score: np.ndarray, window: int) -> dict[str, float]:
    """VUS-PR of each kind alone: that kind's rows are the positives, the other kinds' rows left out."""
    from workbench import evaluation as ev
    filled = np.where(np.isfinite(score), score, np.nanmin(score))
    out = {}
    for kind in KINDS:
        if not (kinds == kind).any():
            continue
        keep = (kinds == "") | (kinds == kind)
        out[kind] = float(ev.vus_pr(kinds[keep] == kind, filled[keep], window=window))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=3)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--anchor-seeds", nargs="+", type=int, default=[0], help="the anchor is slow: fewer seeds")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--window", type=int, default=WINDOW, help="slidingWindow (results of another window are "
                        "written to daily_proxy_w<window>.*)")
    parser.add_argument("--growth", type=float, default=1.0, help="the load metrics of the scored days x this: the "
                        "load grew since training (results written to daily_proxy_g<growth>.*)")
    parser.add_argument("--methods", nargs="+", default=["product", "pca", "anchor"])
    parser.add_argument("--variants", nargs="*", default=[],
                        help="product variants beside it, each detector parameters as JSON, e.g. "
                             "'{\"branches\": [\"network\", \"linear\"]}' (without the analog branch)")
    args = parser.parse_args(argv)
    variants = {f"product, {', '.join(f'{k}={v}' for k, v in json.loads(text).items())}": json.loads(text)
                for text in args.variants}
    rows = []
    for entity in range(args.entities):
        bench, kinds = make_entity(100 + entity)
        if args.growth != 1.0:
            bench.cases[0].test[:, :LOAD_METRICS] *= args.growth
        target = Target(bench, args.window, DAY // 4, "daily")
        for label in args.methods + list(variants):
            method = "product" if label in variants else label
            for seed in (args.anchor_seeds if method == "anchor" else args.seeds):
                params = {"mode": "fit_score", "window": args.window, "epochs": args.epochs, "seed": seed, "threads": 1}
                if label in variants:
                    params["detector"] = variants[label]
                started = time.perf_counter()
                result = run_job(method, bench, params, reuse=method == "anchor")  # the product: always this code
                metrics = job_metrics(target, result)
                score = np.asarray(result.case(0)["score"], dtype=np.float64)
                flagged = np.asarray(result.case(0)["is_anomaly"], dtype=bool) if "is_anomaly" in result.case(0) \
                    else np.zeros(len(score), bool)
                row = {"entity": bench.name, "method": label, "seed": seed, "vus_pr": metrics["vus_pr"],
                       "auc_pr": metrics["auc_pr"], "f1": metrics.get("f1", float("nan")),
                       "flagged": float(flagged.mean()), "true_share": float((kinds != "").mean()),
                       "kinds": _per_kind(kinds, score, target.vus_window),
                       "seconds": time.perf_counter() - started}
                rows.append(row)
                print(f"{bench.name} {label:8s} seed {seed}: VUS-PR {row['vus_pr']:.3f} AUC-PR {row['auc_pr']:.3f} "
                      f"F1 {row['f1']:.3f} flagged {100 * row['flagged']:.1f}% (true {100 * row['true_share']:.1f}%) "
                      + " ".join(f"{k} {v:.2f}" for k, v in row["kinds"].items()), flush=True)
    command = ".venv/bin/python -m benchmarks.daily_proxy " + " ".join(argv if argv is not None else sys.argv[1:])
    RESULTS.mkdir(exist_ok=True)
    name = "daily_proxy" + (f"_w{args.window}" if args.window != WINDOW else "") \
        + (f"_g{args.growth:g}" if args.growth != 1.0 else "")
    (RESULTS / f"{name}.json").write_text(json.dumps({"command": command.strip(), "rows": rows}, indent=1))
    text = markdown(rows, command.strip(), args.window)
    (RESULTS / f"{name}.md").write_text(text)
    print(text)
    return 0


def _cell(values: list[float]) -> str:
    values = [v for v in values if np.isfinite(v)]
    if not values:
        return "-"
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1) if len(values) > 1 else 0.0:.3f}"


def markdown(rows: list[dict], command: str, window: int = WINDOW) -> str:
    """Per method: the mean over entities of each seed, then mean ± std over seeds; per kind the same."""
    methods = list(dict.fromkeys(r["method"] for r in rows))

    def per_seed(method: str, key) -> list[float]:
        seeds = sorted({r["seed"] for r in rows if r["method"] == method})
        out = []
        for seed in seeds:
            values = [key(r) for r in rows if r["method"] == method and r["seed"] == seed]
            values = [v for v in values if v is not None]
            out.append(float(np.mean(values)) if values else float("nan"))
        return out
    lines = ["# Daily-pattern proxy (issue 15's application servers)", "", f"Command: `{command}`", "",
             f"{len({r['entity'] for r in rows})} entities (19 metrics, 5-minute steps, 30 days of training, "
             f"15 days scored), window {window}; cells: mean over entities per seed, then mean ± std over seeds "
             "(seeds per method in the last column).  Per kind: VUS-PR with only that kind's rows as "
             "positives and the other kinds' rows left out.", "",
             "| method | VUS-PR | AUC-PR | F1 own flag | flagged | " + " | ".join(KINDS) + " | seeds |",
             "|---" * (6 + len(KINDS)) + "|"]
    for method in methods:
        cells = [_cell(per_seed(method, lambda r, k=k: r[k])) for k in ("vus_pr", "auc_pr", "f1")]
        cells.append(f"{100 * np.mean(per_seed(method, lambda r: r['flagged'])):.1f}% "
                     f"(true {100 * np.mean(per_seed(method, lambda r: r['true_share'])):.1f}%)")
        cells += [_cell(per_seed(method, lambda r, k=k: r["kinds"].get(k))) for k in KINDS]
        seeds = sorted({r["seed"] for r in rows if r["method"] == method})
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {len(seeds)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
