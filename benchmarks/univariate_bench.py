"""Univariate benchmark: service-sample agreement, speed, and VUS-PR against the anchor.

    .venv/bin/python -m benchmarks.univariate_bench [--quick] [--only flagged]

1. Agreement with the retired service's own responses in ``azure_mvad_sample/univariate``:
   isAnomaly of ``batch-response.json`` point by point, the period, and the last point of
   ``latest-point-response.json``.
2. Speed of entire detection: 8,640 points (the service's cap) and 1,000,000 points, through the
   JSON contract and through the pandas API.
3. VUS-PR on single labelled columns, side by side with the univariate detector of
   ``time-series-anomaly-detector`` 0.4.0 run in ``benchmarks/.venv-anchor`` (a subprocess that
   imports nothing from this repository): the SMD machines' three most cited root-cause
   columns (test split into chunks of at most 8,640 rows, the anchor's limit) and every SKAB
   sensor column.  Both get the same points and default parameters.  Three per-point scores,
   each computed the same way for both sides from documented v1.1 outputs:

   * deviation: |value - expectedValue|, the distance from the detector's expected value;
   * severity: the v1.1 ``severity`` field (0 for normal points).  The anchor computes it
     (boundary version V1, its default) but its ``EntireAnomalyDetector`` output drops it, so
     the worker recomputes it with the anchor's own ``calculate_severity_v1`` from the expected
     values and flags it returned;
   * flags: the 0/1 isAnomaly.
4. Flagged share: on clean periodic series (gaps, off-grid points, a daylight-saving change; every
   flag a false alarm) and on the labelled columns against their labelled share, both sides.

Writes ``benchmarks/results/univariate.json``.  This module's top level imports only the
standard library and numpy, so the anchor venv can run its worker.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ANCHOR_PYTHON = HERE / ".venv-anchor" / "bin" / "python"
SAMPLES = HERE.parents[1] / "shared" / "data" / "azure_mvad_sample" / "univariate"
RESULTS = HERE / "results" / "univariate.json"
ANCHOR_MAX_POINTS = 8640
SMD_COLUMNS_PER_MACHINE = 3
SCORES = ("deviation", "severity", "flags")


# ---------------------------------------------------------------- anchor worker (runs in .venv-anchor)


def _anchor_worker(in_path: str, out_path: str) -> None:
    """Entire detection with the anchor on every series of ``in_path``; expected values and flags out."""
    import warnings

    import pandas as pd
    from anomaly_detector import EntireAnomalyDetector
    from anomaly_detector.univariate.util.boundary_utils import calculate_severity_v1

    warnings.simplefilter("ignore")
    data = np.load(in_path)
    meta = json.loads(str(data["meta"]))
    out: dict[str, np.ndarray] = {}
    seconds = []
    for i, granularity in enumerate(meta["granularity"]):
        values = data[f"series_{i}"].astype(float)
        frame = pd.DataFrame({"timestamp": pd.date_range("2020-01-01", periods=len(values), freq="min"),
                              "value": values})
        if granularity == "none":
            frame = frame[["value"]]
        t0 = time.perf_counter()
        try:
            result = EntireAnomalyDetector().predict(None, frame, {"granularity": granularity})
        except Exception as exc:  # the anchor rejects some series (e.g. constant ones): record and go on
            print(f"anchor failed on series {i}: {exc}", file=sys.stderr)
            out[f"expected_{i}"] = np.full(len(values), np.nan)
            out[f"anomaly_{i}"] = np.zeros(len(values), dtype=bool)
            out[f"upper_{i}"] = out[f"lower_{i}"] = out[f"severity_{i}"] = np.full(len(values), np.nan)
            seconds.append(float("nan"))
            continue
        seconds.append(time.perf_counter() - t0)
        out[f"expected_{i}"] = np.array([r["result"]["expected_value"] for r in result], dtype=float)
        out[f"anomaly_{i}"] = np.array([r["result"]["is_anomaly"] for r in result], dtype=bool)
        out[f"upper_{i}"] = np.array([r["result"]["upper_margin"] for r in result], dtype=float)
        out[f"lower_{i}"] = np.array([r["result"]["lower_margin"] for r in result], dtype=float)
        out[f"severity_{i}"] = np.array([calculate_severity_v1(v, e, a) for v, e, a in
                                         zip(values, out[f"expected_{i}"], out[f"anomaly_{i}"])], dtype=float)
    out["seconds"] = np.array(seconds)
    np.savez(out_path, **out)


# ---------------------------------------------------------------- 1. service samples


def service_agreement() -> dict:
    from workbench.univariate import detect_entire_series, detect_last_point

    request = json.loads((SAMPLES / "request-data.json").read_text())
    batch = json.loads((SAMPLES / "batch-response.json").read_text())
    last = json.loads((SAMPLES / "latest-point-response.json").read_text())
    ours = detect_entire_series(request)
    a, b = np.array(ours["isAnomaly"]), np.array(batch["isAnomaly"])
    ours_last = detect_last_point(request)
    return {
        "points": len(a),
        "isAnomaly_agreement": float((a == b).mean()),
        "service_anomalies": int(b.sum()), "our_anomalies": int(a.sum()), "both": int((a & b).sum()),
        "period": {"ours": ours["period"], "service": batch["period"]},
        "expected_value_median_abs_rel_diff": float(np.median(
            np.abs(np.array(ours["expectedValues"]) - np.array(batch["expectedValues"]))
            / np.abs(np.array(batch["expectedValues"])))),
        "last_point": {k: {"ours": ours_last[k], "service": last[k]}
                       for k in ("isAnomaly", "period", "suggestedWindow")},
    }


# ---------------------------------------------------------------- 2. speed


def _timed(fn, repeat: int) -> float:
    best = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best.append(time.perf_counter() - t0)
    return float(np.median(best))


def speed(quick: bool) -> dict:
    import pandas as pd

    from workbench.univariate import detect_entire, detect_entire_series

    rng = np.random.default_rng(0)
    out = {}
    for n in ((8640,) if quick else (8640, 1_000_000)):
        steps = np.arange(n)
        values = 10 + 3 * np.sin(2 * np.pi * steps / 288) + rng.normal(0, 0.3, n)
        values[rng.choice(n, max(1, n // 1000), replace=False)] += 5
        index = pd.date_range("2024-01-01", periods=n, freq="5min", tz="UTC")
        series = pd.Series(values, index=index)
        request = {"granularity": "minutely", "customInterval": 5,
                   "series": [{"timestamp": t, "value": v}
                              for t, v in zip(index.strftime("%Y-%m-%dT%H:%M:%SZ"), values.tolist())]}
        repeat = 5 if n <= 10_000 else 1
        detect_entire(series)  # warm-up (imports, caches)
        out[str(n)] = {
            "pandas_s": _timed(lambda: detect_entire(series), repeat),
            "pandas_period_given_s": _timed(lambda: detect_entire(series, period=288), repeat),
            "json_s": _timed(lambda: detect_entire_series(request), repeat),
        }
    return out


# ---------------------------------------------------------------- 3. VUS-PR vs the anchor


def _chunks(n: int) -> list[tuple[int, int]]:
    count = math.ceil(n / ANCHOR_MAX_POINTS)
    edges = np.linspace(0, n, count + 1).astype(int)
    return list(zip(edges[:-1], edges[1:]))


def labelled_series(quick: bool) -> list[dict]:
    """Single columns with both classes: SMD's most cited root-cause columns (chunked) and SKAB's sensors."""
    from benchmarks.datasets import SMD_MACHINES, load_skab, load_smd

    series = []
    for machine in SMD_MACHINES[:1] if quick else SMD_MACHINES:
        case = load_smd(machine).cases[0]
        cited = np.bincount([v for cause in case.root_causes for v in cause.variables], minlength=case.test.shape[1])
        for col in np.argsort(-cited, kind="stable")[:SMD_COLUMNS_PER_MACHINE]:
            for lo, hi in _chunks(len(case.test)):
                series.append({"name": f"SMD/{machine}/dim{col + 1:02d}/{lo}-{hi}", "granularity": "minutely",
                               "values": case.test[lo:hi, col].astype(float), "labels": case.labels[lo:hi]})
    skab = load_skab()
    for case in skab.cases[:4] if quick else skab.cases:
        for col, variable in enumerate(skab.variables):
            series.append({"name": f"SKAB/{case.name}/{variable}", "granularity": "none",
                           "values": case.test[:, col].astype(float), "labels": case.labels})
    return [s for s in series if 0 < s["labels"].sum() < len(s["labels"]) and np.ptp(s["values"]) > 0]


def _ours(series: list[dict]) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], float]:
    import pandas as pd

    from workbench.univariate import detect_entire

    expected, flags, severity, seconds = [], [], [], 0.0
    for s in series:
        index = pd.date_range("2020-01-01", periods=len(s["values"]), freq="min", tz="UTC")
        if s["granularity"] == "none":
            index = pd.RangeIndex(len(s["values"]))
        t0 = time.perf_counter()
        frame = detect_entire(pd.Series(s["values"], index=index), granularity=s["granularity"])
        seconds += time.perf_counter() - t0
        expected.append(frame["expected_value"].to_numpy())
        flags.append(frame["is_anomaly"].to_numpy())
        severity.append(frame["severity"].to_numpy())
    return expected, flags, severity, seconds


def _anchor(series: list[dict]) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], float]:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        arrays = {f"series_{i}": s["values"] for i, s in enumerate(series)}
        np.savez(src, meta=json.dumps({"granularity": [s["granularity"] for s in series]}), **arrays)
        subprocess.run([str(ANCHOR_PYTHON), str(Path(__file__).resolve()), "--anchor-worker", str(src), str(dst)],
                       check=True, cwd=tmp)
        out = np.load(dst)
        return ([out[f"expected_{i}"] for i in range(len(series))],
                [out[f"anomaly_{i}"] for i in range(len(series))],
                [out[f"severity_{i}"] for i in range(len(series))], float(np.nansum(out["seconds"])))


def vus_comparison(quick: bool) -> dict:
    from workbench.evaluation import vus_pr

    series = labelled_series(quick)
    ours_e, ours_f, ours_v, ours_s = _ours(series)
    anc_e, anc_f, anc_v, anc_s = _anchor(series)
    rows = []
    for s, oe, of, ov, ae, af, av in zip(series, ours_e, ours_f, ours_v, anc_e, anc_f, anc_v):
        if not np.isfinite(ae).all():
            continue  # the anchor gave no answer: compare on the series both answered
        y = s["labels"]
        rows.append({
            "name": s["name"],
            "ours_deviation": vus_pr(y, np.abs(s["values"] - oe)),
            "anchor_deviation": vus_pr(y, np.abs(s["values"] - ae)),
            "ours_severity": vus_pr(y, ov), "anchor_severity": vus_pr(y, av),
            "ours_flags": vus_pr(y, of.astype(float)), "anchor_flags": vus_pr(y, af.astype(float)),
            "true_share": float(np.mean(y)), "ours_share": float(np.mean(of)), "anchor_share": float(np.mean(af)),
        })
    summary = {}
    for group in ("SMD", "SKAB", "all"):
        part = [r for r in rows if group == "all" or r["name"].startswith(group)]
        if not part:
            continue
        summary[group] = {"series": len(part)}
        for score in SCORES:
            for side in ("ours", "anchor"):
                summary[group][f"{side}_{score}"] = float(np.mean([r[f"{side}_{score}"] for r in part]))
        for score in SCORES:  # series where ours is higher / lower (the rest are ties)
            summary[group][f"ours_better_{score}"] = int(sum(r[f"ours_{score}"] > r[f"anchor_{score}"] for r in part))
            summary[group][f"ours_worse_{score}"] = int(sum(r[f"ours_{score}"] < r[f"anchor_{score}"] for r in part))
    return {"series_total": len(series), "series_compared": len(rows), "seconds": {"ours": ours_s, "anchor": anc_s},
            "summary": summary, "per_series": rows}


# ---------------------------------------------------------------- 4. flagged share: false alarms and the cap


def clean_series() -> list[dict]:
    """Clean periodic series (noise 1% of the daily swing) as they arrive in practice: 5-minute and
    hourly steps, gaps, a sharp daily peak, a weekday/weekend pattern, a trend, hourly readings logged
    in local time across a daylight-saving change (the repeated hour merged by the mean), points a
    minute off their 5-minute grid (snapped).  Any flag on them is a false alarm."""
    import pandas as pd

    rng = np.random.default_rng(16)
    out = []
    for kind in ("sine", "peak", "weekdays", "trend", "gaps", "offgrid", "dst"):
        hourly = kind == "dst"
        n = 24 * 28 if hourly else (6048 if kind == "weekdays" else 4032)  # weekdays: three weeks, so a weekly period can be seen
        utc = pd.date_range("2024-10-13", periods=n, freq="h" if hourly else "5min", tz="UTC")
        hours = (utc - utc[0]).total_seconds().to_numpy() / 3600
        phase = 2 * np.pi * hours / 24
        base = np.sin(phase)
        if kind == "peak":
            base = np.exp(3 * np.sin(phase)) / math.exp(3)
        elif kind == "weekdays":
            base = base * np.where(utc.day_of_week >= 5, 0.6, 1.0)
        elif kind == "trend":
            base = base + hours / hours[-1]
        values = 10 + base + 0.01 * np.ptp(base) * rng.standard_normal(n)
        index = utc
        if kind == "gaps":
            keep = np.ones(n, dtype=bool)
            keep[rng.choice(n, n // 10, replace=False)] = False
            keep[1000:1036] = False
            index, values = utc[keep], values[keep]
        elif kind == "offgrid":
            shift = np.zeros(n, dtype="timedelta64[ns]")
            shift[rng.choice(n, 20, replace=False)] = np.timedelta64(60, "s")
            index = utc + pd.to_timedelta(shift)
        elif kind == "dst":
            index = utc.tz_convert("Europe/Berlin").tz_localize(None)
        out.append({"name": f"clean/{kind}", "series": pd.Series(values, index=index)})
    return out


def flagged_share(quick: bool, vus_rows: list[dict] | None = None) -> dict:
    """Share of points flagged: on clean series (false alarms; goal at most 1%) and on the labelled
    columns against their labelled share (goal within half to twice it; how often the 25%
    maxAnomalyRatio cap is reached), ours and the anchor's on the same values."""
    from workbench.univariate import detect_entire

    clean = []
    for case in clean_series():
        frame = detect_entire(case["series"], timestamp_policy="lenient")
        clean.append({"name": case["name"], "ours": float(frame["is_anomaly"].mean()),
                      "values": frame["value"].to_numpy()})
    if ANCHOR_PYTHON.exists():
        _, anchor_flags, _, _ = _anchor([{"values": c["values"], "granularity": "none"} for c in clean])
        for c, flags in zip(clean, anchor_flags):
            c["anchor"] = float(np.mean(flags))
    for c in clean:
        del c["values"]
    if vus_rows is not None:  # the labelled runs of the VUS-PR section
        rows = [{"name": r["name"], "true": r["true_share"], "ours": r["ours_share"], "anchor": r["anchor_share"]}
                for r in vus_rows]
    else:
        series = labelled_series(quick)
        _, ours_f, _, _ = _ours(series)
        anchor_f = _anchor(series)[1] if ANCHOR_PYTHON.exists() else [None] * len(series)
        rows = []
        for s, of, af in zip(series, ours_f, anchor_f):
            row = {"name": s["name"], "true": float(np.mean(s["labels"])), "ours": float(np.mean(of))}
            if af is not None:
                row["anchor"] = float(np.mean(af))
            rows.append(row)
    summary = {}
    for side in ("ours", "anchor"):
        part = [r for r in rows if side in r]
        if not part:
            continue
        ratio = np.array([r[side] / r["true"] for r in part])
        summary[side] = {
            "series": len(part), "median_flagged_over_true": float(np.median(ratio)),
            "within_half_to_twice": float(np.mean((ratio >= 0.5) & (ratio <= 2.0))),
            "at_the_cap": int(sum(r[side] >= 0.25 - 1e-9 for r in part)),
            "clean_max": max((c[side] for c in clean if side in c), default=None),
        }
    return {"clean": clean, "labelled_summary": summary, "labelled": rows}


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[1] == "--anchor-worker":
        _anchor_worker(argv[2], argv[3])
        return 0
    quick = "--quick" in argv
    if "--only" in argv and argv[argv.index("--only") + 1] == "flagged":
        share = flagged_share(quick)
        print(json.dumps({k: v for k, v in share.items() if k != "labelled"}, indent=1))
        return 0
    report: dict = {"service_samples": service_agreement()}
    print(json.dumps(report["service_samples"], indent=1))
    report["speed"] = speed(quick)
    print(json.dumps(report["speed"], indent=1))
    if ANCHOR_PYTHON.exists():
        report["vus_pr"] = vus_comparison(quick)
        print(json.dumps({k: v for k, v in report["vus_pr"].items() if k != "per_series"}, indent=1))
    else:
        report["vus_pr"] = "not run: benchmarks/.venv-anchor is missing (benchmarks/setup_anchor.sh builds it)"
        print(report["vus_pr"])
    report["flagged_share"] = flagged_share(quick, report["vus_pr"]["per_series"]
                                            if isinstance(report["vus_pr"], dict) else None)
    print(json.dumps({k: v for k, v in report["flagged_share"].items() if k != "labelled"}, indent=1))
    if not quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
