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

from collections.abc import Mapping
from typing import Any

from reconciler.contract.producttype_check import compile_schema
from reconciler.contract.producttype_issues import explain
from reconciler.contract.vocabulary import SchemaIssue

# --------------------------------------------------------------------------- scalars


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

        self._check = compile_schema(self.schema)

    def is_valid(self, attributes: Mapping[str, Any]) -> bool:
        """True when ``attributes`` satisfy the schema and name only its attributes."""
        return self.properties.issuperset(attributes) and self._check(attributes)

    def issues(self, attributes: Mapping[str, Any]) -> list[SchemaIssue]:
        """Every problem of ``attributes``, in Amazon's wording (empty when valid)."""

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
