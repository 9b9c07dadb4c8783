"""`reconciler demo --watch`: an order on CA lowers the quantities on US and MX in seconds.

Everything runs on loopback and is thrown away afterwards: a small catalog (one SKU sold in US,
CA and MX, each marketplace one location refilled from one central stock of 8 units, at most 3
per site), the emulator behind a real HTTP server with listings equal to the catalog, moto's
SQS server (``moto[server]``, or ``--sqs-endpoint`` for another SQS), one queue, and one
``watch`` worker in this process. An Amazon-shaped ORDER_CHANGE (3 units on CA) is sent to the
queue; the worker reserves it and PATCHes the other marketplaces; the quantities are printed
before and after, then a fresh plan (empty).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import yaml

from reconciler.emulator.app import Emulator
from reconciler.emulator.product_types import write_catalog_copies
from reconciler.emulator.server import running
from reconciler.emulator.state import EmulatorConfig
from reconciler.kernel.errors import NotConvergedError
from reconciler.kernel.marketplaces import by_code
from reconciler.kernel.model import DesiredState, to_json_value
from reconciler.pipeline import close_clients, load, open_clients, run_plan
from reconciler.watch.localsqs import loopback_sqs

from .common import err, out

SELLER = "A1PP0FEH11RW77"
SKU = "DEMO-MUG-1"
MARKETS = ("US", "CA", "MX")
ENV = {"SP_API_REFRESH_TOKEN": "Atzr|DEMO-watch-refresh-token",
       "LWA_APP_ID": "amzn1.application-oa2-client.DEMO",
       "LWA_CLIENT_SECRET": "amzn1.oa2-cs.v1.DEMO-secret"}  # demo values, emulator only


def write_catalog(root: Path, endpoint: str) -> None:
    (root / "skus").mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {
        "reconciler.yaml": {"version": 1, "accounts": {"na": {
            "seller_id": SELLER, "region": "NA", "endpoint": endpoint,
            "marketplaces": {m: None for m in MARKETS}}}},
        "rates.yaml": {"as_of": "2026-11-20", "source": "demo", "base": "USD",
                       "rates": {"USD": 1, "CAD": 1.37, "MXN": 17.0}},
        "pricing.yaml": {"base_currency": "USD",
                         "defaults": {"formula": "base * rate", "ending": ".99"}},
        "locations.yaml": {
            "locations": {f"{m.lower()}-dc": {"fulfillment_channel_code": f"{m.lower()}-dc-1",
                                              "account": "na", "marketplace": m}
                          for m in MARKETS},
            "allocation_policies": {"shared": {"max": 3, "threshold": 3, "buffer": 0,
                                               "floor": 0}}},
        "skus/demo.yaml": {"skus": {SKU: {
            "product_type": "PRODUCT", "requirements": "LISTING_OFFER_ONLY",
            "attributes": {"condition_type": "new_new", "merchant_suggested_asin": "B0DEMOMUG1"},
            "base_price": 12, "allocation": "shared",
            "texts": {lang: {"item_name": "Enamel camping mug"}
                      for lang in ("en_US", "en_CA", "es_MX")}}}},
    }
    for rel, data in files.items():
        (root / rel).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    rows = [f"{SKU},central,8"] + [f"{SKU},{m.lower()}-dc,0" for m in MARKETS]
    (root / "stock.csv").write_text("sku,location,on_hand\n" + "\n".join(rows) + "\n",
                                    encoding="utf-8")
    write_catalog_copies(root, [("PRODUCT", m, "LISTING_OFFER_ONLY") for m in MARKETS],
                         retrieved="2026-11-20")


def seed(desired: DesiredState) -> dict[str, Any]:
    return {"sellers": {SELLER: {
        "listings": [{"sku": d.key.sku, "marketplaceId": d.key.marketplace_id,
                      "productType": "PRODUCT", "attributes": to_json_value(d.attributes)}
                     for d in desired.listings],
        "supplySources": [{"supplySourceId": f"{m.lower()}-dc-1",
                           "supplySourceCode": f"{m.lower()}-dc", "alias": f"{m} DC",
                           "status": "Active"} for m in MARKETS]}}}


@contextmanager
def _sqs(endpoint: str | None) -> Iterator[str]:
    if endpoint:
        yield endpoint
        return
    with loopback_sqs() as url:
        yield url


def quantities(root: Path, state: Path, env: dict[str, str]) -> dict[str, int]:
    desired = load(root, state_dir=state)
    clients = open_clients(desired, state_dir=str(state), env=env)
    try:
        got = {}
        for m in MARKETS:
            item = clients["na"].get_listings_item(SKU, [by_code(m).marketplace_id],
                                                   included_data=["attributes"])
            fa = item.get("attributes", {}).get("fulfillment_availability") or []
            got[m] = sum(int(e.get("quantity") or 0) for e in fa)
        return got
    finally:
        close_clients(clients)


def run_demo(sqs_endpoint: str | None = None) -> None:
    import os

    import boto3  # type: ignore[import-untyped, unused-ignore]

    from reconciler.watch import shapes
    from reconciler.watch.worker import WatchConfig, Worker

    for k, v in {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo"}.items():
        os.environ.setdefault(k, v)  # the loopback SQS server accepts any
    with tempfile.TemporaryDirectory(prefix="reconciler-watch-demo-") as tmp, ExitStack() as st:
        root, state = Path(tmp) / "catalog", Path(tmp) / "state"
        emu = st.enter_context(Emulator(str(Path(tmp) / "emulator.db"), EmulatorConfig(
            write_delay_s=0.0, permissive=True, default_seller_id=SELLER)))
        url = st.enter_context(running(emu))
        write_catalog(root, url)
        env = {**os.environ, **ENV, "RECONCILER_STATE_DIR": str(state),
               "RECONCILER_AUDIT_LOG": str(state / "audit.jsonl")}
        emu.seed(seed(load(root, state_dir=state)))
        endpoint = st.enter_context(_sqs(sqs_endpoint))
        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        queue = sqs.create_queue(QueueName="reconciler-watch-demo")["QueueUrl"]
        before = quantities(root, state, env)
        err(f"== before: {SKU} advertises {before} (8 units in stock)")
        sent = time.monotonic()
        sqs.send_message(QueueUrl=queue, MessageBody=shapes.body(shapes.order_change(
            SELLER, "702-0000000-0000042", by_code("CA").marketplace_id,
            [("DEMO-ITEM-1", SKU, 3)])))
        err("== ORDER_CHANGE sent: 3 units ordered on CA; the watch worker reacts")
        desired = load(root, state_dir=state)
        clients = open_clients(desired, state_dir=str(state), env=env)
        cfg = WatchConfig(str(root), str(state), queue, window_s=0.5, wait_s=1, max_idle_s=1.0)
        worker = Worker(cfg, sqs, clients, desired.accounts, env=env, say=err)
        try:
            worker.run()
        finally:
            worker.close()
            close_clients(clients)
        took = time.monotonic() - sent
        after = quantities(root, state, env)
        err(f"== after {took:.1f} s (worker idle time included): {SKU} advertises {after}"
            " (5 units left)")
        run = run_plan(root, state_dir=str(state), env=env)
        close_clients(run.clients)
        lowered = [m for m in ("US", "MX") if after[m] < before[m]]
        if run.plan.has_changes or lowered != ["US", "MX"]:
            raise NotConvergedError(f"demo --watch: expected US and MX lowered and an empty "
                                    f"plan; got {after} and {len(run.plan.changes)} change(s)")
        out(f"order on CA lowered US {before['US']}->{after['US']} and MX "
            f"{before['MX']}->{after['MX']}; a fresh plan has no changes")
