"""Publishing SP-API notifications to SQS: the emulated Amazon's side of the Notifications API.

How to enable (``EmulatorConfig``; ``reconciler emulator serve`` options in brackets):

- ``sqs_endpoint`` [``--sqs-endpoint URL``]: a loopback SQS-compatible server (moto's server
  mode, ``tests/sqsserver.py``). Unset: the emulator records no event and publishes nothing.
- ``eventbridge_queue_arn`` [``--eventbridge-queue-arn ARN``]: the SQS queue the (emulated)
  EventBridge rule of an ``eventBridge`` destination targets. Amazon delivers the listings
  notifications (LISTINGS_ITEM_STATUS_CHANGE, LISTINGS_ITEM_ISSUES_CHANGE,
  LISTINGS_ITEM_MFN_QUANTITY_CHANGE) only through EventBridge ("Set up notifications (Amazon
  EventBridge workflow)", https://developer-docs.amazon.com/sp-api/docs/set-up-notifications-with-amazon-eventbridge);
  the seller routes the partner event bus to an SQS queue with a rule. Unset: such notifications
  are dropped (counted in :attr:`Publisher.dropped`).
- ``notify_faults`` [``--notify-faults SPEC``, :class:`~reconciler.emulator.faults.NotifyFaults`]:
  duplicates, delay, jitter, reordering.

Then subscribe (``reconciler notifications setup``, or directly with
:func:`reconciler.emulator.notifications.subscribe_direct`) and every order, quantity, status,
issues or feed change of a subscribed seller reaches the queue.

Message bodies (what a consumer receives):

- SQS workflow (ORDER_CHANGE, FEED_PROCESSING_FINISHED): the notification itself, e.g.
  ``{"NotificationVersion", "NotificationType", "PayloadVersion", "EventTime", "Payload",
  "NotificationMetadata": {"ApplicationId", "SubscriptionId", "PublishTime",
  "NotificationId"}}`` (ORDER_CHANGE; FEED_PROCESSING_FINISHED uses camelCase keys, as its
  schema);
- EventBridge workflow: an EventBridge event whose ``detail`` is the notification
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html):
  ``{"version": "0", "id", "detail-type": <notificationType>, "source": <the partner event
  source name>, "account", "time", "region", "resources": [], "detail": {...}}``.

A consumer unwraps with ``body.get("detail", body)`` when ``"detail-type"`` is present.
Notification types follow Amazon's docs (``LISTINGS_ITEM_STATUS_CHANGE``; the schema's enum
says ``LISTINGS_ITEM_STATUS_CHANGED``, the docs and Amazon's deliveries say ``..._CHANGE``).

Delivery runs on one daemon thread per emulator (never inside request handling): it sends each
message when due with boto3 ``send_message`` to the queue the ARN names (``get_queue_url`` by
name and owner account, cached). The emulator's boto3 client signs with fixed dummy credentials
of its own (it stands for Amazon; a user's AWS credentials are never read). A failed send is
counted in :attr:`Publisher.errors` and dropped, never raised into the emulator.
"""

from __future__ import annotations

import heapq
import importlib
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from .faults import NotifyFaults
from .notify import (
    FEED_FINISHED,
    ISSUES_CHANGE,
    MFN_QUANTITY_CHANGE,
    ORDER_CHANGE,
    STATUS_CHANGE,
    Event,
)
from .state import iso


@dataclass(frozen=True)
class TypeInfo:
    notification_version: str
    payload_version: str
    eventbridge: bool  # delivered through the EventBridge workflow
    camel: bool  # camelCase top-level keys (FEED_PROCESSING_FINISHED's schema)


# https://developer-docs.amazon.com/sp-api/docs/notification-type-values (payload versions and
# workflows) and the schemas' examples (notificationVersion)
TYPES: dict[str, TypeInfo] = {
    ORDER_CHANGE: TypeInfo("1.0", "1.0", False, False),
    FEED_FINISHED: TypeInfo("2020-09-04", "2020-09-04", False, True),
    MFN_QUANTITY_CHANGE: TypeInfo("1.0", "1.0", True, False),
    STATUS_CHANGE: TypeInfo("1.0", "1.0", True, False),
    ISSUES_CHANGE: TypeInfo("1.0", "2023-12-13", True, False),
}


def build(event: Event, application_id: str, subscription_id: str, publish_time: float,
          notification_id: str) -> dict[str, Any]:
    """The notification Amazon sends for ``event`` to one subscription."""
    info = TYPES[event.notification_type]
    meta = {"ApplicationId": application_id, "SubscriptionId": subscription_id,
            "PublishTime": iso(publish_time), "NotificationId": notification_id}
    out = {"NotificationVersion": info.notification_version,
           "NotificationType": event.notification_type,
           "PayloadVersion": info.payload_version,
           "EventTime": iso(event.event_time),
           "Payload": event.payload,
           "NotificationMetadata": meta}
    if info.camel:
        return {k[0].lower() + k[1:]: (
            {m[0].lower() + m[1:]: v for m, v in meta.items()} if k == "NotificationMetadata"
            else v) for k, v in out.items()}
    return out


