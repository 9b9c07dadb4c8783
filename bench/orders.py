"""Bench: pull and route N orders on the emulator; wall time / the searchOrders lower bound.

    python -m bench.orders [--orders 10000] [--time-scale 1000] [--seed 0]

Prints one JSON object. Setup (not timed): an in-process emulator with the sample catalog's two
sellers (NA: US, CA, MX; EU: UK, DE), five SKUs live everywhere with ample stock, and N
generated merchant orders spread evenly over US, CA, MX, UK and DE. Timed: ``orders pull``
(every page of searchOrders, 100 orders a page, both sellers in parallel) and ``orders route``
(the sample warehouses, stock.csv rows with ample stock, reservations written).

Lower bound (Amazon seconds): per seller, ``max(0, ceil(orders / 100) - 20) / 0.0056`` (the
searchOrders usage plan: rate 0.0056 rps, burst 20; sellers have separate buckets, so the bound
is the max over sellers); the bench's wall bound is that divided by the time scale. Routing has
no quota: it is CPU time on top. ``ratio`` = wall / wall bound (1.0 = quota-bound, nothing else).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.orders_sim import Sim, stock_rows
from reconciler.catalog.loader import load as load_raw
from reconciler.cli.orders import plan_routes
from reconciler.emulator import orders_gen
from reconciler.kernel.quotas import QUOTAS
from reconciler.orders import pull, warehouses
from reconciler.orders.state import OrderState
from reconciler.pipeline import load

CATALOG = Path(__file__).resolve().parent.parent / "catalog"
SKUS = ("BTL-INS-750", "BTL-GLS-500", "MUG-CER-12", "CB-BAM-M", "TEA-CI-1L")
MARKETPLACES = ("US", "CA", "MX", "UK", "DE")
PAGE = 100


def lower_bound_s(orders_per_seller: dict[str, int]) -> float:
    q = QUOTAS["searchOrders"]
    return max((max(0, math.ceil(n / PAGE) - q.burst) / q.rate
                for n in orders_per_seller.values()), default=0.0)


def run(n: int, time_scale: float, seed: int = 0) -> dict[str, Any]:
    accounts = load(CATALOG).accounts
    whs = warehouses.load(CATALOG, load_raw(CATALOG))
    with Sim(accounts, SKUS, time_scale=time_scale) as sim, \
            tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        ids = orders_gen.generate(sim.emu, n, MARKETPLACES, seed=seed)
        gen_s = time.perf_counter() - t
        with sim.emu.lock:
            per_seller = dict(sim.emu.db.execute(
                "SELECT seller_id, COUNT(*) FROM orders GROUP BY seller_id").fetchall())
        with OrderState(tmp) as st:
            t0 = time.perf_counter()
            res = pull.pull(sim.accounts, sim.clients, st)
            t1 = time.perf_counter()
            plan, reservations = plan_routes(st, whs, stock_rows(SKUS, ("newark", "reno",
                                                                        "toronto", "central"),
                                                                 10 * n))
            st.reserve(reservations)
            t2 = time.perf_counter()
        throttled = sum(1 for c in sim.emu.calls("searchOrders") if c.status == 429)
    bound_amazon = lower_bound_s(per_seller)
    wall = t2 - t0
    bound_wall = bound_amazon / time_scale
    return {
        "bench": "orders_pull_route",
        "orders": len(ids),
        "time_scale": time_scale,
        "pulled": len(res.orders),
        "pages": res.pages,
        "throttled_429": throttled,
        "routed": len(plan.routed),
        "unroutable": len(plan.of("unroutable")),
        "split": len(plan.of("split")),
        "generate_s": round(gen_s, 3),
        "pull_s": round(t1 - t0, 3),
        "route_s": round(t2 - t1, 3),
        "wall_s": round(wall, 3),
        "lower_bound_amazon_s": round(bound_amazon, 1),
        "lower_bound_wall_s": round(bound_wall, 3),
        "ratio": round(wall / bound_wall, 3) if bound_wall else None,
        "seconds_per_order_amazon": round(wall * time_scale / max(len(ids), 1), 4),
        "lower_bound_seconds_per_order_amazon": round(bound_amazon / max(len(ids), 1), 4),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.orders", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=10_000)
    ap.add_argument("--time-scale", type=float, default=1000.0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    print(json.dumps(run(a.orders, a.time_scale, a.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
