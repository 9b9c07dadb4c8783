"""HTTP handlers of the Listings Items API 2021-08-01: query/body checks (Amazon-shaped 400/415)
around the functions of ``listings.py``; search is in ``listing_search.py``.

Amazon's behaviour reproduced here:

- getListingsItem with several ``marketplaceIds`` answers for the first one only (the others are
  checked, then ignored);
- a SKU containing ``/`` cannot be addressed in a path, not even percent-encoded as ``%2F``
  (models#4727, models#4429): getListingsItem does not find it (404) and put/patch/delete answer
  403 ``Unauthorized`` (the gateway's "Access to requested resource is denied."). Such a listing
  can be read by searchListingsItems and written by a JSON_LISTINGS_FEED. An unencoded ``/`` adds
  a path segment: no route, the same 403 (``app.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .auth import DENIED_DETAILS, unauthorized
from .http import Request, Response, Route, api_error, invalid_input, json_response
from .listing_query import check_locale, enum_csv
from .listing_search import search_items
from .listing_views import INCLUDED_DATA
from .listings import (
    BASE,
    _check_marketplaces,
    render_item,
    submit_delete,
    submit_patch,
    submit_put,
)
from .state import ApiError, EmulatorState, json_body


def _mode(req: Request) -> bool:
    mode = req.q("mode")
    if mode is None:
        return False
    if mode != "VALIDATION_PREVIEW":
        raise ApiError(invalid_input(f"Invalid mode: {mode}"))
    return True


def get_item(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    mps = req.q_csv("marketplaceIds") or []
    _check_marketplaces(mps)
    included = enum_csv(req, "includedData", INCLUDED_DATA, ["summaries"])
    check_locale(req)
    sku = params["sku"]
    # Amazon answers for the first marketplace only; a SKU with '/' is not found by its path
    item = None if "/" in sku else render_item(emu, params["sellerId"], sku, mps[:1], included)
    if item is None:
        return api_error(404, "NOT_FOUND", f"SKU '{sku}' not found in marketplace {mps[0]}")
    return json_response(200, item)


def _submission_args(req: Request, max_mps: int | None) -> tuple[list[str], bool, list[str]]:
    mps = req.q_csv("marketplaceIds") or []
    _check_marketplaces(mps, max_mps)
    included = enum_csv(req, "includedData", ("identifiers", "issues"), ["issues"])
    check_locale(req)
    return mps, _mode(req), included


def put_item(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    return _submit(emu, req, params, submit_put, max_marketplaces=1)


def patch_item(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    return _submit(emu, req, params, submit_patch, max_marketplaces=None)


def _submit(
    emu: EmulatorState,
    req: Request,
    params: dict[str, str],
    submit: Callable[..., dict[str, Any]],
    *,
    max_marketplaces: int | None,
) -> Response:
    if "/" in params["sku"]:
        return unauthorized(DENIED_DETAILS)
    mps, preview, included = _submission_args(req, max_marketplaces)
    body = json_body(req)
    resp = submit(
        emu, params["sellerId"], params["sku"], mps, body, preview=preview, included_data=included
    )
    return json_response(200, resp)


def delete_item(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    if "/" in params["sku"]:
        return unauthorized(DENIED_DETAILS)
    mps = req.q_csv("marketplaceIds") or []
    _check_marketplaces(mps, 1)
    check_locale(req)
    return json_response(200, submit_delete(emu, params["sellerId"], params["sku"], mps))


def _routes() -> list[Route]:
    item = BASE + "/{sellerId}/{sku}"
    return [
        Route("GET", item, "getListingsItem", get_item),
        Route("PUT", item, "putListingsItem", put_item),
        Route("PATCH", item, "patchListingsItem", patch_item),
        Route("DELETE", item, "deleteListingsItem", delete_item),
        Route("GET", BASE + "/{sellerId}", "searchListingsItems", search_items),
    ]


ROUTES: list[Route] = _routes()
