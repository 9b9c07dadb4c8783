"""Pricing: worked numbers and properties.

- USD -> CAD with a .99 ending; JPY without decimals (and .99 refused for JPY);
- clamping into guards (and stepping below max), guard trips for fixed prices, min > max;
- per-SKU overrides (fixed price, rule override) end to end through the sample catalog;
- missing rates, cross rates, derivations that say how a price was made;
- hypothesis: the price is non-decreasing in the base price.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from reconciler.catalog.formula import parse
from reconciler.catalog.loader import load_desired
from reconciler.catalog.pricing import (
    DEFAULT_FORMULA,
    PriceError,
    Rates,
    Rule,
    compute,
    describe,
    round_price,
)
from reconciler.kernel.marketplaces import by_code
from reconciler.kernel.model import DesiredState

SAMPLE = Path(__file__).resolve().parent.parent / "catalog"
RATES = Rates("2026-11-20", "USD", {"CAD": D("1.3654"), "JPY": D("151.37"),
                                    "EUR": D("0.9205")}, "ECB")


def price(base: str, currency: str, **rule: object) -> D:
    r = Rule(parse(str(rule.pop("formula", DEFAULT_FORMULA))), **rule)  # type: ignore[arg-type]
    return compute(marketplace="X", currency=currency, base=D(base), base_currency="USD",
                   rule=r, rates=RATES).result


def test_usd_to_cad_with_99_ending() -> None:
    d = compute(marketplace="CA", currency="CAD", base=D("19.99"), base_currency="USD",
                rule=Rule(parse(DEFAULT_FORMULA), ending=".99"), rates=RATES)
    # 19.99 × 1.3654 = 27.294346 -> next price ending .99
    assert d.raw == D("27.294346")
    assert d.result == D("27.99")
    assert d.rate == D("1.3654") and d.rate_as_of == "2026-11-20" and d.rate_source == "ECB"
    assert describe(d) == (
        "19.99 USD × 1.3654 (rate of 2026-11-20, ECB) + 0 = 27.294346 → ending .99 → 27.99 CAD"
    )


def test_usd_to_cad_with_tax_delta() -> None:
    # 24.99 × 1.3654 + 0.50 = 34.621746 -> 34.99
    assert price("24.99", "CAD", tax=D("0.50"), ending=".99") == D("34.99")


def test_jpy_has_no_decimals() -> None:
    # 19.99 × 151.37 = 3025.8863
    assert price("19.99", "JPY") == D("3026")
    assert price("19.99", "JPY").as_tuple().exponent == 0
    assert price("19.99", "JPY", ending="whole") == D("3026")
    assert price("10.00", "JPY") == D("1514")  # 1513.7 rounds half up


def test_99_ending_is_refused_for_jpy() -> None:
    with pytest.raises(PriceError) as e:
        price("19.99", "JPY", ending=".99")
    assert e.value.kind == "ending" and "JPY has no minor units" in e.value.message


def test_95_ending_and_whole() -> None:
    assert price("10", "USD", ending=".95") == D("10.95")
    assert price("10.96", "USD", ending=".95") == D("11.95")
    assert price("10.01", "USD", ending="whole") == D("11")
    assert price("10.005", "USD") == D("10.01")


def test_clamped_to_min_then_rounded() -> None:
    d = compute(marketplace="CA", currency="CAD", base=D("19.99"), base_currency="USD",
                rule=Rule(parse(DEFAULT_FORMULA), ending=".99", min=D("30"), max=D("40")),
                rates=RATES)
    assert d.result == D("30.99")
    assert d.rounding == "clamped to min 30, ending .99"
    assert (d.guard_min, d.guard_max) == (D("30"), D("40"))


def test_clamped_to_max_steps_down_to_an_ending_within_max() -> None:
    assert price("19.99", "CAD", ending=".99", max=D("25")) == D("24.99")


def test_no_ending_within_the_guards_is_an_error() -> None:
    with pytest.raises(PriceError) as e:
        price("19.99", "CAD", ending=".99", min=D("10.00"), max=D("10.50"))
    assert "no price ending .99 lies within the guards [10.00, 10.50] CAD" in e.value.message


def test_guard_trips_on_a_fixed_price() -> None:
    with pytest.raises(PriceError) as e:
        compute(marketplace="DE", currency="EUR", base=D("10"), base_currency="USD",
                rule=Rule(parse(DEFAULT_FORMULA), min=D("5"), max=D("250")), rates=RATES,
                fixed=D("500.00"))
    assert e.value.kind == "guard"
    assert str(e.value) == (
        "fixed price 500.00 EUR is outside the guards [5, 250]: "
        "change the price or the min/max guard"
    )


def test_fixed_jpy_price_with_cents_is_refused() -> None:
    with pytest.raises(PriceError, match="not a valid JPY amount"):
        compute(marketplace="JP", currency="JPY", base=D("1"), base_currency="USD",
                rule=Rule(parse(DEFAULT_FORMULA)), rates=RATES, fixed=D("1980.50"))


def test_min_above_max_is_an_error() -> None:
    with pytest.raises(PriceError, match="min 50 is greater than max 10"):
        price("10", "USD", min=D("50"), max=D("10"))


def test_missing_rate() -> None:
    with pytest.raises(PriceError) as e:
        price("10", "GBP")
    assert e.value.kind == "rate" and "no rate for GBP" in e.value.message


def test_cross_rate() -> None:
    assert RATES.rate("EUR", "CAD") == D("1.483324")  # 1.3654 / 0.9205, 6 places
    assert RATES.rate("USD", "USD") == 1


def test_negative_result_is_an_error() -> None:
    with pytest.raises(PriceError, match="not a positive price"):
        price("10", "USD", formula="base - 20")


def test_formula_error_carries_its_column() -> None:
    with pytest.raises(PriceError) as e:
        price("10", "USD", formula="base / (tax - tax)")
    assert e.value.kind == "formula" and e.value.column == 6


@pytest.fixture(scope="module")
def sample() -> DesiredState:
    state: DesiredState = load_desired(SAMPLE, today=dt.date(2026, 11, 22))
    return state


def listing(state: DesiredState, account: str, sku: str, code: str):  # type: ignore[no-untyped-def]
    mid = by_code(code).marketplace_id
    return next(x for x in state.listings
                if (x.key.account, x.key.sku, x.key.marketplace_id) == (account, sku, mid))


def offer(x) -> D:  # type: ignore[no-untyped-def]
    return x.attributes["purchasable_offer"][0]["our_price"][0]["schedule"][0]["value_with_tax"]


def test_per_sku_fixed_price_override(sample: DesiredState) -> None:
    x = listing(sample, "eu", "CB-OAK-L", "UK")
    assert offer(x) == D("64.99")
    assert x.derivations[0].override == "price fixed per SKU"
    # the other marketplaces still follow the rule: 59.99 × 0.9205 × 1.19 = 65.71... -> .95
    assert offer(listing(sample, "eu", "CB-OAK-L", "DE")) == D("65.95")


def test_per_sku_rule_override(sample: DesiredState) -> None:
    # UK rule for the knife: tax 2.50 and ending .95: 79.00 × 0.7912 × 1.20 + 2.50 = 77.50576
    x = listing(sample, "eu", "KNF-CHEF-8", "UK")
    assert offer(x) == D("77.95")
    assert x.derivations[0].override == "rule override per SKU"
    assert x.derivations[0].raw == D("77.50576")
    # US guards from the SKU win over the marketplace's (min 4.99, max 250)
    us = listing(sample, "na", "KNF-CHEF-8", "US")
    assert (us.price_min, us.price_max) == (D("69.99"), D("99.99"))


def test_marketplace_rules_in_the_sample(sample: DesiredState) -> None:
    assert offer(listing(sample, "na", "MUG-CER-12", "CA")) == D("20.99")  # 14.99×1.3654+0.50
    mx = listing(sample, "na", "MUG-CER-12", "MX")  # 14.99 × 17.214 × 1.08 -> whole
    assert offer(mx) == D("279.00") and mx.derivations[0].rounding == "whole"
    lp = listing(sample, "na", "ssnm001", "CA").attributes["list_price"]
    assert lp == [{"marketplace_id": "A2EUQ1WTGCTBG2", "currency": "CAD", "value": D("61.99")}]


@given(
    st.decimals(min_value=D("0.01"), max_value=D("5000"), places=2),
    st.decimals(min_value=D("0.01"), max_value=D("5000"), places=2),
    st.sampled_from([".99", ".95", "whole", "none"]),
    st.sampled_from(["CAD", "JPY", "EUR"]),
    st.one_of(st.none(), st.decimals(min_value=D("1"), max_value=D("100"), places=2)),
)
def test_price_is_monotonic_in_base(
    a: D, b: D, ending: str, currency: str, lo: D | None
) -> None:
    assume(not (currency == "JPY" and ending in (".99", ".95")))
    lo_, hi_ = (a, b) if a <= b else (b, a)
    rule = Rule(parse(DEFAULT_FORMULA), ending=ending, min=lo, max=D("900000"))
    p1 = compute(marketplace="X", currency=currency, base=lo_, base_currency="USD", rule=rule,
                 rates=RATES).result
    p2 = compute(marketplace="X", currency=currency, base=hi_, base_currency="USD", rule=rule,
                 rates=RATES).result
    assert p1 <= p2


def test_round_price_none_uses_minor_units() -> None:
    assert round_price(D("27.294346"), "none", "CAD") == D("27.29")
    assert round_price(D("3025.5"), "none", "JPY") == D("3026")
