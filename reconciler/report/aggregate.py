"""Everything the report shows, computed once from the sources (pure: ``now`` is given).

Runs are bucketed over the window so that a chart never has more than :data:`MAX_BUCKETS`
points: a year of 15-minute runs (70,000 lines) becomes 365 daily buckets. Per bucket: runs by
kind, changes written, throttles, retries, wall time against the quota lower bound (summed over
the runs that recorded both), and each SLO figure's worst sample.

Outcome tables are kept for the runs a person may open: every breaching run, the latest run of
each account and runs with rejected listings, at most :data:`MAX_DETAIL_RUNS`, newest first
(breaches first of all, so each breach link in the SLO panel has its table).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from . import health as health_mod
from . import history
from .model import TARGETS, AuditRead, Run
from .slo import SloFigure, figures
from .sources import CatalogRead, LiveRead, OrdersRead

MAX_BUCKETS = 400
BUCKET_SIZES = (900, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400, 28 * 86400)
MAX_DETAIL_RUNS = 150
_WORST = tuple((t.key, t.op == ">=") for t in TARGETS)  # (figure, a lower value is worse)


@dataclass
class Bucket:
    start: datetime
    applies: int = 0
    drifts: int = 0
    changes: int = 0
    throttles: int = 0
    retries: int = 0
    rejected: int = 0
    wall_s: float = 0.0
    lower_s: float = 0.0
    timed: int = 0
    worst: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportData:
    now: datetime
    since: datetime | None
    bucket_s: int
    audit: AuditRead
    runs: tuple[Run, ...]
    slo: tuple[SloFigure, ...]
    buckets: tuple[Bucket, ...]
    health: health_mod.Health
    prices: tuple[history.PriceSeries, ...]
    stock: history.Stock
    orders: history.Orders
    freshness: tuple[history.Fresh, ...]
    detail_runs: tuple[Run, ...]
    notes: tuple[str, ...]
    catalog_root: str = ""

    @property
    def breach_runs(self) -> set[str]:
        return {b.run_id for f in self.slo for b in f.breaches}


def bucket_size(start: datetime, end: datetime) -> int:
    span = max(1.0, (end - start).total_seconds())
    for size in BUCKET_SIZES:
        if span / size <= MAX_BUCKETS:
            return size
    return BUCKET_SIZES[-1]


def buckets(runs: Sequence[Run], size: int) -> tuple[Bucket, ...]:
    out: dict[int, Bucket] = {}
    for r in runs:
        ts = int(r.time.timestamp()) // size * size
        b = out.get(ts)
        if b is None:
            b = out[ts] = Bucket(datetime.fromtimestamp(ts, timezone.utc))
        if r.kind == "drift":
            b.drifts += 1
        else:
            b.applies += 1
        b.changes += r.changes
        b.rejected += sum(1 for o in r.outcomes if o.status == "rejected")
        k = r.kpis
        if k is not None:
            b.throttles += int(k.get("throttles", 0))
            b.retries += int(k.get("retries", 0))
            w = b.worst
            for key, low_is_bad in _WORST:
                v = k.get(key)
                if v is None:
                    continue
                old = w.get(key)
                if old is None or (v < old if low_is_bad else v > old):
                    w[key] = v
        if r.wall_s is not None and r.lower_bound_s is not None:
            b.wall_s += r.wall_s
            b.lower_s += r.lower_bound_s
            b.timed += 1
    return tuple(out[k] for k in sorted(out))


def detail_runs(runs: Sequence[Run], slo: Sequence[SloFigure]) -> tuple[Run, ...]:
    by_id = {r.run_id: r for r in runs}
    breach_ids = [b.run_id for f in slo for b in f.breaches]
    latest: dict[tuple[str, ...], Run] = {}
    for r in runs:
        latest[r.accounts or (r.source,)] = r
    rejected = [r.run_id for r in runs if any(o.status == "rejected" for o in r.outcomes)]
    chosen: list[str] = []
    for rid in [*reversed(breach_ids), *(r.run_id for r in latest.values()),
                *reversed(rejected)]:
        if rid not in chosen:
            chosen.append(rid)
        if len(chosen) >= MAX_DETAIL_RUNS:
            break
    return tuple(sorted((by_id[i] for i in chosen), key=lambda r: r.time, reverse=True))


def parse_since(text: str, now: datetime) -> datetime | None:
    """``30d``, ``12h``, ``2w``, ``90m``, an ISO date or time, or ``all`` (None)."""
    t = text.strip().lower()
    if t in ("all", ""):
        return None
    units = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    if t[-1:] in units and t[:-1].isdigit():
        return now - timedelta(seconds=int(t[:-1]) * units[t[-1]])
    from .audit_log import parse_time

    parsed = parse_time(text if "T" in text else text + "T00:00:00Z")
    if parsed is None:
        raise ValueError(text)
    return parsed


def build(*, now: datetime, since: datetime | None, audit: AuditRead, catalog: CatalogRead,
          live: LiveRead, orders: OrdersRead, plans: Sequence[Mapping[str, Any]],
          notes: Sequence[str] = (), catalog_root: str = "") -> ReportData:
    runs = audit.runs
    start = since or (runs[0].time if runs else now)
    size = bucket_size(start, now)
    slo = figures(runs, since, now)
    return ReportData(
        now=now, since=since, bucket_s=size, audit=audit, runs=runs, slo=slo,
        buckets=buckets(runs, size),
        health=health_mod.build(runs, plans, catalog, live.items),
        prices=history.price_series(runs, live.items, catalog, now),
        stock=history.stock(catalog, live.items),
        orders=history.orders(orders, since),
        freshness=history.freshness(live.marks, runs, catalog),
        detail_runs=detail_runs(runs, slo),
        notes=(*audit.notes, *notes),
        catalog_root=catalog_root,
    )
