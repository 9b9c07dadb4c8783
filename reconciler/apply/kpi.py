"""The KPIs an apply reports (design.md §6): sync success %, API latency p50/p95, stock
deviation %, plus retries, throttles (429s) and calls per operation.

Plain arithmetic over values the apply collected; no I/O. Definitions:

- **sync success %** = converged listings / listings applied × 100 (100 when nothing applied);
- **latency p50/p95** = nearest-rank percentiles of every SP-API call's latency in ms;
- **stock deviation %** = Σ |desired − live| quantity / Σ desired quantity × 100 over every
  managed ``fulfillment_availability`` entry of the applied listings, live read back after
  verify (a listing missing live counts its full desired quantity; when Σ desired is 0 the
  deviation is 0 if nothing deviates, else 100).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.kernel.model import DesiredListing, ListingKey, LiveListing


@dataclass(frozen=True)
class Kpis:
    sync_success_pct: float
    latency_p50_ms: float
    latency_p95_ms: float
    stock_deviation_pct: float
    retries: int = 0
    throttles: int = 0
    errors: int = 0
    calls: Mapping[str, int] = field(default_factory=dict)

    def data(self) -> dict[str, Any]:
        return {
            "sync_success_pct": round(self.sync_success_pct, 2),
            "latency_p50_ms": round(self.latency_p50_ms, 1),
            "latency_p95_ms": round(self.latency_p95_ms, 1),
            "stock_deviation_pct": round(self.stock_deviation_pct, 2),
            "retries": self.retries,
            "throttles": self.throttles,
            "errors": self.errors,
            "calls": dict(sorted(self.calls.items())),
        }

    def describe(self) -> str:
        return (
            f"sync success {self.sync_success_pct:.1f}%, latency p50 {self.latency_p50_ms:.0f} ms"
            f" / p95 {self.latency_p95_ms:.0f} ms, stock deviation "
            f"{self.stock_deviation_pct:.2f}%, {sum(self.calls.values())} calls, "
            f"{self.retries} retries, {self.throttles} throttled"
        )


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    s = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(s)))
    return float(s[min(rank, len(s)) - 1])


def sync_success_pct(statuses: Iterable[str]) -> float:
    st = list(statuses)
    if not st:
        return 100.0
    return 100.0 * sum(1 for s in st if s == "converged") / len(st)


def _quantities(listing: DesiredListing | LiveListing | None) -> dict[str, int]:
    if listing is None:
        return {}
    out: dict[str, int] = {}
    for e in listing.attributes.get("fulfillment_availability", []):
        q = e.get("quantity")
        if q is not None:
            out[str(e.get("fulfillment_channel_code"))] = int(q)
    return out


def stock_deviation_pct(
    desired: Iterable[DesiredListing], live: Mapping[ListingKey, LiveListing | None]
) -> float:
    total = 0
    dev = 0
    for d in desired:
        if d.state == "absent":
            continue
        want = _quantities(d)
        have = _quantities(live.get(d.key))
        for code, q in want.items():
            total += q
            dev += abs(q - have.get(code, 0))
    if total == 0:
        return 0.0 if dev == 0 else 100.0
    return 100.0 * dev / total


@dataclass(frozen=True)
class CallTotals:
    """Call statistics summed over the accounts' clients."""

    latencies_ms: tuple[float, ...] = ()
    calls: Mapping[str, int] = field(default_factory=dict)
    retries: int = 0
    throttles: int = 0
    errors: int = 0


def compute(
    statuses: Iterable[str],
    desired: Iterable[DesiredListing],
    live_after: Mapping[ListingKey, LiveListing | None],
    totals: CallTotals,
) -> Kpis:
    return Kpis(
        sync_success_pct=sync_success_pct(statuses),
        latency_p50_ms=percentile(totals.latencies_ms, 50),
        latency_p95_ms=percentile(totals.latencies_ms, 95),
        stock_deviation_pct=stock_deviation_pct(desired, live_after),
        retries=totals.retries,
        throttles=totals.throttles,
        errors=totals.errors,
        calls=dict(totals.calls),
    )
