"""Test doubles for the SP-API client tests: a fake clock and a MockTransport-based fake Amazon."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import httpx

from reconciler.spapi.client import SpApiClient

SELLER = "A1SELLER0TEST"
BASE = "https://sellingpartnerapi-na.amazon.com"
TOKEN_URL = "https://api.amazon.com/auth/o2/token"
REFRESH = "Atzr|test-refresh-token-very-secret-0123456789"
CLIENT_ID = "amzn1.application-oa2-client.test"
SECRET = "client-secret-very-secret-9876543210"
US = "ATVPDKIKX0DER"


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it (thread-safe)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def json_response(status: int, obj: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    h = {"x-amzn-RequestId": "req-0001"}
    h.update(headers or {})
    return httpx.Response(status, json=obj, headers=h)


def amazon_error(status: int, code: str, message: str, details: str = "") -> httpx.Response:
    return json_response(
        status, {"errors": [{"code": code, "message": message, "details": details}]}
    )


class FakeAmazon:
    """A MockTransport handler: LWA + whatever ``api`` returns for SP-API requests.

    Records every request (``requests``) and every LWA call (``token_calls``).
    """

    def __init__(
        self,
        api: Callable[[httpx.Request], httpx.Response] | None = None,
        *,
        expires_in: int = 3600,
    ) -> None:
        self.api = api or (lambda r: json_response(200, {}))
        self.expires_in = expires_in
        self.requests: list[httpx.Request] = []
        self.sent_tokens: list[str | None] = []  # x-amz-access-token of each API request, as sent
        self.token_calls: list[httpx.Request] = []
        self.tokens_issued: list[str] = []
        self.token_response: Callable[[httpx.Request], httpx.Response] | None = None
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            with self._lock:
                self.token_calls.append(request)
                if self.token_response is not None:
                    return self.token_response(request)
                token = f"Atza|access-token-{len(self.token_calls):04d}-abcdefgh"
                self.tokens_issued.append(token)
            return httpx.Response(
                200,
                json={
                    "access_token": token,
                    "token_type": "bearer",
                    "expires_in": self.expires_in,
                    "refresh_token": REFRESH,
                },
                headers={"cache-control": "no-store"},
            )
        with self._lock:
            self.requests.append(request)
            self.sent_tokens.append(request.headers.get("x-amz-access-token"))
        return self.api(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def operations(self) -> list[str]:
        """The path tails of the SP-API requests, for call counting."""
        return [r.url.path for r in self.requests]


def make_client(
    fake: FakeAmazon, clock: FakeClock | None = None, **kwargs: Any
) -> tuple[SpApiClient, FakeClock]:
    clock = clock or FakeClock()
    client = SpApiClient(
        seller_id=SELLER,
        base_url=BASE,
        token_url=TOKEN_URL,
        refresh_token=REFRESH,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        transport=fake.transport(),
        clock=clock,
        sleep=clock.sleep,
        **kwargs,
    )
    return client, clock


def query(request: httpx.Request) -> dict[str, str]:
    return {k: v for k, v in request.url.params.items()}


def path_sku(request: httpx.Request) -> str:
    return unquote(request.url.raw_path.decode().split("?")[0].rsplit("/", 1)[-1])


def body(request: httpx.Request) -> Any:
    return json.loads(request.content.decode("utf-8"))
