"""The fast path of :class:`reconciler.contract.producttypes.Validator`: a product type definition
compiled into nested closures (no ``eval``/``exec``), once per definition.

Object and array keywords of one schema are fused into one closure each (one pass over an
object's keys, not one per declared property: Amazon's definitions declare dozens of attributes
and a listing has a few), string keywords likewise, and ``$ref`` to a non-recursive ``$defs``
entry is inlined. A keyword not implemented here raises
:class:`~reconciler.contract.producttypes.UnsupportedSchema` at compile time, so nothing is silently
skipped. ``reconciler.contract.producttype_issues`` explains what this refuses; the two must agree
(``tests/test_producttypes.py``). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconciler.contract.vocabulary import (
    _INFORMATIONAL,
    _TYPES,
    Check,
    UnsupportedSchema,
    _format_ok,
    _key,
    _multiple_of,
    is_number,
    selector_counts,
    utf8_len,
)

_OBJECT_KEYS = frozenset({"properties", "required", "additionalProperties"})
_STRING_KEYS = frozenset({"type", "minLength", "maxLength", "minUtf8ByteLength",
                          "maxUtf8ByteLength", "pattern", "enum", "format"})
_ARRAY_KEYS = frozenset({"items", "minItems", "maxItems", "maxUniqueItems", "minUniqueItems"})


def _always(x: Any) -> bool:
    return True


def compile_schema(root: Mapping[str, Any]) -> Check:
    """The schema as nested closures. Object and array keywords of one schema are fused into one
    closure each (one pass over an object's keys, not one per declared property: Amazon's
    definitions declare dozens of attributes and a listing has a few), and ``$ref`` to a
    non-recursive ``$defs`` entry is inlined."""
    defs: dict[str, Check] = {}
    building: set[str] = set()

    def ref(target: str) -> Check:
        prefix = "#/$defs/"
        name = target[len(prefix):]
        if not target.startswith(prefix) or name not in root.get("$defs", {}):
            raise UnsupportedSchema(f"$ref {target}")
        if name in defs:
            return defs[name]
        if name in building:  # recursive: resolve late

            def late(x: Any) -> bool:
                return defs[name](x)

            return late
        building.add(name)
        defs[name] = build(root["$defs"][name])
        building.discard(name)
        return defs[name]

    def build(schema: Any) -> Check:
        if schema is True or schema == {}:
            return _always
        if schema is False:
            return lambda x: False
        if not isinstance(schema, Mapping):
            raise UnsupportedSchema(repr(schema))
        simple = simplify_any_of(schema)
        if simple is not None:
            return build(simple)
        checks: list[Check] = []
        kind = schema.get("type")
        fused_type = False
        if _OBJECT_KEYS & schema.keys():
            fused_type = kind == "object"
            checks.append(obj(schema, strict=fused_type))
        if _ARRAY_KEYS & schema.keys():
            fused_type = kind == "array"
            checks.append(arr(schema, strict=fused_type))
        if kind == "string" and not (schema.keys() - _STRING_KEYS - _INFORMATIONAL):
            return string(schema)
        for key, v in schema.items():
            if key in _OBJECT_KEYS or key in _ARRAY_KEYS or key in _INFORMATIONAL:
                continue
            if key == "type" and fused_type:
                continue
            c = keyword(key, v, schema)
            if c is not None:
                checks.append(c)
        if not checks:
            return _always
        if len(checks) == 1:
            return checks[0]
        if len(checks) == 2:
            a, b = checks
            return lambda x: a(x) and b(x)
        if len(checks) == 3:
            a, b, c3 = checks
            return lambda x: a(x) and b(x) and c3(x)
        return lambda x: all(c(x) for c in checks)

    def string(schema: Mapping[str, Any]) -> Check:
        """A string schema's keywords in one closure."""
        lo, hi = schema.get("minLength"), schema.get("maxLength")
        blo, bhi = schema.get("minUtf8ByteLength"), schema.get("maxUtf8ByteLength")
        rx = safe_pattern(schema["pattern"]) if "pattern" in schema else None
        enum = frozenset(e for e in schema["enum"] if isinstance(e, str)) if "enum" in schema \
            else None
        fmt = schema.get("format")

        def check(x: Any) -> bool:
            if not isinstance(x, str):
                return False
            n = len(x)
            if (lo is not None and n < lo) or (hi is not None and n > hi):
                return False
            if bhi is not None and 4 * n > bhi and utf8_len(x) > bhi:
                return False
            if blo is not None and n < blo and utf8_len(x) < blo:
                return False
            if enum is not None and x not in enum:
                return False
            if rx is not None and rx.search(x) is None:
                return False
            return fmt is None or _format_ok(fmt, x)

        return check

    def obj(schema: Mapping[str, Any], *, strict: bool) -> Check:
        props = {k: build(v) for k, v in (schema.get("properties") or {}).items()}
        req = tuple(schema.get("required") or ())
        if "patternProperties" in schema:
            raise UnsupportedSchema("patternProperties")
        extra_schema = schema.get("additionalProperties", True)
        closed = extra_schema is False
        extra = None if extra_schema is True or closed else build(extra_schema)
        get = props.get

        def check(x: Any) -> bool:
            if type(x) is not dict:
                if isinstance(x, dict):
                    return check(dict(x))
                return not strict
            for k in req:
                if k not in x:
                    return False
            for k, v in x.items():
                f = get(k)
                if f is None:
                    if closed or (extra is not None and not extra(v)):
                        return False
                elif f is not _always and not f(v):
                    return False
            return True

        return check

    def arr(schema: Mapping[str, Any], *, strict: bool) -> Check:
        items = schema.get("items", True)
        if not isinstance(items, Mapping) and items is not True and items is not False:
            raise UnsupportedSchema("items as an array")
        item = build(items)
        lo = schema.get("minItems")
        hi = schema.get("maxItems")
        sel = tuple(schema.get("selectors", ()))
        max_u = schema.get("maxUniqueItems")
        min_u = schema.get("minUniqueItems")

        def check(x: Any) -> bool:
            if not isinstance(x, list):
                return not strict
            n = len(x)
            if (lo is not None and n < lo) or (hi is not None and n > hi):
                return False
            if item is not _always:
                for i in x:
                    if not item(i):
                        return False
            # a combination can only occur too often when there are more items than allowed,
            # and every combination present occurs at least once
            if max_u is not None and n > max_u and any(
                c > max_u for c in selector_counts(x, sel).values()
            ):
                return False
            return not (min_u is not None and min_u > 1 and n and any(
                c < min_u for c in selector_counts(x, sel).values()
            ))

        return check

    def keyword(key: str, v: Any, schema: Mapping[str, Any]) -> Check | None:
        if key == "type":
            if isinstance(v, str):
                return _TYPES[v]
            fns = [_TYPES[t] for t in v]
            return lambda x: any(f(x) for f in fns)
        if key == "$ref":
            return ref(v)
        if key == "contains":
            inner = build(v)
            return lambda x: not isinstance(x, list) or any(inner(i) for i in x)
        if key == "uniqueItems":
            if not v:
                return None
            return lambda x: not isinstance(x, list) or len({_key(i) for i in x}) == len(x)
        if key == "minLength":
            return lambda x: not isinstance(x, str) or len(x) >= v
        if key == "maxLength":
            return lambda x: not isinstance(x, str) or len(x) <= v
        if key == "maxUtf8ByteLength":
            # a string of n characters has at most 4n UTF-8 bytes: most never need encoding
            return lambda x: not isinstance(x, str) or 4 * len(x) <= v or utf8_len(x) <= v
        if key == "minUtf8ByteLength":
            return lambda x: not isinstance(x, str) or len(x) >= v or utf8_len(x) >= v
        if key == "pattern":
            rx = safe_pattern(v)
            return lambda x: not isinstance(x, str) or rx.search(x) is not None
        if key == "format":
            return lambda x: _format_ok(v, x)
        if key == "minimum":
            return lambda x: not is_number(x) or x >= v
        if key == "maximum":
            return lambda x: not is_number(x) or x <= v
        if key == "exclusiveMinimum":
            return lambda x: not is_number(x) or x > v
        if key == "exclusiveMaximum":
            return lambda x: not is_number(x) or x < v
        if key == "multipleOf":
            return lambda x: _multiple_of(x, v)
        if key == "enum":
            allowed = frozenset(_key(e) for e in v)
            strings = frozenset(e for e in v if isinstance(e, str))
            return lambda x: (x in strings) if type(x) is str else _key(x) in allowed
        if key == "const":
            want = _key(v)
            return lambda x: _key(x) == want
        if key == "anyOf":
            branches = [build(s) for s in v]
            return lambda x: any(b(x) for b in branches)
        if key == "oneOf":
            branches = [build(s) for s in v]
            return lambda x: sum(1 for b in branches if b(x)) == 1
        if key == "allOf":
            branches = [build(s) for s in v]
            return lambda x: all(b(x) for b in branches)
        if key == "not":
            inner = build(v)
            return lambda x: not inner(x)
        if key == "if":
            cond = build(v)
            then = build(schema.get("then", True))
            other = build(schema.get("else", True))
            return lambda x: then(x) if cond(x) else other(x)
        raise UnsupportedSchema(key)

    return build(root)


