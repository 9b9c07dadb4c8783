"""The full feed lifecycle over real HTTP against `reconciler emulator serve` (must-show 3).

A subprocess server on a free loopback port (``--port 0``); the test exchanges a token, then
createFeedDocument -> PUT upload to the emulator-served URL -> createFeed -> poll getFeed ->
getFeedDocument -> download -> gunzip the processing report, checks the listing changed, gets
403 without a token, and stops the server with SIGTERM (exit 0). The call log is read back from
the server's SQLite file afterwards.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.emulator import feeds
from reconciler.emulator.app import Emulator

from . import spapi_models
from .emulator_support import SELLER, US, listings_feed

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parent.parent
SEED = {
    "sellers": {SELLER: {
        "listings": [{"sku": "MUG-1", "marketplaceId": US, "productType": "PRODUCT",
                      "attributes": {
                          "purchasable_offer": [{"marketplace_id": US, "currency": "USD",
                                                 "audience": "ALL", "our_price": [
                                                     {"schedule": [{"value_with_tax": 10.0}]}]}],
                          "fulfillment_availability": [
                              {"fulfillment_channel_code": "DEFAULT", "quantity": 0},
                              {"fulfillment_channel_code": "brooklyn", "quantity": 2,
                               "lead_time_to_ship_max_days": 3}]}}],
        "supplySources": [{"supplySourceCode": "brooklyn", "alias": "Brooklyn",
                           "status": "Active"}],
    }},
    "refreshTokens": [{"refreshToken": "Atzr|test-refresh", "sellerId": SELLER}],
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(SEED), encoding="utf-8")
    db = tmp_path / "emu.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "serve", "--port", "0",
         "--db", str(db), "--seed", str(seed), "--time-scale", "20",
         "--feed-processing", "2", "--write-delay", "0"],
        cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stderr is not None
    found: list[str] = []
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            m = re.search(r"emulator listening on (http://127\.0\.0\.1:\d+)", line)
            if m:
                found.append(m.group(1))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 20
    while not found and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    try:
        assert found, f"server did not start: {''.join(lines)}"
        yield found[0], db
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        reader.join(timeout=5)
        proc.stderr.close()
        assert code == 0, "".join(lines)


def test_feed_lifecycle_over_http(server: tuple[str, Path]) -> None:
    url, db = server
    with httpx.Client(base_url=url, timeout=10) as h:
        tok = h.post("/auth/o2/token", data={"grant_type": "refresh_token",
                                             "refresh_token": "Atzr|test-refresh",
                                             "client_id": "app", "client_secret": "s"})
        assert tok.status_code == 200
        spapi_models.assert_lwa(200, tok.json())
        denied = h.post("/feeds/2021-06-30/documents", json={"contentType": "application/json"})
        assert denied.status_code == 403
        spapi_models.assert_response("createFeedDocument", 403, denied.content)
        h.headers["x-amz-access-token"] = tok.json()["access_token"]

        r = h.post("/feeds/2021-06-30/documents", json={"contentType": "application/json"})
        doc = spapi_models.assert_response("createFeedDocument", r.status_code, r.content)
        assert r.status_code == 201 and doc["url"].startswith(url + "/")
        content = listings_feed([
            {"messageId": 1, "sku": "MUG-1", "operationType": "PATCH", "productType": "PRODUCT",
             "patches": [{"op": "merge", "path": "/attributes/fulfillment_availability",
                          "value": [{"fulfillment_channel_code": "brooklyn", "quantity": 8}]}]},
            {"messageId": 2, "sku": "MUG-1", "operationType": "PATCH", "productType": "PRODUCT",
             "patches": [{"op": "replace", "path": "/attributes/not_an_attribute",
                          "value": [{"value": 1}]}]},
        ], report=["fulfillmentAvailability", "issues"])
        with httpx.Client(timeout=10) as s3:  # the upload is plain "S3": no access token
            assert s3.put(doc["url"], content=content,
                          headers={"content-type": "text/plain"}).status_code == 403
            up = s3.put(doc["url"], content=content, headers={"content-type": "application/json"})
            assert up.status_code == 200

        r = h.post("/feeds/2021-06-30/feeds", json={
            "feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [US],
            "inputFeedDocumentId": doc["feedDocumentId"]})
        assert r.status_code == 202
        feed_id = spapi_models.assert_response("createFeed", 202, r.content)["feedId"]
        seen = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = h.get(f"/feeds/2021-06-30/feeds/{feed_id}")
            feed = spapi_models.assert_response("getFeed", r.status_code, r.content)
            if not seen or seen[-1] != feed["processingStatus"]:
                seen.append(feed["processingStatus"])
            if feed["processingStatus"] in ("DONE", "FATAL", "CANCELLED"):
                break
            time.sleep(0.02)
        assert seen[-1] == "DONE" and seen[0] in ("IN_QUEUE", "IN_PROGRESS"), seen

        r = h.get(f"/feeds/2021-06-30/documents/{feed['resultFeedDocumentId']}")
        meta = spapi_models.assert_response("getFeedDocument", r.status_code, r.content)
        assert meta["compressionAlgorithm"] == "GZIP"
        with httpx.Client(timeout=10) as s3:
            raw = s3.get(meta["url"]).content
        report = json.loads(gzip.decompress(raw))
        spapi_models.assert_feed_document("report", report)
        assert report["header"]["feedId"] == feed_id
        assert report["summary"]["messagesAccepted"] == 1
        assert report["summary"]["messagesInvalid"] == 1
        assert report["issues"][0]["messageId"] == 2
        assert report["issues"][0]["attributeName"] == "not_an_attribute"

        r = h.get(f"/listings/2021-08-01/items/{SELLER}/MUG-1",
                  params={"marketplaceIds": US, "includedData": "fulfillmentAvailability"})
        item = spapi_models.assert_response("getListingsItem", r.status_code, r.content)
        assert {"fulfillmentChannelCode": "brooklyn", "quantity": 8} in item[
            "fulfillmentAvailability"]

    with Emulator(str(db)) as log:
        ops = [c.operation for c in log.calls()]
        assert ops.count("createFeed") == 1 and "downloadFeedDocument" in ops
        assert all(c.error is None for c in log.calls())
        assert feeds.feed_error(log, feed_id) is None
        assert [h.source for h in log.history("MUG-1")][-1] == f"feed:{feed_id}"
