"""Univariate benchmark: service-sample agreement, speed, and VUS-PR against the anchor.

    .venv/bin/python -m benchmarks.univariate_bench [--quick] [--only flagged]
    .venv/bin/python -m benchmarks.univariate_bench --before /path/to/older/checkout [--rounds 3]
    .venv/bin/python -m benchmarks.univariate_bench --readme     # README paragraph from the results

``--before`` runs this module's measurements of our detector (sections 1-4, no anchor) on an older
checkout's ``workbench`` and on this one, each in its own process, speed in alternating rounds, and
writes ``benchmarks/results/univariate_ab.{json,md}``.  ``--readme`` rewrites the README's univariate
benchmark paragraph (between ``<!-- univariate-bench -->`` markers) from ``univariate.json`` and
``univariate_ab.json``: its figures are never typed by hand.

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
   flag a false alarm) and on the labelled columns against their labelled share, both sides: the
   columns within half to twice it, beyond a third or three times, at the 25% cap; also apart for
   the columns whose labelled points stand out of their normal values at all (an oracle that knows
   the labels: ROC-AUC of the distance from the normal points' median at least VISIBLE_AUC).  Most
   SKAB sensors do not show their experiment's fault; no detector can flag them near their share.

Writes ``benchmarks/results/univariate.json``.  This module's top level imports only the
standard library and numpy, so the anchor venv can run its worker.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ANCHOR_PYTHON = HERE / ".venv-anchor" / "bin" / "python"
SAMPLES = HERE.parents[1] / "shared" / "data" / "azure_mvad_sample" / "univariate"
RESULTS = HERE / "results" / "univariate.json"
AB_RESULTS = HERE / "results" / "univariate_ab.json"
ANCHOR_MAX_POINTS = 8640
VISIBLE_AUC = 0.75  # an oracle's ROC-AUC over which a column's labelled points stand out of its normal ones
CAP = 0.25  # maxAnomalyRatio's default: the flagged share cannot exceed it
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
        "points": len(a), "matched": int((a == b).sum()),
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


def _oracle_auc(values: np.ndarray, labels: np.ndarray) -> float:
    """How far the labelled points stand out of the normal ones in the column itself: ROC-AUC of the
    distance from the normal points' median (an oracle, it knows the labels)."""
    from workbench.evaluation import auc_roc

    normal = labels == 0
    return auc_roc(labels, np.abs(values - np.median(values[normal])))


def our_rows(series: list[dict]) -> tuple[list[dict], float]:
    """Per labelled column: VUS-PR of our three scores, our flagged share, the labelled share and the
    oracle's AUC; and our detection seconds."""
    from workbench.evaluation import vus_pr

    expected, flags, severity, seconds = _ours(series)
    rows = []
    for s, e, f, v in zip(series, expected, flags, severity):
        y = s["labels"]
        rows.append({"name": s["name"], "ours_deviation": vus_pr(y, np.abs(s["values"] - e)),
                     "ours_severity": vus_pr(y, v), "ours_flags": vus_pr(y, f.astype(float)),
                     "true_share": float(np.mean(y)), "ours_share": float(np.mean(f)),
                     "oracle_auc": _oracle_auc(s["values"], y)})
    return rows, seconds


def _vus_summary(rows: list[dict], sides: tuple[str, ...]) -> dict:
    summary = {}
    for group in ("SMD", "SKAB", "all"):
        part = [r for r in rows if group == "all" or r["name"].startswith(group)]
        if not part:
            continue
        summary[group] = {"series": len(part)}
        for score in SCORES:
            for side in sides:
                summary[group][f"{side}_{score}"] = float(np.mean([r[f"{side}_{score}"] for r in part]))
        if len(sides) == 2:  # series where ours is higher / lower (the rest are ties)
            for score in SCORES:
                summary[group][f"ours_better_{score}"] = int(sum(r[f"ours_{score}"] > r[f"anchor_{score}"] for r in part))
                summary[group][f"ours_worse_{score}"] = int(sum(r[f"ours_{score}"] < r[f"anchor_{score}"] for r in part))
    return summary


def vus_comparison(quick: bool) -> dict:
    from workbench.evaluation import vus_pr

    series = labelled_series(quick)
    rows, ours_s = our_rows(series)
    anc_e, anc_f, anc_v, anc_s = _anchor(series)
    compared = []
    for s, row, ae, af, av in zip(series, rows, anc_e, anc_f, anc_v):
        if not np.isfinite(ae).all():
            continue  # the anchor gave no answer: compare on the series both answered
        y = s["labels"]
        compared.append({**row, "anchor_deviation": vus_pr(y, np.abs(s["values"] - ae)),
                         "anchor_severity": vus_pr(y, av), "anchor_flags": vus_pr(y, af.astype(float)),
                         "anchor_share": float(np.mean(af))})
    return {"series_total": len(series), "series_compared": len(compared), "seconds": {"ours": ours_s, "anchor": anc_s},
            "summary": _vus_summary(compared, ("ours", "anchor")), "per_series": compared}


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


