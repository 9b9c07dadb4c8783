"""The emulator over real HTTP: ``python -m reconciler emulator serve --port 0`` as a subprocess
on loopback. Covers: the readiness line, LWA exchange, 403 without a token, a patch read back
after the write delay, Amazon-shaped 404/405/400/413 for bad input (the server never crashes),
keep-alive, an injected connection reset, clean SIGTERM shutdown (exit 0), and the call log read
from the db file afterwards."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from reconciler.emulator.app import Emulator
from reconciler.emulator.state import EmulatorConfig

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parent.parent
SELLER = "A1PP0FEH11RW77"
US = "ATVPDKIKX0DER"
SEED = f"""
refreshTokens:  # the seed registers its refresh tokens: the emulator is strict by default
  - {{refreshToken: "Atzr|test", sellerId: {SELLER}}}
sellers:
  {SELLER}:
    listings:
      - sku: "MUG 1"
        marketplaceId: {US}
        productType: MUG
        attributes:
          item_name: [{{value: Mug, language_tag: en_US}}]
          purchasable_offer:
            - currency: USD
              our_price: [{{schedule: [{{value_with_tax: 26.99}}]}}]
          fulfillment_availability:
            - {{fulfillment_channel_code: DEFAULT, quantity: 3}}
"""


class Server:
    def __init__(self, proc: subprocess.Popen[str], url: str, db: Path) -> None:
        self.proc = proc
        self.url = url
        self.db = db
        self.stderr_tail: list[str] = []


@contextmanager
def serve(tmp_path: Path, *extra: str) -> Iterator[Server]:
    """Start the server subprocess and wait for its readiness line; always stops it."""
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED, encoding="utf-8")
    db = tmp_path / "emu.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler",
            "emulator",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--db",
            str(db),
            "--seed",
            str(seed),
            # the HTTP surface, not Amazon's time: quick feeds, writes visible at once
            "--feed-processing",
            "2",
            "--write-delay",
            "0",
            *extra,
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    url = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and url is None:
        for line in lines:
            m = re.search(r"emulator listening on (http://127\.0\.0\.1:\d+)", line)
            if m:
                url = m.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    server = Server(proc, url or "", db)
    server.stderr_tail = lines
    try:
        assert url, f"server did not start: {''.join(lines)}"
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader.join(5)
        proc.stderr.close()


def token(c: httpx.Client) -> str:
    r = c.post(
        "/auth/o2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": "Atzr|test",
            "client_id": "app",
            "client_secret": "secret",
        },
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def item_url(sku: str) -> str:
    return f"/listings/2021-08-01/items/{SELLER}/{sku}"


def test_over_real_http(tmp_path: Path) -> None:
    with serve(tmp_path, "--write-delay", "0.4") as srv:
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            r = c.get(item_url("MUG%201"), params={"marketplaceIds": US})
            assert r.status_code == 403
            assert r.json()["errors"][0]["code"] == "Unauthorized"
            assert r.headers["x-amzn-RequestId"]

            c.headers["x-amz-access-token"] = token(c)
            r = c.patch(
                item_url("MUG%201"),
                params={"marketplaceIds": US},
                json={
                    "productType": "MUG",
                    "patches": [
                        {
                            "op": "merge",
                            "path": "/attributes/fulfillment_availability",
                            "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 0}],
                        }
                    ],
                },
            )
            assert r.status_code == 200 and r.json()["status"] == "ACCEPTED", r.text
            assert r.headers["x-amzn-RateLimit-Limit"] == "5.0"
            params = {"marketplaceIds": US, "includedData": "fulfillmentAvailability"}
            first = c.get(item_url("MUG%201"), params=params).json()
            assert first["fulfillmentAvailability"] == [
                {"fulfillmentChannelCode": "DEFAULT", "quantity": 3}
            ]  # not visible yet
            deadline = time.monotonic() + 10
            while True:
                got = c.get(item_url("MUG%201"), params=params).json()
                if got["fulfillmentAvailability"][0]["quantity"] == 0:
                    break
                assert time.monotonic() < deadline, "the patch never became visible"
                time.sleep(0.1)

            # bad input is answered, never crashes the server
            r = c.get("/no/such/path")
            assert r.status_code == 404 and "errors" in r.json()
            r = c.post(item_url("MUG%201"))
            assert r.status_code == 405 and "errors" in r.json()
            r = c.patch(
                item_url("MUG%201"),
                params={"marketplaceIds": US},
                content=b"{bad",
                headers={"content-type": "application/json"},
            )
            assert r.status_code == 400 and r.json()["errors"][0]["code"] == "InvalidInput"
            r = c.get(item_url("MUG%201"), params={"marketplaceIds": US, "includedData": "x"})
            assert r.status_code == 400
            for _ in range(20):  # keep-alive: many requests on the pooled connection
                assert c.get(item_url("MUG%201"), params={"marketplaceIds": US}).status_code in (
                    200,
                    429,
                )

        # an oversized body is refused before it is read
        host, port = srv.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(
                b"PUT "
                + item_url("X").encode()
                + b"?marketplaceIds="
                + US.encode()
                + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 50000000\r\n\r\n"
            )
            head = s.recv(65536).decode()
            assert head.startswith("HTTP/1.1 413"), head
            assert "x-amzn-RequestId" in head

        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(15) == 0
    assert any("emulator stopped" in line for line in srv.stderr_tail)

    with Emulator(str(srv.db)) as e:
        calls = e.calls()
        assert [c for c in calls if c.error] == []
        assert [c.status for c in e.calls("patchListingsItem")] == [200, 400]
        assert e.calls("lwaToken")[0].status == 200
        assert e.history("MUG 1")[-1].source == "patch"
        state = e.listing_state(SELLER, "MUG 1", US)
        assert state is not None
        assert state["attributes"]["fulfillment_availability"] == [
            {"fulfillment_channel_code": "DEFAULT", "quantity": 0}
        ]


def test_sigint_also_stops_cleanly(tmp_path: Path) -> None:
    with serve(tmp_path) as srv:
        srv.proc.send_signal(signal.SIGINT)
        assert srv.proc.wait(15) == 0


def test_reset_fault_over_http(tmp_path: Path) -> None:
    with (
        serve(tmp_path, "--faults", "reset=1") as srv,
        httpx.Client(base_url=srv.url, timeout=10) as c,
    ):
        c.headers["x-amz-access-token"] = token(c)  # LWA is never faulted
        with pytest.raises(httpx.TransportError):
            c.get(item_url("MUG%201"), params={"marketplaceIds": US})


def test_bad_arguments_fail_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "reconciler",
            "emulator",
            "serve",
            "--port",
            "0",
            "--faults",
            "500=lots",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert r.returncode == 1
    assert "--faults" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "reconciler", "emulator", "serve", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert r.returncode == 0 and "reset" in r.stdout and "slow=RATE:MS" in r.stdout


def test_in_thread_server_shares_the_emulator() -> None:
    from reconciler.emulator import auth
    from reconciler.emulator.server import running

    with Emulator(config=EmulatorConfig(quotas=False)) as e:
        e.put_listing_direct(SELLER, "T 1", US, "MUG", {})
        tok = auth.issue_token(e, SELLER)
        with running(e) as url, httpx.Client(base_url=url, timeout=10) as c:
            r = c.get(
                item_url("T%201"),
                params={"marketplaceIds": US},
                headers={"x-amz-access-token": tok},
            )
            assert r.status_code == 200 and r.json()["sku"] == "T 1"
        assert [x.status for x in e.calls("getListingsItem")] == [200]


def test_serve_defaults_are_the_emulators_strict_defaults() -> None:
    """`emulator serve` without options keeps Amazon's time and binds tokens to sellers."""
    from reconciler.cli.emulator import serve

    defaults = {p.name: p.default for p in serve.params}
    cfg = EmulatorConfig()
    assert defaults["write_delay"] == cfg.write_delay_s == 120.0
    assert defaults["feed_processing"] == cfg.feed_processing_s == 300.0
    assert cfg.permissive is False  # and --permissive is an off-by-default flag (next test)


def test_permissive_server_exchanges_any_refresh_token(tmp_path: Path) -> None:
    with serve(tmp_path, "--permissive") as srv, httpx.Client(base_url=srv.url, timeout=10) as c:
        r = c.post("/auth/o2/token", data={"grant_type": "refresh_token",
                                           "refresh_token": "Atzr|never-seeded"})
        assert r.status_code == 200
    (tmp_path / "strict").mkdir()
    with serve(tmp_path / "strict") as srv, httpx.Client(base_url=srv.url, timeout=10) as c:
        r = c.post("/auth/o2/token", data={"grant_type": "refresh_token",
                                           "refresh_token": "Atzr|never-seeded"})
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