# A group that contains a quantifier and is itself quantified: (a+)+, (\w*x)*, ... the shape of
# catastrophic backtracking. Definitions come from Amazon but are cached in catalogs, which
# arrive in pull requests: such a pattern is refused rather than run on catalog values.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]")
MAX_PATTERN = 1000


def safe_pattern(pattern: Any) -> re.Pattern[str]:
    """``pattern`` compiled, unless it is too long, malformed or prone to catastrophic
    backtracking (UnsupportedSchema)."""
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN:
        raise UnsupportedSchema("pattern that is not a string of at most 1000 characters")
    if _NESTED_QUANTIFIER.search(pattern):
        raise UnsupportedSchema(f"pattern with nested quantifiers {pattern!r}")
    try:
        return re.compile(pattern)
    except re.error as e:
        raise UnsupportedSchema(f"pattern {pattern!r}: {e}") from None


def simplify_any_of(schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Amazon writes open enumerations as ``anyOf: [{type: string}, {type: string, enum: [..]}]``
    (the enum only suggests values). That is the type alone; dropping the branches saves a call
    per marketplace_id and language_tag of every entry."""
    branches = schema.get("anyOf")
    if not isinstance(branches, list) or not branches:
        return None
    plain = [b for b in branches if isinstance(b, Mapping) and set(b) == {"type"}]
    if not plain:
        return None
    t = plain[0]["type"]
    if all(isinstance(b, Mapping) and b.get("type") == t for b in branches):
        out = {k: v for k, v in schema.items() if k != "anyOf"}
        if out.get("type", t) != t:
            return None
        out["type"] = t
        return out
    return None
