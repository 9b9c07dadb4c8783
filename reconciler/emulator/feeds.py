"""Feeds API 2021-06-30 (CONTRACT.md §5): the six operations over documents and feeds.

The lifecycle of a feed (IN_QUEUE -> IN_PROGRESS -> DONE/FATAL, progressive application of
JSON_LISTINGS_FEED messages, the feed-type hook) lives in ``feed_processing.py``; documents and
their presigned URLs in ``feed_documents.py``; JSON_LISTINGS_FEED parsing, per-message
application and the processing report in ``listings_feed.py``.

Error choices (Amazon-shaped ``ErrorList`` bodies): malformed ids -> 400 ``InvalidInput``;
well-formed ids of nothing this seller owns -> 404 ``NotFound``; cancelling a feed that is not
``IN_QUEUE`` -> 400 ``InvalidInput``; a ``JSON_LISTINGS_FEED`` naming more than one marketplace
-> 400 ``InvalidInput`` "Too many 'marketplaceIds' values provided. Expected a maximum of 1."
(Amazon applies a listings feed's messages to one marketplace); a ``JSON_LISTINGS_FEED`` beyond 5
per 5 minutes per (seller, region) -> 429 ``QuotaExceeded``. That limit is the sliding window
``reconciler.kernel.quotas.JSON_LISTINGS_FEED_WINDOW`` (scaled), the same table the client paces
itself with. It is counted only after the specification validated, so a rejected createFeed does not
use up a submission.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from typing import Any

from reconciler.kernel.marketplaces import BY_ID
from reconciler.kernel.quotas import JSON_LISTINGS_FEED_WINDOW

from . import feed_documents, feed_processing, notify, quota
from .feed_processing import (  # re-exported: the public face of the Feeds module
    FEED_ID_BASE,
    FEED_PROCESSORS,
    PROGRESSIVE,
    FeedProcessor,
    feed_error,
    register_feed_type,
    tick,
    to_iso,
    wall_time,
)
from .http import Request, Response, Route, api_error, invalid_input, json_response
from .state import EmulatorState, json_body, parse_iso

__all__ = [
    "FEED_ID_BASE",
    "FEED_PROCESSORS",
    "PROGRESSIVE",
    "ROUTES",
    "FeedProcessor",
    "feed_error",
    "init_schema",
    "register_feed_type",
    "tick",
]

BASE = "/feeds/2021-06-30"
TOO_MANY_MARKETPLACES = "Too many 'marketplaceIds' values provided. Expected a maximum of 1."
STATUSES = ("CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE")
RETENTION_S = 90 * 86400


def init_schema(conn: sqlite3.Connection) -> None:
    feed_processing.init_schema(conn)  # feeds, feed_results, feed documents


# -- rendering ---------------------------------------------------------------------------------


_FEED_COLS = (
    "seq, feed_type, marketplace_ids, status, created_wall, start_at, end_at, result_doc_id,"
    " created_at"
)


def _render(emu: EmulatorState, row: tuple[Any, ...]) -> dict[str, Any]:
    seq, feed_type, mkts, status, created_wall, start_at, end_at, result = row[:8]
    feed: dict[str, Any] = {
        "feedId": str(FEED_ID_BASE + seq),
        "feedType": feed_type,
        "marketplaceIds": json.loads(mkts),
        "createdTime": to_iso(created_wall),
        "processingStatus": status,
    }
    if start_at is not None:
        feed["processingStartTime"] = to_iso(wall_time(emu, start_at))
    if status in ("DONE", "FATAL", "CANCELLED") and end_at is not None:
        feed["processingEndTime"] = to_iso(wall_time(emu, end_at))
    if result is not None:
        feed["resultFeedDocumentId"] = result
    return feed


def _seller(params: dict[str, str]) -> str:
    # The core puts the access token's seller here (the Feeds API has no sellerId parameter).
    return params.get("_seller_id", "")


def _feed_row(
    emu: EmulatorState, params: dict[str, str]
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


def create_feed_document(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    body = json_body(req)
    ctype = body.get("contentType") if isinstance(body, dict) else None
    if not isinstance(ctype, str) or not ctype.strip():
        return invalid_input("contentType is required and must be a non-empty string.")
    doc_id = feed_documents.create(emu, _seller(params), ctype)
    url = feed_documents.presigned_url(emu, req.base_url, doc_id, "PUT")
    return json_response(201, {"feedDocumentId": doc_id, "url": url})


def get_feed_document(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
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


def create_feed(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    body = json_body(req)
    problem = _spec_problem(body)
    if problem is not None:
        return invalid_input(problem)
    if body["feedType"] == "JSON_LISTINGS_FEED" and len(body["marketplaceIds"]) > 1:
        return api_error(400, "InvalidInput", TOO_MANY_MARKETPLACES)
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
        if not quota.take_window(emu, f"JSON_LISTINGS_FEED:{region}", seller_id,
                                 JSON_LISTINGS_FEED_WINDOW):
            return quota.throttled()
    cur = emu.db.execute(
        "INSERT INTO feeds(seller_id, feed_type, marketplace_ids, input_doc_id, feed_options,"
        " status, created_at, created_wall) VALUES (?,?,?,?,?,'IN_QUEUE',?,?)",
        (seller_id, body["feedType"], json.dumps(mkts), doc.doc_id,
         json.dumps(body["feedOptions"]) if "feedOptions" in body else None,
         emu.now(), wall_time(emu, emu.now())),
    )
    assert cur.lastrowid is not None
    feed_processing.draw_faults(emu, cur.lastrowid, seller_id)
    feed_processing.invalidate(emu)
    return json_response(202, {"feedId": str(FEED_ID_BASE + cur.lastrowid)})


def get_feed(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    row, bad = _feed_row(emu, params)
    if row is None:
        return bad or invalid_input()
    return json_response(200, _render(emu, row))


def cancel_feed(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    row, bad = _feed_row(emu, params)
    if row is None:
        return bad or invalid_input()
    if row[3] != "IN_QUEUE":
        return invalid_input(
            f"Only IN_QUEUE feeds can be cancelled; feed {params['feedId']} is {row[3]}."
        )
    emu.db.execute("UPDATE feeds SET status = 'CANCELLED', end_at = ? WHERE seq = ?",
                   (emu.now(), row[0]))
    notify.feed_finished(emu, int(row[0]), str(params["feedId"]))
    feed_processing.invalidate(emu)
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


def _get_feeds_filters(emu: EmulatorState, req: Request) -> dict[str, Any] | Response:
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
    now = wall_time(emu, emu.now())
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


def get_feeds(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
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


ROUTES: list[Route] = [
    # unbound_ok: an unbound (permissive) token's feeds act for their document's header.sellerId
    Route("GET", BASE + "/feeds", "getFeeds", get_feeds, unbound_ok=True),
    Route("POST", BASE + "/feeds", "createFeed", create_feed, unbound_ok=True),
    Route("GET", BASE + "/feeds/{feedId}", "getFeed", get_feed, unbound_ok=True),
    Route("DELETE", BASE + "/feeds/{feedId}", "cancelFeed", cancel_feed, unbound_ok=True),
    Route("POST", BASE + "/documents", "createFeedDocument", create_feed_document,
          unbound_ok=True),
    Route("GET", BASE + "/documents/{feedDocumentId}", "getFeedDocument", get_feed_document,
          unbound_ok=True),
    *feed_documents.ROUTES,
]
