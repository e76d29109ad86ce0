"""ipywidgets controls over cached detection scores: triage without re-running inference.

:class:`ScoreExplorer` puts sliders for the minimum severity, the grouping
(merge gap and minimum duration, in rows) and the number of top contributors
over one :class:`~workbench.mvad.inference.Detections`; every change redraws the
timeline (with the applied threshold), the chosen episode's variables, the
episodes table and the contributors chart from the scores in memory
(``workbench.postprocess``).  :class:`Dashboard` adds a model and a result
picker over a registry, for the Voila dashboard; its layout keeps the score, the
episode's variables, the episodes and the contributors within 1400 x 900.

Both also leave a static snapshot (``text/html``: figures with plotly.js inlined,
the episodes table) beside the live widget, which is what an HTML export of an
executed notebook shows.  Widgets carry CSS classes (``wb-*``) so that browser
tests can find them.
"""
from __future__ import annotations

import html
import json
import os
import re
from typing import Any

import ipywidgets as w
import pandas as pd
import plotly.io as pio

from workbench import viz
from workbench.contracts import MAX_VARIABLES, Model, ModelStatus, format_timestamp
from workbench.exceptions import ErrorCode, ValidationError
from workbench.mvad.inference import Detections
from workbench.postprocess import flagged, group_episodes
from workbench.service import lifecycle
from workbench.service.registry import Registry

MAX_GROUPING_ROWS = 120
MAX_EPISODE_VARIABLES = 3   # raw-value panels beside the score
CHART_HEIGHT = 330          # pixels of the score and episode charts side by side
_TABLE_STYLE = ("<style>.wb-episodes-table{border-collapse:collapse;font-size:12px;width:100%}"
                ".wb-episodes-table th,.wb-episodes-table td{padding:3px 6px;text-align:left;white-space:nowrap}"
                ".wb-episodes-table td:last-child{white-space:normal;min-width:200px}"
                ".wb-episodes-table tbody tr:nth-child(odd){background:#f5f5f5}</style>")


