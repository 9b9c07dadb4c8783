"""A reviewed plan survives sales (issue 12 item 3, must-show 4), end to end in-process (CliRunner,
the embedded emulator seeded with a catalog of 5 SKUs on US (MLI) and CA, two of them drifted):

- plan -> save -> a sale on a listing the plan writes (on a reviewed field, and on a field it
  does not write) and on one it doesn't -> `apply --plan` applies the reviewed writes, converges,
  reports the new drift as left for the next plan, exit 0; the next plan is exactly that drift;
- a catalog edit to a reviewed value -> refusal naming that listing and field only, nothing
  written; a reviewed update whose listing vanished -> refusal naming it;
- `--checksum`: the intent's checksum survives a sale on a reviewed field; any other intent, a
  mistyped or an unknown checksum refuses, naming no listing;
- the audit line records the reviewed checksum and how many writes were left.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.emulator.app import Emulator
from reconciler.emulator.state import EmulatorConfig
from reconciler.kernel import redact
from reconciler.spapi import connect
from reconciler.spapi.connect import close_embedded_emulators
from tests import applyutil as au

WRITES = {"patchListingsItem", "putListingsItem", "deleteListingsItem", "createFeed"}


@pytest.fixture()
def setup(tmp_path: Path, isolated_state: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Live equals the catalog except GEN-0001 (CA)'s price and GEN-0002 (US)'s store-a
    quantity: the plan writes exactly those two fields."""
    from reconciler.pipeline import load

    catalog = tmp_path / "catalog"
    audit_log = tmp_path / "audit.jsonl"
    au.write_catalog(catalog, 5, audit_log=str(audit_log), verify_timeout=20, verify_interval=0.05)
    desired = load(catalog)
    seed = au.exact_seed(desired)
    rows = {(r["sku"], r["marketplaceId"]): r for r in seed["sellers"][au.SELLER]["listings"]}
    offer = rows[("GEN-0001", au.CA.marketplace_id)]["attributes"]["purchasable_offer"][0]
    offer["our_price"][0]["schedule"][0]["value_with_tax"] += 2
    fa = rows[("GEN-0002", au.US.marketplace_id)]["attributes"]["fulfillment_availability"]
    next(e for e in fa if e["fulfillment_channel_code"] == au.LOC_A)["quantity"] += 3
    isolated_state.mkdir(parents=True, exist_ok=True)
    # write_delay_s=0: these tests are about what a review approves, not about Amazon time
    emu = Emulator(
        str(isolated_state / "emulator.db"), EmulatorConfig(time_scale=20.0, write_delay_s=0.0)
    )
    emu.seed(seed)
    monkeypatch.setitem(connect._emulators, os.path.realpath(isolated_state), emu)
    monkeypatch.chdir(tmp_path)
    yield {"catalog": catalog, "audit": audit_log, "state": isolated_state, "emu": emu}
    close_embedded_emulators()
    redact.clear()


