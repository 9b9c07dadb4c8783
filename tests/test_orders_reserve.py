"""Routed orders reserve stock, and the next quantity plan reflects it."""

from __future__ import annotations

from pathlib import Path

from reconciler.kernel.model import DesiredState
from reconciler.orders.reserve import load_desired
from reconciler.orders.state import OrderState, Reservation
from reconciler.pipeline import load

CATALOG = Path(__file__).resolve().parent.parent / "catalog"
NEWARK = "353e4e48-6301-4d50-990e-43a86e8787a3"  # locations.yaml newark
US = "ATVPDKIKX0DER"


def newark_qty(d: DesiredState, sku: str) -> int:
    listing = next(x for x in d.listings if x.key.sku == sku and x.key.marketplace_id == US)
    entries = listing.attributes["fulfillment_availability"]
    return int(next(e["quantity"] for e in entries if e["fulfillment_channel_code"] == NEWARK))


def allocated(d: DesiredState, sku: str) -> int:
    listing = next(x for x in d.listings if x.key.sku == sku and x.key.marketplace_id == US)
    assert listing.allocated is not None
    return listing.allocated


def test_reservations_lower_the_next_plans_quantity(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    base = load(CATALOG)
    # Without reservations the result is the plain catalog's.
    assert load_desired(CATALOG, state_dir).listings == base.listings
    # stock.csv BTL-GLS-500: newark 11, reno 2, central 9. Reserving all of newark's and
    # central's units leaves newark nothing to offer (reno's 2 are below the floor of 3).
    with OrderState(state_dir) as st:
        st.reserve([Reservation("111-0000000-0000001", "newark", "newark", "BTL-GLS-500", 11),
                    Reservation("111-0000000-0000001", "leipzig", "central", "BTL-GLS-500", 9)])
    before = newark_qty(base, "BTL-GLS-500")
    after_state = load_desired(CATALOG, state_dir)
    assert before > 0 and newark_qty(after_state, "BTL-GLS-500") == 0
    assert allocated(after_state, "BTL-GLS-500") == 0
    # Releasing (the shipment was confirmed) restores the catalog's figures.
    with OrderState(state_dir) as st:
        st.release("111-0000000-0000001")
    assert newark_qty(load_desired(CATALOG, state_dir), "BTL-GLS-500") == before
    # BTL-INS-750: newark 4 + reno 18 + central 120 = 142 units. Reserving 100 of central's
    # caps what the US listing may offer at the 42 units left.
    with OrderState(state_dir) as st:
        st.reserve([Reservation("111-0000000-0000002", "leipzig", "central", "BTL-INS-750",
                                100)])
    d = load_desired(CATALOG, state_dir)
    assert allocated(base, "BTL-INS-750") > 42
    assert 0 < allocated(d, "BTL-INS-750") <= 42


def test_plan_uses_reservations_in_the_state_dir(tmp_path: Path) -> None:
    """The wiring: `reconciler plan` (workflow.run_plan) plans the reserved quantities."""
    from reconciler.pipeline import close_clients, run_plan
    from reconciler.spapi.connect import close_embedded_emulators

    state_dir = tmp_path / "state"
    with OrderState(state_dir) as st:
        st.reserve([Reservation("111-0000000-0000003", "newark", "newark", "BTL-GLS-500", 11),
                    Reservation("111-0000000-0000003", "leipzig", "central", "BTL-GLS-500", 9)])
    try:
        run = run_plan(CATALOG, state_dir=str(state_dir), skus=["BTL-GLS-500"])
        close_clients(run.clients)
    finally:
        close_embedded_emulators()
    assert newark_qty(run.desired, "BTL-GLS-500") == 0
    us = [c for c in run.plan.changes if c.key.marketplace_id == US]
    planned = {
        e["fulfillment_channel_code"]: e["quantity"]
        for c in us for f in c.fields if f.attribute == "fulfillment_availability"
        for e in (f.new or [])
    }
    assert planned.get(NEWARK, 0) == 0
