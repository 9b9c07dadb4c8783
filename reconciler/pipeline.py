"""Plan orchestration: the edge that joins the catalog, the SP-API and the pure core.

    catalog dir --loader/desired--> DesiredState
    accounts    --spapi.connect-->  one client per account
    clients     --spapi.reader-->   raw Items --live.normalize_item--> LiveListing per key
    desired x live --plan.build_plan--> Plan

Reads run one thread per account (each account has its own quotas, design.md §6); inside an
account the reader runs its own concurrent batches under the client's token buckets.
"""

from __future__ import annotations

import difflib
import os
import threading
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from reconciler.catalog.loader import load_desired
from reconciler.catalog.select import select_accounts
from reconciler.kernel import connstate, statedir
from reconciler.kernel.clock import clock_margin, iso_utc
from reconciler.kernel.destinations import operator_hosts
from reconciler.kernel.errors import CatalogError, Problem, ReconcilerError
from reconciler.kernel.gcpause import ReadHeap
from reconciler.kernel.marketplaces import canonical_code
from reconciler.kernel.model import (
    Account,
    DesiredState,
    ListingKey,
    LiveListing,
    MarketplaceConfig,
)
from reconciler.live import normalize as live_mod
from reconciler.live.cache import CACHE_FILENAME, LiveCache
from reconciler.live.digests import LazyDigests
from reconciler.live.reader import SearchCapReached, read_listings, read_updated_since
from reconciler.plan.builder import PlanBuilder
from reconciler.plan.value import Plan
from reconciler.spapi.client import SpApiClient
from reconciler.spapi.connect import client_for, require_credentials

Progress = Callable[[int], None]
Item = dict[str, Any]

REFRESH_MODES = ("auto", "full", "incremental")
# `auto` and `incremental` read fully when the last full read is older than this.
MAX_CACHE_AGE_SECONDS = 6 * 3600
# Marks are set clock_margin() before a read started (see clockskew).


@dataclass(frozen=True)
class ReadStats:
    """What a live read did per (account, marketplace_id): 'full' or 'incremental', and how many
    listings came fresh from Amazon vs from the cache."""

    mode: dict[tuple[str, str], str]
    fresh: int
    cached: int


@dataclass(frozen=True)
class PlanRun:
    plan: Plan
    desired: DesiredState
    live: dict[ListingKey, LiveListing | None]
    clients: dict[str, SpApiClient]


def load(
    catalog_dir: str | os.PathLike[str],
    *,
    today: date | None = None,
    state_dir: str | os.PathLike[str] | None = None,
) -> DesiredState:
    """The catalog's desired state. With ``state_dir``, stock promised to routed, unshipped
    orders (`reconciler orders route`) is subtracted from ``stock.csv`` before allocation, so
    the quantity plan never offers it again."""
    root = Path(catalog_dir)
    if not root.is_dir():
        raise ReconcilerError(
            f"catalog directory {str(catalog_dir)!r} not found "
            "(pass CATALOG_DIR or set RECONCILER_CATALOG)"
        )
    if state_dir is not None:
        from reconciler.orders.reserve import load_desired as load_reserved

        return load_reserved(root, Path(state_dir), today=today or date.today())
    desired: DesiredState = load_desired(root, today=today or date.today())
    return desired


def open_clients(
    desired: DesiredState,
    *,
    state_dir: str,
    env: Mapping[str, str] = os.environ,
    accounts: Collection[str] = (),
    **client_kwargs: Any,
) -> dict[str, SpApiClient]:
    """One client per account (credentials resolved here, not before)."""
    wanted = [a for a in desired.accounts if not accounts or a.name in accounts]
    require_credentials(wanted, env)  # all of them before any request (a loopback server's
    # time scale is asked for when its client is made)
    return {
        a.name: client_for(a, state_dir=state_dir, env=env, **client_kwargs) for a in wanted
    }


def close_clients(clients: Mapping[str, SpApiClient]) -> None:
    for c in clients.values():
        c.close()


def _marketplace_configs(accounts: Iterable[Account]) -> dict[tuple[str, str], MarketplaceConfig]:
    return {(a.name, m.marketplace_id): m for a in accounts for m in a.marketplaces}


CACHE_BATCH = 200  # listings a full read writes to the live cache in one transaction


def _now_iso() -> str:
    return iso_utc(datetime.now(timezone.utc) - clock_margin())


