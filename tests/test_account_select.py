"""`--account NAME` (issue 19, "Past one machine"): one job per account, also when the accounts
share a marketplace, as an agency's sellers do (all on US).

A catalog of two sellers, ``a`` (US, CA) and ``b`` (US), on the in-process emulator, each listing
drifted on Amazon:

- ``plan --account a`` plans only ``a``'s listings, and every call the emulator logs acts for
  ``a``'s seller; its checksum is that of ``a``'s part of the whole plan (``show --account``);
- ``apply --account a`` (by the checksum of ``a``'s part of the whole plan) writes only ``a``'s
  listings (``b``'s stay drifted), and ``apply --account b --plan`` the whole plan then writes
  ``b``'s;
- a plan made for ``a`` is refused by ``apply --account b --plan``, naming both, nothing written;
- ``b``'s credentials are never needed by ``a``'s job;
- ``accounts --json`` lists both (they share US) as two matrix entries.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.emulator.app import Emulator
from reconciler.emulator.state import EmulatorConfig
from reconciler.kernel.errors import EXIT_ERROR
from reconciler.spapi import connect
from reconciler.spapi.connect import close_embedded_emulators
from tests import applyutil as au

SELLERS = {"a": "A1AGENCYSELLRA", "b": "A1AGENCYSELLRB"}
US, CA = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"
WRITES = {"patchListingsItem", "putListingsItem", "deleteListingsItem", "createFeed"}


def _sku(i: int, accounts: list[str] | None) -> dict[str, Any]:
    sku: dict[str, Any] = {
        "product_type": "PRODUCT",
        "requirements": "LISTING_OFFER_ONLY",
        "attributes": {"condition_type": "new_new", "merchant_suggested_asin": f"B0AGY{i:05d}"},
        "base_price": 10 + i,
        "texts": {"en_US": {"item_name": f"Agency mug no. {i}"},
                  "en_CA": {"item_name": f"Agency mug no. {i} (Canada)"}},
        "quantity": {"US": 5 + i} if accounts == ["b"] else {"US": 5 + i, "CA": 2 + i},
    }
    if accounts is not None:
        sku["accounts"] = accounts
    return sku


def write_agency(root: Path, *, b_endpoint: str = "emulator") -> None:
    """Two accounts sharing US: ``a`` sells A-1, A-2 and SHARED-1 on US and CA; ``b`` sells B-1
    and SHARED-1 on US (a SKU without ``accounts:`` is sold by every account)."""
    (root / "skus").mkdir(parents=True)

    def account(name: str, endpoint: str, codes: list[str]) -> dict[str, Any]:
        var = f"SP_API_REFRESH_TOKEN_{name.upper()}"
        return {"seller_id": SELLERS[name], "region": "NA", "endpoint": endpoint,
                "credentials": {"refresh_token": f"env/{var}", "client_id": "env/LWA_APP_ID",
                                "client_secret": "env/LWA_CLIENT_SECRET"},
                "marketplaces": dict.fromkeys(codes)}

    files: dict[str, Any] = {
        "reconciler.yaml": {
            "version": 1,
            "accounts": {"a": account("a", "emulator", ["US", "CA"]),
                         "b": account("b", b_endpoint, ["US"])},
            "safety": {"max_update_share": 1, "max_price_change_pct": 1000},
            "apply": {"strategy": "patch", "verify_timeout_seconds": 20,
                      "verify_interval_seconds": 0.05},
        },
        "rates.yaml": {"as_of": "2026-11-20", "source": "test", "base": "USD",
                       "rates": {"USD": 1, "CAD": 1.37}},
        "pricing.yaml": {"base_currency": "USD",
                         "defaults": {"formula": "base * rate + tax", "tax": 0, "ending": ".99"}},
        "skus/agency.yaml": {"skus": {"A-1": _sku(1, ["a"]), "A-2": _sku(2, ["a"]),
                                      "B-1": _sku(3, ["b"]), "SHARED-1": _sku(4, None)}},
    }
    for rel, data in files.items():
        (root / rel).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    au.write_product_types(root)


@pytest.fixture()
def agency(tmp_path: Path, isolated_state: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The catalog, and the embedded emulator of the state dir seeded with every listing
    drifted (price and quantity), each under its own seller; no write delay."""
    from reconciler.pipeline import load

    catalog = tmp_path / "catalog"
    write_agency(catalog)
    desired = load(catalog)
    rows = au.drifted_seed(desired)["sellers"][au.SELLER]["listings"]
    by_seller: dict[str, list[Any]] = {s: [] for s in SELLERS.values()}
    for d, row in zip(desired.listings, rows, strict=True):
        by_seller[SELLERS[d.key.account]].append(row)
    isolated_state.mkdir(parents=True, exist_ok=True)
    emu = Emulator(str(isolated_state / "emulator.db"),
                   EmulatorConfig(time_scale=100.0, write_delay_s=0.0))
    emu.seed({"sellers": {s: {"listings": rows} for s, rows in by_seller.items()}})
    monkeypatch.setitem(connect._emulators, os.path.realpath(isolated_state), emu)
    monkeypatch.chdir(tmp_path)
    yield catalog, emu
    close_embedded_emulators()


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def sellers_called(emu: Emulator, operations: set[str] | None = None) -> set[str]:
    return {c.seller_id or "" for c in emu.calls()
            if c.seller_id and (operations is None or c.operation in operations)}


