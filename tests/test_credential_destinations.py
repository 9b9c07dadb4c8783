"""Where credentials may go (issue 12 item 10, must-show 7).

Covers:
- ``validate`` refuses a catalog whose ``endpoint`` or ``token_url`` names a host that is not
  Amazon's (SP-API / LWA) or loopback, or whose credential reference names an arbitrary variable
  (``env/PATH``, ``env/GITHUB_TOKEN``), with file:line, and neither ``validate`` nor ``plan``
  makes a single request (every httpx transport is watched);
- the host rule: Amazon's production and sandbox hosts per region, LWA hosts, loopback, and
  lookalikes (``amazon.com.evil``, ``user@host``, http on a network host, another region's host);
- a host the operator allows in ``RECONCILER_ALLOW_HOSTS`` (never a catalog field) works: validate
  accepts it, ``plan`` talks to it and flags it first in the plan (text and the PR comment) as a
  dangerous rule needing ``--force``; a forced apply records the connection, after which the same
  settings are no longer flagged, and any later change of endpoint, token URL or credential
  reference is flagged again;
- the connection record never holds a secret.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.emulator import auth as emu_auth
from reconciler.emulator.app import Emulator
from reconciler.emulator.state import EmulatorConfig
from reconciler.emulator.transport import EmulatorTransport
from reconciler.kernel import connstate, redact
from reconciler.kernel.connections import Connection, connection_reasons
from reconciler.kernel.destinations import (
    DestinationError,
    check_endpoint,
    classify,
    operator_hosts,
)
from reconciler.kernel.model import Account, Credentials
from reconciler.spapi.connect import close_embedded_emulators
from tests import applyutil as au
from tests.test_validate_cli import BASE

PROXY = "spapi-proxy.corp.example"
SECRETS = {
    "SP_API_REFRESH_TOKEN": "Atzr|IwEBIDEST-refresh-token-31d6a0",
    "LWA_APP_ID": "amzn1.application-oa2-client.DESTAPP77",
    "LWA_CLIENT_SECRET": "amzn1.oa2-cs.v1.DEST-client-secret-0b9c",
    "GITHUB_TOKEN": "ghs_DESTci-token-never-sent",
}


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every request any httpx transport is asked to send (network or in-process emulator)."""
    seen: list[str] = []
    real_http = httpx.HTTPTransport.handle_request
    real_emu = EmulatorTransport.handle_request

    def http(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return real_http(self, request)

    def emu(self: EmulatorTransport, request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return real_emu(self, request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", http)
    monkeypatch.setattr(EmulatorTransport, "handle_request", emu)
    return seen


@pytest.fixture(autouse=True)
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    redact.clear()
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("RECONCILER_ALLOW_HOSTS", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    yield
    close_embedded_emulators()
    redact.clear()


def _catalog(tmp_path: Path, line7: str, extra: str = "") -> Path:
    cat = tmp_path / "catalog"
    shutil.copytree(BASE, cat)
    cfg = cat / "reconciler.yaml"
    lines = cfg.read_text("utf-8").splitlines()
    assert lines[6] == "    endpoint: emulator"
    lines[6] = line7
    if extra:
        lines.insert(7, extra)
    cfg.write_text("\n".join(lines) + "\n", "utf-8")
    return cat


# --------------------------------------------------------------------------- must-show 7


@pytest.mark.parametrize(
    ("line7", "extra", "line", "message"),
    [
        ("    endpoint: https://sp.attacker.example", "", 7,
         "endpoint host sp.attacker.example is not one of Amazon's SP-API endpoints"),
        ("    endpoint: https://sellingpartnerapi-na.amazon.com.attacker.example/", "", 7,
         "is not one of Amazon's SP-API endpoints"),
        ("    endpoint: production", "    token_url: https://lwa.attacker.example/auth/o2/token",
         8, "token_url host lwa.attacker.example is not one of Amazon's LWA token hosts"),
        ("    endpoint: production",
         "    credentials: {refresh_token: env/GITHUB_TOKEN}", 8,
         "env/GITHUB_TOKEN is not an allowed credential variable"),
        ("    endpoint: production", "    credentials: {client_secret: env/PATH}", 8,
         "env/PATH is not an allowed credential variable"),
    ],
)
def test_validate_and_plan_refuse_foreign_destinations_without_a_request(
    tmp_path: Path, requests: list[str], line7: str, extra: str, line: int, message: str
) -> None:
    cat = _catalog(tmp_path, line7, extra)
    r = run("validate", str(cat))
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    where = f"  - reconciler.yaml, line {line}"
    problem = [ln for ln in r.output.splitlines() if ln.startswith(where)]
    assert problem and message in problem[0], r.output
    for args in (("plan",), ("apply", "--auto-approve")):
        r = run(args[0], str(cat), *args[1:])
        assert r.exit_code == 1 and message in r.output, r.output
    assert requests == []  # not even a token request
    assert all(v not in r.output for v in SECRETS.values())


def test_the_operator_variable_does_not_come_from_the_catalog(tmp_path: Path) -> None:
    """There is no catalog field that widens the list (the schema refuses unknown keys)."""
    cat = _catalog(tmp_path, f"    endpoint: https://{PROXY}", f"    allow_hosts: [{PROXY}]")
    r = run("validate", str(cat))
    assert r.exit_code == 1
    assert "unknown key 'allow_hosts'" in r.output
    assert "is not one of Amazon's SP-API endpoints" in r.output


# --------------------------------------------------------------------------- the host rule


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://sellingpartnerapi-na.amazon.com", "NA"),
        ("https://sellingpartnerapi-eu.amazon.com/", "EU"),
        ("https://SellingPartnerAPI-FE.amazon.com.", "FE"),
        ("https://sandbox.sellingpartnerapi-eu.amazon.com", "EU"),
        ("http://127.0.0.1:8080", "NA"),
        ("http://127.8.9.10", "NA"),
        ("https://[::1]:9443/base", "FE"),
        ("http://localhost:1234", "EU"),
    ],
)
def test_amazon_and_loopback_endpoints_are_allowed(url: str, region: str) -> None:
    assert check_endpoint(url, region) is not None


@pytest.mark.parametrize(
    "url",
    [
        "https://sellingpartnerapi-na.amazon.com.evil.example",
        "https://evil.example/sellingpartnerapi-na.amazon.com",
        "https://sellingpartnerapi-na.amazon.com@evil.example",
        "https://user:pw@sellingpartnerapi-na.amazon.com",
        "http://sellingpartnerapi-na.amazon.com",
        "https://sellingpartnerapi-na.amazon.com:8443",
        "https://api.amazon.com",  # LWA, not SP-API
        "https://10.0.0.1",
        "https://128.0.0.1",
        "https://xn--amazn-mua.com",
        "https://\u0430mazon.com",  # Cyrillic a
        "https://sellingpartnerapi-eu.amazon.com",  # another region
    ],
)
def test_lookalike_endpoints_are_refused(url: str) -> None:
    with pytest.raises(DestinationError):
        check_endpoint(url, "NA")


def test_lwa_hosts() -> None:
    for url in ("https://api.amazon.com/auth/o2/token", "https://api.amazon.co.uk/auth/o2/token",
                "https://api.amazon.co.jp/auth/o2/token", "http://127.0.0.1:5/auth/o2/token"):
        classify(url, "token_url")
    for url in ("https://api.amazon.com.evil/auth/o2/token", "http://api.amazon.com/a",
                "https://sellingpartnerapi-na.amazon.com/auth/o2/token"):
        with pytest.raises(DestinationError):
            classify(url, "token_url")


def test_operator_hosts_are_parsed_from_the_environment_only() -> None:
    env = {"RECONCILER_ALLOW_HOSTS": " Proxy.Corp.Example. ,, other.example "}
    assert operator_hosts(env) == {"proxy.corp.example", "other.example"}
    d = check_endpoint("https://proxy.corp.example/x", "NA", operator_hosts(env))
    assert d is not None and d.kind == "operator"
    with pytest.raises(DestinationError, match="clear text"):
        check_endpoint("http://proxy.corp.example/x", "NA", operator_hosts(env))


# --------------------------------------------------------------------------- operator-allowed


@pytest.fixture
def proxied(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Emulator]:
    """The operator's proxy host (and Amazon's LWA host the proxy setup still uses for tokens),
    answered in-process by an emulator: these requests never reach the network."""
    # no write visibility delay (2.4 s of wall at this scale): only where requests go is tested
    emu = Emulator(str(tmp_path / "proxy.db"), EmulatorConfig(time_scale=50.0, write_delay_s=0.0))
    # Amazon (and the strict emulator) binds a refresh token to the seller who authorized it
    emu_auth.register_refresh_token(emu, SECRETS["SP_API_REFRESH_TOKEN"], seller_id=au.SELLER)
    served = EmulatorTransport(emu)
    real = httpx.HTTPTransport.handle_request

    def handle(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        if request.url.host in (PROXY, "api.amazon.com"):
            return served.handle_request(request)
        return real(self, request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", handle)
    yield emu
    emu.close()


def _proxy_catalog(tmp_path: Path, emu: Emulator) -> Path:
    """The generated catalog of applyutil, its account behind the operator's proxy host, and the
    proxy's emulator seeded with drifted listings (so the plan has changes)."""
    from reconciler.pipeline import load

    cat = tmp_path / "proxy-catalog"
    au.write_catalog(cat, 4, verify_timeout=20, verify_interval=0.05)
    emu.seed(au.drifted_seed(load(cat)))
    cfg = cat / "reconciler.yaml"
    cfg.write_text(cfg.read_text("utf-8").replace(
        "endpoint: emulator", f"endpoint: https://{PROXY}/"), "utf-8")
    return cat


def test_operator_allowed_host_works_and_the_plan_flags_it(
    tmp_path: Path, proxied: Emulator, isolated_state: Path
) -> None:
    allow = {"RECONCILER_ALLOW_HOSTS": PROXY}
    cat = _proxy_catalog(tmp_path, proxied)

    # without the operator's variable: refused, file:line, nothing sent
    r = run("validate", str(cat))
    assert r.exit_code == 1 and "reconciler.yaml, line" in r.output and PROXY in r.output
    assert proxied.calls() == []

    # with it: validate accepts; plan talks to the proxy and flags it first
    r = run("validate", str(cat), env=allow)
    assert r.exit_code == 0, r.output
    r = run("plan", str(cat), env=allow)
    assert r.exit_code == 1, r.output  # dangerous rule: --force needed
    assert "plan is unsafe, --force required" in r.output
    flag = f"account na: credentials go to {PROXY}, which is not Amazon's"
    assert flag in r.stdout and "RECONCILER_ALLOW_HOSTS" in r.stdout
    assert proxied.calls(), "the plan read the live listings through the allowed host"
    # first in the PR comment: the safety block before the summary table
    r = run("plan", str(cat), "--format", "markdown", env=allow)
    md = r.stdout
    assert f"credentials go to {PROXY}" in md
    assert md.index(f"credentials go to {PROXY}") < md.index("| marketplace |")
    assert all(v not in r.output for v in SECRETS.values())

    # the dangerous rule blocks apply until forced; a forced apply records the connection
    r = run("apply", str(cat), "--auto-approve", env=allow)
    assert r.exit_code == 1 and flag in r.output and "--force" in r.output
    assert not connstate.record_path(isolated_state).exists()
    r = run("apply", str(cat), "--auto-approve", "--force", env=allow)
    assert r.exit_code == 0, r.output
    record = json.loads(connstate.record_path(isolated_state).read_text("utf-8"))
    assert record["accounts"]["na"]["endpoint"] == f"https://{PROXY}/"
    text = connstate.record_path(isolated_state).read_text("utf-8")
    assert all(v not in text for v in SECRETS.values())

    # the accepted settings are no longer flagged
    r = run("plan", str(cat), env=allow)
    assert r.exit_code == 0, r.output
    assert "dangerous" not in r.output

    # a later change of a credential reference is
    cfg = cat / "reconciler.yaml"
    cfg.write_text(cfg.read_text("utf-8").replace(
        "endpoint: https://", "credentials: {refresh_token: env/SP_API_REFRESH_TOKEN_B}\n"
        "    endpoint: https://"), "utf-8")
    emu_auth.register_refresh_token(proxied, "Atzr|IwEBIDEST-other-tok", seller_id=au.SELLER)
    r = run("plan", str(cat), env={**allow, "SP_API_REFRESH_TOKEN_B": "Atzr|IwEBIDEST-other-tok"})
    assert r.exit_code == 1
    assert ("account na: credentials.refresh_token changes from 'env/SP_API_REFRESH_TOKEN' to "
            "'env/SP_API_REFRESH_TOKEN_B' since the last apply") in r.output


# --------------------------------------------------------------------------- the rule, pure


def _acc(endpoint: str = "production", token_url: str = "", refresh: str = "") -> Account:
    creds = Credentials(refresh_token=refresh) if refresh else Credentials()
    return Account("na", au.SELLER, "NA", endpoint, (), creds, token_url)


@pytest.mark.parametrize(
    ("before", "after", "label"),
    [
        (_acc(), _acc("sandbox"), "endpoint changes from 'production' to 'sandbox'"),
        (_acc(), _acc("http://127.0.0.1:9"), "endpoint changes from 'production'"),
        (_acc(), _acc(token_url="https://api.amazon.co.uk/auth/o2/token"),
         "token_url changes from (default) to 'https://api.amazon.co.uk/auth/o2/token'"),
        (_acc(), _acc(refresh="env/SP_API_REFRESH_TOKEN_EU"),
         "credentials.refresh_token changes from 'env/SP_API_REFRESH_TOKEN' to "
         "'env/SP_API_REFRESH_TOKEN_EU'"),
    ],
)
def test_any_connection_change_is_dangerous(before: Account, after: Account, label: str) -> None:
    reasons = connection_reasons([after], {"na": Connection.of(before)})
    assert len(reasons) == 1 and label in reasons[0] and "--force" in reasons[0]
    assert connection_reasons([after], {"na": Connection.of(after)}) == []
    assert connection_reasons([after], None) == []  # no record: nothing to compare


def test_connection_reasons_come_first_in_the_plan() -> None:
    from reconciler.plan.builder import build_plan

    state = au.desired_state(30)
    acc = state.accounts[0]
    moved = Connection.of(Account(acc.name, acc.seller_id, acc.region, "sandbox",
                                  acc.marketplaces))
    plan = build_plan(state, {}, connections={acc.name: moved})
    assert len(plan.safety) >= 1
    assert plan.safety[0].startswith(f"account {acc.name}: endpoint changes from 'sandbox'")
    assert build_plan(state, {}, connections={acc.name: Connection.of(acc)}).safety == ()


def test_damaged_record_is_a_clear_error(tmp_path: Path) -> None:
    from reconciler.kernel.errors import ReconcilerError

    connstate.record_path(tmp_path).write_text("{not json", "utf-8")
    with pytest.raises(ReconcilerError, match=r"connections\.json is damaged"):
        connstate.read(tmp_path)
    connstate.record(tmp_path, [_acc()])
    assert connstate.read(tmp_path) == {"na": Connection.of(_acc())}
