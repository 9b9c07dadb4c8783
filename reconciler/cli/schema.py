"""`reconciler schema KIND`: print the JSON Schema of one catalog file kind.

Editors use these for completion and inline errors: every sample YAML file starts with
``# yaml-language-server: $schema=...`` pointing at the same schema under ``schemas/``.
"""

from __future__ import annotations

import json

import click

from reconciler.catalog.loader import SCHEMA_KINDS, schema

from .common import out

COMMANDS = ("schema_command",)


@click.command("schema")
@click.argument("kind", type=click.Choice(SCHEMA_KINDS))
def schema_command(kind: str) -> None:
    """Print the JSON Schema of KIND (reconciler, rates, pricing, locations, sku, stock)."""
    out(json.dumps(schema(kind), indent=2, ensure_ascii=False))
