"""Sustained getListingsItem throughput of the real emulator server (issue 3, must-show 6).

Starts ``python -m reconciler emulator serve --port 0 --no-quotas`` with a seeded listing,
exchanges an LWA token, then hammers getListingsItem (the reconciler's includedData) with N
concurrent keep-alive clients for D seconds and prints one JSON line:

    {"scenario": "emulator_get_throughput", "rps": ..., "requests": ..., "errors": ...}

Usage: python bench/emulator_throughput.py [--clients 8] [--duration 10] [--processes 1]
Clients are stdlib ``http.client`` connections (one per thread) so the client side costs little
CPU on the same machine; ``--processes`` spreads the client threads over processes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SELLER = "A1PP0FEH11RW77"
US = "ATVPDKIKX0DER"
SKU = "BENCH MUG#1"  # percent-encoded in the path (a '/' cannot be addressed, models#4727)
PATH = (
    f"/listings/2021-08-01/items/{SELLER}/BENCH%20MUG%231?marketplaceIds={US}"
    "&includedData=summaries,attributes,issues,offers,fulfillmentAvailability"
)
REFRESH_TOKEN = "Atzr|bench"
SEED = {
    "refreshTokens": [{"refreshToken": REFRESH_TOKEN, "sellerId": SELLER}],
    "sellers": {
        SELLER: {
            "listings": [
                {
                    "sku": SKU,
                    "marketplaceId": US,
                    "productType": "MUG",
                    "attributes": {
                        "item_name": [{"value": "Bench mug", "language_tag": "en_US"}],
                        "bullet_point": [
                            {"value": f"Bullet {i}", "language_tag": "en_US"} for i in range(5)
                        ],
                        "purchasable_offer": [
                            {
                                "currency": "USD",
                                "our_price": [{"schedule": [{"value_with_tax": 26.99}]}],
                            }
                        ],
                        "fulfillment_availability": [
                            {"fulfillment_channel_code": "DEFAULT", "quantity": 12}
                        ],
                    },
                }
            ]
        }
    }
}


def _worker(port: int, token: str, deadline: float, counts: list[int], idx: int) -> None:
    ok = err = 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"x-amz-access-token": token, "accept": "application/json"}
    while time.time() < deadline:
        try:
            conn.request("GET", PATH, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status == 200 and body:
                ok += 1
            else:
                err += 1
        except (OSError, http.client.HTTPException):
            err += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.close()
    counts[2 * idx] = ok
    counts[2 * idx + 1] = err


def _process(port: int, token: str, deadline: float, clients: int, q: Any) -> None:
    counts = [0] * (2 * clients)
    threads = [
        threading.Thread(target=_worker, args=(port, token, deadline, counts, i))
        for i in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    q.put((sum(counts[0::2]), sum(counts[1::2])))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=8, help="concurrent keep-alive clients")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    ap.add_argument("--processes", type=int, default=1, help="client processes")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed.json"
        seed.write_text(json.dumps(SEED), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "RECONCILER_STATE_DIR": tmp}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reconciler",
                "emulator",
                "serve",
                "--port",
                "0",
                "--no-quotas",
                "--seed",
                str(seed),
                "--db",
                str(Path(tmp) / "emu.db"),
            ],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if not m:
                print(f"server did not start: {line!r}", file=sys.stderr)
                return 1
            port = int(m.group(1))
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request(
                "POST",
                "/auth/o2/token",
                body="grant_type=refresh_token&refresh_token=" + REFRESH_TOKEN.replace("|", "%7C"),
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            token = json.loads(conn.getresponse().read())["access_token"]
            conn.close()

            per_proc = max(1, args.clients // args.processes)
            start = time.time()
            deadline = start + args.duration
            if args.processes == 1:
                q: Any = multiprocessing.Queue()
                _process(port, token, deadline, per_proc, q)
                results = [q.get()]
            else:
                q = multiprocessing.Queue()
                procs = [
                    multiprocessing.Process(
                        target=_process, args=(port, token, deadline, per_proc, q)
                    )
                    for _ in range(args.processes)
                ]
                for p in procs:
                    p.start()
                results = [q.get() for _ in procs]
                for p in procs:
                    p.join()
            elapsed = time.time() - start
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
    ok = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    print(
        json.dumps(
            {
                "scenario": "emulator_get_throughput",
                "rps": round(ok / elapsed, 1),
                "requests": ok + errors,
                "errors": errors,
                "clients": per_proc * len(results),
                "duration_s": round(elapsed, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
