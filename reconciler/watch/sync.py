"""What the events do: reservations, and the quantity PATCHes of the SKUs they touch.

**Reservations** (ORDER_CHANGE). An order's units are promised: they are reserved in
``orders.db`` (the table ``plan``/``apply`` already subtract from ``stock.csv``, see
:mod:`reconciler.orders.reserve`), so the watch and the next plan compute the same quantities.
Each item's units come from the location that sold them (the item's ``SupplySourceId`` when it
names a location of ``locations.yaml``, else the locations serving the order's marketplace, by
name) as far as its shelf (``on_hand`` less other orders' reservations) holds them, and the rest
from ``central`` (the stock that refilled it). Idempotent by order id: the split is computed
once, inside the write transaction; a later notification of the same order only matters when it
cancels it (``Canceled`` releases every unit). An older notification (``TimeOfOrderChange``)
than the one applied is ignored, so reordering never undoes a cancellation.

**Quantities** (:func:`sync_skus`). For the touched SKUs the desired state is rebuilt from the
catalog with every open reservation (``reconciler.pipeline.load`` with the state directory, as
``plan`` does), the SKUs' live listings are read, and the plan's diff is taken per listing. Only
``fulfillment_availability`` changes are written, as one ``patchListingsItem`` per listing with
the absolute quantities (``merge``, as apply builds it: :func:`reconciler.plan.patches.
listing_request`), so a repeated write is harmless. Any other difference (a price or status
changed in Seller Central) is *reported* (audit record ``drift_reported``) and left for the next
plan: never silently overwritten.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.catalog import loader
from reconciler.catalog.desired import build
from reconciler.catalog.raw import RawCatalog
from reconciler.kernel.errors import ApiError
from reconciler.kernel.model import DesiredState, ListingKey
from reconciler.orders.state import OrderState, Reservation, apply_reservations, reserved_stock
from reconciler.pipeline import read_live
from reconciler.plan.builder import PlanBuilder
from reconciler.plan.change import Change
from reconciler.plan.patches import listing_request
from reconciler.spapi.client import SpApiClient

from .events import Event

STOCK_ATTRIBUTE = "fulfillment_availability"
CENTRAL = "central"


@dataclass(frozen=True)
class CatalogView:
    """What the worker reads from the catalog (reloaded every batch: a merged catalog change
    counts from the next batch on)."""

    raw: RawCatalog
    locations: dict[str, tuple[str, str, str]]  # name -> (channel, account, marketplace code)
    on_hand: dict[tuple[str, str], int]  # (sku, location) -> stock.csv on_hand
    sellers: dict[str, str]  # seller id -> account name
    codes: dict[tuple[str, str], str]  # (account, marketplace id) -> code


def load_view(catalog_dir: str | Path, accounts: Iterable[Any]) -> CatalogView:
    raw = loader.load(catalog_dir)
    locs: dict[str, tuple[str, str, str]] = {}
    data = raw.locations.data if raw.locations is not None else {}
    for name, loc in ((data or {}).get("locations") or {}).items():
        locs[str(name)] = (str(loc["fulfillment_channel_code"]), str(loc["account"]),
                           str(loc["marketplace"]))
    on_hand = {(r.sku, r.location): r.on_hand for r in raw.stock or ()}
    accs = list(accounts)
    return CatalogView(raw, locs, on_hand, {a.seller_id: a.name for a in accs},
                       {(a.name, m.marketplace_id): m.code for a in accs for m in a.marketplaces})


def desired_now(view: CatalogView, state_dir: str | Path) -> DesiredState:
    """The desired state with every open reservation: what ``plan`` computes."""
    raw = view.raw
    reserved = reserved_stock(state_dir)
    if reserved and raw.stock is not None:
        raw = dataclasses.replace(raw, stock=apply_reservations(raw.stock, reserved))
    return build(raw, today=_dt.date.today())


def split(event: Event, account: str, view: CatalogView,
          totals: Mapping[tuple[str, str], int]) -> list[Reservation]:
    """The order's reservation rows (see the module docstring)."""
    code = view.codes.get((account, event.marketplace_id), "")
    serving = sorted(n for n, (_c, a, m) in view.locations.items() if a == account and m == code)
    taken: dict[tuple[str, str], int] = {}
    rows: list[Reservation] = []
    for item in event.items:
        named = [n for n, (c, a, _m) in view.locations.items()
                 if a == account and item.supply_source_id and c == item.supply_source_id]
        left = item.quantity
        for loc in named or serving:
            have = (view.on_hand.get((item.sku, loc), 0) - totals.get((item.sku, loc), 0)
                    - taken.get((item.sku, loc), 0))
            take = max(0, min(have, left))
            if take:
                taken[(item.sku, loc)] = taken.get((item.sku, loc), 0) + take
                rows.append(Reservation(event.order_id, loc, loc, item.sku, take))
                left -= take
        if left > 0:
            rows.append(Reservation(event.order_id, CENTRAL, CENTRAL, item.sku, left))
    return rows


