"""Read-only readers of everything but the audit log: the live cache, the orders KPIs and
order state, the latest plan JSON, and the catalog.

Nothing here writes or repairs: the live cache is opened read-only (``mode=ro``), never through
:class:`~reconciler.live.cache.LiveCache`, which would delete a file it can't read. A source
that is missing or unreadable yields nothing and a note for the report's "sources" section.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reconciler.catalog import desired as desired_mod
from reconciler.catalog import loader
from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.marketplaces import BY_ID
from reconciler.kernel.model import DesiredState, Entry, Issue, ListingKey, MarketplaceConfig
from reconciler.live.cache import CACHE_FILENAME, SCHEMA_VERSION
from reconciler.live.normalize import normalize_item

from .audit_log import parse_time

ORDERS_KPI_FILE = "orders-kpi.jsonl"  # written by `reconciler orders ...` (cli/orders.py)
ORDERS_DB = "orders.db"


@dataclass(frozen=True)
class LiveItem:
    key: ListingKey
    marketplace: str
    read_at: str
    exists: bool
    status: tuple[str, ...] = ()
    issues: tuple[Issue, ...] = ()
    quantities: Mapping[str, int] = field(default_factory=dict)  # channel code -> quantity
    prices: tuple[tuple[str, str, float], ...] = ()  # (kind, currency, price)


@dataclass(frozen=True)
class ReadMark:
    account: str
    marketplace: str
    kind: str  # full | incremental
    at: datetime


@dataclass(frozen=True)
class LiveRead:
    items: tuple[LiveItem, ...] = ()
    marks: tuple[ReadMark, ...] = ()


@dataclass(frozen=True)
class OrdersRead:
    kpis: tuple[dict[str, Any], ...] = ()  # orders-kpi.jsonl lines (with a parsed "time")
    by_marketplace: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (mp, status)
    routed: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # wh -> (orders, units)
    confirm_hours: tuple[float, ...] = ()  # order created -> confirmed, per confirmed order
    rejected_confirmations: int = 0


def _code(marketplace_id: str) -> str:
    mp = BY_ID.get(marketplace_id)
    return mp.code if mp else marketplace_id


def _config(marketplace_id: str, configs: Mapping[str, MarketplaceConfig]) -> MarketplaceConfig:
    if marketplace_id in configs:
        return configs[marketplace_id]
    mp = BY_ID.get(marketplace_id)
    if mp is None:
        return MarketplaceConfig(marketplace_id, marketplace_id, "", "")
    return MarketplaceConfig(mp.code, mp.marketplace_id, mp.currency, mp.language_tag)


def money(entry: Entry) -> float | None:
    try:
        v = entry["our_price"][0]["schedule"][0]["value_with_tax"]
    except (KeyError, IndexError, TypeError):
        v = entry.get("value", entry.get("value_with_tax"))
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def quantities(attributes: Mapping[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in attributes.get("fulfillment_availability", ()) or ():
        q = e.get("quantity")
        if isinstance(q, (int, float)) and not isinstance(q, bool):
            out[str(e.get("fulfillment_channel_code"))] = int(q)
    return out


def prices(attributes: Mapping[str, Any]) -> tuple[tuple[str, str, float], ...]:
    out = []
    for attr, kind in (("purchasable_offer", "offer"), ("list_price", "list")):
        for e in attributes.get(attr, ()) or ():
            if attr == "purchasable_offer" and e.get("audience", "ALL") != "ALL":
                continue
            v = money(e)
            if v is not None:
                out.append((kind, str(e.get("currency", "")), v))
    return tuple(out)


def read_live_cache(
    state_dirs: Iterable[str | os.PathLike[str]], configs: Mapping[str, MarketplaceConfig],
    notes: list[str],
) -> LiveRead:
    items: list[LiveItem] = []
    marks: list[ReadMark] = []
    for d in state_dirs:
        path = Path(d) / CACHE_FILENAME
        if not path.is_file():
            notes.append(f"no live cache at {path}: Amazon's issues and live stock not shown")
            continue
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                version = conn.execute(
                    "SELECT value FROM meta WHERE key='schema_version'").fetchone()
                if version is None or str(version[0]) != str(SCHEMA_VERSION):
                    notes.append(f"live cache {path} has another schema version: not read")
                    continue
                rows = conn.execute(
                    "SELECT account, marketplace_id, sku, item, read_at FROM items").fetchall()
                mark_rows = conn.execute("SELECT account, marketplace_id, kind, at FROM reads"
                                         ).fetchall()
            finally:
                conn.close()
        except sqlite3.Error as e:
            notes.append(f"live cache {path} could not be read ({e})")
            continue
        for account, mid, sku, raw, read_at in rows:
            items.append(_live_item(ListingKey(account, sku, mid), raw, read_at, configs))
        for account, mid, kind, at in mark_rows:
            t = parse_time(at)
            if t is not None:
                marks.append(ReadMark(account, _code(mid), kind, t))
    return LiveRead(tuple(items), tuple(marks))


def _live_item(key: ListingKey, raw: str | None, read_at: str,
               configs: Mapping[str, MarketplaceConfig]) -> LiveItem:
    code = _code(key.marketplace_id)
    if raw is None:
        return LiveItem(key, code, read_at, exists=False)
    try:
        item = json.loads(raw)
        live = normalize_item(item, key, _config(key.marketplace_id, configs))
    except (ValueError, TypeError, KeyError, AttributeError):
        return LiveItem(key, code, read_at, exists=True)
    return LiveItem(key, code, read_at, True, live.status, live.issues,
                    quantities(live.attributes), prices(live.attributes))


def read_orders(state_dirs: Iterable[str | os.PathLike[str]], notes: list[str]) -> OrdersRead:
    kpis: list[dict[str, Any]] = []
    by_mp: dict[tuple[str, str], int] = {}
    routed: dict[str, tuple[int, int]] = {}
    hours: list[float] = []
    rejected = 0
    for d in state_dirs:
        kpi_path = Path(d) / ORDERS_KPI_FILE
        if kpi_path.is_file():
            for line in kpi_path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                t = parse_time(row.get("at")) if isinstance(row, dict) else None
                if t is not None:
                    kpis.append({**row, "time": t})
        db = Path(d) / ORDERS_DB
        if not db.is_file():
            continue
        try:
            conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
            try:
                for mp, status, n in conn.execute(
                        "SELECT marketplace, status, COUNT(*) FROM orders GROUP BY 1, 2"):
                    by_mp[(str(mp), str(status))] = by_mp.get((str(mp), str(status)), 0) + n
                for wh, n_orders, units in conn.execute(
                        "SELECT warehouse, COUNT(DISTINCT order_id), SUM(quantity) "
                        "FROM reservations GROUP BY 1"):
                    o, u = routed.get(str(wh), (0, 0))
                    routed[str(wh)] = (o + int(n_orders), u + int(units or 0))
                for created, at, state in conn.execute(
                        "SELECT o.created, c.at, c.state FROM confirmations c "
                        "JOIN orders o USING (order_id)"):
                    if state == "rejected":
                        rejected += 1
                    t = parse_time(created)
                    if state == "confirmed" and t is not None and isinstance(at, (int, float)):
                        hours.append(max(0.0, (at - t.timestamp()) / 3600.0))
            finally:
                conn.close()
        except sqlite3.Error as e:
            notes.append(f"order state {db} could not be read ({e})")
    kpis.sort(key=lambda r: r["time"])
    return OrdersRead(tuple(kpis), by_mp, routed, tuple(hours), rejected)


def read_plans(paths: Iterable[str | os.PathLike[str]], notes: list[str]) -> list[dict[str, Any]]:
    """Plan JSON files (``reconciler plan --format json``); unreadable ones become notes."""
    plans = []
    for p in paths:
        try:
            data = json.loads(Path(p).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            notes.append(f"plan {p} could not be read ({type(e).__name__})")
            continue
        if isinstance(data, dict) and isinstance(data.get("changes"), list):
            plans.append(data)
        else:
            notes.append(f"plan {p} is not a plan JSON (no list of changes)")
    return plans


@dataclass(frozen=True)
class CatalogRead:
    desired: DesiredState | None
    locations: Mapping[str, str] = field(default_factory=dict)  # channel code -> site name


def read_catalog(root: str | os.PathLike[str], notes: list[str], *, required: bool) -> CatalogRead:
    """The catalog's desired state (pure catalog stage), and site names of its locations.
    A broken catalog raises only when the user named it (``required``)."""
    if not Path(root).is_dir():
        if required:
            raise ReconcilerError(f"catalog directory {str(root)!r} not found")
        notes.append(f"no catalog at {root}: price guards, allocation and held texts not shown")
        return CatalogRead(None)
    try:
        raw = loader.load(Path(root))
        state = desired_mod.build(raw, today=datetime.now(timezone.utc).date())
    except ReconcilerError:
        if required:
            raise
        notes.append(f"the catalog at {root} does not load (run `reconciler validate`)")
        return CatalogRead(None)
    sites: dict[str, str] = {}
    data = raw.locations.data if raw.locations is not None else None
    locs = data.get("locations") if isinstance(data, Mapping) else None
    if isinstance(locs, Mapping):
        for name, loc in locs.items():
            if isinstance(loc, Mapping) and loc.get("fulfillment_channel_code"):
                sites[str(loc["fulfillment_channel_code"])] = str(name)
    return CatalogRead(state, sites)
