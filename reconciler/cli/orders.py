"""`reconciler orders pull|route|confirm`: aggregate orders, route them, confirm shipments.

Each run ends with one KPI line on stderr (``orders pulled=… routed=… unroutable=…
confirmed=… seconds_per_order=…``); the same figures are in the JSON output.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import click

from reconciler.catalog import loader
from reconciler.kernel.errors import EXIT_ERROR
from reconciler.orders import confirm as confirm_mod
from reconciler.orders import route as route_mod
from reconciler.orders import warehouses as wh_mod
from reconciler.orders.model import CSV_FIELDS, csv_rows
from reconciler.orders.pull import pull as pull_orders
from reconciler.orders.state import OrderState, Reservation
from reconciler.pipeline import close_clients, load, open_clients

from .common import (
    catalog_argument,
    check_output_dir,
    check_output_file,
    err,
    out,
    state_dir_for,
)
from .plan import write_atomically

COMMANDS = ("orders",)


KPI_FILE = "orders-kpi.jsonl"


def kpi_line(**kpi: Any) -> str:
    return "orders " + " ".join(f"{k}={v}" for k, v in kpi.items())


def report_kpi(state_dir: str, command: str, kpi: dict[str, Any]) -> None:
    """The KPI line on stderr, and one JSON line appended to ``<state_dir>/orders-kpi.jsonl``
    (the history of runs: pulled, routed, unroutable, confirmed, seconds per order)."""
    import datetime as dt

    err(kpi_line(**kpi))
    row = {"at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "command": command, **kpi}
    path = Path(state_dir) / KPI_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")


def _per_order(seconds: float, n: int) -> str:
    return f"{seconds / n:.4f}" if n else "n/a"


def _emit(text: str, out_file: str | None) -> None:
    if out_file:
        write_atomically(out_file, text)
    else:
        out(text)


@click.group("orders")
def orders() -> None:
    """Pull every marketplace's orders, route them to warehouses, confirm shipments."""


@orders.command("pull")
@catalog_argument
@click.option("--since", metavar="ISO", help="First pull only: orders updated since (default 30"
              " days ago). Later pulls continue from the stored cursor.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text",
              show_default=True)
@click.option("--all", "show_all", is_flag=True, help="Print every stored order, not only the"
              " new/changed ones of this run.")
@click.option("--out", "out_file", metavar="FILE", help="Write the stream to FILE.")
def pull_cmd(catalog_dir: str, since: str | None, fmt: str, show_all: bool,
             out_file: str | None) -> None:
    """Pull new and updated orders of every account and marketplace (incremental)."""
    state_dir = state_dir_for(catalog_dir)
    check_output_file(out_file)
    desired = load(catalog_dir)
    clients = open_clients(desired, state_dir=state_dir)
    try:
        with OrderState(state_dir) as st:
            res = pull_orders(desired.accounts, clients, st, since=since)
            shown = st.orders() if show_all else res.orders
    finally:
        close_clients(clients)
    kpi = {"pulled": len(res.orders), "pages": res.pages,
           "seconds": round(res.seconds, 3),
           "seconds_per_order": _per_order(res.seconds, len(res.orders))}
    if fmt == "json":
        _emit(json.dumps({"kpi": kpi, "orders": [o.to_json() for o in shown]}, indent=2,
                         ensure_ascii=False), out_file)
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
        w.writeheader()
        for o in shown:
            w.writerows(csv_rows(o))
        _emit(buf.getvalue().rstrip("\n"), out_file)
    else:
        lines = [f"{o.order_id}  {o.marketplace}  {o.status:<10} {o.ship_to.country}/"
                 f"{o.ship_to.region or '-'}  " + ", ".join(f"{x.quantity}x {x.sku}"
                                                           for x in o.lines) for o in shown]
        lines.append(f"{len(res.orders)} new or updated order(s) pulled ({res.seen} seen,"
                     f" {res.pages} page(s)).")
        _emit("\n".join(lines), out_file)
    report_kpi(state_dir, "pull", kpi)


@orders.command("route")
@catalog_argument
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text",
              show_default=True)
@click.option("--out", "out_file", metavar="FILE", help="Write the routing plan to FILE.")
@click.option("--picklists", "pick_dir", metavar="DIR", default="picklists", show_default=True,
              help="Directory for one pick list CSV per warehouse.")
@click.option("--dry-run", is_flag=True, help="Show the plan; reserve nothing, write no pick"
              " lists.")
