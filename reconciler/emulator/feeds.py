"""Feeds API 2021-06-30 (CONTRACT.md §5): documents, feeds, modelled asynchronous processing.

Lifecycle of a feed (all times in emulator seconds from ``emu.now()``, so a fake clock drives it):

- ``IN_QUEUE`` for a quarter of ``feed_processing_s`` (scaled), and longer while another feed of
  the same seller is ``IN_PROGRESS`` (a seller's feeds run one at a time, in creation order);
- ``IN_PROGRESS`` for the other three quarters plus ``messages * feed_per_message_s`` (scaled);
- then ``DONE`` (report in ``resultFeedDocumentId``, GZIP) or ``FATAL``; ``CANCELLED`` if
  cancelled while still ``IN_QUEUE``.

Nothing runs in the background: :func:`tick` (called by the core at the start of every request)
advances every feed whose next transition is due, so the state is exact and deterministic.
A ``JSON_LISTINGS_FEED``'s messages are applied progressively while it is ``IN_PROGRESS`` (the
share of its processing time elapsed), each batch in one transaction together with its
per-message results (table ``feed_results``), so a restarted server resumes a feed without
applying any message twice; the report is built from those results when the feed ends.

Feed types are processed by :data:`FEED_PROCESSORS` (``JSON_LISTINGS_FEED`` ->
``listings_feed.process``); other types are accepted and go ``FATAL`` without a report (legacy
flat-file/XML listings feeds are dead since 2025-07-31). :func:`register_feed_type` is the hook
for later types such as ``POST_ORDER_FULFILLMENT_DATA``.

Error choices (Amazon-shaped ``ErrorList`` bodies): malformed ids -> 400 ``InvalidInput``;
well-formed ids of nothing this seller owns -> 404 ``NotFound``; cancelling a feed that is not
``IN_QUEUE`` -> 400 ``InvalidInput``; a ``JSON_LISTINGS_FEED`` beyond 5 per 5 minutes per
(seller, region) -> 429 ``QuotaExceeded``.
"""

from __future__ import annotations

import base64
import json
import math
import sqlite3
import time
import traceback
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reconciler.marketplaces import BY_ID
from reconciler.quotas import JSON_LISTINGS_FEED_WINDOW

from . import feed_documents, listings_feed, quota, store
from .http import Request, Response, Route, api_error, invalid_input, json_response
from .listings_feed import FeedJob, FeedOutcome

if TYPE_CHECKING:
    from .app import Emulator

BASE = "/feeds/2021-06-30"
FEED_ID_BASE = 50_000_000_000  # feed ids are numeric strings, like Amazon's ("357051020111")
STATUSES = ("CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE")
RETENTION_S = 90 * 86400
QUEUE_SHARE = 0.25  # share of feed_processing_s spent IN_QUEUE

