"""Product Type Definitions API 2020-09-01 in the emulator: ``getDefinitionsProductType``,
``searchDefinitionsProductTypes`` and the two documents a definition links to (the schema and
Amazon's meta-schema, served like Amazon's presigned S3 links: no access token, no quota, S3's
XML errors). Definitions are assembled by ``product_types.py``.

Tests change a definition through the seed (``productTypeChanges``: required attributes added to
a product type, optionally for some marketplaces / requirements sets); the version of the
product type in those marketplaces changes with it, the others stay as they were.
https://developer-docs.amazon.com/sp-api/docs/product-type-definitions-api-v2020-09-01-reference
"""

from __future__ import annotations

import functools
import json
import weakref
from typing import TYPE_CHECKING, Any

from reconciler.contract.vocabulary import REQUIREMENTS
from reconciler.kernel.marketplaces import BY_ID, MARKETPLACES

from .feed_documents import s3_error
from .http import Request, Response, Route, api_error, invalid_input, json_response
from .product_types import (
    checksum,
    definition_document,
    document_bytes,
    languages,
    meta_schema_bytes,
    product_types,
    spec,
    supported_requirements,
    version,
)
from .state import ApiError

if TYPE_CHECKING:
    from .state import EmulatorState as Emulator

BASE = "/definitions/2020-09-01/productTypes"
DOCS = "/_emulator/definitions"


# --------------------------------------------------------------------------- emulator state


def init_schema(conn: Any) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS product_type_changes (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " product_type TEXT NOT NULL, change TEXT NOT NULL)"
    )


def seed(emu: Emulator, data: dict[str, Any]) -> None:
    for change in data.get("productTypeChanges") or ():
        pt = str(change["productType"])
        if pt not in spec()["productTypes"]:
            raise ValueError(f"productTypeChanges: unknown product type {pt!r}")
        emu.db.execute(
            "INSERT INTO product_type_changes(product_type, change) VALUES (?, ?)",
            (pt, json.dumps(change, sort_keys=True)),
        )
    _CHANGES.pop(emu, None)


_CHANGES: weakref.WeakKeyDictionary[Emulator, dict[str, tuple[dict[str, Any], ...]]] = (
    weakref.WeakKeyDictionary()
)


def changes(emu: Emulator, product_type: str) -> tuple[dict[str, Any], ...]:
    """The seeded changes of ``product_type`` (read from the db once per emulator)."""
    per = _CHANGES.get(emu)
    if per is None:
        per = {}
        for pt, change in emu.db.execute(
            "SELECT product_type, change FROM product_type_changes ORDER BY id"
        ).fetchall():
            per[pt] = (*per.get(pt, ()), json.loads(change))
        _CHANGES[emu] = per
    return per.get(product_type, ())


def emulator_document(emu: Emulator, product_type: str, code: str, requirements: str
                      ) -> dict[str, Any]:
    key = _changes_key(emu, product_type)
    doc: dict[str, Any] = _document(product_type, code, requirements, key)
    return doc


def _changes_key(emu: Emulator, product_type: str) -> str:
    return json.dumps(changes(emu, product_type), sort_keys=True)


@functools.lru_cache(maxsize=512)
def _document(product_type: str, code: str, requirements: str, changes_json: str
              ) -> dict[str, Any]:
    return definition_document(product_type, code, requirements,
                               tuple(json.loads(changes_json)))


# --------------------------------------------------------------------------- HTTP


def _doc_name(product_type: str, code: str, requirements: str, enforced: str) -> str:
    return f"{product_type}.{code}.{requirements}.{enforced}"


