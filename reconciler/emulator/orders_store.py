"""The emulator's orders state: the SQLite tables of orders, their items and shipments, and the
writes on them (insert, ship, seed). The Orders API routes (:mod:`reconciler.emulator.orders`)
and the fulfillment feed build on this module; it imports neither."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from . import notify
from .feed_processing import wall_time
from .state import EmulatorState

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY,
    seller_id TEXT NOT NULL,
    marketplace_id TEXT NOT NULL,
    created_ts REAL NOT NULL,       -- wall epoch seconds
    updated_ts REAL NOT NULL,
    status TEXT NOT NULL,           -- FulfillmentStatus
    fulfilled_by TEXT NOT NULL,     -- MERCHANT | AMAZON
    service_level TEXT NOT NULL,
    currency TEXT NOT NULL,
    buyer TEXT NOT NULL,            -- JSON Buyer
    address TEXT NOT NULL           -- JSON CustomerAddress
);
CREATE INDEX IF NOT EXISTS orders_seller_updated ON orders(seller_id, updated_ts);
CREATE INDEX IF NOT EXISTS orders_seller_created ON orders(seller_id, created_ts);
CREATE TABLE IF NOT EXISTS order_items (
    order_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    asin TEXT NOT NULL,
    title TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    unit_price TEXT NOT NULL,
    shipped INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (order_id, item_id)
);
CREATE TABLE IF NOT EXISTS order_shipments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id TEXT NOT NULL,
    source TEXT NOT NULL,           -- feed:<feedId> | confirmShipment
    carrier_code TEXT NOT NULL,
    carrier_name TEXT,
    shipping_method TEXT,
    tracking_number TEXT NOT NULL,
    ship_date TEXT NOT NULL,
    time REAL NOT NULL              -- wall epoch seconds
);
CREATE INDEX IF NOT EXISTS order_shipments_order ON order_shipments(order_id);
"""


def init_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def now_wall(emu: EmulatorState) -> float:
    return wall_time(emu, emu.now())


@dataclass(frozen=True)
class Shipment:
    carrier_code: str
    carrier_name: str | None
    shipping_method: str | None
    tracking_number: str
    ship_date: str


def insert_order(emu: EmulatorState, order: dict[str, Any]) -> None:
    """Store one generator/seed order row (see ``orders_gen.generate`` for the shape)."""
    emu.db.execute(
        "INSERT INTO orders(order_id, seller_id, marketplace_id, created_ts, updated_ts, status,"
        " fulfilled_by, service_level, currency, buyer, address) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (order["orderId"], order["sellerId"], order["marketplaceId"], order["createdTs"],
         order.get("updatedTs", order["createdTs"]), order.get("status", "UNSHIPPED"),
         order.get("fulfilledBy", "MERCHANT"), order.get("serviceLevel", "STANDARD"),
         order["currency"], json.dumps(order["buyer"]), json.dumps(order["address"])),
    )
    for item in order["items"]:
        emu.db.execute(
            "INSERT INTO order_items(order_id, item_id, sku, asin, title, quantity, unit_price)"
            " VALUES (?,?,?,?,?,?,?)",
            (order["orderId"], item["orderItemId"], item["sku"], item["asin"], item["title"],
             int(item["quantity"]), item["unitPrice"]),
        )
    notify.order_changed(emu, str(order["orderId"]), "Order created")


def order_status(emu: EmulatorState, order_id: str) -> str | None:
    """The order's FulfillmentStatus, None when unknown (tests)."""
    with emu.lock:
        row = emu.db.execute("SELECT status FROM orders WHERE order_id = ?",
                             (order_id,)).fetchone()
    return None if row is None else str(row[0])


def shipment_counts(emu: EmulatorState) -> dict[str, int]:
    """order id -> number of accepted shipment confirmations (tests: never more than 1)."""
    with emu.lock:
        rows = emu.db.execute(
            "SELECT order_id, COUNT(*) FROM order_shipments GROUP BY order_id").fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def statuses(emu: EmulatorState) -> dict[str, str]:
    """order id -> FulfillmentStatus of every stored order (tests)."""
    with emu.lock:
        rows = emu.db.execute("SELECT order_id, status FROM orders").fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def owner(emu: EmulatorState, order_id: str) -> tuple[str, str, str] | None:
    """(seller id, marketplace id, status) of an order, None when unknown."""
    row = emu.db.execute("SELECT seller_id, marketplace_id, status FROM orders WHERE order_id = ?",
                         (order_id,)).fetchone()
    return None if row is None else (str(row[0]), str(row[1]), str(row[2]))


def ship(emu: EmulatorState, order_id: str, shipment: Shipment, source: str,
         items: dict[str, int] | None = None) -> str:
    """Mark items (all remaining when ``items`` is None) shipped; returns the new status.
    The caller checked that the order exists and has something left to ship."""
    rows = emu.db.execute(
        "SELECT item_id, quantity, shipped FROM order_items WHERE order_id = ?", (order_id,)
    ).fetchall()
    for item_id, qty, shipped in rows:
        add = qty - shipped if items is None else min(items.get(item_id, 0), qty - shipped)
        if add > 0:
            emu.db.execute("UPDATE order_items SET shipped = shipped + ? WHERE order_id = ?"
                           " AND item_id = ?", (add, order_id, item_id))
    left = emu.db.execute("SELECT SUM(quantity - shipped), SUM(shipped) FROM order_items"
                          " WHERE order_id = ?", (order_id,)).fetchone()
    status = "SHIPPED" if (left[0] or 0) <= 0 else "PARTIALLY_SHIPPED"
    t = now_wall(emu)
    emu.db.execute("UPDATE orders SET status = ?, updated_ts = MAX(updated_ts + 0.001, ?)"
                   " WHERE order_id = ?", (status, t, order_id))
    emu.db.execute(
        "INSERT INTO order_shipments(order_id, source, carrier_code, carrier_name,"
        " shipping_method, tracking_number, ship_date, time) VALUES (?,?,?,?,?,?,?,?)",
        (order_id, source, shipment.carrier_code, shipment.carrier_name,
         shipment.shipping_method, shipment.tracking_number, shipment.ship_date, t),
    )
    notify.order_changed(emu, order_id, "Order shipped")
    return status


def seed(emu: EmulatorState, data: dict[str, Any]) -> None:
    for order in data.get("orders") or []:
        insert_order(emu, order)
