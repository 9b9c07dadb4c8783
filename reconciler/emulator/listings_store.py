"""The emulator's listings state: the SQLite table, reading rows, saving and applying writes
(immediately or when due, in Amazon time), the tick that applies due writes, and direct
access for seeds and tests. The submission routes (:mod:`reconciler.emulator.listings`) build on
it; it imports none of them."""

from __future__ import annotations

import json
import math
import sqlite3
import weakref
from dataclasses import dataclass
from typing import Any

from . import listing_late, notify, store
from . import listing_rules as rules
from .listing_views import Row
from .state import EmulatorState, iso, parse_iso


def init_schema(conn: sqlite3.Connection) -> None:
    listing_late.init_schema(conn)
    conn.executescript(
        """
        CREATE TABLE IF NOT EXISTS listings (
            seller_id TEXT NOT NULL,
            sku TEXT NOT NULL,
            marketplace_id TEXT NOT NULL,
            product_type TEXT NOT NULL,
            attributes TEXT NOT NULL,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            created_ts REAL NOT NULL,
            updated_ts REAL NOT NULL,
            issues TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (seller_id, sku, marketplace_id)
        );
        CREATE TABLE IF NOT EXISTS listing_pending (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            due REAL NOT NULL,
            seller_id TEXT NOT NULL,
            sku TEXT NOT NULL,
            marketplace_ids TEXT NOT NULL,
            kind TEXT NOT NULL,
            product_type TEXT,
            payload TEXT,
            source TEXT NOT NULL,
            submission_id TEXT NOT NULL
        );
        """
    )


@dataclass(frozen=False)
class _State:
    next_due: float | None = None
    loaded: bool = False


_STATES: weakref.WeakKeyDictionary[EmulatorState, _State] = weakref.WeakKeyDictionary()


def _state(emu: EmulatorState) -> _State:
    st = _STATES.get(emu)
    if st is None:
        st = _STATES[emu] = _State()
    if not st.loaded:
        row = emu.db.execute("SELECT MIN(due) FROM listing_pending").fetchone()
        st.next_due = row[0] if row else None
        st.loaded = True
    return st


_COLS = (
    "seller_id, sku, marketplace_id, product_type, attributes, created, updated, created_ts,"
    " updated_ts, issues"
)


def _row(r: tuple[Any, ...]) -> Row:
    return Row(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7], r[8], json.loads(r[9]))


def rows(emu: EmulatorState, seller_id: str, sku: str, marketplace_ids: list[str]) -> list[Row]:
    """Stored rows of ``sku`` in the given marketplaces, in the order given."""
    marks = ",".join("?" * len(marketplace_ids))
    found = {
        r[2]: _row(r)
        for r in emu.db.execute(
            f"SELECT {_COLS} FROM listings WHERE seller_id = ? AND sku = ?"  # noqa: S608
            f" AND marketplace_id IN ({marks})",
            (seller_id, sku, *marketplace_ids),
        )
    }
    return [found[m] for m in marketplace_ids if m in found]


def _save(
    emu: EmulatorState,
    seller_id: str,
    sku: str,
    marketplace_id: str,
    product_type: str,
    attributes: rules.Attrs,
    old: Row | None,
    *,
    source: str,
    submission_id: str | None,
    created: float | None = None,
    updated: float | None = None,
    issues: list[dict[str, Any]] | None = None,
) -> None:
    now = math.floor(emu.wall() * 1000) / 1000  # ms precision, as the ISO strings show
    c_ts = old.created_ts if old is not None else (created if created is not None else now)
    u_ts = updated if updated is not None else max(now, c_ts)
    if updated is None and old is not None and u_ts <= old.updated_ts:
        u_ts = old.updated_ts + 0.001  # every write moves lastUpdatedDate
    emu.db.execute(
        f"INSERT OR REPLACE INTO listings({_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?)",  # noqa: S608
        (
            seller_id,
            sku,
            marketplace_id,
            product_type,
            json.dumps(attributes, ensure_ascii=False, separators=(",", ":")),
            old.created if old is not None else iso(c_ts),
            iso(u_ts),
            c_ts,
            u_ts,
            json.dumps(issues if issues is not None else old.issues if old is not None else []),
        ),
    )
    store.insert_history(
        emu.db,
        time=emu.now(),
        seller_id=seller_id,
        sku=sku,
        marketplace_id=marketplace_id,
        source=source,
        submission_id=submission_id,
        attributes=attributes,
    )
    notify.listing_changed(
        emu, seller_id, sku, marketplace_id, old, attributes,
        issues if issues is not None else old.issues if old is not None else [],
        old.created if old is not None else iso(c_ts),
    )


