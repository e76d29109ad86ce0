"""Model search: the evidence behind the product's network, scoring and threshold.

Every candidate network is trained and scored through the product's own
pipeline (``MultivariateDetector``: normalisation, bounded epochs, best
validation weights, per-variable error scales, smoothing, aggregation,
threshold), so only the network differs.  Protocol as in ``accuracy.py``: SMD
machines with window 200 (train's tail as history, VUS buffer 200), SKAB with
window 100 (each file scored alone, VUS buffer 100; rows without a full window
get the file's lowest score).  The PCA baseline is the harness's own
(``benchmarks.worker.PCABaseline``).

    .venv/bin/python -m benchmarks.model_search                      # all candidates, 100 epochs, seed 0 (~15 min)
    .venv/bin/python -m benchmarks.model_search --candidates pca joint --seeds 0 1 2 --out benchmarks/results/model_search_product.json
    .venv/bin/python -m benchmarks.model_search --thresholds --seeds 0 1 2   # threshold rules for the product
    .venv/bin/python -m benchmarks.model_search --speed                # speed and memory of the product
    .venv/bin/python -m benchmarks.model_search --quick                # tiny smoke run (seconds)

Each run prints a markdown table and writes every figure to ``--out`` (JSON).
One thread (``torch.set_num_threads(1)``), as on the 2-core target machine.
"""
from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchmarks import datasets
from benchmarks.worker import PCABaseline
from workbench import evaluation as ev
from workbench.mvad.detector import MultivariateDetector
from workbench.mvad.model import JointForecastReconstruction, default_latent

SMD_WINDOW, SKAB_WINDOW = 200, 100
RESULTS = Path(__file__).resolve().parent / "results"


# ----------------------------------------------------------------------------- candidate networks
# Each maps (batch, context + 1, V) windows to (forecast_err, recon_err) squared errors of the last row;
# a single-branch network returns its error twice so the product's 50/50 combination leaves it unchanged.

def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                         nn.Linear(hidden, n_out))


class ReconstructionOnly(nn.Module):
    """The product's autoencoder branch alone (a nonlinear PCA of the current row)."""

    def __init__(self, n_vars: int, context: int) -> None:
        super().__init__()
        self.joint = JointForecastReconstruction(n_vars, context)

    def errors(self, w):
        err = (self.joint.autoencoder(w[:, -1]) - w[:, -1]) ** 2
        return err, err


class LinearAutoencoder(nn.Module):
    """Linear bottleneck of a third of the variables: PCA through the product's scoring."""

    def __init__(self, n_vars: int, context: int) -> None:
        super().__init__()
        k = default_latent(n_vars)
        self.net = nn.Sequential(nn.Linear(n_vars, k), nn.Linear(k, n_vars))

    def errors(self, w):
        err = (self.net(w[:, -1]) - w[:, -1]) ** 2
        return err, err


class ForecastOnly(nn.Module):
    """The product's forecaster branch alone."""

    def __init__(self, n_vars: int, context: int) -> None:
        super().__init__()
        self.joint = JointForecastReconstruction(n_vars, context)

    def errors(self, w):
        past = w[:, :-1]
        err = (past[:, -1] + self.joint.forecaster(past) - w[:, -1]) ** 2
        return err, err


class GRUForecast(nn.Module):
    """A GRU over the context rows predicting the next row's change."""

    def __init__(self, n_vars: int, context: int, hidden: int = 64) -> None:
        super().__init__()
        self.gru = nn.GRU(n_vars, hidden, batch_first=True)
        self.out = nn.Linear(hidden, n_vars)

    def errors(self, w):
        _, h = self.gru(w[:, :-1])
        err = (w[:, -2] + self.out(h[-1]) - w[:, -1]) ** 2
        return err, err


