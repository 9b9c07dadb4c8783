"""The README's quick-start commands are the ones CI runs (so they cannot silently rot), and
`reconciler demo` works from a fresh clone of the committed tree."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def quick_start() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Quick start", 1)[1].split("```console", 1)[1].split("```", 1)[0]
    lines = [line[2:] for line in block.splitlines() if line.startswith("$ ")]
    return [re.sub(r"\s+#.*$", "", line).strip() for line in lines]


def test_quick_start_has_the_two_commands() -> None:
    cmds = quick_start()
    assert cmds == [
        "pip install -e . && reconciler demo",
        "pip install -e '.[test]' && python -m pytest",
    ]


def test_ci_runs_the_readme_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install --quiet -e .\n" in ci and "reconciler demo" in ci
    assert "pip install --quiet -e '.[test]'" in ci
    # the README's test command, exactly, as the last command
    assert ci.rstrip().splitlines()[-1] == "python -m pytest"


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the git checkout")
def test_demo_from_a_fresh_clone(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{ROOT}", str(clone)], check=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(clone),
        "RECONCILER_STATE_DIR": str(tmp_path / "state"),
        "RECONCILER_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
    }
    for var in ("SP_API_REFRESH_TOKEN", "LWA_APP_ID", "LWA_CLIENT_SECRET", "RECONCILER_CATALOG"):
        env.pop(var, None)
    # issue 4: on a fresh machine `reconciler plan` prints the sample's plan, exit 2 with
    # --detailed-exitcode (the embedded emulator starts drifted), no credentials needed
    r = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", "--detailed-exitcode"], cwd=clone,
        env=env, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 2, r.stderr
    assert "to update" in r.stdout and "ssnm001 (US)" in r.stdout
    r = subprocess.run(
        [sys.executable, "-m", "reconciler", "demo"], cwd=clone, env=env,
        capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stderr
    assert "no changes" in r.stdout
    assert "Traceback" not in r.stderr
    assert (tmp_path / "audit.jsonl").exists()
