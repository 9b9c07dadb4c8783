"""The emulator: the request pipeline over the state and the modules, wired together.

``Emulator.handle(Request) -> Response`` is the single implementation behind both surfaces (the
threaded HTTP server in ``server.py`` and the httpx transport in ``transport.py``). For every
request it:

1. assigns an ``x-amzn-RequestId`` (present on every response);
2. ticks every module under ``emu.lock`` (due pending writes applied, feeds advanced);
3. routes it (unknown path -> 404, known path with another method -> 405, Amazon-shaped; an
   unknown path under the Listings Items API -> 403, as Amazon's gateway answers);
4. draws an injected fault (``faults.py``) for authenticated SP-API routes;
5. checks ``x-amz-access-token`` for ``route.auth`` routes (403 ``Unauthorized``, seller binding:
   ``auth.py``);
6. takes the tokens of the request's usage plans (429, ``quota.py``);
7. answers from the sandbox vectors when ``config.sandbox`` (``sandbox.respond``), else calls
   the handler; a handler exception is a 500 ``InternalFailure`` whose traceback goes to the
   call log (tests assert none happened);
8. adds ``x-amzn-RateLimit-Limit`` on 2xx/400/404 and records a call-log row.

The modules of :data:`MODULES` may define ``ROUTES``, ``init_schema(conn)``, ``tick(emu)`` and
``seed(emu, data)``. They depend on ``state`` (:class:`~reconciler.emulator.state.EmulatorState`,
the configuration and the shared errors), never on this module. Handlers receive the decoded
path parameters plus ``params["_seller_id"]``: the seller the call acts for (path ``sellerId``,
else the access token's seller). Handlers may raise :class:`ApiError` to answer with a response.
The names modules share are re-exported here for callers that import them from ``app``.
"""

from __future__ import annotations

import re
import traceback
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Any
from urllib.parse import unquote

from . import (
    auth,
    aws_translate_api,
    deepl_api,
    deepl_glossaries_v3,
    feeds,
    fulfillment_feed,
    listing_api,
    listings,
    listings_store,
    machine_translation,
    orders,
    orders_store,
    product_type_api,
    quota,
    sandbox,
    store,
    supply_sources,
)
from .faults import FaultSpec, FaultTimeout
from .http import Request, Response, Route, api_error, json_response
from .seed import load_seed_file
from .state import (
    DEFAULT_SELLER_ID,
    ApiError,
    EmulatorConfig,
    EmulatorState,
    dumps,
    internal_failure,
    iso,
    json_body,
    parse_iso,
    service_unavailable,
    too_large,
)
from .store import CallRecord, HistoryRecord
from .transport import EmulatorTransport

# State and route modules, in schema order (listings before feeds before orders).
MODULES: tuple[ModuleType, ...] = (
    auth, listings_store, listings, listing_api, feeds, supply_sources, orders_store, orders,
    fulfillment_feed, product_type_api,
    # machine translation services beside SP-API (issue 16): DeepL and Amazon Translate
    machine_translation, deepl_api, deepl_glossaries_v3, aws_translate_api,
)
LISTINGS_ITEMS_PREFIX = "/listings/2021-08-01/items/"


def quota_exceeded() -> Response:
    return quota.throttled()


def info(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    """``GET /_emulator/info``: the time scale, for a local client to pace itself by (not an
    Amazon API; like the document URLs, it lives under ``/_emulator``; not in the call log)."""
    return json_response(200, {"timeScale": emu.config.time_scale})


INFO_ROUTES = [
    Route("GET", "/_emulator/info", "emulatorInfo", info, auth=False, quota=False, logged=False)
]


class Emulator(EmulatorState):
    """A stateful fake Amazon. Thread-safe: every db use happens under ``self.lock``."""

    def __init__(
        self,
        db: str = ":memory:",
        config: EmulatorConfig | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__(db, config, clock, sleep)
        self.modules = list(MODULES)
        with self.lock:
            for m in self.modules:
                init = getattr(m, "init_schema", None)
                if init is not None:
                    init(self.db)
        self._ticks = [m.tick for m in self.modules if hasattr(m, "tick")]
        self.routes: list[Route] = [
            *(r for m in self.modules for r in getattr(m, "ROUTES", [])),
            *INFO_ROUTES,
        ]
        self._compiled: list[tuple[re.Pattern[str], Route]] = [
            (re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", r.pattern)), r)
            for r in self.routes
        ]

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open_readonly(cls, db: str) -> Emulator:
        """Open a db written by another process (e.g. a server subprocess) to read its logs."""
        return cls(db)

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transport(self) -> EmulatorTransport:
        """An ``httpx.BaseTransport`` that calls this emulator in-process."""
        return EmulatorTransport(self)

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
        with self.lock:
            listings_store.put_direct(
                self, seller_id, sku, marketplace_id, product_type, attributes
            )

    def listing_state(self, seller_id: str, sku: str, marketplace_id: str) -> dict[str, Any] | None:
        """Stored ``{productType, attributes, createdDate, lastUpdatedDate, issues}`` or None."""
        with self.lock:
            return listings_store.state(self, seller_id, sku, marketplace_id)

    def tick(self) -> None:
        with self.lock:
            for t in self._ticks:
                t(self)

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
            self.arrived = arrived
            try:
                for t in self._ticks:
                    t(self)
            except Exception:  # a bug in a module's tick: answer 500, keep the traceback
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                error = traceback.format_exc()
                resp = internal_failure()
            if resp is None and route is None:
                if miss == 404 and req.path.startswith(LISTINGS_ITEMS_PREFIX):
                    # e.g. a SKU with an unencoded '/': Amazon's gateway answers 403 (docs#467)
                    resp = auth.unauthorized(auth.DENIED_DETAILS)
                elif miss == 404:
                    resp = api_error(
                        404, "NotFound", "Resource not found.", f"No resource at {req.path}"
                    )
                else:
                    resp = api_error(
                        405, "MethodNotAllowed", "Method not allowed.", f"{req.method} {req.path}"
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
                    auth.expire(self, req.headers.get("x-amz-access-token", ""))
                elif fault == "slow":
                    delay += self.config.faults.slow_ms / 1000.0
            if resp is None and route is not None:
                resp, seller, error = self._dispatch(route, req, params, seller)
            assert resp is not None
            resp.headers["x-amzn-RequestId"] = rid
            if route is not None and (200 <= resp.status < 300 or resp.status in (400, 404)):
                limit = quota.rate_header(self, quota.key_for(route, req))
                if limit is not None and route.quota:
                    resp.headers["x-amzn-RateLimit-Limit"] = limit
            if route is None or route.logged:
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
        app = "-"
        if route.auth:
            principal = auth.authenticate(self, req, route, seller)
            if isinstance(principal, Response):
                return principal, seller, None
            seller = auth.acting_seller(self, principal, route, seller)
            app = principal.client_id
        params["_seller_id"] = seller or ""
        refused = quota.admit(self, quota.key_for(route, req), route, req, seller or "-", app)
        if refused is not None:
            return refused, seller, None
        try:
            if self.config.sandbox:
                r = sandbox.respond(self, route, req, params)
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



__all__ = [
    "DEFAULT_SELLER_ID",
    "ApiError",
    "CallRecord",
    "Emulator",
    "EmulatorConfig",
    "EmulatorState",
    "FaultSpec",
    "HistoryRecord",
    "dumps",
    "internal_failure",
    "iso",
    "json_body",
    "json_response",
    "parse_iso",
    "quota_exceeded",
    "service_unavailable",
    "too_large",
]
