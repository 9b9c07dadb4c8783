"""Patch or feed? A wall-time estimate of both apply strategies from Amazon's quotas.

``apply --strategy auto`` writes through whichever strategy :func:`estimate` says finishes
first, and the plan shows the choice and the numbers. The model (all times in seconds, divided
by ``rate_scale`` the way the emulator's time scale speeds up every rate):

- **patch**: one ``patchListingsItem`` per listing under its token bucket (rate r, burst b):
  ``max(0, n - b) / r``. The first b requests go out at once; network latency is hidden by
  concurrency (the client saturates the bucket), so it is not modelled.
- **feed**: one ``JSON_LISTINGS_FEED`` per marketplace and 25,000 messages. Feed i can be
  submitted when ``createFeedDocument``, ``createFeed`` and the feed-type window (5 per 5
  minutes per region) all have a token; Amazon processes one account's feeds one after another
  (``IN_QUEUE`` "may wait on another IN_PROGRESS feed"), each taking ``feed_processing_s`` plus
  ``feed_per_message_s`` per message; the result is seen one poll interval later, and the
  report download waits for ``getFeedDocument``'s bucket.

Listings of one account are written by one worker, region after region, so an account's time is
the sum over its regions; accounts run in parallel, so the total is the max over accounts.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.kernel.quotas import (
    JSON_LISTINGS_FEED_MAX_MESSAGES,
    JSON_LISTINGS_FEED_WINDOW,
    QUOTAS,
)

PATCH_OPERATION = "patchListingsItem"


@dataclass(frozen=True)
class StrategyEstimate:
    chosen: str  # "patch" | "feed"
    patch_seconds: float
    feed_seconds: float
    feeds: int  # JSON_LISTINGS_FEED documents the feed strategy would submit
    listings: int  # listings to write

    def describe(self) -> str:
        if not self.listings:
            return "nothing to write"
        n = self.listings
        feeds = f"{self.feeds} JSON_LISTINGS_FEED{'s' if self.feeds != 1 else ''}"
        patch = f"{_dur(self.patch_seconds)} via patchListingsItem"
        feed = f"{_dur(self.feed_seconds)} via {feeds}"
        first, second = (patch, feed) if self.chosen == "patch" else (feed, patch)
        return f"{self.chosen}: {n} listing{'s' if n != 1 else ''}, est. {first} (vs {second})"


def _dur(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _wait(i: int, burst: int, rate: float) -> float:
    """Seconds until the i-th request (0-based) of a burst at t=0 gets a token."""
    return max(0, i + 1 - burst) / rate


def patch_seconds(n: int, *, rate_scale: float = 1.0) -> float:
    q = QUOTAS[PATCH_OPERATION]
    return max(0, n - q.burst) / (q.rate * rate_scale)


def feed_batches(n: int, per_marketplace: Sequence[int] | None = None) -> list[int]:
    """Message counts of the feeds for ``n`` listings: one marketplace a feed (a feed's messages
    apply to every marketplace named in createFeed), at most 25,000 messages each."""
    sizes = [m for m in per_marketplace if m > 0] if per_marketplace else [n] if n > 0 else []
    out = []
    for m in sizes:
        full, rest = divmod(m, JSON_LISTINGS_FEED_MAX_MESSAGES)
        out += [JSON_LISTINGS_FEED_MAX_MESSAGES] * full + ([rest] if rest else [])
    return out


def feed_seconds(
    n: int,
    *,
    feed_processing_s: float = 300.0,
    feed_per_message_s: float = 0.01,
    rate_scale: float = 1.0,
    poll_interval_s: float = 5.0,
    per_marketplace: Sequence[int] | None = None,
) -> tuple[float, int]:
    """(seconds, feeds) to write ``n`` listings of one account and region through feeds
    (``per_marketplace``: how those listings split over marketplaces, one feed each)."""
    batches = feed_batches(n, per_marketplace)
    if not batches:
        return 0.0, 0
    doc, create, report = (
        QUOTAS["createFeedDocument"],
        QUOTAS["createFeed"],
        QUOTAS["getFeedDocument"],
    )
    window = JSON_LISTINGS_FEED_WINDOW
    end = 0.0
    for i, messages in enumerate(batches):
        submitted = max(
            _wait(i, doc.burst, doc.rate * rate_scale),
            _wait(i, create.burst, create.rate * rate_scale),
            _wait(i, window.burst, window.rate * rate_scale),
        )
        start = max(submitted, end)
        end = start + (feed_processing_s + messages * feed_per_message_s) / rate_scale
    downloads = _wait(len(batches) - 1, report.burst, report.rate * rate_scale)
    return end + poll_interval_s / rate_scale + downloads, len(batches)


def estimate(
    counts: Mapping[tuple[str, str], int],
    *,
    feed_processing_s: float = 300.0,
    feed_per_message_s: float = 0.01,
    rate_scale: float = 1.0,
    per_marketplace: Mapping[tuple[str, str], Sequence[int]] | None = None,
) -> StrategyEstimate:
    """Estimate both strategies for ``counts``: (account, region) -> listings to write.
    ``per_marketplace`` optionally splits each count over marketplaces (one feed each, as
    apply batches them); without it a region's listings are assumed to share feeds."""
    patch: dict[str, float] = {}
    feed: dict[str, float] = {}
    feeds = 0
    for (account, _region), n in sorted(counts.items()):
        if n <= 0:
            continue
        patch[account] = patch.get(account, 0.0) + patch_seconds(n, rate_scale=rate_scale)
        f, k = feed_seconds(
            n,
            feed_processing_s=feed_processing_s,
            feed_per_message_s=feed_per_message_s,
            rate_scale=rate_scale,
            per_marketplace=(per_marketplace or {}).get((account, _region)),
        )
        feed[account] = feed.get(account, 0.0) + f
        feeds += k
    p = round(max(patch.values(), default=0.0), 1)
    f = round(max(feed.values(), default=0.0), 1)
    listings = sum(n for n in counts.values() if n > 0)
    chosen = "feed" if listings and f < p else "patch"
    return StrategyEstimate(chosen, p, f, feeds, listings)
