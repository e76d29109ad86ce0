"""The README's benchmark table, rendered from the stored report (``results/report.json``) and the daily proxy.

    .venv/bin/python -m benchmarks.report_readme     # rewrite the README block <!-- benchmarks -->

A test keeps the README's block equal to this rendering of the stored results, so the table changes only with a
run of ``python -m benchmarks.run`` (and ``benchmarks.daily_proxy`` for its row).
"""
from __future__ import annotations

import datetime as dt
import json
import sys

import numpy as np

from benchmarks import readme_block
from benchmarks.accuracy import calibration
from benchmarks.datasets import BENCH_DIR

README_BLOCK = "benchmarks"
REPORT = BENCH_DIR / "results" / "report.json"
DAILY = BENCH_DIR / "results" / "daily_proxy.json"
METHODS = ("product", "anchor", "pca")
SMD_MEAN = "SMD (mean of machines)"


def _cell(row: dict | None, key: str, percent: bool = False) -> str:
    """``mean ± std`` over seeds, the bare mean for one seed, ``-`` where the method did not run."""
    if not row or key not in row:
        return "-"
    scale, fmt = (100, ".1f") if percent else (1, ".3f")
    mean, std = scale * row[key]["mean"], scale * row[key]["std"]
    return f"{mean:{fmt}} ± {std:{fmt}}" if row.get("n_seeds", 1) > 1 and std > 0 else f"{mean:{fmt}}"


def _seeds_note(rows: dict) -> str:
    one = [m for m in METHODS if rows.get(m) and rows[m].get("n_seeds", 1) == 1 and m != "pca"]
    return "; anchor: 1 seed" if "anchor" in one else ""


def _daily_rows(daily: dict) -> dict[str, dict]:
    """Per method: the mean over the proxy's entities per seed, then mean and std over seeds."""
    out = {}
    for method in METHODS:
        rows = [r for r in daily["rows"] if r["method"] == method]
        per_seed = [np.mean([r["vus_pr"] for r in rows if r["seed"] == s]) for s in sorted({r["seed"] for r in rows})]
        if per_seed:
            out[method] = {"vus_pr": {"mean": float(np.mean(per_seed)),
                                      "std": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else 0.0},
                           "n_seeds": len(per_seed)}
    return out


def _speed_cells(speed: dict) -> list[str]:
    figures, ratios = speed["figures"], speed.get("ratios") or {}
    product, anchor = figures.get("product"), figures.get("anchor")

    def pair(getter, fmt, ratio_key):
        mine = getter(product) if product else None
        theirs = getter(anchor) if anchor else None
        ratio = ratios.get(ratio_key)
        left = "-" if mine is None else fmt(mine) + (f" ({ratio:.0f}x faster)" if ratio else "")
        return left, "-" if theirs is None else fmt(theirs)

    train = pair(lambda f: (f["azure_train"]["s_per_100_epochs"], f["azure_train"]["peak_rss_after_fit_bytes"]),
                 lambda v: f"{v[0]:.1f} s, {v[1] / 2**30:.2f} GiB", "train_speedup_100_epochs_azure")
    batch = pair(lambda f: f["smd_batch"]["rows_per_s"], lambda v: f"{v:,.0f} rows/s", "batch_speedup_smd")
    last = pair(lambda f: f["detect_last"]["median_ms"], lambda v: f"{v:.1f} ms", "detect_last_speedup_median")
    epochs = speed["settings"]["azure_epochs"]
    window = speed["settings"]["window"]
    return [f"| training, {epochs} epochs on the Azure sample (w={window}) | {train[0]} | {train[1]} | |",
            f"| batch scoring (SMD, 38 variables) | {batch[0]} | {batch[1]} | |",
            f"| detect-last median (38 variables, w={window}) | {last[0]} | {last[1]} | |"]


