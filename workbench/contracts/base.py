"""JSON plumbing every v1.1 contract shares: camelCase output, ISO-8601 timestamps, field validators.

``_Contract`` gives a dataclass its ``to_json``; the ``_enum``/``_integer``/``_string`` helpers
validate one field of a camelCase body and raise
:class:`~workbench.exceptions.ValidationError` with the v1.1 error code.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping

import pandas as pd

from workbench.exceptions import ErrorCode, ValidationError
from workbench.timegrid import format_timestamp, parse_timestamp

# snake_case field names whose camelCase is not the mechanical conversion
_JSON_NAME_OVERRIDES = {
    "filled_na_ratio": "filledNARatio",
    "fill_na_method": "fillNAMethod",
}


@functools.lru_cache(maxsize=1024)
def _camel(name: str) -> str:
    if name in _JSON_NAME_OVERRIDES:
        return _JSON_NAME_OVERRIDES[name]
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _to_json_value(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return value.to_json()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, pd.Timestamp):
        return format_timestamp(value)
    if isinstance(value, list):
        return [_to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_json_value(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class _Contract:
    """Mixin: camelCase JSON output for a dataclass; ``None`` optionals are omitted."""

    _always: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None and f.name not in self._always:
                continue
            out[_camel(f.name)] = _to_json_value(value)
        return out


# ---------------------------------------------------------------- helpers for from_json


def _require_mapping(body: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"{what} must be a JSON object, got {type(body).__name__}")
    return body


def _enum(enum_cls: type[Enum], value: Any, default: Enum, code: str, name: str) -> Any:
    if value is None:
        return default
    for member in enum_cls:
        if isinstance(value, str) and value.lower() == member.value.lower():
            return member
    allowed = ", ".join(m.value for m in enum_cls)
    raise ValidationError(code, f"'{name}' must be one of {allowed}; got {value!r}")


def _integer(value: Any, name: str, lo: int, hi: int, default: int, code: str) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ValidationError(code, f"'{name}' must be an integer between {lo} and {hi}; got {value!r}")
    value = int(value)
    if not lo <= value <= hi:
        raise ValidationError(code, f"'{name}' must be between {lo} and {hi}; got {value}")
    return value


def _string(body: Mapping[str, Any], name: str, *, required: bool, default: str | None = None) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ValidationError(ErrorCode.BAD_ARGUMENT, f"'{name}' is required")
        return default
    if not isinstance(value, str):
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"'{name}' must be a string; got {type(value).__name__}")
    return value


def time_range(start_raw: Any, end_raw: Any) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """Parse optional ``startTime``/``endTime``; ``endTime`` before ``startTime`` is an error (equal is fine)."""
    start = parse_timestamp(start_raw, field_name="startTime") if start_raw is not None else None
    end = parse_timestamp(end_raw, field_name="endTime") if end_raw is not None else None
    if start is not None and end is not None and end < start:
        raise ValidationError(
            ErrorCode.INVALID_TIMESTAMP_RANGE,
            f"endTime ({format_timestamp(end)}) must be later than or equal to startTime ({format_timestamp(start)})",
        )
    return start, end



# ---------------------------------------------------------------- shared pieces


@dataclass(frozen=True)
class ErrorResponse(_Contract):
    code: str
    message: str

