"""Must-show 1: end to end on the emulator.

500 orders across US, CA, MX, UK and DE (two sellers) -> pull (the second pull pulls nothing)
-> route (reservations recorded, pick lists) -> confirm from the shipments file the routing
implies -> every order is SHIPPED in the emulator with exactly one shipment confirmation; a
second confirm of the same file submits nothing. ``time_scale`` 1000 keeps searchOrders'
0.0056 rps from taking hours.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.orders_sim import Sim, shipments_csv, stock_rows
from reconciler.catalog.loader import load as load_raw
from reconciler.emulator import orders_gen
from reconciler.emulator import orders_store as emu_orders
from reconciler.orders import confirm, pull, route, warehouses
from reconciler.orders.state import OrderState, apply_reservations, reserved_stock
from reconciler.pipeline import load

CATALOG = Path(__file__).resolve().parent.parent / "catalog"
SKUS = ("BTL-INS-750", "BTL-GLS-500", "MUG-CER-12", "CB-BAM-M", "TEA-CI-1L")
LOCATIONS = ("newark", "reno", "toronto", "central")


@pytest.fixture
def sim() -> Iterator[Sim]:
    accounts = load(CATALOG).accounts
    with Sim(accounts, SKUS, time_scale=1000.0) as s:
        yield s


def test_five_hundred_orders_pull_route_confirm(sim: Sim, tmp_path: Path) -> None:
    ids = orders_gen.generate(sim.emu, 500, ("US", "CA", "MX", "UK", "DE"), seed=7)
    assert len(ids) == 500
    st = OrderState(tmp_path / "state")
    try:
        first = pull.pull(sim.accounts, sim.clients, st)
        assert {o.order_id for o in first.orders} == set(ids)
        assert {o.marketplace for o in first.orders} == {"US", "CA", "MX", "UK", "DE"}
        assert {o.ship_to.country for o in first.orders} == {"US", "CA", "MX", "GB", "DE"}
        assert first.pages >= 5  # 100 a page, two sellers
        second = pull.pull(sim.accounts, sim.clients, st)
        assert second.orders == []

        whs = warehouses.load(CATALOG, load_raw(CATALOG))
        from reconciler.cli.orders import plan_routes

        plan, reservations = plan_routes(st, whs, stock_rows(SKUS, LOCATIONS, 10_000))
        assert len(plan.results) == 500 and not plan.of("unroutable")
        st.reserve(reservations)
        eu = {r.order.order_id: r for r in plan.results if r.order.marketplace in ("UK", "DE")}
        assert eu and all(r.warehouses == ("leipzig",) for r in eu.values())
        # reservations feed the allocation: stock.csv rows minus reserved units
        reserved = reserved_stock(tmp_path / "state")
        units = sum(r.order.units for r in plan.results)
        assert sum(reserved.values()) == units
        adjusted = apply_reservations(stock_rows(SKUS, LOCATIONS, 10_000), reserved)
        assert sum(r.on_hand for r in adjusted) == 10_000 * len(SKUS) * len(LOCATIONS) - units
        # routing again routes nothing new
        again, _ = plan_routes(st, whs, stock_rows(SKUS, LOCATIONS, 10_000))
        assert again.results == ()
        pick_rows = sum(len(route.pick_list_csv(plan, w).splitlines()) - 1
                        for w in plan.picks())
        assert pick_rows == sum(len(r.picks) for r in plan.results)

        text = shipments_csv(plan, dt.date.today().isoformat(), other_carrier_every=50)
        res = confirm.confirm(text, sim.accounts, sim.clients, st, poll_s=0.01, timeout_s=60,
                              sleep=lambda s: None)
        assert res.count("confirmed") == 500, [o for o in res.outcomes
                                               if o.outcome != "confirmed"][:5]
        assert set(res.feeds.values()) == {"DONE"} and len(res.feeds) == 2
        assert b"<CarrierCode>Other</CarrierCode>" in res.documents["na"] + res.documents["eu"]
        assert set(emu_orders.statuses(sim.emu).values()) == {"SHIPPED"}
        counts = emu_orders.shipment_counts(sim.emu)
        assert set(counts) == set(ids) and set(counts.values()) == {1}
        assert reserved_stock(tmp_path / "state") == {}

        feeds_before = len(sim.emu.calls("createFeed"))
        res2 = confirm.confirm(text, sim.accounts, sim.clients, st, poll_s=0.01, timeout_s=60,
                               sleep=lambda s: None)
        assert res2.count("skipped") == 500 and res2.count("confirmed") == 0
        assert len(sim.emu.calls("createFeed")) == feeds_before
        assert set(emu_orders.shipment_counts(sim.emu).values()) == {1}
        # Shipping updated the orders: once outside Amazon's 2-minute window (0.12 s at this
        # scale) the next incremental pull brings each one back once, SHIPPED; then nothing.
        time.sleep(0.2)
        third = pull.pull(sim.accounts, sim.clients, st)
        assert len(third.orders) == 500 and {o.status for o in third.orders} == {"SHIPPED"}
        assert pull.pull(sim.accounts, sim.clients, st).orders == []
        assert not [c for c in sim.emu.calls() if c.error]
    finally:
        st.close()
