"""The JSON_LISTINGS_FEED lifecycle for one account, and the journal of feeds in flight.

Per account and marketplace, changes go out in feeds of at most 25,000 messages (one message
per listing, so a listing is never half-updated; one marketplace per feed, because a feed's
messages apply to every marketplace named in createFeed). Each feed runs the full lifecycle
(CONTRACT.md §5.2): createFeedDocument (``application/json; charset=UTF-8``) -> PUT the UTF-8
bytes -> createFeed -> poll getFeed -> getFeedDocument -> download (gunzip) -> map the processing
report's issues (``messageId``) back to listings. :func:`wait_all` maps each feed's report as
soon as that feed is terminal and hands the result over (``on_result``) while it goes on polling
the others, so apply verifies a feed's listings while the seller's later feeds still process.

**Never a PATCH and a queued feed for the same SKU.** Within one run every listing goes by one
strategy. Across runs (an apply killed while its feeds were queued), the journal
``<state_dir>/feeds/<account>.json`` remembers every feed submitted and not yet seen finished;
the next apply of that account first waits for those feeds (:func:`settle_journal`) and does not
write any SKU that is still in an unfinished feed. The journal entry is written *before*
createFeed (with the document id and the time) and completed with the feed id after. A kill
between the two leaves a marker with no feed id; the feed it may have created cannot be named
(Amazon's Feed object does not carry its input document), so the next run asks getFeeds for
every unfinished JSON_LISTINGS_FEED of that marketplace created since the marker (less the
clock margin) and waits for all of them.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reconciler.apply.verify import poll_delay
from reconciler.kernel.clock import clock_margin, iso_utc, parse_iso_utc
from reconciler.kernel.errors import ApiError, NotFoundError
from reconciler.kernel.model import Issue, ListingKey
from reconciler.kernel.quotas import JSON_LISTINGS_FEED_MAX_MESSAGES
from reconciler.plan import patches
from reconciler.plan.change import Change
from reconciler.spapi.client import SpApiClient

FEED_TYPE = "JSON_LISTINGS_FEED"
CONTENT_TYPE = "application/json; charset=UTF-8"
TERMINAL = frozenset({"DONE", "FATAL", "CANCELLED"})


@dataclass(frozen=True)
class FeedResult:
    feed_id: str
    marketplace_id: str
    status: str
    keys: tuple[ListingKey, ...]
    rejected: Mapping[ListingKey, tuple[Issue, ...]]
    feed_issues: tuple[Issue, ...] = ()  # feed-level (no messageId)


# --------------------------------------------------------------------------- journal


class Journal:
    """Feeds submitted by this account and not yet seen finished (frozen=False holder)."""

    def __init__(self, state_dir: str | Path | None, account: str) -> None:
        self.path = Path(state_dir) / "feeds" / f"{account}.json" if state_dir else None
        self.entries: list[dict[str, Any]] = self._load()

    def _load(self) -> list[dict[str, Any]]:
        if self.path is None or not self.path.exists():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return list(data.get("feeds", []))
        except (OSError, ValueError):
            return []

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"feeds": self.entries}), encoding="utf-8")
        os.replace(tmp, self.path)

    def add(self, document_id: str, marketplace_id: str, skus: Sequence[str]) -> None:
        self.entries.append(
            {
                "document_id": document_id,
                "feed_id": "",
                "marketplace_id": marketplace_id,
                "skus": list(skus),
                "submitted_at": iso_utc(datetime.now(timezone.utc)),
            }
        )
        self._save()

    def set_feed(self, document_id: str, feed_id: str) -> None:
        for e in self.entries:
            if e["document_id"] == document_id:
                e["feed_id"] = feed_id
        self._save()

    def drop(self, feed_ids: set[str]) -> None:
        self.entries = [e for e in self.entries if e["feed_id"] not in feed_ids]
        self._save()

    def replace(self, entries: list[dict[str, Any]]) -> None:
        self.entries = entries
        self._save()


def settle_journal(
    client: SpApiClient,
    journal: Journal,
    *,
    timeout_s: float,
    poll_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, set[str]]:
    """Wait (bounded) for feeds a previous run left in flight. Returns marketplace_id -> SKUs
    still in an unfinished feed (empty when everything settled); those must not be written."""
    deadline = clock() + timeout_s
    rounds = 0
    while journal.entries:
        rounds += 1
        _resolve_markers(client, journal)
        done: set[str] = set()
        for e in journal.entries:
            if not e["feed_id"]:
                continue  # getFeeds failed this round; ask again next round
            try:
                status = client.get_feed(e["feed_id"]).get("processingStatus", "")
            except NotFoundError:  # Amazon no longer knows it (retention): nothing in flight
                status = "DONE"
            except ApiError:
                continue  # ask again next round
            if status in TERMINAL:
                done.add(e["feed_id"])
        journal.drop(done)
        if not journal.entries or clock() >= deadline:
            break
        sleep(max(0.0, min(poll_delay(rounds - 1, poll_s), deadline - clock())))
    blocked: dict[str, set[str]] = {}
    for e in journal.entries:
        blocked.setdefault(e["marketplace_id"], set()).update(e["skus"])
    return blocked


UNFINISHED = ("IN_QUEUE", "IN_PROGRESS")


def _resolve_markers(client: SpApiClient, journal: Journal) -> None:
    """Replace each marker (no feed id: killed between createFeed and recording its answer) by
    the unfinished JSON_LISTINGS_FEEDs of its marketplace created since it was written, carrying
    the marker's SKUs. None unfinished: whatever createFeed did has finished (or never
    happened), so the marker is dropped. getFeeds failing leaves the marker for the next round
    (getFeeds has a small quota, so this is one call per marker and round at most)."""
    markers = [e for e in journal.entries if not e["feed_id"]]
    if not markers:
        return
    resolved: dict[str, list[str]] = {}  # marker document id -> unfinished feed ids
    for m in markers:
        since = _marker_since(m.get("submitted_at", ""))
        try:
            feeds = client.get_feeds(
                [FEED_TYPE],
                processing_statuses=UNFINISHED,
                marketplace_ids=[m["marketplace_id"]],
                created_since=since,
            )
        except ApiError:
            continue
        resolved[m["document_id"]] = [str(f["feedId"]) for f in feeds if f.get("feedId")]
    if not resolved:
        return
    entries: list[dict[str, Any]] = []
    by_feed: dict[str, dict[str, Any]] = {e["feed_id"]: e for e in journal.entries if e["feed_id"]}
    for e in journal.entries:
        if e["feed_id"] or e["document_id"] not in resolved:
            entries.append(e)
            continue
        for fid in resolved[e["document_id"]]:
            known = by_feed.get(fid)
            if known is not None:
                known["skus"] = sorted(set(known["skus"]) | set(e["skus"]))
                continue
            adopted = {**e, "feed_id": fid, "skus": list(e["skus"])}
            by_feed[fid] = adopted
            entries.append(adopted)
    journal.replace(entries)


def _marker_since(submitted_at: str) -> str | None:
    """createdSince for a marker: its time less the clock margin. Markers written before the
    journal kept a time fall back to Amazon's default window (90 days)."""
    try:
        at = parse_iso_utc(submitted_at)
    except ValueError:
        return None
    return iso_utc(at - clock_margin())


