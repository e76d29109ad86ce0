"""Plotly figures for the notebooks and the dashboard: data, training diagnostics, anomalies, contributors.

Each function takes the pandas objects the package already returns
(``PreparedData.frame``/``states_frame()``, ``MultivariateModel.diagnostics()``,
``Detections.frame``, ``postprocess.group_episodes``) and returns a
``plotly.graph_objects.Figure``; nothing here computes scores.  Long series are
thinned to at most ``max_points`` points per line (flagged anomalies are always
drawn), so a million rows stay responsive in a browser.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.exceptions import ErrorCode, ValidationError
from workbench.postprocess import EPISODE_COLUMNS, flagged

SEVERITY_COLORSCALE = "YlOrRd"
MAX_POINTS = 20_000
_LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=30, t=50, b=40))


def filled_na_figure(states: pd.DataFrame) -> go.Figure:
    """Bar chart of each variable's ``filledNARatio`` (the share of its aligned rows that were filled)."""
    _require_columns(states, ["variable", "filledNARatio"], "states")
    ordered = states.sort_values("filledNARatio", ascending=False, kind="stable")
    fig = go.Figure(go.Bar(x=ordered["variable"].astype(str), y=ordered["filledNARatio"], name="filledNARatio",
                           marker_color="#4c78a8"))
    fig.update_layout(title="filledNARatio per variable", yaxis=dict(title="filledNARatio", range=[0, 1]),
                      xaxis_title="variable", **_LAYOUT)
    return fig


def variables_figure(frame: pd.DataFrame, *, max_points: int = MAX_POINTS, max_variables: int = 20) -> go.Figure:
    """One line per variable of an aligned frame (the first ``max_variables`` columns)."""
    _require_frame(frame, "frame")
    _check_positive(max_points, "max_points")
    _check_positive(max_variables, "max_variables")
    rows = _thin(len(frame), max_points)
    fig = go.Figure()
    for column in frame.columns[:max_variables]:
        fig.add_trace(go.Scatter(x=frame.index[rows], y=frame[column].to_numpy()[rows], mode="lines",
                                 name=str(column), line=dict(width=1)))
    shown = min(max_variables, frame.shape[1])
    fig.update_layout(title=f"{shown} of {frame.shape[1]} variables, {len(frame):,} timestamps",
                      xaxis_title="timestamp", **_LAYOUT)
    return fig


def loss_figure(diagnostics: pd.DataFrame) -> go.Figure:
    """Train and validation loss per recorded epoch (``MultivariateModel.diagnostics()``)."""
    _require_columns(diagnostics, ["trainLoss", "validationLoss"], "diagnostics")
    fig = go.Figure()
    for column, name in (("trainLoss", "train"), ("validationLoss", "validation")):
        fig.add_trace(go.Scatter(x=diagnostics.index, y=diagnostics[column], mode="lines+markers", name=name))
    fig.update_layout(title="Loss per epoch", xaxis_title="epoch", yaxis_title="loss", **_LAYOUT)
    return fig


def latency_figure(diagnostics: pd.DataFrame) -> go.Figure:
    """Seconds per recorded epoch (``latencyInSeconds``)."""
    _require_columns(diagnostics, ["latencyInSeconds"], "diagnostics")
    fig = go.Figure(go.Bar(x=diagnostics.index, y=diagnostics["latencyInSeconds"], name="latency",
                           marker_color="#72b7b2"))
    fig.update_layout(title="Epoch latency", xaxis_title="epoch", yaxis_title="seconds", **_LAYOUT)
    return fig


def timeline_figure(
    scores: pd.DataFrame,
    *,
    values: pd.DataFrame | None = None,
    min_severity: float = 0.0,
    episodes: pd.DataFrame | None = None,
    max_points: int = MAX_POINTS,
    max_variables: int = 10,
) -> go.Figure:
    """Anomaly score over time with the flagged points coloured by severity; episodes shaded.

    ``scores`` is ``Detections.frame``; with ``values`` (the scored data) a
    panel of the variables comes first and the anomalies are marked on it too.
    The trace of flagged points is named ``anomalies``.
    """
    _require_columns(scores, ["is_anomaly", "severity", "score"], "scores")
    _check_positive(max_points, "max_points")
    if values is not None:
        _require_frame(values, "values")
    if episodes is not None:
        _require_columns(episodes, ["start", "end"], "episodes")
    return _timeline(scores, values, flagged(scores, min_severity), episodes, max_points, max_variables)


