"""Short human summaries of the v1.1 bodies the ``workbench`` command prints (``--json`` prints the bodies).

Each ``*_text`` function takes the JSON body a subcommand returns and gives a few lines a person reads
at a terminal: what happened, the counts that matter, the errors, and where the full body is.
"""
from __future__ import annotations

from typing import Any, Iterable

from workbench.contracts import DetectionResult, Model, format_timestamp
from workbench.timegrid import duration_text

TOP_ROWS = 5  # anomalies / points listed in a summary
RUN_GAP = 3  # univariate summaries: anomalies this few points apart are listed as one stretch


def prepare_text(body: dict[str, Any], output: str | None = None) -> str:
    """``prepare``: the range, the variables, the highest filledNARatio and the gaps where every variable is
    missing (the warnings went to stderr as ``DataWarning``)."""
    states = body.get("variableStates") or []
    names = [s["variable"] for s in states]
    lines = [f"{body['timestamps']:,} timestamps {body['firstTimestamp']} .. {body['lastTimestamp']}, "
             f"{len(body['variables'])} variables ({_names(body['variables'])})"]
    filled = [s for s in states if s.get("filledNARatio")]
    if filled:
        worst = max(filled, key=lambda s: s["filledNARatio"])
        lines.append(f"  filled values in {len(filled)} of {len(names)} variables; highest filledNARatio "
                     f"{worst['filledNARatio']:.3f} ({worst['variable']})")
    else:
        lines.append("  no value filled (filledNARatio 0 for every variable)")
    gaps = body.get("gaps") or []
    if gaps:
        longest = max(gaps, key=lambda g: g["timestamps"])
        how = "filled" if all(g["filled"] for g in gaps) else "not filled"
        lines.append(f"  {len(gaps)} gap{'s' if len(gaps) > 1 else ''} where every variable is missing, "
                     f"{sum(g['timestamps'] for g in gaps):,} timestamps ({how}); the longest "
                     f"{duration_text(longest['seconds'] * 10**9)}, {longest['start']} .. {longest['end']}")
    lines.append(f"  aligned table: {output}" if output else "  variableStates and gaps: --json; the aligned "
                                                             "table: --output FILE")
    return "\n".join(lines)


def model_text(document: dict[str, Any], *, errors: bool = True) -> str:
    """A model: id, status, data, training losses, filled gaps and (``errors``) its errors."""
    model = Model.from_json(document)
    info = model.model_info
    name = f" ({info.display_name})" if info.display_name else ""
    lines = [f"model {model.model_id} {info.status.value}{name}",
             f"  data: {info.data_source} ({info.data_schema.value}), {_span(info.start_time, info.end_time)}, "
             f"slidingWindow {info.sliding_window}"]
    states = info.diagnostics_info.variable_states
    if states:
        worst = max(states, key=lambda s: s.filled_na_ratio)
        lines.append(f"  variables: {len(states)} ({_names(s.variable for s in states)}); "
                     f"{states[0].effective_count} timestamps; highest filledNARatio "
                     f"{worst.filled_na_ratio:.3f} ({worst.variable})")
    model_state = info.diagnostics_info.model_state
    if model_state.epoch_ids:
        lines.append(f"  epoch {model_state.epoch_ids[-1]}: train loss {_number(model_state.train_losses[-1])}, "
                     f"validation loss {_number(model_state.validation_losses[-1])}")
    lines += _errors(e.to_json() for e in info.errors) if errors else []
    return "\n".join(lines)


def models_table(page: dict[str, Any]) -> str:
    """``models list`` as a table, short ids (any unique prefix works in every command)."""
    rows = [("ID", "STATUS", "UPDATED", "VARIABLES", "WINDOW", "NAME")]
    models = [Model.from_json(document) for document in page.get("models", [])]
    for model in models:
        info = model.model_info
        count = len(info.diagnostics_info.variable_states)
        rows.append((model.model_id[:8], info.status.value, model.last_updated_time, str(count) if count else "-",
                     str(info.sliding_window), info.display_name))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    shown, total = len(models), page.get("currentCount", 0)
    if not shown:
        out = ["no models" + (f" on this page ({total} in all)" if total else "")]
    elif shown < total:
        out.append(f"{shown} of {total} models (--skip/--top for more)")
    return "\n".join(out)


def detection_text(result: dict[str, Any], output: str | None = None, *, errors: bool = True) -> str:
    """A batch detection: status, range, anomaly count, the most severe anomalies and their contributors."""
    summary = DetectionResult.from_json(result).summary
    lines = [f"result {result.get('resultId', '?')} {summary.status.value}"]
    results = result.get("results") or []  # the per-timestamp rows, as the v1.1 body has them
    if results:
        anomalies = [r for r in results if (r.get("value") or {}).get("isAnomaly")]
        share = 100.0 * len(anomalies) / len(results)
        lines.append(f"  {results[0]['timestamp']} .. {results[-1]['timestamp']}: {len(results)} timestamps, "
                     f"{len(anomalies)} anomalies ({share:.1f}%)")
        top = sorted(anomalies, key=lambda r: -(r["value"].get("severity") or 0))[:TOP_ROWS]
        if top:
            lines.append("  most severe:")
            lines += [f"    {_anomaly(r)}" for r in top]
    elif summary.setup_info and (summary.setup_info.start_time or summary.setup_info.end_time):
        lines.append(f"  {_span(summary.setup_info.start_time, summary.setup_info.end_time)}")
    lines += _errors(e.to_json() for e in summary.errors) if errors else []
    lines.append(f"  full result: {output}" if output else "  full result: --json, or --output FILE")
    return "\n".join(lines)


