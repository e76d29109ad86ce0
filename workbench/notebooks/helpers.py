"""The few helpers the notebooks call (opening or training a model, tables, exports), so each cell stays one call.

They sit on the application layer (:mod:`workbench.service`) and the pandas front door, as the
notebooks' own code would.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from workbench._atomic import atomic_write_text
from workbench.data import DataWarning
from workbench.evaluation import evaluate_detections
from workbench.exceptions import DataError, ErrorCode, ValidationError, file_not_found
from workbench.mvad.pipeline import prepare_detection
from workbench.service import batch, lifecycle
from workbench.service.registry import Registry
from workbench.timegrid import format_timestamp, parse_timestamps

# ---------------------------------------------------------------- helpers the notebooks call


def open_registry(home: str = "") -> Registry:
    """The registry of ``home`` (``""``: ``$WORKBENCH_HOME`` or ``~/.workbench``)."""
    return Registry(home or None)


def model_or_fit(model_id: str, registry: Registry, **fit: Any):
    """The READY model ``model_id`` (its id or any unique prefix, as in the CLI); with ``""`` a new model trained by
    ``MultivariateModel.fit(**fit)``.

    This lets the inspection and inference notebooks run on their own.
    """
    from workbench import MultivariateModel

    model = MultivariateModel.load(model_id, registry) if model_id else MultivariateModel.fit(registry=registry, **fit)
    return require_ready(model)


def require_ready(model):
    """The model itself if READY; otherwise a ``ModelStateError`` carrying its status and errors."""
    lifecycle.require_ready(model.registry.get_model(model.model_id))
    return model


def models_table(registry: Registry, top: int = 20) -> pd.DataFrame:
    """The registry's newest models, one row each: id, name, status, times, window, variable count."""
    page, _ = registry.list_models(0, top)
    rows = [{
        "modelId": m.model_id, "displayName": m.model_info.display_name, "status": m.model_info.status.value,
        "createdTime": m.created_time, "lastUpdatedTime": m.last_updated_time,
        "slidingWindow": m.model_info.sliding_window,
        "variables": len(m.model_info.diagnostics_info.variable_states),
    } for m in page]
    return pd.DataFrame(rows, columns=["modelId", "displayName", "status", "createdTime", "lastUpdatedTime",
                                       "slidingWindow", "variables"])


def export_result(registry: Registry, result_id: str, folder: str = "", *,
                  episodes: pd.DataFrame | None = None) -> "ExportedFiles":
    """Write a READY result as ``<id>.csv`` (scores and contributions per timestamp), ``<id>.json`` (the v1.1
    result) and, given episodes, ``<id>-episodes.json``; ``folder`` ``""`` is ``<home>/exports``.  Returns the
    paths (a dict that a notebook shows as the file names and their folder).
    """
    from workbench.postprocess import episodes_to_json

    detections = batch.load_detections(registry, result_id)
    document = batch.get_result(registry, result_id).to_json()
    target = Path(folder) if folder else registry.home / "exports"
    table = detections.frame.join(detections.contributions.add_prefix("contribution_"))
    paths = {"csv": target / f"{result_id}.csv", "json": target / f"{result_id}.json"}
    atomic_write_text(paths["csv"], table.to_csv(date_format="%Y-%m-%dT%H:%M:%SZ"))
    atomic_write_text(paths["json"], json.dumps(document))
    if episodes is not None:
        paths["episodes"] = target / f"{result_id}-episodes.json"
        atomic_write_text(paths["episodes"], json.dumps(episodes_to_json(episodes), indent=2))
    return ExportedFiles({k: str(v) for k, v in paths.items()})


class ExportedFiles(dict):
    """What :func:`export_result` wrote (kind -> path), shown as the file names and their folder, home as ``~``."""

    _WHAT = {"csv": "scores and contributions per timestamp", "json": "the v1.1 result",
             "episodes": "the episodes"}

    def describe(self) -> list[str]:
        return [f"{Path(path).name} ({self._WHAT.get(kind, kind)})" for kind, path in self.items()]

    def folder(self) -> str:
        folder = Path(next(iter(self.values()))).parent if self else Path()
        try:
            return str(folder.relative_to(Path.cwd())) or "."
        except ValueError:
            home = Path.home()
            return "~/" + str(folder.relative_to(home)) if folder.is_relative_to(home) else str(folder)

    def _repr_html_(self) -> str:
        import html

        items = "".join(f"<li><code>{html.escape(Path(path).name)}</code>: {html.escape(self._WHAT.get(kind, kind))}"
                        "</li>" for kind, path in self.items())
        return f"<p>Exported to <code>{html.escape(self.folder())}</code>:</p><ul>{items}</ul>"

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(f"Exported to {self.folder()}: " + "; ".join(self.describe()))


def ready_detections(registry: Registry, result_id: str):
    """The cached scores of a batch result; a ``ModelStateError`` with the result's errors unless it is READY."""
    return batch.load_detections(registry, result_id)


