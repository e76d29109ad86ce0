"""Plotly figures for the notebooks and the dashboard: data, training diagnostics, anomalies, contributors.

Each function takes the pandas objects the package already returns
(``PreparedData``, the detector, ``Detections``, ``postprocess.group_episodes``)
and returns a :class:`ReportFigure`, a ``plotly.graph_objects.Figure`` that also
renders with no network in an HTML export (see :func:`figure_bundle`); nothing
here computes scores.  Long series are thinned to at most ``max_points`` points
per line (flagged anomalies and filled points are drawn apart), so a million
rows stay responsive in a browser.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from workbench.exceptions import ErrorCode, ValidationError
from workbench.postprocess import EPISODE_COLUMNS, flagged
from workbench.timegrid import duration_text, parse_timestamp, parse_timestamps  # noqa: F401 (duration_text: API)

SEVERITY_COLORSCALE = "YlOrRd"
MAX_POINTS = 20_000
THRESHOLD_COLOR = "#d62728"
FILLED_COLOR = "#f58518"
EPISODE_FILL = "rgba(214,39,40,0.13)"
_LAYOUT = dict(template="plotly_white", margin=dict(l=70, r=30, t=60, b=40))
_plotlyjs_sent = False


# ---------------------------------------------------------------- figures that travel


class ReportFigure(go.Figure):
    """A plotly figure whose notebook output also carries HTML with plotly.js inlined (once per kernel).

    JupyterLab and Voila draw the ``application/vnd.plotly.v1+json`` part;
    ``jupyter nbconvert --to html`` (and any viewer without the plotly
    extension) uses the ``text/html`` part, which needs no network.
    """

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs) -> dict[str, Any]:
        return figure_bundle(self)

    def _ipython_display_(self) -> None:  # plotly's own goes through its renderers (plotly JSON only)
        from IPython.display import display

        display(figure_bundle(self), raw=True)

    def show(self, *args: Any, **kwargs: Any) -> None:
        """Display the figure's offline bundle in IPython; elsewhere plotly's own ``show``."""
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython ships with the notebooks
            get_ipython = None
        if get_ipython is not None and get_ipython() is not None:
            from IPython.display import display

            display(figure_bundle(self), raw=True)
        else:
            super().show(*args, **kwargs)


def figure_bundle(fig: go.Figure) -> dict[str, Any]:
    """The mime bundle of a figure: plotly's JSON for live front ends plus self-contained HTML for exports."""
    return {"application/vnd.plotly.v1+json": json.loads(pio.to_json(fig, validate=False)),
            "text/html": figure_html(fig),
            "text/plain": f"plotly figure: {fig.layout.title.text or ''}"}


def figure_html(fig: go.Figure) -> str:
    """A ``<div>`` drawing the figure; the first one of a kernel also carries plotly.js (no CDN)."""
    return _plotlyjs_once() + pio.to_html(fig, include_plotlyjs=False, full_html=False, validate=False,
                                          config={"displaylogo": False})


def _plotlyjs_once() -> str:
    """plotly.js inlined, the first time only.  ``define``/``module`` are shadowed so that a page with
    require.js (nbconvert's lab template loads it) still gets the global ``Plotly``."""
    global _plotlyjs_sent
    if _plotlyjs_sent:
        return ""
    from plotly.offline import get_plotlyjs

    _plotlyjs_sent = True
    return ('<script type="text/javascript">(function(define, module, exports) {\n' + get_plotlyjs()
            + "\n}).call(window);</script>\n")


# ---------------------------------------------------------------- data


def filled_na_figure(states: pd.DataFrame) -> ReportFigure:
    """Bar chart of each variable's ``filledNARatio`` (the share of its aligned rows that were filled)."""
    _require_columns(states, ["variable", "filledNARatio"], "states")
    ordered = states.sort_values("filledNARatio", ascending=False, kind="stable")
    fig = ReportFigure(go.Bar(x=ordered["variable"].astype(str), y=ordered["filledNARatio"], name="filledNARatio",
                              marker_color="#4c78a8"))
    fig.update_layout(title="filledNARatio per variable", yaxis=dict(title="filledNARatio", range=[0, 1]),
                      xaxis_title="variable", **_LAYOUT)
    return fig


