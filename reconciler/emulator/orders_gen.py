"""A deterministic order generator for the emulator.

``generate(emu, count, marketplaces=("US", "CA", ...), seed=0)`` creates ``count`` merchant-
fulfilled ``UNSHIPPED`` orders spread round-robin over the given marketplaces. For each order:

- the buyer is drawn from a small per-country table (names, cities with their state/province/
  region), so the ship-to address is in the marketplace's country (UK -> ``GB``);
- the lines (1 to 3 distinct SKUs, 1 or 2 units) come from the live listings of a seller in that
  marketplace whose ``fulfillment_availability`` still has that many units; the price is the
  listing's ``our_price``;
- those units leave the listing's per-location stock (the first channel entry that holds them),
  as Amazon's would; the listings are written once at the end (history ``source="orders"``).

Order ids are Amazon-shaped (``3-7-7`` digits) and ``createdTime`` is spread over the
``span_s`` seconds before "now minus 10 minutes", so every generated order is already inside a
``searchOrders`` window. The same (emulator contents, arguments) always yields the same orders.
A marketplace with nothing left to sell gets no more orders (the count returned says how many
were made).
"""

from __future__ import annotations

import json
import random
import zlib
from typing import Any

from reconciler.kernel.marketplaces import BY_ID, MARKETPLACES

from . import listings_store, store
from .orders_store import insert_order, now_wall
from .state import EmulatorState

COUNTRY = {"UK": "GB"}  # marketplace code -> ISO country where they differ
FIRST = ("Alex", "Sam", "Maria", "Jordan", "Lena", "Noah", "Emma", "Luis", "Sofia", "Ben",
         "Chloe", "Felix", "Ana", "Oliver", "Mia", "Jonas")
LAST = ("Smith", "Garcia", "Müller", "Brown", "Martin", "Lopez", "Schmidt", "Wilson", "Taylor",
        "Hernández", "Roy", "Fischer", "Evans", "Tremblay", "Walker", "Weber")
# country -> (city, stateOrRegion, postal code) rows
CITIES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "US": (("Seattle", "WA", "98101"), ("Brooklyn", "NY", "11201"), ("Austin", "TX", "78701"),
           ("Miami", "FL", "33101"), ("Denver", "CO", "80202"), ("Chicago", "IL", "60601"),
           ("San Diego", "CA", "92101"), ("Boston", "MA", "02108"), ("Phoenix", "AZ", "85001"),
           ("Portland", "OR", "97201"), ("Atlanta", "GA", "30303"), ("Newark", "NJ", "07102"),
           ("Reno", "NV", "89501"), ("Columbus", "OH", "43215")),
    "CA": (("Toronto", "ON", "M5H 2N2"), ("Vancouver", "BC", "V6B 1A1"),
           ("Montréal", "QC", "H2Y 1C6"), ("Calgary", "AB", "T2P 1J9"),
           ("Halifax", "NS", "B3H 1A1"), ("Winnipeg", "MB", "R3C 0V8")),
    "MX": (("Ciudad de México", "CDMX", "06000"), ("Guadalajara", "JAL", "44100"),
           ("Monterrey", "NL", "64000"), ("Puebla", "PUE", "72000"),
           ("Tijuana", "BC", "22000"), ("Mérida", "YUC", "97000")),
    "GB": (("London", "England", "SW1A 1AA"), ("Manchester", "England", "M1 1AE"),
           ("Edinburgh", "Scotland", "EH1 1YZ"), ("Cardiff", "Wales", "CF10 1EP"),
           ("Belfast", "Northern Ireland", "BT1 5GS"), ("Bristol", "England", "BS1 4DJ")),
    "DE": (("Berlin", "Berlin", "10115"), ("München", "Bayern", "80331"),
           ("Hamburg", "Hamburg", "20095"), ("Köln", "Nordrhein-Westfalen", "50667"),
           ("Frankfurt am Main", "Hessen", "60311"), ("Leipzig", "Sachsen", "04109"),
           ("Stuttgart", "Baden-Württemberg", "70173")),
    "FR": (("Paris", "Île-de-France", "75001"), ("Lyon", "Auvergne-Rhône-Alpes", "69001")),
}
STREETS = ("Main Street", "Oak Avenue", "Hauptstraße", "Calle Reforma", "High Street",
           "Rue Principale", "Maple Road", "Lindenweg")