def anomaly_interpretation(detections, rank: int = 1, *, min_severity: float = 0.0, top_k: int = 10):
    """``(timestamp, interpretation)`` of the anomaly ranked ``rank`` by severity (1 = the most severe; numbered
    from 1 like the episodes); ``(None, [])`` when fewer anomalies pass ``min_severity``."""
    from workbench.postprocess import flagged

    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"rank must be a positive integer (1 is the most severe "
                                                      f"anomaly); got {rank!r}")
    rows = np.flatnonzero(flagged(detections.frame, min_severity))
    if rank > rows.size:
        return None, []
    severity = detections.frame["severity"].to_numpy()[rows]
    row = int(rows[np.argsort(-severity, kind="stable")[rank - 1]])
    return detections.frame.index[row], detections.interpretation(row, top_k)


def contributors_title(rank: int, stamp) -> str:
    """The title of the contributors chart of the anomaly ranked ``rank`` (1 = the most severe)."""
    if stamp is None:
        return f"Contributors: no anomaly ranked {rank} by severity at these settings"
    which = "the most severe anomaly" if rank == 1 else f"anomaly {rank} by severity"
    return f"Contributors of {which}, {pd.Timestamp(stamp):%Y-%m-%d %H:%M} UTC"


def detection_data(model, data_source: str, start_time: str | None = None, end_time: str | None = None):
    """The scored rows of a detection as ``PreparedData`` (read with the model's schema and align policy),
    for plotting the raw values beside the scores; filled cells stay known (``history.observed``)."""
    info = lifecycle.require_ready(model.registry.get_model(model.model_id)).model_info
    return prepare_detection(info, data_source, start_time or None, end_time or None)


def result_data(registry: Registry, result_id: str):
    """The data a stored batch result scored (its ``dataSource``, ``startTime``, ``endTime``), as ``PreparedData``."""
    setup = registry.get_result(result_id).summary.setup_info
    info = registry.get_model(registry.result_model_id(result_id)).model_info
    return prepare_detection(info, setup.data_source, setup.start_time, setup.end_time)


# ---------------------------------------------------------------- labels


def read_labels(path: str | os.PathLike[str]) -> pd.Series:
    """A labels CSV (``timestamp,label``: 0 or 1 per row) as a Series on UTC timestamps, ISO-8601 as in every CSV."""
    try:
        table = pd.read_csv(path, dtype={"timestamp": str})
    except FileNotFoundError:
        raise file_not_found(path, "the labels file") from None
    except (OSError, ValueError) as exc:
        raise DataError(ErrorCode.INVALID_FILE, f"cannot read the labels ({exc})", file=str(path)) from exc
    if not {"timestamp", "label"} <= set(table.columns):
        raise DataError(ErrorCode.INVALID_HEADER, "the labels need the columns timestamp,label; got "
                                                  f"{','.join(map(str, table.columns))}", file=str(path))
    try:
        stamps = parse_timestamps(table["timestamp"])
    except ValidationError as exc:  # the line in the file: the header is line 1
        raise DataError(exc.code, exc.message, file=str(path), column="timestamp", row=exc.row + 2) from None
    return pd.Series(table["label"].to_numpy(), index=stamps.rename("timestamp"), name="label")


def evaluate_labels(detections, labels: pd.Series | str | os.PathLike[str] | None) -> dict[str, Any]:
    """``Detections.evaluate`` over the scored rows the labels cover (``labels``: a Series or a labels CSV path).

    Labels are often kept for one period (the incidents someone reviewed) while a detection scores another, so
    rows without a label are left out with a ``DataWarning`` saying how many were evaluated, rather than failing
    the notebook; where no scored row has a label, or the labelled rows hold only one class (VUS-PR and F1 need
    both), a ``DataWarning`` says so and the result is ``{}``.  ``""`` or ``None``: no labels, ``{}``.
    """
    if labels is None or (isinstance(labels, (str, os.PathLike)) and not os.fspath(labels)):
        return {}
    if not isinstance(labels, pd.Series):
        labels = read_labels(labels)
    frame = detections.frame
    scored = frame["valid"].to_numpy(dtype=bool)
    covered = frame.index.isin(labels.index) & scored
    total, kept = int(scored.sum()), int(covered.sum())
    if kept == 0:
        warnings.warn(f"no evaluation: the labels ({_span(labels.index)}) cover none of the {total:,} scored rows "
                      f"({_span(frame.index[scored])})", DataWarning, stacklevel=2)
        return {}
    if kept < total:
        warnings.warn(f"the labels cover {kept:,} of the {total:,} scored rows ({_span(frame.index[covered])}): "
                      "evaluated on those", DataWarning, stacklevel=2)
    labels = labels.loc[~labels.index.duplicated()]
    present = set(pd.unique(labels.reindex(frame.index[covered]).to_numpy()).tolist())
    if present in ({0}, {1}, {False}, {True}):
        kind = "anomalous" if present in ({1}, {True}) else "normal"
        warnings.warn(f"no evaluation: every labelled scored row is {kind} (VUS-PR and F1 need both kinds)",
                      DataWarning, stacklevel=2)
        return {}
    return evaluate_detections(SimpleNamespace(frame=frame[covered]), labels)


def _span(index: pd.Index) -> str:
    return f"{format_timestamp(index[0])} to {format_timestamp(index[-1])}" if len(index) else "empty"
