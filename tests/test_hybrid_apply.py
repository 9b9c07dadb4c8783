"""Hybrid apply (issue 19): the split between PATCH and JSON_LISTINGS_FEED (plan/strategy.py)
and an apply that runs both paths of one seller at once (apply/run.py, apply/writers.py)."""

from __future__ import annotations

import dataclasses
import threading
from collections import defaultdict

import pytest

from reconciler.apply.run import apply_plan, choose_strategy
from reconciler.apply.writers import write_both
from reconciler.emulator.state import EmulatorConfig
from reconciler.kernel.model import DesiredState, ListingKey
from reconciler.plan import render
from reconciler.plan.builder import write_counts_per_marketplace
from reconciler.plan.strategy import (
    HYBRID_MIN_GAIN,
    estimate,
    feed_only_counts,
    feed_seconds,
    hybrid_patch_skus,
    hybrid_split,
    patch_seconds,
    sku_marketplaces,
    verify_seconds,
)
from reconciler.plan.value import Plan
from tests import applyutil as au

A = ("na", "NA")


def _skus(n: int, mps: tuple[str, ...] = ("US",), slashed: int = 0) -> dict[str, tuple[str, ...]]:
    out = {f"SKU-{i:05d}": mps for i in range(n)}
    out.update({f"SKU/{i:03d}": mps for i in range(slashed)})
    return out


def _estimate(skus: dict[str, tuple[str, ...]], **model: float):  # type: ignore[no-untyped-def]
    keys = [ListingKey("na", s, m) for s, ms in skus.items() for m in ms]
    regions = {"na": "NA"}
    by_mp: dict[str, int] = defaultdict(int)
    for k in keys:
        by_mp[k.marketplace_id] += 1
    return estimate(
        {A: len(keys)}, per_marketplace={A: [by_mp[m] for m in sorted(by_mp)]},
        feed_only=feed_only_counts(keys, regions), skus=sku_marketplaces(keys, regions),
        **model,
    )


# --------------------------------------------------------------------------- the split


def test_hybrid_when_both_paths_take_about_as_long() -> None:
    # 3,000 listings in one marketplace, 300 s + 0.1 s a message of feed processing: patch
    # ~600 s + reads, one feed ~600 s + reads; both at once: about 2,000 by PATCH (400 s)
    # while 1,000 go by the feed (300 + 100 s)
    e = _estimate(_skus(3000), feed_per_message_s=0.1)
    assert e.chosen == "hybrid" and e.hybrid is not None
    h = e.hybrid
    assert h.seconds < min(e.patch_seconds, e.feed_seconds) * (1 - HYBRID_MIN_GAIN)
    assert h.patch_listings + h.feed_listings == e.listings == 3000
    assert 1800 < h.patch_listings < 2200 and h.feeds == 1
    assert h.patch_skus == (("na", "NA", h.patch_listings),)
    assert e.seconds == h.seconds


@pytest.mark.parametrize("n", [3, 10, 200])
def test_few_listings_stay_patch(n: int) -> None:
    e = _estimate(_skus(n))
    assert (e.chosen, e.hybrid) == ("patch", None)


def test_quick_feeds_stay_feed() -> None:
    # 3,000 listings at 0.0005 s a message (the emulator's default): the feed's 300 s are
    # nearly all fixed, so moving SKUs to PATCH saves little (less than HYBRID_MIN_GAIN)
    e = _estimate(_skus(3000), feed_per_message_s=0.0005)
    assert (e.chosen, e.hybrid) == ("feed", None)
    assert hybrid_split(_skus(3000), feed_per_message_s=0.0005)[0] < e.feed_seconds


def test_big_feeds_need_a_big_per_message_time_to_split() -> None:
    # 30,000 listings: two feeds, the second one's listings read back after it. At 0.01 s a
    # message patching a share at once gains ~9 %: not enough, the feed stays; at 0.03 s the
    # feed path is long enough for the split to pay, and patching ~6,000 SKUs leaves one feed
    # (under 25,000 messages): the second feed's fixed processing is saved too
    e = _estimate(_skus(30_000))
    assert e.chosen == "feed"
    assert hybrid_split(_skus(30_000))[0] < e.feed_seconds  # a gain, under the threshold
    e = _estimate(_skus(30_000), feed_per_message_s=0.03)
    assert e.chosen == "hybrid" and e.hybrid is not None
    assert e.hybrid.feeds == 1 and e.hybrid.seconds < e.feed_seconds * (1 - HYBRID_MIN_GAIN)
    assert e.hybrid.feed_listings <= 25_000


def test_several_marketplaces_pay_processing_once_each_on_the_feed_path() -> None:
    # 1,000 SKUs x 3 marketplaces at 0.1 s a message: 3 feeds one after another (>= 75 + 3 x
    # 225 s whatever the split) against 600 s of patches: no split beats patch
    e = _estimate(_skus(1000, ("CA", "MX", "US")), feed_per_message_s=0.1)
    assert e.chosen == "patch"


