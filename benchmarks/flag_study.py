"""Flag study (issue 15): can ``isAnomaly`` be flagged near the true share on every case?

The product's scores come from the caches the quality and linear studies keep (``joint_pca`` plus the analog
branch at ``scoring.ANALOG_WEIGHT``, 3 seeds; ``linear_study.combined``), so a rule costs seconds.  Each rule
maps the held-out scores and the scored rows' scores to a threshold; flags are the product's events
(``quality_study.flags_of``).  Per group: own-flag F1 and issue 15's criterion (``accuracy.calibration``):
cases flagged within half to twice their true share, and beyond a third or three times it where anomalies are
at least 1% of the rows.  Labels only score the rules; no rule reads them.

    .venv/bin/python -m benchmarks.quality_study --cache --candidates joint_pca --seeds 0 1 2   # once
    .venv/bin/python -m benchmarks.linear_study                                                # once
    .venv/bin/python -m benchmarks.flag_study                                                  # ~30 s

Writes ``results/flag_study.md`` and ``.json``.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from benchmarks import datasets
from benchmarks import linear_study as ls
from benchmarks import quality_study as qs
from benchmarks.accuracy import calibration
from benchmarks.model_search import _held_out_scores
from workbench.mvad import scoring
from workbench.mvad.detector import MultivariateDetector

GROUPS = ("SMD", "SKAB", "GutenTAG", "synthetic", "noise", "clean, drifted")
DRIFTED = 3.0  # "far drifted": the scored rows' median beyond this many training thresholds


def _raise(threshold: float, scored: np.ndarray, spreads: float) -> float:
    """:func:`scoring.drift_threshold` with another number of spreads for the scored rows' own tail."""
    return scoring.drift_threshold(threshold, scored, tail_spread=spreads)


def _far_drifted(spreads: float):
    """The product's rule, but ``spreads`` for batches whose median is beyond ``DRIFTED`` training thresholds."""
    def rule(held, scored):
        threshold = scoring.calibrate_threshold(held)
        far = len(scored) >= scoring.DRIFT_MIN_ROWS and np.median(scored) > DRIFTED * threshold
        return _raise(threshold, scored, spreads if far else scoring.DRIFT_TAIL_SPREAD)
    return rule


def _drift_by_median(factor: float):
    """The raise only where the scored median passes ``factor`` x the held-out median (not the threshold)."""
    def rule(held, scored):
        threshold = scoring.calibrate_threshold(held)
        if len(scored) < scoring.DRIFT_MIN_ROWS or np.median(scored) <= factor * np.median(held):
            return threshold
        return _raise(threshold, scored, scoring.DRIFT_TAIL_SPREAD)
    return rule


def _trailing_mean(score: np.ndarray, rows: int) -> np.ndarray:
    """Each score's mean with the ``rows - 1`` before it (NaN until ``rows`` valid scores are in reach)."""
    out = np.full(len(score), np.nan)
    if len(score) >= rows:
        out[rows - 1:] = scoring.trailing_mean(score, rows)
    return out


def _long_horizon(rows: int):
    """Flags from the product's score *or* its trailing ``rows``-row mean, each against its own threshold
    (held-out tail, raised for drift): a fault that lifts many rows a little, as SKAB's do."""
    def flags(held, score):
        valid = np.isfinite(score)
        ratio = score / qs.product_rule(held, score[valid])
        slow, slow_held = _trailing_mean(score, rows), _trailing_mean(held, rows)
        ok = np.isfinite(slow)
        threshold = scoring.drift_threshold(scoring.calibrate_threshold(slow_held[np.isfinite(slow_held)]), slow[ok])
        ratio = np.fmax(ratio, slow / threshold)
        return scoring.flag_events(ratio, 1.0, scoring.release_level(1.0, ratio))
    return flags


def _thresholded(rule):
    """Flags from a threshold rule: the product's events."""
    return lambda held, score: qs.flags_of(score, rule(held, score[np.isfinite(score)]))


def rules() -> dict:
    """name -> f(held-out scores, scores of the scored rows) -> isAnomaly per row."""
    out = {"product (own tail at 3 spreads)": qs.product_rule}
    for spreads in (2.5, 2.0, 1.5):
        out[f"own tail at {spreads:g} spreads"] = lambda h, s, k=spreads: _raise(scoring.calibrate_threshold(h), s, k)
    for spreads in (2.0, 1.5, 1.0):
        out[f"far drifted (median > {DRIFTED:g} thresholds): {spreads:g} spreads"] = _far_drifted(spreads)
    for factor in (2.0, 3.0, 5.0):
        out[f"raise only past {factor:g} x the held-out median"] = _drift_by_median(factor)
    out = {name: _thresholded(rule) for name, rule in out.items()}
    for rows in (25, 50, 100):
        out[f"also the trailing {rows}-row mean score"] = _long_horizon(rows)
    return out


