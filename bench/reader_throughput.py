"""Does the bulk reader saturate Amazon's search quota with 300 ms latency? (design.md §4)

Seeds an in-process emulator (quotas on, ``latency_ms`` per request, ``time_scale`` to run the
same ratios faster) with N listings, reads them with ``reader.read_listings`` once with the
given concurrency and once sequentially, and prints one JSON line per run:

    {"scenario": "reader_throughput", "concurrency": 8, "skus": 1000, "searches": 50,
     "seconds": ..., "searches_per_s": ..., "quota_per_s": 5.0, "ideal_seconds": ...,
     "efficiency": ..., "throttles": 0}

``ideal_seconds`` is the quota-bound minimum: the burst goes at once, the rest at ``rate``,
plus one latency for the last response. ``efficiency`` = ideal / measured (1.0 = saturated).

Usage: python bench/reader_throughput.py [--skus 1000] [--latency-ms 300] [--time-scale 1]
       [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a plain checkout

from reconciler.emulator.app import Emulator
from reconciler.emulator.state import EmulatorConfig
from reconciler.kernel.quotas import QUOTAS
from reconciler.live.reader import read_listings
from reconciler.spapi.client import SpApiClient

SELLER = "A1PP0FEH11RW77"
US = "ATVPDKIKX0DER"


def listing(sku: str) -> dict[str, Any]:
    return {
        "sku": sku,
        "marketplaceId": US,
        "productType": "PRODUCT",
        "attributes": {
            "item_name": [{"value": f"Item {sku}", "language_tag": "en_US", "marketplace_id": US}],
            "purchasable_offer": [
                {
                    "marketplace_id": US,
                    "currency": "USD",
                    "audience": "ALL",
                    "our_price": [{"schedule": [{"value_with_tax": 19.99}]}],
                }
            ],
            "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3}],
        },
    }


def run(skus: int, latency_ms: float, time_scale: float, concurrency: int) -> dict[str, Any]:
    config = EmulatorConfig(latency_ms=latency_ms, time_scale=time_scale)
    with Emulator(":memory:", config) as emu:
        names = [f"BENCH-{i:05d}" for i in range(skus)]
        emu.seed({"sellers": {SELLER: {"listings": [listing(s) for s in names]}},
                  "refreshTokens": [{"refreshToken": "Atzr|bench-refresh-token",
                                     "sellerId": SELLER}]})
        with SpApiClient(
            seller_id=SELLER,
            base_url="https://sellingpartnerapi-na.amazon.com",
            token_url="https://api.amazon.com/auth/o2/token",
            refresh_token="Atzr|bench-refresh-token",
            client_id="amzn1.application-oa2-client.bench",
            client_secret="bench-client-secret",
            transport=emu.transport(),
            rate_scale=time_scale,
        ) as client:
            client.tokens.token()  # LWA outside the measurement
            t0 = time.monotonic()
            got = read_listings(client, US, names, concurrency=concurrency)
            seconds = time.monotonic() - t0
            stats = client.stats.snapshot().get("searchListingsItems", {})
        calls = emu.calls("searchListingsItems")
    assert sum(v is not None for v in got.values()) == skus
    q = QUOTAS["searchListingsItems"]
    rate = q.rate * time_scale
    searches = math.ceil(skus / 20)
    ideal = max(0, searches - q.burst) / rate + latency_ms / 1000 / time_scale
    return {
        "scenario": "reader_throughput",
        "concurrency": concurrency,
        "skus": skus,
        "searches": len(calls),
        "latency_ms": latency_ms,
        "time_scale": time_scale,
        "seconds": round(seconds, 3),
        "searches_per_s": round(len(calls) / seconds, 2),
        "quota_per_s": rate,
        "ideal_seconds": round(ideal, 3),
        "efficiency": round(ideal / seconds, 3),
        "throttles": int(stats.get("throttles", 0)),
        "p50_ms": stats.get("p50_ms"),
        "p95_ms": stats.get("p95_ms"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skus", type=int, default=1000)
    ap.add_argument("--latency-ms", type=float, default=300.0)
    ap.add_argument("--time-scale", type=float, default=1.0)
    ap.add_argument("--concurrency", type=int, default=8)
    a = ap.parse_args()
    for c in (a.concurrency, 1):
        print(json.dumps(run(a.skus, a.latency_ms, a.time_scale, c)), flush=True)


if __name__ == "__main__":
    main()
