"""The whole offer of one listing: beyond our price and the list price, a sale price with its
schedule, a business (B2B) price with quantity discount tiers, and the minimum and maximum seller
allowed prices, each through the price engine with its derivation.

SP-API shapes (CONTRACT.md §7; "Manage purchasable offer",
https://developer-docs.amazon.com/sp-api/docs/manage-purchasable-offer; "Manage Advanced
Multiple-Offer and Multiple-Fulfillment Use Cases",
https://developer-docs.amazon.com/sp-api/docs/manage-advanced-multiple-offer-multiple-fulfillment-use-cases):

- sale price: ``discounted_price: [{schedule: [{value_with_tax, start_at, end_at}]}]`` inside the
  ``audience: ALL`` offer;
- minimum/maximum seller allowed price: ``minimum_seller_allowed_price`` /
  ``maximum_seller_allowed_price: [{schedule: [{value_with_tax}]}]`` inside the ALL offer;
- business price: a second ``purchasable_offer`` entry with ``audience: B2B`` and its own
  ``our_price``, plus ``quantity_discount_plan: [{schedule: [{discount_type: fixed|percent,
  levels: [{lower_bound, value}]}]}]`` (at most 5 levels);
- list price: ``list_price: [{currency, value}]``, or ``value_with_tax`` where the marketplace's
  product type definition asks for it (UK/EU: "Updated date for List Price requirement changes",
  https://developer-docs.amazon.com/sp-api/changelog/updated-date-for-list-price-requirement-changes).

``clear`` removes a line: a field inside the ALL offer becomes ``None`` (apply merges it as
``null``, which deletes it), a whole entry (the B2B offer, the list price) is a selector to delete.
A line the catalog leaves out is not managed: Amazon's value stays. Prices at SKU level are in
pricing.yaml's base currency and converted by the marketplace's rule; in ``overrides`` they are
fixed in the marketplace currency. A sale or business price respects the min/max guards (clamped
like our price); list and allowed prices do not. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from reconciler.kernel.model import Entry, PriceDerivation, Selector

CLEAR = "clear"
OFFER_FIELDS = (
    "discounted_price", "minimum_seller_allowed_price", "maximum_seller_allowed_price",
)
# (sku value, override value, base field, fixed field, note, clamp) -> derivation or None
PriceFn = Callable[[Any, Any, str, str, str, bool], "PriceDerivation | None"]
Report = Callable[[tuple[Any, ...], str], None]


@dataclass
class OfferParts:
    """What the price lines add to one listing."""

    all_fields: dict[str, Any] = field(default_factory=dict)  # into the ALL offer entry
    b2b: Entry | None = None
    clears: list[tuple[str, Selector]] = field(default_factory=list)
    derivations: list[PriceDerivation] = field(default_factory=list)


def _line(sku: Mapping[str, Any], ov: Mapping[str, Any], name: str) -> tuple[Any, Any]:
    return sku.get(name), ov.get(name)


def build(
    sku: Mapping[str, Any], ov: Mapping[str, Any], code: str, marketplace_id: str,
    currency: str, price: PriceFn, report: Report,
) -> OfferParts:
    """The sale, business and allowed prices of one listing (``sku``: the SKU's mapping,
    ``ov``: its overrides for marketplace ``code``)."""
    out = OfferParts()
    base, fixed = _line(sku, ov, "sale_price")
    chosen = fixed if fixed is not None else base
    if chosen == CLEAR:
        out.all_fields["discounted_price"] = None
    elif chosen is not None:
        where = ("overrides", code, "sale_price") if fixed is not None else ("sale_price",)
        d = _fixed_or_base(chosen, fixed is not None, price, "sale_price", "sale price", True)
        if d is not None:
            start, end = str(chosen["start_at"]), str(chosen["end_at"])
            if end <= start:
                report(where, f"sale_price ends ({end}) before it starts ({start})")
            else:
                out.derivations.append(d)
                out.all_fields["discounted_price"] = [{"schedule": [{
                    "value_with_tax": d.result, "start_at": start, "end_at": end,
                }]}]
    for name, label in (("minimum_seller_allowed_price", "minimum allowed price"),
                        ("maximum_seller_allowed_price", "maximum allowed price")):
        base, fixed = _line(sku, ov, name)
        chosen = fixed if fixed is not None else base
        if chosen == CLEAR:
            out.all_fields[name] = None
        elif chosen is not None:
            d = price(base if fixed is None else None, fixed, name, name, label, False)
            if d is not None:
                out.derivations.append(d)
                out.all_fields[name] = [{"schedule": [{"value_with_tax": d.result}]}]
    lo = out.all_fields.get("minimum_seller_allowed_price")
    hi = out.all_fields.get("maximum_seller_allowed_price")
    if lo and hi and _value(lo) > _value(hi):
        report(("overrides", code) if "minimum_seller_allowed_price" in ov else (),
               f"minimum_seller_allowed_price {_value(lo)} is above maximum_seller_allowed_price "
               f"{_value(hi)} {currency}")
    _business(sku, ov, code, marketplace_id, currency, price, report, out)
    return out


def _value(fields: Any) -> Decimal:
    v: Decimal = fields[0]["schedule"][0]["value_with_tax"]
    return v


def _fixed_or_base(spec: Mapping[str, Any], in_override: bool, price: PriceFn, name: str,
                   label: str, clamp: bool) -> PriceDerivation | None:
    if in_override and "price" in spec:
        return price(None, spec["price"], "base_price", name, label, clamp)
    return price(spec.get("base_price"), None, f"{name}.base_price", name, label, clamp)


def b2b_selector(marketplace_id: str, currency: str) -> Selector:
    return (("marketplace_id", marketplace_id), ("currency", currency), ("audience", "B2B"))


def _business(
    sku: Mapping[str, Any], ov: Mapping[str, Any], code: str, marketplace_id: str,
    currency: str, price: PriceFn, report: Report, out: OfferParts,
) -> None:
    base, fixed = _line(sku, ov, "business_price")
    chosen = fixed if fixed is not None else base
    if chosen is None:
        return
    if chosen == CLEAR:
        out.clears.append(("purchasable_offer", b2b_selector(marketplace_id, currency)))
        return
    in_override = fixed is not None
    where: tuple[Any, ...] = ("overrides", code, "business_price") if in_override else (
        "business_price",)
    if "price" not in chosen and "base_price" not in chosen:
        report(where, "business_price needs base_price (or, in overrides, price)")
        return
    d = _fixed_or_base(chosen, in_override, price, "business_price", "business price", True)
    if d is None:
        return
    out.derivations.append(d)
    entry: Entry = {
        "marketplace_id": marketplace_id, "currency": currency, "audience": "B2B",
        "our_price": [{"schedule": [{"value_with_tax": d.result}]}],
    }
    tiers = chosen.get("tiers")
    if tiers == CLEAR:
        entry["quantity_discount_plan"] = None
    elif tiers:
        plan = _tiers(tiers, in_override, d, price, report, (*where, "tiers"), out)
        if plan is not None:
            entry["quantity_discount_plan"] = plan
    out.b2b = entry


def _tiers(
    tiers: list[Mapping[str, Any]], in_override: bool, business: PriceDerivation,
    price: PriceFn, report: Report, where: tuple[Any, ...], out: OfferParts,
) -> list[Entry] | None:
    percent = [t for t in tiers if "percent_off" in t]
    fixed = [t for t in tiers if "price" in t or "base_price" in t]
    if (percent and fixed) or len(percent) + len(fixed) != len(tiers) or any(
        "percent_off" in t and ("price" in t or "base_price" in t) for t in tiers
    ):
        report(where, "give every tier either percent_off or a price (Amazon's plan is all fixed "
                      "or all percent)")
        return None
    bounds = [int(t["quantity"]) for t in tiers]
    if bounds != sorted(set(bounds)):
        report(where, f"tier quantities must increase: {bounds}")
        return None
    levels: list[Entry] = []
    if percent:
        for t in tiers:
            levels.append({"lower_bound": int(t["quantity"]),
                           "value": Decimal(str(t["percent_off"])).quantize(Decimal("0.01"),
                                                                            ROUND_HALF_UP)})
        kind = "percent"
    else:
        last = business.result
        for i, t in enumerate(tiers):
            d = price(t.get("base_price"), t.get("price") if in_override else None,
                      "base_price", "price", f"business price from {t['quantity']} units", False)
            if d is None:
                return None
            if d.result >= last:
                report((*where, i), f"tier price {d.result} must be below the business price "
                                    f"and the tier before it ({last})")
                return None
            last = d.result
            out.derivations.append(d)
            levels.append({"lower_bound": int(t["quantity"]), "value": d.result})
        kind = "fixed"
    return [{"schedule": [{"discount_type": kind, "levels": levels}]}]


def describe(entry: Entry) -> str:
    """A human line for one purchasable_offer entry: our price, then the other lines that are
    set or cleared (``(clear)``)."""
    parts = []
    try:
        parts.append(f"{entry['our_price'][0]['schedule'][0]['value_with_tax']} "
                     f"{entry.get('currency', '')}".strip())
    except (KeyError, IndexError, TypeError):
        parts.append("(no price)")
    for name, label in (("discounted_price", "sale"), ("minimum_seller_allowed_price", "min"),
                        ("maximum_seller_allowed_price", "max"),
                        ("quantity_discount_plan", "tiers")):
        if name not in entry:
            continue
        v = entry[name]
        if v is None:
            parts.append(f"{label} (clear)")
            continue
        try:
            s = v[0]["schedule"][0]
        except (KeyError, IndexError, TypeError):
            parts.append(f"{label} ?")
            continue
        if name == "quantity_discount_plan":
            unit = "%" if s.get("discount_type") == "percent" else ""
            levels = ", ".join(f"≥{lv.get('lower_bound')}: {lv.get('value')}{unit}"
                               for lv in s.get("levels", ()))
            parts.append(f"{label} {levels}")
        elif name == "discounted_price":
            when = f"{s.get('start_at')}..{s.get('end_at')}"
            parts.append(f"{label} {s.get('value_with_tax')} {when}")
        else:
            parts.append(f"{label} {s.get('value_with_tax')}")
    return ", ".join(parts)