class ScoreExplorer:
    """Severity, grouping and top-contributor controls with a timeline, episodes and contributors view.

    ``values`` (the scored data, a frame or ``PreparedData``; optional) shows
    the raw values of the chosen episode's top contributors beside the score.  ``merge_gap`` and ``min_duration`` are counts of rows here (the
    sliders' unit); ``postprocess.group_episodes`` also accepts durations.
    ``top_k`` above the number of variables shows them all.
    """

    def __init__(self, detections: Detections, *, values=None, min_severity: float = 0.0,
                 merge_gap: int = 0, min_duration: int = 1, top_k: int = 3) -> None:
        if not isinstance(detections, Detections):
            raise ValidationError(ErrorCode.BAD_ARGUMENT,
                                  f"detections must be a Detections object; got {type(detections).__name__}")
        n_variables = max(1, len(detections.variables))
        _check_int(merge_gap, "merge_gap", 0, MAX_GROUPING_ROWS)
        _check_int(min_duration, "min_duration", 1, MAX_GROUPING_ROWS)
        _check_int(top_k, "top_k", 1, MAX_VARIABLES)
        flagged(detections.frame, min_severity)  # validates min_severity
        self.detections = detections
        self.values = values
        self.episodes = pd.DataFrame()
        self._build(float(min_severity), merge_gap, min_duration, min(top_k, n_variables), n_variables)
        self.refresh()

    # ------------------------------------------------------------ public

    @property
    def widget(self) -> w.VBox:
        return self._root

    def settings(self) -> dict[str, Any]:
        """The current control values, as keyword arguments of ``postprocess.group_episodes``."""
        return {"min_severity": round(float(self.severity.value), 4), "merge_gap": int(self.merge_gap.value),
                "min_duration": int(self.min_duration.value), "top_k": int(self.top_k.value)}

    def state(self) -> dict[str, Any]:
        """What the view shows now: the settings, the anomaly count and the episode count."""
        return self.settings() | {"anomalies": self.anomaly_count, "episodes": len(self.episodes)}

    @property
    def anomaly_count(self) -> int:
        return int(flagged(self.detections.frame, self.settings()["min_severity"]).sum())

    def refresh(self, *_: Any) -> None:
        """Recompute episodes from the cached scores and redraw every view."""
        settings = self.settings()
        frame = self.detections.frame
        self.episodes = group_episodes(frame, self.detections.contributions, **settings)
        mask = flagged(frame, settings["min_severity"])
        self.count.value = (f"<b class='wb-count-anomalies'>{int(mask.sum()):,}</b> anomalies &middot; "
                            f"<b class='wb-count-episodes'>{len(self.episodes):,}</b> episodes "
                            f"<span style='color:#777'>(of {len(frame):,} timestamps; {self._step_hint})</span>")
        _show(self.chart, self.timeline())
        self.table.value = _episodes_html(self.episodes)
        self._choosing = True
        try:
            self.picker.options = [(_episode_label(i, e), i) for i, e in enumerate(self.episodes.itertuples())]
            self.picker.value = 0 if len(self.episodes) else None
        finally:
            self._choosing = False
        self._draw_contributors()

    def timeline(self) -> viz.ReportFigure:
        """The score over time at the current settings: threshold, anomalies by severity, episodes shaded."""
        figure = viz.timeline_figure(self.detections.frame, min_severity=self.settings()["min_severity"],
                                     episodes=self.episodes, threshold=self.detections.threshold,
                                     release=self.detections.release)
        # no title (the count above says it); the legend under the axis, where it may wrap at any width without
        # running into the title or the scale buttons
        figure.update_layout(height=CHART_HEIGHT, title_text="", margin=dict(l=60, r=10, t=40, b=95),
                             legend=dict(orientation="h", x=0, xanchor="left", y=-0.3, yanchor="top"))
        return figure

    def episode_view(self) -> viz.ReportFigure | str:
        """The chosen episode's top contributors, their raw values around it (or a note saying why not)."""
        choice = self.picker.value
        if choice is None or choice >= len(self.episodes):
            return "<i>No episode at these settings.</i>"
        if self.values is None:
            return "<i>Raw values not available (give <code>values=</code>).</i>"
        episode = self.episodes.iloc[choice]
        figure = viz.episode_figure(self.values, episode, top=MAX_EPISODE_VARIABLES)
        figure.update_layout(height=CHART_HEIGHT, margin=dict(l=50, r=10, t=70, b=30), title_font_size=14,
                             title=f"Episode {choice + 1}: raw values of its top contributors")
        figure.update_annotations(font_size=12)
        return figure

    def snapshot_html(self) -> str:
        """A static copy of the view (figures with plotly.js, episodes table) for exports without widgets."""
        parts = [f"<div class='wb-snapshot'><p>{self.count.value}</p>", viz.figure_html(self.timeline())]
        view = self.episode_view()
        parts.append(view if isinstance(view, str) else viz.figure_html(view))
        parts.append("<h4>Episodes</h4>" + _episodes_html(self.episodes, max_height=None))
        return "".join(parts) + "</div>"

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs: Any) -> dict[str, Any]:
        return _with_snapshot(self._root, self.snapshot_html)

    # ------------------------------------------------------------ building

    def _build(self, min_severity: float, merge_gap: int, min_duration: int, top_k: int, n_variables: int) -> None:
        style = {"description_width": "110px"}
        layout = w.Layout(width="320px")
        self.severity = w.FloatSlider(value=min_severity, min=0.0, max=1.0, step=0.01, description="min severity",
                                      continuous_update=False, readout_format=".2f", style=style, layout=layout)
        self.merge_gap = w.IntSlider(value=merge_gap, min=0, max=MAX_GROUPING_ROWS, description="merge gap",
                                     continuous_update=False, style=style, layout=layout)
        self.min_duration = w.IntSlider(value=min_duration, min=1, max=MAX_GROUPING_ROWS, description="min duration",
                                        continuous_update=False, style=style, layout=layout)
        self.top_k = w.IntSlider(value=top_k, min=1, max=n_variables, description="top contributors",
                                 continuous_update=False, style=style, layout=layout)
        for control, name in ((self.severity, "severity"), (self.merge_gap, "merge-gap"),
                              (self.min_duration, "min-duration"), (self.top_k, "top-k")):
            control.add_class(f"wb-{name}")
            control.observe(self.refresh, names="value")
        self.count = w.HTML().add_class("wb-anomaly-count")
        self.chart = w.Output(layout=w.Layout(flex="3 1 0", min_width="0")).add_class("wb-timeline")
        self.episode_values = w.Output(layout=w.Layout(flex="2 1 0", min_width="0")).add_class("wb-episode-values")
        self.table = w.HTML().add_class("wb-episodes")
        self.picker = w.Dropdown(description="episode", style={"description_width": "60px"},
                                 layout=w.Layout(width="98%")).add_class("wb-episode")
        self.picker.observe(self._on_pick, names="value")
        self.contributors = w.Output().add_class("wb-contributors")
        self._choosing = False
        self._step_hint = _step_hint(self.detections.frame.index)
        controls = w.HBox([self.severity, self.merge_gap, self.min_duration, self.top_k],
                          layout=w.Layout(flex_flow="row wrap"))
        header = "<div style='font-weight:600;margin:2px 0'>{}</div>"
        episodes = w.VBox([w.HTML(header.format("Episodes")), self.table],
                          layout=w.Layout(flex="3 1 0", min_width="0"))
        contributors = w.VBox([w.HTML(header.format("Contributors of the chosen episode")), self.picker,
                               self.contributors], layout=w.Layout(flex="2 1 0", min_width="0"))
        self._root = w.VBox([controls, self.count, w.HBox([self.chart, self.episode_values]),
                             w.HBox([episodes, contributors])]).add_class("wb-explorer")

    def _on_pick(self, change: dict) -> None:
        if not self._choosing:
            self._draw_contributors()

    def _draw_contributors(self) -> None:
        _show(self.episode_values, self.episode_view())
        choice = self.picker.value
        if choice is None or choice >= len(self.episodes):
            _show(self.contributors, "<i>No episode at these settings.</i>")
            return
        episode = self.episodes.iloc[choice]
        title = f"Episode {choice + 1}: mean contribution, {episode['points']} anomalies"
        figure = viz.contributors_figure(episode["top_contributors"], title=title)
        figure.update_layout(margin=dict(l=130, r=20, t=40, b=35), title_font_size=13)
        _show(self.contributors, figure)


