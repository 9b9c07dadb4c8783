"""Quota lower bounds: the least wall time Amazon's quotas allow for a piece of work.

The formula (written down in bench/README.md):

- per operation ``op`` on one seller (buckets are per seller and operation, shared by that
  seller's marketplaces): ``max(0, calls_min(op) - burst(op)) / rate(op)`` seconds, where
  ``calls_min`` is the fewest calls the work needs on that path (a full read needs
  ``sum over marketplaces of ceil(listings / 20)`` searchListingsItems; a patch apply one
  patchListingsItem per listing; a feed apply ``ceil(listings / 25,000)`` feeds per marketplace);
- plus the emulator's modelled feed processing: a seller's feeds run one after another, each
  ``IN_QUEUE`` for ``P/4`` after creation and ``IN_PROGRESS`` for ``3P/4 + messages × m``
  (``P`` = ``--feed-processing``, ``m`` = per-message time); feed i is submitted no earlier
  than the JSON_LISTINGS_FEED window allows (5 in any 300 s per seller and region,
  ``quotas.JSON_LISTINGS_FEED_WINDOW``: feeds 6 to 10 wait 300 s, 11 to 15 wait 600 s ...);
- plus the phases that must be sequential: an apply writes, then verifies by reading back
  (a full read of the written listings), so the two add up; a feed apply only partly: the
  listings of feed i can be read while feed i+1 is processing (``pipelined``); and a write is
  visible only ``D`` after Amazon processed it (``--write-delay``), so the last one is read
  no earlier than ``D`` after it was written;
- a hybrid apply (``hybrid_bound``) runs both paths of one seller at once (PATCH under
  patchListingsItem's bucket, feeds under the feed limits: separate quotas), split by SKU: it
  ends when the later path ends, each path with its own verification as above (patches: write
  + D + read of the patched listings; feeds: pipelined), and never before one read of all the
  listings (both paths read through the same searchListingsItems bucket);
- sellers (accounts) have separate quotas and run in parallel: the bound is the max over them.

All figures are in Amazon seconds; divide by the emulator's time scale for the bench's wall.
Network latency is not in the bound (the client hides it with concurrency); neither is our
own CPU time. Pure functions, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from reconciler.kernel.quotas import (
    JSON_LISTINGS_FEED_MAX_MESSAGES,
    JSON_LISTINGS_FEED_WINDOW,
    QUOTAS,
    SEARCH_MAX_IDENTIFIERS,
    window_wait,
)

# The emulator's feed model (reconciler/emulator/app.py EmulatorConfig, feeds.py).
QUEUE_SHARE = 0.25


def op_seconds(operation: str, calls: int) -> float:
    """``max(0, calls - burst) / rate`` for one seller's bucket of ``operation``."""
    q = QUOTAS[operation]
    return max(0, calls - q.burst) / q.rate


def searches(per_marketplace: Mapping[str, int]) -> int:
    """Fewest searchListingsItems calls to read the given listings by SKU."""
    return sum(math.ceil(n / SEARCH_MAX_IDENTIFIERS) for n in per_marketplace.values() if n > 0)


def read_seconds(per_marketplace: Mapping[str, int]) -> float:
    """Full read of one seller's listings (marketplace -> listings)."""
    return op_seconds("searchListingsItems", searches(per_marketplace))


def feed_sizes(per_marketplace: Mapping[str, int]) -> list[int]:
    """Messages per feed: one marketplace a feed, at most 25,000 messages."""
    sizes: list[int] = []
    for n in per_marketplace.values():
        while n > 0:
            sizes.append(min(n, JSON_LISTINGS_FEED_MAX_MESSAGES))
            n -= JSON_LISTINGS_FEED_MAX_MESSAGES
    return sizes


def feed_seconds(
    per_marketplace: Mapping[str, int], *, processing_s: float, per_message_s: float
) -> float:
    """Submission (document + createFeed + the 5-in-300-s JSON_LISTINGS_FEED window) and the
    modelled processing of one seller's feeds, processed one after another."""
    sizes = feed_sizes(per_marketplace)
    if not sizes:
        return 0.0
    end = 0.0
    for i, messages in enumerate(sizes):
        submitted = max(
            op_seconds("createFeedDocument", i + 1),
            op_seconds("createFeed", i + 1),
            window_wait(i, JSON_LISTINGS_FEED_WINDOW),
        )
        start = max(submitted + processing_s * QUEUE_SHARE, end)
        end = start + processing_s * (1 - QUEUE_SHARE) + messages * per_message_s
    return end


def plan_bound(per_seller: Mapping[str, Mapping[str, int]]) -> float:
    """Full plan: a full read of every listing (seller -> marketplace -> listings)."""
    return max((read_seconds(m) for m in per_seller.values()), default=0.0)


