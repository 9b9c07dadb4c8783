"""Broken and hostile catalogs meet `reconciler plan` (not only validate): zero API calls.

Covers (issue 8, must-show 3):
- every fixture ``tests/catalogs/bad-*/`` (the corpus shared with test_validate_cli: YAML
  errors, tabs, duplicate keys, wrong types, unknown marketplace/location/currency/product type,
  negative and absurd quantities, formula errors, guard violations, template errors and sandbox
  escapes, ``!!python`` tags, alias bombs, a 50 MB file, deep nesting, paths outside the root)
  run through ``reconciler plan``: exit 1, one ``reconciler: ...`` message naming file:line, no
  traceback, and the embedded emulator (created before the run, so it is reachable) logged
  **zero** calls, not even a token request;
- credentials: a catalog whose account talks to a non-emulator endpoint (a real loopback
  server) with ``env/`` references to unset variables fails naming the VARIABLE before any
  request (the server's call log stays empty), for plan, apply and import;
- stale exchange rates are a **warning**, not an error: ``max_rate_age_days`` in
  reconciler.yaml is the configurable bound; plan still runs (exit 0) and says so on stderr.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.emulator.app import Emulator
from reconciler.emulator.server import running
from reconciler.emulator.state import EmulatorConfig
from reconciler.spapi.connect import close_embedded_emulators, embedded_emulator
from tests.test_validate_cli import BASE, FIXTURES, build_fixture

CREDENTIAL_VARS = (
    "SP_API_REFRESH_TOKEN",
    "SP_API_REFRESH_TOKEN_EU",
    "LWA_APP_ID",
    "LWA_CLIENT_SECRET",
)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def embedded(isolated_state: Path) -> Iterator[Emulator]:
    """The embedded emulator `plan` would talk to, created up front so its call log exists."""
    emu = embedded_emulator(str(isolated_state))
    emu.reset_calls()
    try:
        yield emu
    finally:
        close_embedded_emulators()


def _one_clear_message(r: Result, where: str, message: str) -> None:
    out = r.output
    assert r.exit_code == 1, out
    assert "Traceback" not in out and "unexpected error" not in out, out
    lines = out.splitlines()
    assert lines[0].startswith("reconciler: "), out
    # exactly one headline; the rest (if any) are the "  - file, line N" list
    assert all(not ln.startswith("reconciler:") for ln in lines[1:]), out
    assert any(where in ln and message in ln for ln in lines), f"{where} / {message}:\n{out}"


def test_corpus_is_large_enough() -> None:
    assert len(FIXTURES) >= 40
    assert len({f.name for f in FIXTURES}) == len(FIXTURES)


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name)
def test_plan_refuses_broken_catalog_without_calling_amazon(
    fixture: Path, tmp_path: Path, embedded: Emulator
) -> None:
    cat = tmp_path / "catalog"
    expect = build_fixture(fixture, cat)
    r = run("plan", str(cat))
    where = str(expect["file"])
    if expect["line"]:
        where += f", line {expect['line']}"
    _one_clear_message(r, where, str(expect["message"]))
    assert embedded.calls() == [], [c.operation for c in embedded.calls()]


@pytest.mark.parametrize("fixture", [f for f in FIXTURES if f.name in (
    "bad-python-object-tag", "bad-template-sandbox-escape", "bad-alias-bomb",
    "bad-negative-quantity", "bad-absurd-quantity")], ids=lambda p: p.name)
def test_apply_refuses_broken_catalog_without_calling_amazon(
    fixture: Path, tmp_path: Path, embedded: Emulator
) -> None:
    cat = tmp_path / "catalog"
    expect = build_fixture(fixture, cat)
    r = run("apply", str(cat), "--auto-approve")
    _one_clear_message(r, str(expect["file"]), str(expect["message"]))
    assert embedded.calls() == []


@pytest.fixture
def loopback_amazon() -> Iterator[tuple[Emulator, str]]:
    """A real HTTP emulator on 127.0.0.1: a non-embedded endpoint that needs credentials."""
    emu = Emulator(":memory:", EmulatorConfig(time_scale=100.0))
    try:
        with running(emu) as url:
            yield emu, url
    finally:
        emu.close()


def _remote_catalog(dest: Path, url: str) -> Path:
    shutil.copytree(BASE, dest)
    cfg = dest / "reconciler.yaml"
    cfg.write_text(cfg.read_text("utf-8").replace("endpoint: emulator", f"endpoint: {url}"),
                   "utf-8")
    return dest


@pytest.mark.parametrize("command", [["plan"], ["apply", "--auto-approve"], ["import"]])
def test_unset_credentials_fail_before_any_request(
    command: list[str],
    tmp_path: Path,
    loopback_amazon: tuple[Emulator, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emu, url = loopback_amazon
    for name in CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    cat = _remote_catalog(tmp_path / "catalog", url)
    args = [*command, str(cat)]
    if command == ["import"]:
        args += ["--account", "na", "--out", str(tmp_path / "imported")]
    r = run(*args)
    out = r.output
    assert r.exit_code == 1, out
    assert "Traceback" not in out
    assert out.startswith("reconciler: ") and "is not set" in out, out
    assert any(f"env/{v}" in out for v in CREDENTIAL_VARS), out
    assert emu.calls() == [], [c.operation for c in emu.calls()]


def test_unset_credentials_of_one_account_fail_before_any_account_reads(
    tmp_path: Path, loopback_amazon: tuple[Emulator, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Account na has its credentials, eu's EU refresh token is unset: no account reads."""
    emu, url = loopback_amazon
    monkeypatch.setenv("SP_API_REFRESH_TOKEN", "Atzr|hostile-test-refresh-token")
    monkeypatch.setenv("LWA_APP_ID", "amzn1.application-oa2-client.hostiletest")
    monkeypatch.setenv("LWA_CLIENT_SECRET", "amzn1.oa2-cs.v1.hostile-test-secret")
    monkeypatch.delenv("SP_API_REFRESH_TOKEN_EU", raising=False)
    cat = _remote_catalog(tmp_path / "catalog", url)
    r = run("plan", str(cat))
    assert r.exit_code == 1, r.output
    assert "SP_API_REFRESH_TOKEN_EU is not set" in r.output
    assert "hostile-test" not in r.output
    assert emu.calls() == []


