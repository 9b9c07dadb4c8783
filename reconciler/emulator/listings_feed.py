"""JSON_LISTINGS_FEED processing (CONTRACT.md §6): document -> listings writes -> processing report.

1. Decode and parse the uploaded bytes (UTF-8, BOM tolerated). Not JSON -> FATAL.
2. Validate the envelope against ``listings-feed-schema-v2.json`` with the per-message schema
   taken out (header, 1..25,000 messages, each an object): a broken envelope or a header
   ``sellerId`` that is not the feed owner's -> FATAL. Invalid *messages* do not sink the feed.
3. Validate each message against ``listings-feed-message-schema-v2.json`` (and messageId
   uniqueness); an invalid message gets one ``BAD_REQUEST`` issue and counts as invalid.
4. Apply each valid message with the API's own functions, ``source="feed:<feedId>"``:
   PATCH -> ``submit_patch``; PARTIAL_UPDATE -> ``submit_patch`` with one ``replace`` per
   attribute; UPDATE -> ``submit_put``; DELETE -> ``submit_delete``.
5. Build the report per ``listings-feed-processing-report-schema-v2.json``: API issues become
   report issues (``attributeNames[]`` -> one issue per ``attributeName``), summary counts, and
   ``items`` (+ ``summary.itemSummary``) when ``header.report.includedData`` was given.

Accepted messages produce no issues (accepted is not applied: later issues surface on the item).
"""

from __future__ import annotations

import copy
import json
import traceback
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]

from reconciler.kernel.quotas import JSON_LISTINGS_FEED_MAX_MESSAGES

from . import listings
from .auth import ANY_SELLER
from .state import ApiError, EmulatorState

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class FeedJob:
    """What a feed processor gets: the feed and its input document's bytes."""

    feed_id: str
    seller_id: str
    feed_type: str
    marketplace_ids: tuple[str, ...]
    document: bytes
    content_type: str


@dataclass(frozen=True)
class FeedOutcome:
    """DONE or FATAL, an optional (uncompressed) report, and any emulator bug tracebacks."""

    status: str  # DONE | FATAL
    report: bytes | None = None
    errors: tuple[str, ...] = field(default=())


@cache
def _schema(name: str) -> dict[str, Any]:
    with open(DATA / name, encoding="utf-8") as fh:
        doc: dict[str, Any] = json.load(fh)
    return doc


@cache
def _envelope_validator() -> jsonschema.Draft7Validator:
    schema = copy.deepcopy(_schema("listings-feed-schema-v2.json"))
    schema["properties"]["messages"]["items"] = {"type": "object"}
    return jsonschema.Draft7Validator(schema)


@cache
def _message_validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(_schema("listings-feed-message-schema-v2.json"))


def _problem(validator: jsonschema.Draft7Validator, doc: Any) -> str | None:
    err = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if err is None:
        return None
    where = "/".join(str(p) for p in err.absolute_path)
    msg = err.message if len(err.message) <= 300 else err.message[:297] + "..."
    return f"{where}: {msg}" if where else msg


_OPS = frozenset({"add", "replace", "merge", "delete"})
_REQUIREMENTS = frozenset({"LISTING", "LISTING_PRODUCT_ONLY", "LISTING_OFFER_ONLY"})
_FORBIDDEN = {
    "UPDATE": frozenset({"patches"}),
    "PARTIAL_UPDATE": frozenset({"patches", "requirements"}),
    "PATCH": frozenset({"attributes", "requirements"}),
    "DELETE": frozenset({"patches", "requirements", "attributes", "productType"}),
}
_NEEDED = {
    "UPDATE": ("productType", "attributes"),
    "PARTIAL_UPDATE": ("productType", "attributes"),
    "PATCH": ("productType", "patches"),
    "DELETE": (),
}


def _surely_valid(msg: dict[str, Any]) -> bool:
    """A conservative fast check: True only for messages the message schema certainly accepts.

    jsonschema costs ~0.5 ms a message (a 25,000-message feed would hold the emulator for
    seconds); anything this does not vouch for still goes through the real schema.
    """
    mid, sku, op = msg.get("messageId"), msg.get("sku"), msg.get("operationType")
    if type(mid) is not int or not 1 <= mid <= 2147483647:
        return False
    if type(sku) is not str or not sku or type(op) is not str or op not in _FORBIDDEN:
        return False
    if any(k in msg for k in _FORBIDDEN[op]) or any(k not in msg for k in _NEEDED[op]):
        return False
    if "productType" in msg and (type(msg["productType"]) is not str or not msg["productType"]):
        return False
    req = msg.get("requirements")
    if "requirements" in msg and (type(req) is not str or req not in _REQUIREMENTS):
        return False
    if "attributes" in msg and (type(msg["attributes"]) is not dict or not msg["attributes"]):
        return False
    if "patches" in msg:
        patches = msg["patches"]
        if type(patches) is not list or not patches:
            return False
        for p in patches:
            if type(p) is not dict or type(p.get("op")) is not str or p.get("op") not in _OPS:
                return False
            if type(p.get("path")) is not str:
                return False
            if "value" in p and (
                type(p["value"]) is not list or any(type(v) is not dict for v in p["value"])
            ):
                return False
    return True


