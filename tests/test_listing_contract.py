"""Issue 14's must-shows 1-4 end to end: listings Amazon accepts.

1. A create lacking a required attribute is refused by `reconciler validate` (file:line, Amazon's
   wording, no API call); the same request sent to the emulator is INVALID with the same code.
2. The sample's creates converge against the strict emulator; `plan --validate-remote` reports
   every write VALID.
3. UK list price: apply, then the plan is empty; the emulator refuses `value` where the UK
   definition asks for `value_with_tax`.
4. A sale price with a schedule, a business price with two tiers and min/max allowed prices
   converge and plan empty; `clear` sends the delete and converges; dropping a line without
   `clear` leaves Amazon's value alone.
"""

from __future__ import annotations

import json
import os
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from reconciler.catalog.desired import build
from reconciler.catalog.loader import load
from reconciler.cli import main
from reconciler.emulator import auth
from reconciler.emulator.app import Emulator, EmulatorConfig
from reconciler.emulator.demo import demo_seed
from reconciler.kernel.marketplaces import MARKETPLACES
from reconciler.plan.change import Change
from reconciler.plan.diff import diff_listing
from reconciler.plan.patches import listing_request
from reconciler.plan.projection import ABSENT
from reconciler.spapi import connect
from reconciler.spapi.connect import close_embedded_emulators

SAMPLE = Path(__file__).resolve().parent.parent / "catalog"
NA = "A1PP0FEH11RW77"
EU = "A2EXAMPLEEU001"
US = MARKETPLACES["US"].marketplace_id
CA = MARKETPLACES["CA"].marketplace_id
UK = MARKETPLACES["UK"].marketplace_id


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture()
def cat(tmp_path: Path) -> Path:
    c = tmp_path / "catalog"
    shutil.copytree(SAMPLE, c)
    return c


@pytest.fixture()
def emu(isolated_state: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The embedded emulator of the test's state dir, seeded like `reconciler demo`."""
    isolated_state.mkdir(parents=True, exist_ok=True)
    # at the embedded emulator's time scale, as `reconciler apply` would open it, and without
    # Amazon's write visibility delay (2 s of wall per apply at that scale): nothing here tests
    # time, only what is written and that it converges
    e = Emulator(str(isolated_state / "emulator.db"),
                 EmulatorConfig(time_scale=connect.EMBEDDED_TIME_SCALE, write_delay_s=0.0))
    e.seed(demo_seed())
    monkeypatch.setitem(connect._emulators, os.path.realpath(isolated_state), e)
    yield e
    close_embedded_emulators()


def replace_lines(path: Path, first: str, count: int, new: str) -> None:
    """Replace the line starting with ``first`` and the ``count - 1`` lines after it."""
    lines = path.read_text("utf-8").splitlines(keepends=True)
    i = next(n for n, t in enumerate(lines) if t.startswith(first))
    path.write_text("".join([*lines[:i], new, *lines[i + count:]]), "utf-8")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), "utf-8")


def test_1_create_without_a_required_attribute(cat: Path, isolated_state: Path) -> None:
    kitchen = cat / "skus" / "kitchen.yaml"
    edit(kitchen, "attributes: {condition_type: new_new, merchant_suggested_asin: B0C7SPNWD5}",
         "attributes: {merchant_suggested_asin: B0C7SPNWD5}")
    r = run("validate", str(cat))
    assert r.exit_code == 1
    line = next(i for i, t in enumerate(kitchen.read_text("utf-8").splitlines(), 1)
                if t.strip() == "SPN-WOOD-5:")
    # one problem for the SKU, naming every marketplace it has (same line, same message)
    want = (f"skus/kitchen.yaml, line {line}, column 3: SKU 'SPN-WOOD-5' (US, CA, MX, UK, DE, "
            "FR): 'condition_type' is required but not supplied.")
    assert any(ln.startswith(f"  - {want}") and "Amazon code 90220" in ln
               for ln in r.output.splitlines()), r.output
    assert not (isolated_state / "emulator.db").exists()  # validate called nothing
    # the create apply would send, sent to the emulator as it is
    desired = build(load(cat), validate_schemas=False)
    d = next(x for x in desired.listings if (x.key.sku, x.key.marketplace_id)
             == ("SPN-WOOD-5", CA))
    change = Change(d.key, "CA", "create", d.product_type, diff_listing(d, None),
                    fingerprint=ABSENT, requirements=d.requirements)
    req = listing_request(change)
    e = Emulator()
    try:
        with httpx.Client(transport=e.transport(), base_url="https://sellingpartnerapi-na.amazon.com",
                          headers={"x-amz-access-token": auth.issue_token(e, NA)}) as c:
            resp = c.put(f"/listings/2021-08-01/items/{NA}/SPN-WOOD-5",
                         params={"marketplaceIds": CA}, json=req.body).json()
    finally:
        e.close()
    assert resp["status"] == "INVALID"
    assert [(i["code"], i["message"]) for i in resp["issues"]] == [
        ("90220", "'condition_type' is required but not supplied.")]


