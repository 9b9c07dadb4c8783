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
from pathlib import Path
from typing import Any

import yaml

from reconciler.importer.shapes import (
    _attributes,
    _offer_extras,
    _place_attributes,
    _prices,
    _quantity,
    _texts,
)
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


def schema_files(files: Mapping[str, str]) -> dict[str, str]:
    """The packaged JSON Schema of every kind a file's modeline names, as ``schemas/KIND...``."""
    from reconciler.catalog.loader import SCHEMA_DIR

    kinds = sorted({m.group(1) for text in files.values()
                    if (m := _MODELINE.match(text.split("\n", 1)[0]))})
    return {f"{SCHEMAS_DIR}/{k}.schema.json":
            (SCHEMA_DIR / f"{k}.schema.json").read_text(encoding="utf-8") for k in kinds}


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
