"""`reconciler plan --format json` streams: cli.plan.emit_plan / RedactedStdout.

The streamed text equals the whole-string render, on stdout (redacted, even when a secret
arrives split across writes and blocks) and with --out (atomic file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli.plan import RedactedStdout, emit_plan
from reconciler.kernel import redact
from reconciler.plan import render_json
from tests.test_render import golden_plan

SECRET = "Atzr|IwEBIsecretvalue0123456789"


@pytest.fixture(autouse=True)
def _clear_secrets() -> object:
    yield
    redact.clear()


def test_stdout_is_the_json_render(capsys: pytest.CaptureFixture[str]) -> None:
    plan = golden_plan()
    emit_plan(plan, "json", None, color=False)
    assert capsys.readouterr().out == render_json.json(plan)


def test_out_file_is_the_json_render(tmp_path: Path) -> None:
    plan = golden_plan()
    target = tmp_path / "sub" / "plan.json"
    emit_plan(plan, "json", str(target), color=False)
    assert target.read_text(encoding="utf-8") == render_json.json(plan)
    assert [p.name for p in target.parent.iterdir()] == ["plan.json"]  # no temp file left


def test_secrets_split_across_writes_and_blocks_are_redacted(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    redact.register(SECRET)
    monkeypatch.setattr(RedactedStdout, "BLOCK", 7)  # a block boundary inside the secret
    lines = [f"line {i} {SECRET} end\n" for i in range(5)]
    sink = RedactedStdout()
    for line in lines:
        for i in range(0, len(line), 5):  # the secret arrives in 5-character writes
            sink.write(line[i : i + 5])
    sink.write("last line without newline")
    sink.flush()
    got = capsys.readouterr().out
    assert SECRET not in got
    assert got == redact.redact("".join(lines) + "last line without newline")
    assert got.count(redact.MASK) == 5
