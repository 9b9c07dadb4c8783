"""Local cache of the last live state per listing, so a scheduled plan re-reads only what changed.

A drift check every 15 minutes must not re-read every listing from Amazon. With this cache the
caller (``workflow``) reads incrementally:

1. Amazon's side: ``searchListingsItems`` with ``lastUpdatedAfter`` = :meth:`LiveCache.watermark`
   returns the listings edited since the last read; those are read fresh and stored.
2. The catalog's side: the caller hashes each desired listing; a listing whose digest differs
   from :meth:`LiveCache.catalog_digests` (or that has no cached item) is read fresh too.
3. Every other listing comes from :meth:`LiveCache.get_many`.

The cache can never make a plan wrong on its own: a plan carries the fingerprint of the live state
it used, and apply re-reads the planned listings and refuses (or re-reads fully) on a mismatch;
the caller then calls :meth:`LiveCache.invalidate` for those listings. The caller also falls back
to a full read when :meth:`LiveCache.needs_full_read` says the last one is missing or too old.

Robustness: the cache is disposable (:class:`~reconciler.live.cachedb.DisposableDB`). A file
that is not a database, a corrupt database or one written by another schema version is treated
as missing: it is deleted and recreated empty (``reset_reason`` says why), and a database error
in the middle of an operation does the same (reads then return nothing cached). Nothing here
raises for a broken cache file.

Times are ISO 8601 strings given by the caller (no clock in this module); they are stored
normalised to UTC, whole seconds, rounded down (an earlier watermark only reads more).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from reconciler.kernel.clock import iso_utc, parse_iso_utc
from reconciler.kernel.fastjson import dumps_sorted
from reconciler.kernel.gcpause import paused_gc
from reconciler.live.cachedb import DisposableDB

SCHEMA_VERSION = 2  # 2: outcomes
CACHE_FILENAME = "live-cache.sqlite"  # inside the state dir ($RECONCILER_STATE_DIR)
_CHUNK = 500  # SQLite host parameters per IN (...) query, well under every version's limit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    account TEXT NOT NULL,
    marketplace_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    item TEXT,              -- raw Item JSON; NULL = read and not found live
    read_at TEXT NOT NULL,
    PRIMARY KEY (account, marketplace_id, sku)
);
CREATE TABLE IF NOT EXISTS digests (
    account TEXT NOT NULL,
    marketplace_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (account, marketplace_id, sku)
);
CREATE TABLE IF NOT EXISTS outcomes (   -- the last plan found the listing unchanged
    account TEXT NOT NULL,
    marketplace_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    digest TEXT NOT NULL,   -- catalog digest it was planned against
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (account, marketplace_id, sku)
);
CREATE TABLE IF NOT EXISTS reads (
    account TEXT NOT NULL,
    marketplace_id TEXT NOT NULL,
    kind TEXT NOT NULL,     -- full | incremental
    at TEXT NOT NULL,
    PRIMARY KEY (account, marketplace_id, kind)
);
"""



def normalize_time(value: str) -> str:
    """``2024-05-01T10:00:00.5+02:00`` -> ``2024-05-01T08:00:00Z`` (UTC, floor to the second).

    Naive times are taken as UTC. Raises ValueError for a string that is not ISO 8601.
    """
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return iso_utc(dt)


def default_path(state_dir: str | os.PathLike[str]) -> Path:
    """Where the CLI keeps the cache: ``<state_dir>/live-cache.sqlite``. The drift workflow
    caches the whole state dir between runs (without ``locks/``), so the name may change."""
    return Path(state_dir) / CACHE_FILENAME


def _by_sku(
    conn: sqlite3.Connection, statement: str, account: str, marketplace_id: str,
    skus: list[str],
) -> list[tuple[Any, ...]]:
    """Run ``statement`` (``SELECT ... FROM t`` or ``DELETE FROM t``, constant text) for one
    account and marketplace, restricted to ``skus`` in chunks of host parameters."""
    rows: list[tuple[Any, ...]] = []
    for chunk in _chunks(skus):
        marks = ",".join("?" * len(chunk))
        rows += conn.execute(
            f"{statement} WHERE account=? AND marketplace_id=? AND sku IN ({marks})",
            (account, marketplace_id, *chunk),
        ).fetchall()
    return rows


def _chunks(seq: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(seq), _CHUNK):
        yield seq[i : i + _CHUNK]


