"""strategy estimates under non-default quota scales and timings (tests/test_strategy.py has the
worked numbers at Amazon's published rates).

Every time of the model is divided by ``rate_scale``, whichever quota binds (the feed-type
window, createFeed, createFeedDocument or getFeedDocument); timings passed to ``estimate`` reach
the feed model; ties go to patch; batches split at exactly 25,000 messages; durations switch
units at exactly 2 minutes and 2 hours.
"""

from __future__ import annotations

import pytest

from reconciler.kernel.quotas import JSON_LISTINGS_FEED_MAX_MESSAGES as MAX
from reconciler.plan.strategy import (
    StrategyEstimate,
    estimate,
    feed_batches,
    feed_seconds,
    patch_seconds,
)

INSTANT = {"feed_processing_s": 0.0, "feed_per_message_s": 0.0, "poll_interval_s": 0.0}


@pytest.mark.parametrize("feeds", [1, 6, 16, 17, 30, 60])
@pytest.mark.parametrize("scale", [0.5, 10.0, 60.0, 1000.0])
def test_every_wait_is_divided_by_the_rate_scale(feeds: int, scale: float) -> None:
    n = feeds * MAX
    for timing in (INSTANT, {"feed_processing_s": 300.0, "feed_per_message_s": 0.01}):
        s1, k1 = feed_seconds(n, **timing)  # type: ignore[arg-type]
        s, k = feed_seconds(n, rate_scale=scale, **timing)  # type: ignore[arg-type]
        assert k == k1 == feeds
        assert s == pytest.approx(s1 / scale, rel=1e-9)
    assert patch_seconds(n, rate_scale=scale) == pytest.approx(patch_seconds(n) / scale)


def test_thirty_instant_feeds_at_ten_times_the_rate() -> None:
    # feed 30 waits for the window (25 slots of 60 s = 1500 s), createFeedDocument (15 tokens
    # at 0.5/s = 30 s) and createFeed (15 tokens at 0.0083/s = 1807 s): createFeed binds; then
    # 20 downloads over getFeedDocument's burst of 10 at 0.0222/s; all of it 10 times faster.
    s, k = feed_seconds(30 * MAX, rate_scale=10, **INSTANT)  # type: ignore[arg-type]
    assert k == 30
    assert s == pytest.approx((15 / 0.0083 + 20 / 0.0222) / 10, rel=1e-9)


def test_processing_time_and_poll_scale_too() -> None:
    s, k = feed_seconds(10, rate_scale=4, feed_processing_s=100, feed_per_message_s=1,
                        poll_interval_s=8)
    assert (s, k) == (pytest.approx((100 + 10 + 8) / 4), 1)


def test_patch_under_a_scale() -> None:
    assert patch_seconds(5, rate_scale=3) == 0.0
    assert patch_seconds(6, rate_scale=2) == pytest.approx(0.1)
    assert patch_seconds(105, rate_scale=0.5) == pytest.approx(40.0)


def test_estimate_passes_its_timings_to_the_feed_model() -> None:
    e = estimate({("main", "NA"): 10}, feed_processing_s=60, feed_per_message_s=0.1)
    assert e == StrategyEstimate("patch", 1.0, 66.0, 1, 10)  # 60 + 10 × 0.1 + 5 poll
    e = estimate({("main", "NA"): 10}, feed_processing_s=0, feed_per_message_s=0, rate_scale=2)
    assert e == StrategyEstimate("patch", 0.5, 2.5, 1, 10)
    e = estimate({("main", "NA"): 100}, feed_processing_s=0, feed_per_message_s=0)
    assert e == StrategyEstimate("feed", 19.0, 5.0, 1, 100)


def test_a_tie_goes_to_patch() -> None:
    # patch: (30 - 5) / 5 = 5.0 s; feed: 0 + 0 + 5 s poll = 5.0 s
    e = estimate({("a", "NA"): 30}, feed_processing_s=0, feed_per_message_s=0)
    assert (e.chosen, e.patch_seconds, e.feed_seconds) == ("patch", 5.0, 5.0)


def test_empty_and_negative_counts_write_nothing() -> None:
    e = estimate({("a", "NA"): 0, ("b", "NA"): -3, ("c", "EU"): 10})
    assert e == StrategyEstimate("patch", 1.0, 305.1, 1, 10)
    assert estimate({("a", "NA"): -1}) == StrategyEstimate("patch", 0.0, 0.0, 0, 0)


def test_per_marketplace_split_is_looked_up_by_account_and_region() -> None:
    counts = {("a", "NA"): 20, ("a", "EU"): 10}
    split = {("a", "NA"): [10, 10], ("b", "EU"): [5, 5]}
    e = estimate(counts, per_marketplace=split)
    # NA: two feeds (300.1 each, one after another) + 5; EU: no split given, one feed
    assert (e.feeds, e.feed_seconds) == (3, round(2 * 300.1 + 5 + 300.1 + 5, 1))


def test_batches_split_at_exactly_the_message_limit() -> None:
    assert feed_batches(MAX) == [MAX]
    assert feed_batches(MAX + 1) == [MAX, 1]
    assert feed_batches(2 * MAX) == [MAX, MAX]
    assert feed_batches(0) == [] and feed_batches(-5) == []
    assert feed_batches(7, [3, 0, 4]) == [3, 4]
    assert feed_batches(7, []) == [7]  # no split known: one region-wide batch


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(119.94, "119.9 s"), (120.0, "2.0 min"), (7199.0, "120.0 min"), (7200.0, "2.0 h"),
     (8101.0, "2.3 h")],
)
def test_durations_switch_units_at_two_minutes_and_two_hours(seconds: float, text: str) -> None:
    e = StrategyEstimate("patch", seconds, 9000.0, 1, 3)
    assert e.describe() == (
        f"patch: 3 listings, est. {text} via patchListingsItem (vs 2.5 h via 1 JSON_LISTINGS_FEED)"
    )


def test_describe_a_single_listing_and_feed() -> None:
    assert StrategyEstimate("feed", 60.0, 30.0, 1, 1).describe() == (
        "feed: 1 listing, est. 30.0 s via 1 JSON_LISTINGS_FEED (vs 60.0 s via patchListingsItem)"
    )
    assert StrategyEstimate("feed", 60.0, 30.0, 2, 2).describe() == (
        "feed: 2 listings, est. 30.0 s via 2 JSON_LISTINGS_FEEDs (vs 60.0 s via patchListingsItem)"
    )


def test_estimates_are_rounded_to_a_tenth_of_a_second() -> None:
    e = estimate({("main", "NA"): 10}, rate_scale=3)  # patch: 5 / 15 = 0.333 s
    assert (e.patch_seconds, e.feed_seconds) == (0.3, 101.7)  # feed: 305.1 / 3