def test_stale_rates_are_a_warning_with_a_configurable_bound(
    tmp_path: Path, embedded: Emulator
) -> None:
    cat = tmp_path / "catalog"
    shutil.copytree(BASE, cat)
    cfg = cat / "reconciler.yaml"
    cfg.write_text(cfg.read_text("utf-8") + "max_rate_age_days: 2\n", "utf-8")
    rates = cat / "rates.yaml"
    rates.write_text(rates.read_text("utf-8").replace("2026-11-20", "2020-01-01"), "utf-8")
    r = run("plan", str(cat))
    assert r.exit_code == 0, r.output
    assert "warning: " in r.stderr and "exchange rates are" in r.stderr
    assert "max_rate_age_days is 2" in r.stderr
    assert "warning" not in r.stdout
    # the same rates under a generous bound: no warning
    cfg.write_text(cfg.read_text("utf-8").replace("max_rate_age_days: 2", "max_rate_age_days: "
                                                  "100000"), "utf-8")
    r2 = run("plan", str(cat))
    assert r2.exit_code == 0, r2.output
    assert "exchange rates are" not in r2.stderr


def test_control_a_valid_catalog_does_call_the_embedded_emulator(
    tmp_path: Path, embedded: Emulator
) -> None:
    """The zero-call checks above are meaningful: the same setup with a valid catalog reads."""
    cat = tmp_path / "catalog"
    shutil.copytree(BASE, cat)
    r = run("plan", str(cat))
    assert r.exit_code == 0, r.output
    ops = {c.operation for c in embedded.calls()}
    assert "searchListingsItems" in ops and "lwaToken" in ops, ops
