"""What the emulator's machine translation services share (DeepL: ``deepl_api``, Amazon
Translate: ``aws_translate_api``): the deterministic "translation", and the injected faults.

**Output.** A text found in the phrase table (``data/deepl_phrases.json``, keyed by source and
target base language, e.g. ``EN>FR``; it covers the sample catalog's texts that lack a
translation) gets its entry; any other text gets a clearly marked rendering of the input:
``[fr] <input>``, with the glossary's entries applied (source term -> target term, whole words,
case-insensitive) and kept parts left alone. A phrase-table entry is used only when it holds
the target term of every glossary entry whose source term occurs in the text, so a glossary
always shows in the output.

With ``xml`` tag handling, the text is XML: tags pass through, the content of ``ignore`` tags is
kept verbatim (DeepL's ``ignore_tags``: https://developers.deepl.com/docs/xml-and-html-handling/
xml, "Ignored tags"), and the text between tags is XML-escaped in and out.

**Faults.** A FIFO queue per service (``deepl``, ``translate``) of HTTP statuses (429, 456, 500,
503, ...): each request of that service takes the next one and answers it instead of its
result. Tests fill it with :func:`inject_faults` or the seed (``deepl: {faults: [429, 456]}``,
``amazonTranslate: {faults: [429]}``).
"""

from __future__ import annotations

import functools
import json
import re
import sqlite3
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any
from xml.sax.saxutils import escape, unescape

from .state import EmulatorState

PHRASES_FILE = "deepl_phrases.json"
SERVICES = ("deepl", "translate")
_TAG = re.compile(r"(<[^<>]*>)")
_TAG_NAME = re.compile(r"<\s*/?\s*([A-Za-z_][\w.-]*)")


def init_schema(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS mt_faults ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT, service TEXT NOT NULL, status INTEGER NOT NULL)"
    )


def seed(emu: EmulatorState, data: dict[str, Any]) -> None:
    for key, service in (("deepl", "deepl"), ("amazonTranslate", "translate")):
        section = data.get(key) or {}
        if isinstance(section, dict) and section.get("faults"):
            inject_faults(emu, service, [int(s) for s in section["faults"]])


def inject_faults(emu: EmulatorState, service: str, statuses: Iterable[int]) -> None:
    """Queue ``statuses``: the next requests of ``service`` answer them, one each, in order."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}: one of {', '.join(SERVICES)}")
    with emu.lock:
        emu.db.executemany(
            "INSERT INTO mt_faults(service, status) VALUES (?, ?)",
            [(service, int(s)) for s in statuses],
        )


def take_fault(emu: EmulatorState, service: str) -> int | None:
    """The next queued fault of ``service`` (removed from the queue), or None."""
    row = emu.db.execute(
        "SELECT id, status FROM mt_faults WHERE service = ? ORDER BY id LIMIT 1", (service,)
    ).fetchone()
    if row is None:
        return None
    emu.db.execute("DELETE FROM mt_faults WHERE id = ?", (row[0],))
    return int(row[1])


@functools.cache
def phrases() -> dict[str, dict[str, str]]:
    raw = resources.files(__package__).joinpath("data").joinpath(PHRASES_FILE).read_text("utf-8")
    data = json.loads(raw)
    return {
        pair: {collapse(src): dst for src, dst in table.items()}
        for pair, table in data.items()
        if not pair.startswith("_")
    }


def collapse(text: str) -> str:
    return " ".join(text.split())


def base(code: str) -> str:
    """``EN-US`` -> ``EN``; ``en`` -> ``EN``."""
    return code.strip().upper().split("-")[0].split("_")[0]


def _glossary_rx(entries: Mapping[str, str]) -> re.Pattern[str] | None:
    terms = sorted((t for t in entries if t.strip()), key=len, reverse=True)
    if not terms:
        return None
    return re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(t) for t in terms) + r")(?!\w)", re.IGNORECASE
    )


def apply_glossary(text: str, entries: Mapping[str, str]) -> str:
    rx = _glossary_rx(entries)
    if rx is None:
        return text
    lower = {k.lower(): v for k, v in entries.items()}
    return rx.sub(lambda m: lower.get(m.group(0).lower(), m.group(0)), text)


def _segments(
    text: str, xml: bool, ignore: frozenset[str]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(segments as (kind, raw) with kind text|keep|tag, kept elements as (raw, inner raw))."""
    if not xml:
        return [("text", text)], []
    segs: list[tuple[str, str]] = []
    kept: list[tuple[str, str]] = []
    depth = 0
    element: list[str] = []
    for tok in _TAG.split(text):
        if not tok:
            continue
        if _TAG.fullmatch(tok):
            m = _TAG_NAME.match(tok)
            name = m.group(1) if m else ""
            closing = tok.lstrip("< \t").startswith("/")
            selfclosing = tok.rstrip("> \t").endswith("/")
            if name in ignore and not selfclosing:
                depth += -1 if closing else 1
                depth = max(depth, 0)
                element.append(tok)
                if depth == 0 and closing:
                    raw = "".join(element)
                    inner = "".join(e for e in element[1:-1])
                    kept.append((raw, inner))
                    element = []
                segs.append(("tag", tok))
            else:
                if depth:
                    element.append(tok)
                segs.append(("tag", tok))
            continue
        if depth:
            element.append(tok)
            segs.append(("keep", tok))
        else:
            segs.append(("text", tok))
    return segs, kept


def render(
    text: str,
    source: str,
    target: str,
    entries: Mapping[str, str],
    *,
    xml: bool = False,
    ignore: frozenset[str] = frozenset(),
) -> str:
    """The emulator's translation of ``text`` from ``source`` to ``target`` (language codes)."""
    segs, kept = _segments(text, xml, ignore)
    plain = "".join(
        (unescape(raw) if xml else raw) for kind, raw in segs if kind != "tag"
    )
    hit = phrases().get(f"{base(source)}>{base(target)}", {}).get(collapse(plain))
    rx = _glossary_rx(entries)
    if hit is not None and rx is not None:
        lower = {k.lower(): v for k, v in entries.items()}
        wanted = {lower[m.group(0).lower()] for m in rx.finditer(plain)}
        if any(w.lower() not in hit.lower() for w in wanted):
            hit = None
    if hit is not None:
        out = escape(hit) if xml else hit
        for raw, inner in kept:  # the ignored elements back around their (unchanged) text
            if inner and inner in out:
                out = out.replace(inner, raw, 1)
        return out
    parts = [apply_glossary(raw, entries) if kind == "text" else raw for kind, raw in segs]
    return f"[{target.lower()}] " + "".join(parts)
