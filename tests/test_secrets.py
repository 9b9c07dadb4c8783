"""Known secret values never leak (issue 8, must-show 5).

With SP_API_REFRESH_TOKEN, LWA_APP_ID, LWA_CLIENT_SECRET and SP_API_REFRESH_TOKEN_EU (the token
of a second, EU account) set to distinctive values, the CLI talks to a real loopback emulator
server (so the credentials really travel: the LWA calls and both sellers' reads prove it), and
nothing the run leaves behind contains any of them: stdout, stderr, the plan file
(text/json/markdown), the audit log, every file under $RECONCILER_STATE_DIR (live cache, locks,
feed journal, crash logs) and the emulator's own database file (call log, history, access
tokens), checked as raw bytes.

Error paths: a refresh token LWA refuses (``invalid_grant``), a persistent 403 (every access token
expires at once), and an unexpected exception at several depths of plan/apply (monkeypatched, its
message even carrying the refresh token): exit 3, one line naming the crash log, the crash log
under $RECONCILER_STATE_DIR/logs holds the traceback without the secrets.

The redaction registry is cleared before each test, so it is the run itself that registers the
values it resolves.
"""

from __future__ import annotations

import pkgutil
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.emulator import auth
from reconciler.emulator.app import Emulator
from reconciler.emulator.faults import FaultSpec
from reconciler.emulator.server import running
from reconciler.emulator.state import EmulatorConfig
from reconciler.kernel import redact
from reconciler.spapi.connect import close_embedded_emulators
from tests import applyutil as au

SECRETS = {
    "SP_API_REFRESH_TOKEN": "Atzr|IwEBISECRET-na-refresh-token-7c1f0e2d9b",
    "SP_API_REFRESH_TOKEN_EU": "Atzr|IwEBISECRET-eu-refresh-token-55aa0193ce",
    "LWA_APP_ID": "amzn1.application-oa2-client.SECRETAPPID0451",
    "LWA_CLIENT_SECRET": "amzn1.oa2-cs.v1.SECRET-client-secret-e9d1c5b3a7",
}
N_SKUS = 6
EU_SELLER = "A2EXAMPLEEU001"


def leaks(text: str | bytes) -> list[str]:
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    found = []
    for name, value in SECRETS.items():
        # also the distinctive core of each value (catches partial echoes, url-encoding of "|")
        core = value.split("|", 1)[-1].split(".")[-1]
        if value.encode() in data or core.encode() in data:
            found.append(name)
    return found


def tree_leaks(root: Path) -> dict[str, list[str]]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            found = leaks(p.read_bytes())
            if found:
                out[str(p.relative_to(root))] = found
    return out


@pytest.fixture(autouse=True)
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    redact.clear()
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("NO_COLOR", "1")
    yield
    close_embedded_emulators()
    redact.clear()


class Amazon:
    """A loopback emulator server with a file db (so its bytes can be scanned)."""

    def __init__(self, tmp: Path, config: EmulatorConfig, *, authorized: bool = True) -> None:
        self.db = tmp / "amazon.db"
        self.emu = Emulator(str(self.db), config)
        if authorized:  # each seller authorized the app: its refresh token is bound to it
            auth.register_refresh_token(
                self.emu, SECRETS["SP_API_REFRESH_TOKEN"], seller_id=au.SELLER
            )
            auth.register_refresh_token(
                self.emu, SECRETS["SP_API_REFRESH_TOKEN_EU"], seller_id=EU_SELLER
            )

    def close(self) -> None:
        self.emu.close()

    def db_leaks(self) -> dict[str, list[str]]:
        out = {}
        for p in self.db.parent.glob(self.db.name + "*"):
            found = leaks(p.read_bytes())
            if found:
                out[p.name] = found
        return out


