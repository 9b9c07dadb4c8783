"""`reconciler show PLAN.json`: render a saved plan (as `terraform show` does), and read plan
files for `apply --plan`.

A saved plan renders exactly as `plan` rendered it in the same run: `show plan.json --format
markdown` is byte for byte `plan --format markdown`, so the PR comment can be made from the very
JSON plan apply will check (one read of Amazon for both). ``--marketplace`` cuts the plan down to
some marketplaces (``Plan.where``): plan.yml writes each account's plan that way, with the
checksum a plan targeted at those marketplaces has. ``--account`` cuts it down to some accounts
(plan.yml writes each account's plan that way, even when accounts share a marketplace): its
checksum and render are those of ``plan --account``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

import click

from reconciler.kernel.errors import PlanError
from reconciler.kernel.marketplaces import MARKETPLACES, lookup
from reconciler.plan.value import Plan

from .common import use_color
from .plan import FORMATS, emit_plan

COMMANDS = ("show",)


def load_plan_file(path: str) -> Plan:
    """The plan saved in ``path`` (`plan --format json --out`), or a one-line PlanError that
    says what is wrong with the file and how to get a good one."""
    again = f"write it with `reconciler plan --format json --out {path}`"
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise PlanError(f"{path}: no such plan file; {again}") from None
    except IsADirectoryError:
        raise PlanError(f"{path} is a directory, not a plan file; {again}") from None
    except OSError as e:
        raise PlanError(f"{path}: cannot read the plan file ({e.strerror or e})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise PlanError(f"{path}: not a JSON plan (not UTF-8 text); {again}") from None
    except json.JSONDecodeError as e:
        raise PlanError(f"{path}:{e.lineno}: not a JSON plan ({e.msg}); {again}") from None
    if not isinstance(data, dict):
        raise PlanError(f"{path}: not a JSON plan (no object at the top); {again}")
    try:
        return Plan.from_data(data)
    except PlanError as e:
        raise PlanError(f"{path}: {e}") from None


def plan_for_accounts(plan: Plan, accounts: Collection[str], *, path: str) -> Plan:
    """The part of ``plan`` about ``accounts`` (``show --account``, ``apply --plan FILE
    --account``), which records them as its accounts: its checksum and render are those of
    ``plan --account``. A plan that does not cover one of them (a plan records its accounts)
    is refused: it reviewed none of that account's writes."""
    names = list(dict.fromkeys(accounts))
    missing = [a for a in names if plan.accounts and a not in plan.accounts]
    if missing:
        raise PlanError(
            f"{path} is the plan of account(s) {', '.join(plan.accounts)}, not of --account "
            f"{', '.join(missing)}: use that account's own plan (`reconciler plan --account "
            f"{missing[0]} --format json --out FILE`)"
        )
    part = plan.where(lambda key, _code: key.account in names)
    return replace(part, accounts=tuple(a for a in plan.accounts if a in names) or tuple(names))


def _marketplace_filter(codes: tuple[str, ...]) -> set[str]:
    wanted = set()
    for code in codes:
        c = code.upper()
        c = "UK" if c == "GB" else c
        if c not in MARKETPLACES and lookup(code) is None:
            known = ", ".join(sorted(MARKETPLACES))
            raise PlanError(f"--marketplace {code!r}: unknown marketplace (use one of {known})")
        wanted.add(c if c in MARKETPLACES else code)
    return wanted


@click.command("show")
@click.argument("plan_file", metavar="PLAN.json")
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
    envvar="RECONCILER_FORMAT",
    help="Output format: terminal text, Markdown for a PR comment, or JSON.",
)
@click.option("--out", "out_file", metavar="FILE", help="Write to FILE instead of stdout.")
@click.option(
    "--marketplace", "marketplaces", multiple=True, metavar="CODE",
    help="Only this marketplace's listings, e.g. US (repeatable).",
)
@click.option(
    "--account", "accounts", multiple=True, metavar="NAME",
    help="Only this account's listings (repeatable): the plan `plan --account NAME` makes.",
)
@click.option(
    "--color/--no-color", default=None,
    help="Colour the text output (default: on a TTY, and never with NO_COLOR set).",
)
def show(
    plan_file: str,
    fmt: str,
    out_file: str | None,
    marketplaces: tuple[str, ...],
    accounts: tuple[str, ...],
    color: bool | None,
) -> None:
    """Render the plan saved in PLAN.json (from `plan --format json --out PLAN.json`).

    Reads nothing from Amazon and nothing of the catalog: the output is the plan as it was
    made, the same bytes `plan` printed in that run.
    """
    wanted = _marketplace_filter(marketplaces)
    plan = load_plan_file(plan_file)
    if wanted:
        plan = plan.where(lambda key, code: code in wanted or key.marketplace_id in wanted)
    if accounts:
        plan = plan_for_accounts(plan, accounts, path=plan_file)
    emit_plan(plan, fmt, out_file, color=use_color(sys.stdout, color) and not out_file)
