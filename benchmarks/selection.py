"""The selection command: a candidate model against the product's default, on the whole development pool.

    .venv/bin/python -m benchmarks.selection --candidate '{"name": "no-analog", "detector": {"branches": ["network", "linear"]}}'
    .venv/bin/python -m benchmarks.selection --candidate no-analog          # a named candidate (benchmarks/candidates.py)
    .venv/bin/python -m benchmarks.selection --rules                        # every flag-rule candidate, from the cache

Each entity of the pool (``benchmarks/pool.py``) is trained once per seed and training configuration in a
worker process (one torch thread each) and its branches' per-variable errors -- held-out rows and scored
rows -- are cached (``benchmarks/cache/select/``).  A candidate that changes only the mix (branch weights),
the aggregation or the flag rule is then scored from the cache in minutes, through the product's own
functions (``scoring.mix``, ``scoring.trailing_mean``, ``scoring.aggregate``, ``FlagRule``).

Per family and seed: mean VUS-PR, AUC-PR and own-flag F1 (no point adjustment) over the entities, pooled F1
over the family's rows, flagged vs labelled share, and the calibration counts (entities with >= 1% anomalies
flagged within half to twice their labelled share, beyond a third or three times it).  **The adoption rule**
(``benchmarks/README.md``): a candidate is adopted only when the pooled mean VUS-PR (the mean of the families'
means) improves beyond the seed spread and no family's mean drops beyond its own seed spread.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path


import numpy as np

from benchmarks import pool
from benchmarks.selection_report import markdown
from benchmarks.accuracy import BEYOND, COUNTED_SHARE, WITHIN
from benchmarks.datasets import BENCH_DIR
from benchmarks.pool import Entity

CACHE = BENCH_DIR / "cache" / "select"
RESULTS = BENCH_DIR / "results" / "selection"
SEEDS = (0, 1, 2)
F1_FLOOR = 0.005  # a family's F1 change smaller than this is noise even where its seeds agree exactly
ENTITY_F1_MOVE = 0.05  # the rule report lists entities whose own-flag F1 moves by more than this
NOISE_CAP = 0.01  # the Azure noise sample may be flagged on at most 1% of its rows (issue 23)
CODE_VERSION = "1"  # bump when what the cache holds changes
ERROR_SOURCES = ("workbench/mvad/branches/*.py", "workbench/mvad/scoring.py")  # (study branches: bump CODE_VERSION)


def _code_digest() -> str:
    """The sources the cached errors come from (the flag rule's are not among them: it runs on the cache)."""
    h = hashlib.sha256()
    for pattern in ERROR_SOURCES:
        for path in sorted(BENCH_DIR.parent.glob(pattern)):
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


# ---------------------------------------------------------------------------------------------- candidates

@dataclass(frozen=True)
class Candidate:
    """A model to judge: detector parameters (JSON-able) and optionally a detector class of a study."""

    name: str
    detector: dict
    detector_class: str = ""   # "module:Class" of a study's detector subclass; "" for the product's
    epochs: int | None = None  # None: the product's default

    @classmethod
    def parse(cls, text: str) -> "Candidate":
        from benchmarks import candidates

        if text in candidates.NAMED:
            return cls(text, **candidates.NAMED[text])
        spec = json.loads(Path(text).read_text()) if Path(text).is_file() else json.loads(text)
        return cls(spec.pop("name", "candidate"), spec.pop("detector", {}), spec.pop("detector_class", ""),
                   spec.pop("epochs", None))

    def resolved(self) -> tuple[list[dict], dict, dict]:
        """(branch specs and flag-rule spec with every default filled in, the other detector params as given)."""
        from workbench.mvad.branches import DEFAULT_BRANCHES, branch_from_spec

        params = dict(self.detector)
        branches = [branch_from_spec(b).spec() for b in params.pop("branches", None) or DEFAULT_BRANCHES]
        rule = make_rule(params.pop("flag_rule", None) or {})
        spec = {"class": rule_class_name(rule)} if type(rule).__name__ != "FlagRule" else {}
        return branches, {**spec, **rule.get_params()}, params


    def training_key(self, entity: Entity, seed: int) -> str:
        """What the cached errors depend on: the data, window, seed, epochs and everything but the mix and rule."""
        branches, _, params = self.resolved()
        scoring_only = {"top_fraction"}
        facts = {"entity": entity.name, "digest": _digest(entity), "window": entity.window, "seed": seed,
                 "epochs": self.epochs, "class": self.detector_class, "version": CODE_VERSION, "code": _code_digest(),
                 "branches": [{k: v for k, v in b.items() if k != "weight"} for b in branches],
                 "params": {k: v for k, v in sorted(params.items()) if k not in scoring_only}}
        return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:20]


