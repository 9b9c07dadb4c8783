"""The layering of ``reconciler/`` (design.md §2, style.md "Layout shows the pipeline").

Reads every module's imports from its AST (imports inside functions and under
``TYPE_CHECKING`` included: a hidden circle is still a circle) and checks:

- stages import only stages below them: kernel < catalog, spapi < live < plan < apply,
  pipeline < cli (the table :data:`ALLOWED`);
- the pure stages (catalog and plan) import no I/O library and not the clock;
- the emulator is imported only by the cli, the connector (``spapi.connect``), tests and bench;
- only the diff imports deepdiff;
- there is no import circle between modules, in ``reconciler/`` or ``bench/``.

The checker itself is tested on a small fake package, so that a broken checker can't pass
vacuously.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "reconciler"

# stage -> the stages it may import (besides itself). A stage is a subpackage of reconciler/,
# or a top-level module.
ALLOWED: dict[str, frozenset[str]] = {
    "kernel": frozenset(),
    # Amazon's listing contract (product type definitions), shared by catalog and emulator
    "contract": frozenset({"kernel"}),
    "catalog": frozenset({"kernel", "contract"}),
    "spapi": frozenset({"kernel", "contract"}),
    "emulator": frozenset({"kernel", "contract"}),
    "live": frozenset({"kernel", "spapi"}),
    "plan": frozenset({"kernel", "contract", "catalog", "live"}),
    "orders": frozenset({"kernel", "catalog", "spapi"}),
    "apply": frozenset({"kernel", "contract", "catalog", "spapi", "live", "plan"}),
    # the monitoring report reads what the stages below left on disk; only the cli runs it
    "report": frozenset({"kernel", "catalog", "live", "plan", "apply"}),
    "pipeline": frozenset({"kernel", "contract", "catalog", "spapi", "live", "plan", "orders"}),
    # live listings -> catalog YAML (`reconciler import`): reads like live, writes the catalog
    "importer": frozenset({"kernel", "contract", "catalog", "spapi", "live"}),
    # product type definitions from Amazon -> catalog/product-types/ (`product-types pull`)
    "producttype_pull": frozenset({"kernel", "contract", "catalog", "spapi"}),
    # machine translation drafts -> catalog files (`reconciler translate`): engines are I/O
    "translate": frozenset({"kernel", "contract", "catalog"}),
    # SP-API notifications from SQS -> reservations and quantity patches (`reconciler watch`,
    # `reconciler notifications setup`)
    "watch": frozenset({"kernel", "contract", "catalog", "spapi", "live", "plan", "orders",
                        "apply", "pipeline"}),
    "cli": frozenset(
        {"kernel", "contract", "catalog", "spapi", "live", "plan", "orders", "apply", "pipeline",
         "importer", "producttype_pull", "translate", "watch", "emulator", "report", "__init__"}
    ),
    "__init__": frozenset(),
    "__main__": frozenset({"cli"}),
}
# The one place below the cli that may start the embedded emulator (``endpoint: emulator``).
EMULATOR_IMPORTERS = {"reconciler.spapi.connect"}
PURE = ("catalog", "plan")
# I/O and the clock: what a pure stage may never import.
IMPURE = ("httpx", "click", "sqlite3", "socket", "subprocess", "requests", "urllib.request",
          "boto3", "botocore", "deepl", "reconciler.kernel.clock")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, module: str) -> set[str]:
    """Absolute names of every module ``path`` imports (``from a import b`` gives ``a`` and, when
    ``a.b`` is a module of the tree, ``a.b`` too: see :func:`graph`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                mod = ".".join([*base, *([node.module] if node.module else [])])
            else:
                mod = node.module or ""
            names.add(mod)
            names.update(f"{mod}.{a.name}" for a in node.names)
    return names


def graph(root: Path, top: str) -> dict[str, set[str]]:
    """module -> the modules of the same tree it imports."""
    files = {module_name(p, root): p for p in (root / top).rglob("*.py")}
    return {
        m: {n for n in imports_of(p, m) if n in files and n != m and not _is_parent(n, m)}
        for m, p in files.items()
    }


def _is_parent(package: str, module: str) -> bool:
    # ``from reconciler.plan import diff`` names the package too: importing a package's
    # __init__ from inside it is Python's own doing, not a dependency
    return module.startswith(package + ".")


def stage_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def upward_imports(g: Mapping[str, set[str]]) -> list[str]:
    bad = []
    for m, deps in sorted(g.items()):
        s = stage_of(m)
        for d in sorted(deps):
            t = stage_of(d)
            if t == s:
                continue
            if t == "emulator" and m not in EMULATOR_IMPORTERS and s != "cli":
                bad.append(f"{m} imports {d}: only the cli and spapi.connect import the emulator")
            elif t != "emulator" and t not in ALLOWED.get(s, frozenset()):
                bad.append(f"{m} ({s}) imports {d} ({t}): {s} may import {sorted(ALLOWED[s])}")
    return bad


def impure_imports(root: Path, top: str) -> list[str]:
    bad = []
    for p in sorted((root / top).rglob("*.py")):
        m = module_name(p, root)
        if stage_of(m) not in PURE:
            continue
        for n in sorted(imports_of(p, m)):
            if any(n == f or n.startswith(f + ".") for f in IMPURE):
                bad.append(f"{m} imports {n}: the {stage_of(m)} stage is pure (no I/O, no clock)")
    return bad


def cycles(g: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return found


# --------------------------------------------------------------------------- the real tree


def test_every_stage_is_known() -> None:
    stages = {stage_of(m) for m in graph(ROOT, "reconciler")}
    assert stages - set(ALLOWED) == set(), "a new stage needs its row in ALLOWED"
    assert {"kernel", "catalog", "live", "plan", "apply", "spapi", "cli"} <= stages


def test_no_stage_imports_a_higher_one() -> None:
    assert upward_imports(graph(ROOT, "reconciler")) == []


def test_pure_stages_import_no_io_and_no_clock() -> None:
    assert impure_imports(ROOT, "reconciler") == []


@pytest.mark.parametrize("top", ["reconciler", "bench"])
def test_no_import_circles(top: str) -> None:
    assert cycles(graph(ROOT, top)) == []


def test_only_the_diff_imports_deepdiff() -> None:
    offenders = [
        m
        for p in PKG.rglob("*.py")
        if (m := module_name(p, ROOT)) != "reconciler.plan.diff"
        and any(n.split(".")[0] == "deepdiff" for n in imports_of(p, m))
    ]
    assert offenders == []


def test_no_module_is_over_about_450_lines() -> None:
    big = {
        module_name(p, ROOT): n
        for p in PKG.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 460
    }
    assert big == {}


# --------------------------------------------------------------------------- the checker


def write_tree(root: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


GOOD = {
    "reconciler/__init__.py": "",
    "reconciler/kernel/__init__.py": "",
    "reconciler/kernel/model.py": "import json\n",
    "reconciler/catalog/__init__.py": "",
    "reconciler/catalog/loader.py": "from reconciler.kernel import model\n",
    "reconciler/plan/__init__.py": "",
    "reconciler/plan/diff.py": "from ..catalog.loader import x\nimport deepdiff\n",
    "reconciler/plan/value.py": "from . import diff\n",
    "reconciler/cli/__init__.py": "from reconciler.plan.value import Plan\n",
}


def test_the_checker_passes_a_well_layered_tree(tmp_path: Path) -> None:
    write_tree(tmp_path, GOOD)
    g = graph(tmp_path, "reconciler")
    assert g["reconciler.plan.diff"] == {"reconciler.catalog.loader"}
    assert g["reconciler.plan.value"] == {"reconciler.plan.diff"}
    assert upward_imports(g) == [] and cycles(g) == []
    assert impure_imports(tmp_path, "reconciler") == []


@pytest.mark.parametrize(
    ("bad_file", "text", "check"),
    [
        # a lower stage importing a higher one
        ("reconciler/catalog/bad.py", "from reconciler.plan import value\n", "upward"),
        ("reconciler/kernel/bad.py", "def f():\n    from reconciler.catalog.loader import x\n",
         "upward"),
        # the emulator outside the cli and the connector
        ("reconciler/plan/bad.py", "import reconciler.emulator.app\n", "upward"),
        # I/O or the clock in a pure stage, even inside a function
        ("reconciler/plan/bad.py", "def f():\n    import httpx\n", "impure"),
        ("reconciler/catalog/bad.py", "import sqlite3\n", "impure"),
        ("reconciler/catalog/bad.py", "from reconciler.kernel.clock import iso_utc\n", "impure"),
        # a circle, even behind TYPE_CHECKING
        ("reconciler/plan/diff.py",
         "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import value\n", "cycle"),
    ],
)
def test_the_checker_catches_a_deliberate_bad_import(
    tmp_path: Path, bad_file: str, text: str, check: str
) -> None:
    write_tree(tmp_path, {**GOOD, "reconciler/emulator/__init__.py": "",
                          "reconciler/emulator/app.py": "", bad_file: text})
    g = graph(tmp_path, "reconciler")
    found = {
        "upward": upward_imports(g),
        "impure": impure_imports(tmp_path, "reconciler"),
        "cycle": cycles(g),
    }
    assert found[check], f"{check} not detected for {bad_file}"
