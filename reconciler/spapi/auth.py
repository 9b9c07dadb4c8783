"""Login with Amazon (LWA) as an ``httpx.Auth``: refresh-token grant, cached access token.

- Grantless operations (e.g. the Notifications API's destinations) use the
  ``client_credentials`` grant with a ``scope`` instead of a refresh token
  (https://developer-docs.amazon.com/sp-api/docs/grantless-operations): give ``scope``
  (:data:`NOTIFICATIONS_SCOPE`) and the token source asks for such a token.

- The access token goes into ``x-amz-access-token`` (no SigV4 since 2023, CONTRACT.md §1.2).
- One token per client, shared by all its threads; a refresh happens under a lock so N
  threads that find the token stale cause one LWA call, not N.
- Refreshed ahead of expiry (``min(60 s, expires_in / 10)`` early, so short-lived emulator
  tokens work too).
- A 403 that says the token is invalid triggers one refresh and one retry of the request; a
  second 403 is returned to the caller (and becomes an ``AuthError``). A token that *expired*
  again by the time of the retry (shared by threads) is refreshed up to
  ``MAX_EXPIRED_REFRESHES`` times per request, never in an unbounded loop.
- The token request is form-encoded, like Amazon's JS helper (CONTRACT.md §1.1).
- Secrets (refresh token, client secret, access tokens) are registered with ``redact`` and
  never put into messages.
- Credentials leave only for the hosts :mod:`reconciler.kernel.destinations` allows (Amazon's,
  loopback, the operator's ``$RECONCILER_ALLOW_HOSTS``, the in-process embedded emulator):
  checked right before the refresh token is posted and before an access token is put on a
  request, whoever built the client (defence in depth behind ``validate`` and ``connect``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Generator

import httpx

from reconciler.kernel import redact
from reconciler.kernel.destinations import DestinationError, check_sent, operator_hosts
from reconciler.kernel.errors import ApiErrorDetail, AuthError, CredentialsError, ServerError

from .errors import RETRYABLE_STATUSES, error_from_transport, is_token_problem, parse_errors
from .scheduler import RetryPolicy, run_with_retries
from .stats import ClientStats

ACCESS_TOKEN_HEADER = "x-amz-access-token"  # noqa: S105 (a header name)
LWA_OPERATION = "lwaToken"
MAX_EXPIRED_REFRESHES = 3  # per request
NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"  # grantless Notifications operations


class LwaTokenSource:
    """Exchanges the refresh token for access tokens and caches them (thread-safe)."""

    def __init__(
        self,
        *,
        token_url: str,
        refresh_token: str,
        client_id: str,
        client_secret: str,
        http: httpx.Client,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryPolicy | None = None,
        stats: ClientStats | None = None,
        max_margin: float = 60.0,
        scope: str | None = None,
    ) -> None:
        for secret in (refresh_token, client_secret):
            if secret:
                redact.register(secret)
        self._url = token_url
        self.scope = scope
        if scope is None:
            self._form = {
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": client_id,
                "client_secret": client_secret,
            }
        else:  # grantless: no seller's authorization, the application's own token
            self._form = {
                "grant_type": "client_credentials",
                "scope": scope,
                "client_id": client_id,
                "client_secret": client_secret,
            }
        self._http = http
        self._clock = clock
        self._sleep = sleep
        self._retry = retry or RetryPolicy(max_retries=3)
        self._stats = stats
        self._max_margin = max_margin
        # hosts the operator allows besides Amazon's and loopback (connect sets it from the
        # environment it was given)
        self.allowed_hosts = operator_hosts(os.environ)
        self._checked: set[tuple[str, frozenset[str]]] = set()
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self.fetches = 0  # how many times LWA was called (tests, stats)

    def token(self) -> str:
        """A valid access token: the cached one, or a fresh one if it is (nearly) expired."""
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                self._fetch_locked()
            assert self._token is not None
            return self._token

    def refresh(self, stale: str | None) -> str:
        """Force a new token unless another thread already replaced ``stale``."""
        with self._lock:
            if self._token is None or self._token == stale:
                self._fetch_locked()
            assert self._token is not None
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def check_destination(self, url: str | httpx.URL) -> None:
        """Raise CredentialsError unless credentials may be sent to ``url``, as httpx parses it
        (the parser that sends the request decides the host, not another one)."""
        try:
            u = url if isinstance(url, httpx.URL) else httpx.URL(url)
            origin = f"{u.scheme}://{u.netloc.decode('ascii')}/"
        except (httpx.InvalidURL, UnicodeDecodeError):
            raise CredentialsError("refusing to send credentials: not a valid URL") from None
        key = (origin, self.allowed_hosts)
        if key in self._checked:
            return
        try:
            check_sent(origin, self.allowed_hosts)
        except DestinationError as e:
            raise CredentialsError(f"refusing to send credentials: {e}") from None
        self._checked.add(key)

    def _fetch_locked(self) -> None:
        self.check_destination(self._url)

        def attempt(retries: int) -> httpx.Response:
            start = self._clock()
            try:
                r = self._http.post(
                    self._url,
                    data=self._form,
                    headers={"content-type": "application/x-www-form-urlencoded;charset=UTF-8"},
                )
            except httpx.TransportError as e:
                raise error_from_transport(e, LWA_OPERATION, retries=retries) from e
            if self._stats is not None:
                self._stats.record_call(LWA_OPERATION, self._clock() - start, r.status_code)
            if r.status_code in RETRYABLE_STATUSES:
                raise ServerError(
                    "token endpoint unavailable",
                    status=r.status_code,
                    operation=LWA_OPERATION,
                    errors=parse_errors(r),
                )
            return r

        def on_retry(n: int, e: BaseException, d: float) -> None:
            if self._stats is not None:
                self._stats.record_retry(LWA_OPERATION)

        try:
            r = run_with_retries(
                attempt,
                retryable=lambda e: isinstance(e, ServerError),
                policy=self._retry,
                sleep=self._sleep,
                on_retry=on_retry,
            )
        except ServerError:
            if self._stats is not None:
                self._stats.record_error(LWA_OPERATION)
            raise
        self.fetches += 1
        if r.status_code != 200:
            if self._stats is not None:
                self._stats.record_error(LWA_OPERATION)
            raise AuthError(
                "LWA token request was refused",
                status=r.status_code,
                operation=LWA_OPERATION,
                errors=parse_errors(r),
            )
        try:
            data = r.json()
            token = str(data["access_token"])
            expires_in = float(data.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as e:
            raise AuthError(
                "LWA token response is not a token",
                status=r.status_code,
                operation=LWA_OPERATION,
                errors=(ApiErrorDetail("MalformedTokenResponse", type(e).__name__),),
            ) from None  # the body may contain a token: do not chain it into tracebacks
        redact.register(token)
        margin = min(self._max_margin, expires_in / 10)
        self._token = token
        self._refresh_at = self._clock() + expires_in - margin


class LwaAuth(httpx.Auth):
    """Puts the cached LWA access token on every request; refreshes once on a token 403."""

    requires_response_body = True  # the 403 body says whether the token was the problem

    def __init__(self, source: LwaTokenSource) -> None:
        self.source = source

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.source.check_destination(request.url)
        token = self.source.token()
        request.headers[ACCESS_TOKEN_HEADER] = token
        response = yield request
        if not is_token_problem(response):
            return
        # A token that merely *expired* may expire again between the refresh and the retry
        # (other threads share it; Amazon rotates on its own schedule), so it gets a fresh token
        # up to MAX_EXPIRED_REFRESHES times; any other token problem gets exactly one.
        for _ in range(MAX_EXPIRED_REFRESHES):
            token = self.source.refresh(stale=token)
            request.headers[ACCESS_TOKEN_HEADER] = token
            response = yield request
            if not (is_token_problem(response) and _says_expired(response)):
                return


def _says_expired(response: httpx.Response) -> bool:
    return any("expired" in f"{e.message} {e.details}".lower() for e in parse_errors(response))
