"""Feed processing engine: the modelled lifecycle of every feed, advanced lazily by ``tick``.

Lifecycle (all times in emulator seconds from ``emu.now()``, so a fake clock drives it):

- ``IN_QUEUE`` for a quarter of ``feed_processing_s`` (scaled), and longer while another feed of
  the same seller is ``IN_PROGRESS`` (a seller's feeds run one at a time, in creation order);
- ``IN_PROGRESS`` for the other three quarters plus ``messages * feed_per_message_s`` (scaled);
- then ``DONE`` (report in ``resultFeedDocumentId``, GZIP) or ``FATAL``.

Nothing runs in the background: :func:`tick` (called by the core at the start of every request)
advances every feed whose next transition is due, so the state is exact and deterministic.
A ``JSON_LISTINGS_FEED``'s messages are applied progressively while it is ``IN_PROGRESS`` (the
share of its processing time elapsed), each batch in one transaction together with its
per-message results (table ``feed_results``), so a restarted server resumes a feed without
applying any message twice; the report is built from those results when the feed ends.

A feed hit by the ``stuck-feed`` fault goes IN_PROGRESS and stays there: it applies nothing,
never ends, and does not hold up the seller's later feeds.

Other feed types run their :data:`FEED_PROCESSORS` entry once, when their processing time is
over; unknown types go ``FATAL`` without a report (legacy flat-file/XML listings feeds are dead
since 2025-07-31). :func:`register_feed_type` is the hook for later types such as
``POST_ORDER_FULFILLMENT_DATA``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
import time
import traceback
import weakref
from collections.abc import Callable
from typing import Any

from . import feed_documents, listings_feed, notify, store
from .auth import ANY_SELLER
from .faults import chance
from .listings_feed import FeedJob, FeedOutcome
from .state import EmulatorState, iso

FEED_ID_BASE = 50_000_000_000  # feed ids are numeric strings, like Amazon's ("357051020111")
QUEUE_SHARE = 0.25  # share of feed_processing_s spent IN_QUEUE

FeedProcessor = Callable[["EmulatorState", FeedJob], FeedOutcome]
FEED_PROCESSORS: dict[str, FeedProcessor] = {"JSON_LISTINGS_FEED": listings_feed.process}
# Feed types applied message by message while IN_PROGRESS (see _progress); the others run their
# FEED_PROCESSORS entry once, when processing time is over.
PROGRESSIVE = frozenset({"JSON_LISTINGS_FEED"})


def register_feed_type(feed_type: str, processor: FeedProcessor) -> None:
    """Plug in a processor for another feed type (e.g. ``POST_ORDER_FULFILLMENT_DATA``)."""
    FEED_PROCESSORS[feed_type] = processor


SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    seller_id TEXT NOT NULL,
    feed_type TEXT NOT NULL,
    marketplace_ids TEXT NOT NULL,
    input_doc_id TEXT NOT NULL,
    feed_options TEXT,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,       -- emu.now()
    created_wall REAL NOT NULL,     -- epoch seconds (createdTime)
    start_at REAL,                  -- emu.now() scale: IN_PROGRESS since
    end_at REAL,                    -- emu.now() scale: (planned) end of processing
    messages INTEGER,
    result_doc_id TEXT,
    error TEXT,                     -- emulator bug tracebacks while processing (tests: None)
    progress INTEGER NOT NULL DEFAULT 0  -- JSON_LISTINGS_FEED messages processed so far
);
CREATE TABLE IF NOT EXISTS feed_results (
    seq INTEGER NOT NULL,           -- feeds.seq
    idx INTEGER NOT NULL,           -- message position in the document
    result TEXT NOT NULL,           -- listings_feed.MessageResult.to_json()
    PRIMARY KEY (seq, idx)
);
CREATE TABLE IF NOT EXISTS feed_faults (
    seq INTEGER PRIMARY KEY,        -- feeds.seq
    kind TEXT NOT NULL              -- stuck: IN_PROGRESS indefinitely (the stuck-feed fault)
);
CREATE INDEX IF NOT EXISTS feeds_status ON feeds(status);
CREATE INDEX IF NOT EXISTS feeds_seller ON feeds(seller_id, created_wall);
"""

# EmulatorState -> emu.now() of the next due transition (inf: nothing pending). Keeps tick() free of
# SQL on the hot path; absent means "unknown, look in the db".
_NEXT_DUE: weakref.WeakKeyDictionary[EmulatorState, float] = weakref.WeakKeyDictionary()


def init_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)
    feed_documents.init_schema(conn)


# -- time helpers ------------------------------------------------------------------------------


def to_iso(ts: float) -> str:
    return iso(ts)


_ANCHORS: weakref.WeakKeyDictionary[EmulatorState, tuple[float, float]] = (
    weakref.WeakKeyDictionary()
)


