"""Reports and plots an analyst can use: figures that explain, scores against labels, HTML that travels.

The figure tests build small frames by hand.  The report tests run the notebooks 01-06 on their demo defaults
(small window, few epochs) with ``html=True`` in one registry, open each HTML report in headless Chromium with
every request off the machine refused (scripts included), count the drawn figures against the figures the
notebook output, and save ``test-artifacts/report-<notebook>.png``; both Voila dashboards are served on that
registry and opened the same way (``test-artifacts/dashboard-demo.png``, ``fleet-dashboard-demo.png``).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pandas as pd
import pytest

from workbench import data, viz
from workbench.evaluation import evaluate_detections
from workbench.exceptions import ValidationError
from workbench.mvad.inference import Detections
from conftest import free_port, stop_process
from workbench.notebooks import NOTEBOOKS_DIR, run_notebook, start_dashboard, wait_for_dashboard
from workbench.postprocess import group_episodes
from workbench.widgets import ScoreExplorer

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
DEMO = SAMPLES / "smd_machine-1-6.csv"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PLOTLY = "application/vnd.plotly.v1+json"


def _detections(threshold: float = 5.0) -> Detections:
    """200 one-minute rows: rows 10-12 and 40-41 flagged; variable 'a' dominates rows 40-41."""
    index = pd.date_range("2021-01-01", periods=200, freq="min", tz="UTC")
    severity = np.zeros(200)
    severity[[10, 11, 12, 40, 41]] = [0.4, 0.9, 0.5, 0.35, 0.95]
    score = np.where(severity > 0, 2 * threshold * (0.5 + severity), 1.0)
    frame = pd.DataFrame({"valid": True, "is_anomaly": severity > 0, "severity": severity, "score": score},
                         index=index)
    contributions = pd.DataFrame(np.full((200, 3), 1 / 3), index=index, columns=["a", "b", "c"])
    contributions.iloc[40:42] = [0.8, 0.1, 0.1]
    return Detections(frame, contributions, {}, threshold)


def _values(index: pd.DatetimeIndex) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.normal(size=(len(index), 3)), index=index, columns=["a", "b", "c"])


# ---------------------------------------------------------------- figures


def test_score_charts_draw_the_applied_threshold_and_offer_log_scale():
    detections = _detections(threshold=5.0)
    episodes = group_episodes(detections.frame, detections.contributions)
    figure = viz.timeline_figure(detections.frame, episodes=episodes, threshold=detections.threshold,
                                 release=2.5)
    line = next(t for t in figure.data if t.name.startswith("threshold"))
    assert list(line.y) == [5.0, 5.0] and "threshold 5" in figure.layout.title.text
    release = next(t for t in figure.data if t.name.startswith("events go on above"))   # where an event ends
    assert list(release.y) == [2.5, 2.5] and release.line.dash == "dot"
    labels = [b.label for b in figure.layout.updatemenus[0].buttons]
    assert labels == ["linear", "log"]
    assert figure.layout.updatemenus[0].buttons[1].args == ({"yaxis.type": "log"},)
    assert viz.timeline_figure(detections.frame, log_scale=True).layout.yaxis.type == "log"
    close_up = viz.episode_figure(_values(detections.frame.index), episodes.iloc[1], scores=detections.frame,
                                  threshold=detections.threshold, context=10)
    assert any(t.name.startswith("threshold") for t in close_up.data)
    # the episode's top contributor comes first, with its raw values around the episode only
    assert close_up.layout.annotations[1].text.startswith("a (")
    shown = next(t for t in close_up.data if t.name == "a")
    assert pd.Timestamp(shown.x[0]) == detections.frame.index[30] and len(shown.x) == 2 + 2 * 10


def test_timeline_shows_the_variables_that_contributed_most_as_small_multiples():
    detections = _detections()
    values = _values(detections.frame.index)
    figure = viz.timeline_figure(detections.frame, values=values, contributions=detections.contributions,
                                 max_variables=2)
    assert [t.name for t in figure.data if t.name in ("a", "b", "c")] == ["a", "b"]   # 'a' leads rows 40-41
    assert [t.yaxis for t in figure.data if t.name in ("a", "b")] == ["y2", "y3"]   # one panel each


def test_variables_figure_marks_filled_points_and_shades_episodes(tmp_path):
    frame = pd.read_csv(SAMPLES / "sample_data_5_3000.csv").iloc[:300]
    frame.loc[100:109, "series_1"] = np.nan        # ten blank cells: filled by Linear
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    prepared = data.load(str(tmp_path / "gaps.csv"), "OneTable")
    episodes = pd.DataFrame({"start": [prepared.frame.index[50]], "end": [prepared.frame.index[60]]})
    figure = viz.variables_figure(prepared, episodes=episodes)
    filled = [t for t in figure.data if t.name == "filled (filledNA)"]
    assert len(filled) == 1 and len(filled[0].x) == 10 and filled[0].yaxis == "y2"
    assert len({t.yaxis for t in figure.data}) == 5           # a panel per variable
    assert len(figure.layout.shapes) == 1 and figure.layout.shapes[0].yref == "paper"
    assert "10 filled points" in figure.layout.title.text


def test_loss_figure_has_every_epoch_and_marks_the_kept_one():
    detector = SimpleNamespace(train_losses_=[1.0, 0.6, 0.4, 0.3, 0.25], validation_losses_=[1.1, 0.7, 0.5, 0.55, 0.6],
                               best_epoch_=3)
    figure = viz.loss_figure(detector)
    train, validation, kept = figure.data
    assert list(train.x) == [1, 2, 3, 4, 5] and list(validation.y) == [1.1, 0.7, 0.5, 0.55, 0.6]
    assert kept.name == "kept: epoch 3" and list(kept.x) == [3] and list(kept.y) == [0.5]
    assert "epoch 3" in figure.layout.title.text


def test_univariate_figure_names_its_variable_and_labels_change_points_apart_from_the_legend():
    index = pd.date_range("2021-01-01", periods=50, freq="h", tz="UTC")
    result = pd.DataFrame({"value": np.r_[np.zeros(25), np.ones(25)], "expected_value": 0.5, "upper_margin": 1.0,
                           "lower_margin": 1.0, "is_anomaly": False, "severity": 0.0}, index=index)
    result.iloc[30, result.columns.get_loc("is_anomaly")] = True
    changes = pd.DataFrame({"is_change_point": index == index[25], "confidence_score": 0.9}, index=index)
    figure = viz.univariate_figure(result, changes, variable="cpu_r")
    assert figure.layout.title.text.startswith("cpu_r:") and "1 change point" in figure.layout.title.text
    points = next(t for t in figure.data if t.name == "change points")
    assert list(points.text) == ["CP1"]
    colorbar = next(t for t in figure.data if t.name == "anomalies").marker.colorbar
    assert figure.layout.legend.orientation == "h" and figure.layout.legend.y < 0 and colorbar.x > 1


def test_figures_carry_offline_html_with_plotly_js_once(monkeypatch):
    monkeypatch.setattr(viz, "_plotlyjs_sent", False)
    figure = viz.contributors_figure([("a", 0.7), ("b", 0.3)])
    first, second = figure._repr_mimebundle_(), figure._repr_mimebundle_()
    assert PLOTLY in first and first[PLOTLY]["data"][0]["type"] == "bar"
    assert "Plotly.newPlot" in first["text/html"] and "Plotly.newPlot" in second["text/html"]
    assert len(first["text/html"]) > 1_000_000 > len(second["text/html"])    # plotly.js inlined the first time
    assert "cdn" not in second["text/html"].lower()


def test_score_explorer_leaves_a_static_snapshot_beside_the_widget(monkeypatch):
    monkeypatch.delenv("VOILA_KERNEL_ID", raising=False)
    detections = _detections()
    explorer = ScoreExplorer(detections, values=_values(detections.frame.index))
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    snapshot = bundle["text/html"]
    assert snapshot.count("Plotly.newPlot") == 2 and "wb-episodes-table" in snapshot
    monkeypatch.setenv("VOILA_KERNEL_ID", "live")              # a live dashboard exports nothing: no snapshot
    assert "text/html" not in explorer._repr_mimebundle_()


# ---------------------------------------------------------------- labels


def test_detections_evaluate_against_labels_without_point_adjustment():
    detections = _detections()
    labels = pd.Series(0, index=detections.frame.index)
    labels.iloc[11:14] = 1                               # rows 11-12 flagged, row 13 missed; 10, 40, 41 false
    result = detections.evaluate(labels)
    assert result["precision"] == pytest.approx(2 / 5) and result["recall"] == pytest.approx(2 / 3)
    assert result["f1"] == pytest.approx(2 * 2 / (5 + 3))
    assert 0 < result["auc_pr"] <= 1 and 0 < result["vus_pr"] <= 1 and result["rows"] == 200
    assert evaluate_detections(detections, labels.to_numpy()) == result
    with pytest.raises(ValidationError, match="lack 1 scored timestamp"):
        detections.evaluate(labels.iloc[1:])
    with pytest.raises(ValidationError, match="one value per timestamp"):
        detections.evaluate([0, 1])


def test_demo_sample_labels_and_root_causes_match_the_data():
    frame = pd.read_csv(DEMO, index_col="timestamp")
    labels = pd.read_csv(SAMPLES / "smd_machine-1-6_labels.csv", index_col="timestamp")["label"]
    causes = json.loads((SAMPLES / "smd_machine-1-6_root_causes.json").read_text())
    assert frame.shape == (7200, 38) and len(labels) == 2160 and labels.index[0] == "2021-01-04T12:00:00Z"
    assert labels.index.isin(frame.index).all() and 0 < labels.sum() < 100
    for cause in causes:
        assert set(cause["variables"]) <= set(frame.columns)
        assert labels.loc[cause["startTime"]:cause["endTime"]].all()


# ---------------------------------------------------------------- the reports and dashboards, offline

REPORTS = ["01_data_preparation", "02_training", "03_model_inspection", "04_inference", "05_univariate", "06_fleet"]
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SMALL_TRAINING = {"sliding_window": 60, "epochs": 10}
_FLOAT_INTEGER = re.compile(r"\b[1-9]\d*\.0{6}\b")   # ``rows 2160.000000``: an integer shown as a float


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """01-06 run as a user runs them on the demo (defaults, small training), each with its HTML report, in one
    registry; 03 and 04 are given the model as the 8-character prefix ``workbench models list`` shows."""
    root = tmp_path_factory.mktemp("reports")
    home = str(root / "home")
    runs = {}

    def run(name, parameters):
        runs[name] = run_notebook(NOTEBOOKS_DIR / f"{name}.ipynb", root / f"{name}.ipynb", parameters, html=True,
                                  timeout=300)

    run("01_data_preparation", {})
    run("02_training", {**SMALL_TRAINING, "workbench_home": home})
    prefix = runs["02_training"].summary["model_id"][:8]
    run("03_model_inspection", {"model_id": prefix, "workbench_home": home})
    run("04_inference", {"model_id": prefix, "workbench_home": home})
    run("05_univariate", {})
    run("06_fleet", {"epochs": 10, "workers": 2, "workbench_home": home})
    return {"home": home, "runs": runs, "model_id": runs["02_training"].summary["model_id"]}


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it as root)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _offline_page(browser, local: str, viewport: dict):
    """A tab that lets through only ``local`` URLs (and data:/blob:) and records every other request it refused."""
    page = browser.new_page(viewport=viewport)
    page.off_machine = []

    def refuse(route):
        url = route.request.url
        if url.startswith(local) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            page.off_machine.append(url)
            route.abort()

    page.route("**/*", refuse)
    return page


def _drawn_figures(page) -> list[int]:
    return page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')]
        .map(g => g.querySelectorAll('.main-svg .trace, .main-svg .hm, .main-svg image').length)""")


