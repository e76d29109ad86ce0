"""The Voila dashboard in a real browser: served on localhost, driven with Playwright in Debian's headless Chromium.

The registry holds one small model and one batch result over the sample with injected faults
(see ``test_notebooks.write_anomalous_sample``).  The browser window is 1400 x 900 and every
request that leaves the machine is refused and recorded.  One test checks what a first look shows
(score, the chosen episode's variables, episodes and contributors without scrolling, nothing
clipped, no request off the machine); the other moves the severity and merge-gap sliders with the
mouse and checks that the anomaly count, the plotly chart and the episodes follow.  Screenshots:
``test-artifacts/dashboard.png`` and ``dashboard-first-look.png``.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
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
WORKBENCH = str(Path(sys.executable).with_name("workbench"))
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


VIEWPORT = {"width": 1400, "height": 900}


@pytest.fixture
def page(dashboard_url):
    """A Chromium tab on the dashboard; ``tab.off_machine`` lists every refused request to another host."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it as root)")
    local = dashboard_url.rstrip("/")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            tab = browser.new_page(viewport=VIEWPORT)
            tab.off_machine, tab.console = [], []

            def refuse(route):
                url = route.request.url
                if url.startswith(local) or url.startswith("data:"):
                    route.continue_()
                else:
                    tab.off_machine.append(url)
                    route.abort()

            tab.route("**/*", refuse)
            tab.on("console", lambda message: tab.console.append((message.type, message.text)))
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


def _box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def test_dashboard_first_look_fits_1400x900_and_stays_on_the_machine(page):
    page.wait_for_selector(".wb-episode-values .js-plotly-plot", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_selector(".wb-contributors .js-plotly-plot", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_timeout(1000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-first-look.png"))
    # score and the chosen episode's variables side by side; episodes and contributors below, all above the fold
    score, values = _box(page, ".wb-timeline .js-plotly-plot"), _box(page, ".wb-episode-values .js-plotly-plot")
    assert abs(score["y"] - values["y"]) < 5 and values["x"] >= score["x"] + score["width"] - 5
    variables = page.evaluate("""() => document.querySelector('.wb-episode-values .js-plotly-plot').data
        .map(t => t.name)""")
    assert 1 <= len(variables) <= 3                            # the episode's top contributors' raw values
    for selector in (".wb-timeline", ".wb-episode-values", ".wb-episodes table", ".wb-contributors .js-plotly-plot",
                     ".wb-result select", ".wb-model select"):
        box = _box(page, selector)
        assert box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"], selector
        assert box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORT["width"], selector
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
    # nothing clipped: the result label and every cell of the episodes table show their whole text
    clipped = page.evaluate("""() => {
        const select = document.querySelector('.wb-result select');
        const option = select.options[select.selectedIndex];
        const probe = document.createElement('span');
        probe.style.font = getComputedStyle(select).font; probe.textContent = option.text;
        document.body.appendChild(probe);
        const needed = probe.getBoundingClientRect().width; probe.remove();
        const cells = [...document.querySelectorAll('.wb-episodes td')].filter(td => td.scrollWidth > td.clientWidth + 1);
        return {select: needed > select.clientWidth - 24, cells: cells.length};
    }""")
    assert clipped == {"select": False, "cells": 0}
    assert page.off_machine == []                               # fontawesome and all else served locally


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


# ---------------------------------------------------------------- the wrapper process


def test_the_dashboard_command_refuses_a_taken_port_instead_of_serving_elsewhere(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([WORKBENCH, "notebooks", "dashboard", "--port", str(port)], capture_output=True,
                              text=True, timeout=120, env={**os.environ, "WORKBENCH_HOME": str(tmp_path / "home")})
    assert done.returncode == 2
    assert f"[BadArgument] port {port} on 127.0.0.1 is taken" in done.stderr and "--port" in done.stderr
    assert "serving" not in done.stderr


def test_the_dashboard_command_prints_the_url_it_serves_and_stops_voila_when_terminated(tmp_path):
    port = free_port()
    wrapper = subprocess.Popen([WORKBENCH, "notebooks", "dashboard", str(ROOT / "notebooks" / "fleet_dashboard.ipynb"),
                                "--port", str(port)], stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "WORKBENCH_HOME": str(tmp_path / "home")})
    try:
        deadline = time.time() + LOAD_TIMEOUT_MS / 1000
        line = ""
        while "serving the dashboard" not in line and time.time() < deadline and wrapper.poll() is None:
            line = wrapper.stderr.readline()
        assert f"serving the dashboard at http://127.0.0.1:{port}/" in line
        voila = psutil.Process(wrapper.pid).children(recursive=True)
        assert voila and any("voila" in " ".join(p.cmdline()) for p in voila)
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) == 0
        wrapper.send_signal(signal.SIGTERM)                     # as a service manager or `kill` stops it
        assert wrapper.wait(timeout=60) == 128 + signal.SIGTERM
        gone, alive = psutil.wait_procs(voila, timeout=30)
        assert alive == []
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0     # the port is free again
    finally:
        if wrapper.poll() is None:
            stop_process(wrapper)
