"""The embedded emulator's first-use state: the sample catalog's listings, drifted.

`reconciler plan` on a fresh machine must show a meaningful plan with no credentials, so the
embedded emulator starts with live state that differs from ``catalog/`` the way real accounts
drift (design.md §1, issue 4):

- prices edited by hand (a few percent off the formula);
- a stale non-zero ``DEFAULT`` on MLI listings (Amazon's MLI guide: ``ssnm001`` DEFAULT = 3);
- a title edited in Seller Central;
- unmanaged data that must be left alone: a ``brand`` attribute on every listing whose SKU does
  not declare one, a ``discounted_price`` beside one ``our_price`` that the catalog does not
  manage, a lead time beside one location quantity, and an ``AMAZON_NA`` channel entry;
- a few listings not yet created.

Listings marked ``state: absent`` are not seeded (their deletion would trip the sample's safe
default ``safety.allow_deletes: false``, and a fresh clone's first plan must exit 0/2).

The seed is generated from the sample catalog by ``python -m tests.demo_seed CATALOG``
and shipped as package data (``data/demo_seed.json``) so an installed package needs no catalog
to seed itself; a test regenerates it and compares, so it cannot drift from ``catalog/``.
"""

from __future__ import annotations

import hashlib
import json
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any

from reconciler.kernel.marketplaces import BY_ID
from reconciler.kernel.model import DEFAULT_CHANNEL, DesiredListing, DesiredState, to_json_value

SEED_FILE = "demo_seed.json"
BRAND = "Hearth & Hollow"
SELLER_CENTRAL_TITLE_SUFFIX = " - NEW!!"


def _bucket(key: tuple[str, ...], n: int) -> int:
    """A stable pseudo-random bucket for a listing (no RNG state, no clock)."""
    h = hashlib.sha256("|".join(key).encode()).digest()
    return int.from_bytes(h[:4], "big") % n


def _drift_price(entries: list[dict[str, Any]], factor: Decimal) -> None:
    for e in entries:
        for op in e.get("our_price", []):
            for s in op.get("schedule", []):
                raw = s["value_with_tax"]
                exp = Decimal(1) if isinstance(raw, int) else Decimal("0.01")  # JPY is whole
                new = (Decimal(str(raw)) * factor).quantize(exp, rounding=ROUND_HALF_UP)
                s["value_with_tax"] = int(new) if isinstance(raw, int) else float(new)


def _live_attributes(d: DesiredListing, i: int) -> dict[str, Any]:
    attrs: dict[str, Any] = to_json_value(d.attributes)
    key = (d.key.account, d.key.sku, d.key.marketplace_id)
    mp = d.key.marketplace_id
    names = attrs.get("item_name") or [{}]
    lang = names[0].get("language_tag") or BY_ID[mp].language_tag
    attrs.setdefault("brand", [{"value": BRAND, "language_tag": lang, "marketplace_id": mp}])
    offers = attrs.get("purchasable_offer")
    if offers and _bucket(key, 6) == 0:
        _drift_price(offers, Decimal("0.93"))
    if offers and i == 1 and "discounted_price" not in offers[0]:
        # an unmanaged discount that a `merge` must keep
        offers[0]["discounted_price"] = [
            {
                "schedule": [
                    {"value_with_tax": 1.0, "start_at": "2026-01-01", "end_at": "2026-12-31"}
                ]
            }
        ]
    fa = attrs.get("fulfillment_availability")
    if fa:
        if d.mli:
            # MLI listings drifted to a stale DEFAULT offer: locations unset, DEFAULT = 3.
            if _bucket(key, 4) == 0 or d.key.sku in ("ssnm001", "ssnm002"):
                attrs["fulfillment_availability"] = [
                    {"fulfillment_channel_code": DEFAULT_CHANNEL, "quantity": 3}
                ]
            else:
                fa[0]["lead_time_to_ship_max_days"] = 2  # unmanaged sibling, must survive
        elif i == 2:
            fa.append({"fulfillment_channel_code": "AMAZON_NA", "quantity": 0})
        elif _bucket(key, 7) == 0:
            for e in fa:
                if e.get("fulfillment_channel_code") == DEFAULT_CHANNEL:
                    e["quantity"] = int(e.get("quantity", 0)) + 4
    return attrs


def build_seed(desired: DesiredState) -> dict[str, Any]:
    """Live state for every listing of ``desired``, drifted deterministically."""
    sellers: dict[str, dict[str, Any]] = {}
    seller_of = {a.name: a.seller_id for a in desired.accounts}
    titled = False
    present = [d for d in desired.listings if d.state == "present"]
    for i, d in enumerate(present):
        if _bucket((d.key.account, d.key.sku, d.key.marketplace_id), 10) == 0 and not d.mli:
            continue  # not yet created on Amazon: the plan creates it
        attrs = _live_attributes(d, i)
        names = attrs.get("item_name")
        if names and not titled and not d.held_texts:
            names[0]["value"] = str(names[0]["value"]) + SELLER_CENTRAL_TITLE_SUFFIX
            titled = True
        s = sellers.setdefault(seller_of[d.key.account], {"listings": [], "supplySources": []})
        s["listings"].append(
            {
                "sku": d.key.sku,
                "marketplaceId": d.key.marketplace_id,
                "productType": d.product_type,
                "attributes": attrs,
            }
        )
    # Listings the catalog marks `state: absent` are not seeded live: with the sample's safe
    # default `safety.allow_deletes: false` a delete would make the first plan unsafe (exit 1).
    # Every MLI channel code the catalog uses is an Active supply source of its seller.
    for d in desired.listings:
        if not d.mli:
            continue
        s = sellers.setdefault(seller_of[d.key.account], {"listings": [], "supplySources": []})
        known = {x["supplySourceId"] for x in s["supplySources"]}
        for e in d.attributes.get("fulfillment_availability", []):
            code = str(e["fulfillment_channel_code"])
            if code != DEFAULT_CHANNEL and code not in known:
                known.add(code)
                s["supplySources"].append(_supply_source(code, len(known)))
    for s in sellers.values():
        s["listings"].sort(key=lambda x: (x["sku"], x["marketplaceId"]))
    return {"sellers": dict(sorted(sellers.items()))}


def _supply_source(code: str, n: int) -> dict[str, Any]:
    return {
        "supplySourceId": code,
        "supplySourceCode": f"LOC-{n:02d}",
        "alias": f"Location {n}",
        "status": "Active",
        "address": {
            "name": f"Location {n}",
            "addressLine1": f"{100 * n} Commerce Way",
            "countryCode": "US",
            "stateOrRegion": "NJ" if n % 2 else "NV",
        },
    }


def demo_seed() -> dict[str, Any]:
    """The shipped seed (package data)."""
    path = resources.files("reconciler.emulator").joinpath("data").joinpath(SEED_FILE)
    if not path.is_file():  # a checkout before the seed was generated: start empty
        return {"sellers": {}}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def seed_json(desired: DesiredState) -> str:
    return json.dumps(build_seed(desired), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