def top_fraction_of(params: dict) -> float:
    """A candidate's ``top_fraction``, or the detector's default."""
    from workbench.mvad.detector import MultivariateDetector

    return float(params.get("top_fraction", MultivariateDetector().top_fraction))


def make_rule(spec: dict):
    """A flag rule from its spec: the product's ``FlagRule`` parameters, or a study's rule by ``"class"``."""
    from workbench.mvad.flags import FlagRule

    spec = dict(spec)
    name = spec.pop("class", "")
    cls = FlagRule if not name else getattr(__import__(name.partition(":")[0], fromlist=["_"]), name.partition(":")[2])
    return cls(**spec)


def rule_class_name(rule) -> str:
    return f"{type(rule).__module__}:{type(rule).__name__}"


def _digest(entity: Entity) -> str:
    h = hashlib.sha256(entity.benchmark.train.tobytes())
    for case in entity.benchmark.cases:
        h.update(case.test.tobytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------- training

def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("TQDM_DISABLE", "1")


def _detector_class(name: str):
    from workbench.mvad.detector import MultivariateDetector

    if not name:
        return MultivariateDetector
    module, _, attr = name.partition(":")
    return getattr(__import__(module, fromlist=[attr]), attr)


def train_entity(entity: Entity, seed: int, candidate: Candidate, path: Path) -> dict:
    """Train one entity and cache its branches' errors (held-out rows, then each case's rows)."""
    import benchmarks.candidates  # noqa: F401  (registers the study branches)

    bench, window = entity.benchmark, entity.window
    params = dict(candidate.detector)
    if candidate.epochs is not None:
        params["epochs"] = candidate.epochs
    det = _detector_class(candidate.detector_class)(sliding_window=window, seed=seed, num_threads=1, **params)
    started = time.perf_counter()
    det.fit(bench.train, bench.variables)
    fit_s = time.perf_counter() - started
    cut = det.held_out_from(len(bench.train))
    first = window - det.smoothing + 1        # the first row whose errors the smoothing of a valid row reads
    arrays = {f"held/{k}": v[first:] for k, v in det.branch_errors(bench.train[cut - window:]).items()}
    started = time.perf_counter()
    for i, case in enumerate(bench.cases):
        history = case.history[-window:] if case.history is not None else np.empty((0, bench.train.shape[1]))
        rows = np.vstack([history, case.test]) if len(history) else case.test
        for kind, errors in det.branch_errors(rows).items():
            arrays[f"{i}/{kind}"] = errors[first:]
        arrays[f"{i}/history"] = np.array([len(history)])  # the rows before the case's own
    score_s = time.perf_counter() - started
    meta = {"entity": entity.name, "family": entity.family, "seed": seed, "window": window,
            "smoothing": det.smoothing, "kinds": [b.kind for b in det.branches_ if b.active],
            "threshold": det.threshold_, "fit_s": fit_s, "score_s": score_s,
            "epoch_s": float(np.median(det.epoch_seconds_)) if det.epoch_seconds_ else None}
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path.with_suffix(".npz"))
    path.with_suffix(".json").write_text(json.dumps(meta))
    return meta