def clean_flagged() -> list[dict]:
    from workbench.univariate import detect_entire

    clean = []
    for case in clean_series():
        frame = detect_entire(case["series"], timestamp_policy="lenient")
        clean.append({"name": case["name"], "ours": float(frame["is_anomaly"].mean()),
                      "values": frame["value"].to_numpy()})
    return clean


def calibration(rows: list[dict], side: str) -> dict:
    """How the flagged share of ``side`` compares with the labelled share, per group and for the columns
    whose labelled points stand out (oracle AUC at least VISIBLE_AUC) or not."""
    out = {}
    for group in ("SMD", "SKAB", "all"):
        for visible in (None, True, False):
            part = [r for r in rows if (group == "all" or r["name"].startswith(group))
                    and (visible is None or (r["oracle_auc"] >= VISIBLE_AUC) == visible)]
            if not part:
                continue
            ratio = np.array([r[f"{side}_share"] / r["true_share"] for r in part])
            key = group if visible is None else f"{group} {'visible' if visible else 'not visible'}"
            out[key] = {
                "series": len(part), "median_flagged_over_true": float(np.median(ratio)),
                "within_half_to_twice": int(np.sum((ratio >= 0.5) & (ratio <= 2.0))),
                "beyond_third_or_thrice": int(np.sum((ratio < 1 / 3) | (ratio > 3.0))),
                "over_thrice": int(np.sum(ratio > 3.0)), "under_third": int(np.sum(ratio < 1 / 3)),
                "at_the_cap": int(sum(r[f"{side}_share"] >= CAP - 1e-9 for r in part)),
            }
    return out


def flagged_share(quick: bool, vus_rows: list[dict] | None = None) -> dict:
    """Share of points flagged: on clean series (false alarms; goal at most 1%) and on the labelled
    columns against their labelled share (goal within half to twice it; how often the 25%
    maxAnomalyRatio cap is reached), ours and the anchor's on the same values."""
    clean = clean_flagged()
    if ANCHOR_PYTHON.exists():
        _, anchor_flags, _, _ = _anchor([{"values": c["values"], "granularity": "none"} for c in clean])
        for c, flags in zip(clean, anchor_flags):
            c["anchor"] = float(np.mean(flags))
    for c in clean:
        del c["values"]
    if vus_rows is None:  # without the VUS-PR section's runs
        series = labelled_series(quick)
        vus_rows, _ = our_rows(series)
        if ANCHOR_PYTHON.exists():
            for row, flags in zip(vus_rows, _anchor(series)[1]):
                row["anchor_share"] = float(np.mean(flags))
    rows = [{k: r[k] for k in ("name", "true_share", "ours_share", "anchor_share", "oracle_auc") if k in r}
            for r in vus_rows]
    summary = {}
    for side in ("ours", "anchor"):
        if all(f"{side}_share" in r for r in rows):
            summary[side] = calibration(rows, side)
            summary[side]["clean_max"] = max((c[side] for c in clean if side in c), default=None)
    return {"clean": clean, "labelled_summary": summary, "labelled": rows}


# ---------------------------------------------------------------- before / after: the code before, side by side


def ours_only(quick: bool) -> dict:
    """Sections 1, 3 and 4 for our detector alone (no anchor), as the ``--before`` comparison needs."""
    import workbench

    print(f"workbench from {Path(workbench.__file__).parent}", file=sys.stderr)
    series = labelled_series(quick)
    rows, seconds = our_rows(series)
    clean = clean_flagged()
    for c in clean:
        del c["values"]
    return {"service_samples": service_agreement(), "vus_summary": _vus_summary(rows, ("ours",)),
            "calibration": calibration(rows, "ours"), "clean": clean, "per_series": rows,
            "detect_seconds": seconds}


def _child(root: Path, flag: str, out: Path, quick: bool) -> dict:
    """This module run in a new process with ``root``'s ``workbench`` package (only that: the data
    loaders and this module are this checkout's) first on the path."""
    package = out.parent / f"path_{abs(hash(str(root)))}"
    if not package.exists():
        package.mkdir()
        (package / "workbench").symlink_to(root / "workbench", target_is_directory=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(package), str(HERE.parent)]))
    command = [sys.executable, str(Path(__file__).resolve()), flag, str(out)] + (["--quick"] if quick else [])
    subprocess.run(command, check=True, env=env, cwd=str(out.parent))
    return json.loads(out.read_text())


