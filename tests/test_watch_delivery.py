"""Must-shows 2 and 3 of issue 18: duplicated, delayed and reordered notifications (no double
reservation, no lost update); three `watch` processes on one queue, one SIGKILLed mid-way
(every order reserved exactly once, no listing written by two workers at once, nothing lost)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.watch_world import MARKETS, SELLERS, World, sku_name, world
from reconciler.kernel.marketplaces import by_code
from reconciler.orders.state import OrderState
from reconciler.watch import shapes
from reconciler.watch.store import WatchStore, overlapping_writes
from tests.sqsserver import sqs_client
from tests.test_watch_e2e import quantities, run_watch, send

ACCOUNT_OF = {m: a for a, ms in MARKETS.items() for m in ms}


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path, skus=3, central=60, max_per_site=12) as wd:
        yield wd


def order(oid: str, market: str, sku: str, qty: int, *, status: str = "Unshipped",
          at: float | None = None, nid: str | None = None) -> dict[str, object]:
    return shapes.order_change(SELLERS[ACCOUNT_OF[market]], oid, by_code(market).marketplace_id,
                               [(f"{oid}-1", sku, qty)], status=status, at=at,
                               notification_id=nid)


def reserved_by_order(wd: World) -> dict[str, int]:
    with OrderState(wd.state_dir) as st:
        out: dict[str, int] = {}
        for r in st.reservations():
            out[r.order_id] = out.get(r.order_id, 0) + r.quantity
        return out


def test_duplicated_delayed_reordered_notifications(w: World) -> None:
    t = time.time()
    a = order("702-0000000-0000001", "CA", sku_name(0), 2, at=t, nid="n-a")
    b_new = order("702-0000000-0000002", "MX", sku_name(0), 1, status="Canceled", at=t + 5)
    b_old = order("702-0000000-0000002", "MX", sku_name(0), 1, at=t + 1)
    c = order("702-0000000-0000003", "US", sku_name(1), 4, at=t + 2)
    # reordered: the cancellation of B arrives before B itself; A three times (same id)
    send(w, a, b_new, a, b_old, a)
    sqs_client(w.sqs_endpoint).send_message(QueueUrl=w.queue_url, MessageBody=shapes.body(c),
                                            DelaySeconds=2)  # delayed
    r = run_watch(w, idle=4.0)
    assert r.returncode == 0, r.stderr
    assert reserved_by_order(w) == {"702-0000000-0000001": 2, "702-0000000-0000003": 4}
    after = quantities(w)  # fresh plan empty: live equals what catalog + orders imply
    totals = {s: sum(v for (sk, _m), v in after.items() if sk == s) for s in
              (sku_name(0), sku_name(1), sku_name(2))}
    assert totals == {sku_name(0): 58, sku_name(1): 56, sku_name(2): 60}
    # the same messages again (a redelivery storm): nothing changes
    send(w, a, b_old, c)
    assert run_watch(w, idle=2.0).returncode == 0
    assert reserved_by_order(w) == {"702-0000000-0000001": 2, "702-0000000-0000003": 4}
    assert quantities(w) == after


def test_three_workers_one_killed_mid_way(w: World) -> None:
    n = 120
    markets = ("US", "CA", "MX", "UK", "DE")
    expected: dict[str, int] = {}
    msgs = []
    t = time.time()
    for i in range(n):
        oid = f"703-{i:07d}-0000001"
        qty = 1 + i % 2
        sku = sku_name(i % 3)
        expected[oid] = qty
        msgs.append(order(oid, markets[i % 5], sku, qty, at=t + i * 0.01))
    sqs = sqs_client(w.sqs_endpoint)

    def send_part(part: list[Any]) -> None:
        for i in range(0, len(part), 10):
            sqs.send_message_batch(QueueUrl=w.queue_url, Entries=[
                {"Id": str(j), "MessageBody": shapes.body(m)}
                for j, m in enumerate(part[i:i + 10])])

    send_part(msgs[: n // 2])
    args = ["--window", "0.3", "--wait", "1", "--visibility-timeout", "4", "--lease-ttl", "5",
            "--exit-when-idle", "6"]
    procs = [subprocess.Popen(
        [sys.executable, "-m", "reconciler", "watch", str(w.catalog), "--queue-url",
         w.queue_url, "--sqs-endpoint", w.sqs_endpoint, *args],
        env=w.env, cwd=str(w.state_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True) for _ in range(3)]
    # kill the worker that did the first write as soon as it did it (one fast worker could take
    # the whole first half alone); the second half arrives once it is dead, for the others
    with WatchStore(w.state_dir) as st:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not st.writes():
            time.sleep(0.05)
        first = st.writes()[0][3]
    victim = next((p for p in procs if first.endswith(f":{p.pid}")), procs[0])
    victim.send_signal(signal.SIGKILL)
    send_part(msgs[n // 2:])
    for p in procs:
        if p is not victim:
            _out, err = p.communicate(timeout=180)
            assert p.returncode == 0, err
    victim.communicate(timeout=30)
    assert reserved_by_order(w) == expected  # every order exactly once
    with WatchStore(w.state_dir) as st:
        writes = st.writes()
        assert len({wr[3] for wr in writes}) >= 2  # the work was shared
        assert overlapping_writes(writes) == []
    after = quantities(w)  # fresh plan empty
    for s in range(3):
        sold = sum(q for i, q in enumerate(expected.values()) if i % 3 == s)
        assert sum(v for (sk, _m), v in after.items() if sk == sku_name(s)) == 60 - sold


def test_orders_placed_in_the_emulator_with_faulty_delivery(tmp_path: Path) -> None:
    """The emulator (as Amazon) takes the units from the ordering listing and publishes
    ORDER_CHANGE and LISTINGS_ITEM_MFN_QUANTITY_CHANGE (EventBridge) with duplicates, jitter and
    reordering; two workers; every order reserved once, and a fresh plan is empty."""
    with world(tmp_path, skus=2, central=40, max_per_site=8, notify=True,
               notify_faults="dup=0.5:3,jitter=2,reorder") as wd:
        expected = {}
        for i, market in enumerate(("CA", "MX", "UK", "DE", "US", "CA", "UK", "MX")):
            seller = SELLERS[ACCOUNT_OF[market]]
            sku = sku_name(i % 2)
            oid = wd.emu.place_order(seller, by_code(market).marketplace_id, [(sku, 1 + i % 2)])
            expected[oid] = 1 + i % 2
        assert wd.emu.flush_notifications(timeout=20)
        procs = [subprocess.Popen(
            [sys.executable, "-m", "reconciler", "watch", str(wd.catalog), "--queue-url",
             wd.queue_url, "--sqs-endpoint", wd.sqs_endpoint, "--window", "0.5", "--wait", "1",
             "--exit-when-idle", "4"],
            env=wd.env, cwd=str(wd.state_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True) for _ in range(2)]
        for p in procs:
            _out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
        assert reserved_by_order(wd) == expected
        with WatchStore(wd.state_dir) as st:
            assert overlapping_writes(st.writes()) == []
        after = quantities(wd)  # fresh plan empty
        for s in range(2):
            sold = sum(q for i, q in enumerate(expected.values()) if i % 2 == s)
            assert sum(v for (sk, _m), v in after.items() if sk == sku_name(s)) == 40 - sold
