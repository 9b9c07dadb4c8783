"""Target prices: ``P_target = round_rule(clamp(P_base × R_currency + Δ_tax))``, in Decimal.

The formula of a rule (default ``base * rate + tax``) is evaluated by
:mod:`reconciler.catalog.formula`
with the variables ``base`` (the SKU's base price, in pricing.yaml's ``base_currency``), ``rate``
(units of the marketplace currency per unit of the base currency, from rates.yaml), ``tax``
(the rule's tax delta, in the marketplace currency) and every name in the rule's ``vars``.

Then, in this order:

1. **clamp** the result into the guards ``[min, max]`` (either may be absent);
2. **round** to the rule's ending, in the currency's minor units (JPY has none):

   - ``.99`` / ``.95``: up to the next price with that ending (27.29 → 27.99), so a converted
     price never lands below what the formula computed; if that passes ``max``, down to the
     largest such price within ``max``. Needs a currency with cents.
   - ``whole``: up to the next whole unit (1234.2 JPY → 1235).
   - ``none``: to the currency's minor units, half up (27.294 → 27.29).

   If no price with the ending lies within the guards, that is an error.

A per-SKU **fixed price** (``overrides: {CA: {price: 29.99}}``) skips the formula and rounding;
it must lie within the guards (else a "guard trip" error: fix the price or the guard) and be
expressible in the currency (no cents for JPY). Guards with ``min > max`` are an error.

Every computed price carries its derivation (:class:`~reconciler.kernel.model.PriceDerivation`):
the values that went into the formula (base, rate, tax and the rule's ``vars``), the raw value,
the guard and rounding steps and the result. Shown, it is the rule's own formula with each value
substituted (:func:`reconciler.catalog.formula.substituted`), which evaluates to exactly the raw
value shown. A fixed price's derivation says so and shows no rate and no formula.

Cross rates (neither currency is the rates file's base) are computed to
:data:`CROSS_RATE_PLACES` decimal places so the derivation shown in a plan stays readable.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from reconciler.catalog.formula import Formula, FormulaError, parse, substituted
from reconciler.kernel.marketplaces import CURRENCY_MINOR_UNITS
from reconciler.kernel.model import PriceDerivation

DEFAULT_FORMULA = "base * rate + tax"
ENDINGS = (".99", ".95", "whole", "none")
CROSS_RATE_PLACES = 6
BUILTIN_VARIABLES = ("base", "rate", "tax")
EXACT_PLACES = 12  # a formula result with more decimal places is shown cut to 6, with ≈


class PriceError(ValueError):
    """A price cannot be computed. ``kind`` tells which input is at fault: ``formula``
    (``column`` is set), ``guard``, ``rate``, ``ending`` or ``price``."""

    def __init__(self, kind: str, message: str, column: int = 0) -> None:
        self.kind = kind
        self.message = message
        self.column = column
        super().__init__(message)


@dataclass(frozen=True)
class Rates:
    as_of: str
    base: str
    rates: Mapping[str, Decimal]
    source: str = ""

    def rate(self, src: str, dst: str) -> Decimal:
        """Units of ``dst`` per unit of ``src``. Raises PriceError(kind="rate")."""
        if src == dst:
            return Decimal(1)
        r_src = self._one(src)
        r_dst = self._one(dst)
        if src == self.base:
            return r_dst
        return (r_dst / r_src).quantize(Decimal(1).scaleb(-CROSS_RATE_PLACES))

    def _one(self, currency: str) -> Decimal:
        if currency == self.base:
            return Decimal(1)
        if currency not in self.rates:
            raise PriceError("rate", f"rates.yaml has no rate for {currency} (base {self.base})")
        return Decimal(self.rates[currency])


@dataclass(frozen=True)
class Rule:
    """A price rule after merging defaults, the marketplace's rule and a SKU's override."""

    formula: Formula
    tax: Decimal = Decimal(0)
    ending: str = "none"
    min: Decimal | None = None
    max: Decimal | None = None
    vars: Mapping[str, Decimal] = field(default_factory=dict)

    def known_names(self) -> set[str]:
        return set(BUILTIN_VARIABLES) | set(self.vars)


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-CURRENCY_MINOR_UNITS.get(currency, 2))


def check_guards(lo: Decimal | None, hi: Decimal | None, currency: str) -> None:
    if lo is not None and hi is not None and lo > hi:
        raise PriceError("guard", f"min {lo} is greater than max {hi} ({currency})")


def round_price(
    value: Decimal, ending: str, currency: str, lo: Decimal | None = None,
    hi: Decimal | None = None,
) -> Decimal:
    """Round ``value`` (already clamped) to ``ending`` in ``currency``, staying within
    ``[lo, hi]``. Raises PriceError(kind="ending")."""
    q = quantum(currency)
    if ending == "none":
        return value.quantize(q, rounding=ROUND_HALF_UP)
    if ending == "whole":
        step = Decimal(0)
    elif ending in (".99", ".95"):
        if q > Decimal("0.01"):
            raise PriceError(
                "ending",
                f"ending {ending} needs a currency with cents; {currency} has no minor units "
                "(use ending: whole or none)",
            )
        step = Decimal(ending)
    else:
        raise PriceError("ending", f"unknown ending {ending!r} (one of {', '.join(ENDINGS)})")
    up = (value - step).to_integral_value(rounding=ROUND_CEILING) + step
    if hi is not None and up > hi:
        up = (hi - step).to_integral_value(rounding=ROUND_FLOOR) + step
    if (lo is not None and up < lo) or up <= 0:
        raise PriceError(
            "ending",
            f"no price ending {ending} lies within the guards "
            f"[{_s(lo)}, {_s(hi)}] {currency}",
        )
    return up.quantize(q)


def _s(d: Decimal | None) -> str:
    return "-" if d is None else str(d)


def compute(
    *,
    marketplace: str,
    currency: str,
    base: Decimal,
    base_currency: str,
    rule: Rule,
    rates: Rates,
    fixed: Decimal | None = None,
    clamp: bool = True,
    note: str = "",
) -> PriceDerivation:
    """One target price with its derivation. ``fixed`` is a per-SKU fixed price; ``clamp``
    False (list prices) ignores the guards. Raises PriceError."""
    lo, hi = (rule.min, rule.max) if clamp else (None, None)
    check_guards(lo, hi, currency)
    q = quantum(currency)
    if fixed is not None:
        fixed = Decimal(fixed)
        if fixed.quantize(q) != fixed:
            raise PriceError(
                "price", f"{fixed} is not a valid {currency} amount (smallest unit {q})"
            )
        if (lo is not None and fixed < lo) or (hi is not None and fixed > hi):
            raise PriceError(
                "guard",
                f"fixed price {fixed} {currency} is outside the guards "
                f"[{_s(lo)}, {_s(hi)}]: change the price or the min/max guard",
            )
        if fixed <= 0:
            raise PriceError("price", f"price must be positive, got {fixed} {currency}")
        return PriceDerivation(
            marketplace=marketplace, currency=currency, formula="fixed", base=fixed,
            base_currency=currency, rate=Decimal(1), rate_as_of="",
            rate_source="", tax_delta=Decimal(0), raw=fixed, rounding="fixed",
            result=fixed.quantize(q), guard_min=rule.min, guard_max=rule.max,
            override=note or "price fixed per SKU",
        )
    rate = rates.rate(base_currency, currency)
    env = {"base": Decimal(base), "rate": rate, "tax": rule.tax, **rule.vars}
    try:
        raw = rule.formula.evaluate(env)
    except FormulaError as e:
        raise PriceError("formula", e.message, e.column) from None
    clamped = raw
    steps: list[str] = []
    if lo is not None and clamped < lo:
        clamped = lo
        steps.append(f"clamped to min {lo}")
    if hi is not None and clamped > hi:
        clamped = hi
        steps.append(f"clamped to max {hi}")
    result = round_price(clamped, rule.ending, currency, lo, hi)
    if result <= 0:
        raise PriceError(
            "price",
            f"formula gives {raw.normalize()} {currency}, not a positive price; "
            "set a min guard or fix the formula",
        )
    steps.append({"none": "minor units", "whole": "whole"}.get(rule.ending,
                                                               f"ending {rule.ending}"))
    shown = _tidy(raw)
    return PriceDerivation(
        marketplace=marketplace, currency=currency, formula=rule.formula.text,
        base=Decimal(base), base_currency=base_currency, rate=rate, rate_as_of=rates.as_of,
        rate_source=rates.source, tax_delta=rule.tax, raw=shown,
        rounding=", ".join(steps), result=result, guard_min=rule.min, guard_max=rule.max,
        override=note,
        vars=tuple(sorted(rule.vars.items())) if rule.vars else (),
        raw_exact=shown == raw,
    )


def _tidy(d: Decimal) -> Decimal:
    """A formula result for display, no trailing zeros: exact when it has at most
    :data:`EXACT_PLACES` decimal places (products of prices and rates do), else cut to 6 (the
    derivation then says ≈)."""
    exact = Decimal(format(d.normalize(), "f"))
    if exact.as_tuple().exponent >= -EXACT_PLACES:  # type: ignore[operator]  # finite here
        return exact
    return Decimal(format(d.quantize(_SIX_PLACES).normalize(), "f"))


_SIX_PLACES = Decimal("0.000001")


def expression(d: PriceDerivation) -> str:
    """The rule's formula with every variable's value substituted, e.g.
    ``16.50 USD × 0.7912 (rate of 2026-11-20, ECB) × (1 + 0.20) + 0``: evaluated, it gives
    ``d.raw`` (exactly when ``d.raw_exact``). Made only when shown (100k+ derivations a plan)."""
    env = {"base": d.base, "rate": d.rate, "tax": d.tax_delta, **dict(d.vars)}
    if d.base_currency == d.currency:
        rate_note = "(same currency)"
    else:
        source = f", {d.rate_source}" if d.rate_source else ""
        rate_note = f"(rate of {d.rate_as_of or 'rates.yaml'}{source})"
    try:
        return substituted(parse(d.formula), env, {"base": d.base_currency, "rate": rate_note})
    except (FormulaError, KeyError):  # a plan saved by another version: say what we know
        return (
            f"{d.formula} with base {d.base} {d.base_currency}, rate "
            f"{d.rate} {rate_note}, tax {d.tax_delta}"
        )


def describe(d: PriceDerivation) -> str:
    """One line: how the price was derived, as the plan shows it."""
    if d.fixed:  # no rate and no formula: the catalog gives the price itself
        return f"{d.override or 'price fixed per SKU'}: {d.result} {d.currency}"
    s = (
        f"{expression(d)} {'=' if d.raw_exact else '≈'} {d.raw:f} → "
        f"{d.rounding} → {d.result} {d.currency}"
    )
    if d.override:
        s = f"{d.override}: {s}"
    return s