def setup(
    tmp_path: Path, config: EmulatorConfig, *, authorized: bool = True
) -> tuple[Amazon, Path]:
    amazon = Amazon(tmp_path, config, authorized=authorized)
    cat = tmp_path / "catalog"
    au.write_catalog(cat, N_SKUS, audit_log=str(tmp_path / "audit.jsonl"), verify_timeout=20,
                     verify_interval=0.05)
    from reconciler.pipeline import load

    amazon.emu.seed(au.drifted_seed(load(cat)))
    return amazon, cat


def point_at(cat: Path, url: str) -> None:
    cfg = cat / "reconciler.yaml"
    text = cfg.read_text("utf-8").replace("endpoint: emulator", f"endpoint: {url}")
    cfg.write_text(text, "utf-8")


def add_eu_account(cat: Path) -> None:
    """A second account (DE) whose refresh token is SP_API_REFRESH_TOKEN_EU."""
    cfg = yaml.safe_load((cat / "reconciler.yaml").read_text("utf-8"))
    na = cfg["accounts"]["na"]
    cfg["accounts"]["eu"] = {
        "seller_id": EU_SELLER, "region": "EU", "endpoint": na["endpoint"],
        "credentials": {"refresh_token": "env/SP_API_REFRESH_TOKEN_EU"},
        "marketplaces": {"DE": None},
    }
    (cat / "reconciler.yaml").write_text(yaml.safe_dump(cfg), "utf-8")
    rates = yaml.safe_load((cat / "rates.yaml").read_text("utf-8"))
    rates["rates"]["EUR"] = 0.92
    (cat / "rates.yaml").write_text(yaml.safe_dump(rates), "utf-8")
    au.write_product_types(cat)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def check_everything(r: Result, tmp_path: Path, state: Path, amazon: Amazon) -> None:
    assert leaks(r.stdout) == [] and leaks(r.stderr) == [], r.output
    assert tree_leaks(tmp_path / "catalog") == {}
    if state.exists():
        assert tree_leaks(state) == {}
    audit = tmp_path / "audit.jsonl"
    if audit.exists():
        assert leaks(audit.read_bytes()) == []
    amazon.close()
    assert amazon.db_leaks() == {}


def test_plan_and_apply_leave_no_secret_anywhere(tmp_path: Path, isolated_state: Path) -> None:
    # no write visibility delay, 0.2 s feeds: what is tested is where secrets end up, not time
    amazon, cat = setup(tmp_path, EmulatorConfig(time_scale=100.0, write_delay_s=0.0,
                                                 feed_processing_s=20.0))
    outputs: list[Result] = []
    try:
        with running(amazon.emu) as url:
            point_at(cat, url)
            add_eu_account(cat)
            for fmt in ("text", "json", "markdown"):
                out_file = tmp_path / f"plan.{fmt}"
                r = run("plan", str(cat), "--format", fmt, "--out", str(out_file))
                assert r.exit_code == 0, r.output
                assert leaks(out_file.read_bytes()) == []
                outputs.append(r)
            r = run("plan", str(cat), "--format", "json")
            assert r.exit_code == 0 and '"changes"' in r.stdout
            outputs.append(r)
            r = run("apply", str(cat), "--auto-approve")
            assert r.exit_code == 0, r.output
            outputs.append(r)
            r = run("plan", str(cat), "--detailed-exitcode")
            assert r.exit_code == 0, r.output  # converged
            outputs.append(r)
            # the credentials really travelled, for both accounts
            assert len(amazon.emu.calls("lwaToken")) >= 2
            assert {c.seller_id for c in amazon.emu.calls("searchListingsItems")} >= {
                au.SELLER, EU_SELLER}
            assert amazon.emu.calls("patchListingsItem") or amazon.emu.calls("createFeed")
    finally:
        for r in outputs:
            assert leaks(r.stdout) == [] and leaks(r.stderr) == []
        check_everything(outputs[-1], tmp_path, isolated_state, amazon)
    assert (tmp_path / "audit.jsonl").read_text("utf-8").strip()


