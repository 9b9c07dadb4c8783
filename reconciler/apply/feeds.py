"""The JSON_LISTINGS_FEED lifecycle for one account.

Per account and marketplace, changes go out in feeds of at most 25,000 messages (one message
per listing, so a listing is never half-updated; one marketplace per feed, because a feed's
messages apply to every marketplace named in createFeed). Each feed runs the full lifecycle
(CONTRACT.md §5.2): createFeedDocument (``application/json; charset=UTF-8``) -> PUT the UTF-8
bytes -> createFeed -> poll getFeed -> getFeedDocument -> download (gunzip) -> map the processing
report's issues (``messageId``) back to listings. :func:`run` submits each feed as soon as the
JSON_LISTINGS_FEED window allows and polls the submitted ones meanwhile; it maps each feed's
report as soon as that feed is terminal and hands the result over (``on_result``) while it goes
on with the others, so apply verifies a feed's listings while the seller's later feeds still
process. A feed unfinished at its bound (from its own submission) is handed over as such.

Feeds in flight across runs: the journal (``reconciler.apply.feedjournal``, re-exported here).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.apply.feedjournal import (  # re-exported: callers know the journal as feedrun's
    FEED_TYPE,
    TERMINAL,
    UNFINISHED,
    Journal,
    settle_journal,
)
from reconciler.apply.verify import poll_delay
from reconciler.kernel.errors import ApiError
from reconciler.kernel.model import Issue, ListingKey
from reconciler.kernel.quotas import JSON_LISTINGS_FEED_MAX_MESSAGES
from reconciler.plan import patches
from reconciler.plan.change import Change
from reconciler.spapi.client import SpApiClient

__all__ = [
    "FEED_TYPE",
    "TERMINAL",
    "UNFINISHED",
    "FeedResult",
    "Journal",
    "age_text",
    "batches",
    "map_report",
    "run",
    "settle_journal",
    "submit",
    "wait_all",
]

CONTENT_TYPE = "application/json; charset=UTF-8"


@dataclass(frozen=True)
class FeedResult:
    feed_id: str
    marketplace_id: str
    status: str
    keys: tuple[ListingKey, ...]
    rejected: Mapping[ListingKey, tuple[Issue, ...]]
    feed_issues: tuple[Issue, ...] = ()  # feed-level (no messageId)
    age_s: float = 0.0  # seconds from its submission to this result

    def unfinished_issue(self) -> Issue:
        """Why this feed's listings are pending: the feed, its status and its age."""
        return Issue(
            f"FEED_{self.status}",
            f"feed {self.feed_id} still {self.status} {age_text(self.age_s)} after it was "
            "submitted; its listings are not written again until it finishes",
        )


