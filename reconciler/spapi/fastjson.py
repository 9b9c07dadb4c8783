"""Decoding SP-API response bodies: orjson when installed (the ``fast`` extra), else the
standard library. A plan reads every listing as JSON (20 per search page), and decoding was
about a tenth of the reconciler's CPU time at agency scale (issue 19); orjson decodes the same
documents several times faster (https://github.com/ijl/orjson#performance) into the same
Python types (dict, list, str, int, float, bool, None).

orjson is stricter than the standard library (no NaN/Infinity, invalid UTF-8 refused): a body
it refuses is decoded again by :func:`json.loads`. It also reads an integer beyond 64 bits as a
float where the standard library keeps it exact: a body with a run of 19 or more digits goes to
the standard library straight away. So the result never depends on which decoder is installed.
Both raise ValueError on invalid JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

_LONG_DIGITS = re.compile(rb"[0-9]{19}")

try:
    import orjson
except ImportError:  # pragma: no cover - the extra is not installed
    orjson = None  # type: ignore[assignment]


def _stdlib(body: bytes) -> Any:
    return json.loads(body)


def _fast(body: bytes) -> Any:
    if _LONG_DIGITS.search(body):
        return json.loads(body)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)  # what orjson refuses but JSON allows, or a real error


loads_json = _stdlib if orjson is None else _fast
