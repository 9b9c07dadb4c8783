"""Price derivations say how a price was made, and what they say is true (issue 12, item 2).

- the printed expression is the rule's own formula with every variable's value substituted;
  evaluated, it gives exactly the printed raw value, for every shape of the formula grammar
  (hypothesis builds the formulas: numbers, variables, unary minus, + - * /, powers, min/max,
  parentheses), through ``pricing.compute`` and ``PriceDerivation.describe``;
- a fixed per-SKU price says so, with no rate and no formula;
- the sample's UK and MX derivations in tests/golden show the VAT factor and the margin;
- the plan shows each price move in percent, a word diff of a long text change, and a
  location's catalog name next to its supply-source id.
"""

from __future__ import annotations

import re
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reconciler.catalog.formula import FormulaError, parse
from reconciler.catalog.pricing import PriceError, Rates, Rule, compute, describe
from reconciler.kernel.model import FieldChange
from reconciler.plan import render
from tests.core_builders import CA, LOC_A, LOC_B, US, desired, key, live_of, state

GOLDEN = Path(__file__).resolve().parent / "golden"
RATES = Rates("2026-11-20", "USD", {"GBP": D("0.7912"), "MXN": D("17.2140")}, "ECB test")
VARS = ("base", "rate", "tax", "vat", "margin")

# ------------------------------------------------------------------ formulas of every shape

numbers = st.decimals(min_value=D("0"), max_value=D("99.99"), places=2).map(str)
values = st.decimals(min_value=D("-50"), max_value=D("50"), places=4)


def _formulas() -> st.SearchStrategy[str]:
    leaves = st.one_of(numbers, st.sampled_from(VARS))

    def grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(" ".join),
            inner.map(lambda x: f"-{x}"),
            inner.map(lambda x: f"({x})"),
            st.tuples(inner, st.integers(0, 3)).map(lambda t: f"({t[0]}) ** {t[1]}"),
            st.tuples(st.sampled_from(["min", "max"]), st.lists(inner, min_size=1, max_size=3))
            .map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        )

    return st.recursive(leaves, grow, max_leaves=8)


def _env(draw_values: list[D]) -> dict[str, D]:
    return dict(zip(VARS, draw_values, strict=True))


def _evaluate_printed(expression: str) -> D:
    """Evaluate a derivation's printed expression: drop the notes after values (the base's
    currency, where the rate comes from), read × as *."""
    text = re.sub(r" [A-Z]{3}\b", "", expression)
    text = re.sub(r" \((?:rate of|same currency)[^()]*\)", "", text)
    return parse(text.replace("×", "*")).evaluate({})


@settings(max_examples=300, deadline=None)
@given(_formulas(), st.lists(values, min_size=len(VARS), max_size=len(VARS)))
def test_substituted_expression_evaluates_to_the_same_value(text: str, vals: list[D]) -> None:
    try:
        f = parse(text)
        want = f.evaluate(_env(vals))
    except FormulaError:
        assume(False)
        return
    from reconciler.catalog.formula import substituted

    shown = substituted(f, _env(vals))
    assert not re.search(r"[a-z]", shown.replace("min(", "").replace("max(", ""))
    assert parse(shown.replace("×", "*")).evaluate({}) == want


@settings(max_examples=300, deadline=None)
@given(
    _formulas(),
    st.decimals(min_value=D("0.01"), max_value=D("500"), places=2),
    st.lists(values, min_size=2, max_size=2),
    st.sampled_from([("GBP", ".99"), ("MXN", "whole"), ("USD", "none")]),
)
def test_printed_derivation_evaluates_to_the_printed_raw_value(
    text: str, base: D, extra: list[D], market: tuple[str, str]
) -> None:
    currency, ending = market
    try:
        f = parse(text)
        f.check_names(VARS)
    except FormulaError:
        assume(False)
        return
    rule = Rule(f, tax=D("0.50"), ending=ending, min=D("1"), max=D("9999"),
                vars={"vat": extra[0], "margin": extra[1]})
    try:
        d = compute(marketplace="X", currency=currency, base=base, base_currency="USD",
                    rule=rule, rates=RATES)
    except PriceError:
        assume(False)
        return
    line = describe(d)
    m = re.fullmatch(r"(.*) ([=≈]) (-?[0-9.]+) → .* → [0-9.]+ [A-Z]{3}", line)
    assert m, line
    expression, relation, raw = m.group(1), m.group(2), D(m.group(3))
    assert raw == d.raw
    value = _evaluate_printed(expression)
    if relation == "=":
        assert value == raw, line
    else:  # shown cut to 6 decimals, and says so
        assert value != raw and abs(value - raw) <= D("0.0000005"), line
    # every variable of the formula shows its value, never its name
    assert not (set(re.findall(r"[a-z_]+", expression)) - {"min", "max", "rate", "of", "same",
                                                           "currency", "test"})


def test_uk_derivation_shows_the_vat_factor() -> None:
    rule = Rule(parse("base * rate * (1 + vat) + tax"), ending=".99", vars={"vat": D("0.20")})
    d = compute(marketplace="UK", currency="GBP", base=D("16.50"), base_currency="USD",
                rule=rule, rates=RATES)
    assert describe(d) == (
        "16.50 USD × 0.7912 (rate of 2026-11-20, ECB test) × (1 + 0.20) + 0 = 15.66576 → "
        "ending .99 → 15.99 GBP"
    )


def test_mx_derivation_shows_the_margin() -> None:
    rule = Rule(parse("base * rate * margin + tax"), ending="whole", vars={"margin": D("1.08")})
    d = compute(marketplace="MX", currency="MXN", base=D("29.99"), base_currency="USD",
                rule=rule, rates=RATES)
    assert describe(d) == (
        "29.99 USD × 17.2140 (rate of 2026-11-20, ECB test) × 1.08 + 0 = 557.5476888 → whole → "
        "558.00 MXN"
    )


