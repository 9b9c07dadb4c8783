"""Apply a plan: the only loop that writes to Amazon. Returns an :class:`ApplyReport`.

1. **Strategy.** ``patch``, ``feed``, or ``auto`` = ``plan.strategy.chosen`` (the estimate from
   Amazon's quotas shown in the plan), which may be ``hybrid``: the plan's split of each
   account's SKUs between PATCH and JSON_LISTINGS_FEED, both paths running at once
   (``writers.write_both``). Every listing of a SKU goes one way within a run, so a PATCH and a
   feed for the same SKU are never in flight together; across runs, feeds a killed run left
   queued are tracked in a journal and waited for first (see ``feedrun``).
2. **Write.** One request per listing (``patches.listing_request``: all field changes of a
   listing in one PATCH/PUT/DELETE or one feed message), so DEFAULT=0 always travels with the
   location quantities. Accounts run in parallel, one thread each (separate quotas); inside an
   account, patch workers share the client's per-operation token buckets, which pace them.
3. **Verify.** ACCEPTED is not applied: read back in bulk until converged / rejected / the bound
   (``verify``). Pipelined with the feeds: as soon as one feed is terminal and its processing
   report is mapped, its accepted listings are verified (in the background, each feed's
   listings with the full verify bound from that moment) while the later feeds are still
   processing, so only the last feed's listings are read after the last write. Patches are
   verified once every patch was sent.
4. **Report.** Per-listing outcome, strategy and why, feeds, KPIs.

No printing: progress goes to the ``progress(phase, done, total)`` callback.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Collection, Mapping
from functools import partial
from typing import Any

from reconciler.apply import feeds as feedrun
from reconciler.apply import kpi, verify, writers
from reconciler.apply.outcome import PENDING, ApplyReport, ListingOutcome
from reconciler.apply.state import AccountRun, Progress, ProgressCounter
from reconciler.apply.verifier import Verifier
from reconciler.kernel.errors import ApiError, ReconcilerError
from reconciler.kernel.gcpause import frozen_heap
from reconciler.kernel.model import DesiredListing, DesiredState, Issue, ListingKey, LiveListing
from reconciler.kernel.redact import redact
from reconciler.plan.change import Change
from reconciler.plan.strategy import hybrid_patch_skus, path_addressable
from reconciler.plan.value import Plan
from reconciler.spapi.client import SpApiClient

STRATEGIES = ("auto", "patch", "feed")
DEFAULT_WORKERS = 8  # ~ rate x latency + burst for patchListingsItem (5 rps, 300 ms, burst 5)


__all__ = ["STRATEGIES", "ApplyReport", "apply_plan", "check_stale", "choose_strategy"]

check_stale = verify.check_stale


def choose_strategy(plan: Plan, requested: str) -> tuple[str, str]:
    """(strategy, why)."""
    if requested not in STRATEGIES:
        raise ReconcilerError(f"unknown strategy {requested!r} (use auto, patch or feed)")
    if requested != "auto":
        return requested, f"--strategy {requested}"
    est = plan.strategy
    if est is None:
        return "patch", "auto: the plan carries no estimate; patch is the safe default"
    if est.chosen == "hybrid" and est.hybrid is None:
        return "patch", "auto: the plan's hybrid estimate has no split; patch is the safe default"
    return est.chosen, f"auto: {est.describe()}"


def _patch_skus(plan: Plan, chosen: str, account: str, changes: list[Change]) -> frozenset[str]:
    """A hybrid apply's PATCH SKUs of ``account``: as many as the plan's split says (all the
    addressable ones when it does not name the account), first in SKU order."""
    h = plan.strategy.hybrid if plan.strategy is not None else None
    if chosen != "hybrid" or h is None:
        return frozenset()
    k = h.patch_sku_count(account)
    keys = [c.key for c in changes]
    return hybrid_patch_skus(keys, len(keys) if k is None else k)


def apply_plan(
    plan: Plan,
    desired: DesiredState,
    clients: Mapping[str, SpApiClient],
    *,
    strategy: str = "auto",
    verify_timeout_s: float,
    verify_interval_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Progress | None = None,
    feed_poll_interval_s: float = 5.0,
    feed_timeout_s: float | None = None,
    workers: int = DEFAULT_WORKERS,
    state_dir: str | None = None,
    live_before: Mapping[ListingKey, LiveListing | None] | None = None,
) -> ApplyReport:
    """Write ``plan`` and verify it. ``state_dir`` enables the feed journal (recommended);
    ``live_before`` (the live state the plan was made from) tells verify which ERROR issues
    were already there. Never raises for per-listing or per-account API failures: they end up
    in the report (pending/rejected, ``errors``)."""
    chosen, why = choose_strategy(plan, strategy)
    desired_by_key = {d.key: d for d in desired.listings}
    sellers = {a.name: a.seller_id for a in desired.accounts}
    mps = verify.marketplace_configs(desired)
    accounts: list[AccountRun] = []
    for name in sorted({c.key.account for c in plan.changes}):
        if name not in clients:
            raise ReconcilerError(f"no SP-API client for account {name!r}")
        accounts.append(
            AccountRun(
                name,
                clients[name],
                sellers.get(name, clients[name].seller_id),
                [c for c in plan.changes if c.key.account == name],
            )
        )
    patch_skus = {a.name: _patch_skus(plan, chosen, a.name, a.changes) for a in accounts}
    total = len(plan.changes)
    counter = ProgressCounter(progress, total)
    baseline = {
        k: {(i.code, i.message) for i in (v.issues if v else ()) if i.severity == "ERROR"}
        for k, v in (live_before or {}).items()
    }

    def run(acc: AccountRun) -> None:
        try:
            _run_account(
                acc,
                chosen,
                patch_skus[acc.name],
                desired_by_key,
                mps,
                baseline,
                counter,
                verify_timeout_s=verify_timeout_s,
                verify_interval_s=verify_interval_s,
                feed_poll_interval_s=feed_poll_interval_s,
                feed_timeout_s=verify_timeout_s if feed_timeout_s is None else feed_timeout_s,
                workers=workers,
                clock=clock,
                sleep=sleep,
                state_dir=state_dir,
            )
        except ReconcilerError as e:  # account-level failure (auth, outage after retries)
            acc.error = redact(f"account {acc.name}: {e}")
        except Exception as e:  # reported; the other accounts continue
            acc.error = redact(f"account {acc.name}: unexpected {type(e).__name__}: {e}")
            acc.bug = e

    threads = [threading.Thread(target=run, args=(a,), name=f"apply-{a.name}") for a in accounts]
    with frozen_heap():
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return _report(plan, chosen, why, accounts, desired_by_key, clients)


def _run_account(
    acc: AccountRun,
    chosen: str,
    patch_skus: frozenset[str],
    desired_by_key: Mapping[ListingKey, DesiredListing],
    mps: Mapping[tuple[str, str], Any],
    baseline: Mapping[ListingKey, Collection[tuple[str, str]]],
    counter: ProgressCounter,
    *,
    verify_timeout_s: float,
    verify_interval_s: float,
    feed_poll_interval_s: float,
    feed_timeout_s: float,
    workers: int,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    state_dir: str | None,
) -> None:
    journal = feedrun.Journal(state_dir, acc.name)
    blocked = feedrun.settle_journal(
        acc.client,
        journal,
        timeout_s=feed_timeout_s,
        poll_s=feed_poll_interval_s,
        clock=clock,
        sleep=sleep,
    )
    holding = journal.holding()
    todo: list[Change] = []
    for c in acc.changes:
        if c.key.sku in blocked.get(c.key.marketplace_id, set()):
            fid, age = holding.get(c.key.marketplace_id, {}).get(c.key.sku, ("?", 0.0))
            why = Issue(
                "FEED_IN_FLIGHT",
                f"feed {fid} of an earlier run, submitted {feedrun.age_text(age)} ago, is still "
                "unfinished and holds this SKU; not written until it finishes",
            )
            acc.written[c.key] = (PENDING, (why,), "none")
        else:
            todo.append(c)

    verifier = Verifier(
        acc,
        desired_by_key,
        mps,
        baseline,
        counter,
        timeout_s=verify_timeout_s,
        interval_s=verify_interval_s,
        clock=clock,
        sleep=sleep,
    )
    def feeds(changes: list[Change], **kw: Any) -> None:
        writers.write_feeds(acc, changes, journal, counter, feed_timeout_s, feed_poll_interval_s,
                            clock, sleep, on_done=verifier.start, **kw)

    try:
        if chosen == "feed":
            feeds(todo)
        elif chosen == "hybrid":
            # both paths at once, split by SKU: a SKU's listings all go one way
            feed_part = [c for c in todo if c.key.sku not in patch_skus]
            patch_part = [c for c in todo if c.key.sku in patch_skus]

            def patched() -> None:
                writers.write_patches(acc, patch_part, counter, workers, verifier.start)

            writers.write_both(
                patched,
                partial(feeds, feed_part, progress_key=f"{acc.name}/feed"),
                name=f"feeds-{acc.name}",
            )
        else:
            # a SKU with '/' cannot be addressed in a path: its listings go by feed anyway
            by_path = [c for c in todo if path_addressable(c.key.sku)]
            writers.write_patches(acc, by_path, counter, workers, verifier.start)
            by_feed = [c for c in todo if not path_addressable(c.key.sku)]
            if by_feed:
                feeds(by_feed, sent=len(by_path))
        # rejected or not written: nothing to wait for
        verifier.set_decided(len(acc.changes) - verifier.targets)
        results, last = verifier.finish()
    except BaseException:
        verifier.cancel()
        raise
    finally:
        verifier.close()
    # Listings verify did not read (rejected, not written) still count in the stock deviation.
    unread = [c.key for c in acc.changes if c.key not in last]
    if unread:
        with contextlib.suppress(ApiError):
            last.update(verify.read_back(acc.client, unread, mps))
    acc.live_after = last
    for key, (status, issues) in results.items():
        via = acc.written[key][2]
        acc.written[key] = (status, issues, via)


def _report(
    plan: Plan,
    chosen: str,
    why: str,
    accounts: list[AccountRun],
    desired_by_key: Mapping[ListingKey, DesiredListing],
    clients: Mapping[str, SpApiClient],
) -> ApplyReport:
    outcomes: list[ListingOutcome] = []
    live_after: dict[ListingKey, LiveListing | None] = {}
    feed_of: dict[ListingKey, str] = {}
    for acc in accounts:
        live_after.update(acc.live_after)
        feed_of.update(acc.feed_of)
    by_acc = {a.name: a for a in accounts}
    for c in plan.changes:
        acc = by_acc[c.key.account]
        status, issues, via = acc.written.get(c.key, (PENDING, (), "none"))
        if status == "submitted":  # verify never ran (account failed mid-way)
            status = PENDING
        if acc.error and status == PENDING and not issues:
            issues = (Issue("ACCOUNT_ERROR", acc.error),)
        outcomes.append(
            ListingOutcome(
                c.key,
                c.action,
                status,
                via,
                issues,
                feed_of.get(c.key, "") if via == "feed" else "",
            )
        )
    applied = [
        desired_by_key[c.key]
        for c in plan.changes
        if c.key in desired_by_key and c.key in live_after
    ]
    totals = _totals(clients[a.name] for a in accounts)
    k = kpi.compute([o.status for o in outcomes], applied, live_after, totals)
    return ApplyReport(
        outcomes=tuple(outcomes),
        strategy=chosen if plan.changes else "none",
        strategy_reason=why,
        feeds=tuple(f for a in accounts for f in a.feeds),
        kpis=k,
        plan_checksum=plan.checksum,
        errors=tuple(a.error for a in accounts if a.error),
        bugs=tuple(a.bug for a in accounts if a.bug is not None),
    )


def _totals(clients: Any) -> kpi.CallTotals:
    lat: list[float] = []
    calls: dict[str, int] = {}
    retries = throttles = errors = 0
    for cl in clients:
        snap = cl.stats  # every worker thread has been joined: no concurrent writers
        for vs in list(snap.latencies.values()):
            lat.extend(v * 1000.0 for v in vs)
        for op, n in list(snap.calls.items()):
            calls[op] = calls.get(op, 0) + n
        retries += sum(snap.retries.values())
        throttles += sum(snap.throttles.values())
        errors += sum(snap.errors.values())
    return kpi.CallTotals(tuple(lat), calls, retries, throttles, errors)
