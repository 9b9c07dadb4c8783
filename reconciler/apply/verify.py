"""Read-back verification and the reviewed-plan check.

ACCEPTED is not applied: Amazon processes writes asynchronously. After writing, :func:`verify`
re-reads the listings in bulk (``searchListingsItems``, 20 SKUs a call) until each one's managed
projection diffs empty against the desired state (converged), Amazon shows an ERROR issue for it
(rejected), or the bound runs out (pending). A listing planned for deletion converges when it is
gone. Only the fields the change writes are judged: a field that drifted since the plan and is
left for the next plan does not keep a listing from converging.

An ERROR issue that was already on the listing when it was planned (``baseline``) is not taken as
the answer to this write until the bound runs out: the write may not be visible yet, and it may be
exactly what fixes that issue. A new ERROR issue rejects the listing even when it shows the values
written: ACCEPTED is only queued, and Amazon attaches what it finds while processing the write
(a catalog conflict, a price outside the allowed range) to the listing.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from reconciler.apply.outcome import CONVERGED, PENDING, REJECTED
from reconciler.kernel.errors import ApiError
from reconciler.kernel.model import (
    DesiredListing,
    DesiredState,
    Issue,
    ListingKey,
    LiveListing,
    MarketplaceConfig,
)
from reconciler.live import normalize as live_mod
from reconciler.live.reader import read_listings
from reconciler.plan.diff import diff_listing
from reconciler.plan.reviewed import Reconciled, reconcile
from reconciler.plan.value import Plan
from reconciler.spapi.client import SpApiClient


def poll_delay(round_: int, interval_s: float) -> float:
    """Polls back off from interval/8 to the interval (0.6, 1.25, 2.5, 5, 5 ... s for 5 s):
    quick answers for quick writes, at most one read per interval for slow ones."""
    return min(interval_s, interval_s / 8 * (1 << min(round_, 3)))


class VisibilityLag:
    """When an account's accepted writes become visible, learnt from the verification of its
    earlier parts, to time the polls of the later ones. Amazon shows a write some seconds after
    accepting it (minutes on a busy day); polls that back off from interval/8 to the interval
    saw the last part up to a whole interval after it became visible (issue 19: 14.4 s after
    the last PATCH for a 10 s delay). A part all decided at a poll, with listings still open at
    the poll before, bounds the delay of its last write (a part starts right after it) to that
    window after the part's start. Later parts wait for the window to open without polling
    (with Amazon's minutes of delay, polling every part all along spent a seller's search quota
    on reads that could not succeed), then poll every quarter of its width (at least
    interval/8) until it closes, then back off again, so a delay that grew is still seen within
    an interval. The narrowest window learnt is kept."""

    def __init__(self) -> None:
        self.window: tuple[float, float] | None = None

    def learn(self, polls: Sequence[tuple[float, int]]) -> None:
        """``polls``: (seconds since the part's start, listings still open) after each poll."""
        if len(polls) < 2 or polls[-1][1] != 0 or polls[-2][1] == 0:
            return
        lo, hi = polls[-2][0], polls[-1][0]
        if self.window is None or hi - lo < self.window[1] - self.window[0]:
            self.window = (lo, hi)

    def delay(self, round_: int, elapsed: float, interval_s: float) -> float:
        """The wait before the next poll: ``round_`` -1 is before a part's first poll."""
        if self.window is None:
            return 0.0 if round_ < 0 else poll_delay(round_, interval_s)
        lo, hi = self.window
        if elapsed < lo:  # nothing of this part can be visible yet: no search spent on it
            return lo - elapsed
        base = poll_delay(max(round_, 0), interval_s)
        if elapsed < hi:
            return min(base, max((hi - lo) / 4, interval_s / 8))
        return base


def marketplace_configs(desired: DesiredState) -> dict[tuple[str, str], MarketplaceConfig]:
    """(account, marketplace_id) -> MarketplaceConfig."""
    return {(a.name, m.marketplace_id): m for a in desired.accounts for m in a.marketplaces}


def check_stale(
    reviewed: Plan,
    today: Plan,
    desired: DesiredState,
    *,
    skus: Collection[str] = (),
    marketplaces: Collection[str] = (),
) -> Reconciled:
    """The reviewed plan against today's re-plan (``apply --plan FILE``): today's plan cut down
    to the reviewed writes that still hold, the reviewed writes that moved (apply refuses and
    names them: listing and field) and the writes nobody reviewed (left for the next plan).
    Live values that moved under a reviewed write do not make it stale: see
    :mod:`reconciler.plan.reviewed`."""
    return reconcile(reviewed, today, desired, skus=skus, marketplaces=marketplaces)


@dataclass(frozen=True)
class Target:
    """One listing to verify: what the plan did to it and what it should look like."""

    key: ListingKey
    action: str  # create | update | delete
    desired: DesiredListing | None
    attributes: frozenset[str]  # attributes the change writes (for issue matching)
    # (attribute, selector) the change writes: only these are judged (None: every managed one)
    fields: frozenset[tuple[str, tuple[tuple[str, str], ...]]] | None = None


def read_back(
    client: SpApiClient,
    keys: Collection[ListingKey],
    mps: Mapping[tuple[str, str], MarketplaceConfig],
) -> dict[ListingKey, LiveListing | None]:
    """Bulk-read and normalize listings of one account."""
    by_mp: dict[tuple[str, str], list[ListingKey]] = defaultdict(list)
    for k in keys:
        by_mp[(k.account, k.marketplace_id)].append(k)
    out: dict[ListingKey, LiveListing | None] = {}
    for (account, mp_id), ks in sorted(by_mp.items()):
        items = read_listings(client, mp_id, [k.sku for k in ks])
        mp = mps[(account, mp_id)]
        for k in ks:
            item = items.get(k.sku)
            out[k] = live_mod.normalize_item(item, k, mp) if item else None
    return out


def _error_issues(live: LiveListing, attributes: frozenset[str]) -> tuple[Issue, ...]:
    return tuple(
        i
        for i in live.issues
        if i.severity == "ERROR"
        and (not i.attribute_names or attributes.intersection(i.attribute_names))
    )


def judge(t: Target, live: LiveListing | None) -> tuple[str, tuple[Issue, ...]]:
    """converged or pending, with the ERROR issues seen (candidates for rejection: a listing
    can show exactly the values written and still carry an issue Amazon attached after
    accepting the write, e.g. a suppressed price)."""
    if t.action == "delete" or t.desired is None:
        return (CONVERGED, ()) if live is None else (PENDING, ())
    if live is None:
        return PENDING, ()
    issues = _error_issues(live, t.attributes)
    remaining = diff_listing(t.desired, live)
    if t.fields is not None:
        remaining = tuple(f for f in remaining if (f.attribute, f.selector) in t.fields)
    if not remaining:
        return CONVERGED, issues
    return PENDING, issues


def verify(
    client: SpApiClient,
    targets: Collection[Target],
    mps: Mapping[tuple[str, str], MarketplaceConfig],
    *,
    timeout_s: float,
    interval_s: float,
    baseline: Mapping[ListingKey, Collection[tuple[str, str]]] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[int], None] | None = None,
    schedule: Callable[[int, float], float] | None = None,
    on_poll: Callable[[float, int], None] | None = None,
) -> tuple[dict[ListingKey, tuple[str, tuple[Issue, ...]]], dict[ListingKey, LiveListing | None]]:
    """Poll until every target is decided or ``timeout_s`` passed. Returns per listing
    (status, issues) and the last live state read (for the KPIs). ``schedule(round, elapsed)``
    gives the wait before the next poll (default :func:`poll_delay`); ``on_poll(elapsed,
    still_open)`` hears of each completed poll (seconds since the start)."""
    baseline = baseline or {}
    start = clock()
    deadline = start + timeout_s

    def wait(round_: int) -> None:
        if schedule is None:
            d = poll_delay(round_, interval_s)
        else:
            d = schedule(round_, clock() - start)
        sleep(max(0.0, min(d, deadline - clock())))

    open_: dict[ListingKey, Target] = {t.key: t for t in targets}
    result: dict[ListingKey, tuple[str, tuple[Issue, ...]]] = {}
    last: dict[ListingKey, LiveListing | None] = {}
    rounds = 0
    if schedule is not None and open_:
        wait(-1)
    while open_:
        rounds += 1
        try:
            live_now = read_back(client, list(open_), mps)
        except ApiError:
            # a read that failed after the client's bounded retries is just a missed poll;
            # the listings stay open until the bound
            if clock() >= deadline:
                result.update({k: (PENDING, ()) for k in open_})
                break
            wait(rounds - 1)
            continue
        last.update(live_now)
        timed_out = clock() >= deadline
        for key in list(open_):
            status, issues = judge(open_[key], live_now.get(key))
            old = set(baseline.get(key, ()))
            new_issues = tuple(i for i in issues if (i.code, i.message) not in old)
            if status == CONVERGED and not new_issues:
                result[key] = (CONVERGED, ())
            elif new_issues or (timed_out and issues):
                result[key] = (REJECTED, new_issues or issues)
            elif timed_out:
                result[key] = (PENDING, ())
            else:
                continue
            del open_[key]
        if progress is not None:
            progress(len(result))
        if on_poll is not None:
            on_poll(clock() - start, len(open_))
        if not open_:
            break
        wait(rounds - 1)
    return result, last