def _apply(
    emu: EmulatorState,
    kind: str,
    seller_id: str,
    sku: str,
    marketplace_ids: list[str],
    product_type: str | None,
    payload: Any,
    source: str,
    submission_id: str,
) -> None:
    with store.transaction(emu.db):
        existing = {r.marketplace_id: r for r in rows(emu, seller_id, sku, marketplace_ids)}
        for mp in marketplace_ids:
            old = existing.get(mp)
            if kind == "delete":
                if old is None:
                    continue
                emu.db.execute(
                    "DELETE FROM listings WHERE seller_id = ? AND sku = ? AND marketplace_id = ?",
                    (seller_id, sku, mp),
                )
                store.insert_history(
                    emu.db,
                    time=emu.now(),
                    seller_id=seller_id,
                    sku=sku,
                    marketplace_id=mp,
                    source=source,
                    submission_id=submission_id,
                    attributes=None,
                )
                notify.listing_changed(emu, seller_id, sku, mp, old, None, None)
                continue
            if kind == "put":
                attrs = rules.replace_all(payload, mp)
                pt = product_type or "PRODUCT"
            else:
                attrs = rules.apply_patches(old.attributes if old else {}, payload, mp)
                pt = old.product_type if old is not None else (product_type or "PRODUCT")
            # a post-acceptance issue (listing_late): decided now, when the write is processed
            names = listing_late.written_attributes(kind, payload)
            late = listing_late.draw(emu, seller_id, sku, mp, names)
            if late is not None and late[0] == listing_late.CATALOG_CONFLICT:
                name = (late[1].get("attributeNames") or [listing_late.conflicting(names)])[0]
                attrs = listing_late.keep_catalog_value(
                    attrs, old.attributes if old else None, str(name)
                )
            issues = listing_late.settle_issues(
                emu, seller_id, sku, mp, old.issues if old else [], late[1] if late else None
            )
            _save(
                emu, seller_id, sku, mp, pt, attrs, old, source=source,
                submission_id=submission_id, issues=issues,
            )


def _schedule(
    emu: EmulatorState,
    kind: str,
    seller_id: str,
    sku: str,
    marketplace_ids: list[str],
    product_type: str | None,
    payload: Any,
    source: str,
    submission_id: str,
) -> None:
    delay = emu.config.scaled(emu.config.write_delay_s)
    st = _state(emu)
    if delay <= 0 and st.next_due is None:
        _apply(
            emu, kind, seller_id, sku, marketplace_ids, product_type, payload, source, submission_id
        )
        return
    due = emu.now() + max(delay, 0.0)
    emu.db.execute(
        "INSERT INTO listing_pending(due, seller_id, sku, marketplace_ids, kind, product_type,"
        " payload, source, submission_id) VALUES (?,?,?,?,?,?,?,?,?)",
        (
            due,
            seller_id,
            sku,
            json.dumps(marketplace_ids),
            kind,
            product_type,
            json.dumps(payload),
            source,
            submission_id,
        ),
    )
    if st.next_due is None or due < st.next_due:
        st.next_due = due


def tick(emu: EmulatorState) -> None:
    """Apply the queued writes that are due (in submission order)."""
    st = _state(emu)
    if st.next_due is None or emu.now() < st.next_due:
        return
    due_rows = emu.db.execute(
        "SELECT id, seller_id, sku, marketplace_ids, kind, product_type, payload, source,"
        " submission_id FROM listing_pending WHERE due <= ? ORDER BY id",
        (emu.now(),),
    ).fetchall()
    with store.transaction(emu.db):  # one commit for every write due now
        for r in due_rows:
            _apply(emu, r[4], r[1], r[2], json.loads(r[3]), r[5], json.loads(r[6]), r[7], r[8])
            emu.db.execute("DELETE FROM listing_pending WHERE id = ?", (r[0],))
    row = emu.db.execute("SELECT MIN(due) FROM listing_pending").fetchone()
    st.next_due = row[0] if row else None


def put_direct(
    emu: EmulatorState,
    seller_id: str,
    sku: str,
    marketplace_id: str,
    product_type: str,
    attributes: dict[str, Any],
    *,
    source: str = "seller_central",
    created: float | None = None,
    updated: float | None = None,
) -> None:
    with store.transaction(emu.db):
        old = rows(emu, seller_id, sku, [marketplace_id])
        _save(
            emu,
            seller_id,
            sku,
            marketplace_id,
            product_type,
            rules.replace_all(attributes, marketplace_id),
            old[0] if old else None,
            source=source,
            submission_id=None,
            created=created,
            updated=updated,
        )


def state(
    emu: EmulatorState, seller_id: str, sku: str, marketplace_id: str
) -> dict[str, Any] | None:
    found = rows(emu, seller_id, sku, [marketplace_id])
    if not found:
        return None
    r = found[0]
    return {
        "productType": r.product_type,
        "attributes": r.attributes,
        "createdDate": r.created,
        "lastUpdatedDate": r.updated,
        "issues": r.issues,
    }


def seed(emu: EmulatorState, data: dict[str, Any]) -> None:
    listing_late.seed(emu, data)
    for seller_id, sdata in (data.get("sellers") or {}).items():
        for item in (sdata or {}).get("listings", []) or []:
            created = parse_iso(item["createdDate"]) if item.get("createdDate") else None
            updated = parse_iso(item["lastUpdatedDate"]) if item.get("lastUpdatedDate") else None
            put_direct(
                emu,
                str(seller_id),
                str(item["sku"]),
                str(item["marketplaceId"]),
                str(item.get("productType", "PRODUCT")),
                item.get("attributes") or {},
                source="seed",
                created=created,
                updated=updated,
            )
            if item.get("issues"):
                emu.db.execute(
                    "UPDATE listings SET issues = ? WHERE seller_id = ? AND sku = ?"
                    " AND marketplace_id = ?",
                    (
                        json.dumps(item["issues"]),
                        str(seller_id),
                        str(item["sku"]),
                        str(item["marketplaceId"]),
                    ),
                )
