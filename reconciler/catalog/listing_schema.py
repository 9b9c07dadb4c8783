"""Desired listings against the catalog's cached product type definitions (``validate``,
``plan``), before anything is written.

:class:`Definitions` wraps the definitions the loader read (``producttype_files``) and compiles
each one once: a :class:`~reconciler.contract.producttypes.Validator` per (product type,
marketplace, requirements set) and enforcement level, an
:class:`~reconciler.contract.listing_attributes.EntryMaker` per attribute, and the selector table
the differ uses. :func:`problems` turns a validator's issues into catalog problems that point at
the YAML line the attribute came from (:func:`locate`): an attribute from ``attributes:`` at its
value, a title at its text, a price at the price line, a missing attribute at the SKU.

Requirements are enforced for every listing the catalog describes whole: any of them may have to
be created. A listing whose texts are held for review is checked structurally only
(``requirementsEnforced: NOT_ENFORCED``): nothing is created for it until its texts exist.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.contract.listing_attributes import OWN_KEYS, Declared, EntryMaker
from reconciler.contract.producttype_files import CachedDefinition, Key, relative_path
from reconciler.contract.producttypes import Validator, non_editable
from reconciler.contract.vocabulary import MISSING_ATTRIBUTE, SchemaIssue, UnsupportedSchema
from reconciler.kernel.model import Attributes, Entry

PULL_HINT = "run `reconciler product-types pull`"


class DefinitionUnusable(ValueError):
    pass


class Definitions:
    def __init__(self, cached: Mapping[Key, CachedDefinition], *, validate: bool = True) -> None:
        self.cached = cached
        self.validate = validate
        self._validators: dict[tuple[Key, bool], Validator] = {}
        self._makers: dict[tuple[Key, str], EntryMaker | None] = {}
        self._selectors: dict[Key, dict[str, tuple[str, ...]]] = {}
        self._locked: dict[Key, frozenset[str]] = {}

    def get(self, key: Key) -> CachedDefinition | None:
        return self.cached.get(key)

    def validator(self, key: Key, enforced: bool) -> Validator:
        """The compiled definition. Raises DefinitionUnusable for a schema this validator cannot
        run (an unknown keyword, a pattern prone to catastrophic backtracking)."""
        v = self._validators.get((key, enforced))
        if v is None:
            try:
                v = Validator(self.cached[key].schema, enforced=enforced)
            except (UnsupportedSchema, RecursionError) as e:
                reason = str(e) if isinstance(e, UnsupportedSchema) else "nested too deeply"
                raise DefinitionUnusable(
                    f"cannot check listings against this definition (unsupported: {reason}); "
                    f"{PULL_HINT} to fetch Amazon's copy again"
                ) from None
            self._validators[(key, enforced)] = v
        return v

    def maker(self, key: Key, attribute: str) -> EntryMaker | None:
        """The entry maker of ``attribute`` (None: the definition has no such attribute)."""
        k = (key, attribute)
        if k not in self._makers:
            prop = (self.cached[key].schema.get("properties") or {}).get(attribute)
            self._makers[k] = EntryMaker(attribute, prop) if isinstance(prop, Mapping) else None
        return self._makers[k]

    def selectors(self, key: Key) -> dict[str, tuple[str, ...]]:
        """Selector fields per attribute (one dict shared by every listing of the definition)."""
        s = self._selectors.get(key)
        if s is None:
            props = self.cached[key].schema.get("properties") or {}
            s = self._selectors[key] = {
                name: tuple(p["selectors"]) for name, p in props.items()
                if isinstance(p, Mapping) and p.get("selectors")
            }
        return s

    def locked(self, key: Key) -> frozenset[str]:
        """Attributes an existing listing cannot change (``editable: false``)."""
        s = self._locked.get(key)
        if s is None:
            s = self._locked[key] = non_editable(self.cached[key].schema)
        return s

    def list_price_field(self, key: Key | None) -> str:
        """``value_with_tax`` where the definition's list price asks for it, else ``value``."""
        if key is None or key not in self.cached:
            return "value"
        prop = (self.cached[key].schema.get("properties") or {}).get("list_price") or {}
        fields = (prop.get("items") or {}).get("properties") or {}
        return "value_with_tax" if "value_with_tax" in fields and "value" not in fields else "value"


def missing_message(key: Key) -> str:
    pt, code, req = key
    return (f"no cached product type definition for {pt} in {code} ({req}; expected "
            f"{relative_path(pt, code, req)}): {PULL_HINT}")


def without_cleared(attributes: Attributes) -> Attributes:
    """The attributes as sent: fields the catalog clears (None) are not values."""
    out: Attributes = {}
    for name, entries in attributes.items():
        out[name] = [_strip(e) for e in entries]
    return out


def _strip(e: Entry) -> Entry:
    return {k: v for k, v in e.items() if v is not None}


def locate(
    data: Mapping[str, Any], code: str, text_lang: str | None, issue: SchemaIssue,
    declared: Mapping[str, Declared],
) -> tuple[tuple[Any, ...], bool]:
    """(YAML path below the SKU, key?) of where ``issue``'s attribute came from."""
    attr = issue.attribute
    ov = (data.get("overrides") or {}).get(code) or {}
    if issue.code == MISSING_ATTRIBUTE and attr not in declared:
        return ((), True)
    if attr in declared:
        return (declared[attr].path, False)
    if attr in ("item_name", "product_description") and text_lang:
        return (("texts", text_lang, attr), False)
    if attr == "bullet_point" and text_lang:
        return (("texts", text_lang, "bullet_points"), False)
    if attr == "purchasable_offer":
        for name in ("discounted_price", "quantity_discount_plan", "minimum_seller_allowed_price",
                     "maximum_seller_allowed_price"):
            if name in issue.path:
                line = {"discounted_price": "sale_price",
                        "quantity_discount_plan": "business_price"}.get(name, name)
                return ((("overrides", code, line) if line in ov else (line,)), False)
        return ((("overrides", code, "price") if "price" in ov else ("base_price",)), False)
    if attr == "list_price":
        return ((("overrides", code, "list_price") if "list_price" in ov else ("list_price",)),
                False)
    if attr == "fulfillment_availability":
        q = data.get("quantity") or {}
        return ((("quantity", code) if code in q else ("allocation",)), False)
    return ((), True)


def describe(issue: SchemaIssue, key: Key) -> str:
    """A catalog problem's message: the attribute path, Amazon's message and the definition
    (product type and requirements set; the problem's context names the marketplaces)."""
    pt, _, req = key
    text = issue.message
    if issue.path and issue.path not in text:
        text = f"{issue.path}: {text}"
    hint = ""
    if issue.attribute in OWN_KEYS and issue.code == MISSING_ATTRIBUTE:
        hint = f" (declare it with {OWN_KEYS[issue.attribute]})"
    elif issue.code == MISSING_ATTRIBUTE:
        hint = " (add it under attributes:)"
    return f"{text}{hint} [{pt} {req}, Amazon code {issue.code}]"


def locked_changes(locked: frozenset[str], attributes: tuple[str, ...]) -> list[str]:
    """The attributes among ``attributes`` Amazon does not let an existing listing change."""
    return [a for a in attributes if a in locked]
