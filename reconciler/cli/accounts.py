"""`reconciler accounts [CATALOG_DIR] [--json]`: the catalog's accounts, one job each.

Sharding past one machine is done by an existing scheduler, one job per account (Amazon meters
quotas per seller account): `--json` prints the accounts as a GitHub Actions matrix,
``{"include": [{"account": "na", "region": "NA", "endpoint": "production",
"marketplaces": "US,CA,MX", "refresh_token": "SP_API_REFRESH_TOKEN", ...}, ...]}`` on one line,
for ``strategy.matrix: ${{ fromJSON(needs.accounts.outputs.matrix) }}`` (apply.yml, drift.yml)
or a Kubernetes CronJob per account. Each job selects its listings with ``--account NAME``
(`plan`, `apply`, `show`), so accounts that share a marketplace (an agency's sellers, all on
US) still run as separate jobs; ``marketplaces`` is informational. ``refresh_token``,
``client_id`` and ``client_secret`` are the NAMES of the environment variables the account's
credentials are read from (its ``env/NAME`` references), never values: this command reads no
credential, and a job needs only its own account's.

The catalog is validated as by `reconciler validate`; a bad catalog exits 1 with its problems.
"""

from __future__ import annotations

import json
from typing import Any

import click

from reconciler.catalog.loader import load
from reconciler.catalog.settings import read_config
from reconciler.kernel.credentials import variable_of
from reconciler.kernel.errors import CatalogError, Problem
from reconciler.kernel.model import Account

from .common import catalog_argument, err, out

COMMANDS = ("accounts",)

# "A matrix can generate a maximum of 256 jobs per workflow run."
# https://docs.github.com/en/actions/how-tos/write-workflows/choose-what-workflows-do/run-job-variations
MAX_MATRIX_JOBS = 256


def matrix_entry(account: Account) -> dict[str, str]:
    """One account as a matrix entry: what a per-account job needs to select its listings
    (``--account`` with the name; ``marketplaces`` for people to read) and to map its
    credentials (the variables' names); ``endpoint`` tells whether it needs any (``emulator``
    needs none)."""
    creds = account.credentials
    return {
        "account": account.name,
        "region": account.region,
        "endpoint": account.endpoint,
        "marketplaces": ",".join(m.code for m in account.marketplaces),
        "refresh_token": variable_of(creds.refresh_token),
        "client_id": variable_of(creds.client_id),
        "client_secret": variable_of(creds.client_secret),
    }


def github_matrix(accounts: tuple[Account, ...]) -> dict[str, Any]:
    return {"include": [matrix_entry(a) for a in accounts]}


@click.command("accounts")
@catalog_argument
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a GitHub Actions matrix on one line: "
    '{"include": [{"account": ..., "region": ..., "marketplaces": "US,CA", ...}]}.',
)
def accounts(catalog_dir: str, as_json: bool) -> None:
    """List the accounts of CATALOG_DIR: one job per account (quotas are per account).

    \b
    In a workflow:
      matrix=$(reconciler accounts --json)  ->  strategy.matrix: ${{ fromJSON(...) }}
    Each job runs `reconciler plan/apply --account NAME` (accounts may share a marketplace).
    Each entry names the account, its marketplaces and the environment variables its
    credentials are read from (refresh_token, client_id, client_secret).
    """
    # only the accounts are listed: reconciler.yaml is read and checked, the SKUs are not (a
    # product type cache still to be pulled for a new marketplace is the plan's business)
    raw = load(catalog_dir, definitions=False)
    config_problems: list[Problem] = []
    accounts = read_config(raw.config, config_problems).accounts
    if config_problems:
        raise CatalogError(config_problems)
    if as_json:
        if len(accounts) > MAX_MATRIX_JOBS:
            raise CatalogError(
                [Problem("reconciler.yaml", message=f"{len(accounts)} accounts")],
                summary=f"{len(accounts)} accounts, but a GitHub Actions matrix runs at "
                f"most {MAX_MATRIX_JOBS} jobs per workflow run: split the catalog",
            )
        out(json.dumps(github_matrix(accounts), separators=(",", ":")))
        return
    for a in accounts:
        e = matrix_entry(a)
        out(f"{a.name}  {a.region}  {e['marketplaces']}  (credentials from "
            f"{e['refresh_token']}, {e['client_id']}, {e['client_secret']})")
    err(f"{len(accounts)} account(s)")
