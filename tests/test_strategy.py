"""strategy.estimate with worked numbers (patchListingsItem 5 rps burst 5; JSON_LISTINGS_FEED
25,000 messages a feed, 300 s processing + 0.01 s a message, sequential per account, 5 s poll)."""

from __future__ import annotations

import pytest

from reconciler.plan.strategy import StrategyEstimate, estimate, feed_seconds, patch_seconds


def test_ten_listings_patch() -> None:
    e = estimate({("main", "NA"): 10})
    # patch: (10 - 5 burst) / 5 rps = 1 s; feed: 300 + 10 * 0.01 + 5 poll = 305.1 s
    assert e == StrategyEstimate("patch", 1.0, 305.1, 1, 10)


def test_thirty_thousand_listings_feed() -> None:
    e = estimate({("main", "NA"): 30_000})
    # patch: 29,995 / 5 = 5999 s; feed: 2 feeds one after another:
    # (300 + 250) + (300 + 50) + 5 = 905 s
    assert e == StrategyEstimate("feed", 5999.0, 905.0, 2, 30_000)


def test_crossover_is_about_1650_listings() -> None:
    assert estimate({("a", "NA"): 1600}).chosen == "patch"  # 319 s vs 321 s
    assert estimate({("a", "NA"): 1700}).chosen == "feed"  # 339 s vs 322 s


def test_accounts_in_parallel_regions_of_one_account_in_sequence() -> None:
    parallel = estimate({("a", "NA"): 10, ("b", "EU"): 10})
    assert (parallel.patch_seconds, parallel.feed_seconds, parallel.listings) == (1.0, 305.1, 20)
    serial = estimate({("a", "NA"): 10, ("a", "EU"): 10})
    assert (serial.patch_seconds, serial.feed_seconds, serial.feeds) == (2.0, 610.2, 2)
    mixed = estimate({("a", "NA"): 10, ("b", "EU"): 30_000})
    assert (mixed.chosen, mixed.patch_seconds, mixed.feed_seconds) == ("feed", 5999.0, 905.0)


def test_rate_scale_divides_every_time() -> None:
    e = estimate({("main", "NA"): 30_000}, rate_scale=10)
    assert (e.patch_seconds, e.feed_seconds) == (599.9, 90.5)


def test_feed_window_limits_submissions() -> None:
    # 6 feeds with instant processing: the 6th waits for the 5-per-5-minutes window (60 s),
    # createFeed's own bucket (burst 15) and createFeedDocument's (burst 15) do not bind yet.
    s, k = feed_seconds(150_000, feed_processing_s=0, feed_per_message_s=0, poll_interval_s=0)
    assert k == 6 and s == pytest.approx(60.0)
    # 17 feeds: the 17th waits 12 windows slots (720 s; createFeed's bucket would allow it after
    # 2 / 0.0083 = 241 s), then 7 report downloads wait for getFeedDocument (burst 10, 0.0222 rps)
    s, k = feed_seconds(17 * 25_000, feed_processing_s=0, feed_per_message_s=0, poll_interval_s=0)
    assert k == 17 and s == pytest.approx(12 * 60 + (17 - 10) / 0.0222, rel=1e-6)


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
        "feed: 30000 listings, est. 15.1 min via 2 JSON_LISTINGS_FEEDs (vs "
        "100.0 min via patchListingsItem)"
    )


def test_one_feed_per_marketplace() -> None:
    # apply sends one feed a marketplace: 3 marketplaces of 10 listings = 3 feeds processed one
    # after another: 3 * (300 + 0.1) + 5 = 905.3 s
    e = estimate({("main", "NA"): 30}, per_marketplace={("main", "NA"): [10, 10, 10]})
    assert (e.feeds, e.feed_seconds, e.patch_seconds) == (3, 905.3, 5.0)
    # a marketplace over 25,000 messages still splits
    s, k = feed_seconds(30_010, per_marketplace=[30_000, 10])
    assert k == 3 and s == pytest.approx(300 + 250 + 300 + 50 + 300 + 0.1 + 5)
