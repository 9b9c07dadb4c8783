"""A small world for ``reconciler watch``: a catalog of SKUs shared by five marketplaces (two
sellers: US, CA, MX and UK, DE), each marketplace one location refilled from one central stock
(``allocation: shared``), an emulator HTTP server seeded with listings equal to the catalog, and
moto's SQS server with a queue whose redrive policy sends to a dead-letter queue.

Used by ``python -m bench watch`` and tests/test_watch*.py."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reconciler.emulator import auth
from reconciler.emulator.app import Emulator
from reconciler.emulator.product_types import write_catalog_copies
from reconciler.emulator.server import running
from reconciler.emulator.state import EmulatorConfig
from reconciler.kernel.model import DesiredState, to_json_value
from reconciler.pipeline import load

SELLERS = {"na": "A1PP0FEH11RW77", "eu": "A2EXAMPLEEU001"}
MARKETS = {"na": ("US", "CA", "MX"), "eu": ("UK", "DE")}
LANG = {"US": "en_US", "CA": "en_CA", "MX": "es_MX", "UK": "en_GB", "DE": "de_DE"}
TOKENS = {"na": "Atzr|WATCH-na-refresh-token-0123456789",
          "eu": "Atzr|WATCH-eu-refresh-token-0123456789"}
ENV = {"SP_API_REFRESH_TOKEN": TOKENS["na"], "SP_API_REFRESH_TOKEN_EU": TOKENS["eu"],
       "LWA_APP_ID": "amzn1.application-oa2-client.WATCHAPPID42",
       "LWA_CLIENT_SECRET": "amzn1.oa2-cs.v1.WATCH-client-secret-abcdef",
       "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
       "AWS_DEFAULT_REGION": "us-east-1"}


def sku_name(i: int) -> str:
    return f"W-{i:04d}"


def write_catalog(root: Path, endpoint: str, *, skus: int = 5, central: int = 30,
                  max_per_site: int = 8) -> None:
    """Every SKU: ``central`` units, each of the five sites refilled up to ``max_per_site``."""
    (root / "skus").mkdir(parents=True, exist_ok=True)
    accounts = {
        acc: {"seller_id": SELLERS[acc], "region": "NA" if acc == "na" else "EU",
              "endpoint": endpoint,
              "credentials": {"refresh_token": "env/SP_API_REFRESH_TOKEN" if acc == "na"
                              else "env/SP_API_REFRESH_TOKEN_EU",
                              "client_id": "env/LWA_APP_ID",
                              "client_secret": "env/LWA_CLIENT_SECRET"},
              "marketplaces": {m: None for m in MARKETS[acc]}}
        for acc in MARKETS}
    files: dict[str, Any] = {
        "reconciler.yaml": {"version": 1, "accounts": accounts,
                            "safety": {"max_update_share": 1, "max_price_change_pct": 1000}},
        "rates.yaml": {"as_of": "2026-11-20", "source": "test", "base": "USD",
                       "rates": {"USD": 1, "CAD": 1.37, "MXN": 17.0, "GBP": 0.79, "EUR": 0.92}},
        "pricing.yaml": {"base_currency": "USD",
                         "defaults": {"formula": "base * rate + tax", "tax": 0,
                                      "ending": ".99"}},
        "locations.yaml": {
            "locations": {f"{m.lower()}-dc": {"fulfillment_channel_code": f"{m.lower()}-dc-1",
                                              "account": acc, "marketplace": m}
                          for acc, ms in MARKETS.items() for m in ms},
            "allocation_policies": {"shared": {"max": max_per_site, "threshold": max_per_site,
                                               "buffer": 0, "floor": 0}}},
        "skus/watch.yaml": {"skus": {
            sku_name(i): {
                "product_type": "PRODUCT", "requirements": "LISTING_OFFER_ONLY",
                "attributes": {"condition_type": "new_new",
                               "merchant_suggested_asin": f"B0WAT{i:05d}"},
                "base_price": 10 + i % 30, "allocation": "shared",
                "texts": {lang: {"item_name": f"Enamel mug no. {i} ({lang})"}
                          for lang in LANG.values()},
            } for i in range(skus)}},
    }
    for rel, data in files.items():
        (root / rel).write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
                                encoding="utf-8")
    rows = ["sku,location,on_hand"]
    for i in range(skus):
        rows.append(f"{sku_name(i)},central,{central}")
        rows += [f"{sku_name(i)},{m.lower()}-dc,0" for ms in MARKETS.values() for m in ms]
    (root / "stock.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    from reconciler.catalog.desired import schema_needs
    from reconciler.catalog.loader import load as load_raw

    write_catalog_copies(root, schema_needs(load_raw(root, definitions=False)),
                         retrieved="2026-11-20")


def exact_seed(desired: DesiredState) -> dict[str, Any]:
    """Live listings equal to the catalog, and each seller's supply sources."""
    sellers: dict[str, Any] = {}
    for acc in MARKETS:
        sellers[SELLERS[acc]] = {"listings": [], "supplySources": [
            {"supplySourceId": f"{m.lower()}-dc-1", "supplySourceCode": f"{m.lower()}-dc",
             "alias": f"{m} DC", "status": "Active"} for m in MARKETS[acc]]}
    for d in desired.listings:
        sellers[SELLERS[d.key.account]]["listings"].append(
            {"sku": d.key.sku, "marketplaceId": d.key.marketplace_id, "productType": "PRODUCT",
             "attributes": to_json_value(d.attributes)})
    return {"sellers": sellers}


