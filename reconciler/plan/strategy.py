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
- **verify**: every strategy reads its listings back (``searchListingsItems``, 20 SKUs a call,
  :func:`verify_seconds`): patches after the last patch, a feed's listings once that feed is
  DONE (so only the last feed's are read after the last write), never faster than one read of
  all of them. Amazon's visibility delay after a write is the same for every path, not a
  quota, and is left out.
- **hybrid** (:func:`hybrid_split`): one account's SKUs split between both paths, which run
  at once (separate quotas): the first k path-addressable SKUs (in SKU order) by PATCH, the
  rest by feed; every listing of a SKU goes one way, so a PATCH and a queued feed never hold
  the same SKU. k minimizes ``max(patch(k) + verify, feed(rest) + verify, verify(all))``:
  the patch time grows with k and the feed time shrinks, so the best k is where they cross
  (about where ``k/r = P + m (n - k)``). Chosen only when it beats both pure strategies by
  at least :data:`HYBRID_MIN_GAIN` (the model is not that exact; a split costs a second path).
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
    SEARCH_MAX_IDENTIFIERS,
    window_wait,
)

PATCH_OPERATION = "patchListingsItem"
READ_OPERATION = "searchListingsItems"
# Hybrid only when it is at least 10 % faster than the better pure strategy: the split leans on
# the feed's per-message processing time, the least known figure of the model (0.01 s here,
# 0.0005 s in the emulator, far more on a loaded Amazon), and at a few % of gain a wrong figure
# makes the split slower than the pure feed it was meant to beat.
HYBRID_MIN_GAIN = 0.10


def path_addressable(sku: str) -> bool:
    """Whether a Listings Items path can address ``sku``. One with ``/`` cannot, not even
    percent-encoded: Amazon answers 403 or does not find it (models#4727, models#4429), so its
    listings are written through JSON_LISTINGS_FEED whatever the strategy."""
    return "/" not in sku


@dataclass(frozen=True)
class HybridSplit:
    """The hybrid strategy's split: both paths at once, every SKU on one of them."""

    seconds: float
    patch_listings: int
    feed_listings: int
    feeds: int  # JSON_LISTINGS_FEED documents of the feed part
    # (account, region, k): the first k path-addressable SKUs of that account's changes, in
    # SKU order (:func:`hybrid_patch_skus`), go by PATCH; all its other SKUs by feed
    patch_skus: tuple[tuple[str, str, int], ...]

    def patch_sku_count(self, account: str) -> int | None:
        """k of ``account`` (None: the split does not name it)."""
        found = [k for a, _, k in self.patch_skus if a == account]
        return sum(found) if found else None


@dataclass(frozen=True)
class StrategyEstimate:
    chosen: str  # "patch" | "feed" | "hybrid"
    patch_seconds: float
    feed_seconds: float
    feeds: int  # JSON_LISTINGS_FEED documents the feed strategy would submit
    listings: int  # listings to write
    feed_only: int = 0  # listings a path cannot address: written by feed under either strategy
    hybrid: HybridSplit | None = None  # set only when chosen == "hybrid"

    @property
    def seconds(self) -> float:
        """The chosen strategy's estimate."""
        if self.chosen == "hybrid" and self.hybrid is not None:
            return self.hybrid.seconds
        return self.patch_seconds if self.chosen == "patch" else self.feed_seconds

    def describe(self) -> str:
        if not self.listings:
            return "nothing to write"
        n = self.listings
        if self.chosen == "hybrid" and self.hybrid is not None:
            return self._describe_hybrid(self.hybrid)
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

    def _describe_hybrid(self, h: HybridSplit) -> str:
        n = self.listings
        feeds = f"{h.feeds} JSON_LISTINGS_FEED{'s' if h.feeds != 1 else ''}"
        return (
            f"hybrid: {n} listing{'s' if n != 1 else ''}, est. {_dur(h.seconds)} with "
            f"{h.patch_listings} via patchListingsItem while {h.feed_listings} go by {feeds}, "
            f"split by SKU (vs {_dur(self.patch_seconds)} all via patchListingsItem, "
            f"{_dur(self.feed_seconds)} all via {self.feeds} JSON_LISTINGS_FEED"
            f"{'s' if self.feeds != 1 else ''})"
        )


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


