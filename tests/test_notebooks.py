"""Papermill regression suite: every notebook runs headless with small parameters and records what it found.

The inference data is Microsoft's sample (i.i.d. noise) with five faults injected after
2021-01-02T12:00Z, so the notebooks have real anomalies to find; models train on the clean
first part with slidingWindow 30 and 3 epochs to keep the suite fast.
"""
from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from workbench import data, viz
from workbench.cli import main
from workbench.data import DataWarning
from workbench.exceptions import ValidationError, WorkbenchError
from workbench.notebooks import (
    NOTEBOOKS_DIR, ExportedFiles, anomaly_interpretation, coerce_parameters, contributors_title, evaluate_labels,
    notebook_parameters, read_labels, read_parameter_sets, run_batch, run_notebook,
)
from workbench.mvad.inference import Detections
from workbench.postprocess import group_episodes
from workbench.service.registry import Registry
from workbench.widgets import ScoreExplorer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_CSV = ROOT / "data" / "samples" / "sample_data_5_3000.csv"
SMD_LABELS = ROOT / "data" / "samples" / "smd_machine-1-6_labels.csv"
NOTEBOOK_NAMES = ["01_data_preparation", "02_training", "03_model_inspection", "04_inference", "05_univariate",
                  "06_fleet", "dashboard", "fleet_dashboard"]
SMALL = {"sliding_window": 30, "epochs": 3}
TRAIN = {"start_time": "2021-01-01T00:00:00Z", "end_time": "2021-01-02T09:19:00Z"}   # the notebooks default to SMD
DETECT = {"start_time": "2021-01-02T12:00:00Z", "end_time": "2021-01-03T00:00:00Z", "labels_path": ""}
CELL_TIMEOUT = 300  # seconds per cell: a stuck kernel fails the test instead of hanging the suite
# (first row, rows, variables, added value): after 2021-01-02T12:00Z (row 2160), about 70 rows apart
FAULTS = [(2200, 6, ["series_1"], 3.0), (2280, 4, ["series_0", "series_3"], 5.0), (2286, 3, ["series_0"], 6.0),
          (2360, 8, ["series_2"], 8.0), (2440, 5, ["series_4", "series_1"], 12.0)]


def write_anomalous_sample(folder: Path) -> dict:
    """The official sample with ``FAULTS`` added, as a OneTable CSV and a MultiTable folder; and the fault spans."""
    frame = pd.read_csv(SAMPLE_CSV)
    for first, rows, variables, added in FAULTS:
        frame.loc[first:first + rows - 1, variables] += added
    folder.mkdir(parents=True, exist_ok=True)
    onetable = folder / "anomalous.csv"
    frame.to_csv(onetable, index=False)
    multitable = folder / "anomalous_multitable"
    multitable.mkdir()
    for column in frame.columns[1:]:
        frame[["timestamp", column]].rename(columns={column: "value"}).to_csv(multitable / f"{column}.csv",
                                                                               index=False)
    stamps = pd.to_datetime(frame["timestamp"], utc=True)
    spans = [(stamps[first], stamps[first + rows - 1], variables) for first, rows, variables, _ in FAULTS]
    return {"onetable": onetable, "multitable": multitable, "spans": spans}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("notebooks")
    return {"root": root, "home": str(root / "home"), **write_anomalous_sample(root / "data")}


@pytest.fixture(scope="module")
def trained(workspace):
    """The training notebook on the MultiTable folder (clean training range)."""
    return run_notebook(NOTEBOOKS_DIR / "02_training.ipynb", workspace["root"] / "02_training.ipynb", {
        **SMALL, **TRAIN, "data_source": str(workspace["multitable"]), "data_schema": "MultiTable",
        "display_name": "papermill", "workbench_home": workspace["home"]}, timeout=CELL_TIMEOUT)


@pytest.fixture(scope="module")
def inference(workspace, trained):
    return run_notebook(NOTEBOOKS_DIR / "04_inference.ipynb", workspace["root"] / "04_inference.ipynb", {
        **DETECT, "model_id": trained.summary["model_id"], "data_source": str(workspace["multitable"]),
        "top_contributor_count": 3, "merge_gap": 5, "export_dir": str(workspace["root"] / "exports"),
        "workbench_home": workspace["home"]}, timeout=CELL_TIMEOUT)


