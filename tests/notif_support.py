"""Helpers of the notification tests: Amazon's payload schemas, a queue on the loopback SQS
server, and reading what the emulator published."""

from __future__ import annotations

import copy
import json
import time
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SHARED = Path(__file__).resolve().parents[3] / "shared" / "spapi"
if not SHARED.is_dir():  # the lead's checkout: /work/main -> /work/shared
    SHARED = Path(__file__).resolve().parents[2] / "shared" / "spapi"
SCHEMA_FILES = {
    "ORDER_CHANGE": "notifications/OrderChangeNotification.json",
    "LISTINGS_ITEM_MFN_QUANTITY_CHANGE": "notifications/ListingsItemMfnQuantityChange.json",
    "LISTINGS_ITEM_STATUS_CHANGE": "notifications/ListingsItemStatusChangeNotification.json",
    "LISTINGS_ITEM_ISSUES_CHANGE":
        "notifications/ListingsItemIssuesChangeNotification_2023-12-13.json",
    "FEED_PROCESSING_FINISHED": "FeedProcessingFinishedNotification.json",
}
EVENTBRIDGE_TYPES = {"LISTINGS_ITEM_MFN_QUANTITY_CHANGE", "LISTINGS_ITEM_STATUS_CHANGE",
                     "LISTINGS_ITEM_ISSUES_CHANGE"}


@cache
def schema(notification_type: str) -> dict[str, Any]:
    s: dict[str, Any] = json.loads((SHARED / SCHEMA_FILES[notification_type]).read_text())
    if notification_type == "LISTINGS_ITEM_STATUS_CHANGE":
        # The schema's enum says LISTINGS_ITEM_STATUS_CHANGED; Amazon's docs (notification type
        # values, the schema's own example) and deliveries say LISTINGS_ITEM_STATUS_CHANGE: the
        # docs win. Everything else of the schema is checked as published.
        s = copy.deepcopy(s)
        s["properties"]["NotificationType"]["enum"] = ["LISTINGS_ITEM_STATUS_CHANGE"]
    return s


def notification_of(body: dict[str, Any]) -> dict[str, Any]:
    """The notification in an SQS message body (unwrapping an EventBridge event)."""
    if "detail-type" in body:
        return dict(body["detail"])
    return body


def type_of(n: dict[str, Any]) -> str:
    return str(n.get("NotificationType") or n.get("notificationType"))


def notification_id(n: dict[str, Any]) -> str:
    meta = n.get("NotificationMetadata") or n.get("notificationMetadata") or {}
    return str(meta.get("NotificationId") or meta.get("notificationId"))


def validate(body: dict[str, Any]) -> dict[str, Any]:
    """Validate one SQS message body (envelope and notification); returns the notification."""
    n = notification_of(body)
    t = type_of(n)
    if t in EVENTBRIDGE_TYPES:
        assert set(body) >= {"version", "id", "detail-type", "source", "account", "time",
                             "region", "resources", "detail"}, body
        assert body["detail-type"] == t and body["version"] == "0"
    else:
        assert "detail-type" not in body
    jsonschema.Draft7Validator(schema(t)).validate(n)
    return n


def make_queue(sqs: Any, name: str) -> tuple[str, str]:
    """(queue URL, queue ARN) of a new queue."""
    url = str(sqs.create_queue(QueueName=name)["QueueUrl"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, str(arn["QueueArn"])


def receive(sqs: Any, url: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Receive (and delete) ``count`` message bodies, or fewer after ``timeout``."""
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        msgs = r.get("Messages", [])
        if not msgs:
            time.sleep(0.05)
            continue
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def drain_now(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message in the queue right now (received and deleted until a receive comes back
    empty; callers flush the emulator's publisher first, so everything sent is there)."""
    out: list[dict[str, Any]] = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                   WaitTimeSeconds=0).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
