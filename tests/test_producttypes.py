"""reconciler.contract.producttypes: Amazon's product type definition vocabulary on top of JSON
Schema.

Covers selectors + maxUniqueItems (per combination of selector values), UTF-8 byte lengths,
editable/hidden, the conditional allOf/if/then requirements, requirementsEnforced, Amazon's
wording, and that the compiled fast path, the explaining slow path and jsonschema agree.
"""

from __future__ import annotations

import copy
import json
import random
from decimal import Decimal
from typing import Any

import jsonschema
import pytest

from reconciler.contract.producttypes import Validator, hidden_defaults, non_editable
from reconciler.contract.vocabulary import MISSING_ATTRIBUTE, UNKNOWN_ATTRIBUTE, UnsupportedSchema
from reconciler.emulator.product_types import definition_document, product_types
from reconciler.kernel.marketplaces import MARKETPLACES

US = MARKETPLACES["US"].marketplace_id
UK = MARKETPLACES["UK"].marketplace_id


def doc(pt: str = "DRINKING_CUP", code: str = "US", req: str = "LISTING") -> dict[str, Any]:
    return definition_document(pt, code, req)


def v(value: Any, lang: str = "en_US", mp: str = US) -> list[dict[str, Any]]:
    return [{"value": value, "language_tag": lang, "marketplace_id": mp}]


def offer(price: Any = Decimal("19.99"), mp: str = US, currency: str = "USD") -> list[Any]:
    return [{"marketplace_id": mp, "currency": currency, "audience": "ALL",
             "our_price": [{"schedule": [{"value_with_tax": price}]}]}]


def full_listing() -> dict[str, Any]:
    return {
        "item_name": v("Stoneware mug"),
        "brand": v("Birchwood Kitchen"),
        "item_type_keyword": [{"value": "coffee-mugs", "marketplace_id": US}],
        "condition_type": [{"value": "new_new", "marketplace_id": US}],
        "externally_assigned_product_identifier": [
            {"type": "ean", "value": "5061234567894", "marketplace_id": US}],
        "main_product_image_locator": [
            {"media_location": "https://example.com/mug.jpg", "marketplace_id": US}],
        "bullet_point": [{"value": f"b{i}", "language_tag": "en_US", "marketplace_id": US}
                         for i in range(3)],
        "purchasable_offer": offer(),
        "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3}],
    }


def check(val: Validator, attrs: dict[str, Any]) -> list[str]:
    """The messages, after checking that the fast and the slow path agree."""
    issues = val.issues(attrs)
    assert val.is_valid(attrs) == (issues == []), issues
    return [i.message for i in issues]


def test_a_complete_listing_is_valid() -> None:
    assert check(Validator(doc()), full_listing()) == []


def test_missing_required_attribute_in_amazons_words() -> None:
    attrs = full_listing()
    del attrs["condition_type"]
    (issue,) = Validator(doc()).issues(attrs)
    assert issue.code == MISSING_ATTRIBUTE and issue.category == "MISSING_ATTRIBUTE"
    assert issue.message == "'condition_type' is required but not supplied."
    assert issue.attribute == issue.path == "condition_type"


def test_unknown_attribute_is_90000900() -> None:
    attrs = {**full_listing(), "fake_attribute": [{"value": 1}]}
    issues = Validator(doc()).issues(attrs)
    assert [(i.code, i.attribute, i.message) for i in issues] == [
        (UNKNOWN_ATTRIBUTE, "fake_attribute", "The attributes are invalid.")]
    assert not Validator(doc()).is_valid(attrs)


def test_max_unique_items_counts_each_combination_of_selector_values() -> None:
    val = Validator(doc())
    attrs = full_listing()
    ten = [{"value": f"b{i}", "language_tag": "en_US", "marketplace_id": US} for i in range(10)]
    attrs["bullet_point"] = ten
    assert check(val, attrs) == []
    # ten more in another language: another combination, still valid
    attrs["bullet_point"] = ten + [{**b, "language_tag": "es_US"} for b in ten]
    assert check(val, attrs) == []
    attrs["bullet_point"] = [*ten, {"value": "b10", "language_tag": "en_US", "marketplace_id": US}]
    (msg,) = check(val, attrs)
    assert msg.startswith("Each combination of selector values may only occur 10 times")
    assert "marketplace_id=ATVPDKIKX0DER, language_tag=en_US" in msg
    # one item_name per marketplace and language
    attrs = full_listing()
    attrs["item_name"] = v("a") + v("b")
    assert check(val, attrs)


