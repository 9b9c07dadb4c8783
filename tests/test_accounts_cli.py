"""`reconciler accounts [--json]`: the catalog's accounts as a GitHub Actions matrix (one job per
account, how apply.yml and drift.yml shard, also when accounts share a marketplace;
tests/test_workflows.py feeds this output to actionlint)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from reconciler.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "catalog"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["accounts", *args], catch_exceptions=False)


def catalog_with(tmp_path: Path, **accounts: dict[str, Any]) -> Path:
    root = tmp_path / "catalog"
    shutil.copytree(SAMPLE, root)
    settings = root / "reconciler.yaml"
    doc = yaml.safe_load(settings.read_text(encoding="utf-8"))
    doc["accounts"].update(accounts)
    settings.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return root


def account(seller: str, region: str, refresh: str, *codes: str) -> dict[str, Any]:
    return {"seller_id": seller, "region": region, "endpoint": "production",
            "credentials": {"refresh_token": f"env/{refresh}", "client_id": "env/LWA_APP_ID",
                            "client_secret": "env/LWA_CLIENT_SECRET"},
            "marketplaces": {c: {} for c in codes}}


def test_sample_accounts_as_a_github_actions_matrix() -> None:
    r = run(str(SAMPLE), "--json")
    assert r.exit_code == 0, r.output
    assert r.stdout.count("\n") == 1  # one line: `echo "matrix=$(...)" >> $GITHUB_OUTPUT`
    assert json.loads(r.stdout) == {"include": [
        {"account": "na", "region": "NA", "endpoint": "emulator", "marketplaces": "US,CA,MX",
         "refresh_token": "SP_API_REFRESH_TOKEN", "client_id": "LWA_APP_ID",
         "client_secret": "LWA_CLIENT_SECRET"},
        {"account": "eu", "region": "EU", "endpoint": "emulator", "marketplaces": "UK,DE,FR",
         "refresh_token": "SP_API_REFRESH_TOKEN_EU", "client_id": "LWA_APP_ID",
         "client_secret": "LWA_CLIENT_SECRET"},
    ]}


def test_the_matrix_grows_with_the_catalog_and_never_holds_a_secret(
    tmp_path: Path, monkeypatch: Any,
) -> None:
    monkeypatch.setenv("SP_API_REFRESH_TOKEN_EU2", "Atzr|a-real-looking-token")
    root = catalog_with(tmp_path, eu2=account("A3SECONDEU0001", "EU", "SP_API_REFRESH_TOKEN_EU2",
                                              "IT", "ES"))
    r = run(str(root), "--json")
    assert r.exit_code == 0, r.output
    entries = json.loads(r.stdout)["include"]
    assert [e["account"] for e in entries] == ["na", "eu", "eu2"]
    assert entries[2] == {"account": "eu2", "region": "EU", "endpoint": "production",
                          "marketplaces": "IT,ES", "refresh_token": "SP_API_REFRESH_TOKEN_EU2",
                          "client_id": "LWA_APP_ID", "client_secret": "LWA_CLIENT_SECRET"}
    assert "Atzr" not in r.output  # names of variables, never their values


def test_text_listing(tmp_path: Path) -> None:
    r = run(str(SAMPLE))
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert [line.split()[:3] for line in lines] == [["na", "NA", "US,CA,MX"],
                                                    ["eu", "EU", "UK,DE,FR"]]
    assert "SP_API_REFRESH_TOKEN_EU" in lines[1]
    assert "2 account(s)" in r.stderr


def test_accounts_sharing_a_marketplace_are_still_one_job_each(tmp_path: Path) -> None:
    # an agency's sellers share marketplaces: each job selects its listings with --account
    root = catalog_with(tmp_path, na2=account("A3SECONDNA0001", "NA", "SP_API_REFRESH_TOKEN_NA2",
                                              "US", "CA"))
    r = run(str(root), "--json")
    assert r.exit_code == 0, r.stderr
    entries = json.loads(r.stdout)["include"]
    assert [(e["account"], e["marketplaces"]) for e in entries] == [
        ("na", "US,CA,MX"), ("eu", "UK,DE,FR"), ("na2", "US,CA")]
    assert entries[2]["refresh_token"] == "SP_API_REFRESH_TOKEN_NA2"


def test_a_bad_catalog_exits_1_with_its_problem_and_no_traceback(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    shutil.copytree(SAMPLE, root)
    (root / "reconciler.yaml").write_text("accounts: [not, a, mapping\n", encoding="utf-8")
    r = run(str(root), "--json")
    assert r.exit_code == 1
    assert r.stdout == ""
    assert r.stderr.startswith("reconciler: catalog is invalid")
    assert "reconciler.yaml, line 2" in r.stderr
    assert "Traceback" not in r.stderr

    r = run(str(tmp_path / "nowhere"), "--json")
    assert r.exit_code == 1
    assert r.stderr.splitlines()[0].startswith("reconciler: catalog directory")
    assert "nowhere" in r.stderr and "Traceback" not in r.stderr
