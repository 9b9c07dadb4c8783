"""Building a plan: each targeted desired listing against its live state, through the managed
projection and the diff, into changes, held listings and fingerprints; then the strategy
estimate and the safety checks. :class:`PlanBuilder` takes listings one at a time, so the diff
runs while the rest is still being read."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace

from reconciler.kernel.connections import Connection, connection_reasons
from reconciler.kernel.gcpause import paused_gc
from reconciler.kernel.marketplaces import lookup
from reconciler.kernel.model import (
    DesiredListing,
    DesiredState,
    ListingKey,
    LiveListing,
)
from reconciler.plan.change import PRICE_ATTRIBUTES, Change, Held
from reconciler.plan.diff import diff_listing
from reconciler.plan.projection import ABSENT, managed_projection, projection_fingerprint
from reconciler.plan.safety import check_safety
from reconciler.plan.strategy import (
    StrategyEstimate,
    estimate,
    feed_only_counts,
    sku_marketplaces,
)
from reconciler.plan.value import Plan


def marketplace_codes(desired: DesiredState) -> dict[tuple[str, str], str]:
    """(account, marketplace_id) -> marketplace code, from the catalog's accounts."""
    return {(a.name, m.marketplace_id): m.code for a in desired.accounts for m in a.marketplaces}


def _code(codes: Mapping[tuple[str, str], str], key: ListingKey) -> str:
    code = codes.get((key.account, key.marketplace_id))
    if code:
        return code
    m = lookup(key.marketplace_id)
    return m.code if m else key.marketplace_id


def _targeted(
    listings: Iterable[DesiredListing],
    codes: Mapping[tuple[str, str], str],
    skus: Collection[str],
    marketplaces: Collection[str],
) -> list[DesiredListing]:
    wanted_mps = {m.upper() for m in marketplaces} | set(marketplaces)
    wanted_mps |= {"UK"} if "GB" in wanted_mps else set()
    out = []
    for d in listings:
        if skus and d.key.sku not in skus:
            continue
        if marketplaces and not (
            _code(codes, d.key) in wanted_mps or d.key.marketplace_id in wanted_mps
        ):
            continue
        out.append(d)
    return out


def write_counts(plan: Plan, desired: DesiredState) -> dict[tuple[str, str], int]:
    """(account, region) -> listings the plan writes: the input of ``strategy.estimate``."""
    return {k: sum(v) for k, v in write_counts_per_marketplace(plan, desired).items()}


def write_counts_per_marketplace(
    plan: Plan, desired: DesiredState
) -> dict[tuple[str, str], list[int]]:
    """(account, region) -> listings written per marketplace (sorted by marketplace id): the
    ``per_marketplace`` input of ``strategy.estimate`` (apply sends one feed a marketplace)."""
    regions = {a.name: a.region for a in desired.accounts}
    by_mp: dict[tuple[str, str], dict[str, int]] = {}
    for c in plan.changes:
        k = (c.key.account, regions.get(c.key.account, ""))
        mps = by_mp.setdefault(k, {})
        mps[c.key.marketplace_id] = mps.get(c.key.marketplace_id, 0) + 1
    return {k: [v[m] for m in sorted(v)] for k, v in sorted(by_mp.items())}


