"""`reconciler plan` end to end on the sample catalog and the embedded emulator (issue 4).

Aspects:
- the MLI seed case (ssnm001/ssnm002): the planned request equals the body of Amazon's MLI guide;
- no-op: live == catalog gives an empty plan, exit 0 with --detailed-exitcode, zero write calls;
  drift gives exit 2;
- goldens: text, markdown and JSON renders of the sample catalog against its seeded live state;
- safety: an unsafe plan stops without --force and names the setting; --force lets it through;
- unmanaged data present only live never appears in the plan;
- targeting with --sku/--marketplace; --out writes the file atomically;
- the demo seed shipped as package data is exactly what the sample catalog generates.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.catalog.loader import load_desired
from reconciler.cli import main
from reconciler.emulator import demo as demo_mod
from reconciler.plan.patches import listing_request
from reconciler.plan.value import Plan
from reconciler.spapi.connect import close_embedded_emulators, embedded_emulator
from tests.emulator_support import quick_embedded_emulator

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "catalog"
GOLDEN = Path(__file__).resolve().parent / "golden"
WRITES = {"patchListingsItem", "putListingsItem", "deleteListingsItem", "createFeed"}

LOC_A = "353e4e48-6301-4d50-990e-43a86e8787a3"
LOC_B = "8e07a0c9-ab0a-4108-9f16-83dc3496bee0"


@pytest.fixture(autouse=True)
def _close_emulators() -> Any:
    yield
    close_embedded_emulators()


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def plan_json(*extra: str) -> dict[str, Any]:
    r = run("plan", str(CATALOG), "--format", "json", *extra)
    assert r.exit_code in (0, 2), r.output
    data: dict[str, Any] = json.loads(r.stdout)
    return data


def change_for(data: dict[str, Any], sku: str, marketplace: str) -> dict[str, Any]:
    for c in data["changes"]:
        if c["sku"] == sku and c["marketplace"] == marketplace:
            return c  # type: ignore[no-any-return]
    raise AssertionError(f"no change for {sku} ({marketplace})")


def _entries(value: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return sorted((e["fulfillment_channel_code"], e["quantity"]) for e in value)


@pytest.mark.parametrize(
    ("sku", "qty_a", "qty_b"), [("ssnm001", 10, 5), ("ssnm002", 10, 7)]
)
def test_mli_seed_case_matches_amazons_guide(
    sku: str, qty_a: int, qty_b: int, isolated_state: Path
) -> None:
    emu = embedded_emulator(str(isolated_state))
    live = emu.listing_state("A1PP0FEH11RW77", sku, "ATVPDKIKX0DER")
    assert live is not None
    live_fa = live["attributes"]["fulfillment_availability"]
    assert _entries(live_fa) == [("DEFAULT", 3)]  # the guide's starting point

    data = plan_json()
    plan = Plan.from_data(data)
    change = next(c for c in plan.changes if c.key.sku == sku and c.marketplace == "US")
    req = listing_request(change)
    assert req.method == "PATCH"
    assert req.body is not None
    assert req.body["productType"] == "PRODUCT"
    (op,) = req.body["patches"]
    # merge (not replace): sibling fields such as lead times survive (design.md §6)
    assert op["op"] == "merge"
    assert op["path"] == "/attributes/fulfillment_availability"
    assert _entries(op["value"]) == sorted([(LOC_A, qty_a), (LOC_B, qty_b), ("DEFAULT", 0)])
    # the JSON plan carries the same request, so reviewers see what apply will send
    assert change_for(data, sku, "US")["request"] == {
        "method": "PATCH",
        "body": req.body,
    }


def test_drift_exits_2_and_noop_exits_0_without_writes(
    isolated_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the embedded emulator without the write visibility delay (not what this test is about)
    quick_embedded_emulator(isolated_state, monkeypatch, write_delay_s=0.0)
    r = run("plan", str(CATALOG), "--detailed-exitcode")
    assert r.exit_code == 2, r.output
    r = run("apply", str(CATALOG), "--auto-approve")
    assert r.exit_code == 0, r.output

    emu = embedded_emulator(str(isolated_state))
    emu.reset_calls()
    r = run("plan", str(CATALOG), "--detailed-exitcode", "--refresh", "full")
    assert r.exit_code == 0, r.output
    assert "no changes" in r.stdout.lower()
    calls = emu.calls()
    assert calls, "the plan must have read live state"
    assert [c for c in calls if c.operation in WRITES] == []


def test_unsafe_plan_stops_and_names_the_setting(tmp_path: Path) -> None:
    cat = tmp_path / "catalog"
    _copy_catalog(cat)
    conf = cat / "reconciler.yaml"
    conf.write_text(
        conf.read_text().replace("max_price_change_pct: 30", "max_price_change_pct: 1"),
        encoding="utf-8",
    )
    r = run("plan", str(cat))
    assert r.exit_code == 1
    assert "safety.max_price_change_pct" in r.stderr
    assert "--force" in r.stderr
    assert "Traceback" not in r.output
    r = run("plan", str(cat), "--force", "--detailed-exitcode")
    assert r.exit_code == 2, r.output


def test_unmanaged_live_data_never_appears(isolated_state: Path) -> None:
    data = plan_json("--force")
    text = json.dumps(data)
    # the seed adds a brand attribute where the catalog declares none, a discount beside one
    # price, a lead time and an AMAZON_NA channel: none is managed by the catalog (only the new
    # product JAR-GLS-6 declares a brand, and MUG-CER-16 a sale price)
    assert {c["sku"] for c in data["changes"] for f in c["fields"]
            if f["attribute"] == "brand"} <= {"JAR-GLS-6"}
    assert demo_mod.BRAND not in text
    assert '"start_at": "2026-01-01"' not in text  # the seed's unmanaged discount
    assert "lead_time_to_ship_max_days" not in text
    assert "AMAZON_NA" not in text


def test_targeting_by_sku_and_marketplace(isolated_state: Path) -> None:
    data = plan_json("--sku", "ssnm001", "--marketplace", "US")
    assert {(c["sku"], c["marketplace"]) for c in data["changes"]} == {("ssnm001", "US")}
    r = run("plan", str(CATALOG), "--marketplace", "ZZ")
    assert r.exit_code == 1
    assert "ZZ" in r.stderr


def test_out_file_is_the_json_plan(tmp_path: Path) -> None:
    out = tmp_path / "plans" / "plan.json"
    r = run("plan", str(CATALOG), "--format", "json", "--out", str(out))
    assert r.exit_code == 0, r.output
    plan = Plan.from_data(json.loads(out.read_text()))
    assert plan.checksum in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("text", "sample-plan.txt"), ("markdown", "sample-plan.md"), ("json", "sample-plan.json")],
)
def test_sample_plan_goldens(fmt: str, name: str, update_goldens: bool) -> None:
    r = run("plan", str(CATALOG), "--format", fmt, "--no-color")
    assert r.exit_code == 0, r.output
    path = GOLDEN / name
    if update_goldens:
        path.write_text(r.stdout, encoding="utf-8")
    assert r.stdout == path.read_text(encoding="utf-8"), (
        f"{name} differs; if intended, regenerate with --update-goldens"
    )


def test_shipped_demo_seed_matches_the_sample_catalog() -> None:
    desired = load_desired(CATALOG, today=date(2026, 11, 22))
    assert demo_mod.demo_seed() == json.loads(demo_mod.seed_json(desired)), (
        "regenerate: python -m tests.demo_seed catalog > "
        "reconciler/emulator/data/demo_seed.json"
    )


def _copy_catalog(dest: Path) -> None:
    import shutil

    shutil.copytree(CATALOG, dest)
