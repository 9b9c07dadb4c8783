"""The audit line of `reconciler apply` (design.md §8): written for every run that reached
the write step, also when it failed part-way; a failed audit write never hides the apply's
outcome."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from reconciler.apply import audit
from reconciler.apply.outcome import ApplyReport
from reconciler.kernel.errors import ReconcilerError
from reconciler.plan.value import Plan


def _write_audit(
    settings: Any,
    env: Mapping[str, str],
    plan: Plan,
    strategy: str,
    report: ApplyReport | None,
    error: str = "",
    wall_s: float | None = None,
    reviewed: dict[str, Any] | None = None,
) -> Path:
    path = audit.audit_path(settings, env)
    outcomes = [o.data() for o in report.outcomes] if report else []
    ctx = click.get_current_context(silent=True)
    catalog_dir = str(ctx.params.get("catalog_dir") or "") if ctx is not None else ""
    est = plan.strategy
    lower = None
    if report is not None and est is not None and report.strategy in ("patch", "feed", "hybrid"):
        by = {"patch": est.patch_seconds, "feed": est.feed_seconds}
        lower = by.get(report.strategy, est.seconds)
    rec = audit.build_record(
        plan_checksum=plan.checksum,
        strategy=report.strategy if report else strategy,
        outcomes=outcomes,
        kpis=report.kpis.data() if report else {},
        env=env,
        catalog_dir=catalog_dir or None,  # git_dirty: was the applied catalog committed?
        extra={
            "strategy_reason": report.strategy_reason if report else "",
            "feeds": [f.data() for f in report.feeds] if report else [],
            "summary": report.summary_line() if report else "",
            "converged": bool(report and report.converged),
            "error": error,
            # for `reconciler report`: apply's wall time against the quota lower bound, and
            # the prices written (price history)
            "wall_s": None if wall_s is None else round(wall_s, 3),
            "lower_bound_s": None if lower is None else round(lower, 3),
            "prices": audit.price_points(plan.changes) if report else [],
            **(reviewed or {}),
        },
    )
    audit.append(path, rec)
    return path


def try_audit(
    settings: Any, env: Mapping[str, str], plan: Plan, strategy: str,
    report: ApplyReport | None, error: str = "", wall_s: float | None = None,
    reviewed: dict[str, Any] | None = None,
) -> tuple[Path, str]:
    """Write the audit line; returns (path, "" or why it failed). A failed audit write never
    hides the apply's outcome (printed by the caller) nor turns it into a crash."""
    path = Path(settings.audit_log)
    try:
        return _write_audit(settings, env, plan, strategy, report, error, wall_s, reviewed), ""
    except (OSError, ReconcilerError) as e:
        if isinstance(e, OSError):
            why = f"{e.filename or path}: {e.strerror or e} (writing {path})"
        else:
            why = str(e)
        return path, why
