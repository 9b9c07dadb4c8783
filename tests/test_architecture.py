"""The pure core (design.md §2) never imports I/O libraries or the edges.

Walks the AST of every core module, so the rule holds even for imports inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "reconciler"

CORE = [
    "model",
    "marketplaces",
    "errors",
    "formula",
    "pricing",
    "texts",
    "allocation",
    "desired",
    "live",
    "diff",
    "plan",
    "render",
    "patches",
    "strategy",
    "quotas",
    "settings",
    "fulfillment",
    "raw",
    "schemacheck",
    "schemamsg",
    "redact",
    "destinations",
    "connections",
    "template_limits",
]
FORBIDDEN = ("httpx", "click", "reconciler.spapi", "reconciler.cli", "reconciler.emulator",
             "reconciler.apply", "sqlite3", "socket", "subprocess", "requests", "urllib.request")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # relative import inside reconciler/: resolve to an absolute name
                names.add("reconciler." + (node.module or ""))
            elif node.module:
                names.add(node.module)
    return names


def core_files() -> list[Path]:
    return [PKG / f"{m}.py" for m in CORE if (PKG / f"{m}.py").exists()]


def test_core_modules_exist() -> None:
    # Guard against the rule passing vacuously because modules moved.
    assert len(core_files()) >= 3


@pytest.mark.parametrize("path", core_files(), ids=lambda p: p.name)
def test_core_does_not_import_io(path: Path) -> None:
    bad = sorted(
        n for n in imports_of(path) for f in FORBIDDEN if n == f or n.startswith(f + ".")
    )
    assert not bad, f"{path.name} imports {bad}: the pure core must stay free of I/O"


def test_only_diff_imports_deepdiff() -> None:
    offenders = [
        p.relative_to(PKG).as_posix()
        for p in PKG.rglob("*.py")
        if p.name != "diff.py" and any(n.split(".")[0] == "deepdiff" for n in imports_of(p))
    ]
    assert offenders == []


def test_detector_catches_a_forbidden_import(tmp_path: Path) -> None:
    f = tmp_path / "x.py"
    f.write_text("def f():\n    import httpx\n")
    assert "httpx" in imports_of(f)