def ensure_cache(entities: list[Entity], seeds: tuple[int, ...], candidate: Candidate, workers: int,
                 cache: Path = CACHE, log=print) -> dict[tuple[str, int], Path]:
    """Train what is not cached yet (``workers`` processes); the cache path of every (entity, seed)."""
    cache.mkdir(parents=True, exist_ok=True)
    paths = {(e.name, s): cache / candidate.training_key(e, s) for e in entities for s in seeds}
    todo = [(e, s) for e in entities for s in seeds if not paths[(e.name, s)].with_suffix(".json").is_file()]
    if not todo:
        return paths
    log(f"{candidate.name}: training {len(todo)} of {len(paths)} (entity, seed) pairs in {workers} processes")
    started, done = time.perf_counter(), 0
    with cf.ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) as ex:
        futures = {ex.submit(train_entity, e, s, candidate, paths[(e.name, s)]): (e.name, s) for e, s in todo}
        for future in cf.as_completed(futures):
            meta = future.result()
            done += 1
            log(f"  [{done}/{len(todo)} {time.perf_counter() - started:6.0f} s] {meta['entity']} seed "
                f"{meta['seed']}: fit {meta['fit_s']:.1f} s")
    return paths


# ---------------------------------------------------------------------------------------------- scoring

@dataclass
class Scored:
    """One (entity, seed)'s scores under one mix: held-out rows, and per case the call's rows (``window`` rows
    without a score, the history's, then the case's own from ``first`` on) with the case's score figures."""

    held: np.ndarray
    calls: list[np.ndarray]
    firsts: list[int]
    figures: list[dict]


_SCORED: dict[tuple, Scored] = {}  # memo: a rule study re-reads no cache file and computes no VUS-PR again


def scored(path: Path, entity: Entity, branches: list[dict], top_fraction: float) -> Scored:
    """Scores from cached errors, mixed with the candidate's weights -- the product's functions, as
    ``MultivariateDetector.score`` runs them -- with each case's VUS-PR and AUC-PR."""
    from workbench import evaluation as ev
    from workbench.mvad import scoring

    weights = {b["kind"]: float(b["weight"]) for b in branches}
    key = (str(path), tuple(sorted(weights.items())), top_fraction)
    if key in _SCORED:
        return _SCORED[key]
    meta = json.loads(path.with_suffix(".json").read_text())
    window, smoothing = meta["window"], meta["smoothing"]
    with np.load(path.with_suffix(".npz")) as arrays:
        cached = {k: arrays[k] for k in arrays.files}

    def score(prefix: str) -> np.ndarray:
        kinds = [k for k in meta["kinds"] if weights.get(k, 0.0) > 0]
        mixed = scoring.mix([(weights[k], cached[f"{prefix}/{k}"]) for k in kinds])
        smoothed = scoring.trailing_mean(mixed, smoothing)
        return scoring.aggregate(smoothed, scoring.top_count(mixed.shape[1], top_fraction))

    calls, firsts, figures = [], [], []
    for i, case in enumerate(entity.benchmark.cases):
        smoothed = score(str(i))      # the scores of the call's rows ``window`` .., as the detector's
        call = np.full(window + len(smoothed), np.nan)
        call[window:] = smoothed
        first = int(cached[f"{i}/history"][0])
        own = call[first:]
        valid = np.isfinite(own)
        labels = np.asarray(case.labels, dtype=bool)
        found = {}
        if labels.any() and not labels.all():
            filled = np.where(valid, own, np.nanmin(own))
            found = {"vus_pr": ev.vus_pr(labels, filled, window=ev.period_window(case.test[:, 0])),
                     "auc_pr": ev.auc_pr(labels, filled)}
        calls.append(call)
        firsts.append(first)
        figures.append(found)
    _SCORED[key] = result = Scored(score("held"), calls, firsts, figures)
    return result


def flag_figures(rule, result: Scored, cases: list) -> list[dict]:
    """Each case's figures with the rule's flags: fitted on the held-out scores, applied to each call."""
    from workbench import evaluation as ev

    rule.fit(result.held)
    out = []
    for call, first, figures, case in zip(result.calls, result.firsts, result.figures, cases):
        flags = rule.apply(call, np.isfinite(call)).is_anomaly[first:]
        labels = np.asarray(case.labels, dtype=bool)
        found = {"flagged": float(flags.mean()), "labelled": float(labels.mean()), "tp": int((flags & labels).sum()),
                 "fp": int((flags & ~labels).sum()), "fn": int((~flags & labels).sum()), **figures}
        if figures:
            found["f1"] = ev.f1_score(labels, flags)
        out.append(found)
    return out


