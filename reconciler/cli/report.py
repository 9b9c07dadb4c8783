"""`reconciler report`: the monitoring report, one self-contained HTML file or a Markdown summary.

Reads the audit logs (``--audit``, default ``$RECONCILER_AUDIT_LOG`` or
``.reconciler/audit.jsonl``), the state directories' live cache and orders (``--state-dir``,
default ``$RECONCILER_STATE_DIR`` or ``.reconciler``), saved plans (``--plan``) and the catalog.
A catalog named on the command line (or by ``$RECONCILER_CATALOG``) must load; the default
``./catalog`` is optional. The output is written atomically (never half-written).
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

import click

from reconciler.apply.audit import audit_path
from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.redact import redact
from reconciler.report import build as report_build
from reconciler.report.aggregate import parse_since
from reconciler.report.audit_log import parse_time

from .common import catalog_argument, err, out, state_dir_for
from .plan import write_atomically

COMMANDS = ("report",)


@click.command("report")
@catalog_argument
@click.option("--audit", "audits", multiple=True, metavar="FILE",
              help="An audit log, or a directory of *.jsonl logs (repeatable).")
@click.option("--state-dir", "state_dirs", multiple=True, metavar="DIR",
              help="A state directory: live cache and orders (repeatable).")
@click.option("--plan", "plans", multiple=True, metavar="FILE",
              help="The latest plan JSON (`plan --format json`), for held and pending listings"
              " (repeatable).")
@click.option("--since", default="30d", show_default=True,
              help="Window: 30d, 12h, 2w, 90m, an ISO date, or all.")
@click.option("--out", "out_file", metavar="FILE",
              help="Write here (default: report.html; Markdown goes to stdout).")
@click.option("--format", "fmt", type=click.Choice(["html", "markdown"]), default="html",
              show_default=True)
@click.option("--now", "now_text", hidden=True, help="Report as of this ISO time (tests).")
@click.pass_context
def report(ctx: click.Context, catalog_dir: str, audits: tuple[str, ...],
           state_dirs: tuple[str, ...], plans: tuple[str, ...], since: str,
           out_file: str | None, fmt: str, now_text: str | None) -> None:
    """Write the monitoring report: SLOs, runs, listing health, prices, stock, orders.

    The HTML works opened from disk with no network (its chart library is inlined); it needs
    the optional extra: pip install 'reconciler[report]'.
    """
    now = datetime.now(timezone.utc)
    if now_text:
        parsed = parse_time(now_text)
        if parsed is None:
            raise ReconcilerError(f"--now {now_text!r} is not an ISO 8601 time")
        now = parsed
    try:
        window = parse_since(since, now)
    except ValueError:
        raise ReconcilerError(
            f"--since {since!r} is not a window: use 30d, 12h, 2w, 90m, an ISO date, or all"
        ) from None
    source = ctx.get_parameter_source("catalog_dir")
    named = source in (click.core.ParameterSource.COMMANDLINE,
                       click.core.ParameterSource.ENVIRONMENT)
    state = list(state_dirs) or [state_dir_for(catalog_dir)]
    inputs = report_build.Inputs(
        audit=list(audits) or [str(audit_path(None, os.environ))], state_dirs=state,
        plans=list(plans), catalog=catalog_dir, catalog_required=named)
    data = report_build.collect(inputs, now=now, since=window)
    if fmt == "markdown":
        text = redact(report_build.markdown(data))
        if out_file:
            write_atomically(out_file, text)
        else:
            out(text.rstrip("\n"))
        return
    page = redact(report_build.html(data, cache_dir=state[0]))
    target = out_file or "report.html"
    write_atomically(target, page)
    err(f"report written to {target} ({len(page.encode('utf-8')) / 1e6:.2f} MB, "
        f"{len(data.runs)} run(s), {data.audit.lines} audit line(s))")
