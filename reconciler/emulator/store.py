"""SQLite persistence shared by every emulator module: the connection, the core tables (call
log, listing history) and a transaction helper.

The connection is in autocommit mode (``isolation_level=None``): a statement is durable when it
returns; group statements with :func:`transaction`. Callers hold ``Emulator.lock`` around any use.
Files use WAL so a test can read the call log of a running server subprocess.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from reconciler.kernel.errors import ReconcilerError

CORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    operation TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    seller_id TEXT,
    query TEXT NOT NULL,
    fault TEXT,
    error TEXT,
    request_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_operation ON calls(operation);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    seller_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    marketplace_id TEXT NOT NULL,
    source TEXT NOT NULL,
    submission_id TEXT,
    attributes TEXT
);
CREATE INDEX IF NOT EXISTS history_sku ON history(sku);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class CallRecord:
    """One request the emulator answered (or dropped, for reset/timeout faults)."""

    time: float  # emu.now() when the request arrived
    operation: str  # Amazon's operationId, "lwaToken", "unknown" for unrouted paths
    method: str
    path: str  # raw path as sent (percent-encoded)
    status: int  # 0 when the connection was reset / timed out by a fault
    seller_id: str | None
    query: dict[str, list[str]]
    fault: str | None  # injected fault kind, if any
    error: str | None  # traceback text of a handler exception (a 500 that is an emulator bug)
    request_id: str = ""


@dataclass(frozen=True)
class HistoryRecord:
    """One applied listing write; ``attributes`` is the stored state AFTER it (None: deleted)."""

    time: float
    seller_id: str
    sku: str
    marketplace_id: str
    source: str  # patch | put | delete | feed:<feedId> | seller_central | seed
    submission_id: str | None
    attributes: dict[str, Any] | None


class StoreError(ReconcilerError):
    """The emulator's database file cannot be opened or is not a database (a user's file: a
    corrupt ``.reconciler/emulator.db``, an ``--db`` that is a directory): exit 1, not a bug."""


def connect(db: str) -> sqlite3.Connection:
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(db, check_same_thread=False, isolation_level=None, timeout=30.0)
        if db != ":memory:" and not db.startswith("file::memory:"):
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(CORE_SCHEMA)
    except sqlite3.DatabaseError as e:  # "file is not a database", "unable to open ..."
        if conn is not None:
            conn.close()
        if os.path.isdir(db):
            raise StoreError(f"emulator database {db!r} is a directory; give a file") from None
        raise StoreError(
            f"cannot use the emulator database {db!r} ({e}): move or delete it to start afresh "
            "(the embedded emulator seeds a new one)"
        ) from None
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN/COMMIT (ROLLBACK on error); nests by doing nothing when already in one."""
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def insert_call(conn: sqlite3.Connection, rec: CallRecord) -> None:
    conn.execute(
        "INSERT INTO calls(time, operation, method, path, status, seller_id, query, fault, error,"
        " request_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            rec.time,
            rec.operation,
            rec.method,
            rec.path,
            rec.status,
            rec.seller_id,
            json.dumps(rec.query, separators=(",", ":")),
            rec.fault,
            rec.error,
            rec.request_id,
        ),
    )


def select_calls(conn: sqlite3.Connection, operation: str | None = None) -> list[CallRecord]:
    sql = (
        "SELECT time, operation, method, path, status, seller_id, query, fault, error, request_id"
        " FROM calls"
    )
    args: tuple[Any, ...] = ()
    if operation is not None:
        sql += " WHERE operation = ?"
        args = (operation,)
    rows = conn.execute(sql + " ORDER BY id", args).fetchall()
    return [
        CallRecord(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], r[8], r[9])
        for r in rows
    ]


def insert_history(
    conn: sqlite3.Connection,
    *,
    time: float,
    seller_id: str,
    sku: str,
    marketplace_id: str,
    source: str,
    submission_id: str | None,
    attributes: dict[str, Any] | None,
) -> None:
    conn.execute(
        "INSERT INTO history(time, seller_id, sku, marketplace_id, source, submission_id,"
        " attributes) VALUES (?,?,?,?,?,?,?)",
        (
            time,
            seller_id,
            sku,
            marketplace_id,
            source,
            submission_id,
            None if attributes is None else json.dumps(attributes, sort_keys=True),
        ),
    )


def select_history(conn: sqlite3.Connection, sku: str | None = None) -> list[HistoryRecord]:
    sql = (
        "SELECT time, seller_id, sku, marketplace_id, source, submission_id, attributes"
        " FROM history"
    )
    args: tuple[Any, ...] = ()
    if sku is not None:
        sql += " WHERE sku = ?"
        args = (sku,)
    rows = conn.execute(sql + " ORDER BY id", args).fetchall()
    return [
        HistoryRecord(
            r[0], r[1], r[2], r[3], r[4], r[5], None if r[6] is None else json.loads(r[6])
        )
        for r in rows
    ]
