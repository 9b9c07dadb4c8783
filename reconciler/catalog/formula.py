"""A small, safe arithmetic language for price formulas, evaluated over Decimal.

Formulas come from the catalog (untrusted pull requests), so they are parsed by hand, never
passed to ``eval``. The language::

    expr   := term (("+" | "-") term)*
    term   := unary (("*" | "/") unary)*
    unary  := ("-" | "+") unary | power
    power  := atom ("**" INTEGER)?          exponent: a whole literal 0..MAX_EXPONENT
    atom   := NUMBER | NAME | NAME "(" expr ("," expr)* ")" | "(" expr ")"

Numbers are ASCII digits and names ASCII letters, digits and ``_``: ``²``, ``①``, Arabic-Indic
digits and look-alike letters are errors with their column, never numbers or names.

Functions: ``min(a, b, ...)``, ``max(a, b, ...)``. Names are variables supplied at evaluation
(pricing uses ``base``, ``rate``, ``tax`` and any ``vars`` of the rule). Every error is a
:class:`FormulaError` with a 1-based column: syntax errors, unknown variables (checked when
the caller gives the known names), division by zero, and numbers beyond :data:`MAX_MAGNITUDE`
(no formula may compute astronomically large values, on purpose or by accident).

Pure: no I/O.
"""

from __future__ import annotations

import decimal
import string
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

MAX_LENGTH = 500
MAX_DEPTH = 40
MAX_EXPONENT = 4
MAX_DIGITS = 30
MAX_MAGNITUDE = Decimal(10) ** 12
FUNCTIONS = ("min", "max")
_CTX = decimal.Context(
    prec=28,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)


class FormulaError(ValueError):
    """A formula problem. ``column`` is 1-based (0 when not tied to a place)."""

    def __init__(self, message: str, column: int = 0) -> None:
        self.message = message
        self.column = column
        super().__init__(f"{message} (column {column})" if column else message)


# An AST node is a tuple: ("num", col, Decimal) | ("var", col, name) | ("neg", col, node)
# | ("bin", col, op, left, right) | ("pow", col, node, int) | ("call", col, name, args)
Node = tuple[Any, ...]


@dataclass(frozen=True)
class Formula:
    text: str
    tree: Node
    variables: frozenset[str]

    def check_names(self, known: Collection[str]) -> None:
        """Raise FormulaError for the first variable not in ``known``."""
        for node in _walk(self.tree):
            if node[0] == "var" and node[2] not in known:
                names = ", ".join(sorted(known))
                raise FormulaError(
                    f"unknown variable {node[2]!r} (known: {names})", node[1]
                )

    def evaluate(self, env: Mapping[str, Decimal]) -> Decimal:
        with decimal.localcontext(_CTX):
            return _eval(self.tree, env)


def parse(text: str) -> Formula:
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"formula is longer than {MAX_LENGTH} characters")
    p = _Parser(text)
    tree = p.expr(0)
    tok = p.peek()
    if tok[0] != "end":
        raise FormulaError(f"unexpected {tok[2]!r}", tok[1])
    names = frozenset(n[2] for n in _walk(tree) if n[0] == "var")
    return Formula(text, tree, names)


def _walk(node: Node) -> list[Node]:
    out = [node]
    kind = node[0]
    if kind == "neg":
        out += _walk(node[2])
    elif kind == "bin":
        out += _walk(node[3]) + _walk(node[4])
    elif kind == "pow":
        out += _walk(node[2])
    elif kind == "call":
        for a in node[3]:
            out += _walk(a)
    return out


_DIGITS = frozenset("0123456789")
_NAME_START = frozenset(string.ascii_letters + "_")
_NAME_CHARS = _NAME_START | _DIGITS


def _shown(c: str) -> str:
    """A character for a message: printable ones quoted, others as their code point."""
    if c.isascii() and c.isprintable():
        return repr(c)
    return f"{c!r} (U+{ord(c):04X})" if c.isprintable() else f"U+{ord(c):04X}"


