"""Listing writes against the emulator's product type definitions (``product_types.py``): the same
documents ``getDefinitionsProductType`` serves and catalogs cache, so "valid here" means "valid
in the catalog" and the other way round.

- ``putListingsItem`` (and a feed ``UPDATE``): the whole ``attributes`` of each requested
  marketplace against the definition of ``productType`` and ``requirements``, requirements
  enforced: a missing attribute is Amazon's 90220 ``'condition_type' is required but not
  supplied.``, an attribute the product type does not define 90000900 ``The attributes are
  invalid.``. A product type the emulator does not define, or a requirements set it does not
  support (``PRODUCT`` is offer-only), is refused.
- ``patchListingsItem`` (and feed ``PATCH``/``PARTIAL_UPDATE``): the patched attributes of the
  listing as they would be stored, structurally (requirementsEnforced NOT_ENFORCED, as Amazon
  validates partial updates), against the stored listing's product type; plus ``editable:
  false``: a patch may not change such an attribute of an existing listing (e.g.
  ``merchant_suggested_asin``, ``condition_type``, ``brand``).

EAN/UPC/GTIN identifiers have their check digit verified. Issue codes are those of
``listing_rules`` (its table).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.contract.listing_attributes import gtin_problem
from reconciler.contract.producttypes import Validator, non_editable
from reconciler.contract.vocabulary import SchemaIssue
from reconciler.kernel.marketplaces import BY_ID

from . import listing_rules as rules
from . import product_type_api as api
from . import product_types as pts

if TYPE_CHECKING:
    from .listing_views import Row
    from .state import EmulatorState as Emulator

UNKNOWN_PRODUCT_TYPE = "4000006"
NOT_EDITABLE = "4000007"
FALLBACK = "HOME"  # structure of a product type the emulator does not define (seeded listings)


@functools.lru_cache(maxsize=1024)
def _validator(doc_json: str, enforced: bool) -> Validator:
    return Validator(json.loads(doc_json), enforced=enforced)


def _document(emu: Emulator, pt: str, code: str, requirements: str) -> dict[str, Any]:
    return api.emulator_document(emu, pt, code, requirements)


def validator(emu: Emulator, pt: str, code: str, requirements: str, enforced: bool) -> Validator:
    doc = _document(emu, pt, code, requirements)
    return _validator(json.dumps(doc, sort_keys=True), enforced)


def _api_issue(i: SchemaIssue, marketplace_id: str) -> dict[str, Any]:
    out = rules.issue(i.code, i.message, [i.attribute] if i.attribute else [], [i.category])
    out["marketplaceIds"] = [marketplace_id]
    return out


def _gtin_issues(attrs: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for e in attrs.get("externally_assigned_product_identifier") or ():
        if isinstance(e, dict):
            why = gtin_problem(str(e.get("type", "")), str(e.get("value", "")))
            if why:
                out.append(rules.issue(rules.INVALID_VALUE, f"{why}.",
                                       ["externally_assigned_product_identifier"],
                                       ["INVALID_ATTRIBUTE"]))
    return out


def _requirements_for(pt: str, wanted: str) -> str | None:
    supported = pts.supported_requirements(pt)
    return wanted if wanted in supported else None


def put_issues(
    emu: Emulator, pt: str, requirements: str, attributes: Mapping[str, Any],
    marketplace_ids: list[str],
) -> list[dict[str, Any]]:
    """Issues of a ``putListingsItem`` body against its product type definition."""
    if pt not in pts.spec()["productTypes"]:
        return [rules.issue(UNKNOWN_PRODUCT_TYPE,
                            f"The product type '{pt}' is not valid for the requested "
                            "marketplaces.", [], ["INVALID_ATTRIBUTE"])]
    if _requirements_for(pt, requirements) is None:
        return [rules.issue(UNKNOWN_PRODUCT_TYPE,
                            f"The product type '{pt}' supports only the requirements "
                            f"{', '.join(pts.supported_requirements(pt))}, not "
                            f"'{requirements}'.", [], ["INVALID_ATTRIBUTE"])]
    out: list[dict[str, Any]] = []
    for mp in marketplace_ids:
        m = BY_ID[mp]
        attrs = rules.replace_all(dict(attributes), mp)
        v = validator(emu, pt, m.code, requirements, True)
        if not v.is_valid(attrs):
            out.extend(_api_issue(i, mp) for i in v.issues(attrs))
        out.extend(_gtin_issues(attrs))
    return _unique(out)


def patch_issues(
    emu: Emulator, pt: str, stored: list[Row], patches: list[dict[str, Any]],
    marketplace_ids: list[str],
) -> list[dict[str, Any]]:
    """Issues of a ``patchListingsItem`` body: the patched attributes as they would be stored,
    checked structurally, and no change to an attribute an existing listing cannot change."""
    by_mp = {r.marketplace_id: r for r in stored}
    touched = [rules.PATH_RX.match(p["path"]).group(1) for p in patches]  # type: ignore[union-attr]
    out: list[dict[str, Any]] = []
    for mp in marketplace_ids:
        m = BY_ID[mp]
        row = by_mp.get(mp)
        kind = row.product_type if row is not None else pt
        if kind not in pts.spec()["productTypes"]:
            kind = pt if pt in pts.spec()["productTypes"] else FALLBACK
        req = pts.supported_requirements(kind)[0]
        before = row.attributes if row is not None else {}
        after = rules.apply_patches(before, patches, mp)
        v = validator(emu, kind, m.code, req, False)
        names = list(dict.fromkeys(touched))
        unknown = [n for n in names if n not in v.properties]
        attrs = {n: after[n] for n in names if n in after and n in v.properties}
        out.extend(rules.issue(rules.UNKNOWN_ATTRIBUTE, "The attributes are invalid.", [n])
                   for n in unknown)
        if not v.is_valid(attrs):
            out.extend(_api_issue(i, mp) for i in v.issues(attrs))
        out.extend(_gtin_issues(attrs))
        if row is not None:
            locked = non_editable(_document(emu, kind, m.code, req))
            for name in names:
                if name in locked and before.get(name) and before.get(name) != after.get(name):
                    out.append(rules.issue(
                        NOT_EDITABLE,
                        f"The value of '{name}' cannot be changed for an existing listing.",
                        [name], ["INVALID_ATTRIBUTE"]))
    return _unique(out)


def _unique(issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for i in issues:
        k = json.dumps({k: v for k, v in i.items() if k != "marketplaceIds"}, sort_keys=True)
        if k in seen:
            mps = seen[k].setdefault("marketplaceIds", [])
            for mp in i.get("marketplaceIds", ()):
                if mp not in mps:
                    mps.append(mp)
        else:
            seen[k] = i
    return list(seen.values())
