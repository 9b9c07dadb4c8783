"""The emulator publishes Amazon-shaped notifications to a real (moto, loopback) SQS queue:
each type when its event happens, schema-valid, only to subscribed sellers; and with the
configured faults (duplicates, delay, reordering)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.emulator import listings_store, notifications, orders_gen
from reconciler.emulator.app import Emulator
from reconciler.emulator.faults import FaultSpec, NotifyFaults
from reconciler.emulator.state import EmulatorConfig
from tests.emulator_support import (
    CA,
    OTHER_SELLER,
    SELLER,
    US,
    FakeClock,
    client,
    listings_feed,
    submit_feed,
)
from tests.notif_support import (
    drain_now,
    make_queue,
    notification_id,
    notification_of,
    receive,
    type_of,
    validate,
)
from tests.sqsserver import sqs_client, sqs_server

_names = itertools.count()


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with sqs_server() as ep:
        yield ep


@pytest.fixture
def sqs(endpoint: str) -> Any:
    return sqs_client(endpoint)


@pytest.fixture
def queue(sqs: Any) -> tuple[str, str]:
    return make_queue(sqs, f"spapi-{next(_names)}")


def make_emu(endpoint: str, arn: str, clock: FakeClock | None = None,
             **config: Any) -> Emulator:
    cfg = EmulatorConfig(write_delay_s=0.0, sqs_endpoint=endpoint, eventbridge_queue_arn=arn,
                         **config)
    return Emulator(config=cfg, clock=clock or FakeClock(), sleep=lambda s: None)


def offer(qty: int, price: str | None = "19.99", name: str | None = "Mug") -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": qty}],
    }
    if price is not None:
        attrs["purchasable_offer"] = [{"currency": "USD", "our_price": [
            {"schedule": [{"value_with_tax": price}]}]}]
    if name is not None:
        attrs["item_name"] = [{"value": name}]
    return attrs


def by_type(bodies: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for b in bodies:
        n = validate(b)
        out.setdefault(type_of(n), []).append(n)
    return out


def test_an_order_publishes_order_change_and_the_quantity_it_took(
    endpoint: str, sqs: Any, queue: tuple[str, str]
) -> None:
    url, arn = queue
    with make_emu(endpoint, arn) as emu:
        emu.put_listing_direct(SELLER, "MUG-1", US, "PRODUCT", offer(5))
        notifications.subscribe_direct(emu, SELLER, arn)
        [order_id] = orders_gen.generate(emu, 1, ("US",), seed=3)
        assert emu.flush_notifications()
        got = by_type(drain_now(sqs, url))
    [order] = got["ORDER_CHANGE"]
    body = order["Payload"]["OrderChangeNotification"]
    assert body["AmazonOrderId"] == order_id and body["SellerId"] == SELLER
    assert body["Summary"]["MarketplaceId"] == US
    [item] = body["Summary"]["OrderItems"]
    assert item["SellerSKU"] == "MUG-1"
    [qty] = got["LISTINGS_ITEM_MFN_QUANTITY_CHANGE"]
    assert qty["Payload"]["Sku"] == "MUG-1"
    assert qty["Payload"]["Quantity"] == 5 - item["Quantity"]


def test_a_patch_and_a_seller_central_edit_publish_mfn_quantity_changes(
    endpoint: str, sqs: Any, queue: tuple[str, str]
) -> None:
    url, arn = queue
    with make_emu(endpoint, arn) as emu:
        emu.put_listing_direct(SELLER, "MUG-1", US, "PRODUCT", offer(5))
        notifications.subscribe_direct(emu, SELLER, arn, ["LISTINGS_ITEM_MFN_QUANTITY_CHANGE"])
        with client(emu) as c:
            r = c.patch(f"/listings/2021-08-01/items/{SELLER}/MUG-1",
                        params={"marketplaceIds": US},
                        json={"productType": "PRODUCT", "patches": [{
                            "op": "replace", "path": "/attributes/fulfillment_availability",
                            "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 2}]}]})
            assert r.status_code == 200, r.text
        assert emu.set_quantity(SELLER, "MUG-1", US, 7)
        assert not emu.set_quantity(SELLER, "NO-SUCH-SKU", US, 7)
        assert emu.flush_notifications()
        bodies = drain_now(sqs, url)
    assert all("detail-type" in b for b in bodies)  # the EventBridge workflow
    got = by_type(bodies)
    assert [n["Payload"]["Quantity"] for n in got["LISTINGS_ITEM_MFN_QUANTITY_CHANGE"]] == [2, 7]


def test_the_seller_central_route_changes_a_quantity_over_http(
    endpoint: str, sqs: Any, queue: tuple[str, str]
) -> None:
    url, arn = queue
    with make_emu(endpoint, arn) as emu:
        emu.put_listing_direct(SELLER, "MUG-1", CA, "PRODUCT", offer(5))
        notifications.subscribe_direct(emu, SELLER, arn, ["LISTINGS_ITEM_MFN_QUANTITY_CHANGE"])
        with httpx.Client(transport=emu.transport(), base_url="http://127.0.0.1") as c:
            r = c.post("/_emulator/seller-central/quantity",
                       json={"sku": "MUG-1", "marketplaceId": CA, "quantity": 1})
            assert r.status_code == 200, r.text
            assert c.post("/_emulator/seller-central/quantity",
                          json={"sku": "MUG-1", "marketplaceId": CA}).status_code == 400
        assert emu.flush_notifications()
        [n] = by_type(drain_now(sqs, url))["LISTINGS_ITEM_MFN_QUANTITY_CHANGE"]
        assert n["Payload"]["Quantity"] == 1
        assert emu.listing_state(SELLER, "MUG-1", CA) is not None


def test_status_and_issues_changes(endpoint: str, sqs: Any, queue: tuple[str, str]) -> None:
    url, arn = queue
    with make_emu(endpoint, arn, faults=FaultSpec(late_issue=1.0)) as emu:
        notifications.subscribe_direct(
            emu, SELLER, arn, ["LISTINGS_ITEM_STATUS_CHANGE", "LISTINGS_ITEM_ISSUES_CHANGE"])
        emu.put_listing_direct(SELLER, "MUG-1", US, "PRODUCT", offer(5, price=None))
        emu.put_listing_direct(SELLER, "MUG-1", US, "PRODUCT", offer(5))  # now BUYABLE
        with client(emu) as c:  # an accepted price write that gains an ERROR issue (18155)
            r = c.patch(f"/listings/2021-08-01/items/{SELLER}/MUG-1",
                        params={"marketplaceIds": US},
                        json={"productType": "PRODUCT", "patches": [{
                            "op": "replace", "path": "/attributes/purchasable_offer",
                            "value": [{"marketplace_id": US, "currency": "USD",
                                       "audience": "ALL", "our_price": [
                                           {"schedule": [{"value_with_tax": 9.0}]}]}]}]})
            assert r.status_code == 200, r.text
            r = c.delete(f"/listings/2021-08-01/items/{SELLER}/MUG-1",
                         params={"marketplaceIds": US})
            assert r.status_code == 200, r.text
        assert emu.flush_notifications()
        got = by_type(drain_now(sqs, url))
    statuses = [n["Payload"]["Status"] for n in got["LISTINGS_ITEM_STATUS_CHANGE"]]
    assert statuses[:2] == [["DISCOVERABLE"], ["BUYABLE", "DISCOVERABLE"]]
    assert statuses[2:] == [["DISCOVERABLE"], ["DELETED"]]  # suppressed, then deleted
    [issues] = got["LISTINGS_ITEM_ISSUES_CHANGE"]
    assert issues["Payload"]["Severities"] == ["ERROR"] and issues["Payload"]["Sku"] == "MUG-1"
    assert issues["Payload"]["EnforcementActions"] == ["LISTING_SUPPRESSED"]


def test_a_finished_feed_publishes_feed_processing_finished(
    endpoint: str, sqs: Any, queue: tuple[str, str]
) -> None:
    url, arn = queue
    clock = FakeClock()
    with make_emu(endpoint, arn, clock=clock) as emu:
        notifications.subscribe_direct(emu, SELLER, arn, ["FEED_PROCESSING_FINISHED"])
        with client(emu) as c:
            feed_id = submit_feed(c, listings_feed([{
                "messageId": 1, "sku": "MUG-9", "operationType": "PATCH",
                "productType": "PRODUCT", "patches": [{
                    "op": "replace", "path": "/attributes/fulfillment_availability",
                    "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3}]}]}]))
            assert drain_now(sqs, url) == []  # not finished yet
            clock.advance(1000)  # feeds take 300 s (the access token lives 3600 s)
            assert c.get(f"/feeds/2021-06-30/feeds/{feed_id}").json()["processingStatus"] \
                == "DONE"
        assert emu.flush_notifications()
        [n] = by_type(drain_now(sqs, url))["FEED_PROCESSING_FINISHED"]
    body = n["payload"]["feedProcessingFinishedNotification"]
    assert body["feedId"] == feed_id and body["processingStatus"] == "DONE"
    assert body["feedType"] == "JSON_LISTINGS_FEED" and body["resultFeedDocumentId"]


def test_only_subscribed_sellers_are_notified(
    endpoint: str, sqs: Any, queue: tuple[str, str]
) -> None:
    url, arn = queue
    with make_emu(endpoint, arn) as emu:
        emu.put_listing_direct(SELLER, "MUG-1", US, "PRODUCT", offer(5))
        emu.put_listing_direct(OTHER_SELLER, "MUG-1", US, "PRODUCT", offer(5))
        notifications.subscribe_direct(emu, SELLER, arn, ["LISTINGS_ITEM_MFN_QUANTITY_CHANGE"])
        emu.set_quantity(OTHER_SELLER, "MUG-1", US, 1)
        emu.set_quantity(SELLER, "MUG-1", US, 2)
        assert emu.flush_notifications()
        got = [notification_of(b) for b in drain_now(sqs, url)]
    assert [(n["Payload"]["SellerId"], n["Payload"]["Quantity"]) for n in got] == [(SELLER, 2)]


def test_nothing_is_recorded_without_an_sqs_endpoint() -> None:
    with Emulator(config=EmulatorConfig(write_delay_s=0.0)) as emu:
        emu.put_listing_direct(SELLER, "MUG-1", US, "PRODUCT", offer(5))
        assert emu.set_quantity(SELLER, "MUG-1", US, 2)
        assert notifications.publisher(emu) is None
        assert emu.flush_notifications()


# ---------------------------------------------------------------------- faults


def test_duplicates_keep_their_notification_id(
    endpoint: str, sqs: Any, queue: tuple[str, str]
) -> None:
    url, arn = queue
    faults = NotifyFaults(duplicate_rate=1.0, duplicate_copies=3)
    with make_emu(endpoint, arn, notify_faults=faults) as emu:
        emu.put_listing_direct(SELLER, "MUG-1", US, "PRODUCT", offer(5))
        notifications.subscribe_direct(emu, SELLER, arn, ["LISTINGS_ITEM_MFN_QUANTITY_CHANGE"])
        emu.set_quantity(SELLER, "MUG-1", US, 2)
        emu.set_quantity(SELLER, "MUG-1", US, 1)
        assert emu.flush_notifications()
        got = [validate(b) for b in drain_now(sqs, url)]
    ids = [notification_id(n) for n in got]
    assert len(ids) == 6 and len(set(ids)) == 2
    assert all(ids.count(i) == 3 for i in ids)


def test_delay_holds_deliveries_back_by_scaled_amazon_seconds(
    endpoint: str, sqs: Any, queue: tuple[str, str]
) -> None:
    url, arn = queue
    # 60 Amazon seconds at time scale 100: 0.6 s
    with make_emu(endpoint, arn, time_scale=100.0, notify_faults=NotifyFaults(delay_s=60.0)) \
            as emu:
        emu.put_listing_direct(SELLER, "MUG-1", US, "PRODUCT", offer(5))
        notifications.subscribe_direct(emu, SELLER, arn, ["LISTINGS_ITEM_MFN_QUANTITY_CHANGE"])
        start = time.monotonic()
        emu.set_quantity(SELLER, "MUG-1", US, 2)
        assert drain_now(sqs, url) == []  # not yet
        got = receive(sqs, url, 1, timeout=5.0)
        elapsed = time.monotonic() - start
    assert len(got) == 1 and elapsed >= 0.6


def test_reorder_shuffles_deliveries_due_together(
    endpoint: str, sqs: Any, queue: tuple[str, str]
) -> None:
    url, arn = queue
    with make_emu(endpoint, arn, notify_faults=NotifyFaults(reorder=True)) as emu:
        notifications.subscribe_direct(emu, SELLER, arn, ["LISTINGS_ITEM_MFN_QUANTITY_CHANGE"])
        with emu.lock:  # eight changes, flushed together
            for q in range(1, 9):
                listings_store.put_direct(emu, SELLER, "MUG-1", US, "PRODUCT", offer(q))
        assert emu.flush_notifications()
        got = [notification_of(b)["Payload"]["Quantity"] for b in drain_now(sqs, url)]
    # a standard queue does not promise order either; moto keeps it, so this is the emulator's
    assert sorted(got) == list(range(1, 9)) and got != list(range(1, 9))


def test_close_sends_what_is_still_delayed(
    endpoint: str, sqs: Any, queue: tuple[str, str]
) -> None:
    url, arn = queue
    emu = make_emu(endpoint, arn, notify_faults=NotifyFaults(delay_s=3600.0))
    emu.put_listing_direct(SELLER, "MUG-1", US, "PRODUCT", offer(5))
    notifications.subscribe_direct(emu, SELLER, arn, ["LISTINGS_ITEM_MFN_QUANTITY_CHANGE"])
    emu.set_quantity(SELLER, "MUG-1", US, 2)
    emu.close()
    assert len(drain_now(sqs, url)) == 1


def test_notify_fault_spec_parses() -> None:
    f = NotifyFaults.parse("dup=0.2:4,delay=5,jitter=2.5,reorder")
    assert f == NotifyFaults(0.2, 4, 5.0, 2.5, True)
    for bad in ("dup=2", "delay=-1", "reorder=1", "nope=1", "dup=0.1:0"):
        with pytest.raises(ValueError):
            NotifyFaults.parse(bad)


# ---------------------------------------------------------------------- over real HTTP


def test_a_served_emulator_publishes_what_a_buyer_and_a_seller_do(
    endpoint: str, sqs: Any, queue: tuple[str, str], tmp_path: Any
) -> None:
    """`emulator serve --sqs-endpoint`: subscribe over HTTP (grantless LWA token for the
    destinations, the seller's for the subscriptions), then `emulator order` and `emulator
    set-quantity` against the server: ORDER_CHANGE and the quantity changes reach the queue.
    A feed finishing is notified without any request (the server ticks on its own)."""
    import json as _json

    from click.testing import CliRunner

    from reconciler.cli import main
    from tests.emulator_support import start_server, stop_server

    url, arn = queue
    seed = tmp_path / "seed.json"
    seed.write_text(_json.dumps({"sellers": {SELLER: {"listings": [
        {"sku": "MUG-1", "marketplaceId": CA, "productType": "PRODUCT", "attributes": offer(5)}
    ]}}}))
    proc, base = start_server(tmp_path / "emu.db", seed, "--sqs-endpoint", endpoint,
                              "--eventbridge-queue-arn", arn, "--time-scale", "600",
                              refresh_tokens={"Atzr|rt-notif": SELLER})
    try:
        with httpx.Client(base_url=base) as h:
            def token(**form: str) -> str:
                r = h.post("/auth/o2/token", data={"client_id": "app", "client_secret": "s",
                                                   **form})
                assert r.status_code == 200, r.text
                return str(r.json()["access_token"])

            g = {"x-amz-access-token": token(grant_type="client_credentials",
                                             scope="sellingpartnerapi::notifications")}
            s = {"x-amz-access-token": token(grant_type="refresh_token",
                                             refresh_token="Atzr|rt-notif")}
            dests = {}
            for name, spec in (("sqs", {"sqs": {"arn": arn}}), ("eb", {"eventBridge": {
                    "accountId": "123456789012", "region": "us-east-1"}})):
                r = h.post("/notifications/v1/destinations", headers=g,
                           json={"name": name, "resourceSpecification": spec})
                assert r.status_code == 200, r.text
                dests[name] = r.json()["payload"]["destinationId"]
            for t, v, d in (("ORDER_CHANGE", "1.0", "sqs"),
                            ("FEED_PROCESSING_FINISHED", "2020-09-04", "sqs"),
                            ("LISTINGS_ITEM_MFN_QUANTITY_CHANGE", "1.0", "eb")):
                r = h.post(f"/notifications/v1/subscriptions/{t}", headers=s,
                           json={"payloadVersion": v, "destinationId": dests[d]})
                assert r.status_code == 200, r.text
            run = CliRunner().invoke(main, ["emulator", "order", "--url", base,
                                            "--marketplace", "CA", "--sku", "MUG-1:2"])
            assert run.exit_code == 0, run.output
            order_id = run.stdout.strip()
            run = CliRunner().invoke(main, ["emulator", "set-quantity", "--url", base, "--sku",
                                            "MUG-1", "--marketplace", "CA", "--quantity", "9"])
            assert run.exit_code == 0, run.output
            got = by_type(receive(sqs, url, 3))
            [order] = got["ORDER_CHANGE"]
            assert order["Payload"]["OrderChangeNotification"]["AmazonOrderId"] == order_id
            qty = [n["Payload"]["Quantity"] for n in got["LISTINGS_ITEM_MFN_QUANTITY_CHANGE"]]
            assert qty == [3, 9]
            doc = h.post("/feeds/2021-06-30/documents", headers=s,
                         json={"contentType": "application/json; charset=UTF-8"}).json()
            up = h.put(doc["url"], content=listings_feed([]),
                       headers={"content-type": "application/json; charset=UTF-8"})
            assert up.status_code == 200, up.text
            r = h.post("/feeds/2021-06-30/feeds", headers=s, json={
                "feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [CA],
                "inputFeedDocumentId": doc["feedDocumentId"]})
            assert r.status_code == 202, r.text
            [done] = receive(sqs, url, 1, timeout=15.0)  # no request in between
            assert validate(done)["payload"]["feedProcessingFinishedNotification"]["feedId"] \
                == r.json()["feedId"]
    finally:
        stop_server(proc)


def test_an_event_filter_limits_the_marketplaces(
    endpoint: str, sqs: Any, queue: tuple[str, str]
) -> None:
    from reconciler.emulator import notifications_store as ns

    url, arn = queue
    with make_emu(endpoint, arn) as emu:
        for mp in (US, CA):
            emu.put_listing_direct(SELLER, "MUG-1", mp, "PRODUCT", offer(5))
        subs = notifications.subscribe_direct(emu, SELLER, arn, ["ORDER_CHANGE"])
        with emu.lock:
            emu.db.execute("UPDATE notif_subscriptions SET directive = ? WHERE subscription_id"
                           " = ?", ('{"eventFilter": {"eventFilterType": "ORDER_CHANGE", '
                                    f'"marketplaceIds": ["{CA}"]}}}}', subs["ORDER_CHANGE"]))
            assert ns.subscription(emu, subs["ORDER_CHANGE"]) is not None
        emu.place_order(SELLER, US, [("MUG-1", 1)])
        ca = emu.place_order(SELLER, CA, [("MUG-1", 1)])
        assert emu.flush_notifications()
        got = by_type(drain_now(sqs, url))["ORDER_CHANGE"]
    assert [n["Payload"]["OrderChangeNotification"]["AmazonOrderId"] for n in got] == [ca]


def test_a_buyers_order_is_published_before_the_quantity_it_takes(
    endpoint: str, sqs: Any, queue: tuple[str, str]
) -> None:
    url, arn = queue
    with make_emu(endpoint, arn) as emu:
        emu.put_listing_direct(SELLER, "MUG-1", CA, "PRODUCT", offer(5))
        notifications.subscribe_direct(
            emu, SELLER, arn, ["ORDER_CHANGE", "LISTINGS_ITEM_MFN_QUANTITY_CHANGE"])
        oid = emu.place_order(SELLER, CA, [("MUG-1", 2), ("MUG-1", 1)])
        with pytest.raises(ValueError):  # 2 left
            emu.place_order(SELLER, CA, [("MUG-1", 3)])
        with pytest.raises(ValueError):
            emu.place_order(SELLER, CA, [("NO-SUCH", 1)])
        with httpx.Client(transport=emu.transport(), base_url="http://127.0.0.1") as c:
            r = c.post("/_emulator/orders", json={"marketplaceId": CA,
                                                   "items": [{"sku": "MUG-1", "quantity": 9}]})
            assert r.status_code == 400
            r = c.post("/_emulator/orders", json={"marketplaceId": CA, "items": [{"sku": "MUG-1"}]})
            assert r.status_code == 400
        assert emu.flush_notifications()
        got = [validate(b) for b in drain_now(sqs, url)]
    assert [type_of(n) for n in got] == ["ORDER_CHANGE", "LISTINGS_ITEM_MFN_QUANTITY_CHANGE"]
    items = got[0]["Payload"]["OrderChangeNotification"]["Summary"]["OrderItems"]
    assert got[0]["Payload"]["OrderChangeNotification"]["AmazonOrderId"] == oid
    assert sorted(i["Quantity"] for i in items) == [1, 2] and got[1]["Payload"]["Quantity"] == 2


def test_seeds_and_events_before_a_subscription_are_not_published(
    endpoint: str, sqs: Any, queue: tuple[str, str]
) -> None:
    url, arn = queue
    with make_emu(endpoint, arn) as emu:
        notifications.subscribe_direct(emu, OTHER_SELLER, arn)
        emu.seed({"sellers": {SELLER: {"listings": [
            {"sku": "MUG-1", "marketplaceId": US, "attributes": offer(5)}]}}})
        with emu.lock:  # a change recorded, not yet flushed, when the seller subscribes
            listings_store.put_direct(emu, SELLER, "MUG-1", US, "PRODUCT", offer(4))
        notifications.subscribe_direct(emu, SELLER, arn)
        emu.set_quantity(SELLER, "MUG-1", US, 3)
        assert emu.flush_notifications()
        got = [validate(b) for b in drain_now(sqs, url)]
    assert [(type_of(n), n["Payload"].get("Quantity")) for n in got] == [
        ("LISTINGS_ITEM_MFN_QUANTITY_CHANGE", 3)]
