"""Write the GutenTAG suite's YAML configs (``benchmarks/gutentag/*.yaml``), deterministically.

    .venv/bin/python -m benchmarks.gutentag.make_configs      # rewrites the committed YAML files

The YAML files are what the benchmark reads and hashes; this script only documents how they were made
(and remakes them byte for byte). One file per base oscillation, one dataset per (base, anomaly kind),
every dataset multivariate (5 to 40 channels) with GutenTAG's anomaly-free training series
(``semi-supervised: true``). Each file carries a top-level ``seed`` that the harness passes to GutenTAG
(``--seed``); GutenTAG ignores the key itself.

Channels of a dataset: *drivers* of the dataset's base kind (varied periods, amplitudes, offsets, noise)
and *companions* that are formula combinations of two drivers (``a * x_i + b * x_j``), so the variables are
correlated as real metrics are. GutenTAG builds a formula channel from its drivers' clean signals, so an
anomaly injected into a driver breaks the relation without showing in the companion. Anomalies go on driver
channels (for the formula base: on companions), 2 to 6 per dataset, each on its own channel, at exact
positions that leave the first 250 rows normal (so every window method can score them) and never overlap.
Anomaly lengths follow the base period (about one period, 60 to 300 rows; extrema are single points).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
FIRST_ROW = 250          # no anomaly before this row: every method has a full window before it

# One dataset per entry: (base, anomaly kind, channels, rows, periods of the drivers in rows, kind parameters
# per anomaly). Periods and lengths are in rows; GutenTAG's frequency is cycles per 100 rows.
SUITE: dict[str, list[tuple]] = {
    "sine": [
        ("amplitude", 10, 3000, (50, 100, 200), [{"amplitude_factor": 2.0}, {"amplitude_factor": 0.3},
                                                 {"amplitude_factor": 1.7}]),
        ("frequency", 12, 3000, (100, 40, 200), [{"frequency_factor": 2.0}, {"frequency_factor": 0.5},
                                                 {"frequency_factor": 1.5}]),
        ("pattern", 8, 3000, (100, 50), [{"sinusoid_k": 10.0}, {"sinusoid_k": 5.0}, {"sinusoid_k": 8.0}]),
        ("pattern-shift", 20, 3000, (100, 200, 60), [{"shift_by": 25, "transition_window": 30},
                                                     {"shift_by": -25, "transition_window": 30},
                                                     {"shift_by": 20, "transition_window": 25}]),
        ("variance", 16, 3000, (20, 100, 400), [{"variance": 0.3}, {"variance": 0.5}, {"variance": 0.25}]),
        ("extremum", 6, 3000, (50, 150), [{"min": False, "local": False}, {"min": True, "local": True,
                                          "context_window": 50}] * 3),
        ("trend", 24, 3000, (100, 300), [{"oscillation": {"kind": "polynomial", "polynomial": [0.0, 0.01]}},
                                         {"oscillation": {"kind": "polynomial", "polynomial": [0.0, -0.01]}}]),
    ],
    "ecg": [
        ("amplitude", 8, 3000, (100, 60), [{"amplitude_factor": 2.0}, {"amplitude_factor": 0.4},
                                           {"amplitude_factor": 1.8}]),
        ("frequency", 10, 3000, (100, 200), [{"frequency_factor": 2.0}, {"frequency_factor": 0.5},
                                             {"frequency_factor": 1.6}]),
        ("pattern", 5, 3000, (100, 50), [{}, {}, {}]),
        ("pattern-shift", 14, 3000, (100, 150), [{"shift_by": 30, "transition_window": 40},
                                                 {"shift_by": -30, "transition_window": 40},
                                                 {"shift_by": 20, "transition_window": 30}]),
        ("mean", 12, 3000, (100, 75), [{"offset": 1.0}, {"offset": -0.8}, {"offset": 0.7}]),
        ("platform", 6, 3000, (100,), [{"value": 0.0}, {"value": 0.3}, {"value": 0.0}]),
    ],
    "random-walk": [
        ("mean", 20, 3000, (), [{"offset": 0.6}, {"offset": -0.6}, {"offset": 0.5}]),
        ("platform", 10, 3000, (), [{"value": 0.0}, {"value": 0.2}, {"value": -0.2}]),
        ("variance", 30, 3000, (), [{"variance": 0.3}, {"variance": 0.4}, {"variance": 0.3}]),
        ("extremum", 8, 3000, (), [{"min": False, "local": True, "context_window": 100},
                                   {"min": True, "local": False}] * 3),
    ],
    "cylinder-bell-funnel": [
        ("amplitude", 10, 3000, (60, 120), [{"amplitude_factor": 2.5}, {"amplitude_factor": 0.2},
                                            {"amplitude_factor": 2.0}]),
        ("pattern", 16, 3000, (60, 120), [{"cbf_pattern_factor": 4.0}, {"cbf_pattern_factor": 6.0},
                                          {"cbf_pattern_factor": 4.0}]),
        ("variance", 6, 3000, (80,), [{"variance": 0.5}, {"variance": 0.8}, {"variance": 0.5}]),
    ],
    "polynomial": [
        ("trend", 12, 3000, (100, 400), [{"oscillation": {"kind": "polynomial", "polynomial": [0.0, 0.012]}},
                                         {"oscillation": {"kind": "polynomial", "polynomial": [0.0, -0.012]}}]),
        ("platform", 8, 3000, (500, 200), [{"value": 0.0}, {"value": 1.0}]),
        ("mean", 40, 4000, (300, 700), [{"offset": 0.8}, {"offset": -0.8}, {"offset": 0.6}]),
    ],
    "formula": [
        ("mean", 15, 3000, (100, 250), [{"offset": 0.8}, {"offset": -0.7}, {"offset": 0.6}]),
        ("variance", 9, 3000, (50, 400), [{"variance": 0.4}, {"variance": 0.3}, {"variance": 0.5}]),
        ("extremum", 25, 3000, (100, 30), [{"min": True, "local": True, "context_window": 60},
                                           {"min": False, "local": False}] * 3),
        ("platform", 12, 4000, (500, 150), [{"value": 0.0}, {"value": 0.5}]),
    ],
    "random-mode-jump": [
        ("mode-correlation", 6, 3000, (), [{}, {}, {}]),
        ("mode-correlation", 18, 3000, (), [{}, {}]),
    ],
}
SEEDS = {base: 1000 + i for i, base in enumerate(SUITE)}


def _freq(period: float) -> float:
    """GutenTAG's frequency (cycles per 100 rows) for a period in rows, rounded to 4 digits."""
    return round(100.0 / period, 4)


