"""Realistic generated catalogs and matching emulator seeds (issue 7, "Build").

:func:`write_catalog` writes a catalog in the real format (``schemas/``): N SKUs in family
files of ``family_size`` SKUs, on any marketplaces (accounts derived from the regions), texts in
every marketplace language (titles through sandboxed jinja2 templates, literal bullets and
descriptions), MLI stores on US, literal quantities elsewhere, and every fifth SKU allocated
from ``stock.csv`` by a policy.

:func:`seed_for` turns a :class:`DesiredState` (the loaded catalog) into an emulator seed whose
live listings match it except for ``drift`` (a share of listings, chosen deterministically)
whose price, stock and title differ, with the unmanaged noise Amazon adds (brand, lead times,
discounted prices, echoed marketplace ids, numbers as floats).

Both are deterministic for the same arguments, so two runs bench the same work.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reconciler.emulator.product_types import write_catalog_copies
from reconciler.kernel.marketplaces import by_code
from reconciler.kernel.model import DesiredState, to_json_value

SELLERS = {"NA": "A1PP0FEH11RW77", "EU": "A2EXAMPLEEU001", "FE": "A3EXAMPLEFE001"}
ACCOUNT_NAMES = {"NA": "na", "EU": "eu", "FE": "fe"}
STORE_NEWARK = "353e4e48-6301-4d50-990e-43a86e8787a3"
STORE_RENO = "8e07a0c9-ab0a-4108-9f16-83dc3496bee0"
OLD_TIMESTAMP = "2026-01-05T08:00:00.000Z"  # seeded listings were last updated long ago

RATES = {"USD": 1, "CAD": 1.3654, "MXN": 17.214, "GBP": 0.7912, "EUR": 0.9205, "JPY": 151.37,
         "BRL": 5.41, "SEK": 10.62, "PLN": 3.98, "AUD": 1.52, "SGD": 1.34, "TRY": 34.2,
         "INR": 84.1, "AED": 3.67, "SAR": 3.75, "EGP": 49.1, "ZAR": 18.1}

KINDS = ("Mug", "Bowl", "Bottle", "Board", "Plate", "Jar", "Pan", "Kettle")
COLORS = ("Sage", "Charcoal", "Ivory", "Terracotta", "Navy", "Mustard", "Slate", "Rose")

# Per language: title template, three bullets, a description. {n}/{kind}/{color} are filled
# by the generator; {{ }} by the catalog's sandboxed jinja2.
_EN = ("{{ brand }} {{ kind }} no. {{ n }}, {{ size }} – {{ color }}, Dishwasher Safe",
       ("HANDMADE LOOK: reactive glaze, every piece is a little different",
        "EVERYDAY SIZE: {size} for coffee, soup or snacks",
        "EASY CARE: dishwasher and microwave safe"),
       "A sturdy {kind_l} from the Birchwood Kitchen range, fired twice for strength.")
LANGUAGES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "en": _EN,
    "es": ("{{ kind }} {{ brand }} n.º {{ n }}, {{ size }} – {{ color }}, apto para lavavajillas",
           ("ASPECTO ARTESANAL: esmalte reactivo, cada pieza es única",
            "TAMAÑO DIARIO: {size} para café, sopa o botanas",
            "FÁCIL CUIDADO: apto para lavavajillas y microondas"),
           "Una pieza resistente de la línea Birchwood Kitchen, cocida dos veces."),
    "de": ("{{ brand }} {{ kind }} Nr. {{ n }}, {{ size }} – {{ color }}, spülmaschinenfest",
           ("HANDGEMACHTE OPTIK: Reaktionsglasur, jedes Stück ein Unikat",
            "ALLTAGSGRÖSSE: {size} für Kaffee, Suppe oder Snacks",
            "PFLEGELEICHT: spülmaschinen- und mikrowellengeeignet"),
           "Ein robustes Stück aus der Birchwood-Kitchen-Serie, zweimal gebrannt."),
    "fr": ("{{ brand }} {{ kind }} n° {{ n }}, {{ size }} – {{ color }}, lave-vaisselle",
           ("ASPECT ARTISANAL : émail réactif, chaque pièce est unique",
            "TAILLE QUOTIDIENNE : {size} pour café, soupe ou en-cas",
            "ENTRETIEN FACILE : lave-vaisselle et micro-ondes"),
           "Une pièce robuste de la gamme Birchwood Kitchen, cuite deux fois."),
    "ja": ("{{ brand }} {{ kind }} No.{{ n }} {{ size }} {{ color }} 食洗機対応",
           ("手作り風：窯変釉で一点ずつ異なる表情", "毎日使いやすい {size}",
            "お手入れ簡単：食洗機・電子レンジ対応"),
           "Birchwood Kitchen シリーズの丈夫な器。二度焼きで強度を高めています。"),
}


@dataclass(frozen=True)
class CatalogInfo:
    root: Path
    skus: int
    marketplaces: tuple[str, ...]
    listings: int
    files: int


def _lang(tag: str) -> str:
    short = tag.split("_", 1)[0]
    return short if short in LANGUAGES else "en"


def sku_name(i: int) -> str:
    return f"BK-{i:06d}"


def write_catalog(
    root: str | Path,
    skus: int,
    marketplaces: Sequence[str] = ("US", "CA", "MX"),
    *,
    endpoint: str = "emulator",
    family_size: int = 100,
    price_shift: int = 0,
    changed: Iterable[int] = (),
    verify_timeout_s: float = 600.0,
    verify_interval_s: float = 5.0,
) -> CatalogInfo:
    """Write a catalog of ``skus`` SKUs on ``marketplaces`` under ``root``.

    ``price_shift`` adds to every base price; ``changed`` SKU indexes get +1 on their base price
    (a catalog edit, e.g. for an incremental plan after a 1 % change)."""
    root = Path(root)
    (root / "skus").mkdir(parents=True, exist_ok=True)
    (root / "templates").mkdir(parents=True, exist_ok=True)
    mps = [by_code(c) for c in marketplaces]
    regions = sorted({m.region for m in mps})
    accounts: dict[str, Any] = {}
    for r in regions:
        mp_cfg: dict[str, Any] = {}
        for m in mps:
            if m.region != r:
                continue
            cfg: dict[str, Any] = {}
            if m.code == "US":
                cfg["mli"] = True
            if m.code == "CA":
                cfg["fallback_languages"] = ["en_US"]
            mp_cfg[m.code] = cfg
        accounts[ACCOUNT_NAMES[r]] = {
            "seller_id": SELLERS[r], "region": r, "endpoint": endpoint,
            "credentials": {"refresh_token": f"env/SP_API_BENCH_REFRESH_TOKEN_{r}",
                            "client_id": "env/LWA_BENCH_APP_ID",
                            "client_secret": "env/LWA_BENCH_CLIENT_SECRET"},
            "marketplaces": mp_cfg,
        }
    files = 0

    def dump(rel: str, data: Any) -> None:
        nonlocal files
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
        (root / rel).write_text(text, encoding="utf-8")
        files += 1

    dump("reconciler.yaml", {
        "version": 1,
        "accounts": accounts,
        "safety": {"max_update_share": 1, "max_price_change_pct": 1000, "allow_deletes": False},
        "apply": {"strategy": "auto", "verify_timeout_seconds": verify_timeout_s,
                  "verify_interval_seconds": verify_interval_s},
    })
    currencies = sorted({m.currency for m in mps} | {"USD"})
    # rates.yaml may not be empty: a US-only catalog (bench hybrid) still gets one rate
    rates = {c: RATES.get(c, 1) for c in currencies if c != "USD"} or {"CAD": RATES["CAD"]}
    dump("rates.yaml", {"as_of": "2026-11-20", "source": "bench", "base": "USD",
                        "rates": rates})
    pricing_mps: dict[str, Any] = {}
    for m in mps:
        if m.region == "EU":
            pricing_mps[m.code] = {"formula": "base * rate * (1 + vat) + tax",
                                   "vars": {"vat": 0.2}}
        elif m.code == "MX":
            pricing_mps[m.code] = {"formula": "base * rate * margin + tax",
                                   "vars": {"margin": 1.08}, "ending": "whole"}
        elif m.currency == "JPY":
            pricing_mps[m.code] = {"ending": "whole"}
    dump("pricing.yaml", {"base_currency": "USD",
                          "defaults": {"formula": "base * rate + tax", "tax": 0,
                                       "ending": ".99"},
                          "marketplaces": pricing_mps})
    locations: dict[str, Any] = {}
    if any(m.code == "US" for m in mps):
        locations["newark"] = {"alias": "Store A – Newark", "fulfillment_channel_code":
                               STORE_NEWARK, "account": "na", "marketplace": "US"}
        locations["reno"] = {"alias": "Store B – Reno", "fulfillment_channel_code": STORE_RENO,
                             "account": "na", "marketplace": "US"}
    non_mli = [m for m in mps if m.code != "US"]
    for m in non_mli:
        locations[f"dc-{m.code.lower()}"] = {
            "alias": f"{m.code} DC", "fulfillment_channel_code": f"dc-{m.code.lower()}-1",
            "account": ACCOUNT_NAMES[m.region], "marketplace": m.code}
    dump("locations.yaml", {"locations": locations, "allocation_policies": {
        "standard": {"buffer": 2, "floor": 3, "max": 40, "threshold": 12}}})
    langs = sorted({_lang(m.language_tag) for m in mps})
    for lang in langs:
        (root / "templates" / f"title.{lang}.j2").write_text(LANGUAGES[lang][0] + "\n",
                                                             encoding="utf-8")
        files += 1

    changed_set = set(changed)
    stock_rows: list[tuple[str, str, int]] = []
    family: dict[str, Any] = {}
    fam_no = 0
    for i in range(skus):
        sku = sku_name(i)
        kind, color = KINDS[i % len(KINDS)], COLORS[(i // 3) % len(COLORS)]
        size = f"{8 + i % 9 * 2} oz"
        texts: dict[str, Any] = {}
        for m in mps:
            tag = m.language_tag
            if m.code == "CA":
                continue  # falls back to en_US (reconciler.yaml)
            lang = _lang(tag)
            _, bullets, desc = LANGUAGES[lang]
            texts[tag] = {
                "item_name": {"template": f"title.{lang}.j2"},
                "product_description": desc.format(kind_l=kind.lower()),
                "bullet_points": [b.format(size=size) for b in bullets],
            }
        if "en_US" not in texts and any(m.code == "CA" for m in mps):
            _, bullets, desc = LANGUAGES["en"]
            texts["en_US"] = {"item_name": {"template": "title.en.j2"},
                              "bullet_points": [b.format(size=size) for b in bullets],
                              "product_description": desc.format(kind_l=kind.lower())}
        base = 9 + (i * 7) % 60 + price_shift + (1 if i in changed_set else 0)
        entry: dict[str, Any] = {
            "product_type": "HOME",
            # offers on existing ASINs, as most multi-marketplace listings are (issue 14)
            "requirements": "LISTING_OFFER_ONLY",
            "attributes": {"condition_type": "new_new",
                           "merchant_suggested_asin": f"B0{i:08d}"},
            "base_price": round(base + 0.5, 2),
            "vars": {"brand": "Birchwood Kitchen", "kind": kind, "n": i, "size": size,
                     "color": color},
            "texts": texts,
        }
        if i % 5 == 4:  # allocated from central stock
            entry["allocation"] = "standard"
            stock_rows.append((sku, "central", 20 + i % 90))
            for loc in locations:
                stock_rows.append((sku, loc, i % 15))
        else:
            qty: dict[str, Any] = {}
            for m in mps:
                if m.code == "US":
                    qty["US"] = {"newark": 5 + i % 20, "reno": i % 11}
                else:
                    qty[m.code] = 3 + (i * 3) % 25
            entry["quantity"] = qty
        family[sku] = entry
        if len(family) == family_size or i == skus - 1:
            dump(f"skus/family-{fam_no:04d}.yaml", {"skus": family})
            fam_no += 1
            family = {}
    with (root / "stock.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sku", "location", "on_hand"])
        w.writerows(stock_rows)
    files += 1
    # the product type definitions the catalog uses, as `reconciler product-types pull` caches
    files += len(write_catalog_copies(
        root, [("HOME", m.code, "LISTING_OFFER_ONLY") for m in mps], retrieved="2026-11-20"))
    return CatalogInfo(root, skus, tuple(marketplaces), skus * len(mps), files)


def drifted_indexes(n: int, drift: float, *, salt: int = 0) -> set[int]:
    """A deterministic ``drift`` share (0..1) of ``range(n)``."""
    k = round(n * drift)
    if k >= n:
        return set(range(n))
    return set(random.Random(f"drift-{salt}-{n}-{k}").sample(range(n), k))


def seed_for(
    desired: DesiredState,
    drift: float,
    *,
    missing: float = 0.0,
    salt: int = 0,
    updated: str = OLD_TIMESTAMP,
) -> dict[str, Any]:
    """An emulator seed whose live listings equal ``desired`` except a ``drift`` share (price
    +1, stock moved to DEFAULT on MLI / +2 elsewhere, an old title), and a ``missing`` share
    not listed at all. Unmanaged noise is added to every listing."""
    listings = [d for d in desired.listings if d.state != "absent"]
    n = len(listings)
    drifted = drifted_indexes(n, drift, salt=salt)
    gone = drifted_indexes(n, missing, salt=salt + 1) if missing else set()
    sellers = {a.name: a.seller_id for a in desired.accounts}
    rows: dict[str, list[dict[str, Any]]] = {s: [] for s in sellers.values()}
    for j, d in enumerate(listings):
        if j in gone:
            continue
        attrs = to_json_value(d.attributes)
        mp = d.key.marketplace_id
        for offer in attrs.get("purchasable_offer", []):
            if j in drifted:
                sched = offer["our_price"][0]["schedule"][0]
                sched["value_with_tax"] = round(float(sched["value_with_tax"]) + 1, 2)
            offer["discounted_price"] = [{"schedule": [{
                "value_with_tax": 1.0, "start_at": "2030-01-01", "end_at": "2030-01-31"}]}]
        fa = attrs.get("fulfillment_availability", [])
        if j in drifted and fa:
            if d.mli:
                total = sum(int(e["quantity"]) for e in fa)
                fa = [{"fulfillment_channel_code": "DEFAULT", "quantity": total}]
            else:
                fa = [{**e, "quantity": int(e["quantity"]) + 2} for e in fa]
        attrs["fulfillment_availability"] = [{**e, "lead_time_to_ship_max_days": 2} for e in fa]
        if j in drifted and attrs.get("item_name"):
            attrs["item_name"][0]["value"] = "OLD " + attrs["item_name"][0]["value"]
        attrs["brand"] = [{"value": "Birchwood Kitchen", "marketplace_id": mp}]
        rows[sellers[d.key.account]].append({
            "sku": d.key.sku, "marketplaceId": mp, "productType": d.product_type,
            "attributes": attrs, "createdDate": updated, "lastUpdatedDate": updated,
        })
    out: dict[str, Any] = {"sellers": {}}
    for seller, ls in rows.items():
        data: dict[str, Any] = {"listings": ls}
        if seller == SELLERS["NA"]:
            data["supplySources"] = [
                {"supplySourceId": STORE_NEWARK, "supplySourceCode": "newark",
                 "alias": "Store A – Newark", "status": "Active"},
                {"supplySourceId": STORE_RENO, "supplySourceCode": "reno",
                 "alias": "Store B – Reno", "status": "Active"},
            ]
        out["sellers"][seller] = data
    return out


def write_seed(path: str | Path, seed: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(seed, ensure_ascii=False), encoding="utf-8")
