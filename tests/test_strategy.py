"""strategy.estimate with worked numbers (patchListingsItem 5 rps burst 5; JSON_LISTINGS_FEED
25,000 messages a feed, 300 s processing + 0.01 s a message, sequential per account, 5 s poll)."""

from __future__ import annotations

import pytest

from reconciler.kernel.model import ListingKey
from reconciler.plan.strategy import (
    StrategyEstimate,
    estimate,
    feed_only_counts,
    feed_seconds,
    patch_seconds,
    path_addressable,
)


def test_ten_listings_patch() -> None:
    e = estimate({("main", "NA"): 10})
    # patch: (10 - 5 burst) / 5 rps = 1 s; feed: 300 + 10 * 0.01 + 5 poll = 305.1 s
    assert e == StrategyEstimate("patch", 1.0, 305.1, 1, 10)


def test_thirty_thousand_listings_feed() -> None:
    e = estimate({("main", "NA"): 30_000})
    # patch: 29,995 / 5 = 5999 s, then 1,500 searches of 20 read them back: 1,495 / 5 = 299 s;
    # feed: 2 feeds one after another: (300 + 250) + (300 + 50) + 5 = 905 s, then the last
    # feed's 5,000 listings are read back: 250 searches, 245 / 5 = 49 s
    assert e == StrategyEstimate("feed", 6298.0, 954.0, 2, 30_000)


def test_crossover_is_about_1650_listings() -> None:
    assert estimate({("a", "NA"): 1600}).chosen == "patch"  # 319 s vs 321 s
    assert estimate({("a", "NA"): 1700}).chosen == "feed"  # 339 s vs 322 s


def test_accounts_in_parallel_regions_of_one_account_in_sequence() -> None:
    parallel = estimate({("a", "NA"): 10, ("b", "EU"): 10})
    assert (parallel.patch_seconds, parallel.feed_seconds, parallel.listings) == (1.0, 305.1, 20)
    serial = estimate({("a", "NA"): 10, ("a", "EU"): 10})
    assert (serial.patch_seconds, serial.feed_seconds, serial.feeds) == (2.0, 610.2, 2)
    mixed = estimate({("a", "NA"): 10, ("b", "EU"): 30_000})
    assert (mixed.chosen, mixed.patch_seconds, mixed.feed_seconds) == ("feed", 6298.0, 954.0)


def test_rate_scale_divides_every_time() -> None:
    e = estimate({("main", "NA"): 30_000}, rate_scale=10)
    assert (e.patch_seconds, e.feed_seconds) == (629.8, 95.4)


def test_feed_window_limits_submissions() -> None:
    # 6 feeds with instant processing: the 6th waits for the second 5-minute window (at most 5
    # submissions in any 300 s), createFeed's own bucket (burst 15) and createFeedDocument's
    # (burst 15) do not bind yet.
    s, k = feed_seconds(150_000, feed_processing_s=0, feed_per_message_s=0, poll_interval_s=0)
    assert k == 6 and s == pytest.approx(300.0)
    # 17 feeds: the 16th and 17th wait for the fourth window (900 s; createFeed's bucket would
    # allow the 17th after 2 / 0.0083 = 241 s), then 7 report downloads wait for
    # getFeedDocument (burst 10, 0.0222 rps)
    s, k = feed_seconds(17 * 25_000, feed_processing_s=0, feed_per_message_s=0, poll_interval_s=0)
    assert k == 17 and s == pytest.approx(3 * 300 + (17 - 10) / 0.0222, rel=1e-6)
    # eight marketplaces of 300 listings, 5 s of processing each: the last three feeds are
    # submitted at 300 s and processed one after another
    s, k = feed_seconds(2400, feed_processing_s=5, feed_per_message_s=0, poll_interval_s=0,
                        per_marketplace=[300] * 8)
    assert k == 8 and s == pytest.approx(300 + 3 * 5)


