"""``orders pull``: every account's orders, incrementally, into the local state.

Per account (one ``searchOrders`` query covers all of its marketplaces, which is what the quota
rewards: 0.0056 rps, burst 20, per seller):

- ``lastUpdatedAfter`` is the account's cursor (first run: ``since``, default 30 days ago);
- ``fulfilledBy=MERCHANT`` (Amazon ships its own), ``includedData=BUYER,RECIPIENT,FULFILLMENT``;
- every page is followed (the client's token bucket waits when the burst is spent); accounts
  are separate sellers with separate buckets, so they are read in parallel threads;
- the orders are normalized and upserted; the cursor moves to the response's
  ``lastUpdatedBefore`` only after the last page is stored, so a failed pull is simply re-run.

Idempotent: re-running right away returns nothing new (the window is empty, or holds only
orders whose status and ``lastUpdatedTime`` are already stored).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from reconciler.kernel.clock import iso_utc
from reconciler.kernel.model import Account
from reconciler.spapi.client import SpApiClient
from reconciler.spapi.orders import search_orders_pages

from .model import Order, normalize
from .state import OrderState

DEFAULT_LOOKBACK_DAYS = 30.0


@dataclass
class PullResult:
    orders: list[Order] = field(default_factory=list)  # new or changed this run
    seen: int = 0  # orders returned by Amazon (changed or not)
    pages: int = 0
    seconds: float = 0.0
    cursors: dict[str, str] = field(default_factory=dict)


def iso(ts: float) -> str:
    return iso_utc(ts)


def _fetch(client: SpApiClient, acc: Account, after: str) -> list[dict[str, Any]]:
    return list(search_orders_pages(
        client,
        marketplace_ids=[m.marketplace_id for m in acc.marketplaces],
        last_updated_after=after,
        fulfilled_by=["MERCHANT"],
    ))


def pull(accounts: Sequence[Account], clients: Mapping[str, SpApiClient], state: OrderState,
         *, since: str | None = None, clock: Callable[[], float] = time.time,
         monotonic: Callable[[], float] = time.monotonic) -> PullResult:
    """Pull every account; accounts (separate sellers, separate quotas) are read in parallel,
    then stored one after another."""
    start = monotonic()
    result = PullResult()
    afters = {a.name: state.cursor(a.name) or since
              or iso(clock() - DEFAULT_LOOKBACK_DAYS * 86400) for a in accounts}
    with ThreadPoolExecutor(max_workers=max(1, len(accounts))) as pool:
        futures = {a.name: pool.submit(_fetch, clients[a.name], a, afters[a.name])
                   for a in accounts}
        fetched = {name: f.result() for name, f in futures.items()}
    for acc in accounts:
        end: str | None = None
        for page in fetched[acc.name]:
            result.pages += 1
            raw = page.get("orders") or []
            result.seen += len(raw)
            result.orders.extend(state.upsert(normalize(o, acc.name, acc.seller_id)
                                              for o in raw))
            end = end or page.get("lastUpdatedBefore")
        if end:
            state.set_cursor(acc.name, end)
            result.cursors[acc.name] = end
    result.seconds = monotonic() - start
    return result
