"""Feeds 2021-06-30 in the emulator, driven by a fake clock through the in-process transport.

Covers: feed documents (presigned upload URL served by the emulator, Content-Type must match,
expiry scaled by time_scale, tampering), createFeed validation, the modelled lifecycle
IN_QUEUE -> IN_PROGRESS -> DONE (one feed at a time per seller, time scale), cancelFeed
(IN_QUEUE only), the JSON_LISTINGS_FEED 5-per-5-minutes window, JSON_LISTINGS_FEED processing
(every operation type applied with the API's semantics, history source ``feed:<id>``, per-message
issues, summary, items), FATAL feeds, getFeeds filters and pagination, getFeedDocument with
GZIP and enableContentEncodingUrlHeader, and the feed-type hook.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.emulator import feeds
from reconciler.emulator.app import Emulator
from reconciler.emulator.listings_feed import FeedJob, FeedOutcome
from reconciler.emulator.state import EmulatorConfig

from . import spapi_models
from .emulator_support import (
    OTHER_SELLER,
    SELLER,
    UK,
    US,
    FakeClock,
    client,
    download_report,
    emulator,
    listings_feed,
    submit_feed,
    upload_document,
)

DOCS = "/feeds/2021-06-30/documents"
FEEDS = "/feeds/2021-06-30/feeds"
# writes visible at once: these tests are about feeds (the visibility delay: test_emulator_strict)
CFG = EmulatorConfig(feed_processing_s=2.0, feed_per_message_s=0.01, write_delay_s=0.0)


def offer(price: float) -> list[dict[str, Any]]:
    return [{"marketplace_id": US, "currency": "USD", "audience": "ALL",
             "our_price": [{"schedule": [{"value_with_tax": price}]}]}]


def seed_listing(emu: Emulator, sku: str, price: float = 10.0, qty: int = 3) -> None:
    emu.seed({"sellers": {SELLER: {"listings": [{
        "sku": sku, "marketplaceId": US, "productType": "PRODUCT",
        "attributes": {
            "item_name": [{"value": f"Item {sku}", "language_tag": "en_US", "marketplace_id": US}],
            "purchasable_offer": offer(price),
            "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": qty,
                                          "lead_time_to_ship_max_days": 2}],
        }}]}}})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[Emulator]:
    with emulator(CFG, clock) as e:
        yield e


@pytest.fixture
def c(emu: Emulator) -> Iterator[httpx.Client]:
    with client(emu) as cl:
        yield cl


def get_feed(c: httpx.Client, feed_id: str) -> dict[str, Any]:
    r = c.get(f"{FEEDS}/{feed_id}")
    body = spapi_models.assert_response("getFeed", r.status_code, r.content)
    assert r.status_code == 200, r.text
    assert isinstance(body, dict)
    return body


def run_to_end(c: httpx.Client, clock: FakeClock, feed_id: str) -> dict[str, Any]:
    for _ in range(200):
        f = get_feed(c, feed_id)
        if f["processingStatus"] in ("DONE", "FATAL", "CANCELLED"):
            return f
        clock.advance(0.5)
    raise AssertionError("feed never finished")


# ------------------------------------------------------------------ documents


def test_document_upload_url_checks_content_type_signature_and_expiry(
    emu: Emulator, c: httpx.Client, clock: FakeClock
) -> None:
    r = c.post(DOCS, json={"contentType": "application/json; charset=UTF-8"})
    assert r.status_code == 201
    doc = spapi_models.assert_response("createFeedDocument", 201, r.content)
    assert doc["url"].startswith("https://sellingpartnerapi-na.amazon.com/_emulator/documents/")
    wrong = c.put(doc["url"], content=b"{}", headers={"content-type": "application/json"})
    assert wrong.status_code == 403 and b"SignatureDoesNotMatch" in wrong.content
    assert wrong.headers["content-type"] == "application/xml"
    tampered = c.put(doc["url"].replace("sig=", "sig=0"), content=b"{}",
                     headers={"content-type": "application/json; charset=UTF-8"})
    assert tampered.status_code == 403
    # Not uploaded yet: a feed cannot use it.
    r = c.post(FEEDS, json={"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [US],
                            "inputFeedDocumentId": doc["feedDocumentId"]})
    assert r.status_code == 400
    spapi_models.assert_response("createFeed", 400, r.content)
    ok = c.put(doc["url"], content=b"{}",
               headers={"content-type": "application/json; charset=UTF-8"})
    assert ok.status_code == 200 and ok.headers["etag"].startswith('"')
    clock.advance(301)
    late = c.put(doc["url"], content=b"{}",
                 headers={"content-type": "application/json; charset=UTF-8"})
    assert late.status_code == 403 and b"Request has expired" in late.content
    missing = c.put(doc["url"].replace(doc["feedDocumentId"], "amzn1.tortuga.4.na.nope"),
                    content=b"{}")
    assert missing.status_code == 404 and b"NoSuchKey" in missing.content


def test_document_url_expiry_is_scaled(clock: FakeClock) -> None:
    with emulator(EmulatorConfig(time_scale=100), clock) as emu, client(emu) as c:
        doc = c.post(DOCS, json={"contentType": "text/plain"}).json()
        clock.advance(3.1)  # 300 s / 100
        r = c.put(doc["url"], content=b"x", headers={"content-type": "text/plain"})
        assert r.status_code == 403


def test_create_feed_document_validation(c: httpx.Client) -> None:
    for body in ({}, {"contentType": ""}, {"contentType": 5}, []):
        r = c.post(DOCS, json=body)
        assert r.status_code == 400, body
        spapi_models.assert_response("createFeedDocument", 400, r.content)
    r = c.post(DOCS, content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = c.post(DOCS, content=b"contentType=x",
               headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    spapi_models.assert_response("createFeedDocument", 415, r.content)


# ------------------------------------------------------------------ createFeed


def test_create_feed_validation(emu: Emulator, c: httpx.Client) -> None:
    doc_id = upload_document(c, b"{}")
    good = {"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [US], "inputFeedDocumentId": doc_id}
    bad_specs = [
        {k: v for k, v in good.items() if k != "feedType"},
        {**good, "marketplaceIds": []},
        {**good, "marketplaceIds": [US] * 26},
        {**good, "marketplaceIds": ["NOPE"]},
        {**good, "marketplaceIds": [US, UK]},  # two regions
        {**good, "inputFeedDocumentId": "amzn1.tortuga.4.na.unknown"},
        {**good, "feedOptions": {"a": 1}},
    ]
    for spec in bad_specs:
        r = c.post(FEEDS, json=spec)
        assert r.status_code == 400, spec
        spapi_models.assert_response("createFeed", 400, r.content)
    with client(emu, OTHER_SELLER) as other:
        r = other.post(FEEDS, json=good)  # someone else's document
        assert r.status_code == 400
    r = c.post(FEEDS, json=good)
    assert r.status_code == 202
    spapi_models.assert_response("createFeed", 202, r.content)
    assert r.headers["x-amzn-RateLimit-Limit"] == str(0.0083)


def test_json_listings_feed_window_is_5_per_5_minutes_per_region(
    emu: Emulator, c: httpx.Client, clock: FakeClock
) -> None:
    doc_id = upload_document(c, listings_feed([]))
    spec = {"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [US], "inputFeedDocumentId": doc_id}
    codes = [c.post(FEEDS, json=spec).status_code for _ in range(6)]
    assert codes == [202] * 5 + [429]
    r = c.post(FEEDS, json=spec)
    assert r.status_code == 429
    body = spapi_models.assert_response("createFeed", 429, r.content)
    assert body["errors"][0]["code"] == "QuotaExceeded"
    assert "x-amzn-RateLimit-Limit" not in r.headers
    # Another region has its own window; another feed type is not limited by it.
    eu_doc = upload_document(c, listings_feed([]))
    assert c.post(FEEDS, json={**spec, "marketplaceIds": [UK],
                               "inputFeedDocumentId": eu_doc}).status_code == 202
    assert c.post(FEEDS, json={**spec, "feedType": "POST_PRODUCT_DATA"}).status_code == 202
    clock.advance(60)  # a sliding window: no submission back before the first is 300 s old
    assert c.post(FEEDS, json=spec).status_code == 429
    clock.advance(240)
    assert [c.post(FEEDS, json=spec).status_code for _ in range(6)] == [202] * 5 + [429]


# ------------------------------------------------------------------ lifecycle


def test_lifecycle_in_queue_in_progress_done(emu: Emulator, c: httpx.Client,
                                             clock: FakeClock) -> None:
    seed_listing(emu, "MUG-1", price=10.0)
    msgs = [{"messageId": 1, "sku": "MUG-1", "operationType": "PATCH", "productType": "PRODUCT",
             "patches": [{"op": "replace", "path": "/attributes/purchasable_offer",
                          "value": offer(12.5)}]}]
    feed_id = submit_feed(c, listings_feed(msgs))
    f = get_feed(c, feed_id)
    assert f["processingStatus"] == "IN_QUEUE" and "processingStartTime" not in f
    assert f["feedType"] == "JSON_LISTINGS_FEED" and f["marketplaceIds"] == [US]
    clock.advance(0.49)  # queue = 2 s * 0.25
    assert get_feed(c, feed_id)["processingStatus"] == "IN_QUEUE"
    clock.advance(0.02)
    f = get_feed(c, feed_id)
    assert f["processingStatus"] == "IN_PROGRESS" and "processingStartTime" in f
    assert emu.listing_state(SELLER, "MUG-1", US)["attributes"]["purchasable_offer"][0][
        "our_price"][0]["schedule"][0]["value_with_tax"] == 10.0
    clock.advance(1.5 + 0.01)  # 2 s * 0.75 + 1 message * 0.01 s
    f = get_feed(c, feed_id)
    assert f["processingStatus"] == "DONE"
    assert f["processingEndTime"] >= f["processingStartTime"] >= f["createdTime"]
    report = download_report(c, f["resultFeedDocumentId"])
    spapi_models.assert_feed_document("report", report)
    assert report["summary"] == {"errors": 0, "warnings": 0, "messagesProcessed": 1,
                                 "messagesAccepted": 1, "messagesInvalid": 0}
    assert report["header"] == {"sellerId": SELLER, "version": "2.0", "feedId": feed_id}
    state = emu.listing_state(SELLER, "MUG-1", US)
    assert state["attributes"]["purchasable_offer"][0]["our_price"][0]["schedule"][0][
        "value_with_tax"] == 12.5
    assert [h.source for h in emu.history("MUG-1")][-1] == f"feed:{feed_id}"
    assert feeds.feed_error(emu, feed_id) is None


def test_time_scale_divides_processing_time(clock: FakeClock) -> None:
    with emulator(EmulatorConfig(time_scale=10, feed_processing_s=2.0), clock) as emu, \
            client(emu) as c:
        feed_id = submit_feed(c, listings_feed([]))
        clock.advance(0.04)  # queue: 2 s * 0.25 / 10
        assert get_feed(c, feed_id)["processingStatus"] == "IN_QUEUE"
        clock.advance(0.02)
        assert get_feed(c, feed_id)["processingStatus"] == "IN_PROGRESS"
        clock.advance(0.15)  # run: 2 s * 0.75 / 10
        # An empty message list is not a valid feed: it ends FATAL, within 0.2 s.
        assert get_feed(c, feed_id)["processingStatus"] == "FATAL"


def test_one_feed_at_a_time_per_seller(emu: Emulator, c: httpx.Client, clock: FakeClock) -> None:
    a = submit_feed(c, listings_feed([]))
    b = submit_feed(c, listings_feed([]))
    with client(emu, OTHER_SELLER) as other:
        o = submit_feed(other, listings_feed([], seller=OTHER_SELLER))
        clock.advance(0.6)
        assert get_feed(c, a)["processingStatus"] == "IN_PROGRESS"
        assert get_feed(c, b)["processingStatus"] == "IN_QUEUE"  # waits on a
        assert get_feed(other, o)["processingStatus"] == "IN_PROGRESS"  # other seller: parallel
        clock.advance(1.5)
        assert get_feed(c, a)["processingStatus"] == "FATAL"
        fb = get_feed(c, b)
        assert fb["processingStatus"] == "IN_PROGRESS"
        clock.advance(1.5)
        assert get_feed(c, b)["processingStatus"] == "FATAL"
        # b started exactly when a ended.
        assert get_feed(c, a)["processingEndTime"] == fb["processingStartTime"]


def test_cancel_feed(emu: Emulator, c: httpx.Client, clock: FakeClock) -> None:
    first = submit_feed(c, listings_feed([]))
    r = c.delete(f"{FEEDS}/{first}")
    assert r.status_code == 200 and r.content == b""
    spapi_models.assert_response("cancelFeed", 200, r.content)
    f = get_feed(c, first)
    assert f["processingStatus"] == "CANCELLED" and "resultFeedDocumentId" not in f
    again = c.delete(f"{FEEDS}/{first}")
    assert again.status_code == 400
    spapi_models.assert_response("cancelFeed", 400, again.content)
    second = submit_feed(c, listings_feed([]))
    clock.advance(0.6)
    r = c.delete(f"{FEEDS}/{second}")
    assert r.status_code == 400 and "IN_PROGRESS" in r.text
    for bad, code in (("12", 400), ("abc", 400), (str(feeds.FEED_ID_BASE + 999), 404)):
        r = c.delete(f"{FEEDS}/{bad}")
        assert r.status_code == code, bad
        spapi_models.assert_response("cancelFeed", code, r.content)
        r = c.get(f"{FEEDS}/{bad}")
        assert r.status_code == code, bad
        spapi_models.assert_response("getFeed", code, r.content)
    with client(emu, OTHER_SELLER) as other:
        assert other.get(f"{FEEDS}/{second}").status_code == 404


# ------------------------------------------------------------------ processing


def test_every_operation_type_and_per_message_issues(emu: Emulator, c: httpx.Client,
                                                     clock: FakeClock) -> None:
    for sku in ("PATCHED", "PARTIAL", "DELETED", "BAD-ATTR"):
        seed_listing(emu, sku)
    msgs: list[dict[str, Any]] = [
        {"messageId": 1, "sku": "PATCHED", "operationType": "PATCH", "productType": "PRODUCT",
         "patches": [{"op": "merge", "path": "/attributes/fulfillment_availability",
                      "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 9}]}]},
        {"messageId": 2, "sku": "PARTIAL", "operationType": "PARTIAL_UPDATE",
         "productType": "PRODUCT",
         "attributes": {"fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT",
                                                      "quantity": 4}]}},
        {"messageId": 3, "sku": "NEW-1", "operationType": "UPDATE", "productType": "PRODUCT",
         "requirements": "LISTING_OFFER_ONLY",
         "attributes": {"purchasable_offer": offer(5.0),
                        "condition_type": [{"value": "new_new", "marketplace_id": US}],
                        "merchant_suggested_asin": [{"value": "B0C7NEW001",
                                                     "marketplace_id": US}],
                        "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT",
                                                      "quantity": 1}]}},
        {"messageId": 4, "sku": "DELETED", "operationType": "DELETE"},
        {"messageId": 5, "sku": "BAD-ATTR", "operationType": "PATCH", "productType": "PRODUCT",
         "patches": [{"op": "replace", "path": "/attributes/fulfillmentAvailability",
                      "value": [{"quantity": 1}]}]},
        # schema-invalid: PATCH must not carry attributes
        {"messageId": 6, "sku": "X", "operationType": "PATCH", "productType": "PRODUCT",
         "attributes": {"a": []}, "patches": [{"op": "add", "path": "/attributes/a"}]},
        # duplicate messageId
        {"messageId": 1, "sku": "DUP", "operationType": "DELETE"},
    ]
    feed_id = submit_feed(c, listings_feed(msgs, report=["issues", "fulfillmentAvailability"]))
    f = run_to_end(c, clock, feed_id)
    assert f["processingStatus"] == "DONE"
    report = download_report(c, f["resultFeedDocumentId"])
    spapi_models.assert_feed_document("report", report)
    s = report["summary"]
    assert (s["messagesProcessed"], s["messagesAccepted"], s["messagesInvalid"]) == (7, 4, 3)
    by_msg: dict[int, list[dict[str, Any]]] = {}
    for iss in report["issues"]:
        by_msg.setdefault(iss.get("messageId", 0), []).append(iss)
    assert set(by_msg) == {5, 6, 1}
    assert by_msg[5][0]["code"] == "90000900"
    assert by_msg[5][0]["attributeName"] == "fulfillmentAvailability"
    assert by_msg[6][0]["sku"] == "X" and by_msg[6][0]["severity"] == "ERROR"
    assert by_msg[1][0]["sku"] == "DUP"  # the duplicate, not the first message
    assert s["errors"] == len(report["issues"])
    # items for the valid SKUs, as getListingsItem would render them
    items = {it["sku"]: it for it in report["items"]}
    assert items["PATCHED"]["fulfillmentAvailability"] == [
        {"fulfillmentChannelCode": "DEFAULT", "quantity": 9}]
    assert s["itemSummary"]["items"] == len(report["items"])
    for it in report["items"]:
        spapi_models.assert_conforms("listings", "Item", it)
    # state after the feed
    fa = emu.listing_state(SELLER, "PATCHED", US)["attributes"]["fulfillment_availability"]
    assert fa == [{"fulfillment_channel_code": "DEFAULT", "quantity": 9,
                   "lead_time_to_ship_max_days": 2}]  # merge kept the lead time
    fa = emu.listing_state(SELLER, "PARTIAL", US)["attributes"]["fulfillment_availability"]
    assert fa == [{"fulfillment_channel_code": "DEFAULT", "quantity": 4}]  # replace dropped it
    assert emu.listing_state(SELLER, "NEW-1", US) is not None
    assert emu.listing_state(SELLER, "DELETED", US) is None
    sources = {h.sku: h.source for h in emu.history() if h.source.startswith("feed:")}
    assert sources == {sku: f"feed:{feed_id}" for sku in ("PATCHED", "PARTIAL", "NEW-1",
                                                            "DELETED")}
    assert feeds.feed_error(emu, feed_id) is None


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"{not json", "not valid JSON"),
        (json.dumps({"messages": [{"messageId": 1, "sku": "A", "operationType": "DELETE"}]})
         .encode(), "header"),
        (listings_feed([{"messageId": 1, "sku": "A", "operationType": "DELETE"}],
                       seller=OTHER_SELLER), "sellerId"),
        (listings_feed([{"messageId": i, "sku": f"S{i}", "operationType": "DELETE"}
                        for i in range(1, 25_002)]), "25000"),
    ],
    ids=["bad-json", "no-header", "other-seller", "too-many-messages"],
)
def test_fatal_feeds_have_a_report(emu: Emulator, c: httpx.Client, clock: FakeClock,
                                   content: bytes, why: str) -> None:
    feed_id = submit_feed(c, content)
    f = run_to_end(c, clock, feed_id)
    assert f["processingStatus"] == "FATAL"
    report = download_report(c, f["resultFeedDocumentId"])
    spapi_models.assert_feed_document("report", report)
    assert why in report["issues"][0]["message"]
    assert "messageId" not in report["issues"][0]
    assert emu.history() == []  # nothing applied


def test_legacy_feed_type_goes_fatal_without_report(c: httpx.Client, clock: FakeClock) -> None:
    feed_id = submit_feed(c, b"<AmazonEnvelope/>", feed_type="POST_PRODUCT_DATA")
    f = run_to_end(c, clock, feed_id)
    assert f["processingStatus"] == "FATAL" and "resultFeedDocumentId" not in f


def test_feed_type_hook(emu: Emulator, c: httpx.Client, clock: FakeClock,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[FeedJob] = []

    def fulfil(e: Emulator, job: FeedJob) -> FeedOutcome:
        seen.append(job)
        return FeedOutcome("DONE", b'{"ok": true}')

    monkeypatch.setitem(feeds.FEED_PROCESSORS, "POST_ORDER_FULFILLMENT_DATA", fulfil)
    feed_id = submit_feed(c, b"order-id\tcarrier\n", feed_type="POST_ORDER_FULFILLMENT_DATA")
    f = run_to_end(c, clock, feed_id)
    assert f["processingStatus"] == "DONE"
    assert seen[0].document == b"order-id\tcarrier\n" and seen[0].seller_id == SELLER
    assert download_report(c, f["resultFeedDocumentId"]) == {"ok": True}


# ------------------------------------------------------------------ getFeeds / getFeedDocument


def test_get_feeds_filters_and_pagination(clock: FakeClock) -> None:
    # getFeeds allows 0.0222 rps (burst 10): this test makes more calls, so quotas are off.
    with emulator(EmulatorConfig(quotas=False, write_delay_s=0.0), clock) as emu, client(emu) as c:
        _get_feeds_checks(emu, c)


def _get_feeds_checks(emu: Emulator, c: httpx.Client) -> None:
    ids = [submit_feed(c, listings_feed([])) for _ in range(3)]
    ids.append(submit_feed(c, b"x", feed_type="POST_PRODUCT_DATA", marketplaces=[UK]))
    c.delete(f"{FEEDS}/{ids[2]}")

    def page(params: Any) -> dict[str, Any]:
        r = c.get(FEEDS, params=params)
        assert r.status_code == 200, r.text
        body = spapi_models.assert_response("getFeeds", 200, r.content)
        assert isinstance(body, dict)
        return body

    got: list[str] = []
    body = page({"feedTypes": "JSON_LISTINGS_FEED,POST_PRODUCT_DATA", "pageSize": "3"})
    got += [f["feedId"] for f in body["feeds"]]
    body = page({"nextToken": body["nextToken"]})
    got += [f["feedId"] for f in body["feeds"]]
    assert "nextToken" not in body
    assert got == list(reversed(ids))  # newest first
    only_cancelled = page({"feedTypes": "JSON_LISTINGS_FEED", "processingStatuses": "CANCELLED"})
    assert [f["feedId"] for f in only_cancelled["feeds"]] == [ids[2]]
    uk = page({"feedTypes": "JSON_LISTINGS_FEED,POST_PRODUCT_DATA", "marketplaceIds": UK})
    assert [f["feedId"] for f in uk["feeds"]] == [ids[3]]
    future = page({"feedTypes": "JSON_LISTINGS_FEED", "createdSince": "2000-01-01T00:00:00Z",
                   "createdUntil": "2000-02-01T00:00:00Z"})
    assert future["feeds"] == []
    with client(emu, OTHER_SELLER) as other:
        assert other.get(FEEDS, params={"feedTypes": "JSON_LISTINGS_FEED"}).json() == {"feeds": []}
    bad_queries: list[Any] = [
        {},  # neither feedTypes nor nextToken
        {"nextToken": body.get("nextToken", "x"), "feedTypes": "JSON_LISTINGS_FEED"},
        {"nextToken": "%%%"},
        {"feedTypes": "JSON_LISTINGS_FEED", "pageSize": "0"},
        {"feedTypes": "JSON_LISTINGS_FEED", "pageSize": "101"},
        {"feedTypes": "JSON_LISTINGS_FEED", "processingStatuses": "BAD_VALUE,DONE"},
        {"feedTypes": "JSON_LISTINGS_FEED", "createdSince": "yesterday"},
        {"feedTypes": "JSON_LISTINGS_FEED", "createdSince": "2030-01-01T00:00:00Z",
         "createdUntil": "2020-01-01T00:00:00Z"},
        {"feedTypes": ",".join(["T"] * 11)},
    ]
    for q in bad_queries:
        r = c.get(FEEDS, params=q)
        assert r.status_code == 400, q
        spapi_models.assert_response("getFeeds", 400, r.content)


def test_get_feed_document_and_content_encoding(emu: Emulator, c: httpx.Client,
                                                clock: FakeClock) -> None:
    seed_listing(emu, "MUG-1")
    feed_id = submit_feed(c, listings_feed([{"messageId": 1, "sku": "MUG-1",
                                             "operationType": "DELETE"}]))
    f = run_to_end(c, clock, feed_id)
    result_id = f["resultFeedDocumentId"]
    # Default: gzip bytes served as-is; the client must gunzip (compressionAlgorithm GZIP).
    report = download_report(c, result_id)
    assert report["summary"]["messagesAccepted"] == 1
    # enableContentEncodingUrlHeader: the URL answers Content-Encoding: gzip, httpx decodes.
    r = c.get(f"{DOCS}/{result_id}", params={"enableContentEncodingUrlHeader": "true"})
    doc = spapi_models.assert_response("getFeedDocument", 200, r.content)
    dl = c.get(doc["url"])
    assert dl.headers["content-encoding"] == "gzip"
    assert dl.json() == report
    # The input document is downloadable too, uncompressed.
    input_doc = emu.db.execute("SELECT doc_id FROM feed_documents WHERE kind = 'input'"
                               ).fetchone()[0]
    r = c.get(f"{DOCS}/{input_doc}")
    doc = spapi_models.assert_response("getFeedDocument", 200, r.content)
    assert "compressionAlgorithm" not in doc
    assert json.loads(c.get(doc["url"]).content)["messages"][0]["sku"] == "MUG-1"
    # Download URLs expire too, and cannot be used to upload.
    assert c.put(doc["url"], content=b"x").status_code == 403
    clock.advance(301)
    assert c.get(doc["url"]).status_code == 403
    for path, code in ((f"{DOCS}/badDocumentId1", 400),
                       (f"{DOCS}/amzn1.tortuga.4.na.unknown", 404)):
        r = c.get(path)
        assert r.status_code == code
        spapi_models.assert_response("getFeedDocument", code, r.content)
    r = c.get(f"{DOCS}/{result_id}", params={"enableContentEncodingUrlHeader": "maybe"})
    assert r.status_code == 400
    with client(emu, OTHER_SELLER) as other:
        assert other.get(f"{DOCS}/{result_id}").status_code == 404


def test_create_feed_bucket_burst_15_then_rate(emu: Emulator, c: httpx.Client,
                                               clock: FakeClock) -> None:
    doc_id = upload_document(c, b"<AmazonEnvelope/>", content_type="text/xml")
    spec = {"feedType": "POST_PRODUCT_DATA", "marketplaceIds": [US], "inputFeedDocumentId": doc_id}
    codes = [c.post(FEEDS, json=spec).status_code for _ in range(16)]
    assert codes == [202] * 15 + [429]
    clock.advance(1 / 0.0083 - 1)
    assert c.post(FEEDS, json=spec).status_code == 429
    clock.advance(1.5)  # one token at 0.0083 rps
    assert c.post(FEEDS, json=spec).status_code == 202
    assert c.post(FEEDS, json=spec).status_code == 429


def test_file_db_feed_state_survives_a_restart(tmp_path: Any, clock: FakeClock) -> None:
    db = str(tmp_path / "emu.db")
    with emulator(CFG, clock, db=db) as emu, client(emu) as c:
        seed_listing(emu, "MUG-1")
        feed_id = submit_feed(c, listings_feed([{"messageId": 1, "sku": "MUG-1",
                                                 "operationType": "DELETE"}]))
    clock.advance(10)
    with emulator(CFG, clock, db=db) as emu, client(emu) as c:
        f = get_feed(c, feed_id)  # processed lazily by the new process's first tick
        assert f["processingStatus"] == "DONE"
        assert download_report(c, f["resultFeedDocumentId"])["summary"]["messagesAccepted"] == 1
        assert emu.listing_state(SELLER, "MUG-1", US) is None
        assert [h.source for h in emu.history("MUG-1")].count(f"feed:{feed_id}") == 1


def test_messages_are_applied_progressively_and_resume_after_restart(
    tmp_path: Any, clock: FakeClock
) -> None:
    db = str(tmp_path / "emu.db")
    skus = [f"P{i}" for i in range(4)]
    msgs = [{"messageId": i + 1, "sku": sku, "operationType": "PATCH", "productType": "PRODUCT",
             "patches": [{"op": "merge", "path": "/attributes/fulfillment_availability",
                          "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 50}]}]}
            for i, sku in enumerate(skus)]

    def qty(emu: Emulator, sku: str) -> int:
        state = emu.listing_state(SELLER, sku, US)
        assert state is not None
        return int(state["attributes"]["fulfillment_availability"][0]["quantity"])

    with emulator(CFG, clock, db=db) as emu, client(emu) as c:
        for sku in skus:
            seed_listing(emu, sku, qty=1)
        feed_id = submit_feed(c, listings_feed(msgs, report=["fulfillmentAvailability"]))
        clock.advance(0.5 + 0.77)  # queue 0.5 s, then half of 1.5 s + 4 * 0.01 s
        assert get_feed(c, feed_id)["processingStatus"] == "IN_PROGRESS"
        assert [qty(emu, s) for s in skus] == [50, 50, 1, 1]
    # The server restarts mid-feed: the rest is applied once, the first half not again.
    clock.advance(1.0)
    with emulator(CFG, clock, db=db) as emu, client(emu) as c:
        f = get_feed(c, feed_id)
        assert f["processingStatus"] == "DONE"
        assert [qty(emu, s) for s in skus] == [50, 50, 50, 50]
        for sku in skus:
            assert [h.source for h in emu.history(sku)].count(f"feed:{feed_id}") == 1
        report = download_report(c, f["resultFeedDocumentId"])
        spapi_models.assert_feed_document("report", report)
        assert report["summary"]["messagesAccepted"] == 4
        assert [it["sku"] for it in report["items"]] == skus
        assert feeds.feed_error(emu, feed_id) is None