class Dashboard:
    """Pick a model and a READY batch-detection result of a registry, then explore its cached scores.

    ``model_id``/``result_id`` preselect (a result implies its model; a model id may be any unique prefix,
    as in the CLI); empty picks the newest.  The explorer's settings carry over when the result changes.
    """

    def __init__(self, registry: Registry | None = None, *, model_id: str = "", result_id: str = "",
                 **explorer_settings: Any) -> None:
        self.registry = registry or Registry()
        self._settings = explorer_settings
        self.explorer: ScoreExplorer | None = None
        self.result_id: str | None = None
        self._choices = self._ready_results()
        if result_id:
            lifecycle.require_ready_result(self.registry.get_result(result_id))
            model_id = self.registry.result_model_id(result_id)
        elif model_id:
            model_id = self.registry.resolve_model_id(model_id)
        if model_id and model_id not in self._choices:
            raise ValidationError(ErrorCode.BAD_ARGUMENT, f"model '{model_id}' has no READY batch-detection result")
        self.model = w.Dropdown(description="model", style={"description_width": "45px"},
                                layout=w.Layout(width="440px")).add_class("wb-model")
        self.result = w.Dropdown(description="result", style={"description_width": "45px"},
                                 layout=w.Layout(flex="1 1 auto", min_width="600px")).add_class("wb-result")
        self.body = w.VBox().add_class("wb-body")
        self._root = w.VBox([w.HBox([self.model, self.result]), self.body]).add_class("wb-dashboard")
        self.model.options = [(label, mid) for mid, (label, _) in self._choices.items()]
        if not self._choices:
            self.body.children = [w.HTML(
                f"<p class='wb-empty'>No READY batch-detection result in <code>{html.escape(str(self.registry.home))}"
                "</code>. Run <code>notebooks/04_inference.ipynb</code> (or <code>workbench detect</code>) first.</p>")]
            return
        self.model.value = model_id or next(iter(self._choices))
        self._fill_results(result_id)
        self.model.observe(lambda change: self._fill_results(""), names="value")
        self.result.observe(lambda change: self._open(change["new"]), names="value")

    @property
    def widget(self) -> w.VBox:
        return self._root

    def state(self) -> dict[str, Any]:
        """The chosen model and result, how many there are, and the explorer's state."""
        return {"models": len(self._choices), "results": sum(len(r) for _, r in self._choices.values()),
                "modelId": self.model.value, "resultId": self.result_id,
                **(self.explorer.state() if self.explorer else {})}

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs: Any) -> dict[str, Any]:
        return _with_snapshot(self._root, lambda: self.explorer.snapshot_html() if self.explorer else
                              self.body.children[0].value if self.body.children else "")

    def _ready_results(self) -> dict[str, tuple[str, list[tuple[str, str]]]]:
        """READY models that have READY results: id -> (label, [(result label, result id)]), newest first."""
        models, _ = self.registry.list_models(0, max(1, self.registry.count_models()))
        choices = {}
        for model in models:
            if not model.model_info.is_ready:
                continue
            results = [r for r in self.registry.list_results(model.model_id)
                       if r["status"] == ModelStatus.READY.value]
            if results:
                choices[model.model_id] = (_model_label(model), [(self._result_label(r), r["resultId"])
                                                                 for r in results])
        return choices

    def _result_label(self, row: dict[str, str]) -> str:
        setup = self.registry.get_result(row["resultId"]).summary.setup_info
        start, end = (setup.start_time, setup.end_time) if setup else (None, None)
        span = f"{_short_time(start) or 'start'} to {_short_time(end) or 'end'}"
        return f"{span} | run {_short_time(row['createdTime'])} | {row['resultId'][:8]}"

    def _fill_results(self, result_id: str) -> None:
        options = self._choices[self.model.value][1]
        self.result.options = options
        chosen = result_id or options[0][1]
        self.result.value = chosen
        self._open(chosen)  # no-op when the value observer already opened it

    def _open(self, result_id: str | None) -> None:
        from workbench.service.batch import load_detections

        if result_id is None or result_id == self.result_id:
            return
        if self.explorer is not None:
            self._settings = self.explorer.settings()
        self.result_id = result_id
        self.explorer = ScoreExplorer(load_detections(self.registry, result_id), values=self._values(result_id),
                                      **self._settings)
        self.body.children = [self.explorer.widget]

    def _values(self, result_id: str):
        """The data the result scored, for the episode's raw values; ``None`` if it cannot be read any more."""
        from workbench.exceptions import WorkbenchError
        from workbench.notebooks.helpers import result_data

        try:
            return result_data(self.registry, result_id)
        except (WorkbenchError, KeyError, OSError):
            return None


