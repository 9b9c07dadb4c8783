"""Apply against an emulator that keeps Amazon's time and asynchronous outcomes (issue 15).

- must-show 4: 1,000 listings with ``late-issue=0.01``: the listings that got a post-acceptance
  issue are rejected with its code, every other converges, exit 1 with the per-listing table;
- must-show 6: a stuck feed: apply ends within its bound and reports the feed's listings pending
  with the feed id; a second apply neither PATCHes them nor hangs;
- item 4 (must-show 5, small): an EU account with eight marketplaces writes through eight feeds,
  each submitted in the earliest JSON_LISTINGS_FEED window, none throttled, none pending.

The embedded emulator of the CLI's state dir is replaced by one with the faults under test, at a
time scale that keeps each test to seconds (Amazon's delays divided by it).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.apply.run import apply_plan
from reconciler.cli import main
from reconciler.emulator.app import Emulator
from reconciler.emulator.faults import FaultSpec, chance
from reconciler.emulator.state import EmulatorConfig
from reconciler.kernel import redact
from reconciler.kernel.marketplaces import by_code
from reconciler.kernel.model import Account, DesiredState, ListingKey, MarketplaceConfig
from reconciler.spapi import connect
from reconciler.spapi.connect import close_embedded_emulators
from tests import applyutil as au

SECRETS = {
    "SP_API_REFRESH_TOKEN": "Atzr|amazon-time-refresh-token",
    "LWA_APP_ID": "amzn1.application-oa2-client.amazontime",
    "LWA_CLIENT_SECRET": "amazon-time-client-secret",
}


def _cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def cli_emulator(
    tmp_path: Path, isolated_state: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """``make(n_skus, config)`` -> (catalog, emulator): a catalog of n SKUs on US + CA and the
    embedded emulator of the CLI's state dir with ``config``, seeded drifted from it."""
    from reconciler.pipeline import load

    made: list[Emulator] = []

    def make(n: int, config: EmulatorConfig) -> tuple[Path, Emulator]:
        catalog = tmp_path / "catalog"
        au.write_catalog(catalog, n, audit_log=str(tmp_path / "audit.jsonl"), verify_timeout=60,
                         verify_interval=0.05)
        isolated_state.mkdir(parents=True, exist_ok=True)
        emu = Emulator(str(isolated_state / "emulator.db"), config)
        emu.seed(au.drifted_seed(load(catalog)))
        monkeypatch.setitem(connect._emulators, os.path.realpath(isolated_state), emu)
        made.append(emu)
        return catalog, emu

    monkeypatch.chdir(tmp_path)
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    yield make
    close_embedded_emulators()
    redact.clear()


def _outcomes(tmp_path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    rec = json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[-1])
    return {(o["sku"], o["marketplace_id"]): o for o in rec["outcomes"]}


@pytest.mark.slow  # ~15 s: planning and verifying 1,000 listings through the CLI
def test_late_issues_are_rejected_with_their_code(cli_emulator: Any, tmp_path: Path) -> None:
    """Must-show 4."""
    cfg = EmulatorConfig(time_scale=200.0, faults=FaultSpec.parse("late-issue=0.01"), seed=4)
    catalog, emu = cli_emulator(500, cfg)
    r = _cli("apply", str(catalog), "--auto-approve")
    assert r.exit_code == 1, r.output
    outcomes = _outcomes(tmp_path)
    assert len(outcomes) == 1000
    hit = {k for k in outcomes
           if chance(4, "late-issue", au.SELLER, k[0], k[1]) < 0.01}
    assert hit, "the fault seed hits no listing: pick another"
    rejected = {k for k, o in outcomes.items() if o["status"] == "rejected"}
    assert rejected == hit
    assert {o["status"] for k, o in outcomes.items() if k not in hit} == {"converged"}
    for k in hit:
        (code,) = {i["code"] for i in outcomes[k]["issues"]}
        assert code in ("8541", "18155")
        name = f"{k[0]} ({'US' if k[1] == au.US.marketplace_id else 'CA'})"
        line = next(x for x in r.output.splitlines() if x.strip().startswith(name))
        assert "rejected" in line and f"[{code}]" in line
    assert f"{len(hit)} rejected" in r.output and "not converged" in r.output
    # each listing written once (a 429 at 200x Amazon's speed is retried, never a rewrite)
    assert len([c for c in emu.calls("patchListingsItem") if c.status == 200]) == 1000


def test_a_stuck_feed_is_pending_with_its_id_and_never_waited_for_again(
    cli_emulator: Any, tmp_path: Path
) -> None:
    """Must-show 6: every feed sticks IN_PROGRESS. The apply ends at its bound (--feed-timeout,
    counted from each feed's submission) with the listings pending, naming the feed; the next
    apply asks each feed once, writes none of those SKUs (no PATCH) and ends at once."""
    cfg = EmulatorConfig(time_scale=100.0, faults=FaultSpec.parse("stuck-feed=1"))
    catalog, emu = cli_emulator(5, cfg)
    t0 = time.monotonic()
    r = _cli("apply", str(catalog), "--auto-approve", "--strategy", "feed",
             "--feed-timeout", "2")
    first_s = time.monotonic() - t0
    assert r.exit_code == 1, r.output
    assert first_s < 15, first_s  # the 2 s bound plus planning, never the 60 s verify bound
    feeds = {c.path.rsplit("/", 1)[1] for c in emu.calls("getFeed")}
    assert len(feeds) == 2  # US and CA, both stuck
    outcomes = _outcomes(tmp_path)
    assert {o["status"] for o in outcomes.values()} == {"pending"}
    for o in outcomes.values():
        assert o["feed_id"] in feeds
        (issue,) = o["issues"]
        assert issue["code"] == "FEED_IN_PROGRESS" and o["feed_id"] in issue["message"]
    assert "still IN_PROGRESS" in r.output and "after it was submitted" in r.output
    emu.reset_calls()
    t0 = time.monotonic()
    r2 = _cli("apply", str(catalog), "--auto-approve", "--strategy", "patch",
              "--feed-timeout", "2")
    second_s = time.monotonic() - t0
    assert r2.exit_code == 1, r2.output
    assert second_s < 10, second_s
    assert emu.calls("patchListingsItem") == [] and emu.calls("createFeed") == []
    again = _outcomes(tmp_path)
    for k, o in again.items():
        (issue,) = o["issues"]
        assert o["status"] == "pending" and issue["code"] == "FEED_IN_FLIGHT", k
        assert outcomes[k]["feed_id"] in issue["message"]
    assert "FEED_IN_FLIGHT" in r2.output


