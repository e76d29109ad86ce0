"""Smoke run of the benchmark harness on tiny data (no anchor venv needed), so it cannot rot."""
from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import datasets, run
from benchmarks.datasets import SHARED_DATA

pytestmark = pytest.mark.skipif(not (SHARED_DATA / "smd").is_dir(), reason="shared/data is not beside the repo")


@pytest.mark.slow
def test_quick_harness_writes_a_report_with_honest_metrics(tmp_path):
    methods = ["pca", "random"] + (["product"] if run.product_available() else [])
    out = tmp_path / "results"
    rc = run.main(["--suite", "all", "--quick", "--methods", ",".join(methods),
                   "--output", str(out), "--cache", str(tmp_path / "cache")])
    assert rc == 0
    results = json.loads((out / "report.json").read_text())
    md = (out / "report.md").read_text()

    acc = results["accuracy"]
    assert acc["settings"]["seeds"] == [0, 1]
    pairs = {(r["benchmark"], r["method"], r["seed"]) for r in acc["runs"]}
    assert len(pairs) == len(acc["benchmarks"]) * len(methods) * 2
    for r in acc["runs"]:
        m = r["metrics"]
        for key in ("vus_pr", "auc_pr", "auc_roc", "best_f1", "f1", "flagged_share", "pa_f1_best"):
            assert 0.0 <= m[key] <= 1.0, (r["method"], key, m[key])
        if r["group"] == "SMD":
            assert 0.0 <= m["hit100"] <= m["hit150"] <= 1.0
    # the random baseline's seeds differ, PCA's do not
    rand = [r["metrics"]["vus_pr"] for r in acc["runs"] if r["method"] == "random" and r["group"] == "SKAB"]
    pca = [r["metrics"]["vus_pr"] for r in acc["runs"] if r["method"] == "pca" and r["group"] == "SKAB"]
    assert rand[0] != rand[1] and pca[0] == pca[1]

    assert "VUS-PR" in md and "PA-F1 (point-adjusted, inflated)" in md
    # issue 15's flag criterion: every flagging method's cases, flagged vs true share
    assert all(len(r["shares"]) == (3 if r["group"] == "SKAB" else 1) for r in acc["runs"] if r["method"] == "pca")
    assert "## Flag calibration" in md
    assert "## Machine" in md and "python -m benchmarks.run" in md
    assert results["scale"]["prep"]["pandas"]["rows"] == 20_000
    if "product" in methods:
        assert results["speed"]["figures"]["product"]["detect_last"]["calls"] == 5

    gt = results["gutentag"]
    if datasets.GUTENTAG_PYTHON.exists():  # the suite runs where its venv was built (not on CI)
        assert len(gt["runs"]) == 2 * len(methods) * 2
        assert {r["group"] for r in gt["by_kind"]} == {"amplitude", "mode-correlation"}
        assert {r["group"] for r in gt["by_base"]} == {"sine", "random-mode-jump"}
        for r in gt["runs"]:
            for key in ("vus_pr", "auc_pr", "f1", "flagged_share"):
                assert 0.0 <= r["metrics"][key] <= 1.0, (r["benchmark"], r["method"], key)
        assert "## GutenTAG synthetic suite" in md and "VUS-PR per anomaly kind" in md
    else:
        assert gt is None
        assert any("GutenTAG suite skipped" in n and "setup_gutentag.sh" in n for n in results["notes"])


def test_gutentag_suite_without_its_venv_says_so_and_skips(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "GUTENTAG_PYTHON", tmp_path / "no-venv" / "bin" / "python")
    out = tmp_path / "results"
    rc = run.main(["--suite", "gutentag", "--quick", "--methods", "pca", "--output", str(out),
                   "--cache", str(tmp_path / "cache")])
    assert rc == 0
    results = json.loads((out / "report.json").read_text())
    assert results["gutentag"] is None
    [note] = results["notes"]
    assert note.startswith("GutenTAG suite skipped") and "bash benchmarks/setup_gutentag.sh" in note
    assert note in (out / "report.md").read_text()


def test_gutentag_configs_are_what_make_configs_writes():
    pytest.importorskip("yaml")
    from benchmarks.gutentag import make_configs
    written = make_configs.build()
    assert sorted(written) == sorted(p.name for p in datasets.gutentag_configs())
    for name, text in written.items():
        assert (datasets.GUTENTAG_CONFIGS / name).read_text() == text, name


def test_synthetic_generator_is_deterministic_and_labelled():
    a, la = datasets.make_synthetic(5000, 4, seed=3, n_anomalies=5)
    b, lb = datasets.make_synthetic(5000, 4, seed=3, n_anomalies=5)
    assert a.shape == (5000, 4) and a.dtype == np.float32
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert 0 < la.mean() < 0.5


def test_smd_interpretation_labels_are_half_open_and_zero_based():
    causes = datasets.parse_interpretation_label("15849-16368:1,9,10,12,13,14,15\n")
    assert causes == [datasets.RootCause(15849, 16368, (0, 8, 9, 11, 12, 13, 14))]
    bench = datasets.load_smd("machine-2-1")
    case = bench.cases[0]
    assert bench.train.shape[1] == 38 and len(case.labels) == len(case.test)
    assert all(case.labels[c.start:c.end].all() for c in case.root_causes)


def test_calibration_counts_cases_flagged_far_from_their_true_share():
    from benchmarks.accuracy import calibration
    runs = [{"group": "G", "method": "m", "shares": [[0.10, 0.10], [0.0, 0.05], [0.50, 0.10], [0.02, 0.005]]},
            {"group": "G", "method": "m", "shares": [[0.04, 0.10]]},
            {"group": "G", "method": "silent", "shares": []}]
    (row,) = calibration(runs)
    assert (row["group"], row["method"], row["cases"]) == ("G", "m", 5)
    assert row["within"] == 0.2                     # only the first case is within half to twice
    assert (row["beyond"], row["counted"], row["beyond_none"]) == (2, 4, 1)  # 0 of 5% and 50% of 10%; 0.5% not counted