def variables_figure(data, *, filled: pd.DataFrame | None = None, episodes: pd.DataFrame | None = None,
                     max_points: int = MAX_POINTS, max_variables: int = 12) -> ReportFigure:
    """Small multiples: one panel per variable (the first ``max_variables``), filled points marked, episodes shaded.

    ``data`` is an aligned frame or a ``PreparedData`` (whose filled cells are
    then marked); ``filled`` (bool, True where ``fillNAMethod`` filled a cell)
    overrides that.
    """
    frame, filled = _values_and_filled(data, filled, "data")
    _check_positive(max_points, "max_points")
    _check_positive(max_variables, "max_variables")
    if episodes is not None:
        _require_columns(episodes, ["start", "end"], "episodes")
    columns = list(frame.columns[:max_variables])
    fig = ReportFigure(make_subplots(rows=max(1, len(columns)), cols=1, shared_xaxes=True, vertical_spacing=0.02))
    _variable_panels(fig, frame, filled, columns, 1, max_points)
    _shade(fig, episodes)
    shown = f"{len(columns)} of {frame.shape[1]} variables" if len(columns) < frame.shape[1] else \
        f"{frame.shape[1]} variables"
    fig.update_layout(title=f"{shown}, {len(frame):,} timestamps" + _filled_note(filled, columns),
                      height=120 + 110 * max(1, len(columns)), showlegend=filled is not None and bool(
                          filled[columns].to_numpy().any()), legend=dict(orientation="h", y=1.0, x=1,
                                                                         xanchor="right", yanchor="bottom"),
                      **_LAYOUT)
    return fig


# ---------------------------------------------------------------- training


def loss_figure(source, *, best_epoch: int | None = None) -> ReportFigure:
    """Train and validation loss for every epoch, the kept (lowest validation loss) epoch marked.

    ``source`` is a trained detector (``MultivariateModel.detector``: every
    epoch's ``train_losses_``/``validation_losses_`` and ``best_epoch_``) or
    ``MultivariateModel.diagnostics()`` (the v1.1 ``modelState``: every 10th
    epoch; give ``best_epoch`` to mark it).  The y axis switches to log scale.
    """
    if hasattr(source, "train_losses_") and hasattr(source, "validation_losses_"):
        train = np.asarray(source.train_losses_, dtype=float)
        validation = np.asarray(source.validation_losses_, dtype=float)
        epochs = np.arange(1, len(train) + 1)
        best_epoch = int(getattr(source, "best_epoch_", 0)) or best_epoch
    else:
        _require_columns(source, ["trainLoss", "validationLoss"], "diagnostics")
        epochs = np.asarray(source.index)
        train, validation = source["trainLoss"].to_numpy(float), source["validationLoss"].to_numpy(float)
    fig = ReportFigure()
    mode = "lines+markers" if len(epochs) <= 60 else "lines"
    fig.add_trace(go.Scatter(x=epochs, y=train, mode=mode, name="train", line=dict(color="#4c78a8")))
    fig.add_trace(go.Scatter(x=epochs, y=validation, mode=mode, name="validation", line=dict(color="#f58518")))
    title = f"Loss per epoch ({len(epochs)} epochs)"
    if best_epoch is not None and best_epoch in set(epochs.tolist()):
        at = int(np.flatnonzero(epochs == best_epoch)[0])
        fig.add_trace(go.Scatter(x=[best_epoch], y=[validation[at]], mode="markers", name=f"kept: epoch {best_epoch}",
                                 marker=dict(symbol="star", size=16, color=THRESHOLD_COLOR,
                                             line=dict(width=1, color="#333"))))
        fig.add_vline(x=best_epoch, line=dict(color=THRESHOLD_COLOR, dash="dot", width=1))
        title += f"; weights kept from epoch {best_epoch} (lowest validation loss)"
    fig.update_layout(title=title, xaxis_title="epoch", yaxis_title="loss", legend=dict(orientation="h", y=-0.2),
                      updatemenus=[_scale_buttons("yaxis")], **_LAYOUT)
    return fig


