"""Route orders to warehouses: the nearest warehouse with stock for ALL lines wins.

For each order (oldest first, so earlier buyers get scarce stock first):

1. Locate the ship-to address: the centroid of its state/province/region, else of its country
   (``geo.locate``). Unknown country -> unroutable.
2. Candidates: warehouses that serve the order's marketplace and ship to its country, sorted by
   great-circle distance (ties by name). None -> unroutable.
3. The nearest candidate with stock for every line (all units) takes the whole order.
4. Only when no single candidate can fill it, the order is split: each line's units come from
   the nearest candidates that hold them, and the reason names what each closer warehouse lacks.
   When even all candidates together cannot fill a line, the order is unroutable (the reason
   says which SKU, how many are needed and how many are available), and nothing is taken.

Available stock is ``stock.csv`` ``on_hand`` of the warehouse's location minus open
reservations (``state.OrderState.reserved_totals``); routed units are taken from it as the run
goes, so two orders never get the same unit. Pure: no I/O (the CLI reads and writes).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .geo import distance_km, locate
from .model import Order
from .warehouses import Warehouse

ROUTABLE_STATUSES = ("UNSHIPPED", "PARTIALLY_SHIPPED")
PICK_FIELDS = ("order_id", "order_item_id", "sku", "quantity", "marketplace",
               "country", "region", "city", "postal_code", "warehouse", "carrier", "method")


@dataclass(frozen=True)
class Pick:
    order_id: str
    order_item_id: str
    sku: str
    quantity: int
    warehouse: str
    location: str


@dataclass(frozen=True)
class Routed:
    order: Order
    kind: str  # single | split | unroutable
    picks: tuple[Pick, ...]
    reason: str = ""
    distances: tuple[tuple[str, float], ...] = ()  # candidates, nearest first

    @property
    def warehouses(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.warehouse for p in self.picks))


@dataclass(frozen=True)
class RoutingPlan:
    results: tuple[Routed, ...]
    carriers: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # wh -> default

    def of(self, kind: str) -> list[Routed]:
        return [r for r in self.results if r.kind == kind]

    @property
    def routed(self) -> list[Routed]:
        return [r for r in self.results if r.kind != "unroutable"]

    def picks(self) -> dict[str, list[Pick]]:
        out: dict[str, list[Pick]] = {}
        for r in self.results:
            for p in r.picks:
                out.setdefault(p.warehouse, []).append(p)
        return out


def _needs(order: Order) -> dict[str, int]:
    need: dict[str, int] = {}
    for line in order.lines:
        need[line.sku] = need.get(line.sku, 0) + line.quantity
    return need


def route(orders: Iterable[Order], warehouses: Sequence[Warehouse],
          available: dict[tuple[str, str], int]) -> RoutingPlan:
    """Route ``orders``; ``available`` maps (location, sku) -> units and is decremented."""
    results: list[Routed] = []
    for order in sorted(orders, key=lambda o: (o.created, o.order_id)):
        results.append(_route_one(order, warehouses, available))
    carriers = {w.name: (w.carriers[0].carrier, w.carriers[0].methods[0]) for w in warehouses}
    return RoutingPlan(tuple(results), carriers)


def _route_one(order: Order, warehouses: Sequence[Warehouse],
               available: dict[tuple[str, str], int]) -> Routed:
    where = locate(order.ship_to.country, order.ship_to.region)
    if where is None:
        return Routed(order, "unroutable", (), f"no centroid for ship-to country "
                      f"{order.ship_to.country or '(none)'}")
    cands = [w for w in warehouses if w.serves(order.marketplace, order.ship_to.country)]
    if not cands:
        return Routed(order, "unroutable", (), f"no warehouse serves marketplace "
                      f"{order.marketplace} shipping to {order.ship_to.country}")
    dist = {w.name: distance_km(where.point, w.point) for w in cands}
    cands.sort(key=lambda w: (dist[w.name], w.name))
    distances = tuple((w.name, round(dist[w.name], 1)) for w in cands)
    need = _needs(order)
    if not order.lines:
        return Routed(order, "unroutable", (), "the order has no lines", distances)
    lacks: list[str] = []
    for w in cands:
        short = {s: (available.get((w.location, s), 0), q) for s, q in need.items()
                 if available.get((w.location, s), 0) < q}
        if not short:
            picks = tuple(Pick(order.order_id, ln.order_item_id, ln.sku, ln.quantity, w.name,
                               w.location) for ln in order.lines)
            for p in picks:
                available[(w.location, p.sku)] -= p.quantity
            reason = "nearest warehouse" if not lacks else \
                f"nearest with every line; {'; '.join(lacks)}"
            return Routed(order, "single", picks, reason, distances)
        lacks.append(f"{w.name} lacks " + ", ".join(
            f"{s} (has {h}, needs {q})" for s, (h, q) in sorted(short.items())))
    # No single warehouse: can all of them together?
    for sku, q in need.items():
        total = sum(available.get((w.location, sku), 0) for w in cands)
        if total < q:
            per = ", ".join(f"{w.name} {available.get((w.location, sku), 0)}" for w in cands)
            return Routed(order, "unroutable", (), f"not enough stock of {sku}: needs {q}, "
                          f"serving warehouses have {total} ({per})", distances)
    picks_: list[Pick] = []
    for ln in order.lines:
        left = ln.quantity
        for w in cands:
            have = available.get((w.location, ln.sku), 0)
            take = min(have, left)
            if take > 0:
                available[(w.location, ln.sku)] = have - take
                picks_.append(Pick(order.order_id, ln.order_item_id, ln.sku, take, w.name,
                                   w.location))
                left -= take
            if left == 0:
                break
    return Routed(order, "split", tuple(picks_),
                  "split: no single warehouse has every line; " + "; ".join(lacks), distances)


# -- rendering ---------------------------------------------------------------------------------


def summary(plan: RoutingPlan) -> dict[str, int]:
    return {"orders": len(plan.results), "routed": len(plan.routed),
            "split": len(plan.of("split")), "unroutable": len(plan.of("unroutable")),
            "units": sum(p.quantity for r in plan.results for p in r.picks)}


def to_json(plan: RoutingPlan) -> dict[str, Any]:
    return {
        "summary": summary(plan),
        "orders": [
            {"orderId": r.order.order_id, "marketplace": r.order.marketplace,
             "shipTo": f"{r.order.ship_to.country}/{r.order.ship_to.region}", "kind": r.kind,
             "warehouses": list(r.warehouses), "reason": r.reason,
             "distancesKm": dict(r.distances),
             "picks": [{"orderItemId": p.order_item_id, "sku": p.sku, "quantity": p.quantity,
                        "warehouse": p.warehouse} for p in r.picks]}
            for r in plan.results
        ],
    }


def render_json(plan: RoutingPlan) -> str:
    return json.dumps(to_json(plan), indent=2, ensure_ascii=False)


def render_text(plan: RoutingPlan) -> str:
    s = summary(plan)
    lines = [f"Routing plan: {s['orders']} order(s), {s['routed']} routed ({s['split']} split),"
             f" {s['unroutable']} unroutable, {s['units']} unit(s) reserved."]
    for wh, picks in sorted(plan.picks().items()):
        orders = len({p.order_id for p in picks})
        lines.append(f"  {wh}: {orders} order(s), {sum(p.quantity for p in picks)} unit(s)")
    for kind, title in (("split", "Split orders"), ("unroutable", "Unroutable orders")):
        rows = plan.of(kind)
        if rows:
            lines.append(f"{title}:")
            lines.extend(f"  {r.order.order_id} ({r.order.marketplace}, "
                         f"{r.order.ship_to.country}/{r.order.ship_to.region}): {r.reason}"
                         for r in rows)
    return "\n".join(lines)


def render_markdown(plan: RoutingPlan) -> str:
    s = summary(plan)
    out = ["## Routing plan", "",
           f"{s['orders']} order(s): **{s['routed']} routed** ({s['split']} split), "
           f"**{s['unroutable']} unroutable**, {s['units']} unit(s) reserved.", "",
           "| Order | Marketplace | Ship to | Warehouse(s) | Why |", "|---|---|---|---|---|"]
    for r in plan.results:
        wh = ", ".join(r.warehouses) or "—"
        why = r.reason.replace("|", "\\|")
        out.append(f"| {r.order.order_id} | {r.order.marketplace} | {r.order.ship_to.country}/"
                   f"{r.order.ship_to.region} | {wh} | {r.kind}: {why} |")
    return "\n".join(out)


def pick_list_csv(plan: RoutingPlan, warehouse: str) -> str:
    """One warehouse's pick list: a row per (order line, warehouse) with the suggested
    carrier and method (the warehouse's first)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=PICK_FIELDS, lineterminator="\n")
    w.writeheader()
    carrier, method = plan.carriers.get(warehouse, ("", ""))
    for r in plan.results:
        for p in r.picks:
            if p.warehouse != warehouse:
                continue
            o = r.order
            w.writerow({"order_id": o.order_id, "order_item_id": p.order_item_id,
                        "sku": p.sku, "quantity": p.quantity, "marketplace": o.marketplace,
                        "country": o.ship_to.country,
                        "region": o.ship_to.region, "city": o.ship_to.city,
                        "postal_code": o.ship_to.postal_code, "warehouse": warehouse,
                        "carrier": carrier, "method": method})
    return buf.getvalue()