def _timeline(scores, values, mask, episodes, max_points, max_variables) -> go.Figure:
    panels = 2 if values is not None else 1
    fig = make_subplots(rows=panels, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[0.6, 0.4] if panels == 2 else None)
    hits = scores[mask]
    marker = dict(color=hits["severity"], colorscale=SEVERITY_COLORSCALE, cmin=0.0, cmax=1.0, size=9,
                  line=dict(width=0.5, color="#444"), colorbar=dict(title="severity", len=0.8))
    if values is not None:
        rows = _thin(len(values), max_points)
        for column in values.columns[:max_variables]:
            fig.add_trace(go.Scatter(x=values.index[rows], y=values[column].to_numpy()[rows], mode="lines",
                                     name=str(column), line=dict(width=1), opacity=0.7), row=1, col=1)
        on_values = values.reindex(hits.index)
        peak = on_values.abs().idxmax(axis=1) if len(hits) else pd.Series(dtype=object)
        fig.add_trace(go.Scatter(
            x=hits.index, y=[on_values.at[t, c] for t, c in peak.items()], mode="markers",
            name="anomalies (values)", marker=dict(marker, showscale=False), showlegend=False,
            hovertemplate="%{x}<br>severity %{marker.color:.2f}<extra></extra>"), row=1, col=1)
    rows = _thin(len(scores), max_points)
    fig.add_trace(go.Scatter(x=scores.index[rows], y=scores["score"].to_numpy()[rows], mode="lines", name="score",
                             line=dict(width=1, color="#7f7f7f")), row=panels, col=1)
    fig.add_trace(go.Scatter(x=hits.index, y=hits["score"], mode="markers", name="anomalies", marker=marker,
                             customdata=hits["severity"],
                             hovertemplate="%{x}<br>score %{y:.3f}<br>severity %{customdata:.2f}<extra></extra>"),
                  row=panels, col=1)
    for episode in (episodes.itertuples(index=False) if episodes is not None else ()):
        fig.add_vrect(x0=episode.start, x1=episode.end, fillcolor="#d62728", opacity=0.12, line_width=0,
                      layer="below")
    fig.update_yaxes(title_text="score", row=panels, col=1)
    if panels == 2:
        fig.update_yaxes(title_text="value", row=1, col=1)
    fig.update_layout(title=f"{int(mask.sum()):,} anomalies of {len(scores):,} timestamps", height=300 + 200 * panels,
                      legend=dict(orientation="h", y=-0.15), **_LAYOUT)
    return fig


def contributors_figure(contributors: Sequence[tuple[str, float]] | pd.Series, *, title: str = "Top contributors"
                        ) -> go.Figure:
    """Horizontal bars of contribution scores, largest on top.

    Takes ``(variable, score)`` pairs (an episode's ``top_contributors``), a
    Series indexed by variable, or ``Detections.interpretation(...)`` items.
    """
    pairs = _contributor_pairs(contributors)
    if not pairs:
        title += " (none)"
    fig = go.Figure(go.Bar(x=[s for _, s in pairs][::-1], y=[v for v, _ in pairs][::-1], orientation="h",
                           name="contributionScore", marker_color="#e45756"))
    fig.update_layout(title=title, xaxis=dict(title="contributionScore", range=[0, 1]),
                      height=160 + 28 * max(1, len(pairs)), **_LAYOUT)
    return fig