@pytest.mark.slow
def test_the_inference_report_on_the_demo_scores_the_labels_and_shows_what_it_found(reports):
    run = reports["runs"]["04_inference"]
    summary = run.summary
    assert summary["model_id"] == reports["model_id"]                  # opened by its 8-character prefix
    assert summary["anomalies"] > 0 and summary["episodes"] > 0       # the demo has something to find
    assert summary["chosen_contributors"]                              # and a non-empty contributors chart
    assert summary["evaluation"]["vus_pr"] > 0.3 and summary["evaluation"]["recall"] > 0.3
    assert summary["evaluation"]["rows"] == summary["timestamps"] == 2160   # the labels cover every scored row
    assert reports["runs"]["03_model_inspection"].summary["model_id"] == reports["model_id"]
    book = nbformat.read(run.output, as_version=4)
    assert "widgets" not in book.metadata                 # no widget state: the export uses the static snapshot


@pytest.mark.slow
def test_the_fleet_notebook_ranks_the_faulty_assets_first_and_the_fleet_dashboard_opens_on_them(reports, tmp_path):
    summary = reports["runs"]["06_fleet"].summary
    assert summary["fleet"] == "fleet" and summary["entities"] == 6 and summary["trained"] == 6
    assert summary["anomalous_now"] == ["asset-001", "asset-004"]  # the sample's two faulty assets, ranked first
    assert summary["ranking"][:2] == ["asset-001", "asset-004"] and summary["chosen"] == "asset-001"
    assert summary["chosen_episodes"] >= 1 and summary["heatmap_shape"] == [6, 120]
    page = run_notebook(NOTEBOOKS_DIR / "fleet_dashboard.ipynb", tmp_path / "dash.ipynb",
                        {"workbench_home": reports["home"], "entity": "asset-004"}, timeout=300).summary
    assert page == {"fleet": "fleet", "entities": 6, "entity": "asset-004", "ranking": summary["ranking"],
                    "heatmap_shape": [6, 120]}