def test_hybrid_is_chosen_only_when_it_beats_both() -> None:
    for n in (1, 50, 400, 1600, 3000, 9000):
        for m in (0.0005, 0.01, 0.05, 0.1, 0.3):
            e = _estimate(_skus(n), feed_per_message_s=m)
            best = min(e.patch_seconds, e.feed_seconds)
            if e.chosen == "hybrid":
                assert e.hybrid is not None and e.hybrid.seconds < best
            else:
                assert e.hybrid is None
                s, _, _, _ = hybrid_split(_skus(n), feed_per_message_s=m)
                assert round(s, 1) >= best * (1 - HYBRID_MIN_GAIN) - 0.1


@pytest.mark.parametrize("m", [0.01, 0.1, 0.3])
def test_split_is_the_best_k(m: float) -> None:
    """Brute force over every k of one marketplace: the binary search finds the minimum."""
    n = 400

    def t(k: int) -> float:
        p = patch_seconds(k) + verify_seconds([k]) if k else 0.0
        f = 0.0
        if n - k:
            f = feed_seconds(n - k, feed_per_message_s=m, per_marketplace=[n - k])[0]
            f += verify_seconds([n - k])
        return max(p, f, verify_seconds([n]))

    best, k, patched, _ = hybrid_split(_skus(n), feed_per_message_s=m)
    assert best == pytest.approx(min(t(j) for j in range(n + 1)))
    assert best == pytest.approx(t(k)) and patched == k


def test_no_sku_is_on_both_paths_and_slashed_skus_always_go_by_feed() -> None:
    skus = _skus(300, ("CA", "US"), slashed=5)
    keys = [ListingKey("na", s, m) for s, ms in skus.items() for m in ms]
    for k in (0, 1, 150, 300, 10_000):
        patched = hybrid_patch_skus(keys, k)
        assert not any("/" in s for s in patched)
        assert len(patched) == min(k, 300)
        # whole SKUs: a SKU's listings in every marketplace go the same way
        ways = defaultdict(set)
        for key in keys:
            ways[key.sku].add(key.sku in patched)
        assert all(len(w) == 1 for w in ways.values())
    _, k, patched_listings, _ = hybrid_split(skus, feed_per_message_s=0.1)
    assert patched_listings == 2 * k  # two listings a patched SKU, none of the slashed ones


def test_slashed_skus_alone_never_make_the_patch_path() -> None:
    _, k, patched, _ = hybrid_split(_skus(0, slashed=4))
    assert (k, patched) == (0, 0)


def test_the_split_survives_the_plan_json_and_is_rendered() -> None:
    e = _estimate(_skus(3000), feed_per_message_s=0.1)
    plan = Plan(changes=(), strategy=e)
    back = Plan.from_data(plan.data())
    assert back.strategy == e
    text = e.describe()
    assert text.startswith("hybrid: 3000 listings, est. ")
    assert f"{e.hybrid.patch_listings} via patchListingsItem" in text  # type: ignore[union-attr]
    assert "1 JSON_LISTINGS_FEED" in text and "split by SKU" in text
    # a plan without a split keeps its bytes: no "hybrid" key
    plain = Plan(changes=(), strategy=_estimate(_skus(10)))
    assert "hybrid" not in (plain.data()["strategy"] or {})


def test_auto_without_a_split_falls_back_to_patch() -> None:
    e = dataclasses.replace(_estimate(_skus(3000), feed_per_message_s=0.1), hybrid=None)
    chosen, why = choose_strategy(Plan(changes=(), strategy=e), "auto")
    assert chosen == "patch" and "no split" in why


def test_write_both_runs_the_feed_path_at_once_and_raises_its_error() -> None:
    started = threading.Event()
    seen: list[bool] = []

    def feed() -> None:
        started.set()
        raise RuntimeError("feed path failed")

    def patch() -> None:
        seen.append(started.wait(5))  # the feed path runs while the patch path does

    with pytest.raises(RuntimeError, match="feed path failed"):
        write_both(patch, feed, name="t")
    assert seen == [True]


# --------------------------------------------------------------------------- apply


def _slashed(desired: DesiredState, sku: str) -> DesiredState:
    def fix(d):  # type: ignore[no-untyped-def]
        if d.key.sku != sku:
            return d
        return dataclasses.replace(
            d, key=ListingKey(d.key.account, sku.replace("-", "/"), d.key.marketplace_id)
        )

    return dataclasses.replace(
        desired, listings=tuple(sorted((fix(d) for d in desired.listings), key=lambda d: d.key))
    )