class PlanBuilder:
    """Builds a plan one listing at a time, so the diff can run while the rest of the live
    state is still being read (``workflow`` feeds it from a worker thread; one thread at a
    time). :func:`build_plan` is the same in one call.

    ``known`` maps listings the caller knows to be unchanged since an earlier plan (neither
    side moved) to that plan's fingerprint: they count as unchanged without a diff.

    ``connections`` is the connection record (each account's settings at the last accepted
    apply) and ``allowed_hosts`` the operator's ``RECONCILER_ALLOW_HOSTS``, for the dangerous
    rule of :func:`reconciler.kernel.connections.connection_reasons`."""

    def __init__(
        self,
        desired: DesiredState,
        *,
        skus: Collection[str] = (),
        marketplaces: Collection[str] = (),
        known: Mapping[ListingKey, str] | None = None,
        connections: Mapping[str, Connection] | None = None,
        allowed_hosts: frozenset[str] = frozenset(),
    ) -> None:
        self.desired = desired
        self.connections = connections
        self.allowed_hosts = allowed_hosts
        self.codes = marketplace_codes(desired)
        targeted = _targeted(desired.listings, self.codes, skus, marketplaces)
        self.targets = {d.key: d for d in targeted}
        self.known = known
        self.changes: list[Change] = []
        self.held: list[Held] = []
        self.fingerprints: dict[ListingKey, str] = {}

    def add(self, key: ListingKey, have: LiveListing | None) -> bool:
        """Compare one targeted listing with its live state (None: not listed). Keys the
        catalog does not target are ignored; a key added twice keeps its first result.
        Returns whether the listing is in the plan (a change or held), i.e. whether anything
        may still need its live attributes."""
        d = self.targets.get(key)
        if d is None or key in self.fingerprints:
            return False
        code = _code(self.codes, key)
        if self.known and key in self.known and d.state == "present" and not d.held_texts:
            self.fingerprints[key] = self.known[key]
            return False
        projected = managed_projection(d, have) if have is not None else None
        fp = projection_fingerprint(projected) if projected is not None else ABSENT
        self.fingerprints[key] = fp
        if d.state == "absent":
            if have is not None:
                delete = Change(key, code, "delete", have.product_type, (), (), d.mli, fp)
                self.changes.append(delete)
                return True
            return False
        if d.held_texts:
            self.held.append(
                Held(key, code, d.held_reason, tuple(d.held_texts), whole_listing=have is None,
                     texts=d.held_details)
            )
            if have is None:
                return True  # nothing is created in the wrong language
        fields = diff_listing(d, have, projected=projected)
        if not fields:
            return bool(d.held_texts)
        prices = any(f.attribute in PRICE_ATTRIBUTES for f in fields)
        self.changes.append(
            Change(
                key,
                code,
                "create" if have is None else "update",
                d.product_type,
                fields,
                tuple(d.derivations) if prices else (),
                d.mli,
                fp,
                d.requirements,
            )
        )
        return True

    def finish(
        self,
        live: Mapping[ListingKey, LiveListing | None],
        strategy: StrategyEstimate | None = None,
    ) -> Plan:
        """Add every targeted listing not added yet (from ``live``; missing = not listed),
        then the plan with its strategy (estimated from Amazon's published quotas when None
        and the plan writes anything) and :func:`check_safety`."""
        with paused_gc():  # 100k listings allocate millions of small acyclic objects
            for key in self.targets:
                if key not in self.fingerprints:
                    self.add(key, live.get(key))
        touched = {c.key for c in self.changes} | {h.key for h in self.held}
        plan = Plan(
            changes=tuple(self.changes),
            held=tuple(self.held),
            unchanged=sum(1 for k in self.fingerprints if k not in touched),
            fingerprints=self.fingerprints,
            strategy=strategy,
            accounts=tuple(a.name for a in self.desired.accounts),
            locations=_locations_written(self.changes, self.desired.location_names),
        )
        if plan.strategy is None and plan.changes:
            per_mp = write_counts_per_marketplace(plan, self.desired)
            counts = {k: sum(v) for k, v in per_mp.items()}
            regions = {a.name: a.region for a in self.desired.accounts}
            keys = [c.key for c in plan.changes]
            only = feed_only_counts(keys, regions)
            skus = sku_marketplaces(keys, regions)
            plan = replace(
                plan,
                strategy=estimate(counts, per_marketplace=per_mp, feed_only=only, skus=skus),
            )
        first = connection_reasons(self.desired.accounts, self.connections, self.allowed_hosts)
        return replace(plan, safety=(*first, *check_safety(plan, self.desired)))


def _locations_written(changes: Iterable[Change], names: Mapping[str, str]) -> dict[str, str]:
    """The catalog's names of the supply sources the changes write quantities to."""
    out: dict[str, str] = {}
    for c in changes:
        for f in c.fields:
            for name, code in f.selector:
                if name == "fulfillment_channel_code" and code in names:
                    out[code] = names[code]
    return out


def build_plan(
    desired: DesiredState,
    live: Mapping[ListingKey, LiveListing | None],
    *,
    skus: Collection[str] = (),
    marketplaces: Collection[str] = (),
    strategy: StrategyEstimate | None = None,
    known: Mapping[ListingKey, str] | None = None,
    connections: Mapping[str, Connection] | None = None,
    allowed_hosts: frozenset[str] = frozenset(),
) -> Plan:
    """Compare every targeted desired listing with its live state (missing from ``live`` =
    not listed). ``known``, ``connections``, ``allowed_hosts``: see :class:`PlanBuilder`.
    ``strategy=None`` estimates it from Amazon's published quotas when the plan writes anything
    (pass an estimate to model a time-scaled emulator). ``safety`` is filled by
    :func:`check_safety`, after the connection reasons."""
    builder = PlanBuilder(
        desired, skus=skus, marketplaces=marketplaces, known=known, connections=connections,
        allowed_hosts=allowed_hosts,
    )
    return builder.finish(live, strategy)
