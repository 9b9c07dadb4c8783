"""`reconciler apply`: re-plan, refuse a stale or unsafe plan, write, verify, audit.

Order of a run (so the plan a run writes is the plan it checked):

1. load the catalog (to learn its accounts) and take each account's lock (``lock.py``); with
   ``--account NAME`` only that account is locked, settled, read and written, with only its
   credentials (one job per account, also when accounts share a marketplace);
2. wait for feeds an earlier, interrupted run left in flight (``feedrun.settle_journal``);
3. re-plan against live state. What was reviewed is the plan's intent (the writes: per listing
   the fields set and their new values, the creates and the deletes), and its checksum covers
   exactly that (``Plan.intent``):

   - ``--plan FILE``: the reviewed writes that still hold are applied, as today's plan writes
     them, even if live values moved underneath them (a sale). A reviewed write that no longer
     holds (the catalog wants another value, or a listing to update vanished) refuses the whole
     apply with ``StalePlanError`` naming exactly those listings and fields
     (``plan.reviewed``). Writes nobody reviewed (drift since the review) are not applied: they
     are reported as left for the next plan;
   - ``--checksum X``: the re-plan's intent must have checksum X, and is then applied whole.
     A checksum cannot tell which writes were reviewed, so any other intent refuses, naming no
     listing (a mistyped or unknown checksum says so). CI should pass the saved plan instead;
4. safety (``--force``), approval (``--auto-approve``, or a prompt on a TTY);
5. ``apply.apply_plan`` -> summary line on stderr, audit line (written even when the apply
   fails part-way), exit 0 only when every listing applied converged.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import click

from reconciler.apply import audit, lock
from reconciler.apply import feeds as feedrun
from reconciler.apply.outcome import ApplyReport
from reconciler.apply.run import STRATEGIES, apply_plan
from reconciler.apply.verify import check_stale
from reconciler.catalog.select import select_accounts
from reconciler.kernel import connstate
from reconciler.kernel.errors import (
    ApprovalRequiredError,
    NotConvergedError,
    PlanError,
    ReconcilerError,
    StalePlanError,
    UnsafePlanError,
)
from reconciler.plan.reviewed import Reconciled
from reconciler.plan.value import Plan

from .apply_audit import try_audit
from .common import catalog_argument, err, out, state_dir_for, use_color
from .show import load_plan_file, plan_for_accounts

COMMANDS = ("apply_command",)


def _is_tty(stream: Any) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


class _Bar:
    """A one-line progress indicator on stderr (only on a TTY)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.last = ""

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        width = 30
        filled = int(width * min(done, total) / total)
        line = f"\r{phase:<6} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        if line != self.last:
            self.last = line
            err(line, nl=False)

    def close(self) -> None:
        if self.enabled and self.last:
            err("")


LEFT_SHOWN = 20  # writes left for the next plan named in apply's output; the rest counted
_CHECKSUM = re.compile(r"[0-9a-f]{64}")


def valid_checksum(checksum: str) -> str:
    """``--checksum`` as given, if it has the form of a plan checksum (64 hex digits)."""
    value = checksum.strip().lower()
    if not _CHECKSUM.fullmatch(value):
        shown = checksum.encode("unicode_escape").decode("ascii")[:80]
        raise PlanError(
            f"--checksum {shown!r} is not a plan checksum (64 hex digits, as `reconciler plan` "
            "prints after `checksum:`); check for a typo"
        )
    return value


def _against_review(
    run: Any,
    saved: Plan | None,
    checksum: str | None,
    skus: tuple[str, ...],
    marketplaces: tuple[str, ...],
) -> Reconciled:
    """What this run may apply: today's plan, or the part of it that was reviewed."""
    today: Plan = run.plan
    if saved is not None:
        rec = check_stale(saved, today, run.desired, skus=skus, marketplaces=marketplaces)
        if rec.moved:
            raise StalePlanError(
                list(rec.moved),
                detail="the catalog at HEAD or Amazon changed them since the review; "
                "nothing was applied",
            )
        return rec
    if checksum is not None and checksum != today.checksum:
        raise PlanError(
            f"checksum {checksum[:12]}… is not the checksum of today's plan "
            f"({today.checksum[:12]}…): it is mistyped, belongs to another plan (or to other "
            "--account/--marketplace/--sku targets), or the catalog or Amazon changed since the "
            "review. A checksum can't tell which writes were reviewed, so nothing was "
            "applied: apply the saved plan with `--plan FILE` (it "
            "applies the reviewed writes that still hold), or plan and review again"
        )
    return Reconciled(today, (), ())


