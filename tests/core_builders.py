"""Hand-built values for the pure core's tests (live, diff, plan, render, patches).

Desired listings are built in exactly the shapes the catalog layer produces (core brief,
"Shapes"); live items are Amazon ``Item`` JSON with the read-back quirks (echoed marketplace_id,
float/string money, missing audience, shuffled entries, unmanaged siblings and attributes).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from reconciler.catalog.formula import parse
from reconciler.catalog.pricing import PriceError, Rates, Rule, compute
from reconciler.kernel.model import (
    Account,
    DesiredListing,
    DesiredState,
    Entry,
    ListingKey,
    LiveListing,
    MarketplaceConfig,
    PriceDerivation,
    Safety,
)
from reconciler.live.normalize import normalize_item

LOC_A = "353e4e48-6301-4d50-990e-43a86e8787a3"
LOC_B = "8e07a0c9-ab0a-4108-9f16-83dc3496bee0"
US = MarketplaceConfig("US", "ATVPDKIKX0DER", "USD", "en_US", mli=True)
CA = MarketplaceConfig("CA", "A2EUQ1WTGCTBG2", "CAD", "en_CA")
MX = MarketplaceConfig("MX", "A1AM78C64UM0Y8", "MXN", "es_MX")
JP = MarketplaceConfig("JP", "A1VC38T7YXB528", "JPY", "ja_JP")
MPS = {m.code: m for m in (US, CA, MX, JP)}
ACCOUNT = Account("main", "A1SELLER", "NA", "emulator", (US, CA, MX))
FE_ACCOUNT = Account("fe", "A2SELLER", "FE", "emulator", (JP,))


def key(sku: str, mp: MarketplaceConfig, account: str = "main") -> ListingKey:
    return ListingKey(account, sku, mp.marketplace_id)


def texts(
    mp: MarketplaceConfig, title: str, bullets: tuple[str, ...] = (), desc: str = ""
) -> dict[str, list[Entry]]:
    sel = {"language_tag": mp.language_tag, "marketplace_id": mp.marketplace_id}
    out: dict[str, list[Entry]] = {"item_name": [{"value": title, **sel}]}
    if bullets:
        out["bullet_point"] = [{"value": b, **sel} for b in bullets]
    if desc:
        out["product_description"] = [{"value": desc, **sel}]
    return out


def offer(mp: MarketplaceConfig, price: str) -> list[Entry]:
    return [
        {
            "marketplace_id": mp.marketplace_id,
            "currency": mp.currency,
            "audience": "ALL",
            "our_price": [{"schedule": [{"value_with_tax": Decimal(price)}]}],
        }
    ]


def quantities(mp: MarketplaceConfig, qty: int | dict[str, int]) -> list[Entry]:
    if mp.mli:
        assert isinstance(qty, dict)
        locs = {**qty, "DEFAULT": 0}
    else:
        assert isinstance(qty, int)
        locs = {"DEFAULT": qty}
    return [{"fulfillment_channel_code": c, "quantity": q} for c, q in sorted(locs.items())]


RATES = Rates(
    as_of="2026-11-01",
    base="USD",
    rates={"CAD": Decimal("1.3654"), "MXN": Decimal("17.2140"), "JPY": Decimal("150.25"),
           "GBP": Decimal("0.7912"), "EUR": Decimal("0.9241")},
    source="ECB",
)
MARGIN_RULE = "base * rate * (1 + margin) + tax"


def derivation(mp: MarketplaceConfig, result: str) -> PriceDerivation:
    """A real derivation (pricing.compute) of ``result``: from a USD base price through the
    rate and a 25 % margin, rounded to .99 (or a whole unit), else a fixed per-SKU price."""
    target = Decimal(result)
    ending = ".99" if result.endswith(".99") else "whole" if target % 1 == 0 else ""
    if ending and target > 1:
        factor = RATES.rate("USD", mp.currency) * Decimal("1.25")
        base = ((target - Decimal("0.5")) / factor).quantize(Decimal("0.01"))
        rule = Rule(parse(MARGIN_RULE), ending=ending, vars={"margin": Decimal("0.25")})
        try:
            d = compute(marketplace=mp.code, currency=mp.currency, base=base,
                        base_currency="USD", rule=rule, rates=RATES)
        except PriceError:
            pass
        else:
            if d.result == target:
                return d
    try:
        return compute(marketplace=mp.code, currency=mp.currency, base=Decimal(0),
                       base_currency="USD", rule=Rule(parse(MARGIN_RULE)), rates=RATES,
                       fixed=target, note="price fixed per SKU")
    except PriceError:  # not a price pricing would accept (tests of odd values): fixed as is
        return PriceDerivation(
            marketplace=mp.code, currency=mp.currency, formula="fixed", base=target,
            base_currency=mp.currency, rate=Decimal(1), rate_as_of="", rate_source="",
            tax_delta=Decimal(0), raw=target, rounding="fixed", result=target,
            override="price fixed per SKU",
        )


def desired(
    sku: str,
    mp: MarketplaceConfig,
    *,
    price: str = "19.99",
    qty: int | dict[str, int] | None = None,
    title: str | None = "Mug",
    bullets: tuple[str, ...] = (),
    desc: str = "",
    held: bool = False,
    state: str = "present",
    price_min: str | None = None,
    price_max: str | None = None,
    product_type: str = "PRODUCT",
    account: str = "main",
) -> DesiredListing:
    if state == "absent":
        return DesiredListing(key(sku, mp, account), product_type, {}, state="absent", mli=mp.mli)
    attrs: dict[str, list[Entry]] = {}
    if title is not None and not held:
        attrs.update(texts(mp, title, bullets, desc))
    attrs["purchasable_offer"] = offer(mp, price)
    if qty is None:
        qty = {LOC_A: 10, LOC_B: 5} if mp.mli else 7
    attrs["fulfillment_availability"] = quantities(mp, qty)
    return DesiredListing(
        key(sku, mp, account),
        product_type,
        dict(sorted(attrs.items())),
        mli=mp.mli,
        derivations=(derivation(mp, price),),
        held_texts=("item_name", "product_description", "bullet_point") if held else (),
        held_reason=f"no texts for {mp.language_tag}" if held else "",
        price_min=Decimal(price_min) if price_min else None,
        price_max=Decimal(price_max) if price_max else None,
    )


def state(
    *listings: DesiredListing,
    safety: Safety | None = None,
    accounts: tuple[Account, ...] = (ACCOUNT,),
) -> DesiredState:
    return DesiredState(
        listings=tuple(sorted(listings, key=lambda d: d.key)),
        accounts=accounts,
        safety=safety or Safety(),
    )


# --------------------------------------------------------------------------- live (Amazon JSON)


def amazon_item(d: DesiredListing, mp: MarketplaceConfig, *, quirks: bool = True) -> dict[str, Any]:
    """What Amazon returns after ``d`` was applied: every read-back quirk when ``quirks``."""
    mid = mp.marketplace_id
    attrs: dict[str, Any] = {}
    for name, entries in d.attributes.items():
        out = []
        for e in entries:
            e = dict(e)
            if name == "purchasable_offer":
                price = e["our_price"][0]["schedule"][0]["value_with_tax"]
                e["our_price"] = [
                    {"schedule": [{"value_with_tax": float(price) if quirks else price}]}
                ]
                if quirks:
                    e.pop("audience")
                    e["discounted_price"] = [
                        {
                            "schedule": [
                                {
                                    "value_with_tax": 1.5,
                                    "start_at": "2026-01-01",
                                    "end_at": "2026-02-01",
                                }
                            ]
                        }
                    ]
                    e["minimum_seller_allowed_price"] = [{"schedule": [{"value_with_tax": "3.0"}]}]
            if name == "fulfillment_availability" and quirks:
                e["marketplace_id"] = mid
                e["lead_time_to_ship_max_days"] = 2
            out.append(e)
        if quirks and name != "bullet_point":
            out.reverse()
        attrs[name] = out
    if quirks:
        # unmanaged: another attribute, another language, another marketplace, another channel
        attrs["brand"] = [{"value": "Acme", "marketplace_id": mid}]
        attrs.setdefault("item_name", []).append(
            {"value": "Tasse", "language_tag": "de_DE", "marketplace_id": mid}
        )
        attrs["item_name"].append(
            {"value": "Other store", "language_tag": "en_US", "marketplace_id": "A1F83G8C2ARO7P"}
        )
        attrs.setdefault("fulfillment_availability", []).append(
            {"fulfillment_channel_code": "AMAZON_NA", "quantity": 4}
        )
    return {
        "sku": d.key.sku,
        "summaries": [
            {
                "marketplaceId": mid,
                "productType": d.product_type,
                "status": ["BUYABLE", "DISCOVERABLE"],
                "createdDate": "2026-01-01T00:00:00Z",
                "lastUpdatedDate": "2026-11-01T00:00:00Z",
            }
        ],
        "attributes": attrs,
        "issues": [],
    }


def live_of(
    d: DesiredListing, mp: MarketplaceConfig, *, quirks: bool = True, **edits: Any
) -> LiveListing:
    """The normalized live listing of an applied ``d`` (then with ``edits`` to its attributes)."""
    item = amazon_item(d, mp, quirks=quirks)
    item["attributes"].update(edits)
    return normalize_item(item, d.key, mp)