def evaluate(candidate: Candidate, entities: list[Entity], paths: dict, seeds: tuple[int, ...]) -> list[dict]:
    """One record per (case, seed): the candidate's figures, scored from the cache."""
    branches, rule, params = candidate.resolved()
    records = []
    for entity in entities:
        for seed in seeds:
            result = scored(paths[(entity.name, seed)], entity, branches, top_fraction_of(params))
            for case, found in zip(entity.benchmark.cases, flag_figures(make_rule(rule), result,
                                                                         entity.benchmark.cases)):
                records.append({"family": entity.family, "entity": entity.name, "case": case.name, "seed": seed,
                                **found})
    return records


def case_figures(case, result: dict) -> dict:
    """Figures of one case scored outside the cache (a baseline): rows without a score get the lowest one."""
    from workbench import evaluation as ev

    score, flags = np.asarray(result["score"], dtype=float), np.asarray(result["is_anomaly"], dtype=bool)
    valid = np.isfinite(score)
    filled = np.where(valid, score, np.nanmin(score) if valid.any() else 0.0)
    labels = np.asarray(case.labels, dtype=bool)
    out = {"flagged": float(flags.mean()), "labelled": float(labels.mean()),
           "tp": int((flags & labels).sum()), "fp": int((flags & ~labels).sum()), "fn": int((~flags & labels).sum())}
    if labels.any() and not labels.all():
        out.update(vus_pr=ev.vus_pr(labels, filled, window=ev.period_window(case.test[:, 0])),
                   auc_pr=ev.auc_pr(labels, filled), f1=ev.f1_score(labels, flags))
    return out


def pca_records(entities: list[Entity], cache: Path = CACHE) -> list[dict]:
    """The PCA baseline's figures (reconstruction error; its own flag at the training scores' 99th percentile)."""
    from benchmarks.worker import PCABaseline

    records = []
    for entity in entities:
        bench = entity.benchmark
        path = cache / f"pca-{_digest(entity)}.json"
        if path.is_file():
            records += json.loads(path.read_text())
            continue
        model = PCABaseline(seed=0).fit(bench.train)
        found = []
        for case in bench.cases:
            out = model.score(case.test)
            found.append({"family": entity.family, "entity": entity.name, "case": case.name, "seed": 0,
                          **case_figures(case, {"score": out["score"], "is_anomaly": out["is_anomaly"]})})
        path.write_text(json.dumps(found))
        records += found
    return records


def family_table(records: list[dict], seeds: tuple[int, ...]) -> dict[str, dict]:
    """Per family: per-seed means of the case figures, their mean and spread, and the calibration counts."""
    out: dict[str, dict] = {}
    for family in dict.fromkeys(r["family"] for r in records):
        rows = [r for r in records if r["family"] == family]
        per_seed = {}
        for seed in seeds:
            mine = [r for r in rows if r["seed"] == seed]
            if not mine:
                continue
            tp, fp, fn = (sum(r[k] for r in mine) for k in ("tp", "fp", "fn"))
            per_seed[seed] = {
                "vus_pr": _mean(r.get("vus_pr") for r in mine), "auc_pr": _mean(r.get("auc_pr") for r in mine),
                "f1": _mean(r.get("f1") for r in mine),
                "pooled_f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan"),
                "flagged": _mean(r["flagged"] for r in mine), "labelled": _mean(r["labelled"] for r in mine),
                "within_per_seed": _mean(1 / WITHIN <= r["flagged"] / r["labelled"] <= WITHIN
                                         for r in mine if r["labelled"] >= COUNTED_SHARE)}
        counted = [r for r in rows if r["labelled"] >= COUNTED_SHARE]
        ratio = [r["flagged"] / r["labelled"] for r in counted]
        clean = [r for r in rows if r["labelled"] == 0]
        summary = {k: _spread([p[k] for p in per_seed.values()]) for k in next(iter(per_seed.values()))}
        summary.update(cases=len({r["case"] + r["entity"] for r in rows}), per_seed=per_seed,
                       counted=len(counted) // max(1, len(per_seed)),
                       within=float(np.mean([1 / WITHIN <= x <= WITHIN for x in ratio])) if ratio else None,
                       beyond=float(np.mean([x < 1 / BEYOND or x > BEYOND for x in ratio])) if ratio else None,
                       silent=float(np.mean([x == 0 for x in ratio])) if ratio else None,
                       clean_flagging=float(np.mean([r["flagged"] > 0 for r in clean])) if clean else None,
                       clean_flagged=_mean(r["flagged"] for r in clean) if clean else None)
        out[family] = summary
    return out


