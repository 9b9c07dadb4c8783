"""CLI consistency (issue 12, item 9):

- every command takes ``--color/--no-color``, and NO_COLOR turns colour off everywhere (apply's
  approval prompt printed the plan in colour whatever NO_COLOR said);
- ``validate`` (so the pre-commit hook) refuses an endpoint plan would refuse, with file:line,
  by calling the very function plan uses;
- ``reconciler schema`` offers every schema in ``schemas/`` (warehouses was missing);
- the audit's ``actor`` is the CI's actor, else the git user, else the OS user (``actor_source``
  says which), and ``git_dirty`` records whether the applied catalog had uncommitted changes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from reconciler.apply import audit
from reconciler.cli import main
from reconciler.spapi.connect import close_embedded_emulators
from tests.emulator_support import quick_embedded_emulator

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "catalog"
ANSI = "\x1b["


@pytest.fixture(autouse=True)
def _close_emulators() -> Iterator[None]:
    yield
    close_embedded_emulators()


def run(*args: str, **kw: Any) -> Result:
    return CliRunner().invoke(main, list(args), **kw)


def command_paths(cmd: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [path]
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            out += command_paths(sub, (*path, name))
    return out


# ------------------------------------------------------------------ colour


@pytest.mark.parametrize("path", command_paths(main), ids=lambda p: " ".join(p) or "reconciler")
def test_every_command_takes_no_color(path: tuple[str, ...]) -> None:
    for flag in ("--no-color", "--color"):
        r = run(*path, flag, "--help")
        assert r.exit_code == 0, (path, flag, r.output)
        assert "--color / --no-color" in r.stdout and "NO_COLOR" in r.stdout


@pytest.fixture
def fake_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdin/stdout/stderr look like a terminal (so apply may prompt, colour may be on)."""
    monkeypatch.setattr("reconciler.cli.apply._is_tty", lambda _s: True)
    monkeypatch.setattr("reconciler.cli.common.is_tty", lambda _s: True, raising=False)


def apply_prompt(*args: str, env: dict[str, str] | None = None) -> Result:
    """apply on a (fake) terminal, answering no: prints the plan, then refuses."""
    r = CliRunner().invoke(main, [*args], input="n\n", color=True, env=env)
    assert r.exit_code == 1 and "not approved" in r.stderr, r.output
    assert "~ update" in r.stdout
    return r


@pytest.mark.usefixtures("fake_tty")
def test_apply_prompt_is_coloured_on_a_terminal_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert ANSI in apply_prompt("apply", str(CATALOG)).stdout


@pytest.mark.usefixtures("fake_tty")
@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("apply", str(CATALOG)), {"NO_COLOR": "1"}),
        (("apply", str(CATALOG), "--no-color"), {}),
        (("--no-color", "apply", str(CATALOG)), {}),
    ],
    ids=["NO_COLOR", "--no-color", "group --no-color"],
)
def test_apply_honours_no_color(
    args: tuple[str, ...], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert ANSI not in apply_prompt(*args, env=env).stdout


@pytest.mark.usefixtures("fake_tty")
def test_plan_colour_follows_no_color_and_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    invoke = CliRunner().invoke
    assert ANSI in invoke(main, ["plan", str(CATALOG)], color=True).stdout
    no_color = {"NO_COLOR": "1"}
    assert ANSI not in invoke(main, ["plan", str(CATALOG)], color=True, env=no_color).stdout
    assert ANSI not in invoke(main, ["--no-color", "plan", str(CATALOG)], color=True).stdout
    forced = invoke(main, ["plan", str(CATALOG), "--color"], color=True, env={"NO_COLOR": "1"})
    assert ANSI in forced.stdout  # an explicit flag wins over the environment


# ------------------------------------------------------------------ validate = plan's rule


@pytest.mark.parametrize(
    "endpoint", ["http://192.0.2.10:8080", "ftp://example.com", "https://"]
)
def test_validate_refuses_an_endpoint_plan_refuses(tmp_path: Path, endpoint: str) -> None:
    cat = tmp_path / "catalog"
    shutil.copytree(CATALOG, cat)
    cfg = cat / "reconciler.yaml"
    lines = cfg.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if "endpoint: emulator" in line)
    lines[at] = f'    endpoint: "{endpoint}"\n'
    cfg.write_text("".join(lines), encoding="utf-8")
    r = run("validate", str(cat))
    assert r.exit_code == 1, r.output
    assert f"reconciler.yaml, line {at + 1}" in r.stderr and "endpoint" in r.stderr
    assert "unexpected error" not in r.stderr
    p = run("plan", str(cat))  # plan refuses it too (the same rule)
    assert p.exit_code == 1 and "endpoint" in p.stderr


