"""`reconciler emulator orders`: buyers place orders on the embedded emulator.

The embedded emulator is the one ``endpoint: emulator`` accounts use (``<state dir>/
emulator.db``). This command creates merchant-fulfilled ``UNSHIPPED`` orders there, as buyers
would (:func:`reconciler.emulator.orders_gen.generate`: deterministic for a ``--seed``, units
taken from the listings' stock), so `reconciler orders pull/route/confirm` have something to
work on without credentials.
"""

from __future__ import annotations

import click

from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.marketplaces import lookup
from reconciler.pipeline import load

from .common import catalog_argument, err, out, state_dir_for
from .emulator import emulator_group

COMMANDS: tuple[str, ...] = ()  # a subcommand of `reconciler emulator`, added below
MAX_ORDERS = 100_000


@emulator_group.command("orders")
@catalog_argument
@click.option("--count", default=24, show_default=True, type=click.IntRange(1, MAX_ORDERS),
              help="How many orders to create.")
@click.option("--marketplace", "codes", multiple=True, metavar="CODE",
              help="Marketplace code, e.g. US (repeatable; default: every marketplace of the "
              "catalog's endpoint: emulator accounts). Orders go round-robin over them.")
@click.option("--seed", default=0, show_default=True, type=int,
              help="The same seed on the same emulator state makes the same orders.")
def orders_cmd(catalog_dir: str, count: int, codes: tuple[str, ...], seed: int) -> None:
    """Create COUNT buyer orders in the embedded emulator of the state directory.

    Prints the new order ids on stdout. `reconciler orders pull` then reads them like Amazon's.
    """
    from reconciler.emulator import orders_gen
    from reconciler.spapi.connect import embedded_emulator

    desired = load(catalog_dir)
    emulated = [a for a in desired.accounts if a.endpoint == "emulator"]
    if not emulated:
        raise ReconcilerError(
            "no account of the catalog uses endpoint: emulator, so no command would read orders "
            "created in the embedded emulator (set `endpoint: emulator` in reconciler.yaml)"
        )
    offered = [m.code for a in emulated for m in a.marketplaces]
    wanted: list[str] = []
    for code in codes or offered:
        m = lookup(code)
        if m is None or m.code not in offered:
            raise ReconcilerError(
                f"--marketplace {code!r} is not a marketplace of an emulated account "
                f"(they are: {', '.join(offered)})"
            )
        if m.code not in wanted:
            wanted.append(m.code)
    state_dir = state_dir_for(catalog_dir)
    emu = embedded_emulator(state_dir)
    ids = orders_gen.generate(emu, count, tuple(wanted), seed=seed)
    for oid in ids:
        out(oid)
    short = "" if len(ids) == count else (
        f"; {count - len(ids)} not made: a marketplace had nothing left to sell")
    err(f"created {len(ids)} order(s) over {', '.join(wanted)} in the embedded emulator "
        f"({state_dir}){short}")
