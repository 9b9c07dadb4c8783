"""Notifications API v1 (``shared/spapi/notifications_v1.json``) and the delivery of
notifications to SQS.

Operations (every one 1 rps / burst 5, ``kernel.quotas``):

- grantless (an LWA ``client_credentials`` token with scope ``sellingpartnerapi::notifications``;
  a seller's token is 403, https://developer-docs.amazon.com/sp-api/docs/grantless-operations):
  ``createDestination``, ``getDestinations``, ``getDestination``, ``deleteDestination``,
  ``getSubscriptionById``, ``deleteSubscriptionById``. Destinations belong to the application
  (the LWA client) that created them.
- seller-authorized (a seller's token; the subscription is that seller's):
  ``createSubscription``, ``getSubscription``, ``getSubscriptions``.

Rules the emulator enforces: a destination is ``sqs`` (``arn`` matching the model's
``^arn:aws:sqs:\\S+:\\S+:\\S+``) or ``eventBridge`` (``accountId``, ``region``; one per AWS
account, as the EventBridge setup guide says), never both; a second destination with the same
SQS ARN is ``409 Conflict``. One subscription per application, seller, notification type and
payload version ("We allow multiple subscriptions with different payload versions per
application, notification type and party",
https://developer-docs.amazon.com/sp-api/docs/notifications-api): a second createSubscription is
``409 Conflict``. A notification type delivered through EventBridge needs an ``eventBridge``
destination, the others an ``sqs`` one (400 otherwise). A destination that subscriptions still
use cannot be deleted (409).

Publishing: :func:`flush` (called by the pipeline after every request, by ``tick`` and by the
Emulator's direct methods) turns the events of ``notify`` into notifications per subscription
and hands them to the publisher thread (``notifications_publish``; how to enable it is
documented there). ``POST /_emulator/seller-central/quantity`` (``{sellerId?, sku,
marketplaceId, quantity}``) changes a merchant-fulfilled quantity "in Seller Central", outside
any tool, and ``POST /_emulator/orders`` (``{sellerId?, marketplaceId, items: [{sku,
quantity}], orderId?}``) is a buyer's order placed now (not Amazon APIs; no token; not in the
call log).
"""

from __future__ import annotations

import re
import uuid
import weakref
from typing import Any

from . import notifications_store as ns
from . import notify, orders_gen
from .http import Request, Response, Route, api_error, invalid_input, json_response
from .listings_store import put_direct, rows
from .notifications_publish import TYPES, Publisher, build, dumps, envelope, parse_sqs_arn
from .state import ApiError, EmulatorState, json_body

SCOPE = "sellingpartnerapi::notifications"
BASE = "/notifications/v1"
SQS_ARN = re.compile(r"^arn:aws:sqs:\S+:\S+:\S+")


def init_schema(conn: Any) -> None:
    ns.init_schema(conn)


# ---------------------------------------------------------------------- publishing

_PUBLISHERS: weakref.WeakKeyDictionary[EmulatorState, Publisher] = weakref.WeakKeyDictionary()


def publisher(emu: EmulatorState) -> Publisher | None:
    """The emulator's publisher thread (started on first use), None when not publishing."""
    endpoint = emu.config.sqs_endpoint
    if endpoint is None:
        return None
    p = _PUBLISHERS.get(emu)
    if p is None:
        p = _PUBLISHERS[emu] = Publisher(
            endpoint, emu.config.notify_faults, emu.config.time_scale, emu.config.seed
        )
    return p


def flush(emu: EmulatorState) -> None:
    """Match the recorded events with the subscriptions and queue their notifications."""
    events = notify.drain(emu)
    if not events:
        return
    pub = publisher(emu)
    if pub is None:
        return
    messages: list[tuple[str, str]] = []
    for ev in events:
        if ev.notification_type not in TYPES:
            continue
        for sub, dest in ns.subscribers(emu, ev.seller_id, ev.notification_type):
            if not _wanted(sub, ev):
                continue
            now = emu.wall()
            body = build(ev, ns.application_id(sub.app), sub.subscription_id, now,
                         str(uuid.uuid4()))
            if dest.kind == "sqs" and dest.arn:
                messages.append((dest.arn, dumps(body)))
            elif emu.config.eventbridge_queue_arn:
                event = envelope(body, source=dest.source_name or "",
                                 account=dest.account_id or "", region=dest.region or "", at=now)
                messages.append((emu.config.eventbridge_queue_arn, dumps(event)))
            else:
                pub.dropped += 1
    if messages:
        pub.submit(messages)