def test_2_the_samples_creates_validate_remote_and_converge(emu: Emulator) -> None:
    r = run("plan", str(SAMPLE), "--validate-remote", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    creates = [c for c in data["changes"] if c["action"] == "create"]
    assert len(creates) >= 4
    assert all(c["request"]["body"]["requirements"] in ("LISTING", "LISTING_OFFER_ONLY")
               for c in creates)
    assert data["remote_validation"] == {"validated": len(data["changes"]), "issues": []}
    r = run("apply", str(SAMPLE), "--auto-approve")
    assert r.exit_code == 0, r.output
    assert f"{len(data['changes'])} converged, 0 pending, 0 rejected" in r.output
    r = run("plan", str(SAMPLE), "--detailed-exitcode")
    assert r.exit_code == 0, r.output


def _eu_client(e: Emulator) -> httpx.Client:
    return httpx.Client(transport=e.transport(), base_url="https://sellingpartnerapi-eu.amazon.com",
                        headers={"x-amz-access-token": auth.issue_token(e, EU)})


def test_3_uk_list_price_has_tax_in_it(emu: Emulator) -> None:
    live = emu.listing_state(EU, "CB-OAK-L", UK)
    assert live is not None
    attrs = dict(live["attributes"])
    del attrs["list_price"]
    emu.put_listing_direct(EU, "CB-OAK-L", UK, live["productType"], attrs)
    r = run("plan", str(SAMPLE), "--sku", "CB-OAK-L", "--marketplace", "UK", "--format", "json")
    data = json.loads(r.stdout)
    (change,) = data["changes"]
    (op,) = [o for o in change["request"]["body"]["patches"]
             if o["path"] == "/attributes/list_price"]
    assert op["value"] == [{"currency": "GBP", "marketplace_id": UK, "value_with_tax": 66.99}]
    r = run("apply", str(SAMPLE), "--sku", "CB-OAK-L", "--marketplace", "UK", "--auto-approve")
    assert r.exit_code == 0, r.output
    r = run("plan", str(SAMPLE), "--sku", "CB-OAK-L", "--detailed-exitcode")
    assert r.exit_code == 0, r.output
    stored = emu.listing_state(EU, "CB-OAK-L", UK)
    assert stored is not None
    assert stored["attributes"]["list_price"][0]["value_with_tax"] == 66.99
    # the US shape in the UK is refused, as Amazon's UK definition does
    with _eu_client(emu) as c:
        resp = c.patch(f"/listings/2021-08-01/items/{EU}/CB-OAK-L", params={"marketplaceIds": UK},
                       json={"productType": "CUTTING_BOARD", "patches": [{
                           "op": "replace", "path": "/attributes/list_price",
                           "value": [{"currency": "GBP", "value": 66.99}]}]}).json()
    assert resp["status"] == "INVALID"
    assert any("'value' is not a valid field" in i["message"] and "value_with_tax" in i["message"]
               for i in resp["issues"]), resp


def _offer(emu: Emulator, seller: str, sku: str, mp: str, audience: str = "ALL") -> Any:
    st = emu.listing_state(seller, sku, mp)
    assert st is not None
    return next((o for o in st["attributes"]["purchasable_offer"]
                 if o.get("audience", "ALL") == audience), None)


def test_4_the_whole_offer_converges_and_clears(cat: Path, emu: Emulator) -> None:
    skus = ("--sku", "MUG-CER-16", "--sku", "KNF-CHEF-8", "--sku", "TEA-CI-1L",
            "--marketplace", "US")
    # Amazon has none of the offer lines yet
    for sku in ("MUG-CER-16", "KNF-CHEF-8", "TEA-CI-1L"):
        st = emu.listing_state(NA, sku, US)
        assert st is not None
        attrs = dict(st["attributes"])
        attrs["purchasable_offer"] = [
            {k: v for k, v in o.items() if k in ("marketplace_id", "currency", "audience",
                                                 "our_price")}
            for o in attrs["purchasable_offer"] if o.get("audience", "ALL") == "ALL"]
        emu.put_listing_direct(NA, sku, US, st["productType"], attrs)
    r = run("plan", str(cat), *skus)
    assert r.exit_code == 0, r.output
    assert "sale 15.99 2026-12-01..2026-12-31" in r.stdout
    assert "tiers ≥5: 5.00%, ≥10: 10.00%" in r.stdout
    assert "min 39.99, max 59.99" in r.stdout
    assert "price US: sale price: 15.99 USD" in r.stdout  # each price with its derivation
    r = run("apply", str(cat), *skus, "--auto-approve")
    assert r.exit_code == 0, r.output
    assert run("plan", str(cat), *skus, "--detailed-exitcode").exit_code == 0
    sale = _offer(emu, NA, "MUG-CER-16", US)["discounted_price"][0]["schedule"][0]
    assert sale == {"value_with_tax": 15.99, "start_at": "2026-12-01", "end_at": "2026-12-31"}
    b2b = _offer(emu, NA, "KNF-CHEF-8", US, "B2B")
    assert b2b["our_price"][0]["schedule"][0]["value_with_tax"] == 74.99
    assert b2b["quantity_discount_plan"][0]["schedule"][0]["levels"] == [
        {"lower_bound": 5, "value": 5}, {"lower_bound": 10, "value": 10}]
    tea = _offer(emu, NA, "TEA-CI-1L", US)
    assert tea["minimum_seller_allowed_price"][0]["schedule"][0]["value_with_tax"] == 39.99
    # clear the sale price and the business offer: the delete encodings, then converged
    mugs, kitchen = cat / "skus" / "mugs.yaml", cat / "skus" / "kitchen.yaml"
    replace_lines(mugs, "    sale_price:", 4, "    sale_price: clear\n")
    replace_lines(kitchen, "    business_price:", 5, "    business_price: clear\n")
    r = run("plan", str(cat), *skus)
    assert "sale (clear)" in r.stdout
    assert ("purchasable_offer (USD B2B): 74.99 USD, tiers ≥5: 5.00%, ≥10: 10.00% -> (clear)"
            in r.stdout)
    data = json.loads(run("plan", str(cat), *skus, "--format", "json").stdout)
    ops = {c["sku"]: c["request"]["body"]["patches"] for c in data["changes"]}
    assert set(ops) == {"MUG-CER-16", "KNF-CHEF-8"}
    (merge,) = ops["MUG-CER-16"]
    assert merge["op"] == "merge" and merge["value"][0]["discounted_price"] is None
    assert ops["KNF-CHEF-8"] == [{"op": "delete", "path": "/attributes/purchasable_offer",
                                  "value": [{"marketplace_id": US, "currency": "USD",
                                             "audience": "B2B"}]}]
    r = run("apply", str(cat), *skus, "--auto-approve")
    assert r.exit_code == 0, r.output
    assert run("plan", str(cat), *skus, "--detailed-exitcode").exit_code == 0
    assert "discounted_price" not in _offer(emu, NA, "MUG-CER-16", US)
    assert _offer(emu, NA, "KNF-CHEF-8", US, "B2B") is None
    assert _offer(emu, NA, "KNF-CHEF-8", US)["our_price"][0]["schedule"][0][
        "value_with_tax"] == 79.99  # the ALL offer is untouched
    # dropping the lines without `clear`: Amazon's values stay, nothing is planned
    replace_lines(kitchen, "    minimum_seller_allowed_price:", 2, "")
    assert run("plan", str(cat), *skus, "--detailed-exitcode").exit_code == 0
    assert _offer(emu, NA, "TEA-CI-1L", US)["minimum_seller_allowed_price"][0]["schedule"][0][
        "value_with_tax"] == 39.99
    assert Decimal("59.99") == Decimal(str(_offer(emu, NA, "TEA-CI-1L", US)[
        "maximum_seller_allowed_price"][0]["schedule"][0]["value_with_tax"]))


def test_plan_stops_on_a_change_amazon_does_not_allow() -> None:
    """editable: false (ASIN, condition, brand, identifiers) cannot change on an existing
    listing: the plan names it as dangerous instead of sending a patch Amazon refuses."""
    from dataclasses import replace

    from reconciler.kernel.model import DesiredState
    from reconciler.live.normalize import normalize_item
    from reconciler.plan.builder import build_plan
    from tests.core_builders import ACCOUNT, amazon_item, desired
    from tests.core_builders import US as US_MP

    d = desired("MUG-1", US_MP)
    attrs = {**d.attributes, "condition_type": [{"value": "new_new", "marketplace_id": US}]}
    d = replace(d, attributes=attrs, locked=frozenset({"condition_type"}))
    item = amazon_item(d, US_MP)
    item["attributes"]["condition_type"] = [{"value": "used_good", "marketplace_id": US}]
    plan = build_plan(DesiredState((d,), (ACCOUNT,)), {d.key: normalize_item(item, d.key, US_MP)})
    (change,) = plan.changes
    assert [f.attribute for f in change.fields] == ["condition_type"]
    assert any("Amazon does not let an existing listing change condition_type" in r
               for r in plan.safety), plan.safety
    # the same value is no change, and an unlocked attribute is not dangerous
    unlocked = replace(d, locked=frozenset())
    plan = build_plan(DesiredState((unlocked,), (ACCOUNT,)),
                      {d.key: normalize_item(item, d.key, US_MP)})
    assert not any("does not let" in r for r in plan.safety)
