"""Catalog -> desired listings.

Covers the seed example of Amazon's MLI guide (ssnm001/ssnm002), the exact attribute shapes of
CONTRACT.md §7, held-for-review texts, `state: absent`, non-MLI DEFAULT quantities, locations
managed at 0, allocation from stock.csv, fallback languages, unmanaged attributes, derivations
and provenance, the staleness warning, and that build() works on an in-memory catalog.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from reconciler.catalog.desired import build, summary
from reconciler.catalog.loader import load, load_desired
from reconciler.catalog.raw import Doc, RawCatalog
from reconciler.catalog.yamlsrc import parse_yaml
from reconciler.kernel.errors import CatalogError
from reconciler.kernel.marketplaces import by_code
from reconciler.kernel.model import DesiredListing, DesiredState
from reconciler.live.normalize import MANAGED_FIELDS

SAMPLE = Path(__file__).resolve().parent.parent / "catalog"
NEWARK = "353e4e48-6301-4d50-990e-43a86e8787a3"
RENO = "8e07a0c9-ab0a-4108-9f16-83dc3496bee0"
US, CA, MX = (by_code(c).marketplace_id for c in ("US", "CA", "MX"))
UK, DE, FR = (by_code(c).marketplace_id for c in ("UK", "DE", "FR"))


@pytest.fixture(scope="module")
def state() -> DesiredState:
    s: DesiredState = load_desired(SAMPLE, today=dt.date(2026, 11, 22))
    return s


def get(state: DesiredState, account: str, sku: str, mid: str) -> DesiredListing:
    for x in state.listings:
        if (x.key.account, x.key.sku, x.key.marketplace_id) == (account, sku, mid):
            return x
    raise KeyError((account, sku, mid))


def fa(x: DesiredListing) -> list[tuple[str, int]]:
    return sorted((e["fulfillment_channel_code"], e["quantity"])
                  for e in x.attributes["fulfillment_availability"])


def test_seed_mli_ssnm001(state: DesiredState) -> None:
    x = get(state, "na", "ssnm001", US)
    assert fa(x) == sorted([(NEWARK, 10), (RENO, 5), ("DEFAULT", 0)])
    assert x.product_type == "PRODUCT" and x.mli is True and x.allocated == 15


def test_seed_mli_ssnm002(state: DesiredState) -> None:
    x = get(state, "na", "ssnm002", US)
    assert fa(x) == sorted([(NEWARK, 10), (RENO, 7), ("DEFAULT", 0)])


def test_every_desired_field_is_one_the_live_side_keeps(state: DesiredState) -> None:
    # live.normalize_item keeps only MANAGED_FIELDS: a field desired declares beyond them would
    # read back as absent and never converge
    seen: set[tuple[str, str]] = set()
    for x in state.listings:
        for name, entries in x.attributes.items():
            if name not in MANAGED_FIELDS:  # other attributes keep every field (live.py)
                continue
            for e in entries:
                assert set(e) <= MANAGED_FIELDS[name], (name, e)
                seen.update((name, k) for k in e)
    assert {(a, f) for a, fields in MANAGED_FIELDS.items() for f in fields} == seen


def test_non_mli_marketplace_gets_default_quantity(state: DesiredState) -> None:
    x = get(state, "na", "ssnm001", CA)
    assert x.attributes["fulfillment_availability"] == [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 12}
    ]
    assert x.mli is False and x.allocated == 12


def test_exact_attribute_shapes(state: DesiredState) -> None:
    x = get(state, "na", "ssnm001", US)
    a = x.attributes
    assert set(a) == {"purchasable_offer", "list_price", "item_name", "product_description",
                      "bullet_point", "fulfillment_availability", "condition_type",
                      "merchant_suggested_asin"}
    assert x.requirements == "LISTING_OFFER_ONLY"
    assert a["condition_type"] == [{"value": "new_new", "marketplace_id": US}]
    assert a["merchant_suggested_asin"] == [{"value": "B0C7SSNM01", "marketplace_id": US}]
    assert a["purchasable_offer"] == [{
        "marketplace_id": US, "currency": "USD", "audience": "ALL",
        "our_price": [{"schedule": [{"value_with_tax": D("34.99")}]}],
    }]
    assert a["list_price"] == [{"marketplace_id": US, "currency": "USD", "value": D("44.99")}]
    assert a["item_name"] == [{
        "value": "Birchwood Kitchen Stainless Steel Nesting Mixing Bowls, Set of 3 "
                 "(1.5, 3 and 5 qt)",
        "language_tag": "en_US", "marketplace_id": US,
    }]
    assert [set(e) for e in a["bullet_point"]] == [{"value", "language_tag", "marketplace_id"}] * 3
    assert a["bullet_point"][0]["value"].startswith("SET OF 3")
    assert a["bullet_point"][2]["value"].startswith("EASY CARE: dishwasher safe")  # template
    assert a["fulfillment_availability"] == sorted(
        a["fulfillment_availability"], key=lambda e: e["fulfillment_channel_code"]
    )
    assert x.source is not None and str(x.source) == "skus/mixing-bowls.yaml:4"


def test_money_is_quantized_to_minor_units(state: DesiredState) -> None:
    for x in state.listings:
        for o in x.attributes.get("purchasable_offer", []):
            v = o["our_price"][0]["schedule"][0]["value_with_tax"]
            assert isinstance(v, D) and v.as_tuple().exponent == -2  # no JPY in the sample


def test_held_for_review(state: DesiredState) -> None:
    held = [x for x in state.listings if x.held_texts]
    assert [(x.key.sku, x.key.marketplace_id) for x in held] == [("CB-OAK-L", FR)]
    x = held[0]
    assert x.held_texts == ("item_name", "product_description", "bullet_point")
    assert x.held_reason == "no texts for fr_FR"
    assert not {"item_name", "product_description", "bullet_point"} & set(x.attributes)
    assert "purchasable_offer" in x.attributes and "fulfillment_availability" in x.attributes


def test_fallback_language_keeps_the_marketplace_language_tag(state: DesiredState) -> None:
    x = get(state, "na", "CB-OAK-L", CA)  # no en_CA text: en_US copy via fallback_languages
    assert x.held_texts == ()
    assert x.attributes["item_name"][0]["language_tag"] == "en_CA"
    assert x.attributes["item_name"][0]["marketplace_id"] == CA


def test_absent(state: DesiredState) -> None:
    gone = [x for x in state.listings if x.state == "absent"]
    assert [(x.key.account, x.key.sku) for x in gone] == [("eu", "TRV-CORK-01")] * 3
    assert all(x.attributes == {} for x in gone)


def test_allocation_from_stock(state: DesiredState) -> None:
    # standard policy, BTL-INS-750: central 120, newark 4, reno 18, toronto 0
    us = get(state, "na", "BTL-INS-750", US)
    assert fa(us) == sorted([(NEWARK, 38), (RENO, 16), ("DEFAULT", 0)])
    assert us.allocated == 54
    assert get(state, "na", "BTL-INS-750", CA).attributes["fulfillment_availability"] == [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 38}
    ]
    # MX has a literal quantity, which wins over the allocation
    assert get(state, "na", "BTL-INS-750", MX).allocated == 15
    # scarce central stock: BTL-GLS-500 central 9
    assert fa(get(state, "na", "BTL-GLS-500", US)) == sorted(
        [(NEWARK, 9), (RENO, 9), ("DEFAULT", 0)]
    )


def test_derivations_and_guards(state: DesiredState) -> None:
    x = get(state, "na", "MUG-CER-12", CA)
    (d,) = x.derivations
    assert (d.marketplace, d.currency, d.base, d.rate, d.tax_delta) == (
        "CA", "CAD", D("14.99"), D("1.3654"), D("0.50"))
    assert d.result == D("20.99") and d.rate_as_of == "2026-11-20"
    assert (x.price_min, x.price_max) == (D("6.99"), D("350"))
    assert state.rates_as_of == "2026-11-20"


def test_listings_are_sorted_and_unique(state: DesiredState) -> None:
    keys = [x.key for x in state.listings]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert summary(state) == (
        "catalog OK: 14 SKUs, 68 listings (2 accounts, 6 marketplaces), 1 held for review"
    )


def test_accounts_and_settings(state: DesiredState) -> None:
    na, eu = state.accounts
    assert (na.name, na.seller_id, na.region, na.endpoint) == (
        "na", "A1PP0FEH11RW77", "NA", "emulator")
    assert [(m.code, m.mli, m.language_tag) for m in na.marketplaces] == [
        ("US", True, "en_US"), ("CA", False, "en_CA"), ("MX", False, "es_MX")]
    assert eu.seller_id == "A2EXAMPLEEU001"
    assert eu.credentials.refresh_token == "env/SP_API_REFRESH_TOKEN_EU"
    assert [m.code for m in eu.marketplaces] == ["UK", "DE", "FR"]
    assert state.safety.max_price_change_pct == D("30")
    assert state.apply.strategy == "auto" and state.apply.stock_only_drift_apply is False


def test_staleness_warning_needs_today() -> None:
    raw = load(SAMPLE)
    assert build(raw).warnings == ()
    old = build(raw, today=dt.date(2027, 1, 1)).warnings
    assert old == ("rates.yaml: exchange rates are 42 days old (as_of 2026-11-20); "
                   "max_rate_age_days is 14: update the rates",)


def doc(path: str, text: str) -> Doc:
    data, problems = parse_yaml(text, path)
    assert not problems
    return Doc(path, data)


CONFIG = """
accounts:
  na:
    seller_id: A1PP0FEH11RW77
    region: NA
    endpoint: emulator
    marketplaces: {US: {mli: true}, CA: {}}
