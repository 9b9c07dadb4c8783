"""Product type attributes declared in the catalog -> SP-API attribute entries of one listing.

A SKU declares any attribute its product type definition defines (``catalog/product-types/``)::

    attributes:                       # per SKU
      condition_type: new_new         # a scalar: the entry's value
      brand: Birchwood Kitchen        # language-tagged: the marketplace's language_tag is added
      merchant_suggested_asin: B0C1MUG12A
      externally_assigned_product_identifier: {type: ean, value: "4006381333931"}
      main_product_image_locator: https://example.com/mug.jpg   # its only field, media_location
      item_weight: {value: 0.4, unit: kilograms}
      special_feature: [Dishwasher safe, Microwave safe]        # several entries
    texts:
      de_DE:
        attributes: {color: Salbeigrün}  # language-specific values, where the texts come from
    overrides:
      UK:
        attributes: {merchant_suggested_asin: B0C1MUG12B, color: {clear: true}}

Later layers replace earlier ones per attribute (SKU, then its texts' language, then the
marketplace's overrides). Each entry gets the fields the definition marks hidden (its selectors:
``marketplace_id``, ``language_tag``, ``currency`` ...) from the marketplace, so a catalog never
writes them. ``{clear: true}`` removes what Amazon has for the attribute in that marketplace.
Texts, prices and quantities keep their own keys; naming them here is a problem. EAN, UPC and GTIN
identifiers have their GS1 check digit verified
(https://www.gs1.org/services/how-calculate-check-digit-manually).

Pure: no I/O.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.kernel.model import Entry, Selector

# Attributes the catalog builds from its own keys, and where to declare them instead.
OWN_KEYS = {
    "item_name": "texts.<language>.item_name",
    "product_description": "texts.<language>.product_description",
    "bullet_point": "texts.<language>.bullet_points",
    "purchasable_offer": "base_price, sale_price, business_price, overrides.<MP>.price",
    "list_price": "list_price",
    "fulfillment_availability": "quantity or allocation",
}
GTIN_LENGTHS = {"ean": (8, 13), "upc": (12,), "gtin": (8, 12, 13, 14)}


@dataclass(frozen=True, slots=True)
class Declared:
    value: Any
    path: tuple[Any, ...]  # where in the SKU's YAML (for SkuDecl.ref)


def declared(data: Mapping[str, Any], code: str, text_lang: str | None) -> dict[str, Declared]:
    """The attributes a SKU declares for marketplace ``code`` whose texts come from
    ``text_lang``, with where each was written."""
    out: dict[str, Declared] = {}
    for name, v in (data.get("attributes") or {}).items():
        out[name] = Declared(v, ("attributes", name))
    if text_lang is not None:
        block = (data.get("texts") or {}).get(text_lang) or {}
        for name, v in (block.get("attributes") or {}).items():
            out[name] = Declared(v, ("texts", text_lang, "attributes", name))
    ov = (data.get("overrides") or {}).get(code) or {}
    for name, v in (ov.get("attributes") or {}).items():
        out[name] = Declared(v, ("overrides", code, "attributes", name))
    return out


def is_clear(value: Any) -> bool:
    return isinstance(value, Mapping) and dict(value) == {"clear": True}


def gtin_problem(kind: str, value: str) -> str | None:
    """Why ``value`` is not a valid ``kind`` (ean/upc/gtin) identifier, or None."""
    lengths = GTIN_LENGTHS.get(kind)
    if lengths is None:
        return None
    if not value.isdigit() or len(value) not in lengths:
        want = " or ".join(str(n) for n in lengths)
        return f"{kind.upper()} {value!r} must be {want} digits"
    digits = [int(c) for c in value]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    check = (10 - total % 10) % 10
    if check != digits[-1]:
        return f"{kind.upper()} {value} has a wrong check digit (expected {check})"
    return None


class AttributeProblem(ValueError):
    def __init__(self, message: str, path_suffix: tuple[Any, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path_suffix = path_suffix


def _intern(v: Any) -> Any:
    return sys.intern(v) if type(v) is str and len(v) <= 64 else v


class EntryMaker:
    """Turns declared values into entries for one attribute of one definition (built once per
    attribute and definition, used for every listing)."""

    def __init__(self, name: str, prop: Mapping[str, Any]) -> None:
        self.name = name
        raw_items = prop.get("items")
        items: Mapping[str, Any] = raw_items if isinstance(raw_items, Mapping) else {}
        self.fields: Mapping[str, Any] = items.get("properties") or {}
        self.selectors = tuple(prop.get("selectors") or ())
        hidden = [f for f, s in self.fields.items() if _is_hidden(s)]
        self.hidden = tuple(hidden)
        visible_required = [f for f in items.get("required", ()) if f not in hidden]
        if "value" in self.fields:
            self.main: str | None = "value"
        elif len(visible_required) == 1:
            self.main = visible_required[0]
        else:
            self.main = None
        self.defaults = {
            f: s.get("default") for f, s in self.fields.items()
            if isinstance(s, Mapping) and "default" in s and f in hidden
        }

    def fill(self, marketplace_id: str, language_tag: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in self.hidden:
            if f == "marketplace_id":
                out[f] = marketplace_id
            elif f == "language_tag":
                out[f] = language_tag
            elif f in self.defaults:
                out[f] = self.defaults[f]
        return out

    def entries(self, value: Any, marketplace_id: str, language_tag: str
                ) -> tuple[list[Entry] | None, Selector | None]:
        """(entries, None), or (None, the selector to clear) for ``{clear: true}``. Raises
        AttributeProblem."""
        base = self.fill(marketplace_id, language_tag)
        if is_clear(value):
            return None, tuple((s, str(base[s])) for s in self.selectors if s in base)
        items = value if isinstance(value, list) else [value]
        out = []
        for i, item in enumerate(items):
            where = (i,) if isinstance(value, list) else ()
            if isinstance(item, Mapping):
                e = {**{k: _intern(v) for k, v in item.items()}, **{
                    k: v for k, v in base.items() if k not in item}}
            elif self.main is None:
                shown = ", ".join(f for f in self.fields if f not in self.hidden)
                raise AttributeProblem(
                    f"{self.name} needs a mapping of its fields ({shown}), not a single value",
                    where)
            else:
                e = {self.main: _intern(item), **base}
            if self.name == "externally_assigned_product_identifier":
                why = gtin_problem(str(e.get("type", "")), str(e.get("value", "")))
                if why:
                    raise AttributeProblem(why, where)
            out.append(e)
        return out, None


def _is_hidden(schema: Any) -> bool:
    if not isinstance(schema, Mapping):
        return False
    if "$ref" in schema:  # Amazon's $defs marketplace_id / language_tag are hidden
        return str(schema["$ref"]).rsplit("/", 1)[-1] in ("marketplace_id", "language_tag")
    return bool(schema.get("hidden"))