def test_utf8_byte_lengths_count_bytes_not_characters() -> None:
    val = Validator(doc())
    attrs = full_listing()
    attrs["product_description"] = v("é" * 5000)  # 5,000 characters, 10,000 bytes
    assert check(val, attrs) == []
    attrs["product_description"] = v("é" * 5001)  # 10,002 bytes
    (msg,) = check(val, attrs)
    assert "longer than 10000 bytes in UTF-8 (10002)" in msg
    attrs["product_description"] = v("e" * 10001)
    assert check(val, attrs)
    attrs["product_description"] = v("e" * 100)
    attrs["item_name"] = v("")  # minUtf8ByteLength 1
    (msg,) = check(val, attrs)
    assert "shorter than 1 bytes in UTF-8" in msg


def test_conditional_requirements_of_a_new_product() -> None:
    val = Validator(doc())
    new = full_listing()
    del new["externally_assigned_product_identifier"], new["main_product_image_locator"]
    assert sorted(check(val, new)) == [
        "'externally_assigned_product_identifier' is required but not supplied.",
        "'main_product_image_locator' is required but not supplied.",
    ]
    # an offer on an existing ASIN needs neither
    on_asin = {**new, "merchant_suggested_asin": [{"value": "B0C7MUG12S", "marketplace_id": US}]}
    assert check(val, on_asin) == []
    # an exempt product needs no identifier, still an image
    exempt = {**new, "supplier_declared_has_product_identifier_exemption": [
        {"value": True, "marketplace_id": US}]}
    assert check(val, exempt) == ["'main_product_image_locator' is required but not supplied."]
    # skip_offer: true lifts the offer requirement
    no_offer = full_listing()
    del no_offer["purchasable_offer"]
    assert check(val, no_offer) == ["'purchasable_offer' is required but not supplied."]
    no_offer["skip_offer"] = [{"value": True, "marketplace_id": US}]
    assert check(val, no_offer) == []


def test_offer_only_requires_the_asin_and_not_enforced_requires_nothing() -> None:
    val = Validator(doc(req="LISTING_OFFER_ONLY"))
    attrs = {"condition_type": [{"value": "new_new", "marketplace_id": US}],
             "purchasable_offer": offer()}
    assert check(val, attrs) == ["'merchant_suggested_asin' is required but not supplied."]
    loose = Validator(doc(req="LISTING_OFFER_ONLY"), enforced=False)
    assert check(loose, {}) == []
    # structure is still checked
    assert check(loose, {"purchasable_offer": offer(price="cheap")})


def test_uk_list_price_has_value_with_tax_and_refuses_value() -> None:
    val = Validator(doc(code="UK", req="LISTING_OFFER_ONLY"), enforced=False)
    good = {"list_price": [{"currency": "GBP", "value_with_tax": Decimal("39.99"),
                            "marketplace_id": UK}]}
    assert check(val, good) == []
    bad = {"list_price": [{"currency": "GBP", "value": Decimal("39.99"), "marketplace_id": UK}]}
    msgs = check(val, bad)
    assert any("'value' is not a valid field of 'list_price[0]'" in m and "value_with_tax" in m
               for m in msgs), msgs
    us = Validator(doc(code="US", req="LISTING_OFFER_ONLY"), enforced=False)
    assert check(us, {"list_price": [{"currency": "USD", "value": 39.99,
                                      "marketplace_id": US}]}) == []
    assert check(us, {"list_price": [{"currency": "USD", "value": Decimal("39.999"),
                                      "marketplace_id": US}]})  # multipleOf 0.01


def test_offer_lines_sale_b2b_and_guards() -> None:
    val = Validator(doc(req="LISTING_OFFER_ONLY"), enforced=False)
    all_offer = offer()[0]
    all_offer["discounted_price"] = [{"schedule": [{"value_with_tax": Decimal("15.99"),
                                                    "start_at": "2026-12-01",
                                                    "end_at": "2026-12-31"}]}]
    all_offer["minimum_seller_allowed_price"] = [{"schedule": [{"value_with_tax": 10}]}]
    b2b = {**offer()[0], "audience": "B2B", "quantity_discount_plan": [{"schedule": [{
        "discount_type": "percent", "levels": [{"lower_bound": 5, "value": 5},
                                               {"lower_bound": 10, "value": 10}]}]}]}
    assert check(val, {"purchasable_offer": [all_offer, b2b]}) == []
    bad_date = copy.deepcopy(all_offer)
    bad_date["discounted_price"][0]["schedule"][0]["end_at"] = "2026-13-45"
    assert check(val, {"purchasable_offer": [bad_date]})
    no_end = copy.deepcopy(all_offer)
    del no_end["discounted_price"][0]["schedule"][0]["end_at"]
    (msg,) = check(val, {"purchasable_offer": [no_end]})
    assert "The field 'end_at' for the attribute 'purchasable_offer'" in msg
    # quantity tiers belong to the business offer only
    tiers_on_all = {**all_offer, "quantity_discount_plan": b2b["quantity_discount_plan"]}
    assert check(val, {"purchasable_offer": [tiers_on_all]}) == [
        "'quantity_discount_plan' is not allowed in 'purchasable_offer[0]'."]
    six = copy.deepcopy(b2b)
    six["quantity_discount_plan"][0]["schedule"][0]["levels"] = [
        {"lower_bound": 2 + i, "value": i} for i in range(6)]
    assert check(val, {"purchasable_offer": [six]})


