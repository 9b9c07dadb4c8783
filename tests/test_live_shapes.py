"""live.normalize on the less common shapes of Amazon's ``Item`` (tests/test_live.py has the
usual read-back).

``offers[]`` with a dict audience, B2B offers without an audience, prices without a currency
code, string and over-precise list prices, JPY rounding (half up, no minor units), the product
type only in ``productTypes``, issues and summaries with missing parts, and the scalar
converters on every input type they accept or leave alone.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from reconciler.kernel.model import Issue
from reconciler.live.normalize import (
    amazon_issues,
    canonical_attributes,
    canonical_entry,
    normalize_item,
    selector_of,
    sort_entries,
    to_decimal,
    to_int,
)
from tests.core_builders import CA, JP, US, key


def _item(mp: Any = CA, **parts: Any) -> dict[str, Any]:
    return {"sku": "S1", **parts}


def _offer(amount: Any, mp: Any = CA, **extra: Any) -> dict[str, Any]:
    price = {"currencyCode": mp.currency, "amount": amount}
    return {"marketplaceId": mp.marketplace_id, "offerType": "B2C", "price": price, **extra}


def _offers(*offers: dict[str, Any], mp: Any = CA) -> list[dict[str, Any]]:
    live = normalize_item(_item(offers=list(offers)), key("S1", mp), mp)
    return live.attributes.get("purchasable_offer", [])


def _price(entry: dict[str, Any]) -> Any:
    return entry["our_price"][0]["schedule"][0]["value_with_tax"]


# --------------------------------------------------------------------------- offers[]


def test_an_offer_with_a_dict_audience_takes_its_value() -> None:
    (b2b,) = _offers(_offer("9.99", offerType="B2B", audience={"value": "B2B",
                                                                "displayName": "Business"}))
    assert b2b["audience"] == "B2B"
    (other,) = _offers(_offer("9.99", audience={"value": "ALL"}))
    assert other["audience"] == "ALL"
    (nameless,) = _offers(_offer("9.99", audience={"displayName": "Everyone"}))
    assert nameless["audience"] == "ALL"  # a dict without a value
    untyped = _offer("9.99", audience={"value": "B2B"})
    del untyped["offerType"]
    (b2b,) = _offers(untyped)
    assert b2b["audience"] == "B2B"  # from the audience alone


def test_a_b2b_offer_without_an_audience_is_b2b() -> None:
    entries = _offers(_offer("9.99"), _offer("8.99", offerType="B2B"))
    assert {e["audience"]: _price(e) for e in entries} == {
        "ALL": Decimal("9.99"), "B2B": Decimal("8.99")
    }
    (b2c,) = _offers(_offer("9.99", audience="B2B"))  # not a dict: ignored
    assert b2c["audience"] == "ALL"


def test_an_offer_without_a_currency_code_is_in_the_marketplace_currency() -> None:
    offer = _offer("1500.5", JP)
    del offer["price"]["currencyCode"]
    (entry,) = _offers(offer, mp=JP)
    assert entry == {
        "marketplace_id": JP.marketplace_id,
        "currency": "JPY",
        "audience": "ALL",
        "our_price": [{"schedule": [{"value_with_tax": Decimal("1501")}]}],
    }


def test_an_offer_keeps_its_own_currency_code() -> None:
    (entry,) = _offers({**_offer("9.995"), "price": {"currencyCode": "USD", "amount": "9.995"}})
    assert entry["currency"] == "USD" and _price(entry) == Decimal("10.00")
    (entry,) = _offers(_offer("1500.5", JP), mp=JP)
    assert entry["currency"] == "JPY" and _price(entry) == Decimal("1501")


def test_offers_without_a_price_amount_or_of_another_marketplace_are_skipped() -> None:
    no_amount = _offer("1")
    del no_amount["price"]["amount"]
    not_a_dict = {**_offer("1"), "price": "9.99"}
    assert _offers(no_amount, not_a_dict, _offer("2.00", US)) == []
    (kept,) = _offers(no_amount, not_a_dict, _offer("3.00"))  # skipping one goes on to the next
    assert _price(kept) == Decimal("3.00")
    live = normalize_item(_item(offers=[no_amount]), key("S1", CA), CA)
    assert "purchasable_offer" not in live.attributes


def test_attribute_offers_win_over_offers() -> None:
    attrs = {"purchasable_offer": [{"currency": "CAD", "our_price": [
        {"schedule": [{"value_with_tax": 5}]}]}]}
    live = normalize_item(_item(attributes=attrs, offers=[_offer("9.99")]), key("S1", CA), CA)
    (entry,) = live.attributes["purchasable_offer"]
    assert _price(entry) == Decimal("5.00") and entry["marketplace_id"] == CA.marketplace_id


# --------------------------------------------------------------------------- money


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("61.99", "CAD", "61.99"),
        (61.990000001, "CAD", "61.99"),
        ("61.995", "CAD", "62.00"),  # half up
        (1500.5, "JPY", "1501"),  # half up, not to even
        ("2500.5", "jpy", "2501"),  # the currency's case does not matter
        (1499.4, "JPY", "1499"),
        (7, "KRW", "7"),
        ("7.005", "XYZ", "7.01"),  # unknown currency: two places
        ("7.005", "", "7.01"),  # no currency: two places
        (Decimal("3.14159"), "USD", "3.14"),
    ],
)
def test_money_is_quantized_half_up_to_the_currency(value: Any, currency: str,
                                                    expected: str) -> None:
    d = to_decimal(value, currency)
    assert isinstance(d, Decimal) and str(d) == expected


@pytest.mark.parametrize("value", [True, None, [1], "NaN", "Infinity", float("inf"), "1,5"])
def test_money_that_is_not_a_finite_number_is_left_alone(value: Any) -> None:
    assert to_decimal(value, "USD") is value


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3), ("3", 3), ("3.0", 3), (3.0, 3), (Decimal("4.00"), 4), (0, 0)],
)
def test_counts_become_ints(value: Any, expected: int) -> None:
    n = to_int(value)
    assert type(n) is int and n == expected


@pytest.mark.parametrize("value", [True, False, "3.5", 3.5, "many", "inf", None, [3]])
def test_counts_that_are_not_whole_numbers_are_left_alone(value: Any) -> None:
    assert to_int(value) is value


def test_list_price_as_a_string_or_over_precise_is_canonical() -> None:
    attrs = {"list_price": [
        {"marketplace_id": CA.marketplace_id, "currency": "CAD", "value": "61.990",
         "value_with_tax": 69.99000000001},
    ]}
    live = normalize_item(_item(attributes=attrs), key("S1", CA), CA)
    assert live.attributes["list_price"] == [
        {"marketplace_id": CA.marketplace_id, "currency": "CAD", "value": Decimal("61.99"),
         "value_with_tax": Decimal("69.99")}
    ]  # value_with_tax is managed too (UK/EU list prices: issue 14)


def test_list_price_without_currency_uses_the_marketplace_one() -> None:
    e = canonical_entry("list_price", {"value": "1980.5", "value_with_tax": "2178.5"}, JP)
    assert e == {"value": Decimal("1981"), "value_with_tax": Decimal("2179"),
                 "marketplace_id": JP.marketplace_id}
    e = canonical_entry("list_price", {"value": "19.805", "currency": "USD"}, JP)
    assert e["value"] == Decimal("19.81")  # the entry's own currency wins


def test_offer_money_in_jpy_and_every_schedule_shape() -> None:
    entry = {
        "currency": "JPY",
        "audience": "B2B",
        "our_price": [
            {"schedule": [{"value_with_tax": "1980.5", "start_at": "2026-01-01"}, "junk",
                          {"start_at": "x"}]},
            {"no_schedule": 1},
            "junk",
        ],
    }
    e = canonical_entry("purchasable_offer", entry, JP)
    assert e == {
        "currency": "JPY",
        "audience": "B2B",
        "marketplace_id": JP.marketplace_id,
        "our_price": [
            {"schedule": [{"value_with_tax": Decimal("1981"), "start_at": "2026-01-01"}, "junk",
                          {"start_at": "x"}]},
            {"no_schedule": 1},
            "junk",
        ],
    }
    assert canonical_entry("purchasable_offer", {"our_price": "n/a"}, CA)["our_price"] == "n/a"
    no_currency = canonical_entry(
        "purchasable_offer", {"our_price": [{"schedule": [{"value_with_tax": 1980.5}]}]}, JP
    )
    assert _price(no_currency) == Decimal("1981") and no_currency["audience"] == "ALL"


def test_fulfillment_entries_lose_the_echoed_marketplace_and_get_int_quantities() -> None:
    e = canonical_entry("fulfillment_availability", {
        "fulfillment_channel_code": "DEFAULT", "quantity": "12", "marketplace_id": "X",
        "lead_time_to_ship_max_days": "2"}, CA)
    assert e == {"fulfillment_channel_code": "DEFAULT", "quantity": 12}


# --------------------------------------------------------------------------- items


def test_the_product_type_only_in_product_types() -> None:
    item = _item(productTypes=[
        {"marketplaceId": US.marketplace_id, "productType": "OTHER"},
        {"marketplaceId": CA.marketplace_id, "productType": "LUGGAGE"},
    ])
    assert normalize_item(item, key("S1", CA), CA).product_type == "LUGGAGE"
    item["summaries"] = [{"marketplaceId": CA.marketplace_id, "productType": "SHOES"}]
    assert normalize_item(item, key("S1", CA), CA).product_type == "SHOES"
    item["summaries"] = [{"marketplaceId": CA.marketplace_id}]  # a summary without a type
    assert normalize_item(item, key("S1", CA), CA).product_type == "LUGGAGE"
    other = _item(productTypes=[{"marketplaceId": US.marketplace_id, "productType": "OTHER"}])
    assert normalize_item(other, key("S1", CA), CA).product_type == ""


def test_an_item_with_nothing_but_its_sku() -> None:
    live = normalize_item(_item(), key("S1", CA), CA)
    assert (live.product_type, live.attributes, live.status, live.issues, live.last_updated) == (
        "", {}, (), (), ""
    )
    assert live.key == key("S1", CA)


def test_fulfillment_availability_entries_without_a_channel_or_quantity() -> None:
    item = _item(fulfillmentAvailability=[
        {"fulfillmentChannelCode": "DEFAULT"},
        {"quantity": 3},
        "junk",
        {"fulfillmentChannelCode": "AMAZON_NA", "quantity": "4"},
    ])
    live = normalize_item(item, key("S1", CA), CA)
    assert live.attributes["fulfillment_availability"] == [
        {"fulfillment_channel_code": "AMAZON_NA", "quantity": 4},
        {"fulfillment_channel_code": "DEFAULT"},
    ]


def test_attributes_that_are_not_lists_or_entries_that_are_not_dicts_are_dropped() -> None:
    mid = CA.marketplace_id
    attrs = {
        "item_name": {"value": "not a list"},
        "bullet_point": ["junk", {"value": "b", "language_tag": "en_CA"}],
        "product_description": [{"value": "US", "marketplace_id": US.marketplace_id}],
        "brand": [{"value": "Acme", "marketplace_id": mid}],
    }
    assert canonical_attributes(attrs, CA) == {
        "bullet_point": [{"value": "b", "language_tag": "en_CA", "marketplace_id": mid}],
        # any product-type attribute is kept now (issue 14); only malformed entries are dropped
        "brand": [{"value": "Acme", "marketplace_id": mid}],
    }


def test_selectors_and_sorting() -> None:
    assert selector_of("list_price", {"currency": "CAD"}) == (
        ("marketplace_id", ""), ("currency", "CAD")
    )
    assert selector_of("unknown", {"marketplace_id": "M", "x": 1}) == (("marketplace_id", "M"),)
    entries = [{"fulfillment_channel_code": c} for c in ("b", "a", "c")]
    assert [e["fulfillment_channel_code"] for e in
            sort_entries("fulfillment_availability", entries)] == ["a", "b", "c"]


def test_issues_with_missing_parts_and_marketplace_filtering() -> None:
    raw = [
        {"message": "no code"},
        {"code": "2", "severity": "WARNING", "marketplaceIds": [US.marketplace_id]},
        {"code": "3", "marketplaceIds": [], "attributeNames": None},
        {"code": "4", "marketplaceIds": [CA.marketplace_id, US.marketplace_id],
         "attributeNames": ["brand", "item_name"]},
        "junk",
    ]
    assert amazon_issues(raw, CA.marketplace_id) == (
        Issue("", "no code", "ERROR", ()),
        Issue("3", "", "ERROR", ()),
        Issue("4", "", "ERROR", ("brand", "item_name")),
    )
    assert [(i.code, i.severity) for i in amazon_issues(raw)] == [
        ("", "ERROR"), ("2", "WARNING"), ("3", "ERROR"), ("4", "ERROR")
    ]
    assert amazon_issues(None) == ()


def test_status_and_last_update_come_from_this_marketplace_summary() -> None:
    item = _item(summaries=[
        {"marketplaceId": US.marketplace_id, "status": ["BUYABLE"], "lastUpdatedDate": "us"},
        {"marketplaceId": CA.marketplace_id, "status": ["DISCOVERABLE"], "lastUpdatedDate": "ca"},
    ])
    live = normalize_item(item, key("S1", CA), CA)
    assert (live.status, live.last_updated) == (("DISCOVERABLE",), "ca")


def test_entries_called_directly_keep_their_own_marketplace() -> None:
    # canonical_attributes filters other marketplaces out first; called alone, an entry keeps
    # the marketplace it names, and only marketplace-selected attributes get one filled in
    e = canonical_entry("item_name", {"value": "x", "marketplace_id": US.marketplace_id}, CA)
    assert e["marketplace_id"] == US.marketplace_id
    assert canonical_entry("color", {"value": "red"}, CA) == {"value": "red"}


def test_status_tuples_are_shared_and_the_cache_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from reconciler.live import normalize

    monkeypatch.setattr(normalize, "_STATUSES", {})
    first = normalize._status(["BUYABLE"])
    assert first == ("BUYABLE",) and normalize._status(("BUYABLE",)) is first
    for i in range(100):
        assert normalize._status([f"S{i}"]) == (f"S{i}",)
    assert len(normalize._STATUSES) == 64
    assert normalize._status(["S99"]) == ("S99",)  # not cached, still its status
    assert normalize._status(None) == ()


def test_a_product_types_entry_without_a_type_gives_no_type() -> None:
    item = _item(productTypes=[{"marketplaceId": CA.marketplace_id}])
    assert normalize_item(item, key("S1", CA), CA).product_type == ""