def country_of(marketplace_code: str) -> str:
    return COUNTRY.get(marketplace_code, marketplace_code)


def _price(attrs: dict[str, Any]) -> str:
    for offer in attrs.get("purchasable_offer") or []:
        for p in offer.get("our_price") or []:
            for s in p.get("schedule") or []:
                v = s.get("value_with_tax")
                if isinstance(v, (int, float)):
                    return f"{float(v):.2f}"
    return "19.99"


def _title(attrs: dict[str, Any], sku: str) -> str:
    for t in attrs.get("item_name") or []:
        if isinstance(t, dict) and t.get("value"):
            return str(t["value"])
    return sku


class _Listing:
    def __init__(self, seller: str, sku: str, mp: str, ptype: str, attrs: dict[str, Any]):
        self.seller, self.sku, self.mp, self.ptype, self.attrs = seller, sku, mp, ptype, attrs
        self.dirty = False

    def available(self) -> int:
        return sum(int(e.get("quantity") or 0) for e in self.attrs.get("fulfillment_availability")
                   or [] if isinstance(e, dict))

    def take(self, qty: int) -> None:
        entries = [e for e in self.attrs.get("fulfillment_availability") or []
                   if isinstance(e, dict)]
        for e in sorted(entries, key=lambda e: e.get("fulfillment_channel_code") == "DEFAULT"):
            have = int(e.get("quantity") or 0)
            step = min(have, qty)
            if step:
                e["quantity"] = have - step
                qty -= step
            if qty == 0:
                break
        self.dirty = True


def generate(
    emu: EmulatorState,
    count: int,
    marketplaces: tuple[str, ...] = ("US", "CA", "MX", "UK", "DE"),
    *,
    seed: int = 0,
    span_s: float = 86_400.0,
) -> list[str]:
    """Create up to ``count`` orders; returns their ids (in creation order)."""
    rng = random.Random(seed)
    with emu.lock:
        by_mp: dict[str, list[_Listing]] = {}
        for code in marketplaces:
            mp = MARKETPLACES[code].marketplace_id
            rows = emu.db.execute(
                "SELECT seller_id, sku, product_type, attributes FROM listings"
                " WHERE marketplace_id = ? ORDER BY seller_id, sku", (mp,)).fetchall()
            by_mp[code] = [_Listing(r[0], r[1], mp, r[2], json.loads(r[3])) for r in rows]
        end = now_wall(emu) - 600.0
        start = end - span_s
        existing = int(emu.db.execute("SELECT COUNT(*) FROM orders").fetchone()[0])
        ids: list[str] = []
        with store.transaction(emu.db):
            for i in range(count):
                code = marketplaces[i % len(marketplaces)]
                pool = [x for x in by_mp[code] if x.available() > 0]
                if not pool:
                    continue
                seller = rng.choice(sorted({x.seller for x in pool}))
                pool = [x for x in pool if x.seller == seller]
                n_lines = min(len(pool), rng.choice((1, 1, 1, 2, 2, 3)))
                lines = rng.sample(pool, n_lines)
                items = []
                for j, lst in enumerate(lines):
                    qty = min(lst.available(), rng.choice((1, 1, 1, 2)))
                    lst.take(qty)
                    items.append({"orderItemId": f"{rng.randrange(10**13, 10**14)}{j}",
                                  "sku": lst.sku,
                                  "asin": f"B0{zlib.crc32(lst.sku.encode()) % 10**8:08d}",
                                  "title": _title(lst.attrs, lst.sku), "quantity": qty,
                                  "unitPrice": _price(lst.attrs)})
                country = country_of(code)
                city, region, postal = rng.choice(CITIES[country])
                name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
                n = existing + i
                oid = f"{100 + n % 900:03d}-{rng.randrange(10**6, 10**7)}-{n:07d}"
                created = start + span_s * (i + 0.5) / max(count, 1)
                insert_order(emu, {
                    "orderId": oid, "sellerId": seller,
                    "marketplaceId": MARKETPLACES[code].marketplace_id,
                    "createdTs": created, "updatedTs": created, "status": "UNSHIPPED",
                    "fulfilledBy": "MERCHANT", "serviceLevel": "STANDARD",
                    "currency": MARKETPLACES[code].currency,
                    "buyer": {"buyerName": name,
                              "buyerEmail": f"{oid.replace('-', '')}@marketplace.amazon.test"},
                    "address": {"name": name, "addressLine1":
                                f"{rng.randrange(1, 400)} {rng.choice(STREETS)}",
                                "city": city, "stateOrRegion": region, "postalCode": postal,
                                "countryCode": country, "addressType": "RESIDENTIAL"},
                    "items": items,
                })
                ids.append(oid)
            for lst in (x for xs in by_mp.values() for x in xs if x.dirty):
                listings_store.put_direct(emu, lst.seller, lst.sku, lst.mp, lst.ptype, lst.attrs,
                                    source="orders")
    return ids


