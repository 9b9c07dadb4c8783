"""Price history, stock against allocation, orders and freshness (pure aggregation).

- **Prices:** a series per SKU, marketplace, currency and kind (offer or list price): each price
  apply wrote (``prices`` of the audit line, with its guards and FX-rate date), then the price
  read live (the cache) and the one the catalog asks for now. Consecutive equal points are
  merged, so a year of runs keeps only the changes.
- **Stock:** per site (a location's supply source, or a marketplace's DEFAULT channel), the
  quantity the catalog allocates against the quantity read live; deviation = Σ|desired − live|
  / Σ desired, as the apply KPI defines it, over the listings the cache holds.
- **Orders:** per marketplace and status, routed orders and units per warehouse, hours from
  order to confirmed shipment, and unroutable orders per `orders route` run.
- **Freshness:** per account and marketplace, the last full and incremental read (the cache's
  read marks) and the last apply (the audit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from reconciler.kernel.marketplaces import BY_ID

from .model import PricePoint, Run
from .sources import CatalogRead, LiveItem, OrdersRead, ReadMark, quantities

MAX_SERIES_POINTS = 400


@dataclass(frozen=True)
class PriceSeries:
    name: str
    points: tuple[PricePoint, ...]

    @property
    def latest(self) -> PricePoint:
        return self.points[-1]

    @property
    def guard_hits(self) -> int:
        return sum(1 for p in self.points
                   if (p.guard_min is not None and p.price <= p.guard_min)
                   or (p.guard_max is not None and p.price >= p.guard_max))


def _code(mid: str) -> str:
    mp = BY_ID.get(mid)
    return mp.code if mp else mid


def price_series(runs: Sequence[Run], live: Sequence[LiveItem], catalog: CatalogRead,
                 now: datetime) -> tuple[PriceSeries, ...]:
    by: dict[str, list[PricePoint]] = {}
    for r in runs:
        for p in r.prices:
            by.setdefault(p.series, []).append(p)
    guards: dict[tuple[str, str, str, str], tuple[float | None, float | None, str]] = {}
    if catalog.desired is not None:
        for d in catalog.desired.listings:
            if d.state == "absent":
                continue
            mp = _code(d.key.marketplace_id)
            for dv in d.derivations:
                kind = "list" if "list price" in dv.override else "offer"
                # list prices ignore the guards (pricing.compute(clamp=False))
                lo = float(dv.guard_min) if dv.guard_min is not None and kind == "offer" else None
                hi = float(dv.guard_max) if dv.guard_max is not None and kind == "offer" else None
                guards[(d.key.sku, mp, dv.currency, kind)] = (lo, hi, dv.rate_as_of)
                p = PricePoint(now, d.key.account, d.key.sku, mp, dv.currency, kind,
                               float(dv.result), lo, hi, dv.rate_as_of, "planned")
                by.setdefault(p.series, []).append(p)
    for i in live:
        t = _time(i.read_at) or now
        for kind, currency, price in i.prices:
            lo, hi, rate = guards.get((i.key.sku, i.marketplace, currency, kind), (None, None, ""))
            p = PricePoint(t, i.key.account, i.key.sku, i.marketplace, currency, kind, price,
                           lo, hi, rate, "live")
            by.setdefault(p.series, []).append(p)
    out = []
    for name, pts in by.items():
        pts.sort(key=lambda p: (p.time, p.source != "written"))
        merged: list[PricePoint] = []
        for p in pts:
            if merged and (merged[-1].price, merged[-1].guard_min, merged[-1].guard_max,
                           merged[-1].rate_as_of) == (p.price, p.guard_min, p.guard_max,
                                                      p.rate_as_of) and p.source == "written":
                continue
            merged.append(p)
        out.append(PriceSeries(name, tuple(merged[-MAX_SERIES_POINTS:])))
    # the most eventful series first: they are the ones a person opens
    out.sort(key=lambda s: (-s.guard_hits, -len(s.points), s.name))
    return tuple(out)


def _time(value: str) -> datetime | None:
    from .audit_log import parse_time

    return parse_time(value)


@dataclass(frozen=True)
class SiteStock:
    account: str
    marketplace: str
    site: str
    allocated: int
    live: int
    listings: int

    @property
    def deviation(self) -> int:
        return abs(self.allocated - self.live)

    @property
    def deviation_pct(self) -> float:
        if self.allocated == 0:
            return 0.0 if self.live == 0 else 100.0
        return 100.0 * self.deviation / self.allocated


@dataclass(frozen=True)
class Stock:
    sites: tuple[SiteStock, ...]
    # the listings with the largest deviations: account, sku, marketplace, site, desired, live
    worst: tuple[tuple[str, str, str, str, int, int], ...]
    not_read: int  # catalog listings with quantities the cache doesn't hold
    total_deviation_pct: float | None


def stock(catalog: CatalogRead, live: Sequence[LiveItem], limit: int = 200) -> Stock:
    if catalog.desired is None:
        return Stock((), (), 0, None)
    live_by = {(i.key.account, i.key.sku, i.key.marketplace_id): i for i in live}
    agg: dict[tuple[str, str, str], list[int]] = {}
    rows = []
    not_read = 0
    for d in catalog.desired.listings:
        if d.state == "absent":
            continue
        want = quantities(d.attributes)
        if not want:
            continue
        item = live_by.get((d.key.account, d.key.sku, d.key.marketplace_id))
        if item is None:
            not_read += 1
            continue
        have = item.quantities if item.exists else {}
        mp = _code(d.key.marketplace_id)
        for code, q in want.items():
            site = catalog.locations.get(code) or (f"{mp} default" if code == "DEFAULT"
                                                   else code)
            got = have.get(code, 0)
            a = agg.setdefault((d.key.account, mp, site), [0, 0, 0])
            a[0] += q
            a[1] += got
            a[2] += 1
            if q != got:
                rows.append((d.key.account, d.key.sku, mp, site, q, got))
    sites = tuple(SiteStock(acc, mp, site, v[0], v[1], v[2])
                  for (acc, mp, site), v in sorted(agg.items()))
    total = sum(s.allocated for s in sites)
    dev = sum(s.deviation for s in sites)
    pct = None if not sites else (100.0 * dev / total if total else (0.0 if dev == 0 else 100.0))
    rows.sort(key=lambda r: (-abs(r[4] - r[5]), r[2], r[1]))
    return Stock(sites, tuple(rows[:limit]), not_read, pct)


@dataclass(frozen=True)
class Orders:
    per_marketplace: Mapping[str, Mapping[str, int]]  # marketplace -> status -> orders
    routed: Mapping[str, tuple[int, int]]  # warehouse -> (orders, units)
    confirm_bins: tuple[tuple[str, int], ...]  # (label, orders)
    confirm_median_h: float | None
    unroutable: tuple[tuple[datetime, int], ...]  # per route run
    latest_kpi: Mapping[str, Mapping[str, object]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.per_marketplace or self.routed or self.unroutable or self.latest_kpi)


CONFIRM_BINS = ((1.0, "< 1 h"), (4.0, "1–4 h"), (12.0, "4–12 h"), (24.0, "12–24 h"),
                (48.0, "1–2 days"), (float("inf"), "> 2 days"))


def orders(read: OrdersRead, start: datetime | None) -> Orders:
    per: dict[str, dict[str, int]] = {}
    for (mp, status), n in sorted(read.by_marketplace.items()):
        per.setdefault(mp, {})[status] = n
    bins = [0] * len(CONFIRM_BINS)
    for h in read.confirm_hours:
        for i, (bound, _) in enumerate(CONFIRM_BINS):
            if h < bound:
                bins[i] += 1
                break
    hs = sorted(read.confirm_hours)
    median = hs[len(hs) // 2] if hs else None
    unroutable = []
    latest: dict[str, dict[str, object]] = {}
    for row in read.kpis:
        t = row["time"]
        if start is not None and t < start:
            continue
        cmd = str(row.get("command", ""))
        latest[cmd] = {k: v for k, v in row.items() if k not in ("time", "at", "command")}
        if cmd == "route" and isinstance(row.get("unroutable"), int):
            unroutable.append((t, int(row["unroutable"])))
    return Orders(per, dict(sorted(read.routed.items())),
                  tuple((label, bins[i]) for i, (_, label) in enumerate(CONFIRM_BINS))
                  if hs else (), median, tuple(unroutable), latest)


@dataclass(frozen=True)
class Fresh:
    account: str
    marketplace: str
    full: datetime | None
    incremental: datetime | None
    applied: datetime | None


def freshness(marks: Sequence[ReadMark], runs: Sequence[Run],
              catalog: CatalogRead) -> tuple[Fresh, ...]:
    reads: dict[tuple[str, str], dict[str, datetime]] = {}
    for m in marks:
        slot = reads.setdefault((m.account, m.marketplace), {})
        if m.kind not in slot or m.at > slot[m.kind]:
            slot[m.kind] = m.at
    applied: dict[tuple[str, str], datetime] = {}
    for r in runs:
        for o in r.outcomes:
            applied[(o.account, o.marketplace)] = r.time
    keys = set(reads) | set(applied)
    if catalog.desired is not None:
        keys |= {(a.name, m.code) for a in catalog.desired.accounts for m in a.marketplaces}
    return tuple(Fresh(acc, mp, reads.get((acc, mp), {}).get("full"),
                       reads.get((acc, mp), {}).get("incremental"), applied.get((acc, mp)))
                 for acc, mp in sorted(keys))
