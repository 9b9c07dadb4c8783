"""`reconciler emulator serve`: the SP-API emulator as a real HTTP server on loopback."""

from __future__ import annotations

import click

from reconciler.kernel.errors import ReconcilerError

from .common import err, out

COMMANDS: tuple[str, ...] = ("emulator_group",)

FAULTS_HELP = (
    "Fault injection, comma-separated NAME=RATE (probability per SP-API request): "
    "429, 500, 503 (error responses), reset (connection reset), timeout (no answer), "
    "expire (the access token expires now), slow=RATE:MS (MS extra latency); per object: "
    "stuck-feed=RATE (a feed stays IN_PROGRESS forever), late-issue=RATE (an accepted listing "
    "write gains an ERROR issue once processed: catalog conflict 8541 or price out of range). "
    "Example: 429=0.1,500=0.01,503=0.01,reset=0.01,timeout=0.005,expire=0.001,slow=0.01:2000"
)


class EmulatorError(ReconcilerError):
    pass


@click.group(name="emulator")
def emulator_group() -> None:
    """A faithful local Amazon SP-API (Listings Items, Feeds, Supply Sources, LWA)."""


@emulator_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8765, show_default=True, type=int, help="0 picks a free port.")
@click.option("--db", default=":memory:", show_default=True, help="SQLite file for the state.")
@click.option(
    "--seed",
    "seed_files",
    type=click.Path(dir_okay=False, exists=True),
    multiple=True,
    help="YAML/JSON seed file (sellers, listings, supply sources, refresh tokens bound to "
    "their sellers); repeat to load several.",
)
@click.option(
    "--time-scale",
    default=1.0,
    show_default=True,
    type=float,
    help="Multiplies every rate and divides every delay.",
)
@click.option(
    "--latency",
    "latency_ms",
    default=0.0,
    show_default=True,
    type=float,
    help="Latency per request in ms (divided by the time scale).",
)
@click.option(
    "--write-delay",
    default=120.0,
    show_default=True,
    type=float,
    help="Amazon seconds before an ACCEPTED listing write becomes visible (scaled).",
)
@click.option(
    "--feed-processing",
    default=300.0,
    show_default=True,
    type=float,
    help="Amazon seconds a feed takes: a quarter IN_QUEUE, the rest IN_PROGRESS (scaled).",
)
@click.option("--faults", default="", help=FAULTS_HELP)
@click.option("--fault-seed", default=0, show_default=True, type=int, help="RNG seed for faults.")
@click.option("--no-quotas", is_flag=True, help="Disable the per-operation token buckets.")
@click.option(
    "--sandbox",
    is_flag=True,
    help="Answer the static x-amzn-api-sandbox vectors of Amazon's models.",
)
@click.option(
    "--permissive",
    is_flag=True,
    help="Quick tries: exchange any refresh token, not only the seed file's refreshTokens; "
    "such a token acts for the seller each request names (listings: the path's sellerId, "
    "feeds: the document's header.sellerId). Default: strict, each refresh token bound to "
    "one seller.",
)
@click.option("--log-requests", is_flag=True, help="Log each request on stderr.")
@click.option(
    "--sqs-endpoint",
    default=None,
    metavar="URL",
    help="Publish SP-API notifications of subscribed sellers to this loopback SQS-compatible "
    "server (e.g. moto's server mode). Default: no notifications.",
)
@click.option(
    "--eventbridge-queue-arn",
    default=None,
    metavar="ARN",
    help="The SQS queue the emulated EventBridge rule targets: where the listings "
    "notifications of eventBridge destinations go (as EventBridge events).",
)
@click.option(
    "--notify-faults",
    default="",
    help="Notification delivery faults: dup=RATE[:COPIES] (same notificationId delivered "
    "COPIES times), delay=S and jitter=S (Amazon seconds), reorder. "
    "Example: dup=0.2:3,delay=5,jitter=10,reorder",
)
def serve(
    host: str,
    port: int,
    db: str,
    seed_files: tuple[str, ...],
    time_scale: float,
    latency_ms: float,
    write_delay: float,
    feed_processing: float,
    faults: str,
    fault_seed: int,
    no_quotas: bool,
    sandbox: bool,
    permissive: bool,
    log_requests: bool,
    sqs_endpoint: str | None,
    eventbridge_queue_arn: str | None,
    notify_faults: str,
) -> None:
    """Serve the emulator over HTTP/1.1 until SIGINT/SIGTERM.

    Prints "emulator listening on http://HOST:PORT" on stderr once it accepts connections.
    """
    from reconciler.emulator.app import Emulator
    from reconciler.emulator.faults import FaultSpec, FaultSpecError, NotifyFaults
    from reconciler.emulator.seed import SeedError, load_seed_file
    from reconciler.emulator.server import make_server, serve_until_signalled
    from reconciler.emulator.state import EmulatorConfig

    if not 0 <= port <= 65535:
        raise EmulatorError(f"--port {port} is not a TCP port: give 1..65535, or 0 for a free one")
    if time_scale <= 0:
        raise EmulatorError("--time-scale must be > 0")
    try:
        spec = FaultSpec.parse(faults)
    except FaultSpecError as e:
        raise EmulatorError(f"--faults: {e}") from None
    try:
        nspec = NotifyFaults.parse(notify_faults)
    except FaultSpecError as e:
        raise EmulatorError(f"--notify-faults: {e}") from None
    if sqs_endpoint is not None:
        from urllib.parse import urlsplit

        from reconciler.kernel.destinations import is_loopback

        parts = urlsplit(sqs_endpoint)
        if parts.scheme not in ("http", "https") or not is_loopback(parts.hostname or ""):
            raise EmulatorError(
                f"--sqs-endpoint {sqs_endpoint!r}: give a loopback URL such as "
                "http://127.0.0.1:5000 (the emulator publishes to a local SQS server only)"
            )
    config = EmulatorConfig(
        time_scale=time_scale,
        latency_ms=latency_ms,
        write_delay_s=write_delay,
        feed_processing_s=feed_processing,
        quotas=not no_quotas,
        sandbox=sandbox,
        faults=spec,
        seed=fault_seed,
        permissive=permissive,
        sqs_endpoint=sqs_endpoint,
        eventbridge_queue_arn=eventbridge_queue_arn,
        notify_faults=nspec,
    )
    emu = Emulator(db, config)
    try:
        for seed_file in seed_files:
            emu.seed(load_seed_file(seed_file))
        server = make_server(emu, host, port, log=log_requests)
    except (SeedError, OSError, KeyError, TypeError, ValueError) as e:
        emu.close()
        raise EmulatorError(f"cannot start the emulator: {e}") from None
    serve_until_signalled(server, ready=lambda url: err(f"emulator listening on {url}"))
    err("emulator stopped")


