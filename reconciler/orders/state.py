"""Local order state: ``<state_dir>/orders.db`` (SQLite).

Tables:

``cursors``        per account: the ``lastUpdatedAfter`` of the next pull (the previous
                   window's ``lastUpdatedBefore``), so pulls are incremental.
``orders``         every pulled order (normalized JSON), upserted by order id; an order whose
                   ``lastUpdated`` and status did not change is not "pulled" again.
``reservations``   units routed to a warehouse and not shipped yet: (order, warehouse,
                   location, sku, quantity). Released when the shipment is confirmed.
``confirmations``  one row per order ever submitted: ``submitted`` (feed id known, report not
                   read yet), ``confirmed`` or ``rejected``. An order with a ``submitted`` or
                   ``confirmed`` row is never put in another feed: that is how "never confirm
                   twice" survives crashes and re-runs.

**How reservations feed the allocation.** A routed order's units are still on the warehouse's
shelf, so they are still in its ``stock.csv`` ``on_hand``, but they are promised. The next
quantity plan must offer ``on_hand - reserved`` for that location: :func:`apply_reservations`
returns stock.csv rows with every unreleased reservation subtracted (never below 0), and
:func:`reserved_stock` reads the totals from a state directory. Confirmation releases them
because the warehouse's next ``stock.csv`` export no longer counts shipped units.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType

from reconciler.catalog.raw import StockRow

from .model import Order

DB_NAME = "orders.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS cursors (
    account TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    marketplace TEXT NOT NULL,
    status TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    created TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reservations (
    order_id TEXT NOT NULL,
    warehouse TEXT NOT NULL,
    location TEXT NOT NULL,
    sku TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    released INTEGER NOT NULL DEFAULT 0,
    at REAL NOT NULL,
    PRIMARY KEY (order_id, warehouse, sku)
);
CREATE TABLE IF NOT EXISTS confirmations (
    order_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    feed_id TEXT,
    state TEXT NOT NULL,            -- submitted | confirmed | rejected
    message TEXT NOT NULL DEFAULT '',
    carrier TEXT NOT NULL,
    tracking_number TEXT NOT NULL,
    at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Reservation:
    order_id: str
    warehouse: str
    location: str
    sku: str
    quantity: int


@dataclass(frozen=True)
class Confirmation:
    order_id: str
    account: str
    feed_id: str | None
    state: str
    message: str
    carrier: str
    tracking_number: str


class OrderState:
    def __init__(self, state_dir: str | Path) -> None:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        self.path = Path(state_dir) / DB_NAME
        self.db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30.0)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> OrderState:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- cursor --------------------------------------------------------------------------------

    def cursor(self, account: str) -> str | None:
        row = self.db.execute("SELECT value FROM cursors WHERE account = ?", (account,)).fetchone()
        return None if row is None else str(row[0])

    def set_cursor(self, account: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO cursors(account, value) VALUES (?, ?)",
                        (account, value))

    # -- orders --------------------------------------------------------------------------------

    def upsert(self, orders: Iterable[Order]) -> list[Order]:
        """Store orders; returns those that were new or changed (status or lastUpdated)."""
        changed: list[Order] = []
        self.db.execute("BEGIN")
        try:
            for o in orders:
                row = self.db.execute("SELECT status, last_updated FROM orders WHERE order_id = ?",
                                      (o.order_id,)).fetchone()
                if row is not None and (row[0], row[1]) == (o.status, o.last_updated):
                    continue
                self.db.execute(
                    "INSERT OR REPLACE INTO orders(order_id, account, marketplace, status,"
                    " last_updated, created, data) VALUES (?,?,?,?,?,?,?)",
                    (o.order_id, o.account, o.marketplace, o.status, o.last_updated, o.created,
                     json.dumps(o.to_json(), ensure_ascii=False, separators=(",", ":"))),
                )
                changed.append(o)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return changed

    def orders(self, statuses: Sequence[str] | None = None) -> list[Order]:
        sql = "SELECT data FROM orders"
        args: list[str] = []
        if statuses:
            sql += f" WHERE status IN ({','.join('?' * len(statuses))})"
            args = list(statuses)
        rows = self.db.execute(sql + " ORDER BY created, order_id", args).fetchall()
        return [Order.from_json(json.loads(r[0])) for r in rows]

    def get(self, order_id: str) -> Order | None:
        row = self.db.execute("SELECT data FROM orders WHERE order_id = ?",
                              (order_id,)).fetchone()
        return None if row is None else Order.from_json(json.loads(row[0]))

    def set_status(self, order_id: str, status: str) -> None:
        o = self.get(order_id)
        if o is None:
            return
        o = replace(o, status=status)
        self.db.execute("UPDATE orders SET status = ?, data = ? WHERE order_id = ?",
                        (status, json.dumps(o.to_json(), ensure_ascii=False), order_id))

    # -- reservations --------------------------------------------------------------------------

    def reserve(self, reservations: Iterable[Reservation]) -> None:
        now = time.time()
        self.db.execute("BEGIN")
        try:
            for r in reservations:
                self.db.execute(
                    "INSERT INTO reservations(order_id, warehouse, location, sku, quantity, at)"
                    " VALUES (?,?,?,?,?,?) ON CONFLICT(order_id, warehouse, sku) DO UPDATE SET"
                    " quantity = quantity + excluded.quantity",
                    (r.order_id, r.warehouse, r.location, r.sku, r.quantity, now))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def set_order_reservations(
        self, order_id: str,
        rows: Callable[[dict[tuple[str, str], int]], Iterable[Reservation]],
    ) -> None:
        """Replace the order's reservations with ``rows(totals)``, where ``totals`` are the
        other orders' open reservations per (sku, location), read inside the same write
        transaction (so concurrent workers never hand out the same shelf unit twice).
        Absolute: re-running it with the same result changes nothing (``reconciler watch``)."""
        now = time.time()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("DELETE FROM reservations WHERE order_id = ?", (order_id,))
            for r in rows(self.reserved_totals()):
                self.db.execute(
                    "INSERT INTO reservations(order_id, warehouse, location, sku, quantity, at)"
                    " VALUES (?,?,?,?,?,?) ON CONFLICT(order_id, warehouse, sku) DO UPDATE SET"
                    " quantity = quantity + excluded.quantity",
                    (order_id, r.warehouse, r.location, r.sku, r.quantity, now))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def order_reservations(self, order_id: str) -> list[Reservation]:
        return [Reservation(r[0], r[1], r[2], r[3], int(r[4])) for r in self.db.execute(
            "SELECT order_id, warehouse, location, sku, quantity FROM reservations"
            " WHERE order_id = ? AND released = 0", (order_id,))]

    def reservations(self, *, open_only: bool = True) -> list[Reservation]:
        sql = "SELECT order_id, warehouse, location, sku, quantity FROM reservations"
        if open_only:
            sql += " WHERE released = 0"
        return [Reservation(r[0], r[1], r[2], r[3], int(r[4]))
                for r in self.db.execute(sql + " ORDER BY order_id, warehouse, sku")]

    def routed_orders(self) -> set[str]:
        """Orders holding a reservation (released or not): routed once, never again."""
        return {str(r[0]) for r in self.db.execute("SELECT DISTINCT order_id FROM reservations")}

    def release(self, order_id: str) -> None:
        self.db.execute("UPDATE reservations SET released = 1 WHERE order_id = ?", (order_id,))

    def reserved_totals(self) -> dict[tuple[str, str], int]:
        """(sku, location) -> unreleased reserved units."""
        return {(str(r[0]), str(r[1])): int(r[2]) for r in self.db.execute(
            "SELECT sku, location, SUM(quantity) FROM reservations WHERE released = 0"
            " GROUP BY sku, location")}

    # -- confirmations -------------------------------------------------------------------------

    def confirmation(self, order_id: str) -> Confirmation | None:
        row = self.db.execute(
            "SELECT order_id, account, feed_id, state, message, carrier, tracking_number"
            " FROM confirmations WHERE order_id = ?", (order_id,)).fetchone()
        return None if row is None else Confirmation(*row)

    def confirmations(self) -> list[Confirmation]:
        return [Confirmation(*r) for r in self.db.execute(
            "SELECT order_id, account, feed_id, state, message, carrier, tracking_number"
            " FROM confirmations ORDER BY order_id")]

    def mark_submitting(self, rows: Iterable[tuple[str, str, str, str]]) -> None:
        """(order id, account, carrier, tracking) -> ``submitted`` without a feed id yet:
        written BEFORE the feed is created, so a crash can never lead to a second feed."""
        now = time.time()
        self.db.execute("BEGIN")
        try:
            for oid, account, carrier, tracking in rows:
                self.db.execute(
                    "INSERT OR REPLACE INTO confirmations(order_id, account, feed_id, state,"
                    " message, carrier, tracking_number, at) VALUES (?,?,NULL,'submitted','',"
                    "?,?,?)", (oid, account, carrier, tracking, now))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def set_feed(self, order_ids: Iterable[str], feed_id: str) -> None:
        self.db.executemany("UPDATE confirmations SET feed_id = ? WHERE order_id = ?",
                            [(feed_id, oid) for oid in order_ids])

    def settle(self, order_id: str, state: str, message: str = "") -> None:
        self.db.execute("UPDATE confirmations SET state = ?, message = ?, at = ?"
                        " WHERE order_id = ?", (state, message, time.time(), order_id))
        if state == "confirmed":
            self.release(order_id)
            self.set_status(order_id, "SHIPPED")

    def unfinished_feeds(self) -> dict[str, list[str]]:
        """feed id -> order ids still ``submitted`` (a previous run did not read the report)."""
        out: dict[str, list[str]] = {}
        for fid, oid in self.db.execute(
                "SELECT feed_id, order_id FROM confirmations WHERE state = 'submitted'"
                " AND feed_id IS NOT NULL ORDER BY order_id"):
            out.setdefault(str(fid), []).append(str(oid))
        return out


def reserved_stock(state_dir: str | Path) -> dict[tuple[str, str], int]:
    """(sku, location) -> units reserved by routed, unshipped orders (empty without state)."""
    if not (Path(state_dir) / DB_NAME).exists():
        return {}
    with OrderState(state_dir) as st:
        return st.reserved_totals()


def apply_reservations(rows: Sequence[StockRow], reserved: dict[tuple[str, str], int]
                       ) -> tuple[StockRow, ...]:
    """stock.csv rows with reserved units subtracted from ``on_hand`` (never below 0)."""
    return tuple(
        replace(r, on_hand=max(0, r.on_hand - reserved.get((r.sku, r.location), 0)))
        for r in rows
    )