def envelope(notification: dict[str, Any], *, source: str, account: str, region: str,
             at: float) -> dict[str, Any]:
    """The EventBridge event an SQS target of the partner event bus receives."""
    t = iso(at)
    return {"version": "0", "id": str(uuid.uuid4()),
            "detail-type": notification["NotificationType"], "source": source,
            "account": account, "time": t[:19] + "Z", "region": region, "resources": [],
            "detail": notification}


def parse_sqs_arn(arn: str) -> tuple[str, str, str]:
    """``arn:aws:sqs:REGION:ACCOUNT:NAME`` -> (region, account, name)."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "sqs"] or not all(parts[3:]):
        raise ValueError(f"not an SQS queue ARN: {arn!r}")
    return parts[3], parts[4], parts[5]


@dataclass(order=True)
class _Item:
    due: float
    seq: int
    queue_arn: str = ""
    body: str = ""


class Publisher:
    """Sends notification bodies to SQS queues from one background thread."""

    def __init__(self, endpoint: str, faults: NotifyFaults, time_scale: float, seed: int) -> None:
        self.endpoint = endpoint
        self.faults = faults
        self.scale = time_scale if time_scale > 0 else 1.0
        self.rng = random.Random(seed)
        self._heap: list[_Item] = []
        self._seq = 0
        self._busy = 0
        self._cv = threading.Condition()
        self._stop = False
        self._clients: dict[str, Any] = {}
        self._urls: dict[str, str] = {}
        self.sent = 0
        self.errors: list[str] = []  # one line per failed send (no credentials in them)
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="spapi-notifications", daemon=True)
        self._thread.start()

    def submit(self, messages: list[tuple[str, str]]) -> None:
        """Queue (queue ARN, body) messages with the configured faults."""
        f = self.faults
        now = time.monotonic()
        with self._cv:
            for arn, body in messages:
                copies = f.duplicate_copies if f.duplicate_rate and \
                    self.rng.random() < f.duplicate_rate else 1
                for _ in range(copies):
                    delay = f.delay_s + (self.rng.uniform(0.0, f.jitter_s) if f.jitter_s else 0.0)
                    self._seq += 1
                    heapq.heappush(self._heap, _Item(now + delay / self.scale, self._seq, arn,
                                                     body))
            self._cv.notify_all()

    def flush(self, timeout: float = 10.0, *, now: bool = False) -> bool:
        """Wait until every queued message was sent (``now``: ignoring their delays)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            if now:
                for item in self._heap:
                    item.due = 0.0
                heapq.heapify(self._heap)
                self._cv.notify_all()
            while self._heap or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(min(left, 0.05))
        return True

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout, now=True)
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stop and (not self._heap or self._heap[0].due > time.monotonic()):
                    wait = self._heap[0].due - time.monotonic() if self._heap else None
                    self._cv.wait(wait if wait is None else max(wait, 0.001))
                if self._stop:
                    return
                batch = []
                t = time.monotonic()
                while self._heap and self._heap[0].due <= t:
                    batch.append(heapq.heappop(self._heap))
                if self.faults.reorder:
                    self.rng.shuffle(batch)
                self._busy += 1
            try:
                for item in batch:
                    self._send(item.queue_arn, item.body)
            finally:
                with self._cv:
                    self._busy -= 1
                    self._cv.notify_all()

    def _send(self, arn: str, body: str) -> None:
        try:
            region, account, name = parse_sqs_arn(arn)
            client = self._client(region)
            url = self._urls.get(arn)
            if url is None:
                url = str(client.get_queue_url(QueueName=name,
                                               QueueOwnerAWSAccountId=account)["QueueUrl"])
                self._urls[arn] = url
            client.send_message(QueueUrl=url, MessageBody=body)
            self.sent += 1
        except Exception as e:
            self.errors.append(f"{arn}: {type(e).__name__}: {e}")

    def _client(self, region: str) -> Any:
        c = self._clients.get(region)
        if c is None:
            # the `watch`/`test` extra, only needed when publishing (imported by name: boto3
            # ships no type information)
            boto3 = importlib.import_module("boto3")

            # Dummy credentials of the emulated Amazon itself: moto accepts any, and a user's
            # AWS credentials must never be picked up from the environment here.
            c = boto3.client("sqs", endpoint_url=self.endpoint, region_name=region,
                             aws_access_key_id="spapi-emulator",
                             aws_secret_access_key="spapi-emulator")  # noqa: S106
            self._clients[region] = c
        return c


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
