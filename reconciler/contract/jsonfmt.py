"""Compact, reviewable JSON text: a value goes on one line when it fits, else one key (or item) a
line. Used for product type definition documents (served by the emulator, cached in catalogs),
whose diffs are reviewed in pull requests. Deterministic for the same value. Pure."""

from __future__ import annotations

import json
from typing import Any

WIDTH = 100


def dumps(value: Any, *, width: int = WIDTH) -> str:
    """``value`` as JSON text ending in a newline (keys in insertion order, UTF-8 kept)."""
    return _fmt(value, "", width) + "\n"


def _fmt(value: Any, indent: str, width: int) -> str:
    flat = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    if len(flat) + len(indent) <= width or not isinstance(value, (dict, list)) or not value:
        return flat
    inner = indent + " "
    if isinstance(value, dict):
        parts = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {_fmt(v, inner, width).lstrip()}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(parts) + "\n" + indent + "}"
    parts = [inner + _fmt(v, inner, width).lstrip() for v in value]
    return "[\n" + ",\n".join(parts) + "\n" + indent + "]"
