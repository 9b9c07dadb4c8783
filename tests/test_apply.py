"""apply_plan against the in-process emulator (hand-built desired state, drifted live state):

- convergence by patch and by feed: a fresh plan afterwards is empty; unmanaged siblings
  (discounted_price, lead time, brand) survive; creates work;
- one request per listing (patch calls == listings; feed messages == listings);
- feeds at volume (>= 2,000 listings, counted from the call log), one rejected message reported
  with Amazon's issue for its SKU, every other listing converged;
- ACCEPTED is not applied: with a write delay, verify waits; with a too-short bound, pending;
- reviewed plan: a Seller Central edit after planning leaves the reviewed writes as they were;
  a catalog change to a reviewed value is named by check_stale (listing and field);
- MLI invariant from the emulator history: no stored state with location quantities and a
  non-zero DEFAULT;
- KPIs: calls per operation, latency percentiles, stock deviation 0 after convergence.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.apply.run import apply_plan
from reconciler.emulator.app import Emulator
from reconciler.emulator.state import EmulatorConfig
from reconciler.kernel.model import DesiredState
from reconciler.plan.builder import build_plan
from reconciler.plan.value import Plan
from reconciler.spapi.client import SpApiClient
from tests import applyutil as au


def _mli_invariant_violations(emu: Emulator) -> list[str]:
    bad = []
    for h in emu.history():
        if h.marketplace_id != au.US.marketplace_id:
            continue
        attrs = h.attributes or {}
        fa = {
            e["fulfillment_channel_code"]: e.get("quantity", 0)
            for e in attrs.get("fulfillment_availability", [])
        }
        locs = {c: q for c, q in fa.items() if c != "DEFAULT"}
        if locs and fa.get("DEFAULT", 0) != 0:
            bad.append(f"{h.sku}: {fa}")
    return bad


@pytest.mark.parametrize("strategy", ["patch", "feed"])
def test_converges_and_fresh_plan_is_empty(strategy: str) -> None:
    desired = au.desired_state(12)
    cfg = EmulatorConfig(time_scale=200.0, write_delay_s=1.0, feed_processing_s=2.0)
    with au.emulator(cfg, au.drifted_seed(desired, missing_every=7)) as emu, au.client(emu) as cl:
        plan, live = au.make_plan(desired, cl)
        creates = plan.count("create")
        assert creates >= 3 and plan.count("update") >= 18
        emu.reset_calls()
        seen: list[tuple[str, int, int]] = []
        report = apply_plan(
            plan,
            desired,
            {"na": cl},
            strategy=strategy,
            verify_timeout_s=30,
            verify_interval_s=0.02,
            feed_poll_interval_s=0.02,
            progress=lambda *a: seen.append(a),
            live_before=live,
        )
        assert report.converged, report.table()
        assert report.summary_line() == (
            f"applied {len(plan.changes)} listings via {strategy}: "
            f"{len(plan.changes)} converged, 0 pending, 0 rejected"
        )
        assert report.strategy == strategy
        writes = {
            op: len([c for c in emu.calls(op) if c.status != 429])
            for op in ("patchListingsItem", "putListingsItem", "createFeed")
        }
        if strategy == "patch":
            # one accepted request per listing (throttled attempts are retried)
            assert writes["patchListingsItem"] + writes["putListingsItem"] == len(plan.changes)
            assert writes["createFeed"] == 0
        else:
            assert writes["patchListingsItem"] == writes["putListingsItem"] == 0
            assert writes["createFeed"] == 2  # one feed per marketplace (US, CA)
            assert len(report.feeds) == 2
            assert sum(f.messages for f in report.feeds) == len(plan.changes)
        assert any(p[0] == "verify" and p[1] == p[2] for p in seen)
        # a fresh plan is empty
        plan2, _ = au.make_plan(desired, cl)
        assert not plan2.has_changes, [c.name for c in plan2.changes]
        # unmanaged siblings survived the merge
        state = emu.listing_state(au.SELLER, "SKU-00001", au.CA.marketplace_id)
        assert state is not None
        attrs = state["attributes"]
        assert attrs["brand"][0]["value"] == "Acme"
        assert "discounted_price" in attrs["purchasable_offer"][0]
        assert attrs["fulfillment_availability"][0]["lead_time_to_ship_max_days"] == 3
        assert _mli_invariant_violations(emu) == []
        k = report.kpis
        assert k.sync_success_pct == 100.0
        assert k.stock_deviation_pct == 0.0
        assert k.calls.get("searchListingsItems", 0) >= 1
        assert k.latency_p95_ms >= k.latency_p50_ms > 0


def test_accepted_is_not_applied_pending_within_short_bound() -> None:
    desired = au.desired_state(3, marketplaces=(au.CA,))
    cfg = EmulatorConfig(time_scale=1.0, write_delay_s=30.0)
    with au.emulator(cfg, au.drifted_seed(desired)) as emu, au.client(emu) as cl:
        plan, _ = au.make_plan(desired, cl)
        report = apply_plan(
            plan,
            desired,
            {"na": cl},
            strategy="patch",
            verify_timeout_s=0.2,
            verify_interval_s=0.05,
        )
        assert [o.status for o in report.outcomes] == ["pending"] * 3
        assert not report.converged
        assert report.kpis.sync_success_pct == 0.0
        assert report.kpis.stock_deviation_pct > 0
        assert len(emu.calls("patchListingsItem")) == 3


def test_invalid_patch_is_rejected_with_amazons_issue() -> None:
    desired = au.desired_state(3, marketplaces=(au.US,), bad=frozenset({"SKU-00001"}))
    cfg = EmulatorConfig(time_scale=100.0)
    with au.emulator(cfg, au.drifted_seed(desired)) as emu, au.client(emu) as cl:
        plan, _ = au.make_plan(desired, cl)
        report = apply_plan(
            plan, desired, {"na": cl}, strategy="patch", verify_timeout_s=10, verify_interval_s=0.02
        )
        by = {o.key.sku: o for o in report.outcomes}
        assert by["SKU-00001"].status == "rejected"
        assert by["SKU-00001"].issues[0].code == "4000004"
        assert by["SKU-00000"].status == by["SKU-00002"].status == "converged"
        assert "SKU-00001 (US)" in "\n".join(report.table())
        # the rejected listing was not half-updated: its live state is unchanged
        assert _mli_invariant_violations(emu) == []


@pytest.mark.slow  # ~20 s: planning 2,000 changed listings (diff) dominates, not the apply
def test_feeds_at_volume_one_rejected_message() -> None:
    n = 1000  # x 2 marketplaces = 2,000 listings
    desired = au.desired_state(n, bad=frozenset({"SKU-00421"}))
    cfg = EmulatorConfig(time_scale=1000.0, feed_processing_s=5.0, feed_per_message_s=0.001)
    with au.emulator(cfg, au.drifted_seed(desired)) as emu, au.client(emu) as cl:
        plan, live = au.make_plan(desired, cl)
        assert len(plan.changes) == 2 * n
        emu.reset_calls()
        report = apply_plan(
            plan,
            desired,
            {"na": cl},
            strategy="feed",
            verify_timeout_s=60,
            verify_interval_s=0.05,
            feed_poll_interval_s=0.02,
            live_before=live,
        )
        assert len(emu.calls("createFeed")) == 2
        assert len(emu.calls("patchListingsItem")) == 0
        rejected = [o for o in report.outcomes if o.status == "rejected"]
        assert [o.name for o in rejected] == ["SKU-00421 (US)"]
        assert rejected[0].issues[0].code == "4000004"
        assert rejected[0].feed_id
        assert report.count("converged") == 2 * n - 1
        plan2, _ = au.make_plan(desired, cl)
        assert [c.name for c in plan2.changes] == ["SKU-00421 (US)"]
        assert _mli_invariant_violations(emu) == []


def test_reviewed_plan_holds_under_live_edits_and_names_catalog_moves() -> None:
    from dataclasses import replace

    from reconciler.apply.run import check_stale

    desired = au.desired_state(4, marketplaces=(au.CA,))
    with (
        au.emulator(EmulatorConfig(time_scale=100.0), au.drifted_seed(desired)) as emu,
        au.client(emu) as cl,
    ):
        plan, _ = au.make_plan(desired, cl)
        assert check_stale(plan, plan, desired).plan == plan
        # an unmanaged edit and a managed edit of a reviewed field (price in Seller Central)
        # leave the reviewed writes as they were: the same plan is applied
        state = emu.listing_state(au.SELLER, "SKU-00002", au.CA.marketplace_id)
        assert state is not None
        attrs = dict(state["attributes"])
        attrs["color"] = [{"value": "red", "marketplace_id": au.CA.marketplace_id}]
        attrs["purchasable_offer"][0]["our_price"][0]["schedule"][0]["value_with_tax"] = 99.0
        emu.put_listing_direct(au.SELLER, "SKU-00002", au.CA.marketplace_id, "PRODUCT", attrs)
        today = build_plan(desired, au.read_live(desired, cl))
        assert today.checksum == plan.checksum
        rec = check_stale(plan, today, desired)
        assert rec.plan == today and rec.moved == () and rec.left == ()
        # the catalog now wants another price for SKU-00002 (CA): that write is named
        d2 = desired.listings[2]
        assert d2.key.sku == "SKU-00002"
        offer = d2.attributes["purchasable_offer"][0]
        price = offer["our_price"][0]["schedule"][0]["value_with_tax"]
        attrs2 = {**d2.attributes, "purchasable_offer": [
            {**offer, "our_price": [{"schedule": [{"value_with_tax": price + 1}]}]}]}
        listings = list(desired.listings)
        listings[2] = replace(d2, attributes=attrs2)
        desired2 = replace(desired, listings=tuple(listings))
        rec = check_stale(plan, build_plan(desired2, au.read_live(desired, cl)), desired2)
        assert [m.split(":")[0] for m in rec.moved] == [
            "SKU-00002 (CA) purchasable_offer (CAD ALL)"
        ]


@pytest.mark.parametrize("strategy", ["patch", "feed"])
def test_converges_under_injected_faults(strategy: str) -> None:
    from reconciler.emulator.faults import FaultSpec

    desired = au.desired_state(40)
    faults = FaultSpec.parse("429=0.1,500=0.02,503=0.02,reset=0.01,expire=0.01")
    cfg = EmulatorConfig(time_scale=500.0, faults=faults, seed=7, feed_processing_s=2.0)
    with au.emulator(cfg, au.drifted_seed(desired)) as emu:
        # plan without faults, apply with them
        with (
            au.emulator(EmulatorConfig(time_scale=500.0), au.drifted_seed(desired)) as clean,
            au.client(clean) as c0,
        ):
            plan, live = au.make_plan(desired, c0)
        with au.client(emu) as cl:
            report = apply_plan(
                plan,
                desired,
                {"na": cl},
                strategy=strategy,
                verify_timeout_s=30,
                verify_interval_s=0.02,
                feed_poll_interval_s=0.02,
                live_before=live,
            )
            assert report.converged, report.table() + list(report.errors)
            injected = [c for c in emu.calls() if c.fault]
            assert injected, "no fault was injected"
            assert report.kpis.retries > 0
            assert report.kpis.throttles > 0 or not any(c.fault == "429" for c in injected)
            assert _mli_invariant_violations(emu) == []


def test_rejected_listing_counts_in_stock_deviation() -> None:
    desired = au.desired_state(2, marketplaces=(au.US,), bad=frozenset({"SKU-00001"}))
    with (
        au.emulator(EmulatorConfig(time_scale=100.0), au.drifted_seed(desired)) as emu,
        au.client(emu) as cl,
    ):
        plan, _ = au.make_plan(desired, cl)
        report = apply_plan(
            plan, desired, {"na": cl}, strategy="patch", verify_timeout_s=5, verify_interval_s=0.02
        )
        assert report.count("rejected") == 1
        # desired units: SKU-00000 10 + 5, SKU-00001 11 + 5 = 31; SKU-00001 stayed at its live
        # DEFAULT=3 with no locations: |0 - 3| + 11 + 5 = 19 units off
        assert report.kpis.stock_deviation_pct == pytest.approx(100 * 19 / 31, abs=0.01)
        assert report.kpis.sync_success_pct == 50.0


def _patch_after_the_feed(
    emu: Emulator,
    cl: SpApiClient,
    plan: Plan,
    desired: DesiredState,
    tmp_path: Path,
    feed_id: str,
) -> None:
    """Apply ``plan`` by PATCH with the journal in ``tmp_path``: it converges, every PATCH
    goes out after the last write of feed ``feed_id``, and the journal ends empty."""
    from reconciler.apply import feeds as feedrun

    report = apply_plan(
        plan,
        desired,
        {"na": cl},
        strategy="patch",
        verify_timeout_s=10,
        verify_interval_s=0.02,
        feed_poll_interval_s=0.02,
        state_dir=str(tmp_path),
    )
    assert report.converged
    feed_writes = [h.time for h in emu.history() if h.source == f"feed:{feed_id}"]
    patch_calls = [c.time for c in emu.calls("patchListingsItem")]
    assert feed_writes, "the feed was processed"
    assert not patch_calls or min(patch_calls) >= max(feed_writes)
    assert feedrun.Journal(tmp_path, "na").entries == []


def test_patches_wait_for_a_feed_left_in_flight(tmp_path: Path) -> None:
    """A killed feed run leaves its feed queued; the next run (patch) waits for it first, so a
    PATCH and a queued feed are never in flight for the same SKU."""
    from reconciler.apply import feeds as feedrun

    desired = au.desired_state(5, marketplaces=(au.CA,))
    # 0.3 s of processing; writes visible at once (this is about the journal, not visibility)
    cfg = EmulatorConfig(time_scale=10.0, feed_processing_s=3.0, write_delay_s=0.0)
    with au.emulator(cfg, au.drifted_seed(desired)) as emu, au.client(emu) as cl:
        plan, _ = au.make_plan(desired, cl)
        journal = feedrun.Journal(tmp_path, "na")
        feed_id, _ = feedrun.submit(
            cl, au.SELLER, au.CA.marketplace_id, list(plan.changes), journal
        )  # ... and the process "dies" here
        assert feedrun.Journal(tmp_path, "na").entries[0]["feed_id"] == feed_id
        _patch_after_the_feed(emu, cl, plan, desired, tmp_path, feed_id)


def test_a_feed_whose_create_answer_was_lost_is_found_and_waited_for(tmp_path: Path) -> None:
    """Killed between createFeed and recording its id: the journal holds only a marker. The next
    run finds the unfinished feed through getFeeds and waits for it before patching."""
    from reconciler.apply import feeds as feedrun

    desired = au.desired_state(5, marketplaces=(au.CA,))
    # 0.3 s of processing; writes visible at once (this is about the journal, not visibility)
    cfg = EmulatorConfig(time_scale=10.0, feed_processing_s=3.0, write_delay_s=0.0)
    with au.emulator(cfg, au.drifted_seed(desired)) as emu, au.client(emu) as cl:
        plan, _ = au.make_plan(desired, cl)

        class LostAnswer(feedrun.Journal):
            def set_feed(self, document_id: str, feed_id: str) -> None:
                raise KeyboardInterrupt  # the process dies before the id is written

        journal = LostAnswer(tmp_path, "na")
        with pytest.raises(KeyboardInterrupt):
            feedrun.submit(cl, au.SELLER, au.CA.marketplace_id, list(plan.changes), journal)
        (marker,) = feedrun.Journal(tmp_path, "na").entries
        assert marker["feed_id"] == "" and marker["submitted_at"]
        (feed,) = cl.get_feeds(["JSON_LISTINGS_FEED"], processing_statuses=["IN_QUEUE"])
        feed_id = feed["feedId"]
        _patch_after_the_feed(emu, cl, plan, desired, tmp_path, feed_id)


def test_a_marker_with_no_unfinished_feed_is_dropped_at_once(tmp_path: Path) -> None:
    """A marker whose createFeed never reached Amazon (or whose feed already finished) costs one
    getFeeds call and no waiting."""
    from reconciler.apply import feeds as feedrun

    desired = au.desired_state(2, marketplaces=(au.CA,))
    with au.emulator(EmulatorConfig(time_scale=100.0), au.drifted_seed(desired)) as emu, au.client(
        emu
    ) as cl:
        journal = feedrun.Journal(tmp_path, "na")
        journal.add("doc-never-sent", au.CA.marketplace_id, ["SKU-00000"])
        slept: list[float] = []
        blocked = feedrun.settle_journal(
            cl, journal, timeout_s=30, poll_s=1.0, sleep=slept.append
        )
        assert blocked == {} and slept == []
        assert len(emu.calls("getFeeds")) == 1
        assert feedrun.Journal(tmp_path, "na").entries == []


def test_feed_listings_are_verified_while_later_feeds_still_process() -> None:
    """Pipelined verify: the first feed's listings (CA, submitted first) are read back as soon
    as that feed is DONE, while the US feed is still being processed (the emulator runs a
    seller's feeds one at a time), not after the last feed."""
    desired = au.desired_state(15)
    # 20 Amazon-s of processing at time scale 10: each feed ~1.5 s IN_PROGRESS, one after another
    cfg = EmulatorConfig(time_scale=10.0, feed_processing_s=20.0, write_delay_s=0.0)
    with au.emulator(cfg, au.drifted_seed(desired)) as emu, au.client(emu) as cl:
        plan, live = au.make_plan(desired, cl)
        emu.reset_calls()
        report = apply_plan(
            plan,
            desired,
            {"na": cl},
            strategy="feed",
            verify_timeout_s=30,
            verify_interval_s=0.05,
            feed_poll_interval_s=0.05,
            live_before=live,
        )
        assert report.converged, report.table()
        assert [f.marketplace_id for f in report.feeds] == [
            au.CA.marketplace_id,
            au.US.marketplace_id,
        ]
        first, second = report.feeds
        assert int(first.feed_id) < int(second.feed_id)
        second_writes = [h.time for h in emu.history() if h.source == f"feed:{second.feed_id}"]
        assert len(second_writes) == 15
        ca_reads = [
            c.time
            for c in emu.calls("searchListingsItems")
            if c.query.get("marketplaceIds") == [au.CA.marketplace_id]
        ]
        us_reads = [
            c.time
            for c in emu.calls("searchListingsItems")
            if c.query.get("marketplaceIds") == [au.US.marketplace_id]
        ]
        assert ca_reads and us_reads
        # the CA listings were read back (and converged) before the US feed's last message was
        # applied; the US listings only after it
        assert max(ca_reads) < max(second_writes), (ca_reads, second_writes)
        assert min(us_reads) >= max(second_writes)
        assert {
            o.feed_id for o in report.outcomes if o.key.marketplace_id == au.CA.marketplace_id
        } == {first.feed_id}
        assert report.kpis.sync_success_pct == 100.0
        assert report.kpis.stock_deviation_pct == 0.0


def test_an_account_failure_while_verifying_a_feed_is_reported_not_hung(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A verify read failing with an account-level error (here while the second feed is still
    processing) ends the account with that error once the feeds are settled; every written
    listing is pending with ACCOUNT_ERROR, as when verify ran after the last feed."""
    from reconciler.apply import verify
    from reconciler.kernel.errors import ReconcilerError

    desired = au.desired_state(4)
    cfg = EmulatorConfig(time_scale=10.0, feed_processing_s=10.0, write_delay_s=0.0)
    with au.emulator(cfg, au.drifted_seed(desired)) as emu, au.client(emu) as cl:
        plan, live = au.make_plan(desired, cl)

        def boom(*a: object, **k: object) -> None:
            raise ReconcilerError("read-back refused")

        monkeypatch.setattr(verify, "read_back", boom)
        report = apply_plan(
            plan,
            desired,
            {"na": cl},
            strategy="feed",
            verify_timeout_s=30,
            verify_interval_s=0.05,
            feed_poll_interval_s=0.05,
            live_before=live,
        )
        assert report.errors == ("account na: read-back refused",)
        assert [f.status for f in report.feeds] == ["DONE", "DONE"]
        assert {o.status for o in report.outcomes} == {"pending"}
        assert {o.issues[0].code for o in report.outcomes} == {"ACCOUNT_ERROR"}
        assert len(emu.calls("createFeed")) == 2


def test_patched_listings_are_verified_while_later_ones_are_still_written() -> None:
    """Pipelined verify under patch: the listings written first are read back (searches, a
    bucket of their own) before the last PATCH is sent, not all after it; and the last part's
    read-back is small (it holds only the listings written last)."""
    desired = au.desired_state(80)  # 160 listings: parts of 20 (writers.verify_chunk)
    cfg = EmulatorConfig(time_scale=20.0, write_delay_s=0.0)
    with au.emulator(cfg, au.drifted_seed(desired)) as emu, au.client(emu) as cl:
        plan, live = au.make_plan(desired, cl)
        emu.reset_calls()
        report = apply_plan(plan, desired, {"na": cl}, strategy="patch", verify_timeout_s=60,
                            verify_interval_s=0.05, live_before=live)
        assert report.converged, report.table()
        patches = [c.time for c in emu.calls("patchListingsItem") if c.status == 200]
        reads = [c.time for c in emu.calls("searchListingsItems") if c.status == 200]
        assert len(patches) == 160
        assert reads and min(reads) < max(patches), "no read-back before the last PATCH"
        after = [t for t in reads if t >= max(patches)]
        assert len(after) < len(reads) / 2, (len(after), len(reads))
