"""The report's tables as values (header + rows of cells); the page template renders them all
with one macro, sortable by any column (``data-sort`` holds the value to sort by)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from .aggregate import ReportData
from .model import TARGETS, Run, fmt
from .slo import SloFigure

MAX_BREACH_ROWS = 50
MAX_OUTCOME_ROWS = 100
MAX_ISSUE_ROWS = 300


@dataclass(frozen=True)
class Cell:
    text: str
    sort: str | float | None = None  # None: sort by text
    href: str = ""
    cls: str = ""


@dataclass(frozen=True)
class Table:
    table_id: str
    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    more: int = 0  # rows left out
    numeric: tuple[int, ...] = field(default=())  # right-aligned columns


def when(t: datetime | None) -> Cell:
    if t is None:
        return Cell("never", "")
    return Cell(f"{t:%Y-%m-%d %H:%M}Z", t.isoformat())


def age(t: datetime | None, now: datetime) -> Cell:
    if t is None:
        return Cell("—", float("inf"))
    s = max(0.0, (now - t).total_seconds())
    text = (f"{s / 60:.0f} min" if s < 5400 else f"{s / 3600:.1f} h" if s < 172800
            else f"{s / 86400:.0f} days")
    return Cell(text, s)


def num(v: float | int | None, text: str | None = None) -> Cell:
    if v is None:
        return Cell("n/a", float("-inf"))
    return Cell(text if text is not None else f"{v:,}", float(v))


def money(v: float | None) -> Cell:
    return Cell("none", float("-inf")) if v is None else num(v, f"{v:,.2f}")


def breach_table(f: SloFigure) -> Table:
    rows = [(when(b.time), Cell(b.label, href=f"#{b.run_id}"),
             num(b.value, fmt(b.value, f.target.unit)))
            for b in reversed(f.breaches)]
    return Table(f"breaches-{f.target.key}", f"Runs that breached {f.target.describe()}",
                 ("time", "run (outcome table)", f.target.label), tuple(rows[:MAX_BREACH_ROWS]),
                 max(0, len(rows) - MAX_BREACH_ROWS), (2,))


def health_table(data: ReportData) -> Table:
    states = ("converged", "pending", "rejected", "held", "unknown")
    mps = sorted({mp for mp, _ in data.health.counts})
    rows = []
    for mp in mps:
        counts = [data.health.counts.get((mp, s), 0) for s in states]
        rows.append((Cell(mp), *(num(c) for c in counts), num(sum(counts))))
    return Table("table-health", "Listings per marketplace and state", ("marketplace", *states,
                 "total"), tuple(rows), 0, tuple(range(1, len(states) + 2)))


def rejected_table(data: ReportData) -> Table:
    rows = [(Cell(mp), Cell(code), num(n))
            for (mp, code), n in sorted(data.health.rejected_codes.items())]
    return Table("table-rejected", "Rejected listings by Amazon issue code",
                 ("marketplace", "issue code", "listings"), tuple(rows), 0, (2,))


def held_table(data: ReportData) -> Table:
    rows = [(Cell(mp), Cell(cat), num(n)) for (mp, cat), n in sorted(data.health.held.items())]
    return Table("table-held", "Held for review (missing, machine or stale translation)",
                 ("marketplace", "reason", "listings"), tuple(rows), 0, (2,))


def issues_table(data: ReportData) -> Table:
    rows = [(Cell(acc), Cell(sku), Cell(mp), Cell(sev, cls=f"sev-{sev.lower()}"), Cell(code),
             Cell(msg)) for acc, sku, mp, sev, code, msg in data.health.issue_rows]
    return Table("table-issues", "Issues Amazon reports on live listings (the live cache)",
                 ("account", "SKU", "marketplace", "severity", "code", "message"),
                 tuple(rows[:MAX_ISSUE_ROWS]), max(0, len(rows) - MAX_ISSUE_ROWS))


def attention_table(data: ReportData) -> Table:
    rows = [(Cell(a.sku), Cell(a.marketplace), Cell(a.account), Cell(a.kind),
             Cell(a.detail, href=f"#{a.run_id}" if a.run_id else ""), when(a.time))
            for a in data.health.attention]
    return Table("table-attention", "Listings that need a person",
                 ("SKU", "marketplace", "account", "why", "detail", "seen"),
                 tuple(rows[:MAX_ISSUE_ROWS]), max(0, len(rows) - MAX_ISSUE_ROWS))


def price_table(data: ReportData) -> Table:
    rows = []
    for s in data.prices:
        p = s.latest
        rows.append((Cell(s.name), num(p.price, f"{p.price:,.2f} {p.currency}"),
                     money(p.guard_min), money(p.guard_max), Cell(p.rate_as_of or "n/a"),
                     num(len(s.points)), num(s.guard_hits), when(p.time)))
    return Table("table-prices", "Prices per SKU and marketplace (latest point of each series)",
                 ("series", "price", "min guard", "max guard", "FX rate of", "points",
                  "at a guard", "as of"), tuple(rows), 0, (1, 2, 3, 5, 6))


def stock_tables(data: ReportData) -> tuple[Table, Table]:
    sites = [(Cell(s.account), Cell(s.marketplace), Cell(s.site), num(s.listings),
              num(s.allocated), num(s.live), num(s.deviation),
              num(s.deviation_pct, f"{s.deviation_pct:.2f} %"))
             for s in data.stock.sites]
    worst = [(Cell(acc), Cell(sku), Cell(mp), Cell(site), num(want), num(got),
              num(abs(want - got))) for acc, sku, mp, site, want, got in data.stock.worst]
    return (
        Table("table-stock", "Stock per site: allocated by the catalog, live on Amazon",
              ("account", "marketplace", "site", "listings", "allocated", "live", "deviation",
               "deviation %"), tuple(sites), 0, (3, 4, 5, 6, 7)),
        Table("table-stock-listings", "Listings whose live stock differs from the allocation",
              ("account", "SKU", "marketplace", "site", "allocated", "live", "deviation"),
              tuple(worst), 0, (4, 5, 6)),
    )


def orders_table(data: ReportData) -> Table:
    rows = []
    for cmd, kpi in sorted(data.orders.latest_kpi.items()):
        rows.append((Cell(cmd), Cell(", ".join(f"{k}={v}" for k, v in kpi.items()))))
    return Table("table-orders-kpi", "Latest orders run per command (orders-kpi.jsonl)",
                 ("command", "figures"), tuple(rows))


def freshness_table(data: ReportData) -> Table:
    rows = [(Cell(f.account), Cell(f.marketplace), when(f.full), age(f.full, data.now),
             when(f.incremental), age(f.incremental, data.now), when(f.applied),
             age(f.applied, data.now)) for f in data.freshness]
    return Table("table-freshness", "Freshness per account and marketplace",
                 ("account", "marketplace", "last full read", "age", "last incremental read",
                  "age", "last apply", "age"), tuple(rows), 0, (3, 5, 7))


def outcome_table(run: Run) -> Table:
    order = {"rejected": 0, "pending": 1, "converged": 2}
    outs = sorted(run.outcomes, key=lambda o: (order.get(o.status, 3), o.marketplace, o.sku))
    rows = [(Cell(o.sku), Cell(o.marketplace), Cell(o.account), Cell(o.action),
             Cell(o.status, cls=f"st-{o.status}"), Cell(o.via),
             Cell(f"[{o.issue_code}] {o.issue_message}" if o.issue_code else ""))
            for o in outs]
    return Table(f"outcomes-{run.run_id}", f"Outcomes of {run.label}",
                 ("SKU", "marketplace", "account", "action", "status", "via", "Amazon issue"),
                 tuple(rows[:MAX_OUTCOME_ROWS]), max(0, len(rows) - MAX_OUTCOME_ROWS))


def run_kpis(run: Run) -> list[tuple[str, str, bool]]:
    """(label, value, breached) of a run's three figures."""
    out = []
    for t in TARGETS:
        v = run.kpi(t.key)
        out.append((t.label, fmt(v, t.unit), v is not None and t.breached(v)))
    return out


def all_tables(data: ReportData) -> dict[str, Sequence[Table]]:
    stock, stock_rows = stock_tables(data)
    return {
        "breaches": [breach_table(f) for f in data.slo if f.breaches],
        "health": [health_table(data), *([rejected_table(data)] if data.health.rejected_codes
                                         else []),
                   *([held_table(data)] if data.health.held else []),
                   *([issues_table(data)] if data.health.issue_rows else [])],
        "attention": [attention_table(data)],
        "prices": [price_table(data)] if data.prices else [],
        "stock": [stock, stock_rows] if data.stock.sites else [],
        "orders": [orders_table(data)] if data.orders.latest_kpi else [],
        "freshness": [freshness_table(data)] if data.freshness else [],
    }