def test_fixed_price_says_so_with_no_rate_and_no_formula() -> None:
    d = compute(marketplace="UK", currency="GBP", base=D(0), base_currency="USD",
                rule=Rule(parse("base * rate + tax")), rates=RATES, fixed=D("64.99"),
                note="price fixed per SKU")
    assert describe(d) == "price fixed per SKU: 64.99 GBP"


def test_inexact_results_say_approximately() -> None:
    d = compute(marketplace="X", currency="USD", base=D("10"), base_currency="USD",
                rule=Rule(parse("base / 3 + tax")), rates=RATES)
    assert "10 USD × " not in describe(d)
    assert describe(d).startswith("10 USD / 3 + 0 ≈ 3.333333 → minor units → 3.33 USD")


@pytest.mark.parametrize("name", ["sample-plan.txt", "sample-plan.md"])
def test_sample_goldens_show_the_real_uk_and_mx_formulas(name: str) -> None:
    text = (GOLDEN / name).read_text(encoding="utf-8")
    uk = [line for line in text.splitlines() if "16.50 USD × 0.7912" in line]
    mx = [line for line in text.splitlines() if "29.99 USD × 17.2140" in line]
    assert uk and all("× (1 + 0.20) + 0 = 15.66576 → ending .99 → 15.99 GBP" in x for x in uk)
    assert mx and all("× 1.08 + 0 = 557.5476888 → whole → 558.00 MXN" in x for x in mx)
    assert "tax Δ" not in text
    fixed = [line for line in text.splitlines() if "price fixed per SKU" in line]
    assert fixed and all(x.rstrip().endswith("price fixed per SKU: 64.99 GBP") for x in fixed)


# ------------------------------------------------------------------ what a change means


def test_price_moves_in_percent() -> None:
    d = desired("MUG-001", CA, price="26.99")
    have = live_of(desired("MUG-001", CA, price="19.99"), CA)
    from reconciler.plan.builder import build_plan

    plan = build_plan(state(d), {d.key: have})
    assert "purchasable_offer (CAD ALL): 19.99 CAD -> 26.99 CAD (+35.0%)" in render.text(plan)
    assert "| 19.99 CAD | 26.99 CAD (+35.0%) |" in render.markdown(plan)
    from reconciler.plan import changetext

    assert changetext.percent_move(D("100"), D("92.51")) == "-7.5%"
    assert changetext.percent_move(D("1000.00"), D("1000.01")) == "+<0.1%"
    assert changetext.percent_move(None, D("5")) == ""


def test_long_text_change_shows_the_words_that_changed() -> None:
    old = "Bamboo Cutting Board, Medium 35 x 25 cm, Reversible with Juice Groove - NEW!!"
    new = "Bamboo Cutting Board, Medium 35 x 25 cm, Reversible with Deep Juice Groove"
    d = desired("CB-1", CA, title=new)
    have = live_of(desired("CB-1", CA, title=old), CA)
    from reconciler.plan.builder import build_plan

    plan = build_plan(state(d), {d.key: have})
    txt = render.text(plan)
    assert "words: … cm, Reversible with {+Deep+} Juice Groove [-- NEW!!-]" in txt
    md = render.markdown(plan)
    assert "Reversible with <ins>Deep</ins> Juice Groove <del>- NEW&#33;&#33;</del>" in md
    coloured = render.text(plan, color=True)
    assert "\x1b[31m[-- NEW!!-]\x1b[0m" in coloured


def test_short_text_changes_have_no_word_diff() -> None:
    from reconciler.plan import changetext

    f = FieldChange("item_name", (), [{"value": "Mug"}], [{"value": "Cup"}])
    assert changetext.text_change(f) is None


def test_word_diff_escapes_hostile_words() -> None:
    old = "A perfectly ordinary mug for the kitchen table and the office"
    new = "A perfectly ordinary mug for the kitchen table </details><script>x</script> \x1b[31m"
    d = desired("EVIL-2", CA, title=new)
    have = live_of(desired("EVIL-2", CA, title=old), CA)
    from reconciler.plan.builder import build_plan

    plan = build_plan(state(d), {d.key: have})
    md = render.markdown(plan)
    assert "<script>" not in md and md.count("</details>") == md.count("<details>")
    assert "\x1b" not in render.text(plan)


def test_locations_show_their_catalog_name() -> None:
    from dataclasses import replace

    from reconciler.plan.builder import build_plan
    from reconciler.plan.value import Plan

    d = desired("ssnm001", US, qty={LOC_A: 10, LOC_B: 5})
    have = live_of(desired("ssnm001", US, qty={}), US)
    st_ = replace(state(d), location_names={LOC_A: "newark", LOC_B: "reno", "x": "unused"})
    plan = build_plan(st_, {key("ssnm001", US): have})
    assert plan.locations == {LOC_A: "newark", LOC_B: "reno"}
    txt = render.text(plan)
    assert "fulfillment_availability (newark (353e4e48…)): (absent) -> 10" in txt
    assert "| newark (353e4e48…) | — | 10 |" in render.markdown(plan)
    again = Plan.from_data(plan.data())  # a saved plan keeps the names
    assert again.locations == plan.locations and render.text(again) == txt
    from reconciler.plan import changetext

    assert changetext.location_label("ca-yyz-dc1", {"ca-yyz-dc1": "toronto"}) == (
        "toronto (ca-yyz-dc1)"
    )
    assert changetext.location_label(LOC_A, {}) == LOC_A
