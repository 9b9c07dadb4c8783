"""Notifications API v1 calls (``notifications_v1.json``) on an
:class:`~reconciler.spapi.client.SpApiClient`.

Two kinds of client, as Amazon authorizes them
(https://developer-docs.amazon.com/sp-api/docs/grantless-operations):

- the destination operations and ``getSubscriptionById``/``deleteSubscriptionById`` are
  *grantless*: a client built with ``scope=auth.NOTIFICATIONS_SCOPE`` (LWA
  ``client_credentials``; ``connect.client_for(account, ..., scope=NOTIFICATIONS_SCOPE)``);
- ``createSubscription``/``getSubscription`` act for the seller who authorized the application:
  the account's ordinary client.

Every call goes through the client's request path (bucket of ``kernel.quotas``: 1 rps, burst
5; retries; typed errors). Shapes are Amazon's; a 404 of ``getSubscription`` is None here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from reconciler.kernel.errors import NotFoundError

from .client import SpApiClient

BASE = "/notifications/v1"


def get_destinations(grantless: SpApiClient) -> list[dict[str, Any]]:
    r = grantless._request("getDestinations", "GET", f"{BASE}/destinations")
    payload = grantless._json("getDestinations", r).get("payload") or []
    return [d for d in payload if isinstance(d, dict)]


def create_destination(grantless: SpApiClient, name: str, resource: dict[str, Any]
                       ) -> dict[str, Any]:
    """``resource``: ``{"sqs": {"arn": ...}}`` or ``{"eventBridge": {"accountId", "region"}}``."""
    r = grantless._request("createDestination", "POST", f"{BASE}/destinations",
                           body={"name": name, "resourceSpecification": resource})
    return dict(grantless._json("createDestination", r).get("payload") or {})


def delete_destination(grantless: SpApiClient, destination_id: str) -> None:
    grantless._request("deleteDestination", "DELETE",
                       f"{BASE}/destinations/{quote(destination_id, safe='')}")


def get_subscription(client: SpApiClient, notification_type: str,
                     payload_version: str | None = None) -> dict[str, Any] | None:
    """The seller's subscription to ``notification_type``, None when there is none (404)."""
    params = {"payloadVersion": payload_version} if payload_version else None
    try:
        r = client._request("getSubscription", "GET",
                            f"{BASE}/subscriptions/{quote(notification_type, safe='')}",
                            params=params)
    except NotFoundError:
        return None
    payload = client._json("getSubscription", r).get("payload")
    return dict(payload) if isinstance(payload, dict) else None


def create_subscription(client: SpApiClient, notification_type: str, payload_version: str,
                        destination_id: str,
                        processing_directive: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"payloadVersion": payload_version, "destinationId": destination_id}
    if processing_directive is not None:
        body["processingDirective"] = processing_directive
    r = client._request("createSubscription", "POST",
                        f"{BASE}/subscriptions/{quote(notification_type, safe='')}", body=body)
    return dict(client._json("createSubscription", r).get("payload") or {})


def delete_subscription(grantless: SpApiClient, notification_type: str,
                        subscription_id: str) -> None:
    grantless._request(
        "deleteSubscriptionById", "DELETE",
        f"{BASE}/subscriptions/{quote(notification_type, safe='')}/"
        f"{quote(subscription_id, safe='')}",
    )