def read_live(
    desired: DesiredState,
    clients: Mapping[str, SpApiClient],
    keys: Iterable[ListingKey],
    progress: Progress | None = None,
    *,
    cache: LiveCache | None = None,
    refresh: str = "full",
    stats: dict[str, Any] | None = None,
    known: dict[ListingKey, str] | None = None,
    digests: Mapping[ListingKey, str] | None = None,
    builder: PlanBuilder | None = None,
    slim: bool = False,
) -> dict[ListingKey, LiveListing | None]:
    """Read and normalize the live state of ``keys`` (None where not listed).

    ``refresh="full"`` reads every key from Amazon (and refreshes the cache when given).
    ``"incremental"`` reads only what changed on Amazon since the last read
    (``lastUpdatedAfter``), what changed in the catalog since, and what the cache does not
    hold; the rest comes from the cache. It falls back to a full read when the cache has no
    full read younger than MAX_CACHE_AGE_SECONDS, or the change set exceeds Amazon's search cap.
    ``"auto"`` is incremental when the cache is fresh, else full.

    With ``known`` (a dict to fill), an incremental read also skips listings that changed
    neither on Amazon nor in the catalog since a plan found them unchanged: their keys go into
    ``known`` with the fingerprint of that plan, and not into the result (``build_plan(known=)``
    counts them unchanged without diffing). Apply never passes it: it always reads fully.

    With ``builder`` and ``slim``, a listing the plan leaves alone (no change, not held) is
    returned without its attributes (its status, issues and product type kept): an apply needs
    no more of it, and at 100,000+ listings they are most of the plan's memory.

    Listings are normalized (and, with ``builder``, diffed into the plan) on one worker thread
    as their search pages arrive, so that CPU work overlaps the quota-bound reading; only the
    last pages' listings are left to process once the read ends.
    """
    if refresh not in REFRESH_MODES:
        raise ValueError(f"refresh must be one of {REFRESH_MODES}")
    mps = _marketplace_configs(desired.accounts)
    keep = desired.managed_attributes  # attributes no listing declares are not kept (memory)
    if digests is None:
        digests = LazyDigests(desired) if cache is not None else {}
    by_account: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for k in keys:
        by_account[k.account][k.marketplace_id].append(k.sku)
    modes: dict[tuple[str, str], str] = {}
    counts = {"fresh": 0, "cached": 0}

    live: dict[ListingKey, LiveListing | None] = {}
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="normalize")
    heap = ReadHeap()
    pending: list[Future[None]] = []

    def process(account: str, mp_id: str, items: dict[str, Item | None]) -> None:
        mp = mps[(account, mp_id)]
        # no paused_gc() per page: re-enabling the collector after every 20 listings made it
        # run at once (the allocations made while paused count), scanning the whole heap; what
        # was read is frozen out of its reach instead (ReadHeap)
        for sku, item in items.items():
            key = ListingKey(account, sku, mp_id)
            if known is not None and key in known:
                continue
            have = None if item is None else live_mod.normalize_item(item, key, mp, keep)
            if builder is not None and not builder.add(key, have) and slim and have:
                have = replace(have, attributes={})  # what an unchanged listing kept (memory)
            live[key] = have
        heap.tick()

    def hand_over(account: str, mp_id: str, items: dict[str, Item | None]) -> None:
        pending.append(worker.submit(process, account, mp_id, items))

    def read_one(account: str, mp_id: str, skus: list[str]) -> dict[str, Item | None]:
        client = clients[account]
        started = _now_iso()
        incremental = (
            cache is not None
            and refresh in ("incremental", "auto")
            and not cache.needs_full_read(
                account, mp_id, now_iso=started, max_age_seconds=MAX_CACHE_AGE_SECONDS
            )
        )
        if cache is not None and incremental:
            since = cache.watermark(account, mp_id)
            try:
                updated = read_updated_since(client, mp_id, since) if since else None
            except SearchCapReached:
                updated = None
            if updated is not None:
                wanted = set(skus)
                sku_digests = {s: digests[ListingKey(account, s, mp_id)] for s in skus}
                changed = cache.changed_in_catalog(account, mp_id, sku_digests)
                from_amazon = {s: i for s, i in updated.items() if s in wanted}
                memo: dict[str, str] = {}
                if known is not None:
                    for s, (digest, fp) in cache.unchanged_outcomes(account, mp_id, skus).items():
                        if s not in from_amazon and s not in changed and digest == sku_digests[s]:
                            memo[s] = fp
                    known.update({ListingKey(account, s, mp_id): fp for s, fp in memo.items()})
                need = [s for s in skus if s not in memo]
                cached = cache.lookup(account, mp_id, need)
                stale = sorted((set(need) - set(cached)) | (changed & set(need)))
                fresh = read_listings(client, mp_id, stale, progress=progress) if stale else {}
                items: dict[str, Item | None] = {**cached, **from_amazon, **fresh}
                # The mark moves past Amazon's edits below: a plan's "unchanged" outcome of an
                # edited listing goes now, not only when a plan records outcomes after this
                # read, else the next read (whose lastUpdatedAfter no longer returns the edit)
                # would count the listing unchanged without diffing it
                if from_amazon:
                    cache.record_outcomes(account, mp_id, {}, from_amazon)
                cache.put_many(account, mp_id, {**from_amazon, **fresh}, started)
                cache.set_catalog_digests(account, mp_id, sku_digests)
                cache.mark_incremental_read(account, mp_id, started)
                modes[(account, mp_id)] = "incremental"
                counts["fresh"] += len(fresh) + len(set(from_amazon) - set(fresh))
                counts["cached"] += len(wanted) - len(set(fresh) | set(from_amazon))
                if progress is not None:
                    progress(len(skus) - len(stale))
                hand_over(account, mp_id, {s: items.get(s) for s in skus})
                return items
        # The cache is written as the pages arrive, CACHE_BATCH listings at a time: written
        # at the end of each marketplace's read, every seller's 2,000+ listings were encoded
        # at once and the GIL-bound stall held up every seller's searches (issue 19).
        batch: dict[str, Item | None] = {}
        lock = threading.Lock()

        def store(found: dict[str, Item | None], last: bool = False) -> None:
            if cache is None:
                return
            with lock:
                batch.update(found)
                if not batch or (len(batch) < CACHE_BATCH and not last):
                    return
                part = dict(batch)
                batch.clear()
            cache.put_many(account, mp_id, part, started)
            cache.set_catalog_digests(
                account, mp_id, {s: digests[ListingKey(account, s, mp_id)] for s in part}
            )

        def found(page: dict[str, Item | None]) -> None:
            hand_over(account, mp_id, page)
            store(page)

        items = read_listings(client, mp_id, skus, progress=progress, on_found=found)
        modes[(account, mp_id)] = "full"
        counts["fresh"] += len(items)
        if cache is not None:
            store({}, last=True)
            cache.mark_full_read(account, mp_id, started)
        return items

    def read_account(account: str) -> None:
        for mp_id, skus in sorted(by_account[account].items()):
            read_one(account, mp_id, skus)

    with heap:
        try:
            if by_account:
                with ThreadPoolExecutor(
                    max_workers=len(by_account), thread_name_prefix="account"
                ) as pool:
                    for _ in pool.map(read_account, sorted(by_account)):
                        pass
        finally:
            worker.shutdown(wait=True)  # every hand-over done (or failed) before we return
    for f in pending:
        f.result()  # a normalize/diff error surfaces here, as it would have inline
    # Requested order, as before (callers and tests iterate it).
    result = {
        k: live[k]
        for account in sorted(by_account)
        for mp_id, skus in sorted(by_account[account].items())
        for k in (ListingKey(account, s, mp_id) for s in skus)
        if k in live
    }
    if stats is not None:
        stats["read"] = ReadStats(dict(modes), counts["fresh"], counts["cached"])
    return result


