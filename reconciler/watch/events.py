"""SQS message body -> one validated :class:`Event`, or a :class:`Rejected` with the reason.

Bodies arrive in two shapes (Amazon's Notifications API use case guide,
https://developer-docs.amazon.com/sp-api/docs/notifications-api-v1-use-case-guide):

- the SQS workflow: the body IS the notification (``ORDER_CHANGE``,
  ``FEED_PROCESSING_FINISHED``, and ``LISTINGS_ITEM_MFN_QUANTITY_CHANGE`` when sent to SQS);
- the EventBridge workflow with an SQS target (``LISTINGS_ITEM_STATUS_CHANGE``,
  ``LISTINGS_ITEM_ISSUES_CHANGE``, ``LISTINGS_ITEM_MFN_QUANTITY_CHANGE``): an EventBridge event
  ``{"version", "id", "detail-type", "source", "account", "time", "region", "resources",
  "detail"}`` whose ``detail`` is the notification
  (https://developer-docs.amazon.com/sp-api/docs/set-up-notifications-with-amazon-eventbridge).

Every notification is validated against Amazon's own JSON schema for its type (packaged in
``reconciler/data/notifications/``, Apache-2.0, from selling-partner-api-models). Anything that
is not JSON, has an unknown type or fails its schema is a :class:`Rejected`: the worker records
the reason and never deletes it, so SQS moves it to the dead-letter queue after the queue's
``maxReceiveCount`` (the redrive policy).

Pure apart from reading the packaged schemas once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator

SCHEMAS = {
    "ORDER_CHANGE": "OrderChangeNotification.json",
    "LISTINGS_ITEM_MFN_QUANTITY_CHANGE": "ListingsItemMfnQuantityChange.json",
    "LISTINGS_ITEM_STATUS_CHANGE": "ListingsItemStatusChangeNotification.json",
    "LISTINGS_ITEM_ISSUES_CHANGE": "ListingsItemIssuesChangeNotification_2023-12-13.json",
    "FEED_PROCESSING_FINISHED": "FeedProcessingFinishedNotification.json",
}
MAX_BODY = 256 * 1024  # SQS's own message size limit


@cache
def validator(notification_type: str) -> Draft7Validator:
    name = SCHEMAS[notification_type]
    text = resources.files("reconciler").joinpath(f"data/notifications/{name}").read_text(
        encoding="utf-8")
    schema = json.loads(text)
    if notification_type == "LISTINGS_ITEM_STATUS_CHANGE":
        # Amazon's schema enumerates "LISTINGS_ITEM_STATUS_CHANGED" while its own example, the
        # notificationType reference and real deliveries say LISTINGS_ITEM_STATUS_CHANGE
        # (https://developer-docs.amazon.com/sp-api/docs/notification-type-values): accept
        # both rather than send every real status notification to the dead-letter queue.
        prop = schema["properties"]["NotificationType"]
        prop["enum"] = sorted({*prop.get("enum", ()), notification_type})
    return Draft7Validator(schema)


@dataclass(frozen=True)
class OrderItem:
    order_item_id: str
    sku: str
    quantity: int
    supply_source_id: str


@dataclass(frozen=True)
class Event:
    """One notification, validated. ``kind`` is Amazon's notification type."""

    kind: str
    notification_id: str
    event_time: str  # ISO 8601, Amazon's EventTime
    seller_id: str
    sku: str = ""  # listing events
    marketplace_id: str = ""
    order_id: str = ""
    order_status: str = ""
    change_time: str = ""  # ORDER_CHANGE: OrderChangeTrigger.TimeOfOrderChange
    items: tuple[OrderItem, ...] = ()
    quantity: int | None = None  # MFN quantity change
    channel: str = ""
    status: tuple[str, ...] = ()  # STATUS_CHANGE
    severities: tuple[str, ...] = ()  # ISSUES_CHANGE
    enforcement: tuple[str, ...] = ()
    feed_id: str = ""  # FEED_PROCESSING_FINISHED
    feed_status: str = ""
    result_document_id: str = ""
    publish_time: str = ""


