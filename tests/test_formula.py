"""The price formula language: arithmetic over Decimal, never eval.

Covers precedence and unary minus, functions, exact Decimal results, every error with its
column (syntax, unknown variable, unknown function, division by zero, huge exponent, huge
numbers, deep nesting), and that Python code in a formula is just a syntax error.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from reconciler.catalog.formula import MAX_EXPONENT, FormulaError, parse

ENV = {"base": D("19.99"), "rate": D("1.3654"), "tax": D("0.50")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("base * rate + tax", D("27.794346")),
        ("base * (rate + tax)", D("19.99") * D("1.8654")),
        ("-base + 20", D("0.01")),
        ("--base", D("19.99")),
        ("2 + 3 * 4", D(14)),
        ("(2 + 3) * 4", D(20)),
        ("10 / 4", D("2.5")),
        ("1 - 2 - 3", D(-4)),
        ("2 ** 3", D(8)),
        ("-2 ** 2", D(-4)),
        ("max(base, 25) + min(tax, 1, 2)", D("25.50")),
        ("0.1 + 0.2", D("0.3")),
        (".5 * 2", D("1.0")),
    ],
)
def test_evaluates_exactly(text: str, expected: D) -> None:
    assert parse(text).evaluate(ENV) == expected


def test_variables_are_collected() -> None:
    assert parse("base * rate + tax * vat").variables == {"base", "rate", "tax", "vat"}


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("base * (rate + tax", "missing ')'", 19),
        ("base * ", "ends too early", 8),
        ("base rate", "unexpected 'rate'", 6),
        ("base $ 2", "unexpected character '$'", 6),
        ("1.2.3", "malformed number", 1),
        ("base ** 999999", f"exponent 999999 is too large (at most {MAX_EXPONENT})", 9),
        ("base ** rate", "must be a whole number", 9),
        ("abs(base)", "unknown function 'abs'", 1),
        ("__import__('os')", 'unexpected character "\'"', 12),
        ("__import__(1)", "unknown function '__import__'", 1),
        ("base.__class__", "unexpected character '.'", 5),
        ("lambda: 1", "unexpected character ':'", 7),
        ("9" * 31, "more than 30 digits", 1),
    ],
)
def test_syntax_errors_have_columns(text: str, message: str, column: int) -> None:
    with pytest.raises(FormulaError) as e:
        parse(text)
    assert message in e.value.message
    assert e.value.column == column


def test_unknown_variable_names_the_known_ones() -> None:
    f = parse("base * rate + cogs")
    with pytest.raises(FormulaError) as e:
        f.check_names({"base", "rate", "tax"})
    assert e.value.message == "unknown variable 'cogs' (known: base, rate, tax)"
    assert e.value.column == 15


def test_division_by_zero() -> None:
    with pytest.raises(FormulaError) as e:
        parse("base / (tax - tax)").evaluate(ENV)
    assert e.value.message == "division by zero" and e.value.column == 6


@pytest.mark.parametrize("text", ["base * 999999999999", "999999 ** 4", "1000000000001"])
def test_huge_numbers_are_refused(text: str) -> None:
    with pytest.raises(FormulaError, match="too large"):
        parse(text).evaluate(ENV)


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(FormulaError, match="nested deeper"):
        parse("(" * 100 + "1" + ")" * 100)
    with pytest.raises(FormulaError, match="nested deeper"):
        parse("-" * 100 + "1")


def test_too_long_is_refused() -> None:
    with pytest.raises(FormulaError, match="longer than"):
        parse("1 + " * 200 + "1")


def test_missing_variable_at_evaluation() -> None:
    with pytest.raises(FormulaError, match="unknown variable 'vat'"):
        parse("base * vat").evaluate(ENV)


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("base * rate²", 12),  # superscript two
        ("base * ①", 8),  # circled one
        ("base * ٣", 8),  # Arabic-Indic three
        ("base * ۳", 8),  # extended Arabic-Indic three
        ("base * rate + ½", 15),
        ("base * १०", 8),  # Devanagari
    ],
)
def test_non_ascii_digits_are_a_clear_error(text: str, column: int) -> None:
    with pytest.raises(FormulaError) as ei:
        parse(text)
    assert ei.value.column == column
    assert "is not one of the digits 0-9" in ei.value.message


def test_non_ascii_letters_are_not_names() -> None:
    with pytest.raises(FormulaError) as ei:
        parse("b\u0430se * rate")  # Cyrillic a: looks like base
    assert ei.value.column == 2 and "U+0430" in ei.value.message