def test_skus_no_path_can_address_go_by_feed_under_patch() -> None:
    ca = "A2EUQ1WTGCTBG2"
    keys = [ListingKey("main", "MUG/1", "ATVPDKIKX0DER"), ListingKey("main", "MUG-2", "X"),
            ListingKey("main", "A/B", ca), ListingKey("main", "C/D", ca)]
    only = feed_only_counts(keys, {"main": "NA"})
    assert only == {("main", "NA"): [2, 1]}  # sorted by marketplace id
    # all ten through feeds, here one feed: the patch strategy cannot beat it (it needs feeds too)
    e = estimate({("main", "NA"): 10}, feed_only=only)
    assert e.chosen == "feed" and e.feed_only == 3
    # 7 patches (within the burst: 0.4 s) then two feeds of the three listings
    assert e.patch_seconds == pytest.approx(0.4 + feed_seconds(3, per_marketplace=[2, 1])[0],
                                            abs=0.1)
    # 40 listings over eight marketplaces (eight feeds one after another), one SKU with '/'
    e = estimate({("main", "EU"): 40}, per_marketplace={("main", "EU"): [5] * 8},
                 feed_only={("main", "EU"): [1]})
    assert e.chosen == "patch" and e.feed_only == 1
    assert e.patch_seconds == pytest.approx(34 / 5 + feed_seconds(1)[0], abs=0.1)
    assert e.describe().endswith(
        "; 1 listing by JSON_LISTINGS_FEED anyway (SKU with '/': no path can address it)")
    assert "via patchListingsItem and feeds" in e.describe()
    assert "anyway" not in estimate({("main", "EU"): 40}).describe()
    assert not path_addressable("MUG/1") and path_addressable("MUG 1#2")


def test_nothing_to_write() -> None:
    e = estimate({})
    assert e == StrategyEstimate("patch", 0.0, 0.0, 0, 0)
    assert e.describe() == "nothing to write"
    assert patch_seconds(3) == 0.0 and feed_seconds(0) == (0.0, 0)


def test_describe() -> None:
    assert estimate({("main", "NA"): 10}).describe() == (
        "patch: 10 listings, est. 1.0 s via patchListingsItem (vs 5.1 min via 1 JSON_LISTINGS_FEED)"
    )
    assert estimate({("main", "NA"): 30_000}).describe() == (
        "feed: 30000 listings, est. 15.9 min via 2 JSON_LISTINGS_FEEDs (vs "
        "105.0 min via patchListingsItem)"
    )


def test_one_feed_per_marketplace() -> None:
    # apply sends one feed a marketplace: 3 marketplaces of 10 listings = 3 feeds processed one
    # after another: 3 * (300 + 0.1) + 5 = 905.3 s
    e = estimate({("main", "NA"): 30}, per_marketplace={("main", "NA"): [10, 10, 10]})
    assert (e.feeds, e.feed_seconds, e.patch_seconds) == (3, 905.3, 5.0)
    # a marketplace over 25,000 messages still splits
    s, k = feed_seconds(30_010, per_marketplace=[30_000, 10])
    assert k == 3 and s == pytest.approx(300 + 250 + 300 + 50 + 300 + 0.1 + 5)


def test_the_plan_carries_the_feed_only_note_through_its_json() -> None:
    """build_plan counts the listings no path can address; a saved plan keeps the note, and a
    plan without any keeps its bytes (no new key)."""
    import dataclasses

    from reconciler.plan.builder import build_plan
    from reconciler.plan.value import Plan
    from tests import applyutil as au

    desired = au.desired_state(3, marketplaces=(au.CA,))
    slashed = tuple(
        dataclasses.replace(d, key=ListingKey(d.key.account, d.key.sku.replace("-", "/"),
                                              d.key.marketplace_id))
        if d.key.sku == "SKU-00001" else d
        for d in desired.listings
    )
    plan = build_plan(dataclasses.replace(desired, listings=slashed), {})
    assert plan.strategy is not None and plan.strategy.feed_only == 1
    assert plan.data()["strategy"]["feed_only"] == 1
    again = Plan.from_data(plan.data())
    assert again.strategy == plan.strategy
    assert again.strategy is not None and again.strategy.chosen == "patch"  # a tie: patch
    assert again.strategy.describe().endswith(
        "; 1 listing by JSON_LISTINGS_FEED anyway (SKU with '/': no path can address it)")
    plain = build_plan(desired, {})
    assert plain.strategy is not None and "feed_only" not in plain.data()["strategy"]
