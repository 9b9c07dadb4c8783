"""diff.diff_listing.

Covers: diff(x, x) is empty for any desired listing (hypothesis), also after Amazon's read-back
quirks; granularity is the selector; only declared fields are compared; unmanaged attributes,
selectors and sibling fields never appear; bullets are an ordered list; missing live = all new.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.kernel.model import DesiredListing, LiveListing
from reconciler.live.normalize import normalize_item
from reconciler.plan.diff import diff_listing
from tests.core_builders import CA, JP, LOC_A, LOC_B, MX, US, amazon_item, desired, live_of

MARKETPLACES = [US, CA, MX, JP]
text = st.text(min_size=1, max_size=40)


@st.composite
def desired_listings(draw: Any) -> tuple[DesiredListing, Any]:
    mp = draw(st.sampled_from(MARKETPLACES))
    units = 0 if mp.currency == "JPY" else 2
    cents = draw(st.integers(min_value=1, max_value=10_000_000))
    price = str(Decimal(cents).scaleb(-units))
    if mp.mli:
        qty: Any = draw(
            st.dictionaries(
                st.sampled_from([LOC_A, LOC_B, "ST-3"]), st.integers(0, 10_000), min_size=1
            )
        )
    else:
        qty = draw(st.integers(0, 10_000))
    d = desired(
        draw(st.text(alphabet="ABCDEFGHIJ-0123456789", min_size=1, max_size=12)),
        mp,
        price=price,
        qty=qty,
        title=draw(st.one_of(st.none(), text)),
        bullets=tuple(draw(st.lists(text, max_size=5))),
        desc=draw(st.one_of(st.just(""), text)),
    )
    return d, mp


@settings(max_examples=200, deadline=None)
@given(desired_listings())
def test_diff_of_a_listing_with_itself_is_empty(case: tuple[DesiredListing, Any]) -> None:
    d, mp = case
    same = LiveListing(d.key, d.product_type, d.attributes)
    assert diff_listing(d, same) == ()
    # ... and after Amazon echoed it back with every quirk and unmanaged data added
    assert diff_listing(d, normalize_item(amazon_item(d, mp), d.key, mp)) == ()


@settings(max_examples=100, deadline=None)
@given(desired_listings())
def test_missing_live_listing_makes_every_selector_new(case: tuple[DesiredListing, Any]) -> None:
    d, _ = case
    changes = diff_listing(d, None)
    assert all(c.old is None for c in changes)
    rebuilt: dict[str, list[Any]] = {}
    for c in changes:
        assert c.new is not None
        rebuilt.setdefault(c.attribute, []).extend(c.new)
    assert {a: sorted(map(repr, e)) for a, e in rebuilt.items()} == {
        a: sorted(map(repr, e)) for a, e in d.attributes.items()
    }


def test_granularity_is_the_selector() -> None:
    d = desired("MUG-001", US, qty={LOC_A: 10, LOC_B: 5})
    live = live_of(desired("MUG-001", US, qty={LOC_A: 10, LOC_B: 4}), US)
    (change,) = diff_listing(d, live)
    assert change.attribute == "fulfillment_availability"
    assert change.selector == (("fulfillment_channel_code", LOC_B),)
    assert change.old == [{"fulfillment_channel_code": LOC_B, "quantity": 4}]  # managed fields only
    assert change.new == [{"fulfillment_channel_code": LOC_B, "quantity": 5}]


def test_unmanaged_attributes_selectors_and_fields_never_appear() -> None:
    d = desired("MUG-001", CA, price="19.99", qty=7)
    item = amazon_item(d, CA)
    a = item["attributes"]
    a["color"] = [{"value": "blue", "marketplace_id": CA.marketplace_id}]  # unmanaged attribute
    a["purchasable_offer"].append(  # unmanaged selector (B2B offer)
        {
            "marketplace_id": CA.marketplace_id,
            "currency": "CAD",
            "audience": "B2B",
            "our_price": [{"schedule": [{"value_with_tax": 1.0}]}],
        }
    )
    a["item_name"].append(
        {"value": "Tasse", "language_tag": "fr_CA", "marketplace_id": CA.marketplace_id}
    )
    a["purchasable_offer"][0]["discounted_price"] = [{"schedule": [{"value_with_tax": 2}]}]
    for e in a["fulfillment_availability"]:
        e["lead_time_to_ship_max_days"] = 29
        e["restock_date"] = "2027-01-01"
    live = normalize_item(item, d.key, CA)
    assert diff_listing(d, live) == ()
    # an actual change is reported without any unmanaged data
    a["purchasable_offer"][0]["our_price"] = [{"schedule": [{"value_with_tax": 17.5}]}]
    (change,) = diff_listing(d, normalize_item(item, d.key, CA))
    assert change.attribute == "purchasable_offer"
    assert change.old == [
        {
            "marketplace_id": CA.marketplace_id,
            "currency": "CAD",
            "audience": "ALL",
            "our_price": [{"schedule": [{"value_with_tax": Decimal("17.50")}]}],
        }
    ]
    assert "discounted_price" not in repr(change) and "B2B" not in repr(change)


def test_bullets_are_an_ordered_list_and_other_entries_are_not() -> None:
    d = desired("MUG-001", CA, bullets=("one", "two", "three"))
    reordered = live_of(d, CA)
    bullets = reordered.attributes["bullet_point"]
    reordered.attributes["bullet_point"] = [bullets[1], bullets[0], bullets[2]]
    (change,) = diff_listing(d, reordered)
    assert change.attribute == "bullet_point"
    assert [e["value"] for e in change.new or []] == ["one", "two", "three"]
    assert [e["value"] for e in change.old or []] == ["two", "one", "three"]
    # a missing bullet is a change of the whole ordered list too
    shorter = live_of(desired("MUG-001", CA, bullets=("one", "two")), CA)
    assert [c.attribute for c in diff_listing(d, shorter)] == ["bullet_point"]


def test_text_edit_in_seller_central_is_a_change() -> None:
    d = desired("MUG-001", CA, title="Mug")
    live = live_of(desired("MUG-001", CA, title="Mug (edited)"), CA)
    (change,) = diff_listing(d, live)
    assert change.attribute == "item_name"
    assert change.selector == (("marketplace_id", CA.marketplace_id), ("language_tag", "en_CA"))
    assert (change.old or [{}])[0]["value"] == "Mug (edited)"


def test_a_field_missing_live_is_a_change() -> None:
    d = desired("MUG-001", CA)
    item = amazon_item(d, CA)
    item["attributes"]["fulfillment_availability"][0].pop("quantity")
    (change,) = diff_listing(d, normalize_item(item, d.key, CA))
    assert change.old == [{"fulfillment_channel_code": "DEFAULT"}]


def test_absent_desired_listing_has_no_field_changes() -> None:
    from dataclasses import replace

    # The guard, not an empty attribute set, makes this empty: the absent listing still
    # carries entries that differ from the live ones (a price) or are missing live (no live).
    d = replace(desired("OLD", CA, price="25.00", title="New title"), state="absent")
    live = live_of(desired("OLD", CA, price="19.99"), CA)
    assert diff_listing(replace(d, state="present"), live) != ()  # it would differ if present
    assert diff_listing(d, live) == ()
    assert diff_listing(d, None) == ()


def test_several_entries_under_one_unordered_selector_ignore_order() -> None:
    from dataclasses import replace

    base = desired("MUG-001", CA)
    sel = {"marketplace_id": CA.marketplace_id, "currency": "CAD"}
    two = [{**sel, "value": Decimal("10.00")}, {**sel, "value": Decimal("12.00")}]
    d = replace(base, attributes={**base.attributes, "list_price": two})
    swapped = LiveListing(d.key, "PRODUCT", {**d.attributes, "list_price": list(reversed(two))})
    assert diff_listing(d, swapped) == ()  # deepdiff with ignore_order decides
    other = [{**sel, "value": Decimal("10.00")}, {**sel, "value": Decimal("13.00")}]
    changed = LiveListing(d.key, "PRODUCT", {**d.attributes, "list_price": other})
    (change,) = diff_listing(d, changed)
    assert change.attribute == "list_price" and change.new == two
