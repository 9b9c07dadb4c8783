"""One live listing as catalog values: texts, quantities, prices (with the sale, business and
allowed prices), and every other attribute in the shape the catalog writes it."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from reconciler.kernel.model import (
    DEFAULT_CHANNEL,
    LiveListing,
    MarketplaceConfig,
)


def _num(d: Decimal | int | float) -> int | float:
    d = Decimal(str(d))
    return int(d) if d == d.to_integral_value() else float(d)


def _texts(
    s: dict[str, Any], sku: str, lst: LiveListing, mp: MarketplaceConfig, warnings: list[str]
) -> None:
    lang = mp.language_tag

    def values(attr: str) -> list[str]:
        return [
            str(e["value"])
            for e in lst.attributes.get(attr, [])
            if e.get("language_tag") == lang and e.get("value") is not None
        ]

    names = values("item_name")
    if not names:
        warnings.append(
            f"{sku} ({mp.code}): no item_name in {lang}; the listing will be held "
            "for review until texts are added"
        )
        return
    t: dict[str, Any] = {"item_name": names[0]}
    desc = values("product_description")
    if desc:
        t["product_description"] = desc[0]
    bullets = values("bullet_point")
    if bullets:
        t["bullet_points"] = bullets
    texts = s.setdefault("texts", {})
    if lang in texts and texts[lang] != t:
        warnings.append(
            f"{sku} ({mp.code}): texts in {lang} differ from another marketplace "
            "with the same language; kept the first"
        )
        return
    texts[lang] = t


def _quantity(
    s: dict[str, Any],
    sku: str,
    lst: LiveListing,
    mp: MarketplaceConfig,
    loc_of: Mapping[tuple[str, str], str],
    warnings: list[str],
) -> None:
    fa = {
        str(e.get("fulfillment_channel_code")): e.get("quantity")
        for e in lst.attributes.get("fulfillment_availability", [])
    }
    if not mp.mli:
        q = fa.get(DEFAULT_CHANNEL)
        if q is not None:
            s.setdefault("quantity", {})[mp.code] = int(q)
        return
    per = {
        loc_of[(mp.code, code)]: int(q)
        for code, q in sorted(fa.items())
        if (mp.code, code) in loc_of and q is not None
    }
    if int(fa.get(DEFAULT_CHANNEL) or 0) > 0:
        warnings.append(
            f"{sku} ({mp.code}): DEFAULT carries {fa[DEFAULT_CHANNEL]} units on an "
            "MLI marketplace; the catalog holds DEFAULT at 0 (the first plan will)"
        )
    if per:
        s.setdefault("quantity", {})[mp.code] = per


def _prices(s: dict[str, Any], lst: LiveListing, mp: MarketplaceConfig) -> None:
    ov: dict[str, Any] = {}
    for e in lst.attributes.get("purchasable_offer", []):
        if e.get("currency") not in (None, mp.currency) or e.get("audience", "ALL") != "ALL":
            continue
        for sched in e.get("our_price", []) or []:
            for v in sched.get("schedule", []) or []:
                if v.get("value_with_tax") is not None:
                    ov["price"] = _num(v["value_with_tax"])
    for e in lst.attributes.get("list_price", []):
        v = e.get("value", e.get("value_with_tax"))
        if e.get("currency") in (None, mp.currency) and v is not None:
            ov["list_price"] = _num(v)
    if ov:
        s.setdefault("overrides", {})[mp.code] = ov


def _schedule(field_value: Any) -> dict[str, Any] | None:
    try:
        first = field_value[0]["schedule"][0]
    except (KeyError, IndexError, TypeError):
        return None
    return first if isinstance(first, dict) else None


def _offer_extras(s: dict[str, Any], lst: LiveListing, mp: MarketplaceConfig) -> None:
    """Sale, allowed and business prices as fixed overrides of marketplace ``mp``."""
    ov: dict[str, Any] = {}
    for e in lst.attributes.get("purchasable_offer", []):
        if e.get("currency") not in (None, mp.currency):
            continue
        if e.get("audience", "ALL") == "ALL":
            sale = _schedule(e.get("discounted_price"))
            if sale and sale.get("value_with_tax") is not None:
                ov["sale_price"] = {"price": _num(sale["value_with_tax"]),
                                    "start_at": str(sale.get("start_at", "")),
                                    "end_at": str(sale.get("end_at", ""))}
            for name in ("minimum_seller_allowed_price", "maximum_seller_allowed_price"):
                v = _schedule(e.get(name))
                if v and v.get("value_with_tax") is not None:
                    ov[name] = _num(v["value_with_tax"])
        elif e.get("audience") == "B2B":
            our = _schedule(e.get("our_price"))
            if not our or our.get("value_with_tax") is None:
                continue
            b2b: dict[str, Any] = {"price": _num(our["value_with_tax"])}
            plan = _schedule(e.get("quantity_discount_plan"))
            if plan and isinstance(plan.get("levels"), list):
                key = "percent_off" if plan.get("discount_type") == "percent" else "price"
                b2b["tiers"] = [{"quantity": int(lv["lower_bound"]), key: _num(lv["value"])}
                                for lv in plan["levels"]]
            ov["business_price"] = b2b
    if ov:
        s.setdefault("overrides", {}).setdefault(mp.code, {}).update(ov)


# Attributes the catalog writes from its own keys (texts, prices, quantities).
_OWN = frozenset({"item_name", "product_description", "bullet_point", "purchasable_offer",
                  "list_price", "fulfillment_availability"})


def _catalog_value(entries: list[Any], mp: MarketplaceConfig) -> Any:
    """Live entries as the catalog writes them: hidden selector fields left out (filled in per
    marketplace again), a lone field as a scalar, several entries as a list."""
    out = []
    for e in entries:
        fields = {k: _plain(v) for k, v in e.items() if k != "marketplace_id"
                  and not (k == "language_tag" and v == mp.language_tag)}
        out.append(next(iter(fields.values())) if len(fields) == 1 else fields)
    return out[0] if len(out) == 1 else out


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return _num(v)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _attributes(lst: LiveListing, mp: MarketplaceConfig) -> dict[str, Any]:
    return {name: _catalog_value(entries, mp) for name, entries in sorted(lst.attributes.items())
            if name not in _OWN and entries}


def _place_attributes(s: dict[str, Any], by_code: Mapping[str, dict[str, Any]]) -> None:
    """Attributes the same in every marketplace go to the SKU, the others to overrides; the
    requirements set follows (offer-only when the listing names an existing ASIN)."""
    names = sorted({n for attrs in by_code.values() for n in attrs})
    shared = {n: by_code[next(iter(by_code))].get(n) for n in names
              if all(n in a and a[n] == by_code[next(iter(by_code))].get(n)
                     for a in by_code.values())}
    if shared:
        s["attributes"] = shared
    for code, attrs in by_code.items():
        own = {n: v for n, v in attrs.items() if n not in shared}
        if own:
            s.setdefault("overrides", {}).setdefault(code, {})["attributes"] = own
    reqs = {code: "LISTING_OFFER_ONLY" if "merchant_suggested_asin" in attrs else "LISTING"
            for code, attrs in by_code.items()}
    common = "LISTING_OFFER_ONLY" if "LISTING_OFFER_ONLY" in reqs.values() else "LISTING"
    if common != "LISTING":
        s["requirements"] = common
    for code, req in reqs.items():
        if req != common:
            s.setdefault("overrides", {}).setdefault(code, {})["requirements"] = req