def _report_left(rec: Reconciled) -> None:
    if rec.outside:
        err(f"{rec.outside} reviewed listing(s) outside --sku/--marketplace/--account were not "
            "applied")
    if not rec.left:
        return
    err(
        f"{len(rec.left)} write(s) appeared since the review and were not applied; "
        "they are left for the next plan:"
    )
    for line in rec.left[:LEFT_SHOWN]:
        err(f"  - {line}")
    if len(rec.left) > LEFT_SHOWN:
        err(f"  … and {len(rec.left) - LEFT_SHOWN} more (see `reconciler plan`)")


def _settle_feeds(
    desired: Any, state_dir: str, env: Mapping[str, str], timeout: float, poll: float
) -> None:
    from reconciler.spapi.connect import client_for

    for account in desired.accounts:
        journal = feedrun.Journal(state_dir, account.name)
        if not journal.entries:
            continue
        err(
            f"waiting for {len(journal.entries)} feed(s) of account {account.name} "
            "left in flight by an earlier run"
        )
        client = client_for(account, state_dir=state_dir, env=env)
        try:
            blocked = feedrun.settle_journal(client, journal, timeout_s=timeout, poll_s=poll)
        finally:
            client.close()
        n = sum(len(s) for s in blocked.values())
        if n:
            err(
                f"{n} SKU(s) of account {account.name} are still in unfinished feeds; "
                "they will not be written by this run"
            )


@click.command("apply")
@catalog_argument
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False),
    help="Apply this saved plan (JSON from `plan --format json`).",
)
@click.option(
    "--checksum",
    help="Refuse unless the re-computed plan's writes have this checksum (prefer --plan: it "
    "survives sales between the review and the apply).",
)
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    default=None,
    help="Write via patchListingsItem, JSON_LISTINGS_FEED, or auto (from quotas).",
)
@click.option("--sku", "skus", multiple=True, help="Only this SKU (repeatable).")
@click.option(
    "--marketplace",
    "marketplaces",
    multiple=True,
    help="Only this marketplace code, e.g. CA (repeatable).",
)
@click.option(
    "--account",
    "accounts",
    multiple=True,
    metavar="NAME",
    help="Only this account's listings, with its credentials only (repeatable): one job per "
    "account, also when accounts share a marketplace (`reconciler accounts`).",
)
@click.option("--force", is_flag=True, help="Apply even when a safety threshold trips.")
@click.option(
    "--verify-timeout",
    type=float,
    default=None,
    help="Seconds to wait for read-back convergence (default: apply settings).",
)
@click.option(
    "--feed-timeout",
    type=float,
    default=None,
    help="Seconds a JSON_LISTINGS_FEED may stay unfinished after its submission; its listings "
    "are then reported pending with the feed id (default: the verify timeout).",
)
def apply_command(
    catalog_dir: str,
    plan_file: str | None,
    checksum: str | None,
    auto_approve: bool,
    strategy: str | None,
    skus: tuple[str, ...],
    marketplaces: tuple[str, ...],
    accounts: tuple[str, ...],
    force: bool,
    verify_timeout: float | None,
    feed_timeout: float | None,
) -> None:
    """Apply the catalog to Amazon: re-plan, check, write, verify, audit.

    Exit 0 only when every listing converged (read back equal to the catalog).
    """
    from reconciler.pipeline import load, run_plan

    if plan_file and checksum:
        raise click.UsageError("give --plan or --checksum, not both")
    if checksum is not None:
        checksum = valid_checksum(checksum)  # before any read: a typo costs nothing
    env = os.environ
    state_dir = state_dir_for(catalog_dir)
    saved = load_plan_file(plan_file) if plan_file else None
    desired0 = load(catalog_dir, state_dir=state_dir)
    outside = 0
    if accounts:  # before the locks and the feeds: this account's only, its credentials only
        desired0 = select_accounts(desired0, accounts, skus, marketplaces)
        if saved is not None:
            outside = sum(1 for c in saved.changes if c.key.account not in accounts)
            saved = plan_for_accounts(saved, accounts, path=plan_file or "")
    # where the audit line goes, checked before anything is written (the catalog's path is
    # confined to the catalog)
    where = audit.audit_path(desired0.apply, env, root=catalog_dir)
    desired0 = replace(desired0, apply=replace(desired0.apply, audit_log=str(where)))
    settings = desired0.apply
    timeout = settings.verify_timeout_seconds if verify_timeout is None else verify_timeout
    interval = settings.verify_interval_seconds
    feed_bound = timeout if feed_timeout is None else feed_timeout
    command = "reconciler apply " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    with lock.hold(
        state_dir, [a.name for a in desired0.accounts], command=command.strip(), on_stale=err
    ):
        _settle_feeds(desired0, state_dir, env, feed_bound, interval)
        run = run_plan(
            catalog_dir,
            skus=skus,
            marketplaces=marketplaces,
            state_dir=state_dir,
            env=env,
            desired=desired0,
            slim_live=True,
        )
        try:
            rec = _against_review(run, saved, checksum, skus, marketplaces)
            rec = replace(rec, outside=rec.outside + outside)
            _apply_run(
                run,
                rec,
                (saved.checksum if saved is not None else checksum) or "",
                auto_approve,
                strategy or settings.strategy,
                force,
                timeout,
                interval,
                state_dir,
                env,
                feed_bound,
            )
        finally:
            for c in run.clients.values():
                c.close()