def _wanted(sub: ns.Subscription, ev: notify.Event) -> bool:
    """The subscription's ``eventFilter`` (when it has one) admits the event: its
    ``marketplaceIds`` and, for ORDER_CHANGE, its ``orderChangeTypes``."""
    flt = (sub.directive or {}).get("eventFilter") or {}
    if not isinstance(flt, dict):
        return True
    mps = flt.get("marketplaceIds")
    if mps and ev.marketplace_id is not None and ev.marketplace_id not in mps:
        return False
    kinds = flt.get("orderChangeTypes")
    change = (ev.payload.get("OrderChangeNotification") or {}).get("OrderChangeType")
    return not kinds or change is None or change in kinds


# notification type -> the eventFilterType it supports (notification-type-values docs; of the
# types the emulator publishes only ORDER_CHANGE takes an eventFilter)
EVENT_FILTER_TYPES = {"ORDER_CHANGE": "ORDER_CHANGE"}


def _directive_problem(notification_type: str, directive: Any) -> str | None:
    """Why a ``processingDirective`` is refused (400), None when it is acceptable."""
    if directive is None:
        return None
    if not isinstance(directive, dict):
        return "processingDirective must be an object."
    flt, expr = directive.get("eventFilter"), directive.get("filterExpression")
    if flt is not None and expr is not None:
        return "eventFilter and filterExpression are mutually exclusive."
    if expr is not None and (not isinstance(expr, str) or not 1 <= len(expr) <= 256):
        return "filterExpression must be a string of 1 to 256 characters."
    if flt is None:
        return None
    wanted = EVENT_FILTER_TYPES.get(notification_type)
    if not isinstance(flt, dict) or wanted is None:
        return f"{notification_type} does not support an eventFilter."
    if flt.get("eventFilterType") != wanted:
        return f"eventFilter.eventFilterType must be {wanted}."
    return None


def tick(emu: EmulatorState) -> None:
    flush(emu)


def shutdown(emu: EmulatorState, timeout: float = 10.0) -> None:
    """Send what is queued (delays cut short) and stop the publisher thread."""
    flush(emu)
    p = _PUBLISHERS.pop(emu, None)
    if p is not None:
        p.close(timeout)


def subscribe_direct(
    emu: EmulatorState, seller_id: str, queue_arn: str, types: list[str] | None = None,
    *, client_id: str = "test-client", eventbridge: tuple[str, str] | None = None,
) -> dict[str, str]:
    """Tests and demos: create (or reuse) the destinations and subscribe ``seller_id`` to
    ``types`` (default: every type the emulator publishes) without the API. EventBridge types
    get an ``eventBridge`` destination for ``eventbridge`` = (accountId, region) (default: the
    queue ARN's). Returns {notificationType: subscriptionId}."""
    from .auth import client_fingerprint

    app = client_fingerprint(client_id)
    region, account, _ = parse_sqs_arn(queue_arn)
    eb_account, eb_region = eventbridge or (account, region)
    out: dict[str, str] = {}
    with emu.lock:
        flush(emu)  # events before the subscription are not delivered to it
        sqs = ns.find_sqs(emu, app, queue_arn) or ns.add_destination(
            emu, app, "reconciler", {"sqs": {"arn": queue_arn}})
        eb = ns.find_eventbridge(emu, eb_account) or ns.add_destination(
            emu, app, "reconciler-eventbridge",
            {"eventBridge": {"accountId": eb_account, "region": eb_region}})
        for t in types or list(TYPES):
            info = TYPES[t]
            dest = eb if info.eventbridge else sqs
            found = ns.subscriptions(emu, app, seller_id, t, info.payload_version)
            sub = found[0] if found else ns.add_subscription(
                emu, app, seller_id, t, info.payload_version, dest.destination_id, None)
            out[t] = sub.subscription_id
    return out


# ---------------------------------------------------------------------- handlers


def _app(params: dict[str, str]) -> str:
    return params.get("_client_id", "-")


def _body(req: Request) -> dict[str, Any]:
    body = json_body(req)
    if not isinstance(body, dict):
        raise ApiError(invalid_input("The request body must be a JSON object."))
    return body


def _not_found(what: str) -> Response:
    return api_error(404, "NotFound", "The resource specified does not exist.", what)


def _conflict(details: str) -> Response:
    return api_error(409, "Conflict", "The resource specified conflicts with the current state.",
                     details)


