"""The emulator's state and the values every module shares, below every route module.

Layering (no import circle, ``tests/test_emulator_layers.py``): ``http`` (requests, responses,
routes) and ``store`` (SQLite) at the bottom; this module (configuration, :class:`ApiError`,
:class:`EmulatorState`) above them; the state modules (``auth``, ``listings``,
``feed_processing``, ``supply_sources``, ``orders`` ...) and the route modules (``listing_api``,
``feeds`` ...) above it, routes depending on state and never the reverse; ``app`` (the request
pipeline that wires them together), ``transport`` and ``server`` on top.

:class:`EmulatorState` is what a module sees of the emulator: configuration, the database and
its lock, the clock, the fault RNG and the quota buckets. ``app.Emulator`` adds the pipeline.
"""

from __future__ import annotations

import datetime as _dt
import json
import random
import sqlite3
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import store
from .faults import FaultSpec, NotifyFaults
from .http import Request, Response, api_error
from .store import CallRecord, HistoryRecord

DEFAULT_SELLER_ID = "A1PP0FEH11RW77"


@dataclass(frozen=True)
class EmulatorConfig:
    time_scale: float = 1.0  # multiplies every rate, divides every delay
    latency_ms: float = 0.0  # real sleep per request (divided by time_scale)
    # Amazon time, divided by time_scale. An ACCEPTED listing write becomes visible minutes
    # later ("price changes take few minutes to reflect", CONTRACT.md §12); a feed spends a
    # quarter of feed_processing_s IN_QUEUE, the rest plus per message IN_PROGRESS.
    write_delay_s: float = 120.0
    feed_processing_s: float = 300.0
    feed_per_message_s: float = 0.0005
    quotas: bool = True
    sandbox: bool = False
    faults: FaultSpec = field(default_factory=FaultSpec)
    token_ttl_s: int = 3600  # access-token lifetime (scaled)
    permissive: bool = False  # unregistered refresh tokens act for any seller (auth.py)
    seed: int = 0  # RNG seed for fault draws
    max_body_bytes: int = 10 * 1024 * 1024 + 64 * 1024
    timeout_fault_s: float = 30.0  # how long the server holds a connection for a timeout fault
    default_seller_id: str = DEFAULT_SELLER_ID  # seed tokens without sellerId; permissive mode
    document_url_ttl_s: float = 300.0  # feed document URLs expire after this (scaled; feeds)
    # SP-API notifications (notifications.py): the loopback SQS-compatible server (e.g. moto)
    # the emulated Amazon delivers to (None: nothing is published); the SQS queue the emulated
    # EventBridge rule targets (EventBridge destinations); delivery faults
    sqs_endpoint: str | None = None
    eventbridge_queue_arn: str | None = None
    notify_faults: NotifyFaults = field(default_factory=NotifyFaults)

    def scaled(self, seconds: float) -> float:
        """A modelled delay in emulator seconds under the time scale."""
        return seconds / self.time_scale if self.time_scale > 0 else seconds


class ApiError(Exception):
    """Raised inside a handler to answer with ``response`` (e.g. a 400 InvalidInput)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def internal_failure() -> Response:
    return api_error(500, "InternalFailure", "We encountered an internal error. Please try again.")


def service_unavailable() -> Response:
    return api_error(
        503, "ServiceUnavailable", "Service temporarily unavailable. Please try again later."
    )


def too_large() -> Response:
    return api_error(
        413, "RequestEntityTooLarge", "The request size exceeded the maximum accepted size."
    )


def json_body(req: Request, *, media: str = "application/json") -> Any:
    """The request's JSON body; 415 for another content type, 400 for malformed JSON."""
    ctype = req.headers.get("content-type", "")
    if ctype and ctype.split(";", 1)[0].strip().lower() != media:
        raise ApiError(
            api_error(
                415,
                "UnsupportedMediaType",
                "The request's Content-Type header is invalid.",
                f"Content-Type must be {media}",
            )
        )
    if not req.body:
        raise ApiError(
            api_error(
                400,
                "InvalidInput",
                "Request has missing or invalid parameters and cannot be parsed.",
                "The request body is missing.",
            )
        )
    try:
        return req.json()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(
            api_error(
                400,
                "InvalidInput",
                "Request has missing or invalid parameters and cannot be parsed.",
                "The request body is not valid JSON.",
            )
        ) from None


@dataclass(frozen=False)
class Bucket:
    """One token bucket (``quota.py``)."""

    tokens: float
    last: float


class EmulatorState:
    """The state every module works on. Thread-safe: every db use happens under ``lock``."""

    def __init__(
        self,
        db: str = ":memory:",
        config: EmulatorConfig | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.db_path = db
        self._clock = clock or time.time
        self.sleep = sleep or time.sleep
        self.lock = threading.RLock()
        self.db: sqlite3.Connection = store.connect(db)
        self.buckets: dict[tuple[str, str], Bucket] = {}
        self.windows: dict[tuple[str, str], deque[float]] = {}  # sliding-window limits
        # emu.now() when the request being handled arrived, before the ticks it triggered (a
        # presigned URL valid on arrival stays valid however long those ticks took)
        self.arrived = 0.0
        self.rng = random.Random(self.config.seed)
        self._closed = False

    def close(self) -> None:
        with self.lock:
            if not self._closed:
                self._closed = True
                self.db.close()

    def now(self) -> float:
        return self._clock()

    def wall(self) -> float:
        """Wall-clock epoch seconds (for ISO timestamps such as createdDate)."""
        return time.time()

    def utcnow_iso(self) -> str:
        """Wall-clock UTC time, ISO 8601 with milliseconds and ``Z``."""
        return iso(self.wall())

    def new_id(self, prefix: str = "") -> str:
        return f"{prefix}{uuid.uuid4()}" if prefix else str(uuid.uuid4())

    def calls(self, operation: str | None = None) -> list[CallRecord]:
        with self.lock:
            return store.select_calls(self.db, operation)

    def reset_calls(self) -> None:
        with self.lock:
            self.db.execute("DELETE FROM calls")

    def history(self, sku: str | None = None) -> list[HistoryRecord]:
        with self.lock:
            return store.select_history(self.db, sku)


def iso(ts: float) -> str:
    """Epoch seconds -> ``2026-11-22T17:26:03.123Z``."""
    d = _dt.datetime.fromtimestamp(ts, _dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def parse_iso(s: str) -> float | None:
    """ISO 8601 date-time (``Z`` or offset; date-only allowed) -> epoch seconds, None if bad."""
    try:
        v = s.strip()
        if v.endswith(("Z", "z")):
            v = v[:-1] + "+00:00"
        d = _dt.datetime.fromisoformat(v)
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.timezone.utc)
    return d.timestamp()


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


