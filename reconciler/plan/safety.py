"""Safety checks of a plan (design.md §5): thresholds from ``safety:`` in reconciler.yaml (share
of listings updated, price moves, deletes) and dangerous rules that no setting allows. Every
message names the setting to change. A change of where an account's credentials go
(endpoint, token URL, credential references: :mod:`reconciler.kernel.connections`) comes first;
the builder puts it there. Pure."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from reconciler.kernel.model import (
    DEFAULT_CHANNEL,
    DesiredListing,
    DesiredState,
    Entry,
    FieldChange,
)
from reconciler.plan.change import PRICE_ATTRIBUTES, Change
from reconciler.plan.projection import ABSENT
from reconciler.plan.value import Plan


def _pct(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _setting(value: Decimal) -> str:
    return format(value.normalize(), "f")


def our_price(entries: list[Entry] | None) -> Decimal | None:
    """The ``our_price`` value (or list price ``value``) of a money entry list, if any."""
    for e in entries or ():
        if "our_price" in e:
            try:
                v = e["our_price"][0]["schedule"][0]["value_with_tax"]
            except (KeyError, IndexError, TypeError):
                continue
            return v if isinstance(v, Decimal) else None
        value = e.get("value")
        if isinstance(value, Decimal):
            return value
    return None


def price_moves(change: Change) -> list[tuple[FieldChange, Decimal, Decimal]]:
    """(field, old, new) for each price field of an update that has both values."""
    out = []
    for f in change.fields:
        if f.attribute in PRICE_ATTRIBUTES:
            old, new = our_price(f.old), our_price(f.new)
            if old is not None and new is not None and old != new:
                out.append((f, old, new))
    return out


def check_safety(plan: Plan, desired: DesiredState) -> tuple[str, ...]:
    """Every safety violation of ``plan``, each naming the setting (or saying it has none)."""
    s = desired.safety
    reasons: list[str] = []
    by_key = {d.key: d for d in desired.listings}

    existing = sum(1 for fp in plan.fingerprints.values() if fp != ABSENT)
    updates = plan.count("update")
    if existing and existing >= s.min_listings_for_share:
        share = Decimal(updates) / Decimal(existing)
        if share > s.max_update_share:
            reasons.append(
                f"{updates} of {existing} listings would be updated ({_pct(share * 100)}%), "
                f"over safety.max_update_share = {_setting(s.max_update_share * 100)}% "
                "in reconciler.yaml"
            )

    for c in plan.changes:
        if c.action != "update":
            continue
        for f, old, new in price_moves(c):
            label = "list price" if f.attribute == "list_price" else "price"
            currency = dict(f.selector).get("currency", "")
            if old == 0:
                move = "moves from 0"
            else:
                pct = (new - old) / old * 100
                if abs(pct) <= s.max_price_change_pct:
                    continue
                move = f"moves {'+' if pct > 0 else ''}{_pct(pct)}%"
            reasons.append(
                f"{c.name}: {label} {old} -> {new} {currency} {move}, "
                f"over safety.max_price_change_pct = {_setting(s.max_price_change_pct)}"
            )

    deletes = [c.name for c in plan.changes if c.action == "delete"]
    if deletes and not s.allow_deletes:
        shown = ", ".join(deletes[:5]) + (
            f" and {len(deletes) - 5} more" if len(deletes) > 5 else ""
        )
        reasons.append(
            f"{len(deletes)} listing{'s' if len(deletes) != 1 else ''} would be deleted "
            f"({shown}), and safety.allow_deletes = false in reconciler.yaml"
        )

    for c in plan.changes:
        d = by_key.get(c.key)
        if c.action == "delete" or d is None:
            continue
        reasons.extend(_dangerous(c, d))
    return tuple(reasons)


_NO_SETTING = "(dangerous: no setting allows this; fix the catalog or use --force)"


def _dangerous(c: Change, d: DesiredListing) -> list[str]:
    out = []
    if c.action == "update":
        for f in c.fields:
            if f.attribute in d.locked and f.old:
                out.append(
                    f"{c.name}: Amazon does not let an existing listing change {f.attribute} "
                    f"(editable: false in its product type definition) {_NO_SETTING}"
                )
    if d.mli:
        for e in d.attributes.get("fulfillment_availability", ()):
            q = e.get("quantity")
            if (
                e.get("fulfillment_channel_code") == DEFAULT_CHANNEL
                and isinstance(q, int)
                and q > 0
            ):
                out.append(
                    f"{c.name}: DEFAULT quantity {q} on a Multi-Location Inventory marketplace "
                    f"(must be 0, or stock is sold twice) {_NO_SETTING}"
                )
    for e in d.attributes.get("purchasable_offer", ()):
        price = our_price([e])
        if price is None:
            continue
        currency = e.get("currency", "")
        if d.price_min is not None and price < d.price_min:
            out.append(
                f"{c.name}: price {price} {currency} is below its guard price_min {d.price_min} "
                f"{_NO_SETTING}"
            )
        if d.price_max is not None and price > d.price_max:
            out.append(
                f"{c.name}: price {price} {currency} is above its guard price_max {d.price_max} "
                f"{_NO_SETTING}"
            )
    return out
