"""The fleet page: an entity x time heat map of severity, and one entity's timeline, episodes and contributors.

``severity_matrix`` bins each entity's stored severities on a shared time axis (the peak per bin), rows in
the report's order (what needs attention first); ``heatmap_figure`` draws it.  ``FleetPage`` is the
Voila/JupyterLab widget: choose a fleet and an entity, and the entity's figures come from
:mod:`workbench.viz` over its newest batch result.
"""
from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from workbench import viz
from workbench.mvad.inference import Detections
from workbench.postprocess import group_episodes

MAX_BINS = 240


def severity_matrix(detections: Mapping[str, Detections | None], order: list[str] | None = None, *,
                    bins: int = MAX_BINS) -> pd.DataFrame:
    """Entities x time bins, the peak severity in each bin (NaN where an entity has no scored row)."""
    order = list(order if order is not None else detections)
    frames = {name: d.frame for name, d in detections.items() if d is not None and len(d.frame)}
    if not frames:
        return pd.DataFrame(index=pd.Index(order, name="entity"))
    stamps = frames[next(iter(frames))].index
    for frame in frames.values():
        stamps = stamps.union(frame.index)
    if len(stamps) <= bins:  # one column per timestamp
        edges = stamps.append(pd.DatetimeIndex([stamps[-1] + pd.Timedelta(1, "ns")]))
    else:
        edges = pd.date_range(stamps[0], stamps[-1] + pd.Timedelta(1, "ns"), periods=bins + 1)
    columns = edges[:-1]
    matrix = np.full((len(order), len(columns)), np.nan)
    for i, name in enumerate(order):
        frame = frames.get(name)
        if frame is None:
            continue
        valid = frame["valid"].to_numpy(dtype=bool)
        slots = np.clip(np.searchsorted(edges.asi8, frame.index.asi8[valid], side="right") - 1, 0, len(columns) - 1)
        severity = frame["severity"].to_numpy()[valid]
        peak = np.full(len(columns), np.nan)
        np.fmax.at(peak, slots, np.nan_to_num(severity))
        matrix[i] = peak
    return pd.DataFrame(matrix, index=pd.Index(order, name="entity"), columns=columns)


def heatmap_figure(matrix: pd.DataFrame, *, title: str = "Fleet severity") -> viz.ReportFigure:
    """Entities (rows, first on top) x time (columns), coloured by severity 0..1; grey where not scored.

    A :class:`workbench.viz.ReportFigure`, so that the heat map is drawn in HTML reports too.
    """
    fig = viz.ReportFigure(go.Heatmap(
        z=matrix.to_numpy(), x=list(matrix.columns), y=[str(e) for e in matrix.index], zmin=0, zmax=1,
        colorscale=viz.SEVERITY_COLORSCALE, colorbar={"title": "severity"}, hoverongaps=False,
        hovertemplate="%{y}<br>%{x}<br>severity %{z:.2f}<extra></extra>",
    ))
    fig.update_layout(title=title, height=160 + 22 * max(1, len(matrix)), plot_bgcolor="#eeeeee",
                      yaxis={"autorange": "reversed", "title": "entity"}, xaxis={"title": "time"}, **viz._LAYOUT)
    return fig


def entity_figures(detections: Detections, *, min_severity: float = 0.0, merge_gap: int = 3,
                   top_k: int = 5) -> dict[str, Any]:
    """One entity: the timeline (threshold drawn, episodes shaded), its episodes table and the contributors of its
    anomalies."""
    episodes = group_episodes(detections.frame, detections.contributions, min_severity=min_severity,
                              merge_gap=merge_gap, top_k=top_k)
    flagged = detections.frame["is_anomaly"].to_numpy(dtype=bool)
    weights = detections.contributions[flagged].mean().fillna(0.0).sort_values(ascending=False).head(top_k)
    timeline = viz.timeline_figure(detections.frame, episodes=episodes, min_severity=min_severity,
                                   threshold=detections.threshold, release=detections.release)
    return {"timeline": timeline,
            "episodes": viz.episodes_table(episodes),
            "contributors": viz.contributors_figure(weights, title="Mean contribution over the anomalies"),
            "episode_count": len(episodes)}


