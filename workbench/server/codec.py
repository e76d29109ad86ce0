"""JSON in and out of the HTTP service: a fast codec (orjson) with the standard library's rules as the fallback.

A body that orjson reads, that nests at most ``max_depth`` levels and whose objects hold no number of 2**63
or more (orjson reads integers beyond 64 bits as floats; in lists, where v1.1 keeps series values, every
reader turns numbers into floats anyway) is taken as parsed; anything else (NaN literals, huge integers, a
byte-order mark, bad UTF-8, deep nesting) goes through the standard library's path, so every body is accepted
or refused as before, with the same messages.
"""
from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import orjson
from fastapi.responses import JSONResponse

from workbench.exceptions import ErrorCode

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_CONTAINERS = (list, dict)
_BIG = 2.0**63
_OPEN_OBJECT, _OPEN_ARRAY = ord("{"), ord("[")
_DUMP_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


class BodyError(ValueError):
    """A body that is not JSON or nests too deep: ``code`` and ``message`` for a 400."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.code, self.message = ErrorCode.BAD_ARGUMENT, message


def loads(raw: bytes, max_depth: int) -> Any:
    """The JSON value of ``raw`` (``None`` when empty); ``BodyError`` if it is not JSON or nests too deep."""
    try:
        value = orjson.loads(raw or b"null")
    except orjson.JSONDecodeError:
        pass
    else:
        if _plain(value, max_depth, raw):
            return value
    depth = json_depth(raw)
    if depth > max_depth:
        raise BodyError(f"the request body nests {depth} levels deep; at most {max_depth} are accepted")
    try:
        return json.loads(raw or b"null")
    except (ValueError, RecursionError) as exc:
        raise BodyError(f"the request body is not valid JSON: {exc}") from exc


def json_depth(raw: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (strings skipped), without parsing it."""
    if not raw:
        return 0
    bare = np.frombuffer(_JSON_STRING.sub(b'""', raw), dtype=np.uint8)
    step = np.isin(bare, (ord("["), ord("{"))).astype(np.int32) - np.isin(bare, (ord("]"), ord("}")))
    return int(np.cumsum(step).max(initial=0))


def _plain(value: Any, limit: int, raw: bytes = b"") -> bool:
    """Whether a parsed value nests at most ``limit`` levels and no object in it holds a number of 2**63 or more.

    The text ``raw`` bounds the walk: it nests no deeper than it has brackets and holds no more objects than
    it has ``{``.  Where those bounds settle the depth (a v1.1 body has a dozen containers), the walk stops once
    every object is seen, rather than reading each item of the long lists of timestamps and values.
    """
    text = np.frombuffer(raw, dtype=np.uint8)  # numpy counts a byte several times faster than bytes.count
    objects = int(np.count_nonzero(text == _OPEN_OBJECT))
    shallow = bool(raw) and objects + int(np.count_nonzero(text == _OPEN_ARRAY)) <= limit
    depth, seen, level = 0, 0, [value] if type(value) in _CONTAINERS else []
    while level:
        depth += 1
        if depth > limit:
            return False
        below = []
        for container in level:
            if type(container) is dict:
                seen += 1
                items = container.values()
                if any(type(item) is float and abs(item) >= _BIG for item in items):
                    return False
            elif shallow and seen >= objects:
                continue  # every object is seen and the depth is bounded: nothing in this list matters
            else:
                items = container
            kinds = set(map(type, items))
            if list in kinds or dict in kinds:
                below.extend(item for item in items if type(item) in _CONTAINERS)
        level = below
    return True


class FastJSONResponse(JSONResponse):
    """A ``JSONResponse`` rendered by orjson (the standard library's rendering where orjson cannot)."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content, option=_DUMP_OPTIONS)
        except TypeError:
            return super().render(content)