def _r(x: float, digits: int = 3) -> float:
    return round(float(x), digits)


def _driver(base: str, rng: np.random.Generator, period: float | None, rows: int) -> dict:
    noise = _r(rng.uniform(0.02, 0.06))
    amp = _r(rng.uniform(0.5, 2.0))
    off = _r(rng.uniform(-1.0, 1.0))
    if base == "sine":
        kind = "sine" if rng.random() < 0.6 else "cosine"   # cosine: a quarter-period phase shift
        return {"kind": kind, "frequency": _freq(period), "amplitude": amp, "offset": off, "variance": noise}
    if base == "ecg":
        return {"kind": "ecg", "frequency": _freq(period), "amplitude": amp, "offset": off, "variance": noise}
    if base == "random-walk":
        return {"kind": "random-walk", "amplitude": amp, "smoothing": _r(rng.uniform(0.005, 0.02), 4),
                "offset": off, "variance": noise}
    if base == "cylinder-bell-funnel":
        return {"kind": "cylinder-bell-funnel", "avg-pattern-length": int(period),
                "variance-pattern-length": _r(period / 10, 1), "amplitude": amp, "variance-amplitude": _r(amp / 4),
                "offset": off, "variance": noise}
    if base == "polynomial":
        # a slow polynomial trend (about +-1 over the series) plus a seasonal sine riding on it
        slope = _r(rng.uniform(-1.0, 1.0) / rows, 7)
        curve = _r(rng.uniform(-1.0, 1.0) / rows**2, 11)
        return {"kind": "polynomial", "polynomial": [off, slope, curve], "variance": noise,
                "trend": {"kind": "sine", "frequency": _freq(period), "amplitude": amp}}
    raise ValueError(base)