def report_table(report: pd.DataFrame) -> pd.DataFrame:
    """The report's columns for reading: severities to 2 places, times to the second, ids and messages left out."""
    table = report[["entity", "attention", "status", "anomalies", "episodes", "latest_severity", "peak_severity",
                    "last_anomaly", "top_contributors", "error_code"]].copy()
    for column in ("latest_severity", "peak_severity"):
        table[column] = table[column].astype(float).round(2)
    table["last_anomaly"] = [t.strftime("%Y-%m-%d %H:%M:%S") if isinstance(t, pd.Timestamp) else ""
                             for t in table["last_anomaly"]]
    return table.fillna("")


class FleetPage:
    """Choose a fleet and one of its entities: the heat map and report on top, the entity's figures below."""

    def __init__(self, home: str | None = None, *, fleet: str = "", entity: str = "", recent: int = 10) -> None:
        import ipywidgets as w

        from workbench.fleet.api import fleet_names

        self.home, self.recent = home or None, recent
        names = fleet_names(home=self.home)
        self.fleet = w.Dropdown(options=names, description="fleet").add_class("wb-fleet")
        self.entity = w.Dropdown(description="entity").add_class("wb-entity")
        self.overview = w.Output().add_class("wb-fleet-overview")
        self.detail = w.Output().add_class("wb-fleet-entity")
        self.report: pd.DataFrame | None = None
        self.matrix: pd.DataFrame | None = None
        self._root = w.VBox([self.fleet, self.overview, self.entity, self.detail]).add_class("wb-fleet-page")
        if not names:
            self._root.children = [w.HTML("<p class='wb-empty'>No fleet in this registry yet: run "
                                          "<code>workbench fleet train</code> and <code>fleet detect</code>, or "
                                          "<code>notebooks/06_fleet.ipynb</code>.</p>")]
            return
        self.fleet.value = fleet or names[0]
        self._open_fleet(entity)
        self.fleet.observe(lambda change: self._open_fleet(""), names="value")
        self.entity.observe(lambda change: self._open_entity(change["new"]), names="value")

    def _open_fleet(self, entity: str) -> None:
        from workbench.fleet.api import fleet_detections, fleet_report

        self.report = fleet_report(self.fleet.value, home=self.home, recent=self.recent)
        order = self.report["entity"].tolist()
        self.detections = fleet_detections(self.fleet.value, home=self.home)
        self.matrix = severity_matrix(self.detections, order)
        _show(self.overview, heatmap_figure(self.matrix, title=f"Fleet '{self.fleet.value}': severity"),
              report_table(self.report))
        self.entity.options = order
        self.entity.value = entity or order[0]
        self._open_entity(self.entity.value)

    def _open_entity(self, name: str) -> None:
        detections = self.detections.get(name)
        if detections is None:
            row = self.report.set_index("entity").loc[name]
            _show(self.detail, f"<p>{html.escape(name)}: {html.escape(str(row['status']))} "
                               f"{html.escape(str(row['error_message'] or 'no batch result yet'))}</p>")
            return
        figures = entity_figures(detections)
        _show(self.detail, figures["timeline"], figures["episodes"], figures["contributors"])

    def state(self) -> dict[str, Any]:
        """What the page shows (for the notebook's summary and tests)."""
        if self.report is None:
            return {"fleet": None, "entities": 0}
        return {"fleet": self.fleet.value, "entities": len(self.report), "entity": self.entity.value,
                "ranking": self.report["entity"].tolist(), "heatmap_shape": list(self.matrix.shape)}

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._root)


def _show(output, *items: Any) -> None:
    """Set an Output widget's content (plotly figures, tables, HTML) through its ``outputs`` state.

    Not ``with output: display(...)``, which can stall papermill runs (jupyter/nbclient#312); the same
    approach as :mod:`workbench.widgets`, which this front door does not import.
    """
    import plotly.io as pio

    shown = []
    for item in items:
        if isinstance(item, go.Figure):
            data = {"application/vnd.plotly.v1+json": json.loads(pio.to_json(item, validate=False)),
                    "text/plain": f"plotly figure: {item.layout.title.text or ''}"}
        elif isinstance(item, pd.DataFrame):   # a named index (the episodes' numbers) is shown as a column
            table = item.reset_index() if item.index.name else item
            data = {"text/html": table.to_html(index=False, na_rep=""), "text/plain": table.to_string(index=False)}
        else:
            data = {"text/html": str(item), "text/plain": str(item)}
        shown.append({"output_type": "display_data", "data": data, "metadata": {}})
    output.outputs = tuple(shown)