def age_text(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


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
    journal.record_submission()
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


class _Poller:
    """Polls submitted feeds: each one until it is terminal (report mapped, out of the journal)
    or until its own bound, ``timeout_s`` after its submission (then it stays in the journal and
    its result says how long it has been unfinished)."""

    def __init__(
        self,
        client: SpApiClient,
        journal: Journal,
        timeout_s: float,
        clock: Callable[[], float],
        on_result: Callable[[FeedResult], None] | None,
    ) -> None:
        self.client, self.journal, self.timeout_s, self.clock = client, journal, timeout_s, clock
        self.on_result = on_result
        self.feeds: dict[str, tuple[str, dict[int, ListingKey], float]] = {}
        self.status: dict[str, str] = {}
        self.open: set[str] = set()
        self.results: dict[str, FeedResult] = {}

    def add(self, fid: str, mp: str, by_id: dict[int, ListingKey], at: float) -> None:
        self.feeds[fid] = (mp, by_id, at)
        self.open.add(fid)

    def _done(self, fid: str, result: FeedResult) -> None:
        self.open.discard(fid)
        self.results[fid] = result
        if self.on_result is not None:
            self.on_result(result)

    def poll(self) -> None:
        for fid in sorted(self.open):
            mp, by_id, at = self.feeds[fid]
            try:
                f: Mapping[str, Any] | None = self.client.get_feed(fid)
            except ApiError:  # failed after bounded retries: poll again next round
                f = None
            if f is not None:
                self.status[fid] = str(f.get("processingStatus", ""))
                if self.status[fid] in TERMINAL:
                    doc = str(f.get("resultFeedDocumentId") or "")
                    result = _result(self.client, fid, mp, by_id, self.status[fid], doc)
                    self.journal.drop({fid})
                    self._done(fid, result)
                    continue
            age = self.clock() - at
            if age >= self.timeout_s:  # the bound ran out: still in flight, stays in the journal
                st = self.status.get(fid, "IN_QUEUE")
                self._done(fid, _result(self.client, fid, mp, by_id, st, "", age))

    def next_bound(self) -> float:
        """Seconds until the earliest open feed reaches its bound."""
        now = self.clock()
        return min((self.feeds[f][2] + self.timeout_s - now for f in self.open), default=0.0)


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
    """Poll feeds submitted before (``feeds``: feed id -> (marketplace id, messageId ->
    listing)) until each is terminal or ``timeout_s`` has passed, reading and mapping each
    feed's report as soon as that feed is terminal and handing it over (``on_result``, on this
    thread) while the others are still polled; a feed unfinished at the bound comes last."""
    poller = _Poller(client, journal, timeout_s, clock, on_result)
    start = clock()
    for fid in sorted(feeds):
        poller.add(fid, *feeds[fid], start)
    rounds = 0
    while poller.open:
        poller.poll()
        if progress is not None:
            progress(len(feeds) - len(poller.open))
        if not poller.open:
            break
        sleep(max(0.0, min(poll_delay(rounds, poll_s), poller.next_bound())))
        rounds += 1
    return [poller.results[fid] for fid in sorted(feeds)]


def run(
    client: SpApiClient,
    seller_id: str,
    batches: Sequence[tuple[str, Sequence[Change]]],
    journal: Journal,
    *,
    timeout_s: float,
    poll_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_submitted: Callable[[str, Sequence[Change]], None] | None = None,
    on_failed: Callable[[Sequence[Change], ApiError], None] | None = None,
    on_result: Callable[[FeedResult], None] | None = None,
) -> list[FeedResult]:
    """Submit the feeds of ``batches`` (marketplace, changes) and poll them in one loop.

    Each feed is submitted as soon as the JSON_LISTINGS_FEED window of this seller and region
    allows (``client.feed_submission_wait``; the journal's recent submissions count), so the
    submissions never run into createFeed throttling, and the feeds already submitted are
    polled meanwhile: a feed's report is mapped and handed over (``on_result``) as soon as it is
    terminal, while later feeds wait for their window. A feed unfinished ``timeout_s`` after its
    own submission is handed over as such and stays in the journal (its listings pending): the
    loop never waits longer for it. ``on_submitted(feed id, changes)`` /
    ``on_failed(changes, error)`` report each submission."""
    client.feed_window.seed(journal.submission_ages())
    poller = _Poller(client, journal, timeout_s, clock, on_result)
    pending = list(batches)
    rounds = 0
    while pending or poller.open:
        while pending and client.feed_submission_wait() <= 0:
            mp, batch = pending.pop(0)
            try:
                fid, by_id = submit(client, seller_id, mp, batch, journal)
            except ApiError as e:
                if on_failed is not None:
                    on_failed(batch, e)
                continue
            poller.add(fid, mp, by_id, clock())
            if on_submitted is not None:
                on_submitted(fid, batch)
        if poller.open:
            poller.poll()
        if not pending and not poller.open:
            break
        delay = min(poll_delay(rounds, poll_s), poller.next_bound()) if poller.open else math.inf
        if pending:
            delay = min(delay, client.feed_submission_wait())
        sleep(max(0.0, delay))
        rounds += 1
    return [poller.results[fid] for fid in sorted(poller.results)]


def _result(
    client: SpApiClient,
    fid: str,
    mp: str,
    by_id: Mapping[int, ListingKey],
    st: str,
    result_doc: str,
    age: float = 0.0,
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
    return FeedResult(fid, mp, st, tuple(by_id.values()), rejected, feed_issues, age)
