"""Check ``workbench.evaluation`` against the reference VUS code of TSB-AD and ``vus``.

Needs a throwaway environment holding the reference packages without torch::

    python3.11 -m venv /tmp/vusenv
    /tmp/vusenv/bin/pip install --no-deps tsb-ad==1.5 vus==0.0.6
    /tmp/vusenv/bin/pip install numpy scikit-learn scipy pandas tqdm statsmodels
    PYTHONPATH=. /tmp/vusenv/bin/python -m benchmarks.vus_agreement

Prints the largest absolute difference over random cases (ranges of varied
length and spacing, continuous and heavily tied scores, anomalies at the edges).
"""
from __future__ import annotations

import numpy as np


def _case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    n = int(rng.integers(200, 3000))
    y = np.zeros(n, dtype=int)
    for _ in range(int(rng.integers(1, 12))):
        start = int(rng.integers(0, n - 1))
        y[start:start + int(rng.integers(1, 120))] = 1
    if y.all():
        y[0] = 0
    kind = rng.integers(0, 3)
    if kind == 0:  # informative continuous score
        s = rng.normal(size=n) + 1.5 * y * rng.random()
    elif kind == 1:  # heavy ties
        s = np.round(rng.random(n) * 4) / 4 + y * 0.25 * rng.integers(0, 2)
    else:  # smoothed, shifted score (detections spill into the buffers)
        s = np.convolve(y + 0.3 * rng.normal(size=n), np.ones(15) / 15, mode="same")
    return y, s, int(rng.choice([0, 1, 2, 7, 20, 64]))


def main() -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score
    from TSB_AD.evaluation.basic_metrics import generate_curve
    from TSB_AD.utils.slidingWindows import find_length_rank
    from vus.utils.metrics import metricor

    from workbench import evaluation as ev

    rng = np.random.default_rng(7)
    worst = {"VUS-PR tsb-ad": 0.0, "VUS-ROC tsb-ad": 0.0, "VUS-PR vus": 0.0, "AUC-PR sklearn": 0.0,
             "AUC-ROC sklearn": 0.0, "period window": 0.0}
    n_cases = 60
    for _ in range(n_cases):
        y, s, window = _case(rng)
        *_, ref_roc, ref_pr = generate_curve(y, s, window, "opt", 250)
        *_, vus_roc_ref, vus_pr_ref = metricor().RangeAUC_volume_opt(labels_original=y, score=s, windowSize=window)
        ours = ev.evaluate(y, s, window=window)
        worst["VUS-PR tsb-ad"] = max(worst["VUS-PR tsb-ad"], abs(ours["vus_pr"] - ref_pr))
        worst["VUS-ROC tsb-ad"] = max(worst["VUS-ROC tsb-ad"], abs(ours["vus_roc"] - ref_roc))
        worst["VUS-PR vus"] = max(worst["VUS-PR vus"], abs(ours["vus_pr"] - vus_pr_ref))
        worst["AUC-PR sklearn"] = max(worst["AUC-PR sklearn"], abs(ours["auc_pr"] - average_precision_score(y, s)))
        worst["AUC-ROC sklearn"] = max(worst["AUC-ROC sklearn"], abs(ours["auc_roc"] - roc_auc_score(y, s)))
        period = np.sin(2 * np.pi * np.arange(len(s)) / rng.integers(4, 400)) + s
        worst["period window"] = max(worst["period window"],
                                     abs(ev.period_window(period) - find_length_rank(period.reshape(-1, 1), rank=1)))
    print(f"{n_cases} random cases; largest absolute difference:")
    for name, diff in worst.items():
        print(f"  {name:16s} {diff:.2e}")


if __name__ == "__main__":
    main()
