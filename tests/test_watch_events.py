"""The other notifications of issue 18: every payload validated against Amazon's schema
(EventBridge envelopes unwrapped); a quantity changed outside the tool is corrected while other
drift is reported, not overwritten; an issues change is the listing's health in the audit;
FEED_PROCESSING_FINISHED verifies its feed without polling."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.watch_world import SELLERS, World, sku_name, world
from reconciler.apply import audit
from reconciler.apply.feedjournal import Journal
from reconciler.kernel.marketplaces import by_code
from reconciler.pipeline import close_clients, load, open_clients
from reconciler.watch import events, shapes
from reconciler.watch.worker import WatchConfig, Worker
from tests.sqsserver import sqs_client
from tests.test_watch_e2e import send

CA = by_code("CA").marketplace_id


def test_every_shape_validates_and_broken_ones_say_why() -> None:
    n = [
        shapes.order_change(SELLERS["na"], "705-0000000-0000001", CA, [("I1", "S", 2)]),
        shapes.mfn_quantity_change(SELLERS["na"], "S", 4),
        shapes.eventbridge(shapes.status_change(SELLERS["na"], "S", CA, ["BUYABLE"])),
        shapes.eventbridge(shapes.issues_change(SELLERS["na"], "S", CA, ["ERROR"],
                                                ["LISTING_SUPPRESSED"])),
        shapes.feed_finished(SELLERS["na"], "123", result_document_id="doc-1"),
    ]
    parsed = [events.parse(shapes.body(x)) for x in n]
    assert [type(p).__name__ for p in parsed] == ["Event"] * 5
    kinds = [p.kind for p in parsed if isinstance(p, events.Event)]
    assert kinds == ["ORDER_CHANGE", "LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
                     "LISTINGS_ITEM_STATUS_CHANGE", "LISTINGS_ITEM_ISSUES_CHANGE",
                     "FEED_PROCESSING_FINISHED"]
    order = parsed[0]
    assert isinstance(order, events.Event) and order.items[0].quantity == 2
    broken = json.loads(shapes.body(n[1]))
    broken["Payload"]["Quantity"] = "four"
    bad = events.parse(json.dumps(broken))
    assert isinstance(bad, events.Rejected) and "Quantity" in bad.reason
    assert bad.notification_id == n[1]["NotificationMetadata"]["NotificationId"]
    for body in ("not json", json.dumps({"NotificationType": "SOMETHING_ELSE"}), "[]"):
        assert isinstance(events.parse(body), events.Rejected)


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path, skus=2, central=30, max_per_site=6) as wd:
        yield wd


def run_in_process(wd: World) -> None:
    desired = load(wd.catalog, state_dir=wd.state_dir)
    clients = open_clients(desired, state_dir=str(wd.state_dir), env=wd.env)
    cfg = WatchConfig(str(wd.catalog), str(wd.state_dir), wd.queue_url, window_s=0.3,
                      wait_s=1, max_idle_s=1.5)
    worker = Worker(cfg, sqs_client(wd.sqs_endpoint), clients, desired.accounts, env=wd.env,
                    say=lambda _s: None)
    try:
        worker.run()
    finally:
        worker.close()
        close_clients(clients)


def live_ca(wd: World, sku: str) -> dict[str, Any]:
    desired = load(wd.catalog, state_dir=wd.state_dir)
    clients = open_clients(desired, state_dir=str(wd.state_dir), env=wd.env)
    try:
        item = clients["na"].get_listings_item(sku, [CA], included_data=["attributes"])
    finally:
        close_clients(clients)
    attrs: dict[str, Any] = item["attributes"]
    return attrs


def test_outside_changes_stock_corrected_other_drift_reported_issues_in_audit(w: World) -> None:
    sku = sku_name(0)
    desired = load(w.catalog, state_dir=w.state_dir)
    clients = open_clients(desired, state_dir=str(w.state_dir), env=w.env)
    try:  # "Seller Central": quantity and title changed outside the tool
        r = clients["na"].patch_listings_item(sku, [CA], {"productType": "PRODUCT", "patches": [
            {"op": "merge", "path": "/attributes/fulfillment_availability",
             "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 99}]},
            {"op": "replace", "path": "/attributes/item_name",
             "value": [{"value": "Renamed in Seller Central", "language_tag": "en_CA",
                        "marketplace_id": CA}]}]})
        assert r["status"] == "ACCEPTED"
    finally:
        close_clients(clients)
    send(w, shapes.eventbridge(shapes.mfn_quantity_change(SELLERS["na"], sku, 99)),
         shapes.eventbridge(shapes.status_change(SELLERS["na"], sku, CA, ["BUYABLE"])),
         shapes.eventbridge(shapes.issues_change(SELLERS["na"], sku_name(1), CA, ["ERROR"],
                                                 ["LISTING_SUPPRESSED"])))
    run_in_process(w)
    attrs = live_ca(w, sku)
    assert attrs["fulfillment_availability"][0]["quantity"] == 6  # stock drift corrected
    assert attrs["item_name"][0]["value"] == "Renamed in Seller Central"  # not overwritten
    records = [r for r in audit.read(os.environ["RECONCILER_AUDIT_LOG"])
               if r.get("command") == "watch"]
    drift = [d for r in records for d in r.get("drift_reported", [])]
    assert {"account": "na", "sku": sku, "marketplace_id": CA,
            "attributes": ["item_name"]} in drift
    health = [o for r in records for o in r["outcomes"] if o.get("action") == "health"]
    assert health and health[0]["sku"] == sku_name(1) and health[0]["status"] == "rejected"
    assert health[0]["issues"][0]["code"] == "LISTING_SUPPRESSED"


def test_feed_finished_verifies_that_feed_without_polling(w: World) -> None:
    sku = sku_name(1)
    j = Journal(w.state_dir, "na")
    j.add("doc-1", CA, [sku])
    j.set_feed("doc-1", "F-77")
    desired = load(w.catalog, state_dir=w.state_dir)
    clients = open_clients(desired, state_dir=str(w.state_dir), env=w.env)
    try:  # the feed left a wrong quantity behind
        clients["na"].patch_listings_item(sku, [CA], {"productType": "PRODUCT", "patches": [
            {"op": "merge", "path": "/attributes/fulfillment_availability",
             "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 1}]}]})
    finally:
        close_clients(clients)
    send(w, shapes.feed_finished(SELLERS["na"], "F-77"))
    run_in_process(w)
    assert Journal(w.state_dir, "na").entries == []  # the next apply does not wait for it
    assert live_ca(w, sku)["fulfillment_availability"][0]["quantity"] == 6


def test_an_unreachable_queue_is_one_clear_line_exit_1(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from reconciler.cli import main
    from tests.sqsserver import free_port

    url = f"http://127.0.0.1:{free_port()}"
    r = CliRunner().invoke(main, ["watch", str(Path(__file__).parent.parent / "catalog"),
                                  "--queue-url", f"{url}/123/q", "--sqs-endpoint", url],
                           env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"})
    assert r.exit_code == 1
    assert "cannot read SQS queue" in r.output and "Traceback" not in r.output
