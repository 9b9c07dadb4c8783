"""The plan checksum: sha256 of the canonical JSON of a plan body, streamed into the hash element by
element (a 100k-listing plan is never one string). :class:`Many` marks an array made one element at
a time, for the checksum and for ``render_json.write_json``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

REMOTE_KEY = "remote_validation"  # in data(), outside the checksum


class Many:
    """A JSON array whose elements are made one at a time: what :meth:`Plan.lazy_data` hands
    the checksum and ``render_json.write_json`` for the per-listing arrays."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = items


_CHECKSUM_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), default=lambda o: _checksum_default(o)
)


def checksum_of(d: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of a plan body (sorted keys, compact, ASCII), Decimals as
    their exact strings: the same bytes whether the body went through ``to_plain`` or not, and
    whether its arrays are lists or :class:`Many` (streamed into the hash one element at a
    time, so a 100k-listing body is never one string)."""
    h = hashlib.sha256()
    enc = _CHECKSUM_ENCODER.encode
    sep = b"{"
    for name in sorted(k for k in d if k not in ("checksum", REMOTE_KEY)):
        h.update(sep + enc(name).encode("utf-8") + b":")
        sep = b","
        value = d[name]
        if type(value) is not Many:
            h.update(enc(value).encode("utf-8"))
            continue
        h.update(b"[")
        comma = b""
        for item in value.items:
            h.update(comma + enc(item).encode("utf-8"))
            comma = b","
        h.update(b"]")
    h.update(b"}" if sep == b"," else b"{}")
    return h.hexdigest()


def _checksum_default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return str(o)  # as to_plain writes it
    if isinstance(o, (frozenset, set)):
        return list(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")
