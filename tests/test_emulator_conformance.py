"""Conformance: every emulator response body matches Amazon's models (issue 3, must-show 1).

Every request in this module goes through :class:`Conformant`, an httpx client whose response
hook maps the request to its operation (the emulator's own router) and validates the body
against the definition Amazon's model declares for that operation and status
(``tests/spapi_models.py``: Swagger -> JSON Schema, strict about undeclared properties). A
status the model does not declare for the operation is a violation too. LWA bodies are checked
against CONTRACT.md §1.1; processing reports against
``listings-feed-processing-report-schema-v2.json``; the feeds we submit against
``listings-feed-schema-v2.json``.

Covered, each with happy and error paths: listings get/put/patch/delete/search (200, INVALID,
VALID preview, 400, 403, 404, 413, 415, 429, 500, 503), feeds (all six operations plus upload
and download), supply sources (all six), the LWA token endpoint. Each test also asserts which
(operation, status) pairs it produced, so a silently skipped path fails the test.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.emulator import auth
from reconciler.emulator.app import Emulator
from reconciler.emulator.faults import FaultSpec
from reconciler.emulator.state import EmulatorConfig

from . import spapi_models
from .emulator_support import CA, NA_HOST, SELLER, US, FakeClock, emulator, listings_feed

ITEMS = f"/listings/2021-08-01/items/{SELLER}"
FEEDS = "/feeds/2021-06-30/feeds"
DOCS = "/feeds/2021-06-30/documents"
SOURCES = "/supplySources/2020-07-01/supplySources"
S3_OPS = ("uploadFeedDocument", "downloadFeedDocument")


class Conformant:
    """An httpx client on the emulator that validates every response it receives."""

    def __init__(self, emu: Emulator, token: str | None, clock: FakeClock | None = None) -> None:
        self.emu = emu
        self.seen: set[tuple[str, int]] = set()
        self.clock = clock
        self.step = 1.0  # fake seconds before each request (keeps 5 rps buckets full); 0: burst
        headers = {"x-amz-access-token": token} if token else {}
        self.http = httpx.Client(transport=emu.transport(), base_url=NA_HOST, headers=headers,
                                 event_hooks={"request": [self._tick],
                                              "response": [self._check]})

    def _tick(self, r: httpx.Request) -> None:
        if self.clock is not None:
            self.clock.advance(self.step)

    def _check(self, r: httpx.Response) -> None:
        r.read()
        path = r.request.url.raw_path.decode().split("?", 1)[0]
        route, _, _ = self.emu.route(r.request.method, path)
        assert route is not None, f"unrouted {r.request.method} {path}"
        op = route.operation
        self.seen.add((op, r.status_code))
        if op == "lwaToken":
            spapi_models.assert_lwa(r.status_code, r.json())
        elif op in S3_OPS:
            assert r.status_code == 200 or r.headers["content-type"] == "application/xml"
        else:
            spapi_models.assert_response(op, r.status_code, r.content)
            spapi_models.assert_headers(op, r.status_code, r.headers)
        assert r.headers.get("x-amzn-RequestId"), "x-amzn-RequestId missing"

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[Emulator]:
    with emulator(EmulatorConfig(feed_processing_s=1.0), clock) as e:
        e.seed({"sellers": {SELLER: {
            "listings": [listing("MUG-1", 12.0), listing("MUG-2", 15.0),
                         listing("MUG 3#ü", 9.5)],
            "supplySources": [{"supplySourceId": "11111111-2222-3333-4444-555555555555",
                               "supplySourceCode": "brooklyn", "alias": "Brooklyn",
                               "status": "Active"}],
        }}})
        yield e


@pytest.fixture
def c(emu: Emulator, clock: FakeClock) -> Iterator[Conformant]:
    cl = Conformant(emu, auth.issue_token(emu, SELLER), clock)
    yield cl
    cl.close()


def listing(sku: str, price: float) -> dict[str, Any]:
    return {"sku": sku, "marketplaceId": US, "productType": "PRODUCT", "attributes": {
        "item_name": [{"value": f"Mug {sku}", "language_tag": "en_US", "marketplace_id": US}],
        "condition_type": [{"value": "new_new", "marketplace_id": US}],
        "merchant_suggested_asin": [{"value": "B0C7MUG001", "marketplace_id": US}],
        "purchasable_offer": [{"marketplace_id": US, "currency": "USD", "audience": "ALL",
                               "our_price": [{"schedule": [{"value_with_tax": price}]}]}],
        "fulfillment_availability": [
            {"fulfillment_channel_code": "DEFAULT", "quantity": 0},
            {"fulfillment_channel_code": "brooklyn", "quantity": 5,
             "lead_time_to_ship_max_days": 2}],
    }}


OFFER_ONLY = "LISTING_OFFER_ONLY"


def put_body(attrs: dict[str, Any]) -> dict[str, Any]:
    return {"productType": "PRODUCT", "requirements": OFFER_ONLY, "attributes": attrs}


ALL_DATA = "summaries,attributes,issues,offers,fulfillmentAvailability,procurement,relationships,"\
    "productTypes"


def test_listings_items_operations(emu: Emulator, c: Conformant, clock: FakeClock) -> None:
    h = c.http
    mp = {"marketplaceIds": US}
    # getListingsItem: every includedData value, a percent-encoded SKU, errors
    assert h.get(f"{ITEMS}/MUG-1", params={**mp, "includedData": ALL_DATA}).status_code == 200
    assert h.get(f"{ITEMS}/MUG%203%23%C3%BC", params=mp).status_code == 200
    assert h.get(f"{ITEMS}/MUG-1", params={"marketplaceIds": f"{US},{CA}",
                                           "includedData": "offers,issues"}).status_code == 200
    assert h.get(f"{ITEMS}/NOPE", params=mp).status_code == 404
    assert h.get(f"{ITEMS}/MUG-1").status_code == 400
    assert h.get(f"{ITEMS}/MUG-1", params={**mp, "includedData": "everything"}).status_code == 400
    # putListingsItem: ACCEPTED, INVALID (missing price, unknown attribute), VALID preview
    attrs = listing("NEW-1", 20.0)["attributes"]
    ok = h.put(f"{ITEMS}/NEW-1", params=mp, json=put_body(attrs))
    assert ok.json()["status"] == "ACCEPTED"
    no_price = {k: v for k, v in attrs.items() if k != "purchasable_offer"}
    bad = h.put(f"{ITEMS}/NEW-2", params=mp,
                json={"productType": "PRODUCT", "requirements": OFFER_ONLY,
                      "attributes": {**no_price, "fake_attribute": [{}]}})
    assert bad.json()["status"] == "INVALID"
    codes = {i["code"] for i in bad.json()["issues"]}
    assert {"90220", "90000900"} <= codes
    prev = h.put(f"{ITEMS}/NEW-3", params={**mp, "mode": "VALIDATION_PREVIEW",
                                            "includedData": "identifiers,issues"},
                 json=put_body(attrs))
    assert prev.json()["status"] == "VALID" and prev.json()["identifiers"]
    assert h.put(f"{ITEMS}/NEW-1", params={"marketplaceIds": f"{US},{CA}"},
                 json=put_body(attrs)).status_code == 400
    assert h.put(f"{ITEMS}/NEW-1", params=mp, content=b"{oops",
                 headers={"content-type": "application/json"}).status_code == 400
    assert h.put(f"{ITEMS}/NEW-1", params=mp, content=b"<xml/>",
                 headers={"content-type": "text/xml"}).status_code == 415
    # patchListingsItem: all four ops, INVALID issues (negative quantity, missing selector,
    # inactive supply source), preview
    patches = [
        {"op": "replace", "path": "/attributes/purchasable_offer",
         "value": [{"marketplace_id": US, "currency": "USD", "audience": "ALL",
                    "our_price": [{"schedule": [{"value_with_tax": 13.0}]}]}]},
        {"op": "merge", "path": "/attributes/fulfillment_availability",
         "value": [{"fulfillment_channel_code": "brooklyn", "quantity": 7}]},
        {"op": "add", "path": "/attributes/bullet_point",
         "value": [{"value": "Holds 12 oz", "language_tag": "en_US", "marketplace_id": US}]},
        {"op": "delete", "path": "/attributes/bullet_point",
         "value": [{"language_tag": "en_US", "marketplace_id": US}]},
    ]
    r = h.patch(f"{ITEMS}/MUG-1", params=mp, json={"productType": "PRODUCT", "patches": patches})
    assert r.json()["status"] == "ACCEPTED"
    for bad_patch in (
        {"op": "replace", "path": "/attributes/fulfillment_availability",
         "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": -1}]},
        {"op": "replace", "path": "/attributes/fulfillment_availability",
         "value": [{"quantity": 1}]},
        {"op": "replace", "path": "/attributes/fulfillment_availability",
         "value": [{"fulfillment_channel_code": "queens", "quantity": 1}]},
    ):
        r = h.patch(f"{ITEMS}/MUG-2", params=mp,
                    json={"productType": "PRODUCT", "patches": [bad_patch]})
        assert r.json()["status"] == "INVALID", bad_patch
    r = h.patch(f"{ITEMS}/MUG-2", params={**mp, "mode": "VALIDATION_PREVIEW"},
                json={"productType": "PRODUCT", "patches": patches[:1]})
    assert r.json()["status"] == "VALID"
    assert h.patch(f"{ITEMS}/MUG-2", params=mp,
                   json={"productType": "PRODUCT", "patches": []}).status_code == 400
    assert h.patch(f"{ITEMS}/MUG-2", params={**mp, "mode": "NOW"},
                   json={"productType": "PRODUCT", "patches": patches[:1]}).status_code == 400
    # deleteListingsItem
    assert h.delete(f"{ITEMS}/MUG-2", params=mp).json()["status"] == "ACCEPTED"
    assert h.delete(f"{ITEMS}/MUG-2", params={"marketplaceIds": f"{US},{CA}"}).status_code == 400
    # searchListingsItems: identifiers, filters, sorting, paging, errors
    r = h.get(ITEMS, params={**mp, "identifiers": "MUG-1,NEW-1", "identifiersType": "SKU",
                             "includedData": "summaries,offers,fulfillmentAvailability,issues"})
    assert r.status_code == 200 and r.json()["numberOfResults"] >= 1
    page = h.get(ITEMS, params={**mp, "pageSize": "1", "sortBy": "sku", "sortOrder": "ASC",
                                "withStatus": "BUYABLE"})
    assert page.status_code == 200
    token = page.json().get("pagination", {}).get("nextToken")
    if token:
        assert h.get(ITEMS, params={**mp, "pageSize": "1", "sortBy": "sku", "sortOrder": "ASC",
                                    "withStatus": "BUYABLE", "pageToken": token}).status_code == 200
    assert h.get(ITEMS, params={**mp, "lastUpdatedAfter": "2000-01-01T00:00:00Z"}).status_code \
        == 200
    for bad_q in ({**mp, "pageSize": "21"}, {**mp, "identifiers": "A"},
                  {**mp, "identifiers": ",".join(f"S{i}" for i in range(21)),
                   "identifiersType": "SKU"},
                  {**mp, "sortBy": "price"}, {"marketplaceIds": "invalid"}):
        assert h.get(ITEMS, params=bad_q).status_code == 400, bad_q
    # quota: patch burst is 5 per seller
    c.step = 0.0
    statuses = [h.patch(f"{ITEMS}/MUG-1", params=mp,
                        json={"productType": "PRODUCT", "patches": patches[:1]}).status_code
                for _ in range(6)]
    assert 429 in statuses
    expected = {
        ("getListingsItem", 200), ("getListingsItem", 400), ("getListingsItem", 404),
        ("putListingsItem", 200), ("putListingsItem", 400), ("putListingsItem", 415),
        ("patchListingsItem", 200), ("patchListingsItem", 400), ("patchListingsItem", 429),
        ("deleteListingsItem", 200), ("deleteListingsItem", 400),
        ("searchListingsItems", 200), ("searchListingsItems", 400),
    }
    assert expected <= c.seen, expected - c.seen


def test_auth_errors_and_lwa(emu: Emulator, clock: FakeClock) -> None:
    anon = Conformant(emu, None)
    try:
        h = anon.http
        for method, path in (("GET", f"{ITEMS}/MUG-1"), ("PUT", f"{ITEMS}/MUG-1"),
                             ("PATCH", f"{ITEMS}/MUG-1"), ("DELETE", f"{ITEMS}/MUG-1"),
                             ("GET", ITEMS), ("GET", FEEDS), ("POST", FEEDS),
                             ("GET", f"{FEEDS}/50000000001"), ("DELETE", f"{FEEDS}/50000000001"),
                             ("POST", DOCS), ("GET", f"{DOCS}/x"), ("GET", SOURCES),
                             ("POST", SOURCES), ("GET", f"{SOURCES}/x"), ("PUT", f"{SOURCES}/x"),
                             ("DELETE", f"{SOURCES}/x"), ("PUT", f"{SOURCES}/x/status")):
            r = h.request(method, path, params={"marketplaceIds": US})
            assert r.status_code == 403, (method, path)
            assert r.json()["errors"][0]["code"] == "Unauthorized"
        bad = h.get(f"{ITEMS}/MUG-1", params={"marketplaceIds": US},
                    headers={"x-amz-access-token": "Atza|forged"})
        assert bad.status_code == 403
        # LWA: form and JSON, then errors (the refresh token is registered for SELLER)
        auth.register_refresh_token(emu, "Atzr|abc", seller_id=SELLER)
        form = h.post("/auth/o2/token", data={"grant_type": "refresh_token",
                                              "refresh_token": "Atzr|abc", "client_id": "id",
                                              "client_secret": "secret"})
        assert form.status_code == 200 and form.headers["cache-control"] == "no-store"
        as_json = h.post("/auth/o2/token", json={"grant_type": "refresh_token",
                                                 "refresh_token": "Atzr|abc", "client_id": "id",
                                                 "client_secret": "secret"})
        assert as_json.status_code == 200
        assert h.post("/auth/o2/token", data={"grant_type": "password"}).status_code == 400
        assert h.post("/auth/o2/token", data={"grant_type": "refresh_token"}).status_code == 400
        # The exchanged token works, and expires after expires_in.
        token = form.json()["access_token"]
        ok = h.get(f"{ITEMS}/MUG-1", params={"marketplaceIds": US},
                   headers={"x-amz-access-token": token})
        assert ok.status_code == 200
        clock.advance(form.json()["expires_in"] + 1)
        late = h.get(f"{ITEMS}/MUG-1", params={"marketplaceIds": US},
                     headers={"x-amz-access-token": token})
        assert late.status_code == 403 and "expired" in late.json()["errors"][0]["details"]
    finally:
        anon.close()
    assert ("lwaToken", 200) in anon.seen and ("lwaToken", 400) in anon.seen
    assert {op for op, st in anon.seen if st == 403} >= {
        "getListingsItem", "putListingsItem", "patchListingsItem", "deleteListingsItem",
        "searchListingsItems", "getFeeds", "createFeed", "getFeed", "cancelFeed",
        "createFeedDocument", "getFeedDocument", "getSupplySources", "createSupplySource",
        "getSupplySource", "updateSupplySource", "archiveSupplySource",
        "updateSupplySourceStatus"}


@pytest.mark.parametrize(("spec", "status"), [("500=1", 500), ("503=1", 503), ("429=1", 429)])
def test_injected_faults_are_model_shaped(spec: str, status: int) -> None:
    with emulator(EmulatorConfig(faults=FaultSpec.parse(spec))) as emu:
        emu.seed({"sellers": {SELLER: {"listings": [listing("MUG-1", 1.0)]}}})
        c = Conformant(emu, auth.issue_token(emu, SELLER))
        try:
            for method, path in (("GET", f"{ITEMS}/MUG-1"), ("GET", FEEDS),
                                 ("GET", SOURCES), ("POST", DOCS)):
                r = c.http.request(method, path, params={"marketplaceIds": US})
                assert r.status_code == status
                assert ("x-amzn-RateLimit-Limit" in r.headers) is False
        finally:
            c.close()
        assert len(c.seen) == 4


def test_oversized_body_is_413() -> None:
    with emulator(EmulatorConfig(max_body_bytes=1000)) as emu:
        c = Conformant(emu, auth.issue_token(emu, SELLER))
        try:
            big = {"productType": "PRODUCT", "attributes": {"item_name": [{"value": "x" * 2000}]}}
            r = c.http.put(f"{ITEMS}/BIG", params={"marketplaceIds": US}, json=big)
            assert r.status_code == 413
            r = c.http.post(DOCS, json={"contentType": "x" * 2000})
            assert r.status_code == 413
        finally:
            c.close()


def test_feeds_lifecycle_and_report(emu: Emulator, c: Conformant, clock: FakeClock) -> None:
    c.step = 0.0  # the test moves the clock itself; every feeds call stays within its burst
    h = c.http
    doc = h.post(DOCS, json={"contentType": "application/json; charset=UTF-8"}).json()
    messages = [
        {"messageId": 1, "sku": "MUG-1", "operationType": "PATCH", "productType": "PRODUCT",
         "patches": [{"op": "merge", "path": "/attributes/fulfillment_availability",
                      "value": [{"fulfillment_channel_code": "brooklyn", "quantity": 3}]}]},
        {"messageId": 2, "sku": "MUG-2", "operationType": "PARTIAL_UPDATE",
         "productType": "PRODUCT", "attributes": {"purchasable_offer": [
             {"marketplace_id": US, "currency": "USD", "audience": "ALL",
              "our_price": [{"schedule": [{"value_with_tax": 16.0}]}]}]}},
        {"messageId": 3, "sku": "MUG-2", "operationType": "PATCH", "productType": "PRODUCT",
         "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                      "value": [{"fulfillment_channel_code": "queens", "quantity": 1}]}]},
        {"messageId": 4, "sku": "GONE", "operationType": "DELETE"},
    ]
    content = listings_feed(messages, report=["summaries", "attributes", "issues", "offers",
                                              "fulfillmentAvailability"])
    spapi_models.assert_feed_document("feed", json.loads(content))
    for m in messages:
        spapi_models.assert_feed_document("message", m)
    assert h.put(doc["url"], content=content, headers={"content-type": "text/plain"}
                 ).status_code == 403
    assert h.put(doc["url"], content=content,
                 headers={"content-type": "application/json; charset=UTF-8"}).status_code == 200
    r = h.post(FEEDS, json={"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [US],
                            "inputFeedDocumentId": doc["feedDocumentId"]})
    feed_id = r.json()["feedId"]
    assert h.post(FEEDS, json={"feedType": "JSON_LISTINGS_FEED"}).status_code == 400
    statuses = []
    for _ in range(20):
        f = h.get(f"{FEEDS}/{feed_id}").json()
        statuses.append(f["processingStatus"])
        if f["processingStatus"] == "DONE":
            break
        clock.advance(0.3)
    assert statuses[0] == "IN_QUEUE" and "IN_PROGRESS" in statuses and statuses[-1] == "DONE"
    assert h.get(f"{FEEDS}/99").status_code == 400
    assert h.get(f"{FEEDS}/50000009999").status_code == 404
    assert h.delete(f"{FEEDS}/{feed_id}").status_code == 400
    listed = h.get(FEEDS, params={"feedTypes": "JSON_LISTINGS_FEED", "pageSize": "1"})
    assert listed.json()["feeds"][0]["feedId"] == feed_id
    assert h.get(FEEDS, params={"pageSize": "5"}).status_code == 400
    meta = h.get(f"{DOCS}/{f['resultFeedDocumentId']}").json()
    assert h.get(f"{DOCS}/nope").status_code == 400
    raw = h.get(meta["url"])
    report = json.loads(gzip.decompress(raw.content))
    spapi_models.assert_feed_document("report", report)
    for item in report["items"]:
        spapi_models.assert_conforms("listings", "Item", item)
    assert report["summary"]["messagesAccepted"] == 3
    assert report["summary"]["messagesInvalid"] == 1
    assert {i["messageId"] for i in report["issues"]} == {3}
    # cancel an IN_QUEUE feed
    doc2 = h.post(DOCS, json={"contentType": "application/json"}).json()
    h.put(doc2["url"], content=content, headers={"content-type": "application/json"})
    f2 = h.post(FEEDS, json={"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [US],
                             "inputFeedDocumentId": doc2["feedDocumentId"]}).json()["feedId"]
    assert h.delete(f"{FEEDS}/{f2}").status_code == 200
    expected = {
        ("createFeedDocument", 201), ("uploadFeedDocument", 200), ("uploadFeedDocument", 403),
        ("createFeed", 202), ("createFeed", 400), ("getFeed", 200), ("getFeed", 400),
        ("getFeed", 404), ("cancelFeed", 200), ("cancelFeed", 400), ("getFeeds", 200),
        ("getFeeds", 400), ("getFeedDocument", 200), ("getFeedDocument", 400),
        ("downloadFeedDocument", 200),
    }
    assert expected <= c.seen, expected - c.seen


def test_supply_sources_operations(emu: Emulator, c: Conformant) -> None:
    h = c.http
    address = {"name": "Queens", "addressLine1": "2 Main St", "countryCode": "US",
               "stateOrRegion": "NY"}
    made = h.post(SOURCES, json={"supplySourceCode": "queens", "alias": "Queens - NY",
                                 "address": address}).json()
    sid = made["supplySourceId"]
    assert h.post(SOURCES, json={"supplySourceCode": "queens", "alias": "x",
                                 "address": address}).status_code == 400
    assert h.get(SOURCES, params={"pageSize": "1"}).json()["nextPageToken"]
    assert h.get(f"{SOURCES}/{sid}").json()["status"] == "Inactive"
    assert h.get(f"{SOURCES}/bad").status_code == 400
    assert h.put(f"{SOURCES}/{sid}", json={"alias": "Queens store - NY"}).status_code == 204
    assert h.put(f"{SOURCES}/{sid}", json={"alias": 5}).status_code == 400
    assert h.put(f"{SOURCES}/{sid}/status", json={"status": "Active"}).status_code == 204
    assert h.put(f"{SOURCES}/{sid}/status", json={"status": "Paused"}).status_code == 400
    assert h.delete(f"{SOURCES}/{sid}").status_code == 204
    assert h.delete(f"{SOURCES}/{sid}").status_code == 400
    assert h.get(f"{SOURCES}/{sid}").json()["status"] == "Archived"
    assert h.get(f"{SOURCES}/11111111-0000-0000-0000-000000000000").status_code == 404
    ops = {"getSupplySources", "createSupplySource", "getSupplySource", "updateSupplySource",
           "archiveSupplySource", "updateSupplySourceStatus"}
    assert {op for op, st in c.seen if st < 300} == ops
    assert {op for op, st in c.seen if st == 400} == ops - {"getSupplySources"}


def test_summary_counter_counts() -> None:
    before = spapi_models.STATS["validated"]
    spapi_models.assert_conforms("feeds", "CreateFeedResponse", {"feedId": "1"})
    assert spapi_models.STATS["validated"] == before + 1
    # errors_for lists problems without counting them (so this test adds no violation)
    assert spapi_models.errors_for("feeds", "CreateFeedResponse", {}) != []
    assert spapi_models.errors_for("listings", "Money", {"currencyCode": "USD", "amount": 1.5})
    # strict mode: an undeclared property is a violation
    assert spapi_models.errors_for("feeds", "CreateFeedResponse", {"feedId": "1", "x": 1})
    assert not spapi_models.errors_for("feeds", "CreateFeedResponse", {"feedId": "1", "x": 1},
                                       strict=False)
