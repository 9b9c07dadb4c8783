"""Orders API (2026-01-01 ``searchOrders``/``getOrder``; v0 ``getOrders``/``getOrderItems``/
``confirmShipment``) and the ``POST_ORDER_FULFILLMENT_DATA`` feed type (``fulfillment_feed.py``).

Storage: ``orders`` (one row per order, owned by a seller, in one marketplace), ``order_items``
and ``order_shipments`` (every accepted shipment confirmation: a test counts them to prove that
no order was confirmed twice). Orders are created by the deterministic generator
(``orders_gen.generate``) or by a seed's ``orders`` list (same shape as the generator's rows).

Timestamps are wall-clock epoch seconds derived from ``emu.now()`` through the feeds' anchor
(``feed_processing.wall_time``), so a fake clock drives them too.

Emulator choices where Amazon's models are silent:

- ``searchOrders``/``getOrders`` need exactly one of ``createdAfter``/``lastUpdatedAfter``;
  the ``...Before`` bound defaults to (and may not be later than) two minutes before the request
  (scaled by ``time_scale``), as the models say; results are ordered by (that timestamp, order
  id) and paginated with a keyset token, so an order that changes between pages is neither lost
  nor repeated within the same query window.
- ``includedData`` of ``searchOrders``/``getOrder``: ``BUYER``, ``RECIPIENT``, ``PROCEEDS``,
  ``FULFILLMENT`` and ``PACKAGES`` are rendered; other values are accepted and add nothing.
- ``confirmShipment`` ships the listed items; an order with nothing left to ship answers 400
  ``InvalidInput`` ("already shipped"), an unknown order 404 ``NotFound``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from reconciler.emulator.orders_store import Shipment, now_wall, ship
from reconciler.kernel.marketplaces import BY_ID

from .http import Request, Response, Route, api_error, invalid_input, json_response
from .state import EmulatorState, iso, json_body, parse_iso

BASE = "/orders/2026-01-01/orders"
BASE_V0 = "/orders/v0/orders"
WINDOW_LAG_S = 120.0  # "at least two minutes before the time of the request"
INCLUDED = ("BUYER", "RECIPIENT", "PROCEEDS", "EXPENSE", "PROMOTION", "CANCELLATION",
            "FULFILLMENT", "PACKAGES", "TAX", "PAYMENT", "FULFILLMENT_ORDERS")
STATUSES = ("PENDING_AVAILABILITY", "PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED",
            "CANCELLED", "UNFULFILLABLE")
V0_STATUS = {"PENDING": "Pending", "UNSHIPPED": "Unshipped", "PARTIALLY_SHIPPED":
             "PartiallyShipped", "SHIPPED": "Shipped", "CANCELLED": "Canceled",
             "UNFULFILLABLE": "Unfulfillable", "PENDING_AVAILABILITY": "PendingAvailability"}
MARKETPLACE_NAMES = {"US": "Amazon.com", "CA": "Amazon.ca", "MX": "Amazon.com.mx",
                     "UK": "Amazon.co.uk", "DE": "Amazon.de", "FR": "Amazon.fr",
                     "IT": "Amazon.it", "ES": "Amazon.es", "JP": "Amazon.co.jp"}


# -- storage helpers (also used by the generator and the feed) --------------------------------


# -- rendering ---------------------------------------------------------------------------------

_ORDER_COLS = ("order_id, seller_id, marketplace_id, created_ts, updated_ts, status, fulfilled_by,"
               " service_level, currency, buyer, address")


def _iso(ts: float) -> str:
    return iso(ts)


def _items(emu: EmulatorState, order_ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {o: [] for o in order_ids}
    for i in range(0, len(order_ids), 500):
        chunk = order_ids[i:i + 500]
        marks = ",".join("?" * len(chunk))
        for r in emu.db.execute(
            "SELECT order_id, item_id, sku, asin, title, quantity, unit_price, shipped"  # noqa: S608
            f" FROM order_items WHERE order_id IN ({marks}) ORDER BY order_id, item_id", chunk
        ):
            out[r[0]].append(tuple(r))
    return out


def _shipments(emu: EmulatorState, order_ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {o: [] for o in order_ids}
    for i in range(0, len(order_ids), 500):
        chunk = order_ids[i:i + 500]
        marks = ",".join("?" * len(chunk))
        for r in emu.db.execute(
            "SELECT order_id, id, carrier_code, carrier_name, shipping_method,"  # noqa: S608
            f" tracking_number, ship_date, time FROM order_shipments WHERE order_id IN ({marks})"
            " ORDER BY id", chunk
        ):
            out[r[0]].append(tuple(r))
    return out


def _money(amount: float, currency: str) -> dict[str, str]:
    return {"amount": f"{amount:.2f}", "currencyCode": currency}


def _render(row: tuple[Any, ...], items: list[tuple[Any, ...]], ships: list[tuple[Any, ...]],
            included: set[str]) -> dict[str, Any]:
    oid, _seller, mp, created, updated, status, by, level, cur, buyer, address = row
    market = BY_ID.get(mp)
    channel: dict[str, Any] = {"channelName": "AMAZON", "marketplaceId": mp}
    if market is not None and market.code in MARKETPLACE_NAMES:
        channel["marketplaceName"] = MARKETPLACE_NAMES[market.code]
    order: dict[str, Any] = {
        "orderId": oid,
        "createdTime": _iso(created),
        "lastUpdatedTime": _iso(updated),
        "programs": [],
        "salesChannel": channel,
    }
    if "BUYER" in included:
        order["buyer"] = json.loads(buyer)
    if "RECIPIENT" in included:
        order["recipient"] = {"deliveryAddress": json.loads(address)}
    if "PROCEEDS" in included:
        total = sum(float(i[6]) * int(i[5]) for i in items)
        order["proceeds"] = {"grandTotal": _money(total, cur)}
    if "FULFILLMENT" in included:
        order["fulfillment"] = {"fulfillmentStatus": status, "fulfilledBy": by,
                                "fulfillmentServiceLevel": level}
    rendered = []
    for _o, item_id, sku, asin, title, qty, price, shipped in items:
        item: dict[str, Any] = {
            "orderItemId": item_id,
            "quantityOrdered": int(qty),
            "product": {"asin": asin, "title": title, "sellerSku": sku,
                        "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
                        "price": {"unitPrice": {"amount": price, "currencyCode": cur}}},
        }
        if "PROCEEDS" in included:
            item["proceeds"] = {"proceedsTotal": _money(float(price) * int(qty), cur)}
        if "FULFILLMENT" in included:
            item["fulfillment"] = {"quantityFulfilled": int(shipped),
                                   "quantityUnfulfilled": int(qty) - int(shipped)}
        rendered.append(item)
    order["orderItems"] = rendered
    if "PACKAGES" in included and ships:
        order["packages"] = [
            {"packageReferenceId": str(sid), "createdTime": _iso(t),
             "packageStatus": {"status": "SHIPPED"},
             "carrier": cname or code, "shipTime": ship_date,
             **({"shippingService": method} if method else {}),
             "trackingNumber": tracking}
            for _o, sid, code, cname, method, tracking, ship_date, t in ships
        ]
    return order


# -- query windows and tokens ------------------------------------------------------------------


def _encode(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def _decode(token: str) -> dict[str, Any] | None:
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        return None
    return state if isinstance(state, dict) else None


@dataclass(frozen=True)
class Window:
    column: str  # created_ts | updated_ts
    after: float
    before: float
    before_name: str  # createdBefore | lastUpdatedBefore (response field, 2026 spelling)


def _window(emu: EmulatorState, created_after: str | None, created_before: str | None,
            updated_after: str | None, updated_before: str | None) -> Window | Response:
    if (created_after is None) == (updated_after is None):
        return invalid_input("Exactly one of createdAfter and lastUpdatedAfter is required.")
    if created_after is not None and (updated_before is not None):
        return invalid_input("lastUpdatedBefore cannot be combined with createdAfter.")
    if updated_after is not None and created_before is not None:
        return invalid_input("createdBefore cannot be combined with lastUpdatedAfter.")
    latest = now_wall(emu) - emu.config.scaled(WINDOW_LAG_S)
    after_raw = created_after if created_after is not None else updated_after
    before_raw = created_before if created_after is not None else updated_before
    assert after_raw is not None
    after = parse_iso(after_raw)
    if after is None:
        return invalid_input(f"{after_raw!r} is not an ISO 8601 date-time.")
    before = latest
    if before_raw is not None:
        b = parse_iso(before_raw)
        if b is None:
            return invalid_input(f"{before_raw!r} is not an ISO 8601 date-time.")
        if b > latest + 1e-3:
            return invalid_input("The Before date must be at least two minutes before the time"
                                 " of the request.")
        before = b
    if before < after:
        return invalid_input("The Before date must be equal to or after the After date.")
    if created_after is not None:
        return Window("created_ts", after, before, "createdBefore")
    return Window("updated_ts", after, before, "lastUpdatedBefore")


def _query(emu: EmulatorState, seller: str, w: Window, marketplaces: list[str] | None,
           statuses_: list[str] | None, fulfilled_by: list[str] | None,
           cursor: tuple[float, str] | None, limit: int) -> list[tuple[Any, ...]]:
    col = w.column
    sql = (f"SELECT {_ORDER_COLS} FROM orders WHERE seller_id = ?"  # noqa: S608
           f" AND {col} >= ? AND {col} <= ?")
    args: list[Any] = [seller, w.after, w.before]
    for name, values in (("marketplace_id", marketplaces), ("status", statuses_),
                         ("fulfilled_by", fulfilled_by)):
        if values:
            sql += f" AND {name} IN ({','.join('?' * len(values))})"
            args.extend(values)
    if cursor is not None:
        sql += f" AND ({col} > ? OR ({col} = ? AND order_id > ?))"
        args.extend([cursor[0], cursor[0], cursor[1]])
    sql += f" ORDER BY {col}, order_id LIMIT ?"
    args.append(limit + 1)
    return [tuple(r) for r in emu.db.execute(sql, args).fetchall()]


def _page(emu: EmulatorState, req: Request, seller: str, names: dict[str, str],
          defaults_included: set[str]) -> tuple[list[tuple[Any, ...]], str | None, Window,
                                                set[str]] | Response:
    """Shared by searchOrders and getOrders: ``names`` maps our keys to the query names."""
    token_name = names["token"]
    token = req.q(token_name)
    state: dict[str, Any] | None = None
    if token is not None:
        state = _decode(token)
        if state is None or not isinstance(state.get("c"), list) or len(state["c"]) != 2:
            return invalid_input(f"Invalid {token_name}.")
    params = {k: req.q(v) for k, v in names.items() if k not in ("token", "mkts", "status",
                                                                    "by", "size", "included")}
    if state is not None:
        col, after, before, bname = state["w"]
        w = Window(str(col), float(after), float(before), str(bname))
        f = state["f"]
        mkts, sts, by = f["m"], f["s"], f["b"]
    else:
        got = _window(emu, params["ca"], params["cb"], params["ua"], params["ub"])
        if isinstance(got, Response):
            return got
        w = got
        mkts = req.q_csv(names["mkts"])
        sts = req.q_csv(names["status"])
        by = req.q_csv(names["by"]) if names.get("by") else None
        if mkts is not None and not 1 <= len(mkts) <= 50:
            return invalid_input("marketplaceIds takes 1 to 50 values.")
        if mkts is not None and names.get("v0") and any(m not in BY_ID for m in mkts):
            return invalid_input(f"Invalid MarketplaceIds: {mkts}.")
        if sts is not None:
            mapped = []
            for s in sts:
                up = s.upper() if s.upper() in STATUSES else {v.upper(): k for k, v in
                                                              V0_STATUS.items()}.get(s.upper())
                if up is None:
                    return invalid_input(f"Invalid status {s!r}.")
                mapped.append(up)
            sts = mapped
        if by is not None and any(b not in ("MERCHANT", "AMAZON") for b in by):
            return invalid_input("fulfilledBy values are MERCHANT and AMAZON.")
    size_raw = req.q(names["size"]) or "100"
    if not size_raw.isdigit() or not 1 <= int(size_raw) <= 100:
        return invalid_input(f"{names['size']} must be an integer from 1 to 100.")
    included = defaults_included
    if names.get("included"):
        inc = req.q_csv(names["included"])
        if inc is not None:
            bad = [i for i in inc if i not in INCLUDED]
            if bad:
                return invalid_input(f"Invalid includedData {bad}.")
            included = set(inc)
    size = int(size_raw)
    cursor = (float(state["c"][0]), str(state["c"][1])) if state is not None else None
    rows = _query(emu, seller, w, mkts, sts, by, cursor, size)
    next_token = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        key = last[3] if w.column == "created_ts" else last[4]
        next_token = _encode({"w": [w.column, w.after, w.before, w.before_name],
                              "f": {"m": mkts, "s": sts, "b": by}, "c": [key, last[0]]})
    return rows, next_token, w, included


# -- handlers ----------------------------------------------------------------------------------


def _seller(params: dict[str, str]) -> str:
    return params.get("_seller_id", "")


def search_orders(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    names = {"ca": "createdAfter", "cb": "createdBefore", "ua": "lastUpdatedAfter",
             "ub": "lastUpdatedBefore", "token": "paginationToken", "mkts": "marketplaceIds",
             "status": "fulfillmentStatuses", "by": "fulfilledBy", "size": "maxResultsPerPage",
             "included": "includedData"}
    got = _page(emu, req, _seller(params), names, set())
    if isinstance(got, Response):
        return got
    rows, token, w, included = got
    ids = [r[0] for r in rows]
    items = _items(emu, ids)
    ships = _shipments(emu, ids) if "PACKAGES" in included else {}
    body: dict[str, Any] = {
        "orders": [_render(r, items[r[0]], ships.get(r[0], []), included) for r in rows],
        w.before_name: _iso(w.before),
    }
    if token is not None:
        body["pagination"] = {"nextToken": token}
    return json_response(200, body)


def _not_found(order_id: str) -> Response:
    return api_error(404, "NotFound", "The requested order was not found.",
                     f"No order {order_id} exists for this seller.")


def _own_row(emu: EmulatorState, params: dict[str, str]) -> tuple[Any, ...] | Response:
    oid = params["orderId"]
    row = emu.db.execute(f"SELECT {_ORDER_COLS} FROM orders WHERE order_id = ?"  # noqa: S608
                         " AND seller_id = ?", (oid, _seller(params))).fetchone()
    if row is None:
        return _not_found(oid)
    return tuple(row)


def get_order(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    inc = req.q_csv("includedData")
    if inc is not None and any(i not in INCLUDED for i in inc):
        return invalid_input(f"Invalid includedData {inc}.")
    row = _own_row(emu, params)
    if isinstance(row, Response):
        return row
    included = set(inc or ())
    oid = row[0]
    order = _render(row, _items(emu, [oid])[oid], _shipments(emu, [oid])[oid], included)
    return json_response(200, {"order": order})


def _v0_order(row: tuple[Any, ...], items: list[tuple[Any, ...]]) -> dict[str, Any]:
    oid, _seller, mp, created, updated, status, by, level, cur, _buyer, address = row
    addr = json.loads(address)
    market = BY_ID.get(mp)
    shipped = sum(int(i[7]) for i in items)
    total = sum(int(i[5]) for i in items)
    order: dict[str, Any] = {
        "AmazonOrderId": oid,
        "PurchaseDate": _iso(created),
        "LastUpdateDate": _iso(updated),
        "OrderStatus": V0_STATUS.get(status, "Unshipped"),
        "FulfillmentChannel": "MFN" if by == "MERCHANT" else "AFN",
        "ShipServiceLevel": level.title(),
        "OrderTotal": {"CurrencyCode": cur,
                       "Amount": f"{sum(float(i[6]) * int(i[5]) for i in items):.2f}"},
        "NumberOfItemsShipped": shipped,
        "NumberOfItemsUnshipped": total - shipped,
        "MarketplaceId": mp,
        "ShippingAddress": {k2: addr[k1] for k1, k2 in (
            ("city", "City"), ("stateOrRegion", "StateOrRegion"),
            ("postalCode", "PostalCode"), ("countryCode", "CountryCode")) if k1 in addr},
    }
    if market is not None and market.code in MARKETPLACE_NAMES:
        order["SalesChannel"] = MARKETPLACE_NAMES[market.code]
    return order


def get_orders(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    if req.q("NextToken") is None and not req.q_csv("MarketplaceIds"):
        return invalid_input("MarketplaceIds is required.")
    names = {"ca": "CreatedAfter", "cb": "CreatedBefore", "ua": "LastUpdatedAfter",
             "ub": "LastUpdatedBefore", "token": "NextToken", "mkts": "MarketplaceIds",
             "status": "OrderStatuses", "by": "", "size": "MaxResultsPerPage", "v0": "1"}
    got = _page(emu, req, _seller(params), names, set())
    if isinstance(got, Response):
        return got
    rows, token, w, _inc = got
    items = _items(emu, [r[0] for r in rows])
    payload: dict[str, Any] = {"Orders": [_v0_order(r, items[r[0]]) for r in rows]}
    payload["CreatedBefore" if w.column == "created_ts" else "LastUpdatedBefore"] = _iso(w.before)
    if token is not None:
        payload["NextToken"] = token
    return json_response(200, {"payload": payload})


def get_order_items(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    row = _own_row(emu, params)
    if isinstance(row, Response):
        return row
    oid = row[0]
    cur = row[8]
    out = []
    for _o, item_id, sku, asin, title, qty, price, shipped in _items(emu, [oid])[oid]:
        out.append({"ASIN": asin, "SellerSKU": sku, "OrderItemId": item_id, "Title": title,
                    "QuantityOrdered": int(qty), "QuantityShipped": int(shipped),
                    "ItemPrice": {"CurrencyCode": cur,
                                  "Amount": f"{float(price) * int(qty):.2f}"}})
    return json_response(200, {"payload": {"AmazonOrderId": oid, "OrderItems": out}})


def confirm_shipment(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    body = json_body(req)
    if not isinstance(body, dict) or not isinstance(body.get("packageDetail"), dict) \
            or not isinstance(body.get("marketplaceId"), str):
        return invalid_input("marketplaceId and packageDetail are required.")
    pkg = body["packageDetail"]
    missing = [k for k in ("packageReferenceId", "carrierCode", "trackingNumber", "shipDate",
                           "orderItems") if k not in pkg]
    if missing:
        return invalid_input(f"packageDetail is missing {', '.join(missing)}.")
    if parse_iso(str(pkg["shipDate"])) is None:
        return invalid_input("shipDate must be an ISO 8601 date-time.")
    row = _own_row(emu, params)
    if isinstance(row, Response):
        return row
    if row[2] != body["marketplaceId"]:
        return invalid_input(f"Order {row[0]} is not in marketplace {body['marketplaceId']}.")
    if row[5] in ("SHIPPED", "CANCELLED"):
        return invalid_input(f"Order {row[0]} is already {row[5].lower()}.")
    items = pkg["orderItems"]
    if not isinstance(items, list) or not items:
        return invalid_input("packageDetail.orderItems must be a non-empty array.")
    known = {i[1] for i in _items(emu, [row[0]])[row[0]]}
    wanted: dict[str, int] = {}
    for it in items:
        if not isinstance(it, dict) or it.get("orderItemId") not in known \
                or not isinstance(it.get("quantity"), int) or it["quantity"] < 1:
            return invalid_input(f"Invalid order item {it!r} for order {row[0]}.")
        wanted[it["orderItemId"]] = wanted.get(it["orderItemId"], 0) + it["quantity"]
    ship(emu, row[0], Shipment(str(pkg["carrierCode"]), pkg.get("carrierName"),
                               pkg.get("shippingMethod"), str(pkg["trackingNumber"]),
                               str(pkg["shipDate"])), "confirmShipment", wanted)
    return Response(204, b"", {})


ROUTES: list[Route] = [
    Route("GET", BASE, "searchOrders", search_orders),
    Route("GET", BASE + "/{orderId}", "getOrder", get_order),
    Route("GET", BASE_V0, "getOrders", get_orders),
    Route("GET", BASE_V0 + "/{orderId}/orderItems", "getOrderItems", get_order_items),
    Route("POST", BASE_V0 + "/{orderId}/shipmentConfirmation", "confirmShipment",
          confirm_shipment),
]
