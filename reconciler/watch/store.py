"""The watch workers' shared state: ``<state_dir>/watch.db`` (SQLite, WAL).

Tables:

``seen``       notificationId of every message whose work is done (duplicates are dropped:
               Amazon delivers some messages many times, selling-partner-api-models #2616).
``orders``     per Amazon order: the ``TimeOfOrderChange`` and status last applied, so an older
               notification delivered late never undoes a newer one (out-of-order delivery).
``leases``     one row per SKU being written: owner and expiry. See
               :mod:`reconciler.watch` for why a lease per SKU is enough.
``writes``     one row per PATCH sent (listing, worker, start, end): the evidence that no two
               workers wrote the same listing at once, and the bench's reaction times.
``reactions``  per order: when its notification was published and when the last quantity update
               it caused was accepted (wall seconds).
``rejected``   notifications that failed validation, with the reason (they go to the DLQ).

Reservations themselves live in ``orders.db`` (:mod:`reconciler.orders.state`), where
``plan``/``apply`` already subtract them from ``stock.csv``: the watch and the 15-minute plan
compute the same quantities.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

DB_NAME = "watch.db"
SEEN_DAYS = 7

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (notification_id TEXT PRIMARY KEY, kind TEXT NOT NULL,
                                 at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS orders (order_id TEXT PRIMARY KEY, change_time TEXT NOT NULL,
                                   status TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS leases (key TEXT PRIMARY KEY, owner TEXT NOT NULL,
                                   until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS writes (account TEXT NOT NULL, sku TEXT NOT NULL,
                                   marketplace_id TEXT NOT NULL, worker TEXT NOT NULL,
                                   started REAL NOT NULL, ended REAL NOT NULL);
CREATE TABLE IF NOT EXISTS reactions (order_id TEXT PRIMARY KEY, published REAL NOT NULL,
                                      done REAL);
CREATE TABLE IF NOT EXISTS rejected (notification_id TEXT NOT NULL, reason TEXT NOT NULL,
                                     at REAL NOT NULL);
"""


class WatchStore:
    def __init__(self, state_dir: str | Path) -> None:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        self.path = Path(state_dir) / DB_NAME
        self.db = sqlite3.connect(str(self.path), isolation_level=None, timeout=60.0,
                                  check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        # notificationIds are kept a week: far longer than SQS keeps a message (4 days by
        # default, 14 at most), so no redelivery can outlive its record
        self.db.execute("DELETE FROM seen WHERE at < ?", (time.time() - SEEN_DAYS * 86400,))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> WatchStore:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- duplicates ----------------------------------------------------------------------------

    def seen(self, notification_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM seen WHERE notification_id = ?",
                               (notification_id,)).fetchone() is not None

    def mark_seen(self, items: Iterable[tuple[str, str]]) -> None:
        now = time.time()
        self.db.executemany("INSERT OR IGNORE INTO seen(notification_id, kind, at) VALUES (?,?,?)",
                            [(nid, kind, now) for nid, kind in items])

    # -- order events --------------------------------------------------------------------------

    def order_applied(self, order_id: str) -> tuple[str, str] | None:
        row = self.db.execute("SELECT change_time, status FROM orders WHERE order_id = ?",
                              (order_id,)).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def set_order(self, order_id: str, change_time: str, status: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO orders(order_id, change_time, status, at)"
                        " VALUES (?,?,?,?)", (order_id, change_time, status, time.time()))

    def order_published(self, order_id: str, published: float) -> None:
        self.db.execute("INSERT OR IGNORE INTO reactions(order_id, published) VALUES (?,?)",
                        (order_id, published))

    def orders_done(self, order_ids: Sequence[str], at: float) -> None:
        self.db.executemany("UPDATE reactions SET done = ? WHERE order_id = ? AND done IS NULL",
                            [(at, o) for o in order_ids])

    def reactions(self) -> list[tuple[str, float, float | None]]:
        return [(str(r[0]), float(r[1]), None if r[2] is None else float(r[2]))
                for r in self.db.execute("SELECT order_id, published, done FROM reactions")]

    # -- leases --------------------------------------------------------------------------------

    def try_lease(self, key: str, owner: str, ttl_s: float) -> bool:
        """Take (or renew) the lease on ``key`` unless another owner holds an unexpired one.
        ``BEGIN IMMEDIATE`` takes SQLite's write lock first, so check-and-set is atomic across
        processes."""
        now = time.time()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute("SELECT owner, until FROM leases WHERE key = ?",
                                  (key,)).fetchone()
            if row is not None and row[0] != owner and float(row[1]) > now:
                self.db.execute("COMMIT")
                return False
            self.db.execute("INSERT OR REPLACE INTO leases(key, owner, until) VALUES (?,?,?)",
                            (key, owner, now + ttl_s))
            self.db.execute("COMMIT")
            return True
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def holds(self, key: str, owner: str) -> bool:
        row = self.db.execute("SELECT owner, until FROM leases WHERE key = ?", (key,)).fetchone()
        return row is not None and row[0] == owner and float(row[1]) > time.time()

    def release(self, keys: Iterable[str], owner: str) -> None:
        self.db.executemany("DELETE FROM leases WHERE key = ? AND owner = ?",
                            [(k, owner) for k in keys])

    # -- journal -------------------------------------------------------------------------------

    def record_write(self, account: str, sku: str, marketplace_id: str, worker: str,
                     started: float, ended: float) -> None:
        self.db.execute("INSERT INTO writes VALUES (?,?,?,?,?,?)",
                        (account, sku, marketplace_id, worker, started, ended))

    def writes(self) -> list[tuple[str, str, str, str, float, float]]:
        return [(str(a), str(s), str(m), str(w), float(b), float(e)) for a, s, m, w, b, e in
                self.db.execute("SELECT * FROM writes ORDER BY started")]

    def reject(self, notification_id: str, reason: str) -> None:
        self.db.execute("INSERT INTO rejected VALUES (?,?,?)",
                        (notification_id, reason, time.time()))

    def rejected(self) -> list[tuple[str, str]]:
        return [(str(a), str(b)) for a, b in
                self.db.execute("SELECT notification_id, reason FROM rejected")]


def overlapping_writes(writes: Sequence[tuple[str, str, str, str, float, float]]
                       ) -> list[tuple[str, str, str]]:
    """(listing, worker A, worker B) for every pair of writes of one listing by two different
    workers whose intervals overlap (must be empty)."""
    by: dict[tuple[str, str, str], list[tuple[float, float, str]]] = {}
    for a, s, m, w, b, e in writes:
        by.setdefault((a, s, m), []).append((b, e, w))
    out = []
    for key, spans in by.items():
        for i, (b1, e1, w1) in enumerate(spans):
            for b2, e2, w2 in spans[i + 1:]:
                if w1 != w2 and b1 < e2 and b2 < e1:
                    out.append(("/".join(key), w1, w2))
    return out
