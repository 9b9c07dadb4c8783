"""Listing health per marketplace, and the listings that need a person.

A listing's state, from the freshest evidence:

1. **held** for review: the latest plan (or, without one, the catalog) holds its texts; the
   reason says which: ``missing`` (no text in the marketplace's language), ``machine`` (a machine
   translation awaiting review) or ``stale`` (the source text changed since the translation);
2. **rejected**: its latest apply outcome was rejected, with Amazon's issue code;
3. **pending**: its latest outcome was pending, or the latest plan has a change for it (drift
   not applied yet);
4. **converged**: its latest outcome converged, or it was read live and nothing is pending;
5. **unknown**: in the catalog, but never applied, planned or read.

Issues Amazon reports on a live listing (the live cache) are counted apart: a converged listing
can still carry a WARNING. Needing a person: held, rejected, or an ERROR issue from Amazon.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.kernel.marketplaces import BY_ID

from .model import OutcomeRow, Run
from .sources import CatalogRead, LiveItem

STATES = ("converged", "pending", "rejected", "held", "unknown")
Key = tuple[str, str, str]  # account, sku, marketplace code


def held_category(reason: str) -> str:
    r = reason.lower()
    if "machine" in r:
        return "machine"
    if "stale" in r:
        return "stale"
    if "no text" in r or "missing" in r:
        return "missing"
    return "other"


@dataclass(frozen=True)
class Attention:
    """One listing a person must look at."""

    account: str
    sku: str
    marketplace: str
    kind: str  # held | rejected | amazon issue
    detail: str
    run_id: str = ""  # the run whose outcome table shows it
    time: datetime | None = None


@dataclass(frozen=True)
class Health:
    counts: Mapping[tuple[str, str], int]  # (marketplace, state) -> listings
    rejected_codes: Mapping[tuple[str, str], int]  # (marketplace, code) -> listings
    held: Mapping[tuple[str, str], int]  # (marketplace, category) -> listings
    amazon_issues: Mapping[tuple[str, str, str], int]  # (marketplace, severity, code) -> n
    issue_rows: tuple[tuple[str, str, str, str, str, str], ...]  # acct, sku, mp, sev, code, msg
    attention: tuple[Attention, ...]
    listings: int


def _code(mid: str) -> str:
    mp = BY_ID.get(mid)
    return mp.code if mp else mid


def _held(plans: Sequence[Mapping[str, Any]], catalog: CatalogRead) -> dict[Key, str]:
    out: dict[Key, str] = {}
    if plans:
        for p in plans:
            for h in p.get("held") or ():
                if isinstance(h, Mapping):
                    mp = str(h.get("marketplace") or _code(str(h.get("marketplace_id", ""))))
                    out[(str(h.get("account", "")), str(h.get("sku", "")), mp)] = str(
                        h.get("reason", ""))
    elif catalog.desired is not None:
        for d in catalog.desired.listings:
            if d.held_texts and d.state != "absent":
                out[(d.key.account, d.key.sku, _code(d.key.marketplace_id))] = d.held_reason
    return out


def _planned(plans: Sequence[Mapping[str, Any]]) -> set[Key]:
    out: set[Key] = set()
    for p in plans:
        for c in p.get("changes") or ():
            if isinstance(c, Mapping):
                mp = str(c.get("marketplace") or _code(str(c.get("marketplace_id", ""))))
                out.add((str(c.get("account", "")), str(c.get("sku", "")), mp))
    return out


def latest_outcomes(runs: Iterable[Run]) -> dict[Key, tuple[OutcomeRow, Run]]:
    latest: dict[Key, tuple[OutcomeRow, Run]] = {}
    for r in runs:
        for o in r.outcomes:
            latest[(o.account, o.sku, o.marketplace)] = (o, r)
    return latest


def build(runs: Sequence[Run], plans: Sequence[Mapping[str, Any]], catalog: CatalogRead,
          live: Sequence[LiveItem]) -> Health:
    held = _held(plans, catalog)
    planned = _planned(plans)
    latest = latest_outcomes(runs)
    live_by: dict[Key, LiveItem] = {(i.key.account, i.key.sku, i.marketplace): i for i in live}
    universe: set[Key] = set(latest) | set(held) | planned
    if catalog.desired is not None:
        universe |= {(d.key.account, d.key.sku, _code(d.key.marketplace_id))
                     for d in catalog.desired.listings if d.state != "absent"}
    else:
        universe |= {k for k, i in live_by.items() if i.exists}
    counts: Counter[tuple[str, str]] = Counter()
    codes: Counter[tuple[str, str]] = Counter()
    held_counts: Counter[tuple[str, str]] = Counter()
    attention: list[Attention] = []
    for key in sorted(universe):
        account, sku, mp = key
        state = "unknown"
        last = latest.get(key)
        if key in held:
            state = "held"
            cat = held_category(held[key])
            held_counts[(mp, cat)] += 1
            attention.append(Attention(account, sku, mp, "held", f"{cat}: {held[key]}"))
        elif last is not None and last[0].status == "rejected":
            state = "rejected"
            o, r = last
            codes[(mp, o.issue_code or "(no code)")] += 1
            detail = f"[{o.issue_code}] {o.issue_message}" if o.issue_code else "rejected"
            attention.append(Attention(account, sku, mp, "rejected", detail, r.run_id, r.time))
        elif (last is not None and last[0].status == "pending") or key in planned:
            state = "pending"
        elif last is not None or (key in live_by and live_by[key].exists):
            state = "converged"
        counts[(mp, state)] += 1
    issues: Counter[tuple[str, str, str]] = Counter()
    rows = []
    for i in live:
        for iss in i.issues:
            issues[(i.marketplace, iss.severity, iss.code)] += 1
            rows.append((i.key.account, i.key.sku, i.marketplace, iss.severity, iss.code,
                         iss.message))
            if iss.severity == "ERROR":
                attention.append(Attention(i.key.account, i.key.sku, i.marketplace,
                                           "amazon issue", f"[{iss.code}] {iss.message}"))
    rows.sort(key=lambda r: (r[3] != "ERROR", r[2], r[1], r[4]))
    attention.sort(key=lambda a: (a.marketplace, a.sku, a.account, a.kind))
    return Health(dict(counts), dict(codes), dict(held_counts), dict(issues), tuple(rows),
                  tuple(attention), len(universe))