def verify_seconds(per_marketplace: Sequence[int], *, rate_scale: float = 1.0) -> float:
    """Reading listings back (``per_marketplace``: listings per marketplace) in searches of 20
    SKUs under searchListingsItems' bucket."""
    q = QUOTAS[READ_OPERATION]
    calls = sum(-(-m // SEARCH_MAX_IDENTIFIERS) for m in per_marketplace if m > 0)
    return max(0, calls - q.burst) / (q.rate * rate_scale)


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


def sku_marketplaces(
    keys: Iterable[ListingKey], regions: Mapping[str, str]
) -> dict[tuple[str, str], dict[str, tuple[str, ...]]]:
    """(account, region) -> SKU -> the marketplaces it is written in: the ``skus`` input of
    :func:`estimate` (the hybrid split moves whole SKUs)."""
    out: dict[tuple[str, str], dict[str, list[str]]] = {}
    by_account: dict[str, dict[str, list[str]]] = {}
    for k in keys:  # 100k listings: kept to plain dict operations
        skus = by_account.get(k.account)
        if skus is None:
            skus = by_account[k.account] = out[(k.account, regions.get(k.account, ""))] = {}
        mps = skus.get(k.sku)
        if mps is None:
            skus[k.sku] = [k.marketplace_id]
        else:
            mps.append(k.marketplace_id)
    return {a: {sku: tuple(m) for sku, m in v.items()} for a, v in sorted(out.items())}


def hybrid_patch_skus(keys: Iterable[ListingKey], k: int) -> frozenset[str]:
    """The SKUs a hybrid apply patches: the first ``k`` path-addressable SKUs of ``keys`` (one
    account's changes) in SKU order, as :func:`hybrid_split` counted them."""
    return frozenset(sorted({key.sku for key in keys if path_addressable(key.sku)})[:k])


@dataclass(frozen=True)
class _Model:
    feed_processing_s: float
    feed_per_message_s: float
    rate_scale: float

    def patch(self, per_mp: Sequence[int]) -> float:
        """Patch these listings, then read them back."""
        if sum(per_mp) <= 0:
            return 0.0
        rs = self.rate_scale
        return patch_seconds(sum(per_mp), rate_scale=rs) + verify_seconds(per_mp, rate_scale=rs)

    def feed(self, per_mp: Sequence[int]) -> tuple[float, int]:
        """Feeds for these listings (one a marketplace), each read back once DONE (only the
        last feed's listings after the last write): (seconds, feeds)."""
        sizes = [m for m in per_mp if m > 0]
        if not sizes:
            return 0.0, 0
        t, n = feed_seconds(
            sum(sizes),
            feed_processing_s=self.feed_processing_s,
            feed_per_message_s=self.feed_per_message_s,
            rate_scale=self.rate_scale,
            per_marketplace=sizes,
        )
        last = feed_batches(sum(sizes), sizes)[-1]
        return t + verify_seconds([last], rate_scale=self.rate_scale), n


def hybrid_split(
    skus: Mapping[str, Sequence[str]],
    *,
    feed_processing_s: float = 300.0,
    feed_per_message_s: float = 0.01,
    rate_scale: float = 1.0,
) -> tuple[float, int, int, int]:
    """The best split of one account and region: ``skus`` maps each SKU to the marketplaces
    it is written in (a SKU no path can address always goes by feed). Returns (seconds, k,
    patched listings, feeds): the first k addressable SKUs in SKU order by PATCH, the others
    by feed, both at once (k = 0: all by feed; k = all: every addressable one by PATCH, which
    is never slower than the patch strategy). Pure and deterministic."""
    model = _Model(feed_processing_s, feed_per_message_s, rate_scale)
    order = sorted(s for s in skus if path_addressable(s))
    mps = sorted({m for ms in skus.values() for m in ms})
    col = {m: i for i, m in enumerate(mps)}
    extra = [0] * len(mps)  # listings no path can address: by feed whatever k is
    for sku, ms in skus.items():
        if not path_addressable(sku):
            for m in ms:
                extra[col[m]] += 1
    row = [0] * len(mps)
    prefix = [tuple(row)]  # prefix[k][i]: listings of the first k SKUs in marketplace mps[i]
    for sku in order:
        for m in skus[sku]:
            row[col[m]] += 1
        prefix.append(tuple(row))
    total = prefix[-1]
    floor = verify_seconds([t + e for t, e in zip(total, extra, strict=True)],
                           rate_scale=rate_scale)

    def paths(k: int) -> tuple[float, float, int]:
        patched = prefix[k]
        fed = [t - p + e for t, p, e in zip(total, patched, extra, strict=True)]
        f, nf = model.feed(fed)
        return model.patch(patched), f, nf

    lo, hi = 0, len(order)  # the first k whose patch time reaches the feed time
    while lo < hi:
        mid = (lo + hi) // 2
        p, f, _ = paths(mid)
        if p >= f:
            hi = mid
        else:
            lo = mid + 1
    best: tuple[float, int, int, int] | None = None
    for k in sorted({0, len(order), max(0, lo - 1), lo, min(len(order), lo + 1)}):
        p, f, nf = paths(k)
        cand = (max(p, f, floor), k, sum(prefix[k]), nf)
        if best is None or cand[0] < best[0]:
            best = cand
    assert best is not None
    return best


def estimate(
    counts: Mapping[tuple[str, str], int],
    *,
    feed_processing_s: float = 300.0,
    feed_per_message_s: float = 0.01,
    rate_scale: float = 1.0,
    per_marketplace: Mapping[tuple[str, str], Sequence[int]] | None = None,
    feed_only: Mapping[tuple[str, str], Sequence[int]] | None = None,
    skus: Mapping[tuple[str, str], Mapping[str, Sequence[str]]] | None = None,
) -> StrategyEstimate:
    """Estimate the strategies for ``counts``: (account, region) -> listings to write.
    ``per_marketplace`` optionally splits each count over marketplaces (one feed each, as
    apply batches them); without it a region's listings are assumed to share feeds.
    ``feed_only``: of those, the listings a path cannot address, per marketplace (they go by
    feed under the patch strategy too). ``skus`` (:func:`sku_marketplaces`): the addressable
    SKUs and their marketplaces; with it the hybrid split is considered too (whole SKUs move,
    so it needs them)."""
    model = _Model(feed_processing_s, feed_per_message_s, rate_scale)
    patch: dict[str, float] = {}
    feed: dict[str, float] = {}
    hybrid: dict[str, float] = {}
    split: list[tuple[str, str, int]] = []
    h_patch = h_feeds = feeds = only_total = 0
    for (account, region), n in sorted(counts.items()):
        if n <= 0:
            continue
        only = [m for m in (feed_only or {}).get((account, region), ()) if m > 0]
        k = sum(only)
        only_total += k
        mps = [m for m in (per_marketplace or {}).get((account, region), ()) if m > 0] or [n]
        # patch: the addressable listings (read back after the last patch), then the others'
        # feeds, one after the other (as apply runs them); with such listings the read-back is
        # counted as if the addressable ones were in one marketplace (a lower bound)
        by_patch = model.patch(mps if not k else [n - k]) + (model.feed(only)[0] if k else 0.0)
        patch[account] = patch.get(account, 0.0) + by_patch
        f, nf = model.feed(mps)
        f = max(f, verify_seconds(mps, rate_scale=rate_scale))
        feed[account] = feed.get(account, 0.0) + f
        feeds += nf
        region_skus = (skus or {}).get((account, region))
        if region_skus is not None:
            h, kp, np_, nfh = hybrid_split(
                region_skus, feed_processing_s=feed_processing_s,
                feed_per_message_s=feed_per_message_s, rate_scale=rate_scale,
            )
            hybrid[account] = hybrid.get(account, 0.0) + h
            split.append((account, region, kp))
            h_patch += np_
            h_feeds += nfh
    p = round(max(patch.values(), default=0.0), 1)
    f = round(max(feed.values(), default=0.0), 1)
    listings = sum(n for n in counts.values() if n > 0)
    chosen = "feed" if listings and f < p else "patch"
    h = round(max(hybrid.values(), default=0.0), 1)
    if hybrid and len(hybrid) == len(patch) and h < min(p, f) * (1 - HYBRID_MIN_GAIN):
        split_ = HybridSplit(h, h_patch, listings - h_patch, h_feeds, tuple(split))
        return StrategyEstimate("hybrid", p, f, feeds, listings, only_total, split_)
    return StrategyEstimate(chosen, p, f, feeds, listings, only_total)
