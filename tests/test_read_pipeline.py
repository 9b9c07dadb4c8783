"""workflow.read_live normalizes and diffs listings while the rest are still being read.

The plan's CPU work (normalize, diff) used to start only once every search had answered; at
30k listings that is seconds of wall time after the quota-bound read. Now each search batch is
handed to one worker thread as it arrives (``read_listings(on_found=)`` -> ``PlanBuilder.add``).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from reconciler.pipeline import read_live
from reconciler.plan.builder import PlanBuilder, build_plan
from tests.core_builders import US, amazon_item, desired, key, state
from tests.spapi_fakes import FakeAmazon, json_response, make_client, query


def _desired(n: int) -> Any:
    return state(*(desired(f"SKU-{i:04d}", US, price=f"{10 + i % 7}.99") for i in range(n)))


def _fake(items: dict[str, dict[str, Any]], done: list[float], latency: float) -> FakeAmazon:
    lock = threading.Lock()

    def api(r: httpx.Request) -> httpx.Response:
        time.sleep(latency)
        ids = query(r)["identifiers"].split(",")
        page = [items[s] for s in ids if s in items]
        with lock:
            done.append(time.monotonic())
        return json_response(200, {"numberOfResults": len(page), "items": page, "pagination": {}})

    return FakeAmazon(api)


def test_diff_starts_before_the_read_ends_and_gives_the_same_plan() -> None:
    n = 400  # 20 searches: several waves of the reader's 8 workers
    ds = _desired(n)
    # Live: every third listing is off by a price, one in ten is missing (-> create).
    items = {}
    for i, d in enumerate(ds.listings):
        if i % 10 == 9:
            continue
        live_d = desired(d.key.sku, US, price="1.00") if i % 3 == 0 else d
        items[d.key.sku] = amazon_item(live_d, US)
    searched: list[float] = []
    added: list[float] = []

    class Recording(PlanBuilder):
        def add(self, k: Any, have: Any) -> bool:
            added.append(time.monotonic())
            assert threading.current_thread().name.startswith("normalize")
            return super().add(k, have)

    client, _ = make_client(_fake(items, searched, latency=0.05))
    builder = Recording(ds)
    with client:
        live = read_live(ds, {"main": client}, [d.key for d in ds.listings], builder=builder)
    plan = builder.finish(live)
    assert len(searched) == n // 20 and len(added) == n
    assert min(added) < max(searched), "every listing was diffed only after the last search"
    assert list(live) == [d.key for d in ds.listings]  # requested order
    assert live[key("SKU-0009", US)] is None
    same = build_plan(ds, live)
    assert plan == same and plan.checksum == same.checksum
    assert plan.count("create") == n // 10 and plan.count("update") > 0


def test_a_failing_read_stops_cleanly_and_raises() -> None:
    """An error on Amazon's side ends the read with that error; the worker is shut down (no
    thread left behind) and nothing half-built is returned."""
    from reconciler.kernel.errors import AuthError

    ds = _desired(60)

    def api(r: httpx.Request) -> httpx.Response:
        if query(r)["identifiers"].startswith("SKU-0020"):
            return json_response(403, {"errors": [{"code": "Unauthorized", "message": "no"}]})
        return json_response(200, {"numberOfResults": 0, "items": [], "pagination": {}})

    client, _ = make_client(FakeAmazon(api))
    before = {t.name for t in threading.enumerate()}
    with client:
        try:
            read_live(ds, {"main": client}, [d.key for d in ds.listings], builder=PlanBuilder(ds))
        except AuthError:
            pass
        else:
            raise AssertionError("the 403 did not surface")
    left = {t.name for t in threading.enumerate()} - before
    assert not [t for t in left if t.startswith("normalize")]


def test_slim_keeps_the_attributes_of_planned_listings_only() -> None:
    """``slim``: an unchanged listing comes back without its attributes (status and issues
    kept), a changed one whole; the plan is the same as without it."""
    ds = _desired(60)
    items = {}
    for i, d in enumerate(ds.listings):
        live_d = desired(d.key.sku, US, price="1.00") if i % 4 == 0 else d
        items[d.key.sku] = amazon_item(live_d, US)
    plans = []
    lives = []
    for slim in (False, True):
        client, _ = make_client(_fake(items, [], latency=0.0))
        builder = PlanBuilder(ds)
        live = read_live(ds, {"main": client}, [d.key for d in ds.listings], builder=builder,
                         slim=slim)
        plans.append(builder.finish(live))
        lives.append(live)
    full, slim_plan = plans
    assert [c.key for c in slim_plan.changes] == [c.key for c in full.changes]
    assert slim_plan.checksum == full.checksum
    assert slim_plan.fingerprints == full.fingerprints
    changed = {c.key for c in full.changes}
    assert len(changed) == 15
    for k, lv in lives[1].items():
        assert lv is not None
        assert lv.status == lives[0][k].status and lv.issues == lives[0][k].issues
        assert bool(lv.attributes) == (k in changed), k
    assert all(lv is not None and lv.attributes for lv in lives[0].values())
