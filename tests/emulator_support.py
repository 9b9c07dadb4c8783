"""Small helpers for the emulator feed/supply-source/sandbox/conformance tests: a fake clock and
an httpx client wired to an in-process emulator with a valid access token."""

from __future__ import annotations

import gzip
import json
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from reconciler.emulator import auth
from reconciler.emulator.app import Emulator
from reconciler.emulator.state import EmulatorConfig

SELLER = "A1PP0FEH11RW77"
OTHER_SELLER = "A2OTHERSELLER9"
US = "ATVPDKIKX0DER"
CA = "A2EUQ1WTGCTBG2"
UK = "A1F83G8C2ARO7P"
NA_HOST = "https://sellingpartnerapi-na.amazon.com"


class FakeClock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@contextmanager
def emulator(config: EmulatorConfig | None = None, clock: FakeClock | None = None,
             db: str = ":memory:") -> Iterator[Emulator]:
    emu = Emulator(db, config or EmulatorConfig(), clock=clock or FakeClock(),
                   sleep=lambda s: None)
    try:
        yield emu
    finally:
        emu.close()


@contextmanager
def client(emu: Emulator, seller: str = SELLER, base_url: str = NA_HOST) -> Iterator[httpx.Client]:
    token = auth.issue_token(emu, seller)
    with httpx.Client(transport=emu.transport(), base_url=base_url,
                      headers={"x-amz-access-token": token}) as c:
        yield c


def listings_feed(messages: list[dict[str, Any]], seller: str = SELLER,
                  report: list[str] | None = None) -> bytes:
    header: dict[str, Any] = {"sellerId": seller, "version": "2.0", "issueLocale": "en_US"}
    if report is not None:
        header["report"] = {"includedData": report, "apiVersion": "2021-08-01"}
    return json.dumps({"header": header, "messages": messages}).encode()


def upload_document(c: httpx.Client, content: bytes,
                    content_type: str = "application/json; charset=UTF-8") -> str:
    r = c.post("/feeds/2021-06-30/documents", json={"contentType": content_type})
    assert r.status_code == 201, r.text
    doc = r.json()
    # The upload URL is plain "S3": no access token.
    up = c.put(doc["url"], content=content, headers={"content-type": content_type,
                                                      "x-amz-access-token": ""})
    assert up.status_code == 200, up.text
    return str(doc["feedDocumentId"])


def submit_feed(c: httpx.Client, content: bytes, marketplaces: list[str] | None = None,
                feed_type: str = "JSON_LISTINGS_FEED") -> str:
    doc_id = upload_document(c, content)
    r = c.post("/feeds/2021-06-30/feeds", json={
        "feedType": feed_type, "marketplaceIds": marketplaces or [US],
        "inputFeedDocumentId": doc_id})
    assert r.status_code == 202, r.text
    return str(r.json()["feedId"])


def download_report(c: httpx.Client, result_doc_id: str) -> dict[str, Any]:
    r = c.get(f"/feeds/2021-06-30/documents/{result_doc_id}")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["compressionAlgorithm"] == "GZIP"
    raw = c.get(doc["url"]).content
    report: dict[str, Any] = json.loads(gzip.decompress(raw))
    return report


def start_server(db: Path, seed: Path, *extra: str,
                 refresh_tokens: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    """``reconciler emulator serve --port 0`` as a subprocess; returns it and its base URL once
    it printed its readiness line (fails the test after 30 s). ``refresh_tokens`` (token ->
    seller) are registered through a second seed file: the server is strict by default."""
    seeds = ["--seed", str(seed)]
    if refresh_tokens:
        tokens = db.with_name(db.name + ".tokens.json")
        tokens.write_text(json.dumps({"refreshTokens": [
            {"refreshToken": t, "sellerId": s} for t, s in refresh_tokens.items()]}))
        seeds += ["--seed", str(tokens)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "serve", "--port", "0",
         "--db", str(db), *seeds, *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    buf = ""
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stderr], [], [], 0.5)
        if r:
            line = proc.stderr.readline()
            buf += line
            if "listening on " in line:
                return proc, line.strip().split("listening on ", 1)[1]
        if proc.poll() is not None:
            break
    stop_server(proc)
    raise AssertionError(f"emulator did not start: {buf}")


def stop_server(proc: subprocess.Popen[str]) -> None:
    """SIGTERM (the server's clean shutdown), then SIGKILL after 10 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()


def quick_embedded_emulator(state_dir: str | Path, monkeypatch: Any, **config: Any) -> Emulator:
    """The embedded emulator of ``state_dir`` as ``embedded_emulator`` makes it (the embedded
    time scale, the demo seed) with ``config`` on top, e.g. ``feed_processing_s=30.0`` for a
    test that does not test Amazon's time. Registered for the test only (``monkeypatch``)."""
    import os

    from reconciler.emulator.demo import demo_seed
    from reconciler.spapi import connect

    Path(state_dir).mkdir(parents=True, exist_ok=True)
    emu = Emulator(
        str(Path(state_dir) / connect.EMULATOR_DB),
        EmulatorConfig(time_scale=connect.EMBEDDED_TIME_SCALE, **config),
    )
    emu.seed(demo_seed())
    monkeypatch.setitem(connect._emulators, os.path.realpath(state_dir), emu)
    return emu