def wall_time(emu: EmulatorState, t: float) -> float:
    """Wall-clock epoch seconds of emulator time ``t``: one (wall, emu) anchor per emulator keeps
    every feed timestamp consistent and ordered under a fake clock (and equal to the wall clock
    when the emulator runs on it)."""
    anchor = _ANCHORS.get(emu)
    if anchor is None:
        anchor = _ANCHORS[emu] = (time.time(), emu.now())
    return anchor[0] + (t - anchor[1])


# -- processing --------------------------------------------------------------------------------


def _queue_s(emu: EmulatorState) -> float:
    return emu.config.scaled(emu.config.feed_processing_s * QUEUE_SHARE)


def _run_s(emu: EmulatorState, messages: int) -> float:
    c = emu.config
    return c.scaled(c.feed_processing_s * (1 - QUEUE_SHARE) + messages * c.feed_per_message_s)


def _finish(emu: EmulatorState, seq: int, row: sqlite3.Row | tuple[Any, ...]) -> None:
    """Run a whole-feed processor (FEED_PROCESSORS) and store its outcome."""
    job = _job(emu, seq, row)
    processor = FEED_PROCESSORS.get(job.feed_type)
    try:
        outcome = FeedOutcome("FATAL") if processor is None else processor(emu, job)
    except Exception:  # an emulator bug: the feed dies, the request that ticked does not
        outcome = FeedOutcome("FATAL", None, (traceback.format_exc(),))
    _store_outcome(emu, seq, job.seller_id, outcome)


def _job(emu: EmulatorState, seq: int, row: sqlite3.Row | tuple[Any, ...]) -> FeedJob:
    doc = feed_documents.get(emu, row[4])
    data = feed_documents.content(emu, row[4]) or b""
    return FeedJob(str(FEED_ID_BASE + seq), row[1], row[2], tuple(json.loads(row[3])), data,
                   doc.content_type if doc else "")


# EmulatorState -> feed seq -> (job, parsed document or FATAL outcome, messageIds taken). A cache:
# rebuilt from the document and feed_results after a restart.
_RUNS: weakref.WeakKeyDictionary[
    EmulatorState, dict[int, tuple[FeedJob, listings_feed.Parsed | FeedOutcome, set[int]]]
] = weakref.WeakKeyDictionary()


def _run(
    emu: EmulatorState, seq: int, row: sqlite3.Row | tuple[Any, ...]
) -> tuple[FeedJob, listings_feed.Parsed | FeedOutcome, set[int]]:
    runs = _RUNS.setdefault(emu, {})
    run = runs.get(seq)
    if run is None:
        job = _job(emu, seq, row)
        seen = {
            r.message_id
            for r in _results(emu, seq)
            if r.applied and r.message_id is not None
        }
        parsed = listings_feed.parse(job)
        if isinstance(parsed, listings_feed.Parsed) and job.seller_id == ANY_SELLER:
            # an unbound (permissive) token's feed acts for its document's seller (auth.py)
            job = dataclasses.replace(job, seller_id=str(parsed.header["sellerId"]))
        run = runs[seq] = (job, parsed, seen)
    return run


def _results(emu: EmulatorState, seq: int) -> list[listings_feed.MessageResult]:
    rows = emu.db.execute(
        "SELECT result FROM feed_results WHERE seq = ? ORDER BY idx", (seq,)
    ).fetchall()
    return [listings_feed.MessageResult.from_json(r[0]) for r in rows]


def _progress(
    emu: EmulatorState, seq: int, row: sqlite3.Row | tuple[Any, ...], start: float, end: float,
    now: float
) -> float | None:
    """Apply the JSON_LISTINGS_FEED messages due by ``now``; finish the feed at ``end``.

    Returns None when the feed finished, else the emu time its next message falls due.
    """
    job, parsed, seen = _run(emu, seq, row)
    if isinstance(parsed, listings_feed.Parsed):
        n = len(parsed.messages)
        done = int(emu.db.execute("SELECT progress FROM feeds WHERE seq = ?", (seq,)).fetchone()[0])
        target = n if now >= end or end <= start else min(n, int(n * (now - start) / (end - start)))
        if target > done:
            with store.transaction(emu.db):
                for idx in range(done, target):
                    res = listings_feed.process_message(emu, job, parsed.messages[idx], seen)
                    emu.db.execute("INSERT INTO feed_results(seq, idx, result) VALUES (?,?,?)",
                                   (seq, idx, res.to_json()))
                emu.db.execute("UPDATE feeds SET progress = ? WHERE seq = ?", (target, seq))
        if now < end:
            return min(end, start + (target + 1) * (end - start) / max(n, 1))
    elif now < end:
        return end
    with store.transaction(emu.db):
        if isinstance(parsed, listings_feed.Parsed):
            outcome = listings_feed.build_report(emu, job, parsed.header, _results(emu, seq))
        else:
            outcome = parsed
        _store_outcome(emu, seq, row[1], outcome)  # the feed owner's report
    _RUNS.get(emu, {}).pop(seq, None)
    return None


