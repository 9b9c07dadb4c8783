"""The transport under :class:`~reconciler.spapi.client.SpApiClient`: one ``httpx.Client`` with
LWA auth, the per-operation token buckets, backoff with jitter, and Amazon's errors mapped to
typed ones. The operations themselves are in ``client``."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from reconciler.kernel.errors import ApiError, ApiErrorDetail, ServerError, ThrottledError
from reconciler.kernel.fastjson import loads_json
from reconciler.kernel.model import to_json_value
from reconciler.kernel.quotas import (
    JSON_LISTINGS_FEED_WINDOW,
    QUOTAS,
    Quota,
)
from reconciler.spapi.ratelimit import RateLimiter, SlidingWindow

from .. import __version__
from .auth import LwaAuth, LwaTokenSource
from .errors import (
    RATE_LIMIT_HEADER,
    REQUEST_ID_HEADER,
    error_from_response,
    error_from_transport,
)
from .scheduler import RetryPolicy, run_with_retries
from .stats import ClientStats

DEFAULT_USER_AGENT = (
    f"reconciler/{__version__} (Language=Python/{sys.version_info.major}.{sys.version_info.minor})"
)
log = logging.getLogger("reconciler.spapi.client")  # debug lines: operation, status, delay
C = TypeVar("C", bound="ClientBase")
_NO_AUTH: Any = None  # httpx: auth=None on a request means "no auth at all" (presigned URLs)


class ClientBase:
    """The transport of one seller's SP-API endpoint: the HTTP clients, the LWA token, the
    rate limiter, the retries, the typed errors and the call statistics."""

    def __init__(
        self,
        *,
        seller_id: str,
        base_url: str,
        token_url: str,
        refresh_token: str,
        client_id: str,
        client_secret: str,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 8,
        rate_scale: float = 1.0,
        timeout: float = 30.0,
        user_agent: str = DEFAULT_USER_AGENT,
        quotas: Mapping[str, Quota] | None = None,
        scope: str | None = None,
    ) -> None:
        """``quotas`` replaces the seed table of the token buckets (default: Amazon's
        production usage plans, ``reconciler.kernel.quotas.QUOTAS``; the sandbox has its own).
        ``scope``: a grantless client (LWA ``client_credentials`` with that scope, e.g.
        ``auth.NOTIFICATIONS_SCOPE``) instead of the seller's refresh token."""
        self.seller_id = seller_id
        self.base_url = base_url.rstrip("/")
        self.rate_scale = rate_scale
        self._clock = clock
        self._sleep = sleep
        self.stats = ClientStats()
        self.limiter = RateLimiter(
            rate_scale=rate_scale,
            clock=clock,
            sleep=sleep,
            quotas=dict(quotas if quotas is not None else QUOTAS),
        )
        self.retry = RetryPolicy(max_retries=max_retries).scaled(rate_scale)
        window = JSON_LISTINGS_FEED_WINDOW  # per seller and region: this client's
        self.feed_window = SlidingWindow(
            window.limit, window.seconds / rate_scale, clock=clock, sleep=sleep
        )
        headers = {"user-agent": user_agent, "accept": "application/json"}
        # Token requests go to a different host (api.amazon.com) and must not carry the auth.
        self._token_http = httpx.Client(transport=transport, timeout=timeout, headers=headers)
        self.tokens = LwaTokenSource(
            token_url=token_url,
            refresh_token=refresh_token,
            client_id=client_id,
            client_secret=client_secret,
            http=self._token_http,
            clock=clock,
            sleep=sleep,
            retry=RetryPolicy(max_retries=min(max_retries, 3)).scaled(rate_scale),
            stats=self.stats,
            scope=scope,
        )
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout,
            headers=headers,
            auth=LwaAuth(self.tokens),
        )

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        self._http.close()
        self._token_http.close()

    def __enter__(self: C) -> C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ core

    def _request(
        self,
        operation: str,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        metered: bool = True,
        signed: bool = True,
        limit: str | None = None,
        retry_throttled: bool = True,
    ) -> httpx.Response:
        """Send one logical call with bucket, retries and stats; return the 2xx response.
        ``limit``: the bucket's key when it is not the operation's (previews,
        ``quotas.limit_key``); ``retry_throttled=False`` raises a 429 at once (the caller
        paces itself by a window instead)."""
        bucket = limit or operation
        hdrs = dict(headers or {})
        if body is not None:
            content = json.dumps(to_json_value(body), ensure_ascii=False).encode("utf-8")
            hdrs.setdefault("content-type", "application/json")

        def attempt(retries: int) -> httpx.Response:
            if metered:
                self.limiter.acquire(bucket)
            start = self._clock()
            try:
                if signed:
                    r = self._http.request(
                        method, url, params=params, content=content, headers=hdrs
                    )
                else:
                    r = self._http.request(
                        method, url, params=params, content=content, headers=hdrs, auth=_NO_AUTH
                    )
            except httpx.RequestError as e:
                self.stats.record_call(operation, self._clock() - start, 0)
                raise error_from_transport(e, operation, retries=retries) from e
            self.stats.record_call(operation, self._clock() - start, r.status_code)
            if metered:
                if r.status_code == 429:
                    self.limiter.bucket(bucket).drain()
                else:
                    self.limiter.observe_limit_header(bucket, r.headers.get(RATE_LIMIT_HEADER))
            if not 200 <= r.status_code < 300:
                raise error_from_response(r, operation, retries=retries)
            return r

        def on_retry(n: int, e: BaseException, delay: float) -> None:
            self.stats.record_retry(operation)
            status = getattr(e, "status", 0) or type(e).__name__
            log.debug("%s: %s, retry %d in %.3f s", operation, status, n + 1, delay)

        try:
            return run_with_retries(
                attempt,
                # LWA failures (operation "lwaToken") were already retried by the token source
                retryable=lambda e: (
                    isinstance(e, (ThrottledError, ServerError))
                    and e.operation == operation
                    and (retry_throttled or not isinstance(e, ThrottledError))
                ),
                policy=self.retry,
                sleep=self._sleep,
                on_retry=on_retry,
            )
        except ApiError:
            self.stats.record_error(operation)
            raise

    def _json(self, operation: str, r: httpx.Response) -> dict[str, Any]:
        try:
            data = loads_json(r.content)
        except ValueError as e:
            raise ServerError(
                "response is not JSON",
                status=r.status_code,
                operation=operation,
                request_id=r.headers.get(REQUEST_ID_HEADER, ""),
            ) from e
        if not isinstance(data, dict):
            raise ServerError(
                "response is not a JSON object",
                status=r.status_code,
                operation=operation,
                request_id=r.headers.get(REQUEST_ID_HEADER, ""),
                errors=(ApiErrorDetail("UnexpectedShape", type(data).__name__),),
            )
        return data
