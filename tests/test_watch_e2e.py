"""Must-show 1 of issue 18, end to end over real HTTP: an ORDER_CHANGE on CA in moto's SQS
server -> `reconciler watch` reserves it and PATCHes the other marketplaces (emulator HTTP
server) -> a fresh plan is empty. Plus: a payload failing Amazon's schema reaches the DLQ."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.watch_world import SELLERS, World, sku_name, world
from reconciler.kernel.marketplaces import BY_ID, by_code
from reconciler.orders.state import reserved_stock
from reconciler.pipeline import close_clients, load, run_plan
from reconciler.watch import shapes
from tests.sqsserver import sqs_client

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path, skus=3, central=30, max_per_site=6) as wd:
        yield wd


def quantities(wd: World) -> dict[tuple[str, str], int]:
    run = run_plan(wd.catalog, state_dir=str(wd.state_dir), env=wd.env)
    close_clients(run.clients)
    out = {}
    for k, lv in run.live.items():
        assert lv is not None
        code = BY_ID[k.marketplace_id].code
        fa = lv.attributes.get("fulfillment_availability") or []
        out[(k.sku, code)] = sum(int(e.get("quantity") or 0) for e in fa)
    assert not run.plan.changes, [(c.name, c.fields) for c in run.plan.changes]
    return out


def run_watch(wd: World, *extra: str, idle: float = 2.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "watch", str(wd.catalog), "--queue-url",
         wd.queue_url, "--sqs-endpoint", wd.sqs_endpoint, "--window", "0.5", "--wait", "1",
         "--exit-when-idle", str(idle), *extra],
        env=wd.env, cwd=str(wd.state_dir), capture_output=True, text=True, timeout=120,
        check=False)


def send(wd: World, *notifications: dict[str, Any]) -> None:
    sqs = sqs_client(wd.sqs_endpoint)
    for n in notifications:
        sqs.send_message(QueueUrl=wd.queue_url, MessageBody=shapes.body(n))


def test_order_on_ca_lowers_the_other_marketplaces_and_a_fresh_plan_is_empty(w: World) -> None:
    before = quantities(w)
    sku = sku_name(0)
    assert {before[(sku, m)] for m in ("US", "CA", "MX", "UK", "DE")} == {6}
    send(w, shapes.order_change(SELLERS["na"], "701-0000001-0000001",
                                by_code("CA").marketplace_id, [("OI1", sku, 3)]))
    r = run_watch(w)
    assert r.returncode == 0, r.stderr
    assert reserved_stock(w.state_dir) == {(sku, "central"): 3}
    after = quantities(w)  # asserts the fresh plan is empty
    assert sum(after[(sku, m)] for m in ("US", "CA", "MX", "UK", "DE")) == 30 - 3
    assert after[(sku, "US")] < before[(sku, "US")]
    # the other SKUs are untouched
    assert {k: v for k, v in after.items() if k[0] != sku} == \
        {k: v for k, v in before.items() if k[0] != sku}
    desired = load(w.catalog, state_dir=w.state_dir)
    assert desired.listings


def test_invalid_payload_goes_to_the_dead_letter_queue_with_its_reason(w: World) -> None:
    bad = shapes.order_change(SELLERS["na"], "701-0000001-0000002",
                              by_code("CA").marketplace_id, [("OI1", sku_name(1), 1)])
    del bad["Payload"]["OrderChangeNotification"]["Summary"]["OrderItems"][0]["Quantity"]
    send(w, bad)
    r = run_watch(w, idle=3.0)
    assert r.returncode == 0, r.stderr
    assert "Quantity" in r.stderr and "dead-letter" in r.stderr
    sqs = sqs_client(w.sqs_endpoint)
    got = sqs.receive_message(QueueUrl=w.dlq_url, WaitTimeSeconds=1)
    assert len(got.get("Messages") or []) == 1
    assert reserved_stock(w.state_dir) == {}
    assert os.path.exists(w.state_dir / "watch.db")
    from reconciler.apply import audit

    notes = [n for r in audit.read(os.environ["RECONCILER_AUDIT_LOG"]) for n in r.get("notes", [])]
    assert notes and all("Quantity" in n for n in notes)


def test_demo_watch_lowers_us_and_mx_after_an_order_on_ca(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from reconciler.cli import main

    r = CliRunner().invoke(main, ["demo", "--watch"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "order on CA lowered US 2->0 and MX 3->2; a fresh plan has no changes" in r.output


def test_sigterm_finishes_the_batch_in_flight_then_exits(w: World) -> None:
    import signal
    import time

    from reconciler.watch.store import WatchStore

    send(w, *[shapes.order_change(SELLERS["na"], f"706-0000000-000000{i}",
                                  by_code("US").marketplace_id, [("OI1", sku_name(i % 3), 1)])
              for i in range(6)])
    p = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "watch", str(w.catalog), "--queue-url",
         w.queue_url, "--sqs-endpoint", w.sqs_endpoint, "--window", "1", "--wait", "1"],
        env=w.env, cwd=str(w.state_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    with WatchStore(w.state_dir) as st:  # wait until its batch is being worked on
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not st.db.execute(
                "SELECT COUNT(*) FROM orders").fetchone()[0]:
            time.sleep(0.02)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert "finishing the work in flight" in err
    worked = json.loads(out)["messages"]
    assert worked >= 1
    with WatchStore(w.state_dir) as st:  # what it received, it finished and deleted
        done = st.db.execute("SELECT COUNT(*) FROM seen").fetchone()[0]
        assert done == worked
    attrs = sqs_client(w.sqs_endpoint).get_queue_attributes(
        QueueUrl=w.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert int(attrs["Attributes"]["ApproximateNumberOfMessagesNotVisible"]) == 0
    quantities(w)  # and what it wrote is complete: a fresh plan is empty