def episodes_table(episodes: pd.DataFrame) -> pd.DataFrame:
    """Episodes formatted for reading: ISO times, durations, severities to 3 places, contributors as text."""
    _require_columns(episodes, EPISODE_COLUMNS, "episodes")
    return pd.DataFrame({
        "start": [t.strftime("%Y-%m-%d %H:%M:%S") for t in episodes["start"]],
        "end": [t.strftime("%Y-%m-%d %H:%M:%S") for t in episodes["end"]],
        "duration": [duration_text(d) for d in episodes["duration"]],
        "points": episodes["points"].astype(int),
        "peak severity": episodes["peak_severity"].round(3),
        "mean severity": episodes["mean_severity"].round(3),
        "top contributors": [", ".join(f"{v} ({s:.2f})" for v, s in pairs) for pairs in episodes["top_contributors"]],
    })


def duration_text(delta: pd.Timedelta) -> str:
    """A duration for people: ``2 h 48 min``, ``1 min``, ``30 s``, ``0 s``."""
    seconds = int(round(pd.Timedelta(delta).total_seconds()))
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}")
    return " ".join(parts) or "0 s"


def univariate_figure(result: pd.DataFrame, change_points: pd.DataFrame | None = None) -> go.Figure:
    """A univariate series with its expected value and margins, anomalies coloured by severity.

    ``result`` is ``workbench.univariate.detect_entire(...)``; with
    ``change_points`` (``detect_change_points``) the change points are marked.
    """
    _require_columns(result, ["value", "expected_value", "upper_margin", "lower_margin", "is_anomaly", "severity"],
                     "result")
    if change_points is not None:
        _require_columns(change_points, ["is_change_point"], "change_points")
    upper = result["expected_value"] + result["upper_margin"]
    lower = result["expected_value"] - result["lower_margin"]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=result.index, y=upper, mode="lines", line=dict(width=0), showlegend=False,
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=result.index, y=lower, mode="lines", line=dict(width=0), fill="tonexty",
                             fillcolor="rgba(76,120,168,0.2)", name="expected range"))
    fig.add_trace(go.Scatter(x=result.index, y=result["expected_value"], mode="lines", name="expected value",
                             line=dict(color="#4c78a8", dash="dot", width=1)))
    fig.add_trace(go.Scatter(x=result.index, y=result["value"], mode="lines", name="value",
                             line=dict(color="#333", width=1)))
    hits = result[result["is_anomaly"].to_numpy(dtype=bool)]
    fig.add_trace(go.Scatter(x=hits.index, y=hits["value"], mode="markers", name="anomalies",
                             marker=dict(color=hits["severity"], colorscale=SEVERITY_COLORSCALE, cmin=0, cmax=1,
                                         size=9, colorbar=dict(title="severity"))))
    if change_points is not None:
        for stamp in change_points.index[change_points["is_change_point"].to_numpy(dtype=bool)]:
            fig.add_vline(x=stamp, line=dict(color="#54a24b", dash="dash", width=1))
    fig.update_layout(title=f"{len(hits):,} anomalies of {len(result):,} points", xaxis_title="timestamp",
                      **_LAYOUT)
    return fig


def _contributor_pairs(contributors) -> list[tuple[str, float]]:
    if isinstance(contributors, pd.Series):
        return [(str(k), float(v)) for k, v in contributors.sort_values(ascending=False).items()]
    pairs = []
    for item in contributors:
        if hasattr(item, "variable") and hasattr(item, "contribution_score"):
            pairs.append((str(item.variable), float(item.contribution_score)))
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            pairs.append((str(item[0]), float(item[1])))
        else:
            raise ValidationError(ErrorCode.BAD_ARGUMENT,
                                  f"contributors must be (variable, score) pairs or interpretations; got {item!r}")
    return sorted(pairs, key=lambda p: -p[1])


def _thin(n: int, max_points: int) -> np.ndarray:
    """Evenly spaced row positions, at most ``max_points`` of them, always keeping the last row."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.append(np.linspace(0, n - 1, max_points - 1).astype(np.int64), n - 1))


def _require_frame(frame, name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"{name} must be a pandas DataFrame; got {type(frame).__name__}")


def _require_columns(frame, columns: Sequence[str], name: str) -> None:
    _require_frame(frame, name)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"{name} lacks the column(s) {', '.join(missing)}")


def _check_positive(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"{name} must be a positive integer; got {value!r}")
