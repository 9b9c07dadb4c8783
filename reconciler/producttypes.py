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
        from .producttype_check import compile_schema

        self._check = compile_schema(self.schema)

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
