"""Quantities per location from stock on hand: the allocation policy.

Input, per SKU: units on hand in the central warehouse (``central`` in stock.csv) and at each
site (a location of locations.yaml serving a marketplace). A :class:`Policy` has:

``max``        MAX per site: the most a site is refilled to and the most it offers.
``threshold``  Q_threshold: a site is refilled only when its stock is *below* it
               (default: ``max``, i.e. refill whenever below the cap).
``buffer``     units held back at every site (never offered, a safety stock).
``floor``      a site that could offer fewer than this many units offers 0 (avoids promising
               the last units that are often miscounted). 0 disables it.

Exact semantics (the seed's rule, made total and deterministic):

1. Sites are visited in order of increasing local stock, ties by name (the neediest first,
   so scarce central stock goes where it is missing most).
2. A site with ``local < threshold`` is refilled by ``min(central, max(0, MAX - local))``;
   that amount leaves ``central`` (so central never goes negative and is never shared twice).
3. The site then offers ``min(MAX, local_after_refill - buffer)``, or 0 when that is below
   ``floor`` or negative.

Invariants (property-tested): every quantity is ``>= 0``; ``sum(offered) <= central +
sum(local)`` (allocations never exceed the stock); a site never offers more than MAX; central
stock is only moved to sites below the threshold.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    max: int
    threshold: int | None = None
    buffer: int = 0
    floor: int = 0

    def __post_init__(self) -> None:
        for name in ("max", "buffer", "floor"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.threshold is not None and self.threshold < 0:
            raise ValueError("threshold must be >= 0")


@dataclass(frozen=True)
class Allocation:
    quantities: dict[str, int]  # site -> units offered
    refills: dict[str, int]  # site -> units moved from central
    central_left: int


def allocate(policy: Policy, central: int, sites: Mapping[str, int]) -> Allocation:
    """Offered quantity per site (see the module docstring for the exact rule)."""
    if central < 0 or any(v < 0 for v in sites.values()):
        raise ValueError("stock on hand cannot be negative")
    threshold = policy.max if policy.threshold is None else policy.threshold
    left = central
    quantities: dict[str, int] = {}
    refills: dict[str, int] = {}
    for name in sorted(sites, key=lambda s: (sites[s], s)):
        local = sites[name]
        refill = 0
        if local < threshold:
            refill = min(left, max(0, policy.max - local))
            left -= refill
        have = local + refill
        offer = min(policy.max, have - policy.buffer)
        if offer < max(policy.floor, 0) or offer < 0:
            offer = 0
        quantities[name] = offer
        refills[name] = refill
    return Allocation(quantities, refills, left)
