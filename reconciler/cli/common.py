"""Helpers shared by the commands: output streams, colour, the catalog argument, state dir."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO, Any

import click

from reconciler.kernel import statedir
from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.redact import defuse_commands, escape, redact
from reconciler.kernel.statedir import ENV_STATE_DIR

DEFAULT_CATALOG = "catalog"
DEFAULT_STATE_DIR = ".reconciler"


def out(text: str = "", *, nl: bool = True) -> None:
    """Data on stdout (redacted; a line that a CI runner would obey as a workflow command is
    defused; colours are the renderer's, so control characters are left to it)."""
    click.echo(defuse_commands(redact(text)), nl=nl)


def err(text: str = "", *, nl: bool = True) -> None:
    """Logs and messages on stderr (redacted; non-printable characters escaped, except line
    breaks, tabs and the carriage return a progress line starts with; workflow commands
    defused)."""
    text = redact(text)
    lead = "\r" if text.startswith("\r") else ""
    text = lead + escape(text[len(lead):], keep="\n\t")
    click.echo(defuse_commands(text), err=True, nl=nl)


COLOR_KEY = "reconciler.color"  # in click's Context.meta: --color/--no-color of any command


def use_color(stream: IO[Any] | None = None, flag: bool | None = None) -> bool:
    """Colour only on a TTY, never with NO_COLOR set (https://no-color.org), unless forced by
    --color/--no-color (``flag``, else the option of any command on the command line)."""
    if flag is None:
        ctx = click.get_current_context(silent=True)
        flag = ctx.meta.get(COLOR_KEY) if ctx is not None else None
    if flag is not None:
        return bool(flag)
    if os.environ.get("NO_COLOR"):
        return False
    return is_tty(stream if stream is not None else sys.stdout)


def is_tty(stream: Any) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


def _remember_color(ctx: click.Context, _param: click.Parameter, value: bool | None) -> None:
    if value is not None:
        ctx.meta[COLOR_KEY] = value


def add_color_option(command: click.Command) -> None:
    """Give ``command`` (and, for a group, every subcommand) ``--color/--no-color``, unless it
    has its own."""
    if not any(p.name == "color" for p in command.params):
        command.params.append(
            click.Option(
                ["--color/--no-color"], default=None, expose_value=False,
                callback=_remember_color,
                help="Colour the output (default: on a TTY, and never with NO_COLOR set).",
            )
        )
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_color_option(sub)


def state_dir_path() -> str:
    """$RECONCILER_STATE_DIR or ./.reconciler, unchecked (the crash log uses it)."""
    return os.environ.get(ENV_STATE_DIR) or DEFAULT_STATE_DIR


def state_dir_for(catalog_dir: str | None) -> str:
    """Local state (embedded emulator db, cache, locks, logs): $RECONCILER_STATE_DIR or
    ./.reconciler. A path that is a file is refused here, before the command does anything."""
    path = state_dir_path()
    statedir.check(path)
    return path


def check_output_file(path: str | None, option: str = "--out") -> None:
    """Refuse, before any work, an output FILE that is a directory or under a file."""
    if not path:
        return
    p = Path(path)
    if p.is_dir():
        raise ReconcilerError(
            f"{option} {path}: is a directory; give a file path (e.g. {p / 'plan.json'})"
        )
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ReconcilerError(f"{option} {path}: {parent} is a file, not a directory")
            return


def check_output_dir(path: str, option: str) -> None:
    """Refuse, before any work, an output DIR that is a file (or under one)."""
    p = Path(path)
    for at in (p, *p.parents):
        if at.exists():
            if not at.is_dir():
                where = "is a file" if at == p else f"is under the file {at}"
                raise ReconcilerError(
                    f"{option} {path}: {where}; give a directory (it is created if missing)"
                )
            return


catalog_argument = click.argument(
    "catalog_dir",
    required=False,
    default=DEFAULT_CATALOG,
    envvar="RECONCILER_CATALOG",
    type=click.Path(file_okay=False, dir_okay=True),
)
