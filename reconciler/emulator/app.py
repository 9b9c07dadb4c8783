"""The emulator core: configuration, module wiring and the request pipeline.

``Emulator.handle(Request) -> Response`` is the single implementation behind both surfaces (the
threaded HTTP server in ``server.py`` and the httpx transport in ``transport.py``). For every
request it:

1. assigns an ``x-amzn-RequestId`` (present on every response);
2. ticks every module under ``emu.lock`` (due pending writes applied, feeds advanced);
3. routes it (unknown path -> 404, known path with another method -> 405, Amazon-shaped);
4. draws an injected fault (``faults.py``) for authenticated SP-API routes;
5. checks ``x-amz-access-token`` for ``route.auth`` routes (403 ``Unauthorized``);
6. takes a token from the (seller, operation) bucket (429 ``QuotaExceeded``);
7. answers from the sandbox vectors when ``config.sandbox`` (``sandbox.respond``), else calls
   the handler; a handler exception is a 500 ``InternalFailure`` whose traceback goes to the
   call log (tests assert none happened);
8. adds ``x-amzn-RateLimit-Limit`` on 2xx/400/404 and records a call-log row.

Handler modules (``auth``, ``listings``, ``feeds``, ``supply_sources``) may define ``ROUTES``,
``init_schema(conn)``, ``tick(emu)`` and ``seed(emu, data)``. Handlers receive the decoded path
parameters plus ``params["_seller_id"]``: the seller the call acts for (path ``sellerId``, else
the access token's seller). Handlers may raise :class:`ApiError` to answer with a response.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import json
import random
import re
import sqlite3
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import unquote

from . import quota, store
from .faults import FaultSpec, FaultTimeout
from .http import Request, Response, Route, api_error, json_response
from .store import CallRecord, HistoryRecord

MODULE_NAMES = ("auth", "listings", "feeds", "supply_sources", "orders", "product_type_api")
DEFAULT_SELLER_ID = "A1PP0FEH11RW77"


@dataclass(frozen=True)
class EmulatorConfig:
    time_scale: float = 1.0  # multiplies every rate, divides every delay
    latency_ms: float = 0.0  # real sleep per request (divided by time_scale)
    write_delay_s: float = 0.0  # ACCEPTED listing writes become visible after this (scaled)
    feed_processing_s: float = 2.0  # feed base processing time (scaled; feeds module)
    feed_per_message_s: float = 0.0005  # + per message (scaled; feeds module)
    quotas: bool = True
    sandbox: bool = False
    faults: FaultSpec = field(default_factory=FaultSpec)
    token_ttl_s: int = 3600  # access-token lifetime (scaled)
    accept_any_refresh_token: bool = True  # else only refresh tokens registered by seed
    seed: int = 0  # RNG seed for fault draws
    max_body_bytes: int = 10 * 1024 * 1024 + 64 * 1024
    timeout_fault_s: float = 30.0  # how long the server holds a connection for a timeout fault
    default_seller_id: str = DEFAULT_SELLER_ID  # seller of unregistered refresh tokens
    document_url_ttl_s: float = 300.0  # feed document URLs expire after this (scaled; feeds)

    def scaled(self, seconds: float) -> float:
        """A modelled delay in emulator seconds under the time scale."""
        return seconds / self.time_scale if self.time_scale > 0 else seconds


class ApiError(Exception):
    """Raised inside a handler to answer with ``response`` (e.g. a 400 InvalidInput)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def quota_exceeded() -> Response:
    return api_error(429, "QuotaExceeded", "You exceeded your quota for the requested resource.")


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


def _load_modules() -> list[ModuleType]:
    mods: list[ModuleType] = []
    for name in MODULE_NAMES:
        full = f"{__package__}.{name}"
        try:
            mods.append(importlib.import_module(full))
        except ModuleNotFoundError as e:  # a module another helper has not written yet
            if e.name != full:
                raise
    return mods