def readme_table(report: dict, daily: dict) -> str:
    """The README block: how the run was made, then one table of accuracy, flags and speed."""
    acc, gt, speed = report["accuracy"], report.get("gutentag"), report.get("speed")
    summary = {(r["benchmark"], r["method"]): r for r in acc["summary"]}
    smd = {m: summary.get((SMD_MEAN, m)) for m in METHODS}
    skab = {m: summary.get(("SKAB", m)) for m in METHODS}
    guten = {r["method"]: r for r in gt["overall"]} if gt else {}
    machines = [b for b in acc["benchmarks"] if b["group"] == "SMD"]
    skab_share = next(b["anomaly_share"] for b in acc["benchmarks"] if b["group"] == "SKAB")
    smd_share = float(np.mean([b["anomaly_share"] for b in machines]))
    runs = [r for part in (acc, gt) if part for r in part["runs"]]
    calib = {(c["group"], c["method"]): c for c in calibration(runs)}
    minutes = (dt.datetime.fromisoformat(report["finished"]) - dt.datetime.fromisoformat(report["started"]))
    reused = any(r["cached"] for r in runs)
    seeds = len(acc["settings"]["seeds"])
    lines = [f"Last run on this {report['machine']['logical_cpus']}-core machine ({report['machine']['cpu']}, "
             f"`{report['command']}`, {minutes.total_seconds() / 60:.0f} minutes"
             f"{' with cached runs reused' if reused else ''}, {report['started'][:10]}; timings differ between "
             "machines, so read the ratios):", "",
             "| | workbench | anchor | PCA |", "|---|---|---|---|"]

    def row(label: str, cells: dict, key: str, percent: bool = False) -> None:
        lines.append(f"| {label} | " + " | ".join(_cell(cells.get(m), key, percent) for m in METHODS) + " |")

    row(f"SMD VUS-PR ({len(machines)} machines, {seeds} seeds{_seeds_note(smd)})", smd, "vus_pr")
    skab_files = next(b["cases"] for b in acc["benchmarks"] if b["group"] == "SKAB")
    row(f"SKAB VUS-PR ({skab_files} files, {seeds} seeds{_seeds_note(skab)})", skab, "vus_pr")
    if gt:
        row(f"GutenTAG VUS-PR ({len(gt['benchmarks'])} synthetic sets{_seeds_note(guten)})", guten, "vus_pr")
    proxy = _daily_rows(daily)
    row(f"daily-pattern proxy VUS-PR (`benchmarks.daily_proxy`, {len({r['entity'] for r in daily['rows']})} "
        f"entities{_seeds_note(proxy)})", proxy, "vus_pr")
    row("SMD root-cause HitRate@150%", smd, "hit150")

    def flags(label: str, cells: dict, share: float) -> None:
        lines.append(f"| {label} F1 of its own `isAnomaly` (share flagged; true share {100 * share:.1f}%) | " + " | ".join(
            "-" if not cells.get(m) else f"{cells[m]['f1']['mean']:.2f} ({100 * cells[m]['flagged_share']['mean']:.1f}%)"
            for m in METHODS) + " |")

    flags("SMD", smd, smd_share)
    flags("SKAB", skab, skab_share)
    groups = ["SMD", "SKAB"] + (["GutenTAG"] if gt else [])
    if gt:
        share = sum(b["anomaly_share"] * b["test_rows"] for b in gt["benchmarks"]) / sum(
            b["test_rows"] for b in gt["benchmarks"])
        flags("GutenTAG", guten, share)

    def calib_cells(fmt) -> str:
        return " | ".join(" / ".join(fmt(calib[(g, m)]) if (g, m) in calib else "-" for g in groups) for m in METHODS)

    lines.append(f"| cases flagged within half to twice their true share: {' / '.join(groups)} | "
                 + calib_cells(lambda c: f"{100 * c['within']:.0f}%") + " |")
    lines.append(f"| cases (anomalies >= 1% of rows) flagged beyond a third or three times it: {' / '.join(groups)} | "
                 + calib_cells(lambda c: f"{c['beyond']}/{c['counted']}") + " |")
    if speed:
        lines += _speed_cells(speed)
    return "\n".join(lines)


def stored_table() -> str:
    """The block rendered from the stored report and daily proxy."""
    return readme_table(json.loads(REPORT.read_text()), json.loads(DAILY.read_text()))


if __name__ == "__main__":
    if sys.argv[1:]:
        raise SystemExit("usage: python -m benchmarks.report_readme")
    readme_block.write(README_BLOCK, stored_table())