def open_cache(state_dir: str) -> LiveCache:
    statedir.ensure(state_dir)
    return LiveCache(Path(state_dir) / CACHE_FILENAME)


def targeted_keys(
    desired: DesiredState, skus: Collection[str] = (), marketplaces: Collection[str] = ()
) -> list[ListingKey]:
    codes = {(a.name, m.marketplace_id): m.code for a in desired.accounts for m in a.marketplaces}
    wanted_mps = _codes(marketplaces)
    return [
        d.key
        for d in desired.listings
        if (not skus or d.key.sku in skus)
        and (not wanted_mps or codes.get((d.key.account, d.key.marketplace_id)) in wanted_mps)
    ]


def run_plan(
    catalog_dir: str | os.PathLike[str],
    *,
    skus: Collection[str] = (),
    marketplaces: Collection[str] = (),
    accounts: Collection[str] = (),
    state_dir: str,
    env: Mapping[str, str] = os.environ,
    progress: Progress | None = None,
    on_read_start: Callable[[int], None] | None = None,
    desired: DesiredState | None = None,
    clients: dict[str, SpApiClient] | None = None,
    refresh: str = "full",
    stats: dict[str, Any] | None = None,
    slim_live: bool = False,
) -> PlanRun:
    """Load the catalog, read the live state of the targeted listings, and build the plan.
    ``slim_live``: the run's ``live`` keeps the attributes of the planned listings only (see
    :func:`read_live`'s ``slim``); what ``reconciler plan`` and ``apply`` need.

    The local live-state cache is always refreshed with what is read; ``refresh`` says whether
    it may also be used instead of reading (see :func:`read_live`). ``accounts`` (``--account``)
    cuts the desired state down to those accounts (:func:`select_accounts`): only their listings
    are read and planned, and only their clients made (no other account's credentials read)."""
    desired = desired if desired is not None else load(catalog_dir, state_dir=state_dir)
    if accounts:
        desired = select_accounts(desired, accounts, skus, marketplaces)
    check_targets(desired, skus, marketplaces)
    keys = targeted_keys(desired, skus, marketplaces)
    needed = {k.account for k in keys}
    owned = clients is None
    clients = (
        clients
        if clients is not None
        else open_clients(desired, state_dir=state_dir, env=env, accounts=needed)
    )
    try:
        if on_read_start is not None:
            on_read_start(len(keys))
        known: dict[ListingKey, str] = {}
        digests = LazyDigests(desired)
        with open_cache(state_dir) as cache:
            builder = PlanBuilder(
                desired, skus=skus, marketplaces=marketplaces, known=known,
                connections=connstate.read(state_dir), allowed_hosts=operator_hosts(env),
            )
            live = read_live(
                desired, clients, keys, progress, cache=cache, refresh=refresh, stats=stats,
                known=known if refresh != "full" else None, digests=digests, builder=builder,
                slim=slim_live,
            )
            plan = builder.finish(live)
            _record_outcomes(cache, plan, desired, digests)
    except BaseException:
        if owned:  # the caller never sees these clients: close their connections here
            close_clients(clients)
        raise
    return PlanRun(plan, desired, live, clients)


