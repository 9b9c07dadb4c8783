"""`reconciler apply` end to end in-process (CliRunner, embedded emulator seeded with a drifted
copy of a generated catalog):

- patch and feed strategies converge, the summary line is printed, a fresh plan is empty, and
  one audit line is written;
- a saved plan applies after a live edit, refuses a catalog edit of a reviewed value and
  names it; a wrong --checksum refuses naming no listing;
- a second concurrent apply refuses and names the lock holder;
- without --auto-approve and without a TTY, apply refuses;
- a tripped safety threshold stops unless --force;
- a listing Amazon rejects: exit 1 with a per-listing table, audit line still written;
- secrets set to known values appear nowhere (stdout, stderr, plan file, audit log).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.apply import lock
from reconciler.cli import main
from reconciler.emulator.app import Emulator
from reconciler.emulator.state import EmulatorConfig
from reconciler.kernel import redact
from reconciler.spapi import connect
from reconciler.spapi.connect import close_embedded_emulators, embedded_emulator
from tests import applyutil as au

SECRETS = {
    "SP_API_REFRESH_TOKEN": "Atzr|CLITEST-refresh-token-0123456789",
    "LWA_APP_ID": "amzn1.application-oa2-client.CLITESTAPPID42",
    "LWA_CLIENT_SECRET": "amzn1.oa2-cs.v1.CLITEST-client-secret-abcdef",
}

# Nothing here tests Amazon's time: no write visibility delay, and a feed spends 0.2 s of wall
# queued and processing (still polled through IN_QUEUE/IN_PROGRESS) instead of 3 s.
QUICK = EmulatorConfig(time_scale=100.0, write_delay_s=0.0, feed_processing_s=20.0)


@pytest.fixture()
def setup(tmp_path: Path, isolated_state: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from reconciler.pipeline import load

    catalog = tmp_path / "catalog"
    audit_log = tmp_path / "audit.jsonl"
    au.write_catalog(catalog, 5, audit_log=str(audit_log), verify_timeout=20, verify_interval=0.05)
    desired = load(catalog)
    # the embedded emulator of this state dir: our drifted seed (no demo seed), time-scaled
    isolated_state.mkdir(parents=True, exist_ok=True)
    emu = Emulator(str(isolated_state / "emulator.db"), QUICK)
    emu.seed(au.drifted_seed(desired, missing_every=4))
    monkeypatch.setitem(connect._emulators, os.path.realpath(isolated_state), emu)
    monkeypatch.chdir(tmp_path)
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    yield {"catalog": catalog, "audit": audit_log, "state": isolated_state, "desired": desired}
    close_embedded_emulators()
    redact.clear()


def _run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _fresh_plan_changes(catalog: Path, state: Path) -> list[str]:
    from reconciler.pipeline import run_plan

    run = run_plan(catalog, state_dir=str(state))
    try:
        return [c.name for c in run.plan.changes]
    finally:
        for c in run.clients.values():
            c.close()


@pytest.mark.parametrize("strategy", ["patch", "feed"])
def test_apply_converges_and_audits(setup: dict[str, Any], strategy: str) -> None:
    r = _run("apply", str(setup["catalog"]), "--auto-approve", "--strategy", strategy)
    assert r.exit_code == 0, r.output
    assert f"applied 10 listings via {strategy}: 10 converged, 0 pending, 0 rejected" in r.output
    assert "kpis: sync success 100.0%" in r.output
    assert _fresh_plan_changes(setup["catalog"], setup["state"]) == []
    recs = [json.loads(x) for x in setup["audit"].read_text().splitlines()]
    assert len(recs) == 1
    rec = recs[0]
    assert rec["strategy"] == strategy and rec["converged"] is True
    assert len(rec["outcomes"]) == 10
    assert {o["status"] for o in rec["outcomes"]} == {"converged"}
    assert rec["kpis"]["sync_success_pct"] == 100.0
    assert rec["kpis"]["stock_deviation_pct"] == 0.0
    assert rec["plan_checksum"] and rec["time"].endswith("Z")
    if strategy == "feed":
        assert len(rec["feeds"]) == 2
    # applying again: nothing to do, exit 0
    r2 = _run("apply", str(setup["catalog"]), "--auto-approve")
    assert r2.exit_code == 0 and "no changes" in r2.output


def test_saved_plan_applies_after_a_live_edit_and_refuses_a_catalog_edit(
    setup: dict[str, Any], tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    r = _run("plan", str(setup["catalog"]), "--format", "json", "--out", str(plan_file))
    assert r.exit_code in (0, 2), r.output
    # a catalog edit of a reviewed value (GEN-0003's price): refused, naming it, nothing written
    skus = setup["catalog"] / "skus" / "generated.yaml"
    text = skus.read_text()
    skus.write_text(text.replace("base_price: 13\n", "base_price: 14\n", 1))
    r = _run("apply", str(setup["catalog"]), "--plan", str(plan_file), "--auto-approve")
    assert r.exit_code == 1
    assert "the reviewed plan no longer holds" in r.output
    assert "GEN-0003 (CA) purchasable_offer" in r.output
    assert "GEN-0003 (US) purchasable_offer" in r.output
    assert "Traceback" not in r.output
    assert not setup["audit"].exists()  # nothing was applied
    skus.write_text(text)
    # a live edit of a reviewed field (GEN-0003's CA quantity) does not stop the reviewed plan
    emu = embedded_emulator(setup["state"])
    st = emu.listing_state(au.SELLER, "GEN-0003", au.CA.marketplace_id)
    attrs = st["attributes"]
    attrs["fulfillment_availability"][0]["quantity"] = 77
    emu.put_listing_direct(au.SELLER, "GEN-0003", au.CA.marketplace_id, "PRODUCT", attrs)
    r = _run("apply", str(setup["catalog"]), "--plan", str(plan_file), "--auto-approve")
    assert r.exit_code == 0, r.output
    assert "10 converged" in r.output
    assert _fresh_plan_changes(setup["catalog"], setup["state"]) == []


def test_wrong_checksum_refused(setup: dict[str, Any]) -> None:
    r = _run("apply", str(setup["catalog"]), "--checksum", "0" * 64, "--auto-approve")
    assert r.exit_code == 1
    assert "is not the checksum of today's plan" in r.output
    assert "GEN-" not in r.output


def test_second_apply_refuses_and_names_holder(setup: dict[str, Any]) -> None:
    held = lock.acquire(setup["state"], "na", command="reconciler apply (other)")
    try:
        r = _run("apply", str(setup["catalog"]), "--auto-approve")
    finally:
        held.release()
    assert r.exit_code == 1
    assert "locked by another apply" in r.output
    assert f"pid {os.getpid()}" in r.output and socket.gethostname() in r.output
    assert held.holder.started_at in r.output


def test_approval_required_without_tty(setup: dict[str, Any]) -> None:
    r = _run("apply", str(setup["catalog"]))
    assert r.exit_code == 1
    assert "--auto-approve" in r.output


def test_safety_stops_unless_force(setup: dict[str, Any]) -> None:
    cfg = setup["catalog"] / "reconciler.yaml"
    cfg.write_text(
        cfg.read_text().replace(
            "max_update_share: 1", "max_update_share: 0.1\n  min_listings_for_share: 1"
        )
    )
    r = _run("apply", str(setup["catalog"]), "--auto-approve", "--strategy", "patch")
    assert r.exit_code == 1
    assert "max_update_share" in r.output
    r = _run("apply", str(setup["catalog"]), "--auto-approve", "--strategy", "patch", "--force")
    assert r.exit_code == 0, r.output


def test_rejected_listing_exit_1_with_table_and_audit(setup: dict[str, Any]) -> None:
    emu = embedded_emulator(setup["state"])
    # Store B goes inactive: every US write naming it is INVALID (4000004)
    emu.db.execute(
        "UPDATE supply_sources SET status = 'Inactive' WHERE supply_source_id = ?", (au.LOC_B,)
    )
    r = _run("apply", str(setup["catalog"]), "--auto-approve", "--strategy", "patch")
    assert r.exit_code == 1
    assert "not converged" in r.output
    assert "GEN-0001 (US)" in r.output and "rejected" in r.output and "4000004" in r.output
    rec = json.loads(setup["audit"].read_text())
    assert rec["converged"] is False
    by = {(o["sku"], o["marketplace_id"]): o for o in rec["outcomes"]}
    assert by[("GEN-0001", au.US.marketplace_id)]["status"] == "rejected"
    assert by[("GEN-0001", au.CA.marketplace_id)]["status"] == "converged"


def test_secrets_never_written(setup: dict[str, Any], tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    outputs = []
    r = _run("plan", str(setup["catalog"]), "--format", "json", "--out", str(plan_file))
    outputs.append(r.output)
    r = _run("apply", str(setup["catalog"]), "--auto-approve", "--strategy", "feed")
    assert r.exit_code == 0, r.output
    outputs.append(r.output)
    r = _run("apply", str(setup["catalog"]), "--checksum", "bad", "--auto-approve")
    outputs.append(r.output)
    texts = [*outputs, plan_file.read_text(), setup["audit"].read_text()]
    for t in texts:
        for v in SECRETS.values():
            assert v not in t


@pytest.mark.parametrize("strategy", ["patch", "feed"])
def test_sample_catalog_against_drifted_emulator(
    strategy: str, tmp_path: Path, isolated_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 5 must-show 1: the sample catalog vs the demo's drifted live state."""
    from reconciler.emulator.demo import build_seed
    from reconciler.pipeline import load
    from tests.conftest import SAMPLE_CATALOG

    desired = load(SAMPLE_CATALOG)
    isolated_state.mkdir(parents=True, exist_ok=True)
    # the embedded emulator of this state dir, quick (QUICK)
    emu = Emulator(str(isolated_state / "emulator.db"), QUICK)
    seed = build_seed(desired)
    # feeds are owned by the token's seller: give the EU account its own refresh token
    eu_token = "Atzr|sample-eu-refresh-token"
    seed["refreshTokens"] = [{"refreshToken": eu_token, "sellerId": "A2EXAMPLEEU001"}]
    monkeypatch.setenv("SP_API_REFRESH_TOKEN_EU", eu_token)
    emu.seed(seed)
    monkeypatch.setitem(connect._emulators, os.path.realpath(isolated_state), emu)
    monkeypatch.setenv("RECONCILER_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.chdir(tmp_path)
    try:
        before = _fresh_plan_changes(SAMPLE_CATALOG, isolated_state)
        assert len(before) >= 10
        r = _run(
            "apply", str(SAMPLE_CATALOG), "--auto-approve", "--strategy", strategy, "--force"
        )  # the sample plan deletes a discontinued SKU
        assert r.exit_code == 0, r.output
        n = len(before)
        assert f"applied {n} listings via {strategy}: {n} converged" in r.output
        assert _fresh_plan_changes(SAMPLE_CATALOG, isolated_state) == []
        writes = len([c for c in emu.calls("patchListingsItem") if c.status == 200])
        feeds = len([c for c in emu.calls("createFeed") if c.status == 202])
        assert (writes > 0, feeds > 0) == ((True, False) if strategy == "patch" else (False, True))
    finally:
        close_embedded_emulators()
