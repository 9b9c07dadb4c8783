"""live.normalize_item and live.fingerprint.

Covers: restriction to one marketplace, canonical money/quantities (float, int, string, extra
digits), echoed marketplace_id, missing audience, entry order, derivation from
fulfillmentAvailability / offers, issues and status, product type; the fingerprint ignores
unmanaged edits and changes with managed ones.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from reconciler.live.normalize import normalize_item, to_decimal, to_int
from reconciler.plan.diff import diff_listing
from reconciler.plan.projection import ABSENT, fingerprint
from tests.core_builders import CA, JP, LOC_A, LOC_B, US, amazon_item, desired, key, live_of


def test_money_and_quantity_forms() -> None:
    assert to_decimal(29.99, "USD") == Decimal("29.99")
    assert str(to_decimal("29.990", "USD")) == "29.99"
    assert str(to_decimal(30, "USD")) == "30.00"
    assert str(to_decimal("1500.0", "JPY")) == "1500"
    assert to_decimal("n/a", "USD") == "n/a"
    assert to_int("3") == 3 and to_int(3.0) == 3 and to_int(4) == 4
    assert to_int("3.5") == "3.5"  # not a count: left to diff


@pytest.mark.parametrize("price", [29.99, "29.99", "29.990", 29.990000001])
def test_price_forms_normalize_to_the_same_decimal(price: object) -> None:
    d = desired("MUG-001", CA, price="29.99")
    item = amazon_item(d, CA)
    item["attributes"]["purchasable_offer"][0]["our_price"][0]["schedule"][0]["value_with_tax"] = (
        price
    )
    live = normalize_item(item, d.key, CA)
    offer = live.attributes["purchasable_offer"][0]
    assert offer["our_price"][0]["schedule"][0]["value_with_tax"] == Decimal("29.99")
    assert offer["audience"] == "ALL"
    assert diff_listing(d, live) == ()


def test_applied_listing_diffs_empty_despite_every_quirk() -> None:
    d = desired("MUG-001", US, bullets=("Holds 12 oz", "Dishwasher safe"), desc="Long")
    item = amazon_item(d, US)
    # the quirks are really there
    fa = item["attributes"]["fulfillment_availability"]
    assert all("marketplace_id" in e for e in fa if e["fulfillment_channel_code"] != "AMAZON_NA")
    assert "audience" not in item["attributes"]["purchasable_offer"][0]
    assert [e["fulfillment_channel_code"] for e in fa][:3] == ["DEFAULT", LOC_B, LOC_A]
    live = normalize_item(item, d.key, US)
    assert diff_listing(d, live) == ()
    # the canonical form keeps other selectors of managed attributes, but no unmanaged field
    fa_live = {
        e["fulfillment_channel_code"]: e for e in live.attributes["fulfillment_availability"]
    }
    assert "marketplace_id" not in fa_live["DEFAULT"]
    assert fa[0]["lead_time_to_ship_max_days"] == 2  # read from Amazon (fa[0] is DEFAULT)
    assert "lead_time_to_ship_max_days" not in fa_live["DEFAULT"]
    assert fa_live["AMAZON_NA"]["quantity"] == 4
    assert [
        e["fulfillment_channel_code"] for e in live.attributes["fulfillment_availability"]
    ] == sorted(fa_live)
    # a sale price is a field a catalog may manage (kept, money canonical); this one does not
    # manage it, so it is not in the diff above
    assert "discounted_price" in item["attributes"]["purchasable_offer"][0]
    sale = live.attributes["purchasable_offer"][0]["discounted_price"][0]["schedule"][0]
    assert sale["value_with_tax"] == Decimal("1.50")
    assert "map_price" not in live.attributes["purchasable_offer"][0]
    # attributes the catalog does not declare are not kept when the planner says what to keep
    # (memory at 100k listings); import keeps them all
    assert item["attributes"]["brand"] and "brand" in live.attributes
    kept = normalize_item(item, d.key, US, keep=frozenset(d.attributes))
    assert "brand" not in kept.attributes and diff_listing(d, kept) == ()


def test_keys_and_string_values_are_shared_across_listings() -> None:
    d = desired("MUG-001", US, bullets=("Holds 12 oz",))
    a = normalize_item(json.loads(json.dumps(amazon_item(d, US))), d.key, US)
    b = normalize_item(json.loads(json.dumps(amazon_item(d, US))), d.key, US)
    ea, eb = a.attributes["item_name"][0], b.attributes["item_name"][0]
    assert ea == eb and ea is not eb
    for (ka, va), (kb, vb) in zip(ea.items(), eb.items(), strict=True):
        assert ka is kb and va is vb  # one string object, not one per decoded Item
    assert a.status is b.status and a.last_updated is b.last_updated


def test_other_marketplaces_are_dropped_and_missing_marketplace_id_filled() -> None:
    d = desired("MUG-001", CA)
    item = amazon_item(d, CA)
    item["attributes"]["item_name"] = [
        {"value": "Mug", "language_tag": "en_CA"},  # no marketplace_id: this marketplace
        {"value": "US mug", "language_tag": "en_US", "marketplace_id": US.marketplace_id},
    ]
    live = normalize_item(item, d.key, CA)
    assert live.attributes["item_name"] == [
        {"value": "Mug", "language_tag": "en_CA", "marketplace_id": CA.marketplace_id}
    ]
    # the item_name read from the other store is not treated as ours
    assert "US mug" not in str(live.attributes)


def test_bullets_keep_their_order_within_a_selector() -> None:
    d = desired("MUG-001", US, bullets=("z first", "a second", "m third"))
    live = normalize_item(amazon_item(d, US), d.key, US)
    en = [e["value"] for e in live.attributes["bullet_point"] if e["language_tag"] == "en_US"]
    assert en == ["z first", "a second", "m third"]


def test_fulfillment_derived_from_fulfillment_availability_and_offers_from_offers() -> None:
    item = {
        "sku": "S1",
        "summaries": [{"marketplaceId": JP.marketplace_id, "productType": "LUGGAGE", "status": []}],
        "offers": [
            {
                "marketplaceId": JP.marketplace_id,
                "offerType": "B2C",
                "price": {"currencyCode": "JPY", "amount": "1500.00"},
            },
            {
                "marketplaceId": US.marketplace_id,
                "offerType": "B2C",
                "price": {"currencyCode": "USD", "amount": "9.99"},
            },
        ],
        "fulfillmentAvailability": [{"fulfillmentChannelCode": "DEFAULT", "quantity": 12}],
    }
    live = normalize_item(item, key("S1", JP, "fe"), JP)
    assert live.product_type == "LUGGAGE"
    assert live.attributes["fulfillment_availability"] == [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 12}
    ]
    assert live.attributes["purchasable_offer"] == [
        {
            "marketplace_id": JP.marketplace_id,
            "currency": "JPY",
            "audience": "ALL",
            "our_price": [{"schedule": [{"value_with_tax": Decimal("1500")}]}],
        }
    ]


def test_attributes_fulfillment_wins_over_the_read_model() -> None:
    d = desired("MUG-001", CA, qty=7)
    item = amazon_item(d, CA)
    item["fulfillmentAvailability"] = [{"fulfillmentChannelCode": "DEFAULT", "quantity": 99}]
    live = normalize_item(item, d.key, CA)
    assert {
        e["fulfillment_channel_code"]: e["quantity"]
        for e in live.attributes["fulfillment_availability"]
    }["DEFAULT"] == 7


def test_summary_status_issues_and_product_type() -> None:
    d = desired("MUG-001", CA)
    item = amazon_item(d, CA)
    item["summaries"].append(
        {"marketplaceId": US.marketplace_id, "productType": "OTHER", "status": []}
    )
    item["issues"] = [
        {
            "code": "90220",
            "message": "'brand' is required",
            "severity": "ERROR",
            "categories": [],
            "attributeNames": ["brand"],
        },
        {
            "code": "1",
            "message": "US only",
            "severity": "WARNING",
            "categories": [],
            "marketplaceIds": [US.marketplace_id],
        },
    ]
    live = normalize_item(item, d.key, CA)
    assert live.product_type == "PRODUCT"
    assert live.status == ("BUYABLE", "DISCOVERABLE")
    assert live.last_updated == "2026-11-01T00:00:00Z"
    assert [(i.code, i.severity, i.attribute_names) for i in live.issues] == [
        ("90220", "ERROR", ("brand",))
    ]


def test_fingerprint_ignores_unmanaged_edits_and_sees_managed_ones() -> None:
    d = desired("MUG-001", US, bullets=("a", "b"))
    base = live_of(d, US)
    fp = fingerprint(d, base)
    assert len(fp) == 64 and fp == fingerprint(d, live_of(d, US))
    # unmanaged: another attribute, a sibling field, another channel, another language
    item = amazon_item(d, US)
    item["attributes"]["color"] = [{"value": "red", "marketplace_id": US.marketplace_id}]
    item["attributes"]["fulfillment_availability"][0]["lead_time_to_ship_max_days"] = 9
    item["attributes"]["fulfillment_availability"][-1]["quantity"] = 100  # AMAZON_NA
    item["attributes"]["purchasable_offer"][0]["discounted_price"] = []
    assert fingerprint(d, normalize_item(item, d.key, US)) == fp
    # managed: the price, a location quantity, a bullet's order
    for path in ("price", "qty", "bullets"):
        item = amazon_item(d, US)
        a = item["attributes"]
        if path == "price":
            a["purchasable_offer"][0]["our_price"][0]["schedule"][0]["value_with_tax"] = 20.99
        elif path == "qty":
            next(
                e for e in a["fulfillment_availability"] if e["fulfillment_channel_code"] == LOC_A
            )["quantity"] = 11
        else:
            a["bullet_point"].reverse()
        assert fingerprint(d, normalize_item(item, d.key, US)) != fp, path
    assert fingerprint(d, None) == ABSENT


def test_garbage_and_huge_money_never_crash_normalization() -> None:
    assert to_decimal(1e30, "USD") == Decimal("1E+30")
    d = desired("MUG-001", CA)
    item = amazon_item(d, CA)
    item["attributes"]["purchasable_offer"][0]["our_price"][0]["schedule"][0]["value_with_tax"] = (
        "n/a"
    )
    live = normalize_item(item, d.key, CA)
    (change,) = diff_listing(d, live)
    assert change.old is not None
    assert change.old[0]["our_price"][0]["schedule"][0]["value_with_tax"] == "n/a"
