"""KPI arithmetic: nearest-rank percentiles, sync success, stock deviation over managed
fulfillment entries (missing live listing, deletes ignored, zero desired)."""

from __future__ import annotations

from reconciler.apply import kpi
from reconciler.kernel.model import DesiredListing, ListingKey, LiveListing

K1 = ListingKey("na", "MUG-001", "ATVPDKIKX0DER")
K2 = ListingKey("na", "MUG-002", "ATVPDKIKX0DER")


def _fa(**q: int) -> dict[str, list[dict[str, object]]]:
    return {
        "fulfillment_availability": [
            {"fulfillment_channel_code": c, "quantity": n} for c, n in sorted(q.items())
        ]
    }


def test_percentile_nearest_rank() -> None:
    vals = [float(v) for v in range(1, 101)]
    assert kpi.percentile(vals, 50) == 50.0
    assert kpi.percentile(vals, 95) == 95.0
    assert kpi.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert kpi.percentile([7.0], 95) == 7.0
    assert kpi.percentile([], 50) == 0.0


def test_sync_success() -> None:
    assert kpi.sync_success_pct(["converged", "pending", "converged", "rejected"]) == 50.0
    assert kpi.sync_success_pct([]) == 100.0


def test_stock_deviation() -> None:
    d1 = DesiredListing(K1, "PRODUCT", _fa(DEFAULT=0, LOC_A=10, LOC_B=5))
    d2 = DesiredListing(K2, "PRODUCT", _fa(DEFAULT=5))
    gone = DesiredListing(ListingKey("na", "OLD", "ATVPDKIKX0DER"), "PRODUCT", {}, state="absent")
    live = {
        K1: LiveListing(K1, "PRODUCT", _fa(DEFAULT=1, LOC_A=10, LOC_B=3, AMAZON_NA=50)),
        K2: None,
    }
    # |0-1| + |10-10| + |5-3| + |5-0| = 8 over 20 desired units
    assert kpi.stock_deviation_pct([d1, d2, gone], live) == 40.0
    live_ok = {
        K1: LiveListing(K1, "PRODUCT", _fa(DEFAULT=0, LOC_A=10, LOC_B=5)),
        K2: LiveListing(K2, "PRODUCT", _fa(DEFAULT=5)),
    }
    assert kpi.stock_deviation_pct([d1, d2], live_ok) == 0.0


def test_stock_deviation_zero_desired() -> None:
    d = DesiredListing(K1, "PRODUCT", _fa(DEFAULT=0))
    assert kpi.stock_deviation_pct([d], {K1: LiveListing(K1, "PRODUCT", _fa(DEFAULT=0))}) == 0.0
    assert kpi.stock_deviation_pct([d], {K1: LiveListing(K1, "PRODUCT", _fa(DEFAULT=4))}) == 100.0


def test_compute_and_data() -> None:
    d = DesiredListing(K1, "PRODUCT", _fa(DEFAULT=10))
    k = kpi.compute(
        ["converged", "pending"],
        [d],
        {K1: LiveListing(K1, "PRODUCT", _fa(DEFAULT=9))},
        kpi.CallTotals(
            latencies_ms=(10.0, 20.0, 30.0, 400.0),
            calls={"patchListingsItem": 2},
            retries=3,
            throttles=2,
        ),
    )
    data = k.data()
    assert data["sync_success_pct"] == 50.0
    assert data["latency_p50_ms"] == 20.0
    assert data["latency_p95_ms"] == 400.0
    assert data["stock_deviation_pct"] == 10.0
    assert data["throttles"] == 2 and data["retries"] == 3
    assert "2 throttled" in k.describe()
