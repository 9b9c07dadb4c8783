"""plan.safety.check_safety: its boundaries and the order it scans a plan in.

tests/test_plan.py shows each rule once. Here: the scan goes on past a delete or a create to
the update behind it (a ``continue`` turned into ``break`` would hide a dangerous update);
thresholds are compared as the docs say (a move of exactly ``max_price_change_pct`` and a share
of exactly ``max_update_share`` pass, ``min_listings_for_share`` listings count); list prices,
moves from 0, percentage signs and rounding; the delete list capped at five names; and the
dangerous rules at their exact limits (DEFAULT quantity 1, a price equal to its guard).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from reconciler.kernel.model import DesiredListing, Entry, FieldChange, LiveListing, Safety
from reconciler.plan.builder import build_plan
from reconciler.plan.change import Change
from reconciler.plan.safety import check_safety, our_price, price_moves
from reconciler.plan.value import Plan
from tests.core_builders import CA, US, desired, key, live_of, state

NO_SETTING = "(dangerous: no setting allows this; fix the catalog or use --force)"
OK_DELETES = Safety(allow_deletes=True)


def _with_default_quantity(d: DesiredListing, quantity: int) -> DesiredListing:
    fa = [dict(e) for e in d.attributes["fulfillment_availability"]]
    for e in fa:
        if e["fulfillment_channel_code"] == "DEFAULT":
            e["quantity"] = quantity
    return replace(d, attributes={**d.attributes, "fulfillment_availability": fa})


def _list_price(d: DesiredListing, value: str) -> DesiredListing:
    entry: Entry = {"marketplace_id": CA.marketplace_id, "currency": "CAD", "value": Decimal(value)}
    return replace(d, attributes={**d.attributes, "list_price": [entry]})


def _move(old: str, new: str, safety: Safety | None = None) -> tuple[str, ...]:
    d = desired("MUG-001", CA, price=new)
    live = live_of(desired("MUG-001", CA, price=old), CA)
    return build_plan(state(d, safety=safety), {d.key: live}).safety


# --------------------------------------------------------------------------- scan order


def test_a_delete_before_a_dangerous_update_does_not_end_the_scan() -> None:
    old = desired("AAA-OLD", US, state="absent")
    bad = _with_default_quantity(desired("MUG-001", US), 4)
    live = {
        old.key: live_of(desired("AAA-OLD", US), US),
        bad.key: live_of(desired("MUG-001", US, price="18.99"), US),
    }
    plan = build_plan(state(old, bad, safety=OK_DELETES), live)
    assert [c.action for c in plan.changes] == ["delete", "update"]  # the delete comes first
    (msg,) = plan.safety
    assert msg == (
        "MUG-001 (US): DEFAULT quantity 4 on a Multi-Location Inventory marketplace "
        f"(must be 0, or stock is sold twice) {NO_SETTING}"
    )


def test_a_delete_or_create_before_a_price_move_does_not_end_the_price_scan() -> None:
    old = desired("AAA-OLD", CA, state="absent")
    new = desired("AAB-NEW", CA)
    moved = desired("MUG-001", CA, price="29.99")
    live: dict[object, LiveListing | None] = {
        old.key: live_of(desired("AAA-OLD", CA), CA),
        new.key: None,
        moved.key: live_of(desired("MUG-001", CA, price="19.99"), CA),
    }
    plan = build_plan(state(old, new, moved, safety=OK_DELETES), live)  # type: ignore[arg-type]
    assert [c.action for c in plan.changes] == ["delete", "create", "update"]
    assert plan.safety == (
        "MUG-001 (CA): price 19.99 -> 29.99 CAD moves +50.03%, over "
        "safety.max_price_change_pct = 30",
    )


def test_a_listing_being_deleted_is_not_checked_for_dangerous_values() -> None:
    # whatever entries the desired side carries, a listing that is deleted sells nothing
    gone = replace(desired("MUG-001", CA, price="1.00", price_min="5.00"), state="absent")
    live = {gone.key: live_of(desired("MUG-001", CA), CA)}
    plan = build_plan(state(gone, safety=OK_DELETES), live)
    assert [c.action for c in plan.changes] == ["delete"]
    assert plan.safety == ()


def test_a_change_the_desired_state_does_not_know_is_skipped() -> None:
    # a saved plan checked against a catalog that no longer has one of its listings
    d = desired("MUG-001", CA, price="4.99", price_min="5.00")
    plan = build_plan(state(d), {d.key: live_of(desired("MUG-001", CA, price="4.98"), CA)})
    assert plan.count("update") == 1 and len(plan.safety) == 1  # the guard, at first
    assert check_safety(plan, state(desired("OTHER", CA))) == ()


# --------------------------------------------------------------------------- price moves


def test_a_move_of_exactly_max_price_change_pct_passes() -> None:
    assert _move("10.00", "13.00") == ()  # +30% with the default 30
    assert _move("10.00", "7.00") == ()  # -30%
    assert _move("10.00", "13.01") == (
        "MUG-001 (CA): price 10.00 -> 13.01 CAD moves +30.10%, over "
        "safety.max_price_change_pct = 30",
    )
    assert _move("10.00", "6.99") == (
        "MUG-001 (CA): price 10.00 -> 6.99 CAD moves -30.10%, over "
        "safety.max_price_change_pct = 30",
    )


def test_small_moves_have_a_sign_and_are_rounded_half_up() -> None:
    strict = Safety(max_price_change_pct=Decimal(0))
    assert _move("10.00", "10.05", strict) == (
        "MUG-001 (CA): price 10.00 -> 10.05 CAD moves +0.50%, over "
        "safety.max_price_change_pct = 0",
    )
    # 3.21 / 8 = 40.125%: half up, not to even
    assert _move("8.00", "11.21", strict)[0].endswith(
        "moves +40.13%, over safety.max_price_change_pct = 0"
    )


def test_a_move_from_zero_is_always_reported() -> None:
    assert _move("0.00", "19.99", Safety(max_price_change_pct=Decimal(1000))) == (
        "MUG-001 (CA): price 0.00 -> 19.99 CAD moves from 0, over "
        "safety.max_price_change_pct = 1000",
    )


def test_list_price_moves_are_checked_and_named() -> None:
    d = _list_price(desired("MUG-001", CA), "50.00")
    live = live_of(d, CA, list_price=[
        {"marketplace_id": CA.marketplace_id, "currency": "CAD", "value": 30.0}
    ])
    plan = build_plan(state(d), {d.key: live})
    assert plan.safety == (
        "MUG-001 (CA): list price 30.00 -> 50.00 CAD moves +66.67%, over "
        "safety.max_price_change_pct = 30",
    )


def test_our_price_reads_offers_and_list_prices() -> None:
    offer = desired("MUG-001", CA, price="12.34").attributes["purchasable_offer"]
    assert our_price(offer) == Decimal("12.34")
    assert our_price([{"currency": "CAD", "value": Decimal("5.00")}]) == Decimal("5.00")
    assert our_price([{"value": "5.00"}]) is None  # not a Decimal: not a price we compare
    assert our_price([{"our_price": []}, {"value": Decimal("7.00")}]) == Decimal("7.00")
    assert our_price([{"our_price": [{"schedule": [{"value_with_tax": 3.5}]}]}]) is None
    assert our_price(None) is None and our_price([]) is None


def test_price_moves_need_both_values_and_a_difference() -> None:
    sel = (("marketplace_id", CA.marketplace_id), ("currency", "CAD"))
    a, b = [{"value": Decimal("1.00")}], [{"value": Decimal("2.00")}]
    change = Change(key("MUG-001", CA), "CA", "update", "PRODUCT", (
        FieldChange("list_price", sel, a, b),
        FieldChange("list_price", sel, a, a),  # unchanged price
        FieldChange("list_price", sel, None, b),  # nothing before
        FieldChange("item_name", sel, a, b),  # not a price attribute
    ))
    assert price_moves(change) == [(change.fields[0], Decimal("1.00"), Decimal("2.00"))]


def test_a_price_selector_without_currency_gives_an_empty_currency() -> None:
    sel = (("marketplace_id", CA.marketplace_id),)
    old, new = [{"value": Decimal("10.00")}], [{"value": Decimal("20.00")}]
    change = Change(key("MUG-001", CA), "CA", "update", "PRODUCT",
                    (FieldChange("list_price", sel, old, new),))
    d = desired("MUG-001", CA)
    assert check_safety(Plan((change,)), state(d)) == (
        "MUG-001 (CA): list price 10.00 -> 20.00  moves +100.00%, over "
        "safety.max_price_change_pct = 30",
    )


# --------------------------------------------------------------------------- share of updates


def _updates(n: int, changed: int, safety: Safety) -> tuple[str, ...]:
    listings, live = [], {}
    for i in range(n):
        d = desired(f"SKU-{i:03}", CA, price="10.00")
        listings.append(d)
        old = "10.00" if i >= changed else "9.50"
        live[d.key] = live_of(desired(f"SKU-{i:03}", CA, price=old), CA)
    return build_plan(state(*listings, safety=safety), live).safety


def test_a_share_of_exactly_max_update_share_passes() -> None:
    half = Safety(max_update_share=Decimal("0.5"), min_listings_for_share=10)
    assert _updates(10, 5, half) == ()
    assert _updates(10, 6, half) == (
        "6 of 10 listings would be updated (60.00%), over safety.max_update_share = 50% "
        "in reconciler.yaml",
    )


def test_the_share_rule_applies_from_exactly_min_listings_for_share() -> None:
    rule = Safety(max_update_share=Decimal("0.3"), min_listings_for_share=4)
    assert _updates(4, 4, rule) == (
        "4 of 4 listings would be updated (100.00%), over safety.max_update_share = 30% "
        "in reconciler.yaml",
    )
    assert _updates(3, 3, rule) == ()


# --------------------------------------------------------------------------- deletes


def _deletes(n: int) -> tuple[str, ...]:
    gone = [desired(f"OLD-{i}", CA, state="absent") for i in range(n)]
    live = {d.key: live_of(desired(d.key.sku, CA), CA) for d in gone}
    return build_plan(state(*gone), live).safety


def test_deletes_name_five_listings_then_count_the_rest() -> None:
    tail = ", and safety.allow_deletes = false in reconciler.yaml"
    names = [f"OLD-{i} (CA)" for i in range(7)]
    assert _deletes(2) == (f"2 listings would be deleted ({', '.join(names[:2])}){tail}",)
    assert _deletes(5) == (f"5 listings would be deleted ({', '.join(names[:5])}){tail}",)
    assert _deletes(6) == (
        f"6 listings would be deleted ({', '.join(names[:5])} and 1 more){tail}",
    )
    assert _deletes(7) == (
        f"7 listings would be deleted ({', '.join(names[:5])} and 2 more){tail}",
    )


# --------------------------------------------------------------------------- dangerous rules


def test_default_quantity_one_on_mli_is_dangerous() -> None:
    bad = _with_default_quantity(desired("MUG-001", US), 1)
    (msg,) = build_plan(state(bad), {bad.key: None}).safety
    assert msg.startswith("MUG-001 (US): DEFAULT quantity 1 on a Multi-Location Inventory")
    fine = _with_default_quantity(desired("MUG-001", US), 0)
    assert build_plan(state(fine), {fine.key: None}).safety == ()


def test_a_price_equal_to_its_guard_is_allowed() -> None:
    for price in ("5.00", "50.00"):
        d = desired("MUG-001", CA, price=price, price_min="5.00", price_max="50.00")
        assert build_plan(state(d), {d.key: None}).safety == (), price
    low = desired("MUG-001", CA, price="4.99", price_min="5.00", price_max="50.00")
    assert build_plan(state(low), {low.key: None}).safety == (
        f"MUG-001 (CA): price 4.99 CAD is below its guard price_min 5.00 {NO_SETTING}",
    )
    high = desired("MUG-001", CA, price="50.01", price_min="5.00", price_max="50.00")
    assert build_plan(state(high), {high.key: None}).safety == (
        f"MUG-001 (CA): price 50.01 CAD is above its guard price_max 50.00 {NO_SETTING}",
    )


def test_listings_without_offer_or_quantities_are_checked_without_error() -> None:
    d = desired("MUG-001", US)
    no_offer = replace(d, attributes={k: v for k, v in d.attributes.items()
                                      if k != "purchasable_offer"})
    no_qty = replace(d, attributes={k: v for k, v in d.attributes.items()
                                    if k != "fulfillment_availability"})
    for x in (no_offer, no_qty):
        plan = build_plan(state(x), {x.key: None})
        assert plan.count("create") == 1 and plan.safety == ()


def test_an_offer_without_currency_is_still_reported() -> None:
    d = desired("MUG-001", CA, price="4.99", price_min="5.00")
    offer = [{k: v for k, v in e.items() if k != "currency"}
             for e in d.attributes["purchasable_offer"]]
    d = replace(d, attributes={**d.attributes, "purchasable_offer": offer})
    assert build_plan(state(d), {d.key: None}).safety == (
        f"MUG-001 (CA): price 4.99  is below its guard price_min 5.00 {NO_SETTING}",
    )


def test_a_small_move_does_not_hide_a_big_one_in_the_same_listing() -> None:
    # fields are scanned in attribute order: list_price (+1%) comes before the offer (+50%)
    d = _list_price(desired("MUG-001", CA, price="30.00"), "50.50")
    before = _list_price(desired("MUG-001", CA, price="20.00"), "50.00")
    plan = build_plan(state(d), {d.key: live_of(before, CA)})
    assert [f.attribute for f in plan.changes[0].fields] == ["list_price", "purchasable_offer"]
    assert plan.safety == (
        "MUG-001 (CA): price 20.00 -> 30.00 CAD moves +50.00%, over "
        "safety.max_price_change_pct = 30",
    )


def test_an_offer_without_a_price_does_not_hide_the_next_offer() -> None:
    d = desired("MUG-001", CA, price="4.99", price_min="5.00")
    (priced,) = d.attributes["purchasable_offer"]
    unpriced = {k: v for k, v in priced.items() if k != "our_price"} | {"audience": "B2B"}
    d = replace(d, attributes={**d.attributes, "purchasable_offer": [unpriced, priced]})
    assert build_plan(state(d), {d.key: None}).safety == (
        f"MUG-001 (CA): price 4.99 CAD is below its guard price_min 5.00 {NO_SETTING}",
    )
