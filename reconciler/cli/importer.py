"""`reconciler import`: write a catalog from an account's live listings (onboarding)."""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any

import click
import yaml

from reconciler.kernel.errors import CatalogError, Problem, ReconcilerError
from reconciler.kernel.marketplaces import lookup
from reconciler.kernel.model import Account, Credentials, MarketplaceConfig

from .common import catalog_argument, err, out, state_dir_for

COMMANDS = ("import_command",)


def _account_from_settings(catalog_dir: str, name: str) -> Account | None:
    """The account ``name`` from CATALOG_DIR/reconciler.yaml (schema-checked), or None when
    there is no such file."""
    from reconciler.catalog.loader import validate_data

    path = Path(catalog_dir) / "reconciler.yaml"
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise CatalogError([Problem("reconciler.yaml", message=f"cannot read: {e}")]) from e
    problems = validate_data("reconciler", data, "reconciler.yaml")
    if problems:
        raise CatalogError(problems)
    accounts = data.get("accounts") or {}
    if name not in accounts:
        known = ", ".join(sorted(accounts)) or "none"
        raise ReconcilerError(f"no account {name!r} in {path} (accounts: {known})")
    return _account(name, accounts[name])


def _account(name: str, raw: dict[str, Any]) -> Account:
    mps = []
    for code, opts in (raw.get("marketplaces") or {}).items():
        m = lookup(code)
        if m is None:
            raise ReconcilerError(f"unknown marketplace {code!r} for account {name!r}")
        opts = opts or {}
        mps.append(
            MarketplaceConfig(
                m.code,
                m.marketplace_id,
                m.currency,
                opts.get("language_tag", m.language_tag),
                bool(opts.get("mli", False)),
            )
        )
    creds = raw.get("credentials") or {}
    return Account(
        name=name,
        seller_id=raw["seller_id"],
        region=raw["region"],
        endpoint=raw["endpoint"],
        marketplaces=tuple(mps),
        credentials=Credentials(
            **{
                k: v
                for k, v in creds.items()
                if k in ("refresh_token", "client_id", "client_secret")
            }
        ),
        token_url=raw.get("token_url", ""),
    )


@click.command("import")
@catalog_argument
@click.option(
    "--account",
    "account_name",
    required=True,
    help="Account name (from CATALOG_DIR/reconciler.yaml, or new with --seller-id).",
)
@click.option(
    "--marketplace",
    "marketplaces",
    multiple=True,
    help="Marketplace code to import, e.g. US (repeatable; default: all of the account).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory to write the new catalog to (must be empty).",
)
@click.option("--seller-id", help="Without a reconciler.yaml: the seller (merchant) id.")
@click.option("--region", type=click.Choice(["NA", "EU", "FE"]), help="With --seller-id.")
@click.option(
    "--endpoint",
    default="production",
    show_default=True,
    help="With --seller-id: production, sandbox, emulator or a base URL.",
)
@click.option(
    "--mli",
    "mli_codes",
    multiple=True,
    help="With --seller-id: a marketplace code using Multi-Location Inventory.",
)
@click.option("--force", is_flag=True, help="Write into a non-empty --out directory.")
def import_command(
    catalog_dir: str,
    account_name: str,
    marketplaces: tuple[str, ...],
    out_dir: str,
    seller_id: str | None,
    region: str | None,
    endpoint: str,
    mli_codes: tuple[str, ...],
    force: bool,
) -> None:
    """Write catalog YAML from an account's live listings; it validates and plans empty.

    Prices become fixed per-SKU overrides, quantities literal per location, texts per language,
    other attributes (condition, ASIN, brand, ...) attributes per SKU; the product type
    definitions the catalog uses are pulled into product-types/.
    """
    from reconciler.catalog.desired import schema_needs
    from reconciler.catalog.loader import load as load_raw
    from reconciler.importer.build import build_files, read_account, write_files
    from reconciler.pipeline import load
    from reconciler.producttype_pull import pull
    from reconciler.spapi.connect import client_for

    account = None if seller_id else _account_from_settings(catalog_dir, account_name)
    if account is None:
        if not (seller_id and region and marketplaces):
            raise ReconcilerError(
                f"no {Path(catalog_dir) / 'reconciler.yaml'}: give --seller-id, --region and "
                "--marketplace to describe the account"
            )
        mps = []
        for code in marketplaces:
            m = lookup(code)
            if m is None or m.region != region:
                raise ReconcilerError(f"marketplace {code!r} is not in region {region}")
            mps.append(
                MarketplaceConfig(
                    m.code,
                    m.marketplace_id,
                    m.currency,
                    m.language_tag,
                    m.code in {c.upper() for c in mli_codes},
                )
            )
        account = Account(account_name, seller_id or "", region, endpoint, tuple(mps))
    wanted = {c.upper() for c in marketplaces}
    unknown = wanted - {m.code for m in account.marketplaces}
    if unknown:
        raise ReconcilerError(
            f"marketplace(s) {', '.join(sorted(unknown))} not configured for account "
            f"{account.name!r}"
        )
    chosen = tuple(m for m in account.marketplaces if not wanted or m.code in wanted)
    account = Account(
        account.name,
        account.seller_id,
        account.region,
        account.endpoint,
        chosen,
        account.credentials,
        account.token_url,
    )
    target = Path(out_dir)
    if target.exists() and any(target.iterdir()) and not force:
        raise ReconcilerError(f"{target} is not empty (use --force to write into it)")

    state_dir = state_dir_for(catalog_dir)
    client = client_for(account, state_dir=state_dir, env=os.environ)
    try:
        live = read_account(client, account, chosen)
        result = build_files(account, chosen, live, today=_dt.date.today())
        write_files(target, result.files)
        # the product type definitions the new catalog uses (it validates against them)
        pulled = pull(target, schema_needs(load_raw(target, definitions=False)),
                      {account.name: client}, today=_dt.date.today())
    finally:
        client.close()
    for w in result.warnings:
        err(f"warning: {w}")
    for rel, why in pulled.failed:
        err(f"warning: product type definition {rel} could not be pulled: {why}")
    load(target)  # the catalog we wrote must validate (a failure here is a bug: report it)
    codes = ", ".join(m.code for m in chosen)
    out(
        f"imported {result.skus} SKUs, {result.listings} listings of account {account.name} "
        f"({codes}) into {target}"
    )
