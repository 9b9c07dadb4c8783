"""`reconciler schema KIND`: print the JSON Schema of one catalog file kind.

Editors use these for completion and inline errors: every sample YAML file starts with
``# yaml-language-server: $schema=...`` pointing at the same schema under ``schemas/``. Every
schema the package ships is offered (catalog files and ``warehouses.yaml`` alike).
"""

from __future__ import annotations

import json

import click

from reconciler.catalog.loader import SCHEMA_DIR

from .common import out

COMMANDS = ("schema_command",)
SUFFIX = ".schema.json"


def schema_kinds() -> tuple[str, ...]:
    """Every schema shipped in the package (reconciler/data/schemas/KIND.schema.json)."""
    return tuple(sorted(p.name[: -len(SUFFIX)] for p in SCHEMA_DIR.glob(f"*{SUFFIX}")))


@click.command("schema", epilog="KIND is one of: " + ", ".join(schema_kinds()))
@click.argument("kind", type=click.Choice(schema_kinds()), metavar="KIND")
def schema_command(kind: str) -> None:
    """Print the JSON Schema of KIND (one of the catalog's file kinds, e.g. sku or warehouses)."""
    data = json.loads((SCHEMA_DIR / f"{kind}{SUFFIX}").read_text(encoding="utf-8"))
    out(json.dumps(data, indent=2, ensure_ascii=False))