def _record_outcomes(
    cache: LiveCache, plan: Plan, desired: DesiredState, digests: Mapping[ListingKey, str]
) -> None:
    """Remember which listings this plan found unchanged, for the next incremental plan."""
    touched = {c.key for c in plan.changes} | {h.key for h in plan.held}
    present = {d.key for d in desired.listings if d.state == "present" and not d.held_texts}
    groups: dict[tuple[str, str], tuple[dict[str, tuple[str, str]], list[str]]] = {}
    for key, fp in plan.fingerprints.items():
        unchanged, changed = groups.setdefault((key.account, key.marketplace_id), ({}, []))
        if key in touched or key not in present:
            changed.append(key.sku)
        else:
            unchanged[key.sku] = (digests[key], fp)
    for (account, mp_id), (unchanged, changed) in groups.items():
        cache.record_outcomes(account, mp_id, unchanged, changed)


def _codes(marketplaces: Collection[str]) -> set[str]:
    """Marketplace codes as given on the command line, upper-cased; GB is UK."""
    return {canonical_code(m) for m in marketplaces}


def check_targets(
    desired: DesiredState, skus: Collection[str] = (), marketplaces: Collection[str] = ()
) -> None:
    """Refuse ``--sku`` / ``--marketplace`` values the catalog does not have (a typo must not
    read as "No changes"), naming them, with the closest SKU as a hint."""
    if marketplaces:
        _check_marketplaces(desired, marketplaces)
    if not skus:
        return
    known = {d.key.sku for d in desired.listings}
    unknown = [s for s in dict.fromkeys(skus) if s not in known]
    if unknown:
        close = [m for s in unknown for m in difflib.get_close_matches(s, known, n=1)]
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise ReconcilerError(
            f"--sku {', '.join(repr(s) for s in unknown)}: no such SKU in the catalog{hint}"
        )
    if marketplaces and not targeted_keys(desired, skus, marketplaces):
        raise ReconcilerError(
            f"--sku {', '.join(repr(s) for s in dict.fromkeys(skus))} is not listed in "
            f"marketplace(s) {', '.join(sorted(_codes(marketplaces)))}: nothing to plan"
        )


def _check_marketplaces(desired: DesiredState, marketplaces: Collection[str]) -> None:
    known = {m.code for a in desired.accounts for m in a.marketplaces}
    unknown = sorted(_codes(marketplaces) - known)
    if unknown:
        problems = [
            Problem("reconciler.yaml", message=f"--marketplace {u} is not configured")
            for u in unknown
        ]
        raise CatalogError(
            problems,
            summary=f"unknown marketplace(s) {', '.join(unknown)}; "
            f"configured: {', '.join(sorted(known))}",
        )