def _run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _plan(setup: dict[str, Any], out: Path) -> dict[str, Any]:
    r = _run("plan", str(setup["catalog"]), "--format", "json", "--out", str(out))
    assert r.exit_code == 0, r.output
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def _writes(data: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(sku, marketplace code, field label) of every write of a JSON plan."""
    out = set()
    for c in data["changes"]:
        for f in c["fields"]:
            sel = " ".join(v for k, v in f["selector"] if k != "marketplace_id")
            out.add((c["sku"], c["marketplace"], f"{f['attribute']} ({sel})"))
    return out


def _sell(emu: Emulator, sku: str, mp: str, channel: str, n: int = 1) -> None:
    """A sale: Amazon lowers the listing's quantity on one channel."""
    st = emu.listing_state(au.SELLER, sku, mp)
    assert st is not None
    attrs = st["attributes"]
    entry = next(e for e in attrs["fulfillment_availability"]
                 if e["fulfillment_channel_code"] == channel)
    entry["quantity"] = int(entry["quantity"]) - n
    emu.put_listing_direct(au.SELLER, sku, mp, st["productType"], attrs)


def _quantity(emu: Emulator, sku: str, mp: str, channel: str) -> int:
    st = emu.listing_state(au.SELLER, sku, mp)
    assert st is not None
    return int(next(e["quantity"] for e in st["attributes"]["fulfillment_availability"]
                    if e["fulfillment_channel_code"] == channel))


def _price(emu: Emulator, sku: str, mp: str) -> float:
    st = emu.listing_state(au.SELLER, sku, mp)
    assert st is not None
    return float(st["attributes"]["purchasable_offer"][0]["our_price"][0]["schedule"][0]
                 ["value_with_tax"])


REVIEWED = {
    ("GEN-0001", "CA", "purchasable_offer (CAD ALL)"),
    ("GEN-0002", "US", f"fulfillment_availability ({au.LOC_A})"),
}


def test_reviewed_plan_survives_sales(setup: dict[str, Any], tmp_path: Path) -> None:
    """Must-show 4, first half."""
    emu: Emulator = setup["emu"]
    plan_file = tmp_path / "plan.json"
    reviewed = _plan(setup, plan_file)
    assert _writes(reviewed) == REVIEWED
    want_price = _price(emu, "GEN-0001", au.CA.marketplace_id) - 2
    want_qty = _quantity(emu, "GEN-0002", au.US.marketplace_id, au.LOC_A) - 3
    # sales between the review and the merge:
    _sell(emu, "GEN-0002", au.US.marketplace_id, au.LOC_A)  # a reviewed field moved live
    _sell(emu, "GEN-0001", au.CA.marketplace_id, "DEFAULT")  # a written listing, another field
    _sell(emu, "GEN-0003", au.CA.marketplace_id, "DEFAULT", 2)  # a listing the plan doesn't write
    sold_1 = _quantity(emu, "GEN-0001", au.CA.marketplace_id, "DEFAULT")
    sold_3 = _quantity(emu, "GEN-0003", au.CA.marketplace_id, "DEFAULT")
    emu.reset_calls()

    r = _run("apply", str(setup["catalog"]), "--plan", str(plan_file), "--auto-approve",
             "--strategy", "patch")

    assert r.exit_code == 0, r.output
    assert "applied 2 listings via patch: 2 converged, 0 pending, 0 rejected" in r.output
    assert "2 write(s) appeared since the review and were not applied" in r.output
    assert "left for the next plan" in r.output
    left = [line for line in r.output.splitlines() if line.startswith("  - ")]
    assert len(left) == 2
    assert any(line.startswith("  - GEN-0001 (CA) fulfillment_availability (DEFAULT)")
               for line in left)
    assert any(line.startswith("  - GEN-0003 (CA) fulfillment_availability (DEFAULT)")
               for line in left)
    # the reviewed writes landed, with the reviewed values; the new drift was not touched
    assert _price(emu, "GEN-0001", au.CA.marketplace_id) == pytest.approx(want_price)
    assert _quantity(emu, "GEN-0002", au.US.marketplace_id, au.LOC_A) == want_qty
    assert _quantity(emu, "GEN-0001", au.CA.marketplace_id, "DEFAULT") == sold_1
    assert _quantity(emu, "GEN-0003", au.CA.marketplace_id, "DEFAULT") == sold_3
    written = {c.path.rsplit("/", 1)[-1].split("?")[0] for c in emu.calls("patchListingsItem")}
    assert written == {"GEN-0001", "GEN-0002"}
    # the audit line records what was reviewed and what was left
    (rec,) = [json.loads(x) for x in setup["audit"].read_text().splitlines()]
    assert rec["reviewed_checksum"] == reviewed["checksum"]
    assert rec["left_for_next_plan"] == 2 and rec["converged"] is True
    # the next plan is exactly the drift left behind
    after = _plan(setup, tmp_path / "after.json")
    assert _writes(after) == {
        ("GEN-0001", "CA", "fulfillment_availability (DEFAULT)"),
        ("GEN-0003", "CA", "fulfillment_availability (DEFAULT)"),
    }


def test_catalog_edit_to_a_reviewed_value_refuses_naming_only_it(
    setup: dict[str, Any], tmp_path: Path
) -> None:
    """Must-show 4, second half."""
    emu: Emulator = setup["emu"]
    plan_file = tmp_path / "plan.json"
    assert _writes(_plan(setup, plan_file)) == REVIEWED
    _sell(emu, "GEN-0003", au.CA.marketplace_id, "DEFAULT")  # drift elsewhere: not a reason
    skus = setup["catalog"] / "skus" / "generated.yaml"
    text = skus.read_text()
    assert "base_price: 11\n" in text  # GEN-0001
    skus.write_text(text.replace("base_price: 11\n", "base_price: 12\n", 1))
    emu.reset_calls()

    r = _run("apply", str(setup["catalog"]), "--plan", str(plan_file), "--auto-approve")

    assert r.exit_code == 1
    assert "the reviewed plan no longer holds for 1 write(s)" in r.output
    named = [line for line in r.output.splitlines() if line.startswith("  - ")]
    assert len(named) == 1, r.output
    assert named[0].startswith("  - GEN-0001 (CA) purchasable_offer (CAD ALL): the catalog now "
                               "wants ")
    assert "(reviewed: " in named[0]
    assert "Traceback" not in r.output
    assert not [c for c in emu.calls() if c.operation in WRITES]
    assert not setup["audit"].exists()


def test_vanished_listing_refuses_naming_it(setup: dict[str, Any], tmp_path: Path) -> None:
    emu: Emulator = setup["emu"]
    plan_file = tmp_path / "plan.json"
    _plan(setup, plan_file)
    cl = au.client(emu)
    try:
        cl.delete_listings_item("GEN-0002", [au.US.marketplace_id])
    finally:
        cl.close()
    emu.reset_calls()
    r = _run("apply", str(setup["catalog"]), "--plan", str(plan_file), "--auto-approve")
    assert r.exit_code == 1
    named = [line for line in r.output.splitlines() if line.startswith("  - ")]
    assert named == ["  - GEN-0002 (US): no longer on Amazon (reviewed: update; it would now be "
                     "created)"]
    assert not [c for c in emu.calls() if c.operation in WRITES]


def test_checksum_survives_a_sale_on_a_reviewed_field(
    setup: dict[str, Any], tmp_path: Path
) -> None:
    emu: Emulator = setup["emu"]
    reviewed = _plan(setup, tmp_path / "plan.json")
    _sell(emu, "GEN-0002", au.US.marketplace_id, au.LOC_A, 2)  # the write sets it anyway
    r = _run("apply", str(setup["catalog"]), "--checksum", reviewed["checksum"], "--auto-approve")
    assert r.exit_code == 0, r.output
    assert "2 converged" in r.output and "left for the next plan" not in r.output


@pytest.mark.parametrize(
    ("checksum", "says"),
    [
        ("0" * 64, "is not the checksum of today's plan"),  # unknown
        ("abc123", "is not a plan checksum"),  # mistyped
        ("g" * 64, "is not a plan checksum"),
    ],
)
def test_unknown_or_mistyped_checksum_names_nothing(
    setup: dict[str, Any], checksum: str, says: str
) -> None:
    emu: Emulator = setup["emu"]
    emu.reset_calls()
    r = _run("apply", str(setup["catalog"]), "--checksum", checksum, "--auto-approve")
    assert r.exit_code == 1
    assert says in r.output
    assert "GEN-" not in r.output and "  - " not in r.output  # no listing named as moved
    assert "moved" not in r.output and "live state changed" not in r.output
    assert not [c for c in emu.calls() if c.operation in WRITES]


def test_checksum_of_another_intent_refuses_naming_nothing(
    setup: dict[str, Any], tmp_path: Path
) -> None:
    emu: Emulator = setup["emu"]
    reviewed = _plan(setup, tmp_path / "plan.json")
    _sell(emu, "GEN-0003", au.CA.marketplace_id, "DEFAULT")  # a new write: another intent
    r = _run("apply", str(setup["catalog"]), "--checksum", reviewed["checksum"], "--auto-approve")
    assert r.exit_code == 1
    assert "is not the checksum of today's plan" in r.output and "--plan FILE" in r.output
    assert "GEN-" not in r.output


# --------------------------------------------------------------------------- the rule, pure
# plan.reviewed.reconcile on hand-built desired and live states (tests/core_builders.py).


def _pure() -> tuple[Any, Any]:
    from tests.core_builders import CA, US, desired, key, live_of, state

    listings = [
        desired("MUG-001", CA, price="21.99"),  # price write
        desired("MUG-002", US, qty={"353e4e48-6301-4d50-990e-43a86e8787a3": 10,
                                    "8e07a0c9-ab0a-4108-9f16-83dc3496bee0": 5}),
        desired("NEW-001", CA, title="New"),  # create
        desired("OLD-001", CA, state="absent"),  # delete
    ]
    live = {
        key("MUG-001", CA): live_of(desired("MUG-001", CA, price="19.99"), CA),
        key("MUG-002", US): live_of(desired("MUG-002", US, qty={
            "353e4e48-6301-4d50-990e-43a86e8787a3": 8,
            "8e07a0c9-ab0a-4108-9f16-83dc3496bee0": 5}), US),
        key("NEW-001", CA): None,
        key("OLD-001", CA): live_of(desired("OLD-001", CA), CA),
    }
    from reconciler.kernel.model import Safety
    return state(*listings, safety=Safety(allow_deletes=True)), live


def _names(plan: Any) -> dict[str, tuple[str, ...]]:
    return {c.name: (c.action, *(f.attribute for f in c.fields)) for c in plan.changes}


def test_pure_unchanged_intent_applies_todays_plan_whole() -> None:
    from reconciler.plan.builder import build_plan
    from reconciler.plan.reviewed import reconcile

    d, live = _pure()
    reviewed = build_plan(d, live)
    rec = reconcile(reviewed, build_plan(d, live), d)
    assert rec.plan == reviewed and rec.moved == () and rec.left == ()


def test_pure_live_moves_keep_the_reviewed_writes_and_leave_new_drift() -> None:
    from dataclasses import replace

    from reconciler.plan.builder import build_plan
    from reconciler.plan.reviewed import reconcile
    from tests.core_builders import CA, desired, key, live_of

    d, live = _pure()
    reviewed = build_plan(d, live)
    assert _names(reviewed) == {
        "MUG-001 (CA)": ("update", "purchasable_offer"),
        "MUG-002 (US)": ("update", "fulfillment_availability"),
        "NEW-001 (CA)": ("create", "fulfillment_availability", "item_name", "purchasable_offer"),
        "OLD-001 (CA)": ("delete",),
    }
    moved = dict(live)
    # MUG-001 (CA): a sale moves its quantity (not written by the plan)
    m1 = live_of(desired("MUG-001", CA, price="19.99", qty=6), CA)
    moved[key("MUG-001", CA)] = m1
    # NEW-001 (CA) was created in Seller Central meanwhile, with the right price only
    moved[key("NEW-001", CA)] = live_of(desired("NEW-001", CA, title="Other", qty=1), CA)
    # OLD-001 (CA) is already gone
    moved[key("OLD-001", CA)] = None
    # MUG-003 (CA): a listing nobody reviewed drifts (the catalog declares it)
    m3 = desired("MUG-003", CA)
    d = replace(d, listings=tuple(sorted((*d.listings, m3), key=lambda x: x.key)))
    moved[m3.key] = live_of(desired("MUG-003", CA, qty=2), CA)

    rec = reconcile(reviewed, build_plan(d, moved), d)

    assert rec.moved == ()
    assert _names(rec.plan) == {
        "MUG-001 (CA)": ("update", "purchasable_offer"),  # the reviewed write only
        "MUG-002 (US)": ("update", "fulfillment_availability"),
        "NEW-001 (CA)": ("update", "fulfillment_availability", "item_name"),  # as reviewed
    }
    assert [x.split(":")[0] for x in rec.left] == [
        "MUG-001 (CA) fulfillment_availability (DEFAULT)",
        "MUG-003 (CA) fulfillment_availability (DEFAULT)",
    ]
    assert rec.plan.strategy is not None and rec.plan.strategy.listings == 3


def test_pure_moved_writes_are_named_with_their_field() -> None:
    from dataclasses import replace

    from reconciler.plan.builder import build_plan
    from reconciler.plan.reviewed import reconcile
    from tests.core_builders import CA, US, desired, key, state

    d, live = _pure()
    reviewed = build_plan(d, live)
    by = {x.key: x for x in d.listings}
    changed = dict(by)
    changed[key("MUG-001", CA)] = desired("MUG-001", CA, price="22.99")  # another price
    changed[key("OLD-001", CA)] = desired("OLD-001", CA)  # no longer deleted
    changed[key("NEW-001", CA)] = replace(
        desired("NEW-001", CA, title="New"), product_type="MUG")  # another product type
    del changed[key("MUG-002", US)]  # removed from the catalog
    d2 = state(*changed.values(), safety=d.safety)

    rec = reconcile(reviewed, build_plan(d2, live), d2)

    assert sorted(rec.moved) == [
        "MUG-001 (CA) purchasable_offer (CAD ALL): the catalog now wants 22.99 CAD "
        "(reviewed: 21.99 CAD)",
        "MUG-002 (US): no longer in the catalog (reviewed: update)",
        "NEW-001 (CA) product type: the catalog now says MUG (reviewed: PRODUCT)",
        "OLD-001 (CA): the catalog no longer deletes it",
    ]


def test_pure_targeting_leaves_reviewed_writes_outside_it_alone() -> None:
    from reconciler.plan.builder import build_plan
    from reconciler.plan.reviewed import reconcile

    d, live = _pure()
    reviewed = build_plan(d, live)
    today = build_plan(d, live, marketplaces=["US"])
    rec = reconcile(reviewed, today, d, marketplaces=["US"])
    assert rec.moved == () and rec.left == () and rec.outside == 3
    assert _names(rec.plan) == {"MUG-002 (US)": ("update", "fulfillment_availability")}


def test_refusal_names_at_most_a_hundred_writes_and_counts_the_rest() -> None:
    from reconciler.kernel.errors import StalePlanError

    moved = [f"SKU-{i} (CA) purchasable_offer (CAD ALL): x" for i in range(130)]
    lines = StalePlanError(moved).lines()
    assert lines[0].startswith("the reviewed plan no longer holds for 130 write(s)")
    assert len([x for x in lines if x.startswith("  - ")]) == 100
    assert "  … and 30 more" in lines