SHIFTS = (5.0, 20.0, 100.0)  # training standard deviations one variable of a clean batch is moved by


def drifted_clean_batches() -> list[tuple[np.ndarray, np.ndarray]]:
    """``(held-out scores, scored rows' scores)`` of clean batches whose first variable moved as a whole (a
    new operating point, no anomaly): the Azure noise sample (trained on 2,000 rows, 1,000 scored) and 40,000
    rows of ``datasets.make_synthetic`` without anomalies (30,000 / 10,000), each shifted by ``SHIFTS``.  A
    rule's flags here are false alarms: what a lower bar for far-drifted data costs."""
    _, noise, _ = datasets.load_azure_sample()
    periodic, _ = datasets.make_synthetic(40_000, 20, seed=1, n_anomalies=0)
    out = []
    for train, test in ((noise[:2000], noise[2000:]), (periodic[:30_000], periodic[30_000:])):
        det = MultivariateDetector(sliding_window=200, epochs=30, seed=0, num_threads=1).fit(train)
        held = _held_out_scores(det, train)
        for shift in SHIFTS:
            moved = test.copy()
            moved[:, 0] += shift * train[:, 0].std()
            score = det.score(np.vstack([train[-200:], moved])).score[200:]
            out.append((held, score))
    return out


def study(seeds: list[int]) -> list[dict]:
    """Per rule and group: own-flag F1 and the calibration row (``accuracy.calibration``)."""
    entries = [e for seed in seeds for e in ls.combined(ls.ADOPTED_BESIDE, "plus " + str(scoring.ANALOG_WEIGHT),
                                                           seed, base="joint_pca")]
    clean = drifted_clean_batches()
    rows = []
    for name, rule in rules().items():
        runs, f1 = [], {}
        for e in entries:
            shares = []
            for score, labels in e["case_scores"]:
                pred = rule(e["held"], score)
                shares.append([float(pred.mean()), float(labels.mean())])
                f1.setdefault(e["group"], []).append(
                    2 * float(np.sum(pred & labels)) / max(1.0, float(labels.sum() + pred.sum())))
            runs.append({"group": e["group"], "method": name, "shares": shares})
        for row in calibration(runs):
            rows.append(row | {"rule": name, "f1": float(np.mean(f1[row["group"]]))})
        rows.append({"rule": name, "group": "clean, drifted",
                     "flagged": float(np.mean([rule(held, score).mean() for held, score in clean]))})
    return rows


def markdown(rows: list[dict], command: str) -> str:
    lines = ["# Flag study (issue 15)", "", f"Command: `{command}`", "",
             "The product's cached scores (3 seeds; SKAB: 34 files, GutenTAG: 29 datasets, SMD: 3 machines); "
             "cells: own-flag F1, flagged / true share, cases within half to twice their true share, cases "
             "(with >= 1% anomalies) beyond a third or three times it (flagging nothing); noise: share flagged "
             "of the Azure i.i.d. sample; clean, drifted: share flagged of clean batches with one variable moved "
             f"by {', '.join(f'{x:g}' for x in SHIFTS)} training standard deviations (the noise sample and a "
             "periodic set, ``drifted_clean_batches``): every flag there is a false alarm.", "",
             "| rule | " + " | ".join(GROUPS) + " |", "|---" * (len(GROUPS) + 1) + "|"]
    for rule in dict.fromkeys(r["rule"] for r in rows):
        cells = []
        for group in GROUPS:
            r = next(x for x in rows if x["rule"] == rule and x["group"] == group)
            if group in ("noise", "clean, drifted"):
                cells.append(f"{100 * r['flagged']:.2f}%")
                continue
            cells.append(f"F1 {r['f1']:.3f}, {100 * r['flagged']:.1f}% / {100 * r['true']:.1f}%, "
                         f"{100 * r['within']:.0f}% within, {r['beyond']}/{r['counted']} beyond "
                         f"({r['beyond_none']})")
        lines.append(f"| {rule} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = parser.parse_args(argv)
    rows = study(args.seeds)
    command = ".venv/bin/python -m benchmarks.flag_study " + " ".join(argv if argv is not None else sys.argv[1:])
    text = markdown(rows, command.strip())
    print(text)
    qs.RESULTS.mkdir(exist_ok=True)
    (qs.RESULTS / "flag_study.md").write_text(text)
    (qs.RESULTS / "flag_study.json").write_text(json.dumps({"command": command.strip(), "seeds": args.seeds,
                                                            "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