def before_after(before: Path, rounds: int, quick: bool) -> dict:
    """The older checkout's detector beside this one's: accuracy once each, speed in alternating rounds."""
    sides = {"before": before.resolve(), "after": HERE.parent}
    with tempfile.TemporaryDirectory() as tmp:
        report = {"command": " ".join(["python -m benchmarks.univariate_bench"] + sys.argv[1:]),
                  "checkouts": {k: str(v) for k, v in sides.items()},
                  "commits": {k: _commit(v) for k, v in sides.items()}}
        for side, root in sides.items():
            report[side] = _child(root, "--ours-only", Path(tmp) / f"{side}.json", quick)
        timings: dict[str, list] = {side: [] for side in sides}
        for r in range(rounds):
            for side in (("before", "after") if r % 2 == 0 else ("after", "before")):
                timings[side].append(_child(sides[side], "--speed-only", Path(tmp) / f"speed_{side}.json", quick))
        report["speed_rounds"] = timings
        report["speed"] = {}
        for size in timings["after"][0]:
            report["speed"][size] = {}
            for key in timings["after"][0][size]:
                before_s = float(np.median([t[size][key] for t in timings["before"]]))
                after_s = float(np.median([t[size][key] for t in timings["after"]]))
                report["speed"][size][key] = {"before_s": before_s, "after_s": after_s,
                                              "after_over_before": after_s / before_s}
    return report


def _commit(root: Path) -> str:
    done = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "(not a git checkout)"


