"""Product type definitions: what the emulator serves (getDefinitionsProductType and the schema it
links to), `reconciler product-types pull`, the catalog's cached copies, and issue 14's must-show 5
(a pulled schema that adds a required attribute shows as a diff under product-types/ and makes
validate fail on exactly the affected SKUs)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from reconciler.catalog.loader import load
from reconciler.cli import main
from reconciler.contract.producttype_files import parse, render
from reconciler.emulator import auth
from reconciler.emulator.app import Emulator
from reconciler.emulator.product_types import (
    cached_definition,
    checksum,
    definition_document,
    document_bytes,
)
from reconciler.emulator.state import EmulatorConfig
from reconciler.kernel.marketplaces import MARKETPLACES
from reconciler.spapi.connect import close_embedded_emulators
from reconciler.spapi.definitions import checksum_matches
from tests import spapi_models

SAMPLE = Path(__file__).resolve().parent.parent / "catalog"
SELLER = "A1PP0FEH11RW77"
US = MARKETPLACES["US"].marketplace_id
UK = MARKETPLACES["UK"].marketplace_id
DEFS = "/definitions/2020-09-01/productTypes"


@pytest.fixture
def api() -> Any:
    emu = Emulator(config=EmulatorConfig(quotas=False, write_delay_s=0.0))
    token = auth.issue_token(emu, SELLER)
    with httpx.Client(transport=emu.transport(), base_url="https://sellingpartnerapi-na.amazon.com",
                      headers={"x-amz-access-token": token}) as c:
        yield c
    emu.close()


def get_definition(api: httpx.Client, pt: str, mp: str, **params: str) -> httpx.Response:
    return api.get(f"{DEFS}/{pt}", params={"marketplaceIds": mp, **params})


def test_get_definition_conforms_and_links_its_schema(api: httpx.Client) -> None:
    r = get_definition(api, "DRINKING_CUP", UK, requirements="LISTING_OFFER_ONLY")
    assert r.status_code == 200
    body = spapi_models.assert_response("getDefinitionsProductType", 200, r.content)
    assert body["productType"] == "DRINKING_CUP" and body["marketplaceIds"] == [UK]
    assert body["requirements"] == "LISTING_OFFER_ONLY" and body["locale"] == "en_GB"
    assert body["productTypeVersion"]["latest"] is True
    schema = api.get(body["schema"]["link"]["resource"], headers={"x-amz-access-token": ""})
    assert schema.status_code == 200
    assert checksum_matches(schema.content, body["schema"]["checksum"])
    doc = schema.json()
    assert doc == definition_document("DRINKING_CUP", "UK", "LISTING_OFFER_ONLY")
    meta = api.get(body["metaSchema"]["link"]["resource"])
    assert meta.status_code == 200
    assert checksum_matches(meta.content, body["metaSchema"]["checksum"])
    assert meta.json()["$id"] == doc["$schema"]


def test_definitions_differ_per_marketplace_as_amazons_do(api: httpx.Client) -> None:
    def list_price_fields(mp: str) -> set[str]:
        body = get_definition(api, "CUTTING_BOARD", mp).json()
        doc = api.get(body["schema"]["link"]["resource"]).json()
        return set(doc["properties"]["list_price"]["items"]["properties"])

    assert list_price_fields(US) == {"currency", "marketplace_id", "value"}
    assert list_price_fields(UK) == {"currency", "marketplace_id", "value_with_tax"}
    uk = definition_document("CUTTING_BOARD", "UK", "LISTING")
    assert uk["properties"]["purchasable_offer"]["items"]["properties"]["currency"]["enum"] == [
        "GBP"]
    assert uk["$defs"]["marketplace_id"]["default"] == UK


def test_refusals(api: httpx.Client) -> None:
    r = get_definition(api, "PRODUCT", US)  # PRODUCT is offer-only
    assert r.status_code == 400 and "LISTING_OFFER_ONLY" in r.text
    spapi_models.assert_response("getDefinitionsProductType", 400, r.content)
    r = get_definition(api, "NO_SUCH_TYPE", US)
    assert r.status_code == 404
    spapi_models.assert_response("getDefinitionsProductType", 404, r.content)
    r = api.get(f"{DEFS}/DRINKING_CUP", params={"marketplaceIds": f"{US},{UK}"})
    assert r.status_code == 400
    assert get_definition(api, "DRINKING_CUP", US, productTypeVersion="UNOPE").status_code == 404
    assert api.get(f"{DEFS}/DRINKING_CUP").status_code == 400  # marketplaceIds is required
    assert httpx.Client(transport=api._transport).get(
        f"https://sellingpartnerapi-na.amazon.com{DEFS}/DRINKING_CUP",
        params={"marketplaceIds": US}).status_code == 403  # no access token


def test_search_definitions(api: httpx.Client) -> None:
    r = api.get(DEFS, params={"marketplaceIds": US, "keywords": "cup"})
    assert r.status_code == 200
    names = [p["name"] for p in r.json()["productTypes"]]
    assert "DRINKING_CUP" in names and "TEAPOT" not in names


def test_the_sample_catalogs_copies_are_what_the_emulator_serves() -> None:
    """One source: the emulator's definitions and the catalog's cached copies cannot disagree."""
    raw = load(SAMPLE)
    assert len(raw.product_types) >= 40
    for key, d in raw.product_types.items():
        fresh = cached_definition(*key, retrieved=d.retrieved)
        assert (SAMPLE / d.path).read_text("utf-8") == render(fresh), d.path
        assert d.checksum == checksum(document_bytes(definition_document(*key)))


def test_cached_file_round_trips_and_broken_files_are_problems(tmp_path: Path) -> None:
    d = cached_definition("TEAPOT", "DE", "LISTING", retrieved="2026-11-20")
    assert parse(render(d), d.path) == d
    cat = tmp_path / "catalog"
    shutil.copytree(SAMPLE, cat)
    target = cat / "product-types" / "TEAPOT" / "DE.LISTING_OFFER_ONLY.json"
    target.write_text('{"productType": "TEAPOT"', "utf-8")
    r = CliRunner().invoke(main, ["validate", str(cat)])
    assert r.exit_code == 1
    assert "product-types/TEAPOT/DE.LISTING_OFFER_ONLY.json: not valid JSON" in r.output
    assert "reconciler product-types pull" in r.output
    target.unlink()
    r = CliRunner().invoke(main, ["validate", str(cat)])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert ("no cached product type definition for TEAPOT in DE (LISTING_OFFER_ONLY; expected "
            "product-types/TEAPOT/DE.LISTING_OFFER_ONLY.json): run `reconciler product-types "
            "pull`") in r.output


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text("utf-8")
            for p in sorted((root / "product-types").rglob("*.json"))}


def test_pull_rewrites_only_what_changed_and_a_new_requirement_fails_exactly_its_skus(
    tmp_path: Path, isolated_state: Path
) -> None:
    cat = tmp_path / "catalog"
    shutil.copytree(SAMPLE, cat)
    before = _files(cat)
    mtimes = {p: (cat / p).stat().st_mtime_ns for p in before}
    try:
        r = CliRunner().invoke(main, ["product-types", "pull", str(cat)], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        assert f"0 updated, {len(before)} unchanged, 0 failed" in r.output
        assert _files(cat) == before
        assert {p: (cat / p).stat().st_mtime_ns for p in before} == mtimes  # not even touched
        # Amazon adds a required attribute to DRINKING_CUP in the UK
        from reconciler.spapi.connect import embedded_emulator

        emu = embedded_emulator(str(isolated_state))
        emu.seed({"productTypeChanges": [{"productType": "DRINKING_CUP",
                                          "marketplaceIds": [UK],
                                          "addRequired": ["item_weight"]}]})
        r = CliRunner().invoke(main, ["product-types", "pull", str(cat)], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        after = _files(cat)
        changed = sorted(p for p in before if after[p] != before[p])
        assert changed == ["product-types/DRINKING_CUP/UK.LISTING_OFFER_ONLY.json"]
        assert "1 updated" in r.output and "updated product-types/DRINKING_CUP/UK." in r.output
        new = json.loads(after[changed[0]])
        old = json.loads(before[changed[0]])
        assert "item_weight" in new["schema"]["required"]
        assert new["productTypeVersion"]["version"] != old["productTypeVersion"]["version"]
        v = CliRunner().invoke(main, ["validate", str(cat)])
        assert v.exit_code == 1
        problems = [ln for ln in v.output.splitlines() if ln.startswith("  - ")]
        assert problems and all("'item_weight' is required but not supplied." in ln
                                for ln in problems), v.output
        affected = sorted({ln.split("SKU '")[1].split("'")[0] + " " + ln.split("(")[1][:2]
                           for ln in problems})
        assert affected == ["MUG-CER-12 UK", "MUG-CER-16 UK"]
    finally:
        close_embedded_emulators()


def test_pull_names_what_amazon_refuses(tmp_path: Path) -> None:
    cat = tmp_path / "catalog"
    shutil.copytree(SAMPLE, cat)
    sku = cat / "skus" / "mixing-bowls.yaml"
    sku.write_text(sku.read_text("utf-8").replace("    requirements: LISTING_OFFER_ONLY\n", "", 1),
                   "utf-8")
    try:
        r = CliRunner().invoke(main, ["product-types", "pull", str(cat), "--product-type",
                                      "PRODUCT"])
    finally:
        close_embedded_emulators()
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "failed product-types/PRODUCT/US.json" in r.output
    assert "supports only requirements LISTING_OFFER_ONLY" in r.output


def test_emulator_refuses_an_offer_only_create_without_asin_like_amazon(api: httpx.Client) -> None:
    """An offer-only request without merchant_suggested_asin fails like a full listing without
    identifiers: 90220, in a PUT, a preview and a feed message alike."""
    attrs = {"condition_type": [{"value": "new_new"}],
             "purchasable_offer": [{"currency": "USD", "our_price": [
                 {"schedule": [{"value_with_tax": 9.99}]}]}]}
    items = f"/listings/2021-08-01/items/{SELLER}/NEW-1"
    for params in ({}, {"mode": "VALIDATION_PREVIEW"}):
        r = api.put(items, params={"marketplaceIds": US, **params}, json={
            "productType": "DRINKING_CUP", "requirements": "LISTING_OFFER_ONLY",
            "attributes": attrs}).json()
        assert r["status"] == "INVALID"
        assert [(i["code"], i["message"]) for i in r["issues"]] == [
            ("90220", "'merchant_suggested_asin' is required but not supplied.")]
    full = api.put(items, params={"marketplaceIds": US}, json={
        "productType": "DRINKING_CUP", "requirements": "LISTING", "attributes": attrs}).json()
    assert full["status"] == "INVALID"
    assert {i["message"] for i in full["issues"]} >= {
        "'externally_assigned_product_identifier' is required but not supplied.",
        "'brand' is required but not supplied."}
    ok = api.put(items, params={"marketplaceIds": US}, json={
        "productType": "DRINKING_CUP", "requirements": "LISTING_OFFER_ONLY",
        "attributes": {**attrs, "merchant_suggested_asin": [{"value": "B0C7MUG12S"}]}}).json()
    assert ok["status"] == "ACCEPTED", ok
    # a patch may not change an attribute Amazon does not let a listing change
    bad = api.patch(items, params={"marketplaceIds": US}, json={
        "productType": "DRINKING_CUP", "patches": [{
            "op": "replace", "path": "/attributes/condition_type",
            "value": [{"value": "used_good"}]}]}).json()
    assert bad["status"] == "INVALID" and bad["issues"][0]["code"] == "4000007"
    # an identifier with a wrong check digit
    gtin = api.put(f"/listings/2021-08-01/items/{SELLER}/NEW-2", params={"marketplaceIds": US},
                   json={"productType": "DRINKING_CUP", "requirements": "LISTING_OFFER_ONLY",
                         "attributes": {**attrs, "merchant_suggested_asin": [{"value": "B0C7MUG1"
                                                                              "2S"}],
                                        "externally_assigned_product_identifier": [
                                            {"type": "ean", "value": "5061234567895"}]}}).json()
    assert gtin["status"] == "INVALID"
    assert "wrong check digit (expected 4)" in gtin["issues"][0]["message"]


def test_a_tampered_definition_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    """Cached definitions arrive in pull requests too: a pattern prone to catastrophic
    backtracking, or a keyword nobody implements, is refused with the file and the way out."""
    cat = tmp_path / "catalog"
    shutil.copytree(SAMPLE, cat)
    rel = "product-types/UTENSIL/US.LISTING_OFFER_ONLY.json"
    data = json.loads((cat / rel).read_text("utf-8"))
    value = data["schema"]["properties"]["merchant_suggested_asin"]["items"]["properties"]["value"]
    value["pattern"] = "^(a+)+$"
    (cat / rel).write_text(json.dumps(data), "utf-8")
    r = CliRunner().invoke(main, ["validate", str(cat)])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert f"{rel}: cannot check listings against this definition (unsupported: pattern with "\
           "nested quantifiers" in r.output
    assert "reconciler product-types pull" in r.output
    (cat / rel).write_text("[" * 100_000, "utf-8")
    r = CliRunner().invoke(main, ["validate", str(cat)])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert rel in r.output
