"""Work with professional translators: pending drafts out as XLIFF 1.2 or PO, their work back in.

``export``: every draft whose status is ``machine``, ``needs_review`` or ``stale`` (as the plan
reads it, :func:`reconciler.catalog.translations.resolve`), one unit per text (one per bullet
point), with the current source text, the draft as the target, and the status, reason and
provenance as notes. Units are identified ``SKU/language/field`` (``.../bullet_points/2``).

``import``: every unit with a target (in a PO file: no longer ``fuzzy``) becomes
``status: approved`` with the translator's text and
the source it was translated from (so a stale draft a translator redid is current again). A
unit the catalog doesn't have, or bullets only partly translated, is refused, and nothing is
written.

Files are read and written with translate-toolkit (``translate.storage.xliff`` /
``translate.storage.po``, https://docs.translatehouse.org/projects/translate-toolkit/en/latest/
api/storage.html), never hand-written XML; its XML parser is the toolkit's safe parser (no
entity expansion, no network: ``translate.storage.lisa.parse_xml``). Pending units are marked
as translators' tools expect: XLIFF 1.2 ``approved="no"`` on the trans-unit
(http://docs.oasis-open.org/xliff/v1.2/os/xliff-core.html#approved), PO ``#, fuzzy`` (GNU
gettext manual, "Fuzzy Entries").
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from translate.storage import po, xliff

from reconciler.catalog.loader import load
from reconciler.catalog.translation_work import find_work
from reconciler.catalog.translations import (
    PENDING,
    Draft,
    Value,
    literal,
    resolve,
    source_language,
    text_hash,
)
from reconciler.kernel.errors import CatalogError, Problem
from reconciler.translate.draft import write_drafts

FORMATS = ("xliff", "po")
MAX_IMPORT_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Pending:
    draft: Draft
    status: str
    reason: str
    source: Value  # the current source text


def pending(root: str | Path, *, languages: Collection[str] = ()) -> list[Pending]:
    """The drafts a person still has to look at."""
    raw = load(root)
    work = find_work(raw)
    version = work.glossary.version if work.glossary else None
    skus = {c: d for doc in raw.skus for c, d in (doc.data.get("skus") or {}).items()}
    default = _default_source(raw)
    out = []
    for (sku, lang), fields in sorted(work.drafts.items()):
        if languages and lang not in languages:
            continue
        data = skus.get(sku) or {}
        if lang in (data.get("texts") or {}):
            continue  # hand-written wins: the draft is not used
        block = (data.get("texts") or {}).get(source_language(data, default) or "") or {}
        for f, d in fields.items():
            src = literal(block[f]) if f in block else None
            r = resolve(d, src, version)
            if r.status in PENDING:
                out.append(Pending(d, r.status, r.why, src if src is not None else
                                   (d.source if d.source is not None else ())))
    return out


def _default_source(raw: Any) -> str | None:
    t = (raw.config.data.get("translation") or {}).get("source_language")
    return str(t) if t else None


def _tag(lang: str) -> str:
    return lang.replace("_", "-")


def _pieces(p: Pending) -> list[tuple[str, str, str]]:
    """(unit id, source, target) of one pending draft."""
    d = p.draft
    base = f"{d.sku}/{d.language}/{d.field}"
    if isinstance(p.source, str):
        target = d.text if isinstance(d.text, str) else "\n".join(d.text)
        return [(base, p.source, target)]
    texts = (d.text,) if isinstance(d.text, str) else d.text
    return [(f"{base}/{i}", s, texts[i - 1] if i <= len(texts) else "")
            for i, s in enumerate(p.source, 1)]


def export(root: str | Path, fmt: str, *, languages: Collection[str] = ()) -> tuple[bytes, int]:
    """The pending drafts as an XLIFF or PO file, and how many units it holds."""
    items = pending(root, languages=languages)
    langs = sorted({p.draft.language for p in items})
    srcs = sorted({p.draft.source_language for p in items if p.draft.source_language})
    store: Any
    if fmt == "xliff":
        store = xliff.xlifffile(sourcelanguage=_tag(srcs[0]) if len(srcs) == 1 else None,
                                targetlanguage=_tag(langs[0]) if len(langs) == 1 else None)
    else:
        store = po.pofile()
    n = 0
    for p in items:
        note = f"status: {p.status}" + (f" ({p.reason})" if p.reason else "")
        note += f"; drafted by {p.draft.engine or '?'} on {p.draft.date or '?'}"
        for uid, source, target in _pieces(p):
            u = store.addsourceunit(source)
            u.target = target
            if fmt == "xliff":
                u.setid(uid)
                u.markapproved(False)
            else:
                u.setcontext(uid)
                u.markfuzzy(True)
            u.addnote(note, origin="developer")
            n += 1
    return bytes(store), n


def _units(data: bytes, name: str) -> tuple[list[tuple[str, str]], int]:
    """(unit id, target) of every translated unit in an XLIFF or PO file, and how many PO
    entries were left fuzzy (the translator's "not done": not imported)."""
    xml = data.lstrip().startswith(b"<")
    try:
        store: Any = (xliff.xlifffile.parsestring(data)  # type: ignore[no-untyped-call]
                      if xml else po.pofile.parsestring(data))  # type: ignore[no-untyped-call]
    except Exception as e:  # the toolkit raises lxml's, ValueError, ... for a broken file
        raise CatalogError([Problem(name, message=f"cannot read it as "
                                    f"{'XLIFF' if xml else 'PO'}: {type(e).__name__}")]) from None
    out = []
    fuzzy = 0
    for u in store.unit_iter():
        if not xml and u.isheader():
            continue
        uid = (u.xmlelement.get("id") or "") if xml else (u.getcontext() or "")
        target = str(u.target or "").strip()
        if not xml and u.isfuzzy():
            fuzzy += 1
            continue
        if target:
            out.append((uid, target))
    return out, fuzzy


def import_file(root: str | Path, path: str | Path) -> tuple[int, list[str], int]:
    """Approve the translated units of an XLIFF/PO file. Returns (texts approved, files
    written, PO entries skipped as still fuzzy). Raises CatalogError (unknown units, unreadable
    file): nothing written then."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_IMPORT_BYTES:
            raise CatalogError([Problem(str(p), message="file is over 20 MB: refused")])
        data = p.read_bytes()
    except OSError as e:
        raise CatalogError([Problem(str(p), message=f"cannot read: {e.strerror or e}")]) from None
    raw = load(root)
    work = find_work(raw)
    skus = {c: d for doc in raw.skus for c, d in (doc.data.get("skus") or {}).items()}
    default = _default_source(raw)
    problems: list[Problem] = []
    got: dict[tuple[str, str, str], dict[int, str]] = {}
    units, fuzzy = _units(data, str(p))
    for uid, target in units:
        parts = uid.split("/")
        if len(parts) not in (3, 4) or (len(parts) == 4 and not parts[3].isdigit()):
            problems.append(Problem(str(p), message=f"unit {uid!r} is not SKU/language/field"))
            continue
        key = (parts[0], parts[1], parts[2])
        if work.drafts.get(key[:2], {}).get(key[2]) is None:
            problems.append(Problem(str(p), message=f"unit {uid!r}: the catalog has no such "
                                                    "draft (run reconciler translate first)"))
            continue
        got.setdefault(key, {})[int(parts[3]) if len(parts) == 4 else 0] = target
    approved: list[Draft] = []
    for (sku, lang, field), pieces in sorted(got.items()):
        d = work.drafts[sku, lang][field]
        data_ = skus.get(sku) or {}
        block = (data_.get("texts") or {}).get(source_language(data_, default) or "") or {}
        src = literal(block[field]) if field in block else d.source
        text: Value
        if isinstance(src, tuple):
            missing = [i for i in range(1, len(src) + 1) if i not in pieces]
            if missing:
                problems.append(Problem(str(p), message=f"{sku}/{lang}/{field}: bullet(s) "
                                        f"{', '.join(map(str, missing))} not translated"))
                continue
            text = tuple(pieces[i] for i in range(1, len(src) + 1))
        else:
            text = pieces.get(0) or next(iter(pieces.values()))
        approved.append(replace(
            d, text=text, status="approved", reason="", source=src,
            source_hash=text_hash(src) if src is not None else d.source_hash,
        ))
    if problems:
        raise CatalogError(problems)
    written = write_drafts(Path(raw.root), raw, approved) if approved else []
    return len(approved), written, fuzzy
