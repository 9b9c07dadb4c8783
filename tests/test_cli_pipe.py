"""A closed stdout (``reconciler ... | head``) ends the command quietly, never as "a bug"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_reader_that_goes_away_is_not_a_bug(tmp_path: Path) -> None:
    env = {**os.environ, "RECONCILER_STATE_DIR": str(tmp_path / "state")}
    # the sample's JSON plan is ~80 KB: more than a pipe holds, so the writer is still
    # writing when the reader closes its end
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "plan", "catalog", "--format", "json"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        bufsize=0,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(1)
    proc.stdout.close()
    with proc.stderr:
        stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 128 + 13, stderr
    assert "bug" not in stderr and "Traceback" not in stderr
    assert not (tmp_path / "state" / "logs").exists()
