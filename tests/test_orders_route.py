"""Must-show 2: routing with worked coordinates.

Warehouses (catalog/warehouses.yaml): Newark 40.7357,-74.1724; Reno 39.5296,-119.8138;
Toronto 43.6532,-79.3832. A buyer in New York state is located at the state's centroid
(42.9,-75.5): Newark is 265 km away, Toronto 325 km, Reno 3,683 km. In Washington state
(47.4,-120.5): Reno 877 km, Toronto 3,192 km, Newark 3,718 km. (Checked below with the
spherical law of cosines, independent of the haversine the code uses.)
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from reconciler.catalog.loader import load as load_raw
from reconciler.orders import geo, route, warehouses
from reconciler.orders.model import Order, OrderLine, ShipTo

CATALOG = Path(__file__).resolve().parent.parent / "catalog"
WHS = warehouses.load(CATALOG, load_raw(CATALOG))


def order(oid: str, country: str, region: str, lines: dict[str, int],
          marketplace: str = "US") -> Order:
    return Order(oid, "na", "A1PP0FEH11RW77", marketplace, "x", f"2026-11-01T00:00:0{oid[-1]}Z",
                 "2026-11-01T00:00:00Z", "UNSHIPPED", "MERCHANT", ShipTo(country, region),
                 tuple(OrderLine(f"{oid}-{i}", s, q) for i, (s, q) in enumerate(lines.items())))


def cosines_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return geo.EARTH_RADIUS_KM * math.acos(max(-1.0, min(1.0, c)))


def stock(**by_location: dict[str, int]) -> dict[tuple[str, str], int]:
    return {(loc, sku): q for loc, skus in by_location.items() for sku, q in skus.items()}


def test_worked_distances() -> None:
    ny = geo.locate("US", "New York")
    assert ny is not None and ny.precision == "region"
    assert geo.locate("US", "ny") == ny
    for wh, km in (("newark", 265), ("toronto", 325), ("reno", 3683)):
        w = next(x for x in WHS if x.name == wh)
        d = geo.distance_km(ny.point, w.point)
        assert d == pytest.approx(cosines_km(42.9, -75.5, w.point.lat, w.point.lon), abs=0.01)
        assert round(d) == km


def test_nearest_with_stock_wins() -> None:
    avail = stock(newark={"A": 5}, toronto={"A": 5}, reno={"A": 5})
    plan = route.route([order("o1", "US", "NY", {"A": 2}),
                        order("o2", "US", "WA", {"A": 1})], WHS, avail)
    by = {r.order.order_id: r for r in plan.results}
    assert by["o1"].kind == "single" and by["o1"].warehouses == ("newark",)
    assert [name for name, _ in by["o1"].distances] == ["newark", "toronto", "reno"]
    assert [round(km) for _, km in by["o1"].distances] == [265, 325, 3683]
    assert by["o2"].warehouses == ("reno",)
    assert avail[("newark", "A")] == 3 and avail[("reno", "A")] == 4  # reserved as routed


def test_stock_out_moves_to_the_next_warehouse() -> None:
    # Newark has only 1 A: a 2-unit order goes to Toronto (325 km), the next nearest.
    avail = stock(newark={"A": 1}, toronto={"A": 5}, reno={"A": 5})
    plan = route.route([order("o1", "US", "NY", {"A": 2})], WHS, avail)
    r = plan.results[0]
    assert r.kind == "single" and r.warehouses == ("toronto",)
    assert "newark lacks A (has 1, needs 2)" in r.reason
    # Newark and Toronto out: Reno, 3,683 km away, still beats not shipping.
    avail = stock(newark={"A": 0}, toronto={"A": 1}, reno={"A": 5})
    r = route.route([order("o2", "US", "NY", {"A": 2})], WHS, avail).results[0]
    assert r.warehouses == ("reno",)
    # The first order takes Newark's last units; the second moves on.
    avail = stock(newark={"A": 2}, toronto={"A": 2}, reno={"A": 0})
    plan = route.route([order("o1", "US", "NY", {"A": 2}), order("o2", "US", "NY", {"A": 2})],
                       WHS, avail)
    assert [r.warehouses for r in plan.results] == [("newark",), ("toronto",)]


def test_split_only_when_no_single_warehouse_can_fill() -> None:
    avail = stock(newark={"A": 1, "B": 0}, toronto={"A": 0, "B": 1}, reno={"A": 0, "B": 0})
    r = route.route([order("o1", "US", "NY", {"A": 1, "B": 1})], WHS, avail).results[0]
    assert r.kind == "split"
    assert {(p.sku, p.warehouse) for p in r.picks} == {("A", "newark"), ("B", "toronto")}
    assert "no single warehouse has every line" in r.reason and "newark lacks B" in r.reason
    # whole order fits at Reno: no split even though Reno is far
    avail = stock(newark={"A": 1}, toronto={"B": 1}, reno={"A": 1, "B": 1})
    r = route.route([order("o2", "US", "NY", {"A": 1, "B": 1})], WHS, avail).results[0]
    assert r.kind == "single" and r.warehouses == ("reno",)


def test_unroutable_orders_are_reported_never_dropped() -> None:
    avail = stock(newark={"A": 1}, toronto={"A": 0}, reno={"A": 0})
    orders = [order("o1", "US", "NY", {"A": 3}),
              order("o2", "ZZ", "", {"A": 1}),
              order("o3", "GB", "England", {"A": 1}, marketplace="JP"),
              order("o4", "US", "NY", {"A": 1})]
    plan = route.route(orders, WHS, avail)
    by = {r.order.order_id: r for r in plan.results}
    assert len(plan.results) == 4
    assert by["o1"].kind == "unroutable" and by["o1"].picks == ()
    assert "not enough stock of A: needs 3, serving warehouses have 1" in by["o1"].reason
    assert "no centroid for ship-to country ZZ" in by["o2"].reason
    assert "no warehouse serves marketplace JP" in by["o3"].reason
    assert by["o4"].warehouses == ("newark",)  # o1 took nothing
    text = route.render_text(plan)
    assert "Unroutable orders:" in text and "o1" in text and "o2" in text and "o3" in text
    md = route.render_markdown(plan)
    assert md.count("unroutable:") == 3
    js = route.to_json(plan)
    assert js["summary"] == {"orders": 4, "routed": 1, "split": 0, "unroutable": 3, "units": 1}


def test_pick_list_per_warehouse() -> None:
    avail = stock(newark={"A": 5}, reno={"A": 5})
    plan = route.route([order("o1", "US", "NY", {"A": 2}), order("o2", "US", "WA", {"A": 1})],
                       WHS, avail)
    newark = route.pick_list_csv(plan, "newark").splitlines()
    assert newark[0].startswith("order_id,order_item_id,sku,quantity")
    assert len(newark) == 2 and newark[1].startswith("o1,o1-0,A,2,US")
    assert "USPS,USPS First Class Mail" in newark[1]
    assert route.pick_list_csv(plan, "reno").splitlines()[1].startswith("o2,")