@pytest.mark.slow
@pytest.mark.parametrize("name", REPORTS)
def test_each_report_carries_every_figure_ends_cleanly_and_makes_no_request_off_the_machine(reports, browser, name):
    run = reports["runs"][name]
    report = Path(run.html)
    assert report == Path(run.output).with_suffix(".html")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(report.stat().st_mode) == 0o666 & ~umask      # readable like any file the user writes
    book = nbformat.read(run.output, as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"]
    outputs = [o for c in code for o in c.outputs]
    for output in outputs:                                # a figure that nbconvert cannot draw would be left out
        if PLOTLY in output.get("data", {}):
            assert "Plotly.newPlot" in output["data"].get("text/html", ""), (name, output["data"]["text/plain"])
    figures = sum(o["data"]["text/html"].count("Plotly.newPlot(") for o in outputs if "text/html" in o.get("data", {}))
    assert figures > 0
    # a clean ending: no dict dumps, no integers printed as floats, the summary cell silent
    assert code[-1].outputs == [], (name, code[-1].outputs)
    for output in outputs:
        text = output.get("data", {}).get("text/plain", "")
        assert not text.lstrip().startswith("{") and not _FLOAT_INTEGER.search(text), (name, text[:300])
    page = _offline_page(browser, "file://", {"width": 1300, "height": 900})
    try:
        page.goto(report.as_uri())
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length >= {figures}", timeout=60_000)
        page.wait_for_timeout(500)
        drawn = _drawn_figures(page)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"report-{name}.png"), full_page=True)
    finally:
        page.close()
    assert len(drawn) == figures and all(count > 0 for count in drawn), drawn
    assert page.off_machine == []


