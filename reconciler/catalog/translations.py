"""Translation drafts in the catalog (``translations/<language>.yaml``) and their status.

One file per language (so a CODEOWNERS line per language routes reviews to its translators),
or, for a large catalog, files below ``translations/<language>/`` (one per ``skus/`` file)::

    language: fr_FR
    skus:
      CB-OAK-L:
        item_name:
          text: Planche à découper ...
          status: machine            # machine | approved | needs_review | stale
          engine: deepl
          date: "2026-12-02"
          source_language: en_GB
          source: Birchwood Kitchen End Grain Oak ...   # the source text that was translated
          source_hash: 5f0c...       # text_hash(source)
          glossary_version: 3a9e...
          draft_hash: 91bb...        # text_hash(text) as the machine wrote it
          reason: ...                # needs_review: the gates that failed
        bullet_points:
          text: [..., ...]           # bullets are one entry: their number must match the source

The status a draft has (:func:`resolve`) is read from what is written and what changed since:

- the source's hash differs from ``source_hash`` -> ``stale`` (whatever was written);
- a ``machine``/``needs_review`` draft whose text no longer matches ``draft_hash`` was edited
  by a person: editing counts as approval (``approved``) and keeps the edit;
- a ``machine`` draft made with another glossary version -> ``stale`` (drafted again);
- otherwise the written status.

Hand-written texts (``texts:`` of the SKU) always win over drafts. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.catalog.raw import Doc
from reconciler.kernel.errors import Problem
from reconciler.kernel.model import SourceRef

#: the SKU's text fields a draft may hold, and the listing attribute each one fills
FIELDS = ("item_name", "product_description", "bullet_points")
ATTRIBUTE = {"item_name": "item_name", "product_description": "product_description",
             "bullet_points": "bullet_point"}
STATUSES = ("machine", "approved", "needs_review", "stale")
PENDING = ("machine", "needs_review", "stale")  # what a person still has to look at
DIRECTORY = "translations"

Value = str | tuple[str, ...]  # one text, or the bullets


def text_hash(value: Value) -> str:
    """A short, stable hash of a text (or of the bullets, in order)."""
    raw = value if isinstance(value, str) else json.dumps(list(value), ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def as_value(v: Any) -> Value:
    return tuple(str(x) for x in v) if isinstance(v, list | tuple) else str(v)


def as_plain(v: Value) -> str | list[str]:
    return v if isinstance(v, str) else list(v)


@dataclass(frozen=True)
class Draft:
    """One drafted text as written in a translations file."""

    sku: str
    language: str
    field: str  # one of FIELDS
    text: Value
    status: str
    engine: str = ""
    date: str = ""
    source_language: str = ""
    source: Value | None = None
    source_hash: str = ""
    glossary_version: str = ""
    draft_hash: str = ""
    reason: str = ""
    ref: SourceRef | None = None

    def data(self) -> dict[str, Any]:
        """The entry as written back to the file (only the keys that have a value)."""
        out: dict[str, Any] = {"text": as_plain(self.text), "status": self.status}
        for k in ("engine", "date", "source_language"):
            if getattr(self, k):
                out[k] = getattr(self, k)
        if self.source is not None:
            out["source"] = as_plain(self.source)
        for k in ("source_hash", "glossary_version", "draft_hash", "reason"):
            if getattr(self, k):
                out[k] = getattr(self, k)
        return out


@dataclass(frozen=True)
class Resolved:
    status: str  # approved | machine | needs_review | stale
    why: str = ""  # "edited by hand", "the en_GB source changed", ...


def resolve(d: Draft, source: Value | None, glossary_version: str | None) -> Resolved:
    """The status of ``d`` given the current source text (None: the source field is gone or is
    a template) and the catalog's glossary version (None: no glossary)."""
    if source is not None and d.source_hash and text_hash(source) != d.source_hash:
        return Resolved("stale", f"the {d.source_language or 'source'} text changed")
    if d.status == "stale":
        return Resolved("stale", "marked stale")
    edited = bool(d.draft_hash) and text_hash(d.text) != d.draft_hash
    if d.status in ("machine", "needs_review") and edited:
        return Resolved("approved", "edited by hand")
    if (d.status == "machine" and glossary_version is not None
            and d.glossary_version != glossary_version):
        return Resolved("stale", "the glossary changed")
    if d.status == "needs_review":
        return Resolved("needs_review", d.reason)
    return Resolved(d.status)