"""
LOCATIONS = """
locations:
  a: {fulfillment_channel_code: CH-A, account: na, marketplace: US}
  b: {fulfillment_channel_code: CH-B, account: na, marketplace: US}
"""


OFFER_ONLY = """
    requirements: LISTING_OFFER_ONLY
    attributes: {condition_type: new_new, merchant_suggested_asin: B0C7TEST01}"""


def defs(*keys: tuple[str, str, str]) -> dict[tuple[str, str, str], object]:
    """Cached definitions as `product-types pull` stores them (from the emulator's source)."""
    from reconciler.emulator.product_types import cached_definition

    return {k: cached_definition(*k, retrieved="2026-11-20") for k in keys}


PRODUCT_NA = defs(("PRODUCT", "US", "LISTING_OFFER_ONLY"), ("PRODUCT", "CA", "LISTING_OFFER_ONLY"))


def test_build_in_memory_location_without_quantity_is_managed_at_zero() -> None:
    raw = RawCatalog(
        root="mem",
        config=doc("reconciler.yaml", CONFIG),
        locations=doc("locations.yaml", LOCATIONS),
        product_types=PRODUCT_NA,
        skus=(doc("skus/x.yaml", """
skus:
  X-1:
    product_type: PRODUCT""" + OFFER_ONLY + """
    overrides: {US: {price: 9.99}, CA: {price: 12.49}}
    texts: {en_US: {item_name: Thing}}
    quantity: {US: {a: 4}}
"""),),
    )
    s = build(raw)
    us = next(x for x in s.listings if x.key.marketplace_id == US)
    assert fa(us) == [("CH-A", 4), ("CH-B", 0), ("DEFAULT", 0)]
    ca = next(x for x in s.listings if x.key.marketplace_id == CA)
    assert "fulfillment_availability" not in ca.attributes and ca.allocated is None
    assert ca.held_reason == "no texts for en_CA"  # no fallback configured
    assert ca.attributes["purchasable_offer"][0]["our_price"][0]["schedule"][0] == {
        "value_with_tax": D("12.49")}


def test_build_needs_pricing_for_base_prices() -> None:
    raw = RawCatalog(
        root="mem",
        config=doc("reconciler.yaml", CONFIG),
        product_types=PRODUCT_NA,
        skus=(doc("skus/x.yaml", "skus:\n  X-1:\n    product_type: PRODUCT\n    base_price: 5"
                  + OFFER_ONLY + "\n"),),
    )
    with pytest.raises(CatalogError) as e:
        build(raw)
    assert [str(p) for p in e.value.problems] == [
        "rates.yaml: missing rates.yaml: needed to price SKUs from their base_price"
    ]


def test_build_reports_every_problem_of_every_sku() -> None:
    raw = RawCatalog(
        root="mem",
        config=doc("reconciler.yaml", CONFIG),
        skus=(doc("skus/x.yaml", """
skus:
  X-1: {product_type: MUG, overrides: {US: {price: 1}, CA: {price: 1.001}}}
  X-2: {product_type: PRODUCT, marketplaces: [JP], overrides: {US: {price: 1}}}
"""),),
    )
    with pytest.raises(CatalogError) as e:
        build(raw)
    got = [(p.line, p.message) for p in e.value.problems]
    assert (3, "unknown product type 'MUG'") in got
    assert (3, "1.001 is not a valid CAD amount (smallest unit 0.01)") in got
    assert (4, "marketplace JP is not configured for account(s) na in reconciler.yaml") in got
    assert (4, "overrides for US: the SKU is not listed there") in got


# --------------------------------------------------------------------------- robustness

BASE = Path(__file__).resolve().parent / "catalogs" / "base"
_MUTANTS = [0, 1, -1, 10**9, "", "US", "DE", "JP", "newark", "reno", "central", "standard",
            "env/X", ".95", "whole", "none", "absent", "PRODUCT", "na", "eu", None, True,
            D("0.001"), D("99999.99"), D("-1"), "base / tax", "base ** 4 * rate",
            "min(base, 1) - 5", "max(base)", [], ["US", "US"], {}, {"newark": 1},
            {"template": "title.en.j2"}, {"template": "title.de.j2", "vars": {"color": 1}},
            {"template": "missing.j2"}, {"price": D("1.5")}, {"min": 50, "max": 10}]


def _kind(x: object) -> str:
    if isinstance(x, bool) or x is None:
        return "other"
    if isinstance(x, (int, D)):
        return "number"
    return type(x).__name__.lower().replace("ydict", "dict").replace("ylist", "list")


@functools.cache
def _base_raw() -> RawCatalog:
    return load(BASE)


def _mutable(x: object) -> object:
    # keep YDict/YList (marks) but make a deep copy so examples do not share state
    import copy

    return copy.deepcopy(x)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.data())