def test_a_hybrid_apply_converges_and_a_fresh_plan_is_empty() -> None:
    desired = _slashed(au.desired_state(60, marketplaces=(au.US, au.CA)), "SKU-00007")
    model = {"feed_processing_s": 2.0, "feed_per_message_s": 0.05}
    cfg = EmulatorConfig(time_scale=100.0, write_delay_s=0.0, **model)
    with au.emulator(cfg, au.drifted_seed(desired)) as emu, au.client(emu) as cl:
        plan, live = au.make_plan(desired, cl)
        per_mp = write_counts_per_marketplace(plan, desired)
        keys = [c.key for c in plan.changes]
        regions = {"na": "NA"}
        est = estimate(
            {k: sum(v) for k, v in per_mp.items()}, per_marketplace=per_mp,
            feed_only=feed_only_counts(keys, regions), skus=sku_marketplaces(keys, regions),
            **model,
        )
        assert est.chosen == "hybrid" and est.hybrid is not None, est.describe()
        plan = dataclasses.replace(plan, strategy=est)
        assert f"Strategy: {est.describe()}" in render.text(plan)  # the plan shows the split
        emu.reset_calls()
        report = apply_plan(
            plan, desired, {"na": cl}, strategy="auto", verify_timeout_s=60,
            verify_interval_s=0.02, feed_poll_interval_s=0.02, live_before=live,
        )
        assert report.strategy == "hybrid"
        assert report.count("converged") == len(plan.changes) == 120
        ways: dict[str, set[str]] = defaultdict(set)
        for o in report.outcomes:
            ways[o.key.sku].add(o.via)
        assert all(len(w) == 1 for w in ways.values()), "a SKU went both ways"
        assert ways["SKU/00007"] == {"feed"}
        patched = sum(1 for o in report.outcomes if o.via == "patch")
        assert patched == est.hybrid.patch_listings and 0 < patched < 120
        assert f"via hybrid ({patched} by patch, {120 - patched} by feed)" in report.summary_line()
        assert len(emu.calls("patchListingsItem")) >= patched
        assert len(emu.calls("createFeed")) == 2  # the feed part: one feed a marketplace
        # both paths at once: the first feed went out before the last PATCH
        first_feed = min(c.time for c in emu.calls("createFeed"))
        assert first_feed < max(c.time for c in emu.calls("patchListingsItem"))
        fresh, _ = au.make_plan(desired, cl)
        assert fresh.changes == ()


# --------------------------------------------------------------------------- bench


def test_hybrid_lower_bound_is_the_later_path() -> None:
    from bench import lowerbound

    kw = {"processing_s": 300.0, "per_message_s": 0.1, "write_delay_s": 120.0}
    patched, fed = {"S": {"US": 2000}}, {"S": {"US": 1000}}
    b = lowerbound.hybrid_bound(patched, fed, **kw)
    patch_path = (2000 - 5) / 5 + 120 + (100 - 5) / 5  # patches, delay, 100 searches
    # one feed: IN_QUEUE 75 s, IN_PROGRESS 225 + 1000 x 0.1 s, delay, its 50 searches
    feed_path = 75 + 225 + 100 + 120 + (50 - 5) / 5
    assert b["patch_path"] == pytest.approx(patch_path)
    assert b["feed_path"] == pytest.approx(feed_path)
    assert b["total"] == pytest.approx(max(patch_path, feed_path))
    # all of them by one path is that path's own bound
    whole = {"S": {"US": 3000}}
    assert lowerbound.hybrid_bound(whole, {}, **kw)["total"] == pytest.approx(
        lowerbound.apply_bound(whole, "patch", **kw)["total"])
    assert lowerbound.hybrid_bound({}, whole, **kw)["total"] == pytest.approx(
        lowerbound.apply_bound(whole, "feed", **kw)["pipelined"])


def test_bench_hybrid_scenario_runs_the_three_applies(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bench.registry import SCENARIOS
    from bench.scenarios import Params, with_defaults

    p = with_defaults("hybrid", Params(
        changes=100, marketplaces=("US",), time_scale=400.0, feed_processing_s=5.0,
        feed_per_message_s=0.1, write_delay_s=0.0, in_process=True,
        workdir=str(tmp_path / "work"),
    ))
    assert p.skus == 100
    out = SCENARIOS["hybrid"](p)
    assert out["hybrid_chosen"] is True
    assert set(out["walls_s"]) == set(out["bounds_s"]) == {"patch", "feed", "hybrid"}
    for name, r in out["runs"].items():
        assert r["outcomes"] == {"converged": 100}, name
        assert r["changes"] == 100
    assert out["runs"]["patch"]["via"] == {"patch": 100, "feed": 0}
    assert out["runs"]["feed"]["via"] == {"patch": 0, "feed": 100}
    via = out["runs"]["hybrid"]["via"]
    assert via["patch"] > 0 and via["feed"] > 0
    assert out["runs"]["hybrid"]["fresh_plan_changes_after"] == 0
    assert out["bounds_s"]["hybrid"] < min(out["bounds_s"]["patch"], out["bounds_s"]["feed"])