def latency_figure(diagnostics: pd.DataFrame) -> ReportFigure:
    """Seconds per recorded epoch (``latencyInSeconds``)."""
    _require_columns(diagnostics, ["latencyInSeconds"], "diagnostics")
    fig = ReportFigure(go.Bar(x=diagnostics.index, y=diagnostics["latencyInSeconds"], name="latency",
                              marker_color="#72b7b2"))
    fig.update_layout(title="Epoch latency", xaxis_title="epoch", yaxis_title="seconds", **_LAYOUT)
    return fig


# ---------------------------------------------------------------- detection


def timeline_figure(
    scores: pd.DataFrame,
    *,
    values=None,
    min_severity: float = 0.0,
    episodes: pd.DataFrame | None = None,
    threshold: float | None = None,
    release: float | None = None,
    contributions: pd.DataFrame | None = None,
    filled: pd.DataFrame | None = None,
    log_scale: bool = False,
    max_points: int = MAX_POINTS,
    max_variables: int = 5,
) -> ReportFigure:
    """Anomaly score over time with the applied threshold, flagged points coloured by severity, episodes shaded.

    ``scores`` is ``Detections.frame`` (``threshold``: ``Detections.threshold``,
    drawn as the trace named ``threshold``; ``release``: ``Detections.release``,
    the level above which a flagged event goes on, dotted); with ``values`` (the scored data,
    a frame or ``PreparedData``) small multiples of ``max_variables`` variables
    follow, those contributing most to the flagged rows when ``contributions``
    is given.  ``log_scale`` starts the score axis in log scale (buttons switch).
    The trace of flagged points is named ``anomalies``.
    """
    _require_columns(scores, ["is_anomaly", "severity", "score"], "scores")
    scores = _time_indexed(scores, "scores")
    _check_positive(max_points, "max_points")
    _check_positive(max_variables, "max_variables")
    frame = None
    if values is not None:
        frame, filled = _values_and_filled(values, filled, "values")
    if episodes is not None:
        _require_columns(episodes, ["start", "end"], "episodes")
    mask = flagged(scores, min_severity)
    columns = [] if frame is None else _ranked_variables(frame, contributions, mask, max_variables)
    panels = 1 + len(columns)
    fig = ReportFigure(make_subplots(rows=panels, cols=1, shared_xaxes=True, vertical_spacing=0.03 if panels > 1 else 0,
                                     row_heights=[3] + [1.4] * len(columns) if panels > 1 else None))
    _score_panel(fig, scores, mask, threshold, max_points, panels, release=release)
    if columns:
        _variable_panels(fig, frame, filled, columns, 2, max_points)
    _shade(fig, episodes)
    ranked = " (largest contributions first)" if contributions is not None and columns else ""
    fig.update_layout(
        title=f"{int(mask.sum()):,} anomalies of {len(scores):,} timestamps" + _threshold_note(threshold) + ranked,
        height=380 + 120 * len(columns), legend=dict(orientation="h", y=1.0, x=0, yanchor="bottom"),
        updatemenus=[_scale_buttons("yaxis", log_scale)], **_LAYOUT)
    fig.update_layout(margin=dict(t=90))
    if log_scale:
        fig.update_yaxes(type="log", row=1, col=1)
    return fig


