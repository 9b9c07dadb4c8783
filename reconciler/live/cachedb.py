"""A disposable SQLite file: the plumbing under the live cache.

A file that is not a database, a corrupt database or one written by another schema version is
treated as missing: it is deleted and recreated empty (``reset_reason`` says why), and a database
error in the middle of an operation does the same. Subclasses give the schema (``SCHEMA``, run
in one transaction) and its ``SCHEMA_VERSION``, and build their queries on :meth:`_run` (reads)
and :meth:`_write` (one transaction, retried once on a recreated database).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from reconciler.kernel import statedir

T = TypeVar("T")
D = TypeVar("D", bound="DisposableDB")


class DisposableDB:
    """Thread-safe (one connection behind a lock). Use as a context manager or :meth:`close`."""

    SCHEMA = ""
    SCHEMA_VERSION = 0

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.reset_reason: str | None = None
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._open()

    # ------------------------------------------------------------------ lifecycle

    def _open(self) -> None:
        statedir.ensure(self.path.parent)
        existed = self.path.exists()
        try:
            conn = self._connect()
        except sqlite3.DatabaseError as e:
            self._reset(f"unreadable cache file ({e})")
            return
        try:
            version = self._read_version(conn) if existed else None
        except sqlite3.DatabaseError as e:
            conn.close()
            self._reset(f"unreadable cache file ({e})")
            return
        if existed and version != self.SCHEMA_VERSION:
            conn.close()
            self._reset(f"cache schema version {version} is not {self.SCHEMA_VERSION}")
            return
        try:
            self._init_schema(conn)
        except sqlite3.DatabaseError as e:
            conn.close()
            self._reset(f"unreadable cache file ({e})")
            return
        self._conn = conn

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def _read_version(self, conn: sqlite3.Connection) -> int | None:
        has_meta = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
        ).fetchone()
        if not has_meta:
            # An empty file (e.g. created by a crash before the schema) has no tables at all.
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            return self.SCHEMA_VERSION if tables == 0 else None
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            return None
        try:
            return int(row[0])
        except (TypeError, ValueError):
            return None

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        conn.executescript("BEGIN;" + self.SCHEMA + "COMMIT;")
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
            (str(self.SCHEMA_VERSION),),
        )

    def _reset(self, reason: str) -> None:
        """Delete the cache file (and SQLite side files) and start empty."""
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        self.reset_reason = reason
        for suffix in ("", "-journal", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(str(self.path) + suffix).unlink()
        conn = self._connect()
        try:
            self._init_schema(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self: D) -> D:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, op: Callable[[sqlite3.Connection], T], on_reset: T) -> T:
        """Run ``op``; a database error (other than a lock time-out) resets the cache to empty
        and returns ``on_reset`` (reads: nothing cached; writes: see :meth:`_write`)."""
        with self._lock:
            if self._conn is None:
                raise ValueError(f"{self.path.name} is closed")
            try:
                return op(self._conn)
            except sqlite3.DatabaseError as e:
                if isinstance(e, sqlite3.OperationalError) and "locked" in str(e):
                    raise  # another process holds the lock past the timeout: not corruption
                self._reset(f"cache database error ({e})")
                return on_reset

    def _write(self, op: Callable[[sqlite3.Connection], None]) -> None:
        def tx(conn: sqlite3.Connection) -> bool:
            conn.execute("BEGIN IMMEDIATE")
            try:
                op(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return True

        if not self._run(tx, False):
            self._run(tx, False)  # once more on the recreated database
