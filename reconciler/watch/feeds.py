"""FEED_PROCESSING_FINISHED: verify that feed now, without polling getFeed.

Apply records every JSON_LISTINGS_FEED it submits in the account's journal
(:mod:`reconciler.apply.feedjournal`). When Amazon says a feed finished, the worker reads its
processing report (``resultFeedDocumentId``, :func:`reconciler.apply.feeds.download_report`),
turns its ERROR issues into audit outcomes, drops the feed from the journal (so the next apply
does not wait for it) and returns the feed's SKUs: the worker then reads them live and writes any
quantity that still differs (the same verification a plan would do).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconciler.apply.feedjournal import Journal
from reconciler.apply.feeds import download_report
from reconciler.kernel.errors import ApiError
from reconciler.spapi.client import SpApiClient

from .events import Event


@dataclass
class FeedVerdict:
    summary: str
    skus: list[str] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)


def verify_feed(client: SpApiClient, state_dir: str, account: str, ev: Event) -> FeedVerdict:
    journal = Journal(state_dir, account)
    entries = [e for e in journal.entries if e.get("feed_id") == ev.feed_id]
    skus = sorted({str(s) for e in entries for s in e.get("skus") or ()})
    mp = str(entries[0].get("marketplace_id", "")) if entries else ""
    errors: list[dict[str, Any]] = []
    if ev.result_document_id:
        try:
            report = download_report(client, ev.result_document_id)
        except (ApiError, ValueError) as e:
            return FeedVerdict(f"feed {ev.feed_id}: report not readable ({e}); the next plan"
                               " verifies it", skus)
        errors = [i for i in report.get("issues") or []
                  if isinstance(i, dict) and i.get("severity") == "ERROR"]
    if entries:
        journal.drop({ev.feed_id})
    outcomes = [{"account": account, "sku": str(i.get("sku") or ""), "marketplace_id": mp,
                 "action": "update", "status": "rejected", "via": "feed",
                 "issues": [{"code": str(i.get("code", "")),
                             "message": str(i.get("message", ""))[:300]}]}
                for i in errors if i.get("sku")]
    known = "" if entries else " (not in this state directory's feed journal)"
    return FeedVerdict(f"feed {ev.feed_id} {ev.feed_status}{known}: {len(errors)} error(s) in"
                       f" its report; {len(skus)} SKU(s) re-read", skus, outcomes)