def _outputs(path: str) -> list[dict]:
    book = nbformat.read(path, as_version=4)
    return [output for cell in book.cells if cell.cell_type == "code" for output in cell.outputs]


def _has_progress_bar(path: str) -> bool:
    """A tqdm bar in a notebook's outputs: the notebook widget's text or tqdm's text on a stream."""
    bar = re.compile(r"training:.*\d+/\d+ \[")
    for output in _outputs(path):
        text = output.get("text", "") + output.get("data", {}).get("text/plain", "")
        if bar.search(text):
            return True
    return False


# ---------------------------------------------------------------- the notebooks as files


def test_every_notebook_is_parameterized_documented_saved_clean_and_calls_the_package():
    assert sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb")) == sorted(NOTEBOOK_NAMES)
    for name in NOTEBOOK_NAMES:
        path = NOTEBOOKS_DIR / f"{name}.ipynb"
        book = nbformat.read(path, as_version=4)
        nbformat.validate(book)
        assert book.metadata.kernelspec.name == "python3"
        tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, name
        params = notebook_parameters(path)
        assert "summary_path" in params
        for pname, spec in params.items():
            assert spec["type"] in {"str", "int", "float", "bool"}, (name, pname)
            assert spec["help"], (name, pname)
        for cell in book.cells:
            if cell.cell_type != "code":
                continue
            assert cell.outputs == [] and cell.execution_count is None, name
            assert not re.search(r"^\s*(def|class|for|while|with|try)\b|lambda", cell.source, re.M), (name, cell.source)


def test_parameters_are_checked_and_coerced_to_their_declared_types(tmp_path):
    inference = NOTEBOOKS_DIR / "04_inference.ipynb"
    coerced = coerce_parameters(inference, {"epochs": "4", "min_severity": "0.5", "show_progress": "false",
                                            "model_id": "abc"})
    assert coerced == {"epochs": 4, "min_severity": 0.5, "show_progress": False, "model_id": "abc"}
    # an id prefix that reads as a number stays the text it is (papermill's own -p makes 8e123456 a float: inf)
    assert coerce_parameters(inference, {"model_id": "8e123456"}) == {"model_id": "8e123456"}
    with pytest.raises(ValidationError, match="no parameter 'epoch'"):
        coerce_parameters(inference, {"epoch": "4"})
    with pytest.raises(ValidationError, match="must be int"):
        coerce_parameters(inference, {"epochs": "four"})
    with pytest.raises(ValidationError, match="no parameter 'nope'"):
        run_notebook(inference, tmp_path / "out.ipynb", {"nope": 1})
    sets = tmp_path / "sets.json"
    sets.write_text('{"min_severity": 0.5}')
    with pytest.raises(WorkbenchError, match="JSON list of objects"):
        read_parameter_sets(sets)


def _synthetic_detections() -> Detections:
    """Cached scores without a model: six anomalies in three clumps, variable 'a' dominating rows 40-41."""
    index = pd.date_range("2021-01-01", periods=200, freq="min", tz="UTC")
    severity = np.zeros(200)
    severity[[10, 11, 12, 40, 41, 100]] = [0.4, 0.9, 0.5, 0.35, 0.95, 0.6]
    frame = pd.DataFrame({"valid": True, "is_anomaly": severity > 0, "severity": severity, "score": 10 * severity},
                         index=index)
    contributions = pd.DataFrame(np.full((200, 3), 1 / 3), index=index, columns=["a", "b", "c"])
    contributions.iloc[40:42] = [0.8, 0.1, 0.1]
    return Detections(frame, contributions, {})


def test_score_explorer_refilters_the_cached_scores_on_every_control():
    explorer = ScoreExplorer(_synthetic_detections(), merge_gap=0, top_k=5)
    assert explorer.state() == {"min_severity": 0.0, "merge_gap": 0, "min_duration": 1, "top_k": 3,
                                "anomalies": 6, "episodes": 3}
    explorer.severity.value = 0.5
    assert (explorer.anomaly_count, len(explorer.episodes)) == (4, 3)
    assert explorer.table.value.count("</tr>") == 1 + 3           # header + one row per episode
    assert ">4</b> anomalies" in explorer.count.value
    explorer.merge_gap.value = 30                                 # rows 11-12 and 41 are 28 rows apart
    assert len(explorer.episodes) == 2 and len(explorer.picker.options) == 2
    explorer.min_duration.value = 3                               # the single-row episode at row 100 goes
    assert len(explorer.episodes) == 1
    assert explorer.episodes.iloc[0]["points"] == 3
    explorer.top_k.value = 1
    assert [v for v, _ in explorer.episodes.iloc[0]["top_contributors"]] == ["a"]


