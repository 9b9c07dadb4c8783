"""`reconciler emulator serve`: the SP-API emulator as a real HTTP server on loopback."""

from __future__ import annotations

import click

from reconciler.kernel.errors import ReconcilerError

from .common import err

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
@click.option(
    "--feed-per-message",
    default=0.0005,
    show_default=True,
    type=float,
    help="Amazon seconds a feed's processing takes per message, on top of --feed-processing "
    "(scaled).",
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
def serve(
    host: str,
    port: int,
    db: str,
    seed_files: tuple[str, ...],
    time_scale: float,
    latency_ms: float,
    write_delay: float,
    feed_processing: float,
    feed_per_message: float,
    faults: str,
    fault_seed: int,
    no_quotas: bool,
    sandbox: bool,
    permissive: bool,
    log_requests: bool,
) -> None:
    """Serve the emulator over HTTP/1.1 until SIGINT/SIGTERM.

    Prints "emulator listening on http://HOST:PORT" on stderr once it accepts connections.
    """
    from reconciler.emulator.app import Emulator
    from reconciler.emulator.faults import FaultSpec, FaultSpecError
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
    config = EmulatorConfig(
        time_scale=time_scale,
        latency_ms=latency_ms,
        write_delay_s=write_delay,
        feed_processing_s=feed_processing,
        feed_per_message_s=feed_per_message,
        quotas=not no_quotas,
        sandbox=sandbox,
        faults=spec,
        seed=fault_seed,
        permissive=permissive,
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
