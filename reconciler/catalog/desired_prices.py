"""Desired listings, the prices part: each listing's price rule (the marketplace's, merged with
the SKU's overrides), our price through :mod:`reconciler.catalog.pricing` with its derivation,
then the rest of the offer (:meth:`~reconciler.catalog.desired_contract.ContractMixin.offer_lines`).
Every pricing problem is reported with the file:line it comes from. Mixed into the builder of
:mod:`reconciler.catalog.desired`. Pure."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from reconciler.catalog.pricing import PriceError, Rule, compute
from reconciler.catalog.raw import SkuDecl
from reconciler.catalog.settings import RulePart, Settings, check_rule_part, merge
from reconciler.kernel.errors import Problem
from reconciler.kernel.model import Entry, MarketplaceConfig, PriceDerivation, Selector, SourceRef


class PricesMixin:
    add: Callable[..., None]
    settings: Settings
    _rules: dict[str, Rule | None]  # a marketplace's own rule, built once
    offer_lines: Callable[..., list[PriceDerivation]]

    def rule_for(self, sku: SkuDecl, code: str) -> RulePart:
        st = self.settings
        ov = (sku.data.get("overrides") or {}).get(code) or {}
        own = RulePart(
            {k: ov[k] for k in ("formula", "tax", "ending", "min", "max", "vars") if k in ov},
            {k: sku.ref("overrides", code, k)
             for k in ("formula", "tax", "ending", "min", "max", "vars") if k in ov},
        )
        return merge(st.default_rule, st.rules.get(code, RulePart({}, {})), own)

    def rule(self, part: RulePart, m: MarketplaceConfig, ctx: str) -> Rule | None:
        """The price rule of a merged RulePart (None after reporting its problems)."""
        found: list[Problem] = []
        formula = check_rule_part(self.settings, part, m.currency, found, ctx)
        for p in found:
            self.add(SourceRef(p.file, p.line, p.column), p.message, p.context)
        if formula is None:
            return None
        return Rule(
            formula=formula,
            tax=dec_or_none(part.values.get("tax")) or Decimal(0),
            ending=part.values.get("ending", "none"),
            min=dec_or_none(part.values.get("min")),
            max=dec_or_none(part.values.get("max")),
            vars={k: Decimal(v) for k, v in (part.values.get("vars") or {}).items()},
        )

    def prices(
        self, sku: SkuDecl, m: MarketplaceConfig, ctx: str, attrs: dict[str, list[Entry]],
        part: RulePart, dkey: tuple[str, str, str] | None, clears: list[tuple[str, Selector]],
    ) -> list[PriceDerivation]:
        ov = (sku.data.get("overrides") or {}).get(m.code) or {}
        own_rule = any(k in ov for k in ("formula", "tax", "ending", "min", "max", "vars"))
        if own_rule:
            rule = self.rule(part, m, ctx)
        elif m.code in self._rules:  # a marketplace's rule is built once
            rule = self._rules[m.code]
        else:
            rule = self._rules[m.code] = self.rule(part, m, "")
        if rule is None:
            return []
        note = "rule override per SKU" if own_rule else ""
        out: list[PriceDerivation] = []
        fixed = ov.get("price")
        base = sku.data.get("base_price")
        our = self.one_price(sku, m, ctx, rule, part, base, fixed, "base_price",
                             "price", note, clamp=True)
        if our is None:
            return out
        out.append(our)
        out.extend(self.offer_lines(sku, m, ctx, attrs, our, rule, part, dkey, clears))
        return out

    def one_price(
        self, sku: SkuDecl, m: MarketplaceConfig, ctx: str, rule: Rule, part: RulePart,
        base: Any, fixed: Any, base_field: str, fixed_field: str, note: str, *, clamp: bool,
    ) -> PriceDerivation | None:
        st = self.settings
        if fixed is None:
            if base is None:
                self.add(sku.ref(key=True),
                         f"no {base_field} (and no overrides.{m.code}.{fixed_field})", ctx)
                return None
            if st.rates is None or not st.base_currency:
                missing = "rates.yaml" if st.rates is None else "pricing.yaml"
                self.add(SourceRef(missing),
                         f"missing {missing}: needed to price SKUs from their {base_field}")
                return None
        rates = st.rates
        if rates is None:
            from reconciler.catalog.pricing import Rates

            rates = Rates(as_of="", base=m.currency, rates={})
        try:
            return compute(
                marketplace=m.code, currency=m.currency,
                base=Decimal(base) if base is not None else Decimal(0),
                base_currency=st.base_currency or m.currency, rule=rule, rates=rates,
                fixed=Decimal(fixed) if fixed is not None else None, clamp=clamp,
                note=(f"{note} fixed per SKU" if note and note != "rule override per SKU"
                      else "price fixed per SKU") if fixed is not None else note,
            )
        except PriceError as e:
            if e.kind == "formula":
                ref = part.refs.get("formula") or SourceRef("pricing.yaml")
                at = f" at column {e.column}" if e.column else ""
                self.add(ref, f"formula {rule.formula.text!r}: {e.message}{at}", ctx)
            elif e.kind == "rate":
                self.add(st.rates_ref or SourceRef("rates.yaml"),
                         f"{e.message}, needed by marketplace {m.code} ({m.currency})")
            elif e.kind == "guard" and fixed is not None:
                self.add(sku.ref("overrides", m.code, fixed_field),
                         f"{fixed_field}: {e.message}", ctx)
            elif e.kind == "guard":
                self.add(part.refs.get("min") or sku.ref(key=True), e.message, ctx)
            elif e.kind == "ending":
                self.add(part.refs.get("ending") or sku.ref(key=True), e.message, ctx)
            else:
                where = sku.ref("overrides", m.code, fixed_field) if fixed is not None else (
                    sku.ref(base_field))
                self.add(where, e.message, ctx)
            return None


def dec_or_none(v: Any) -> Decimal | None:
    return None if v is None else Decimal(v)
