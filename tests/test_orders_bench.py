"""Must-show 5 (smoke): ``bench/orders.py`` pulls and routes every order and reports wall time
against the searchOrders quota lower bound (the full 10,000-order run is in the report)."""

from __future__ import annotations

import json

import pytest

from bench import orders as bench_orders


def test_lower_bound_formula() -> None:
    # 6,000 orders on one seller = 60 pages: 40 beyond the burst of 20 at 0.0056 rps.
    assert bench_orders.lower_bound_s({"na": 6000, "eu": 4000}) == pytest.approx(40 / 0.0056)
    assert bench_orders.lower_bound_s({"na": 2000}) == 0.0


def test_bench_pulls_and_routes_everything(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_orders.main(["--orders", "4000", "--time-scale", "100000"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["orders"] == out["pulled"] == out["routed"] == 4000
    assert out["pages"] == 40 and out["unroutable"] == 0
    # NA sells in 3 of the 5 marketplaces: 2,400 orders, 24 pages, 4 beyond the burst
    assert out["lower_bound_amazon_s"] == pytest.approx(4 / 0.0056, abs=0.1)
    assert out["ratio"] >= 1.0  # nothing beats Amazon's quota
