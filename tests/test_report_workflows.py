"""The report steps of drift.yml and apply.yml, run like the runner runs them (fake CLI).

Covers: drift keeps its audit lines in a per-account history inside the cached state dir; both
workflows write the Markdown summary to the job page and the HTML for the artifact; drift passes
the plan as pending drift only when it did not just apply it; the report steps can never fail
the job (continue-on-error) and the upload runs only after a report was written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_workflows import Runner, load, step


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(tmp_path)


def test_drift_keeps_the_audit_history_with_the_state(runner: Runner) -> None:
    s = step(load("drift.yml"), "drift", "Keep the audit history with the state")
    audit = runner.work / "audit" / "drift-na.jsonl"
    audit.parent.mkdir()
    audit.write_text('{"time": "2025-01-01T00:00:00Z"}\n')
    env = {"RECONCILER_STATE_DIR": ".reconciler/na", "RECONCILER_AUDIT_LOG": str(audit),
           "ACCOUNT": "na"}
    for _ in range(2):
        assert runner.run(s, **env).returncode == 0
    history = runner.work / ".reconciler" / "na" / "history" / "drift-na.jsonl"
    assert history.read_text().count("2025-01-01") == 2
    audit.unlink()  # a run that applied nothing wrote no line: nothing to keep, no error
    assert runner.run(s, **env).returncode == 0


@pytest.mark.parametrize(("applied", "with_plan"), [("skipped", True), ("success", False)])
def test_drift_report_goes_to_the_summary_and_an_html_file(
        runner: Runner, applied: str, with_plan: bool) -> None:
    s = step(load("drift.yml"), "drift", "report")
    assert s["continue-on-error"] is True and s["if"] == "always()"
    (runner.work / "plan.json").write_text("{}")
    r = runner.run(s, RECONCILER_STATE_DIR=".reconciler/na", APPLIED=applied)
    assert r.returncode == 0, r.stderr
    md, html = runner.calls()
    assert md[0] == "report" and md[md.index("--format") + 1] == "markdown"
    assert html[html.index("--format") + 1] == "html" and "report.html" in html
    assert md[md.index("--audit") + 1] == ".reconciler/na/history"
    assert ("--plan" in md) is with_plan
    assert "plan for report" in runner.summary.read_text()


def test_apply_report_reads_this_runs_audit_and_uploads_it(runner: Runner) -> None:
    wf = load("apply.yml")
    s = step(wf, "apply", "report")
    assert s["continue-on-error"] is True
    r = runner.run(s, RECONCILER_STATE_DIR=".reconciler/na", ACCOUNT="na")
    assert r.returncode == 0, r.stderr
    md, _html = runner.calls()
    assert md[md.index("--audit") + 1] == "audit/" and "--plan" not in md
    assert "plan for report" in runner.summary.read_text()
    upload = step(wf, "apply", "Upload the report")
    assert "steps.report.outcome == 'success'" in upload["if"]
    assert upload["with"]["path"] == "report.html"
