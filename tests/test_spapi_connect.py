"""Account -> client: region hosts, sandbox, base-URL overrides (Amazon's hosts and loopback; any
other host only when the operator allows it in RECONCILER_ALLOW_HOSTS, never by the catalog;
http only on loopback), LWA token URL defaults and the same host rule for token URLs, env/NAME
credentials (missing -> CredentialsError naming the variable, never a value; values registered
for redaction; names outside SP_API_*/LWA_*/RECONCILER_* refused), the last check in auth where
the token leaves, and the embedded emulator (one per state dir, persisted in emulator.db, seeded
once from demo_seed, never given the environment's real credentials)."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from reconciler.kernel import redact
from reconciler.kernel.errors import CredentialsError, ReconcilerError
from reconciler.kernel.marketplaces import LWA_TOKEN_URL
from reconciler.kernel.model import Account, Credentials
from reconciler.spapi import connect
from reconciler.spapi.connect import client_for, embedded_emulator

REAL_DEMO_SEED = connect._demo_seed
ENV = {
    "SP_API_REFRESH_TOKEN": "Atzr|connect-test-refresh-secret",
    "LWA_APP_ID": "amzn1.application-oa2-client.connect",
    "LWA_CLIENT_SECRET": "connect-test-client-secret",
}


def account(endpoint: str, region: str = "NA", **kw: Any) -> Account:
    return Account(
        name="na",
        seller_id="A1PP0FEH11RW77",
        region=region,
        endpoint=endpoint,
        marketplaces=(),
        **kw,
    )


@pytest.fixture(autouse=True)
def _close_emulators(monkeypatch: pytest.MonkeyPatch) -> Any:
    # The shipped demo seed is exercised by the demo's own tests; here the emulator starts empty.
    monkeypatch.setattr(connect, "_demo_seed", lambda: None)
    yield
    connect.close_embedded_emulators()


@pytest.mark.parametrize(
    ("endpoint", "region", "base"),
    [
        ("production", "NA", "https://sellingpartnerapi-na.amazon.com"),
        ("production", "EU", "https://sellingpartnerapi-eu.amazon.com"),
        ("production", "FE", "https://sellingpartnerapi-fe.amazon.com"),
        ("sandbox", "EU", "https://sandbox.sellingpartnerapi-eu.amazon.com"),
        ("https://sellingpartnerapi-fe.amazon.com/", "FE", "https://sellingpartnerapi-fe.amazon.com"),
        ("https://proxy.example.com/spapi/", "NA", "https://proxy.example.com/spapi"),
    ],
)
def test_endpoints(tmp_path: Path, endpoint: str, region: str, base: str) -> None:
    env = {**ENV, "RECONCILER_ALLOW_HOSTS": "other.example.org, Proxy.Example.com"}
    with client_for(account(endpoint, region), state_dir=str(tmp_path), env=env) as c:
        assert c.base_url == base
        assert c.tokens._url == LWA_TOKEN_URL
        assert c.seller_id == "A1PP0FEH11RW77"


def test_loopback_http_override_uses_its_own_token_endpoint(tmp_path: Path) -> None:
    acc = account("http://127.0.0.1:8123")
    with client_for(acc, state_dir=str(tmp_path), env=ENV) as c:
        assert c.base_url == "http://127.0.0.1:8123"
        assert c.tokens._url == "http://127.0.0.1:8123/auth/o2/token"


def test_explicit_token_url_wins(tmp_path: Path) -> None:
    acc = account("production", token_url="https://api.amazon.co.uk/auth/o2/token")
    with client_for(acc, state_dir=str(tmp_path), env=ENV) as c:
        assert c.tokens._url == "https://api.amazon.co.uk/auth/o2/token"
    acc = account("production", token_url="https://lwa.example.com/token")
    env = {**ENV, "RECONCILER_ALLOW_HOSTS": "lwa.example.com"}
    with client_for(acc, state_dir=str(tmp_path), env=env) as c:
        assert c.tokens._url == "https://lwa.example.com/token"


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://sellingpartnerapi-na.amazon.com",
        "ftp://x",
        "nope",
        "https://proxy.example.com/spapi",  # not allowed by the operator
        "https://sellingpartnerapi-na.amazon.com.evil.example/",
        "https://sellingpartnerapi-na.amazon.com@evil.example/",
        "https://sellingpartnerapi-eu.amazon.com",  # another region's host
        "http://emulator.local",  # the embedded emulator's name is not a network endpoint
    ],
)
def test_unsafe_or_unknown_endpoints_are_refused(tmp_path: Path, endpoint: str) -> None:
    with pytest.raises(ReconcilerError, match="endpoint"):
        client_for(account(endpoint), state_dir=str(tmp_path), env=ENV)


@pytest.mark.parametrize(
    "token_url",
    [
        "https://lwa.example.com/token",
        "https://sellingpartnerapi-na.amazon.com/auth/o2/token",  # an SP-API host is not LWA
        "http://api.amazon.com/auth/o2/token",
        "https://api.amazon.com:8443/auth/o2/token",
    ],
)
def test_token_urls_off_amazon_are_refused(tmp_path: Path, token_url: str) -> None:
    with pytest.raises(ReconcilerError, match="token_url") as ei:
        client_for(account("production", token_url=token_url), state_dir=str(tmp_path), env=ENV)
    assert all(v not in str(ei.value) for v in ENV.values())


def test_catalog_names_outside_the_allowed_set_are_refused(tmp_path: Path) -> None:
    creds = Credentials(refresh_token="env/GITHUB_TOKEN")
    env = {**ENV, "GITHUB_TOKEN": "ghs_ci-secret-value"}
    with pytest.raises(CredentialsError, match="GITHUB_TOKEN") as ei:
        client_for(account("production", credentials=creds), state_dir=str(tmp_path), env=env)
    assert "ghs_ci-secret-value" not in str(ei.value)


def test_auth_refuses_to_send_the_refresh_token_off_amazon() -> None:
    """Defence in depth: a client built by hand (not through connect) with a foreign token URL
    never posts the refresh token; the transport sees no request at all."""
    import httpx

    from reconciler.spapi.client import SpApiClient

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"access_token": "Atza|x", "expires_in": 3600})

    for token_url, base in [
        ("https://evil.example/token", "https://sellingpartnerapi-na.amazon.com"),
        ("https://api.amazon.com/auth/o2/token", "https://evil.example"),
    ]:
        c = SpApiClient(
            seller_id="A1PP0FEH11RW77", base_url=base, token_url=token_url,
            refresh_token="Atzr|hand-built-secret", client_id="id", client_secret="secret-value",
            transport=httpx.MockTransport(handler),
        )
        with c, pytest.raises(CredentialsError, match=r"evil\.example"):
            c.get_listings_item("SKU-1", ["ATVPDKIKX0DER"])
    assert seen == []


def test_unknown_region_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReconcilerError, match="region"):
        client_for(account("production", "XX"), state_dir=str(tmp_path), env=ENV)


def test_missing_variable_names_the_variable_not_values(tmp_path: Path) -> None:
    env = dict(ENV)
    del env["LWA_CLIENT_SECRET"]
    with pytest.raises(CredentialsError) as ei:
        client_for(account("production"), state_dir=str(tmp_path), env=env)
    msg = str(ei.value)
    assert "LWA_CLIENT_SECRET" in msg
    assert all(v not in msg for v in ENV.values())


def test_literal_credentials_are_refused(tmp_path: Path) -> None:
    creds = Credentials(refresh_token="Atzr|literal-secret-in-yaml")
    with pytest.raises(CredentialsError) as ei:
        client_for(account("production", credentials=creds), state_dir=str(tmp_path), env=ENV)
    assert "Atzr|literal-secret-in-yaml" not in str(ei.value)


def test_resolved_credentials_are_registered_for_redaction(tmp_path: Path) -> None:
    redact.clear()
    env = {**ENV, "SP_API_REFRESH_TOKEN_EU": "Atzr|eu-refresh-secret-value"}
    creds = Credentials(refresh_token="env/SP_API_REFRESH_TOKEN_EU")
    with client_for(
        account("production", "EU", credentials=creds), state_dir=str(tmp_path), env=env
    ):
        pass
    assert redact.redact("x Atzr|eu-refresh-secret-value y") == "x *** y"
    assert redact.redact(ENV["LWA_CLIENT_SECRET"]) == "***"


def test_embedded_emulator_is_one_per_state_dir(tmp_path: Path) -> None:
    a = embedded_emulator(tmp_path / "s1")
    assert embedded_emulator(tmp_path / "s1") is a
    assert embedded_emulator(tmp_path / "s2") is not a
    assert (tmp_path / "s1" / "emulator.db").exists()


def test_embedded_emulator_never_gets_the_environment_credentials(tmp_path: Path) -> None:
    """With real secrets in the environment, `endpoint: emulator` registers and sends only
    synthetic credentials: emulator.db never holds a real refresh token or client secret."""
    redact.clear()
    with client_for(account("emulator"), state_dir=str(tmp_path), env=ENV) as c:
        c.tokens.token()
        assert c.tokens._form["refresh_token"] not in ENV.values()
        assert c.tokens._form["client_secret"] not in ENV.values()
    connect.close_embedded_emulators()
    for f in tmp_path.glob("emulator.db*"):
        data = f.read_bytes()
        assert all(v.encode() not in data for v in ENV.values()), f.name
    assert redact.redact(ENV["LWA_CLIENT_SECRET"]) == ENV["LWA_CLIENT_SECRET"]  # never resolved


def test_embedded_emulator_without_credentials(tmp_path: Path) -> None:
    with client_for(account("emulator"), state_dir=str(tmp_path), env={}) as c:
        assert c.base_url == "http://emulator.local"
        token = c.tokens.token()  # LWA exchange served in-process (no socket)
    assert token
    emu = embedded_emulator(tmp_path)
    assert emu.calls()  # the emulator saw the token call


def test_embedded_emulator_is_seeded_once_from_demo_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def demo_seed() -> dict[str, Any]:
        calls.append(1)
        return {"refreshTokens": ["Atzr|seeded-refresh-token"]}

    mod = types.ModuleType("reconciler.emulator.demo")
    mod.demo_seed = demo_seed  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "reconciler.emulator.demo", mod)
    monkeypatch.setattr(connect, "_demo_seed", REAL_DEMO_SEED)
    embedded_emulator(tmp_path)
    assert calls == [1]
    connect.close_embedded_emulators()
    embedded_emulator(tmp_path)  # the db exists now: persisted state, no re-seed
    assert calls == [1]


def test_sandbox_uses_the_sandbox_usage_plan(tmp_path: Path) -> None:
    with client_for(account("sandbox"), state_dir=str(tmp_path), env=ENV) as c:
        b = c.limiter.bucket("createFeed")
        assert (b.rate, b.burst) == (5.0, 15 - 1)  # one token of headroom
    with client_for(account("production"), state_dir=str(tmp_path), env=ENV) as c:
        assert c.limiter.bucket("createFeed").rate == pytest.approx(0.0083)


def test_a_loopback_emulator_server_lends_the_client_its_time_scale(tmp_path: Path) -> None:
    """A local `reconciler emulator serve --time-scale 25`: the client paces by that clock
    (its buckets and the JSON_LISTINGS_FEED window run 25 times faster); any other loopback
    server leaves Amazon's pace."""
    from reconciler.emulator.app import Emulator
    from reconciler.emulator.server import running
    from reconciler.emulator.state import EmulatorConfig

    with (
        Emulator(config=EmulatorConfig(time_scale=25.0)) as emu,
        running(emu) as url,
        client_for(account(url), state_dir=str(tmp_path), env=ENV) as c,
    ):
        assert c.rate_scale == 25.0
        assert c.feed_window.seconds == pytest.approx(300.0 / 25)
    with client_for(account("http://127.0.0.1:9"), state_dir=str(tmp_path), env=ENV) as c:
        assert c.rate_scale == 1.0  # nothing answers there
