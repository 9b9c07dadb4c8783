"""Helpers shared by the commands: output streams, colour, the catalog argument, state dir."""

from __future__ import annotations

import os
import sys
from typing import IO, Any

import click

from reconciler.redact import defuse_commands, escape, redact

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


def use_color(stream: IO[Any] | None = None, flag: bool | None = None) -> bool:
    """Colour only on a TTY, never with NO_COLOR set, unless forced by --color/--no-color."""
    if flag is not None:
        return flag
    if os.environ.get("NO_COLOR"):
        return False
    s = stream if stream is not None else sys.stdout
    return bool(getattr(s, "isatty", lambda: False)())


def state_dir_for(catalog_dir: str | None) -> str:
    """Local state (embedded emulator db, cache, locks, logs): $RECONCILER_STATE_DIR or
    ./.reconciler."""
    return os.environ.get("RECONCILER_STATE_DIR") or DEFAULT_STATE_DIR


catalog_argument = click.argument(
    "catalog_dir",
    required=False,
    default=DEFAULT_CATALOG,
    envvar="RECONCILER_CATALOG",
    type=click.Path(file_okay=False, dir_okay=True),
)
