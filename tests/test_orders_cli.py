"""`reconciler orders pull|route|confirm` on the sample catalog and the embedded emulator.

The sample's central warehouse is down to one CB-OAK-L, so some generated orders are
unroutable: the routing plan must list each of them with its reason (never drop one), route the
rest, write one pick list per warehouse, and the confirm run must confirm exactly the routed
ones.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.emulator import orders_gen
from reconciler.emulator import orders_store as emu_orders
from reconciler.spapi.connect import close_embedded_emulators, embedded_emulator
from tests.emulator_support import quick_embedded_emulator

CATALOG = str(Path(__file__).resolve().parent.parent / "catalog")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_pull_route_confirm_on_the_sample_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir = os.environ["RECONCILER_STATE_DIR"]
    try:
        # the confirmation feeds take 0.5 s each instead of 5 s (nothing here tests time)
        emu = quick_embedded_emulator(state_dir, monkeypatch, feed_processing_s=30.0)
        assert embedded_emulator(state_dir) is emu
        ids = orders_gen.generate(emu, 24, ("US", "CA", "UK", "DE"), seed=11)
        assert len(ids) == 24

        r = run("orders", "pull", CATALOG, "--format", "json")
        assert r.exit_code == 0, r.output + r.stderr
        pulled = json.loads(r.stdout)
        assert sorted(o["orderId"] for o in pulled["orders"]) == sorted(ids)
        assert pulled["kpi"]["pulled"] == 24
        assert "orders pulled=24 " in r.stderr and "seconds_per_order=" in r.stderr
        r = run("orders", "pull", CATALOG, "--format", "csv")
        assert r.exit_code == 0 and r.stdout.strip() == ",".join(
            ("order_id", "account", "marketplace", "created", "last_updated", "status",
             "fulfilled_by", "country", "region", "city", "postal_code", "order_item_id", "sku",
             "quantity"))
        assert "orders pulled=0 " in r.stderr

        picks = tmp_path / "picks"
        r = run("orders", "route", CATALOG, "--format", "json", "--picklists", str(picks))
        assert r.exit_code == 0, r.output
        plan = json.loads(r.stdout)
        assert len(plan["orders"]) == 24  # every order is listed, routed or not
        unroutable = [o for o in plan["orders"] if o["kind"] == "unroutable"]
        routed = [o for o in plan["orders"] if o["kind"] != "unroutable"]
        assert unroutable and routed
        assert all(o["reason"] for o in unroutable)
        assert f"unroutable={len(unroutable)}" in r.stderr
        files = sorted(p.name for p in picks.iterdir())
        assert files == sorted(f"{w}.csv" for w in {w for o in routed for w in o["warehouses"]})
        r = run("orders", "route", CATALOG, "--format", "markdown", "--dry-run")
        assert "## Routing plan" in r.stdout  # already-routed orders are not routed again
        assert "0 routed" in r.stdout.replace("**", "")

        ship = tmp_path / "shipments.csv"
        with ship.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["order_id", "carrier", "method", "tracking_number", "ship_date"])
            seen = set()
            for p in sorted(picks.iterdir()):
                for row in csv.DictReader(p.read_text().splitlines()):
                    if row["order_id"] not in seen:
                        seen.add(row["order_id"])
                        w.writerow([row["order_id"], row["carrier"], row["method"],
                                    f"T{len(seen)}", dt.date.today().isoformat()])
        r = run("orders", "confirm", CATALOG, "--shipments", str(ship), "--format", "json",
                "--poll-seconds", "0.2", "--timeout", "60")
        assert r.exit_code == 0, r.output + r.stderr
        res = json.loads(r.stdout)
        assert {o["outcome"] for o in res["orders"]} == {"confirmed"}
        assert len(res["orders"]) == len(routed) and f"confirmed={len(routed)}" in r.stderr
        counts = emu_orders.shipment_counts(emu)
        assert set(counts) == {o["orderId"] for o in routed} and set(counts.values()) == {1}
        r = run("orders", "confirm", CATALOG, "--shipments", str(ship))
        assert r.exit_code == 0 and f"{len(routed)} skipped" in r.stdout
        kpis = [json.loads(x) for x in
                (Path(state_dir) / "orders-kpi.jsonl").read_text().splitlines()]
        assert [k["command"] for k in kpis] == ["pull", "pull", "route", "route", "confirm",
                                                "confirm"]
        assert kpis[0]["pulled"] == 24 and kpis[2]["unroutable"] == len(unroutable)
        assert kpis[4]["confirmed"] == len(routed) and kpis[5]["confirmed"] == 0
    finally:
        close_embedded_emulators()


def test_confirm_with_broken_lines_exits_1(tmp_path: Path) -> None:
    ship = tmp_path / "s.csv"
    ship.write_text("order_id,carrier,method,tracking_number,ship_date\n"
                    "111-1111111-1111111,UPS,Ground,1Z,2026-11-01\n")
    try:
        r = run("orders", "confirm", CATALOG, "--shipments", str(ship))
    finally:
        close_embedded_emulators()
    assert r.exit_code == 1
    assert "line 2: 111-1111111-1111111: error (unknown order" in r.stdout