@dataclass
class World:
    catalog: Path
    state_dir: Path
    emu: Emulator
    url: str
    sqs_endpoint: str
    queue_url: str
    dlq_url: str
    env: dict[str, str]
    desired: DesiredState


def make_queues(sqs: Any, name: str, *, max_receive: int = 3) -> tuple[str, str]:
    """A standard queue whose redrive policy moves a message to ``name-dlq`` after
    ``max_receive`` receives (SQS dead-letter queues:
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html)."""
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    q = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": arn, "maxReceiveCount": str(max_receive)})})["QueueUrl"]
    return q, dlq


@contextmanager
def world(root: Path, *, skus: int = 5, central: int = 30, max_per_site: int = 8,
          time_scale: float = 1.0, sqs_endpoint: str | None = None,
          max_receive: int = 3, notify: bool = False, notify_faults: str = "") -> Iterator[World]:
    """``notify``: the emulator itself publishes Amazon-shaped notifications (orders placed with
    ``emu.place_order``, quantity/status/issues changes, feeds) to the queue, both sellers
    subscribed, with ``notify_faults`` (``dup=RATE:COPIES,delay=S,jitter=S,reorder``)."""
    from reconciler.emulator import notifications
    from reconciler.emulator.faults import NotifyFaults
    from tests.sqsserver import sqs_client, sqs_server

    for k, v in ENV.items():
        os.environ.setdefault(k, v)
    catalog = root / "catalog"
    state = root / "state"
    state.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        endpoint = sqs_endpoint or stack.enter_context(sqs_server())
        sqs = sqs_client(endpoint)
        q, dlq = make_queues(sqs, f"watch-{os.getpid()}-{id(root)}", max_receive=max_receive)
        arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        cfg = EmulatorConfig(write_delay_s=0.0, time_scale=time_scale)
        if notify:
            cfg = EmulatorConfig(write_delay_s=0.0, time_scale=time_scale, sqs_endpoint=endpoint,
                                 eventbridge_queue_arn=arn,
                                 notify_faults=NotifyFaults.parse(notify_faults))
        emu = stack.enter_context(Emulator(str(root / "emulator.db"), cfg))
        url = stack.enter_context(running(emu))
        write_catalog(catalog, url, skus=skus, central=central, max_per_site=max_per_site)
        desired = load(catalog, state_dir=state)
        emu.seed(exact_seed(desired))
        for acc, token in TOKENS.items():
            auth.register_refresh_token(emu, token, seller_id=SELLERS[acc])
            if notify:
                notifications.subscribe_direct(emu, SELLERS[acc], arn)
        env = {**os.environ, **ENV, "RECONCILER_STATE_DIR": str(state)}
        yield World(catalog, state, emu, url, endpoint, q, dlq, env, desired)
