"""Orders API calls on an :class:`~reconciler.spapi.client.SpApiClient`.

Every call goes through the client's request path (token bucket from ``reconciler.kernel.quotas``,
LWA token, retries with backoff on 429/5xx, typed errors), so these are thin functions rather
than a second client. Shapes are Amazon's (``orders_2026-01-01.json``, ``ordersV0.json``).

``search_orders_pages`` follows ``pagination.nextToken`` until the last page; under
``searchOrders``' usage plan (0.0056 rps, burst 20) the 21st page of a run waits about three
minutes: the client's bucket does that waiting, not this module.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

from .client import SpApiClient, csv

ORDERS_PATH = "/orders/2026-01-01/orders"
ORDERS_V0_PATH = "/orders/v0/orders"
FULFILLMENT_FEED = "POST_ORDER_FULFILLMENT_DATA"
XML_CONTENT_TYPE = "text/xml; charset=UTF-8"
DEFAULT_INCLUDED = ("BUYER", "RECIPIENT", "FULFILLMENT")


def search_orders(
    client: SpApiClient,
    *,
    marketplace_ids: Sequence[str] | None = None,
    last_updated_after: str | None = None,
    last_updated_before: str | None = None,
    created_after: str | None = None,
    created_before: str | None = None,
    fulfillment_statuses: Sequence[str] | None = None,
    fulfilled_by: Sequence[str] | None = None,
    included_data: Sequence[str] = DEFAULT_INCLUDED,
    max_results: int = 100,
    pagination_token: str | None = None,
) -> dict[str, Any]:
    """One ``searchOrders`` page (``SearchOrdersResponse``)."""
    params: dict[str, str] = {"maxResultsPerPage": str(max_results)}
    for name, value in (
        ("marketplaceIds", marketplace_ids),
        ("fulfillmentStatuses", fulfillment_statuses),
        ("fulfilledBy", fulfilled_by),
        ("includedData", included_data),
    ):
        if value:
            params[name] = csv(value)
    for name, v in (
        ("lastUpdatedAfter", last_updated_after),
        ("lastUpdatedBefore", last_updated_before),
        ("createdAfter", created_after),
        ("createdBefore", created_before),
        ("paginationToken", pagination_token),
    ):
        if v is not None:
            params[name] = v
    op = "searchOrders"
    return client._json(op, client._request(op, "GET", ORDERS_PATH, params=params))


def search_orders_pages(client: SpApiClient, **query: Any) -> Iterator[dict[str, Any]]:
    """Every page of one ``searchOrders`` query, in order."""
    token: str | None = None
    while True:
        page = search_orders(client, pagination_token=token, **query)
        yield page
        token = (page.get("pagination") or {}).get("nextToken")
        if not token:
            return


def get_order(
    client: SpApiClient, order_id: str, included_data: Sequence[str] = DEFAULT_INCLUDED
) -> dict[str, Any]:
    """``getOrder`` (2026-01-01): ``{"order": Order}``."""
    params = {"includedData": csv(included_data)} if included_data else None
    op = "getOrder"
    path = f"{ORDERS_PATH}/{quote(order_id, safe='')}"
    return client._json(op, client._request(op, "GET", path, params=params))


def get_orders(
    client: SpApiClient,
    marketplace_ids: Sequence[str],
    *,
    last_updated_after: str | None = None,
    created_after: str | None = None,
    next_token: str | None = None,
    max_results: int = 100,
) -> dict[str, Any]:
    """``getOrders`` (v0): ``{"payload": {"Orders": [...], "NextToken"?}}``."""
    params: dict[str, str] = {"MarketplaceIds": csv(marketplace_ids),
                              "MaxResultsPerPage": str(max_results)}
    if next_token is not None:
        params["NextToken"] = next_token
    if last_updated_after is not None:
        params["LastUpdatedAfter"] = last_updated_after
    if created_after is not None:
        params["CreatedAfter"] = created_after
    op = "getOrders"
    return client._json(op, client._request(op, "GET", ORDERS_V0_PATH, params=params))


def get_order_items(
    client: SpApiClient, order_id: str, next_token: str | None = None
) -> dict[str, Any]:
    """``getOrderItems`` (v0): ``{"payload": {"AmazonOrderId", "OrderItems": [...]}}``."""
    params = {"NextToken": next_token} if next_token else None
    op = "getOrderItems"
    path = f"{ORDERS_V0_PATH}/{quote(order_id, safe='')}/orderItems"
    return client._json(op, client._request(op, "GET", path, params=params))


def confirm_shipment(client: SpApiClient, order_id: str, body: dict[str, Any]) -> None:
    """``confirmShipment`` (v0): 204 on success; a 400 (already shipped, bad item) raises."""
    op = "confirmShipment"
    path = f"{ORDERS_V0_PATH}/{quote(order_id, safe='')}/shipmentConfirmation"
    client._request(op, "POST", path, body=body)


def submit_fulfillment_feed(
    client: SpApiClient, document: bytes, marketplace_ids: Sequence[str]
) -> str:
    """Upload a ``POST_ORDER_FULFILLMENT_DATA`` XML document and create the feed; its id."""
    doc = client.create_feed_document(XML_CONTENT_TYPE)
    client.upload_feed_document(str(doc["url"]), document, XML_CONTENT_TYPE)
    return client.create_feed(FULFILLMENT_FEED, marketplace_ids, str(doc["feedDocumentId"]))
