"""Issue 19, must-show 4 at agency size: the matrix `reconciler accounts --json` prints for a
catalog of twenty seller accounts feeds apply.yml and drift.yml, and actionlint accepts them
(it type-checks every `matrix.*` the jobs use against the literal matrix). The sample catalog's
two accounts are tested in tests/test_workflows.py; this is the same check with the real
command's output for twenty accounts, and it fails when an entry lacks a key the jobs use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.test_workflows import ROOT, WRITERS, actionlint, load

# Twenty accounts, each in marketplaces of its own (one job per account selects its listings by
# marketplace): the first twenty of the marketplaces Amazon has, in their regions.
MARKETPLACES = [("US", "NA"), ("CA", "NA"), ("MX", "NA"), ("BR", "NA"), ("UK", "EU"),
                ("DE", "EU"), ("FR", "EU"), ("IT", "EU"), ("ES", "EU"), ("NL", "EU"),
                ("SE", "EU"), ("PL", "EU"), ("BE", "EU"), ("TR", "EU"), ("JP", "FE"),
                ("AU", "FE"), ("SG", "FE"), ("IN", "EU"), ("AE", "EU"), ("SA", "EU")]


def agency_catalog(root: Path) -> None:
    accounts = {
        f"s{i:02d}": {
            "seller_id": f"AGENCY{i:04d}SELLER", "region": region, "endpoint": "production",
            "credentials": {"refresh_token": f"env/SP_API_REFRESH_TOKEN_S{i:02d}",
                            "client_id": "env/LWA_APP_ID",
                            "client_secret": "env/LWA_CLIENT_SECRET"},
            "marketplaces": {code: {}},
        }
        for i, (code, region) in enumerate(MARKETPLACES, start=1)
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
    assert [e["account"] for e in entries] == [f"s{i:02d}" for i in range(1, 21)]
    assert [e["marketplaces"] for e in entries] == [c for c, _ in MARKETPLACES]
    assert len({e["refresh_token"] for e in entries}) == 20  # each account its own secret
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