def test_figures_follow_severity_and_episodes():
    detections = _synthetic_detections()
    episodes = group_episodes(detections.frame, detections.contributions, min_severity=0.5)
    figure = viz.timeline_figure(detections.frame, min_severity=0.5, episodes=episodes)
    anomalies = next(t for t in figure.data if t.name == "anomalies")
    assert list(anomalies.marker.color) == [0.9, 0.5, 0.95, 0.6] and len(figure.layout.shapes) == len(episodes)
    bars = viz.contributors_figure(detections.interpretation(41, 2)).data[0]
    assert list(bars.y) == ["b", "a"] and bars.x[-1] == pytest.approx(0.8)   # largest drawn on top
    assert viz.episodes_table(episodes)["duration"].tolist() == ["1 min", "0 s", "0 s"]
    with pytest.raises(ValidationError, match="lacks the column"):
        viz.timeline_figure(detections.frame.drop(columns="score"))


def test_episodes_are_numbered_from_one_in_tables_pickers_and_titles():
    explorer = ScoreExplorer(_synthetic_detections(), merge_gap=0)
    table = viz.episodes_table(explorer.episodes)
    assert table.index.tolist() == [1, 2, 3] and table.index.name == "episode"
    assert table["points"].tolist() == explorer.episodes["points"].tolist() == [3, 2, 1]   # values stay in their rows
    assert [label.split(":")[0] for label, _ in explorer.picker.options] == ["1", "2", "3"]
    first_row = re.search(r"<tbody>\s*<tr>\s*<td>(\d+)</td>", explorer.table.value)
    assert first_row and first_row.group(1) == "1"


def test_the_inference_notebooks_helpers_number_anomalies_from_one_and_show_clean_results(tmp_path):
    detections = _synthetic_detections()
    stamp, interpretation = anomaly_interpretation(detections, 1)
    assert stamp == detections.frame.index[41] and interpretation                 # severity 0.95: the most severe
    assert anomaly_interpretation(detections, 2)[0] == detections.frame.index[11]
    assert anomaly_interpretation(detections, 7) == (None, [])
    with pytest.raises(ValidationError, match="positive integer"):
        anomaly_interpretation(detections, 0)
    assert contributors_title(1, stamp) == "Contributors of the most severe anomaly, 2021-01-01 00:41 UTC"
    table = viz.metrics_table({"vus_pr": 0.98249, "auc_pr": 0.8586, "f1": 0.6071, "precision": 0.4595,
                               "recall": 0.8947, "flagged_share": 0.01713, "labelled_share": 0.0088, "rows": 2160})
    assert table["value"].tolist() == ["0.982", "0.859", "0.607", "0.460", "0.895", "1.7%", "0.9%", "2,160"]
    exported = ExportedFiles({"csv": str(tmp_path / "r.csv"), "json": str(tmp_path / "r.json")})
    assert exported == {"csv": str(tmp_path / "r.csv"), "json": str(tmp_path / "r.json")}   # still the paths
    assert "<code>r.csv</code>: scores and contributions per timestamp" in exported._repr_html_()