class _Attention(nn.Module):
    """Scaled dot-product self-attention over the rows of (batch, nodes, features)."""

    def __init__(self, features: int, dim: int = 32) -> None:
        super().__init__()
        self.q, self.k, self.v = nn.Linear(features, dim), nn.Linear(features, dim), nn.Linear(features, features)

    def forward(self, x):
        a = torch.softmax(self.q(x) @ self.k(x).transpose(1, 2) / self.q.out_features ** 0.5, dim=-1)
        return torch.sigmoid(a @ self.v(x))


class MTADGATLite(nn.Module):
    """MTAD-GAT's layout: conv, feature and temporal attention, GRU, forecast and reconstruction heads."""

    def __init__(self, n_vars: int, context: int, hidden: int = 64) -> None:
        super().__init__()
        k = default_latent(n_vars)
        self.conv = nn.Conv1d(n_vars, n_vars, 7, padding=3)
        self.feature = _Attention(context)
        self.temporal = _Attention(n_vars)
        self.gru = nn.GRU(3 * n_vars, hidden, batch_first=True)
        self.forecast = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, n_vars))
        self.encode = nn.Sequential(nn.Linear(n_vars + hidden, hidden), nn.GELU(), nn.Linear(hidden, k))
        self.decode = nn.Sequential(nn.Linear(k + hidden, hidden), nn.GELU(), nn.Linear(hidden, n_vars))

    def errors(self, w):
        past, current = w[:, :-1], w[:, -1]
        c = torch.relu(self.conv(past.transpose(1, 2))).transpose(1, 2)
        h = torch.cat([c, self.feature(c.transpose(1, 2)).transpose(1, 2), self.temporal(c)], dim=-1)
        _, state = self.gru(h)
        state = state[-1]
        forecast = past[:, -1] + self.forecast(state)
        recon = self.decode(torch.cat([self.encode(torch.cat([current, state], -1)), state], -1))
        return (forecast - current) ** 2, (recon - current) ** 2


NETWORKS = {"linear_ae": LinearAutoencoder, "mlp_ae": ReconstructionOnly, "mlp_forecast": ForecastOnly,
            "gru_forecast": GRUForecast, "mtad_gat_lite": MTADGATLite}


class SearchDetector(MultivariateDetector):
    """The product's pipeline with another network in place of the joint MLP."""

    def __init__(self, network: str = "joint", **params) -> None:
        super().__init__(**params)
        self.network = network

    def build_network(self, n_vars: int):
        if self.network == "joint":
            return super().build_network(n_vars)
        return NETWORKS[self.network](n_vars, self.context_)


# name -> (network, detector parameter overrides)
CANDIDATES = {
    "joint": ("joint", {}),
    "joint_no_smoothing": ("joint", {"smoothing": 1}),
    "joint_mean_all": ("joint", {"top_fraction": 1.0}),
    "joint_context_64": ("joint", {"context": 64}),
    "joint_8192_per_epoch": ("joint", {"max_windows_per_epoch": 8192}),
    "joint_1024_per_epoch": ("joint", {"max_windows_per_epoch": 1024}),
    "linear_ae": ("linear_ae", {}),
    "mlp_ae": ("mlp_ae", {}),
    "mlp_forecast": ("mlp_forecast", {}),
    "gru_forecast": ("gru_forecast", {}),
    "mtad_gat_lite": ("mtad_gat_lite", {}),
}


# ----------------------------------------------------------------------------- running

def _targets(quick: bool):
    smd = [datasets.load_smd(m) for m in (datasets.SMD_MACHINES[:1] if quick else datasets.SMD_MACHINES)]
    skab = datasets.load_skab()
    if quick:
        for b in smd:
            c = b.cases[0]
            b.train = b.train[:3000]
            b.cases = [datasets.Case(c.name, c.test[:3000], c.labels[:3000], history=b.train,
                                     root_causes=[r for r in c.root_causes if r.end <= 3000])]
        skab.train = skab.train[:3000]
        skab.cases = [skab.cases[0], skab.cases[16], skab.cases[21]]
    return smd, skab


def _f1(y: np.ndarray, pred: np.ndarray) -> float:
    tp = float(np.sum(y & pred))
    return 2 * tp / max(1.0, float(y.sum() + pred.sum()))