def get_definition(emu: Emulator, req: Request, params: dict[str, str]) -> Response:
    pt = params["productType"]
    mps = req.q_csv("marketplaceIds") or []
    if len(mps) != 1:
        raise ApiError(invalid_input("marketplaceIds must name exactly one marketplace."))
    m = BY_ID.get(mps[0])
    if m is None:
        raise ApiError(invalid_input(f"Invalid marketplaceIds: {mps[0]}"))
    requirements = req.q("requirements") or "LISTING"
    if requirements not in REQUIREMENTS:
        raise ApiError(invalid_input(f"Invalid requirements: {requirements}"))
    enforced = req.q("requirementsEnforced") or "ENFORCED"
    if enforced not in ("ENFORCED", "NOT_ENFORCED"):
        raise ApiError(invalid_input(f"Invalid requirementsEnforced: {enforced}"))
    if pt not in spec()["productTypes"]:
        return api_error(404, "NOT_FOUND", "Resource not found.",
                         f"Product type '{pt}' is not available in marketplace {m.marketplace_id}.")
    if requirements not in supported_requirements(pt):
        raise ApiError(invalid_input(
            f"Product type {pt} supports only requirements "
            f"{', '.join(supported_requirements(pt))}."
        ))
    current = version(pt, m.code, changes(emu, pt))
    wanted = req.q("productTypeVersion") or "LATEST"
    if wanted not in ("LATEST", "RELEASE_CANDIDATE", current):
        return api_error(404, "NOT_FOUND", "Resource not found.",
                         f"Version '{wanted}' of product type '{pt}' is not available.")
    locale = req.q("locale") or "DEFAULT"
    if locale == "DEFAULT":
        locale = languages(m.code)[0]
    data = _served(emu, pt, m.code, requirements, enforced)
    base = req.base_url.rstrip("/")
    body = {
        "metaSchema": {"link": {"resource": f"{base}{DOCS}/meta-schema/v1", "verb": "GET"},
                       "checksum": checksum(meta_schema_bytes())},
        "schema": {"link": {"resource": f"{base}{DOCS}/schema/"
                                        f"{_doc_name(pt, m.code, requirements, enforced)}",
                            "verb": "GET"},
                   "checksum": checksum(data)},
        "requirements": requirements,
        "requirementsEnforced": enforced,
        "propertyGroups": _property_groups(pt),
        "locale": locale,
        "marketplaceIds": [m.marketplace_id],
        "productType": pt,
        "displayName": spec()["productTypes"][pt]["displayName"],
        "productTypeVersion": {"version": current, "latest": True, "releaseCandidate": False},
    }
    return json_response(200, body)


def _served(emu: Emulator, pt: str, code: str, requirements: str, enforced: str) -> bytes:
    doc = emulator_document(emu, pt, code, requirements)
    if enforced == "NOT_ENFORCED":
        doc = {k: v for k, v in doc.items() if k not in ("required", "allOf")}
    return document_bytes(doc)


def _property_groups(pt: str) -> dict[str, Any]:
    s = spec()
    titles = {"offer": "Offer", "identity": "Product Identity", "facts": "Product Details"}
    groups = {g: {"title": titles[g], "description": titles[g], "propertyNames": list(names)}
              for g, names in s["groups"].items()}
    extra = s["productTypes"][pt].get("attributes", [])
    if extra:
        groups["facts"]["propertyNames"] = [*groups["facts"]["propertyNames"], *extra]
    return groups


def search_definitions(emu: Emulator, req: Request, params: dict[str, str]) -> Response:
    mps = req.q_csv("marketplaceIds") or []
    if not mps or any(m not in BY_ID for m in mps):
        raise ApiError(invalid_input("marketplaceIds is required and must be valid."))
    words = [w.lower() for w in (req.q_csv("keywords") or [])]
    name = (req.q("itemName") or "").lower()
    found = []
    for pt in product_types():
        label = spec()["productTypes"][pt]["displayName"].lower()
        hay = f"{pt.lower()} {label}"
        if (not words or any(w in hay for w in words)) and (not name or any(
            part in hay for part in name.split()
        )):
            found.append({"name": pt, "displayName": spec()["productTypes"][pt]["displayName"],
                          "marketplaceIds": list(mps)})
    return json_response(200, {"productTypes": found, "productTypeVersion": "LATEST"})


def get_document(emu: Emulator, req: Request, params: dict[str, str]) -> Response:
    name = params["name"]
    parts = name.split(".")
    if (len(parts) != 4 or parts[0] not in spec()["productTypes"] or parts[1] not in MARKETPLACES
            or parts[2] not in supported_requirements(parts[0])
            or parts[3] not in ("ENFORCED", "NOT_ENFORCED")):
        return s3_error(404, "NoSuchKey", "The specified key does not exist.")
    data = _served(emu, parts[0], parts[1], parts[2], parts[3])
    return Response(200, data, {"content-type": "application/json"})


def get_meta_schema(emu: Emulator, req: Request, params: dict[str, str]) -> Response:
    return Response(200, meta_schema_bytes(), {"content-type": "application/json"})


ROUTES: list[Route] = [
    Route("GET", BASE + "/{productType}", "getDefinitionsProductType", get_definition),
    Route("GET", BASE, "searchDefinitionsProductTypes", search_definitions),
    Route("GET", DOCS + "/schema/{name}", "downloadProductTypeSchema", get_document,
          auth=False, quota=False),
    Route("GET", DOCS + "/meta-schema/v1", "downloadProductTypeMetaSchema", get_meta_schema,
          auth=False, quota=False),
]
