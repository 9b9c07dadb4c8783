"""The raw catalog: what :mod:`reconciler.loader` read, with the provenance of every node.

The loader does all file I/O and hands :func:`reconciler.desired.build` a :class:`RawCatalog`.
YAML mappings and sequences arrive as :class:`YDict` / :class:`YList`, plain ``dict``/``list``
subclasses that also remember the 1-based line and column of each key and value, so every
later stage (schema validation, pricing, templates, allocation) can point at ``file:line``.

Scalars are plain Python values: ``str``, ``int``, ``bool``, ``None`` and, for YAML floats,
:class:`~decimal.Decimal` built from the literal text (``19.99`` stays exactly ``19.99``).
Dates stay strings (``2026-11-20``).

This module is pure: no I/O.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .model import SourceRef

Mark = tuple[int, int]  # 1-based (line, column)


class YDict(dict[str, Any]):
    """A YAML mapping that remembers where it, its keys and its values were written."""

    __slots__ = ("key_marks", "mark", "value_marks")

    def __init__(self, mark: Mark = (0, 0)) -> None:
        super().__init__()
        self.mark = mark
        self.key_marks: dict[str, Mark] = {}
        self.value_marks: dict[str, Mark] = {}


class YList(list[Any]):
    """A YAML sequence that remembers where it and each item were written."""

    __slots__ = ("item_marks", "mark")

    def __init__(self, mark: Mark = (0, 0)) -> None:
        super().__init__()
        self.mark = mark
        self.item_marks: list[Mark] = []


def locate(data: Any, path: Iterable[Any], *, key: bool = False) -> Mark:
    """The line/column of the node at ``path`` inside ``data`` (the deepest known ancestor when
    the path runs past what was written, e.g. a missing required key). With ``key=True`` the
    position of the last mapping *key* rather than its value."""
    best: Mark = getattr(data, "mark", (0, 0))
    node = data
    steps = list(path)
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        if isinstance(node, YDict) and isinstance(step, str) and step in node:
            marks = node.key_marks if (key and last) else node.value_marks
            best = marks.get(step, best)
            node = node[step]
        elif isinstance(node, YList) and isinstance(step, int) and 0 <= step < len(node):
            if step < len(node.item_marks):
                best = node.item_marks[step]
            node = node[step]
        else:
            break
    return best


@dataclass(frozen=True)
class Doc:
    """One YAML file of the catalog. ``path`` is relative to the catalog root (posix)."""

    path: str
    data: Any

    def ref(self, *path: Any, key: bool = False) -> SourceRef:
        line, col = locate(self.data, path, key=key)
        return SourceRef(self.path, line, col)


@dataclass(frozen=True)
class SkuDecl:
    """One SKU as declared in a ``skus/*.yaml`` file (``data`` is its schema-valid mapping)."""

    code: str
    doc: Doc
    data: dict[str, Any]

    @functools.cached_property
    def source(self) -> SourceRef:
        return self.ref(key=True)

    def ref(self, *path: Any, key: bool = False) -> SourceRef:
        return self.doc.ref("skus", self.code, *path, key=key)

    @property
    def context(self) -> str:
        return f"SKU {self.code!r}"


@dataclass(frozen=True)
class StockRow:
    """One row of ``stock.csv`` (``line`` is the 1-based line in the file)."""

    sku: str
    location: str
    on_hand: int
    line: int


@dataclass(frozen=True)
class RawCatalog:
    """Everything read from a catalog directory; files that are optional may be ``None``.

    ``templates`` maps a template's name (its path below ``templates/``, posix) to its source.
    """

    root: str
    config: Doc
    rates: Doc | None = None
    pricing: Doc | None = None
    locations: Doc | None = None
    skus: tuple[Doc, ...] = ()
    stock: tuple[StockRow, ...] | None = None
    stock_file: str = "stock.csv"
    templates: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic value graphs (100,000
    listings allocate millions of small objects; each full collection rescans them all)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
