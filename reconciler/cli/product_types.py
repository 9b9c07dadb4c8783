"""`reconciler product-types pull|list`: the catalog's cached product type definitions."""

from __future__ import annotations

import datetime as _dt
import os

import click

from reconciler.kernel.errors import ReconcilerError

from .common import catalog_argument, err, out, state_dir_for

COMMANDS = ("product_types",)


@click.group("product-types")
def product_types() -> None:
    """Amazon's product type definitions, cached in the catalog (product-types/).

    `validate` and `plan` check every listing against these copies offline; `pull` refreshes
    them from Amazon (getDefinitionsProductType) and rewrites only what changed.
    """


@product_types.command("pull")
@catalog_argument
@click.option("--product-type", "types", multiple=True, metavar="TYPE",
              help="Only this product type (repeatable).")
@click.option("--marketplace", "marketplaces", multiple=True, metavar="CODE",
              help="Only this marketplace, e.g. UK (repeatable).")
def pull(catalog_dir: str, types: tuple[str, ...], marketplaces: tuple[str, ...]) -> None:
    """Fetch the definition of every product type, marketplace and requirements set that
    CATALOG_DIR's listings use, and store it under CATALOG_DIR/product-types/.

    A definition whose productTypeVersion and checksum did not change is left untouched.
    """
    from reconciler.catalog.desired import schema_needs
    from reconciler.catalog.loader import load
    from reconciler.catalog.settings import read_config
    from reconciler.pipeline import close_clients
    from reconciler.producttype_pull import pull as run_pull
    from reconciler.spapi.connect import client_for

    raw = load(catalog_dir, definitions=False)
    needs = schema_needs(raw)
    config = read_config(raw.config, [])
    accounts = {a.name: a for a in config.accounts}
    used = {account for account, _ in needs.values()}
    state_dir = state_dir_for(catalog_dir)
    clients = {name: client_for(accounts[name], state_dir=state_dir, env=os.environ)
               for name in sorted(used)}
    try:
        result = run_pull(
            catalog_dir, needs, clients, today=_dt.date.today(),
            product_types={t.upper() for t in types},
            marketplaces={m.upper().replace("GB", "UK") for m in marketplaces},
        )
    finally:
        close_clients(clients)
    for rel, old, new in result.written:
        change = f"{old} -> {new}" if old else f"new, version {new}"
        out(f"updated {rel} ({change})")
    for rel in result.unused:
        err(f"warning: {rel} is no longer used by the catalog (delete it if it is not needed)")
    for rel, why in result.failed:
        err(f"failed {rel}: {why}")
    out(f"product types: {len(result.written)} updated, {len(result.unchanged)} unchanged, "
        f"{len(result.failed)} failed")
    if result.failed:
        raise ReconcilerError(f"{len(result.failed)} product type definition(s) could not be "
                              "pulled (see above)")


@product_types.command("list")
@catalog_argument
def list_cached(catalog_dir: str) -> None:
    """List the cached definitions with their version and retrieval date."""
    from reconciler.catalog.loader import load

    raw = load(catalog_dir)
    for (pt, code, req), d in sorted(raw.product_types.items()):
        out(f"{pt:<28} {code:<3} {req:<21} {d.version:<14} {d.retrieved}  {d.path}")
