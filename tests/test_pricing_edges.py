"""Pricing at its edges (tests/test_pricing.py has the worked numbers).

A price of exactly 0 (from a formula or fixed) is refused; guards are inclusive (a result or a
fixed price equal to ``min`` or ``max`` is kept, and not reported as clamped); list prices
(``clamp=False``) ignore the guards; rates in every direction; the derivation a plan shows,
field by field; the rounding endings at their limits.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from reconciler.catalog.formula import parse
from reconciler.catalog.pricing import (
    DEFAULT_FORMULA,
    PriceError,
    Rates,
    Rule,
    check_guards,
    compute,
    quantum,
    round_price,
)
from reconciler.kernel.model import PriceDerivation

RATES = Rates("2026-11-20", "USD", {"CAD": D("1.3654"), "JPY": D("151.37"),
                                    "EUR": D("0.9205")}, "ECB")


def derive(base: str, currency: str = "USD", *, fixed: str | None = None, clamp: bool = True,
           note: str = "", **rule: object) -> PriceDerivation:
    r = Rule(parse(str(rule.pop("formula", DEFAULT_FORMULA))), **rule)  # type: ignore[arg-type]
    return compute(marketplace="X", currency=currency, base=D(base), base_currency="USD",
                   rule=r, rates=RATES, fixed=None if fixed is None else D(fixed), clamp=clamp,
                   note=note)


def error(base: str, currency: str = "USD", **kw: object) -> PriceError:
    with pytest.raises(PriceError) as e:
        derive(base, currency, **kw)  # type: ignore[arg-type]
    return e.value


# --------------------------------------------------------------------------- a price of 0


def test_a_formula_that_gives_exactly_zero_is_refused() -> None:
    e = error("10.00", formula="base - 10")
    assert e.kind == "price"
    assert e.message == (
        "formula gives 0 USD, not a positive price; set a min guard or fix the formula"
    )
    # a .99 ending rounds 0 up to 0.99, a positive price
    assert derive("10.00", formula="base - 10", ending=".99").result == D("0.99")


def test_a_formula_result_that_rounds_to_zero_is_refused() -> None:
    e = error("10.00", formula="base - 9.999")  # 0.001 -> 0.00
    assert e.kind == "price" and e.message.startswith("formula gives 0.001 USD, not a positive")


def test_whole_ending_of_zero_lies_within_no_guard() -> None:
    with pytest.raises(PriceError) as e:
        round_price(D(0), "whole", "USD")
    assert e.value.kind == "ending"
    assert e.value.message == "no price ending whole lies within the guards [-, -] USD"
    assert round_price(D("0.01"), "whole", "USD") == D(1)


def test_a_fixed_price_of_zero_is_refused() -> None:
    e = error("10", fixed="0")
    assert (e.kind, e.message) == ("price", "price must be positive, got 0 USD")
    e = error("10", fixed="-1.00")
    assert (e.kind, e.message) == ("price", "price must be positive, got -1.00 USD")
    assert derive("10", fixed="0.01").result == D("0.01")


# --------------------------------------------------------------------------- guards


def test_a_result_equal_to_a_guard_is_not_clamped() -> None:
    at_min = derive("10.00", min=D("10.00"), max=D("20.00"))
    assert (at_min.result, at_min.rounding) == (D("10.00"), "minor units")
    at_max = derive("20.00", min=D("10.00"), max=D("20.00"))
    assert (at_max.result, at_max.rounding) == (D("20.00"), "minor units")
    below = derive("9.99", min=D("10.00"), max=D("20.00"))
    assert (below.result, below.rounding) == (D("10.00"), "clamped to min 10.00, minor units")
    above = derive("20.01", min=D("10.00"), max=D("20.00"))
    assert (above.result, above.rounding) == (D("20.00"), "clamped to max 20.00, minor units")


def test_a_fixed_price_equal_to_a_guard_is_kept() -> None:
    assert derive("1", fixed="5.00", min=D("5.00"), max=D("9.00")).result == D("5.00")
    assert derive("1", fixed="9.00", min=D("5.00"), max=D("9.00")).result == D("9.00")
    e = error("1", fixed="4.99", min=D("5.00"), max=D("9.00"))
    assert e.kind == "guard" and e.message.startswith("fixed price 4.99 USD is outside")
    e = error("1", fixed="4.99", min=D("5.00"))
    assert (e.kind, e.message) == (
        "guard",
        "fixed price 4.99 USD is outside the guards [5.00, -]: change the price or the min/max "
        "guard",
    )
    assert derive("1", fixed="99.00", min=D("5.00")).result == D("99.00")


def test_a_fixed_price_only_under_max() -> None:
    e = error("1", fixed="9.01", max=D("9.00"))
    assert (e.kind, e.message) == (
        "guard",
        "fixed price 9.01 USD is outside the guards [-, 9.00]: change the price or the min/max "
        "guard",
    )


def test_equal_guards_are_allowed_and_min_above_max_is_not() -> None:
    check_guards(D(5), D(5), "USD")
    check_guards(None, D(5), "USD")
    check_guards(D(5), None, "USD")
    with pytest.raises(PriceError) as e:
        check_guards(D("5.01"), D(5), "CAD")
    assert (e.value.kind, e.value.message) == ("guard", "min 5.01 is greater than max 5 (CAD)")


def test_list_prices_ignore_the_guards() -> None:
    d = derive("50.00", clamp=False, min=D("5"), max=D("20"))
    assert d.result == D("50.00") and d.rounding == "minor units"
    assert (d.guard_min, d.guard_max) == (D("5"), D("20"))  # shown, not applied
    assert derive("1", fixed="50.00", clamp=False, max=D("20")).result == D("50.00")
    assert derive("1", clamp=False, min=D("9"), max=D("3")).result == D("1.00")  # not checked


def test_rounding_steps_down_to_exactly_max() -> None:
    assert round_price(D("24.50"), ".99", "CAD", hi=D("24.99")) == D("24.99")
    assert round_price(D("10.99"), ".99", "CAD", lo=D("10.99"), hi=D("11.50")) == D("10.99")
    with pytest.raises(PriceError) as e:
        round_price(D("0.50"), ".99", "CAD", hi=D("0.90"))
    assert e.value.message == "no price ending .99 lies within the guards [-, 0.90] CAD"


# --------------------------------------------------------------------------- endings


def test_rounded_prices_carry_the_currency_minor_units() -> None:
    assert str(derive("10.01", ending="whole").result) == "11.00"
    assert str(derive("10.01", "JPY", ending="whole").result) == "1516"
    assert str(derive("10.00", ending=".95").result) == "10.95"
    assert str(derive("10", fixed="30").result) == "30.00"


def test_unknown_ending() -> None:
    with pytest.raises(PriceError) as e:
        round_price(D("10"), ".49", "USD")
    assert (e.value.kind, e.value.message) == (
        "ending", "unknown ending '.49' (one of .99, .95, whole, none)"
    )


def test_95_ending_is_refused_for_a_currency_without_cents() -> None:
    with pytest.raises(PriceError) as e:
        round_price(D("1000"), ".95", "JPY")
    assert e.value.message == (
        "ending .95 needs a currency with cents; JPY has no minor units (use ending: whole or "
        "none)"
    )


def test_quantum_of_known_and_unknown_currencies() -> None:
    assert quantum("USD") == D("0.01") and quantum("JPY") == D(1) and quantum("KRW") == D(1)
    assert quantum("XYZ") == D("0.01")


def test_none_ending_rounds_half_up() -> None:
    assert round_price(D("10.125"), "none", "USD") == D("10.13")
    assert round_price(D("2.5"), "none", "JPY") == D(3)


# --------------------------------------------------------------------------- rates


def test_rates_in_every_direction() -> None:
    assert RATES.rate("USD", "CAD") == D("1.3654")
    assert RATES.rate("CAD", "USD") == D("0.732386")  # 1 / 1.3654, 6 places
    assert RATES.rate("CAD", "CAD") == 1
    assert RATES.rate("JPY", "EUR") == D("0.006081")
    with pytest.raises(PriceError) as e:
        RATES.rate("GBP", "CAD")
    assert (e.value.kind, e.value.message) == ("rate", "rates.yaml has no rate for GBP (base USD)")
    with pytest.raises(PriceError, match="no rate for CHF"):
        RATES.rate("USD", "CHF")


# --------------------------------------------------------------------------- derivations


def test_the_derivation_of_a_formula_price() -> None:
    d = compute(marketplace="CA", currency="CAD", base=D("10.00"), base_currency="EUR",
                rule=Rule(parse("base * rate * markup + tax"), tax=D("0.50"), ending=".95",
                          min=D("1"), max=D("100"), vars={"markup": D("1.1")}),
                rates=RATES, note="rule override per SKU")
    # EUR -> CAD 1.483324; 10.00 × 1.483324 × 1.1 + 0.50 = 16.8165640 -> 16.95
    assert d == PriceDerivation(
        marketplace="CA", currency="CAD", formula="base * rate * markup + tax", base=D("10.00"),
        base_currency="EUR", rate=D("1.483324"), rate_as_of="2026-11-20", rate_source="ECB",
        tax_delta=D("0.50"), raw=D("16.816564"), rounding="ending .95", result=D("16.95"),
        guard_min=D("1"), guard_max=D("100"), override="rule override per SKU",
        vars=(("markup", D("1.1")),),  # the rule's own variables, shown in the derivation
    )


def test_the_derivation_of_a_fixed_price() -> None:
    d = derive("10", "CAD", fixed="12.50", min=D("1"), max=D("100"))
    assert d == PriceDerivation(
        # a fixed price used no rate: no rate date or source to show (issue 12 item 2)
        marketplace="X", currency="CAD", formula="fixed", base=D("12.50"), base_currency="CAD",
        rate=D(1), rate_as_of="", rate_source="", tax_delta=D(0), raw=D("12.50"),
        rounding="fixed", result=D("12.50"), guard_min=D("1"), guard_max=D("100"),
        override="price fixed per SKU",
    )
    assert derive("10", fixed="12.50", note="sale").override == "sale"


def test_raw_is_shown_with_at_most_six_places_and_no_exponent() -> None:
    assert str(derive("1000", formula="base * 1").raw) == "1000"
    assert str(derive("20.00").raw) == "20"
    assert str(derive("1", formula="base / 3").raw) == "0.333333"
    assert derive("20.00", ending="whole").rounding == "whole"


def test_formula_errors_become_price_errors() -> None:
    e = error("10", formula="base * fx")
    assert (e.kind, e.message, e.column) == ("formula", "unknown variable 'fx'", 8)


def test_a_fixed_price_finer_than_the_currency_is_a_price_error() -> None:
    e = error("1", "JPY", fixed="1980.50")
    assert (e.kind, e.message) == ("price", "1980.50 is not a valid JPY amount (smallest unit 1)")


def test_a_rule_knows_the_builtin_variables_and_its_own() -> None:
    rule = Rule(parse("base * markup"), vars={"markup": D("1.1"), "fee": D(2)})
    assert rule.known_names() == {"base", "rate", "tax", "markup", "fee"}
    assert Rule(parse("base")).known_names() == {"base", "rate", "tax"}
