"""Emulator quotas with a fake clock: a burst, then 429 QuotaExceeded (without
x-amzn-RateLimit-Limit), then refills at the models' rates, for getListingsItem,
patchListingsItem, searchListingsItems and createFeed; per-seller buckets; the time scale
multiplies rates; quotas can be switched off; sandbox mode uses 5 rps / burst 15."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from reconciler.emulator import auth, quota
from reconciler.emulator.app import Emulator
from reconciler.emulator.state import EmulatorConfig
from reconciler.kernel.quotas import JSON_LISTINGS_FEED_WINDOW, QUOTAS

SELLER = "A1PP0FEH11RW77"
OTHER = "A2OTHERSELLER9"
US = "ATVPDKIKX0DER"


class Clock:
    def __init__(self) -> None:
        self.t = 10.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


def setup(clock: Clock, **cfg: object) -> tuple[Emulator, httpx.Client]:
    e = Emulator(config=EmulatorConfig(**cfg), clock=clock)  # type: ignore[arg-type]
    e.put_listing_direct(SELLER, "S1", US, "MUG", {})
    c = httpx.Client(
        transport=e.transport(),
        base_url="https://x",
        headers={"x-amz-access-token": auth.issue_token(e, SELLER)},
    )
    return e, c


@pytest.fixture
def env(clock: Clock) -> Iterator[tuple[Emulator, httpx.Client]]:
    e, c = setup(clock)
    yield e, c
    c.close()
    e.close()


CALLS: dict[str, Callable[[httpx.Client, str], httpx.Response]] = {
    "getListingsItem": lambda c, s: c.get(
        f"/listings/2021-08-01/items/{s}/S1", params={"marketplaceIds": US}
    ),
    "patchListingsItem": lambda c, s: c.patch(
        f"/listings/2021-08-01/items/{s}/S1",
        params={"marketplaceIds": US},
        json={
            "productType": "MUG",
            "patches": [
                {
                    "op": "merge",
                    "path": "/attributes/fulfillment_availability",
                    "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 1}],
                }
            ],
        },
    ),
    "searchListingsItems": lambda c, s: c.get(
        f"/listings/2021-08-01/items/{s}", params={"marketplaceIds": US}
    ),
}


def burst_then_429(c: httpx.Client, op: str, seller: str = SELLER, scale: float = 1.0) -> int:
    """How many calls succeed back to back before the first 429."""
    for n in range(100):
        r = CALLS[op](c, seller)
        if r.status_code == 429:
            assert r.json() == {
                "errors": [
                    {
                        "code": "QuotaExceeded",
                        "message": "You exceeded your quota for the requested resource.",
                        "details": "",
                    }
                ]
            }
            assert "x-amzn-RateLimit-Limit" not in r.headers
            assert "x-amzn-RequestId" in r.headers
            return n
        assert r.status_code in (200, 404), r.text
        assert r.headers["x-amzn-RateLimit-Limit"] == str(QUOTAS[op].rate * scale)
    raise AssertionError("never throttled")


@pytest.mark.parametrize("op", sorted(CALLS))
def test_burst_then_429_then_refill_at_the_models_rate(
    env: tuple[Emulator, httpx.Client], clock: Clock, op: str
) -> None:
    _, c = env
    q = QUOTAS[op]
    assert burst_then_429(c, op) == q.burst
    clock.t += 1.0 / q.rate  # exactly one token
    assert CALLS[op](c, SELLER).status_code == 200
    assert CALLS[op](c, SELLER).status_code == 429
    clock.t += 1000  # the bucket fills up to the burst, not beyond
    assert burst_then_429(c, op) == q.burst


def test_buckets_are_per_seller(env: tuple[Emulator, httpx.Client]) -> None:
    e, c = env
    assert burst_then_429(c, "getListingsItem") == QUOTAS["getListingsItem"].burst
    other = {"x-amz-access-token": auth.issue_token(e, OTHER)}  # the other seller's own token
    r = c.get(f"/listings/2021-08-01/items/{OTHER}/S1", params={"marketplaceIds": US},
              headers=other)
    assert r.status_code == 404  # another seller's bucket is full


def test_time_scale_multiplies_rates(clock: Clock) -> None:
    e, c = setup(clock, time_scale=10.0)
    with e, c:
        assert burst_then_429(c, "patchListingsItem", scale=10.0) == 5
        clock.t += 1.0 / 50.0  # 5 rps x 10
        r = CALLS["patchListingsItem"](c, SELLER)
        assert r.status_code == 200
        assert r.headers["x-amzn-RateLimit-Limit"] == "50.0"


def test_quotas_off(clock: Clock) -> None:
    e, c = setup(clock, quotas=False)
    with e, c:
        assert all(CALLS["getListingsItem"](c, SELLER).status_code == 200 for _ in range(50))


def test_create_feed_bucket_and_json_feed_window(clock: Clock) -> None:
    with Emulator(clock=clock) as e:
        q = QUOTAS["createFeed"]
        assert sum(quota.take(e, SELLER, "createFeed") for _ in range(40)) == q.burst == 15
        clock.t += 1.0 / q.rate
        assert quota.take(e, SELLER, "createFeed")
        assert not quota.take(e, SELLER, "createFeed")
        w = JSON_LISTINGS_FEED_WINDOW
        assert sum(quota.take_window(e, "JSON_LISTINGS_FEED", SELLER, w) for _ in range(9)) == 5
        clock.t += 60  # a sliding window: nothing comes back before the first is 300 s old
        assert not quota.take_window(e, "JSON_LISTINGS_FEED", SELLER, w)
        clock.t += 240  # 300 s after the first five: five more
        assert sum(quota.take_window(e, "JSON_LISTINGS_FEED", SELLER, w) for _ in range(9)) == 5
        assert quota.take_window(e, "JSON_LISTINGS_FEED", OTHER, w)  # per seller


def test_create_feed_over_http_if_feeds_module_present(clock: Clock) -> None:
    e, c = setup(clock)
    with e, c:
        if e.module("feeds") is None:
            pytest.skip("feeds module not present")
        codes = [
            c.post(
                "/feeds/2021-06-30/feeds",
                json={
                    "feedType": "JSON_LISTINGS_FEED",
                    "marketplaceIds": [US],
                    "inputFeedDocumentId": "nope",
                },
            ).status_code
            for _ in range(20)
        ]
        # 15 pass the bucket (and fail validation or the feed window), then 429s
        assert codes[15:] == [429] * 5
        assert 429 not in codes[:5]


def test_sandbox_plan(clock: Clock) -> None:
    with Emulator(config=EmulatorConfig(sandbox=True), clock=clock) as e:
        assert quota.rate_header(e, "getFeeds") == "5.0"
        assert sum(quota.take(e, SELLER, "getFeeds") for _ in range(30)) == 15
