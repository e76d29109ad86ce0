"""One timestamp rule for every entry: CSV cells, DataFrame indexes (ISO text or datetimes), v1.1 lists, plots, labels.

``workbench.timegrid.parse_timestamps`` is the rule; each entry must accept and refuse exactly what it does.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import data, viz
from workbench.evaluation import evaluate_detections
from workbench.exceptions import ErrorCode, ValidationError, WorkbenchError
from workbench.postprocess import group_episodes
from workbench.timegrid import parse_timestamp, parse_timestamps

LATER = "2021-01-01T00:10:00Z"
ACCEPTED = ["2021-01-01T00:00:00Z", "2021-01-01T00:00:00", "2021-01-01 00:00:00", "2021-01-01T01:00:00+01:00",
            "2021-01-01T00:00:00.000Z", "2021-01-01", "2021-01-01T00:00Z", " 2021-01-01T00:00:00Z "]
REFUSED = ["01/02/2021 00:00", "1609459200", "2021-13-01T00:00:00Z", "yesterday", "2021-01-01T24:00:00Z"]


def _entries(tmp_path, text: str) -> dict:
    """What each entry makes of ``text`` as its first timestamp: the UTC timestamp, or the error code."""
    path = tmp_path / "one.csv"
    path.write_text(f"timestamp,a\n{text},1\n{LATER},2\n")
    entries = {
        "csv": lambda: data.load(str(path)).frame.index[0],
        "frame index": lambda: data.from_frame(pd.DataFrame({"a": [1.0, 2.0]}, index=[text, LATER])).frame.index[0],
        "frame column": lambda: data.from_frame(pd.DataFrame({"timestamp": [text, LATER], "a": [1.0, 2.0]})
                                                ).frame.index[0],
        "v1.1 list": lambda: parse_timestamps([text, LATER])[0],
        "startTime": lambda: parse_timestamp(text),
    }
    out = {}
    for name, entry in entries.items():
        try:
            out[name] = entry()
        except WorkbenchError as exc:
            out[name] = exc.code
    return out


@pytest.mark.parametrize("text", ACCEPTED)
def test_every_entry_reads_an_iso_timestamp_alike(tmp_path, text):
    seen = _entries(tmp_path, text)
    assert set(seen.values()) == {pd.Timestamp("2021-01-01T00:00:00Z")}, seen


@pytest.mark.parametrize("text", REFUSED)
def test_every_entry_refuses_a_non_iso_timestamp_alike(tmp_path, text):
    seen = _entries(tmp_path, text)
    assert set(seen.values()) == {ErrorCode.INVALID_TIMESTAMP}, seen


def test_datetimes_naive_are_utc_and_aware_are_converted():
    naive = pd.date_range("2021-01-01", periods=3, freq="min")
    berlin = naive.tz_localize("Europe/Berlin")
    assert parse_timestamps(naive).equals(naive.tz_localize("UTC"))
    assert parse_timestamps(berlin)[0] == pd.Timestamp("2020-12-31T23:00:00Z")
    assert str(parse_timestamps(naive).dtype) == "datetime64[ns, UTC]"
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0]}, index=naive)
    assert data.from_frame(frame).frame.index.equals(parse_timestamps(naive))


@pytest.mark.filterwarnings("ignore:Parsing integer or float values")  # pandas, before it refuses the number
def test_the_first_bad_entry_is_named_by_position():
    with pytest.raises(ValidationError) as err:
        parse_timestamps(["2021-01-01T00:00:00Z", "2021-01-01T00:01:00Z", "01/02/2021 10:00"])
    assert err.value.code == ErrorCode.INVALID_TIMESTAMP and err.value.row == 2
    assert "2021-02-01T10:00:00Z (day first)" in err.value.message
    for blank in (None, "", " ", np.nan):
        with pytest.raises(ValidationError, match="no timestamp") as err:
            parse_timestamps(pd.Index(["2021-01-01T00:00:00Z", blank], dtype=object))
        assert err.value.row == 1
    with pytest.raises(ValidationError, match="no timestamp"):
        parse_timestamps(pd.DatetimeIndex(["2021-01-01", None]))
    with pytest.raises(ValidationError, match="Unix time"):  # numbers in a v1.1 list are not timestamps
        parse_timestamps(["2021-01-01T00:00:00Z", 1609459200])
    with pytest.raises(WorkbenchError) as err:  # a DataFrame index of text: its 0-based position
        data.from_frame(pd.DataFrame({"a": [1.0, 2.0]}, index=["2021-01-01T00:00:00Z", "nope"]))
    assert err.value.row == 1 and err.value.column == "timestamp"


def test_a_time_beyond_what_nanoseconds_hold_is_refused_by_position():
    for stamps in (["2021-01-01T00:00:00Z", "2300-01-01T00:00:00Z"], ["2021-01-01T00:00:00Z", "1600-05-01T00:00Z"],
                   pd.DatetimeIndex(["2021-01-01", "2500-01-01"]).as_unit("s")):
        with pytest.raises(ValidationError, match="outside the years 1678-2261") as err:
            parse_timestamps(stamps)
        assert err.value.code == ErrorCode.INVALID_TIMESTAMP and err.value.row == 1


def _list_outcome(stamps: list):
    """What ``parse_timestamps`` makes of a v1.1 list: the index (values, dtype, name, freq) or the error."""
    try:
        index = parse_timestamps(stamps)
    except ValidationError as exc:
        return ("error", exc.code, exc.message, exc.row)
    return ("index", index.asi8.tolist(), str(index.dtype), index.name, index.freq)


@pytest.mark.filterwarnings("ignore:Parsing integer or float values")
def test_the_canonical_shortcut_parses_lists_exactly_as_pandas_does(monkeypatch):
    """Lists of ``YYYY-MM-DDTHH:MM:SSZ`` take a numpy shortcut; every list, canonical or not, valid or not,
    gets what the general path (pandas) gives it: the same instants or the same error at the same position."""
    minutes = [f"2021-01-02T09:{m:02d}:00Z" for m in range(60)]
    firsts = [f"{y:04d}-{m:02d}-{d:02d}T00:00:00Z" for y in (1899, 1900, 1970, 2000, 2024, 2100, 2199, 2200)
              for m in (1, 2, 3, 12) for d in (1, 28, 29, 30, 31)]
    lists = {"minutes": minutes, "shuffled": minutes[30:] + minutes[:30], "one": minutes[:1],
             "duplicates": minutes + minutes[:3], "edges of the day": ["2021-03-01T23:59:59Z", "2021-03-01T00:00:00Z"]}
    lists.update({f"date {text}": [text, *minutes] for text in firsts})  # includes no-such-day and outside years
    for name, bad in {"hour 24": "2021-01-02T24:00:00Z", "minute 60": "2021-01-02T09:60:00Z",
                      "second 60": "2021-01-02T09:59:60Z", "month 0": "2021-00-02T09:00:00Z",
                      "month 13": "2021-13-02T09:00:00Z", "day 0": "2021-01-00T09:00:00Z",
                      "lower z": "2021-01-02T09:00:00z", "no Z": "2021-01-02T09:00:00",
                      "offset": "2021-01-02T10:00:00+01", "slashes": "2021/01/02T09:00:00Z",
                      "space": "2021-01-02 09:00:00Z", "padded": " 2021-01-02T09:00:00Z",
                      "padded to 20": " 2021-01-02T09:00:00", "short second": "2021-01-02T09:00:0Z",
                      "plus digit": "2021-01-02T+9:00:00Z", "letter": "2021-0x-02T09:00:00Z",
                      "arabic digit": "2021-0\u0661-02T09:00:00Z", "fraction": "2021-01-02T09:00:00.5Z",
                      "sign": "-021-01-02T09:00:00Z", "blank": "", "twenty spaces": " " * 20, "none": None,
                      "number": 1609459200, "date only": "2021-01-02"}.items():
        lists[name] = minutes[:5] + [bad] + minutes[6:]
    shortcut = {name: _list_outcome(stamps) for name, stamps in lists.items()}
    monkeypatch.setattr("workbench.timegrid._canonical_utc", lambda values: None)
    general = {name: _list_outcome(stamps) for name, stamps in lists.items()}
    assert shortcut == general
    assert shortcut["minutes"][0] == "index" and shortcut["hour 24"][0] == "error"  # both kinds were compared


# ---------------------------------------------------------------- plots and labels take ISO text too


@pytest.fixture
def read_as_the_readme_does():
    """The demo CSV as ``pd.read_csv(..., index_col="timestamp")`` leaves it (ISO text in the index), and
    detections-like scores on its UTC timestamps with one flagged stretch."""
    frame = pd.read_csv("data/samples/smd_machine-1-6.csv", index_col="timestamp").iloc[4500:5600, :6]
    index = parse_timestamps(frame.index)
    scores = pd.DataFrame({"valid": True, "is_anomaly": False, "severity": 0.0, "score": 1.0}, index=index)
    scores.iloc[500:510] = [True, True, 0.6, 5.0]
    contributions = pd.DataFrame(0.0, index=index, columns=frame.columns)
    contributions["cpu_r"] = 1.0
    return frame, scores, contributions


def test_plots_take_a_frame_read_with_iso_text_in_its_index(read_as_the_readme_does):
    frame, scores, contributions = read_as_the_readme_does
    assert frame.index.dtype == object or str(frame.index.dtype) == "str"  # as read_csv leaves it
    episodes = group_episodes(scores, contributions, merge_gap=5)
    parsed = frame.set_axis(parse_timestamps(frame.index))
    text_figure = viz.episode_figure(frame, episodes.iloc[0], scores=scores, threshold=2.0)
    parsed_figure = viz.episode_figure(parsed, episodes.iloc[0], scores=scores, threshold=2.0)
    assert text_figure.to_json() == parsed_figure.to_json()
    assert "Episode 2021-01-04 11:20 to 11:29" in text_figure.layout.title.text
    timeline = viz.timeline_figure(scores, values=frame, episodes=episodes, threshold=2.0, contributions=contributions)
    assert timeline.to_json() == viz.timeline_figure(
        scores, values=parsed, episodes=episodes, threshold=2.0, contributions=contributions).to_json()
    assert viz.variables_figure(frame).to_json() == viz.variables_figure(parsed).to_json()
    with pytest.raises(ValidationError) as err:
        viz.variables_figure(frame.set_axis(["x"] * len(frame)))
    assert err.value.code == ErrorCode.INVALID_TIMESTAMP and "data: the index" in err.value.message


def test_labels_read_with_iso_text_or_naive_datetimes_evaluate_alike(read_as_the_readme_does):
    _, scores, _ = read_as_the_readme_does
    detections = type("Detections", (), {"frame": scores})()
    labels = pd.read_csv("data/samples/smd_machine-1-6_labels.csv", index_col="timestamp")["label"]  # from 12:00
    labels = pd.concat([pd.Series(0, index=scores.index[:540].strftime("%Y-%m-%dT%H:%M:%SZ")), labels])
    as_text = evaluate_detections(detections, labels)
    naive = evaluate_detections(detections, labels.set_axis(pd.to_datetime(labels.index).tz_localize(None)))
    assert as_text == naive and as_text["rows"] == len(scores)
