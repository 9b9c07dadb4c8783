"""The emulator is as strict as Amazon (issue 15): one conformance test per behaviour.

Every request goes through :class:`Conformant` (``test_emulator_conformance``), so each response
these behaviours produce also validates against Amazon's models.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.emulator import auth
from reconciler.emulator.app import Emulator
from reconciler.emulator.state import EmulatorConfig

from . import spapi_models
from .emulator_support import US, FakeClock, download_report, emulator, listings_feed
from .test_emulator_conformance import DOCS, FEEDS, Conformant, listing

A = "A1PP0FEH11RW77"
B = "A2OTHERSELLER9"
TOKEN_URL = "https://api.amazon.com/auth/o2/token"
DENIED = {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied.",
                      "details": ""}]}


def items(seller: str) -> str:
    return f"/listings/2021-08-01/items/{seller}"


def exchange(c: Conformant, refresh_token: str) -> httpx.Response:
    return c.http.post(TOKEN_URL, data={"grant_type": "refresh_token",
                                        "refresh_token": refresh_token,
                                        "client_id": "app", "client_secret": "secret"})


def run_feed(c: Conformant, clock: FakeClock, content: bytes, marketplaces: list[str]
             ) -> tuple[httpx.Response, dict[str, Any] | None]:
    """Submit a JSON_LISTINGS_FEED and advance the clock until it is terminal: (createFeed
    answer, last getFeed body or None when createFeed refused it)."""
    h = c.http
    doc = h.post(DOCS, json={"contentType": "application/json; charset=UTF-8"}).json()
    up = h.put(doc["url"], content=content,
               headers={"content-type": "application/json; charset=UTF-8"})
    assert up.status_code == 200
    created = h.post(FEEDS, json={"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": marketplaces,
                                  "inputFeedDocumentId": doc["feedDocumentId"]})
    if created.status_code != 202:
        return created, None
    feed: dict[str, Any] = {}
    for _ in range(200):
        feed = h.get(f"{FEEDS}/{created.json()['feedId']}").json()
        if feed["processingStatus"] in ("DONE", "FATAL", "CANCELLED"):
            break
        clock.advance(10.0)
    return created, feed


def patch_message(sku: str, quantity: int, message_id: int = 1) -> dict[str, Any]:
    return {"messageId": message_id, "sku": sku, "operationType": "PATCH",
            "productType": "PRODUCT",
            "patches": [{"op": "merge", "path": "/attributes/fulfillment_availability",
                         "value": [{"fulfillment_channel_code": "DEFAULT",
                                    "quantity": quantity}]}]}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[Emulator]:
    with emulator(EmulatorConfig(), clock) as e:
        e.seed({"sellers": {A: {"listings": [listing("MUG-1", 12.0)]},
                            B: {"listings": [listing("MUG-1", 30.0)]}},
                "refreshTokens": [{"refreshToken": "Atzr|seller-a", "sellerId": A}]})
        yield e


# --------------------------------------------------------------------------- 1. seller binding


def test_strict_seller_binding(emu: Emulator, clock: FakeClock) -> None:
    """Must-show 3: a token registered for seller A reads A's listing (200) and not B's (403,
    Amazon's body); a feed whose header names A is DONE; an unknown refresh token is
    invalid_grant."""
    c = Conformant(emu, None, clock)
    try:
        tok = exchange(c, "Atzr|seller-a")
        assert tok.status_code == 200
        c.http.headers["x-amz-access-token"] = tok.json()["access_token"]
        mp = {"marketplaceIds": US}
        assert c.http.get(f"{items(A)}/MUG-1", params=mp).status_code == 200
        denied = c.http.get(f"{items(B)}/MUG-1", params=mp)
        assert denied.status_code == 403 and denied.json() == DENIED
        for method in ("PUT", "PATCH", "DELETE"):  # every write on B's path too
            r = c.http.request(method, f"{items(B)}/MUG-1", params=mp, json={})
            assert r.status_code == 403 and r.json() == DENIED, method
        assert c.http.get(items(B), params=mp).status_code == 403  # searchListingsItems
        _, feed = run_feed(c, clock, listings_feed([patch_message("MUG-1", 7)], seller=A), [US])
        assert feed is not None and feed["processingStatus"] == "DONE"
        report = download_report(c.http, feed["resultFeedDocumentId"])
        assert report["summary"]["messagesAccepted"] == 1
        unknown = exchange(c, "Atzr|never-registered")
        assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"
        # the feed wrote seller A's listing, never B's
        clock.advance(emu.config.scaled(emu.config.write_delay_s) + 1)
        emu.tick()
        a = emu.listing_state(A, "MUG-1", US)
        b = emu.listing_state(B, "MUG-1", US)
        assert a is not None and b is not None
        assert {"fulfillment_channel_code": "DEFAULT", "quantity": 7} in \
            a["attributes"]["fulfillment_availability"]
        assert not any(e.get("quantity") == 7 for e in b["attributes"]["fulfillment_availability"])
    finally:
        c.close()
    assert {("getListingsItem", 200), ("getListingsItem", 403), ("putListingsItem", 403),
            ("patchListingsItem", 403), ("deleteListingsItem", 403),
            ("searchListingsItems", 403), ("lwaToken", 200), ("lwaToken", 400)} <= c.seen


def test_a_feed_naming_another_seller_is_fatal(emu: Emulator, clock: FakeClock) -> None:
    c = Conformant(emu, auth.issue_token(emu, A), clock)
    try:
        _, feed = run_feed(c, clock, listings_feed([patch_message("MUG-1", 7)], seller=B), [US])
        assert feed is not None and feed["processingStatus"] == "FATAL"
    finally:
        c.close()


def test_grantless_token_is_refused_on_seller_operations(emu: Emulator) -> None:
    c = Conformant(emu, None)
    try:
        r = c.http.post(TOKEN_URL, data={"grant_type": "client_credentials",
                                         "scope": "sellingpartnerapi::notifications"})
        assert r.status_code == 200
        c.http.headers["x-amz-access-token"] = r.json()["access_token"]
        for method, path in (("GET", f"{items(A)}/MUG-1"), ("GET", FEEDS), ("POST", DOCS)):
            got = c.http.request(method, path, params={"marketplaceIds": US,
                                                       "feedTypes": "JSON_LISTINGS_FEED"})
            assert got.status_code == 403 and got.json() == DENIED, path
        bad = c.http.post(TOKEN_URL, data={"grant_type": "client_credentials",
                                           "scope": "sellingpartnerapi::orders"})
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_scope"
    finally:
        c.close()


def test_permissive_mode_follows_one_rule_for_listings_and_feeds(clock: FakeClock) -> None:
    """``--permissive``: an unregistered refresh token acts for the seller each request names,
    the path's for listings and the document header's for feeds."""
    with emulator(EmulatorConfig(permissive=True), clock) as e:
        e.seed({"sellers": {A: {"listings": [listing("MUG-1", 12.0)]},
                            B: {"listings": [listing("MUG-1", 30.0)]}}})
        c = Conformant(e, None, clock)
        try:
            c.http.headers["x-amz-access-token"] = exchange(c, "Atzr|anything").json()[
                "access_token"]
            for seller in (A, B):
                r = c.http.get(f"{items(seller)}/MUG-1", params={"marketplaceIds": US})
                assert r.status_code == 200, seller
            _, feed = run_feed(c, clock, listings_feed([patch_message("MUG-1", 9)], seller=B),
                               [US])
            assert feed is not None and feed["processingStatus"] == "DONE"
            report = download_report(c.http, feed["resultFeedDocumentId"])
            assert report["header"]["sellerId"] == B
            clock.advance(e.config.scaled(e.config.write_delay_s) + 1)
            e.tick()
            b = e.listing_state(B, "MUG-1", US)
            assert b is not None and {"fulfillment_channel_code": "DEFAULT", "quantity": 9} in \
                b["attributes"]["fulfillment_availability"]
        finally:
            c.close()


def test_seed_tokens_are_stored_as_fingerprints_only(emu: Emulator) -> None:
    dump = "\n".join(emu.db.iterdump())
    assert "rt-sha256:" in dump and "seller-a" not in dump


# --------------------------------------------------------------------------- 2. rate limits


def _patch(attribute: str, value: list[dict[str, Any]]) -> dict[str, Any]:
    return {"productType": "PRODUCT",
            "patches": [{"op": "replace", "path": f"/attributes/{attribute}", "value": value}]}


PRICE = _patch("purchasable_offer", [{"marketplace_id": US, "currency": "USD", "audience": "ALL",
                                      "our_price": [{"schedule": [{"value_with_tax": 9.0}]}]}])
TITLE = _patch("item_name", [{"value": "Mug", "language_tag": "en_US", "marketplace_id": US}])
PARENT = _patch("child_parent_sku_relationship",
                [{"child_relationship_type": "variation", "parent_sku": "P-1",
                  "marketplace_id": US}])


def test_listings_bursts_are_five_with_the_generic_message(emu: Emulator) -> None:
    """getListingsItem and putListingsItem: burst 5 (the models' 10 is outdated); the
    per-account limit answers the generic QuotaExceeded."""
    c = Conformant(emu, auth.issue_token(emu, A))
    c.step = 0.0
    try:
        gets = [c.http.get(f"{items(A)}/MUG-1", params={"marketplaceIds": US}) for _ in range(6)]
        assert [r.status_code for r in gets] == [200] * 5 + [429]
        assert gets[-1].json()["errors"][0] == {
            "code": "QuotaExceeded",
            "message": "You exceeded your quota for the requested resource.", "details": ""}
        body = {"productType": "PRODUCT", "attributes": listing("MUG-1", 1.0)["attributes"]}
        puts = [c.http.put(f"{items(A)}/MUG-1", params={"marketplaceIds": US}, json=body)
                for _ in range(6)]
        assert [r.status_code for r in puts] == [200] * 5 + [429]
    finally:
        c.close()


def test_validation_preview_has_its_own_limit(emu: Emulator, clock: FakeClock) -> None:
    """One preview a second per seller (its own bucket, reported in x-amzn-RateLimit-Limit),
    besides the patch bucket: a preview does not use up a write."""
    c = Conformant(emu, auth.issue_token(emu, A))
    c.step = 0.0
    preview = {"marketplaceIds": US, "mode": "VALIDATION_PREVIEW"}
    try:
        first = c.http.patch(f"{items(A)}/MUG-1", params=preview, json=PRICE)
        assert first.status_code == 200 and first.json()["status"] == "VALID"
        assert first.headers["x-amzn-RateLimit-Limit"] == "1.0"
        second = c.http.patch(f"{items(A)}/MUG-1", params=preview, json=PRICE)
        assert second.status_code == 429
        writes = [c.http.patch(f"{items(A)}/MUG-1", params={"marketplaceIds": US}, json=PRICE)
                  for _ in range(5)]
        assert [r.status_code for r in writes] == [200] * 5
        assert writes[0].headers["x-amzn-RateLimit-Limit"] == "5.0"
        clock.advance(1.0)
        assert c.http.patch(f"{items(A)}/MUG-1", params=preview, json=PRICE).status_code == 200
    finally:
        c.close()


def _many_sellers(emu: Emulator, n: int, prefix: str = "A") -> list[str]:
    sellers = [f"{prefix}{i:03d}SELLER" for i in range(n)]
    emu.seed({"sellers": {s: {"listings": [listing("MUG-1", 1.0)]} for s in sellers}})
    return sellers


def _send(c: Conformant, emu: Emulator, seller: str, params: dict[str, str],
          body: dict[str, Any]) -> httpx.Response:
    token = auth.issue_token(emu, seller, client_id="one-application")
    return c.http.patch(f"{items(seller)}/MUG-1", params=params, json=body,
                        headers={"x-amz-access-token": token})


@pytest.mark.parametrize(("body", "mode", "per_seller", "sellers", "message"), [
    (TITLE, None, 5, 21, "The frequency of requests was greater than what is allowed for "
                         "product data."),
    (PARENT, None, 5, 2, "The frequency of requests was greater than what is allowed for "
                         "relationships."),
    (PRICE, "VALIDATION_PREVIEW", 1, 21, "The frequency of requests was greater than what is "
                                         "allowed for the application."),
])
def test_per_application_limits_answer_amazons_messages(
    emu: Emulator, body: dict[str, Any], mode: str | None, per_seller: int, sellers: int,
    message: str,
) -> None:
    """Several sellers of one application together: product data 100/s, relationships 5/s and
    previews 20/s per application; each 429 names the limit it hit."""
    c = Conformant(emu, None)
    c.step = 0.0
    params = {"marketplaceIds": US, **({"mode": mode} if mode else {})}
    try:
        got = [_send(c, emu, s, params, body) for s in _many_sellers(emu, sellers)
               for _ in range(per_seller)]
        refused = [r for r in got if r.status_code == 429]
        assert refused, "no per-application limit hit"
        assert {r.json()["errors"][0]["message"] for r in refused} == {message}
        # offer data under the same per-application load is only limited per seller
        if body is TITLE:
            offers = [_send(c, emu, s, params, PRICE)
                      for s in _many_sellers(emu, sellers, prefix="B") for _ in range(per_seller)]
            assert {r.status_code for r in offers} == {200}
    finally:
        c.close()


def test_client_and_emulator_share_one_table(emu: Emulator) -> None:
    from reconciler.emulator import quota
    from reconciler.kernel.quotas import QUOTAS
    from reconciler.spapi.client import SpApiClient

    for key, q in QUOTAS.items():
        assert quota.plan_for(emu, key) is q
    client = SpApiClient(seller_id=A, base_url="http://x", token_url="http://x/t",
                         refresh_token="r", client_id="c", client_secret="s")
    try:
        assert client.limiter.quotas == QUOTAS
        assert client.limiter.bucket("getListingsItem").burst == 5 - 1  # one token of headroom
        assert client.limiter.bucket("patchListingsItem:VALIDATION_PREVIEW").rate == 1.0
    finally:
        client.close()


# --------------------------------------------------------------------------- 3. feeds


def test_a_listings_feed_takes_one_marketplace(emu: Emulator, clock: FakeClock) -> None:
    c = Conformant(emu, auth.issue_token(emu, A), clock)
    try:
        created, feed = run_feed(c, clock, listings_feed([patch_message("MUG-1", 3)], seller=A),
                                 [US, "A2EUQ1WTGCTBG2"])
        assert feed is None and created.status_code == 400
        assert created.json()["errors"][0]["message"] == (
            "Too many 'marketplaceIds' values provided. Expected a maximum of 1.")
        assert ("createFeed", 400) in c.seen
    finally:
        c.close()


def test_a_stuck_feed_stays_in_progress(clock: FakeClock) -> None:
    """stuck-feed=1: a feed goes IN_PROGRESS and stays there, applying nothing; getFeed keeps
    answering IN_PROGRESS however long one waits, and it cannot be cancelled."""
    from reconciler.emulator.faults import FaultSpec

    with emulator(EmulatorConfig(faults=FaultSpec.parse("stuck-feed=1")), clock) as e:
        e.seed({"sellers": {A: {"listings": [listing("MUG-1", 12.0)]}}})
        c = Conformant(e, auth.issue_token(e, A), clock)
        try:
            doc = c.http.post(DOCS, json={"contentType": "application/json"}).json()
            c.http.put(doc["url"], content=listings_feed([patch_message("MUG-1", 8)], seller=A),
                       headers={"content-type": "application/json"})
            fid = c.http.post(FEEDS, json={"feedType": "JSON_LISTINGS_FEED",
                                           "marketplaceIds": [US],
                                           "inputFeedDocumentId": doc["feedDocumentId"]}
                              ).json()["feedId"]
            seen = []
            for _ in range(30):  # 50 Amazon minutes (the access token lives 60)
                clock.advance(100.0)
                seen.append(c.http.get(f"{FEEDS}/{fid}").json()["processingStatus"])
            assert set(seen) == {"IN_PROGRESS"}
            feed = c.http.get(f"{FEEDS}/{fid}").json()
            assert "processingEndTime" not in feed and "resultFeedDocumentId" not in feed
            assert c.http.delete(f"{FEEDS}/{fid}").status_code == 400  # only IN_QUEUE cancels
        finally:
            c.close()
        e.tick()
        state = e.listing_state(A, "MUG-1", US)
        assert state is not None
        assert not any(x.get("quantity") == 8
                       for x in state["attributes"]["fulfillment_availability"])


def test_feeds_spend_amazon_time_in_queue_and_in_progress(emu: Emulator, clock: FakeClock) -> None:
    """By default a feed waits minutes of Amazon time: IN_QUEUE for a quarter of
    feed_processing_s (300 s), IN_PROGRESS for the rest."""
    c = Conformant(emu, auth.issue_token(emu, A), clock)
    c.step = 0.0
    try:
        doc = c.http.post(DOCS, json={"contentType": "application/json"}).json()
        c.http.put(doc["url"], content=listings_feed([patch_message("MUG-1", 8)], seller=A),
                   headers={"content-type": "application/json"})
        fid = c.http.post(FEEDS, json={"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [US],
                                       "inputFeedDocumentId": doc["feedDocumentId"]}
                          ).json()["feedId"]
        timeline = []
        for _ in range(40):
            clock.advance(10.0)
            timeline.append(c.http.get(f"{FEEDS}/{fid}").json()["processingStatus"])
        assert timeline[:7] == ["IN_QUEUE"] * 7  # 70 s < 75 s
        assert timeline[8:29] == ["IN_PROGRESS"] * 21
        assert timeline[-1] == "DONE"
    finally:
        c.close()


# --------------------------------------------------------------------------- 5. Amazon time


def test_an_accepted_write_is_visible_minutes_later(emu: Emulator, clock: FakeClock) -> None:
    c = Conformant(emu, auth.issue_token(emu, A), clock)
    c.step = 0.0
    mp = {"marketplaceIds": US, "includedData": "offers"}
    try:
        r = c.http.patch(f"{items(A)}/MUG-1", params={"marketplaceIds": US}, json=PRICE)
        assert r.json()["status"] == "ACCEPTED"
        price = lambda: c.http.get(f"{items(A)}/MUG-1", params=mp).json()["offers"][0][  # noqa: E731
            "price"]["amount"]
        clock.advance(119.0)
        assert price() == "12.00"  # two Amazon minutes: not yet
        clock.advance(2.0)
        assert price() == "9.00"
    finally:
        c.close()


def _late_emulator(clock: FakeClock, kind: str) -> Emulator:
    e = Emulator(":memory:", EmulatorConfig(write_delay_s=60.0), clock=clock,
                 sleep=lambda s: None)
    e.seed({"sellers": {A: {"listings": [listing("MUG-1", 12.0), listing("MUG-2", 12.0)],
                            "lateIssues": [{"sku": "MUG-1", "kind": kind}]}}})
    return e


@pytest.mark.parametrize(("kind", "code", "applied", "buyable"), [
    ("catalog-conflict", "8541", False, True),
    ("price-out-of-range", "18155", True, False),
])
def test_a_scripted_late_issue_appears_when_the_write_is_processed(
    clock: FakeClock, kind: str, code: str, applied: bool, buyable: bool
) -> None:
    """ACCEPTED, then the issue: a catalog conflict keeps the catalog's value of the attribute
    it names; a price out of range applies the write and suppresses the offer. A SKU without a
    script is untouched."""
    e = _late_emulator(clock, kind)
    c = Conformant(e, auth.issue_token(e, A), clock)
    c.step = 0.0
    full = {"marketplaceIds": US, "includedData": "summaries,offers,issues"}
    try:
        for sku in ("MUG-1", "MUG-2"):
            r = c.http.patch(f"{items(A)}/{sku}", params={"marketplaceIds": US}, json=PRICE)
            assert r.json() == {**r.json(), "status": "ACCEPTED", "issues": []}
        assert c.http.get(f"{items(A)}/MUG-1", params=full).json()["issues"] == []  # not yet
        clock.advance(61.0)
        item = c.http.get(f"{items(A)}/MUG-1", params=full).json()
        (issue,) = item["issues"]
        assert issue["code"] == code and issue["severity"] == "ERROR"
        assert issue["marketplaceIds"] == [US]
        if kind == "catalog-conflict":
            assert issue["attributeNames"] == ["purchasable_offer"]
        assert (item["offers"][0]["price"]["amount"] == "9.00") is applied
        assert ("BUYABLE" in item["summaries"][0]["status"]) is buyable
        other = c.http.get(f"{items(A)}/MUG-2", params=full).json()
        assert other["issues"] == [] and other["offers"][0]["price"]["amount"] == "9.00"
        # the issue is on every read: searchListingsItems, with a withIssueSeverity filter
        found = c.http.get(items(A), params={"marketplaceIds": US, "withIssueSeverity": "ERROR",
                                             "includedData": "issues"}).json()
        assert [i["sku"] for i in found["items"]] == ["MUG-1"]
        # once the script is gone, the next processed write clears the emulator's issue
        e.db.execute("DELETE FROM listing_late_scripts")
        c.http.patch(f"{items(A)}/MUG-1", params={"marketplaceIds": US}, json=PRICE)
        clock.advance(61.0)
        assert c.http.get(f"{items(A)}/MUG-1", params=full).json()["issues"] == []
    finally:
        c.close()
        e.close()


def test_late_issue_faults_hit_a_fixed_share_of_listings(clock: FakeClock) -> None:
    """late-issue=0.2: the listings hit are fixed by (fault seed, seller, sku, marketplace), about
    a fifth of them, whatever the order of the writes."""
    from reconciler.emulator.faults import FaultSpec, chance

    skus = [f"S{i:03d}" for i in range(200)]
    cfg = EmulatorConfig(write_delay_s=1.0, faults=FaultSpec.parse("late-issue=0.2"), seed=5,
                         quotas=False)
    with emulator(cfg, clock) as e:
        e.seed({"sellers": {A: {"listings": [listing(s, 1.0) for s in skus]}}})
        c = Conformant(e, auth.issue_token(e, A), clock)
        c.step = 0.0
        try:
            for s in reversed(skus):
                c.http.patch(f"{items(A)}/{s}", params={"marketplaceIds": US}, json=PRICE)
            clock.advance(2.0)
            got = c.http.get(items(A), params={"marketplaceIds": US,
                                               "withIssueSeverity": "ERROR", "pageSize": "20"})
            hit = got.json()["numberOfResults"]
        finally:
            c.close()
    expected = sum(chance(5, "late-issue", A, s, US) < 0.2 for s in skus)
    assert hit == expected and 20 < hit < 60


# --------------------------------------------------------------------------- 6./7. paths, reads


def test_a_sku_with_a_slash_cannot_be_addressed(emu: Emulator) -> None:
    """models#4727: percent-encoded or not, a '/' SKU cannot be read or written by its path;
    searchListingsItems finds it and a feed writes it."""
    emu.seed({"sellers": {A: {"listings": [listing("MUG/1", 5.0)]}}})
    c = Conformant(emu, auth.issue_token(emu, A))
    c.step = 0.0
    mp = {"marketplaceIds": US}
    try:
        assert c.http.get(f"{items(A)}/MUG%2F1", params=mp).status_code == 404
        for method in ("PUT", "PATCH", "DELETE"):
            r = c.http.request(method, f"{items(A)}/MUG%2F1", params=mp, json=PRICE)
            assert r.status_code == 403 and r.json() == DENIED, method
        # an unencoded '/': no such resource (no route, so not through the Conformant hook)
        with httpx.Client(transport=emu.transport(), base_url="https://x",
                          headers=dict(c.http.headers)) as plain:
            raw = plain.get(f"{items(A)}/MUG/1", params=mp)
        assert raw.status_code == 403 and raw.json() == DENIED
        spapi_models.assert_conforms("listings", "ErrorList", raw.json())
        found = c.http.get(items(A), params={**mp, "identifiers": "MUG/1",
                                             "identifiersType": "SKU"})
        assert [i["sku"] for i in found.json()["items"]] == ["MUG/1"]
    finally:
        c.close()
    assert {("getListingsItem", 404), ("putListingsItem", 403), ("patchListingsItem", 403),
            ("deleteListingsItem", 403), ("searchListingsItems", 200)} <= c.seen


def test_get_with_several_marketplaces_answers_the_first(emu: Emulator) -> None:
    ca = "A2EUQ1WTGCTBG2"
    emu.put_listing_direct(A, "MUG-1", ca, "PRODUCT", {"purchasable_offer": [
        {"marketplace_id": ca, "currency": "CAD", "our_price": [{"schedule": [
            {"value_with_tax": 20.0}]}]}]})
    c = Conformant(emu, auth.issue_token(emu, A))
    c.step = 0.0
    try:
        for mps, first in (([US, ca], US), ([ca, US], ca)):
            r = c.http.get(f"{items(A)}/MUG-1", params={"marketplaceIds": ",".join(mps),
                                                        "includedData": "summaries,offers"})
            assert [s["marketplaceId"] for s in r.json()["summaries"]] == [first]
            assert {o["marketplaceId"] for o in r.json()["offers"]} == {first}
    finally:
        c.close()
