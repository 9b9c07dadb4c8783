"""patches: one request per listing, merge for offers/quantities, replace for texts, feeds.

Covers: the MLI seed case (ssnm001) body, DEFAULT=0 always travels with location quantities,
one op per attribute with every changed selector, full ordered bullets, create as PUT, delete,
plain JSON numbers, feed messages and documents valid against Amazon's feed schema.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from reconciler.kernel.model import FieldChange
from reconciler.plan.builder import build_plan
from reconciler.plan.change import Change
from reconciler.plan.diff import diff_listing
from reconciler.plan.patches import feed_document, feed_message, listing_request
from tests.core_builders import CA, LOC_A, LOC_B, US, desired, live_of, state

FEED_SCHEMA = (
    Path(__file__).resolve().parent.parent / "reconciler/emulator/data/listings-feed-schema-v2.json"
)


def _sorted_value(op: dict) -> list:  # type: ignore[type-arg]
    return sorted(op["value"], key=lambda e: json.dumps(e, sort_keys=True))


def seed_change(sku: str = "ssnm001") -> Change:
    d = desired(sku, US, qty={LOC_A: 10, LOC_B: 5}, title=None)
    live = live_of(desired(sku, US, qty={}, title=None), US)
    live.attributes["fulfillment_availability"] = [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 3}
    ]
    (change,) = build_plan(state(d), {d.key: live}).changes
    return change


@pytest.mark.parametrize("sku", ["ssnm001", "ssnm002"])
def test_seed_case_mli_body(sku: str) -> None:
    req = listing_request(seed_change(sku))
    assert (req.method, req.sku, req.marketplace_id) == ("PATCH", sku, US.marketplace_id)
    assert req.body is not None
    assert req.body["productType"] == "PRODUCT"
    (op,) = req.body["patches"]
    assert op["op"] == "merge" and op["path"] == "/attributes/fulfillment_availability"
    assert _sorted_value(op) == sorted(
        [
            {"fulfillment_channel_code": LOC_A, "quantity": 10},
            {"fulfillment_channel_code": LOC_B, "quantity": 5},
            {"fulfillment_channel_code": "DEFAULT", "quantity": 0},
        ],
        key=lambda e: json.dumps(e, sort_keys=True),
    )
    # plain JSON: serialisable as-is, ints stay ints
    assert json.loads(json.dumps(req.body)) == req.body


def test_default_zero_travels_with_location_quantities_on_mli() -> None:
    d = desired("MUG-001", US, qty={LOC_A: 12, LOC_B: 5})
    live = live_of(desired("MUG-001", US, qty={LOC_A: 10, LOC_B: 5}), US)
    (change,) = build_plan(state(d), {d.key: live}).changes
    assert [dict(f.selector)["fulfillment_channel_code"] for f in change.fields] == [LOC_A]
    (op,) = listing_request(change).body["patches"]  # type: ignore[index]
    assert {e["fulfillment_channel_code"]: e["quantity"] for e in op["value"]} == {
        LOC_A: 12,
        "DEFAULT": 0,
    }


def test_one_request_per_listing_one_op_per_attribute() -> None:
    d = desired(
        "MUG-001", CA, price="24.99", qty=9, title="Mug v2", bullets=("one", "two", "three")
    )
    live = live_of(
        desired("MUG-001", CA, price="19.99", qty=3, title="Mug", bullets=("one", "2")), CA
    )
    (change,) = build_plan(state(d), {d.key: live}).changes
    req = listing_request(change)
    assert req.method == "PATCH" and req.body is not None
    ops = {op["path"]: op for op in req.body["patches"]}
    assert list(ops) == sorted(ops)
    assert ops["/attributes/purchasable_offer"]["op"] == "merge"
    assert ops["/attributes/purchasable_offer"]["value"] == [
        {
            "marketplace_id": CA.marketplace_id,
            "currency": "CAD",
            "audience": "ALL",
            "our_price": [{"schedule": [{"value_with_tax": 24.99}]}],
        }
    ]
    assert ops["/attributes/fulfillment_availability"] == {
        "op": "merge",
        "path": "/attributes/fulfillment_availability",
        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 9}],
    }
    assert ops["/attributes/item_name"]["op"] == "replace"
    bullets = ops["/attributes/bullet_point"]
    assert bullets["op"] == "replace"
    assert [e["value"] for e in bullets["value"]] == ["one", "two", "three"]  # full ordered list
    assert all(
        e["language_tag"] == "en_CA" and e["marketplace_id"] == CA.marketplace_id
        for e in bullets["value"]
    )
    assert isinstance(
        ops["/attributes/purchasable_offer"]["value"][0]["our_price"][0]["schedule"][0][
            "value_with_tax"
        ],
        float,
    )


def test_create_is_a_put_with_all_managed_attributes() -> None:
    d = desired("NEW-001", CA, title="New", bullets=("b1",))
    (change,) = build_plan(state(d), {d.key: None}).changes
    req = listing_request(change)
    assert req.method == "PUT" and req.body is not None
    assert req.body["productType"] == "PRODUCT" and req.body["requirements"] == "LISTING"
    assert set(req.body["attributes"]) == set(d.attributes)
    assert req.body["attributes"]["fulfillment_availability"] == [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 7}
    ]


def test_delete() -> None:
    d = desired("OLD-001", CA, state="absent")
    (change,) = build_plan(state(d), {d.key: live_of(desired("OLD-001", CA), CA)}).changes
    assert listing_request(change) == ("DELETE", "OLD-001", CA.marketplace_id, None)
    assert feed_message(change, 3) == {"messageId": 3, "sku": "OLD-001", "operationType": "DELETE"}


def test_update_without_fields_is_refused() -> None:
    change = seed_change()
    with pytest.raises(ValueError, match="without field changes"):
        listing_request(Change(change.key, "US", "update", "PRODUCT", ()))
    assert isinstance(change.fields[0], FieldChange)


def test_feed_messages_and_document_validate_against_amazons_schema() -> None:
    schema = json.loads(FEED_SCHEMA.read_text(encoding="utf-8"))
    create = desired("NEW-001", CA, title="New")
    update = desired("MUG-001", CA, price="24.99")
    gone = desired("OLD-001", CA, state="absent")
    plan = build_plan(
        state(create, update, gone),
        {
            create.key: None,
            update.key: live_of(desired("MUG-001", CA, price="19.99"), CA),
            gone.key: live_of(desired("OLD-001", CA), CA),
        },
    )
    messages = [feed_message(c, i) for i, c in enumerate(plan.changes, 1)]
    assert [m["operationType"] for m in messages] == ["PATCH", "UPDATE", "DELETE"]
    assert messages[0]["patches"] == listing_request(plan.changes[0]).body["patches"]  # type: ignore[index]
    doc = feed_document("A1SELLER", messages)
    assert doc["header"] == {"sellerId": "A1SELLER", "version": "2.0", "issueLocale": "en_US"}
    jsonschema.validate(json.loads(json.dumps(doc)), schema)
    # the validator really checks: a PATCH message with attributes is refused by the schema
    bad = json.loads(json.dumps(doc))
    bad["messages"][0]["attributes"] = {"x": [{"value": 1}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_field_changes_of_a_listing_never_split() -> None:
    d = desired("MUG-001", US, price="24.99", qty={LOC_A: 1, LOC_B: 2}, title="T2")
    live = live_of(desired("MUG-001", US, price="19.99", qty={LOC_A: 3, LOC_B: 4}, title="T1"), US)
    assert len(diff_listing(d, live)) == 4
    (change,) = build_plan(state(d), {d.key: live}).changes
    body = listing_request(change).body
    assert (
        body is not None and len(body["patches"]) == 3
    )  # 3 attributes, 4 selector changes, 1 request


def test_json_plan_carries_the_request_apply_sends() -> None:
    from reconciler.plan.value import Plan

    change = seed_change()
    d = desired("ssnm001", US, qty={LOC_A: 10, LOC_B: 5}, title=None)
    live = live_of(desired("ssnm001", US, qty={}, title=None), US)
    live.attributes["fulfillment_availability"] = [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 3}
    ]
    plan = build_plan(state(d), {d.key: live})
    data = json.loads(json.dumps(plan.data()))
    req = listing_request(change)
    assert data["changes"][0]["request"] == {"method": "PATCH", "body": req.body}
    assert Plan.from_data(data) == plan  # derived data: ignored when read back
