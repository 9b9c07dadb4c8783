"""Product Type Definitions API 2020-09-01 in the emulator, and the schemas every listing write is
validated against.

Source of truth: ``data/product_types.json`` (one file for every product type the sample, the
tests and the benchmarks use). :func:`definition_document` assembles from it one JSON Schema per
(product type, marketplace, requirements set), written to Amazon's meta-schema v1
(https://schemas.amazon.com/selling-partners/definitions/product-types/meta-schema/v1, vocabulary in
``shared/spapi/amazon-product-type-definition-meta-schema-v1.md``): ``$defs`` for the
marketplace's ``marketplace_id`` and ``language_tag`` (hidden, with defaults), attributes as arrays
of entries with ``selectors`` and ``maxUniqueItems``, the requirements set's ``required`` list and
its conditional ``allOf``/``if``/``then`` rules. Per-marketplace differences come from the same
file: the marketplace's currency and languages, and ``list_price`` in the EU (and JP) shape
``value_with_tax`` (Amazon requires a list price with tax there: "Updated date for List Price
requirement changes", https://developer-docs.amazon.com/sp-api/changelog/updated-date-for-list-price-requirement-changes;
CONTRACT.md §7). ``reconciler product-types pull`` stores these documents in a catalog
(``catalog/product-types/``), so the catalog's copies and what the emulator enforces come from one
source and cannot disagree (``tests/test_product_types.py`` checks the sample's copies).

Requirements sets (``getDefinitionsProductType`` ``requirements``): every set has the same
properties; they differ in what is required.

- ``LISTING`` (product facts and sales terms): brand, condition_type, item_name,
  item_type_keyword; purchasable_offer unless ``skip_offer``; without merchant_suggested_asin (a
  new product) externally_assigned_product_identifier (unless exempt) and a main image.
- ``LISTING_OFFER_ONLY`` (an offer on an existing ASIN): condition_type,
  merchant_suggested_asin, purchasable_offer. ``PRODUCT`` supports only this set ("Partially
  supported product types", Listings Items API 2021-08-01 use case guide).
- ``LISTING_PRODUCT_ONLY``: the product facts of ``LISTING``, no offer.

The HTTP side (``getDefinitionsProductType``, ``searchDefinitionsProductTypes``, the documents,
seeded changes) is ``product_type_api.py``.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from reconciler.contract import jsonfmt
from reconciler.contract.producttype_files import CachedDefinition, relative_path, render
from reconciler.contract.vocabulary import META_SCHEMA_URI, REQUIREMENTS
from reconciler.kernel.marketplaces import MARKETPLACES

SCHEMA_ID = "https://schemas.amazon.com/selling-partners/definitions/product-types/schema/v1/{}"
SPEC_FILE = "product_types.json"
META_FILE = "product-type-meta-schema-v1.json"
_DATE_ONE_OF = [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]


@functools.cache
def spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_data(SPEC_FILE))
    return data


def _data(name: str) -> str:
    return resources.files("reconciler.emulator").joinpath("data").joinpath(name).read_text(
        encoding="utf-8"
    )


def product_types() -> tuple[str, ...]:
    return tuple(sorted(spec()["productTypes"]))


def supported_requirements(product_type: str) -> tuple[str, ...]:
    pt = spec()["productTypes"].get(product_type)
    if pt is None:
        return ()
    return tuple(pt.get("requirements", REQUIREMENTS))


def languages(code: str) -> list[str]:
    langs: list[str] = spec()["languages"].get(code) or [MARKETPLACES[code].language_tag]
    return langs


# --------------------------------------------------------------------------- assembly


def _value_property(a: Mapping[str, Any], name: str) -> dict[str, Any]:
    v: dict[str, Any] = {
        "title": a.get("title", name.replace("_", " ").title()),
        **({"description": a["description"]} if "description" in a else {}),
        "editable": a.get("editable", True),
        "hidden": False,
        "type": a["type"],
    }
    for k in ("enum", "enumNames", "minLength", "maxLength", "pattern", "minimum", "maximum",
              "maxUtf8ByteLength", "minUtf8ByteLength"):
        if k in a:
            v[k] = a[k]
    if a.get("format") in ("date", "date-time"):
        v["oneOf"] = copy.deepcopy(_DATE_ONE_OF)
    return v


def _entry_array(a: Mapping[str, Any], name: str, fields: dict[str, Any], required: list[str],
                 selectors: list[str]) -> dict[str, Any]:
    props: dict[str, Any] = {"marketplace_id": {"$ref": "#/$defs/marketplace_id"}}
    if "language_tag" in selectors:
        props["language_tag"] = {"$ref": "#/$defs/language_tag"}
    props.update(fields)
    return {
        "title": a.get("title", name.replace("_", " ").title()),
        **({"description": a["description"]} if "description" in a else {}),
        "type": "array",
        "minItems": 1,
        "minUniqueItems": 1,
        "maxUniqueItems": a.get("maxUniqueItems", 1),
        "selectors": selectors,
        "items": {
            "type": "object",
            "required": required,
            "properties": props,
            "additionalProperties": False,
        },
    }


def _measure(unit_enum: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["unit", "value"],
        "properties": {
            "value": {"title": "Value", "editable": True, "hidden": False, "type": "number",
                      "minimum": 0},
            "unit": {"title": "Unit", "editable": True, "hidden": False, "type": "string",
                     "enum": unit_enum},
        },
        "additionalProperties": False,
    }


def attribute_schema(name: str, code: str) -> dict[str, Any]:
    """The property schema of attribute ``name`` in marketplace ``code``."""
    a = spec()["attributes"][name]
    kind = a["kind"]
    if kind == "raw":
        raw = a["withTax"] if "withTax" in a and code in spec()["listPriceWithTax"] else a["schema"]
        out: dict[str, Any] = _tokens(copy.deepcopy(raw), code)
        return out
    if kind == "value":
        lang = bool(a.get("lang"))
        selectors = a.get("selectors") or (["marketplace_id", "language_tag"] if lang
                                          else ["marketplace_id"])
        required = ["language_tag", "value"] if lang else ["value"]
        return _entry_array(a, name, {"value": _value_property(a, name)}, required, selectors)
    if kind == "measure":
        m = _measure(a["units"])
        return _entry_array(a, name, m["properties"], ["unit", "value"], ["marketplace_id"])
    if kind == "dimensions":
        fields = {d: _measure(a["units"]) for d in ("length", "width", "height")}
        return _entry_array(a, name, fields, ["height", "length", "width"], ["marketplace_id"])
    if kind == "image":
        loc = {"title": a.get("title", "Image Location"), "editable": True, "hidden": False,
               "type": "string", "format": "uri", "maxLength": 2048}
        return _entry_array(a, name, {"media_location": loc}, ["media_location"],
                            ["marketplace_id"])
    raise ValueError(f"unknown attribute kind {kind!r} for {name}")


def _tokens(node: Any, code: str) -> Any:
    m = MARKETPLACES[code]
    if isinstance(node, str):
        return node.replace("{{currency}}", m.currency)
    if isinstance(node, list):
        return [_tokens(x, code) for x in node]
    if isinstance(node, dict):
        return {k: _tokens(v, code) for k, v in node.items()}
    return node


@functools.cache
def selectors() -> dict[str, tuple[str, ...]]:
    """Selector fields of every attribute the definitions know (the same in every product type
    and marketplace), for patch semantics (``listing_rules``)."""
    out: dict[str, tuple[str, ...]] = {}
    for name in spec()["attributes"]:
        sel = attribute_schema(name, "US").get("selectors")
        if sel:
            out[name] = tuple(sel)
    return out


def attribute_names(product_type: str) -> list[str]:
    s = spec()
    names: list[str] = []
    for group in ("facts", "identity", "offer"):
        names.extend(s["groups"][group])
    names.extend(s["productTypes"][product_type].get("attributes", ()))
    return list(dict.fromkeys(names))


def definition_document(
    product_type: str, code: str, requirements: str = "LISTING",
    changes: tuple[Mapping[str, Any], ...] = (),
) -> dict[str, Any]:
    """The schema document of one product type, marketplace (code) and requirements set."""
    s = spec()
    mp = MARKETPLACES[code]
    langs = languages(code)
    reqs = s["requirements"][requirements]
    required = list(reqs["required"])
    extra = s["productTypes"][product_type].get("required", {}).get(requirements, [])
    for c in changes:
        if _applies(c, mp.marketplace_id, requirements):
            extra = [*extra, *c.get("addRequired", ())]
    required = sorted(set(required) | set(extra))
    doc: dict[str, Any] = {
        "$schema": META_SCHEMA_URI,
        "$id": SCHEMA_ID.format(product_type),
        "$comment": f"Amazon product type definition for {product_type} product type",
        "$defs": {
            "marketplace_id": {
                "default": mp.marketplace_id, "editable": False, "hidden": True,
                "examples": [mp.country], "type": "string",
                "anyOf": [{"type": "string"}, {"type": "string", "enum": [mp.marketplace_id],
                                               "enumNames": [mp.country]}],
            },
            "language_tag": {
                "default": langs[0], "editable": False, "hidden": True,
                "examples": [langs[0]], "type": "string",
                "anyOf": [{"type": "string"}, {"type": "string", "enum": langs,
                                               "enumNames": langs}],
            },
        },
        "type": "object",
        "required": required,
        "properties": {
            name: attribute_schema(name, code) for name in attribute_names(product_type)
        },
        "allOf": copy.deepcopy(reqs["allOf"]),
    }
    return doc


def _applies(change: Mapping[str, Any], marketplace_id: str, requirements: str) -> bool:
    mps = change.get("marketplaceIds")
    reqs = change.get("requirements")
    return (not mps or marketplace_id in mps) and (not reqs or requirements in reqs)


def document_bytes(doc: Mapping[str, Any]) -> bytes:
    """The bytes served for a schema document (and hashed into its checksum)."""
    return jsonfmt.dumps(doc).encode("utf-8")


def checksum(data: bytes) -> str:
    """Base64 MD5 (definitionsProductTypes_2020-09-01.json, ``SchemaLink.checksum``)."""
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


def version(product_type: str, code: str, changes: tuple[Mapping[str, Any], ...] = ()) -> str:
    """The version of a product type in one marketplace: changes whenever its definitions there
    change (a change for the UK leaves the other marketplaces' versions and files alone). Shaped
    like Amazon's (``UHqSqmb4FNUk=``, the model's sandbox vector)."""
    s = spec()
    mp = MARKETPLACES[code]
    source = {
        "productType": s["productTypes"][product_type],
        "attributes": {n: s["attributes"][n] for n in attribute_names(product_type)},
        "requirements": s["requirements"],
        "languages": s["languages"].get(code),
        "withTax": code in s["listPriceWithTax"],
        "marketplace": [mp.marketplace_id, mp.currency],
        "changes": [c for c in changes if not c.get("marketplaceIds")
                    or mp.marketplace_id in c["marketplaceIds"]],
    }
    digest = hashlib.sha256(json.dumps(source, sort_keys=True).encode()).digest()
    return "U" + base64.b64encode(digest[:8]).decode("ascii")


def meta_schema_bytes() -> bytes:
    return _data(META_FILE).encode("utf-8")


# --------------------------------------------------------------------------- catalog copies


def cached_definition(
    product_type: str, code: str, requirements: str, *, retrieved: str
) -> CachedDefinition:
    """What ``reconciler product-types pull`` stores for one definition of the (unchanged)
    emulator, without a round trip: for generated catalogs (benchmarks, tests)."""
    doc = definition_document(product_type, code, requirements)
    m = MARKETPLACES[code]
    return CachedDefinition(
        product_type=product_type, marketplace=code, marketplace_id=m.marketplace_id,
        requirements=requirements, locale=languages(code)[0], version=version(product_type, code),
        checksum=checksum(document_bytes(doc)), retrieved=retrieved, schema=doc,
        path=relative_path(product_type, code, requirements),
    )


def write_catalog_copies(
    root: str | os.PathLike[str], keys: Iterable[tuple[str, str, str]], *, retrieved: str
) -> list[str]:
    """Write the cached definitions ``keys`` (product type, marketplace code, requirements)
    into the catalog at ``root``, as a pull would; returns the relative paths."""
    out = []
    for pt, code, req in sorted(set(keys)):
        rel, text = _copy_text(pt, code, req, retrieved)
        p = Path(root) / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        out.append(rel)
    return out


@functools.lru_cache(maxsize=256)
def _copy_text(pt: str, code: str, req: str, retrieved: str) -> tuple[str, str]:
    d = cached_definition(pt, code, req, retrieved=retrieved)
    return d.path, render(d)