def test_refused_refresh_token_invalid_grant(tmp_path: Path, isolated_state: Path) -> None:
    amazon, cat = setup(tmp_path, EmulatorConfig(time_scale=100.0), authorized=False)
    try:
        with running(amazon.emu) as url:
            point_at(cat, url)
            r = run("plan", str(cat))
            tokens = amazon.emu.calls("lwaToken")
    finally:
        amazon.close()
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    assert "LWA" in r.output or "token" in r.output.lower(), r.output
    assert tokens and all(c.status in (400, 401) for c in tokens)
    check_everything(r, tmp_path, isolated_state, amazon)


def test_persistent_403(tmp_path: Path, isolated_state: Path) -> None:
    """Every access token expires on use: the client refreshes (bounded) and gives up with 403."""
    amazon, cat = setup(tmp_path, EmulatorConfig(time_scale=100.0,
                                                 faults=FaultSpec.parse("expire=1.0")))
    try:
        with running(amazon.emu) as url:
            point_at(cat, url)
            r = run("apply", str(cat), "--auto-approve")
            calls = amazon.emu.calls()
    finally:
        amazon.close()
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output and "403" in r.output, r.output
    assert any(c.status == 403 for c in calls)
    check_everything(r, tmp_path, isolated_state, amazon)


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError(
        "deep failure with " + SECRETS["SP_API_REFRESH_TOKEN"] + " and "
        + SECRETS["LWA_CLIENT_SECRET"]
    )


DEPTHS = {
    "normalize_item (plan: reading live state)": ("reconciler.live.normalize", "normalize_item"),
    "PlanBuilder.add (plan: diff, on the read pipeline's worker)": (
        "reconciler.plan.builder.PlanBuilder", "add"),
    "listing_request (apply: building a write)": ("reconciler.apply.writers", "listing_request"),
    "patch_listings_item (apply: the client)": (
        "reconciler.spapi.client.SpApiClient", "patch_listings_item"),
    "read_back (apply: verify)": ("reconciler.apply.verify", "read_back"),
}


@pytest.mark.parametrize("where", sorted(DEPTHS))
def test_unexpected_exception_at_any_depth(
    where: str, tmp_path: Path, isolated_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target, attr = DEPTHS[where]
    amazon, cat = setup(tmp_path, EmulatorConfig(time_scale=100.0))
    try:
        with running(amazon.emu) as url:
            point_at(cat, url)
            monkeypatch.setattr(pkgutil.resolve_name(target), attr, _boom)
            r = run("apply", str(cat), "--auto-approve", "--strategy", "patch")
            monkeypatch.undo()
            for k, v in SECRETS.items():  # undo() also restored the env: set it again
                monkeypatch.setenv(k, v)
    finally:
        amazon.close()
    assert r.exit_code == 3, r.output
    assert "unexpected error (a bug): RuntimeError" in r.stderr, r.output
    assert "Traceback" not in r.output
    logs = sorted((isolated_state / "logs").glob("crash-*.log"))
    assert len(logs) == 1, r.output
    text = logs[0].read_text("utf-8")
    assert "Traceback" in text and "RuntimeError: deep failure with ***" in text
    assert str(logs[0]) in r.stderr
    check_everything(r, tmp_path, isolated_state, amazon)


def test_secrets_in_a_catalog_error_are_not_echoed(tmp_path: Path) -> None:
    """A secret pasted into reconciler.yaml instead of an env/ reference is refused unechoed."""
    cat = tmp_path / "catalog"
    shutil.copytree(Path(__file__).parent / "catalogs" / "base", cat)
    cfg = cat / "reconciler.yaml"
    cfg.write_text(cfg.read_text("utf-8").replace(
        "env/SP_API_REFRESH_TOKEN_EU", SECRETS["SP_API_REFRESH_TOKEN_EU"]), "utf-8")
    r = run("plan", str(cat))
    assert r.exit_code == 1
    assert leaks(r.output) == [], r.output
