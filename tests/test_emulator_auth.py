"""Emulator LWA endpoint and access-token checks: form and JSON exchange, LWA error bodies,
403 Unauthorized (missing, invalid, expired, revoked), seller binding of refresh tokens (strict by
default, permissive on request), scaled expiry, grantless tokens and their scopes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from reconciler.emulator import auth
from reconciler.emulator.app import Emulator
from reconciler.emulator.state import EmulatorConfig

SELLER = "A1PP0FEH11RW77"
US = "ATVPDKIKX0DER"
TOKEN_URL = "https://api.amazon.com/auth/o2/token"
ITEM = f"/listings/2021-08-01/items/{SELLER}/NOPE"


class Clock:
    def __init__(self) -> None:
        self.t = 50.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(clock: Clock, **cfg: object) -> Emulator:
    return Emulator(config=EmulatorConfig(**cfg), clock=clock)  # type: ignore[arg-type]


REFRESH = ("Atzr|abc", "Atzr|j", "r")  # registered for SELLER by the fixture


@pytest.fixture
def emu(clock: Clock) -> Iterator[Emulator]:
    e = make(clock)
    for rt in REFRESH:
        auth.register_refresh_token(e, rt, seller_id=SELLER)
    yield e
    e.close()


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=emu.transport(), base_url="https://sellingpartnerapi-na.amazon.com"
    ) as c:
        yield c


def exchange_form(c: httpx.Client, **fields: str) -> httpx.Response:
    return c.post(TOKEN_URL, data={"grant_type": "refresh_token", **fields})


def test_form_exchange(client: httpx.Client) -> None:
    r = exchange_form(client, refresh_token="Atzr|abc", client_id="app", client_secret="s")
    assert r.status_code == 200
    body = r.json()
    assert body["access_token"].startswith("Atza|")
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["refresh_token"] == "Atzr|abc"
    assert r.headers["cache-control"] == "no-store"
    assert "x-amzn-RequestId" in r.headers
    got = client.get(
        ITEM, params={"marketplaceIds": US}, headers={"x-amz-access-token": body["access_token"]}
    )
    assert got.status_code == 404  # authorized; the SKU just does not exist


def test_json_exchange(client: httpx.Client) -> None:
    r = client.post(
        TOKEN_URL,
        json={
            "grant_type": "refresh_token",
            "refresh_token": "Atzr|j",
            "client_id": "a",
            "client_secret": "b",
        },
    )
    assert r.status_code == 200 and r.json()["access_token"].startswith("Atza|")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"refresh_token": "x"}, "invalid_request"),  # no grant_type
        ({"grant_type": "refresh_token"}, "invalid_request"),
        ({"grant_type": "password", "refresh_token": "x"}, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, "invalid_scope"),
        ({"grant_type": "client_credentials", "scope": "sellingpartnerapi::listings"},
         "invalid_scope"),
        ({"grant_type": "refresh_token", "refresh_token": "Atzr|unknown"}, "invalid_grant"),
        ({"grant_type": "refresh_token", "refresh_token": "x", "scope": "s"}, "invalid_request"),
    ],
)
def test_lwa_errors(client: httpx.Client, data: dict[str, str], error: str) -> None:
    r = client.post(TOKEN_URL, data=data)
    assert r.status_code == 400
    assert r.json()["error"] == error
    assert r.json()["error_description"]


def test_lwa_malformed_body(client: httpx.Client) -> None:
    r = client.post(TOKEN_URL, content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = client.post(TOKEN_URL, content=b"x", headers={"content-type": "text/xml"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_grantless_token(client: httpx.Client) -> None:
    r = client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials", "scope": "sellingpartnerapi::notifications"},
    )
    assert r.status_code == 200 and "refresh_token" not in r.json()
    assert r.json()["scope"] == "sellingpartnerapi::notifications"
    # a grantless token carries no seller's authorization: every seller operation refuses it
    h = {"x-amz-access-token": r.json()["access_token"]}
    for method, path in (("GET", ITEM), ("GET", f"/listings/2021-08-01/items/{SELLER}"),
                         ("GET", "/feeds/2021-06-30/feeds"),
                         ("GET", "/supplySources/2020-07-01/supplySources"),
                         ("GET", "/orders/v0/orders")):
        got = client.request(method, path, params={"marketplaceIds": US}, headers=h)
        assert got.status_code == 403, path
        assert got.json() == unauthorized(""), path


def unauthorized(details: str) -> dict[str, object]:
    return {
        "errors": [
            {
                "code": "Unauthorized",
                "message": "Access to requested resource is denied.",
                "details": details,
            }
        ]
    }


def test_missing_and_invalid_token_are_403(client: httpx.Client) -> None:
    r = client.get(ITEM, params={"marketplaceIds": US})
    assert r.status_code == 403
    assert r.json() == unauthorized(auth.INVALID_DETAILS)
    assert "x-amzn-RateLimit-Limit" not in r.headers
    assert "x-amzn-RequestId" in r.headers
    r = client.get(ITEM, params={"marketplaceIds": US}, headers={"x-amz-access-token": "Atza|no"})
    assert r.status_code == 403 and r.json() == unauthorized(auth.INVALID_DETAILS)


def test_token_expires_after_scaled_ttl(clock: Clock) -> None:
    with (
        make(clock, time_scale=10.0, token_ttl_s=3600) as e,
        httpx.Client(transport=e.transport(), base_url="https://x") as c,
    ):
        auth.register_refresh_token(e, "r", seller_id=SELLER)
        body = exchange_form(c, refresh_token="r").json()
        assert body["expires_in"] == 360
        h = {"x-amz-access-token": body["access_token"]}
        clock.t += 359
        assert c.get(ITEM, params={"marketplaceIds": US}, headers=h).status_code == 404
        clock.t += 1
        r = c.get(ITEM, params={"marketplaceIds": US}, headers=h)
        assert r.status_code == 403 and r.json() == unauthorized(auth.EXPIRED_DETAILS)


def test_revoked_token(emu: Emulator, client: httpx.Client) -> None:
    tok = auth.issue_token(emu, SELLER)
    auth.revoke(emu, tok)
    r = client.get(ITEM, params={"marketplaceIds": US}, headers={"x-amz-access-token": tok})
    assert r.status_code == 403


def test_strict_mode_accepts_only_registered_refresh_tokens(clock: Clock) -> None:
    with (
        make(clock) as e,
        httpx.Client(transport=e.transport(), base_url="https://x") as c,
    ):
        e.seed(
            {
                "refreshTokens": [
                    {
                        "refreshToken": "Atzr|good",
                        "sellerId": "A2OTHER",
                        "clientId": "app",
                        "clientSecret": "sec",
                    }
                ]
            }
        )
        r = exchange_form(c, refresh_token="Atzr|bad", client_id="app", client_secret="sec")
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
        r = exchange_form(c, refresh_token="Atzr|good", client_id="app", client_secret="nope")
        assert r.status_code == 401 and r.json()["error"] == "invalid_client"
        r = exchange_form(c, refresh_token="Atzr|good", client_id="app", client_secret="sec")
        assert r.status_code == 200
        h = {"x-amz-access-token": r.json()["access_token"]}
        # the token acts for A2OTHER only
        r = c.get(ITEM, params={"marketplaceIds": US}, headers=h)
        assert r.status_code == 403 and r.json() == unauthorized("")
        assert r.headers["x-amzn-ErrorType"] == "AccessDeniedException"
        other = "/listings/2021-08-01/items/A2OTHER/NOPE"
        assert c.get(other, params={"marketplaceIds": US}, headers=h).status_code == 404


def test_permissive_mode_exchanges_any_refresh_token(clock: Clock) -> None:
    with (
        make(clock, permissive=True) as e,
        httpx.Client(transport=e.transport(), base_url="https://x") as c,
    ):
        auth.register_refresh_token(e, "Atzr|bound", seller_id="A2OTHER")
        tok = exchange_form(c, refresh_token="Atzr|anything").json()["access_token"]
        h = {"x-amz-access-token": tok}
        for seller in (SELLER, "A2OTHER"):  # unbound: acts for the seller the path names
            path = f"/listings/2021-08-01/items/{seller}/NOPE"
            assert c.get(path, params={"marketplaceIds": US}, headers=h).status_code == 404
        # a registered refresh token stays bound to its seller in permissive mode too
        bound = exchange_form(c, refresh_token="Atzr|bound").json()["access_token"]
        r = c.get(ITEM, params={"marketplaceIds": US}, headers={"x-amz-access-token": bound})
        assert r.status_code == 403


def test_tokens_survive_a_restart(tmp_path: object, clock: Clock) -> None:
    db = str(tmp_path) + "/emu.db"  # type: ignore[operator]
    with Emulator(db, clock=clock) as e:
        tok = auth.issue_token(e, SELLER)
        grantless = auth.issue_token(e, "", scope="sellingpartnerapi::notifications")
    with (
        Emulator(db, clock=clock) as e,
        httpx.Client(transport=e.transport(), base_url="https://x") as c,
    ):
        r = c.get(ITEM, params={"marketplaceIds": US}, headers={"x-amz-access-token": tok})
        assert r.status_code == 404
        r = c.get(ITEM, params={"marketplaceIds": US},
                  headers={"x-amz-access-token": grantless})
        assert r.status_code == 403  # still grantless after the restart
