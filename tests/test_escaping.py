"""Catalog values echoed in messages are escaped (issue 12 item 11).

A value from the catalog (a stock.csv cell, a SKU, a file name, a template name) reaches CI logs
through error messages and warnings. Printed raw, a newline in it starts a line the GitHub
Actions runner obeys (``::error ...``, ``::add-mask::``, ``::stop-commands::``), and an escape
sequence recolours, retitles or clears the terminal. Covered:

- stock.csv cells carrying workflow commands after a newline, terminal escapes, bidi overrides:
  ``validate`` and ``plan`` print no line a runner would obey and no control character;
- :class:`Problem` renders one line with every part escaped; the CLI's error boundary escapes
  every line of every error; ``err`` escapes and ``out`` defuses workflow commands.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.kernel.errors import Problem, ReconcilerError
from reconciler.kernel.redact import defuse_commands, escape
from tests.test_validate_cli import BASE

INJECTIONS = [
    '"BTL-1\n::error file=x,line=1::pwned",central,3',
    '"BTL-9\n::add-mask::SP_API",central,3',
    '"::stop-commands::token",central,3',
    "BTL-1,\x1b]0;owned\x07newark,3",
    "BTL-1,central\x1b[2J\x1b[31m,3",
    "BTL-\u202e1,central,3",
    'BTL-1,central,"3\r::warning::x"',
    "BTL-\u2028::error::sep,central,3",
]


def _bad_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.lstrip().startswith(("::", "##["))]


def _controls(text: str) -> list[str]:
    return [c for c in text if not c.isprintable() and c not in "\n"]


@pytest.mark.parametrize("row", INJECTIONS)
def test_stock_csv_cells_cannot_inject_into_logs(tmp_path: Path, row: str) -> None:
    cat = tmp_path / "catalog"
    shutil.copytree(BASE, cat)
    (cat / "stock.csv").write_text(f"sku,location,on_hand\n{row}\n", "utf-8", newline="")
    for command in ("validate", "plan"):
        r = CliRunner().invoke(main, [command, str(cat)])
        out = r.stdout + r.stderr
        assert _bad_lines(out) == [], out
        assert _controls(out) == [], repr(out)
        if not row.isprintable():  # refused, at its place; else an unknown SKU, a warning
            assert r.exit_code == 1 and "stock.csv, line 2" in out, out


def test_problem_is_one_escaped_line() -> None:
    p = Problem("skus/\x1b[31mx.yaml", 3, 1, "unknown SKU 'A\n::error::x' \u202eevil",
                "SKU 'B\x07'")
    s = str(p)
    assert "\n" not in s and _controls(s) == []
    assert "\\x1b[31m" in s and "\\n::error::x" in s and "\\u202e" in s and "\\x07" in s


def test_every_error_line_is_escaped_by_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.cli import validate as validate_cmd

    def boom(*_: object, **__: object) -> None:
        raise ReconcilerError("catalog directory 'x\n::error::owned\x1b[2J' not found")

    monkeypatch.setattr(validate_cmd, "load", boom)
    r = CliRunner().invoke(main, ["validate", "anything"])
    assert r.exit_code == 1
    assert r.output.count("\n") == 1 and _bad_lines(r.output) == [] and not _controls(r.output)


def test_escape_and_defuse() -> None:
    assert escape("plain text, ü, 日本") == "plain text, ü, 日本"
    assert escape("a\tb\nc\x00\x7f\x9b\u200b\U000e0001") == (
        "a\\tb\\nc\\x00\\x7f\\x9b\\u200b\\U000e0001"
    )
    assert escape("a\nb", keep="\n") == "a\nb"
    assert defuse_commands("ok\n  ::error::x\n##[group]y\nz") == (
        "ok\n\\  ::error::x\n\\##[group]y\nz"
    )
    assert defuse_commands("a :: b") == "a :: b"  # only a line start is obeyed


def test_err_and_out_defuse_workflow_commands(capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler.cli.common import err, out

    err("warning: x\n::add-mask::secret\x1b[31m")
    out("plan\n::error::y")
    got = capsys.readouterr()
    assert _bad_lines(got.err) == [] and _bad_lines(got.out) == []
    assert "\x1b" not in got.err and "\\x1b[31m" in got.err
