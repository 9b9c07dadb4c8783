"""Amazon's product type definition schemas as validators (the meta-schema's vocabulary on top of
JSON Schema 2019-09).

A product type definition (Product Type Definitions API 2020-09-01, ``getDefinitionsProductType``)
links to one JSON Schema per product type, marketplace and requirements set, written to Amazon's
meta-schema v1 (``shared/spapi/amazon-product-type-definition-meta-schema-v1.md``,
https://developer-docs.amazon.com/sp-api/docs/product-type-definitions-api-v2020-09-01-use-case-guide).
:class:`Validator` checks a listing's ``attributes`` (the SP-API shapes of ``model.py``; money
may be :class:`~decimal.Decimal`) against one of them:

- the standard keywords Amazon's schemas use (``type``, ``required``, ``properties``,
  ``additionalProperties``, ``items``, ``min/maxItems``, ``min/maxLength``, ``pattern``,
  ``enum``, ``const``, ``minimum``/``maximum`` (also exclusive), ``multipleOf``, ``format``
  ``date``/``date-time``/``uri`` (asserted: Amazon's ``oneOf [date, date-time]`` needs it),
  ``anyOf``/``oneOf``/``allOf``/``not``, ``if``/``then``/``else``, ``contains``, ``$ref`` to
  ``#/$defs``);
- Amazon's vocabulary: ``selectors`` with ``maxUniqueItems``/``minUniqueItems`` (each
  combination of selector values may occur at most/at least N times, as Amazon's reference
  validators count it), ``maxUtf8ByteLength``/``minUtf8ByteLength`` (UTF-8 bytes, not
  characters); ``editable``/``hidden``/``enumNames`` are informational and read by
  :func:`non_editable` / :func:`hidden_defaults`;
- ``requirementsEnforced``: with ``enforced=False`` the top-level ``required`` and the
  conditional ``allOf`` requirements are not checked (NOT_ENFORCED, "structural validation of
  individual attributes", as for partial updates).

Two paths: :meth:`Validator.is_valid` runs a tree of closures compiled once per schema (no
``eval``), fast enough for 100,000 listings; :meth:`Validator.issues` walks the schema and says
what is wrong in Amazon's wording (``'condition_type' is required but not supplied.``, code 90220)
only for the listings the fast path refused. ``tests/test_producttypes.py`` checks both agree.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

REQUIREMENTS = ("LISTING", "LISTING_OFFER_ONLY", "LISTING_PRODUCT_ONLY")
META_SCHEMA_URI = "https://schemas.amazon.com/selling-partners/definitions/product-types/meta-schema/v1"

# Issue codes: Amazon's where known (CONTRACT.md §3.3), else the emulator's stable ones
# (reconciler.emulator.listing_rules documents them).
MISSING_ATTRIBUTE = "90220"  # "'x' is required but not supplied."
UNKNOWN_ATTRIBUTE = "90000900"  # "The attributes are invalid."
MISSING_FIELD = "4000001"  # a field of an entry is missing (Amazon's "does not have enough values")
INVALID_VALUE = "4000003"

Check = Callable[[Any], bool]
_INFORMATIONAL = frozenset({
    "$schema", "$id", "$comment", "$defs", "title", "description", "examples", "default",
    "editable", "hidden", "enumNames", "then", "else", "selectors", "$lifecycle",
})  # fmt: skip
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$"
)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")


class UnsupportedSchema(ValueError):
    """A keyword this validator does not implement (so nothing is silently skipped)."""


@dataclass(frozen=True, slots=True)
class SchemaIssue:
    """One problem of a listing's attributes, worded as Amazon words it."""

    code: str
    attribute: str  # top-level attribute name ("" for the listing as a whole)
    path: str  # e.g. "list_price[0].value_with_tax"; the attribute name alone when it is missing
    message: str
    category: str = "INVALID_ATTRIBUTE"  # or MISSING_ATTRIBUTE


# --------------------------------------------------------------------------- scalars


def is_number(x: Any) -> bool:
    return isinstance(x, (int, float, Decimal)) and not isinstance(x, bool)


def is_integer(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    if isinstance(x, int):
        return True
    if isinstance(x, (float, Decimal)):
        try:
            return x == int(x)
        except (ValueError, OverflowError, InvalidOperation):
            return False
    return False


_TYPES: dict[str, Check] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "integer": is_integer,
    "number": is_number,
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
}


def _format_ok(fmt: str, x: Any) -> bool:
    if not isinstance(x, str):
        return True
    if fmt == "date":
        return bool(_DATE.match(x)) and _valid_date(x[:10])
    if fmt == "date-time":
        return bool(_DATE_TIME.match(x)) and _valid_date(x[:10])
    if fmt == "uri":
        return bool(_URI.match(x))
    return True  # other formats are annotations


