"""Apply internals without a server: feed batching (<= N messages, one marketplace a feed),
processing-report mapping (messageId -> listing, ERROR only, feed-level issues), the feed journal
(survives a restart; settle waits for unfinished feeds and blocks their SKUs), FATAL feeds,
strategy choice, the report's summary line and table."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply import feeds as feedrun
from reconciler.apply.kpi import Kpis
from reconciler.apply.outcome import ApplyReport, ListingOutcome
from reconciler.apply.run import choose_strategy
from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.model import FieldChange, Issue, ListingKey
from reconciler.plan.change import Change
from reconciler.plan.strategy import StrategyEstimate
from reconciler.plan.value import Plan

US = "ATVPDKIKX0DER"
CA = "A2EUQ1WTGCTBG2"


def _change(sku: str, mp: str = US, qty: int = 5) -> Change:
    f = FieldChange(
        "fulfillment_availability",
        (("fulfillment_channel_code", "DEFAULT"),),
        [{"fulfillment_channel_code": "DEFAULT", "quantity": 1}],
        [{"fulfillment_channel_code": "DEFAULT", "quantity": qty}],
    )
    return Change(ListingKey("na", sku, mp), "US" if mp == US else "CA", "update", "PRODUCT", (f,))


def test_batches_split_by_marketplace_and_size() -> None:
    changes = [_change(f"S{i}") for i in range(5)] + [_change("C1", CA)]
    b = feedrun.batches(changes, size=2)
    assert [(mp, len(cs)) for mp, cs in b] == [(CA, 1), (US, 2), (US, 2), (US, 1)]
    assert all(len({c.key.marketplace_id for c in cs}) == 1 for _, cs in b)


def test_map_report_by_message_id() -> None:
    k1, k2 = ListingKey("na", "A", US), ListingKey("na", "B", US)
    report = {
        "issues": [
            {
                "messageId": 2,
                "code": "4000001",
                "severity": "ERROR",
                "message": "quantity must be >= 0",
                "attributeName": "fulfillment_availability",
            },
            {"messageId": 1, "code": "99", "severity": "WARNING", "message": "meh"},
            {"code": "FEED", "severity": "ERROR", "message": "feed-level"},
        ],
        "summary": {},
    }
    per, feed_level = feedrun.map_report(report, {1: k1, 2: k2})
    assert list(per) == [k2]
    assert per[k2][0].code == "4000001"
    assert per[k2][0].attribute_names == ("fulfillment_availability",)
    assert [i.code for i in feed_level] == ["FEED"]


class FakeFeeds:
    """getFeed / getFeedDocument / download with scripted statuses."""

    def __init__(self, statuses: dict[str, list[str]], reports: dict[str, dict[str, Any]]) -> None:
        self.statuses = statuses
        self.reports = reports
        self.calls: list[str] = []

    def get_feed(self, feed_id: str) -> dict[str, Any]:
        self.calls.append(feed_id)
        seq = self.statuses[feed_id]
        st = seq.pop(0) if len(seq) > 1 else seq[0]
        d = {"feedId": feed_id, "processingStatus": st}
        if st in ("DONE", "FATAL") and feed_id in self.reports:
            d["resultFeedDocumentId"] = f"doc-{feed_id}"
        return d

    def get_feed_document(self, doc_id: str) -> dict[str, Any]:
        return {"feedDocumentId": doc_id, "url": doc_id, "compressionAlgorithm": "GZIP"}

    def download_feed_document(self, doc: dict[str, Any]) -> bytes:
        return gzip.compress(json.dumps(self.reports[doc["url"][4:]]).encode())


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def test_journal_survives_restart_and_settle_blocks_unfinished(tmp_path: Path) -> None:
    j = feedrun.Journal(tmp_path, "na")
    j.add("d1", US, ["A", "B"])
    j.set_feed("d1", "F1")
    j.add("d2", CA, ["C"])
    j.set_feed("d2", "F2")
    again = feedrun.Journal(tmp_path, "na")
    assert [e["feed_id"] for e in again.entries] == ["F1", "F2"]
    client = FakeFeeds({"F1": ["IN_PROGRESS", "DONE"], "F2": ["IN_QUEUE"]}, {})
    clock = Clock()
    blocked = feedrun.settle_journal(
        client, again, timeout_s=30, poll_s=5, clock=clock, sleep=clock.sleep
    )  # type: ignore[arg-type]
    assert blocked == {CA: {"C"}}
    assert clock.t == 30
    assert [e["feed_id"] for e in feedrun.Journal(tmp_path, "na").entries] == ["F2"]


def test_wait_all_maps_report_and_fatal(tmp_path: Path) -> None:
    k = [ListingKey("na", s, US) for s in ("A", "B", "C")]
    j = feedrun.Journal(tmp_path, "na")
    for fid in ("F1", "F2"):
        j.add(f"d{fid}", US, [])
        j.set_feed(f"d{fid}", fid)
    report = {
        "issues": [{"messageId": 2, "code": "90244", "severity": "ERROR", "message": "bad"}],
        "summary": {},
    }
    client = FakeFeeds({"F1": ["IN_QUEUE", "IN_PROGRESS", "DONE"], "F2": ["FATAL"]}, {"F1": report})
    clock = Clock()
    res = feedrun.wait_all(
        client,
        {"F1": (US, {1: k[0], 2: k[1]}), "F2": (US, {1: k[2]})},
        j,
        timeout_s=60,
        poll_s=1,
        clock=clock,
        sleep=clock.sleep,
    )  # type: ignore[arg-type]
    by = {r.feed_id: r for r in res}
    assert by["F1"].status == "DONE" and list(by["F1"].rejected) == [k[1]]
    assert by["F1"].rejected[k[1]][0].code == "90244"
    assert by["F2"].status == "FATAL" and by["F2"].rejected[k[2]][0].code == "FEED_FATAL"
    assert feedrun.Journal(tmp_path, "na").entries == []


def test_choose_strategy() -> None:
    plan = Plan(changes=(_change("A"),), strategy=StrategyEstimate("feed", 900.0, 400.0, 1, 5000))
    assert choose_strategy(plan, "auto")[0] == "feed"
    assert "auto" in choose_strategy(plan, "auto")[1]
    assert choose_strategy(plan, "patch") == ("patch", "--strategy patch")
    assert choose_strategy(Plan(changes=()), "auto")[0] == "patch"
    with pytest.raises(ReconcilerError):
        choose_strategy(plan, "carrier-pigeon")


def test_report_summary_and_table() -> None:
    k = Kpis(50.0, 10.0, 20.0, 0.0)
    r = ApplyReport(
        outcomes=(
            ListingOutcome(ListingKey("na", "MUG-001", CA), "update", "converged", "patch"),
            ListingOutcome(
                ListingKey("na", "MUG-002", CA),
                "update",
                "rejected",
                "feed",
                (Issue("90244", "quantity is negative"),),
                "F1",
            ),
        ),
        strategy="feed",
        strategy_reason="x",
        feeds=(),
        kpis=k,
    )
    assert r.summary_line() == "applied 2 listings via feed: 1 converged, 0 pending, 1 rejected"
    assert not r.converged
    table = "\n".join(r.table())
    assert "MUG-002 (CA)" in table and "[90244] quantity is negative" in table
    assert "MUG-001" not in table
    d = r.data()
    assert d["outcomes"][1]["issues"][0]["code"] == "90244"


def test_wait_all_hands_each_feed_over_as_soon_as_it_is_terminal(tmp_path: Path) -> None:
    """on_result gets F1 (mapped, out of the journal) while F2 is still being polled; a feed
    still in flight at the bound comes last and stays in the journal."""
    k = [ListingKey("na", s, US) for s in ("A", "B", "C", "D")]
    j = feedrun.Journal(tmp_path, "na")
    for fid in ("F1", "F2", "F3"):
        j.add(f"d{fid}", US, [])
        j.set_feed(f"d{fid}", fid)
    report = {"issues": [{"messageId": 2, "code": "90244", "severity": "ERROR", "message": "x"}]}
    client = FakeFeeds(
        {"F1": ["IN_PROGRESS", "DONE"], "F2": ["IN_QUEUE"] * 4 + ["DONE"], "F3": ["IN_QUEUE"]},
        {"F1": report, "F2": {"issues": []}},
    )
    clock = Clock()
    seen: list[tuple[str, str, int, list[str]]] = []

    def on_result(r: feedrun.FeedResult) -> None:
        journal_now = [e["feed_id"] for e in feedrun.Journal(tmp_path, "na").entries]
        seen.append((r.feed_id, r.status, len(client.calls), journal_now))
        if r.feed_id == "F1":
            assert list(r.rejected) == [k[1]]

    res = feedrun.wait_all(
        client,
        {"F1": (US, {1: k[0], 2: k[1]}), "F2": (US, {1: k[2]}), "F3": (US, {1: k[3]})},
        j,
        timeout_s=20,
        poll_s=1,
        clock=clock,
        sleep=clock.sleep,
        on_result=on_result,
    )  # type: ignore[arg-type]
    assert [(s[0], s[1]) for s in seen] == [("F1", "DONE"), ("F2", "DONE"), ("F3", "IN_QUEUE")]
    # F1 was handed over in round 2, long before F2 was DONE (round 5)
    assert seen[0][2] <= 6 and seen[1][2] > seen[0][2] + 3
    assert seen[0][3] == ["F2", "F3"] and seen[1][3] == ["F3"] and seen[2][3] == ["F3"]
    assert [r.feed_id for r in res] == ["F1", "F2", "F3"]
    assert [r.status for r in res] == ["DONE", "DONE", "IN_QUEUE"]


def test_visibility_lag_times_later_polls_into_the_learnt_window() -> None:
    from reconciler.apply.verify import VisibilityLag, poll_delay

    lag = VisibilityLag()
    assert lag.delay(4, 9.35, 5.0) == poll_delay(4, 5.0)  # nothing learnt: the back-off
    assert lag.delay(-1, 0.0, 5.0) == 0.0  # and the first poll at once
    lag.learn([(0.0, 40), (0.6, 40), (1.85, 40), (4.35, 40), (9.35, 3)])  # never all decided
    assert lag.window is None
    lag.learn([(0.0, 40), (0.6, 40), (1.85, 40), (4.35, 40), (9.35, 3), (14.35, 0)])
    assert lag.window == (9.35, 14.35)
    # before the window: no poll until it opens; inside: a quarter of its width; after: back-off
    assert lag.delay(-1, 0.0, 5.0) == 9.35
    assert lag.delay(1, 1.0, 5.0) == 9.35 - 1.0
    assert lag.delay(3, 6.0, 5.0) == 9.35 - 6.0
    assert lag.delay(4, 9.35, 5.0) == 1.25
    assert lag.delay(9, 15.0, 5.0) == 5.0
    # a narrower window replaces it, a wider one does not
    lag.learn([(0.0, 9), (9.35, 2), (10.6, 0)])
    assert lag.window == (9.35, 10.6)
    lag.learn([(0.0, 9), (5.0, 2), (15.0, 0)])
    assert lag.window == (9.35, 10.6)
    assert lag.delay(5, 9.5, 5.0) == 5.0 / 8  # at least interval/8 apart