class LiveCache(DisposableDB):
    """SQLite file of raw live ``Item`` JSON per ``(account, marketplace_id, sku)``.

    Use as a context manager (or call :meth:`close`). Safe to share between threads.
    """

    SCHEMA = _SCHEMA
    SCHEMA_VERSION = SCHEMA_VERSION

    # ------------------------------------------------------------------ items

    def lookup(
        self, account: str, marketplace_id: str, skus: Iterable[str]
    ) -> dict[str, dict[str, Any] | None]:
        """Cached entries for ``skus``: a SKU missing from the result is not cached; ``None``
        means it was read and not found live."""
        wanted = sorted(set(skus))

        def op(conn: sqlite3.Connection) -> dict[str, dict[str, Any] | None]:
            found: dict[str, dict[str, Any] | None] = {}
            with paused_gc():  # the decoded JSON forms no cycles
                sql = "SELECT sku, item FROM items"
                for sku, item in _by_sku(conn, sql, account, marketplace_id, wanted):
                    try:
                        found[sku] = None if item is None else json.loads(item)
                    except ValueError as e:
                        msg = f"unparseable item for {sku!r}: {e}"
                        raise sqlite3.DatabaseError(msg) from e
            return found

        return self._run(op, {})

    def get_many(
        self, account: str, marketplace_id: str, skus: Iterable[str]
    ) -> dict[str, dict[str, Any]]:
        """Cached raw ``Item`` JSON of the listings that exist live (see :meth:`lookup` for the
        ones cached as not found)."""
        return {
            sku: item
            for sku, item in self.lookup(account, marketplace_id, skus).items()
            if item is not None
        }

    def put_many(
        self,
        account: str,
        marketplace_id: str,
        items: Mapping[str, dict[str, Any] | None],
        read_at_iso: str,
    ) -> None:
        """Store what a read returned: an ``Item`` per SKU, or ``None`` for not found live."""
        at = normalize_time(read_at_iso)
        rows = [
            (
                account,
                marketplace_id,
                sku,
                None if item is None else dumps_sorted(item),
                at,
            )
            for sku, item in items.items()
        ]

        def op(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT OR REPLACE INTO items (account, marketplace_id, sku, item, read_at) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )

        self._write(op)

    def read_at(self, account: str, marketplace_id: str, skus: Iterable[str]) -> dict[str, str]:
        """When each cached SKU was last read (normalised ISO)."""
        wanted = sorted(set(skus))

        def op(conn: sqlite3.Connection) -> dict[str, str]:
            found: dict[str, str] = {}
            sql = "SELECT sku, read_at FROM items"
            found.update(dict(_by_sku(conn, sql, account, marketplace_id, wanted)))
            return found

        return self._run(op, {})

    def invalidate(self, account: str, marketplace_id: str, skus: Iterable[str]) -> None:
        """Forget these listings (cached item and catalog digest), so the next plan reads them
        fresh. Call it for every listing the stale check at apply time found changed."""
        wanted = sorted(set(skus))

        def op(conn: sqlite3.Connection) -> None:
            for statement in ("DELETE FROM items", "DELETE FROM digests", "DELETE FROM outcomes"):
                _by_sku(conn, statement, account, marketplace_id, wanted)

        self._write(op)

    def invalidate_all(self, account: str | None = None) -> None:
        """Forget everything (for one account, or all), including the read marks, so the next
        plan does a full read."""

        def op(conn: sqlite3.Connection) -> None:
            for table in ("items", "digests", "outcomes", "reads"):
                if account is None:
                    conn.execute(f"DELETE FROM {table}")  # noqa: S608
                else:
                    conn.execute(f"DELETE FROM {table} WHERE account=?", (account,))  # noqa: S608

        self._write(op)

    def prune(self, account: str, marketplace_id: str, keep_skus: Iterable[str]) -> int:
        """Drop entries of SKUs no longer in the catalog; returns how many items were dropped."""
        keep = set(keep_skus)
        dropped: list[int] = []

        def op(conn: sqlite3.Connection) -> None:
            rows = conn.execute(
                "SELECT sku FROM items WHERE account=? AND marketplace_id=?",
                (account, marketplace_id),
            ).fetchall()
            gone = [sku for (sku,) in rows if sku not in keep]
            drows = conn.execute(
                "SELECT sku FROM digests WHERE account=? AND marketplace_id=?",
                (account, marketplace_id),
            ).fetchall()
            dgone = [sku for (sku,) in drows if sku not in keep]
            for table, skus in (("items", gone), ("digests", dgone)):
                conn.executemany(
                    f"DELETE FROM {table} WHERE account=? AND marketplace_id=? AND sku=?",  # noqa: S608
                    [(account, marketplace_id, s) for s in skus],
                )
            dropped.append(len(gone))

        self._write(op)
        return dropped[-1] if dropped else 0

    # ------------------------------------------------------------------ catalog digests

    def catalog_digests(
        self, account: str, marketplace_id: str, skus: Iterable[str]
    ) -> dict[str, str]:
        """The catalog digest stored per SKU when its live state was last planned against."""
        wanted = sorted(set(skus))

        def op(conn: sqlite3.Connection) -> dict[str, str]:
            found: dict[str, str] = {}
            sql = "SELECT sku, digest FROM digests"
            found.update(dict(_by_sku(conn, sql, account, marketplace_id, wanted)))
            return found

        return self._run(op, {})

    def set_catalog_digests(
        self, account: str, marketplace_id: str, digests: Mapping[str, str]
    ) -> None:
        rows = [(account, marketplace_id, sku, d) for sku, d in digests.items()]

        def op(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT OR REPLACE INTO digests (account, marketplace_id, sku, digest) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )

        self._write(op)

    def catalog_digest(self, account: str, marketplace_id: str, sku: str) -> str | None:
        return self.catalog_digests(account, marketplace_id, [sku]).get(sku)

    def set_catalog_digest(self, account: str, marketplace_id: str, sku: str, digest: str) -> None:
        self.set_catalog_digests(account, marketplace_id, {sku: digest})

    def changed_in_catalog(
        self, account: str, marketplace_id: str, digests: Mapping[str, str]
    ) -> set[str]:
        """SKUs whose current catalog digest differs from the stored one (or has none)."""
        stored = self.catalog_digests(account, marketplace_id, digests)
        return {sku for sku, d in digests.items() if stored.get(sku) != d}

    # ------------------------------------------------------------------ plan outcomes

    def unchanged_outcomes(
        self, account: str, marketplace_id: str, skus: Iterable[str]
    ) -> dict[str, tuple[str, str]]:
        """SKU -> (catalog digest, live fingerprint) of listings the last plan found unchanged.
        Valid only while neither side changed since: the caller checks the digest and that
        Amazon reported no update (``lastUpdatedAfter``)."""
        wanted = sorted(set(skus))

        def op(conn: sqlite3.Connection) -> dict[str, tuple[str, str]]:
            found: dict[str, tuple[str, str]] = {}
            sql = "SELECT sku, digest, fingerprint FROM outcomes"
            for sku, digest, fp in _by_sku(conn, sql, account, marketplace_id, wanted):
                found[sku] = (digest, fp)
            return found

        return self._run(op, {})

    def record_outcomes(
        self,
        account: str,
        marketplace_id: str,
        unchanged: Mapping[str, tuple[str, str]],
        changed: Iterable[str],
    ) -> None:
        """Remember the listings a plan found unchanged (SKU -> (digest, fingerprint)) and
        forget any outcome of the ones it will change or hold."""
        rows = [(account, marketplace_id, sku, d, fp) for sku, (d, fp) in unchanged.items()]
        gone = sorted(set(changed))

        def op(conn: sqlite3.Connection) -> None:
            _by_sku(conn, "DELETE FROM outcomes", account, marketplace_id, gone)
            conn.executemany(
                "INSERT OR REPLACE INTO outcomes (account, marketplace_id, sku, digest, "
                "fingerprint) VALUES (?, ?, ?, ?, ?)",
                rows,
            )

        self._write(op)

    # ------------------------------------------------------------------ read marks

    def _get_mark(self, account: str, marketplace_id: str, kind: str) -> str | None:
        def op(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT at FROM reads WHERE account=? AND marketplace_id=? AND kind=?",
                (account, marketplace_id, kind),
            ).fetchone()
            return None if row is None else str(row[0])

        return self._run(op, None)

    def _set_mark(self, account: str, marketplace_id: str, kind: str, at_iso: str) -> None:
        at = normalize_time(at_iso)

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO reads (account, marketplace_id, kind, at) "
                "VALUES (?, ?, ?, ?)",
                (account, marketplace_id, kind, at),
            )

        self._write(op)

    def last_full_read(self, account: str, marketplace_id: str) -> str | None:
        """When the last full read of this account and marketplace started (None: never)."""
        return self._get_mark(account, marketplace_id, "full")

    def mark_full_read(self, account: str, marketplace_id: str, at_iso: str) -> None:
        """Record a completed full read. Pass the time the read STARTED, so an edit made on
        Amazon during the read is still after the next ``lastUpdatedAfter``."""
        self._set_mark(account, marketplace_id, "full", at_iso)

    def mark_incremental_read(self, account: str, marketplace_id: str, at_iso: str) -> None:
        """Record a completed incremental read (again: the time it started)."""
        self._set_mark(account, marketplace_id, "incremental", at_iso)

    def watermark(self, account: str, marketplace_id: str) -> str | None:
        """``lastUpdatedAfter`` for the next incremental read: the start of the latest read of
        either kind, or None when there was never a full read (then read fully)."""
        full = self.last_full_read(account, marketplace_id)
        if full is None:
            return None
        inc = self._get_mark(account, marketplace_id, "incremental")
        return max(full, inc) if inc is not None else full

    def needs_full_read(
        self, account: str, marketplace_id: str, *, now_iso: str, max_age_seconds: float
    ) -> bool:
        """True when there was never a full read, or the last one is older than the bound (or
        in the future, e.g. a clock change): the safe default for ``--refresh incremental``."""
        last = self.last_full_read(account, marketplace_id)
        if last is None:
            return True
        age = parse_iso_utc(normalize_time(now_iso)) - parse_iso_utc(last)
        return age < timedelta(0) or age > timedelta(seconds=max_age_seconds)
