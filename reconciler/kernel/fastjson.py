"""JSON for SP-API response bodies and the live cache's copies of them: orjson when installed
(the ``fast`` extra), else the standard library. A plan reads every listing as JSON (20 per
search page), and decoding was about a tenth of the reconciler's CPU time at agency scale
(issue 19); orjson (https://github.com/ijl/orjson#performance) decodes the emulator's search
page of 20 listings (40 KB) in less than half the time (135 vs 307 µs, measured) into the
same Python types.

orjson is stricter than the standard library (no NaN/Infinity, invalid UTF-8 refused): a body
it refuses is decoded again by :func:`json.loads`, so it decodes whatever the standard library
decodes, to the same values, with one exception: an integer beyond 64 bits becomes a float
(the standard library keeps it exact). SP-API sends no such integer (quantities, prices, counts);
detecting one costs more than the decoding saves (a regular expression over the body is twice
as slow as json.loads itself). Both raise ValueError on invalid JSON.

:func:`dumps_sorted` (the live cache stores every Item read) writes compact JSON with sorted
keys, read back by :func:`json.loads` to the same values; orjson writes non-ASCII characters
as UTF-8 rather than ``\\u`` escapes, and what it cannot write (an integer beyond 64 bits, a key
that is not a string) is written by the standard library.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - the extra is not installed
    orjson = None  # type: ignore[assignment]


def _stdlib(body: bytes) -> Any:
    return json.loads(body)


def _fast(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)  # what orjson refuses but JSON allows, or a real error


loads_json = _stdlib if orjson is None else _fast


def _dumps_stdlib(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _dumps_fast(data: Any) -> str:
    try:
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _dumps_stdlib(data)


dumps_sorted = _dumps_stdlib if orjson is None else _dumps_fast