# --------------------------------------------------------------------------- lifecycle


def batches(
    changes: Sequence[Change], size: int = JSON_LISTINGS_FEED_MAX_MESSAGES
) -> list[tuple[str, list[Change]]]:
    """(marketplace_id, changes) per feed: one marketplace a feed, <= size messages."""
    by_mp: dict[str, list[Change]] = {}
    for c in changes:
        by_mp.setdefault(c.key.marketplace_id, []).append(c)
    out: list[tuple[str, list[Change]]] = []
    for mp in sorted(by_mp):
        cs = by_mp[mp]
        out.extend((mp, cs[i : i + size]) for i in range(0, len(cs), size))
    return out


def submit(
    client: SpApiClient,
    seller_id: str,
    marketplace_id: str,
    changes: Sequence[Change],
    journal: Journal,
    *,
    issue_locale: str = "en_US",
) -> tuple[str, dict[int, ListingKey]]:
    """Upload one feed; returns (feed id, messageId -> listing)."""
    messages = [patches.feed_message(c, i) for i, c in enumerate(changes, start=1)]
    by_id = {i: c.key for i, c in enumerate(changes, start=1)}
    doc = patches.feed_document(seller_id, messages, issue_locale=issue_locale)
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    created = client.create_feed_document(CONTENT_TYPE)
    document_id = str(created["feedDocumentId"])
    client.upload_feed_document(str(created["url"]), body, CONTENT_TYPE)
    journal.add(document_id, marketplace_id, [c.key.sku for c in changes])
    feed_id = client.create_feed(FEED_TYPE, [marketplace_id], document_id)
    journal.set_feed(document_id, feed_id)
    return feed_id, by_id