def test_editable_and_hidden() -> None:
    d = doc()
    locked = non_editable(d)
    assert {"condition_type", "merchant_suggested_asin", "brand",
            "externally_assigned_product_identifier"} <= locked
    assert "item_name" not in locked and "purchasable_offer" not in locked
    props = d["properties"]
    assert hidden_defaults(props["purchasable_offer"], d["$defs"]) == {
        "marketplace_id": US, "currency": "USD", "audience": "ALL"}
    assert hidden_defaults(props["brand"], d["$defs"]) == {
        "marketplace_id": US, "language_tag": "en_US"}


def test_decimals_are_numbers() -> None:
    val = Validator(doc(req="LISTING_OFFER_ONLY"), enforced=False)
    assert check(val, {"purchasable_offer": offer(Decimal("19.99"))}) == []
    assert check(val, {"purchasable_offer": offer(Decimal("-1"))})
    assert check(val, {"fulfillment_availability": [
        {"fulfillment_channel_code": "DEFAULT", "quantity": Decimal("2.0")}]}) == []
    assert check(val, {"fulfillment_availability": [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 2.5}]})
    assert check(val, {"fulfillment_availability": [
        {"fulfillment_channel_code": "DEFAULT", "quantity": True}]})


def test_unknown_keywords_are_refused_not_skipped() -> None:
    with pytest.raises(UnsupportedSchema):
        Validator({"type": "object", "properties": {"a": {"dependentRequired": {}}}})


def _structure(x: Any) -> Any:
    """A document with its scalars replaced by their type names: documents of one structure
    are valid or invalid against the meta-schema alike, as long as each kind of value is."""
    if isinstance(x, dict):
        return {k: _structure(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_structure(v) for v in x]
    return type(x).__name__


def test_every_definition_is_a_json_schema_the_validator_compiles() -> None:
    """Every document compiles in our validator. Against the 2019-09 meta-schema (0.3 s a
    document in jsonschema), every product type is checked in one marketplace, and every other
    document whose structure (:func:`_structure`) was not checked yet: the per-marketplace
    differences (UK/EU ``value_with_tax``, JP's currency) are new structures, so they are
    checked too, without checking 96 near-copies."""
    meta = jsonschema.Draft201909Validator
    checked: set[str] = set()
    for pt in product_types():
        for code in ("US", "UK", "DE", "JP"):
            d = definition_document(pt, code, "LISTING_OFFER_ONLY")
            key = json.dumps(_structure(d), sort_keys=True)
            if code == "US" or key not in checked:
                meta.check_schema(d)
                checked.add(key)
            Validator(d)
    assert len(checked) > 1  # the marketplaces' own structures were among them


def _mutations(value: Any, rng: random.Random) -> Any:
    """A random small change of ``value``: a dropped key, a wrong type, a long string..."""
    out = copy.deepcopy(value)
    paths: list[tuple[Any, Any]] = []

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            for k in list(x):
                paths.append((x, k))
                walk(x[k])
        elif isinstance(x, list):
            for i in range(len(x)):
                paths.append((x, i))
                walk(x[i])

    walk(out)
    parent, key = rng.choice(paths)
    choice = rng.randrange(7)
    if choice == 0 and isinstance(parent, dict):
        del parent[key]
    elif choice == 1:
        parent[key] = rng.choice(["x" * 700, "", -5, 3.14159, True, None, [], {}, "é" * 6000])
    elif choice == 2 and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))
    elif choice == 3 and isinstance(parent, dict):
        parent["unexpected"] = 1
    elif choice == 4:
        parent[key] = rng.choice(["2026-02-30", "2026-12-01", "B0C7MUG12S", "ean", "percent"])
    else:
        parent[key] = rng.choice([0, 1, 10, 1000000, "new_new", "used_good", "DEFAULT"])
    return out


def test_fast_path_explaining_path_and_jsonschema_agree() -> None:
    rng = random.Random(7)
    d = doc()
    ours = Validator(d)
    theirs = jsonschema.Draft201909Validator(d, format_checker=jsonschema.FormatChecker())
    base = full_listing()
    base["purchasable_offer"][0]["our_price"][0]["schedule"][0]["value_with_tax"] = 19.99
    stricter = 0
    for _ in range(400):
        attrs = _mutations(base, rng)
        fast = ours.is_valid(attrs)
        assert fast == (ours.issues(attrs) == []), attrs
        if fast:  # anything we accept, standard JSON Schema accepts too
            assert theirs.is_valid(attrs), attrs
        elif theirs.is_valid(attrs):
            stricter += 1  # Amazon's vocabulary (selectors, UTF-8 bytes, names) refused it
    assert stricter > 0
