"""Patch or feed? A wall-time estimate of both apply strategies from Amazon's quotas.

``apply --strategy auto`` writes through whichever strategy :func:`estimate` says finishes
first, and the plan shows the choice and the numbers. The model (all times in seconds, divided
by ``rate_scale`` the way the emulator's time scale speeds up every rate):

- **patch**: one ``patchListingsItem`` per listing under its token bucket (rate r, burst b):
  ``max(0, n - b) / r``. The first b requests go out at once; network latency is hidden by
  concurrency (the client saturates the bucket), so it is not modelled.
- **feed**: one ``JSON_LISTINGS_FEED`` per marketplace and 25,000 messages. Feed i can be
  submitted when ``createFeedDocument``, ``createFeed`` and the feed-type window (5 submissions
  in any 5 minutes per region, ``quotas.JSON_LISTINGS_FEED_WINDOW``: feeds 6 to 10 wait for the
  second window) all allow it; Amazon processes one account's feeds one after another
  (``IN_QUEUE`` "may wait on another IN_PROGRESS feed"), each taking ``feed_processing_s`` plus
  ``feed_per_message_s`` per message; the result is seen one poll interval later, and the
  report download waits for ``getFeedDocument``'s bucket.
- **SKUs a path cannot address** (a ``/`` in the SKU, :func:`path_addressable`) go through a
  feed whatever the strategy: under ``patch`` an account's time is the patches of the others
  plus the feeds of those (``feed_only``), and :meth:`StrategyEstimate.describe` says so.

Listings of one account are written by one worker, region after region, so an account's time is
the sum over its regions; accounts run in parallel, so the total is the max over accounts.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.kernel.model import ListingKey
from reconciler.kernel.quotas import (
    JSON_LISTINGS_FEED_MAX_MESSAGES,
    JSON_LISTINGS_FEED_WINDOW,
    QUOTAS,
    window_wait,
)

PATCH_OPERATION = "patchListingsItem"


def path_addressable(sku: str) -> bool:
    """Whether a Listings Items path can address ``sku``. One with ``/`` cannot, not even
    percent-encoded: Amazon answers 403 or does not find it (models#4727, models#4429), so its
    listings are written through JSON_LISTINGS_FEED whatever the strategy."""
    return "/" not in sku


@dataclass(frozen=True)
class StrategyEstimate:
    chosen: str  # "patch" | "feed"
    patch_seconds: float
    feed_seconds: float
    feeds: int  # JSON_LISTINGS_FEED documents the feed strategy would submit
    listings: int  # listings to write
    feed_only: int = 0  # listings a path cannot address: written by feed under either strategy

    def describe(self) -> str:
        if not self.listings:
            return "nothing to write"
        n = self.listings
        feeds = f"{self.feeds} JSON_LISTINGS_FEED{'s' if self.feeds != 1 else ''}"
        patch = f"{_dur(self.patch_seconds)} via patchListingsItem"
        if self.feed_only:
            patch += " and feeds"
        feed = f"{_dur(self.feed_seconds)} via {feeds}"
        first, second = (patch, feed) if self.chosen == "patch" else (feed, patch)
        line = f"{self.chosen}: {n} listing{'s' if n != 1 else ''}, est. {first} (vs {second})"
        if self.feed_only and self.chosen == "patch":
            k = self.feed_only
            line += (
                f"; {k} listing{'s' if k != 1 else ''} by JSON_LISTINGS_FEED anyway"
                " (SKU with '/': no path can address it)"
            )
        return line


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
    end = 0.0
    for i, messages in enumerate(batches):
        submitted = max(
            _wait(i, doc.burst, doc.rate * rate_scale),
            _wait(i, create.burst, create.rate * rate_scale),
            window_wait(i, JSON_LISTINGS_FEED_WINDOW, rate_scale),
        )
        start = max(submitted, end)
        end = start + (feed_processing_s + messages * feed_per_message_s) / rate_scale
    downloads = _wait(len(batches) - 1, report.burst, report.rate * rate_scale)
    return end + poll_interval_s / rate_scale + downloads, len(batches)


def feed_only_counts(
    keys: Iterable[ListingKey], regions: Mapping[str, str]
) -> dict[tuple[str, str], list[int]]:
    """(account, region) -> listings a path cannot address, per marketplace (sorted by
    marketplace id): the ``feed_only`` input of :func:`estimate`."""
    by_mp: dict[tuple[str, str], dict[str, int]] = {}
    for k in keys:
        if path_addressable(k.sku):
            continue
        mps = by_mp.setdefault((k.account, regions.get(k.account, "")), {})
        mps[k.marketplace_id] = mps.get(k.marketplace_id, 0) + 1
    return {k: [v[m] for m in sorted(v)] for k, v in sorted(by_mp.items())}


def estimate(
    counts: Mapping[tuple[str, str], int],
    *,
    feed_processing_s: float = 300.0,
    feed_per_message_s: float = 0.01,
    rate_scale: float = 1.0,
    per_marketplace: Mapping[tuple[str, str], Sequence[int]] | None = None,
    feed_only: Mapping[tuple[str, str], Sequence[int]] | None = None,
) -> StrategyEstimate:
    """Estimate both strategies for ``counts``: (account, region) -> listings to write.
    ``per_marketplace`` optionally splits each count over marketplaces (one feed each, as
    apply batches them); without it a region's listings are assumed to share feeds.
    ``feed_only``: of those, the listings a path cannot address, per marketplace (they go by
    feed under the patch strategy too)."""
    patch: dict[str, float] = {}
    feed: dict[str, float] = {}
    feeds = 0
    only_total = 0
    feed_args = {
        "feed_processing_s": feed_processing_s,
        "feed_per_message_s": feed_per_message_s,
        "rate_scale": rate_scale,
    }
    for (account, region), n in sorted(counts.items()):
        if n <= 0:
            continue
        only = [m for m in (feed_only or {}).get((account, region), ()) if m > 0]
        k = sum(only)
        only_total += k
        by_patch = patch_seconds(n - k, rate_scale=rate_scale)
        if k:
            by_patch += feed_seconds(k, per_marketplace=only, **feed_args)[0]
        patch[account] = patch.get(account, 0.0) + by_patch
        f, nf = feed_seconds(
            n, per_marketplace=(per_marketplace or {}).get((account, region)), **feed_args
        )
        feed[account] = feed.get(account, 0.0) + f
        feeds += nf
    p = round(max(patch.values(), default=0.0), 1)
    f = round(max(feed.values(), default=0.0), 1)
    listings = sum(n for n in counts.values() if n > 0)
    chosen = "feed" if listings and f < p else "patch"
    return StrategyEstimate(chosen, p, f, feeds, listings, only_total)