@pytest.mark.slow
@pytest.mark.parametrize("notebook", ["dashboard", "fleet_dashboard"])
def test_both_dashboards_draw_the_registry_and_make_no_request_off_the_machine(reports, browser, notebook):
    port = free_port()
    process = start_dashboard(port=port, home=reports["home"], notebook=NOTEBOOKS_DIR / f"{notebook}.ipynb",
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = wait_for_dashboard(process, port)
        page = _offline_page(browser, url.rstrip("/"), {"width": 1400, "height": 900})
        try:
            page.goto(url, timeout=120_000)
            # the score, the episode's values and its contributors; the heat map, the entity's timeline, its contributors
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 1",
                                   timeout=120_000)
            page.wait_for_timeout(1000)
            drawn = _drawn_figures(page)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{notebook.replace('_', '-')}-demo.png"), full_page=True)
        finally:
            page.close()
    finally:
        stop_process(process)
    assert all(count > 0 for count in drawn), drawn
    assert page.off_machine == []


@pytest.mark.slow
def test_the_explorer_score_chart_stays_readable_at_narrow_widths(browser, tmp_path, monkeypatch):
    """In a JupyterLab cell the explorer's score chart may get 400 px: its legend wraps without covering the
    threshold, the scale buttons or a title, and the threshold is drawn."""
    monkeypatch.setattr(viz, "_plotlyjs_sent", False)    # this page's first figure carries plotly.js
    detections = _detections(threshold=5.0)
    explorer = ScoreExplorer(detections, values=_values(detections.frame.index))
    figure = explorer.timeline()
    assert any(t.name.startswith("threshold") for t in figure.data) and not figure.layout.title.text
    page_html = tmp_path / "explorer.html"
    page_html.write_text("<html><body>" + "".join(
        f"<div class='chart' style='width:{width}px'>{viz.figure_html(figure)}</div>" for width in (420, 700, 1000))
        + "</body></html>")
    page = _offline_page(browser, "file://", {"width": 1100, "height": 900})
    try:
        page.goto(page_html.as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .legend').length === 3", timeout=60_000)
        overlaps = page.evaluate("""() => [...document.querySelectorAll('.chart')].map(chart => {
            const box = sel => { const e = chart.querySelector(sel); return e ? e.getBoundingClientRect() : null; };
            const meet = (a, b) => !!(a && b) && a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
            const legend = box('.legend'), plot = box('.nsewdrag'), buttons = box('.updatemenu-container'),
                  title = box('.g-gtitle text');
            return {plot: meet(legend, plot), buttons: meet(legend, buttons), title: meet(legend, title),
                    inside: legend.right <= chart.getBoundingClientRect().right + 1};
        })""")
    finally:
        page.close()
    assert overlaps == [{"plot": False, "buttons": False, "title": False, "inside": True}] * 3, overlaps
