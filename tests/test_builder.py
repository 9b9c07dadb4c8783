"""plan.builder and plan.projection beyond tests/test_plan.py's end-to-end cases.

Targeting keeps scanning past listings it skips and reads ``GB`` as ``UK``; a listing of an
account the catalog does not list still gets its marketplace code; ``known`` fingerprints skip
the diff only for present listings without held texts; every fingerprint is the hash of the
managed projection; the strategy counts one feed a marketplace; the write counts per region;
the projection keeps live values whose shape differs from the desired one.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from decimal import Decimal

from reconciler.kernel.model import Account, LiveListing, MarketplaceConfig, canonical_json
from reconciler.plan.builder import (
    PlanBuilder,
    build_plan,
    write_counts,
    write_counts_per_marketplace,
)
from reconciler.plan.projection import (
    ABSENT,
    fingerprint,
    managed_projection,
    projection_fingerprint,
)
from tests.core_builders import ACCOUNT, CA, MX, US, desired, key, live_of, state

UK = MarketplaceConfig("UK", "A1F83G8C2ARO7P", "GBP", "en_GB")
EU_ACCOUNT = Account("eu", "A3SELLER", "EU", "emulator", (UK,))


def test_targeting_a_sku_scans_past_the_skus_before_it() -> None:
    listings = [desired(s, CA) for s in ("AAA-001", "MUG-001", "ZZZ-001")]
    plan = build_plan(state(*listings), {}, skus=["ZZZ-001"])
    assert [c.key.sku for c in plan.changes] == ["ZZZ-001"]
    assert list(plan.fingerprints) == [key("ZZZ-001", CA)]


def test_gb_targets_the_uk_marketplace() -> None:
    d = desired("MUG-001", UK, account="eu")
    s = state(d, accounts=(ACCOUNT, EU_ACCOUNT))
    for spelling in ("GB", "gb", "UK", UK.marketplace_id):
        plan = build_plan(s, {d.key: None}, marketplaces=[spelling])
        assert [c.name for c in plan.changes] == ["MUG-001 (UK)"], spelling
    assert build_plan(s, {d.key: None}, marketplaces=["DE"]).changes == ()


def test_a_listing_of_an_unlisted_account_is_named_by_the_marketplace_table() -> None:
    d = desired("MUG-001", CA, account="ghost")
    (change,) = build_plan(state(d), {d.key: None}).changes
    assert change.marketplace == "CA" and change.name == "MUG-001 (CA)"
    odd = MarketplaceConfig("ZZ", "NOT-A-MARKETPLACE", "USD", "en_US")
    d = desired("MUG-001", odd, account="ghost")
    (change,) = build_plan(state(d), {d.key: None}).changes
    assert change.marketplace == "NOT-A-MARKETPLACE"


def test_known_listings_are_unchanged_without_a_diff() -> None:
    moved = desired("MUG-001", CA, price="29.99")  # its live price differs
    other = desired("MUG-002", CA, price="29.99")
    held = desired("MUG-003", MX, held=True, price="399.00")
    gone = desired("OLD-001", CA, state="absent")
    live: dict[object, LiveListing | None] = {
        d.key: live_of(desired(d.key.sku, mp, price=p), mp)
        for d, mp, p in ((moved, CA, "19.99"), (other, CA, "19.99"), (held, MX, "379.00"),
                         (gone, CA, "19.99"))
    }
    known = {moved.key: "fp-before", held.key: "fp-held", gone.key: "fp-gone"}
    plan = build_plan(state(moved, other, held, gone), live, known=known)  # type: ignore[arg-type]
    assert plan.fingerprints[moved.key] == "fp-before"  # trusted, not diffed
    assert [(c.key.sku, c.action) for c in plan.changes] == [
        ("MUG-002", "update"), ("MUG-003", "update"), ("OLD-001", "delete")
    ]  # not known, held texts, absent: all still compared
    assert [h.key for h in plan.held] == [held.key]
    assert plan.fingerprints[held.key] != "fp-held"
    assert plan.unchanged == 1


def test_every_fingerprint_hashes_the_managed_projection() -> None:
    d = desired("MUG-001", CA, price="29.99")
    new = desired("NEW-001", CA)
    live = live_of(desired("MUG-001", CA, price="19.99"), CA)
    plan = build_plan(state(d, new), {d.key: live, new.key: None})
    assert plan.fingerprints[d.key] == fingerprint(d, live)
    assert plan.fingerprints[d.key] == projection_fingerprint(managed_projection(d, live))
    assert plan.fingerprints[new.key] == ABSENT
    assert plan.changes[0].fingerprint == fingerprint(d, live)


def test_fingerprint_is_the_sha256_of_the_canonical_projection() -> None:
    projected = {"item_name": [{"value": "Mug", "marketplace_id": "M"}]}
    text = canonical_json({"exists": True, "attributes": projected})
    assert text == (
        '{"attributes":{"item_name":[{"marketplace_id":"M","value":"Mug"}]},"exists":true}'
    )
    assert projection_fingerprint(projected) == hashlib.sha256(text.encode()).hexdigest()


def test_the_strategy_counts_one_feed_a_marketplace() -> None:
    listings = [desired("MUG-001", mp) for mp in (US, CA, MX)]
    plan = build_plan(state(*listings), {})
    assert plan.strategy is not None
    assert (plan.strategy.listings, plan.strategy.feeds) == (3, 3)


def test_write_counts_per_region_and_marketplace() -> None:
    listings = [desired("MUG-001", US), desired("MUG-001", CA), desired("MUG-002", CA),
                desired("MUG-001", UK, account="eu")]
    s = state(*listings, accounts=(ACCOUNT, EU_ACCOUNT))
    plan = build_plan(s, {})
    assert write_counts(plan, s) == {("eu", "EU"): 1, ("main", "NA"): 3}
    # sorted by marketplace id: CA (A2EU...) before US (ATVP...)
    assert write_counts_per_marketplace(plan, s) == {("eu", "EU"): [1], ("main", "NA"): [2, 1]}


def test_the_projection_keeps_live_values_of_another_shape() -> None:
    d = desired("MUG-001", CA, price="19.99")
    item_live = live_of(d, CA, quirks=False)
    offer = dict(item_live.attributes["purchasable_offer"][0])
    offer["our_price"] = ["n/a"]  # a list item that is not a dict where desired has a dict
    weird = LiveListing(d.key, "PRODUCT", {**item_live.attributes, "purchasable_offer": [offer]})
    assert managed_projection(d, weird)["purchasable_offer"][0]["our_price"] == ["n/a"]
    lp = [{"marketplace_id": CA.marketplace_id, "currency": "CAD", "value": Decimal("9.00")}]
    with_lp = replace(d, attributes={**d.attributes, "list_price": lp})
    live_lp = [{"marketplace_id": CA.marketplace_id, "currency": "CAD",
                "value": {"amount": 9}}]  # a dict where desired has a number
    live = LiveListing(d.key, "PRODUCT", {**item_live.attributes, "list_price": live_lp})
    assert managed_projection(with_lp, live)["list_price"] == live_lp


def test_the_builder_ignores_untargeted_keys_and_keeps_the_first_result() -> None:
    d = desired("MUG-001", CA, price="29.99")
    b = PlanBuilder(state(d))
    b.add(key("OTHER", CA), None)
    b.add(d.key, live_of(d, CA))
    b.add(d.key, None)  # a second read of the same key is ignored
    plan = b.finish({})
    assert plan.changes == () and plan.unchanged == 1


def test_the_projection_cuts_nested_fields_to_what_desired_declares() -> None:
    d = desired("MUG-001", CA, price="19.99")
    base = live_of(d, CA, quirks=False)
    (offer,) = base.attributes["purchasable_offer"]
    schedule = {"value_with_tax": Decimal("19.99"), "start_at": "2026-01-01"}  # not declared
    nested = {**offer, "our_price": [{"schedule": [schedule], "note": "x"}]}
    live = LiveListing(d.key, "PRODUCT", {**base.attributes, "purchasable_offer": [nested]})
    assert managed_projection(d, live) == d.attributes
    assert fingerprint(d, live) == fingerprint(d, base)
    plan = build_plan(state(d), {d.key: live})
    assert plan.changes == () and plan.unchanged == 1
