"""``python -m bench watch [--orders N] [--rate PER_MIN] [--workers N] ...``: real-time stock.

An emulator HTTP server (listings equal to a catalog of SKUs shared by US, CA, MX, UK and DE,
every site refilled from one central stock), moto's SQS server and N ``reconciler watch``
processes on one queue. Buyers order at ``--rate`` orders a minute (Amazon time) spread over the
five marketplaces, 1 or 2 units each: by default in the emulator, which takes the units from
the ordering listing and publishes ORDER_CHANGE and LISTINGS_ITEM_MFN_QUANTITY_CHANGE as Amazon
does (``--faults`` adds duplicates, delay, jitter, reordering); ``--via direct`` sends
ORDER_CHANGE notifications itself. Central stock
is exactly what the five sites advertise, so every order lowers at least one listing.

Prints one JSON object:

``orders``            orders sent; ``reserved`` the orders found reserved exactly once;
``reaction_p50_s``,   from the order's EventTime to the end of the batch that wrote the last
``reaction_p95_s``    quantity it changed, in Amazon seconds (wall x time scale);
``oversell_max_s``    the longest time any SKU's units advertised across the five sites
                      exceeded its units in stock (stock = central - units ordered so far),
                      sampled every 0.2 s wall from the emulator's database (with ``--via
                      direct`` the ordering listing keeps its units: an upper bound);
``patches``, ``patches_per_s_per_seller``  PATCHes sent (quota: 5 per second per seller,
                      burst 5; the emulator enforces it, the client waits);
``fresh_plan_changes``  changes a plan finds afterwards (0: converged).

Default: 200 orders at 200 a minute, 3 workers (about 70 s of wall). ``--orders 500`` and
``--time-scale`` for longer or faster runs.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.watch_world import MARKETS, SELLERS, World, sku_name, world
from reconciler.kernel.marketplaces import by_code
from reconciler.orders.state import OrderState
from reconciler.pipeline import close_clients, run_plan
from reconciler.watch import shapes
from reconciler.watch.store import WatchStore, overlapping_writes
from tests.sqsserver import sqs_client

ACCOUNT_OF = {m: a for a, ms in MARKETS.items() for m in ms}
ORDER_MARKETS = ("US", "CA", "MX", "UK", "DE")


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, max(0, math.ceil(q * len(v)) - 1))], 3)


class Sampler(threading.Thread):
    """Advertised units per SKU (emulator db) against stock (central - ordered so far)."""

    def __init__(self, db: Path, central: int) -> None:
        super().__init__(daemon=True, name="oversell-sampler")
        self.db = db
        self.central = central
        self.sold: dict[str, int] = {}
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.over_since: dict[str, float] = {}
        self.longest = 0.0
        self.samples = 0

    def sell(self, sku: str, qty: int) -> None:
        with self.lock:
            self.sold[sku] = self.sold.get(sku, 0) + qty

    def run(self) -> None:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            while not self.done.wait(0.2):
                self.sample(conn)
            self.sample(conn)
        finally:
            conn.close()

    def sample(self, conn: sqlite3.Connection) -> None:
        advertised: dict[str, int] = {}
        try:
            rows = conn.execute("SELECT sku, attributes FROM listings").fetchall()
        except sqlite3.OperationalError:
            return
        for sku, attrs in rows:
            fa = json.loads(attrs).get("fulfillment_availability") or []
            advertised[sku] = advertised.get(sku, 0) + sum(int(e.get("quantity") or 0)
                                                           for e in fa)
        now = time.monotonic()
        self.samples += 1
        with self.lock:
            sold = dict(self.sold)
        for sku, units in advertised.items():
            if units > self.central - sold.get(sku, 0):
                start = self.over_since.setdefault(sku, now)
                self.longest = max(self.longest, now - start)
            else:
                self.over_since.pop(sku, None)


def _workers(w: World, n: int, window: float) -> list[subprocess.Popen[str]]:
    """N workers; each one's log is ``<state>/worker-<i>.log``."""
    return [subprocess.Popen(
        [sys.executable, "-m", "reconciler", "watch", str(w.catalog), "--queue-url", w.queue_url,
         "--sqs-endpoint", w.sqs_endpoint, "--window", str(window), "--wait", "2",
         "--visibility-timeout", "30", "--lease-ttl", "15"],
        env=w.env, cwd=str(w.state_dir), stdout=subprocess.PIPE,
        stderr=(w.state_dir / f"worker-{i}.log").open("w", encoding="utf-8"),
        text=True) for i in range(n)]