FeedProcessor = Callable[["Emulator", FeedJob], FeedOutcome]
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
CREATE INDEX IF NOT EXISTS feeds_status ON feeds(status);
CREATE INDEX IF NOT EXISTS feeds_seller ON feeds(seller_id, created_wall);
"""

# Emulator -> emu.now() of the next due transition (inf: nothing pending). Keeps tick() free of
# SQL on the hot path; absent means "unknown, look in the db".
_NEXT_DUE: weakref.WeakKeyDictionary[Emulator, float] = weakref.WeakKeyDictionary()


def init_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)
    feed_documents.init_schema(conn)


# -- time helpers ------------------------------------------------------------------------------


def _iso(ts: float) -> str:
    from .app import iso

    return iso(ts)


_ANCHORS: weakref.WeakKeyDictionary[Emulator, tuple[float, float]] = weakref.WeakKeyDictionary()


def _wall(emu: Emulator, t: float) -> float:
    """Wall-clock epoch seconds of emulator time ``t``: one (wall, emu) anchor per emulator keeps
    every feed timestamp consistent and ordered under a fake clock (and equal to the wall clock
    when the emulator runs on it)."""
    anchor = _ANCHORS.get(emu)
    if anchor is None:
        anchor = _ANCHORS[emu] = (time.time(), emu.now())
    return anchor[0] + (t - anchor[1])


# -- processing --------------------------------------------------------------------------------


def _queue_s(emu: Emulator) -> float:
    return emu.config.scaled(emu.config.feed_processing_s * QUEUE_SHARE)


def _run_s(emu: Emulator, messages: int) -> float:
    c = emu.config
    return c.scaled(c.feed_processing_s * (1 - QUEUE_SHARE) + messages * c.feed_per_message_s)


def _finish(emu: Emulator, seq: int, row: sqlite3.Row | tuple[Any, ...]) -> None:
    """Run a whole-feed processor (FEED_PROCESSORS) and store its outcome."""
    job = _job(emu, seq, row)
    processor = FEED_PROCESSORS.get(job.feed_type)
    try:
        outcome = FeedOutcome("FATAL") if processor is None else processor(emu, job)
    except Exception:  # an emulator bug: the feed dies, the request that ticked does not
        outcome = FeedOutcome("FATAL", None, (traceback.format_exc(),))
    _store_outcome(emu, seq, job.seller_id, outcome)


def _job(emu: Emulator, seq: int, row: sqlite3.Row | tuple[Any, ...]) -> FeedJob:
    doc = feed_documents.get(emu, row[4])
    data = feed_documents.content(emu, row[4]) or b""
    return FeedJob(str(FEED_ID_BASE + seq), row[1], row[2], tuple(json.loads(row[3])), data,
                   doc.content_type if doc else "")


# Emulator -> feed seq -> (job, parsed document or FATAL outcome, messageIds taken). A cache:
# rebuilt from the document and feed_results after a restart.
_RUNS: weakref.WeakKeyDictionary[
    Emulator, dict[int, tuple[FeedJob, listings_feed.Parsed | FeedOutcome, set[int]]]
] = weakref.WeakKeyDictionary()


def _run(
    emu: Emulator, seq: int, row: sqlite3.Row | tuple[Any, ...]
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
        run = runs[seq] = (job, listings_feed.parse(job), seen)
    return run


def _results(emu: Emulator, seq: int) -> list[listings_feed.MessageResult]:
    rows = emu.db.execute(
        "SELECT result FROM feed_results WHERE seq = ? ORDER BY idx", (seq,)
    ).fetchall()
    return [listings_feed.MessageResult.from_json(r[0]) for r in rows]


def _progress(
    emu: Emulator, seq: int, row: sqlite3.Row | tuple[Any, ...], start: float, end: float,
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
        _store_outcome(emu, seq, job.seller_id, outcome)
    _RUNS.get(emu, {}).pop(seq, None)
    return None


def _store_outcome(emu: Emulator, seq: int, seller_id: str, outcome: FeedOutcome) -> None:
    result_id = (
        feed_documents.store_result(emu, seller_id, outcome.report)
        if outcome.report is not None
        else None
    )
    emu.db.execute(
        "UPDATE feeds SET status = ?, result_doc_id = ?, error = ? WHERE seq = ?",
        (outcome.status, result_id, "\n".join(outcome.errors) or None, seq),
    )


def _advance(emu: Emulator, now: float) -> float:
    """Apply every due transition; returns the emu time of the next one (inf if none)."""
    rows = emu.db.execute(
        "SELECT seq, seller_id, feed_type, marketplace_ids, input_doc_id, status, created_at,"
        " end_at, start_at FROM feeds WHERE status IN ('IN_QUEUE', 'IN_PROGRESS') ORDER BY seq"
    ).fetchall()
    next_due = math.inf
    blocked: set[str] = set()
    cursor: dict[str, float] = {}
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
        if row[2] in PROGRESSIVE:
            due = _progress(emu, seq, row, start_at, end_at, now)
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


def tick(emu: Emulator) -> None:
    """Advance feeds whose next transition is due (called under ``emu.lock``)."""
    now = emu.now()
    due = _NEXT_DUE.get(emu)
    if due is not None and now < due:
        return
    _NEXT_DUE[emu] = _advance(emu, now)


# -- rendering ---------------------------------------------------------------------------------


_FEED_COLS = (
    "seq, feed_type, marketplace_ids, status, created_wall, start_at, end_at, result_doc_id,"
    " created_at"
)


def _render(emu: Emulator, row: tuple[Any, ...]) -> dict[str, Any]:
    seq, feed_type, mkts, status, created_wall, start_at, end_at, result = row[:8]
    feed: dict[str, Any] = {
        "feedId": str(FEED_ID_BASE + seq),
        "feedType": feed_type,
        "marketplaceIds": json.loads(mkts),
        "createdTime": _iso(created_wall),
        "processingStatus": status,
    }
    if start_at is not None:
        feed["processingStartTime"] = _iso(_wall(emu, start_at))
    if status in ("DONE", "FATAL", "CANCELLED") and end_at is not None:
        feed["processingEndTime"] = _iso(_wall(emu, end_at))
    if result is not None:
        feed["resultFeedDocumentId"] = result
    return feed


def _seller(params: dict[str, str]) -> str:
    # The core puts the access token's seller here (the Feeds API has no sellerId parameter).
    return params.get("_seller_id", "")


def _feed_row(
    emu: Emulator, params: dict[str, str]
) -> tuple[tuple[Any, ...] | None, Response | None]:
    raw = params["feedId"]
    if not raw.isdigit() or int(raw) <= FEED_ID_BASE or len(raw) > 18:
        return None, invalid_input(f"Invalid feedId {raw!r}.")
    row = emu.db.execute(
        f"SELECT {_FEED_COLS} FROM feeds WHERE seq = ? AND seller_id = ?",  # noqa: S608
        (int(raw) - FEED_ID_BASE, _seller(params)),
    ).fetchone()
    if row is None:
        return None, api_error(404, "NotFound", "The requested feed was not found.",
                               f"No feed {raw} exists for this seller.")
    return tuple(row), None


# -- documents ---------------------------------------------------------------------------------


def create_feed_document(emu: Emulator, req: Request, params: dict[str, str]) -> Response:
    from .app import json_body

    body = json_body(req)
    ctype = body.get("contentType") if isinstance(body, dict) else None
    if not isinstance(ctype, str) or not ctype.strip():
        return invalid_input("contentType is required and must be a non-empty string.")
    doc_id = feed_documents.create(emu, _seller(params), ctype)
    url = feed_documents.presigned_url(emu, req.base_url, doc_id, "PUT")
    return json_response(201, {"feedDocumentId": doc_id, "url": url})


def get_feed_document(emu: Emulator, req: Request, params: dict[str, str]) -> Response:
    flag = req.q("enableContentEncodingUrlHeader")
    if flag is not None and flag.lower() not in ("true", "false"):
        return invalid_input("enableContentEncodingUrlHeader must be true or false.")
    doc_id = params["feedDocumentId"]
    doc = feed_documents.get(emu, doc_id)
    if doc is None or doc.seller_id != _seller(params):
        if not doc_id.startswith("amzn1.tortuga."):
            return invalid_input(f"Invalid feedDocumentId {doc_id!r}.")
        return api_error(404, "NotFound", "The requested feed document was not found.",
                         f"No feed document {doc_id} exists for this seller.")
    gz = doc.compression == "GZIP" and (flag or "").lower() == "true"
    body: dict[str, Any] = {
        "feedDocumentId": doc.doc_id,
        "url": feed_documents.presigned_url(emu, req.base_url, doc.doc_id, "GET", gzip_header=gz),
    }
    if doc.compression:
        body["compressionAlgorithm"] = doc.compression
    return json_response(200, body)


# -- feeds -------------------------------------------------------------------------------------


def _spec_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "The request body must be a CreateFeedSpecification object."
    missing = [k for k in ("feedType", "marketplaceIds", "inputFeedDocumentId") if k not in body]
    if missing:
        return f"Missing required properties: {', '.join(missing)}."
    if not isinstance(body["feedType"], str) or not body["feedType"]:
        return "feedType must be a non-empty string."
    mkts = body["marketplaceIds"]
    if not isinstance(mkts, list) or not 1 <= len(mkts) <= 25:
        return "marketplaceIds must be an array of 1 to 25 marketplace ids."
    unknown = [m for m in mkts if not isinstance(m, str) or m not in BY_ID]
    if unknown:
        return f"Invalid marketplaceIds: {unknown}."
    if len({BY_ID[m].region for m in mkts}) > 1:
        return "All marketplaceIds must belong to the same selling region."
    if not isinstance(body["inputFeedDocumentId"], str) or not body["inputFeedDocumentId"]:
        return "inputFeedDocumentId must be a non-empty string."
    opts = body.get("feedOptions")
    if opts is not None and (
        not isinstance(opts, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in opts.items())
    ):
        return "feedOptions must be an object of string values."
    return None


def create_feed(emu: Emulator, req: Request, params: dict[str, str]) -> Response:
    from .app import json_body, quota_exceeded

    body = json_body(req)
    problem = _spec_problem(body)
    if problem is not None:
        return invalid_input(problem)
    seller_id = _seller(params)
    doc = feed_documents.get(emu, body["inputFeedDocumentId"])
    if doc is None or doc.seller_id != seller_id or doc.kind != "input":
        return invalid_input(f"Invalid inputFeedDocumentId {body['inputFeedDocumentId']!r}.")
    if not doc.uploaded:
        return invalid_input(
            f"The feed document {doc.doc_id} has no content: upload it to its url first."
        )
    mkts = list(body["marketplaceIds"])
    if body["feedType"] == "JSON_LISTINGS_FEED":
        region = BY_ID[mkts[0]].region
        if not quota.take_extra(emu, f"JSON_LISTINGS_FEED:{region}", seller_id,
                                JSON_LISTINGS_FEED_WINDOW):
            return quota_exceeded()
    cur = emu.db.execute(
        "INSERT INTO feeds(seller_id, feed_type, marketplace_ids, input_doc_id, feed_options,"
        " status, created_at, created_wall) VALUES (?,?,?,?,?,'IN_QUEUE',?,?)",
        (seller_id, body["feedType"], json.dumps(mkts), doc.doc_id,
         json.dumps(body["feedOptions"]) if "feedOptions" in body else None,
         emu.now(), _wall(emu, emu.now())),
    )
    assert cur.lastrowid is not None
    _NEXT_DUE.pop(emu, None)  # recompute on the next tick
    return json_response(202, {"feedId": str(FEED_ID_BASE + cur.lastrowid)})


def get_feed(emu: Emulator, req: Request, params: dict[str, str]) -> Response:
    row, bad = _feed_row(emu, params)
    if row is None:
        return bad or invalid_input()
    return json_response(200, _render(emu, row))


def cancel_feed(emu: Emulator, req: Request, params: dict[str, str]) -> Response:
    row, bad = _feed_row(emu, params)
    if row is None:
        return bad or invalid_input()
    if row[3] != "IN_QUEUE":
        return invalid_input(
            f"Only IN_QUEUE feeds can be cancelled; feed {params['feedId']} is {row[3]}."
        )
    emu.db.execute("UPDATE feeds SET status = 'CANCELLED', end_at = ? WHERE seq = ?",
                   (emu.now(), row[0]))
    _NEXT_DUE.pop(emu, None)
    return Response(200, b"", {})


def _encode_token(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def _decode_token(token: str) -> dict[str, Any] | None:
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        return None
    if not isinstance(state, dict) or not isinstance(state.get("o"), int) or state["o"] < 0:
        return None
    return state


def _get_feeds_filters(emu: Emulator, req: Request) -> dict[str, Any] | Response:
    from .app import parse_iso

    types = req.q_csv("feedTypes")
    if not types or len(types) > 10:
        return invalid_input("feedTypes is required (1 to 10 values) unless nextToken is given.")
    mkts = req.q_csv("marketplaceIds")
    if mkts is not None and not 1 <= len(mkts) <= 10:
        return invalid_input("marketplaceIds takes 1 to 10 values.")
    size_raw = req.q("pageSize") or "10"
    if not size_raw.isdigit() or not 1 <= int(size_raw) <= 100:
        return invalid_input("pageSize must be an integer from 1 to 100.")
    statuses = req.q_csv("processingStatuses")
    if statuses is not None and (not statuses or any(s not in STATUSES for s in statuses)):
        return invalid_input(f"processingStatuses must be values of {list(STATUSES)}.")
    now = _wall(emu, emu.now())
    since, until = now - RETENTION_S, now
    for name in ("createdSince", "createdUntil"):
        raw = req.q(name)
        if raw is None:
            continue
        ts = parse_iso(raw)
        if ts is None:
            return invalid_input(f"{name} must be an ISO 8601 date-time.")
        if name == "createdSince":
            since = ts
        else:
            until = ts
    if since > until:
        return invalid_input("createdSince must not be after createdUntil.")
    return {"t": types, "m": mkts, "s": statuses, "ps": int(size_raw), "a": since, "b": until,
            "o": 0}


def get_feeds(emu: Emulator, req: Request, params: dict[str, str]) -> Response:
    token = req.q("nextToken")
    if token is not None:
        if set(req.query) != {"nextToken"}:
            return invalid_input("nextToken must be the only parameter when it is given.")
        state = _decode_token(token)
        if state is None:
            return invalid_input("Invalid nextToken.")
    else:
        got = _get_feeds_filters(emu, req)
        if isinstance(got, Response):
            return got
        state = got
    try:
        types, mkts, statuses = list(state["t"]), state["m"], state["s"]
        size, since, until, offset = int(state["ps"]), float(state["a"]), float(state["b"]), \
            int(state["o"])
    except (KeyError, TypeError, ValueError):
        return invalid_input("Invalid nextToken.")
    # Only placeholders are interpolated; every value is a bound parameter.
    sql = (
        f"SELECT {_FEED_COLS} FROM feeds"  # noqa: S608
        " WHERE seller_id = ? AND created_wall BETWEEN ? AND ?"
        f" AND feed_type IN ({','.join('?' * len(types))})"
    )
    args: list[Any] = [_seller(params), since, until, *types]
    if statuses:
        sql += f" AND status IN ({','.join('?' * len(statuses))})"
        args.extend(statuses)
    rows = emu.db.execute(sql + " ORDER BY created_wall DESC, seq DESC", args).fetchall()
    if mkts:
        wanted = set(mkts)
        rows = [r for r in rows if wanted & set(json.loads(r[2]))]
    page = rows[offset:offset + size]
    body: dict[str, Any] = {"feeds": [_render(emu, tuple(r)) for r in page]}
    if len(rows) > offset + size:
        body["nextToken"] = _encode_token({**state, "o": offset + size})
    return json_response(200, body)


def feed_error(emu: Emulator, feed_id: str) -> str | None:
    """Tracebacks of emulator bugs hit while processing ``feed_id`` (tests assert None)."""
    with emu.lock:
        row = emu.db.execute("SELECT error FROM feeds WHERE seq = ?",
                             (int(feed_id) - FEED_ID_BASE,)).fetchone()
    return None if row is None else row[0]


ROUTES: list[Route] = [
    Route("GET", BASE + "/feeds", "getFeeds", get_feeds),
    Route("POST", BASE + "/feeds", "createFeed", create_feed),
    Route("GET", BASE + "/feeds/{feedId}", "getFeed", get_feed),
    Route("DELETE", BASE + "/feeds/{feedId}", "cancelFeed", cancel_feed),
    Route("POST", BASE + "/documents", "createFeedDocument", create_feed_document),
    Route("GET", BASE + "/documents/{feedDocumentId}", "getFeedDocument", get_feed_document),
    *feed_documents.ROUTES,
]
