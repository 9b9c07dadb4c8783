"""A seeded audit history for the report: 15-minute drift applies per account, and a daily
merge apply, in the audit line format apply writes (``reconciler/apply/audit.py`` +
``cli/apply.py``'s extras).

``generate(out_dir, days=365, accounts=("na", "eu"))`` writes ``drift-<account>.jsonl`` and
``apply.jsonl`` into ``out_dir``: a year for two accounts is 70,080 drift lines + 365 applies.
``breaches`` puts one value past a target at a chosen drift run (``(account, index)``), so a
test knows exactly which runs must be marked. Everything else stays inside the targets. The
same seed gives the same files.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

START = datetime(2025, 1, 1, tzinfo=timezone.utc)
PERIOD = timedelta(minutes=15)
MARKETPLACES = {"na": (("US", "ATVPDKIKX0DER", "USD"), ("CA", "A2EUQ1WTGCTBG2", "CAD")),
                "eu": (("UK", "A1F83G8C2ARO7P", "GBP"), ("DE", "A1PA6795UKMFR9", "EUR"))}
# a breach value per target: just past it
BREACH_VALUES = {"sync_success_pct": 97.5, "latency_p95_ms": 1450.0,
                 "stock_deviation_pct": 1.8}


@dataclass(frozen=True)
class Breach:
    target: str  # sync_success_pct | latency_p95_ms | stock_deviation_pct
    account: str
    index: int  # the drift run of that account (0 = the first)

    def time(self) -> datetime:
        return START + self.index * PERIOD

    @property
    def run_id(self) -> str:
        """The id `reconciler report` gives that run (its anchor in the page)."""
        return f"run-{self.time():%Y%m%dT%H%M%SZ}-{self.account}"


def _outcome(account: str, sku: str, mid: str, status: str = "converged",
             issue: Mapping[str, str] | None = None) -> dict[str, Any]:
    o: dict[str, Any] = {"account": account, "sku": sku, "marketplace_id": mid,
                         "action": "update", "status": status, "via": "patch"}
    if issue:
        o["issues"] = [{**issue, "severity": "ERROR", "attributes": []}]
    return o


def _record(t: datetime, outcomes: list[dict[str, Any]], kpis: dict[str, Any],
            command: str = "apply", prices: Sequence[dict[str, Any]] = (),
            wall: float | None = None) -> dict[str, Any]:
    n = len(outcomes)
    lower = max(0.0, (n - 10) / 5.0)
    return {
        "actor": "github-actions", "command": command, "converged": all(
            o["status"] == "converged" for o in outcomes), "error": "", "feeds": [],
        "git_commit": "0" * 40, "kpis": kpis, "outcomes": outcomes,
        "plan_checksum": "c" * 64, "strategy": "patch",
        "strategy_reason": f"auto: patch: {n} listings, est. {lower:.1f} s via patchListingsItem",
        "summary": f"applied {n} listings via patch: {n} converged, 0 pending, 0 rejected",
        "time": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "wall_s": wall, "lower_bound_s": lower,
        "prices": list(prices),
    }


def generate(out_dir: str | Path, *, days: int = 365, accounts: Sequence[str] = ("na", "eu"),
             skus: int = 40, breaches: Sequence[Breach] = (), seed: int = 17) -> int:
    """Write the history; returns the number of audit lines."""
    rng = random.Random(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sku_names = [f"SKU-{i:04d}" for i in range(skus)]
    base_price = {s: 10 + rng.randrange(0, 9000) / 100 for s in sku_names}
    breach_at = {(b.account, b.index): b for b in breaches}
    runs = days * 96
    lines = 0
    for account in accounts:
        mps = MARKETPLACES.get(account, MARKETPLACES["na"])
        with (out / f"drift-{account}.jsonl").open("w", encoding="utf-8") as f:
            for i in range(runs):
                jitter = rng.randrange(0, 40)
                # a breach run starts on the quarter hour, so Breach.run_id names it exactly
                t = START + i * PERIOD + timedelta(seconds=0 if (account, i) in breach_at
                                                   else jitter)
                n = rng.choice((0, 0, 1, 1, 2, 3))
                outcomes = [_outcome(account, rng.choice(sku_names), rng.choice(mps)[1])
                            for _ in range(n)]
                kpis = {"sync_success_pct": 100.0,
                        "latency_p50_ms": round(rng.uniform(80, 200), 1),
                        "latency_p95_ms": round(rng.uniform(250, 700), 1),
                        "stock_deviation_pct": round(rng.choice((0.0, 0.0, 0.0, 0.1, 0.3)), 2),
                        "retries": rng.choice((0, 0, 0, 1)), "throttles": rng.choice((0,) * 9
                                                                                    + (2,)),
                        "errors": 0, "calls": {"patchListingsItem": n,
                                               "searchListingsItems": 2}}
                b = breach_at.get((account, i))
                if b is not None:
                    if not outcomes:
                        outcomes = [_outcome(account, sku_names[0], mps[0][1])]
                    kpis[b.target] = BREACH_VALUES[b.target]
                    if b.target == "sync_success_pct":
                        # a SKU no other run writes: it stays rejected, for a person
                        outcomes.append(_outcome(
                            account, "SKU-REJECTED", mps[0][1], "rejected",
                            {"code": "8541", "message": "conflicting data in the catalog"}))
                if not outcomes:
                    kpis = {}
                rec = _record(t, outcomes, kpis, "apply",
                              wall=round(rng.uniform(1.5, 6.0), 2) if outcomes else None)
                f.write(json.dumps(rec, sort_keys=True) + "\n")
                lines += 1
    with (out / "apply.jsonl").open("w", encoding="utf-8") as f:
        for day in range(days):
            t = START + timedelta(days=day, hours=14, minutes=3)
            rate_date = (START + timedelta(days=day - day % 7)).date().isoformat()
            fx = 1.0 + 0.02 * ((day // 7) % 5)
            outcomes, prices = [], []
            for account in accounts:
                for code, mid, cur in MARKETPLACES.get(account, MARKETPLACES["na"]):
                    for sku in sku_names[:: max(1, skus // 8)]:
                        outcomes.append(_outcome(account, sku, mid))
                        price = round(base_price[sku] * fx, 2) if day % 7 == 0 else None
                        if price is not None:
                            prices.append({"account": account, "sku": sku, "marketplace": code,
                                           "currency": cur, "kind": "offer", "price": price,
                                           "min": round(base_price[sku] * 0.9, 2),
                                           "max": round(base_price[sku] * 1.5, 2),
                                           "rate_as_of": rate_date})
            kpis = {"sync_success_pct": 100.0, "latency_p50_ms": 150.0, "latency_p95_ms": 420.0,
                    "stock_deviation_pct": 0.0, "retries": 0, "throttles": 0, "errors": 0,
                    "calls": {"patchListingsItem": len(outcomes)}}
            f.write(json.dumps(_record(t, outcomes, kpis, "apply", prices,
                                       wall=round(rng.uniform(10, 30), 2)),
                               sort_keys=True) + "\n")
            lines += 1
    return lines
