"""The README's orders walk-through on the sample catalog: `reconciler emulator orders` creates
buyer orders in the embedded emulator, `orders pull` reads them, `orders route` sends most of
them to a warehouse (the sample's stock.csv stocks every warehouse), `orders confirm` confirms
the shipments."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.spapi.connect import close_embedded_emulators
from tests.emulator_support import quick_embedded_emulator

CATALOG = Path(__file__).resolve().parent.parent / "catalog"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_the_sample_routes_most_orders_and_confirms_them(
    tmp_path: Path, isolated_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the embedded emulator the commands open, with 0.5 s confirmation feeds instead of 5 s
    # (nothing here tests time)
    quick_embedded_emulator(isolated_state, monkeypatch, feed_processing_s=30.0)
    try:
        r = run("emulator", "orders", str(CATALOG), "--count", "60", "--seed", "3")
        assert r.exit_code == 0, r.output
        ids = r.stdout.split()
        assert len(ids) == 60
        assert "created 60 order(s) over US, CA, MX, UK, DE, FR" in r.stderr

        r = run("orders", "pull", str(CATALOG), "--format", "json")
        assert r.exit_code == 0, r.output
        pulled = json.loads(r.stdout)["orders"]
        assert sorted(o["orderId"] for o in pulled) == sorted(ids)
        assert {o["marketplace"] for o in pulled} == {"US", "CA", "MX", "UK", "DE", "FR"}

        picks = tmp_path / "picks"
        r = run("orders", "route", str(CATALOG), "--format", "json", "--picklists", str(picks))
        assert r.exit_code == 0, r.output
        plan = json.loads(r.stdout)["orders"]
        routed = [o for o in plan if o["kind"] != "unroutable"]
        unroutable = [o for o in plan if o["kind"] == "unroutable"]
        assert len(plan) == 60
        assert len(routed) >= 0.8 * len(plan), [o["reason"] for o in unroutable]
        assert all(o["reason"] for o in unroutable)
        # every warehouse of the sample ships something
        used = {w for o in routed for w in o["warehouses"]}
        assert used == {"newark", "reno", "toronto", "leipzig"}
        assert sorted(p.name for p in picks.iterdir()) == sorted(f"{w}.csv" for w in used)

        ship = tmp_path / "shipments.csv"
        with ship.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["order_id", "carrier", "method", "tracking_number", "ship_date"])
            seen: set[str] = set()
            for p in sorted(picks.iterdir()):
                for row in csv.DictReader(p.read_text().splitlines()):
                    if row["order_id"] not in seen:
                        seen.add(row["order_id"])
                        w.writerow([row["order_id"], row["carrier"], row["method"],
                                    f"T{len(seen)}", dt.date.today().isoformat()])
        r = run("orders", "confirm", str(CATALOG), "--shipments", str(ship), "--format", "json",
                "--poll-seconds", "0.2", "--timeout", "60")
        assert r.exit_code == 0, r.output
        assert f"confirmed={len(routed)}" in r.stderr
    finally:
        close_embedded_emulators()


def test_emulator_orders_are_deterministic_per_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = []
    for name in ("a", "b"):
        monkeypatch.setenv("RECONCILER_STATE_DIR", str(tmp_path / name))
        try:
            r = run("emulator", "orders", str(CATALOG), "--count", "5", "--seed", "9",
                    "--marketplace", "de", "--marketplace", "US")
            assert r.exit_code == 0, r.output
            made.append(r.stdout)
        finally:
            close_embedded_emulators()
    assert made[0] == made[1] and len(made[0].split()) == 5


def test_emulator_orders_refuses_what_no_command_would_read(tmp_path: Path) -> None:
    r = run("emulator", "orders", str(CATALOG), "--marketplace", "JP")
    assert r.exit_code == 1
    assert "--marketplace 'JP' is not a marketplace of an emulated account" in r.stderr
    r = run("emulator", "orders", str(CATALOG), "--count", "0")
    assert r.exit_code == 2  # click's usage error, before anything is created

    live = tmp_path / "catalog"
    shutil.copytree(CATALOG, live)
    settings = live / "reconciler.yaml"
    doc = yaml.safe_load(settings.read_text(encoding="utf-8"))
    for acc in doc["accounts"].values():
        acc["endpoint"] = "production"
    settings.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    r = run("emulator", "orders", str(live))
    assert r.exit_code == 1
    assert "no account of the catalog uses endpoint: emulator" in r.stderr
    assert "Traceback" not in r.output + r.stderr


def readme_block(after: str) -> list[str]:
    text = (CATALOG.parent / "README.md").read_text(encoding="utf-8")
    block = text.split(after, 1)[1].split("```", 1)[0]
    return block.splitlines()


def test_readme_orders_walkthrough_is_what_the_commands_print() -> None:
    """The README's `emulator orders` / `orders route` example, run for real."""
    lines = readme_block("$ reconciler emulator orders --count 24 --seed 11\n")
    try:
        r = run("emulator", "orders", str(CATALOG), "--count", "24", "--seed", "11")
        assert r.exit_code == 0
        assert r.stdout.splitlines()[0] == lines[0]
        assert lines[2].startswith("created 24 order(s) over US, CA, MX, UK, DE, FR")
        assert run("orders", "pull", str(CATALOG)).exit_code == 0
        r = run("orders", "route", str(CATALOG), "--dry-run")
        assert r.exit_code == 0
    finally:
        close_embedded_emulators()
    start = lines.index("$ reconciler orders route") + 1
    end = lines.index("", start)
    assert r.stdout.splitlines() == lines[start:end]
