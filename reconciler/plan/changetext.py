"""What a field change means, in words a reviewer reads: a price's move in percent, the words
a long text change adds and removes, a supply source's catalog name.

Used by :mod:`reconciler.plan.render` for the terminal and the PR comment. Pure: no I/O. Values are
returned unescaped; the renderer escapes them for its medium.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from reconciler.kernel.model import TEXT_ATTRIBUTES, FieldChange
from reconciler.plan.change import PRICE_ATTRIBUTES
from reconciler.plan.safety import our_price

WORD_DIFF_MIN = 40  # characters: a text at least this long gets a word diff
WORD_CONTEXT = 3  # unchanged words shown on each side of a change
ID_SHOWN = 8  # characters of a long supply-source id shown next to its name


def percent_move(old: Decimal | None, new: Decimal | None) -> str:
    """``+7.5%`` / ``-12.0%`` for a price move; empty when there is nothing to compare."""
    if old is None or new is None or old <= 0 or old == new:
        return ""
    pct = (new - old) / old * 100
    sign = "+" if pct > 0 else "-"
    shown = abs(pct).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{sign}{shown}%" if shown else f"{sign}<0.1%"


def location_label(code: str, names: Mapping[str, str]) -> str:
    """``newark (353e4e48…)`` for a supply source the catalog names, else the id itself."""
    name = names.get(code)
    if not name:
        return code
    short = code if len(code) <= ID_SHOWN + 4 else code[:ID_SHOWN] + "…"
    return f"{name} ({short})"


def price_move(f: FieldChange) -> str:
    """`` (+7.5%)`` after a price change, else empty."""
    if f.attribute not in PRICE_ATTRIBUTES:
        return ""
    move = percent_move(our_price(f.old), our_price(f.new))
    return f" ({move})" if move else ""


class Segment(NamedTuple):
    """A run of words of a word diff: ``kind`` is ``=`` (unchanged), ``-`` (removed), ``+``
    (added) or ``…`` (unchanged words left out; ``text`` is empty)."""

    kind: str
    text: str


def wants_word_diff(old: str, new: str) -> bool:
    return old != new and max(len(old), len(new)) >= WORD_DIFF_MIN


def word_diff(old: str, new: str, context: int = WORD_CONTEXT) -> list[Segment]:
    """The words removed and added from ``old`` to ``new``, with ``context`` unchanged words
    around each change and ``…`` for the rest. Whitespace-only changes show as no words."""
    a, b = old.split(), new.split()
    out: list[Segment] = []
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    for i, (tag, a0, a1, b0, b1) in enumerate(ops):
        if tag == "equal":
            words = a[a0:a1]
            first, last = i == 0, i == len(ops) - 1
            head = [] if first else words[:context]
            tail = [] if last else words[-context:]
            if len(words) <= len(head) + len(tail):
                out.append(Segment("=", " ".join(words)))
                continue
            if head:
                out.append(Segment("=", " ".join(head)))
            out.append(Segment("…", ""))
            if tail:
                out.append(Segment("=", " ".join(tail)))
            continue
        if tag in ("delete", "replace"):
            out.append(Segment("-", " ".join(a[a0:a1])))
        if tag in ("insert", "replace"):
            out.append(Segment("+", " ".join(b[b0:b1])))
    return out



def text_change(f: FieldChange) -> tuple[str, str] | None:
    """(old, new) of a change of one long text (a title, a description) that deserves a word
    diff, else None. Bullet lists already show one line per bullet."""
    if f.attribute not in TEXT_ATTRIBUTES or not f.old or not f.new:
        return None
    if len(f.old) != 1 or len(f.new) != 1:
        return None
    old, new = f.old[0].get("value"), f.new[0].get("value")
    if not isinstance(old, str) or not isinstance(new, str) or not wants_word_diff(old, new):
        return None
    return old, new


def word_line(
    f: FieldChange,
    escape: Callable[[str], str],
    removed: Callable[[str], str],
    added: Callable[[str], str],
) -> str:
    """The word diff of a long text change as one line (empty for other changes): each run of
    words ``escape``d for the medium, then wrapped by ``removed`` / ``added``; ``…`` for
    unchanged words left out."""
    texts = text_change(f)
    if texts is None:
        return ""
    out = []
    for seg in word_diff(*texts):
        t = escape(seg.text)
        out.append(removed(t) if seg.kind == "-" else added(t) if seg.kind == "+" else t or "…")
    return " ".join(out)
