"""The emulator a quota-bound scenario runs against, and its call log.

- :class:`ServerEmulator` — ``python -m reconciler emulator serve`` in a subprocess on
  127.0.0.1 (port 0), so the emulator's CPU and memory do not count against the reconciler's
  figures; clients reach it over real HTTP.
- :class:`InProcessEmulator` — the same emulator behind ``EmulatorTransport`` (smoke tests).

Both count calls per operation from the emulator's own call log (``calls`` table), between
two marks.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bench.generate import SELLERS
from reconciler.emulator.app import Emulator
from reconciler.emulator.state import EmulatorConfig
from reconciler.kernel.model import DesiredState
from reconciler.spapi.client import SpApiClient

ROOT = Path(__file__).resolve().parent.parent
TOKEN_PATH = "/auth/o2/token"
READ_OPERATIONS = ("searchListingsItems", "getListingsItem")
WRITE_OPERATIONS = (
    "patchListingsItem", "putListingsItem", "deleteListingsItem", "createFeed",
    "createFeedDocument",
)


def refresh_token_for(seller_id: str) -> str:
    """The bench's refresh token of ``seller_id``: Amazon (and the emulator) bind each refresh
    token to the one seller who authorized it."""
    return f"Atzr|bench-{seller_id}"


def tokens_seed(sellers: Iterable[str]) -> dict[str, Any]:
    """A seed that registers the bench's refresh token of every seller."""
    return {"refreshTokens": [{"refreshToken": refresh_token_for(s), "sellerId": s}
                              for s in sorted(set(sellers))]}


def _counts(conn: sqlite3.Connection, since: int) -> tuple[dict[str, int], int]:
    rows = conn.execute(
        "SELECT operation, COUNT(*), SUM(status = 429) FROM calls WHERE id > ? GROUP BY operation",
        (since,),
    ).fetchall()
    calls = {str(op): int(n) for op, n, _ in rows if op != "lwaToken"}
    throttled = sum(int(t or 0) for _, _, t in rows)
    return dict(sorted(calls.items())), throttled


class _Base:
    url: str
    time_scale: float
    transport: Any = None

    def _conn(self) -> sqlite3.Connection:
        raise NotImplementedError

    def mark(self) -> int:
        return self._mark()

    def _mark(self) -> int:
        return int(self._conn().execute("SELECT COALESCE(MAX(id), 0) FROM calls").fetchone()[0])

    def calls_since(self, mark: int) -> tuple[dict[str, int], int]:
        """(calls per operation, 429 answers) after ``mark``."""
        return _counts(self._conn(), mark)

    def client(self, seller_id: str, *, rate_scale: float | None = None) -> SpApiClient:
        """A client for ``seller_id``; its token buckets run ``rate_scale`` (default: the
        emulator's time scale) times faster than Amazon's."""
        return SpApiClient(
            seller_id=seller_id, base_url=self.url, token_url=self.url + TOKEN_PATH,
            refresh_token=refresh_token_for(seller_id),
            client_id="amzn1.application-oa2-client.bench", client_secret="bench-secret",
            transport=self.transport,
            rate_scale=self.time_scale if rate_scale is None else rate_scale,
        )

    def clients(self, desired: DesiredState) -> dict[str, SpApiClient]:
        return {a.name: self.client(a.seller_id) for a in desired.accounts}

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> _Base:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def close_clients(clients: Mapping[str, SpApiClient]) -> None:
    for c in clients.values():
        c.close()


class ServerEmulator(_Base):
    """``reconciler emulator serve`` in a subprocess (stopped with SIGTERM by its pid)."""

    def __init__(
        self,
        *,
        db: str | Path,
        seed: str | Path | None,
        time_scale: float,
        latency_ms: float,
        feed_processing_s: float,
        write_delay_s: float = 0.0,
        quotas: bool = True,
        start_timeout_s: float = 600.0,
        feed_per_message_s: float | None = None,
        sellers: Iterable[str] = (),
    ) -> None:
        self.time_scale = time_scale
        self.db = str(db)
        for suffix in ("", "-wal", "-shm"):
            Path(self.db + suffix).unlink(missing_ok=True)
        cmd = [
            sys.executable, "-m", "reconciler", "emulator", "serve", "--port", "0",
            "--db", self.db, "--time-scale", str(time_scale), "--latency", str(latency_ms),
            "--feed-processing", str(feed_processing_s), "--write-delay", str(write_delay_s),
        ]
        if feed_per_message_s is not None:
            cmd += ["--feed-per-message", str(feed_per_message_s)]
        if seed is not None:
            cmd += ["--seed", str(seed)]
        tokens = Path(self.db + ".tokens.json")  # every bench seller's refresh token
        tokens.write_text(json.dumps(tokens_seed([*SELLERS.values(), *sellers])),
                          encoding="utf-8")
        cmd += ["--seed", str(tokens)]
        if not quotas:
            cmd.append("--no-quotas")
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.url = ""
        self._stderr: list[str] = []
        deadline = time.monotonic() + start_timeout_s
        assert self.proc.stderr is not None
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self._stderr.append(line)
            if "listening on " in line:
                self.url = line.rsplit("listening on ", 1)[1].strip()
                break
        if not self.url:
            self.close()
            raise RuntimeError("emulator did not start: " + "".join(self._stderr[-20:]))
        # keep draining stderr so the server never blocks on a full pipe
        self._drain = threading.Thread(target=self._drain_stderr, daemon=True)
        self._drain.start()
        self._db: sqlite3.Connection | None = None

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30.0,
                                       check_same_thread=False)
        return self._db

    def close(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
            self._db = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


class InProcessEmulator(_Base):
    """The emulator in this process (``EmulatorTransport``); for smoke tests."""

    def __init__(
        self,
        *,
        seed: Mapping[str, Any] | None,
        time_scale: float,
        latency_ms: float,
        feed_processing_s: float,
        write_delay_s: float = 0.0,
        quotas: bool = True,
        **config: Any,
    ) -> None:
        self.time_scale = time_scale
        self.emu = Emulator(":memory:", EmulatorConfig(
            time_scale=time_scale, latency_ms=latency_ms, feed_processing_s=feed_processing_s,
            write_delay_s=write_delay_s, quotas=quotas, **config))
        if seed is not None:
            self.emu.seed(dict(seed))
        self.emu.seed(tokens_seed(SELLERS.values()))
        self.url = "http://emulator.local"
        self.transport = self.emu.transport()

    def _conn(self) -> sqlite3.Connection:
        return self.emu.db

    def _mark(self) -> int:
        with self.emu.lock:
            return super()._mark()

    def calls_since(self, mark: int) -> tuple[dict[str, int], int]:
        with self.emu.lock:
            return super().calls_since(mark)

    def close(self) -> None:
        self.emu.close()


Backend = _Base