def _apply_run(
    run: Any,
    rec: Reconciled,
    reviewed_checksum: str,
    auto_approve: bool,
    strategy: str,
    force: bool,
    timeout: float,
    interval: float,
    state_dir: str,
    env: Mapping[str, str],
    feed_timeout: float,
) -> None:
    plan = rec.plan
    reviewed = (
        {"reviewed_checksum": reviewed_checksum, "left_for_next_plan": len(rec.left)}
        if reviewed_checksum
        else None
    )
    if plan.safety and not force:
        raise UnsafePlanError(list(plan.safety))
    if not plan.has_changes:
        connstate.record(state_dir, run.desired.accounts)  # accepted: safe, or --force
        if reviewed_checksum and rec.left:
            err("no changes: the reviewed writes already hold on Amazon")
        else:
            err("no changes: the live listings already match the catalog")
        _report_left(rec)
        _, failed = try_audit(run.desired.apply, env, plan, strategy, None, reviewed=reviewed)
        if failed:
            raise ReconcilerError(f"the audit log could not be written: {failed}")
        return
    if not auto_approve:
        if not (_is_tty(sys.stdin) and _is_tty(sys.stderr)):
            raise ApprovalRequiredError(
                "apply needs approval: run it on a terminal, or pass --auto-approve "
                "(with --plan or --checksum in CI)"
            )
        from reconciler.plan import render

        out(render.text(plan, color=use_color(sys.stdout)))
        if not click.confirm(f"apply {len(plan.changes)} change(s)?", err=True):
            raise ApprovalRequiredError("apply not approved")
    connstate.record(state_dir, run.desired.accounts)  # accepted: safe, or --force; approved
    bar = _Bar(_is_tty(sys.stderr))
    report: ApplyReport | None = None
    error = ""
    started = time.monotonic()
    try:
        report = apply_plan(
            plan,
            run.desired,
            run.clients,
            strategy=strategy,
            verify_timeout_s=timeout,
            verify_interval_s=interval,
            progress=bar,
            feed_poll_interval_s=interval,
            feed_timeout_s=feed_timeout,
            state_dir=state_dir,
            live_before=run.live,
        )
    except BaseException as e:
        error = f"{type(e).__name__}: {e}"
        raise
    finally:
        bar.close()
        path, failed = try_audit(run.desired.apply, env, plan, strategy, report, error,
                                  time.monotonic() - started, reviewed)
        if failed and report is None:  # the apply's own error follows
            err(f"audit: NOT written: {failed}")
    err(report.summary_line())
    _report_left(rec)
    if plan.held:
        err(f"{len(plan.held)} listing(s) held for review were not applied (see `reconciler plan`)")
    err(f"kpis: {report.kpis.describe()}")
    err(f"audit: NOT written: {failed}" if failed else f"audit: {path}")
    if report.bugs:  # a bug in one account's run: the error boundary writes the crash log
        raise report.bugs[0]
    if not report.converged:
        raise NotConvergedError(f"not converged: {report.summary_line()}", report.table())
    if failed:
        raise ReconcilerError(
            f"the listings were written ({report.summary_line()}), but the audit log could not "
            f"be: {failed}; record this run by hand (the summary above) and fix the log's path"
        )
