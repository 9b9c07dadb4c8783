"""The values the report is built from: runs read from the audit logs and the SLO targets.

Frozen values; the readers build them, the aggregation only reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# The seed's three figures and their targets (issue 17). ``op`` says which side is good.
SYNC = "sync_success_pct"
LATENCY = "latency_p95_ms"
DEVIATION = "stock_deviation_pct"


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    unit: str
    op: str  # ">=" | "<="
    bound: float

    def breached(self, value: float) -> bool:
        return value < self.bound if self.op == ">=" else value > self.bound

    def worse(self, a: float, b: float) -> bool:
        """True when ``a`` is worse than ``b`` for this target."""
        return a < b if self.op == ">=" else a > b

    def describe(self) -> str:
        sign = "≥" if self.op == ">=" else "≤"
        return f"{self.label} {sign} {fmt(self.bound, self.unit)}"


TARGETS: tuple[Target, ...] = (
    Target(SYNC, "sync success", "%", ">=", 99.5),
    Target(LATENCY, "API latency p95", "ms", "<=", 800.0),
    Target(DEVIATION, "stock deviation", "%", "<=", 0.5),
)


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "ms":
        return f"{value:,.0f} ms"
    return f"{value:.2f} %"


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    """One listing of one run (the audit's ``outcomes`` entry)."""

    account: str
    sku: str
    marketplace_id: str
    marketplace: str  # code, e.g. CA (the id when unknown)
    action: str
    status: str  # converged | pending | rejected
    via: str
    issue_code: str = ""
    issue_message: str = ""


@dataclass(frozen=True, slots=True)
class PricePoint:
    """A price apply wrote (the audit's ``prices`` entry), or one read live."""

    time: datetime
    account: str
    sku: str
    marketplace: str
    currency: str
    kind: str  # offer | list
    price: float
    guard_min: float | None = None
    guard_max: float | None = None
    rate_as_of: str = ""
    source: str = "written"  # written | live | planned

    @property
    def series(self) -> str:
        kind = "" if self.kind == "offer" else f" {self.kind} price"
        return f"{self.sku} · {self.marketplace}{kind} ({self.currency})"


@dataclass(frozen=True, slots=True)
class Run:
    """One audit record: an apply (merge to main) or a drift apply (the 15-minute schedule)."""

    run_id: str  # the HTML anchor of the run's outcome table
    time: datetime
    kind: str  # apply | drift
    source: str  # the audit file it came from (its name)
    accounts: tuple[str, ...]
    strategy: str
    summary: str
    converged: bool
    error: str
    kpis: dict[str, float] | None  # None: the run applied nothing (no figures)
    outcomes: tuple[OutcomeRow, ...]
    wall_s: float | None = None
    lower_bound_s: float | None = None
    prices: tuple[PricePoint, ...] = ()
    git_commit: str = ""

    @property
    def changes(self) -> int:
        return len(self.outcomes)

    def kpi(self, key: str) -> float | None:
        return None if self.kpis is None else self.kpis.get(key)

    @property
    def label(self) -> str:
        acc = ",".join(self.accounts) or self.source
        return f"{self.time:%Y-%m-%d %H:%M}Z {self.kind} {acc}"


@dataclass(frozen=True)
class AuditRead:
    runs: tuple[Run, ...]  # sorted by time
    lines: int  # audit lines read (all files, before the window)
    skipped: int  # lines that were not a usable record
    files: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())
