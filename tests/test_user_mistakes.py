"""A user's mistake exits 1 with one clear line naming what is wrong, never exit 3 "a bug"
(issue 12, items 7 and 8). Each case is run through the CLI (click's CliRunner):

- ``emulator serve --port 99999``;
- ``plan --format json --out DIR`` (a directory), and ``--out`` under a file;
- ``orders route --picklists FILE`` when FILE exists: refused before anything is reserved;
- ``RECONCILER_STATE_DIR`` pointing at a file (or below one), for every command that uses it;
- a corrupt ``.reconciler/emulator.db`` (and ``emulator serve --db DIR``);
- ``plan --sku NOPE-123`` / ``apply --sku NOPE``: an unknown SKU is named (with the closest SKU
  as a hint), as is an unknown marketplace or account, instead of "No changes".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.kernel.errors import EXIT_ERROR
from reconciler.spapi.connect import close_embedded_emulators

CATALOG = str(Path(__file__).resolve().parent.parent / "catalog")


@pytest.fixture(autouse=True)
def _close_emulators() -> Iterator[None]:
    yield
    close_embedded_emulators()


def run(*args: str, **kw: Any) -> Result:
    return CliRunner().invoke(main, list(args), **kw)


def one_clear_line(r: Result, *needles: str) -> str:
    """Exit 1, and stderr is exactly one `reconciler: ...` line naming every needle."""
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.exit_code == EXIT_ERROR, (r.exit_code, r.stderr)
    assert len(lines) == 1 and lines[0].startswith("reconciler: "), r.stderr
    assert "unexpected error" not in lines[0] and "Traceback" not in r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


# ------------------------------------------------------------------ item 7


@pytest.mark.parametrize("port", ["99999", "-1", "65536"])
def test_emulator_port_out_of_range(port: str) -> None:
    one_clear_line(run("emulator", "serve", "--port", port), f"--port {port}", "0")


def test_plan_out_is_a_directory(tmp_path: Path, isolated_state: Path) -> None:
    target = tmp_path / "plans"
    target.mkdir()
    r = run("plan", CATALOG, "--format", "json", "--out", str(target))
    one_clear_line(r, "--out", str(target), "directory")
    assert list(target.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".plans")] == []
    assert not isolated_state.exists()  # refused before reading anything


def test_plan_out_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    r = run("plan", CATALOG, "--out", str(tmp_path / "afile" / "plan.txt"))
    one_clear_line(r, "--out", "afile", "not a directory")


def test_orders_route_picklists_is_a_file(tmp_path: Path, isolated_state: Path) -> None:
    picks = tmp_path / "picks.csv"
    picks.write_text("keep me\n")
    r = run("orders", "route", CATALOG, "--picklists", str(picks))
    one_clear_line(r, "--picklists", str(picks), "file")
    assert picks.read_text() == "keep me\n"
    assert not isolated_state.exists()  # nothing reserved, no order state opened


@pytest.mark.parametrize(
    "args",
    [
        ("plan", CATALOG),
        ("apply", CATALOG, "--auto-approve"),
        ("demo", CATALOG),
        ("orders", "pull", CATALOG),
        ("orders", "route", CATALOG, "--dry-run"),
        ("import", "--account", "na", "--out", "x", CATALOG),
    ],
    ids=lambda a: " ".join(a[:2]),
)
@pytest.mark.parametrize("below", [False, True], ids=["file", "below-a-file"])
def test_state_dir_is_a_file(
    args: tuple[str, ...], below: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "state-file"
    f.write_text("not a directory\n")
    monkeypatch.setenv("RECONCILER_STATE_DIR", str(f / "sub" if below else f))
    monkeypatch.chdir(tmp_path)
    one_clear_line(run(*args), "RECONCILER_STATE_DIR", str(f))
    assert f.read_text() == "not a directory\n"


def test_library_state_dir_errors_are_ours(tmp_path: Path) -> None:
    from reconciler.apply import lock
    from reconciler.kernel import statedir
    from reconciler.live.cache import LiveCache

    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(statedir.StateDirError, match="is a file"):
        LiveCache(f / "cache.sqlite")
    with pytest.raises(statedir.StateDirError, match="is a file"):
        lock.acquire(f, "na")


def test_corrupt_embedded_emulator_db(isolated_state: Path) -> None:
    isolated_state.mkdir(parents=True)
    db = isolated_state / "emulator.db"
    db.write_bytes(b"this is not a sqlite database" * 100)
    line = one_clear_line(run("plan", CATALOG), str(db), "delete")
    assert "not a database" in line
    assert db.read_bytes().startswith(b"this is not")  # left for the user to look at


def test_emulator_serve_db_is_a_directory(tmp_path: Path) -> None:
    one_clear_line(run("emulator", "serve", "--port", "0", "--db", str(tmp_path)), str(tmp_path))


# ------------------------------------------------------------------ item 8


@pytest.mark.parametrize(
    "args",
    [
        ("plan", CATALOG, "--sku", "NOPE-123"),
        ("plan", CATALOG, "--sku", "ssnm001", "--sku", "NOPE-123"),
        ("apply", CATALOG, "--sku", "NOPE-123", "--auto-approve"),
    ],
)
def test_unknown_sku_is_an_error_that_names_it(args: tuple[str, ...]) -> None:
    r = run(*args)
    line = one_clear_line(r, "'NOPE-123'", "SKU")
    assert "ssnm001" not in line.split("did you mean")[0]  # names only the unknown one
    assert "No changes" not in r.stdout


def test_unknown_sku_suggests_the_closest() -> None:
    one_clear_line(run("plan", CATALOG, "--sku", "TEA-CI-1"), "did you mean 'TEA-CI-1L'")


@pytest.mark.parametrize("cmd", [("plan",), ("apply", "--auto-approve")])
def test_unknown_marketplace_is_an_error_that_names_it(cmd: tuple[str, ...]) -> None:
    r = run(cmd[0], CATALOG, *cmd[1:], "--marketplace", "XX")
    assert r.exit_code == EXIT_ERROR and "XX" in r.stderr.splitlines()[0]
    assert "unexpected error" not in r.stderr and "No changes" not in r.stdout


def test_sku_not_in_the_marketplace_is_an_error() -> None:
    # TRV-CORK-01 is sold in the EU account only
    one_clear_line(run("plan", CATALOG, "--sku", "TRV-CORK-01", "--marketplace", "US"),
                   "'TRV-CORK-01'", "US")


def test_gb_is_uk() -> None:
    r = run("plan", CATALOG, "--sku", "SPN-WOOD-5", "--marketplace", "gb")
    assert r.exit_code == 0, r.stderr
    assert "SPN-WOOD-5 (UK)" in r.stdout


@pytest.mark.parametrize("cmd", [("plan",), ("apply", "--auto-approve")])
def test_unknown_account_is_an_error_that_names_it_and_the_known_ones(
    cmd: tuple[str, ...], isolated_state: Path
) -> None:
    r = run(cmd[0], CATALOG, *cmd[1:], "--account", "nope")
    one_clear_line(r, "--account 'nope'", "na, eu")
    assert not isolated_state.exists()  # refused before any read, lock or write


def test_show_account_not_in_the_plan(tmp_path: Path, isolated_state: Path) -> None:
    saved = tmp_path / "plan.json"
    assert run("plan", CATALOG, "--account", "eu", "--format", "json",
               "--out", str(saved)).exit_code == 0
    one_clear_line(run("show", str(saved), "--account", "na"), "account(s) eu", "--account na")
