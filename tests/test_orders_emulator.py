"""The emulator's Orders API, generator and POST_ORDER_FULFILLMENT_DATA feed.

Every response below is validated against Amazon's models (``tests/spapi_models.py``):
``orders_2026-01-01.json`` for searchOrders/getOrder, ``ordersV0.json`` for getOrders,
getOrderItems and confirmShipment (status declared, body schema strict, headers).
"""

from __future__ import annotations

import gzip
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.emulator import orders_gen
from reconciler.emulator import orders_store as emu_orders
from reconciler.emulator.app import Emulator
from reconciler.emulator.feed_processing import feed_error
from reconciler.emulator.state import EmulatorConfig
from reconciler.kernel.quotas import QUOTAS

from . import spapi_models
from .emulator_support import CA, SELLER, US, FakeClock, client, emulator, upload_document

SEARCH = "/orders/2026-01-01/orders"
V0 = "/orders/v0/orders"
TWO_DAYS_AGO = "2000-01-01T00:00:00Z"


def listing(sku: str, mp: str, qty: int) -> dict[str, Any]:
    return {"sku": sku, "marketplaceId": mp, "productType": "PRODUCT", "attributes": {
        "item_name": [{"value": f"Item {sku}", "language_tag": "en_US", "marketplace_id": mp}],
        "purchasable_offer": [{"marketplace_id": mp, "currency": "USD", "audience": "ALL",
                               "our_price": [{"schedule": [{"value_with_tax": 12.5}]}]}],
        "fulfillment_availability": [
            {"fulfillment_channel_code": "brooklyn", "quantity": qty},
            {"fulfillment_channel_code": "DEFAULT", "quantity": 0}]}}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[Emulator]:
    with emulator(EmulatorConfig(feed_processing_s=2.0), clock) as e:
        e.seed({"sellers": {SELLER: {"listings": [
            listing(s, mp, 500) for s in ("MUG-1", "MUG-2", "JAR-3") for mp in (US, CA)]}}})
        yield e


def check(op: str, r: httpx.Response) -> Any:
    """Validate a response of ``op`` against Amazon's model; returns the parsed body."""
    if op == "getOrder":  # both models call it getOrder: validate the 2026-01-01 one directly
        body = r.json()
        spapi_models.assert_conforms("orders", "GetOrderResponse" if r.status_code == 200
                                     else "ErrorList", body)
        assert r.headers.get("x-amzn-RequestId")
        return body
    spapi_models.assert_headers(op, r.status_code, r.headers)
    return spapi_models.assert_response(op, r.status_code, r.content)


