"""Listings Items API 2021-08-01 (CONTRACT §3): storage and writes (HTTP handlers live in
``listing_api.py``, search in ``listing_search.py``, read shapes in ``listing_views.py``, patch
semantics and validation in ``listing_rules.py``).

A listing is stored per (seller, sku, marketplace). Writes are validated when submitted (INVALID
with issues, or VALID and nothing persisted under ``mode=VALIDATION_PREVIEW``); an ACCEPTED write
is queued and applied ``write_delay_s`` (scaled) later by :func:`tick`, in submission order, on the
state current at that moment, so concurrent submissions are never lost. Each applied write
appends a history row (``emu.history()``).

Functions the feed processor shares (same semantics as the API): :func:`submit_patch`,
:func:`submit_put`, :func:`submit_delete`, :func:`render_item`. They raise
:class:`~reconciler.emulator.app.ApiError` (400) for structurally invalid input.
"""

from __future__ import annotations

from typing import Any

from reconciler.emulator.listings_store import _schedule, rows
from reconciler.kernel.marketplaces import BY_ID

from . import listing_rules as rules
from . import listing_schemas, supply_sources
from .http import invalid_input
from .listing_views import asin, render
from .state import ApiError, EmulatorState

BASE = "/listings/2021-08-01/items"







# ---------------------------------------------------------------------- submissions


def _check_marketplaces(marketplace_ids: list[str], max_items: int | None = None) -> None:
    if not marketplace_ids:
        raise ApiError(invalid_input("marketplaceIds is required"))
    bad = [m for m in marketplace_ids if m not in BY_ID]
    if bad:
        raise ApiError(invalid_input(f"Invalid marketplaceIds: {', '.join(bad)}"))
    if max_items is not None and len(marketplace_ids) > max_items:
        raise ApiError(invalid_input(f"marketplaceIds allows at most {max_items} value(s)"))


def _channel_check(emu: EmulatorState, seller_id: str) -> rules.ChannelCheck:
    return lambda code: bool(supply_sources.is_active(emu, seller_id, code))


def _response(
    emu: EmulatorState,
    seller_id: str,
    sku: str,
    marketplace_ids: list[str],
    status: str,
    issues: list[dict[str, Any]],
    included_data: tuple[str, ...] | list[str],
    preview: bool,
) -> dict[str, Any]:
    out: dict[str, Any] = {"sku": sku, "status": status, "submissionId": emu.new_id()}
    if "issues" in included_data:
        out["issues"] = issues
    if preview and "identifiers" in included_data:
        out["identifiers"] = (
            [{"marketplaceId": m, "asin": asin(seller_id, sku)} for m in marketplace_ids]
            if status == "VALID"
            else []
        )
    return out


def _product_type(body: Any) -> str:
    if not isinstance(body, dict):
        raise ApiError(invalid_input("The request body must be a JSON object."))
    pt = body.get("productType")
    if not isinstance(pt, str) or not pt:
        raise ApiError(invalid_input("'productType' is required."))
    return pt


def submit_patch(
    emu: EmulatorState,
    seller_id: str,
    sku: str,
    marketplace_ids: list[str],
    body: Any,
    *,
    preview: bool = False,
    source: str = "patch",
    included_data: tuple[str, ...] | list[str] = ("issues",),
) -> dict[str, Any]:
    """A ``ListingsItemPatchRequest`` -> ``ListingsItemSubmissionResponse`` dict."""
    _check_marketplaces(marketplace_ids)
    pt = _product_type(body)
    patches = body.get("patches")
    reason = rules.check_patch_shape(patches)
    if reason is not None:
        raise ApiError(invalid_input(reason))
    with emu.lock:
        issues = rules.validate_patches(patches, marketplace_ids, _channel_check(emu, seller_id))
        stored = rows(emu, seller_id, sku, marketplace_ids)
        issues += listing_schemas.patch_issues(emu, pt, stored, patches, marketplace_ids)
        for r in stored:
            if pt not in (r.product_type, "PRODUCT"):
                issues.append(
                    rules.issue(
                        rules.PRODUCT_TYPE_MISMATCH,
                        f"The productType '{pt}' does not match the listing's productType"
                        f" '{r.product_type}' in marketplace {r.marketplace_id}.",
                    )
                )
                break
        return _answer(
            emu, "patch", seller_id, sku, marketplace_ids, pt, patches, issues,
            preview=preview, source=source, included_data=included_data,
        )


def submit_put(
    emu: EmulatorState,
    seller_id: str,
    sku: str,
    marketplace_ids: list[str],
    body: Any,
    *,
    preview: bool = False,
    source: str = "put",
    included_data: tuple[str, ...] | list[str] = ("issues",),
) -> dict[str, Any]:
    """A ``ListingsItemPutRequest`` -> ``ListingsItemSubmissionResponse`` dict."""
    _check_marketplaces(marketplace_ids)
    pt = _product_type(body)
    attributes = body.get("attributes")
    if not isinstance(attributes, dict) or not all(
        isinstance(v, list) and all(isinstance(e, dict) for e in v) for v in attributes.values()
    ):
        raise ApiError(invalid_input("'attributes' must be an object of arrays of objects."))
    requirements = body.get("requirements", "LISTING")
    if requirements not in ("LISTING", "LISTING_PRODUCT_ONLY", "LISTING_OFFER_ONLY"):
        raise ApiError(invalid_input(f"Invalid requirements: {requirements!r}"))
    with emu.lock:
        issues = rules.validate_attributes(
            attributes, marketplace_ids, _channel_check(emu, seller_id), requirements
        )
        issues += listing_schemas.put_issues(emu, pt, requirements, attributes, marketplace_ids)
        return _answer(
            emu, "put", seller_id, sku, marketplace_ids, pt, attributes, issues,
            preview=preview, source=source, included_data=included_data,
        )


def _answer(
    emu: EmulatorState,
    kind: str,
    seller_id: str,
    sku: str,
    marketplace_ids: list[str],
    product_type: str,
    payload: Any,
    issues: list[dict[str, Any]],
    *,
    preview: bool,
    source: str,
    included_data: tuple[str, ...] | list[str],
) -> dict[str, Any]:
    """The submission response for validated ``issues`` (INVALID / VALID in a preview /
    ACCEPTED), scheduling the write when accepted. Called under ``emu.lock``."""
    status = "INVALID" if issues else ("VALID" if preview else "ACCEPTED")
    resp = _response(emu, seller_id, sku, marketplace_ids, status, issues, included_data, preview)
    if status == "ACCEPTED":
        _schedule(
            emu, kind, seller_id, sku, marketplace_ids, product_type, payload, source,
            resp["submissionId"],
        )
    return resp


def submit_delete(
    emu: EmulatorState,
    seller_id: str,
    sku: str,
    marketplace_ids: list[str],
    *,
    source: str = "delete",
) -> dict[str, Any]:
    _check_marketplaces(marketplace_ids)
    with emu.lock:
        resp = _response(emu, seller_id, sku, marketplace_ids, "ACCEPTED", [], ("issues",), False)
        _schedule(
            emu, "delete", seller_id, sku, marketplace_ids, None, None, source, resp["submissionId"]
        )
    return resp


def render_item(
    emu: EmulatorState,
    seller_id: str,
    sku: str,
    marketplace_ids: list[str],
    included_data: list[str],
    issue_locale: str | None = None,
) -> dict[str, Any] | None:
    """The ``Item`` getListingsItem answers, or None when the SKU is in none of them."""
    with emu.lock:
        found = rows(emu, seller_id, sku, marketplace_ids)
    if not found:
        return None
    return render(found, included_data)





