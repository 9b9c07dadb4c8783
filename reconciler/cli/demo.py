"""`reconciler demo`: plan -> apply -> plan on the embedded emulator, no credentials needed."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.kernel.errors import NotConvergedError, UnsafePlanError
from reconciler.live.cache import CACHE_FILENAME
from reconciler.pipeline import close_clients, load, run_plan
from reconciler.spapi.connect import EMULATOR_DB, close_embedded_emulators

from .apply import apply_command
from .common import catalog_argument, err, out, state_dir_for
from .plan import plan as plan_command

COMMANDS = ("demo",)


def reset_embedded_state(state_dir: str) -> None:
    """Forget the embedded emulator's state so it is re-seeded with the drifted sample."""
    close_embedded_emulators()
    for name in (EMULATOR_DB, CACHE_FILENAME):
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(state_dir, name + suffix).unlink(missing_ok=True)


@click.command("demo")
@catalog_argument
@click.option(
    "--strategy", type=click.Choice(["auto", "patch", "feed"]), default="auto", show_default=True,
    help="How apply writes: patchListingsItem calls or JSON_LISTINGS_FEED feeds.",
)
@click.option("--keep", is_flag=True, help="Keep the embedded emulator's current state (no reset).")
@click.option("--watch", "watch_demo", is_flag=True,
              help="Instead: real-time stock. An order on CA lowers US and MX in seconds "
                   "(emulator + SQS server on loopback + a `watch` worker; CATALOG_DIR unused).")
@click.option("--sqs-endpoint", default=None, envvar="RECONCILER_SQS_ENDPOINT",
              help="With --watch: an SQS server to use (default: moto's, started here).")
@click.pass_context
def demo(ctx: click.Context, catalog_dir: str, strategy: str, keep: bool, watch_demo: bool,
         sqs_endpoint: str | None) -> None:
    """Run plan -> apply -> plan on the embedded SP-API emulator.

    Resets the emulator under $RECONCILER_STATE_DIR (default ./.reconciler) to a live state that
    has drifted from CATALOG_DIR (default ./catalog), shows the plan, applies it with
    --auto-approve, and plans again, which must show no changes.
    """
    if watch_demo:
        from .demo_watch import run_demo

        run_demo(sqs_endpoint)
        return
    state_dir = state_dir_for(catalog_dir)
    desired = load(catalog_dir, state_dir=state_dir)  # as plan/apply: reservations count
    if any(a.endpoint != "emulator" for a in desired.accounts):
        raise click.UsageError(
            "demo only runs against the embedded emulator; every account in reconciler.yaml "
            "must have `endpoint: emulator`"
        )
    if not keep:
        reset_embedded_state(state_dir)
    err("== 1/3 plan (live state has drifted from the catalog)")
    try:
        ctx.invoke(plan_command, catalog_dir=catalog_dir)
    except UnsafePlanError as e:
        for line in e.lines():
            err(line)
        err("(the demo applies it anyway, as `reconciler apply --force` would)")
    err("== 2/3 apply")
    ctx.invoke(
        apply_command, catalog_dir=catalog_dir, auto_approve=True, strategy=strategy, force=True
    )
    err("== 3/3 plan again")
    run = run_plan(catalog_dir, state_dir=state_dir, desired=desired)
    close_clients(run.clients)
    if run.plan.has_changes:
        ctx.invoke(plan_command, catalog_dir=catalog_dir, force=True)
        raise NotConvergedError(
            f"demo: {len(run.plan.changes)} listing(s) still differ after apply"
        )
    out(f"no changes: {run.plan.unchanged} listings match the catalog")
