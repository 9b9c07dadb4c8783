"""`reconciler validate [CATALOG_DIR]`: check a catalog without talking to Amazon.

Success: exit 0, one summary line on stdout, warnings on stderr. Failure: a CatalogError
listing every problem with file:line (the CLI boundary prints it and exits 1). Never resolves
credentials and never opens a network connection.
"""

from __future__ import annotations

import datetime as _dt

import click

from reconciler.catalog.desired import build, summary
from reconciler.catalog.loader import load

from .common import catalog_argument, err, out

COMMANDS = ("validate",)


@click.command()
@catalog_argument
def validate(catalog_dir: str) -> None:
    """Validate the catalog in CATALOG_DIR (default: ./catalog or $RECONCILER_CATALOG).

    Checks every file against its JSON Schema (`reconciler schema KIND`), then builds the
    desired listings: prices, texts, quantities. Reports every problem with file and line.
    """
    today = _dt.datetime.now(_dt.timezone.utc).date()
    state = build(load(catalog_dir), today=today)
    for w in state.warnings:
        err(f"warning: {w}")
    out(summary(state))