def pooled(table: dict[str, dict], seeds: tuple[int, ...], figure: str = "vus_pr") -> dict:
    """The mean over families of their ``figure`` (mean VUS-PR, or pooled F1), per seed, with its mean and spread."""
    scored = [f for f, row in table.items() if np.isfinite(row[figure]["mean"])]
    per_seed = [float(np.mean([table[f]["per_seed"][s][figure] for f in scored])) for s in seeds
                if scored and all(s in table[f]["per_seed"] for f in scored)]
    return {"families": scored, **_spread(per_seed)}


def verdict(default: dict, candidate: dict, base: dict, cand: dict) -> dict:
    """The adoption rule: the pooled mean better beyond the seed spread, no family worse beyond its own."""
    spread = max(base["sd"], cand["sd"])
    gain = cand["mean"] - base["mean"]
    worse = [f for f in default if f in candidate and np.isfinite(default[f]["vus_pr"]["mean"])
             and candidate[f]["vus_pr"]["mean"] - default[f]["vus_pr"]["mean"]
             < -max(default[f]["vus_pr"]["sd"], candidate[f]["vus_pr"]["sd"])]
    return {"pooled_gain": gain, "seed_spread": spread, "families_worse": worse,
            "adopt": bool(gain > spread and not worse)}


def entity_f1_changes(default: list[dict], rule: list[dict], beyond: float = ENTITY_F1_MOVE) -> list[dict]:
    """The entities whose own-flag F1 (mean over cases and seeds) moves by more than ``beyond`` under a rule:
    what the per-family verdict averages away (an entity losing while its family gains)."""
    def per_entity(records):
        out: dict[tuple[str, str], list[float]] = {}
        for r in records:
            if r.get("f1") is not None:
                out.setdefault((r["family"], r["entity"]), []).append(r["f1"])
        return {k: float(np.mean(v)) for k, v in out.items()}
    before, after = per_entity(default), per_entity(rule)
    moved = [{"family": f, "entity": e, "default_f1": before[(f, e)], "rule_f1": after[(f, e)]}
             for (f, e) in before if (f, e) in after and abs(after[(f, e)] - before[(f, e)]) > beyond]
    return sorted(moved, key=lambda m: m["rule_f1"] - m["default_f1"])


def flag_verdict(default: dict, rule: dict, seeds: tuple[int, ...]) -> dict:
    """The adoption rule for a flag rule, which leaves the scores (VUS-PR) as they are: the mean over families of
    their pooled F1 better beyond the seed spread, no family's pooled F1 worse beyond its own (at least
    ``F1_FLOOR``), no family's share of cases flagged within half to twice their labelled share lower beyond its
    own seed spread, and the noise sample at most ``NOISE_CAP`` flagged."""
    labelled = [f for f in default if f in rule and default[f]["labelled"]["mean"] > 0]  # F1 needs labels
    base = pooled({f: default[f] for f in labelled}, seeds, "pooled_f1")
    cand = pooled({f: rule[f] for f in labelled}, seeds, "pooled_f1")
    spread = max(base["sd"], cand["sd"])
    gain = cand["mean"] - base["mean"]
    worse = [f for f in labelled if np.isfinite(default[f]["pooled_f1"]["mean"])
             and rule[f]["pooled_f1"]["mean"] - default[f]["pooled_f1"]["mean"]
             < -max(default[f]["pooled_f1"]["sd"], rule[f]["pooled_f1"]["sd"], F1_FLOOR)]
    fewer_within = [f for f in labelled if "within_per_seed" in default[f] and "within_per_seed" in rule[f]
                    and np.isfinite(default[f]["within_per_seed"]["mean"])
                    and rule[f]["within_per_seed"]["mean"] - default[f]["within_per_seed"]["mean"]
                    < -max(default[f]["within_per_seed"]["sd"], rule[f]["within_per_seed"]["sd"], 1e-9)]
    noise = rule.get("noise", {}).get("flagged", {}).get("mean", 0.0)
    return {"pooled_f1": cand, "default_pooled_f1": base, "pooled_gain": gain, "seed_spread": spread,
            "families_worse": worse, "fewer_within": fewer_within, "noise_flagged": noise,
            "adopt": bool(gain > spread and not worse and not fewer_within and noise <= NOISE_CAP)}


