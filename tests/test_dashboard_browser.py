"""The Voila dashboard in a real browser: served on localhost, driven with Playwright in Debian's headless Chromium.

The registry holds one small model and one batch result over the sample with injected faults
(see ``test_notebooks.write_anomalous_sample``).  The test moves the severity and merge-gap
sliders with the mouse and checks that the anomaly count, the plotly chart and the episodes
follow; a screenshot is saved to ``test-artifacts/dashboard.png``.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from test_notebooks import write_anomalous_sample
from workbench.client import AnomalyDetectorClient
from workbench import MultivariateModel
from conftest import free_port, stop_process, wait_for_port
from workbench.notebooks import start_dashboard
from workbench.service.registry import Registry

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::workbench.data.DataWarning")]
sync_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LOAD_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def registry_home(tmp_path_factory):
    """A registry with one READY model and one READY batch result that has anomalies of varied severity."""
    root = tmp_path_factory.mktemp("dashboard")
    source = str(write_anomalous_sample(root / "data")["onetable"])
    registry = Registry(root / "home")
    model = MultivariateModel.fit(source, sliding_window=30, epochs=3, end_time="2021-01-02T09:19:00Z",
                                  display_name="browser", progress=False, registry=registry)
    assert model.status == "READY", model.errors
    result = AnomalyDetectorClient(registry.home).detect_multivariate_batch_anomaly(model.model_id, {
        "dataSource": source, "startTime": "2021-01-02T12:00:00Z", "endTime": "2021-01-03T00:00:00Z",
        "topContributorCount": 5}, wait=True)
    assert result["summary"]["status"] == "READY"
    return registry.home


@pytest.fixture(scope="module")
def dashboard_url(registry_home, tmp_path_factory):
    """``workbench notebooks dashboard``'s Voila process on a free loopback port; stopped after the tests."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("voila") / "voila.log", "w+")
    process = start_dashboard(port=port, home=registry_home, stdout=log, stderr=subprocess.STDOUT)
    wait_for_port(port, process, "voila", lambda: (log.seek(0), log.read())[1])
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop_process(process)
        log.close()


@pytest.fixture
def page(dashboard_url):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it as root)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1100})
            tab.goto(dashboard_url, timeout=LOAD_TIMEOUT_MS)
            yield tab
        finally:
            browser.close()


def _count(page, selector: str) -> int:
    return int(page.locator(selector).inner_text().replace(",", ""))


def _plotted_anomalies(page) -> int:
    """Points of the timeline's ``anomalies`` trace, read from plotly's graph div."""
    return page.evaluate("""() => {
        const graph = document.querySelector('.wb-timeline .js-plotly-plot');
        const trace = graph.data.find(t => t.name === 'anomalies');
        return trace.x.length;
    }""")


def _drag(page, slider_class: str, fraction: float) -> None:
    """Drag a slider's handle with the mouse to ``fraction`` of its track."""
    track = page.locator(f".{slider_class} .noUi-target").bounding_box()
    handle = page.locator(f".{slider_class} .noUi-handle").bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(track["x"] + fraction * track["width"], handle["y"] + handle["height"] / 2, steps=8)
    page.mouse.up()


def _wait_change(page, read, before, timeout_s: float = 30):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        now = read()
        if now != before:
            return now
        page.wait_for_timeout(200)
    return read()


def test_dashboard_renders_and_follows_the_severity_and_grouping_controls(page):
    page.wait_for_selector(".wb-timeline .js-plotly-plot", timeout=LOAD_TIMEOUT_MS)
    for widget in ("wb-model", "wb-result", "wb-severity", "wb-merge-gap", "wb-min-duration", "wb-top-k",
                   "wb-episodes", "wb-contributors"):
        assert page.locator(f".{widget}").count() == 1, widget
    assert "browser" in page.locator(".wb-model select").inner_text()
    anomalies = _count(page, ".wb-count-anomalies")
    episodes = _count(page, ".wb-count-episodes")
    assert anomalies > 0 and episodes > 1
    assert _plotted_anomalies(page) == anomalies
    assert page.locator(".wb-episodes table tbody tr").count() == episodes

    _drag(page, "wb-severity", 0.8)
    fewer = _wait_change(page, lambda: _count(page, ".wb-count-anomalies"), anomalies)
    severity = float(page.locator(".wb-severity .widget-readout").inner_text())
    assert 0.7 <= severity <= 0.9
    assert 0 < fewer < anomalies
    assert _wait_change(page, lambda: _plotted_anomalies(page), anomalies) == fewer

    _drag(page, "wb-severity", 0.0)
    assert _wait_change(page, lambda: _count(page, ".wb-count-anomalies"), fewer) == anomalies
    _drag(page, "wb-merge-gap", 1.0)
    merged = _wait_change(page, lambda: _count(page, ".wb-count-episodes"), episodes)
    assert page.locator(".wb-merge-gap .widget-readout").inner_text() == "120"
    assert 0 < merged < episodes
    assert _wait_change(page, lambda: page.locator(".wb-episodes table tbody tr").count(), episodes) == merged
    assert page.locator(".wb-contributors .js-plotly-plot").count() == 1

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