def test_orders_operations_conform_to_the_models(emu: Emulator, clock: FakeClock) -> None:
    ids = orders_gen.generate(emu, 30, ("US", "CA"), seed=1)
    assert len(ids) == 30
    with client(emu) as c:
        seen: list[str] = []
        params: dict[str, Any] = {"lastUpdatedAfter": TWO_DAYS_AGO, "maxResultsPerPage": 7,
                                  "includedData": "BUYER,RECIPIENT,PROCEEDS,FULFILLMENT,PACKAGES"}
        pages = 0
        while True:
            clock.advance(1)
            r = c.get(SEARCH, params=params)
            assert r.status_code == 200, r.text
            body = check("searchOrders", r)
            pages += 1
            seen += [o["orderId"] for o in body["orders"]]
            assert "lastUpdatedBefore" in body
            token = (body.get("pagination") or {}).get("nextToken")
            if not token:
                break
            params = {"paginationToken": token, "maxResultsPerPage": 7,
                      "includedData": "RECIPIENT,FULFILLMENT"}
        assert pages == 5 and sorted(seen) == sorted(ids) and len(set(seen)) == 30
        r = c.get(SEARCH, params={"createdAfter": TWO_DAYS_AGO, "marketplaceIds": CA})
        body = check("searchOrders", r)
        assert {o["salesChannel"]["marketplaceId"] for o in body["orders"]} == {CA}
        assert "createdBefore" in body
        for bad in ({"createdAfter": TWO_DAYS_AGO, "lastUpdatedAfter": TWO_DAYS_AGO},
                    {}, {"lastUpdatedAfter": "yesterday"},
                    {"lastUpdatedAfter": TWO_DAYS_AGO, "lastUpdatedBefore": "2999-01-01T00:00:00Z"},
                    {"paginationToken": "!!"}, {"createdAfter": TWO_DAYS_AGO,
                                                "maxResultsPerPage": 101}):
            assert c.get(SEARCH, params=bad).status_code == 400
            check("searchOrders", c.get(SEARCH, params=bad))
        oid = ids[0]
        r = c.get(f"{SEARCH}/{oid}", params={"includedData": "RECIPIENT,FULFILLMENT"})
        order = check("getOrder", r)["order"]
        assert order["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
        assert order["recipient"]["deliveryAddress"]["countryCode"] == "US"
        assert check("getOrder", c.get(f"{SEARCH}/999-0000000-0000000")) and \
            c.get(f"{SEARCH}/999-0000000-0000000").status_code == 404
        r = c.get(V0, params={"MarketplaceIds": US, "CreatedAfter": TWO_DAYS_AGO})
        v0 = check("getOrders", r)["payload"]["Orders"]
        assert {o["OrderStatus"] for o in v0} == {"Unshipped"} and len(v0) == 15
        assert check("getOrders", c.get(V0, params={"CreatedAfter": TWO_DAYS_AGO})) and \
            c.get(V0, params={"CreatedAfter": TWO_DAYS_AGO}).status_code == 400
        items = check("getOrderItems", c.get(f"{V0}/{oid}/orderItems"))["payload"]["OrderItems"]
        assert items and all(i["QuantityShipped"] == 0 for i in items)
        assert c.get(f"{V0}/999-0000000-0000000/orderItems").status_code == 404
        ship = {"marketplaceId": US, "packageDetail": {
            "packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": "1Z1",
            "shipDate": "2026-11-20T10:00:00Z", "shippingMethod": "Ground",
            "orderItems": [{"orderItemId": i["OrderItemId"], "quantity": i["QuantityOrdered"]}
                           for i in items]}}
        r = c.post(f"{V0}/{oid}/shipmentConfirmation", json=ship)
        assert r.status_code == 204 and check("confirmShipment", r) is None
        r = c.post(f"{V0}/{oid}/shipmentConfirmation", json=ship)
        assert r.status_code == 400 and "already shipped" in r.text
        check("confirmShipment", r)
        r = c.post(f"{V0}/999-0000000-0000000/shipmentConfirmation", json=ship)
        assert r.status_code == 404
        check("confirmShipment", r)
        order = check("getOrder", c.get(f"{SEARCH}/{oid}",
                                        params={"includedData": "FULFILLMENT,PACKAGES"}))["order"]
        assert order["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
        assert order["packages"][0]["trackingNumber"] == "1Z1"
    assert emu_orders.shipment_counts(emu) == {oid: 1}
    assert not [x for x in emu.calls() if x.error]


def test_search_orders_quota_is_the_models(emu: Emulator, clock: FakeClock) -> None:
    assert QUOTAS["searchOrders"].rate == 0.0056 and QUOTAS["searchOrders"].burst == 20
    with client(emu) as c:
        codes = [c.get(SEARCH, params={"createdAfter": TWO_DAYS_AGO}).status_code
                 for _ in range(21)]
        assert codes == [200] * 20 + [429]
        clock.advance(1 / 0.0056 * 0.9)
        assert c.get(SEARCH, params={"createdAfter": TWO_DAYS_AGO}).status_code == 429
        clock.advance(1 / 0.0056 * 0.2)
        r = c.get(SEARCH, params={"createdAfter": TWO_DAYS_AGO})
        assert r.status_code == 200 and r.headers["x-amzn-RateLimit-Limit"] == "0.0056"


def test_generator_is_deterministic_and_decrements_stock(clock: FakeClock) -> None:
    runs = []
    for _ in range(2):
        with emulator(EmulatorConfig(), FakeClock()) as e:
            e.seed({"sellers": {SELLER: {"listings": [listing("MUG-1", US, 40),
                                                      listing("MUG-2", US, 3)]}}})
            ids = orders_gen.generate(e, 25, ("US",), seed=5)
            with e.lock:
                rows = e.db.execute("SELECT o.order_id, address, sku, quantity FROM orders o"
                                    " JOIN order_items i USING(order_id) ORDER BY 1, 3").fetchall()
            left = {s: sum(x["quantity"] for x in
                           (e.listing_state(SELLER, s, US) or {})["attributes"]
                           ["fulfillment_availability"]) for s in ("MUG-1", "MUG-2")}
            runs.append((ids, rows, left))
    assert runs[0] == runs[1]
    ids, rows, left = runs[0]
    sold = {s: sum(r[3] for r in rows if r[2] == s) for s in ("MUG-1", "MUG-2")}
    assert sold["MUG-1"] + left["MUG-1"] == 40 and sold["MUG-2"] + left["MUG-2"] == 3
    assert all(json.loads(r[1])["countryCode"] == "US" for r in rows)


def _fulfillment_xml(seller: str, messages: list[tuple[int, str, str, str | None]]) -> bytes:
    body = "".join(
        f"<Message><MessageID>{mid}</MessageID><OrderFulfillment><AmazonOrderID>{oid}"
        f"</AmazonOrderID><FulfillmentDate>2026-11-20T10:00:00+00:00</FulfillmentDate>"
        f"<FulfillmentData><CarrierCode>{code}</CarrierCode>"
        + (f"<ShipperTrackingNumber>{trk}</ShipperTrackingNumber>" if trk else "")
        + "</FulfillmentData></OrderFulfillment></Message>"
        for mid, oid, code, trk in messages)
    return (f'<?xml version="1.0" encoding="utf-8"?><AmazonEnvelope><Header><DocumentVersion>'
            f"1.01</DocumentVersion><MerchantIdentifier>{seller}</MerchantIdentifier></Header>"
            f"<MessageType>OrderFulfillment</MessageType>{body}</AmazonEnvelope>").encode()


def _run_feed(c: httpx.Client, clock: FakeClock, doc: bytes) -> tuple[str, str, ET.Element]:
    doc_id = upload_document(c, doc, "text/xml; charset=UTF-8")
    r = c.post("/feeds/2021-06-30/feeds", json={"feedType": "POST_ORDER_FULFILLMENT_DATA",
                                                "marketplaceIds": [US],
                                                "inputFeedDocumentId": doc_id})
    assert r.status_code == 202, r.text
    fid = r.json()["feedId"]
    clock.advance(3.0)
    feed = c.get(f"/feeds/2021-06-30/feeds/{fid}").json()
    d = c.get(f"/feeds/2021-06-30/documents/{feed['resultFeedDocumentId']}").json()
    report = ET.fromstring(gzip.decompress(c.get(d["url"]).content))
    return fid, feed["processingStatus"], report


def test_fulfillment_feed_per_message_results(emu: Emulator, clock: FakeClock) -> None:
    a, b, done = orders_gen.generate(emu, 3, ("US",), seed=2)
    with emu.lock:
        emu_orders.ship(emu, done, emu_orders.Shipment("UPS", None, None, "X", "2026-11-19"),
                        "seller_central")
    doc = _fulfillment_xml(SELLER, [(1, a, "USPS", "T1"), (2, "999-0000000-0000000", "UPS", "T2"),
                                    (3, done, "UPS", "T3"), (4, b, "UPS", None),
                                    (4, b, "UPS", "T5")])
    with client(emu) as c:
        fid, status, report = _run_feed(c, clock, doc)
    assert status == "DONE" and feed_error(emu, fid) is None
    summary = report.find("Message/ProcessingReport/ProcessingSummary")
    assert summary is not None
    assert summary.findtext("MessagesProcessed") == "5"
    assert summary.findtext("MessagesSuccessful") == "1"
    assert summary.findtext("MessagesWithError") == "4"
    results = {(r.findtext("MessageID"), r.findtext("ResultMessageCode"))
               for r in report.iter("Result")}
    assert results == {("2", "18028"), ("3", "18032"), ("4", "18116"), ("4", "5000")}
    st = emu_orders.statuses(emu)
    assert st[a] == "SHIPPED" and st[b] == "UNSHIPPED"
    assert emu_orders.shipment_counts(emu) == {a: 1, done: 1}


@pytest.mark.parametrize("doc,why", [
    (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><AmazonEnvelope/>', "DTD"),
    (b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><AmazonEnvelope/>', "DTD"),
    (b"<AmazonEnvelope><Header>", "not well-formed"),
    (b"<Other/>", "root element"),
])
def test_fulfillment_feed_refuses_hostile_xml(emu: Emulator, clock: FakeClock, doc: bytes,
                                              why: str) -> None:
    with client(emu) as c:
        fid, status, report = _run_feed(c, clock, doc)
    assert status == "FATAL" and feed_error(emu, fid) is None
    assert why in (report.findtext(".//Result/ResultDescription") or "")


def test_fulfillment_feed_of_another_seller_is_fatal(emu: Emulator, clock: FakeClock) -> None:
    (a,) = orders_gen.generate(emu, 1, ("US",), seed=2)
    with client(emu) as c:
        _, status, report = _run_feed(c, clock, _fulfillment_xml("A2OTHER", [(1, a, "UPS", "1")]))
    assert status == "FATAL" and "MerchantIdentifier" in ET.tostring(report).decode()
    assert emu_orders.order_status(emu, a) == "UNSHIPPED"




def test_client_wrappers_round_trip() -> None:
    from pathlib import Path

    from bench.orders_sim import Sim
    from reconciler.kernel.errors import InvalidRequestError, NotFoundError
    from reconciler.pipeline import load
    from reconciler.spapi import orders as api

    accounts = load(Path(__file__).resolve().parent.parent / "catalog").accounts
    with Sim(accounts[:1], ("MUG-1",), time_scale=1000.0) as sim:
        (oid,) = orders_gen.generate(sim.emu, 1, ("US",), seed=4)
        c = sim.clients[accounts[0].name]
        assert api.get_order(c, oid)["order"]["orderId"] == oid
        v0 = api.get_orders(c, [US], created_after=TWO_DAYS_AGO)["payload"]["Orders"]
        assert [o["AmazonOrderId"] for o in v0] == [oid]
        items = api.get_order_items(c, oid)["payload"]["OrderItems"]
        body = {"marketplaceId": US, "packageDetail": {
            "packageReferenceId": "1", "carrierCode": "USPS", "trackingNumber": "9400",
            "shipDate": "2026-11-20T10:00:00Z",
            "orderItems": [{"orderItemId": i["OrderItemId"], "quantity": i["QuantityOrdered"]}
                           for i in items]}}
        api.confirm_shipment(c, oid, body)
        with pytest.raises(InvalidRequestError):
            api.confirm_shipment(c, oid, body)  # already shipped
        with pytest.raises(NotFoundError):
            api.get_order(c, "999-0000000-0000000")
        assert emu_orders.order_status(sim.emu, oid) == "SHIPPED"