def _valid_date(s: str) -> bool:
    import datetime as _dt

    try:
        _dt.date.fromisoformat(s)
    except ValueError:
        return False
    return True


def _multiple_of(x: Any, m: Any) -> bool:
    if not is_number(x):
        return True
    try:
        return Decimal(str(x)) % Decimal(str(m)) == 0
    except InvalidOperation:
        return False


def _key(x: Any) -> Any:
    """A hashable value equal when JSON Schema's equality says so (1 == 1.0, True != 1)."""
    if isinstance(x, bool):
        return ("b", x)
    if is_number(x):
        return ("n", Decimal(str(x)))
    if isinstance(x, list):
        return ("l", tuple(_key(i) for i in x))
    if isinstance(x, dict):
        return ("d", frozenset((k, _key(v)) for k, v in x.items()))
    return ("s", x)


def utf8_len(s: str) -> int:
    return len(s.encode("utf-8"))


def selector_counts(
    entries: Iterable[Any], selectors: tuple[str, ...]
) -> dict[tuple[Any, ...], int]:
    counts: dict[tuple[Any, ...], int] = {}
    for e in entries:
        if isinstance(e, dict):
            k = tuple(_key(e.get(s)) for s in selectors)
            counts[k] = counts.get(k, 0) + 1
    return counts


# --------------------------------------------------------------------------- compiled checker


_OBJECT_KEYS = frozenset({"properties", "required", "additionalProperties"})
_STRING_KEYS = frozenset({"type", "minLength", "maxLength", "minUtf8ByteLength",
                          "maxUtf8ByteLength", "pattern", "enum", "format"})
_ARRAY_KEYS = frozenset({"items", "minItems", "maxItems", "maxUniqueItems", "minUniqueItems"})


def _always(x: Any) -> bool:
    return True


def _compile(root: Mapping[str, Any]) -> Check:
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
        simple = _simplify_any_of(schema)
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
        rx = re.compile(schema["pattern"]) if "pattern" in schema else None
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
            rx = re.compile(v)
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


def _simplify_any_of(schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
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


# --------------------------------------------------------------------------- validator


def not_enforced(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` without its requirements: no top-level ``required``, no conditional
    ``allOf`` (Amazon's requirementsEnforced=NOT_ENFORCED)."""
    return {k: v for k, v in schema.items() if k not in ("required", "allOf")}


class Validator:
    """One product type definition schema, compiled once. ``enforced=False`` checks structure
    only (see :func:`not_enforced`)."""

    def __init__(self, schema: Mapping[str, Any], *, enforced: bool = True) -> None:
        self.schema: Mapping[str, Any] = schema if enforced else not_enforced(schema)
        self.enforced = enforced
        props = self.schema.get("properties") or {}
        self.properties: frozenset[str] = frozenset(props)
        self.selectors: dict[str, tuple[str, ...]] = {
            name: tuple(p.get("selectors", ())) for name, p in props.items()
            if isinstance(p, Mapping)
        }
        self._check = _compile(self.schema)

    def is_valid(self, attributes: Mapping[str, Any]) -> bool:
        """True when ``attributes`` satisfy the schema and name only its attributes."""
        return self.properties.issuperset(attributes) and self._check(attributes)

    def issues(self, attributes: Mapping[str, Any]) -> list[SchemaIssue]:
        """Every problem of ``attributes``, in Amazon's wording (empty when valid)."""
        from .producttype_issues import explain

        return explain(self.schema, attributes, self.properties)


def non_editable(schema: Mapping[str, Any]) -> frozenset[str]:
    """Attributes whose value Amazon does not let an existing listing change
    (``editable: false`` on the attribute or on its ``value``)."""
    out = set()
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, Mapping):
            continue
        if prop.get("editable") is False:
            out.add(name)
            continue
        item = prop.get("items")
        value = item.get("properties", {}).get("value") if isinstance(item, Mapping) else None
        if isinstance(value, Mapping) and value.get("editable") is False:
            out.add(name)
    return frozenset(out)


def hidden_defaults(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of an attribute's entries that are ``hidden`` and carry a ``default``
    (``marketplace_id``, ``language_tag``, ``currency``, ``audience``): a catalog never writes
    them; the defaults are filled in."""
    out: dict[str, Any] = {}
    item = prop.get("items")
    if not isinstance(item, Mapping):
        return out
    for field, sub in (item.get("properties") or {}).items():
        if isinstance(sub, Mapping) and "$ref" in sub:
            sub = defs.get(str(sub["$ref"]).rsplit("/", 1)[-1], {})
        if isinstance(sub, Mapping) and sub.get("hidden") and "default" in sub:
            out[field] = sub["default"]
    return out
