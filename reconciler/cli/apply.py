"""`reconciler apply`: re-plan, refuse a stale or unsafe plan, write, verify, audit.

Order of a run (so the plan a run writes is the plan it checked):

1. load the catalog (to learn its accounts) and take each account's lock (``lock.py``);
2. wait for feeds an earlier, interrupted run left in flight (``feedrun.settle_journal``);
3. re-plan against live state; with ``--plan FILE`` the saved plan must equal the new one
   (else ``StalePlanError`` naming the listings whose live state moved, or the catalog change);
   with ``--checksum X`` the new plan's checksum must be X;
4. safety (``--force``), approval (``--auto-approve``, or a prompt on a TTY);
5. ``apply.apply_plan`` -> summary line on stderr, audit line (written even when the apply
   fails part-way), exit 0 only when every listing converged.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from reconciler import audit, feedrun, lock
from reconciler.apply import STRATEGIES, apply_plan
from reconciler.errors import (
    ApprovalRequiredError,
    NotConvergedError,
    PlanError,
    StalePlanError,
    UnsafePlanError,
)
from reconciler.outcome import ApplyReport, listing_name
from reconciler.plan import Plan
from reconciler.verify import check_stale

from .common import catalog_argument, err, out, state_dir_for

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


def _load_saved_plan(path: str) -> Plan:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise PlanError(f"cannot read plan file {path}: {e}") from e
    return Plan.from_data(data)


def _compare_saved(saved: Plan, run: Any) -> None:
    """Refuse a saved plan that is not the plan of today's catalog + live state."""
    fresh: Plan = run.plan
    stale = check_stale(saved, run.desired, run.live)
    if stale:
        raise StalePlanError(stale, detail="re-read from Amazon")
    if saved.checksum == fresh.checksum:
        return
    # Live state matches the saved fingerprints, so the catalog (or targeting) changed.
    old = {c.key: c for c in saved.changes}
    new = {c.key: c for c in fresh.changes}
    names = sorted(
        listing_name(k) for k in set(old) | set(new) if old.get(k) != new.get(k)
    ) or sorted(listing_name(k) for k in set(saved.fingerprints) ^ set(fresh.fingerprints))
    raise StalePlanError(
        names or ["(plan settings: strategy, safety or held listings)"],
        detail="the catalog changed since the plan was made",
    )


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


def _write_audit(
    settings: Any,
    env: Mapping[str, str],
    plan: Plan,
    strategy: str,
    report: ApplyReport | None,
    error: str = "",
) -> Path:
    path = audit.audit_path(settings, env)
    outcomes = [o.data() for o in report.outcomes] if report else []
    rec = audit.build_record(
        plan_checksum=plan.checksum,
        strategy=report.strategy if report else strategy,
        outcomes=outcomes,
        kpis=report.kpis.data() if report else {},
        env=env,
        extra={
            "strategy_reason": report.strategy_reason if report else "",
            "feeds": [f.data() for f in report.feeds] if report else [],
            "summary": report.summary_line() if report else "",
            "converged": bool(report and report.converged),
            "error": error,
        },
    )
    audit.append(path, rec)
    return path


@click.command("apply")
@catalog_argument
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False),
    help="Apply this saved plan (JSON from `plan --format json`).",
)
@click.option("--checksum", help="Refuse unless the re-computed plan has this checksum.")
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
    force: bool,
    verify_timeout: float | None,
    feed_timeout: float | None,
) -> None:
    """Apply the catalog to Amazon: re-plan, check, write, verify, audit.

    Exit 0 only when every listing converged (read back equal to the catalog).
    """
    from reconciler.workflow import load, run_plan

    if plan_file and checksum:
        raise click.UsageError("give --plan or --checksum, not both")
    env = os.environ
    state_dir = state_dir_for(catalog_dir)
    saved = _load_saved_plan(plan_file) if plan_file else None
    desired0 = load(catalog_dir, state_dir=state_dir)
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
        )
        try:
            _apply_run(
                run,
                saved,
                checksum,
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
    saved: Plan | None,
    checksum: str | None,
    auto_approve: bool,
    strategy: str,
    force: bool,
    timeout: float,
    interval: float,
    state_dir: str,
    env: Mapping[str, str],
    feed_timeout: float,
) -> None:
    plan: Plan = run.plan
    if saved is not None:
        _compare_saved(saved, run)
    elif checksum is not None and checksum != plan.checksum:
        raise StalePlanError(
            [c.name for c in plan.changes][:20],
            detail=f"checksum {checksum[:12]}… of the reviewed plan does not match the "
            f"current plan {plan.checksum[:12]}…: the catalog or live state changed",
        )
    if plan.safety and not force:
        raise UnsafePlanError(list(plan.safety))
    if not plan.has_changes:
        err("no changes: the live listings already match the catalog")
        _write_audit(run.desired.apply, env, plan, strategy, None)
        return
    if not auto_approve:
        if not (_is_tty(sys.stdin) and _is_tty(sys.stderr)):
            raise ApprovalRequiredError(
                "apply needs approval: run it on a terminal, or pass --auto-approve "
                "(with --plan or --checksum in CI)"
            )
        from reconciler import render

        out(render.text(plan, color=True))
        if not click.confirm(f"apply {len(plan.changes)} change(s)?", err=True):
            raise ApprovalRequiredError("apply not approved")
    bar = _Bar(_is_tty(sys.stderr))
    report: ApplyReport | None = None
    error = ""
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
        path = _write_audit(run.desired.apply, env, plan, strategy, report, error)
    err(report.summary_line())
    if plan.held:
        err(f"{len(plan.held)} listing(s) held for review were not applied (see `reconciler plan`)")
    err(f"kpis: {report.kpis.describe()}")
    err(f"audit: {path}")
    if report.bugs:  # a bug in one account's run: the error boundary writes the crash log
        raise report.bugs[0]
    if not report.converged:
        raise NotConvergedError(f"not converged: {report.summary_line()}", report.table())