def _held_out_scores(det: MultivariateDetector, train: np.ndarray) -> np.ndarray:
    """Scores of the validation rows, as ``fit`` saw them when calibrating the threshold."""
    n = len(train)
    cut = n - int(round(n * det.validation_fraction))
    return det.score_samples(train[cut - det.sliding_window:])[det.sliding_window:]


def run_method(name: str, bench, window: int, seed: int, epochs: int) -> dict:
    """Fit one method on a benchmark, score each case: metrics plus raw outputs for threshold studies."""
    started = time.perf_counter()
    if name == "pca":
        model = PCABaseline(seed=seed).fit(bench.train)
        held_out = None
    else:
        network, overrides = CANDIDATES[name]
        model = SearchDetector(network=network, sliding_window=window, epochs=epochs, seed=seed, **overrides)
        model.fit(bench.train, bench.variables)
        held_out = _held_out_scores(model, bench.train)
    fit_s = time.perf_counter() - started
    cases = []
    for case in bench.cases:
        history = case.history[-window:] if case.history is not None else case.test[:0]
        if name == "pca":
            out = model.score(case.test)
            score, pred, contrib = out["score"], out["is_anomaly"], out["contributions"]
        else:
            res = model.score(np.vstack([history, case.test]))
            keep = slice(len(history), None)
            score, pred, contrib = res.score[keep], res.is_anomaly[keep], res.contributions[keep]
        valid = np.isfinite(score)
        filled = np.where(valid, score, score[valid].min())
        y = case.labels.astype(bool)
        row = {"case": case.name, "vus_pr": ev.vus_pr(y, filled, window=window), "auc_pr": ev.auc_pr(y, filled),
               "f1": _f1(y, pred & valid), "flagged": float(np.mean(pred & valid)), "true_share": float(y.mean()),
               "score": filled, "labels": y}
        if case.root_causes:
            row["hit150"] = ev.hit_rate(np.where(valid[:, None], contrib, np.nan), case.root_causes, 150)
        cases.append(row)
    return {"fit_s": fit_s, "cases": cases, "held_out": held_out,
            "threshold": getattr(model, "threshold_", None)}


def _summary(name: str, seed: int, smd_runs: list[dict], skab_run: dict) -> dict:
    smd_cases = [r["cases"][0] for r in smd_runs]
    skab_cases = skab_run["cases"]
    return {
        "method": name, "seed": seed,
        "smd_vus_pr": float(np.mean([c["vus_pr"] for c in smd_cases])),
        "smd_vus_pr_each": [round(c["vus_pr"], 4) for c in smd_cases],
        "smd_auc_pr": float(np.mean([c["auc_pr"] for c in smd_cases])),
        "smd_hit150": float(np.mean([c["hit150"] for c in smd_cases])),
        "smd_f1": float(np.mean([c["f1"] for c in smd_cases])),
        "smd_flagged": float(np.mean([c["flagged"] for c in smd_cases])),
        "skab_vus_pr": float(np.mean([c["vus_pr"] for c in skab_cases])),
        "skab_auc_pr": float(np.mean([c["auc_pr"] for c in skab_cases])),
        "skab_f1": float(np.mean([c["f1"] for c in skab_cases])),
        "fit_s": float(sum(r["fit_s"] for r in smd_runs) + skab_run["fit_s"]),
    }


def search(candidates: list[str], seeds: list[int], epochs: int, quick: bool) -> list[dict]:
    smd, skab = _targets(quick)
    rows = []
    for name in candidates:
        for seed in seeds:
            smd_runs = [run_method(name, b, SMD_WINDOW, seed, epochs) for b in smd]
            skab_run = run_method(name, skab, SKAB_WINDOW, seed, epochs)
            rows.append(_summary(name, seed, smd_runs, skab_run))
            print(_line(rows[-1]), flush=True)
    return rows