@dataclass(frozen=True)
class Rejected:
    notification_id: str  # "" when it could not even be read
    reason: str


def _first_error(v: Draft7Validator, doc: Any) -> str | None:
    errors = sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    e = errors[0]
    where = "/".join(str(p) for p in e.absolute_path) or "(root)"
    return f"{where}: {e.message[:200]}"


def _get(d: Any, *names: str) -> Any:
    """The first of ``names`` present in dict ``d`` (PascalCase or camelCase notifications)."""
    if not isinstance(d, dict):
        return None
    for n in names:
        if n in d:
            return d[n]
    return None


def parse(body: str) -> Event | Rejected:
    if len(body) > MAX_BODY:
        return Rejected("", "message body larger than 256 KiB")
    try:
        doc = json.loads(body)
    except ValueError as e:
        return Rejected("", f"not JSON: {e}")
    if isinstance(doc, dict) and "detail" in doc and "detail-type" in doc:
        doc = doc["detail"]  # EventBridge envelope
    meta = _get(doc, "NotificationMetadata", "notificationMetadata")
    nid = str(_get(meta, "NotificationId", "notificationId") or "")
    kind = _get(doc, "NotificationType", "notificationType")
    if not isinstance(kind, str) or kind not in SCHEMAS:
        return Rejected(nid, f"unknown or missing notification type {str(kind)[:80]!r}")
    problem = _first_error(validator(kind), doc)
    if problem is not None:
        return Rejected(nid, f"{kind} fails Amazon's schema at {problem}")
    if not nid:
        return Rejected("", f"{kind} without a NotificationId")
    try:
        return _event(kind, nid, doc)
    except (KeyError, TypeError, ValueError) as e:  # the schema allows more than we can use
        return Rejected(nid, f"{kind}: unusable payload ({type(e).__name__}: {e})")


def _event(kind: str, nid: str, doc: dict[str, Any]) -> Event:
    when = str(_get(doc, "EventTime", "eventTime") or "")
    meta = _get(doc, "NotificationMetadata", "notificationMetadata")
    published = str(_get(meta, "PublishTime", "publishTime") or "")
    payload = _get(doc, "Payload", "payload")
    if kind == "ORDER_CHANGE":
        o = payload["OrderChangeNotification"]
        s = o["Summary"]
        items = tuple(
            OrderItem(str(i["OrderItemId"]), str(i["SellerSKU"]), int(i["Quantity"]),
                      str(i.get("SupplySourceId") or ""))
            for i in s["OrderItems"])
        return Event(kind, nid, when, str(o["SellerId"]), marketplace_id=str(s["MarketplaceId"]),
                     order_id=str(o["AmazonOrderId"]), order_status=str(s["OrderStatus"]),
                     change_time=str(o["OrderChangeTrigger"]["TimeOfOrderChange"]), items=items,
                     publish_time=published)
    if kind == "FEED_PROCESSING_FINISHED":
        f = payload["feedProcessingFinishedNotification"]
        return Event(kind, nid, when, str(f.get("sellerId") or ""), feed_id=str(f["feedId"]),
                     feed_status=str(f["processingStatus"]),
                     result_document_id=str(f.get("resultFeedDocumentId") or ""),
                     publish_time=published)
    seller, sku = str(payload["SellerId"]), str(payload["Sku"])
    mp = str(payload.get("MarketplaceId") or "")
    if kind == "LISTINGS_ITEM_MFN_QUANTITY_CHANGE":
        return Event(kind, nid, when, seller, sku=sku, marketplace_id=mp,
                     quantity=int(payload["Quantity"]),
                     channel=str(payload["FulfillmentChannelCode"]), publish_time=published)
    if kind == "LISTINGS_ITEM_STATUS_CHANGE":
        return Event(kind, nid, when, seller, sku=sku, marketplace_id=mp,
                     status=tuple(str(x) for x in payload["Status"]), publish_time=published)
    return Event(kind, nid, when, seller, sku=sku, marketplace_id=mp,
                 severities=tuple(str(x) for x in payload["Severities"]),
                 enforcement=tuple(str(x) for x in payload.get("EnforcementActions") or ()),
                 publish_time=published)
