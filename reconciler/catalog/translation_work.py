"""What ``reconciler translate`` has to draft (pure): every text a marketplace's language lacks,
and every draft whose source changed since (stale), translated from the SKU's source language.

Skipped, each with its reason for the summary: languages with hand-written texts (they always
win), marketplaces that borrow a language's texts (``fallback_languages``), SKUs without texts
to translate from, template texts (translate the template instead), and drafts that are up to
date (machine, approved, needs_review: a person decides). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from reconciler.catalog.glossary import Glossary, read_glossary
from reconciler.catalog.raw import RawCatalog
from reconciler.catalog.settings import read_config
from reconciler.catalog.translation_gates import DOCUMENTED, Limit, limits_from_schema
from reconciler.catalog.translations import (
    ATTRIBUTE,
    Draft,
    Index,
    Value,
    literal,
    read_translations,
    resolve,
    source_language,
)
from reconciler.kernel import marketplaces as mkt
from reconciler.kernel.errors import CatalogError, Problem


@dataclass(frozen=True)
class Job:
    """One text to draft."""

    sku: str
    language: str
    field: str
    source_language: str
    source: Value
    limit: Limit
    previous: Draft | None = None  # the stale draft it replaces


@dataclass(frozen=True)
class Skip:
    sku: str
    language: str
    why: str


@dataclass
class Work:
    jobs: list[Job] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    drafts: Index = field(default_factory=dict)
    glossary: Glossary | None = None
    languages: set[str] = field(default_factory=set)  # the target languages considered
    kept: dict[str, int] = field(default_factory=dict)  # status -> drafts left as they are


def find_work(
    raw: RawCatalog, *, marketplaces: Collection[str] = (), skus: Collection[str] = (),
) -> Work:
    """The texts to draft for the marketplaces (codes) and SKUs given (empty: all). Raises
    CatalogError for an unknown marketplace or SKU, or a broken translations file."""
    problems: list[Problem] = []
    config = read_config(raw.config, problems)
    work = Work(glossary=read_glossary(raw.glossary.data if raw.glossary else None))
    work.drafts = read_translations(raw.translations, problems)
    wanted = {_code(c, problems) for c in marketplaces}
    all_skus = {code: data for doc in raw.skus
                for code, data in (doc.data.get("skus") or {}).items()}
    for s in skus:
        if s not in all_skus:
            problems.append(Problem("skus", message=f"--sku {s!r}: no such SKU in the catalog"))
    if problems:
        raise CatalogError(problems)
    default = config.translation.get("source_language")
    version = work.glossary.version if work.glossary else None
    seen: set[tuple[str, str]] = set()
    for code in sorted(all_skus):
        data = all_skus[code]
        if (skus and code not in skus) or data.get("state", "present") == "absent":
            continue
        texts = data.get("texts") or {}
        for acc in config.accounts:
            if data.get("accounts") is not None and acc.name not in data["accounts"]:
                continue
            for m in acc.marketplaces:
                if (data.get("marketplaces") is not None and m.code not in
                        {_code(c, []) for c in data["marketplaces"]}):
                    continue
                if wanted and m.code not in wanted:
                    continue
                lang = m.language_tag
                work.languages.add(lang)
                if (code, lang) in seen:
                    continue
                seen.add((code, lang))
                if lang in texts:
                    continue  # hand-written: always wins, nothing to say
                fbs = [f for f in config.fallbacks.get((acc.name, m.code), ()) if f in texts]
                if fbs and (code, lang) not in work.drafts:
                    work.skipped.append(Skip(code, lang, f"{m.code} uses the {fbs[0]} texts "
                                                         "(fallback_languages)"))
                    continue
                src_lang = source_language(data, default)
                if src_lang is None:
                    work.skipped.append(Skip(code, lang, "no texts to translate from"))
                    continue
                req = str(((data.get("overrides") or {}).get(m.code) or {}).get("requirements")
                          or data.get("requirements") or "LISTING")
                cached = raw.product_types.get((str(data.get("product_type", "")), m.code, req))
                limits = (limits_from_schema(cached.schema, f"product type "
                                             f"{data.get('product_type')} ({m.code})")
                          if cached is not None else DOCUMENTED)
                _jobs(work, code, lang, src_lang, texts[src_lang], limits, version)
    return work


def _jobs(work: Work, sku: str, lang: str, src_lang: str, block: dict[str, object],
          limits: dict[str, Limit], version: str | None) -> None:
    have = work.drafts.get((sku, lang)) or {}
    for f in ATTRIBUTE:
        if f not in block:
            continue
        src = literal(block[f])
        if src is None:
            spec = block[f]
            first = next((x for x in spec if isinstance(x, dict)), {}) if isinstance(
                spec, list) else spec
            name = first.get("template", "...") if isinstance(first, dict) else "..."
            work.skipped.append(Skip(sku, lang, f"{f} comes from templates/{name}: write a "
                                                f"{lang} template instead"))
            continue
        d = have.get(f)
        if d is not None:
            r = resolve(d, src, version)
            if r.status != "stale":  # up to date: a person decides what happens to it
                work.kept[r.status] = work.kept.get(r.status, 0) + 1
                continue
        work.jobs.append(Job(sku, lang, f, src_lang, src, limits.get(f, Limit()), d))


def _code(c: str, problems: list[Problem]) -> str:
    m = mkt.lookup(c)
    if m is None:
        problems.append(Problem("reconciler.yaml", message=f"--marketplace {c!r}: unknown "
                                f"marketplace (known: {', '.join(mkt.MARKETPLACES)})"))
        return c
    return m.code
