"""The raw catalog: what :mod:`reconciler.catalog.loader` read, with the provenance of every node.

The loader does all file I/O and hands :func:`reconciler.catalog.desired.build` a
:class:`RawCatalog`.
YAML mappings and sequences arrive as :class:`YDict` / :class:`YList`, plain ``dict``/``list``
subclasses that also remember the 1-based line and column of each key and value, so every
later stage (schema validation, pricing, templates, allocation) can point at ``file:line``.

Scalars are plain Python values: ``str``, ``int``, ``bool``, ``None`` and, for YAML floats,
:class:`~decimal.Decimal` built from the literal text (``19.99`` stays exactly ``19.99``).
Dates stay strings (``2026-11-20``).

This module is pure: no I/O.
"""

from __future__ import annotations

import functools
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reconciler.kernel.model import SourceRef

Mark = tuple[int, int]  # 1-based (line, column)

# Marks are stored packed, line << 24 | column, in arrays of 64-bit ints: a 100,000-listing
# catalog has millions of keys and items, and two (line, column) tuples plus two dict slots per
# key took more memory than the values themselves. Columns are below 2**24 (files are <= 5 MB).
_COL_BITS = 24
_COL_MASK = (1 << _COL_BITS) - 1


def _pack(mark: Mark) -> int:
    return (mark[0] << _COL_BITS) | min(mark[1], _COL_MASK)


def _unpack(packed: int) -> Mark:
    return (packed >> _COL_BITS, packed & _COL_MASK)


class YDict(dict[str, Any]):
    """A YAML mapping that remembers where it, its keys and its values were written.

    Keys added with :meth:`put` carry their marks (the YAML reader adds every key that way);
    :meth:`key_mark` / :meth:`value_mark` give them back (None for a key without marks)."""

    __slots__ = ("_index", "_mark", "_marks")

    def __init__(self, mark: Mark = (0, 0)) -> None:
        super().__init__()
        self._mark = _pack(mark)
        self._marks = array("q")  # key mark, value mark per key, in insertion order
        self._index: dict[str, int] | None = None

    @property
    def mark(self) -> Mark:
        return _unpack(self._mark)

    def put(self, key: str, value: Any, key_mark: Mark, value_mark: Mark) -> None:
        """Add a new ``key`` with the marks of the key and of its value."""
        if key in self:
            raise KeyError(f"{key!r} is already set")  # the reader reports duplicates first
        self[key] = value
        self._marks.append(_pack(key_mark))
        self._marks.append(_pack(value_mark))
        self._index = None

    def _position(self, key: str) -> int | None:
        if len(self._marks) != 2 * len(self):  # keys set without put(): positions unknown
            return None
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self)}
        return self._index.get(key)

    def key_mark(self, key: str) -> Mark | None:
        i = self._position(key)
        return None if i is None else _unpack(self._marks[2 * i])

    def value_mark(self, key: str) -> Mark | None:
        i = self._position(key)
        return None if i is None else _unpack(self._marks[2 * i + 1])

    @property
    def key_marks(self) -> dict[str, Mark]:
        """Every key's mark (a new dict)."""
        return {k: m for k in self if (m := self.key_mark(k)) is not None}

    @property
    def value_marks(self) -> dict[str, Mark]:
        """Every value's mark (a new dict)."""
        return {k: m for k in self if (m := self.value_mark(k)) is not None}


class YList(list[Any]):
    """A YAML sequence that remembers where it and each item were written (items added with
    :meth:`append_marked`)."""

    __slots__ = ("_mark", "_marks")

    def __init__(self, mark: Mark = (0, 0)) -> None:
        super().__init__()
        self._mark = _pack(mark)
        self._marks = array("q")

    @property
    def mark(self) -> Mark:
        return _unpack(self._mark)

    def append_marked(self, value: Any, mark: Mark) -> None:
        self.append(value)
        self._marks.append(_pack(mark))

    def item_mark(self, i: int) -> Mark | None:
        if len(self._marks) != len(self) or not 0 <= i < len(self):
            return None
        return _unpack(self._marks[i])

    @property
    def item_marks(self) -> list[Mark]:
        """Every item's mark (a new list; empty when items were added without marks)."""
        if len(self._marks) != len(self):
            return []
        return [_unpack(m) for m in self._marks]


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
            found = node.key_mark(step) if (key and last) else node.value_mark(step)
            best = found or best
            node = node[step]
        elif isinstance(node, YList) and isinstance(step, int) and 0 <= step < len(node):
            best = node.item_mark(step) or best
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
    glossary: Doc | None = None  # glossary.yaml
    translations: tuple[Doc, ...] = ()  # translations/<language>.yaml
    stock: tuple[StockRow, ...] | None = None
    stock_file: str = "stock.csv"
    templates: dict[str, str] = field(default_factory=dict)
    # Cached product type definitions (``product-types/``), by (product type, marketplace code,
    # requirements set); values are ``producttype_files.CachedDefinition``.
    product_types: dict[tuple[str, str, str], Any] = field(default_factory=dict)