def test_labels_are_evaluated_over_the_scored_rows_they_cover(tmp_path):
    detections = _synthetic_detections()                      # 200 rows from 2021-01-01T00:00Z; flags 10-12, 40-41
    index = detections.frame.index
    labels = pd.Series(0, index=index[:100])
    labels.iloc[11:14] = 1
    with pytest.warns(DataWarning, match=r"the labels cover 100 of the 200 scored rows \(2021-01-01T00:00:00Z to "
                                         r"2021-01-01T01:39:00Z\): evaluated on those"):
        partial = evaluate_labels(detections, labels)
    assert partial["rows"] == 100 and partial["recall"] == pytest.approx(2 / 3)
    assert partial["precision"] == pytest.approx(2 / 5)       # flags 10-12 and 40-41 all lie in the labelled part
    later = pd.Series([0, 1], index=index[-1:].shift(5, freq="min").append(index[-1:].shift(6, freq="min")))
    with pytest.warns(DataWarning, match="cover none of the 200 scored rows"):
        assert evaluate_labels(detections, later) == {}
    with pytest.warns(DataWarning, match="every labelled scored row is normal"):
        assert evaluate_labels(detections, pd.Series(0, index=index)) == {}
    assert evaluate_labels(detections, "") == {}
    csv = tmp_path / "labels.csv"
    csv.write_text("timestamp,label\n" + "".join(f"{t:%Y-%m-%dT%H:%M:%SZ},{int(10 <= i < 13)}\n"
                                                  for i, t in enumerate(index)))
    assert evaluate_labels(detections, str(csv))["rows"] == 200
    csv.write_text("timestamp,label\n2021-01-01T00:00:00Z,0\n01/02/2021 00:01,1\n")
    with pytest.raises(WorkbenchError, match=r"InvalidTimestampFormat.*'01/02/2021 00:01'.*row 3"):
        read_labels(csv)


def test_files_the_workbench_writes_get_the_mode_of_any_file_the_user_writes(tmp_path):
    from workbench._atomic import atomic_path, atomic_write_text

    umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "report.html", "<html></html>")
        with atomic_path(tmp_path / "archive.zip") as tmp:
            tmp.write_bytes(b"PK")
        os.umask(0o077)                                          # a user who keeps their files private
        atomic_write_text(tmp_path / "private.json", "{}")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "report.html").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "archive.zip").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "private.json").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.zip", "private.json", "report.html"]


def test_a_kernel_is_asked_to_shut_down_without_an_interrupt(monkeypatch):
    """jupyter_client sends SIGINT before a shutdown request; a kernel still busy after a failed cell logs it as
    ``[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel``.  The runner's kernel manager does not send it."""
    from jupyter_client import AsyncKernelManager
    from jupyter_client.manager import run_sync

    from workbench.notebooks.runner import KERNEL_ARGUMENTS, KERNEL_NAME, _kernel_manager_class

    interrupts = []

    async def record(self):
        interrupts.append(self.shutting_down)

    monkeypatch.setattr(AsyncKernelManager, "_async_interrupt_kernel", record)
    manager = _kernel_manager_class()(kernel_name=KERNEL_NAME)
    run_sync(manager.start_kernel)(extra_arguments=KERNEL_ARGUMENTS)
    try:
        run_sync(manager._async_interrupt_kernel)()              # an interrupt outside a shutdown is still sent
    finally:
        run_sync(manager.shutdown_kernel)()
    assert interrupts == [False]
    assert not run_sync(manager.is_alive)()


# ---------------------------------------------------------------- each notebook, headless


def test_data_preparation_reports_states_and_uploads_to_blob_storage(azurite, workspace):
    run = run_notebook(NOTEBOOKS_DIR / "01_data_preparation.ipynb", workspace["root"] / "01.ipynb", {
        **TRAIN, "data_source": str(SAMPLE_CSV), "upload_folder": str(workspace["multitable"]), "upload_connection_string": azurite,
        "upload_container": "notebooks", "upload_zip_name": str(workspace["root"] / "upload.zip")},
        timeout=CELL_TIMEOUT)
    summary = run.summary
    assert summary["timestamps"] == 2000          # 2021-01-01T00:00Z .. 2021-01-02T09:19Z, one-minute steps
    assert summary["variables"] == [f"series_{i}" for i in range(5)]
    assert [s["filledNARatio"] for s in summary["variable_states"]] == [0.0] * 5
    assert summary["sas_url"].startswith("http://127.0.0.1:") and "sig=" in summary["sas_url"]
    assert not (workspace["root"] / "upload.zip").exists()
    uploaded = data.load(summary["sas_url"], "MultiTable")
    local = data.load(str(workspace["multitable"]), "MultiTable")
    np.testing.assert_array_equal(uploaded.frame.to_numpy(), local.frame.to_numpy())