def apply_order(event: Event, account: str, view: CatalogView, orders: OrderState,
                applied: tuple[str, str] | None) -> bool:
    """Reserve or release the order's units. False when the notification is older than the
    one already applied (nothing changes)."""
    if applied is not None and applied[0] > event.change_time:
        return False
    if event.order_status.lower() in ("canceled", "cancelled"):
        orders.set_order_reservations(event.order_id, lambda _t: [])
        return True
    if orders.order_reservations(event.order_id):
        return True  # reserved once; never twice
    if applied is not None and applied[1].lower() in ("canceled", "cancelled"):
        return True  # same time as the cancellation: the cancellation wins
    orders.set_order_reservations(event.order_id, lambda totals: split(event, account, view,
                                                                       totals))
    return True


@dataclass
class SyncResult:
    written: list[ListingKey] = field(default_factory=list)
    rejected: list[tuple[ListingKey, str]] = field(default_factory=list)
    drift: list[tuple[ListingKey, list[str]]] = field(default_factory=list)  # reported only
    unchanged: int = 0


def stock_only(change: Change) -> Change | None:
    fields = tuple(f for f in change.fields if f.attribute == STOCK_ATTRIBUTE)
    if change.action != "update" or not fields:
        return None
    return dataclasses.replace(change, fields=fields, derivations=())


def sync_skus(desired: DesiredState, clients: Mapping[str, SpApiClient],
              skus: Sequence[str], *,
              on_write: Callable[[ListingKey, float, float], None] | None = None,
              still_mine: Callable[[str], bool] | None = None) -> SyncResult:
    """Read the live listings of ``skus`` in every account and marketplace (one SKU's stock is
    allocated across all of them), PATCH each listing whose quantities differ from
    ``desired``; report any other difference."""
    result = SyncResult()
    wanted = set(skus)
    keys = [d.key for d in desired.listings if d.key.sku in wanted]
    if not keys:
        return result
    builder = PlanBuilder(desired, skus=wanted)
    live = read_live(desired, clients, keys)
    for k in keys:
        builder.add(k, live.get(k))
    for change in builder.changes:
        if change.key.sku not in wanted:
            continue
        other = sorted({f.attribute for f in change.fields if f.attribute != STOCK_ATTRIBUTE})
        if change.action != "update":
            other = [f"{change.action} pending"]
        if other:
            result.drift.append((change.key, other))
        stock = stock_only(change)
        if stock is None:
            continue
        if still_mine is not None and not still_mine(change.key.sku):
            raise LeaseLost(f"lease on {change.key.sku} expired before its write")
        req = listing_request(stock)
        assert req.body is not None
        started = time.time()
        try:
            resp = clients[change.key.account].patch_listings_item(
                req.sku, [req.marketplace_id], req.body)
        except ApiError as e:
            result.rejected.append((change.key, str(e)[:300]))
            continue
        ended = time.time()
        if on_write is not None:
            on_write(change.key, started, ended)
        if str(resp.get("status", "ACCEPTED")) == "ACCEPTED":
            result.written.append(change.key)
        else:
            issues = resp.get("issues") or []
            msg = "; ".join(str(i.get("message", "")) for i in issues if isinstance(i, dict))
            result.rejected.append((change.key, msg[:300] or "INVALID"))
    result.unchanged = len(keys) - len(result.written) - len(result.rejected)
    return result


class LeaseLost(Exception):
    """This worker's lease expired during its work (it stops writing; the message returns)."""