def test_validate_accepts_the_endpoints_plan_accepts(tmp_path: Path) -> None:
    cat = tmp_path / "catalog"
    shutil.copytree(CATALOG, cat)
    cfg = cat / "reconciler.yaml"
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace("endpoint: emulator", "endpoint: sandbox", 1), encoding="utf-8")
    r = run("validate", str(cat))
    assert r.exit_code == 0, r.output


# ------------------------------------------------------------------ schema


SCHEMAS = sorted(p.name[: -len(".schema.json")] for p in (ROOT / "schemas").glob("*.schema.json"))


def test_schemas_exist() -> None:
    assert "warehouses" in SCHEMAS and len(SCHEMAS) >= 7


@pytest.mark.parametrize("kind", SCHEMAS)
def test_schema_command_offers_every_schema(kind: str) -> None:
    r = run("schema", kind)
    assert r.exit_code == 0, r.output
    want = json.loads((ROOT / "schemas" / f"{kind}.schema.json").read_text(encoding="utf-8"))
    assert json.loads(r.stdout) == want
    assert kind in run("schema", "--help").stdout


# ------------------------------------------------------------------ audit actor


@pytest.fixture
def no_git_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No global or system git config: only a repository's own config names a git user."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "EMAIL"):
        monkeypatch.delenv(var, raising=False)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path, no_git_identity: None) -> Path:
    r = tmp_path / "repo"
    (r / "catalog").mkdir(parents=True)
    git(r, "init", "-q")
    git(r, "config", "user.name", "Ada Lovelace")
    git(r, "config", "user.email", "ada@example.com")
    (r / "catalog" / "reconciler.yaml").write_text("accounts: {}\n")
    git(r, "add", ".")
    git(r, "commit", "-q", "-m", "catalog")
    return r


@pytest.mark.parametrize(
    "var", ["GITHUB_ACTOR", "GITLAB_USER_LOGIN", "CIRCLE_USERNAME", "BUILD_REQUESTEDFOR"]
)
def test_actor_is_the_ci_actor(var: str, repo: Path) -> None:
    env = {var: "ci-person", "USER": "runner"}
    assert audit.actor_of(env, cwd=repo) == ("ci-person", var)


def test_actor_is_the_git_user_outside_ci(repo: Path) -> None:
    who = audit.actor_of({"USER": "runner"}, cwd=repo)
    assert who == ("Ada Lovelace <ada@example.com>", "git config")


def test_actor_is_the_os_user_without_git(tmp_path: Path, no_git_identity: None) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert audit.actor_of({"USER": "alice"}, cwd=plain) == ("alice", "os user")
    name, source = audit.actor_of({}, cwd=plain)  # from the password database
    assert source == "os user" and name


def test_record_says_whether_the_catalog_was_dirty(repo: Path) -> None:
    def record() -> dict[str, Any]:
        return audit.build_record(
            plan_checksum="c", strategy="patch", outcomes=[], kpis={}, env={"USER": "x"},
            catalog_dir=repo / "catalog",
        )

    rec = record()
    assert rec["git_dirty"] is False and rec["actor"] == "Ada Lovelace <ada@example.com>"
    assert rec["actor_source"] == "git config"
    (repo / "outside.txt").write_text("not the catalog\n")  # elsewhere in the tree: clean
    assert record()["git_dirty"] is False
    (repo / "catalog" / "skus.yaml").write_text("skus: {}\n")  # untracked in the catalog
    assert record()["git_dirty"] is True
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "more")
    (repo / "catalog" / "reconciler.yaml").write_text("accounts: {x: 1}\n")  # modified
    assert record()["git_dirty"] is True
    outside = audit.build_record(
        plan_checksum="c", strategy="patch", outcomes=[], kpis={}, env={},
        catalog_dir=repo.parent / "nowhere",
    )
    assert outside["git_dirty"] is None


def test_apply_writes_actor_and_dirty_flag(
    tmp_path: Path, isolated_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the embedded emulator without the write visibility delay (not what this test is about)
    quick_embedded_emulator(isolated_state, monkeypatch, write_delay_s=0.0)
    log = tmp_path / "audit.jsonl"
    r = run("apply", str(CATALOG), "--sku", "ssnm001", "--auto-approve",
            env={"GITHUB_ACTOR": "octocat", "RECONCILER_AUDIT_LOG": str(log)})
    assert r.exit_code == 0, r.output
    (rec,) = audit.read(log)
    assert rec["actor"] == "octocat" and rec["actor_source"] == "GITHUB_ACTOR"
    assert isinstance(rec["git_dirty"], bool)  # the sample catalog lives in this repository
