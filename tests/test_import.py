"""`reconciler import`: live listings -> catalog YAML that validates and plans empty
(fixed prices as per-SKU overrides, literal quantities per location, texts per language), and
the warnings for what cannot plan empty (DEFAULT stock on MLI, unsupported SKU names)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.emulator.app import Emulator
from reconciler.importer.build import build_files
from reconciler.kernel.model import ListingKey, LiveListing
from reconciler.spapi.connect import close_embedded_emulators
from tests import applyutil as au


@pytest.fixture()
def live_account(tmp_path: Path, isolated_state: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from reconciler.pipeline import load

    src = tmp_path / "original"
    au.write_catalog(src, 6)
    desired = load(src)
    isolated_state.mkdir(parents=True, exist_ok=True)
    emu = Emulator(str(isolated_state / "emulator.db"))
    emu.seed(au.exact_seed(desired))
    emu.close()
    # the importing user has only reconciler.yaml
    cat = tmp_path / "settings-only"
    cat.mkdir()
    (cat / "reconciler.yaml").write_text((src / "reconciler.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    yield cat
    close_embedded_emulators()


def test_import_validate_plan_empty(
    live_account: Path, tmp_path: Path, isolated_state: Path
) -> None:
    from reconciler.pipeline import run_plan

    out = tmp_path / "imported"
    r = CliRunner().invoke(
        main,
        ["import", str(live_account), "--account", "na", "--out", str(out)],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    assert "imported 6 SKUs, 12 listings of account na (US, CA)" in r.output
    v = CliRunner().invoke(main, ["validate", str(out)], catch_exceptions=False)
    assert v.exit_code == 0, v.output
    run = run_plan(out, state_dir=str(isolated_state))
    try:
        assert not run.plan.has_changes, [c.name for c in run.plan.changes]
        assert run.plan.unchanged == 12
        assert not run.plan.held
    finally:
        for c in run.clients.values():
            c.close()
    sku = yaml.safe_load((out / "skus" / "gen-0001.yaml").read_text())["skus"]["GEN-0001"]
    assert sku["quantity"]["CA"] == 4
    assert set(sku["quantity"]["US"]) == {
        "353e4e48-6301-4d50-990e-43a86e8787a3",
        "8e07a0c9-ab0a-4108-9f16-83dc3496bee0",
    }
    assert sku["overrides"]["CA"]["price"] == pytest.approx(15.99)
    assert sku["texts"]["en_US"]["bullet_points"] == ["Holds 12 oz", "Dishwasher safe"]
    assert "fr_CA" not in sku["texts"]  # only the marketplace's language is managed
    # refuses to overwrite
    again = CliRunner().invoke(
        main, ["import", str(live_account), "--account", "na", "--out", str(out)]
    )
    assert again.exit_code == 1 and "not empty" in again.output


def test_import_captures_every_attribute_and_the_whole_offer(
    tmp_path: Path, isolated_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sample after `reconciler demo` (its sale price, business tiers, allowed prices, UK
    list price with tax, condition and ASINs): import -> validate -> plan is empty."""
    from reconciler.pipeline import run_plan

    sample = Path(__file__).resolve().parent.parent / "catalog"
    monkeypatch.chdir(tmp_path)
    try:
        assert CliRunner().invoke(main, ["demo", str(sample)]).exit_code == 0
        out = tmp_path / "imported"
        r = CliRunner().invoke(main, ["import", str(sample), "--account", "eu", "--out",
                                      str(out)], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        assert (out / "product-types" / "CUTTING_BOARD" / "UK.LISTING_OFFER_ONLY.json").is_file()
        v = CliRunner().invoke(main, ["validate", str(out)], catch_exceptions=False)
        assert v.exit_code == 0, v.output
        run = run_plan(out, state_dir=str(isolated_state))
        try:
            assert not run.plan.has_changes, [c.name for c in run.plan.changes]
        finally:
            for c in run.clients.values():
                c.close()
    finally:
        close_embedded_emulators()
    knife = yaml.safe_load((out / "skus" / "knf-chef-8.yaml").read_text())["skus"]["KNF-CHEF-8"]
    assert knife["requirements"] == "LISTING_OFFER_ONLY"
    # every attribute Amazon has, the demo's unmanaged brand too
    assert knife["attributes"] == {"condition_type": "new_new", "brand": "Hearth & Hollow",
                                   "merchant_suggested_asin": "B0C7KNFCH8"}
    assert knife["overrides"]["UK"]["business_price"]["tiers"] == [
        {"quantity": 5, "percent_off": 5}, {"quantity": 10, "percent_off": 10}]
    board = yaml.safe_load((out / "skus" / "cb-oak-l.yaml").read_text())["skus"]["CB-OAK-L"]
    assert board["overrides"]["UK"]["list_price"] == pytest.approx(66.99)
    mug = yaml.safe_load((out / "skus" / "mug-cer-16.yaml").read_text())["skus"]["MUG-CER-16"]
    assert mug["overrides"]["DE"]["sale_price"] == {"price": pytest.approx(17.95),
                                                    "start_at": "2026-12-01",
                                                    "end_at": "2026-12-31"}
    tea = yaml.safe_load((out / "skus" / "tea-ci-1l.yaml").read_text())["skus"]["TEA-CI-1L"]
    assert set(tea["overrides"]["FR"]) >= {"minimum_seller_allowed_price",
                                           "maximum_seller_allowed_price"}


def test_import_unknown_account(live_account: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(
        main, ["import", str(live_account), "--account", "zz", "--out", str(tmp_path / "x")]
    )
    assert r.exit_code == 1 and "no account 'zz'" in r.output


def test_build_files_warns_what_cannot_plan_empty() -> None:
    us = au.US
    key = ListingKey("na", "BAD SKU/1", us.marketplace_id)
    good = ListingKey("na", "OK-1", us.marketplace_id)
    fa = [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 3},
        {"fulfillment_channel_code": au.LOC_A, "quantity": 4},
    ]
    attrs = {
        "fulfillment_availability": fa,
        "item_name": [
            {"value": "Mug", "language_tag": "en_US", "marketplace_id": us.marketplace_id}
        ],
    }
    live = {
        us.marketplace_id: {
            key.sku: LiveListing(key, "PRODUCT", attrs),
            good.sku: LiveListing(good, "PRODUCT", attrs),
        }
    }
    res = build_files(au.ACCOUNT, (us,), live, today=dt.date(2026, 11, 22))
    assert res.skus == 1
    text = "\n".join(res.warnings)
    assert "'BAD SKU/1' (US): SKU name not supported" in text
    assert "OK-1 (US): DEFAULT carries 3 units on an MLI marketplace" in text
    locs = yaml.safe_load(res.files["locations.yaml"])["locations"]
    assert [v["fulfillment_channel_code"] for v in locs.values()] == [au.LOC_A]