def test_training_registers_a_ready_model_with_losses_and_stays_quiet(workspace, trained):
    summary = trained.summary
    assert summary["status"] == "READY" and summary["epochs"] == 3
    assert [d["epoch"] for d in summary["diagnostics"]] == [3]
    assert all(np.isfinite([d["trainLoss"], d["validationLoss"]]).all() for d in summary["diagnostics"])
    assert summary["variables"] == [f"series_{i}" for i in range(5)]
    info = Registry(workspace["home"]).get_model(summary["model_id"]).model_info
    assert (info.status.value, info.data_schema.value, info.sliding_window, info.display_name) == \
        ("READY", "MultiTable", 30, "papermill")
    assert not _has_progress_bar(trained.output)   # run_notebook passes show_progress=False


def test_model_inspection_of_a_given_model(workspace, trained):
    prefix = trained.summary["model_id"][:8].upper()   # as `workbench models list` shows it, in any case
    run = run_notebook(NOTEBOOKS_DIR / "03_model_inspection.ipynb", workspace["root"] / "03.ipynb", {
        "model_id": prefix, "workbench_home": workspace["home"]}, timeout=CELL_TIMEOUT)
    summary, recorded = run.summary, trained.summary["diagnostics"][-1]
    assert summary["model_id"] == trained.summary["model_id"]
    assert summary["recorded_epochs"] == [3]
    assert summary["final_train_loss"] == pytest.approx(recorded["trainLoss"])
    assert summary["final_validation_loss"] == pytest.approx(recorded["validationLoss"])
    assert summary["total_latency_seconds"] > 0
    assert [s["variable"] for s in summary["variable_states"]] == [f"series_{i}" for i in range(5)]
    assert trained.summary["model_id"] in summary["registry_models"]


def test_model_inspection_trains_its_own_model_with_a_progress_bar(workspace, tmp_path):
    home = str(tmp_path / "home")
    run = run_notebook(NOTEBOOKS_DIR / "03_model_inspection.ipynb", tmp_path / "03.ipynb", {
        **TRAIN, "data_source": str(SAMPLE_CSV), "sliding_window": 30, "epochs": 2, "workbench_home": home}, progress=True, timeout=CELL_TIMEOUT)
    assert run.summary["status"] == "READY" and run.summary["recorded_epochs"] == [2]
    assert run.summary["registry_models"] == [run.summary["model_id"]]
    assert _has_progress_bar(run.output)       # show_progress=True: tqdm's notebook widget


def test_inference_finds_the_injected_faults_and_exports_them(workspace, inference):
    summary = inference.summary
    assert summary["status"] == "READY"
    assert summary["timestamps"] == summary["valid"] == 721
    assert summary["explorer"]["anomalies"] == summary["anomalies"] > 0
    assert 0.5 < summary["max_severity"] <= 1.0
    assert summary["score_threshold"] >= summary["model_threshold"] > 0   # the threshold actually applied
    exported = summary["exported"]
    episodes = json.loads(Path(exported["episodes"]).read_text())
    assert len(episodes) == summary["episodes"] == summary["explorer"]["episodes"]
    starts = [pd.Timestamp(e["startTime"]) for e in episodes]
    ends = [pd.Timestamp(e["endTime"]) for e in episodes]
    for (first, last, _), (*_, added) in zip(workspace["spans"], FAULTS):
        # every clear fault (5+ sigma) is inside an episode (the score smooths over 5 rows: episodes may trail it)
        assert added < 5 or any(s <= last and first <= e for s, e in zip(starts, ends)), (first, last)
    chosen = pd.Timestamp(summary["chosen_anomaly"])
    fault = next(v for first, last, v in workspace["spans"]
                 if first <= chosen <= last + pd.Timedelta(minutes=5))
    assert summary["chosen_contributors"][0] in fault
    table = pd.read_csv(exported["csv"], index_col="timestamp")
    assert len(table) == 721 and int(table["is_anomaly"].sum()) == summary["anomalies"]
    result = json.loads(Path(exported["json"]).read_text())
    assert result["resultId"] == summary["result_id"] and len(result["results"]) == 721
    assert Registry(workspace["home"]).get_result(summary["result_id"]).summary.status.value == "READY"
    assert not _has_progress_bar(inference.output)