EU = ("UK", "DE", "FR", "IT", "ES", "NL", "SE", "PL")


def _eu_desired(skus: int) -> DesiredState:
    """An EU account with eight marketplaces, ``skus`` listings each."""
    mps = tuple(
        MarketplaceConfig(c, m.marketplace_id, m.currency, m.language_tag)
        for c in EU
        for m in [by_code(c)]
        if m is not None
    )
    assert len(mps) == 8
    listings = [
        dataclasses.replace(d, key=ListingKey("eu", d.key.sku, d.key.marketplace_id))
        for d in au.desired_state(skus, marketplaces=mps).listings
    ]
    return DesiredState(listings=tuple(sorted(listings, key=lambda d: d.key)),
                        accounts=(Account("eu", au.SELLER, "EU", "emulator", mps),))


@pytest.mark.slow  # ~10 s
def test_eight_marketplaces_are_paced_into_the_earliest_windows(tmp_path: Path) -> None:
    """Eight feeds for one seller and region: five go at once, the last three as soon as the
    first window ends (300 Amazon seconds after the first was accepted), none throttled, no
    listing pending; the plan's estimate counts the wait."""
    scale = 100.0  # the 300 s window lasts 3 s: wide enough for a loaded test machine
    desired = _eu_desired(20)
    cfg = EmulatorConfig(time_scale=scale, feed_processing_s=30.0)
    with au.emulator(cfg, au.drifted_seed(desired)) as emu, au.client(emu) as cl:
        plan, live = au.make_plan(desired, cl)
        assert len(plan.changes) == 160
        assert plan.strategy is not None and plan.strategy.feeds == 8
        emu.reset_calls()
        report = apply_plan(plan, desired, {"eu": cl}, strategy="feed", verify_timeout_s=30,
                            verify_interval_s=0.02, feed_poll_interval_s=0.01,
                            state_dir=str(tmp_path), live_before=live)
        creates = emu.calls("createFeed")
    assert [c.status for c in creates] == [202] * 8
    assert report.count("converged") == 160 and report.count("pending") == 0
    t = [c.time for c in creates]
    window = 300.0 / scale
    assert t[4] - t[0] < window / 2  # the first five at once
    assert all(t[i] - t[i - 5] >= window for i in range(5, 8))  # never six in one window
    assert t[5] - t[0] < 2 * window  # ... and the sixth in the very next one
    # the estimate waits for the window too: 8 feeds cost more than 5 + 3 back to back
    from reconciler.plan.strategy import feed_seconds

    eight, _ = feed_seconds(160, feed_processing_s=0, feed_per_message_s=0, poll_interval_s=0,
                            per_marketplace=[20] * 8)
    assert eight == pytest.approx(300.0)


def test_a_sku_with_a_slash_goes_by_feed_under_patch(tmp_path: Path) -> None:
    """Item 6: the emulator refuses a '/' SKU in any path (as Amazon does); apply with the patch
    strategy patches the others and writes that one through a feed, and all converge."""
    base = au.desired_state(4, marketplaces=(au.CA,))
    listings = tuple(
        dataclasses.replace(d, key=ListingKey("na", "MUG/2", d.key.marketplace_id))
        if d.key.sku == "SKU-00002" else d
        for d in base.listings
    )
    desired = dataclasses.replace(base, listings=listings)
    cfg = EmulatorConfig(time_scale=200.0, feed_processing_s=30.0)
    with au.emulator(cfg, au.drifted_seed(desired)) as emu, au.client(emu) as cl:
        plan, live = au.make_plan(desired, cl)
        assert plan.strategy is not None and plan.strategy.feed_only == 1
        emu.reset_calls()
        report = apply_plan(plan, desired, {"na": cl}, strategy="patch", verify_timeout_s=30,
                            verify_interval_s=0.02, feed_poll_interval_s=0.01,
                            state_dir=str(tmp_path), live_before=live)
        patched = [c.path.rsplit("/", 1)[1] for c in emu.calls("patchListingsItem")]
        creates = emu.calls("createFeed")
    assert report.converged, report.table()
    assert sorted(patched) == ["SKU-00000", "SKU-00001", "SKU-00003"]
    assert len(creates) == 1
    by = {o.key.sku: o for o in report.outcomes}
    assert by["MUG/2"].via == "feed" and by["MUG/2"].feed_id
    assert {by[s].via for s in ("SKU-00000", "SKU-00001", "SKU-00003")} == {"patch"}
