"""The catalog's audit log stays inside the catalog; a failed audit write is exit 1, not a crash
(issue 12 item 11).

Covers:
- ``validate`` refuses ``apply.audit_log`` that is absolute, starts with ``~`` or leaves the
  catalog with ``..``, with file:line;
- a relative ``apply.audit_log`` is written inside the catalog root; one that leads outside
  through a symlink is refused by ``apply`` before anything is written (zero write calls);
  ``$RECONCILER_AUDIT_LOG`` (the operator's) may point anywhere;
- when the audit line can't be written after the listings were: the outcome (summary, KPIs) is
  printed, then one clear message, exit 1; with no changes too.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.apply import audit
from reconciler.cli import main
from reconciler.emulator.app import Emulator
from reconciler.emulator.state import EmulatorConfig
from reconciler.kernel import redact
from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.model import ApplySettings
from reconciler.spapi import connect
from reconciler.spapi.connect import close_embedded_emulators
from tests import applyutil as au
from tests.test_validate_cli import BASE

WRITES = ("patchListingsItem", "putListingsItem", "deleteListingsItem", "createFeed")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize(
    "value", ["/tmp/evil.jsonl", "~/.bashrc", "../outside.jsonl", "logs/../../x.jsonl",
              "C:/x.jsonl"],
)
def test_validate_refuses_an_audit_log_outside_the_catalog(tmp_path: Path, value: str) -> None:
    cat = tmp_path / "catalog"
    shutil.copytree(BASE, cat)
    cfg = cat / "reconciler.yaml"
    cfg.write_text(cfg.read_text("utf-8") + f"apply:\n  audit_log: {json.dumps(value)}\n", "utf-8")
    line = len(cfg.read_text("utf-8").splitlines())
    r = run("validate", str(cat))
    assert r.exit_code == 1, r.output
    assert any(ln.startswith(f"  - reconciler.yaml, line {line}") and "apply.audit_log" in ln
               for ln in r.output.splitlines()), r.output


def test_the_catalog_path_is_confined_to_the_catalog(tmp_path: Path) -> None:
    cat = tmp_path / "catalog"
    cat.mkdir()
    s = ApplySettings(audit_log="logs/audit.jsonl")
    assert audit.audit_path(s, env={}, root=cat) == (cat / "logs" / "audit.jsonl").resolve()
    outside = tmp_path / "outside"
    outside.mkdir()
    (cat / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ReconcilerError, match="resolves outside the catalog"):
        audit.audit_path(ApplySettings(audit_log="link/audit.jsonl"), env={}, root=cat)
    with pytest.raises(ReconcilerError, match="outside the catalog"):
        audit.audit_path(ApplySettings(audit_log="../x.jsonl"), env={}, root=cat)
    # the operator's variable may point anywhere
    env = {"RECONCILER_AUDIT_LOG": str(outside / "a.jsonl")}
    assert audit.audit_path(ApplySettings(audit_log="link/a"), env=env, root=cat) == (
        outside / "a.jsonl"
    )


# --------------------------------------------------------------------------- apply


@pytest.fixture
def setup(
    tmp_path: Path, isolated_state: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    from reconciler.pipeline import load

    catalog = tmp_path / "catalog"
    au.write_catalog(catalog, 3, verify_timeout=20, verify_interval=0.05)
    desired = load(catalog)
    isolated_state.mkdir(parents=True, exist_ok=True)
    # nothing here tests time: no write visibility delay (was 6 s of wall per apply)
    emu = Emulator(str(isolated_state / "emulator.db"),
                   EmulatorConfig(time_scale=20.0, write_delay_s=0.0))
    emu.seed(au.drifted_seed(desired))
    monkeypatch.setitem(connect._emulators, os.path.realpath(isolated_state), emu)
    monkeypatch.delenv("RECONCILER_AUDIT_LOG")
    monkeypatch.chdir(tmp_path)
    yield {"catalog": catalog, "emu": emu}
    close_embedded_emulators()
    redact.clear()


def _set_audit_log(catalog: Path, value: str) -> None:
    cfg = catalog / "reconciler.yaml"
    text = cfg.read_text("utf-8")
    assert "apply:\n" in text
    cfg.write_text(text.replace("apply:\n", f"apply:\n  audit_log: {value}\n", 1), "utf-8")


def _writes(emu: Emulator) -> list[Any]:
    return [c for c in emu.calls() if any(w in str(c) for w in WRITES)]


def test_apply_writes_the_catalog_audit_log_inside_the_catalog(setup: dict[str, Any]) -> None:
    _set_audit_log(setup["catalog"], "logs/audit.jsonl")
    r = run("apply", str(setup["catalog"]), "--auto-approve")
    assert r.exit_code == 0, r.output
    line = (setup["catalog"] / "logs" / "audit.jsonl").read_text("utf-8").strip()
    assert json.loads(line)["converged"] is True


def test_apply_refuses_a_symlinked_audit_log_before_writing(
    setup: dict[str, Any], tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (setup["catalog"] / "logs").symlink_to(outside, target_is_directory=True)
    _set_audit_log(setup["catalog"], "logs/audit.jsonl")
    setup["emu"].reset_calls()
    r = run("apply", str(setup["catalog"]), "--auto-approve")
    assert r.exit_code == 1, r.output
    assert "apply.audit_log 'logs/audit.jsonl'" in r.output and "outside the catalog" in r.output
    assert "Traceback" not in r.output
    assert _writes(setup["emu"]) == [] and list(outside.iterdir()) == []


def test_a_failed_audit_write_prints_the_outcome_and_exits_1(
    setup: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x", "utf-8")
    monkeypatch.setenv("RECONCILER_AUDIT_LOG", str(blocker / "audit.jsonl"))
    r = run("apply", str(setup["catalog"]), "--auto-approve")
    assert r.exit_code == 1, r.output
    assert "unexpected error" not in r.output and "Traceback" not in r.output
    out = r.output
    assert "applied 6 listings via" in out and "6 converged" in out  # the outcome first
    assert "kpis:" in out and "audit: NOT written" in out
    last = out.strip().splitlines()[-1]
    assert "the listings were written" in out and "audit log could not be" in out, last
    assert _writes(setup["emu"])  # the listings really were written
    # nothing to do, and still no audit: exit 1 with a clear line
    r = run("apply", str(setup["catalog"]), "--auto-approve")
    assert r.exit_code == 1 and "no changes" in r.output
    assert "the audit log could not be written" in r.output and "Traceback" not in r.output
