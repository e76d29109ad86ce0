"""What sifting flags by severity keeps, on the whole development pool: the fleet view's attention rule.

    .venv/bin/python -m benchmarks.triage [--smap-msl-share 0.34]     # from the selection command's cache

The retired service advised against taking every ``isAnomaly`` row as an anomaly: sift by severity, then by
duration.  The fleet report (``workbench.fleet.report``) does that for its attention column.  For each
family this counts the product's flagged episodes (runs of ``isAnomaly``) that overlap a labelled anomaly
and those that do not, and the share of each whose peak severity reaches a level; and, for the synthetic
fleet, how many clean entities would still need attention.  Writes ``results/selection/triage.{json,md}``.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from benchmarks import pool, selection
from benchmarks.selection import Candidate

LEVELS = (0.3, 0.4, 0.5, 0.6, 0.7)


def episode_peaks(flags: np.ndarray, severity: np.ndarray, labels: np.ndarray) -> tuple[list[float], list[float]]:
    """Peak severity of each run of flags: those overlapping a label, and the others."""
    edges = np.flatnonzero(np.diff(np.r_[0, flags.astype(np.int8), 0]))
    true, false = [], []
    for start, end in zip(edges[::2], edges[1::2]):
        (true if labels[start:end].any() else false).append(float(severity[start:end].max()))
    return true, false


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smap-msl-share", type=float, default=0.34)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    seeds = selection.SEEDS
    entities = pool.entities(pool.FAMILIES, smap_msl_share=args.smap_msl_share)
    default = Candidate("default", {})
    paths = selection.ensure_cache(entities, seeds, default, args.workers, selection.CACHE)
    branches, rule, params = default.resolved()
    peaks: dict[str, tuple[list[float], list[float]]] = {}
    clean_peaks: list[float] = []  # the fleet's clean entities: their highest episode peak (0: none)
    for entity in entities:
        true, false = peaks.setdefault(entity.family, ([], []))
        for seed in seeds:
            result = selection.scored(paths[(entity.name, seed)], entity, branches, selection.top_fraction_of(params))
            flag_rule = selection.make_rule(rule).fit(result.held)
            for call, first, case in zip(result.calls, result.firsts, entity.benchmark.cases):
                flags = flag_rule.apply(call, np.isfinite(call))
                labels = np.asarray(case.labels, dtype=bool)
                t, f = episode_peaks(flags.is_anomaly[first:], flags.severity[first:], labels)
                true += t
                false += f
                if entity.family == "fleet" and not labels.any():
                    clean_peaks.append(max(f, default=0.0))
    table = {family: {"true_episodes": len(t), "false_episodes": len(f),
                      "true_kept": {str(s): float(np.mean(np.array(t) >= s)) if t else None for s in LEVELS},
                      "false_kept": {str(s): float(np.mean(np.array(f) >= s)) if f else None for s in LEVELS}}
             for family, (t, f) in peaks.items()}
    fleet = {str(s): float(np.mean(np.array(clean_peaks) >= s)) for s in (1e-9, *LEVELS)}
    command = "python -m benchmarks.triage " + " ".join(sys.argv[1:] if argv is None else argv)
    out = {"command": command, "seeds": list(seeds), "levels": list(LEVELS), "families": table,
           "fleet_clean_needing_attention": fleet}
    selection.RESULTS.mkdir(parents=True, exist_ok=True)
    (selection.RESULTS / "triage.json").write_text(json.dumps(out, indent=1))
    (selection.RESULTS / "triage.md").write_text(markdown(out))
    print(markdown(out))
    return 0


def markdown(out: dict) -> str:
    def cell(x):
        return "-" if x is None else f"{100 * x:.0f}%"
    head = " | ".join(f"≥ {s}" for s in out["levels"])
    lines = ["# Sifting flags by severity (the fleet view's attention rule)", "",
             f"Command: `{out['command']}` (the default model and flag rule, seeds {out['seeds']}, from the selection "
             "cache). Episodes are runs of `isAnomaly`; an episode is true where it overlaps a labelled anomaly. "
             "Each cell: the share of episodes whose peak severity reaches the level (true / false).", "",
             f"| family | episodes (true / false) | {head} |", "|---|---|" + "---|" * len(out["levels"])]
    for family, row in out["families"].items():
        cells = " | ".join(f"{cell(row['true_kept'][str(s)])} / {cell(row['false_kept'][str(s)])}"
                           for s in out["levels"])
        lines.append(f"| {family} | {row['true_episodes']} / {row['false_episodes']} | {cells} |")
    fleet = out["fleet_clean_needing_attention"]
    lines += ["", "The synthetic fleet's clean entities (10 per seed) that would need attention: any flag "
              f"{cell(fleet['1e-09'])}; " + "; ".join(f"at severity {s} {cell(fleet[str(s)])}" for s in out["levels"]) + ".",
              ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