def _channels(base: str, n: int, periods: tuple, rows: int, rng: np.random.Generator) -> tuple[list[dict], list[int]]:
    """Base oscillations of one dataset and the channels that may carry anomalies."""
    if base == "random-mode-jump":
        bo = [{"kind": "random-mode-jump", "frequency": 20, "channel-diff": 0.3, "channel-offset": 1.0,
               "random-seed": int(rng.integers(1, 10_000)), "variance": 0.03}]
        return [dict(bo[0]) for _ in range(n)], list(range(n))
    driver_base = "sine" if base == "formula" else base
    n_drivers = max(3, (n + 1) // 2)
    bos = []
    for j in range(n_drivers):
        period = periods[j % len(periods)] if periods else None
        if period is not None and j >= len(periods):  # further drivers: the same periods, detuned a little
            period = period * rng.uniform(0.8, 1.25)
        if base == "formula" and j % 3 == 2:
            bos.append(_driver("random-walk", rng, None, rows))
        else:
            bos.append(_driver(driver_base, rng, period, rows))
    companions = []
    for _ in range(n - n_drivers):
        i, k = rng.choice(n_drivers, size=2, replace=False)
        a, b = _r(rng.uniform(0.5, 1.5) * rng.choice([-1, 1])), _r(rng.uniform(0.2, 1.0) * rng.choice([-1, 1]))
        companions.append({"kind": "formula", "variance": _r(rng.uniform(0.02, 0.06)), "formula": {
            "base": {"base": int(i), "operation": {"kind": "*", "operand": a}},
            "operation": {"kind": "+", "operand": {"base": int(k), "operation": {"kind": "*", "operand": b}}}}})
    bos += companions
    if base == "formula":
        return bos, list(range(n_drivers, n))
    # drivers whose kind is the dataset's base (formula datasets mix in random walks)
    return bos, [j for j in range(n_drivers) if bos[j]["kind"] in (base, "cosine")]


def _positions(rng: np.random.Generator, lengths: list[int], rows: int, align: int | None,
               first: int = FIRST_ROW) -> list[int]:
    """Non-overlapping starts from ``first`` on, one per equal share of the rest of the series, with gaps."""
    starts: list[tuple[int, int]] = []
    n = len(lengths)
    span = (rows - first) // n
    for idx, length in enumerate(lengths):
        lo = first + idx * span
        hi = lo + span - length - 20
        start = int(rng.integers(lo, max(lo + 1, hi)))
        if align:
            start = lo + ((start - lo) // align) * align
        starts.append((start, length))
    return [s for s, _ in starts]


def dataset(base: str, kind: str, channels: int, rows: int, periods: tuple, params: list[dict],
            rng: np.random.Generator) -> dict:
    bos, carriers = _channels(base, channels, periods, rows, rng)
    if kind == "extremum":
        lengths = [1] * len(params)
    else:
        period = periods[0] if periods else 100
        # multiples of 10: GutenTAG's trend anomaly needs a length whose fifth is whole
        lengths = [int(np.clip(round(period * rng.uniform(0.9, 1.5), -1), 60, 300)) for _ in params]
        if kind == "mode-correlation":
            lengths = [150] * len(params)     # one jump step (rows // frequency)
    align = int(periods[0]) if base == "sine" and kind in ("frequency", "pattern", "pattern-shift") else None
    if kind == "mode-correlation":
        align = 150                           # flip whole jump steps
    # GutenTAG keeps a trend anomaly's end level for the rest of the series (unlabelled): trends go last
    first = int(rows * 0.55) if kind == "trend" else FIRST_ROW
    starts = _positions(rng, lengths, rows, align, first)
    anomaly_channels = rng.choice(carriers, size=len(params), replace=len(params) > len(carriers))
    anomalies = []
    for start, length, ch, p in zip(starts, lengths, anomaly_channels, params):
        anomalies.append({"exact-position": int(start), "length": int(length), "channel": int(ch),
                          "kinds": [{"kind": kind, **p}]})
    name = f"{base}.{kind}.{channels}ch"
    return {"name": name, "length": rows, "semi-supervised": True, "supervised": False,
            "base-oscillations": bos, "anomalies": anomalies}


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data):  # write repeated channels out, no YAML anchors
        return True


def _flow_small(dumper: yaml.SafeDumper, data: dict):
    # one line per base oscillation / anomaly kind keeps the files short and diffable
    flow = "kind" in data or "kinds" in data
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)


_Dumper.add_representer(dict, _flow_small)


def build() -> dict[str, str]:
    """YAML text per file name."""
    out = {}
    for base, entries in SUITE.items():
        rng = np.random.default_rng(SEEDS[base])
        series = [dataset(base, *entry, rng=rng) for entry in entries]
        names = [s["name"] for s in series]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate dataset names in {base}: {names}")
        header = (f"# GutenTAG {base} datasets of the benchmark suite (benchmarks/gutentag/README.md).\n"
                  "# Written by `python -m benchmarks.gutentag.make_configs`; edit that, not this file.\n")
        body = yaml.dump({"seed": SEEDS[base], "timeseries": series}, Dumper=_Dumper, sort_keys=False,
                         width=120, default_flow_style=False)
        out[f"{base}.yaml"] = header + body
    return out


def main() -> int:
    for name, text in build().items():
        (HERE / name).write_text(text)
        print(f"wrote {HERE / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
