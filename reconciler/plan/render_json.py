"""The JSON render of a plan: ``Plan.data()`` as indented JSON, written element by element
(``write_json``), so a 100k-listing plan is streamed to its file without ever being one string."""

from __future__ import annotations

import io
import json as _json
from json.encoder import encode_basestring as _encode_string
from typing import Any, NamedTuple, Protocol

from reconciler.kernel.model import ListingKey
from reconciler.plan.checksum import Many
from reconciler.plan.value import Plan


def json(plan: Plan) -> str:
    """``plan.data()`` as indented JSON (the same data the checksum is made from). The same
    text :func:`write_json` streams; prefer that for large plans."""
    buf = io.StringIO()
    write_json(plan, buf)
    return buf.getvalue()


class TextSink(Protocol):
    """Where :func:`write_json` writes: a text file, ``io.StringIO``, or any ``write(str)``."""

    def write(self, s: str, /) -> object: ...


class _Fingerprint(NamedTuple):
    key: ListingKey
    fingerprint: str


_ENCODER = _json.JSONEncoder(indent=2, sort_keys=True, ensure_ascii=False)


_END = object()


def _encode(value: Any, indent: str) -> str:
    """``value`` as the indented JSON ``json.dumps(indent=2, sort_keys=True)`` writes at a
    nesting of ``indent``. JSON strings never hold a raw newline, so every newline of the
    text is indentation."""
    if type(value) is _Fingerprint:  # 100k of them: formatted directly, keys sorted
        k, q, i = value.key, _encode_string, indent + "  "
        return (
            f'{{\n{i}"account": {q(k.account)},\n{i}"fingerprint": {q(value.fingerprint)},'
            f'\n{i}"marketplace_id": {q(k.marketplace_id)},\n{i}"sku": {q(k.sku)}\n{indent}}}'
        )
    return _ENCODER.encode(value).replace("\n", "\n" + indent)


def write_json(plan: Plan, fp: TextSink) -> None:
    """Write :func:`json`'s text to ``fp`` piece by piece (``reconciler plan --format json``):
    the plan's data is never held whole, as a dict nor as one string: the per-listing arrays
    come as :class:`~reconciler.plan.value.Many` generators (at 100k listings the whole dict and the
    string are hundreds of MB, one element a few hundred bytes). tests/test_render.py checks the
    text equals ``json.dumps(plan.data(), indent=2, sort_keys=True, ensure_ascii=False)``."""
    d = plan.lazy_data(Many, _Fingerprint)
    sep = "{"
    for name in sorted(d):
        fp.write(f"{sep}\n  {_encode_string(name)}: ")
        sep = ","
        value = d[name]
        if not isinstance(value, Many):
            fp.write(_encode(value, "  "))
            continue
        items = iter(value.items)
        first = next(items, _END)
        if first is _END:
            fp.write("[]")
            continue
        fp.write("[\n    " + _encode(first, "    "))
        for item in items:
            fp.write(",\n    " + _encode(item, "    "))
        fp.write("\n  ]")
    fp.write("\n}\n")
