"""`reconciler translate`: machine-drafted translations into the catalog, approved by people.

- ``reconciler translate [CATALOG] [--marketplace M] [--sku S] [--engine NAME] [--dry-run]``
  (``translate draft``): draft every text a marketplace's language lacks, and every draft whose
  source changed, into ``translations/<language>.yaml`` (status ``machine``, or
  ``needs_review`` with the gates that failed). Touches only catalog files, never Amazon.
- ``reconciler translate export [CATALOG] --format xliff|po [--out FILE]``: pending drafts for
  translators' CAT tools.
- ``reconciler translate import [CATALOG] FILE``: their work back, as ``approved``.

The engine comes from ``reconciler.yaml`` (``translation: engine:``, or ``--engine``), built by
:func:`reconciler.translate.engines.make_engine` with credentials as ``env/NAME``. With
``translation: endpoint: emulator`` the drafts go through the embedded emulator's DeepL API,
served on a loopback port for the duration of the run (``$RECONCILER_TRANSLATE_URL`` points
the engine at another server, e.g. ``reconciler emulator serve``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from reconciler.catalog.raw import RawCatalog
from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.redact import escape
from reconciler.translate.engine import Engine
from reconciler.translate.engines import make_engine
from reconciler.translate.memory import MemoEngine, TranslationMemory

from .common import catalog_argument, check_output_file, out, state_dir_for

COMMANDS = ("translate",)
ENV_URL = "RECONCILER_TRANSLATE_URL"


class _DefaultToDraft(click.Group):
    """``reconciler translate CATALOG ...`` is ``reconciler translate draft CATALOG ...``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["draft", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultToDraft)
def translate() -> None:
    """Draft translations into the catalog; people approve them in the pull request.

    \b
    reconciler translate [CATALOG] [--marketplace M] [--sku S] [--engine NAME] [--dry-run]
    reconciler translate export [CATALOG] --format xliff|po [--out FILE]
    reconciler translate import [CATALOG] FILE

    A draft is written to translations/<language>.yaml with status machine (or needs_review
    with the gates it failed). Approve it by setting status: approved, or by editing its text.
    The plan holds machine, needs_review and stale texts (machine ones are published where the
    marketplace has publish_machine_translations: true).
    """


@contextlib.contextmanager
def _engine_factory(catalog_dir: str, engine_name: str | None) -> Iterator[Any]:
    """``make(raw) -> Engine`` for :func:`reconciler.translate.draft.run`: the catalog's engine
    behind the translation memory of the state directory (an unchanged text is never sent
    twice); with ``endpoint: emulator``, the embedded emulator served on loopback meanwhile.
    ``make.engines`` holds what was made (the CLI reports what was sent)."""
    with contextlib.ExitStack() as stack:
        made: list[MemoEngine] = []

        def make(raw: RawCatalog) -> Engine:
            settings: dict[str, Any] = dict(raw.config.data.get("translation") or {})
            name = engine_name or str(settings.get("engine") or "deepl")
            server_url = os.environ.get(ENV_URL) or None
            state_dir = state_dir_for(catalog_dir)
            if server_url is None and settings.get("endpoint") == "emulator":
                from reconciler.emulator.server import running
                from reconciler.spapi.connect import embedded_emulator

                server_url = stack.enter_context(running(embedded_emulator(state_dir)))
            engine = make_engine(name, settings, env=os.environ, server_url=server_url)
            memory = stack.enter_context(TranslationMemory.in_state_dir(state_dir))
            memo = MemoEngine(engine, memory)
            made.append(memo)
            return memo

        make.engines = made  # type: ignore[attr-defined]
        yield make


@translate.command("draft")
@catalog_argument
@click.option("--marketplace", "marketplaces", multiple=True, metavar="M",
              help="Only these marketplaces (code, e.g. FR); repeatable.")
@click.option("--sku", "skus", multiple=True, metavar="S", help="Only these SKUs; repeatable.")
@click.option("--engine", "engine_name", metavar="NAME",
              help="deepl or amazon-translate (default: translation.engine of reconciler.yaml).")
@click.option("--dry-run", is_flag=True, help="Say what would be drafted; write nothing.")
def draft_command(catalog_dir: str, marketplaces: tuple[str, ...], skus: tuple[str, ...],
                  engine_name: str | None, dry_run: bool) -> None:
    """Draft the texts the marketplaces' languages lack into CATALOG (default ./catalog)."""
    from reconciler.translate.draft import run

    today = _dt.datetime.now(_dt.timezone.utc).date()
    with _engine_factory(catalog_dir, engine_name) as make:
        summary = run(catalog_dir, make, marketplaces=marketplaces, skus=skus, dry_run=dry_run,
                      today=today)
    for line in summary.lines():
        out(escape(line))  # reasons quote catalog text (glossary terms)
    for memo in make.engines:
        remembered = sum(1 if isinstance(d.text, str) else len(d.text) for d in summary.drafted)
        out(f"  {memo.sent} text(s) sent to {memo.name}, "
            f"{max(0, remembered - memo.sent)} from the translation memory")


@translate.command("export")
@catalog_argument
@click.option("--format", "fmt", type=click.Choice(["xliff", "po"]), required=True,
              help="XLIFF 1.2 or gettext PO.")
@click.option("--out", "out_file", metavar="FILE", help="Write here (default: stdout).")
@click.option("--language", "languages", multiple=True, metavar="L",
              help="Only this language tag (e.g. fr_FR); repeatable.")
def export_command(catalog_dir: str, fmt: str, out_file: str | None,
                   languages: tuple[str, ...]) -> None:
    """Export pending drafts (machine, needs_review, stale) for translators."""
    from reconciler.translate.exchange import export

    check_output_file(out_file)
    data, n = export(catalog_dir, fmt, languages=languages)
    if out_file is None:
        click.echo(data.decode("utf-8"), nl=False)
        return
    _write_bytes(Path(out_file), data)
    out(f"reconciler translate export: {n} text(s) to {out_file}")


@translate.command("import")
@catalog_argument
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
def import_command(catalog_dir: str, file: str) -> None:
    """Import translated texts from an XLIFF or PO FILE as approved (PO entries still
    marked fuzzy are skipped)."""
    from reconciler.translate.exchange import import_file

    n, written, fuzzy = import_file(catalog_dir, file)
    out(f"reconciler translate import: approved {n} text(s)")
    if fuzzy:
        out(f"  skipped {fuzzy} entry(ies) still marked fuzzy (remove the flag when done)")
    for p in written:
        out(f"  wrote {p}")


def _write_bytes(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise ReconcilerError(f"cannot write {path}: {e.strerror or e}") from None