def publishable(r: Resolved, publish_machine: bool) -> bool:
    """Whether a text with this status is written to Amazon."""
    return r.status == "approved" or (r.status == "machine" and publish_machine)


# (sku, language) -> field -> draft
Index = dict[tuple[str, str], dict[str, Draft]]


def file_language(path: str) -> str:
    """The language a translations file holds, from its path: ``translations/fr_FR.yaml``, or
    any file below ``translations/fr_FR/`` (a large catalog splits a language into files)."""
    parts = path.split("/")
    if len(parts) > 2 and parts[0] == DIRECTORY:
        return parts[1]
    return parts[-1].rsplit(".", 1)[0]


def read_translations(docs: Iterable[Doc], problems: list[Problem]) -> Index:
    """The drafts of every (schema-valid) translations file. A file's ``language`` must be the
    one its path names (:func:`file_language`); a text is drafted once per language."""
    out: Index = {}
    where: dict[tuple[str, str, str], str] = {}
    for doc in docs:
        data = doc.data or {}
        lang = str(data.get("language", ""))
        named = file_language(doc.path)
        if lang != named:
            r = doc.ref("language")
            problems.append(Problem(doc.path, r.line, r.column, _lang_msg(lang, named)))
            continue
        for sku, fields in (data.get("skus") or {}).items():
            for f, e in (fields or {}).items():
                ref = doc.ref("skus", sku, f, key=True)
                if (sku, lang, f) in where:
                    problems.append(Problem(doc.path, ref.line, ref.column,
                                            f"{sku} {f} is also drafted in "
                                            f"{where[sku, lang, f]}: keep one"))
                    continue
                where[sku, lang, f] = doc.path
                out.setdefault((sku, lang), {})[f] = _draft(sku, lang, f, e, ref)
    return out


def _lang_msg(lang: str, named: str) -> str:
    return (f"language {lang!r} does not match the file's path, which names {named!r}: a "
            f"translations file is translations/<language>.yaml or below "
            f"translations/<language>/")


def _draft(sku: str, lang: str, f: str, e: Mapping[str, Any], ref: SourceRef) -> Draft:
    src = e.get("source")
    return Draft(
        sku=sku, language=lang, field=f, text=as_value(e["text"]), status=str(e["status"]),
        engine=str(e.get("engine", "")), date=str(e.get("date", "")),
        source_language=str(e.get("source_language", "")),
        source=None if src is None else as_value(src),
        source_hash=str(e.get("source_hash", "")),
        glossary_version=str(e.get("glossary_version", "")),
        draft_hash=str(e.get("draft_hash", "")), reason=str(e.get("reason", "")), ref=ref,
    )


def source_language(sku_data: Mapping[str, Any], default: str | None) -> str | None:
    """The language an SKU's drafts are translated from: its ``source_language``, else the
    catalog's ``translation.source_language`` when the SKU has texts in it, else its first
    texts language."""
    texts = sku_data.get("texts") or {}
    own = sku_data.get("source_language")
    if own:
        return str(own) if own in texts else None
    if default and default in texts:
        return default
    return next(iter(texts), None)


def literal(spec: Any) -> Value | None:
    """A source text as the machine may translate it: a literal string, or a list of literal
    bullets. None for a template (translate the template instead)."""
    if isinstance(spec, str):
        return spec.strip()
    if isinstance(spec, list) and all(isinstance(b, str) for b in spec):
        return tuple(b.strip() for b in spec)
    return None


def diff_lines(old: Value, new: Value) -> list[str]:
    """The source change of a stale draft, as ``- old`` / ``+ new`` lines."""
    a = [old] if isinstance(old, str) else list(old)
    b = [new] if isinstance(new, str) else list(new)
    out = [f"- {x}" for x in a if x not in b]
    out += [f"+ {x}" for x in b if x not in a]
    return out