def planned(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def keys(plan: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(c["account"], c["sku"], c["marketplace"]) for c in plan["changes"]}


A_KEYS = {("a", s, m) for s in ("A-1", "A-2", "SHARED-1") for m in ("US", "CA")}
B_KEYS = {("b", "B-1", "US"), ("b", "SHARED-1", "US")}


def test_plan_of_one_account_reads_and_plans_only_its_listings(agency: Any) -> None:
    catalog, emu = agency
    emu.reset_calls()
    r = run("plan", str(catalog), "--account", "a", "--format", "json", "--out", "a.json")
    assert r.exit_code == 0, r.stderr
    plan_a = planned(Path("a.json"))
    assert keys(plan_a) == A_KEYS
    assert plan_a["accounts"] == ["a"]
    assert sellers_called(emu) == {SELLERS["a"]}  # b's seller never acted for

    emu.reset_calls()
    r = run("plan", str(catalog), "--account", "b", "--format", "json", "--out", "b.json")
    assert r.exit_code == 0, r.stderr
    assert keys(planned(Path("b.json"))) == B_KEYS
    assert sellers_called(emu) == {SELLERS["b"]}

    # with --marketplace, both apply: a's listings in CA
    r = run("plan", str(catalog), "--account", "a", "--marketplace", "CA", "--format", "json",
            "--out", "a-ca.json")
    assert r.exit_code == 0, r.stderr
    assert keys(planned(Path("a-ca.json"))) == {k for k in A_KEYS if k[2] == "CA"}

    # the whole plan holds both; its part for `a` is exactly a's plan (what plan.yml uploads
    # per account and apply.yml checks)
    assert run("plan", str(catalog), "--format", "json", "--out", "all.json").exit_code == 0
    assert keys(planned(Path("all.json"))) == A_KEYS | B_KEYS
    r = run("show", "all.json", "--account", "a", "--format", "json", "--out", "cut-a.json")
    assert r.exit_code == 0, r.stderr
    cut = planned(Path("cut-a.json"))
    assert cut["checksum"] == plan_a["checksum"] != planned(Path("all.json"))["checksum"]
    assert cut["accounts"] == ["a"]


def test_apply_of_one_account_writes_only_its_listings(agency: Any) -> None:
    catalog, emu = agency
    # the checksum of a's part of the whole plan is what a's apply re-plans
    assert run("plan", str(catalog), "--format", "json", "--out", "all.json").exit_code == 0
    assert run("show", "all.json", "--account", "a", "--format", "json",
               "--out", "cut-a.json").exit_code == 0
    emu.reset_calls()
    r = run("apply", str(catalog), "--account", "a", "--auto-approve",
            "--checksum", planned(Path("cut-a.json"))["checksum"])
    assert r.exit_code == 0, r.stderr
    assert sellers_called(emu) == {SELLERS["a"]}
    assert sellers_called(emu, WRITES) == {SELLERS["a"]}
    # a converged, b untouched (still drifted)
    r = run("plan", str(catalog), "--format", "json", "--out", "after.json")
    assert r.exit_code == 0, r.stderr
    assert keys(planned(Path("after.json"))) == B_KEYS

    # b's job applies b's part of a reviewed whole plan
    r = run("apply", str(catalog), "--account", "b", "--plan", "after.json", "--auto-approve")
    assert r.exit_code == 0, r.stderr
    r = run("plan", str(catalog), "--format", "json", "--out", "done.json")
    assert keys(planned(Path("done.json"))) == set()


def test_a_plan_made_for_another_account_is_refused(agency: Any) -> None:
    catalog, emu = agency
    assert run("plan", str(catalog), "--account", "a", "--format", "json",
               "--out", "a.json").exit_code == 0
    checksum = planned(Path("a.json"))["checksum"]
    emu.reset_calls()
    for extra in (("--plan", "a.json"), ("--checksum", checksum)):
        r = run("apply", str(catalog), "--account", "b", "--auto-approve", *extra)
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        assert r.exit_code == EXIT_ERROR, r.stderr
        assert len(lines) == 1 and lines[0].startswith("reconciler: "), r.stderr
        assert "--account" in lines[0]
    assert sellers_called(emu, WRITES) == set()  # nothing written
    assert sellers_called(emu) <= {SELLERS["b"]}  # the --checksum run re-planned b only
    r = run("apply", str(catalog), "--account", "a", "--plan", "a.json", "--auto-approve")
    assert r.exit_code == 0, r.stderr
    assert sellers_called(emu, WRITES) == {SELLERS["a"]}


def test_another_accounts_credentials_are_never_needed(
    tmp_path: Path, isolated_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # b is a production seller whose secret this job does not have
    catalog = tmp_path / "catalog"
    write_agency(catalog, b_endpoint="production")
    for var in ("SP_API_REFRESH_TOKEN_B", "LWA_APP_ID", "LWA_CLIENT_SECRET"):
        monkeypatch.delenv(var, raising=False)
    try:
        r = run("plan", str(catalog), "--account", "a")
        assert r.exit_code == 0, r.stderr
        assert "A-1 (US)" in r.stdout and "B-1" not in r.stdout
        r = run("plan", str(catalog))  # every account: b's credentials are needed, and missing
        assert r.exit_code == EXIT_ERROR
        assert "SP_API_REFRESH_TOKEN_B" in r.stderr or "LWA_" in r.stderr
    finally:
        close_embedded_emulators()


def test_accounts_sharing_a_marketplace_are_two_jobs(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    write_agency(catalog)
    r = run("accounts", str(catalog), "--json")
    assert r.exit_code == 0, r.stderr
    entries = json.loads(r.stdout)["include"]
    assert [(e["account"], e["marketplaces"]) for e in entries] == [("a", "US,CA"), ("b", "US")]
    assert [e["refresh_token"] for e in entries] == ["SP_API_REFRESH_TOKEN_A",
                                                     "SP_API_REFRESH_TOKEN_B"]


@pytest.mark.parametrize(("args", "named"), [
    (("--sku", "A-1"), "'A-1'"),  # sold by a only
    (("--marketplace", "ca"), "CA"),  # a's marketplace, not b's
])
def test_a_target_the_account_does_not_sell_is_named(
    agency: Any, args: tuple[str, ...], named: str
) -> None:
    catalog, emu = agency
    emu.reset_calls()
    for cmd in (("plan",), ("apply", "--auto-approve")):
        r = run(*cmd, str(catalog), "--account", "b", *args)
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        assert r.exit_code == EXIT_ERROR and len(lines) == 1, r.stderr
        assert named in lines[0] and "account(s) b" in lines[0], lines[0]
    assert emu.calls() == []  # refused before any read
