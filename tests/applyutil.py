"""Helpers for apply tests: a generated desired state (hand-built, no catalog), a drifted
emulator seeded from it, an in-process client, and plan/read-back shortcuts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from reconciler.apply import verify
from reconciler.emulator import auth
from reconciler.emulator.app import Emulator
from reconciler.emulator.state import EmulatorConfig
from reconciler.kernel.model import (
    Account,
    DesiredListing,
    DesiredState,
    ListingKey,
    LiveListing,
    MarketplaceConfig,
    to_json_value,
)
from reconciler.plan.builder import build_plan
from reconciler.plan.value import Plan
from reconciler.spapi.client import SpApiClient

SELLER = "A1PP0FEH11RW77"
US = MarketplaceConfig("US", "ATVPDKIKX0DER", "USD", "en_US", mli=True)
CA = MarketplaceConfig("CA", "A2EUQ1WTGCTBG2", "CAD", "en_CA")
LOC_A = "353e4e48-6301-4d50-990e-43a86e8787a3"
LOC_B = "8e07a0c9-ab0a-4108-9f16-83dc3496bee0"
ACCOUNT = Account("na", SELLER, "NA", "emulator", (US, CA))


def desired_listing(
    sku: str, mp: MarketplaceConfig, i: int, *, bad_channel: bool = False
) -> DesiredListing:
    price = Decimal(10 + i % 50) + Decimal("0.99")
    attrs: dict[str, Any] = {
        "item_name": [
            {
                "value": f"Mug {sku}",
                "language_tag": mp.language_tag,
                "marketplace_id": mp.marketplace_id,
            }
        ],
        "purchasable_offer": [
            {
                "marketplace_id": mp.marketplace_id,
                "currency": mp.currency,
                "audience": "ALL",
                "our_price": [{"schedule": [{"value_with_tax": price}]}],
            }
        ],
        # an offer on an existing ASIN (PRODUCT is offer-only)
        "condition_type": [{"value": "new_new", "marketplace_id": mp.marketplace_id}],
        "merchant_suggested_asin": [
            {"value": f"B0{i:08d}", "marketplace_id": mp.marketplace_id}
        ],
    }
    if mp.mli:
        fa = [
            {"fulfillment_channel_code": LOC_A, "quantity": 10 + i % 7},
            {"fulfillment_channel_code": LOC_B, "quantity": 5},
            {"fulfillment_channel_code": "DEFAULT", "quantity": 0},
        ]
        if bad_channel:
            fa[1] = {"fulfillment_channel_code": "NO-SUCH-STORE", "quantity": 5}
    else:
        fa = [{"fulfillment_channel_code": "DEFAULT", "quantity": 3 + i % 9}]
    attrs["fulfillment_availability"] = sorted(fa, key=lambda e: e["fulfillment_channel_code"])
    allocated = sum(e["quantity"] for e in fa)
    return DesiredListing(
        ListingKey("na", sku, mp.marketplace_id), "PRODUCT", attrs, mli=mp.mli,
        allocated=allocated, requirements="LISTING_OFFER_ONLY",
    )


def _lang(marketplace_id: str) -> str:
    return US.language_tag if marketplace_id == US.marketplace_id else CA.language_tag


def desired_state(
    n: int,
    *,
    marketplaces: tuple[MarketplaceConfig, ...] = (US, CA),
    bad: frozenset[str] = frozenset(),
) -> DesiredState:
    listings = [
        desired_listing(f"SKU-{i:05d}", mp, i, bad_channel=f"SKU-{i:05d}" in bad)
        for i in range(n)
        for mp in marketplaces
    ]
    return DesiredState(listings=tuple(sorted(listings, key=lambda d: d.key)), accounts=(ACCOUNT,))


def drifted_seed(desired: DesiredState, *, missing_every: int = 0) -> dict[str, Any]:
    """Live listings that differ from desired: old price, DEFAULT carrying stock on MLI,
    unmanaged siblings (lead time, discounted price, brand) that must survive."""
    rows = []
    for j, d in enumerate(desired.listings):
        if missing_every and j % missing_every == 0:
            continue  # not live: apply creates it
        attrs = to_json_value(d.attributes)
        offer = attrs["purchasable_offer"][0]
        offer["our_price"][0]["schedule"][0]["value_with_tax"] += 1
        offer["discounted_price"] = [
            {
                "schedule": [
                    {"value_with_tax": 1.0, "start_at": "2030-01-01", "end_at": "2030-01-31"}
                ]
            }
        ]
        if d.mli:
            attrs["fulfillment_availability"] = [
                {
                    "fulfillment_channel_code": "DEFAULT",
                    "quantity": 3,
                    "lead_time_to_ship_max_days": 2,
                }
            ]
        else:
            attrs["fulfillment_availability"][0]["quantity"] += 2
            attrs["fulfillment_availability"][0]["lead_time_to_ship_max_days"] = 3
        attrs["brand"] = [{"value": "Acme", "language_tag": _lang(d.key.marketplace_id),
                           "marketplace_id": d.key.marketplace_id}]
        rows.append(
            {
                "sku": d.key.sku,
                "marketplaceId": d.key.marketplace_id,
                "productType": "PRODUCT",
                "attributes": attrs,
            }
        )
    return {
        "sellers": {
            SELLER: {
                "listings": rows,
                "supplySources": [
                    {
                        "supplySourceId": LOC_A,
                        "supplySourceCode": "store-a",
                        "alias": "Store A – Newark",
                        "status": "Active",
                    },
                    {
                        "supplySourceId": LOC_B,
                        "supplySourceCode": "store-b",
                        "alias": "Store B – Reno",
                        "status": "Active",
                    },
                ],
            }
        }
    }


@contextmanager
def emulator(config: EmulatorConfig, seed: dict[str, Any]) -> Iterator[Emulator]:
    emu = Emulator(":memory:", config)
    try:
        emu.seed(seed)
        yield emu
    finally:
        emu.close()


REFRESH_TOKEN = "Atzr|test-refresh-token"


def client(emu: Emulator, **kw: Any) -> SpApiClient:
    # Amazon binds a refresh token to the seller who authorized it; so does the emulator.
    auth.register_refresh_token(emu, REFRESH_TOKEN, seller_id=SELLER)
    return SpApiClient(
        seller_id=SELLER,
        base_url="http://emulator.local",
        token_url="http://emulator.local/auth/o2/token",
        refresh_token=REFRESH_TOKEN,
        client_id="amzn1.application-oa2-client.test",
        client_secret="test-client-secret",
        transport=emu.transport(),
        rate_scale=emu.config.time_scale,
        **kw,
    )


def read_live(desired: DesiredState, cl: SpApiClient) -> dict[ListingKey, LiveListing | None]:
    return verify.read_back(
        cl, [d.key for d in desired.listings], verify.marketplace_configs(desired)
    )


def make_plan(
    desired: DesiredState, cl: SpApiClient
) -> tuple[Plan, dict[ListingKey, LiveListing | None]]:
    live = read_live(desired, cl)
    return build_plan(desired, live), live


# --------------------------------------------------------------------------- generated catalogs


def write_catalog(
    root: Any,
    n: int,
    *,
    endpoint: str = "emulator",
    audit_log: str = "",
    verify_timeout: float = 30.0,
    verify_interval: float = 0.1,
    strategy: str = "auto",
) -> None:
    """A catalog of ``n`` SKUs on US (MLI, two stores) and CA, in the catalog format.

    ``audit_log``: a path inside the catalog goes into ``apply.audit_log``; an absolute one is
    the operator's choice, not the catalog's (a catalog may not write outside itself), so it
    must already be ``$RECONCILER_AUDIT_LOG`` (tests/conftest.py sets it for every test)."""
    import os
    from pathlib import Path

    import yaml

    root = Path(root)
    (root / "skus").mkdir(parents=True, exist_ok=True)
    apply_settings: dict[str, Any] = {
        "strategy": strategy,
        "verify_timeout_seconds": verify_timeout,
        "verify_interval_seconds": verify_interval,
    }
    if audit_log and os.path.isabs(audit_log):
        assert os.environ.get("RECONCILER_AUDIT_LOG") == audit_log, audit_log
    elif audit_log:
        apply_settings["audit_log"] = audit_log
    files: dict[str, Any] = {
        "reconciler.yaml": {
            "version": 1,
            "accounts": {
                "na": {
                    "seller_id": SELLER,
                    "region": "NA",
                    "endpoint": endpoint,
                    "marketplaces": {"US": {"mli": True}, "CA": None},
                }
            },
            "safety": {"max_update_share": 1, "max_price_change_pct": 1000},
            "apply": apply_settings,
        },
        "rates.yaml": {
            "as_of": "2026-11-20",
            "source": "test",
            "base": "USD",
            "rates": {"USD": 1, "CAD": 1.37},
        },
        "pricing.yaml": {
            "base_currency": "USD",
            "defaults": {"formula": "base * rate + tax", "tax": 0, "ending": ".99"},
        },
        "locations.yaml": {
            "locations": {
                "store-a": {
                    "alias": "Store A – Newark",
                    "fulfillment_channel_code": LOC_A,
                    "account": "na",
                    "marketplace": "US",
                },
                "store-b": {
                    "alias": "Store B – Reno",
                    "fulfillment_channel_code": LOC_B,
                    "account": "na",
                    "marketplace": "US",
                },
            }
        },
        "skus/generated.yaml": {
            "skus": {
                f"GEN-{i:04d}": {
                    "product_type": "PRODUCT",
                    "requirements": "LISTING_OFFER_ONLY",
                    "attributes": {"condition_type": "new_new",
                                   "merchant_suggested_asin": f"B0GEN{i:05d}"},
                    "base_price": 10 + i % 40,
                    "texts": {
                        "en_US": {
                            "item_name": f"Stoneware mug no. {i}",
                            "bullet_points": ["Holds 12 oz", "Dishwasher safe"],
                        },
                        "en_CA": {"item_name": f"Stoneware mug no. {i} (Canada)"},
                    },
                    "quantity": {"US": {"store-a": 10 + i % 5, "store-b": i % 4}, "CA": 3 + i % 6},
                }
                for i in range(n)
            }
        },
    }
    for rel, data in files.items():
        (root / rel).write_text(
            yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
    write_product_types(root)


def write_product_types(root: Any) -> None:
    """The product type definitions the catalog at ``root`` uses, as a pull would cache them."""
    from reconciler.catalog.desired import schema_needs
    from reconciler.catalog.loader import load
    from reconciler.emulator.product_types import write_catalog_copies

    write_catalog_copies(root, schema_needs(load(root, definitions=False)),
                         retrieved="2026-11-20")


def exact_seed(desired: DesiredState) -> dict[str, Any]:
    """Live listings equal to desired in every managed field, with unmanaged extras (brand,
    discounted price, lead time, an FBA channel, a French title on CA)."""
    seed = drifted_seed(desired)
    rows = seed["sellers"][SELLER]["listings"]
    for row, d in zip(rows, desired.listings, strict=True):
        attrs = to_json_value(d.attributes)
        attrs["brand"] = [{"value": "Acme", "language_tag": _lang(d.key.marketplace_id),
                           "marketplace_id": d.key.marketplace_id}]
        attrs["purchasable_offer"][0]["discounted_price"] = [
            {
                "schedule": [
                    {"value_with_tax": 1.0, "start_at": "2030-01-01", "end_at": "2030-01-31"}
                ]
            }
        ]
        attrs["fulfillment_availability"][0]["lead_time_to_ship_max_days"] = 2
        if d.key.marketplace_id == CA.marketplace_id:
            attrs["item_name"].append(
                {"value": "Tasse", "language_tag": "fr_CA", "marketplace_id": d.key.marketplace_id}
            )
        row["attributes"] = attrs
    return seed