def _issue(raw: Mapping[str, Any]) -> Issue:
    attr = raw.get("attributeName")
    return Issue(
        code=str(raw.get("code", "")),
        message=str(raw.get("message", "")),
        severity=str(raw.get("severity", "ERROR")),
        attribute_names=(str(attr),) if attr else (),
    )


def map_report(
    report: Mapping[str, Any], by_id: Mapping[int, ListingKey]
) -> tuple[dict[ListingKey, tuple[Issue, ...]], tuple[Issue, ...]]:
    """ERROR issues per listing (by messageId) and feed-level issues."""
    per: dict[ListingKey, list[Issue]] = {}
    feed_level: list[Issue] = []
    for raw in report.get("issues", []) or []:
        issue = _issue(raw)
        mid = raw.get("messageId")
        key = by_id.get(int(mid)) if isinstance(mid, (int, str)) and str(mid).isdigit() else None
        if key is None:
            if issue.severity == "ERROR":
                feed_level.append(issue)
            continue
        if issue.severity == "ERROR":
            per.setdefault(key, []).append(issue)
    return {k: tuple(v) for k, v in per.items()}, tuple(feed_level)


def download_report(client: SpApiClient, document_id: str) -> dict[str, Any]:
    doc = client.get_feed_document(document_id)
    raw = client.download_feed_document(doc)
    if raw[:2] == b"\x1f\x8b":  # still gzip (a client that does not gunzip)
        raw = gzip.decompress(raw)
    data = json.loads(raw.decode("utf-8"))
    return data if isinstance(data, dict) else {}


def wait_all(
    client: SpApiClient,
    feeds: Mapping[str, tuple[str, dict[int, ListingKey]]],
    journal: Journal,
    *,
    timeout_s: float,
    poll_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[int], None] | None = None,
    on_result: Callable[[FeedResult], None] | None = None,
) -> list[FeedResult]:
    """Poll every feed until terminal (or the bound), reading and mapping each feed's report as
    soon as that feed is terminal; returns the results by feed id.
    ``feeds``: feed id -> (marketplace id, messageId -> listing).

    ``on_result`` is called (on this thread) with each feed's result as soon as it is known,
    while the other feeds are still being polled: a terminal feed right after its report is
    mapped (and it has left the journal), an unfinished one at the bound. The caller can start
    verifying a DONE feed's listings while later feeds are still processing."""
    deadline = clock() + timeout_s
    status: dict[str, str] = {}
    results: dict[str, FeedResult] = {}
    open_ = set(feeds)
    rounds = 0
    while open_:
        rounds += 1
        for fid in sorted(open_):
            try:
                f = client.get_feed(fid)
            except ApiError:  # failed after bounded retries: poll again next round
                continue
            status[fid] = str(f.get("processingStatus", ""))
            if status[fid] in TERMINAL:
                open_.discard(fid)
                mp, by_id = feeds[fid]
                doc = str(f.get("resultFeedDocumentId") or "")
                results[fid] = _result(client, fid, mp, by_id, status[fid], doc)
                journal.drop({fid})
                if on_result is not None:
                    on_result(results[fid])
        if progress is not None:
            progress(len(feeds) - len(open_))
        if not open_ or clock() >= deadline:
            break
        sleep(max(0.0, min(poll_delay(rounds - 1, poll_s), deadline - clock())))
    for fid in sorted(open_):  # the bound ran out: still in flight, stays in the journal
        mp, by_id = feeds[fid]
        results[fid] = _result(client, fid, mp, by_id, status.get(fid, "IN_QUEUE"), "")
        if on_result is not None:
            on_result(results[fid])
    return [results[fid] for fid in sorted(feeds)]


def _result(
    client: SpApiClient,
    fid: str,
    mp: str,
    by_id: Mapping[int, ListingKey],
    st: str,
    result_doc: str,
) -> FeedResult:
    """One feed's result: its processing report mapped to listings (FATAL: every listing)."""
    rejected: dict[ListingKey, tuple[Issue, ...]] = {}
    feed_issues: tuple[Issue, ...] = ()
    if result_doc:
        with contextlib.suppress(ApiError, ValueError):
            rejected, feed_issues = map_report(download_report(client, result_doc), by_id)
    if st == "FATAL":
        why = feed_issues or (Issue("FEED_FATAL", f"feed {fid} was aborted (FATAL)"),)
        rejected = {k: rejected.get(k, why) for k in by_id.values()}
    return FeedResult(fid, mp, st, tuple(by_id.values()), rejected, feed_issues)
