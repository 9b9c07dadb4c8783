"""The journal of JSON_LISTINGS_FEEDs in flight, per account (``feedrun`` uses it).

**Never a PATCH and a queued feed for the same SKU.** Within one run every listing goes by one
strategy. Across runs (an apply killed while its feeds were queued, a feed stuck unfinished),
the journal ``<state_dir>/feeds/<account>.json`` remembers every feed submitted and not yet seen
finished; the next apply of that account first waits for those feeds (:func:`settle_journal`,
bounded from each feed's submission) and does not write any SKU that is still in an unfinished
feed. The journal entry is written *before* createFeed (with the document id and the time) and
completed with the feed id after. A kill between the two leaves a marker with no feed id; the
feed it may have created cannot be named (Amazon's Feed object does not carry its input
document), so the next run asks getFeeds for every unfinished JSON_LISTINGS_FEED of that
marketplace created since the marker (less the clock margin) and waits for all of them.

The journal also remembers when this account last submitted JSON_LISTINGS_FEEDs (one window's
worth), so the next run paces its submissions with those counted (``quotas``: five in any five
minutes per seller and region).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reconciler.apply.verify import poll_delay
from reconciler.kernel.clock import clock_margin, iso_utc, parse_iso_utc
from reconciler.kernel.errors import ApiError, NotFoundError
from reconciler.kernel.quotas import JSON_LISTINGS_FEED_WINDOW
from reconciler.spapi.client import SpApiClient

FEED_TYPE = "JSON_LISTINGS_FEED"
TERMINAL = frozenset({"DONE", "FATAL", "CANCELLED"})


class Journal:
    """Feeds submitted by this account and not yet seen finished (frozen=False holder)."""

    def __init__(self, state_dir: str | Path | None, account: str) -> None:
        self.path = Path(state_dir) / "feeds" / f"{account}.json" if state_dir else None
        self.submissions: list[str] = []  # createFeed times (JSON_LISTINGS_FEED window pacing)
        self.entries: list[dict[str, Any]] = self._load()

    def _load(self) -> list[dict[str, Any]]:
        if self.path is None or not self.path.exists():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.submissions = [str(t) for t in data.get("submissions", [])]
            return list(data.get("feeds", []))
        except (OSError, ValueError, AttributeError):
            return []

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        data = {"feeds": self.entries, "submissions": self.submissions}
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, self.path)

    def record_submission(self) -> None:
        """A JSON_LISTINGS_FEED was just created: remembered for one window, so the next run
        of this account paces its submissions with this one counted."""
        now = datetime.now(timezone.utc)
        window = JSON_LISTINGS_FEED_WINDOW.seconds
        keep = [t for t in self.submissions if _seconds_since(t, now) < window]
        self.submissions = [*keep, iso_utc(now)]
        self._save()

    def submission_ages(self) -> list[float]:
        """Seconds since each remembered submission (for ``client.feed_window.seed``)."""
        now = datetime.now(timezone.utc)
        return [a for a in (_seconds_since(t, now) for t in self.submissions) if a >= 0]

    def holding(self) -> dict[str, dict[str, tuple[str, float]]]:
        """marketplace_id -> SKU -> (feed id, seconds since submitted) of the unfinished feeds
        this journal remembers (a SKU in several: the newest)."""
        now = datetime.now(timezone.utc)
        out: dict[str, dict[str, tuple[str, float]]] = {}
        for e in self.entries:
            age = max(0.0, _seconds_since(e.get("submitted_at", ""), now))
            for sku in e["skus"]:
                out.setdefault(e["marketplace_id"], {})[sku] = (e["feed_id"] or "?", age)
        return out

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
    still in an unfinished feed (empty when everything settled); those must not be written.

    The bound counts from each feed's submission, not from now: feeds older than
    ``timeout_s`` (a feed stuck IN_PROGRESS) are asked once and not waited for again."""
    now = datetime.now(timezone.utc)
    ages = [int(max(0.0, _seconds_since(e.get("submitted_at", ""), now))) for e in journal.entries]
    deadline = clock() + max(0.0, timeout_s - min(ages, default=0))
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


def _seconds_since(stamp: str, now: datetime) -> float:
    """Seconds from an ISO time to ``now``; 0 for a stamp that does not parse (old entries)."""
    try:
        return (now - parse_iso_utc(stamp)).total_seconds()
    except ValueError:
        return 0.0


def _marker_since(submitted_at: str) -> str | None:
    """createdSince for a marker: its time less the clock margin. Markers written before the
    journal kept a time fall back to Amazon's default window (90 days)."""
    try:
        at = parse_iso_utc(submitted_at)
    except ValueError:
        return None
    return iso_utc(at - clock_margin())
