"""`reconciler show PLAN.json` (issue 12 item 4, must-show 5), on the sample catalog and the
embedded emulator (demo seed):

- `show plan.json --format markdown|text|json` is byte-identical to `plan --format ...` of the
  same live state, on stdout and with --out, with and without --validate-remote;
- `show --marketplace` cuts out one account's plan whose checksum is that of `plan --marketplace`
  (what plan.yml uploads and apply.yml checks), reading nothing from Amazon;
- bad input (missing file, a directory, not JSON, not an object, an old format_version, tampered
  writes, an unknown marketplace) exits 1 with one line naming the file, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.spapi.connect import close_embedded_emulators, embedded_emulator

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "catalog"
NA = ("US", "CA", "MX")


@pytest.fixture(autouse=True)
def _close_emulators() -> Any:
    yield
    close_embedded_emulators()


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def saved_plan(tmp_path: Path, *extra: str) -> Path:
    path = tmp_path / "plan.json"
    r = run("plan", str(CATALOG), "--format", "json", "--out", str(path), *extra)
    assert r.exit_code == 0, r.output
    return path


@pytest.mark.parametrize("extra", [(), ("--validate-remote",)])
def test_show_is_byte_identical_to_plan(tmp_path: Path, extra: tuple[str, ...]) -> None:
    """Must-show 5 (and the same for text and JSON)."""
    path = saved_plan(tmp_path, *extra)
    data = json.loads(path.read_text())
    assert data["changes"]  # the demo state has drifted: a plan worth showing
    if extra:
        assert data["remote_validation"]["validated"] == len(data["changes"])
    for fmt in ("markdown", "text", "json"):
        planned = run("plan", str(CATALOG), "--format", fmt, "--no-color", *extra)
        shown = run("show", str(path), "--format", fmt, "--no-color")
        assert planned.exit_code == 0 and shown.exit_code == 0, shown.output
        assert shown.stdout == planned.stdout, fmt
        assert shown.stderr == ""
        # and written to a file, as plan.yml does
        run("plan", str(CATALOG), "--format", fmt, "--out", str(tmp_path / f"p.{fmt}"), *extra)
        run("show", str(path), "--format", fmt, "--out", str(tmp_path / f"s.{fmt}"))
        assert (tmp_path / f"s.{fmt}").read_bytes() == (tmp_path / f"p.{fmt}").read_bytes()
    assert (tmp_path / "s.json").read_bytes() == path.read_bytes()
    md = (tmp_path / "s.markdown").read_text()
    assert md.startswith("<!-- reconciler-plan -->") and data["checksum"] in md


def test_show_reads_nothing_from_amazon(tmp_path: Path, isolated_state: Path) -> None:
    path = saved_plan(tmp_path)
    emu = embedded_emulator(str(isolated_state))
    emu.reset_calls()
    r = run("show", str(path), "--format", "markdown")
    assert r.exit_code == 0
    assert emu.calls() == []


def test_show_marketplace_cuts_the_account_plan_apply_checks(tmp_path: Path) -> None:
    path = saved_plan(tmp_path)
    mps = [x for code in NA for x in ("--marketplace", code)]
    targeted = run("plan", str(CATALOG), "--format", "json", *mps)
    assert targeted.exit_code == 0, targeted.output
    cut = run("show", str(path), "--format", "json", *mps)
    assert cut.exit_code == 0, cut.output
    want, got = json.loads(targeted.stdout), json.loads(cut.stdout)
    assert got["checksum"] == want["checksum"] != json.loads(path.read_text())["checksum"]
    assert got["changes"] == want["changes"] and got["held"] == want["held"]
    assert got["fingerprints"] == want["fingerprints"]
    assert got["summary"] == want["summary"]
    assert {c["marketplace"] for c in got["changes"]} <= set(NA)
    # and it is itself a valid saved plan
    (tmp_path / "na.json").write_text(cut.stdout)
    again = run("show", str(tmp_path / "na.json"), "--format", "json")
    assert again.exit_code == 0 and json.loads(again.stdout)["checksum"] == got["checksum"]


def _one_line_error(r: Any, *needles: str) -> None:
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    assert lines[0].startswith("reconciler: ")
    for n in needles:
        assert n in lines[0], lines[0]
    assert "Traceback" not in r.output and "a bug" not in r.output


def test_show_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    path = saved_plan(tmp_path)
    data = json.loads(path.read_text())

    _one_line_error(run("show", str(tmp_path / "nope.json")), "nope.json", "no such plan file")
    _one_line_error(run("show", str(tmp_path)), "is a directory")
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  \"format_version\": 2,\n  oops\n}\n")
    _one_line_error(run("show", str(bad)), "bad.json:3:", "not a JSON plan")
    bad.write_bytes(b"\xff\xfe\x00garbage")
    _one_line_error(run("show", str(bad)), "bad.json", "not a JSON plan")
    bad.write_text("[1, 2]")
    _one_line_error(run("show", str(bad)), "bad.json", "not a JSON plan")
    bad.write_text(json.dumps({**data, "format_version": 1}))
    _one_line_error(run("show", str(bad)), "bad.json", "format_version 1")
    tampered = json.loads(json.dumps(data))
    change = next(c for c in tampered["changes"] if c["action"] == "update")
    change["fields"][0]["new"] = [{"tampered": True}]
    bad.write_text(json.dumps(tampered))
    _one_line_error(run("show", str(bad)), "bad.json", "checksum mismatch")
    broken = json.loads(json.dumps(data))
    del broken["changes"][0]["action"]
    bad.write_text(json.dumps(broken))
    _one_line_error(run("show", str(bad)), "bad.json", "malformed plan")
    _one_line_error(run("show", str(path), "--marketplace", "XX"), "'XX'", "unknown marketplace")


def test_apply_plan_bad_file_is_one_clear_line(tmp_path: Path) -> None:
    r = run("apply", str(CATALOG), "--plan", str(tmp_path / "missing.json"), "--auto-approve")
    _one_line_error(r, "missing.json", "no such plan file")
