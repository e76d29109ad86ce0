"""Render the benchmark results (one dict, also written as JSON) as a markdown report."""
from __future__ import annotations

import os
import platform
from importlib import metadata

from benchmarks.accuracy import calibration

METHOD_NAMES = {
    "product": "workbench (this product)",
    "anchor": "time-series-anomaly-detector 0.4.0 (anchor)",
    "pca": "PCA reconstruction error",
    "iforest": "IsolationForest",
    "random": "random score",
}
ACCURACY_COLUMNS = [("vus_pr", "VUS-PR"), ("auc_pr", "AUC-PR"), ("auc_roc", "AUC-ROC"),
                    ("best_f1", "best F1 (oracle thr.)"), ("f1", "F1 own threshold"),
                    ("flagged_share", "flagged %"), ("hit100", "HitRate@100%"), ("hit150", "HitRate@150%")]


def describe_machine() -> dict:
    """CPU, memory, OS and package versions of the machine running the benchmark."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    mem_gib = None
    try:
        with open("/proc/meminfo") as fh:
            kib = next(int(line.split()[1]) for line in fh if line.startswith("MemTotal"))
        mem_gib = round(kib / 2**20, 1)
    except (OSError, StopIteration):
        pass
    versions = {}
    for pkg in ("torch", "numpy", "pandas", "scikit-learn"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "memory_gib": mem_gib, "os": platform.platform(),
            "python": platform.python_version(), "versions": versions,
            "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None}


def _pm(cell: dict | None, percent: bool = False) -> str:
    if not cell:
        return "n/a"
    scale = 100.0 if percent else 1.0
    digits = 1 if percent else 3
    return f"{cell['mean'] * scale:.{digits}f} ± {cell['std'] * scale:.{digits}f}"


def _gib(n: float | None) -> str:
    return "n/a" if n is None else f"{n / 2**30:.2f} GiB"


def _num(x: float | None, fmt: str) -> str:
    return "n/a" if x is None else format(x, fmt)


def _load(avg) -> str:
    return "n/a" if not avg else ", ".join(f"{x:.2f}" for x in avg)


def _accuracy_section(acc: dict) -> list[str]:
    s = acc["settings"]
    lines = ["## Accuracy", "",
             f"Methods trained on each benchmark's training data and scored on its test data; seeds "
             f"{s['seeds']}, {s['epochs']} epochs for the neural models (product epochs: "
             f"{s.get('product_epochs', s['epochs'])}), torch threads {s['threads']}. "
             "Cells are mean ± sample standard deviation over seeds; the SMD mean takes the mean over machines "
             "per seed first. Rows a method cannot score (no full window of history) get its lowest score.",
             "",
             f"- **VUS-PR** is the primary metric (volume under the range-based PR surface, TSB-AD's definition, 250 "
             f"thresholds; buffer widths 0..the VUS buffer: {s['vus_window']}). AUC-PR and AUC-ROC are point-wise.",
             "- **best F1** uses the threshold that maximises F1 on the test labels: an upper bound, not deployable.",
             "- **F1 own threshold** is the F1 of each method's own deployable flag (product and anchor: their "
             "`isAnomaly`; PCA and IsolationForest: the 99th percentile of their training scores; random: 1%), "
             "with no point adjustment. **flagged %** is the share of test rows it flags.",
             "- **HitRate@P%** (SMD only): per interpretation-label range, variables ranked by mean contribution "
             "over the range; share of the true root causes among the top ceil(P% x |truth|). IsolationForest "
             "gives no contributions (n/a).",
             "- **PA-F1** (last column, separated) is point-adjusted F1 at the best threshold, the figure many "
             "papers print. A random score reaches a high PA-F1, so it ranks nothing and is shown only for "
             "contrast.", ""]
    lines += ["| benchmark | window | VUS buffer | train rows | test rows | cases | variables | anomaly share |",
              "|---|---|---|---|---|---|---|---|"]
    for b in acc["benchmarks"]:
        w = b["vus_windows"]
        buffers = str(w[0]) if len(set(w)) == 1 else f"{min(w)}-{max(w)} (per case)"
        lines.append(f"| {b['benchmark']} | {b['window']} | {buffers} | {b['train_rows']:,} | "
                     f"{b['test_rows']:,} | {b['cases']} | {b['variables']} | {100 * b['anomaly_share']:.1f}% |")
    lines.append("")
    order = {m: i for i, m in enumerate(s["methods"])}
    present = {r["benchmark"] for r in acc["summary"]}
    benches = []
    for b in acc["benchmarks"]:
        mean_row = f"{b['group']} (mean of machines)"
        for name in (mean_row, b["benchmark"]):
            if name in present and name not in benches:
                benches.append(name)
    header = "| method | " + " | ".join(h for _, h in ACCURACY_COLUMNS) + " | ‖ | PA-F1 (point-adjusted, inflated) |"
    for bench in benches:
        rows = sorted((r for r in acc["summary"] if r["benchmark"] == bench), key=lambda r: order.get(r["method"], 99))
        lines += [f"### {bench}", "", header, "|---" * (len(ACCURACY_COLUMNS) + 3) + "|"]
        for r in rows:
            cells = [_pm(r.get(k), percent=(k == "flagged_share")) for k, _ in ACCURACY_COLUMNS]
            lines.append(f"| {METHOD_NAMES.get(r['method'], r['method'])} | " + " | ".join(cells)
                         + f" | ‖ | {_pm(r.get('pa_f1_best'))} |")
        lines.append("")
    cached = sorted({(r["method"], r["benchmark"]) for r in acc["runs"] if r["cached"]})
    if cached:
        lines += [f"Reused from `benchmarks/cache/` (same data, parameters and runner source; `--reuse-anchor`): "
                  f"{len(cached)} method/benchmark pairs.", ""]
    return lines


GUTENTAG_TABLES = (("vus_pr", "VUS-PR"), ("auc_pr", "AUC-PR"),
                   ("f1", "F1 of the method's own flags (no point adjustment)"))


def _pm_seeds(row: dict | None, key: str, percent: bool = False) -> str:
    """``mean ± std`` over seeds, or the bare mean where only one seed ran (no spread to show)."""
    if not row or key not in row:
        return "n/a"
    if row.get("n_seeds", 0) > 1:
        return _pm(row[key], percent)
    return f"{row[key]['mean'] * 100:.1f}" if percent else f"{row[key]['mean']:.3f}"


def _group_table(rows: list[dict], methods: list[str], metric: str, label: str) -> list[str]:
    groups = sorted({r["group"] for r in rows})
    cell = {(r["group"], r["method"]): r for r in rows}
    lines = [f"| {label} | datasets | " + " | ".join(METHOD_NAMES.get(m, m) for m in methods) + " |",
             "|---|---|" + "---|" * len(methods)]
    for g in groups:
        n = max((cell[(g, m)]["n_benchmarks"] for m in methods if (g, m) in cell), default=0)
        lines.append(f"| {g} | {n} | " + " | ".join(_pm_seeds(cell.get((g, m)), metric) for m in methods) + " |")
    return lines


def _gutentag_section(gt: dict) -> list[str]:
    s = gt["settings"]
    methods = [m for m in s["methods"] if any(r["method"] == m for r in gt["runs"])]
    seeds = {m: sorted({r["seed"] for r in gt["runs"] if r["method"] == m}) for m in methods}
    seed_text = "; ".join(f"{METHOD_NAMES.get(m, m)}: {seeds[m]}" for m in methods)
    lines = ["## GutenTAG synthetic suite", "",
             f"{len(gt['benchmarks'])} multivariate datasets generated by TimeEval's GutenTAG "
             f"({', '.join(s['generator'])}) from the seeded configs in `benchmarks/gutentag/*.yaml` "
             "(one anomaly kind per dataset, 2 to 6 anomalies on separate channels, none in the first 250 rows). "
             "Each method trains on GutenTAG's anomaly-free training series of the dataset and scores its test "
             f"series; window {s['window']} rows; {s['epochs']} epochs for the anchor, {s['product_epochs']} for the "
             f"product; torch threads {s['threads']}. Seeds: {seed_text}. Cells are mean ± sample standard "
             "deviation over seeds of the mean over the datasets of the row (a method run with one seed: its "
             "value, no spread). VUS-PR (primary; "
             f"buffer: {s['vus_window']}), AUC-PR point-wise, F1 of each method's own flags (product and anchor: "
             "`isAnomaly`; PCA: 99th percentile of its training scores) without point adjustment, as in the "
             "accuracy section.", ""]
    overall = gt["overall"]
    cell = {r["method"]: r for r in overall}
    lines += ["| method | VUS-PR | AUC-PR | AUC-ROC | F1 own flags | flagged % | datasets |",
              "|---|---|---|---|---|---|---|"]
    share = sum(b["anomaly_share"] * b["test_rows"] for b in gt["benchmarks"]) / \
        max(1, sum(b["test_rows"] for b in gt["benchmarks"]))
    for m in methods:
        r = cell.get(m, {})
        lines.append(f"| {METHOD_NAMES.get(m, m)} | " + " | ".join(
            _pm_seeds(r, k, percent=(k == "flagged_share"))
            for k in ("vus_pr", "auc_pr", "auc_roc", "f1", "flagged_share")) + f" | {r.get('n_benchmarks', 0)} |")
    lines += ["", f"True anomaly share over all test rows: {100 * share:.1f}%.", ""]
    for metric, title in GUTENTAG_TABLES:
        lines += [f"### {title} per anomaly kind", ""] + _group_table(gt["by_kind"], methods, metric, "kind") + [""]
    for metric, title in GUTENTAG_TABLES:
        lines += [f"### {title} per base oscillation", ""] + _group_table(gt["by_base"], methods, metric, "base") + [""]
    lines += ["### VUS-PR per dataset", "",
              "| dataset | base | kind | channels | rows (train/test) | anomaly share | VUS buffer | "
              + " | ".join(METHOD_NAMES.get(m, m) for m in methods) + " |",
              "|---|---|---|---|---|---|---|" + "---|" * len(methods)]
    summary = {(r["benchmark"], r["method"]): r for r in gt["summary"]}
    for b in gt["benchmarks"]:
        cells = " | ".join(_pm_seeds(summary.get((b["benchmark"], m)), "vus_pr") for m in methods)
        lines.append(f"| {b['benchmark'].split('/', 1)[-1]} | {b['base']} | {b['kind']} | {b['variables']} | "
                     f"{b['train_rows']:,}/{b['test_rows']:,} | {100 * b['anomaly_share']:.1f}% | "
                     f"{b['vus_windows'][0]} | {cells} |")
    lines.append("")
    return lines


def _calibration_section(results: dict) -> list[str]:
    """Issue 15's flag criterion per group: is a case flagged near its true share?"""
    runs = [r for part in ("accuracy", "gutentag") for r in (results.get(part) or {}).get("runs", [])]
    rows = calibration(runs)
    if not rows:
        return []
    lines = ["## Flag calibration", "",
             "Does `isAnomaly` flag about as many rows as are anomalous, on every case (SKAB: each of its 34 files; "
             "GutenTAG: each dataset; every seed counted)?  `flagged / true`: mean shares of the rows; `within 2x`: "
             "cases flagged within half to twice their true share; `beyond 3x`: of the cases whose anomalies are at "
             "least 1% of the rows, those flagged under a third or over three times their true share (of them, "
             "flagging nothing).  PCA flags above the 99th percentile of its training scores.", "",
             "| group | method | cases | flagged / true | within 2x | beyond 3x (flagging nothing) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        within = "n/a" if r["within"] is None else f"{100 * r['within']:.0f}%"
        lines.append(f"| {r['group']} | {METHOD_NAMES.get(r['method'], r['method'])} | {r['cases']} | "
                     f"{100 * r['flagged']:.1f}% / {100 * r['true']:.1f}% | {within} | "
                     f"{r['beyond']} of {r['counted']} ({r['beyond_none']}) |")
    return lines + [""]


def _speed_section(speed: dict) -> list[str]:
    f, r = speed["figures"], speed.get("ratios") or {}
    methods = list(f)
    lines = ["## Speed", "",
             f"Torch threads: {speed['settings']['threads']} in both. Each figure comes from its own process. "
             f"Training: Azure sample (5 variables x 3,000 rows), window 200, {speed['settings']['azure_epochs']} "
             f"epochs. Batch scoring and per-epoch time on 38 variables: {speed['settings']['smd_benchmark']}. "
             "detect-last: the smallest request that yields one result (38 variables; the anchor's `predict` on the last "
             "200 rows, the product's `score` on the last 201 rows plus the top-10 contributors' correlation "
             "changes), repeated. An epoch is each package's own unit (the anchor: every 10th window of its training "
             "split; the product: at most `max_windows_per_epoch` sampled windows), so the 100-epoch totals are "
             "what a user waits for. Ratio columns: "
             "anchor / product for times (x faster), product / anchor for memory.", "",
             "| figure | " + " | ".join(METHOD_NAMES.get(m, m) for m in methods) + " | ratio |",
             "|---" * (len(methods) + 2) + "|"]

    def row(label, getter, fmt, ratio_key=None):
        vals = []
        for m in methods:
            try:
                vals.append(getter(f[m]))
            except (KeyError, TypeError):
                vals.append(None)
        cells = [(_gib(v) if fmt == "gib" else _num(v, fmt)) for v in vals]
        ratio = r.get(ratio_key) if ratio_key else None
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {_num(ratio, '.2f') + 'x' if ratio else ''} |")

    row("training s/epoch (Azure sample)", lambda x: x["azure_train"]["s_per_epoch"], ".3f",
        "train_speedup_per_epoch_azure")
    row("training s for 100 epochs (Azure sample)", lambda x: x["azure_train"]["s_per_100_epochs"], ".1f",
        "train_speedup_100_epochs_azure")
    row("training peak RSS (Azure sample)", lambda x: x["azure_train"]["peak_rss_after_fit_bytes"], "gib",
        "train_peak_rss_ratio_azure")
    row("training s/epoch (SMD, 38 variables)", lambda x: x["smd_train"]["s_per_epoch"], ".2f",
        "train_speedup_per_epoch_smd")
    row("batch scoring rows/s (SMD)", lambda x: x["smd_batch"]["rows_per_s"], ",.0f", "batch_speedup_smd")
    row("batch scoring ms per 1,000 rows (SMD)", lambda x: x["smd_batch"]["ms_per_1000_rows"], ",.1f")
    row("batch scoring peak RSS (SMD)", lambda x: x["smd_batch"]["peak_rss_bytes"], "gib", "batch_peak_rss_ratio_smd")
    row("detect-last median ms", lambda x: x["detect_last"]["median_ms"], ".1f", "detect_last_speedup_median")
    row("detect-last p99 ms", lambda x: x["detect_last"]["p99_ms"], ".1f", "detect_last_speedup_p99")
    row("`import workbench` s", lambda x: x["import_s[workbench]"], ".3f")
    row("`import workbench.mvad.detector` / `import anomaly_detector` s (both load torch)",
        lambda x: x.get("import_s[workbench.mvad.detector]", x.get("import_s[anomaly_detector]")), ".3f",
        "import_speedup")
    cached = [METHOD_NAMES.get(m, m) for m in methods if f[m].get("cached")]
    if cached:
        lines.append(f"\nFigures of {', '.join(cached)} were measured in an earlier run on this machine and reused "
                     "from `benchmarks/cache/` (`--reuse-anchor`).")
    lines.append("")
    return lines


def _scale_section(scale: dict) -> list[str]:
    s = scale["settings"]
    lines = ["## Scale", "",
             f"Synthetic {s['rows']:,} timestamps x {s['variables']} variables (correlated periodic signals, AR(1) "
             f"noise, injected anomalies; 1% of each variable's rows missing), MultiTable zip of "
             f"{s['zip_bytes'] / 2**20:.0f} MiB. Torch threads {s['threads']}.", "",
             "| step | time | peak RSS | note |", "|---|---|---|---|"]
    pandas = scale["prep"].get("pandas")
    if pandas:
        lines.append(f"| data prep, plain pandas (read_csv + concat + interpolate) | {pandas['seconds']:.1f} s | "
                     f"{_gib(pandas['peak_rss_bytes'])} | baseline |")
    wb = scale["prep"].get("workbench")
    if wb:
        lines.append(f"| data prep, `workbench.data.load` (Outer, Linear) | {wb['seconds']:.1f} s | "
                     f"{_gib(wb['peak_rss_bytes'])} | {scale['prep']['time_ratio_vs_pandas']:.2f}x the pandas time |")
    p = scale.get("product")
    if p:
        lines.append(f"| product training ({p['epochs'] if p['epochs'] is not None else 'default'} epochs, window "
                     f"{s['window']}) | {p['fit_s']:.1f} s | {_gib(p['peak_rss_after_fit_bytes'])} | |")
        lines.append(f"| product batch inference, {s['rows']:,} rows | {p['score_s']:.1f} s | "
                     f"{_gib(p['peak_rss_bytes'])} | {p['rows_per_s']:,.0f} rows/s |")
    lines.append("")
    return lines


def render(results: dict) -> str:
    """The whole report as markdown."""
    m = results["machine"]
    lines = ["# Anomaly Workbench benchmark report", "",
             f"Command: `{results['command']}`  ", f"Started {results['started']}, finished {results['finished']}.",
             "", "## Machine", "",
             f"- CPU: {m['cpu']}, {m['logical_cpus']} logical CPUs; memory {m['memory_gib']} GiB",
             f"- OS: {m['os']}; Python {m['python']}",
             f"- Main venv: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
             f"- Anchor venv (`benchmarks/.venv-anchor`): {results.get('anchor_versions') or 'not used'}",
             f"- Load average at start: {_load(m['load_average_at_start'])} (the machine may be shared; timings "
             "are wall-clock)", ""]
    if results.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in results["notes"]] + [""]
    if results.get("accuracy"):
        lines += _accuracy_section(results["accuracy"])
    if results.get("gutentag"):
        lines += _gutentag_section(results["gutentag"])
    if results.get("accuracy") or results.get("gutentag"):
        lines += _calibration_section(results)
    if results.get("speed"):
        lines += _speed_section(results["speed"])
    if results.get("scale"):
        lines += _scale_section(results["scale"])
    return "\n".join(lines) + "\n"
