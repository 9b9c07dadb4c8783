"""Product Type Definitions API 2020-09-01 calls (``getDefinitionsProductType``) and the download
of the schema document a definition links to.

Amazon answers with links (``schema.link.resource``, verb GET) to presigned S3 objects and a
``checksum`` (Base64 MD5, ``definitionsProductTypes_2020-09-01.json`` ``SchemaLink``; the model's
sandbox vector shows hex, so both forms are accepted). The document is fetched without the access
token (like a feed document), only from Amazon's hosts over HTTPS or from the client's own
endpoint (the emulator, on loopback), and its checksum is verified.
https://developer-docs.amazon.com/sp-api/docs/product-type-definitions-api-v2020-09-01-reference
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import quote, urlsplit

from reconciler.kernel.errors import ApiError, ApiErrorDetail

from .client import SpApiClient

DEFINITIONS_PATH = "/definitions/2020-09-01/productTypes"
_AMAZON_SUFFIXES = (".amazonaws.com", ".amazon.com")


def get_definitions_product_type(
    client: SpApiClient,
    product_type: str,
    marketplace_id: str,
    *,
    requirements: str = "LISTING",
    requirements_enforced: str = "ENFORCED",
    locale: str | None = None,
    version: str = "LATEST",
) -> dict[str, Any]:
    """The ``ProductTypeDefinition`` of one product type in one marketplace."""
    params = {
        "marketplaceIds": marketplace_id,
        "requirements": requirements,
        "requirementsEnforced": requirements_enforced,
        "productTypeVersion": version,
    }
    if locale:
        params["locale"] = locale
    op = "getDefinitionsProductType"
    path = f"{DEFINITIONS_PATH}/{quote(product_type, safe='')}"
    return client._json(op, client._request(op, "GET", path, params=params))


def _allowed(client: SpApiClient, url: str) -> bool:
    u = urlsplit(url)
    own = urlsplit(client.base_url)
    if (u.scheme, u.netloc) == (own.scheme, own.netloc):
        return True
    host = (u.hostname or "").lower()
    return u.scheme == "https" and host.endswith(_AMAZON_SUFFIXES)


def checksum_matches(data: bytes, checksum: str) -> bool:
    digest = hashlib.md5(data, usedforsecurity=False).digest()
    return checksum in (base64.b64encode(digest).decode("ascii"), digest.hex())


def download_schema(client: SpApiClient, link: dict[str, Any], *, what: str) -> bytes:
    """The bytes of a ``SchemaLink`` (``{link: {resource, verb}, checksum}``), checksum verified.
    Raises ApiError when the link points elsewhere or the bytes do not match."""
    op = "downloadProductTypeSchema"
    url = str((link.get("link") or {}).get("resource", ""))
    if not _allowed(client, url):
        raise ApiError(f"{what}: the schema link {url!r} is neither Amazon's nor this "
                       "endpoint's; refused", operation=op)
    r = client._request(op, "GET", url, metered=False, signed=False)
    data = r.content
    expected = str(link.get("checksum", ""))
    if expected and not checksum_matches(data, expected):
        raise ApiError(f"{what}: the downloaded schema does not match its checksum {expected}",
                       operation=op, errors=(ApiErrorDetail("ChecksumMismatch", url),))
    return data