def _store_outcome(emu: EmulatorState, seq: int, seller_id: str, outcome: FeedOutcome) -> None:
    result_id = (
        feed_documents.store_result(emu, seller_id, outcome.report)
        if outcome.report is not None
        else None
    )
    emu.db.execute(
        "UPDATE feeds SET status = ?, result_doc_id = ?, error = ? WHERE seq = ?",
        (outcome.status, result_id, "\n".join(outcome.errors) or None, seq),
    )
    notify.feed_finished(emu, seq, str(FEED_ID_BASE + seq))


def _advance(emu: EmulatorState, now: float) -> float:
    """Apply every due transition; returns the emu time of the next one (inf if none)."""
    rows = emu.db.execute(
        "SELECT seq, seller_id, feed_type, marketplace_ids, input_doc_id, status, created_at,"
        " end_at, start_at FROM feeds WHERE status IN ('IN_QUEUE', 'IN_PROGRESS') ORDER BY seq"
    ).fetchall()
    next_due = math.inf
    blocked: set[str] = set()
    cursor: dict[str, float] = {}
    stuck = {r[0] for r in emu.db.execute("SELECT seq FROM feed_faults WHERE kind = 'stuck'")}
    for row in rows:
        seq, seller, status, created_at, end_at, start_at = (
            row[0], row[1], row[5], row[6], row[7], row[8]
        )
        if seller in blocked:
            continue
        if seller not in cursor:
            last = emu.db.execute(
                "SELECT MAX(end_at) FROM feeds WHERE seller_id = ? AND status IN ('DONE','FATAL')",
                (seller,),
            ).fetchone()[0]
            cursor[seller] = -math.inf if last is None else float(last)
        if status == "IN_QUEUE":
            start = max(created_at + _queue_s(emu), cursor[seller])
            if now < start:
                next_due = min(next_due, start)
                blocked.add(seller)
                continue
            data = feed_documents.content(emu, row[4]) or b""
            n = listings_feed.count_messages(data) if row[2] == "JSON_LISTINGS_FEED" else 0
            start_at, end_at = start, start + _run_s(emu, n)
            emu.db.execute(
                "UPDATE feeds SET status = 'IN_PROGRESS', start_at = ?, end_at = ?, messages = ?"
                " WHERE seq = ?",
                (start, end_at, n, seq),
            )
        if seq in stuck:  # IN_PROGRESS indefinitely: applies nothing, holds no feed up
            continue
        if row[2] in PROGRESSIVE:
            try:
                due = _progress(emu, seq, row, start_at, end_at, now)
            except Exception:  # an emulator bug: this feed dies, not every later request
                if emu.db.in_transaction:
                    emu.db.execute("ROLLBACK")
                with store.transaction(emu.db):
                    _store_outcome(emu, seq, row[1],
                                   FeedOutcome("FATAL", None, (traceback.format_exc(),)))
                _RUNS.get(emu, {}).pop(seq, None)
                due = None
            if due is not None:
                next_due = min(next_due, due)
                blocked.add(seller)
                continue
        elif now < end_at:
            next_due = min(next_due, end_at)
            blocked.add(seller)
            continue
        else:
            # One transaction per feed: a crash mid-feed leaves it IN_PROGRESS with nothing
            # applied (never half-applied and then re-applied), and file dbs commit once.
            with store.transaction(emu.db):
                _finish(emu, seq, row)
        cursor[seller] = end_at
    return next_due


def tick(emu: EmulatorState) -> None:
    """Advance feeds whose next transition is due (called under ``emu.lock``)."""
    now = emu.now()
    due = _NEXT_DUE.get(emu)
    if due is not None and now < due:
        return
    _NEXT_DUE[emu] = _advance(emu, now)


def draw_faults(emu: EmulatorState, seq: int, seller_id: str) -> None:
    """The per-feed faults of a new feed (``stuck-feed=RATE``, a draw fixed by the fault seed,
    the seller and the feed)."""
    rate = emu.config.faults.stuck_feed
    if rate > 0 and chance(emu.config.seed, "stuck-feed", seller_id, str(seq)) < rate:
        emu.db.execute("INSERT OR REPLACE INTO feed_faults(seq, kind) VALUES (?, 'stuck')", (seq,))


def invalidate(emu: EmulatorState) -> None:
    """A feed was created or cancelled: recompute the next due transition on the next tick."""
    _NEXT_DUE.pop(emu, None)


def feed_error(emu: EmulatorState, feed_id: str) -> str | None:
    """Tracebacks of emulator bugs hit while processing ``feed_id`` (tests assert None)."""
    with emu.lock:
        row = emu.db.execute("SELECT error FROM feeds WHERE seq = ?",
                             (int(feed_id) - FEED_ID_BASE,)).fetchone()
    return None if row is None else row[0]
