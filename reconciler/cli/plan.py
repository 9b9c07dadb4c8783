"""`reconciler plan`: read live listings, diff them against the catalog, print the plan."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click

from reconciler.kernel.errors import EXIT_CHANGES, ReconcilerError, UnsafePlanError
from reconciler.pipeline import close_clients, run_plan
from reconciler.plan import render, render_json
from reconciler.plan.value import Plan

from .common import catalog_argument, check_output_file, err, out, state_dir_for, use_color

COMMANDS = ("plan",)

FORMATS = ("text", "markdown", "json")


def render_plan(plan: Plan, fmt: str, *, color: bool = False) -> str:
    if fmt == "markdown":
        return render.markdown(plan)
    if fmt == "json":
        return render_json.json(plan)
    return render.text(plan, color=color)


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and rename: never half-written."""
    write_atomically_with(path, lambda f: f.write(text if text.endswith("\n") else text + "\n"))


def write_atomically_with(path: str, write: Callable[[IO[str]], object]) -> None:
    """Let ``write`` fill a temporary file next to ``path``, then rename it: never half-written
    (``write`` must end the text with a newline)."""
    target = Path(path)
    if target.is_dir():
        raise ReconcilerError(f"cannot write {path}: it is a directory; give a file path")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as e:
        raise ReconcilerError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            write(f)
        os.replace(tmp, target)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise ReconcilerError(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RedactedStdout:
    """A text sink for streamed output (``render_json.write_json``): whole lines go to stdout
    through :func:`~reconciler.cli.common.out` (so redacted, like every other output) in blocks
    of about 64 KB; a secret never spans a line, so cutting at newlines never splits one."""

    BLOCK = 1 << 16

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def write(self, s: str) -> int:
        self.parts.append(s)
        self.size += len(s)
        if self.size >= self.BLOCK:
            self.flush(final=False)
        return len(s)

    def flush(self, *, final: bool = True) -> None:
        text = "".join(self.parts)
        rest = ""
        if not final:
            cut = text.rfind("\n") + 1
            text, rest = text[:cut], text[cut:]
        self.parts = [rest] if rest else []
        self.size = len(rest)
        if text:
            out(text, nl=False)


def emit_plan(plan: Plan, fmt: str, out_file: str | None, *, color: bool) -> None:
    """Print the plan (or write it to ``out_file``). JSON is streamed: a 100k-listing plan is
    tens of MB of text that is never held as one string."""
    if fmt == "json":
        if out_file:
            write_atomically_with(out_file, lambda f: render_json.write_json(plan, f))
        else:
            sink = RedactedStdout()
            render_json.write_json(plan, sink)
            sink.flush()
        return
    text = render_plan(plan, fmt, color=color)
    if out_file:
        write_atomically(out_file, text)
    else:
        out(text.rstrip("\n"))


@contextmanager
def read_progress(label: str) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """A progress bar on stderr, only when stderr is a TTY. Yields (start(total), advance(n))."""
    if not sys.stderr.isatty():
        yield (lambda _n: None), (lambda _n: None)
        return
    holder: dict[str, object] = {}

    def start(total: int) -> None:
        bar = click.progressbar(length=total, label=label, file=sys.stderr)
        bar.__enter__()
        holder["bar"] = bar

    def advance(n: int) -> None:
        bar = holder.get("bar")
        if bar is not None:
            bar.update(n)  # type: ignore[attr-defined]

    try:
        yield start, advance
    finally:
        bar = holder.get("bar")
        if bar is not None:
            bar.__exit__(None, None, None)  # type: ignore[attr-defined]


targeting = [
    click.option("--sku", "skus", multiple=True, metavar="SKU", help="Only this SKU (repeatable)."),
    click.option(
        "--marketplace",
        "marketplaces",
        multiple=True,
        metavar="CODE",
        help="Only this marketplace, e.g. US or DE (repeatable).",
    ),
    click.option(
        "--account", "accounts", multiple=True, metavar="NAME",
        help="Only this account's listings, read with its credentials only (repeatable): one "
        "job per account, also when accounts share a marketplace (`reconciler accounts`).",
    ),
]


def with_targeting(f: Callable[..., object]) -> Callable[..., object]:
    for opt in reversed(targeting):
        f = opt(f)
    return f


@click.command("plan")
@catalog_argument
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
    envvar="RECONCILER_FORMAT",
    help="Output format: terminal text, Markdown for a PR comment, or JSON.",
)
@click.option("--out", "out_file", metavar="FILE", help="Write the plan to FILE instead of stdout.")
@click.option(
    "--detailed-exitcode", is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are changes, 1 on error.",
)
@with_targeting
@click.option("--force", is_flag=True, help="Do not stop on safety thresholds or dangerous rules.")
@click.option(
    "--validate-remote", is_flag=True,
    help="Send each planned write to Amazon with mode=VALIDATION_PREVIEW and show its issues.",
)
@click.option(
    "--refresh", type=click.Choice(["auto", "full", "incremental"]), default="auto",
    show_default=True, envvar="RECONCILER_REFRESH",
    help="full: read every listing from Amazon. incremental: read only listings changed on "
    "Amazon (lastUpdatedAfter) or in the catalog since the last read, the rest from the local "
    "cache; falls back to full when the cache is missing or its last full read is older than "
    "6 hours. auto: incremental when the cache allows it, else full.",
)
@click.option(
    "--color/--no-color", default=None,
    help="Colour the text output (default: on a TTY, and never with NO_COLOR set).",
)
def plan(
    catalog_dir: str,
    fmt: str,
    out_file: str | None,
    detailed_exitcode: bool,
    skus: tuple[str, ...],
    marketplaces: tuple[str, ...],
    accounts: tuple[str, ...],
    force: bool,
    validate_remote: bool,
    refresh: str,
    color: bool | None,
) -> None:
    """Show what `apply` would change on Amazon for CATALOG_DIR (default ./catalog).

    Reads the live listings of every SKU x marketplace the catalog declares, compares only the
    fields the catalog manages, and prints creates, updates and deletes, with each price's
    derivation. Listings whose language has no text are listed as held for review.
    """
    state_dir = state_dir_for(catalog_dir)
    check_output_file(out_file)
    stats: dict[str, Any] = {}
    with read_progress("reading live listings") as (start, advance):
        run = run_plan(
            catalog_dir,
            skus=skus,
            marketplaces=marketplaces,
            accounts=accounts,
            state_dir=state_dir,
            progress=advance,
            on_read_start=start,
            refresh=refresh,
            stats=stats,
            slim_live=True,
        )
    try:
        read = stats.get("read")
        if read is not None:
            modes = sorted(set(read.mode.values())) or ["none"]
            err(
                f"read {read.fresh} listing(s) from Amazon, {read.cached} from the local cache "
                f"({'/'.join(modes)} read)"
            )
        for w in run.desired.warnings:
            err(f"warning: {w}")
        p = run.plan
        if validate_remote and p.changes:
            from reconciler.apply.preview import validate_remote as _validate

            p = _validate(p, run.clients)
        emit_plan(p, fmt, out_file, color=use_color(sys.stdout, color) and not out_file)
        if out_file:
            err(f"plan written to {out_file} (checksum {p.checksum})")
        if p.safety and not force:
            raise UnsafePlanError(list(p.safety))
    finally:
        close_clients(run.clients)
    if detailed_exitcode and p.has_changes:
        click.get_current_context().exit(EXIT_CHANGES)