def test_batch_runs_one_notebook_and_summary_per_parameter_set(workspace, trained, tmp_path, capfd):
    base = {**DETECT, "model_id": trained.summary["model_id"], "data_source": str(workspace["multitable"]),
            "workbench_home": workspace["home"], "export_dir": str(tmp_path / "exports")}
    sets = [base | {"min_severity": 0.0}, base | {"min_severity": 0.8},
            base | {"start_time": "2021-01-03T00:00:00Z", "end_time": "2021-01-02T00:00:00Z"},
            base | {"labels_path": str(SMD_LABELS)}]     # labels of another period: a warning, no evaluation
    runs = run_batch(NOTEBOOKS_DIR / "04_inference.ipynb", sets, tmp_path / "runs", timeout=CELL_TIMEOUT)
    assert "KeyboardInterrupt" not in capfd.readouterr().err     # a failed run's kernel shuts down quietly too
    assert [r.ok for r in runs] == [True, True, False, True]
    assert runs[3].summary["evaluation"] == {} and runs[3].summary["anomalies"] == runs[0].summary["anomalies"]
    warned = [o["text"] for o in _outputs(runs[3].output) if o.get("name") == "stderr"]
    assert any("DataWarning: no evaluation: the labels (2021-01-04T12:00:00Z to 2021-01-05T23:59:00Z) cover none "
               "of the 721 scored rows" in text for text in warned), warned
    assert "InvalidTimestampRange" in runs[2].error["message"] and runs[2].summary is None
    low, high = runs[0].summary, runs[1].summary
    assert 0 < high["anomalies"] < low["anomalies"] and high["episodes"] <= low["episodes"]
    assert low["result_id"] != high["result_id"]
    for i, run in enumerate(runs):
        assert Path(run.output) == tmp_path / "runs" / f"04_inference-{i:03d}.ipynb" and Path(run.output).exists()
    assert json.loads((tmp_path / "runs" / "04_inference-001.json").read_text()) == high
    listing = json.loads((tmp_path / "runs" / "batch.json").read_text())
    assert listing["failed"] == 1 and len(listing["runs"]) == 4


def test_univariate_flags_the_level_fault(workspace):
    run = run_notebook(NOTEBOOKS_DIR / "05_univariate.ipynb", workspace["root"] / "05.ipynb", {
        "data_source": str(workspace["onetable"]), "variable": "series_2"}, timeout=CELL_TIMEOUT)
    summary = run.summary
    assert summary["points"] == 3000 and summary["variable"] == "series_2"
    first, last, _ = workspace["spans"][3]                 # +8 on series_2 for 8 rows
    flagged = [pd.Timestamp(t) for t in summary["anomaly_timestamps"]]
    assert sum(first <= t <= last for t in flagged) >= 6
    assert summary["anomalies"] <= 20


def test_dashboard_notebook_opens_the_newest_result(workspace, inference, tmp_path):
    run = run_notebook(NOTEBOOKS_DIR / "dashboard.ipynb", tmp_path / "dash.ipynb", {
        "workbench_home": workspace["home"], "merge_gap": 5}, timeout=CELL_TIMEOUT)
    summary = run.summary
    assert summary["modelId"] == inference.summary["model_id"]
    assert summary["anomalies"] == inference.summary["anomalies"]
    assert summary["episodes"] == inference.summary["episodes"]
    empty = run_notebook(NOTEBOOKS_DIR / "dashboard.ipynb", tmp_path / "empty.ipynb", {
        "workbench_home": str(tmp_path / "empty-home")}, timeout=CELL_TIMEOUT)
    assert empty.summary == {"models": 0, "results": 0, "modelId": None, "resultId": None}


def test_cli_runs_a_notebook_with_typed_parameters(workspace, inference, tmp_path, capsys):
    out = tmp_path / "cli.ipynb"
    code = main(["notebooks", "run", str(NOTEBOOKS_DIR / "dashboard.ipynb"), "-o", str(out),
                 "-p", "workbench_home", workspace["home"], "-p", "min_severity", "0.8", "--html"])
    printed = json.loads(capsys.readouterr().out)
    assert code == 0 and out.exists()
    assert printed["html"] == str(out.with_suffix(".html")) and "wb-snapshot" in out.with_suffix(".html").read_text()
    assert printed["summary"]["min_severity"] == 0.8
    assert 0 < printed["summary"]["anomalies"] < inference.summary["anomalies"]
    assert main(["notebooks", "run", str(NOTEBOOKS_DIR / "dashboard.ipynb"), "-o", str(out),
                 "-p", "min_sev", "1"]) == 2
    assert "no parameter 'min_sev'" in capsys.readouterr().err
