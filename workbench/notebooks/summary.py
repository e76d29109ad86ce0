"""The small JSON summary each notebook writes at its end, and reading it back.

The notebooks call :func:`write_summary`; the papermill runner and the tests call
:func:`read_summary`.  Values are made JSON-able on the way (numpy scalars, timestamps, NaN).
"""

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench._atomic import atomic_write_text
from workbench.contracts import format_timestamp
from workbench.exceptions import DataError, ErrorCode

# ---------------------------------------------------------------- summaries


def write_summary(path: str | os.PathLike[str], **values: Any) -> dict[str, Any]:
    """Write a notebook's JSON summary (atomically; ``""`` writes nothing) and return it for display."""
    summary = _jsonable(values)
    if path:
        atomic_write_text(path, json.dumps(summary, indent=2, sort_keys=True))
    return summary


def read_summary(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON summary a notebook wrote."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(ErrorCode.BAD_ARGUMENT, f"cannot read the notebook summary ({exc})", file=str(path)) from exc


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, pd.Timestamp):
        return format_timestamp(value)
    if isinstance(value, (pd.Timedelta, Path)):
        return str(value)
    return value
