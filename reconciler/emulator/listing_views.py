"""Read shapes of a stored listing (CONTRACT §3.2): the ``Item`` of getListingsItem/search.

Derived like Amazon derives them from the attributes: ``summaries`` (status BUYABLE when the
marketplace has an ``our_price`` and some quantity > 0 and no issue suppresses the listing,
DISCOVERABLE when it has an ``item_name``; a fake but stable ASIN), ``offers`` (money as decimal
strings), ``fulfillmentAvailability`` (``{fulfillmentChannelCode, quantity}`` only). ``attributes``
are echoed with ``marketplace_id`` and deliberately reordered (attribute names and entry groups in
reverse selector order; entries sharing selector values keep their order) so clients must
normalise what they read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from reconciler.kernel.marketplaces import BY_ID, MARKETPLACES

from .listing_rules import Attrs, Entry, key

INCLUDED_DATA = (
    "summaries",
    "attributes",
    "issues",
    "offers",
    "fulfillmentAvailability",
    "procurement",
    "relationships",
    "productTypes",
)
CONDITIONS = frozenset(
    {
        "new_new",
        "new_open_box",
        "new_oem",
        "refurbished_refurbished",
        "used_like_new",
        "used_very_good",
        "used_good",
        "used_acceptable",
        "collectible_like_new",
        "collectible_very_good",
        "collectible_good",
        "collectible_acceptable",
        "club_club",
    }
)
MINOR_UNITS = {m.currency: m.minor_units for m in MARKETPLACES.values()}
AUDIENCE_NAMES = {"ALL": "Sell on Amazon", "B2B": "Amazon Business"}


@dataclass(frozen=True)
class Row:
    """One stored (seller, sku, marketplace) listing."""

    seller_id: str
    sku: str
    marketplace_id: str
    product_type: str
    attributes: Attrs
    created: str  # ISO 8601 Z
    updated: str
    created_ts: float
    updated_ts: float
    issues: list[dict[str, Any]]


def asin(seller_id: str, sku: str) -> str:
    return "B0" + hashlib.sha1(f"{seller_id}/{sku}".encode()).hexdigest()[:8].upper()  # noqa: S324


def money(value: Any, currency: str) -> str:
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    places = MINOR_UNITS.get(currency, 2)
    return str(d.quantize(Decimal(1).scaleb(-places)))


def statuses(row: Row) -> list[str]:
    a = row.attributes
    out: list[str] = []
    has_price = any(_our_price(e) is not None for e in a.get("purchasable_offer", []))
    in_stock = any(
        (isinstance(e.get("quantity"), int) and e["quantity"] > 0)
        or e.get("is_inventory_available") is True
        for e in a.get("fulfillment_availability", [])
    )
    suppressed = any(
        a.get("action") == "LISTING_SUPPRESSED"
        for i in row.issues
        for a in ((i.get("enforcements") or {}).get("actions") or [])
    )
    if has_price and in_stock and not suppressed:
        out.append("BUYABLE")
    if a.get("item_name"):
        out.append("DISCOVERABLE")
    return out


def _our_price(e: Entry) -> Any:
    for block in e.get("our_price") or []:
        for sched in block.get("schedule") or []:
            if sched.get("value_with_tax") is not None:
                return sched["value_with_tax"]
    return None


def summary(row: Row) -> dict[str, Any]:
    s: dict[str, Any] = {
        "marketplaceId": row.marketplace_id,
        "asin": asin(row.seller_id, row.sku),
        "productType": row.product_type,
    }
    cond = [e.get("value") for e in row.attributes.get("condition_type", [])]
    if cond and cond[0] in CONDITIONS:
        s["conditionType"] = cond[0]
    s["status"] = statuses(row)
    name = item_name(row)
    if name is not None:
        s["itemName"] = name
    s["createdDate"] = row.created
    s["lastUpdatedDate"] = row.updated
    return s


def item_name(row: Row) -> str | None:
    names = row.attributes.get("item_name", [])
    if not names:
        return None
    mp = BY_ID.get(row.marketplace_id)
    lang = mp.language_tag if mp else None
    for e in names:
        if e.get("language_tag") == lang:
            return str(e.get("value"))
    return str(names[0].get("value"))


def offers(row: Row) -> list[dict[str, Any]]:
    out = []
    for e in row.attributes.get("purchasable_offer", []):
        v = _our_price(e)
        if v is None:
            continue
        aud = e.get("audience") or "ALL"
        cur = str(
            e.get("currency")
            or (BY_ID[row.marketplace_id].currency if row.marketplace_id in BY_ID else "USD")
        )
        out.append(
            {
                "marketplaceId": row.marketplace_id,
                "offerType": "B2B" if aud == "B2B" else "B2C",
                "price": {"currencyCode": cur, "amount": money(v, cur)},
                "audience": {"value": aud, "displayName": AUDIENCE_NAMES.get(aud, aud)},
            }
        )
    return out


def merged_attributes(rows: list[Row]) -> dict[str, list[Entry]]:
    merged: dict[str, list[Entry]] = {}
    seen: dict[str, set[str]] = {}
    for row in rows:
        for name, entries in row.attributes.items():
            for e in entries:
                sig = json.dumps(e, sort_keys=True)
                if sig in seen.setdefault(name, set()):
                    continue
                seen[name].add(sig)
                merged.setdefault(name, []).append(e)
    out: dict[str, list[Entry]] = {}
    for name in sorted(merged, reverse=True):
        # groups in reverse selector order; entries sharing selector values keep their order
        out[name] = _stable_group_reverse(name, merged[name])
    return out


def _stable_group_reverse(name: str, entries: list[Entry]) -> list[Entry]:
    groups: dict[tuple[str, ...], list[Entry]] = {}
    for e in entries:
        groups.setdefault(key(name, e), []).append(e)
    return [e for k in sorted(groups, reverse=True) for e in groups[k]]


def render(rows: list[Row], included: list[str]) -> dict[str, Any]:
    """The ``Item`` for ``rows`` (one per requested marketplace that has the SKU)."""
    item: dict[str, Any] = {"sku": rows[0].sku}
    for part in included:
        if part == "summaries":
            item["summaries"] = [summary(r) for r in rows]
        elif part == "attributes":
            item["attributes"] = merged_attributes(rows)
        elif part == "issues":
            item["issues"] = [i for r in rows for i in r.issues]
        elif part == "offers":
            item["offers"] = [o for r in rows for o in offers(r)]
        elif part == "fulfillmentAvailability":
            fa: dict[str, dict[str, Any]] = {}
            for r in rows:
                for e in r.attributes.get("fulfillment_availability", []):
                    code = str(e.get("fulfillment_channel_code"))
                    d: dict[str, Any] = {"fulfillmentChannelCode": code}
                    if isinstance(e.get("quantity"), int):
                        d["quantity"] = e["quantity"]
                    fa.setdefault(code, d)
            item["fulfillmentAvailability"] = list(fa.values())
        elif part == "procurement":
            item["procurement"] = []
        elif part == "relationships":
            item["relationships"] = [
                {"marketplaceId": r.marketplace_id, "relationships": []} for r in rows
            ]
        elif part == "productTypes":
            item["productTypes"] = [
                {"marketplaceId": r.marketplace_id, "productType": r.product_type} for r in rows
            ]
    return item