def episode_figure(values, episode, *, scores: pd.DataFrame | None = None, threshold: float | None = None,
                   release: float | None = None, filled: pd.DataFrame | None = None, top: int | None = None,
                   context: int = 60, max_points: int = MAX_POINTS) -> ReportFigure:
    """One episode up close: the raw values of its top contributors (and the score) around it, the episode shaded.

    ``episode`` is a row of ``postprocess.group_episodes`` (``start``, ``end``,
    ``top_contributors``); ``context`` rows of the data are shown on each side.
    """
    frame, filled = _values_and_filled(values, filled, "values")
    _check_positive(context, "context")
    pairs = _contributor_pairs(episode["top_contributors"])[:top] if top else \
        _contributor_pairs(episode["top_contributors"])
    pairs = [(v, s) for v, s in pairs if v in frame.columns]
    start, end = parse_timestamp(episode["start"], field_name="start"), parse_timestamp(episode["end"], field_name="end")
    lo = max(0, int(frame.index.searchsorted(start, side="left")) - context)   # index units may be us or ns
    hi = min(len(frame), int(frame.index.searchsorted(end, side="right")) + context)
    window = frame.iloc[lo:hi]
    shown_filled = filled.iloc[lo:hi] if filled is not None else None
    panels = (1 if scores is not None else 0) + max(1, len(pairs))
    fig = ReportFigure(make_subplots(
        rows=panels, cols=1, shared_xaxes=True, vertical_spacing=0.09 if panels > 2 else 0.08,
        subplot_titles=(["score"] if scores is not None else []) + [f"{v} ({s:.0%} of the contribution)"
                                                                     for v, s in pairs]))
    if scores is not None:
        _require_columns(scores, ["is_anomaly", "severity", "score"], "scores")
        scores = _time_indexed(scores, "scores")
        near = scores.loc[window.index[0]:window.index[-1]] if len(window) else scores.iloc[:0]
        _score_panel(fig, near, flagged(near), threshold, max_points, panels, colorbar=False, release=release)
    first = 2 if scores is not None else 1
    _variable_panels(fig, window, shown_filled, [v for v, _ in pairs], first, max_points, titles=False)
    fig.add_vrect(x0=start, x1=end if end > start else start + pd.Timedelta(seconds=1), fillcolor=EPISODE_FILL,
                  line_width=0, layer="below", row="all", col=1)
    fig.update_layout(title=f"Episode {start:%Y-%m-%d %H:%M} to {end:%H:%M}: raw values of its "
                            f"{len(pairs)} top contributors", height=140 + 170 * panels,
                      legend=dict(orientation="h", y=1.0, x=1, xanchor="right", yanchor="bottom"), **_LAYOUT)
    fig.update_layout(margin=dict(t=90))
    return fig


def contributors_figure(contributors: Sequence[tuple[str, float]] | pd.Series, *, title: str = "Top contributors"
                        ) -> ReportFigure:
    """Horizontal bars of contribution scores, largest on top.

    Takes ``(variable, score)`` pairs (an episode's ``top_contributors``), a
    Series indexed by variable, or ``Detections.interpretation(...)`` items.
    """
    pairs = _contributor_pairs(contributors)
    if not pairs:
        title += " (none)"
    fig = ReportFigure(go.Bar(x=[s for _, s in pairs][::-1], y=[v for v, _ in pairs][::-1], orientation="h",
                           name="contributionScore", marker_color="#e45756"))
    fig.update_layout(title=title, xaxis=dict(title="contributionScore", range=[0, 1]),
                      height=160 + 28 * max(1, len(pairs)), **_LAYOUT)
    return fig


def episodes_table(episodes: pd.DataFrame) -> pd.DataFrame:
    """Episodes formatted for reading: ISO times, durations, severities to 3 places, contributors as text.

    Rows are numbered from 1 (the index, ``episode``), as the widgets' episode pickers and titles number them.
    """
    _require_columns(episodes, EPISODE_COLUMNS, "episodes")
    table = pd.DataFrame({
        "start": [t.strftime("%Y-%m-%d %H:%M:%S") for t in episodes["start"]],
        "end": [t.strftime("%Y-%m-%d %H:%M:%S") for t in episodes["end"]],
        "duration": [duration_text(d) for d in episodes["duration"]],
        "points": episodes["points"].astype(int),
        "peak severity": episodes["peak_severity"].round(3),
        "mean severity": episodes["mean_severity"].round(3),
        "top contributors": [", ".join(f"{v} ({s:.2f})" for v, s in pairs) for pairs in episodes["top_contributors"]],
    })
    table.index = pd.RangeIndex(1, len(table) + 1, name="episode")
    return table


