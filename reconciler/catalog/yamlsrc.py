"""Safe YAML with provenance: text -> :class:`~reconciler.catalog.raw.YDict` / ``YList`` values.

Catalogs come from pull requests, so YAML is treated as hostile input:

- Only the YAML core types are built (mappings, sequences, strings, ints, floats as Decimal,
  bools, null, dates as strings). Any other tag (``!!python/object``, ``!!binary``, ``!custom``)
  is a problem; nothing is ever constructed from a tag.
- Duplicate keys are problems (PyYAML silently keeps the last one).
- Aliases are allowed (``&anchor`` / ``*anchor`` and ``<<`` merges are handy in SKU families)
  but the number of nodes they expand to is bounded (:data:`MAX_ALIAS_NODES`), so a
  "billion laughs" document is refused after a few thousand events instead of eating memory.
  An alias to a node that is still open (a recursive structure) is refused.
- Nesting is bounded (:data:`MAX_DEPTH`); libyaml's own composer recurses in C and crashes
  on very deep documents, which is why this module composes from the *event* stream itself.

Parsing uses libyaml (``CSafeLoader``'s parser) when available, else the pure-Python parser.
The text is parsed, never a file: size caps and path checks live in
:mod:`reconciler.catalog.loader`.
"""

from __future__ import annotations

import re
import sys
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from reconciler.catalog.raw import Mark, YDict, YList
from reconciler.kernel.errors import Problem

MAX_DEPTH = 64
MAX_ALIAS_NODES = 100_000  # nodes reachable through aliases, per file

try:  # libyaml: ~10x faster
    _Parser: type[Any] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Parser = yaml.SafeLoader

_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_T = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_T + t for t in ("str", "int", "float", "bool", "null", "timestamp", "merge")}
_FLOAT_JUNK = re.compile(r"[_+]")


class _Abort(Exception):
    """Stop composing: the problem is recorded, the rest of the file is not trustworthy."""


class _Frame:
    __slots__ = ("anchor", "container", "key", "key_mark", "merges", "size")

    def __init__(self, container: YDict | YList, anchor: str | None) -> None:
        self.container = container
        self.anchor = anchor
        self.key: str | None = None  # mapping: the key waiting for its value
        self.key_mark: Mark = (0, 0)
        self.merges: list[tuple[Any, Mark]] = []
        self.size = 1


def parse_yaml(text: str, path: str) -> tuple[Any, list[Problem]]:
    """Parse one YAML document. Returns ``(data, problems)``; ``data`` is None for an empty
    file or when a problem made the document unusable."""
    return _Composer(path).run(text)


def _mark(ev: Any) -> Mark:
    m = ev.start_mark
    return (m.line + 1, m.column + 1)


def _tag_text(tag: str) -> str:
    return "!!" + tag[len(_T) :] if tag.startswith(_T) else tag


