"""The events behind SP-API notifications: what changed in the emulator, in Amazon's payload shapes.

The state modules call these hooks where Amazon would publish (all under ``emu.lock``):

- ``listings_store`` (every stored listing change: API writes when they become visible,
  JSON_LISTINGS_FEED messages, Seller Central edits, orders taking stock) ->
  :func:`listing_changed`:
  ``LISTINGS_ITEM_MFN_QUANTITY_CHANGE`` (the ``DEFAULT`` channel quantity changed),
  ``LISTINGS_ITEM_STATUS_CHANGE`` (BUYABLE/DISCOVERABLE changed, or the listing was deleted),
  ``LISTINGS_ITEM_ISSUES_CHANGE`` (the issues changed);
- ``orders_store`` (an order stored, an order shipped) -> :func:`order_changed`: ``ORDER_CHANGE``;
- ``feed_processing``/``feeds`` (a feed reached DONE, FATAL or CANCELLED) -> :func:`feed_finished`:
  ``FEED_PROCESSING_FINISHED``.

An event is only recorded when the emulator publishes at all (``EmulatorConfig.sqs_endpoint``),
so the hooks cost one attribute check otherwise. ``notifications.flush`` drains the events,
matches them with the subscriptions and hands the notifications to the publisher thread.

Payloads follow Amazon's schemas (``shared/spapi/notifications/*.json``,
``FeedProcessingFinishedNotification.json``): PascalCase keys for ORDER_CHANGE and the listings
notifications, camelCase for FEED_PROCESSING_FINISHED, as the schemas and the examples of
https://developer-docs.amazon.com/sp-api/docs/notification-type-values show.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass
from typing import Any

from .listing_views import Row, asin, statuses
from .state import EmulatorState, iso

ORDER_CHANGE = "ORDER_CHANGE"
MFN_QUANTITY_CHANGE = "LISTINGS_ITEM_MFN_QUANTITY_CHANGE"
STATUS_CHANGE = "LISTINGS_ITEM_STATUS_CHANGE"
ISSUES_CHANGE = "LISTINGS_ITEM_ISSUES_CHANGE"
FEED_FINISHED = "FEED_PROCESSING_FINISHED"
MFN_CHANNEL = "DEFAULT"  # the merchant-fulfilled channel code of fulfillment_availability


@dataclass(frozen=True)
class Event:
    """One thing Amazon notifies about, before it is matched with subscriptions."""

    notification_type: str
    seller_id: str
    payload: dict[str, Any]  # the notification's Payload/payload object
    event_time: float  # wall epoch seconds
    marketplace_id: str | None = None


_PENDING: weakref.WeakKeyDictionary[EmulatorState, list[Event]] = weakref.WeakKeyDictionary()


def enabled(emu: EmulatorState) -> bool:
    return emu.config.sqs_endpoint is not None


def emit(emu: EmulatorState, event: Event) -> None:
    if enabled(emu):
        _PENDING.setdefault(emu, []).append(event)


def drain(emu: EmulatorState) -> list[Event]:
    """The events recorded since the last drain, oldest first."""
    return _PENDING.pop(emu, [])


# ---------------------------------------------------------------------- listings


def mfn_quantity(attributes: dict[str, Any]) -> int | None:
    """The quantity of the ``DEFAULT`` (merchant-fulfilled) channel, None when not offered."""
    found: int | None = None
    for e in attributes.get("fulfillment_availability") or []:
        if isinstance(e, dict) and e.get("fulfillment_channel_code", MFN_CHANNEL) == MFN_CHANNEL:
            q = e.get("quantity")
            if isinstance(q, int) and not isinstance(q, bool):
                found = (found or 0) + q
    return found


def _row(seller: str, sku: str, mp: str, attrs: dict[str, Any], issues: list[Any]) -> Row:
    return Row(seller, sku, mp, "", attrs, "", "", 0.0, 0.0, issues)


def listing_changed(
    emu: EmulatorState,
    seller_id: str,
    sku: str,
    marketplace_id: str,
    old: Row | None,
    new_attributes: dict[str, Any] | None,
    new_issues: list[dict[str, Any]] | None,
    created: str | None = None,
) -> None:
    """A stored listing changed (``new_attributes`` None: deleted)."""
    if not enabled(emu):
        return
    now = emu.wall()
    base = {"SellerId": seller_id, "MarketplaceId": marketplace_id,
            "Asin": asin(seller_id, sku), "Sku": sku}
    old_q = mfn_quantity(old.attributes) if old is not None else None
    new_q = mfn_quantity(new_attributes) if new_attributes is not None else None
    if new_q is not None and new_q != old_q:
        # the schema's Payload: SellerId, FulfillmentChannelCode, Sku, Quantity (no marketplace)
        payload = {"SellerId": seller_id, "FulfillmentChannelCode": MFN_CHANNEL, "Sku": sku,
                   "Quantity": new_q}
        emit(emu, Event(MFN_QUANTITY_CHANGE, seller_id, payload, now, marketplace_id))
    old_status = statuses(old) if old is not None else None
    if new_attributes is None:
        new_status = ["DELETED"] if old is not None else None
    else:
        new_status = statuses(
            _row(seller_id, sku, marketplace_id, new_attributes, new_issues or [])
        )
    if new_status is not None and new_status != old_status:
        payload = {**base, "Status": new_status}
        if created or old is not None:
            payload["CreatedDate"] = created or (old.created if old is not None else "")
        emit(emu, Event(STATUS_CHANGE, seller_id, payload, now, marketplace_id))
    old_issues = old.issues if old is not None else []
    issues = new_issues if new_attributes is not None and new_issues is not None else []
    if new_attributes is not None and _canon(issues) != _canon(old_issues):
        severities = sorted({str(i.get("severity")) for i in issues if i.get("severity")})
        actions = sorted({
            str(a.get("action"))
            for i in issues
            for a in ((i.get("enforcements") or {}).get("actions") or [])
            if isinstance(a, dict) and a.get("action")
        })
        payload = {**base, "Severities": severities or ["NONE"], "EnforcementActions": actions}
        emit(emu, Event(ISSUES_CHANGE, seller_id, payload, now, marketplace_id))


def _canon(issues: list[Any]) -> str:
    return json.dumps(issues, sort_keys=True)


# ---------------------------------------------------------------------- orders

ORDER_STATUS = {  # Orders 2026-01-01 FulfillmentStatus -> the notification's OrderStatus
    "PENDING": "Pending",
    "UNSHIPPED": "Unshipped",
    "PARTIALLY_SHIPPED": "PartiallyShipped",
    "SHIPPED": "Shipped",
    "CANCELLED": "Canceled",
    "UNFULFILLABLE": "Unfulfillable",
}


def order_changed(emu: EmulatorState, order_id: str, reason: str) -> None:
    """``ORDER_CHANGE`` (``OrderStatusChange``) for a stored order: created or its status moved."""
    if not enabled(emu):
        return
    row = emu.db.execute(
        "SELECT seller_id, marketplace_id, created_ts, status, fulfilled_by, address"
        " FROM orders WHERE order_id = ?", (order_id,),
    ).fetchone()
    if row is None:
        return
    items = emu.db.execute(
        "SELECT item_id, sku, quantity, shipped FROM order_items WHERE order_id = ?"
        " ORDER BY item_id", (order_id,),
    ).fetchall()
    seller, mp, created_ts, status, fulfilled_by, address = row
    postal = (json.loads(address) or {}).get("postalCode") if address else None
    now = emu.wall()
    shipped = sum(int(i[3]) for i in items)
    payload = {"OrderChangeNotification": {
        "NotificationLevel": "OrderLevel",
        "SellerId": seller,
        "AmazonOrderId": order_id,
        "OrderChangeType": "OrderStatusChange",
        "OrderChangeTrigger": {"TimeOfOrderChange": iso(now), "ChangeReason": reason},
        "Summary": {
            "MarketplaceId": mp,
            "OrderStatus": ORDER_STATUS.get(str(status), "Unshipped"),
            "PurchaseDate": iso(float(created_ts)),
            "DestinationPostalCode": postal,
            "FulfillmentType": "AFN" if fulfilled_by == "AMAZON" else "MFN",
            "OrderType": "StandardOrder",
            "NumberOfItemsShipped": shipped,
            "NumberOfItemsUnshipped": sum(int(i[2]) for i in items) - shipped,
            "OrderItems": [
                {
                    "OrderItemId": str(i[0]),
                    "SellerSKU": str(i[1]),
                    "SupplySourceId": None,
                    "OrderItemStatus": "Shipped" if int(i[3]) >= int(i[2]) else "Unshipped",
                    "Quantity": int(i[2]),
                    "QuantityShipped": int(i[3]),
                }
                for i in items
            ],
        },
    }}
    emit(emu, Event(ORDER_CHANGE, str(seller), payload, now, str(mp)))


# ---------------------------------------------------------------------- feeds


def feed_finished(emu: EmulatorState, seq: int, feed_id: str) -> None:
    """``FEED_PROCESSING_FINISHED`` for a feed that reached DONE, FATAL or CANCELLED."""
    if not enabled(emu):
        return
    row = emu.db.execute(
        "SELECT seller_id, feed_type, status, result_doc_id FROM feeds WHERE seq = ?", (seq,)
    ).fetchone()
    if row is None or row[2] not in ("DONE", "FATAL", "CANCELLED"):
        return
    seller = str(row[0])
    body: dict[str, Any] = {
        "sellerId": seller,
        "accountId": f"amzn1.merchant.o.{seller}",
        "feedId": feed_id,
        "feedType": str(row[1]),
        "processingStatus": str(row[2]),
    }
    if row[3]:
        body["resultFeedDocumentId"] = str(row[3])
    emit(emu, Event(FEED_FINISHED, seller, {"feedProcessingFinishedNotification": body},
                    emu.wall()))