_METRICS = {  # evaluation key -> (label, format)
    "vus_pr": ("VUS-PR (of the score)", "{:.3f}"), "auc_pr": ("AUC-PR (of the score)", "{:.3f}"),
    "f1": ("F1 (of isAnomaly, no point adjustment)", "{:.3f}"), "precision": ("precision", "{:.3f}"),
    "recall": ("recall", "{:.3f}"), "flagged_share": ("rows flagged", "{:.1%}"),
    "labelled_share": ("rows labelled anomalous", "{:.1%}"), "rows": ("rows evaluated", "{:,}"),
}


def metrics_table(evaluation: dict[str, Any]) -> pd.DataFrame:
    """``Detections.evaluate``'s result for reading: each metric to 3 places, shares in percent, the row count.

    An empty evaluation (no labels, or none for the scored rows) gives one row saying so.
    """
    if not evaluation:
        return pd.DataFrame({"value": ["none (no labels for the scored rows)"]}, index=pd.Index(["evaluation"]))
    rows = {label: fmt.format(evaluation[key]) for key, (label, fmt) in _METRICS.items() if key in evaluation}
    rows |= {str(k): str(v) for k, v in evaluation.items() if k not in _METRICS}
    return pd.DataFrame({"value": list(rows.values())}, index=pd.Index(list(rows), name="metric"))


def univariate_figure(result: pd.DataFrame, change_points: pd.DataFrame | None = None, *,
                      variable: str | None = None) -> ReportFigure:
    """A univariate series with its expected value and margins, anomalies coloured by severity.

    ``result`` is ``workbench.univariate.detect_entire(...)``; with
    ``change_points`` (``detect_change_points``) each change point is drawn
    and labelled (``CP1``, ``CP2``, ...).  ``variable`` names the series in the
    title (default: the result's ``variable`` attribute, if any).
    """
    _require_columns(result, ["value", "expected_value", "upper_margin", "lower_margin", "is_anomaly", "severity"],
                     "result")
    if change_points is not None:
        _require_columns(change_points, ["is_change_point"], "change_points")
    variable = variable or result.attrs.get("variable") or ""
    upper = result["expected_value"] + result["upper_margin"]
    lower = result["expected_value"] - result["lower_margin"]
    fig = ReportFigure()
    fig.add_trace(go.Scatter(x=result.index, y=upper, mode="lines", line=dict(width=0), showlegend=False,
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=result.index, y=lower, mode="lines", line=dict(width=0), fill="tonexty",
                             fillcolor="rgba(76,120,168,0.2)", name="expected range"))
    fig.add_trace(go.Scatter(x=result.index, y=result["expected_value"], mode="lines", name="expected value",
                             line=dict(color="#4c78a8", dash="dot", width=1)))
    fig.add_trace(go.Scatter(x=result.index, y=result["value"], mode="lines", name=variable or "value",
                             line=dict(color="#333", width=1)))
    hits = result[result["is_anomaly"].to_numpy(dtype=bool)]
    fig.add_trace(go.Scatter(x=hits.index, y=hits["value"], mode="markers", name="anomalies",
                             marker=dict(color=hits["severity"], colorscale=SEVERITY_COLORSCALE, cmin=0, cmax=1,
                                         size=9, colorbar=dict(title="severity", x=1.01, len=0.75, y=0.5))))
    changes = 0
    if change_points is not None:
        stamps = change_points.index[change_points["is_change_point"].to_numpy(dtype=bool)]
        changes = len(stamps)
        confidence = (change_points.loc[stamps, "confidence_score"].to_numpy(float)
                      if "confidence_score" in change_points.columns else np.full(changes, np.nan))
        low, high = (float(np.nanmin(upper)), float(np.nanmax(upper.combine(result["value"], max)))) if len(result) \
            else (0.0, 0.0)
        top = high + 0.06 * (high - low)
        for stamp in stamps:
            fig.add_vline(x=stamp, line=dict(color="#54a24b", dash="dash", width=1))
        fig.add_trace(go.Scatter(
            x=stamps, y=[top] * changes, mode="markers+text", name="change points",
            text=[f"CP{i}" for i in range(1, changes + 1)], textposition="top center",
            marker=dict(symbol="triangle-down", size=10, color="#54a24b"), customdata=confidence,
            hovertemplate="change point %{text}<br>%{x}<br>confidence %{customdata:.2f}<extra></extra>"))
    name = f"{variable}: " if variable else ""
    cp = f", {changes} change point{'s' if changes != 1 else ''}" if change_points is not None else ""
    fig.update_layout(title=f"{name}{len(hits):,} anomalies of {len(result):,} points{cp}", xaxis_title="timestamp",
                      yaxis_title=variable or "value", legend=dict(orientation="h", y=-0.18, x=0, traceorder="normal"),
                      **_LAYOUT)
    fig.update_layout(margin=dict(b=90))
    return fig


