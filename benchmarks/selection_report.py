"""The selection command's report: its markdown tables and the README's table of the default on the pool.

    .venv/bin/python -m benchmarks.selection_report --readme    # the README block from results/selection/{rules,parts}.json

The README quotes the default's figures between ``<!-- selection -->`` markers; a test keeps the block equal
to what this module renders from the stored results, so no figure there is typed by hand.
"""
from __future__ import annotations

import json
import sys

import numpy as np

from benchmarks import readme_block
from benchmarks.datasets import BENCH_DIR

RESULTS = BENCH_DIR / "results" / "selection"
README_BLOCK = "selection"
README_SOURCES = ("rules", "parts", "indicator")  # results/selection/<name>.json: the default and its rules; parts

FAMILY_NAMES = {"smd": ("SMD", "machines"), "smap_msl": ("SMAP/MSL", "channels"), "daphnet": ("Daphnet", "sessions"),
                "skab": ("SKAB", "files"), "gutentag": ("GutenTAG", "sets"), "daily": ("daily proxy", "series"),
                "fleet": ("fleet", "entities, 2 faulty"), "noise": ("Azure noise sample", "")}


def family_label(family: str, row: dict) -> str:
    """The family's name with the number of cases it was scored on (the telemetry may be a subsample)."""
    name, unit = FAMILY_NAMES.get(family, (family, ""))
    return f"{name} ({row['cases']} {unit})" if unit and row.get("cases", 1) > 1 else name


def _pm(cell: dict, digits: int = 3) -> str:
    if not np.isfinite(cell["mean"]):
        return "-"
    return f"{cell['mean']:.{digits}f} ± {cell['sd']:.{digits}f}" if cell["sd"] else f"{cell['mean']:.{digits}f}"


def _share(x) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{100 * x:.0f}%"


def table_lines(table: dict[str, dict], pca: dict[str, dict] | None = None) -> list[str]:
    """One row per family: accuracy, flags and calibration."""
    lines = ["| family | VUS-PR | AUC-PR | F1 (mean) | F1 (pooled) | flagged / labelled | within ½-2x | beyond ⅓-3x "
             "(silent) | clean entities flagging | PCA VUS-PR |", "|---|---|---|---|---|---|---|---|---|---|"]
    for family, row in table.items():
        calib = "-" if row["within"] is None else _share(row["within"])
        beyond = "-" if row["beyond"] is None else f"{_share(row['beyond'])} ({_share(row['silent'])})"
        clean = "-" if row["clean_flagging"] is None else \
            f"{_share(row['clean_flagging'])} ({100 * row['clean_flagged']:.2f}% of rows)"
        base = _pm(pca[family]["vus_pr"]) if pca and family in pca else "-"
        lines.append(f"| {family_label(family, row)} | {_pm(row['vus_pr'])} | {_pm(row['auc_pr'])} | "
                     f"{_pm(row['f1'])} | {_pm(row['pooled_f1'])} | {_share(row['flagged']['mean'])} / "
                     f"{_share(row['labelled']['mean'])} | {calib} | {beyond} | {clean} | {base} |")
    return lines


def comparison_lines(default: dict, candidate: dict) -> list[str]:
    lines = ["| family | default VUS-PR | candidate VUS-PR | change | beyond the spread | default F1 (pooled) | "
             "candidate F1 (pooled) |", "|---|---|---|---|---|---|---|"]
    for family, row in default.items():
        if family not in candidate:
            continue
        a, b = row["vus_pr"], candidate[family]["vus_pr"]
        if not np.isfinite(a["mean"]):
            continue
        change = b["mean"] - a["mean"]
        beyond = "yes" if abs(change) > max(a["sd"], b["sd"]) else "no"
        lines.append(f"| {family_label(family, row)} | {_pm(a)} | {_pm(b)} | {change:+.3f} | {beyond} | "
                     f"{_pm(row['pooled_f1'])} | {_pm(candidate[family]['pooled_f1'])} |")
    return lines