def _post_local(url: str, path: str, body: dict[str, object]) -> dict[str, object]:
    """POST to a running local emulator's ``/_emulator`` routes (loopback only)."""
    from urllib.parse import urlsplit

    import httpx

    from reconciler.kernel.destinations import is_loopback

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not is_loopback(parts.hostname or ""):
        raise EmulatorError(f"--url {url!r}: give the loopback URL `emulator serve` printed")
    try:
        r = httpx.post(url.rstrip("/") + path, json=body, timeout=30.0)
    except httpx.HTTPError as e:
        raise EmulatorError(f"cannot reach the emulator at {url}: {type(e).__name__}") from None
    try:
        data = r.json()
    except ValueError:
        data = {}
    if r.status_code != 200:
        errors = data.get("errors") if isinstance(data, dict) else None
        detail = errors[0].get("details") if isinstance(errors, list) and errors else r.text
        raise EmulatorError(f"the emulator refused: {detail}")
    return data if isinstance(data, dict) else {}


@emulator_group.command("set-quantity")
@click.option("--url", required=True, help="The running emulator, e.g. http://127.0.0.1:8765.")
@click.option("--seller", default=None, help="Seller id (default: the emulator's default).")
@click.option("--sku", required=True)
@click.option("--marketplace", "marketplace", required=True, metavar="CODE|ID",
              help="Marketplace code (US) or id.")
@click.option("--quantity", required=True, type=click.IntRange(0, 1_000_000_000))
def set_quantity_cmd(url: str, seller: str | None, sku: str, marketplace: str,
                     quantity: int) -> None:
    """Change a merchant-fulfilled quantity "in Seller Central" (outside any tool) on a running
    emulator: publishes LISTINGS_ITEM_MFN_QUANTITY_CHANGE to subscribed queues."""
    body: dict[str, object] = {"sku": sku, "marketplaceId": _marketplace_id(marketplace),
                               "quantity": quantity}
    if seller:
        body["sellerId"] = seller
    _post_local(url, "/_emulator/seller-central/quantity", body)
    err(f"{sku} in {marketplace}: quantity {quantity}")


@emulator_group.command("order")
@click.option("--url", required=True, help="The running emulator, e.g. http://127.0.0.1:8765.")
@click.option("--seller", default=None, help="Seller id (default: the emulator's default).")
@click.option("--marketplace", "marketplace", required=True, metavar="CODE|ID")
@click.option("--sku", "skus", multiple=True, required=True, metavar="SKU[:QTY]",
              help="A line of the order (repeatable); QTY defaults to 1.")
def order_cmd(url: str, seller: str | None, marketplace: str, skus: tuple[str, ...]) -> None:
    """A buyer orders now on a running emulator (its stock goes down; ORDER_CHANGE and the
    quantity change are published to subscribed queues). Prints the order id."""
    items = []
    for spec in skus:
        sku, _, qty = spec.rpartition(":") if ":" in spec else (spec, "", "1")
        if not qty.isdigit() or int(qty) < 1:
            raise EmulatorError(f"--sku {spec!r}: expected SKU or SKU:QTY with QTY >= 1")
        items.append({"sku": sku, "quantity": int(qty)})
    body: dict[str, object] = {"marketplaceId": _marketplace_id(marketplace), "items": items}
    if seller:
        body["sellerId"] = seller
    data = _post_local(url, "/_emulator/orders", body)
    out(str(data.get("orderId", "")))


def _marketplace_id(code_or_id: str) -> str:
    from reconciler.kernel.marketplaces import lookup

    m = lookup(code_or_id)
    if m is None:
        raise EmulatorError(f"--marketplace {code_or_id!r} is not a marketplace code or id")
    return m.marketplace_id