def _line(r: dict) -> str:
    return (f"| {r['method']} | {r['seed']} | {r['smd_vus_pr']:.3f} {r['smd_vus_pr_each']} | {r['smd_auc_pr']:.3f} | "
            f"{r['smd_hit150']:.3f} | {r['smd_f1']:.3f} ({r['smd_flagged']:.3f}) | {r['skab_vus_pr']:.3f} | "
            f"{r['skab_auc_pr']:.3f} | {r['skab_f1']:.3f} | {r['fit_s']:.0f} |")


HEADER = ("| method | seed | SMD VUS-PR (each) | SMD AUC-PR | SMD HR@150 | SMD F1 (flagged) | SKAB VUS-PR | "
          "SKAB AUC-PR | SKAB F1 | fit s |\n|---|---|---|---|---|---|---|---|---|---|")


# ----------------------------------------------------------------------------- threshold rules

def _noise_scores(seed: int, epochs: int) -> tuple[np.ndarray, np.ndarray]:
    """(held-out, test) scores on the Azure sample (i.i.d. noise): train on 2,000 rows, score the rest."""
    _, values, names = datasets.load_azure_sample()
    det = MultivariateDetector(sliding_window=200, epochs=epochs, seed=seed).fit(values[:2000], names)
    return _held_out_scores(det, values[:2000]), det.score(values[1800:]).score[200:]


def _peaks_over_threshold(scores: np.ndarray, risk: float, tail: float = 0.02) -> float:
    """SPOT-style threshold: a generalised Pareto fit (method of moments) to the top ``tail`` of the scores,
    the score exceeded with probability ``risk``, never below the largest score."""
    s = np.sort(scores)
    u = float(np.quantile(s, 1.0 - tail))
    excess = s[s > u] - u
    if len(excess) < 10 or excess.var() <= 0:
        return float(s[-1])
    mean, var = excess.mean(), excess.var()
    shape, scale = 0.5 * (1 - mean * mean / var), 0.5 * mean * (mean * mean / var + 1)
    ratio = risk * len(s) / len(excess)
    level = u - scale * np.log(ratio) if abs(shape) < 1e-6 else u + scale / shape * (ratio ** -shape - 1)
    return float(max(level, s[-1]))


RULES = {
    "max": lambda s: float(np.max(s)),
    "q99": lambda s: float(np.quantile(s, 0.99)),
    "q995": lambda s: float(np.quantile(s, 0.995)),
    "q999": lambda s: float(np.quantile(s, 0.999)),
    "1.5*q99": lambda s: 1.5 * float(np.quantile(s, 0.99)),
    "2*q99": lambda s: 2 * float(np.quantile(s, 0.99)),
    "max(2*q99, q999)": lambda s: max(2 * float(np.quantile(s, 0.99)), float(np.quantile(s, 0.999))),
    "pot(1e-3)": lambda s: _peaks_over_threshold(s, 1e-3),
    "pot(1e-2)": lambda s: _peaks_over_threshold(s, 1e-2),
}


def thresholds(seeds: list[int], epochs: int, quick: bool) -> list[dict]:
    """F1 and flagged share of each threshold rule (from held-out scores) on SMD, SKAB and noise."""
    smd, skab = _targets(quick)
    rows = []
    for seed in seeds:
        runs = {b.name: run_method("joint", b, SMD_WINDOW, seed, epochs) for b in smd}
        runs["SKAB"] = run_method("joint", skab, SKAB_WINDOW, seed, epochs)
        noise_held, noise_test = _noise_scores(seed, epochs)
        for rule, fn in RULES.items():
            row = {"seed": seed, "rule": rule}
            for bench, run in runs.items():
                t = fn(run["held_out"])
                f1s = [_f1(c["labels"], c["score"] >= t) for c in run["cases"]]
                flags = [float(np.mean(c["score"] >= t)) for c in run["cases"]]
                row[bench] = (float(np.mean(f1s)), float(np.mean(flags)))
            row["noise_flagged"] = float(np.mean(noise_test >= fn(noise_held)))
            smd_f1 = np.mean([row[b.name][0] for b in smd])
            print(f"| {seed} | {rule} | " + " | ".join(f"{row[b][0]:.3f} ({row[b][1]:.3f})" for b in runs)
                  + f" | {smd_f1:.3f} | {row['noise_flagged']:.4f} |", flush=True)
            rows.append(row)
    return rows


