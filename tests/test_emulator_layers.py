"""The emulator's modules import each other without a circle (issue 13): routes depend on the
state, never the reverse.

Every import counts, wherever it is: at module level, inside a function, or under
``if TYPE_CHECKING:`` (a circle hidden that way is still a circle).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.test_architecture import cycles  # one circle finder for every layering test

PKG = Path(__file__).resolve().parent.parent / "reconciler" / "emulator"
PREFIX = "reconciler.emulator"
# The bottom layers import no other emulator module but these.
BOTTOM = {
    "http": set(),
    "store": set(),
    "faults": set(),
    "seed": set(),
    "state": {"http", "store", "faults"},
}
# Modules that only the pipeline and the surfaces may import.
TOP = {"app", "server", "transport"}


def imports(path: Path) -> set[str]:
    """Emulator modules ``path`` imports (module names without the package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                if node.module:
                    found.add(node.module.split(".")[0])
                else:  # from . import a, b
                    found.update(a.name for a in node.names)
            elif node.level == 0 and node.module and node.module.startswith(PREFIX + "."):
                found.add(node.module[len(PREFIX) + 1:].split(".")[0])
            elif node.level == 0 and node.module == PREFIX:
                found.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(PREFIX + "."):
                    found.add(a.name[len(PREFIX) + 1:].split(".")[0])
    return found - {path.stem}


def graph(root: Path = PKG) -> dict[str, set[str]]:
    mods = {p.stem: p for p in root.glob("*.py") if p.stem != "__init__"}
    return {m: imports(p) & set(mods) for m, p in mods.items()}


def test_no_import_circle_in_the_emulator() -> None:
    g = graph()
    assert len(g) > 20  # the rule must not pass because modules moved
    assert cycles(g) == []


def test_the_bottom_layers_import_only_below_them() -> None:
    g = graph()
    for mod, allowed in BOTTOM.items():
        assert g[mod] <= allowed, f"{mod} imports {sorted(g[mod] - allowed)}"


def test_only_the_surfaces_import_the_pipeline() -> None:
    g = graph()
    users = {m: sorted(deps & TOP) for m, deps in g.items() if m not in TOP and deps & TOP}
    assert users == {}, users


def test_the_detector_finds_a_hidden_circle(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("from . import b\n")
    (tmp_path / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import X\n")
    (tmp_path / "c.py").write_text("def f():\n    from .a import Y\n")
    (tmp_path / "d.py").write_text("from . import a\n")
    assert cycles(graph(tmp_path)) == [["a", "b", "c"]]