def route_cmd(catalog_dir: str, fmt: str, out_file: str | None, pick_dir: str,
              dry_run: bool) -> None:
    """Route unshipped orders to the nearest warehouse with stock for every line."""
    import time

    start = time.monotonic()
    state_dir = state_dir_for(catalog_dir)
    check_output_file(out_file)
    if not dry_run:  # before anything is reserved
        check_output_dir(pick_dir, "--picklists")
    raw = loader.load(catalog_dir)
    whs = wh_mod.load(catalog_dir, raw)
    if not whs:
        raise click.ClickException(f"{catalog_dir}/warehouses.yaml is missing: no warehouse to"
                                   " route to")
    with OrderState(state_dir) as st:
        plan, reservations = plan_routes(st, whs, raw.stock or ())
        if not dry_run:
            st.reserve(reservations)
    if not dry_run:
        Path(pick_dir).mkdir(parents=True, exist_ok=True)
        for name in sorted(plan.picks()):
            write_atomically(str(Path(pick_dir) / f"{name}.csv"),
                             route_mod.pick_list_csv(plan, name))
    seconds = time.monotonic() - start
    s = route_mod.summary(plan)
    kpi = {"routed": s["routed"], "split": s["split"], "unroutable": s["unroutable"],
           "seconds": round(seconds, 3), "seconds_per_order": _per_order(seconds, s["orders"])}
    if fmt == "json":
        _emit(json.dumps({"kpi": kpi, **route_mod.to_json(plan)}, indent=2,
                         ensure_ascii=False), out_file)
    elif fmt == "markdown":
        _emit(route_mod.render_markdown(plan), out_file)
    else:
        _emit(route_mod.render_text(plan), out_file)
    report_kpi(state_dir, "route", kpi)


def plan_routes(st: OrderState, whs: tuple[wh_mod.Warehouse, ...], stock: Any
                ) -> tuple[route_mod.RoutingPlan, list[Reservation]]:
    """Route every stored merchant order that is unshipped and not routed yet; returns the
    plan and the reservations to record."""
    reserved = st.reserved_totals()
    available: dict[tuple[str, str], int] = {}
    for r in stock:
        available[(r.location, r.sku)] = available.get((r.location, r.sku), 0) + r.on_hand
    for (sku, location), q in reserved.items():
        if (location, sku) in available:
            available[(location, sku)] = max(0, available[(location, sku)] - q)
    done = st.routed_orders()
    todo = [o for o in st.orders(route_mod.ROUTABLE_STATUSES)
            if o.order_id not in done and o.fulfilled_by == "MERCHANT"]
    plan = route_mod.route(todo, whs, available)
    res = [Reservation(p.order_id, p.warehouse, p.location, p.sku, p.quantity)
           for r in plan.routed for p in r.picks]
    return plan, res


@orders.command("confirm")
@catalog_argument
@click.option("--shipments", "shipments_file", required=True, metavar="FILE",
              type=click.Path(dir_okay=False, exists=True),
              help="Warehouse export: order_id,carrier,method,tracking_number,ship_date.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--timeout", "timeout_s", type=float, default=900.0, show_default=True,
              help="Seconds to follow the feed before reporting it pending.")
@click.option("--poll-seconds", "poll_s", type=float, default=15.0, show_default=True,
              help="First delay between feed status checks (doubles up to a minute).")
def confirm_cmd(catalog_dir: str, shipments_file: str, fmt: str, timeout_s: float,
                poll_s: float) -> None:
    """Confirm shipments to Amazon with the POST_ORDER_FULFILLMENT_DATA feed."""
    data = Path(shipments_file).read_bytes()[: confirm_mod.MAX_FILE_BYTES + 1]
    if len(data) > confirm_mod.MAX_FILE_BYTES:
        raise confirm_mod.ShipmentsFileError(f"{shipments_file} is larger than "
                                             f"{confirm_mod.MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise confirm_mod.ShipmentsFileError(f"{shipments_file} is not UTF-8 text") from e
    state_dir = state_dir_for(catalog_dir)
    desired = load(catalog_dir)
    clients = open_clients(desired, state_dir=state_dir)
    try:
        with OrderState(state_dir) as st:
            res = confirm_mod.confirm(text, desired.accounts, clients, st, timeout_s=timeout_s,
                                     poll_s=poll_s)
    finally:
        close_clients(clients)
    n_ok = res.count("confirmed")
    kpi = {"confirmed": n_ok, "rejected": res.count("rejected"), "errors": res.count("error"),
           "skipped": res.count("skipped"), "pending": res.count("pending"),
           "seconds": round(res.seconds, 3), "seconds_per_order": _per_order(res.seconds, n_ok)}
    if fmt == "json":
        out(json.dumps({"kpi": kpi, "feeds": res.feeds, "orders": [
            {"orderId": o.order_id, "line": o.line, "outcome": o.outcome,
             "message": o.message} for o in res.outcomes]}, indent=2, ensure_ascii=False))
    else:
        for o in sorted(res.outcomes, key=lambda o: (o.line, o.order_id)):
            where = f"line {o.line}: " if o.line else ""
            out(f"{where}{o.order_id or '-'}: {o.outcome}" + (f" ({o.message})"
                                                               if o.message else ""))
        out(f"{n_ok} confirmed, {res.count('rejected')} rejected, {res.count('error')} line"
            f" error(s), {res.count('skipped')} skipped, {res.count('pending')} pending.")
    report_kpi(state_dir, "confirm", kpi)
    if res.count("error") or res.count("rejected"):
        raise click.exceptions.Exit(EXIT_ERROR)
