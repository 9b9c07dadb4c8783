"""A reviewed plan against today's plan: which reviewed writes still hold, which moved, and which
writes nobody reviewed (``apply --plan FILE``).

What a reviewer approves is the plan's intent (:meth:`Plan.intent
<reconciler.plan.value.Plan.intent>`): per listing the action, and the fields set with their new
values. Live values may move underneath it (a sale changes a quantity) without changing it. So:

- a reviewed write **holds** when the catalog at HEAD still wants exactly the reviewed new value
  for that listing and field (and the same action, product type and MLI flag), and a listing to
  update still exists. Whether Amazon's value moved in between does not matter: the write sets
  the value the reviewer approved;
- a reviewed write that does not hold is **moved**: apply refuses and names exactly those
  listings and fields;
- a write in today's plan that nobody reviewed (a listing or field that drifted since the
  review) is **left** for the next plan: never applied, only reported.

:func:`reconcile` returns today's plan cut down to the reviewed writes that hold (with the
values the catalog wants now, which are the reviewed ones), and what moved and what is left.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

from reconciler.kernel.model import (
    MULTI_ENTRY,
    DesiredListing,
    DesiredState,
    Entry,
    FieldChange,
    ListingKey,
    canonical_json,
)
from reconciler.plan.builder import write_counts_per_marketplace
from reconciler.plan.change import PRICE_ATTRIBUTES, Change
from reconciler.plan.projection import group_by_selector
from reconciler.plan.render import term_clean, value_texts
from reconciler.plan.safety import check_safety
from reconciler.plan.strategy import estimate, feed_only_counts, sku_marketplaces
from reconciler.plan.value import Plan

Selector = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Reconciled:
    """Today's plan cut down to the reviewed writes that still hold (``plan``), the reviewed
    writes that moved (``moved``: one line each, listing and field), the writes nobody reviewed
    (``left``: one line each) and how many reviewed listings are outside this run's
    ``--sku``/``--marketplace`` (``outside``: neither checked nor applied)."""

    plan: Plan
    moved: tuple[str, ...]
    left: tuple[str, ...]
    outside: int = 0


def field_label(attribute: str, selector: Selector) -> str:
    """``fulfillment_availability (DEFAULT)``: an attribute and its selector, as the plan names
    them (the marketplace id is implied by the listing)."""
    shown = " ".join(term_clean(v) for k, v in selector if k != "marketplace_id" and v)
    return f"{attribute} ({shown})" if shown else attribute


def _values(attribute: str, entries: list[Entry] | None) -> str:
    texts = value_texts(attribute, entries)
    if not texts:
        return "(absent)"
    return term_clean(" | ".join(texts))[:120]


def _same(attribute: str, a: list[Entry], b: list[Entry]) -> bool:
    """Whether two entry lists of one selector set the same values (the differ's rule: order
    counts only for bullet points; Decimals compare by value)."""
    if canonical_json(a) == canonical_json(b):
        return True
    if attribute in MULTI_ENTRY or len(a) != len(b):
        return False
    return sorted(map(canonical_json, a)) == sorted(map(canonical_json, b))


def wanted(desired: DesiredListing, attribute: str, selector: Selector) -> list[Entry] | None:
    """The entries the catalog wants for one attribute and selector (None: it sets none)."""
    return group_by_selector(attribute, desired.attributes.get(attribute, ())).get(selector)


def _moved(r: Change, d: DesiredListing | None, today: Change | None) -> list[str]:
    """Why each part of the reviewed change ``r`` no longer holds (empty: it holds)."""
    name = term_clean(r.name)
    if d is None:
        return [f"{name}: no longer in the catalog (reviewed: {r.action})"]
    if r.action == "delete":
        return [] if d.state == "absent" else [f"{name}: the catalog no longer deletes it"]
    if d.state == "absent":
        return [f"{name}: the catalog now deletes it (reviewed: {r.action})"]
    if r.action == "update" and today is not None and today.action == "create":
        return [f"{name}: no longer on Amazon (reviewed: update; it would now be created)"]
    out = []
    if d.product_type != r.product_type:
        out.append(
            f"{name} product type: the catalog now says {term_clean(d.product_type)} "
            f"(reviewed: {term_clean(r.product_type)})"
        )
    if d.mli != r.mli:
        out.append(f"{name}: the marketplace's mli setting changed (reviewed: mli {r.mli})")
    for f in r.fields:
        want = wanted(d, f.attribute, f.selector)
        label = f"{name} {field_label(f.attribute, f.selector)}"
        if want is None:
            out.append(f"{label}: the catalog no longer sets it (reviewed: "
                       f"{_values(f.attribute, f.new)})")
        elif f.new is None or not _same(f.attribute, want, f.new):
            out.append(f"{label}: the catalog now wants {_values(f.attribute, want)} "
                       f"(reviewed: {_values(f.attribute, f.new)})")
    return out


def _left(c: Change, fields: Collection[FieldChange] | None = None) -> list[str]:
    name = term_clean(c.name)
    if c.action == "delete":
        return [f"{name}: delete"]
    return [
        f"{name} {field_label(f.attribute, f.selector)}: {_values(f.attribute, f.old)} -> "
        f"{_values(f.attribute, f.new)}"
        for f in (c.fields if fields is None else fields)
    ]


def _in_scope(key: ListingKey, code: str, skus: Collection[str], mps: Collection[str]) -> bool:
    wanted_mps = {m.upper() for m in mps}
    wanted_mps |= {"UK"} if "GB" in wanted_mps else set()
    if skus and key.sku not in skus:
        return False
    return not mps or code.upper() in wanted_mps or key.marketplace_id in mps


def reconcile(
    reviewed: Plan,
    today: Plan,
    desired: DesiredState,
    *,
    skus: Collection[str] = (),
    marketplaces: Collection[str] = (),
) -> Reconciled:
    """Compare the ``reviewed`` plan with ``today``'s plan of the catalog ``desired`` (made with
    the targeting ``skus``/``marketplaces``); see the module docstring for the rule."""
    if reviewed.checksum == today.checksum:  # the intent is unchanged: all of today's plan
        return Reconciled(today, (), ())
    by_key = {d.key: d for d in desired.listings}
    now = {c.key: c for c in today.changes}
    kept: list[Change] = []
    moved: list[str] = []
    left: list[str] = []
    outside = 0
    seen: set[ListingKey] = set()
    for r in reviewed.changes:
        if not _in_scope(r.key, r.marketplace, skus, marketplaces):
            outside += 1
            continue
        seen.add(r.key)
        c = now.get(r.key)
        why = _moved(r, by_key.get(r.key), c)
        if why:
            moved.extend(why)
            continue
        if c is None:
            continue  # every reviewed write already holds on Amazon: nothing to write
        if r.action == "delete":
            kept.append(c)
            continue
        reviewed_fields = {(f.attribute, f.selector) for f in r.fields}
        fields = tuple(f for f in c.fields if (f.attribute, f.selector) in reviewed_fields)
        left.extend(_left(c, [f for f in c.fields if (f.attribute, f.selector)
                              not in reviewed_fields]))
        if fields:
            prices = any(f.attribute in PRICE_ATTRIBUTES for f in fields)
            kept.append(replace(c, fields=fields, derivations=c.derivations if prices else ()))
    for c in today.changes:
        if c.key not in seen:
            left.extend(_left(c))
    plan = replace(today, changes=tuple(kept), strategy=None, safety=())
    if plan.changes:
        per_mp = write_counts_per_marketplace(plan, desired)
        counts = {k: sum(v) for k, v in per_mp.items()}
        regions = {a.name: a.region for a in desired.accounts}
        keys = [c.key for c in plan.changes]
        plan = replace(plan, strategy=estimate(
            counts, per_marketplace=per_mp, feed_only=feed_only_counts(keys, regions),
            skus=sku_marketplaces(keys, regions),
        ))
    plan = replace(plan, safety=check_safety(plan, desired))
    return Reconciled(plan, tuple(moved), tuple(left), outside)
