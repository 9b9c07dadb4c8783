"""The client against the in-process emulator (same protocol as Amazon, no sockets):

- LWA exchange, then reads/writes round-trip; SKUs with spaces, slashes and non-ASCII;
- typed errors from real emulator responses (404 for an unknown SKU, 400 for bad input);
- token expiry: refresh ahead of expiry and the one refresh + retry on an expired-token 403;
- quota: with the client's buckets the emulator never throttles, at the models' rates; the
  client follows the scaled ``x-amzn-RateLimit-Limit``;
- injected 429/5xx/reset faults are absorbed by bounded retries;
- the JSON_LISTINGS_FEED lifecycle through the client (upload/download URLs served by the
  emulator, GZIP report).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.emulator import auth as emu_auth
from reconciler.emulator.app import Emulator
from reconciler.emulator.faults import FaultSpec
from reconciler.emulator.state import EmulatorConfig
from reconciler.kernel.errors import InvalidRequestError, NotFoundError
from reconciler.spapi.client import SpApiClient
from tests.spapi_fakes import FakeClock

SELLER = "A1PP0FEH11RW77"
US = "ATVPDKIKX0DER"
BASE = "https://sellingpartnerapi-na.amazon.com"


def listing(sku: str, price: str = "19.99", qty: int = 5) -> dict[str, Any]:
    return {
        "sku": sku,
        "marketplaceId": US,
        "productType": "PRODUCT",
        "attributes": {
            "item_name": [{"value": f"Item {sku}", "language_tag": "en_US", "marketplace_id": US}],
            "purchasable_offer": [
                {
                    "marketplace_id": US,
                    "currency": "USD",
                    "audience": "ALL",
                    "our_price": [{"schedule": [{"value_with_tax": float(price)}]}],
                }
            ],
            "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": qty}],
        },
    }


def make(
    clock: FakeClock, config: EmulatorConfig | None = None, **kw: Any
) -> tuple[Emulator, SpApiClient]:
    emu = Emulator(":memory:", config or EmulatorConfig(write_delay_s=0.0), clock=clock,
                   sleep=clock.sleep)
    emu_auth.register_refresh_token(emu, "Atzr|emulator-integration-refresh", seller_id=SELLER)
    client = SpApiClient(
        seller_id=SELLER,
        base_url=BASE,
        token_url="https://api.amazon.com/auth/o2/token",
        refresh_token="Atzr|emulator-integration-refresh",
        client_id="amzn1.application-oa2-client.it",
        client_secret="emulator-integration-secret",
        transport=emu.transport(),
        clock=clock,
        sleep=clock.sleep,
        **kw,
    )
    return emu, client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_000_000.0)  # float steps of 0.2 s stay exact enough at this magnitude


@pytest.fixture
def pair(clock: FakeClock) -> Iterator[tuple[Emulator, SpApiClient]]:
    emu, client = make(clock)
    emu.seed({"sellers": {SELLER: {"listings": [listing("MUG-1"), listing("my sku#α+%")]}}})
    yield emu, client
    client.close()
    emu.close()


def our_price(item: dict[str, Any]) -> float:
    offer = item["attributes"]["purchasable_offer"][0]
    return float(offer["our_price"][0]["schedule"][0]["value_with_tax"])


def test_get_patch_get_round_trip_with_awkward_sku(pair: tuple[Emulator, SpApiClient]) -> None:
    emu, client = pair
    sku = "my sku#α+%"  # a '/' cannot be addressed at all: test_emulator_strict
    item = client.get_listings_item(sku, [US])
    assert item["sku"] == sku and our_price(item) == 19.99
    res = client.patch_listings_item(
        sku,
        [US],
        {
            "productType": "PRODUCT",
            "patches": [
                {
                    "op": "replace",
                    "path": "/attributes/fulfillment_availability",
                    "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 0}],
                }
            ],
        },
    )
    assert res["status"] == "ACCEPTED"
    again = client.get_listings_item(sku, [US])
    assert again["fulfillmentAvailability"] == [
        {"fulfillmentChannelCode": "DEFAULT", "quantity": 0}
    ]
    paths = {c.path for c in emu.calls("getListingsItem")}
    assert paths == {f"/listings/2021-08-01/items/{SELLER}/my%20sku%23%CE%B1%2B%25"}


def test_typed_errors_from_emulator(pair: tuple[Emulator, SpApiClient]) -> None:
    _, client = pair
    with pytest.raises(NotFoundError) as ei:
        client.get_listings_item("NOPE", [US])
    assert ei.value.request_id
    assert ei.value.errors and ei.value.errors[0].code
    with pytest.raises(InvalidRequestError):
        client.get_listings_item("MUG-1", [US], included_data=["bogus"])


def test_search_by_identifiers(pair: tuple[Emulator, SpApiClient]) -> None:
    _, client = pair
    page = client.search_listings_items([US], identifiers=["MUG-1", "my sku#α+%", "NOPE"])
    assert sorted(i["sku"] for i in page["items"]) == ["MUG-1", "my sku#α+%"]


def test_expired_token_is_refreshed_once(pair: tuple[Emulator, SpApiClient]) -> None:
    emu, client = pair
    client.get_listings_item("MUG-1", [US])
    emu_auth.expire(emu, client.tokens.token())
    client.get_listings_item("MUG-1", [US])
    assert client.tokens.fetches == 2
    statuses = [c.status for c in emu.calls("getListingsItem")]
    assert statuses == [200, 403, 200]


def test_token_refreshed_ahead_of_expiry(clock: FakeClock) -> None:
    emu, client = make(clock, EmulatorConfig(token_ttl_s=600))
    emu.seed({"sellers": {SELLER: {"listings": [listing("MUG-1")]}}})
    with emu, client:
        client.get_listings_item("MUG-1", [US])
        clock.advance(590)  # inside the refresh margin (60 s), before the emulator's expiry
        client.get_listings_item("MUG-1", [US])
        assert client.tokens.fetches == 2
        assert [c.status for c in emu.calls("getListingsItem")] == [200, 200]


def test_client_buckets_keep_emulator_from_throttling(clock: FakeClock) -> None:
    emu, client = make(clock)
    emu.seed({"sellers": {SELLER: {"listings": [listing("MUG-1")]}}})
    with emu, client:
        start = clock()
        for _ in range(40):
            client.get_listings_item("MUG-1", [US])
        elapsed = clock() - start
        calls = emu.calls("getListingsItem")
    assert [c.status for c in calls] == [200] * 40
    # getListingsItem: burst 5 (4 used: one token of headroom) then 5/s -> 36 more need
    # 7.2 s: saturated, never over
    assert elapsed == pytest.approx(7.2, abs=0.01)


def test_previews_are_paced_by_their_own_limit(clock: FakeClock) -> None:
    """mode=VALIDATION_PREVIEW: one a second per seller (quotas.py); the client's preview
    bucket paces them so the emulator never throttles, and patches keep their own bucket."""
    emu, client = make(clock)
    emu.seed({"sellers": {SELLER: {"listings": [listing("MUG-1")]}}})
    body = {"productType": "PRODUCT", "patches": [{
        "op": "merge", "path": "/attributes/fulfillment_availability",
        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 4}]}]}
    with emu, client:
        start = clock()
        got = [client.patch_listings_item("MUG-1", [US], body, mode="VALIDATION_PREVIEW")
               for _ in range(6)]
        elapsed = clock() - start
        client.patch_listings_item("MUG-1", [US], body)
        statuses = [c.status for c in emu.calls("patchListingsItem")]
    assert {g["status"] for g in got} == {"VALID"}
    assert statuses == [200] * 7
    assert elapsed == pytest.approx(5.0, abs=0.01)  # burst 1, then one a second


def test_client_follows_scaled_rate_header(clock: FakeClock) -> None:
    emu, client = make(clock, EmulatorConfig(time_scale=10.0))
    emu.seed({"sellers": {SELLER: {"listings": [listing("MUG-1")]}}})
    with emu, client:
        client.get_listings_item("MUG-1", [US])
        assert client.limiter.bucket("getListingsItem").rate == pytest.approx(50.0)


def test_faults_are_absorbed_by_retries(clock: FakeClock) -> None:
    faults = FaultSpec.parse("429=0.2,500=0.1,503=0.1,reset=0.05")
    emu, client = make(clock, EmulatorConfig(faults=faults, seed=7))
    emu.seed({"sellers": {SELLER: {"listings": [listing(f"S{i}") for i in range(10)]}}})
    with emu, client:
        for i in range(10):
            assert client.get_listings_item(f"S{i}", [US])["sku"] == f"S{i}"
        snap = client.stats.snapshot()["getListingsItem"]
        faulted = [c for c in emu.calls("getListingsItem") if c.fault]
    assert faulted, "the fault spec should have fired at least once"
    assert snap["retries"] == len(faulted)
    assert snap["errors"] == 0


def test_feed_lifecycle_through_the_client(clock: FakeClock) -> None:
    emu, client = make(clock, EmulatorConfig(feed_processing_s=1.0, write_delay_s=0.0))
    emu.seed({"sellers": {SELLER: {"listings": [listing("MUG-1")]}}})
    feed = {
        "header": {"sellerId": SELLER, "version": "2.0", "issueLocale": "en_US"},
        "messages": [
            {
                "messageId": 1,
                "sku": "MUG-1",
                "operationType": "PATCH",
                "productType": "PRODUCT",
                "patches": [
                    {
                        "op": "replace",
                        "path": "/attributes/fulfillment_availability",
                        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 9}],
                    }
                ],
            }
        ],
    }
    ct = "application/json; charset=UTF-8"
    with emu, client:
        doc = client.create_feed_document(ct)
        client.upload_feed_document(doc["url"], json.dumps(feed).encode(), ct)
        feed_id = client.create_feed("JSON_LISTINGS_FEED", [US], doc["feedDocumentId"])
        status = ""
        for _ in range(30):
            f = client.get_feed(feed_id)
            status = f["processingStatus"]
            if status in ("DONE", "FATAL", "CANCELLED"):
                break
            clock.advance(1.0)
        assert status == "DONE"
        report = json.loads(
            client.download_feed_document(client.get_feed_document(f["resultFeedDocumentId"]))
        )
        assert report["summary"]["messagesAccepted"] == 1
        item = client.get_listings_item("MUG-1", [US])
    assert item["fulfillmentAvailability"] == [{"fulfillmentChannelCode": "DEFAULT", "quantity": 9}]


def test_client_for_a_loopback_server_over_real_http(tmp_path: Any) -> None:
    """``endpoint: http://127.0.0.1:PORT`` (a local ``reconciler emulator serve``): real
    sockets, httpx's own transport, the token from the server's /auth/o2/token."""
    from reconciler.emulator.server import running
    from reconciler.kernel.model import Account
    from reconciler.live.reader import read_listings
    from reconciler.spapi.connect import client_for

    env = {
        "SP_API_REFRESH_TOKEN": "Atzr|loopback-refresh-secret",
        "LWA_APP_ID": "amzn1.application-oa2-client.loopback",
        "LWA_CLIENT_SECRET": "loopback-client-secret",
    }
    skus = [f"HTTP SKU/{i:02d}" for i in range(45)]
    with Emulator(config=EmulatorConfig()) as emu:
        emu.seed({"sellers": {SELLER: {"listings": [listing(s) for s in skus]}},
                  "refreshTokens": [{"refreshToken": env["SP_API_REFRESH_TOKEN"],
                                     "sellerId": SELLER}]})
        with running(emu) as url:
            acc = Account(
                name="local", seller_id=SELLER, region="NA", endpoint=url, marketplaces=()
            )
            with client_for(acc, state_dir=str(tmp_path), env=env) as client:
                got = read_listings(client, US, [*skus, "NOPE"])
                with pytest.raises(NotFoundError):
                    client.get_listings_item("NOPE", [US])
        assert [c.status for c in emu.calls("lwaToken")] == [200]
        assert len(emu.calls("searchListingsItems")) == 3  # ceil(46 / 20)
    assert got["NOPE"] is None
    assert all(got[s] is not None and got[s]["sku"] == s for s in skus)


def _upload(client: SpApiClient) -> str:
    ct = "application/json"
    doc = client.create_feed_document(ct)
    client.upload_feed_document(doc["url"], json.dumps({
        "header": {"sellerId": SELLER, "version": "2.0"},
        "messages": [{"messageId": 1, "sku": "MUG-1", "operationType": "DELETE"}]}).encode(), ct)
    return str(doc["feedDocumentId"])


def test_create_feed_is_paced_by_the_json_listings_feed_window(clock: FakeClock) -> None:
    """Seven JSON_LISTINGS_FEEDs: five at once, the sixth and seventh 300 s after the first,
    with no 429 (the client waits for the window rather than retrying into it)."""
    emu, client = make(clock)
    with emu, client:
        start = clock()
        times = []
        for _ in range(7):
            client.create_feed("JSON_LISTINGS_FEED", [US], _upload(client))
            times.append(clock() - start)
        statuses = [c.status for c in emu.calls("createFeed")]
    assert statuses == [202] * 7
    assert times[:5] == pytest.approx([0.0] * 5, abs=2.0)  # document uploads take a little
    assert times[5] >= 300.0 and times[6] >= 300.0 and times[6] < 310.0


def test_a_window_used_elsewhere_costs_one_429_and_a_wait(clock: FakeClock) -> None:
    """Another tool used this seller's window: the first createFeed gets 429, the client counts
    the window as full from then and submits again once it has passed (never a burst of
    retries)."""
    from reconciler.emulator import quota
    from reconciler.kernel.quotas import JSON_LISTINGS_FEED_WINDOW

    emu, client = make(clock)
    with emu, client:
        for _ in range(5):
            assert quota.take_window(emu, "JSON_LISTINGS_FEED:NA", SELLER,
                                     JSON_LISTINGS_FEED_WINDOW)
        doc = _upload(client)
        start = clock()
        client.create_feed("JSON_LISTINGS_FEED", [US], doc)
        waited = clock() - start
        statuses = [c.status for c in emu.calls("createFeed")]
    assert statuses == [429, 202]
    assert 300.0 <= waited < 301.0


def test_the_journal_carries_the_window_to_the_next_run(tmp_path: Any, clock: FakeClock) -> None:
    from reconciler.apply import feeds as feedrun

    j = feedrun.Journal(str(tmp_path), "na")
    for _ in range(5):
        j.record_submission()
    emu, client = make(clock)
    with emu, client:
        assert client.feed_submission_wait() == 0.0
        client.feed_window.seed(feedrun.Journal(str(tmp_path), "na").submission_ages())
        assert 290.0 < client.feed_submission_wait() <= 300.0
