"""Amazon-shaped notifications, built per Amazon's payload schemas (the ``examples`` of
``reconciler/data/notifications/*.json``): for the demo, the bench and the tests. Production
never builds these: Amazon does."""

from __future__ import annotations

import datetime as _dt
import json
import uuid
from collections.abc import Sequence
from typing import Any

APP_ID = "amzn1.sellerapps.app.00000000-0000-0000-0000-000000000000"


def _iso(ts: float | None = None) -> str:
    t = _dt.datetime.now(_dt.timezone.utc) if ts is None else \
        _dt.datetime.fromtimestamp(ts, _dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _meta(nid: str | None, at: str) -> dict[str, str]:
    return {"ApplicationId": APP_ID, "SubscriptionId": "subscription-" + APP_ID[-12:],
            "PublishTime": at, "NotificationId": nid or str(uuid.uuid4())}


def order_change(seller_id: str, order_id: str, marketplace_id: str,
                 items: Sequence[tuple[str, str, int]], *, status: str = "Unshipped",
                 at: float | None = None, notification_id: str | None = None,
                 supply_source_id: str = "") -> dict[str, Any]:
    """ORDER_CHANGE; ``items`` are (order item id, SKU, quantity)."""
    when = _iso(at)
    return {
        "NotificationVersion": "1.0", "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0", "EventTime": when,
        "Payload": {"OrderChangeNotification": {
            "NotificationLevel": "OrderLevel", "SellerId": seller_id, "AmazonOrderId": order_id,
            "OrderChangeType": "OrderStatusChange",
            "OrderChangeTrigger": {"TimeOfOrderChange": when, "ChangeReason": "Order status"},
            "Summary": {
                "MarketplaceId": marketplace_id, "OrderStatus": status, "PurchaseDate": when,
                "DestinationPostalCode": "00000", "FulfillmentType": "MFN",
                "OrderType": "StandardOrder",
                "OrderItems": [{"OrderItemId": oid, "SellerSKU": sku,
                                "SupplySourceId": supply_source_id, "Quantity": q}
                               for oid, sku, q in items],
            }}},
        "NotificationMetadata": _meta(notification_id, when),
    }


def mfn_quantity_change(seller_id: str, sku: str, quantity: int, *, channel: str = "DEFAULT",
                        at: float | None = None, notification_id: str | None = None
                        ) -> dict[str, Any]:
    when = _iso(at)
    return {"NotificationVersion": "1.0", "NotificationType": "LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
            "PayloadVersion": "1.0", "EventTime": when,
            "Payload": {"SellerId": seller_id, "FulfillmentChannelCode": channel, "Sku": sku,
                        "Quantity": quantity},
            "NotificationMetadata": _meta(notification_id, when)}


def issues_change(seller_id: str, sku: str, marketplace_id: str, severities: Sequence[str],
                  enforcement: Sequence[str] = (), *, at: float | None = None,
                  notification_id: str | None = None) -> dict[str, Any]:
    when = _iso(at)
    payload: dict[str, Any] = {"SellerId": seller_id, "MarketplaceId": marketplace_id,
                               "Sku": sku, "Severities": list(severities)}
    if enforcement:
        payload["EnforcementActions"] = list(enforcement)
    return {"NotificationVersion": "1.0", "NotificationType": "LISTINGS_ITEM_ISSUES_CHANGE",
            "PayloadVersion": "2023-12-13", "EventTime": when, "Payload": payload,
            "NotificationMetadata": _meta(notification_id, when)}


def status_change(seller_id: str, sku: str, marketplace_id: str, status: Sequence[str], *,
                  at: float | None = None, notification_id: str | None = None
                  ) -> dict[str, Any]:
    when = _iso(at)
    return {"NotificationVersion": "1.0", "NotificationType": "LISTINGS_ITEM_STATUS_CHANGE",
            "PayloadVersion": "1.0", "EventTime": when,
            "Payload": {"SellerId": seller_id, "MarketplaceId": marketplace_id, "Sku": sku,
                        "CreatedDate": when, "Status": list(status)},
            "NotificationMetadata": _meta(notification_id, when)}


def feed_finished(seller_id: str, feed_id: str, status: str = "DONE", *,
                  result_document_id: str = "", feed_type: str = "JSON_LISTINGS_FEED",
                  at: float | None = None, notification_id: str | None = None
                  ) -> dict[str, Any]:
    when = _iso(at)
    body: dict[str, Any] = {"sellerId": seller_id, "accountId": f"amzn1.merchant.o.{seller_id}",
                            "feedId": feed_id, "feedType": feed_type,
                            "processingStatus": status}
    if result_document_id:
        body["resultFeedDocumentId"] = result_document_id
    return {"notificationVersion": "2020-09-04", "notificationType": "FEED_PROCESSING_FINISHED",
            "payloadVersion": "2020-09-04", "eventTime": when,
            "payload": {"feedProcessingFinishedNotification": body},
            "notificationMetadata": {"applicationId": APP_ID, "subscriptionId": "sub-feed",
                                     "publishTime": when,
                                     "notificationId": notification_id or str(uuid.uuid4())}}


def eventbridge(notification: dict[str, Any], *, region: str = "us-east-1") -> dict[str, Any]:
    """The EventBridge event wrapping ``notification`` (EventBridge workflow, SQS target)."""
    kind = str(notification.get("NotificationType") or "")
    return {"version": "0", "id": str(uuid.uuid4()),
            "detail-type": kind, "source": f"aws.partner/sellingpartnerapi.amazon/{APP_ID}",
            "account": "000000000000", "time": str(notification.get("EventTime") or _iso()),
            "region": region, "resources": [], "detail": notification}


def body(notification: dict[str, Any]) -> str:
    return json.dumps(notification, separators=(",", ":"))