# ----------------------------------------------------------------------------- speed

def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def speed(quick: bool) -> list[dict]:
    """Training, batch scoring and detect-last cost of the product with one thread."""
    rows = []
    _, values, names = datasets.load_azure_sample()
    epochs = 2 if quick else 100
    started = time.perf_counter()
    det = MultivariateDetector(sliding_window=200, epochs=epochs, seed=0, num_threads=1).fit(values[:2000], names)
    fit_s = time.perf_counter() - started
    rows.append({"case": "azure sample 5 x 2000, window 200", "epochs": epochs, "fit_s": fit_s,
                 "median_epoch_s": float(np.median(det.epoch_seconds_)), "peak_rss_mb_after_fit": _peak_rss_mb()})
    smd = datasets.load_smd(datasets.SMD_MACHINES[0])
    train = smd.train[:3000] if quick else smd.train
    det = MultivariateDetector(sliding_window=200, epochs=2 if quick else 30, seed=0, num_threads=1).fit(
        train, smd.variables)
    test = smd.cases[0].test[:3000] if quick else smd.cases[0].test
    started = time.perf_counter()
    det.score(test)
    batch_s = time.perf_counter() - started
    rows.append({"case": f"SMD {len(test)} x 38 batch scoring, window 200", "seconds": batch_s,
                 "rows_per_s": len(test) / batch_s, "ms_per_row": 1000 * batch_s / len(test)})
    latencies = []
    for i in range(20 if quick else 200):
        last = test[i:i + 201]
        started = time.perf_counter()
        res = det.score(last)
        det.correlation_changes(last, 200, 10)
        latencies.append(time.perf_counter() - started)
        assert res.valid[-1]
    rows.append({"case": "detect-last 38 variables, window 200 (score + correlation changes of top 10)",
                 "median_ms": 1000 * float(np.median(latencies)), "p99_ms": 1000 * float(np.quantile(latencies, 0.99))})
    n_rows = 20_000 if quick else 1_000_000
    big, _ = datasets.make_synthetic(n_rows, 20, seed=0)
    started = time.perf_counter()
    det = MultivariateDetector(sliding_window=300, epochs=epochs, seed=0, num_threads=1).fit(big)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    det.score(big)
    rows.append({"case": f"synthetic {n_rows} x 20, window 300", "epochs": epochs, "fit_s": fit_s,
                 "score_s": time.perf_counter() - started, "peak_rss_mb": _peak_rss_mb()})
    for row in rows:
        print(json.dumps(row), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", nargs="+", default=["pca"] + list(CANDIDATES),
                        choices=["pca"] + list(CANDIDATES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--thresholds", action="store_true", help="compare threshold rules for the product")
    parser.add_argument("--speed", action="store_true", help="time training, scoring and detect-last")
    parser.add_argument("--quick", action="store_true", help="a few thousand rows, 2 epochs: a smoke run")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    epochs = 2 if args.quick else args.epochs
    started = time.perf_counter()
    if args.speed:
        rows = speed(args.quick)
        default = RESULTS / "model_search_speed.json"
    elif args.thresholds:
        print("| seed | rule | " + " | ".join(["SMD machines F1 (flagged)"] * 3 + ["SKAB"]) + " | SMD mean F1 | noise flagged |")
        rows = thresholds(args.seeds, epochs, args.quick)
        default = RESULTS / "model_search_thresholds.json"
    else:
        print(HEADER)
        rows = search(args.candidates, args.seeds, epochs, args.quick)
        default = RESULTS / "model_search.json"
    out = args.out or default
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"epochs": epochs, "seeds": args.seeds, "quick": args.quick, "rows": rows,
                               "torch_threads": 1, "seconds": time.perf_counter() - started}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
