"""What an apply produced: per-listing outcomes, feeds submitted, KPIs (values, no I/O).

A listing's health is one of

- ``converged``: read back from Amazon, its managed projection equals the desired state
  (ACCEPTED alone is not enough);
- ``rejected``: Amazon refused it (INVALID submission, an ERROR in a feed processing report, or
  an ERROR issue on the listing read back), with Amazon's code and message;
- ``pending``: written (or not written because of an API failure) but not seen converged
  within the verify bound; running apply again picks it up.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from reconciler.apply.kpi import Kpis
from reconciler.kernel.marketplaces import BY_ID
from reconciler.kernel.model import Issue, ListingKey

CONVERGED = "converged"
PENDING = "pending"
REJECTED = "rejected"


def listing_name(key: ListingKey) -> str:
    """``MUG-001 (CA)``: how messages name a listing."""
    mp = BY_ID.get(key.marketplace_id)
    return f"{key.sku} ({mp.code if mp else key.marketplace_id})"


@dataclass(frozen=True)
class ListingOutcome:
    key: ListingKey
    action: str  # create | update | delete
    status: str  # converged | pending | rejected
    via: str  # patch | feed | none
    issues: tuple[Issue, ...] = ()
    feed_id: str = ""

    @property
    def name(self) -> str:
        return listing_name(self.key)

    def data(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "account": self.key.account,
            "sku": self.key.sku,
            "marketplace_id": self.key.marketplace_id,
            "action": self.action,
            "status": self.status,
            "via": self.via,
        }
        if self.feed_id:
            d["feed_id"] = self.feed_id
        if self.issues:
            d["issues"] = [
                {
                    "code": i.code,
                    "message": i.message,
                    "severity": i.severity,
                    "attributes": list(i.attribute_names),
                }
                for i in self.issues
            ]
        return d


@dataclass(frozen=True)
class FeedRecord:
    account: str
    feed_id: str
    marketplace_id: str
    messages: int
    status: str  # DONE | FATAL | CANCELLED | IN_QUEUE | IN_PROGRESS (timed out)
    rejected: int = 0

    def data(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "feed_id": self.feed_id,
            "marketplace_id": self.marketplace_id,
            "messages": self.messages,
            "status": self.status,
            "rejected": self.rejected,
        }


@dataclass(frozen=True)
class ApplyReport:
    outcomes: tuple[ListingOutcome, ...]  # sorted by key
    strategy: str  # patch | feed | none
    strategy_reason: str
    feeds: tuple[FeedRecord, ...]
    kpis: Kpis
    plan_checksum: str = ""
    errors: tuple[str, ...] = field(default=())  # account-level failures (already redacted-safe)
    # Unexpected exceptions (bugs) behind some of ``errors``, kept with their tracebacks so the
    # CLI can write its crash log after the audit line; not part of any output or data().
    bugs: tuple[BaseException, ...] = field(default=(), compare=False, repr=False)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def converged(self) -> bool:
        return not self.errors and all(o.status == CONVERGED for o in self.outcomes)

    def summary_line(self) -> str:
        n = len(self.outcomes)
        via = self.strategy
        if via == "hybrid":  # both paths at once: how many went each way
            by = {w: sum(1 for o in self.outcomes if o.via == w) for w in ("patch", "feed")}
            via = f"hybrid ({by['patch']} by patch, {by['feed']} by feed)"
        return (
            f"applied {n} listing{'s' if n != 1 else ''} via {via}: "
            f"{self.count(CONVERGED)} converged, {self.count(PENDING)} pending, "
            f"{self.count(REJECTED)} rejected"
        )

    def table(self, *, only_unconverged: bool = True) -> list[str]:
        """A per-listing table (fixed-width text) for the CLI and NotConvergedError."""
        rows = [o for o in self.outcomes if not only_unconverged or o.status != CONVERGED]
        if not rows:
            return []
        w = max(len("LISTING"), *(len(o.name) for o in rows))
        lines = [f"  {'LISTING':<{w}}  {'STATUS':<9}  {'VIA':<5}  ISSUE"]
        for o in rows:
            first = o.issues[0] if o.issues else None
            issue = f"[{first.code}] {first.message}" if first else ""
            more = f" (+{len(o.issues) - 1} more)" if len(o.issues) > 1 else ""
            lines.append(f"  {o.name:<{w}}  {o.status:<9}  {o.via:<5}  {issue}{more}")
        for e in self.errors:
            lines.append(f"  error: {e}")
        return lines

    def data(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "strategy_reason": self.strategy_reason,
            "summary": dict(Counter(o.status for o in self.outcomes)),
            "outcomes": [o.data() for o in self.outcomes],
            "feeds": [f.data() for f in self.feeds],
            "kpis": self.kpis.data(),
            "errors": list(self.errors),
        }