def _tokens(text: str) -> list[tuple[str, int, str]]:
    toks: list[tuple[str, int, str]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        col = i + 1
        if c in " \t":
            i += 1
        elif c in _DIGITS or (c == "." and i + 1 < n and text[i + 1] in _DIGITS):
            j = i
            while j < n and (text[j] in _DIGITS or text[j] == "."):
                j += 1
            lit = text[i:j]
            if lit.count(".") > 1:
                raise FormulaError(f"malformed number {lit!r}", col)
            if len(lit.replace(".", "")) > MAX_DIGITS:
                raise FormulaError(f"number {lit[:12]}... has more than {MAX_DIGITS} digits", col)
            toks.append(("num", col, lit))
            i = j
        elif c in _NAME_START:
            j = i
            while j < n and text[j] in _NAME_CHARS:
                j += 1
            toks.append(("name", col, text[i:j]))
            i = j
        elif text.startswith("**", i):
            toks.append(("op", col, "**"))
            i += 2
        elif c in "+-*/(),":
            toks.append(("op", col, c))
            i += 1
        elif unicodedata.numeric(c, None) is not None:  # ², ①, ٣, ½ ...
            raise FormulaError(
                f"{_shown(c)} is not one of the digits 0-9: formulas take ASCII digits only "
                "(write x ** 2, not x²)",
                col,
            )
        else:
            what = " (names are ASCII letters, digits and _)" if c.isalpha() else ""
            raise FormulaError(f"unexpected character {_shown(c)}{what}", col)
    toks.append(("end", n + 1, "end of formula"))
    return toks


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, int, str]:
        return self.toks[self.i]

    def take(self) -> tuple[str, int, str]:
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, op: str) -> None:
        t = self.take()
        if t[0] == "end":
            raise FormulaError(f"missing {op!r} before the end of the formula", t[1])
        if t[0] != "op" or t[2] != op:
            raise FormulaError(f"expected {op!r}, found {t[2]!r}", t[1])

    def expr(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise FormulaError(f"formula is nested deeper than {MAX_DEPTH} levels", self.peek()[1])
        left = self.term(depth)
        while self.peek()[0] == "op" and self.peek()[2] in ("+", "-"):
            _, col, op = self.take()
            left = ("bin", col, op, left, self.term(depth))
        return left

    def term(self, depth: int) -> Node:
        left = self.unary(depth)
        while self.peek()[0] == "op" and self.peek()[2] in ("*", "/"):
            _, col, op = self.take()
            left = ("bin", col, op, left, self.unary(depth))
        return left

    def unary(self, depth: int) -> Node:
        t = self.peek()
        if t[0] == "op" and t[2] in ("-", "+"):
            self.take()
            if depth > MAX_DEPTH:
                raise FormulaError(f"formula is nested deeper than {MAX_DEPTH} levels", t[1])
            inner = self.unary(depth + 1)
            return ("neg", t[1], inner) if t[2] == "-" else inner
        return self.power(depth)

    def power(self, depth: int) -> Node:
        base = self.atom(depth)
        t = self.peek()
        if t[0] == "op" and t[2] == "**":
            self.take()
            e = self.take()
            if e[0] != "num" or "." in e[2]:
                raise FormulaError(
                    f"the exponent after ** must be a whole number 0..{MAX_EXPONENT}", e[1]
                )
            n = int(e[2])
            if n > MAX_EXPONENT:
                raise FormulaError(f"exponent {n} is too large (at most {MAX_EXPONENT})", e[1])
            return ("pow", t[1], base, n)
        return base

    def atom(self, depth: int) -> Node:
        t = self.take()
        kind, col, text = t
        if kind == "num":
            return ("num", col, Decimal(text))
        if kind == "name":
            if self.peek()[0] == "op" and self.peek()[2] == "(":
                if text not in FUNCTIONS:
                    raise FormulaError(
                        f"unknown function {text!r} (known: {', '.join(FUNCTIONS)})", col
                    )
                self.take()
                args = [self.expr(depth + 1)]
                while self.peek()[0] == "op" and self.peek()[2] == ",":
                    self.take()
                    args.append(self.expr(depth + 1))
                self.expect(")")
                return ("call", col, text, tuple(args))
            return ("var", col, text)
        if kind == "op" and text == "(":
            inner = self.expr(depth + 1)
            self.expect(")")
            return inner
        if kind == "end":
            raise FormulaError("formula ends too early (missing operand?)", col)
        raise FormulaError(f"unexpected {text!r}", col)


def _check(value: Decimal, col: int) -> Decimal:
    if abs(value) > MAX_MAGNITUDE:
        raise FormulaError(f"result is too large (over {MAX_MAGNITUDE:,.0f})", col)
    return value


def _eval(node: Node, env: Mapping[str, Decimal]) -> Decimal:
    kind, col = node[0], node[1]
    try:
        if kind == "num":
            return _check(node[2], col)
        if kind == "var":
            name = node[2]
            if name not in env:
                raise FormulaError(f"unknown variable {name!r}", col)
            return _check(Decimal(env[name]), col)
        if kind == "neg":
            return -_eval(node[2], env)
        if kind == "pow":
            return _check(_eval(node[2], env) ** node[3], col)
        if kind == "call":
            values = [_eval(a, env) for a in node[3]]
            return min(values) if node[2] == "min" else max(values)
        op = node[2]
        a = _eval(node[3], env)
        b = _eval(node[4], env)
        if op == "+":
            return _check(a + b, col)
        if op == "-":
            return _check(a - b, col)
        if op == "*":
            return _check(a * b, col)
        if b == 0:
            raise FormulaError("division by zero", col)
        return _check(a / b, col)
    except (decimal.Overflow, decimal.InvalidOperation) as e:
        raise FormulaError(f"arithmetic error ({type(e).__name__})", col) from None


# --------------------------------------------------------------------------- display

_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
_SHOWN_OP = {"*": "×"}


def substituted(
    formula: Formula,
    env: Mapping[str, Decimal],
    notes: Mapping[str, str] | None = None,
) -> str:
    """``formula`` written out with every variable replaced by its value from ``env``, for a
    plan's derivation: ``base * rate * (1 + vat) + tax`` -> ``16.50 × 0.7912 × (1 + 0.20) + 0``.

    The tree is written back with exactly the parentheses it needs (left-associative ``+ -`` and
    ``* /``; a negative value in parentheses), so parsing the text (``×`` read as ``*``) gives
    the same tree and so, evaluated, exactly the same value. ``notes[name]`` is appended to the
    first occurrence of that variable (e.g. ``USD``), after a space; the caller strips nothing
    back out of it, so notes must not look like arithmetic."""
    pending = dict(notes or {})

    def value(d: Decimal) -> str:
        s = format(Decimal(d), "f")
        return f"({s})" if s.startswith("-") else s

    def show(node: Node) -> str:
        kind = node[0]
        if kind == "num":
            return value(node[2])
        if kind == "var":
            name = node[2]
            s = value(env[name])
            note = pending.pop(name, "")
            return f"{s} {note}" if note else s
        if kind == "neg":
            inner = node[2]
            text = show(inner)
            return f"-({text})" if inner[0] in ("bin", "neg") else f"-{text}"
        if kind == "pow":
            base = node[2]
            text = show(base)
            if base[0] in ("bin", "neg", "pow") or (base[0] != "call" and " " in text):
                text = f"({text})"
            return f"{text} ** {node[3]}"
        if kind == "call":
            return f"{node[2]}({', '.join(show(a) for a in node[3])})"
        op = node[2]
        left, right = node[3], node[4]
        lt, rt = show(left), show(right)
        if left[0] == "bin" and _PRECEDENCE[left[2]] < _PRECEDENCE[op]:
            lt = f"({lt})"
        if (right[0] == "bin" and _PRECEDENCE[right[2]] <= _PRECEDENCE[op]) or right[0] == "neg":
            rt = f"({rt})"
        return f"{lt} {_SHOWN_OP.get(op, op)} {rt}"

    return show(formula.tree)
