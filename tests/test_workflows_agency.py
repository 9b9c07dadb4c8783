"""Issue 19, must-show 4 at agency size: the matrix `reconciler accounts --json` prints for a
catalog of twenty seller accounts feeds apply.yml and drift.yml, and actionlint accepts them
(it type-checks every `matrix.*` the jobs use against the literal matrix). The sample catalog's
two accounts are tested in tests/test_workflows.py; this is the same check with the real
command's output for twenty accounts that all SHARE their marketplaces (an agency's sellers, as
in bench/agency.py), and it fails when an entry lacks a key the jobs use. Sharing is fine
because every step that reads or writes Amazon selects its account's listings by name
(``--account``), never by marketplace."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.test_workflows import ROOT, WRITERS, actionlint, load, step

# Twenty sellers of one agency, all on the same North American marketplaces.
ACCOUNTS = 20
MARKETPLACES = ("US", "CA", "MX")


def agency_catalog(root: Path) -> None:
    accounts = {
        f"s{i:02d}": {
            "seller_id": f"AGENCY{i:04d}SELLER", "region": "NA", "endpoint": "production",
            "credentials": {"refresh_token": f"env/SP_API_REFRESH_TOKEN_S{i:02d}",
                            "client_id": "env/LWA_APP_ID",
                            "client_secret": "env/LWA_CLIENT_SECRET"},
            "marketplaces": {code: {} for code in MARKETPLACES},
        }
        for i in range(1, ACCOUNTS + 1)
    }
    (root / "skus").mkdir(parents=True)
    (root / "reconciler.yaml").write_text(
        yaml.safe_dump({"version": 1, "accounts": accounts}, sort_keys=False), encoding="utf-8")


def accounts_json(catalog: Path) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "accounts", str(catalog), "--json"], cwd=ROOT,
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1  # one line, for $GITHUB_OUTPUT
    data: dict[str, object] = json.loads(lines[0])
    return data


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_a_twenty_account_matrix_feeds_a_workflow_actionlint_accepts(
    tmp_path: Path, name: str
) -> None:
    catalog = tmp_path / "catalog"
    agency_catalog(catalog)
    matrix = accounts_json(catalog)
    entries = matrix["include"]
    assert isinstance(entries, list)
    assert [e["account"] for e in entries] == [f"s{i:02d}" for i in range(1, ACCOUNTS + 1)]
    assert {e["marketplaces"] for e in entries} == {",".join(MARKETPLACES)}  # all shared
    assert len({e["refresh_token"] for e in entries}) == ACCOUNTS  # each its own secret
    wf = load(name)
    wf["jobs"][WRITERS[name]]["strategy"]["matrix"] = matrix
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=60)
    target = repo / ".github" / "workflows" / name
    target.write_text(yaml.safe_dump(wf, sort_keys=False).replace("true:", "on:", 1),
                      encoding="utf-8")
    result = actionlint(target, cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    # the check can fail: a matrix without a key the jobs read is refused
    for e in entries:
        del e["refresh_token"]
    target.write_text(yaml.safe_dump(wf, sort_keys=False).replace("true:", "on:", 1),
                      encoding="utf-8")
    result = actionlint(target, cwd=repo)
    assert result.returncode != 0
    assert 'property "refresh_token" is not defined' in result.stdout



@pytest.mark.parametrize("name", sorted(WRITERS))
def test_a_per_account_job_selects_its_account_by_name_not_by_marketplace(name: str) -> None:
    """With shared marketplaces, `--marketplace` would select the other accounts' listings too
    (and need their credentials): every plan and apply of a per-account job names the account."""
    calls = 0
    for s in load(name)["jobs"][WRITERS[name]]["steps"]:
        run = s.get("run", "")
        assert "--marketplace" not in run, s.get("name")
        for line in run.splitlines():
            if re.search(r"\breconciler (plan|apply)\b", line):
                calls += 1
                assert '"${args[@]}"' in line.split(), line
                assert 'args=(--account "$ACCOUNT")' in run, s.get("name")
    assert calls >= 2


def test_the_reviewed_plan_of_each_account_is_cut_by_account() -> None:
    run = step(load("plan.yml"), "plan", "plan")["run"]
    assert "--marketplace" not in run
    (cut,) = [line for line in run.splitlines() if 'plan-$account.json' in line]
    assert '--account "$account"' in cut
