"""How long the emulator takes to process a JSON_LISTINGS_FEED of N PATCH messages.

In-process (httpx transport, fake clock, quotas off): seeds N listings, uploads one feed of N
``merge`` patches through the real document URL, lets the modelled processing time pass at once
and measures the getFeed call that applies every message and builds the GZIP report (the worst
case: one tick does all the work). Prints one JSON line:

    {"scenario": "emulator_json_listings_feed", "messages": N, "db": ..., "seconds": ...,
     "messages_per_s": ...}

Usage: python bench/emulator_feed_processing.py [--messages 25000] [--db FILE]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler.emulator import auth
from reconciler.emulator.app import Emulator
from reconciler.emulator.state import EmulatorConfig

SELLER = "A1PP0FEH11RW77"
US = "ATVPDKIKX0DER"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=25_000)
    ap.add_argument("--db", default=":memory:", help="SQLite file (default: in memory)")
    args = ap.parse_args()
    n = args.messages
    now = [1_000_000.0]
    tmpdir = None
    db = args.db
    if db == "tmp":
        tmpdir = tempfile.mkdtemp()
        db = os.path.join(tmpdir, "emu.db")
    emu = Emulator(db, EmulatorConfig(quotas=False), clock=lambda: now[0])
    try:
        emu.seed({"sellers": {SELLER: {"listings": [
            {"sku": f"SKU-{i}", "marketplaceId": US, "productType": "PRODUCT", "attributes": {
                "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT",
                                              "quantity": 1}]}}
            for i in range(n)]}}})
        messages = [{"messageId": i + 1, "sku": f"SKU-{i}", "operationType": "PATCH",
                     "productType": "PRODUCT",
                     "patches": [{"op": "merge", "path": "/attributes/fulfillment_availability",
                                  "value": [{"fulfillment_channel_code": "DEFAULT",
                                             "quantity": 5}]}]}
                    for i in range(n)]
        body = json.dumps({"header": {"sellerId": SELLER, "version": "2.0"},
                           "messages": messages}).encode()
        token = auth.issue_token(emu, SELLER)
        with httpx.Client(transport=emu.transport(), base_url="https://sp.example",
                          headers={"x-amz-access-token": token}) as c:
            doc = c.post("/feeds/2021-06-30/documents",
                         json={"contentType": "application/json"}).json()
            c.put(doc["url"], content=body, headers={"content-type": "application/json"})
            feed_id = c.post("/feeds/2021-06-30/feeds", json={
                "feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [US],
                "inputFeedDocumentId": doc["feedDocumentId"]}).json()["feedId"]
            now[0] += 60 + n * 0.001  # past the modelled processing time
            t0 = time.perf_counter()
            feed = c.get(f"/feeds/2021-06-30/feeds/{feed_id}").json()
            seconds = time.perf_counter() - t0
            meta = c.get(f"/feeds/2021-06-30/documents/{feed['resultFeedDocumentId']}").json()
            report = json.loads(gzip.decompress(c.get(meta["url"]).content))
        assert feed["processingStatus"] == "DONE", feed
        assert report["summary"]["messagesAccepted"] == n, report["summary"]
    finally:
        emu.close()
    print(json.dumps({"scenario": "emulator_json_listings_feed", "messages": n,
                      "db": "memory" if db == ":memory:" else "file",
                      "seconds": round(seconds, 3),
                      "messages_per_s": round(n / seconds)}))


if __name__ == "__main__":
    main()