def run(orders: int = 200, rate_per_min: float = 200.0, workers: int = 3, skus: int = 0,
        window: float = 1.0, time_scale: float = 1.0, max_per_site: int = 8, seed: int = 1,
        workdir: str | None = None, via: str = "emulator", faults: str = "",
        kill_after: int = 0) -> dict[str, Any]:
    skus = skus or max(10, math.ceil(orders / 10))
    central = 5 * max_per_site
    rng = random.Random(seed)
    root = Path(workdir or tempfile.mkdtemp(prefix="bench-watch-"))
    started = time.monotonic()
    with world(root, skus=skus, central=central, max_per_site=max_per_site,
               time_scale=time_scale, notify=via == "emulator", notify_faults=faults) as w:
        sqs = sqs_client(w.sqs_endpoint)
        sampler = Sampler(root / "emulator.db", central)
        sampler.start()
        procs = _workers(w, workers, window)
        interval = 60.0 / rate_per_min / time_scale  # wall seconds between orders
        t0 = time.monotonic()
        expected: dict[str, int] = {}
        skipped = 0
        killed = None
        for i in range(orders):
            if kill_after and i == kill_after:  # must-show 3: a worker dies mid-way
                procs[0].send_signal(signal.SIGKILL)
                killed = procs[0].pid
            delay = t0 + i * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            market = ORDER_MARKETS[i % 5]
            qty = 1 + rng.randrange(2)
            oid = f"704-{i:07d}-{seed:07d}"
            seller, mp_id = SELLERS[ACCOUNT_OF[market]], by_code(market).marketplace_id
            if via == "emulator":  # a buyer orders: Amazon takes the units and notifies
                for _try in range(skus):
                    sku = sku_name(rng.randrange(skus))
                    try:
                        w.emu.place_order(seller, mp_id, [(sku, qty)], order_id=oid)
                    except ValueError:  # that listing has fewer units: another SKU
                        continue
                    expected[oid] = qty
                    sampler.sell(sku, qty)
                    break
                else:
                    skipped += 1
                continue
            sku = sku_name(rng.randrange(skus))
            expected[oid] = qty
            sampler.sell(sku, qty)
            sqs.send_message(QueueUrl=w.queue_url, MessageBody=shapes.body(shapes.order_change(
                seller, oid, mp_id, [(f"{oid}-1", sku, qty)])))
        send_wall = time.monotonic() - t0
        deadline = time.monotonic() + 120
        with WatchStore(w.state_dir) as st:
            while time.monotonic() < deadline:
                reactions = st.reactions()
                if len(reactions) >= len(expected) and \
                        all(d is not None for _o, _p, d in reactions):
                    break
                time.sleep(0.5)
            reactions = st.reactions()
            writes = st.writes()
        for p in procs:
            p.send_signal(signal.SIGTERM)  # each finishes its batch in flight, then exits
        codes = []
        for p in procs:
            try:
                p.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
            codes.append(p.returncode)
        sampler.done.set()
        sampler.join(10)
        with OrderState(w.state_dir) as ost:
            per_order: dict[str, int] = {}
            for r in ost.reservations():
                per_order[r.order_id] = per_order.get(r.order_id, 0) + r.quantity
        plan_run = run_plan(w.catalog, state_dir=str(w.state_dir), env=w.env)
        close_clients(plan_run.clients)
        lat = [(d - p) * time_scale for _o, p, d in reactions if d is not None]
        span = max((e for *_x, e in writes), default=0.0) - min((b for *_x, b, _e in writes),
                                                                 default=0.0)
        by_seller: dict[str, int] = {}
        for a, *_rest in writes:
            by_seller[a] = by_seller.get(a, 0) + 1
        return {
            "scenario": "watch", "orders": len(expected), "not_placed": skipped,
            "via": via, "faults": faults, "rate_per_min": rate_per_min,
            "workers": workers, "skus": skus, "marketplaces": list(ORDER_MARKETS),
            "time_scale": time_scale, "window_s": window,
            "reserved": sum(1 for o, q in expected.items() if per_order.get(o) == q),
            "reaction_p50_s": _pct(lat, 0.50), "reaction_p95_s": _pct(lat, 0.95),
            "reaction_max_s": _pct(lat, 1.0), "unfinished": len(expected) - len(lat),
            "oversell_max_s": round(sampler.longest * time_scale, 3),
            "oversell_samples": sampler.samples,
            "patches": len(writes),
            "patches_per_s_per_seller": {
                a: round(n / (span * time_scale), 2) if span > 0 else None
                for a, n in sorted(by_seller.items())},
            "overlapping_writes": len(overlapping_writes(writes)),
            "fresh_plan_changes": len(plan_run.plan.changes),
            "worker_exit_codes": codes, "killed_worker": killed,
            "send_wall_s": round(send_wall, 2),
            "wall_s": round(time.monotonic() - started, 2),
        }


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench watch", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=200)
    ap.add_argument("--rate", type=float, default=200.0, help="orders a minute (Amazon time)")
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--skus", type=int, default=0, help="default: orders / 10 (at least 10)")
    ap.add_argument("--window", type=float, default=1.0, help="watch --window (wall s)")
    ap.add_argument("--time-scale", type=float, default=1.0)
    ap.add_argument("--max-per-site", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--via", choices=["emulator", "direct"], default="emulator",
                    help="emulator: buyers order in the emulator, which takes the units and "
                         "publishes the notifications (as Amazon); direct: the bench sends "
                         "ORDER_CHANGE itself and the ordering listing keeps its units")
    ap.add_argument("--kill-after", type=int, default=0,
                    help="SIGKILL one worker after this many orders (0: none)")
    ap.add_argument("--faults", default="",
                    help="emulator delivery faults, e.g. dup=0.1:3,jitter=5,reorder")
    ns = ap.parse_args(argv)
    print(json.dumps(run(ns.orders, ns.rate, ns.workers, ns.skus, ns.window, ns.time_scale,
                         ns.max_per_site, ns.seed, ns.workdir, ns.via, ns.faults,
                         ns.kill_after)), flush=True)


def scenario_watch(p: Any) -> dict[str, Any]:
    """The registry's entry (``Params``: only ``time_scale`` and ``workdir`` are used)."""
    return run(time_scale=p.time_scale, workdir=p.workdir)