def last_detection_text(result: dict[str, Any]) -> str:
    """detect-last: the verdict on the latest timestamp."""
    lines = [_anomaly(r, verdict=True) for r in result.get("results") or []]
    states = result.get("variableStates") or []
    if states:
        worst = max(states, key=lambda s: s.get("filledNARatio") or 0)
        lines.append(f"  {len(states)} variables; highest filledNARatio {worst.get('filledNARatio', 0):.3f} "
                     f"({worst['variable']})")
    return "\n".join(lines or ["no result"])


def univariate_text(kind: str, body: dict[str, Any], timestamps: list[str] | None = None) -> str:
    """entire / last / changepoint responses in a few lines: what was found and when (the request's
    ``timestamps``, one per point; positions when the series has none).  Anomalies at most RUN_GAP
    points apart make one line, from the first to the last."""
    period = f"period {body.get('period', '?')}"
    if kind == "last":
        verdict = "an anomaly" if body.get("isAnomaly") else "not an anomaly"
        when = f" ({timestamps[-1]})" if timestamps else ""
        return (f"the last point{when} is {verdict} (severity {_number(body.get('severity'))}); expected "
                f"{_number(body.get('expectedValue'))} within -{_number(body.get('lowerMargin'))}/"
                f"+{_number(body.get('upperMargin'))}; {period}, suggested window {body.get('suggestedWindow', '?')}")
    changes = kind == "changepoint"
    flags = body.get("isChangePoint" if changes else "isAnomaly") or []
    hits = [i for i, flag in enumerate(flags) if flag]
    what = ("change point" if changes else "anomaly") if len(hits) == 1 else ("change points" if changes else "anomalies")
    head = f"{len(hits)} {what} in {len(flags)} points ({period})"
    if not hits:
        return head
    named = timestamps is not None and len(timestamps) == len(flags)
    where = (lambda i: timestamps[i]) if named else (lambda i: f"position {i}")
    runs = [[hits[0], hits[0]]]
    for i in hits[1:]:
        if i - runs[-1][1] <= RUN_GAP + 1 and not changes:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    lines = [head + ":"]
    for first, last in runs[:TOP_ROWS * 4]:
        if changes:
            lines.append(f"  {where(first)}  confidence {_number(_at(body.get('confidenceScores'), first))}")
            continue
        inside = [i for i in range(first, last + 1) if flags[i]]
        sides = {"above" if _at(body.get("isPositiveAnomaly"), i) else "below" for i in inside}
        severity = max((_at(body.get("severity"), i) or 0.0) for i in inside)
        side = " and ".join(sorted(sides))
        if first == last:
            lines.append(f"  {where(first)}  {side} expected {_number(_at(body.get('expectedValues'), first))}, "
                         f"severity {_number(severity)}")
        else:
            count = f"{len(inside)} of {last - first + 1}" if len(inside) < last - first + 1 else f"{len(inside)}"
            lines.append(f"  {where(first)} .. {where(last)}  {count} points {side} expected, "
                         f"severity up to {_number(severity)}")
    if len(runs) > TOP_ROWS * 4:
        lines.append(f"  ... {len(runs) - TOP_ROWS * 4} more (--json for all)")
    return "\n".join(lines)


def _at(values: Any, i: int) -> Any:
    return values[i] if isinstance(values, list) and i < len(values) else None


def _anomaly(row: dict[str, Any], *, verdict: bool = False) -> str:
    value = row.get("value") or {}
    head = row.get("timestamp", "?")
    if verdict:
        head += ": anomaly" if value.get("isAnomaly") else ": no anomaly"
    parts = [head, f"severity {_number(value.get('severity'))}", f"score {_number(value.get('score'))}"]
    contributors = value.get("interpretation") or []
    if contributors:
        parts.append("contributors " + ", ".join(f"{c['variable']} {_number(c.get('contributionScore'))}"
                                                 for c in contributors[:3]))
    parts += [f"[{e.get('code')}] {e.get('message')}" for e in row.get("errors") or []]
    return "  ".join(parts)


def _span(start, end) -> str:
    """A time range in words; ``start``/``end`` are timestamps or ISO strings (None: open)."""
    def text(ts, open_end: str) -> str:
        return open_end if ts is None else ts if isinstance(ts, str) else format_timestamp(ts)
    return f"{text(start, 'the start')} .. {text(end, 'the end')}" if start is not None or end is not None \
        else "all timestamps"


def _errors(errors: Iterable[dict[str, Any]] | None) -> list[str]:
    return [f"  error [{e.get('code')}] {e.get('message')}" for e in errors or []]


def _names(names: Iterable[str], limit: int = 6) -> str:
    names = list(names)
    return ", ".join(names) if len(names) <= limit else ", ".join(names[:3]) + f", ..., {names[-1]}"


def _number(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if isinstance(value, float) else str(value)