def count_messages(document: bytes) -> int:
    """Messages in a document, for the processing-time model (0 when it does not parse)."""
    try:
        doc = json.loads(document.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deeply
        return 0
    msgs = doc.get("messages") if isinstance(doc, dict) else None
    if not isinstance(msgs, list) or len(msgs) > JSON_LISTINGS_FEED_MAX_MESSAGES:
        return 0  # rejected as a whole, quickly
    return len(msgs)


def _report(
    job: FeedJob,
    issues: list[dict[str, Any]],
    processed: int,
    accepted: int,
    invalid: int,
    report_opts: dict[str, Any] | None = None,
    items: list[dict[str, Any]] | None = None,
) -> bytes:
    header: dict[str, Any] = {"sellerId": job.seller_id, "version": "2.0", "feedId": job.feed_id}
    if report_opts is not None:
        header["report"] = report_opts
    summary: dict[str, Any] = {
        "errors": sum(1 for i in issues if i["severity"] == "ERROR"),
        "warnings": sum(1 for i in issues if i["severity"] == "WARNING"),
        "messagesProcessed": processed,
        "messagesAccepted": accepted,
        "messagesInvalid": invalid,
    }
    body: dict[str, Any] = {"header": header, "issues": issues, "summary": summary}
    if items is not None:
        item_issues = [i for it in items for i in it.get("issues", [])]
        summary["itemSummary"] = {
            "items": len(items),
            "errors": sum(1 for i in item_issues if i.get("severity") == "ERROR"),
            "warnings": sum(1 for i in item_issues if i.get("severity") == "WARNING"),
        }
        body["items"] = items
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _fatal(job: FeedJob, message: str) -> FeedOutcome:
    issue = {"code": "BAD_REQUEST", "severity": "ERROR", "message": message}
    return FeedOutcome("FATAL", _report(job, [issue], 0, 0, 0))


def _report_issues(mid: int, sku: str, api_issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for iss in api_issues:
        base = {
            "messageId": mid,
            "sku": sku,
            "code": str(iss.get("code") or "UNKNOWN"),
            "severity": iss.get("severity", "ERROR"),
            "message": str(iss.get("message") or "Unknown issue."),
        }
        names = [n for n in iss.get("attributeNames") or [] if isinstance(n, str) and n]
        if not names:
            out.append(base)
        out.extend({**base, "attributeName": n} for n in names)
    return out


def _api_error_text(e: ApiError) -> str:
    try:
        err = json.loads(e.response.body)["errors"][0]
        text = "; ".join(str(x) for x in (err.get("message"), err.get("details")) if x)
    except (ValueError, KeyError, IndexError, TypeError):
        text = ""
    return f"Invalid parameters provided. {text}".strip()


def _apply(emu: EmulatorState, job: FeedJob, msg: dict[str, Any]) -> dict[str, Any]:
    source = f"feed:{job.feed_id}"
    sku = msg["sku"]
    mkts = list(job.marketplace_ids)
    op = msg["operationType"]
    if op == "DELETE":
        return listings.submit_delete(emu, job.seller_id, sku, mkts, source=source)
    if op == "UPDATE":
        body: dict[str, Any] = {"productType": msg["productType"], "attributes": msg["attributes"]}
        if "requirements" in msg:
            body["requirements"] = msg["requirements"]
        return listings.submit_put(emu, job.seller_id, sku, mkts, body, source=source)
    if op == "PARTIAL_UPDATE":
        patches = [
            {"op": "replace", "path": f"/attributes/{name}", "value": value}
            for name, value in msg["attributes"].items()
        ]
        body = {"productType": msg["productType"], "patches": patches}
    else:  # PATCH
        body = {"productType": msg["productType"], "patches": msg["patches"]}
    return listings.submit_patch(emu, job.seller_id, sku, mkts, body, source=source)


@dataclass(frozen=True)
class Parsed:
    """A feed document that passed the envelope checks."""

    header: dict[str, Any]
    messages: list[dict[str, Any]]


def parse(job: FeedJob) -> Parsed | FeedOutcome:
    """The validated document, or the FATAL outcome (with its report) for a broken one."""
    try:
        doc = json.loads(job.document.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as e:
        return _fatal(job, f"The feed document is not valid JSON: {e}")
    except RecursionError:
        return _fatal(job, "The feed document is not valid JSON: nested too deeply")
    if isinstance(doc, dict) and isinstance(doc.get("messages"), list):
        n = len(doc["messages"])
        if n > JSON_LISTINGS_FEED_MAX_MESSAGES:
            return _fatal(
                job, f"The feed has {n} messages; the maximum is {JSON_LISTINGS_FEED_MAX_MESSAGES}."
            )
    problem = _problem(_envelope_validator(), doc)
    if problem is not None:
        return _fatal(
            job, f"The feed document does not match the JSON_LISTINGS_FEED schema: {problem}"
        )
    header = doc["header"]
    if header["sellerId"] != job.seller_id and job.seller_id != ANY_SELLER:
        return _fatal(
            job,
            f"header.sellerId {header['sellerId']!r} does not match the seller "
            "that submitted the feed.",
        )
    return Parsed(header, doc["messages"])


@dataclass(frozen=True)
class MessageResult:
    """What one message did: ``outcome`` accepted | invalid; ``applied`` when it passed the
    message checks and was submitted to the listings API (its messageId is then taken, and its
    SKU appears in the report's ``items``)."""

    message_id: int | None
    sku: str | None
    outcome: str
    applied: bool
    issues: tuple[dict[str, Any], ...]
    error: str | None = None  # traceback of an emulator bug

    def to_json(self) -> str:
        return json.dumps(
            [self.message_id, self.sku, self.outcome, self.applied, list(self.issues), self.error],
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> MessageResult:
        mid, sku, outcome, applied, issues, error = json.loads(text)
        return cls(mid, sku, outcome, applied, tuple(issues), error)


def process_message(
    emu: EmulatorState, job: FeedJob, raw: dict[str, Any], seen: set[int]
) -> MessageResult:
    """Validate and apply one message (``seen``: messageIds applied so far, updated)."""
    mid = raw.get("messageId") if type(raw.get("messageId")) is int else None
    sku = raw.get("sku") if isinstance(raw.get("sku"), str) and raw.get("sku") else None
    problem = None if _surely_valid(raw) else _problem(_message_validator(), raw)
    if problem is None and mid in seen:
        problem = f"messageId {mid} is used by an earlier message of this feed."
    if problem is not None:
        iss: dict[str, Any] = {
            "code": "BAD_REQUEST",
            "severity": "ERROR",
            "message": f"Invalid parameters provided: {problem}",
        }
        if mid is not None and mid >= 1:
            iss["messageId"] = mid
        if sku is not None:
            iss["sku"] = sku
        return MessageResult(mid, sku, "invalid", False, (iss,))
    assert mid is not None and sku is not None
    seen.add(mid)
    base = {"messageId": mid, "sku": sku, "code": "BAD_REQUEST", "severity": "ERROR"}
    try:
        result = _apply(emu, job, raw)
    except ApiError as e:  # the API would have answered 400: the message is invalid
        return MessageResult(mid, sku, "invalid", True, ({**base, "message": _api_error_text(e)},))
    except Exception:
        iss = {
            **base,
            "code": "InternalFailure",
            "message": "We encountered an internal error. Please try again.",
        }
        return MessageResult(mid, sku, "invalid", True, (iss,), traceback.format_exc())
    outcome = "accepted" if result.get("status") == "ACCEPTED" else "invalid"
    return MessageResult(
        mid, sku, outcome, True, tuple(_report_issues(mid, sku, result.get("issues") or []))
    )


def build_report(
    emu: EmulatorState, job: FeedJob, header: dict[str, Any], results: list[MessageResult]
) -> FeedOutcome:
    """The DONE outcome: processing report over every message's result (+ items if asked)."""
    report_opts = header.get("report")
    issues = [i for r in results for i in r.issues]
    accepted = sum(1 for r in results if r.outcome == "accepted")
    items: list[dict[str, Any]] | None = None
    if report_opts is not None:
        skus = dict.fromkeys(r.sku for r in results if r.applied and r.sku)
        items = []
        for sku in skus:
            item = listings.render_item(
                emu,
                job.seller_id,
                sku,
                list(job.marketplace_ids),
                list(report_opts["includedData"]),
                header.get("issueLocale"),
            )
            if item is not None:
                items.append(item)
    report = _report(
        job, issues, len(results), accepted, len(results) - accepted, report_opts, items
    )
    return FeedOutcome("DONE", report, tuple(r.error for r in results if r.error))


def process(emu: EmulatorState, job: FeedJob) -> FeedOutcome:
    """Process a whole JSON_LISTINGS_FEED at once; never raises for bad input.

    (The feeds module applies messages progressively with :func:`parse`,
    :func:`process_message` and :func:`build_report`; this is the one-shot equivalent.)
    """
    parsed = parse(job)
    if isinstance(parsed, FeedOutcome):
        return parsed
    seen: set[int] = set()
    results = [process_message(emu, job, raw, seen) for raw in parsed.messages]
    return build_report(emu, job, parsed.header, results)