def ab_markdown(report: dict) -> str:
    """The before/after report as a markdown table."""
    b, a = report["before"], report["after"]
    lines = ["# Univariate detection, before and after", "",
             f"`{report['command']}`: before = {report['commits']['before']}, after = {report['commits']['after']} "
             "(each in its own process; speed: medians of alternating rounds on the same machine).", "",
             "| measure | before | after |", "|---|---|---|"]
    sample = lambda side: f"{side['service_samples']['matched']} of {side['service_samples']['points']}"
    lines.append(f"| service sample isAnomaly matched | {sample(b)} | {sample(a)} |")
    for group in ("SMD", "SKAB", "all"):
        lines.append(f"| {group} VUS-PR deviation / severity / flags ({a['vus_summary'][group]['series']} columns) | "
                     + " | ".join(" / ".join(f"{side['vus_summary'][group][f'ours_{s}']:.3f}" for s in SCORES)
                                  for side in (b, a)) + " |")
    for key in b["calibration"]:
        cb, ca = b["calibration"][key], a["calibration"][key]
        cell = (lambda c: f"{c['within_half_to_twice']} within, {c['beyond_third_or_thrice']} beyond "
                          f"(>3x {c['over_thrice']}, <1/3 {c['under_third']}), {c['at_the_cap']} at the cap, "
                          f"median {c['median_flagged_over_true']:.2f}x")
        lines.append(f"| {key}: flagged vs labelled share ({ca['series']} columns) | {cell(cb)} | {cell(ca)} |")
    clean = lambda side: f"{max(c['ours'] for c in side['clean']):.4%}"
    lines.append(f"| clean periodic series, most flagged | {clean(b)} | {clean(a)} |")
    for size, keys in report["speed"].items():
        for key, v in keys.items():
            lines.append(f"| {int(size):,} points, {key} | {v['before_s']:.3f} s | {v['after_s']:.3f} s "
                         f"({v['after_over_before']:.2f}x) |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the README paragraph


README_BLOCK = "univariate-bench"


def readme_paragraph(report: dict, ab: dict) -> str:
    """The README's univariate benchmark paragraph, every figure from ``report`` (univariate.json) and
    ``ab`` (univariate_ab.json)."""
    v, share, sample = report["vus_pr"], report["flagged_share"]["labelled_summary"], report["service_samples"]
    ours, anchor = share["ours"], share["anchor"]
    triple = lambda g, side: " / ".join(f"{v['summary'][g][f'{side}_{s}']:.3f}" for s in SCORES)
    before, after = ab["before"], ab["after"]
    speed = report["speed"]
    ratio = lambda size: ab["speed"][size]["pandas_s"]["after_over_before"]
    cell = lambda c, g: f"{c[g]['within_half_to_twice']} of {c[g]['series']}"
    skab_share = float(np.median([r["true_share"] for r in v["per_series"] if r["name"].startswith("SKAB")]))
    return textwrap.fill("".join([
        f"Univariate detection (`python -m benchmarks.univariate_bench`, `benchmarks/results/univariate.json`): on "
        f"{v['series_compared']} labelled single columns, VUS-PR of |value - expectedValue| / `severity` / "
        f"`isAnomaly` is {triple('SMD', 'ours')} against the anchor's {triple('SMD', 'anchor')} on SMD, and "
        f"{triple('SKAB', 'ours')} against {triple('SKAB', 'anchor')} on SKAB; the retired service's sample "
        f"response is matched on {sample['matched']} of {sample['points']} points (it flagged "
        f"{sample['service_anomalies']}, we flag {sample['both']} of them and {sample['our_anomalies'] - sample['both']} "
        f"others; period {sample['period']['ours']}). Clean periodic series with 1% noise (5-minute and "
        f"hourly steps, gaps, points off the grid, a daylight-saving change, weekday/weekend patterns) are flagged "
        f"at most {ours['clean_max']:.2%}. The flag's margin is the Gaussian one unless the residuals' own tail is "
        f"heavier (peaks over threshold), so bursty and mostly-constant metrics are no longer flagged at every blip: "
        f"the flagged share is within half to twice the labelled share on {cell(ours, 'SMD')} SMD columns "
        f"(before {cell(before['calibration'], 'SMD')}; anchor {cell(anchor, 'SMD')}), "
        f"{ours['SMD']['at_the_cap']} at the 25% cap (before {before['calibration']['SMD']['at_the_cap']}), and on "
        f"{cell(ours, 'SKAB visible')} SKAB sensors whose "
        f"labelled points stand out of their normal values at all (an oracle's ROC-AUC of at least {VISIBLE_AUC}); "
        f"the other {ours['SKAB not visible']['series']} SKAB columns do not show their experiment's fault, and "
        f"flagging them near their {skab_share:.0%} would be guessing: {cell(ours, 'all')} columns are within "
        f"overall, before {cell(before['calibration'], 'all')}, the difference being such columns, which the former "
        f"margin flagged at the cap {before['calibration']['SKAB not visible']['at_the_cap']} times "
        f"(now {after['calibration']['SKAB not visible']['at_the_cap']}). Side by side with the code before "
        f"(`--before`, `benchmarks/results/univariate_ab.md`): VUS-PR {_ab_triple(before, 'SMD')} -> "
        f"{_ab_triple(after, 'SMD')} on SMD and {_ab_triple(before, 'SKAB')} -> {_ab_triple(after, 'SKAB')} on "
        f"SKAB, the sample {before['service_samples']['matched']} -> {after['service_samples']['matched']} of 47, "
        f"entire detection {ratio('8640'):.2f}x the time at 8,640 points and {ratio('1000000'):.2f}x at 1,000,000 "
        f"(medians of {len(ab['speed_rounds']['after'])} alternating rounds; in this run's report 8,640 points took "
        f"{speed['8640']['pandas_s']:.2f} s and 1,000,000 points {speed['1000000']['pandas_s']:.1f} s on a machine "
        f"shared by several jobs: compare the ratios).",
    ]), width=115, break_on_hyphens=False)


def _ab_triple(side: dict, group: str) -> str:
    return " / ".join(f"{side['vus_summary'][group][f'ours_{s}']:.3f}" for s in SCORES)


def stored_paragraph() -> str:
    """The paragraph rendered from the stored results."""
    return readme_paragraph(json.loads(RESULTS.read_text()), json.loads(AB_RESULTS.read_text()))


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[1] == "--anchor-worker":
        _anchor_worker(argv[2], argv[3])
        return 0
    quick = "--quick" in argv
    if argv[1:2] in (["--ours-only"], ["--speed-only"]):
        out = ours_only(quick) if argv[1] == "--ours-only" else speed(quick)
        Path(argv[2]).write_text(json.dumps(out, indent=1))
        return 0
    if "--before" in argv:
        rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 3
        report = before_after(Path(argv[argv.index("--before") + 1]), rounds, quick)
        print(ab_markdown(report))
        if not quick:
            AB_RESULTS.write_text(json.dumps(report, indent=1))
            AB_RESULTS.with_suffix(".md").write_text(ab_markdown(report))
        return 0
    if "--readme" in argv:
        from benchmarks import readme_block  # not at the top: the anchor venv runs this file too
        readme_block.write(README_BLOCK, stored_paragraph())
        return 0
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