class Emulator:
    """A stateful fake Amazon. Thread-safe: every db use happens under ``self.lock``."""

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
        self.buckets: dict[tuple[str, str], quota.Bucket] = {}
        self.rng = random.Random(self.config.seed)
        self.modules = _load_modules()
        with self.lock:
            for m in self.modules:
                init = getattr(m, "init_schema", None)
                if init is not None:
                    init(self.db)
        self._ticks = [m.tick for m in self.modules if hasattr(m, "tick")]
        self.routes: list[Route] = [r for m in self.modules for r in getattr(m, "ROUTES", [])]
        self._compiled: list[tuple[re.Pattern[str], Route]] = [
            (re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", r.pattern)), r) for r in self.routes
        ]
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open_readonly(cls, db: str) -> Emulator:
        """Open a db written by another process (e.g. a server subprocess) to read its logs."""
        return cls(db)

    def close(self) -> None:
        with self.lock:
            if not self._closed:
                self._closed = True
                self.db.close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transport(self) -> Any:
        """An ``httpx.BaseTransport`` that calls this emulator in-process."""
        from .transport import EmulatorTransport

        return EmulatorTransport(self)

    # ------------------------------------------------------------------ helpers for modules

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

    def module(self, name: str) -> ModuleType | None:
        full = f"{__package__}.{name}"
        for m in self.modules:
            if m.__name__ == full:
                return m
        return None

    # ------------------------------------------------------------------ test/seed helpers

    def seed(self, data: dict[str, Any]) -> None:
        with self.lock, store.transaction(self.db):
            for m in self.modules:
                fn = getattr(m, "seed", None)
                if fn is not None:
                    fn(self, data)

    def seed_file(self, path: str) -> None:
        from .seed import load_seed_file

        self.seed(load_seed_file(path))

    def put_listing_direct(
        self,
        seller_id: str,
        sku: str,
        marketplace_id: str,
        product_type: str,
        attributes: dict[str, Any],
    ) -> None:
        """A Seller Central edit: replaces the stored listing now (history ``seller_central``)."""
        from . import listings

        with self.lock:
            listings.put_direct(self, seller_id, sku, marketplace_id, product_type, attributes)

    def listing_state(self, seller_id: str, sku: str, marketplace_id: str) -> dict[str, Any] | None:
        """Stored ``{productType, attributes, createdDate, lastUpdatedDate, issues}`` or None."""
        from . import listings

        with self.lock:
            return listings.state(self, seller_id, sku, marketplace_id)

    def tick(self) -> None:
        with self.lock:
            for t in self._ticks:
                t(self)

    def calls(self, operation: str | None = None) -> list[CallRecord]:
        with self.lock:
            return store.select_calls(self.db, operation)

    def reset_calls(self) -> None:
        with self.lock:
            self.db.execute("DELETE FROM calls")

    def history(self, sku: str | None = None) -> list[HistoryRecord]:
        with self.lock:
            return store.select_history(self.db, sku)

    # ------------------------------------------------------------------ the pipeline

    def route(self, method: str, path: str) -> tuple[Route | None, dict[str, str], int]:
        """(route, decoded params, 0) or (None, {}, 404|405)."""
        other_method = False
        for rx, r in self._compiled:
            m = rx.fullmatch(path)
            if m is None:
                continue
            if r.method != method:
                other_method = True
                continue
            return r, {k: unquote(v) for k, v in m.groupdict().items()}, 0
        return None, {}, 405 if other_method else 404

    def handle(self, req: Request) -> Response:
        rid = str(uuid.uuid4())
        arrived = self.now()
        route, params, miss = self.route(req.method, req.path)
        operation = route.operation if route is not None else "unknown"
        fault: str | None = None
        error: str | None = None
        seller: str | None = params.get("sellerId")
        delay = self.config.latency_ms / 1000.0
        resp: Response | None = None
        with self.lock:
            try:
                for t in self._ticks:
                    t(self)
            except Exception:  # a bug in a module's tick: answer 500, keep the traceback
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                error = traceback.format_exc()
                resp = internal_failure()
            if resp is None and route is None:
                resp = (
                    api_error(404, "NotFound", "Resource not found.", f"No resource at {req.path}")
                    if miss == 404
                    else api_error(
                        405, "MethodNotAllowed", "Method not allowed.", f"{req.method} {req.path}"
                    )
                )
            elif resp is None and len(req.body) > self.config.max_body_bytes:
                resp = too_large()
            if resp is None and route is not None and route.auth and self.config.faults.any:
                fault = self.config.faults.draw(self.rng)
                if fault == "429":
                    resp = quota_exceeded()
                elif fault == "500":
                    resp = internal_failure()
                elif fault == "503":
                    resp = service_unavailable()
                elif fault in ("reset", "timeout"):
                    self._log(rid, arrived, operation, req, 0, seller, fault, None)
                    if fault == "reset":
                        raise ConnectionResetError("injected fault: connection reset")
                    raise FaultTimeout("injected fault: timeout")
                elif fault == "expire":
                    from . import auth

                    auth.expire(self, req.headers.get("x-amz-access-token", ""))
                elif fault == "slow":
                    delay += self.config.faults.slow_ms / 1000.0
            if resp is None and route is not None:
                resp, seller, error = self._dispatch(route, req, params, seller)
            assert resp is not None
            resp.headers["x-amzn-RequestId"] = rid
            if route is not None and (200 <= resp.status < 300 or resp.status in (400, 404)):
                limit = quota.rate_header(self, route.operation)
                if limit is not None and route.quota:
                    resp.headers["x-amzn-RateLimit-Limit"] = limit
            self._log(rid, arrived, operation, req, resp.status, seller, fault, error)
        if delay > 0:
            self.sleep(self.config.scaled(delay))
        return resp

    def refuse(self, req: Request, resp: Response) -> Response:
        """Answer ``resp`` to a request a surface rejected before reading it (e.g. 413 by its
        Content-Length): adds the request id and records the call."""
        rid = str(uuid.uuid4())
        route, _, _ = self.route(req.method, req.path)
        resp.headers["x-amzn-RequestId"] = rid
        with self.lock:
            self._log(
                rid,
                self.now(),
                route.operation if route else "unknown",
                req,
                resp.status,
                None,
                None,
                None,
            )
        return resp

    def _dispatch(
        self, route: Route, req: Request, params: dict[str, str], seller: str | None
    ) -> tuple[Response, str | None, str | None]:
        if route.auth:
            from . import auth

            principal = auth.authenticate(self, req, seller)
            if isinstance(principal, Response):
                return principal, seller, None
            seller = seller or principal.seller_id
        params["_seller_id"] = seller or ""
        if route.quota and not quota.take(self, seller or "-", route.operation):
            return quota_exceeded(), seller, None
        try:
            if self.config.sandbox:
                sb = self.module("sandbox") or _try_import("sandbox")
                if sb is not None:
                    r = sb.respond(self, route, req, params)
                    if r is not None:
                        return r, seller, None
            return route.handler(self, req, params), seller, None
        except ApiError as e:
            return e.response, seller, None
        except Exception:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            return internal_failure(), seller, traceback.format_exc()

    def _log(
        self,
        rid: str,
        arrived: float,
        operation: str,
        req: Request,
        status: int,
        seller: str | None,
        fault: str | None,
        error: str | None,
    ) -> None:
        if self._closed:
            return
        store.insert_call(
            self.db,
            CallRecord(
                arrived,
                operation,
                req.method,
                req.path,
                status,
                seller,
                req.query,
                fault,
                error,
                rid,
            ),
        )


def _try_import(name: str) -> ModuleType | None:
    full = f"{__package__}.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as e:
        if e.name != full:
            raise
        return None


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


__all__ = [
    "ApiError",
    "CallRecord",
    "Emulator",
    "EmulatorConfig",
    "FaultSpec",
    "HistoryRecord",
    "json_body",
    "json_response",
]