def marketplace_code(marketplace_id: str) -> str:
    return BY_ID[marketplace_id].code


def place(emu: EmulatorState, seller_id: str, marketplace_id: str,
          lines: list[tuple[str, int]], order_id: str | None = None) -> str:
    """A buyer places one order now (created this instant, unlike :func:`generate`'s past ones):
    its units leave the listings' stock, ORDER_CHANGE and the quantity changes are published
    when subscribed. Call under ``emu.lock``. ValueError (a one-line reason) when a SKU has no
    listing in the marketplace or fewer units than ordered."""
    code = marketplace_code(marketplace_id)
    if not lines:
        raise ValueError("an order needs at least one line")
    with store.transaction(emu.db):
        n = int(emu.db.execute("SELECT COUNT(*) FROM orders").fetchone()[0])
        oid = order_id or f"{900 + n % 100:03d}-{zlib.crc32(seller_id.encode()) % 10**7:07d}-" \
            f"{n:07d}"
        if emu.db.execute("SELECT 1 FROM orders WHERE order_id = ?", (oid,)).fetchone():
            raise ValueError(f"order {oid} exists")
        rng = random.Random(oid)
        items = []
        taken: dict[str, _Listing] = {}  # a SKU on two lines takes from the same stock
        for j, (sku, qty) in enumerate(lines):
            lst_or_none = taken.get(sku)
            if lst_or_none is None:
                row = emu.db.execute(
                    "SELECT product_type, attributes FROM listings WHERE seller_id = ?"
                    " AND sku = ? AND marketplace_id = ?", (seller_id, sku, marketplace_id),
                ).fetchone()
                if row is None:
                    raise ValueError(f"no listing {sku} in {code} for seller {seller_id}")
                lst_or_none = _Listing(seller_id, sku, marketplace_id, row[0],
                                       json.loads(row[1]))
            lst = lst_or_none
            if qty < 1 or lst.available() < qty:
                raise ValueError(f"{sku} in {code} has {lst.available()} units, {qty} ordered")
            lst.take(qty)
            taken[sku] = lst
            items.append({"orderItemId": f"{rng.randrange(10**13, 10**14)}{j}", "sku": sku,
                          "asin": f"B0{zlib.crc32(sku.encode()) % 10**8:08d}",
                          "title": _title(lst.attrs, sku), "quantity": qty,
                          "unitPrice": _price(lst.attrs)})
        country = country_of(code)
        city, region, postal = rng.choice(CITIES.get(country) or CITIES["US"])
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        now = now_wall(emu)
        insert_order(emu, {
            "orderId": oid, "sellerId": seller_id, "marketplaceId": marketplace_id,
            "createdTs": now, "updatedTs": now, "status": "UNSHIPPED", "fulfilledBy": "MERCHANT",
            "serviceLevel": "STANDARD", "currency": MARKETPLACES[code].currency,
            "buyer": {"buyerName": name,
                      "buyerEmail": f"{oid.replace('-', '')}@marketplace.amazon.test"},
            "address": {"name": name, "addressLine1": f"{rng.randrange(1, 400)} "
                        f"{rng.choice(STREETS)}", "city": city, "stateOrRegion": region,
                        "postalCode": postal, "countryCode": country,
                        "addressType": "RESIDENTIAL"},
            "items": items,
        })
        # after the order, so that ORDER_CHANGE is published before the quantity changes
        for lst in taken.values():
            listings_store.put_direct(emu, seller_id, lst.sku, marketplace_id, lst.ptype,
                                      lst.attrs, source="orders")
    return oid