def _show(output: w.Output, shown: Any) -> None:
    """Replace an Output widget's content (a plotly figure or an HTML string) by setting its ``outputs`` state.

    Not ``with output: display(...)``: under papermill, nbclient mimics the
    front end of Output widgets captured that way and writes to the shell
    channel while it waits for the execute reply, which can stall the run
    (jupyter/nbclient#312).  Setting the state works in JupyterLab and Voila alike.
    """
    if isinstance(shown, str):
        data = {"text/html": shown, "text/plain": html.unescape(re.sub(r"<[^>]+>", "", shown))}
    else:  # what plotly's mimetype renderer sends; JupyterLab and Voila draw it with their plotly extension
        data = {"application/vnd.plotly.v1+json": json.loads(pio.to_json(shown, validate=False)),
                "text/plain": f"plotly figure: {shown.layout.title.text or ''}"}
    output.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)


def _with_snapshot(widget: w.Widget, snapshot) -> dict[str, Any]:
    """The widget's mime bundle plus a static ``text/html`` snapshot: live front ends show the widget, an HTML
    export without widget state (``workbench notebooks run`` stores none) shows the snapshot.  Under Voila
    (which sets ``VOILA_KERNEL_ID``) nothing is exported, so the snapshot (plotly.js included) is not sent."""
    bundle = dict(widget._repr_mimebundle_() or {})
    if "VOILA_KERNEL_ID" not in os.environ:
        bundle["text/html"] = snapshot()
    return bundle


def _short_time(value) -> str:
    """A timestamp (or its ISO text, ``2021-01-04T12:00:00Z``) as ``2021-01-04 12:00`` (UTC)."""
    if value is None or value == "":
        return ""
    text = value if isinstance(value, str) else format_timestamp(value)
    return text.replace("T", " ").rstrip("Z")[:16]


def _episodes_html(episodes: pd.DataFrame, max_height: int | None = 230) -> str:
    if episodes.empty:
        return "<p><i>No episode at these settings.</i></p>"
    table = viz.episodes_table(episodes).drop(columns=["mean severity"])   # numbered from 1, as the picker
    scroll = f"max-height:{max_height}px;overflow:auto" if max_height else ""
    return _TABLE_STYLE + (f"<div style='{scroll}'>"
                           + table.reset_index().to_html(classes="wb-episodes-table", border=0, escape=True,
                                                         index=False) + "</div>")


def _episode_label(i: int, episode) -> str:
    return f"{i + 1}: {episode.start:%Y-%m-%d %H:%M} ({episode.points} pts, peak {episode.peak_severity:.2f})"


def _model_label(model: Model) -> str:
    info = model.model_info
    name = info.display_name or model.model_id[:8]
    return f"{name} | {model.created_time} | window {info.sliding_window}"


def _step_hint(index: pd.Index) -> str:
    if len(index) < 2:
        return "grouping in rows"
    step = pd.Series(index[1:] - index[:-1]).median()
    return f"grouping in rows; 1 row = {viz.duration_text(step)}"


def _check_int(value, name: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"{name} must be an integer in [{low}, {high}]; got {value!r}")
