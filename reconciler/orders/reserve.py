"""Reservations -> the quantity plan.

Routed, unshipped units are still on the warehouse's shelf (still in ``stock.csv``), but they
are promised to buyers. :func:`load_desired` is ``workflow.load`` with every open reservation
subtracted from the ``on_hand`` of its (sku, location) row before the allocation policy runs,
so the next quantity plan offers ``on_hand - reserved`` at that location (and refills it from
central by the policy's rules, as it would for any site that ran low). Confirming a shipment
releases its reservation: by then the warehouse's stock export no longer counts those units.

Wiring: the plan/apply commands build the desired state with ``workflow.load(catalog_dir)``;
calling ``load_desired(catalog_dir, state_dir)`` there instead makes every plan reflect routed
orders (with no reservations in the state directory the result is identical).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from pathlib import Path

from reconciler.catalog import loader
from reconciler.catalog.desired import build
from reconciler.kernel.model import DesiredState

from .state import apply_reservations, reserved_stock


def load_desired(catalog_dir: str | Path, state_dir: str | Path, *,
                 today: _dt.date | None = None) -> DesiredState:
    raw = loader.load(catalog_dir)
    reserved = reserved_stock(state_dir)
    if reserved and raw.stock is not None:
        raw = dataclasses.replace(raw, stock=apply_reservations(raw.stock, reserved))
    return build(raw, today=today or _dt.date.today())