def apply_bound(
    per_seller: Mapping[str, Mapping[str, int]],
    strategy: str,
    *,
    processing_s: float,
    per_message_s: float,
    write_delay_s: float = 0.0,
) -> dict[str, float]:
    """Apply (write then verify). Returns ``{"write", "verify", "total", "pipelined"}``:
    ``total`` = write + delay + verify (all writes, then, once the last is visible, all reads:
    how this tool runs a patch apply); ``pipelined`` is the tighter bound of a writer that
    verifies each part as soon as it is written (only the last feed's listings, or the last 20
    patched listings, must be read after the writes are visible): how this tool runs a feed
    apply, verifying each feed's listings once that feed is DONE, so it is the headline bound
    of a feed apply. ``write_delay_s``: Amazon makes an accepted write visible this long after
    processing it (the emulator's ``--write-delay``)."""
    worst: dict[str, float] = {"write": 0.0, "verify": 0.0, "total": 0.0, "pipelined": 0.0}
    d = write_delay_s
    for mps in per_seller.values():
        n = sum(mps.values())
        if strategy == "feed":
            write = feed_seconds(mps, processing_s=processing_s, per_message_s=per_message_s)
            last = feed_sizes(mps)[-1] if n else 0
            tail = op_seconds("searchListingsItems", math.ceil(last / SEARCH_MAX_IDENTIFIERS))
            # reading the earlier feeds' listings overlaps the later feeds' processing
            pipelined = max(write + d + tail, read_seconds(mps))
        else:
            write = op_seconds("patchListingsItem", n)
            pipelined = max(write + d, read_seconds(mps))
        verify = read_seconds(mps)
        if write + d + verify > worst["total"]:
            worst = {"write": write, "verify": verify, "delay": d, "total": write + d + verify,
                     "pipelined": pipelined}
    return worst


def hybrid_bound(
    patched: Mapping[str, Mapping[str, int]],
    fed: Mapping[str, Mapping[str, int]],
    *,
    processing_s: float,
    per_message_s: float,
    write_delay_s: float = 0.0,
) -> dict[str, float]:
    """A hybrid apply (seller -> marketplace -> listings written by each path, at once).
    Returns ``{"patch_path", "feed_path", "read_all", "total", "pipelined"}`` of the slowest
    seller: ``patch_path`` = op(patchListingsItem, n_p) + D + read(patched) (verified after the
    last patch, as a patch apply's sequential bound), ``feed_path`` = the pipelined feed bound
    of the fed listings, ``read_all`` = one read of every listing (the two paths share the
    search bucket), ``total`` = their max; ``pipelined`` the same with the patch path's
    pipelined bound (max(write + D, read): early patches read while later ones are written)."""
    worst = {"patch_path": 0.0, "feed_path": 0.0, "read_all": 0.0, "total": 0.0,
             "pipelined": 0.0}
    for seller in sorted(set(patched) | set(fed)):
        p_mps, f_mps = patched.get(seller, {}), fed.get(seller, {})
        n_p = sum(p_mps.values())
        patch_path = (op_seconds("patchListingsItem", n_p) + write_delay_s + read_seconds(p_mps)
                      if n_p else 0.0)
        feed_path = (apply_bound({seller: f_mps}, "feed", processing_s=processing_s,
                                 per_message_s=per_message_s,
                                 write_delay_s=write_delay_s)["pipelined"]
                     if sum(f_mps.values()) else 0.0)
        both = {m: p_mps.get(m, 0) + f_mps.get(m, 0) for m in set(p_mps) | set(f_mps)}
        read_all = read_seconds(both)
        total = max(patch_path, feed_path, read_all)
        patch_pipelined = max(op_seconds("patchListingsItem", n_p) + write_delay_s,
                              read_seconds(p_mps)) if n_p else 0.0
        if total > worst["total"]:
            worst = {"patch_path": patch_path, "feed_path": feed_path, "read_all": read_all,
                     "total": total, "pipelined": max(patch_pipelined, feed_path, read_all)}
    return worst


def naive_bound(per_seller: Mapping[str, Mapping[str, int]], changed_share: float,
                latency_s: float) -> float:
    """The seed's loop is sequential: every listing costs one GET latency, every changed one
    a PATCH latency, and never less than the buckets allow."""
    worst = 0.0
    for mps in per_seller.values():
        n = sum(mps.values())
        changed = round(n * changed_share)
        seq = (n + changed) * latency_s
        quota = max(op_seconds("getListingsItem", n), op_seconds("patchListingsItem", changed))
        worst = max(worst, seq, quota)
    return worst