def create_destination(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    body = _body(req)
    name = body.get("name")
    spec = body.get("resourceSpecification")
    if not isinstance(name, str) or not name or len(name) > 256:
        return invalid_input("name is required (a string of at most 256 characters).")
    if not isinstance(spec, dict) or len([k for k in ("sqs", "eventBridge") if k in spec]) != 1:
        return invalid_input("resourceSpecification needs exactly one of sqs or eventBridge.")
    app = _app(params)
    if "sqs" in spec:
        arn = spec["sqs"].get("arn") if isinstance(spec["sqs"], dict) else None
        if not isinstance(arn, str) or len(arn) > 1000 or not SQS_ARN.match(arn):
            return invalid_input(
                "sqs.arn must be an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME).")
        if ns.find_sqs(emu, app, arn) is not None:
            return _conflict("A destination with this SQS ARN already exists.")
        spec = {"sqs": {"arn": arn}}
    else:
        eb = spec["eventBridge"]
        if not isinstance(eb, dict) or not all(
            isinstance(eb.get(k), str) and eb.get(k) for k in ("accountId", "region")
        ):
            return invalid_input("eventBridge needs accountId and region.")
        if ns.find_eventbridge(emu, str(eb["accountId"])) is not None:
            return _conflict("An EventBridge destination already exists for this AWS account.")
        spec = {"eventBridge": {"accountId": eb["accountId"], "region": eb["region"]}}
    d = ns.add_destination(emu, app, name, spec)
    return json_response(200, {"payload": d.json()})


def get_destinations(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    return json_response(200, {"payload": [d.json() for d in ns.destinations(emu, _app(params))]})


def _own_destination(emu: EmulatorState, params: dict[str, str]) -> ns.Destination:
    d = ns.destination(emu, params["destinationId"])
    if d is None or d.app != _app(params):
        raise ApiError(_not_found(f"Destination {params['destinationId']} not found."))
    return d


def get_destination(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    return json_response(200, {"payload": _own_destination(emu, params).json()})


def delete_destination(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    d = _own_destination(emu, params)
    if ns.subscription_count(emu, d.destination_id):
        return _conflict("Subscriptions still deliver to this destination.")
    ns.delete_destination(emu, d.destination_id)
    return json_response(200, {})


def _type(params: dict[str, str]) -> str:
    t = params["notificationType"]
    if t not in TYPES:
        raise ApiError(invalid_input(f"{t} is not a supported notificationType."))
    return t


def create_subscription(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    t = _type(params)
    body = _body(req)
    version, dest_id = body.get("payloadVersion"), body.get("destinationId")
    if not isinstance(version, str) or not isinstance(dest_id, str):
        return invalid_input("payloadVersion and destinationId are required.")
    info = TYPES[t]
    if version != info.payload_version:
        return invalid_input(f"payloadVersion {version} is not supported for {t}.")
    directive = body.get("processingDirective")
    problem = _directive_problem(t, directive)
    if problem:
        return invalid_input(problem)
    app, seller = _app(params), params.get("_seller_id", "")
    d = ns.destination(emu, dest_id)
    if d is None or d.app != app:
        return invalid_input(f"Destination {dest_id} not found.")
    if (d.kind == "eventBridge") != info.eventbridge:
        want = "an eventBridge" if info.eventbridge else "an sqs"
        return invalid_input(f"{t} is delivered to {want} destination.")
    if ns.subscriptions(emu, app, seller, t, version):
        return _conflict(f"A subscription for {t} (payload version {version}) already exists.")
    s = ns.add_subscription(emu, app, seller, t, version, dest_id, directive)
    return json_response(200, {"payload": s.json()})


def get_subscription(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    t = _type(params)
    found = ns.subscriptions(emu, _app(params), params.get("_seller_id", ""), t,
                             req.q("payloadVersion"))
    if not found:
        return _not_found(f"No subscription for {t}.")
    return json_response(200, {"payload": found[-1].json()})


def get_subscriptions(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    types = req.q_csv("notificationTypes")
    if not types:
        return invalid_input("notificationTypes is required.")
    subs = [s.json() for t in types for s in ns.subscriptions(
        emu, _app(params), params.get("_seller_id", ""), t, req.q("payloadVersion"))]
    return json_response(200, {"payload": {"subscriptions": subs}})


def _own_subscription(emu: EmulatorState, params: dict[str, str]) -> ns.Subscription:
    s = ns.subscription(emu, params["subscriptionId"])
    if s is None or s.app != _app(params) or s.notification_type != params["notificationType"]:
        raise ApiError(_not_found(f"Subscription {params['subscriptionId']} not found."))
    return s


def get_subscription_by_id(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    return json_response(200, {"payload": _own_subscription(emu, params).json()})


def delete_subscription_by_id(emu: EmulatorState, req: Request, params: dict[str, str]
                              ) -> Response:
    s = _own_subscription(emu, params)
    ns.delete_subscription(emu, s.subscription_id)
    return json_response(200, {})


# ---------------------------------------------------------------------- Seller Central


def set_quantity(emu: EmulatorState, seller_id: str, sku: str, marketplace_id: str,
                 quantity: int) -> bool:
    """A seller edits the merchant-fulfilled quantity in Seller Central (under ``emu.lock``).
    False when the listing does not exist."""
    found = rows(emu, seller_id, sku, [marketplace_id])
    if not found:
        return False
    row = found[0]
    attrs = {k: [dict(e) for e in v] for k, v in row.attributes.items()}
    fa = [e for e in attrs.get("fulfillment_availability", [])
          if e.get("fulfillment_channel_code", notify.MFN_CHANNEL) != notify.MFN_CHANNEL]
    attrs["fulfillment_availability"] = [
        *fa, {"fulfillment_channel_code": notify.MFN_CHANNEL, "quantity": int(quantity)}]
    put_direct(emu, seller_id, sku, marketplace_id, row.product_type, attrs)
    flush(emu)
    return True


def seller_central_quantity(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    body = _body(req)
    seller = body.get("sellerId") or emu.config.default_seller_id
    sku, mp, qty = body.get("sku"), body.get("marketplaceId"), body.get("quantity")
    if not (isinstance(sku, str) and isinstance(mp, str) and isinstance(qty, int)
            and not isinstance(qty, bool) and qty >= 0 and isinstance(seller, str)):
        return invalid_input("expected {sellerId?, sku, marketplaceId, quantity >= 0}")
    if not set_quantity(emu, seller, sku, mp, qty):
        return _not_found(f"no listing {sku} in {mp} for seller {seller}")
    return json_response(200, {"sellerId": seller, "sku": sku, "marketplaceId": mp,
                               "quantity": qty})


def buyer_order(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    """``POST /_emulator/orders`` ``{sellerId?, marketplaceId, items: [{sku, quantity}],
    orderId?}``: a buyer orders now (``orders_gen.place``); answers ``{"orderId"}``."""
    body = _body(req)
    seller = body.get("sellerId") or emu.config.default_seller_id
    mp, items, oid = body.get("marketplaceId"), body.get("items"), body.get("orderId")
    lines: list[tuple[str, int]] = []
    for it in items if isinstance(items, list) else []:
        if isinstance(it, dict) and isinstance(it.get("sku"), str) \
                and isinstance(it.get("quantity"), int) and not isinstance(it["quantity"], bool):
            lines.append((it["sku"], it["quantity"]))
    if not (isinstance(mp, str) and isinstance(seller, str) and lines
            and len(lines) == len(items or []) and (oid is None or isinstance(oid, str))):
        return invalid_input("expected {sellerId?, marketplaceId, items: [{sku, quantity}], "
                             "orderId?}")
    try:
        order_id = orders_gen.place(emu, seller, mp, lines, oid)
    except (ValueError, KeyError) as e:
        return invalid_input(str(e))
    return json_response(200, {"orderId": order_id})


def _r(method: str, path: str, op: str, handler: Any, grantless: bool) -> Route:
    return Route(method, BASE + path, op, handler, scope=SCOPE if grantless else None)


ROUTES: list[Route] = [
    _r("POST", "/destinations", "createDestination", create_destination, True),
    _r("GET", "/destinations", "getDestinations", get_destinations, True),
    _r("GET", "/destinations/{destinationId}", "getDestination", get_destination, True),
    _r("DELETE", "/destinations/{destinationId}", "deleteDestination", delete_destination, True),
    _r("GET", "/subscriptions", "getSubscriptions", get_subscriptions, False),
    _r("POST", "/subscriptions/{notificationType}", "createSubscription", create_subscription,
       False),
    _r("GET", "/subscriptions/{notificationType}", "getSubscription", get_subscription, False),
    _r("GET", "/subscriptions/{notificationType}/{subscriptionId}", "getSubscriptionById",
       get_subscription_by_id, True),
    _r("DELETE", "/subscriptions/{notificationType}/{subscriptionId}", "deleteSubscriptionById",
       delete_subscription_by_id, True),
    Route("POST", "/_emulator/seller-central/quantity", "sellerCentralQuantity",
          seller_central_quantity, auth=False, quota=False, logged=False),
    Route("POST", "/_emulator/orders", "buyerOrder", buyer_order, auth=False, quota=False,
          logged=False),
]
