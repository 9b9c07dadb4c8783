"""`reconciler validate [CATALOG_DIR]`: check a catalog without talking to Amazon.

Success: exit 0, one summary line on stdout, warnings on stderr. Failure: a CatalogError
listing every problem with file:line (the CLI boundary prints it and exits 1). Never resolves
credentials and never opens a network connection.

Account endpoints are checked with the very rule ``plan`` and ``apply`` use to pick the base URL
(:func:`reconciler.spapi.connect.base_url_for`), so what validate (and the pre-commit hook)
accepts, plan accepts too.
"""

from __future__ import annotations

import datetime as _dt

import click

from reconciler.catalog.desired import build, summary
from reconciler.catalog.loader import load
from reconciler.catalog.raw import RawCatalog
from reconciler.kernel.errors import CatalogError, Problem, ReconcilerError
from reconciler.kernel.model import DesiredState

from .common import catalog_argument, err, out

COMMANDS = ("validate",)


def endpoint_problems(raw: RawCatalog, state: DesiredState) -> list[Problem]:
    """Each account endpoint that plan would refuse, at its place in reconciler.yaml."""
    from reconciler.spapi.connect import base_url_for  # pure; no connection is opened

    problems = []
    for account in state.accounts:
        if account.endpoint == "emulator":
            continue
        try:
            base_url_for(account)
        except ReconcilerError as e:
            ref = raw.config.ref("accounts", account.name, "endpoint")
            problems.append(Problem(ref.file, ref.line, ref.column, str(e)))
    return problems


@click.command()
@catalog_argument
def validate(catalog_dir: str) -> None:
    """Validate the catalog in CATALOG_DIR (default: ./catalog or $RECONCILER_CATALOG).

    Checks every file against its JSON Schema (`reconciler schema KIND`), then builds the
    desired listings: prices, texts, quantities. Reports every problem with file and line.
    """
    today = _dt.datetime.now(_dt.timezone.utc).date()
    raw = load(catalog_dir)
    state = build(raw, today=today)
    problems = endpoint_problems(raw, state)
    if problems:
        raise CatalogError(problems)
    for w in state.warnings:
        err(f"warning: {w}")
    out(summary(state))
