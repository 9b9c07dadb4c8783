"""The command line: the only place that prints, exits, and maps errors to exit codes.

Each command lives in its own module of this package (``validate``, ``plan``, ``apply``,
``emulator`` ...); this module builds the group and the error boundary:

- a :class:`~reconciler.kernel.errors.ReconcilerError` prints its lines on stderr and exits 1;
- any other exception is a bug: one line on stderr naming a log file with the traceback, exit 3.

Everything written to stdout/stderr passes through :func:`reconciler.kernel.redact.redact`.
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from reconciler import __version__
from reconciler.kernel.errors import EXIT_BUG, EXIT_ERROR, ReconcilerError
from reconciler.kernel.gcpause import keep_frozen, stop_keeping_frozen
from reconciler.kernel.redact import escape, redact

from .common import add_color_option, err, state_dir_path


class ReconcilerGroup(click.Group):
    """Runs commands inside the error boundary; lists commands in workflow order."""

    ORDER = ("validate", "plan", "show", "apply", "import", "product-types", "translate",
             "demo", "orders", "watch", "notifications", "report", "accounts", "schema",
             "emulator")

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = super().list_commands(ctx)
        rank = {n: i for i, n in enumerate(self.ORDER)}
        return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ReconcilerError as e:
            lines = e.lines()  # each line one line: catalog values in them are escaped
            err(f"reconciler: {escape(lines[0])}")
            for line in lines[1:]:
                err(escape(line))
            ctx.exit(EXIT_ERROR)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            err("reconciler: interrupted")
            ctx.exit(130)
        except BrokenPipeError:
            # the reader of stdout went away (`reconciler plan | head`): not a bug. Stop
            # quietly as a process killed by SIGPIPE would, and keep the interpreter's final
            # flush from raising again (Python docs, "Note on SIGPIPE").
            _discard_stdout()
            ctx.exit(EXIT_SIGPIPE)
        except Exception as e:  # a bug: keep the traceback out of the user's face
            log = _write_crash_log(e)
            err(
                f"reconciler: unexpected error (a bug): {type(e).__name__}: {escape(str(e))}\n"
                f"reconciler: the traceback is in {log}; please report it"
            )
            ctx.exit(EXIT_BUG)


EXIT_SIGPIPE = 128 + 13


def _discard_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _write_crash_log(e: BaseException) -> str:
    d = Path(state_dir_path()) / "logs"
    try:
        d.mkdir(parents=True, exist_ok=True)
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
        path = d / f"crash-{stamp}-{os.getpid()}.log"
        text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        path.write_text(redact(text), encoding="utf-8")
        return str(path)
    except OSError:
        return "(no log: the state directory is not writable)"


@click.group(cls=ReconcilerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
def main() -> None:
    """Catalog-as-code for Amazon sellers.

    Keep each SKU's desired price, texts and per-location stock in YAML in git; validate it,
    plan it against live Amazon listings (Selling Partner API), and apply the plan.

    \b
    Environment:
      RECONCILER_CATALOG     catalog directory (default: ./catalog)
      RECONCILER_STATE_DIR   local state: embedded emulator, cache, locks (default: ./.reconciler)
      SP_API_REFRESH_TOKEN, LWA_APP_ID, LWA_CLIENT_SECRET   default credential names
    """
    ctx = click.get_current_context()
    if ctx.invoked_subcommand not in LONG_RUNNING:
        keep_frozen()  # a batch command: its large data live until it exits (kernel.gcpause)
        ctx.call_on_close(stop_keeping_frozen)


# Commands that run until stopped: what they read must go back to the garbage collector.
LONG_RUNNING = frozenset({"watch", "emulator"})


def _register() -> None:
    from . import (
        accounts,
        apply,
        demo,
        emulator,
        emulator_orders,  # its command is a subcommand of `emulator`
        importer,
        notifications,
        orders,
        plan,
        product_types,
        report,
        schema,
        show,
        translate,
        validate,
        watch,
    )

    for mod in (validate, plan, show, apply, demo, importer, product_types, schema, emulator,
                orders, accounts, emulator_orders, report, watch, translate):
        for name in getattr(mod, "COMMANDS", ()):
            main.add_command(getattr(mod, name))
    main.add_command(notifications.notifications_group)  # `notifications setup` (issue 18)
    add_color_option(main)  # every command takes --color/--no-color (and honours NO_COLOR)


_register()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
