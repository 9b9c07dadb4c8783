"""`reconciler import`: live listings of one account -> a catalog that plans empty.

This is how a seller starts: read every listing of the chosen marketplaces
(``reader.read_all``), normalize it like the planner does (``live.normalize_item``), and write
catalog YAML that reproduces exactly the managed state Amazon has:

- **prices** as fixed per-marketplace overrides per SKU (``overrides: {CA: {price: 16.99}}``):
  there is no base price to derive them from yet; replace them by ``base_price`` + rules later;
- **quantities** literally: an integer for the DEFAULT channel of non-MLI marketplaces, and
  ``location -> quantity`` on MLI marketplaces (locations.yaml gets one location per channel
  code seen; FBA ``AMAZON_*`` channels are not managed);
- **texts** per language_tag of each marketplace (title, description, bullets in order);
- **the rest of the offer** as fixed per-marketplace overrides: sale price with its schedule,
  business (B2B) price with its quantity tiers, minimum/maximum seller allowed prices, and the
  list price in the marketplace's shape (``value`` or ``value_with_tax``);
- **every other attribute** Amazon returns (condition_type, merchant_suggested_asin, brand,
  identifiers, images, ...) under ``attributes:`` (per SKU when every marketplace has the same
  value, else per marketplace), and a ``requirements`` set per SKU: LISTING_OFFER_ONLY for an
  offer on an existing ASIN (merchant_suggested_asin), else LISTING. The CLI then pulls the
  product type definitions the new catalog uses (``product-types/``).

What cannot plan empty is reported as a warning, never silently changed: an MLI listing whose
DEFAULT channel carries stock (the catalog forces DEFAULT=0), an MLI listing lacking one of the
marketplace's locations (the catalog manages it at 0), SKUs whose name the catalog format does
not allow, a marketplace whose text differs between two marketplaces sharing a language.

Building the files is pure (:func:`build_files`); :func:`read_account` and :func:`write_files`
do the I/O.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from reconciler.kernel.model import (
    DEFAULT_CHANNEL,
    Account,
    ListingKey,
    LiveListing,
    MarketplaceConfig,
)
from reconciler.live import normalize as live_mod
from reconciler.live.reader import read_all
from reconciler.spapi.client import SpApiClient

SKU_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_LOCATION_NAME = re.compile(r"[^a-z0-9_-]+")


@dataclass(frozen=True)
class ImportResult:
    files: Mapping[str, str]  # path relative to the catalog root -> YAML text
    skus: int
    listings: int
    warnings: tuple[str, ...] = field(default=())


def read_account(
    client: SpApiClient,
    account: Account,
    marketplaces: Sequence[MarketplaceConfig],
    *,
    progress: Callable[[int], None] | None = None,
) -> dict[str, dict[str, LiveListing]]:
    """marketplace_id -> sku -> normalized live listing."""
    out: dict[str, dict[str, LiveListing]] = {}
    for mp in marketplaces:
        items = read_all(client, mp.marketplace_id, progress=progress)
        out[mp.marketplace_id] = {
            sku: live_mod.normalize_item(item, ListingKey(account.name, sku, mp.marketplace_id), mp)
            for sku, item in sorted(items.items())
        }
    return out


def _num(d: Decimal | int | float) -> int | float:
    d = Decimal(str(d))
    return int(d) if d == d.to_integral_value() else float(d)


def _location_name(code: str, used: dict[str, str]) -> str:
    base = _LOCATION_NAME.sub("-", code.lower()).strip("-_")[:40] or "location"
    if not base[0].isalnum():
        base = "l" + base
    base = "central-" + base if base == "central" else base
    name, n = base, 2
    while name in used and used[name] != code:
        name, n = f"{base}-{n}", n + 1
    used[name] = code
    return name


# The catalog carries the schemas its files name (``schemas/`` inside it, written by
# :func:`write_files`), so each file's modeline resolves wherever the catalog is put. A relative
# $schema is resolved against the YAML file's own directory, as in the sample catalog
# (https://github.com/redhat-developer/yaml-language-server/pull/499).
SCHEMAS_DIR = "schemas"
_MODELINE = re.compile(
    r"^# yaml-language-server: \$schema=(?:\./|\.\./)schemas/(\w+)\.schema\.json$"
)


def _header(kind: str) -> str:
    up = "../" if kind == "sku" else "./"  # skus/*.yaml are one directory down
    return f"# yaml-language-server: $schema={up}{SCHEMAS_DIR}/{kind}.schema.json\n"


def _dump(kind: str, data: Any, note: str = "") -> str:
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return _header(kind) + (f"# {note}\n" if note else "") + text


def build_files(
    account: Account,
    marketplaces: Sequence[MarketplaceConfig],
    live: Mapping[str, Mapping[str, LiveListing]],
    *,
    today: _dt.date,
) -> ImportResult:
    warnings: list[str] = []
    mp_by_id = {m.marketplace_id: m for m in marketplaces}
    # ---------------------------------------------------------------- locations (MLI)
    loc_names: dict[str, str] = {}  # name -> channel code
    loc_of: dict[tuple[str, str], str] = {}  # (mp code, channel code) -> location name
    for mp in marketplaces:
        if not mp.mli:
            continue
        codes = sorted(
            {
                str(e["fulfillment_channel_code"])
                for lst in live.get(mp.marketplace_id, {}).values()
                for e in lst.attributes.get("fulfillment_availability", [])
                if e.get("fulfillment_channel_code") not in (None, DEFAULT_CHANNEL)
                and not str(e.get("fulfillment_channel_code")).startswith("AMAZON_")
            }
        )
        for code in codes:
            loc_of[(mp.code, code)] = _location_name(code, loc_names)
    # ---------------------------------------------------------------- SKUs
    skus: dict[str, dict[str, Any]] = {}
    per_mp: dict[str, dict[str, dict[str, Any]]] = {}  # sku -> code -> catalog attributes
    listings = 0
    for mp_id in sorted(live):
        mp = mp_by_id[mp_id]
        for sku, lst in sorted(live[mp_id].items()):
            if not SKU_NAME.match(sku):
                warnings.append(
                    f"{sku!r} ({mp.code}): SKU name not supported by the catalog format; skipped"
                )
                continue
            listings += 1
            s = skus.setdefault(sku, {"product_type": lst.product_type, "marketplaces": []})
            s["marketplaces"].append(mp.code)
            if lst.product_type != s["product_type"]:
                warnings.append(
                    f"{sku} ({mp.code}): product type {lst.product_type} differs "
                    f"from {s['product_type']}; kept {s['product_type']}"
                )
            _texts(s, sku, lst, mp, warnings)
            _quantity(s, sku, lst, mp, loc_of, warnings)
            _prices(s, lst, mp)
            _offer_extras(s, lst, mp)
            per_mp.setdefault(sku, {})[mp.code] = _attributes(lst, mp)
    for sku, by_code in per_mp.items():
        _place_attributes(skus[sku], by_code)
    # every MLI listing must carry every location of its marketplace (else the catalog
    # manages the missing one at 0 and the plan is not empty)
    for sku, s in skus.items():
        for (code, _channel), name in loc_of.items():
            q = s.get("quantity", {}).get(code)
            if isinstance(q, dict) and name not in q:
                warnings.append(
                    f"{sku} ({code}): no quantity live for location {name}; "
                    "the catalog manages it at 0 (the first plan will set it)"
                )
    files: dict[str, str] = {}
    files["reconciler.yaml"] = _dump(
        "reconciler",
        _settings(account, marketplaces),
        f"imported from account {account.name} on {today}",
    )
    currencies = sorted({m.currency for m in marketplaces})
    files["pricing.yaml"] = _dump(
        "pricing",
        {"base_currency": currencies[0], "defaults": {"ending": "none"}},
        "imported prices are fixed per SKU (overrides); add base_price and rules to derive them",
    )
    files["rates.yaml"] = _dump(
        "rates",
        {
            "as_of": today.isoformat(),
            "source": "placeholder written by reconciler import",
            "base": currencies[0],
            "rates": dict.fromkeys(currencies, 1),
        },
        "placeholder: imported prices are fixed, so no rate is used yet; put real rates here",
    )
    if loc_names:
        files["locations.yaml"] = _dump(
            "locations",
            {
                "locations": {
                    name: {
                        "fulfillment_channel_code": code,
                        "account": account.name,
                        "marketplace": next(m for (m, c), n in loc_of.items() if n == name),
                    }
                    for name, code in sorted(loc_names.items())
                }
            },
        )
    used: set[str] = set()
    for sku in sorted(skus):
        fname = sku.lower()
        while fname in used:
            fname += "_"
        used.add(fname)
        files[f"skus/{fname}.yaml"] = _dump("sku", {"skus": {sku: _ordered(skus[sku])}})
    return ImportResult(files, len(skus), listings, tuple(warnings))


_KEY_ORDER = ("product_type", "requirements", "marketplaces", "attributes", "texts", "quantity",
              "overrides")


def _ordered(s: dict[str, Any]) -> dict[str, Any]:
    out = {k: s[k] for k in _KEY_ORDER if k in s}
    out.update({k: v for k, v in s.items() if k not in out})
    for code, ov in (out.get("overrides") or {}).items():
        first = {k: ov[k] for k in ("requirements", "attributes") if k in ov}
        out["overrides"][code] = {**first, **{k: v for k, v in ov.items() if k not in first}}
    return out


def _settings(account: Account, marketplaces: Sequence[MarketplaceConfig]) -> dict[str, Any]:
    acc: dict[str, Any] = {
        "seller_id": account.seller_id,
        "region": account.region,
        "endpoint": account.endpoint,
    }
    if account.token_url:
        acc["token_url"] = account.token_url
    c = account.credentials
    acc["credentials"] = {
        "refresh_token": c.refresh_token,
        "client_id": c.client_id,
        "client_secret": c.client_secret,
    }
    mps: dict[str, Any] = {}
    for m in marketplaces:
        entry: dict[str, Any] = {}
        if m.mli:
            entry["mli"] = True
        from reconciler.kernel.marketplaces import MARKETPLACES

        if m.code in MARKETPLACES and MARKETPLACES[m.code].language_tag != m.language_tag:
            entry["language_tag"] = m.language_tag
        mps[m.code] = entry or None
    acc["marketplaces"] = mps
    # apply through patches by default: an imported catalog's first applies are small
    return {"version": 1, "accounts": {account.name: acc}}


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


def schema_files(files: Mapping[str, str]) -> dict[str, str]:
    """The packaged JSON Schema of every kind a file's modeline names, as ``schemas/KIND...``."""
    from reconciler.catalog.loader import SCHEMA_DIR

    kinds = sorted({m.group(1) for text in files.values()
                    if (m := _MODELINE.match(text.split("\n", 1)[0]))})
    return {f"{SCHEMAS_DIR}/{k}.schema.json":
            (SCHEMA_DIR / f"{k}.schema.json").read_text(encoding="utf-8") for k in kinds}


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


def write_files(out_dir: str | Path, files: Mapping[str, str]) -> list[Path]:
    """Write the catalog's files, and the schemas their modelines name."""
    root = Path(out_dir)
    written = []
    files = {**files, **schema_files(files)}
    for rel, text in sorted(files.items()):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        written.append(p)
    return written
