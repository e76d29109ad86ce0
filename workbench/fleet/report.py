"""The fleet view: one row per entity, ranked by what needs attention now.

Ranking: entities anomalous *now* (in the last ``recent`` scored rows) first, by their latest severity; then
entities that FAILED (no model or no scores: a blind spot); then those with anomalies earlier in the scored
window, by peak severity; then the quiet ones.  ``attention`` names the group.

Attention follows the service's advice not to take every ``isAnomaly`` row as an anomaly but to sift by
severity: an entity needs attention where a flagged episode reaches ``min_severity`` (``FLEET_ATTENTION_SEVERITY``
by default, a score 1.4x the threshold).  Flags that stay near the threshold -- what a clean entity's
longest calm stretch produces by chance -- still count in ``anomalies`` but leave the entity ``quiet``
(``benchmarks/results/selection/triage.md``).
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench._atomic import atomic_write_text
from workbench.contracts import FLEET_ATTENTION_SEVERITY, DetectionResult, FleetMember, Model, ModelStatus
from workbench.exceptions import ErrorCode, ValidationError
from workbench.mvad.inference import Detections
from workbench.postprocess import group_episodes

COLUMNS = ["entity", "attention", "status", "model_id", "result_id", "training_seconds", "rows", "variables",
           "scored_rows", "anomalies", "episodes", "latest_severity", "peak_severity", "last_anomaly",
           "top_contributors", "error_code", "error_message"]
ORDER = {"anomalous now": 0, "failed": 1, "anomalies in window": 2, "quiet": 3, "not scored": 4}


def entity_row(entity: str, model: Model | None, result: DetectionResult | None,
               detections: Detections | None, *, recent: int = 10, min_severity: float = FLEET_ATTENTION_SEVERITY,
               merge_gap: int = 3, top_k: int = 3) -> dict[str, Any]:
    """One entity's report row from its newest model document, batch result document and detections."""
    row: dict[str, Any] = {c: None for c in COLUMNS}
    row.update(entity=entity, anomalies=0, episodes=0)
    if model is None:
        row.update(status="NO_MODEL", attention="failed", error_code=ErrorCode.NO_READY_MODEL,
                   error_message="no model was trained for this entity")
        return row
    info, member = model.model_info, model.fleet or FleetMember("", entity)
    row.update(status=info.status.value, model_id=model.model_id, training_seconds=member.training_seconds,
               rows=member.rows, variables=member.variables)
    errors = list(info.errors)
    if result is not None:
        row["result_id"] = result.result_id
        errors += result.summary.errors
        if result.summary.status is ModelStatus.FAILED:
            row["status"] = "DETECTION_FAILED"
    if errors:
        row.update(error_code=errors[0].code, error_message=errors[0].message)
    if not info.is_ready or row["status"] == "DETECTION_FAILED":
        row["attention"] = "failed"
        return row
    if detections is None:
        row["attention"] = "not scored"
        return row
    row.update(_scores(detections, recent, min_severity, merge_gap, top_k))
    needs = max(float(min_severity), float(np.nextafter(0.0, 1.0)))  # a flagged row's severity is above 0
    row["attention"] = ("anomalous now" if row["latest_severity"] >= needs else
                        "anomalies in window" if row["peak_severity"] >= needs else "quiet")
    return row


def build_report(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Rows ranked by attention (see the module docstring)."""
    frame = pd.DataFrame(list(rows), columns=COLUMNS)
    if frame.empty:
        return frame
    key = pd.DataFrame({
        "group": frame["attention"].map(ORDER).fillna(len(ORDER)),
        "latest": -frame["latest_severity"].astype(float).fillna(0.0),
        "peak": -frame["peak_severity"].astype(float).fillna(0.0),
        "entity": frame["entity"].astype(str),
    })
    order = key.sort_values(["group", "latest", "peak", "entity"], kind="stable").index
    return frame.loc[order].reset_index(drop=True)


def write_report(report: pd.DataFrame, path: str | Path) -> Path:
    """Save a report as CSV or JSON (by the file's suffix), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        atomic_write_text(path, report.to_csv(index=False))
    elif suffix == ".json":
        atomic_write_text(path, json.dumps(report_records(report), indent=2))
    else:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"a fleet report is written as .csv or .json; got '{path.name}'")
    return path


def report_records(report: pd.DataFrame) -> list[dict[str, Any]]:
    """The report as JSON-ready records (timestamps ISO-8601, no NaN)."""
    return json.loads(report.to_json(orient="records", date_format="iso"))


def summary_line(report: pd.DataFrame) -> str:
    """A short human summary: how many entities in each state."""
    counts = report["attention"].value_counts()
    parts = [f"{int(counts[k])} {k}" for k in ORDER if k in counts]
    return f"{len(report)} entities: " + ", ".join(parts)


def _scores(detections: Detections, recent: int, min_severity: float, merge_gap: int, top_k: int) -> dict:
    frame = detections.frame
    valid = frame[frame["valid"].to_numpy(dtype=bool)]
    severity = valid["severity"].fillna(0.0)
    flagged = valid["is_anomaly"].to_numpy(dtype=bool)
    episodes = group_episodes(frame, detections.contributions, min_severity=min_severity, merge_gap=merge_gap,
                              top_k=top_k)
    if flagged.any():
        weights = np.nan_to_num(detections.contributions.loc[valid.index[flagged]].to_numpy()).mean(axis=0)
        order = np.argsort(-weights, kind="stable")[:top_k]
        top = ", ".join(f"{detections.variables[j]} ({weights[j]:.2f})" for j in order)
        last = valid.index[flagged][-1]
    else:
        top, last = "", None
    tail = severity.iloc[-recent:] if recent else severity.iloc[0:0]
    return {"scored_rows": len(valid), "anomalies": int(flagged.sum()), "episodes": len(episodes),
            "latest_severity": float(tail.max()) if len(tail) else 0.0,
            "peak_severity": float(severity.max()) if len(severity) else 0.0,
            "last_anomaly": last, "top_contributors": top}