def test_any_schema_valid_catalog_builds_or_raises_catalog_error(data: st.DataObject) -> None:
    """No schema-valid catalog makes build() crash with anything but CatalogError (which the
    CLI shows as problems; any other exception would be exit 3, "a bug")."""
    import copy
    from dataclasses import replace

    from reconciler.catalog.loader import validate_data

    raw = _base_raw()
    slots = {"config": "reconciler", "rates": "rates", "pricing": "pricing",
             "locations": "locations"}
    docs = {s: getattr(raw, s) for s in slots} | {f"sku{i}": d for i, d in enumerate(raw.skus)}
    name = data.draw(st.sampled_from(sorted(docs)))
    doc = docs[name]
    tree = copy.deepcopy(doc.data)

    def paths(x: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        out = [prefix]
        if isinstance(x, dict):
            for k, v in x.items():
                out += paths(v, (*prefix, k))
        elif isinstance(x, list):
            for i, v in enumerate(x):
                out += paths(v, (*prefix, i))
        return out

    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths(tree)))
        if not path:
            continue
        parent = tree
        for step in path[:-1]:
            parent = parent[step]
        old = parent[path[-1]]
        same = [m for m in _MUTANTS if _kind(m) == _kind(old)] or _MUTANTS
        value = _mutable(data.draw(st.sampled_from(same if data.draw(st.integers(0, 4)) else
                                                   _MUTANTS)))
        if data.draw(st.booleans()) or not isinstance(parent, dict):
            parent[path[-1]] = value
        else:
            parent[data.draw(st.sampled_from(["min", "max", "price", "quantity", "CA",
                                              "allocation", "list_price", "vars"]))] = value
    kind = slots.get(name, "sku")
    assume(validate_data(kind, tree, doc.path) == [])
    new = replace(doc, data=tree)
    if name in slots:
        raw = replace(raw, **{name: new})
    else:
        i = int(name[3:])
        raw = replace(raw, skus=(*raw.skus[:i], new, *raw.skus[i + 1:]))
    try:
        build(raw, today=dt.date(2026, 11, 22))
    except CatalogError as e:
        assert e.problems and all(p.message for p in e.problems)