class _Composer:
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.alias_nodes = 0
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.documents = 0

    def problem(self, mark: Mark, message: str) -> None:
        self.problems.append(Problem(self.path, mark[0], mark[1], message))

    def run(self, text: str) -> tuple[Any, list[Problem]]:
        # Hot loop (a 100,000-listing catalog is millions of events): plain strings, the
        # commonest event by far, skip the resolver and the dispatch.
        resolvers = _RESOLVER.yaml_implicit_resolvers
        scalar_event, add, event = yaml.ScalarEvent, self.add, self.event
        try:
            for ev in yaml.parse(text, Loader=_Parser):
                if type(ev) is scalar_event and ev.tag is None:
                    v = ev.value
                    if not ev.implicit[0] or (v and v[0] not in resolvers):
                        m: Any = ev.start_mark
                        add(v, (m.line + 1, m.column + 1), 1, ev)
                        continue
                event(ev)
        except _Abort:
            return None, self.problems
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
            # The parser may refuse deep nesting itself (libyaml has its own limit, and its
            # scanner looks ahead of the events through a run of '[' / '{'), with its own
            # wording. Whichever limit fires first, the user sees this project's message.
            deep = _flow_too_deep(text, line, col)
            if deep is not None:
                self.problem(deep, _too_deep_message())
                return None, self.problems
            msg = (e.problem or str(e)).strip()
            lines = text.splitlines()
            if "\t" in msg or (0 < line <= len(lines) and "\t" in lines[line - 1][: col + 1]):
                msg += " (a tab: YAML indentation must use spaces)"
            ctx = f" {e.context.strip()}" if e.context else ""
            self.problem((line, col), f"YAML syntax error: {msg}{ctx}".replace("\n", " "))
            return None, self.problems
        except yaml.reader.ReaderError as e:  # a character YAML does not allow
            pos = max(int(getattr(e, "position", 0) or 0), 0)
            line = text.count("\n", 0, pos) + 1
            col = pos - (text.rfind("\n", 0, pos) + 1) + 1
            ch = getattr(e, "character", None)
            if isinstance(ch, str) and len(ch) == 1:
                ch = ord(ch)
            what = f"U+{ch:04X}" if isinstance(ch, int) else "a character"
            self.problem((line, col), f"{what} is a control character YAML does not allow: "
                                      "remove it (or write it as an escape inside double quotes)")
            return None, self.problems
        except yaml.YAMLError as e:  # other reader errors: encoding
            self.problem((0, 0), f"YAML error: {e}".replace("\n", " "))
            return None, self.problems
        return self.root, self.problems

    # ----------------------------------------------------------------------- events

    def event(self, ev: Any) -> None:
        if isinstance(ev, yaml.ScalarEvent):
            value, size = self.scalar(ev), 1
            self.add(value, _mark(ev), size, ev)
        elif isinstance(ev, yaml.AliasEvent):
            self.alias(ev)
        elif isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self.start(ev)
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            self.end()
        elif isinstance(ev, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                self.problem(_mark(ev), "only one YAML document per file (found a second '---')")
                raise _Abort

    def scalar(self, ev: Any) -> Any:
        value: str = ev.value
        tag = ev.tag
        if tag in (None, "!"):
            tag = _RESOLVER.resolve(yaml.ScalarNode, value, ev.implicit)  # type: ignore[no-untyped-call]
        if tag not in _SCALAR_TAGS:
            self.refuse_tag(tag, _mark(ev))
            return None
        if ev.implicit[0] is False and ev.tag in (None, "!"):
            return value  # quoted: a string whatever it looks like
        if tag == _T + "str":
            return value
        if tag == _T + "int":
            node = yaml.ScalarNode(tag, value)
            try:
                return _CONSTRUCTOR.construct_yaml_int(node)
            except ValueError:
                self.problem(_mark(ev), f"not a valid integer: {value!r}")
                return None
        if tag == _T + "float":
            try:
                d = Decimal(_FLOAT_JUNK.sub("", value))
            except InvalidOperation:
                d = Decimal("NaN")
            if not d.is_finite():
                self.problem(_mark(ev), f"not a finite number: {value!r}")
                return None
            return d
        if tag == _T + "bool":
            return value.lower() in ("yes", "true", "on", "y")
        if tag == _T + "null":
            return None
        if tag == _T + "merge":
            return _MergeKey
        return value  # timestamp: keep the text (2026-11-20)

    def refuse_tag(self, tag: str, mark: Mark) -> None:
        t = _tag_text(tag)
        if "python/" in t:
            self.problem(
                mark, f"YAML tag {t} is refused: catalogs may not construct Python objects"
            )
        else:
            self.problem(mark, f"YAML tag {t} is not supported: use plain YAML values")

    def alias(self, ev: Any) -> None:
        anchor = ev.anchor
        if anchor not in self.anchors:
            if any(f.anchor == anchor for f in self.stack):
                self.problem(_mark(ev), f"alias *{anchor} refers to itself (recursive YAML)")
            else:
                self.problem(_mark(ev), f"alias *{anchor} has no anchor &{anchor} before it")
            raise _Abort
        value, size = self.anchors[anchor]
        self.alias_nodes += size
        if self.alias_nodes > MAX_ALIAS_NODES:
            self.problem(
                _mark(ev),
                f"YAML aliases expand to more than {MAX_ALIAS_NODES} nodes: refused "
                "(an alias bomb?); write the values out or use fewer nested aliases",
            )
            raise _Abort
        self.add(value, _mark(ev), size, ev)

    def start(self, ev: Any) -> None:
        tag = ev.tag
        is_map = isinstance(ev, yaml.MappingStartEvent)
        ok = _T + ("map" if is_map else "seq")
        if tag not in (None, "!", ok):
            self.refuse_tag(tag, _mark(ev))
        if len(self.stack) >= MAX_DEPTH:
            self.problem(_mark(ev), _too_deep_message())
            raise _Abort
        container: YDict | YList = YDict(_mark(ev)) if is_map else YList(_mark(ev))
        self.stack.append(_Frame(container, ev.anchor))

    def end(self) -> None:
        frame = self.stack.pop()
        c = frame.container
        if isinstance(c, YDict) and frame.merges:
            self.apply_merges(c, frame.merges)
        if frame.anchor:
            self.anchors[frame.anchor] = (c, frame.size)
        self.add(c, c.mark, frame.size, None)

    def apply_merges(self, c: YDict, merges: list[tuple[Any, Mark]]) -> None:
        sources: list[tuple[YDict, Mark]] = []
        for value, mark in merges:
            items = value if isinstance(value, YList) else [value]
            for item in items:
                if isinstance(item, YDict):
                    sources.append((item, mark))
                else:
                    self.problem(mark, "'<<' merges need a mapping or a list of mappings")
        for src, mark in sources:
            for k, v in src.items():
                if k not in c:
                    c.put(k, v, src.key_mark(k) or mark, src.value_mark(k) or mark)

    def add(self, value: Any, mark: Mark, size: int, ev: Any) -> None:
        if ev is not None and getattr(ev, "anchor", None):
            self.anchors[ev.anchor] = (value, size)
        if not self.stack:
            self.root = value
            return
        frame = self.stack[-1]
        frame.size += size
        c = frame.container
        if isinstance(c, YList):
            c.append_marked(value, mark)
            return
        if frame.key is None:  # this is a key
            if value is _MergeKey:
                frame.key = _MERGE
            elif isinstance(value, (YDict, YList)):
                self.problem(mark, "a mapping key must be a plain value, not a list or mapping")
                frame.key = _BAD
            else:
                # keys keep their literal text: `NO:` stays "NO", `1:` stays "1"; interned:
                # every SKU repeats the same keys
                frame.key = sys.intern(ev.value if isinstance(ev, yaml.ScalarEvent) else str(value))
            frame.key_mark = mark
            return
        key, frame.key = frame.key, None
        if key == _MERGE:
            frame.merges.append((value, frame.key_mark))
        elif key == _BAD:
            return
        elif key in c:
            first = c.key_mark(key) or (0, 0)
            self.problem(
                frame.key_mark,
                f"duplicate key {key!r} (first defined at line {first[0]}); "
                "remove one of them",
            )
        else:
            c.put(key, value, frame.key_mark, mark)


def _too_deep_message() -> str:
    return (
        f"YAML is nested deeper than {MAX_DEPTH} levels: refused; "
        "flatten the structure (catalog values never need that depth)"
    )


def _flow_too_deep(text: str, line: int, col: int) -> Mark | None:
    """Where the flow collections (``[`` / ``{``) opened before ``line:col`` first go deeper
    than :data:`MAX_DEPTH`, or None. Quoted scalars and comments are skipped. Only called on
    a parser error, and only the text before the error is read, so it costs nothing on the
    happy path and little on a hostile one."""
    depth, quote, comment, prev = 0, "", False, "\n"
    cur_line, cur_col = 1, 0
    for i, ch in enumerate(text):
        if ch == "\n":
            cur_line, cur_col, comment = cur_line + 1, 0, False
            if cur_line > line:
                return None
            prev = ch
            continue
        cur_col += 1
        if cur_line == line and cur_col > col:
            return None
        if comment:
            pass
        elif quote:
            if ch == quote and not (quote == '"' and text[i - 1] == "\\"):
                quote = ""
        elif ch in "'\"" and prev in " \t[{,:\n":
            quote = ch
        elif ch == "#" and prev in " \t\n":
            comment = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return (cur_line, cur_col)
        elif ch in "]}":
            depth = max(depth - 1, 0)
        prev = ch
    return None


class _MergeKeyType:
    pass


_MergeKey = _MergeKeyType()
_MERGE = "\x00<<merge>>"
_BAD = "\x00<<bad>>"