# ---------------------------------------------------------------- building blocks


def _values_and_filled(data, filled, name: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The frame to plot and its filled-cell mask: from a ``PreparedData`` (``frame`` + ``history.observed``)
    or a frame with an optional ``filled`` mask."""
    if not isinstance(data, pd.DataFrame) and hasattr(data, "frame") and hasattr(data, "history"):
        frame = data.frame
        if filled is None:
            history = data.history
            filled = pd.DataFrame(~np.asarray(history.observed, dtype=bool), index=history.frame.index,
                                  columns=history.frame.columns).reindex(frame.index, fill_value=False)
    else:
        frame = data
    _require_frame(frame, name)
    frame = _time_indexed(frame, name)
    if filled is not None:
        _require_frame(filled, "filled")
        filled = _time_indexed(filled, "filled").reindex(index=frame.index, columns=frame.columns, fill_value=False).astype(bool)
    return frame, filled


def _time_indexed(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """``frame`` on a UTC DatetimeIndex by the one timestamp rule (ISO text as ``read_csv(..., index_col=
    "timestamp")`` leaves it, naive datetimes as UTC), or with its ``timestamp`` column as the index."""
    if "timestamp" in frame.columns and not isinstance(frame.index, pd.DatetimeIndex):
        frame = frame.set_index("timestamp")
    try:
        return frame.set_axis(parse_timestamps(frame.index).rename(frame.index.name), axis=0)
    except ValidationError as bad:
        raise ValidationError(bad.code, f"{name}: the index is not timestamps: {bad.message}", row=bad.row) from None


def _ranked_variables(frame, contributions, mask, count: int) -> list:
    """The ``count`` variables to show: the largest mean contribution over flagged rows first, if known."""
    if contributions is None or not mask.any():
        return list(frame.columns[:count])
    mean = contributions.loc[mask.to_numpy() if hasattr(mask, "to_numpy") else mask].mean().reindex(frame.columns)
    return list(mean.fillna(0.0).sort_values(ascending=False, kind="stable").index[:count])


def _score_panel(fig, scores, mask, threshold, max_points: int, panels: int, *, colorbar: bool = True,
                 release: float | None = None) -> None:
    rows = _thin(len(scores), max_points)
    fig.add_trace(go.Scatter(x=scores.index[rows], y=scores["score"].to_numpy()[rows], mode="lines", name="score",
                             line=dict(width=1, color="#7f7f7f")), row=1, col=1)
    hits = scores[np.asarray(mask, dtype=bool)]
    share = 3 / (3 + 1.4 * (panels - 1)) if panels > 1 else 1.0
    marker = dict(color=hits["severity"], colorscale=SEVERITY_COLORSCALE, cmin=0.0, cmax=1.0, size=8,
                  line=dict(width=0.5, color="#444"), showscale=colorbar,
                  colorbar=dict(title="severity", len=0.9 * share, y=1 - share / 2, yanchor="middle", x=1.01))
    fig.add_trace(go.Scatter(x=hits.index, y=hits["score"], mode="markers", name="anomalies", marker=marker,
                             customdata=hits["severity"],
                             hovertemplate="%{x}<br>score %{y:.3f}<br>severity %{customdata:.2f}<extra></extra>"),
                  row=1, col=1)
    if threshold is not None and np.isfinite(threshold) and len(scores):
        fig.add_trace(go.Scatter(x=[scores.index[0], scores.index[-1]], y=[threshold, threshold], mode="lines",
                                 name=f"threshold {threshold:.3g}", legendgroup="threshold",
                                 line=dict(color=THRESHOLD_COLOR, dash="dash", width=1.5),
                                 hovertemplate=f"threshold {threshold:.4g}<extra></extra>"), row=1, col=1)
    if release is not None and np.isfinite(release) and len(scores):
        fig.add_trace(go.Scatter(x=[scores.index[0], scores.index[-1]], y=[release, release], mode="lines",
                                 name=f"events go on above {release:.3g}", legendgroup="release",
                                 line=dict(color=THRESHOLD_COLOR, dash="dot", width=1),
                                 hovertemplate=f"a flagged event goes on above {release:.4g}<extra></extra>"),
                      row=1, col=1)
    fig.update_yaxes(title_text="score", row=1, col=1)


def _variable_panels(fig, frame, filled, columns, first_row: int, max_points: int, *, titles: bool = True) -> None:
    rows = _thin(len(frame), max_points)
    legend_shown = False
    for k, column in enumerate(columns):
        row = first_row + k
        fig.add_trace(go.Scatter(x=frame.index[rows], y=frame[column].to_numpy()[rows], mode="lines",
                                 name=str(column), line=dict(width=1, color="#1f4e79"), showlegend=False),
                      row=row, col=1)
        if filled is not None:
            where = np.flatnonzero(filled[column].to_numpy())
            where = where[_thin(len(where), max_points)] if len(where) else where
            if len(where):
                fig.add_trace(go.Scatter(x=frame.index[where], y=frame[column].to_numpy()[where], mode="markers",
                                         name="filled (filledNA)", legendgroup="filled", showlegend=not legend_shown,
                                         marker=dict(symbol="x", size=5, color=FILLED_COLOR)), row=row, col=1)
                legend_shown = True
        if titles:
            fig.update_yaxes(title_text=_short(str(column)), title_font=dict(size=11), row=row, col=1)


def _shade(fig, episodes) -> None:
    """One shaded band per episode across every panel (paper-high rectangles on the shared x axis)."""
    for episode in (episodes.itertuples(index=False) if episodes is not None else ()):
        end = episode.end if episode.end > episode.start else episode.start + pd.Timedelta(seconds=30)
        fig.add_shape(type="rect", xref="x", yref="paper", x0=episode.start, x1=end, y0=0, y1=1,
                      fillcolor=EPISODE_FILL, line_width=0, layer="below")


def _scale_buttons(axis: str, log: bool = False) -> dict:
    """Buttons that switch ``axis`` between linear and log scale (they work in HTML exports too)."""
    return dict(type="buttons", direction="left", x=1.0, xanchor="right", y=1.02, yanchor="bottom",
                showactive=True, active=1 if log else 0, pad=dict(r=2, t=2), font=dict(size=11),
                buttons=[dict(label="linear", method="relayout", args=[{f"{axis}.type": "linear"}]),
                         dict(label="log", method="relayout", args=[{f"{axis}.type": "log"}])])


def _threshold_note(threshold) -> str:
    return f"; threshold {threshold:.3g}" if threshold is not None and np.isfinite(threshold) else ""


def _filled_note(filled, columns) -> str:
    if filled is None:
        return ""
    count = int(filled[columns].to_numpy().sum())
    return f"; {count:,} filled points marked" if count else "; no filled point"


def _short(text: str, width: int = 14) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


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
