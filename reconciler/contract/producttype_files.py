"""The catalog's cached product type definitions: ``product-types/<TYPE>/<MARKETPLACE>.json``.

``reconciler product-types pull`` writes one file per (product type, marketplace, requirements
set) the catalog uses: the ``LISTING`` set as ``product-types/DRINKING_CUP/UK.json``, another set
with its name, ``product-types/PRODUCT/US.LISTING_OFFER_ONLY.json``. A file holds what
``getDefinitionsProductType`` answered (version, requirements, locale, the schema's checksum),
the date it was retrieved, and the schema document the definition links to, verbatim::

    {"productType": "DRINKING_CUP", "marketplace": "UK", "marketplaceId": "A1F83G8C2ARO7P",
     "requirements": "LISTING", "requirementsEnforced": "ENFORCED", "locale": "en_GB",
     "productTypeVersion": {"version": "U...", "latest": true, "releaseCandidate": false},
     "checksum": "<Base64 MD5 of the schema document>", "retrieved": "2026-11-20",
     "schema": {...}}

A schema change is reviewed in a pull request like an exchange-rate change; ``validate`` and
``plan`` check every listing against these copies offline. Parsing and rendering are pure; the
loader (reading) and ``producttype_pull`` (writing) do the I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.contract import jsonfmt
from reconciler.contract.vocabulary import META_SCHEMA_URI, REQUIREMENTS
from reconciler.kernel.marketplaces import MARKETPLACES

DIRECTORY = "product-types"
Key = tuple[str, str, str]  # (product type, marketplace code, requirements)


@dataclass(frozen=True)
class CachedDefinition:
    product_type: str
    marketplace: str  # code, e.g. UK
    marketplace_id: str
    requirements: str
    locale: str
    version: str
    checksum: str
    retrieved: str  # ISO date
    schema: Mapping[str, Any]
    requirements_enforced: str = "ENFORCED"
    latest: bool = True
    path: str = ""  # relative to the catalog root

    @property
    def key(self) -> Key:
        return (self.product_type, self.marketplace, self.requirements)


def relative_path(product_type: str, marketplace: str, requirements: str) -> str:
    suffix = "" if requirements == "LISTING" else f".{requirements}"
    return f"{DIRECTORY}/{product_type}/{marketplace}{suffix}.json"


def render(d: CachedDefinition) -> str:
    """The file text of a cached definition (deterministic)."""
    data = {
        "productType": d.product_type,
        "marketplace": d.marketplace,
        "marketplaceId": d.marketplace_id,
        "requirements": d.requirements,
        "requirementsEnforced": d.requirements_enforced,
        "locale": d.locale,
        "productTypeVersion": {"version": d.version, "latest": d.latest, "releaseCandidate": False},
        "checksum": d.checksum,
        "retrieved": d.retrieved,
        "schema": d.schema,
    }
    return jsonfmt.dumps(data)


class DefinitionFileError(ValueError):
    pass


def parse(text: str, path: str) -> CachedDefinition:
    """A cached definition from its file text. Raises DefinitionFileError (what is wrong, and
    that ``reconciler product-types pull`` rewrites the file)."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise DefinitionFileError("nested too deeply to be a product type definition") from None
    except ValueError as e:
        raise DefinitionFileError(f"not valid JSON ({e}); run `reconciler product-types pull` "
                                  "to fetch it again") from None
    if not isinstance(data, dict):
        raise DefinitionFileError("not a product type definition (a JSON object is expected)")
    try:
        version = data["productTypeVersion"]
        d = CachedDefinition(
            product_type=_text(data, "productType"),
            marketplace=_text(data, "marketplace"),
            marketplace_id=_text(data, "marketplaceId"),
            requirements=_text(data, "requirements"),
            requirements_enforced=_text(data, "requirementsEnforced"),
            locale=_text(data, "locale"),
            version=str(version["version"]),
            latest=bool(version.get("latest", True)),
            checksum=_text(data, "checksum"),
            retrieved=_text(data, "retrieved"),
            schema=data["schema"],
            path=path,
        )
    except (KeyError, TypeError) as e:
        raise DefinitionFileError(f"missing or malformed field {e}; run `reconciler "
                                  "product-types pull` to fetch it again") from None
    m = MARKETPLACES.get(d.marketplace)
    if m is None or m.marketplace_id != d.marketplace_id:
        raise DefinitionFileError(f"marketplace {d.marketplace!r} / {d.marketplace_id!r} is not "
                                  "a known marketplace code and id")
    if d.requirements not in REQUIREMENTS:
        raise DefinitionFileError(f"unknown requirements {d.requirements!r}")
    if not isinstance(d.schema, dict) or not isinstance(d.schema.get("properties"), dict):
        raise DefinitionFileError("'schema' is not a product type schema (no properties)")
    if d.schema.get("$schema") != META_SCHEMA_URI:
        raise DefinitionFileError(f"'schema' is not written to Amazon's meta-schema "
                                  f"({META_SCHEMA_URI})")
    expected = relative_path(d.product_type, d.marketplace, d.requirements)
    if path and path != expected:
        raise DefinitionFileError(f"holds {d.product_type} {d.marketplace} {d.requirements}, "
                                  f"which belongs in {expected}")
    return d


def _text(data: Mapping[str, Any], name: str) -> str:
    v = data[name]
    if not isinstance(v, str) or not v:
        raise TypeError(repr(name))
    return v