def markdown(results: dict) -> str:
    out = [f"# Selection on the development pool: {results['title']}", "",
           f"Command: `{results['command']}` ({results['minutes']:.0f} minutes this run, reusing the per-branch errors "
           f"already cached; seeds {results['seeds']}; "
           f"{results['entities']} entities).", "",
           "Per family: means over its cases (SKAB: files) of each seed, then mean ± spread over the seeds. "
           "F1 is the product's own `isAnomaly`, no point adjustment; pooled F1 counts the family's rows together. "
           "Calibration: cases with at least 1% labelled rows flagged within half to twice their labelled share, "
           "and beyond a third or three times it (in brackets: those that flag nothing).", "",
           "## The default", "", *table_lines(results["default"], results.get("pca")), "",
           f"Pooled mean VUS-PR (mean over families): {_pm(results['default_pooled'])}.", ""]
    for cand in results["candidates"]:
        v = cand["verdict"]
        out += [f"## Candidate `{cand['name']}`", "", f"`{json.dumps(cand['spec'])}`", "",
                *comparison_lines(results["default"], cand["table"]), "",
                f"Pooled mean {_pm(cand['pooled'])} against {_pm(results['default_pooled'])}: change "
                f"{v['pooled_gain']:+.4f}, seed spread {v['seed_spread']:.4f}; families worse beyond their spread: "
                f"{', '.join(v['families_worse']) or 'none'}. **Verdict: {'adopt' if v['adopt'] else 'keep the default'}.**",
                "", *table_lines(cand["table"]), ""]
    for study in results.get("rules", []):
        out += [f"## Flag rule `{study['name']}`", "", f"`{json.dumps(study['spec'])}`", "", *table_lines(study["table"]), ""]
        v = study.get("verdict")
        if v:
            out += [f"Mean pooled F1 {_pm(v['pooled_f1'])} against {_pm(v['default_pooled_f1'])}: change "
                    f"{v['pooled_gain']:+.4f}, seed spread {v['seed_spread']:.4f}; families whose F1 is worse beyond "
                    f"their spread: {', '.join(v['families_worse']) or 'none'}; with fewer cases within half to "
                    f"twice: {', '.join(v['fewer_within']) or 'none'}; noise sample {_share(v['noise_flagged'])} "
                    f"flagged. **Verdict: {'adopt' if v['adopt'] else 'keep the default'}.**", ""]
        moved = study.get("entities_moved")
        if moved:
            from benchmarks.selection import ENTITY_F1_MOVE  # selection imports this module
            out += [f"Entities whose F1 moves by more than {ENTITY_F1_MOVE} against the default (mean over cases and seeds): "
                    + "; ".join(f"{m['entity']} {m['default_f1']:.2f} -> {m['rule_f1']:.2f}" for m in moved) + ".", ""]
    return "\n".join(out) + "\n"




def readme_text(default_run: dict, *part_runs: dict) -> str:
    """The README's block: the default on the pool, and each part's and flag rule's verdict."""
    commands = ", ".join(f"`{run['command']}`" for run in part_runs)
    out = [f"The default on the whole development pool (`{default_run['command']}`, seeds "
           f"{', '.join(map(str, default_run['seeds']))}, {default_run['entities']} entities; F1 of the product's own "
           "`isAnomaly`, no point adjustment; PCA: a 99%-variance PCA's reconstruction error):", "",
           *table_lines(default_run["default"], default_run.get("pca")), "",
           f"Pooled mean VUS-PR {_pm(default_run['default_pooled'])}. Each part of the model against the default "
           f"({commands}):", ""]
    for cand in [c for run in part_runs for c in run["candidates"]]:
        v = cand["verdict"]
        if set(cand["spec"]["detector"]) == {"flag_rule"}:
            out.append(f"- `{cand['name']}`: changes the flags only (VUS-PR {v['pooled_gain']:+.3f}); judged among "
                       "the flag rules below.")
            continue
        out.append(f"- `{cand['name']}`: pooled VUS-PR {v['pooled_gain']:+.3f} (seed spread {v['seed_spread']:.3f}); "
                   f"families worse beyond their spread: {', '.join(v['families_worse']) or 'none'}: "
                   f"{'adopted' if v['adopt'] else 'the default kept'}.")
    if default_run.get("rules"):
        out += ["", "Flag rules on the same cached errors (adopted on F1, `benchmarks/README.md`):", ""]
        for study in default_run["rules"]:
            v = study.get("verdict")
            if v and study["name"] != "default":
                out.append(f"- {study['name']}: mean pooled F1 {v['pooled_f1']['mean']:.3f} against "
                           f"{v['default_pooled_f1']['mean']:.3f}; worse: {', '.join(v['families_worse']) or 'none'}; "
                           f"fewer within half to twice: {', '.join(v['fewer_within']) or 'none'}: "
                           f"{'adopted' if v['adopt'] else 'the default kept'}.")
    return "\n".join(out)


def stored_block() -> str:
    """The block rendered from the stored results named in ``README_SOURCES``."""
    runs = [json.loads((RESULTS / f"{name}.json").read_text()) for name in README_SOURCES]
    return readme_text(*runs)




if __name__ == "__main__":
    if sys.argv[1:] != ["--readme"]:
        raise SystemExit("usage: python -m benchmarks.selection_report --readme")
    readme_block.write(README_BLOCK, stored_block())