def _mean(values) -> float:
    v = [x for x in values if x is not None and np.isfinite(x)]
    return float(np.mean(v)) if v else float("nan")


def _spread(values: list[float]) -> dict:
    v = [x for x in values if x is not None and np.isfinite(x)]
    return {"mean": float(np.mean(v)) if v else float("nan"), "sd": float(np.std(v)) if len(v) > 1 else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidate", action="append", default=[],
                        help="a candidate: JSON, a JSON file or a name in benchmarks/candidates.py (repeatable)")
    parser.add_argument("--rules", action="store_true", help="also score every flag rule of candidates.RULES")
    parser.add_argument("--families", default=",".join(pool.FAMILIES))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--workers", type=int, default=2, help="training processes (one torch thread each)")
    parser.add_argument("--epochs", type=int, help="epochs for every model (default: the product's)")
    parser.add_argument("--smap-msl-share", type=float, default=1.0, help="a fixed share of the telemetry channels")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--name", help="the results' file name (default: the candidates' names)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    seeds = tuple(args.seeds)
    entities = pool.entities(tuple(f for f in args.families.split(",") if f), smap_msl_share=args.smap_msl_share)
    default = Candidate("default", {}, epochs=args.epochs)
    candidates = [Candidate.parse(text) for text in args.candidate]
    candidates = [c if c.epochs is not None or args.epochs is None else
                  Candidate(c.name, c.detector, c.detector_class, args.epochs) for c in candidates]
    base_paths = ensure_cache(entities, seeds, default, args.workers, args.cache)
    default_records = evaluate(default, entities, base_paths, seeds)
    table = family_table(default_records, seeds)
    base = pooled(table, seeds)
    results = {"title": ", ".join(c.name for c in candidates) or "the default", "seeds": list(seeds),
               "entities": len(entities), "default": table, "default_pooled": base,
               "pca": family_table(pca_records(entities, args.cache), (0,)), "candidates": [], "rules": []}
    for cand in candidates:
        paths = ensure_cache(entities, seeds, cand, args.workers, args.cache)
        cand_table = family_table(evaluate(cand, entities, paths, seeds), seeds)
        cand_pooled = pooled(cand_table, seeds)
        results["candidates"].append({"name": cand.name, "spec": {"detector": cand.detector,
                                                                  "detector_class": cand.detector_class},
                                      "table": cand_table, "pooled": cand_pooled,
                                      "verdict": verdict(table, cand_table, base, cand_pooled)})
    if args.rules:
        from benchmarks.candidates import RULES
        for name, rule in RULES.items():
            study = Candidate(name, {"flag_rule": rule}, epochs=args.epochs)
            records = evaluate(study, entities, base_paths, seeds)
            rule_table = family_table(records, seeds)
            results["rules"].append({"name": name, "spec": rule, "table": rule_table,
                                     "verdict": flag_verdict(table, rule_table, seeds),
                                     "entities_moved": entity_f1_changes(default_records, records)})
    results["minutes"] = (time.perf_counter() - started) / 60
    results["command"] = "python -m benchmarks.selection " + " ".join(sys.argv[1:] if argv is None else argv)
    name = args.name or ("-".join(c.name for c in candidates) or "default") + ("-rules" if args.rules else "")
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / f"{name}.json").write_text(json.dumps(results, indent=1, default=float))
    (args.output / f"{name}.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
