"""plan.build_plan, Plan.data/checksum/from_data, check_safety.

Covers: create/update/delete/held rules, targeting, unchanged counting, fingerprints of every
listing read, unmanaged data never in the plan, checksum stability and what it covers (the
writes only), the
from_data round trip (and refusal of unknown versions / tampering), safety messages naming
their setting.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.kernel.errors import PlanError
from reconciler.kernel.model import ListingKey, LiveListing, Safety
from reconciler.live.normalize import normalize_item
from reconciler.plan.builder import build_plan
from reconciler.plan.projection import ABSENT
from reconciler.plan.safety import check_safety
from reconciler.plan.strategy import StrategyEstimate
from reconciler.plan.value import FORMAT_VERSION, Plan
from tests.core_builders import (
    CA,
    LOC_A,
    LOC_B,
    MX,
    US,
    amazon_item,
    desired,
    key,
    live_of,
    state,
)


def sample() -> tuple[object, dict[ListingKey, LiveListing | None]]:
    listings = [
        desired("MUG-001", US, qty={LOC_A: 10, LOC_B: 5}),
        desired("MUG-001", CA, price="21.99"),
        desired("MUG-001", MX, held=True, price="399.00"),
        desired("MUG-002", CA, title="Cup"),
        desired("OLD-001", CA, state="absent"),
        desired("NEW-001", CA, title="New"),
    ]
    live: dict[ListingKey, LiveListing | None] = {
        key("MUG-001", US): live_of(
            desired("MUG-001", US, qty={}), US
        ),  # stale DEFAULT handled below
        key("MUG-001", CA): live_of(desired("MUG-001", CA, price="19.99"), CA),
        key("MUG-001", MX): live_of(desired("MUG-001", MX, price="379.00"), MX),
        key("MUG-002", CA): live_of(desired("MUG-002", CA, title="Cup"), CA),
        key("OLD-001", CA): live_of(desired("OLD-001", CA), CA),
        key("NEW-001", CA): None,
    }
    us = live[key("MUG-001", US)]
    assert us is not None
    us.attributes["fulfillment_availability"] = [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 3, "lead_time_to_ship_max_days": 2}
    ]
    return state(
        *listings, safety=Safety(allow_deletes=True, max_price_change_pct=Decimal(30))
    ), live


def test_build_plan_rules() -> None:
    desired_state, live = sample()
    plan = build_plan(desired_state, live)  # type: ignore[arg-type]
    actions = {(c.key.sku, c.marketplace): c.action for c in plan.changes}
    assert actions == {
        ("MUG-001", "US"): "update",
        ("MUG-001", "CA"): "update",
        ("MUG-001", "MX"): "update",  # texts held, price still planned
        ("OLD-001", "CA"): "delete",
        ("NEW-001", "CA"): "create",
    }
    assert [c.key for c in plan.changes] == sorted(c.key for c in plan.changes)
    (held,) = plan.held
    assert (held.key.sku, held.marketplace, held.whole_listing) == ("MUG-001", "MX", False)
    assert held.reason == "no texts for es_MX"
    mx = next(c for c in plan.changes if c.marketplace == "MX")
    assert [f.attribute for f in mx.fields] == ["purchasable_offer"]  # no texts in es_MX
    assert mx.derivations and mx.derivations[0].result == Decimal("399.00")
    assert plan.unchanged == 1  # MUG-002 (CA)
    assert set(plan.fingerprints) == set(live)
    assert plan.fingerprints[key("NEW-001", CA)] == ABSENT
    create = next(c for c in plan.changes if c.action == "create")
    assert all(f.old is None for f in create.fields)
    assert {f.attribute for f in create.fields} == {
        "item_name",
        "purchasable_offer",
        "fulfillment_availability",
    }
    us = next(c for c in plan.changes if c.marketplace == "US")
    assert us.mli and [dict(f.selector)["fulfillment_channel_code"] for f in us.fields] == [
        LOC_A,
        LOC_B,
        "DEFAULT",
    ]
    assert us.derivations == ()  # no price change, no derivation shown
    assert (
        plan.strategy is not None
        and plan.strategy.chosen == "patch"
        and plan.strategy.listings == 5
    )
    assert plan.has_changes and plan.safety == ()


def test_missing_listing_with_held_texts_is_held_whole_and_not_created() -> None:
    d = desired("MUG-009", MX, held=True)
    plan = build_plan(state(d), {d.key: None})
    assert plan.changes == ()
    (held,) = plan.held
    assert held.whole_listing and held.attributes == (
        "item_name",
        "product_description",
        "bullet_point",
    )
    assert not plan.has_changes and plan.unchanged == 0


def test_absent_desired_and_absent_live_is_nothing() -> None:
    d = desired("GONE", CA, state="absent")
    plan = build_plan(state(d), {d.key: None})
    assert plan.changes == () and plan.unchanged == 1 and plan.safety == ()


def test_targeting_by_sku_and_marketplace() -> None:
    desired_state, live = sample()
    by_sku = build_plan(desired_state, live, skus=["MUG-001"])  # type: ignore[arg-type]
    assert {c.key.sku for c in by_sku.changes} == {"MUG-001"}
    by_mp = build_plan(desired_state, live, marketplaces=["ca"])  # type: ignore[arg-type]
    assert {c.marketplace for c in by_mp.changes} == {"CA"}
    assert set(by_mp.fingerprints) == {k for k in live if k.marketplace_id == CA.marketplace_id}
    both = build_plan(desired_state, live, skus=["MUG-001"], marketplaces=[US.marketplace_id])  # type: ignore[arg-type]
    assert [c.name for c in both.changes] == ["MUG-001 (US)"]


def test_unmanaged_attribute_present_only_live_never_appears_in_the_plan() -> None:
    d = desired("MUG-001", CA, price="24.99")
    item = amazon_item(desired("MUG-001", CA, price="19.99"), CA)
    item["attributes"]["unmanaged_widget_color"] = [
        {"value": "ultraviolet", "marketplace_id": CA.marketplace_id}
    ]
    item["attributes"]["fulfillment_availability"][0]["lead_time_to_ship_max_days"] = 17
    plan = build_plan(state(d), {d.key: normalize_item(item, d.key, CA)})
    assert plan.has_changes
    blob = json.dumps(plan.data())
    for unmanaged in (
        "unmanaged_widget_color",
        "ultraviolet",
        "lead_time_to_ship_max_days",
        "discounted_price",
        "brand",
        "Acme",
        "AMAZON_NA",
        "de_DE",
    ):
        assert unmanaged not in blob, unmanaged


def test_checksum_covers_the_writes_and_nothing_else() -> None:
    """Issue 12: the checksum is what a reviewer approves (per listing: the action, the product
    type, the MLI flag, each field set and its new value), not the old values, fingerprints,
    derivations, held or unchanged listings, strategy or safety."""
    desired_state, live = sample()
    a = build_plan(desired_state, live)  # type: ignore[arg-type]
    b = build_plan(*sample())  # type: ignore[arg-type]
    assert a.checksum == b.checksum == a.data()["checksum"]
    assert len(a.checksum) == 64
    c0 = next(c for c in a.changes if c.action == "update" and c.derivations)
    i0 = a.changes.index(c0)
    f0 = c0.fields[0]

    def with_change(c: object) -> Plan:
        return replace(a, changes=(*a.changes[:i0], c, *a.changes[i0 + 1 :]))  # type: ignore[arg-type]

    new0 = copy.deepcopy(f0.new) or []
    new0[0]["marketplace_id"] = "changed"
    old0 = copy.deepcopy(f0.old) or []
    old0[0]["marketplace_id"] = "changed"
    writes_differ = [
        replace(a, changes=a.changes[1:]),
        with_change(replace(c0, fields=(f0._replace(new=new0), *c0.fields[1:]))),
        with_change(replace(c0, fields=c0.fields[1:])),
        with_change(replace(c0, action="create")),
        with_change(replace(c0, product_type="OTHER")),
        with_change(replace(c0, mli=not c0.mli)),
        with_change(replace(c0, key=c0.key._replace(sku="OTHER-1"))),
    ]
    sums = {v.checksum for v in writes_differ}
    assert a.checksum not in sums and len(sums) == len(writes_differ)
    same_writes = [
        with_change(replace(c0, fields=(f0._replace(old=old0), *c0.fields[1:]))),
        with_change(replace(c0, fingerprint="x")),
        with_change(replace(c0, derivations=())),
        replace(a, unchanged=a.unchanged + 1),
        replace(a, held=()),
        replace(a, safety=("something",)),
        replace(a, strategy=None),
        replace(a, fingerprints={k: "moved" for k in a.fingerprints}),
    ]
    assert {v.checksum for v in same_writes} == {a.checksum}


def test_checksum_hashes_the_intent() -> None:
    """The fast checksum path (no ``to_plain`` copy, Decimals written by the encoder, streamed)
    hashes the very bytes of ``json.dumps(plan.intent())``; a saved plan whose request or old
    values were edited still loads (apply rebuilds every request from the fields and re-plans
    the old values), one whose writes were edited does not."""
    import hashlib

    plan = build_plan(*sample())  # type: ignore[arg-type]
    intent = plan.intent()
    assert set(intent) == {"intent", "writes"} and len(intent["writes"]) == len(plan.changes)
    text = json.dumps(intent, sort_keys=True, separators=(",", ":"))
    assert hashlib.sha256(text.encode()).hexdigest() == plan.checksum
    assert "old" not in text and "fingerprint" not in text and "derivations" not in text
    delete = next(w for w in intent["writes"] if w["action"] == "delete")
    assert set(delete) == {"account", "sku", "marketplace_id", "action"}
    data = plan.data()
    edited = copy.deepcopy(data)
    edited["changes"][0]["request"] = {"method": "DELETE"}
    edited["changes"][0]["fields"][0]["old"] = None
    assert Plan.from_data(edited).checksum == plan.checksum
    # an empty plan too
    empty = Plan(changes=())
    text = json.dumps(empty.intent(), sort_keys=True, separators=(",", ":"))
    assert hashlib.sha256(text.encode()).hexdigest() == empty.checksum


def test_from_data_round_trips() -> None:
    plan = build_plan(*sample())  # type: ignore[arg-type]
    data = json.loads(json.dumps(plan.data()))  # through real JSON text
    back = Plan.from_data(data)
    assert back == plan
    assert back.checksum == plan.checksum
    update = next(c for c in back.changes if c.marketplace == "CA" and c.action == "update")
    price = next(f for f in update.fields if f.attribute == "purchasable_offer")
    assert price.new is not None
    assert price.new[0]["our_price"][0]["schedule"][0]["value_with_tax"] == Decimal("21.99")
    assert isinstance(update.derivations[0].rate, Decimal)


def test_from_data_rejects_unknown_format_version_and_tampering() -> None:
    data = build_plan(*sample()).data()  # type: ignore[arg-type]
    with pytest.raises(PlanError, match="format_version"):
        Plan.from_data({**data, "format_version": FORMAT_VERSION + 1})
    tampered = copy.deepcopy(data)
    tampered["changes"][0]["fields"][0]["new"][0]["quantity"] = 12345
    with pytest.raises(PlanError, match="checksum"):
        Plan.from_data(tampered)
    with pytest.raises(PlanError, match="malformed"):
        Plan.from_data({"format_version": FORMAT_VERSION, "changes": [{}]})


def test_empty_plan() -> None:
    d = desired("MUG-001", CA)
    plan = build_plan(state(d), {d.key: live_of(d, CA)})
    assert (
        not plan.has_changes and plan.unchanged == 1 and plan.strategy is None and plan.safety == ()
    )


# --------------------------------------------------------------------------- safety


def _prices_plan(n: int, changed: int, safety: Safety) -> Plan:
    listings, live = [], {}
    for i in range(n):
        d = desired(f"SKU-{i:03}", CA, price="10.00")
        listings.append(d)
        live[d.key] = live_of(
            desired(f"SKU-{i:03}", CA, price="10.00" if i >= changed else "9.50"), CA
        )
    return build_plan(state(*listings, safety=safety), live)


def test_update_share_names_the_setting() -> None:
    plan = _prices_plan(12, 5, Safety(max_update_share=Decimal("0.3"), min_listings_for_share=10))
    assert plan.safety == (
        "5 of 12 listings would be updated (41.67%), over "
        "safety.max_update_share = 30% in reconciler.yaml",
    )
    assert _prices_plan(12, 3, Safety(max_update_share=Decimal("0.3"))).safety == ()
    # below min_listings_for_share the share rule does not apply
    assert (
        _prices_plan(
            9, 9, Safety(max_update_share=Decimal("0.3"), min_listings_for_share=10)
        ).safety
        == ()
    )


def test_price_move_names_the_setting() -> None:
    d = desired("MUG-001", CA, price="29.99")
    plan = build_plan(state(d), {d.key: live_of(desired("MUG-001", CA, price="19.99"), CA)})
    assert plan.safety == (
        "MUG-001 (CA): price 19.99 -> 29.99 CAD moves +50.03%, over "
        "safety.max_price_change_pct = 30",
    )
    lenient = build_plan(
        state(d, safety=Safety(max_price_change_pct=Decimal("60"))),
        {d.key: live_of(desired("MUG-001", CA, price="19.99"), CA)},
    )
    assert lenient.safety == ()
    down = build_plan(state(desired("MUG-001", CA, price="9.99")), {d.key: live_of(d, CA)})
    assert down.safety == (
        "MUG-001 (CA): price 29.99 -> 9.99 CAD moves -66.69%, over "
        "safety.max_price_change_pct = 30",
    )


def test_delete_needs_allow_deletes() -> None:
    d = desired("OLD-001", CA, state="absent")
    live = {d.key: live_of(desired("OLD-001", CA), CA)}
    (msg,) = build_plan(state(d), live).safety
    assert (
        msg == "1 listing would be deleted (OLD-001 (CA)), and safety.allow_deletes = "
        "false in reconciler.yaml"
    )
    assert build_plan(state(d, safety=Safety(allow_deletes=True)), live).safety == ()


def test_dangerous_rules_have_no_setting() -> None:
    bad = desired("MUG-001", US)
    fa = [dict(e) for e in bad.attributes["fulfillment_availability"]]
    for e in fa:
        if e["fulfillment_channel_code"] == "DEFAULT":
            e["quantity"] = 4
    bad = replace(bad, attributes={**bad.attributes, "fulfillment_availability": fa})
    (msg,) = build_plan(state(bad), {bad.key: None}).safety
    assert msg.startswith(
        "MUG-001 (US): DEFAULT quantity 4 on a Multi-Location Inventory marketplace"
    )
    assert "no setting" in msg and "--force" in msg

    guarded = desired("MUG-001", CA, price="4.99", price_min="5.00", price_max="50.00")
    (msg,) = build_plan(state(guarded), {guarded.key: None}).safety
    assert msg.startswith("MUG-001 (CA): price 4.99 CAD is below its guard price_min 5.00")
    over = desired("MUG-001", CA, price="60.00", price_min="5.00", price_max="50.00")
    (msg,) = build_plan(state(over), {over.key: None}).safety
    assert "above its guard price_max 50.00" in msg


def test_check_safety_is_callable_on_a_saved_plan() -> None:
    desired_state, live = sample()
    plan = build_plan(desired_state, live)  # type: ignore[arg-type]
    strict = replace(desired_state, safety=Safety())  # type: ignore[type-var]
    reasons = check_safety(Plan.from_data(plan.data()), strict)  # type: ignore[arg-type]
    assert any("safety.allow_deletes" in r for r in reasons)


def test_explicit_strategy_is_kept() -> None:
    desired_state, live = sample()
    s = StrategyEstimate("feed", 10.0, 5.0, 1, 5)
    assert build_plan(desired_state, live, strategy=s).strategy == s  # type: ignore[arg-type]


def test_checksum_is_stable_across_processes_and_hash_seeds() -> None:
    import os
    import subprocess
    import sys

    code = (
        "from tests.test_plan import sample; from reconciler.plan.builder import build_plan; "
        "print(build_plan(*sample()).checksum)"
    )
    root = Path(__file__).resolve().parent.parent
    sums = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("0", "1", "12345")
    }
    assert sums == {build_plan(*sample()).checksum}  # type: ignore[arg-type]


def test_round_trip_keeps_a_non_numeric_live_price() -> None:
    d = desired("MUG-001", CA)
    live = live_of(d, CA)
    live.attributes["purchasable_offer"][0]["our_price"] = [
        {"schedule": [{"value_with_tax": "n/a"}]}
    ]
    plan = build_plan(state(d), {d.key: live})
    assert plan.has_changes
    assert Plan.from_data(json.loads(json.dumps(plan.data()))) == plan


def test_remote_issues_round_trip_outside_the_checksum() -> None:
    from reconciler.kernel.model import Issue

    plan = build_plan(*sample())  # type: ignore[arg-type]
    k = plan.changes[0].key
    issue = Issue("90220", "'brand' is required but not supplied.", "ERROR", ("brand",))
    validated = replace(plan, remote_issues={k: (issue,)}, validated=4)
    assert validated.checksum == plan.checksum  # Amazon's opinion is not part of the plan
    data = json.loads(json.dumps(validated.data()))
    assert data["remote_validation"]["validated"] == 4
    back = Plan.from_data(data)
    assert back == validated and back.remote_issues[k] == (issue,)
    assert "remote_validation" not in plan.data()
