"""The formula grammar path by path (tests/test_formula.py has the worked examples).

Each test takes one path of the tokenizer or the parser that the worked examples do not: ``**``
written without spaces, unary ``+``, unbalanced argument lists, variables found under ``**``,
unary minus and function calls, and every limit at its exact boundary (length, digits, nesting,
exponent, magnitude).
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from reconciler.catalog.formula import (
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_MAGNITUDE,
    FormulaError,
    parse,
)

ENV = {"base": D("19.99"), "rate": D("1.3654"), "tax": D("0.50")}


def _error(text: str, env: dict[str, D] | None = None) -> FormulaError:
    with pytest.raises(FormulaError) as e:
        f = parse(text)
        if env is not None:
            f.evaluate(env)
    return e.value


# --------------------------------------------------------------------------- tokens


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2**3", D(8)),
        ("base**2", D("19.99") ** 2),
        ("(base+1)**2", D("20.99") ** 2),
        ("2 **3", D(8)),
        ("2** 3", D(8)),
        ("base\t*\t2", D("39.98")),
        ("5. + 1", D(6)),
        ("2*3**2", D(18)),
    ],
)
def test_tokens_without_spaces_and_with_tabs(text: str, expected: D) -> None:
    assert parse(text).evaluate(ENV) == expected


def test_names_take_letters_digits_and_underscores_in_any_case() -> None:
    f = parse("FX_rate2 * _base + X")
    assert f.variables == {"FX_rate2", "_base", "X"}
    assert f.evaluate({"FX_rate2": D(2), "_base": D(3), "X": D(1)}) == D(7)


def test_a_lone_dot_is_not_a_number() -> None:
    e = _error("1 + .")
    assert (e.message, e.column) == ("unexpected character '.'", 5)
    e = _error("base.5")
    assert e.column == 5  # "base" then ".5": a number right after a name


def test_digits_limit_counts_digits_not_the_dot() -> None:
    assert parse("9" * MAX_DIGITS).tree == ("num", 1, D("9" * MAX_DIGITS))
    assert parse("0." + "0" * (MAX_DIGITS - 2) + "1").evaluate({}) == D("1e-29")
    e = _error("1." + "2" * MAX_DIGITS)
    assert (e.message, e.column) == (f"number 1.2222222222... has more than {MAX_DIGITS} digits", 1)


def test_length_limit_is_inclusive() -> None:
    text = "1" + " " * (MAX_LENGTH - 1)
    assert len(text) == MAX_LENGTH and parse(text).evaluate({}) == 1
    e = _error(text + " ")
    assert (e.message, e.column) == (f"formula is longer than {MAX_LENGTH} characters", 0)
    assert str(e) == f"formula is longer than {MAX_LENGTH} characters"  # no column in the text


def test_error_text_carries_the_column() -> None:
    e = _error("base $ 2")
    assert str(e) == "unexpected character '$' (column 6)"


# --------------------------------------------------------------------------- unary


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+base", D("19.99")),
        ("+-base", D("-19.99")),
        ("-+base", D("-19.99")),
        ("2 * +3", D(6)),
        ("2 - -3", D(5)),
        ("-(base - 20)", D("0.01")),
    ],
)
def test_unary_plus_and_minus(text: str, expected: D) -> None:
    assert parse(text).evaluate(ENV) == expected


def test_nesting_limit_is_exact() -> None:
    ok = "(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH
    assert parse(ok).evaluate({}) == 1
    e = _error("(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1))
    assert e.message == f"formula is nested deeper than {MAX_DEPTH} levels"
    assert e.column == MAX_DEPTH + 2  # the token after the last "(" that fits
    assert parse("-" * (MAX_DEPTH + 1) + "1").evaluate({}) == -1
    e = _error("-" * (MAX_DEPTH + 2) + "1")
    assert (e.message, e.column) == (
        f"formula is nested deeper than {MAX_DEPTH} levels", MAX_DEPTH + 2
    )


def test_function_arguments_count_as_nesting() -> None:
    deep = "max(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH
    assert parse(deep).evaluate({}) == 1
    with pytest.raises(FormulaError, match="nested deeper"):
        parse("max(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1))


# --------------------------------------------------------------------------- power


def test_exponent_limit_is_inclusive() -> None:
    assert parse(f"2 ** {MAX_EXPONENT}").evaluate({}) == 2**MAX_EXPONENT
    assert parse("base ** 0").evaluate(ENV) == 1
    e = _error(f"2 ** {MAX_EXPONENT + 1}")
    assert (e.message, e.column) == (
        f"exponent {MAX_EXPONENT + 1} is too large (at most {MAX_EXPONENT})", 6
    )


@pytest.mark.parametrize(
    ("text", "column"), [("base ** 2.0", 9), ("base ** -2", 9), ("base **", 8), ("2 ** (2)", 6)]
)
def test_the_exponent_is_a_whole_literal(text: str, column: int) -> None:
    e = _error(text)
    assert e.message == f"the exponent after ** must be a whole number 0..{MAX_EXPONENT}"
    assert e.column == column


def test_a_too_large_power_names_the_column_of_its_operator() -> None:
    e = _error("1 + 9999 ** 4", ENV)
    assert e.message == f"result is too large (over {MAX_MAGNITUDE:,.0f})"
    assert e.column == 10


# --------------------------------------------------------------------------- argument lists


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("max(1, 2", "missing ')' before the end of the formula", 9),
        ("max(1 2)", "expected ')', found '2'", 7),
        ("max(1,)", "unexpected ')'", 7),
        ("max()", "unexpected ')'", 5),
        ("max(,1)", "unexpected ','", 5),
        ("min(1, 2))", "unexpected ')'", 10),
        ("(1 + 2", "missing ')' before the end of the formula", 7),
        ("(1 + 2 3)", "expected ')', found '3'", 8),
        ("1)", "unexpected ')'", 2),
        ("()", "unexpected ')'", 2),
        ("max 1", "unexpected '1'", 5),
        ("1 +", "formula ends too early (missing operand?)", 4),
        ("", "formula ends too early (missing operand?)", 1),
        ("abs(1)", "unknown function 'abs' (known: min, max)", 1),
    ],
)
def test_unbalanced_and_malformed_argument_lists(text: str, message: str, column: int) -> None:
    e = _error(text)
    assert (e.message, e.column) == (message, column)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max(1, 2, 3)", D(3)),
        ("max(3, 2, 1)", D(3)),
        ("min(3, 1, 2)", D(1)),
        ("min(2)", D(2)),
        ("max(-base, tax)", D("0.50")),
        ("min(base, max(tax, 1)) * 2", D(2)),
    ],
)
def test_function_calls(text: str, expected: D) -> None:
    assert parse(text).evaluate(ENV) == expected


# --------------------------------------------------------------------------- variables


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("-cogs", 2),
        ("cogs ** 2", 1),
        ("-cogs ** 2", 2),
        ("1 + +cogs", 6),
        ("max(1, cogs)", 8),
        ("min(max(2, (cogs)), 1)", 13),
        ("base / cogs", 8),
    ],
)
def test_variables_are_found_under_every_operator(text: str, column: int) -> None:
    f = parse(text)
    assert "cogs" in f.variables
    with pytest.raises(FormulaError) as e:
        f.check_names({"base", "rate", "tax"})
    assert (e.value.message, e.value.column) == (
        "unknown variable 'cogs' (known: base, rate, tax)", column
    )
    f.check_names({"base", "cogs"})  # known: no error
    with pytest.raises(FormulaError) as e:
        f.evaluate({"base": D(1)})
    assert (e.value.message, e.value.column) == ("unknown variable 'cogs'", column)


def test_variables_under_power_and_minus_are_evaluated() -> None:
    env = {"c": D(3)}
    assert parse("c ** 2").evaluate(env) == 9
    assert parse("-c ** 2").evaluate(env) == -9
    assert parse("-c").evaluate(env) == -3
    assert parse("(c) ** 3").evaluate(env) == 27


def test_variables_of_a_formula_are_exactly_its_names() -> None:
    assert parse("-a ** 2 + max(b, -c) / (d)").variables == {"a", "b", "c", "d"}
    assert parse("1 + 2").variables == frozenset()


def test_evaluation_is_in_decimal() -> None:
    result = parse("x / 4").evaluate({"x": D(2)})
    assert isinstance(result, D) and result == D("0.5")


# --------------------------------------------------------------------------- magnitude


def test_magnitude_limit_is_inclusive_both_ways() -> None:
    assert parse("1000000000000").evaluate({}) == MAX_MAGNITUDE
    assert parse("0 - 1000000000000").evaluate({}) == -MAX_MAGNITUDE
    for text, column in [("0 - 1000000000000 - 1", 19), ("1000000000000 + 1", 15),
                         ("1000000 * 1000001", 9), ("1 / 0.0000000000001", 3)]:
        e = _error(text, {})
        assert (e.message, e.column) == (f"result is too large (over {MAX_MAGNITUDE:,.0f})", column)
    e = _error("x", {"x": D("-1000000000001")})
    assert (e.message, e.column) == (f"result is too large (over {MAX_MAGNITUDE:,.0f})", 1)


def test_division_by_an_expression_that_is_zero() -> None:
    e = _error("1 + base / (rate - rate)", ENV)
    assert (e.message, e.column) == ("division by zero", 10)
    assert parse("0 / base").evaluate(ENV) == 0


def test_a_number_may_start_with_a_dot_anywhere() -> None:
    assert parse("1 + .5").evaluate({}) == D("1.5")
    assert parse(".5").evaluate({}) == D("0.5")


def test_zero_to_the_power_zero_is_an_arithmetic_error_at_its_operator() -> None:
    e = _error("1 + (base - base) ** 0", ENV)
    assert (e.message, e.column) == ("arithmetic error (InvalidOperation)", 19)
