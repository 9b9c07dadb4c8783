"""searchListingsItems (CONTRACT §3.1): filters, sorting, opaque page tokens, the 1000 cap.

- ``identifiers`` (<= 20) need ``identifiersType`` and vice versa. ``SKU`` and ``ASIN`` (the
  emulator's stable fake ASINs) are supported; the other identifier types (EAN, GTIN, UPC ...)
  are accepted and match nothing, since the emulator keeps no product identifiers.
- ``identifiers``, ``variationParentSku`` and ``packageHierarchySku`` are mutually exclusive; the
  last two match nothing (no relationships are modelled).
- created/lastUpdated filters are inclusive; for a SKU in several marketplaces the earliest
  createdDate and the latest lastUpdatedDate count.
- ``pageToken`` is ``base64url({"o": offset, "q": hash of the other parameters})``: a token used
  with different parameters is a 400. ``numberOfResults`` is the full count; paging stops at
  1000 items.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from reconciler.kernel.quotas import SEARCH_MAX_IDENTIFIERS

from .http import Request, Response, invalid_input, json_response
from .listing_query import check_locale, enum_csv
from .listing_views import INCLUDED_DATA, Row, asin, render, statuses
from .listings import _check_marketplaces
from .listings_store import _row
from .state import ApiError, EmulatorState, parse_iso

IDENTIFIER_TYPES = ("ASIN", "EAN", "FNSKU", "GTIN", "ISBN", "JAN", "MINSAN", "SKU", "UPC")
MAX_RESULTS = 1000
MAX_PAGE = 20
DEFAULT_PAGE = 10


def _query_hash(req: Request) -> str:
    items = sorted((k, v) for k, vs in req.query.items() if k != "pageToken" for v in vs)
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:16]


def make_token(offset: int, qhash: str) -> str:
    raw = json.dumps({"o": offset, "q": qhash}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _offset(req: Request, qhash: str) -> int:
    tok = req.q("pageToken")
    if tok is None:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)))
        offset = int(data["o"])
        if data["q"] != qhash or offset < 0:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise ApiError(invalid_input("Invalid pageToken")) from None
    return offset


def _date(req: Request, name: str) -> float | None:
    v = req.q(name)
    if v is None:
        return None
    ts = parse_iso(v)
    if ts is None:
        raise ApiError(invalid_input(f"Invalid {name}: {v} is not an ISO 8601 date-time"))
    return ts


def _page_size(req: Request) -> int:
    v = req.q("pageSize")
    if v is None:
        return DEFAULT_PAGE
    try:
        n = int(v)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_PAGE:
        raise ApiError(invalid_input(f"Invalid pageSize: {v} (1 to {MAX_PAGE})"))
    return n


def _one_of(req: Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    v = req.q(name)
    if v is None:
        return default
    if v not in allowed:
        raise ApiError(invalid_input(f"Invalid {name}: {v}"))
    return v


FULL_COLUMNS = (
    "SELECT seller_id, sku, marketplace_id, product_type, attributes, created, updated,"
    " created_ts, updated_ts, issues"
)


def search_items(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    seller = params["sellerId"]
    mps = req.q_csv("marketplaceIds") or []
    _check_marketplaces(mps)
    included = enum_csv(req, "includedData", INCLUDED_DATA, ["summaries"])
    check_locale(req)
    ids = req.q_csv("identifiers")
    id_type = req.q("identifiersType")
    if (ids is None) != (id_type is None):
        raise ApiError(invalid_input("identifiers and identifiersType must be given together"))
    if id_type is not None and id_type not in IDENTIFIER_TYPES:
        raise ApiError(invalid_input(f"Invalid identifiersType: {id_type}"))
    if ids is not None and not 1 <= len(ids) <= SEARCH_MAX_IDENTIFIERS:
        raise ApiError(invalid_input(f"identifiers takes 1 to {SEARCH_MAX_IDENTIFIERS} values"))
    vps, phs = req.q("variationParentSku"), req.q("packageHierarchySku")
    if sum(x is not None for x in (ids, vps, phs)) > 1:
        raise ApiError(
            invalid_input(
                "identifiers, variationParentSku and packageHierarchySku are mutually exclusive"
            )
        )
    bounds = {
        n: _date(req, n)
        for n in ("createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore")
    }
    severities = enum_csv(req, "withIssueSeverity", ("WARNING", "ERROR"), [])
    with_status = enum_csv(req, "withStatus", ("BUYABLE", "DISCOVERABLE"), [])
    without_status = enum_csv(req, "withoutStatus", ("BUYABLE", "DISCOVERABLE"), [])
    sort_by = _one_of(req, "sortBy", ("sku", "createdDate", "lastUpdatedDate"), "lastUpdatedDate")
    sort_order = _one_of(req, "sortOrder", ("ASC", "DESC"), "DESC")
    size = _page_size(req)
    qhash = _query_hash(req)
    offset = _offset(req, qhash)

    # Filter and sort on the light columns; decode attributes (JSON) only for the rows that
    # need it: the page, or every candidate when a status/issue filter must look inside.
    base = (
        " FROM listings WHERE seller_id = ?"
        " AND marketplace_id IN (SELECT value FROM json_each(?))"
    )
    base_args: list[Any] = [seller, json.dumps(mps)]
    where, args = base, list(base_args)
    if vps is not None or phs is not None or (id_type not in (None, "SKU", "ASIN")):
        light: list[tuple[Any, ...]] = []
    else:
        if id_type == "SKU" and ids:
            where += " AND sku IN (SELECT value FROM json_each(?))"
            args.append(json.dumps(ids))
        with emu.lock:
            light = emu.db.execute(
                "SELECT sku, created_ts, updated_ts" + where, args
            ).fetchall()
    spans: dict[str, tuple[float, float]] = {}
    for sku, c_ts, u_ts in light:
        c0, u0 = spans.get(sku, (c_ts, u_ts))
        spans[sku] = (min(c0, c_ts), max(u0, u_ts))
    candidates = [
        (sku, created, updated)
        for sku, (created, updated) in spans.items()
        if not (id_type == "ASIN" and ids and asin(seller, sku) not in ids)
        and _within(created, bounds["createdAfter"], bounds["createdBefore"])
        and _within(updated, bounds["lastUpdatedAfter"], bounds["lastUpdatedBefore"])
    ]
    order = {m: i for i, m in enumerate(mps)}

    def full_rows(skus: list[str]) -> dict[str, list[Row]]:
        out: dict[str, list[Row]] = {}
        for i in range(0, len(skus), 500):
            with emu.lock:
                rows_ = emu.db.execute(
                    # constant SQL text; every value is a bound parameter
                    FULL_COLUMNS + base + " AND sku IN (SELECT value FROM json_each(?))",  # noqa: S608
                    [*base_args, json.dumps(skus[i : i + 500])],
                ).fetchall()
            for r in rows_:
                out.setdefault(r[1], []).append(_row(r))
        for rs in out.values():
            rs.sort(key=lambda r: order[r.marketplace_id])
        return out

    decoded: dict[str, list[Row]] = {}
    if with_status or without_status or severities:
        decoded = full_rows([c[0] for c in candidates])
        kept = []
        for sku, created, updated in candidates:
            rs = decoded[sku]
            sts = {st for r in rs for st in statuses(r)}
            if with_status and not sts & set(with_status):
                continue
            if without_status and sts & set(without_status):
                continue
            issue_sev = {i.get("severity") for r in rs for i in r.issues}
            if severities and not issue_sev & set(severities):
                continue
            kept.append((sku, created, updated))
        candidates = kept
    groups = candidates
    if sort_by == "sku":
        groups.sort(key=lambda g: g[0], reverse=sort_order == "DESC")
    else:
        idx = 1 if sort_by == "createdDate" else 2
        groups.sort(key=lambda g: (g[idx], g[0]), reverse=sort_order == "DESC")
    total = len(groups)
    capped = min(total, MAX_RESULTS)
    page = groups[offset : min(offset + size, capped)] if offset < capped else []
    missing = [g[0] for g in page if g[0] not in decoded]
    if missing:
        decoded.update(full_rows(missing))
    pagination: dict[str, str] = {}
    if offset + size < capped:
        pagination["nextToken"] = make_token(offset + size, qhash)
    if offset > 0:
        pagination["previousToken"] = make_token(max(0, offset - size), qhash)
    body: dict[str, Any] = {
        "numberOfResults": total,
        "items": [render(decoded[g[0]], included) for g in page],
    }
    if pagination:
        body["pagination"] = pagination
    return json_response(200, body)


def _within(ts: float, after: float | None, before: float | None) -> bool:
    return (after is None or ts >= after) and (before is None or ts <= before)
