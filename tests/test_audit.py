"""Audit log: path resolution (settings, env override, cwd), record fields (time, actor, git
commit), redaction of every string, one line per append even with concurrent writers."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading
from pathlib import Path

import pytest

from reconciler.apply import audit
from reconciler.kernel import redact
from reconciler.kernel.model import ApplySettings


@pytest.fixture(autouse=True)
def _clean_secrets() -> None:
    redact.clear()


def test_path_relative_to_cwd_and_env_override(tmp_path: Path) -> None:
    s = ApplySettings(audit_log="logs/audit.jsonl")
    assert audit.audit_path(s, env={}, cwd=tmp_path) == tmp_path / "logs" / "audit.jsonl"
    env = {"RECONCILER_AUDIT_LOG": str(tmp_path / "x.jsonl")}
    assert audit.audit_path(s, env=env, cwd="/nowhere") == tmp_path / "x.jsonl"
    assert audit.audit_path(None, env={}, cwd=tmp_path) == tmp_path / ".reconciler/audit.jsonl"


def test_record_fields_from_github_env(tmp_path: Path) -> None:
    env = {"GITHUB_ACTOR": "octocat", "GITHUB_SHA": "a" * 40, "USER": "root"}
    fixed = dt.datetime(2026, 11, 22, 12, 0, 5, tzinfo=dt.timezone.utc)
    rec = audit.build_record(
        plan_checksum="c0ffee",
        strategy="patch",
        outcomes=[{"sku": "MUG-001"}],
        kpis={"sync_success_pct": 100.0},
        env=env,
        now=lambda: fixed,
    )
    assert rec["time"] == "2026-11-22T12:00:05Z"
    assert rec["actor"] == "octocat"
    assert rec["git_commit"] == "a" * 40
    assert rec["plan_checksum"] == "c0ffee"


def test_git_commit_from_repo_and_none_outside(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    run = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    run("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "x")
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    assert audit.git_commit(env={}, cwd=repo) == sha
    outside = tmp_path / "plain"
    outside.mkdir()
    # tmp dirs are not inside a repository: no commit, no error
    assert audit.git_commit(env={}, cwd=outside) is None
    assert audit.git_commit(env={"GITHUB_SHA": "b" * 40}, cwd=outside) == "b" * 40


def test_append_redacts_every_string(tmp_path: Path) -> None:
    secret = "Atzr|SECRET-REFRESH-TOKEN-123456"
    redact.register(secret)
    p = tmp_path / "a" / "audit.jsonl"
    audit.append(
        p,
        {"outcomes": [{"issues": [f"bad token {secret}"]}], secret: 1, "nested": {"k": (secret,)}},
    )
    text = p.read_text()
    assert secret not in text
    assert text.count("\n") == 1
    rec = json.loads(text)
    assert rec["outcomes"][0]["issues"][0] == "bad token ***"


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    big = "x" * 20000

    def worker(i: int) -> None:
        for j in range(20):
            audit.append(p, {"i": i, "j": j, "pad": big})

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recs = audit.read(p)
    assert len(recs) == 80
    assert {(r["i"], r["j"]) for r in recs} == {(i, j) for i in range(4) for j in range(20)}


def test_multiline_strings_stay_one_line(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    audit.append(p, {"msg": "line1\nline2"})
    audit.append(p, {"msg": "second"})
    lines = p.read_text().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["msg"] == "line1\nline2"
