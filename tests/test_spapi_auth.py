"""LWA auth as an httpx.Auth:

- the token request is form-encoded with the refresh-token grant, sent once and cached;
- the access token travels in ``x-amz-access-token``;
- refresh ahead of expiry; one refresh + retry on a token 403, never a loop;
- a 403 that is not about the token is not retried;
- concurrent callers share one refresh;
- LWA failures become AuthError / ServerError without any secret in the message.
"""

from __future__ import annotations

import threading
from urllib.parse import parse_qs

import httpx
import pytest

from reconciler.kernel import redact
from reconciler.kernel.errors import AuthError, ServerError
from tests.spapi_fakes import (
    CLIENT_ID,
    REFRESH,
    SECRET,
    US,
    FakeAmazon,
    amazon_error,
    json_response,
    make_client,
)

EXPIRED = "The access token you provided has expired."


def ok(request: httpx.Request) -> httpx.Response:
    return json_response(200, {"sku": "X"}, {"x-amzn-RateLimit-Limit": "5.0"})


def test_token_request_is_form_encoded_refresh_grant() -> None:
    fake = FakeAmazon(ok)
    client, _ = make_client(fake)
    with client:
        client.get_listings_item("X", [US])
    (req,) = fake.token_calls
    assert req.method == "POST"
    assert req.headers["content-type"].startswith("application/x-www-form-urlencoded")
    form = {k: v[0] for k, v in parse_qs(req.content.decode()).items()}
    assert form == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
    }
    assert "x-amz-access-token" not in req.headers


def test_access_token_header_and_cache() -> None:
    fake = FakeAmazon(ok)
    client, _ = make_client(fake)
    with client:
        for _ in range(3):
            client.get_listings_item("X", [US])
    assert len(fake.token_calls) == 1
    assert set(fake.sent_tokens) == {fake.tokens_issued[0]}
    assert client.tokens.fetches == 1


def test_refresh_ahead_of_expiry() -> None:
    fake = FakeAmazon(ok, expires_in=3600)
    client, clock = make_client(fake)
    with client:
        client.get_listings_item("X", [US])
        clock.advance(3600 - 61)
        client.get_listings_item("X", [US])
        assert len(fake.token_calls) == 1
        clock.advance(2)  # now within 60 s of expiry
        client.get_listings_item("X", [US])
    assert len(fake.token_calls) == 2
    assert fake.sent_tokens[-1] == fake.tokens_issued[1]


def test_short_lived_tokens_refresh_ahead_proportionally() -> None:
    fake = FakeAmazon(ok, expires_in=30)  # an emulator with a fast time scale
    client, clock = make_client(fake)
    with client:
        client.get_listings_item("X", [US])
        client.get_listings_item("X", [US])
        assert len(fake.token_calls) == 1  # a 60 s margin would refresh every time
        clock.advance(28)
        client.get_listings_item("X", [US])
    assert len(fake.token_calls) == 2


def test_expired_token_403_refreshes_once_and_retries() -> None:
    state = {"n": 0}

    def api(request: httpx.Request) -> httpx.Response:
        state["n"] += 1
        if state["n"] == 1:
            return amazon_error(
                403, "Unauthorized", "Access to requested resource is denied.", EXPIRED
            )
        return ok(request)

    fake = FakeAmazon(api)
    client, _ = make_client(fake)
    with client:
        assert client.get_listings_item("X", [US]) == {"sku": "X"}
    assert len(fake.token_calls) == 2
    assert fake.sent_tokens == fake.tokens_issued  # old token, then the refreshed one


def test_persistent_403_raises_auth_error_after_one_refresh() -> None:
    fake = FakeAmazon(
        lambda r: amazon_error(
            403,
            "Unauthorized",
            "Access to requested resource is denied.",
            "The access token you provided is revoked, malformed or invalid.",
        )
    )
    client, _ = make_client(fake)
    with client, pytest.raises(AuthError) as ei:
        client.get_listings_item("X", [US])
    assert len(fake.requests) == 2  # no retry loop
    assert len(fake.token_calls) == 2
    assert ei.value.status == 403
    assert ei.value.errors[0].code == "Unauthorized"


def test_403_not_about_the_token_is_not_retried() -> None:
    fake = FakeAmazon(
        lambda r: amazon_error(403, "Unauthorized", "Access to requested resource is denied.")
    )
    client, _ = make_client(fake)
    with client, pytest.raises(AuthError):
        client.get_listings_item("X", [US])
    assert len(fake.requests) == 1
    assert len(fake.token_calls) == 1


def test_concurrent_callers_share_one_refresh() -> None:
    fake = FakeAmazon(ok)
    client, _ = make_client(fake)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            client.tokens.token()
        except BaseException as e:
            errors.append(e)

    with client:
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # A token 403 seen by several threads with the same stale token: one refresh.
        stale = client.tokens.token()
        new = [client.tokens.refresh(stale) for _ in range(5)]
    assert errors == []
    assert len(fake.token_calls) == 2
    assert len(set(new)) == 1


def test_invalid_grant_is_auth_error_without_secrets() -> None:
    fake = FakeAmazon(ok)
    fake.token_response = lambda r: httpx.Response(
        400,
        json={
            "error": "invalid_grant",
            # a hostile/buggy server echoing the secret must still not leak it
            "error_description": f"The request has an invalid grant parameter : {REFRESH}",
        },
    )
    client, _ = make_client(fake)
    with client, pytest.raises(AuthError) as ei:
        client.get_listings_item("X", [US])
    e = ei.value
    text = "\n".join([str(e), *e.lines(), repr(e.errors)])
    for secret in (REFRESH, SECRET):
        assert secret not in text
    assert "invalid_grant" in str(e)
    assert e.operation == "lwaToken"
    assert fake.requests == []  # never called the API without a token


def test_lwa_outage_is_retried_then_server_error() -> None:
    fake = FakeAmazon(ok)
    fake.token_response = lambda r: httpx.Response(503, json={"error": "temporarily_unavailable"})
    client, clock = make_client(fake, max_retries=2)
    with client, pytest.raises(ServerError):
        client.get_listings_item("X", [US])
    assert len(fake.token_calls) == 3  # 1 + 2 retries
    assert len(clock.sleeps) == 2


def test_secrets_are_registered_for_redaction() -> None:
    redact.clear()
    fake = FakeAmazon(ok)
    client, _ = make_client(fake)
    with client:
        client.get_listings_item("X", [US])
    text = f"refresh={REFRESH} secret={SECRET} access={fake.tokens_issued[0]}"
    assert redact.redact(text) == "refresh=*** secret=*** access=***"
