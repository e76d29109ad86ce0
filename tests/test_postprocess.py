"""Severity filtering and episode grouping: gaps, single points, anomalies at the start and the end."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.exceptions import ValidationError
from workbench.postprocess import episodes_to_json, filter_by_severity, group_episodes


def _scores(flags: str, severities=None):
    """A frame from a pattern like '..XX.X': X is an anomaly (severity 0.5 unless given)."""
    n = len(flags)
    index = pd.date_range("2021-01-01", periods=n, freq="min", tz="UTC", name="timestamp")
    is_anomaly = np.array([c == "X" for c in flags])
    severity = np.where(is_anomaly, 0.5, 0.0) if severities is None else np.asarray(severities, dtype=float)
    frame = pd.DataFrame({"is_anomaly": is_anomaly, "severity": severity}, index=index)
    contributions = pd.DataFrame({"a": np.full(n, 0.7), "b": np.full(n, 0.2), "c": np.full(n, 0.1)}, index=index)
    return frame, contributions


def test_groups_runs_and_reports_their_figures():
    frame, contributions = _scores("..XXX...X.")
    episodes = group_episodes(frame, contributions, top_k=2)
    assert len(episodes) == 2
    first = episodes.iloc[0]
    assert first.start == frame.index[2] and first.end == frame.index[4]
    assert first.duration == pd.Timedelta(minutes=2) and first.points == 3
    assert first.top_contributors == [("a", pytest.approx(0.7)), ("b", pytest.approx(0.2))]


def test_merge_gap_in_rows_and_in_time():
    frame, _ = _scores("XX..XX...X")
    assert len(group_episodes(frame)) == 3
    assert len(group_episodes(frame, merge_gap=2)) == 2      # a 2-row gap merges, a 3-row gap does not
    assert len(group_episodes(frame, merge_gap=3)) == 1
    assert len(group_episodes(frame, merge_gap="3min")) == 2  # 3 minutes between the 2nd and 5th row
    assert len(group_episodes(frame, merge_gap="4min")) == 1


def test_min_duration_drops_single_points():
    frame, _ = _scores("X...XXX..X")
    assert len(group_episodes(frame)) == 3
    kept = group_episodes(frame, min_duration=2)
    assert len(kept) == 1 and kept.iloc[0].points == 3
    assert len(group_episodes(frame, min_duration="2min")) == 1


def test_anomalies_at_the_start_and_end_of_the_series():
    frame, _ = _scores("XX......XX")
    episodes = group_episodes(frame)
    assert episodes.iloc[0].start == frame.index[0]
    assert episodes.iloc[-1].end == frame.index[-1]


def test_min_severity_filters_before_grouping():
    frame, _ = _scores("XXXXX", severities=[0.1, 0.9, 0.1, 0.8, 0.1])
    assert len(filter_by_severity(frame, 0.5)) == 2
    episodes = group_episodes(frame, min_severity=0.5)
    assert len(episodes) == 2 and episodes.peak_severity.tolist() == [0.9, 0.8]
    merged = group_episodes(frame, min_severity=0.5, merge_gap=1)
    assert len(merged) == 1 and merged.iloc[0].mean_severity == pytest.approx(0.85)


def test_no_anomaly_gives_an_empty_table_with_columns():
    frame, _ = _scores("....")
    episodes = group_episodes(frame)
    assert episodes.empty and "peak_severity" in episodes.columns
    assert episodes_to_json(episodes) == []


def test_json_shape():
    frame, contributions = _scores(".XX.")
    [episode] = episodes_to_json(group_episodes(frame, contributions, top_k=1))
    assert episode == {
        "startTime": "2021-01-01T00:01:00Z", "endTime": "2021-01-01T00:02:00Z", "durationInSeconds": 60.0,
        "points": 2, "peakSeverity": 0.5, "meanSeverity": 0.5,
        "topContributors": [{"variable": "a", "contributionScore": pytest.approx(0.7)}],
    }


@pytest.mark.parametrize("kwargs", [{"min_severity": 1.5}, {"merge_gap": -1}, {"merge_gap": "soon"},
                                    {"min_duration": "-1min"}, {"top_k": -1}])
def test_bad_arguments(kwargs):
    frame, _ = _scores("X")
    with pytest.raises(ValidationError):
        group_episodes(frame, **kwargs)
