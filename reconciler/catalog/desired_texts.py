"""Desired listings, the texts part: each listing's texts in its marketplace's language (or a
fallback the catalog allows), literal or rendered from a sandboxed template, checked against
Amazon's lengths. A marketplace without a text in its language is held for review.

Without a hand-written text in its language, a listing takes the drafts of
``translations/<language>.yaml`` (:mod:`reconciler.catalog.translations`): approved ones are
published, ``machine`` ones only where the marketplace has ``publish_machine_translations:
true``; the others are held, each with its source, draft, gate results and status (and the
source change of a stale one) for the plan to show. Mixed into the builder of
:mod:`reconciler.catalog.desired`. Pure."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.catalog import translation_gates as gates
from reconciler.catalog.glossary import Glossary, read_glossary
from reconciler.catalog.listing_schema import Definitions
from reconciler.catalog.raw import RawCatalog, SkuDecl
from reconciler.catalog.settings import Settings
from reconciler.catalog.texts import TemplateProblem, Texts
from reconciler.catalog.translations import (
    ATTRIBUTE,
    Draft,
    Index,
    diff_lines,
    literal,
    publishable,
    read_translations,
    resolve,
    source_language,
)
from reconciler.kernel.errors import Problem
from reconciler.kernel.model import Account, Entry, HeldText, MarketplaceConfig, SourceRef

TEXT_FIELDS = ("item_name", "product_description", "bullet_point")
HELD_TEXTS = TEXT_FIELDS  # what a listing without a text in its language holds back
MAX_ITEM_NAME = 200
MAX_BULLET = 600
MAX_DESCRIPTION_BYTES = 10_000


@dataclass(frozen=True)
class Hold:
    """What a listing holds back: attributes, the plan's reason, the drafted texts held."""

    attributes: tuple[str, ...] = ()
    reason: str = ""
    details: tuple[HeldText, ...] = ()


def _entry(value: str, m: MarketplaceConfig) -> Entry:
    # interned: the live side interns what it reads, so an unchanged live text and
    # this one are one string (100k listings hold several texts each, twice)
    return {"value": sys.intern(value), "language_tag": m.language_tag,
            "marketplace_id": m.marketplace_id}


class TextsMixin:
    add: Callable[..., None]
    settings: Settings
    texts: Texts
    broken_templates: set[str]
    defs: Definitions
    problems: list[Problem]
    drafts: Index
    glossary: Glossary | None

    def read_drafts(self, raw: RawCatalog) -> None:
        """The catalog's glossary and translation drafts."""
        self.glossary = read_glossary(raw.glossary.data if raw.glossary else None)
        self.drafts = read_translations(raw.translations, self.problems)

    def orphan_drafts(self, skus: list[SkuDecl]) -> list[str]:
        """Warnings for drafts of SKUs the catalog doesn't have (renamed or removed)."""
        known = {s.code for s in skus}
        return [f"{next(iter(f.values())).ref}: {sku!r} is not in the catalog: its {lang} "
                "drafts are not used (remove them)"
                for (sku, lang), f in sorted(self.drafts.items()) if sku not in known and f]

    def text_lang(self, sku: SkuDecl, acc: Account, m: MarketplaceConfig) -> str | None:
        """The language whose texts the listing uses (its own or a fallback); None: drafted
        translations or held."""
        texts = sku.data.get("texts") or {}
        lang = m.language_tag
        if lang not in texts and (sku.code, lang) in self.drafts:
            return None
        return lang if lang in texts else next(
            (f for f in self.settings.config.fallbacks.get((acc.name, m.code), ()) if f in texts),
            None,
        )

    def texts_for(
        self, sku: SkuDecl, acc: Account, m: MarketplaceConfig, ctx: str,
        attrs: dict[str, list[Entry]], source_lang: str | None, dkey: Any,
    ) -> Hold:
        """Fill the text attributes from ``source_lang`` (None: from the drafted translations,
        else held for review); returns what is held."""
        if source_lang is None:
            drafts = self.drafts.get((sku.code, m.language_tag))
            if drafts is None:
                return Hold(HELD_TEXTS, f"no texts for {m.language_tag}")
            return self.drafted(sku, acc, m, ctx, attrs, drafts, dkey)
        texts = sku.data.get("texts") or {}
        lang = m.language_tag
        block = texts[source_lang]
        context = {
            **(sku.data.get("vars") or {}),
            "sku": sku.code, "marketplace": m.code, "language_tag": lang,
            "currency": m.currency,
        }

        def entry(value: str) -> Entry:
            return _entry(value, m)

        name = self.text(sku, ("texts", source_lang, "item_name"), block["item_name"],
                         context, ctx, MAX_ITEM_NAME)
        if name is not None:
            attrs["item_name"] = [entry(name)]
        if "product_description" in block:
            d = self.text(sku, ("texts", source_lang, "product_description"),
                          block["product_description"], context, ctx, None)
            if d is not None:
                if len(d.encode("utf-8")) > MAX_DESCRIPTION_BYTES:
                    self.add(sku.ref("texts", source_lang, "product_description"),
                             f"product_description is over {MAX_DESCRIPTION_BYTES} bytes "
                             "(Amazon's limit)", ctx)
                attrs["product_description"] = [entry(d)]
        if "bullet_points" in block:
            bullets = []
            first: dict[str, int] = {}
            for i, b in enumerate(block["bullet_points"]):
                v = self.text(sku, ("texts", source_lang, "bullet_points", i), b, context, ctx,
                              MAX_BULLET)
                if v is None:
                    continue
                if v in first:  # Amazon shows identical bullets once: it would never converge
                    self.add(sku.ref("texts", source_lang, "bullet_points", i),
                             f"bullet point {i + 1} repeats bullet point {first[v] + 1} "
                             f"({v[:40]!r}); remove or change one", ctx)
                    continue
                first[v] = i
                bullets.append(entry(v))
            attrs["bullet_point"] = bullets
        return Hold()

    def drafted(
        self, sku: SkuDecl, acc: Account, m: MarketplaceConfig, ctx: str,
        attrs: dict[str, list[Entry]], drafts: dict[str, Draft], dkey: Any,
    ) -> Hold:
        """Texts from the drafts of ``translations/<language>.yaml``: publishable ones fill
        ``attrs``, the others are held with what the plan shows."""
        lang = m.language_tag
        src_lang = source_language(sku.data, self.settings.config.translation.get(
            "source_language"))
        block = (sku.data.get("texts") or {}).get(src_lang or "") or {}
        publish = (acc.name, m.code) in self.settings.config.publish_machine
        version = self.glossary.version if self.glossary else None
        cached = self.defs.get(dkey) if dkey is not None else None
        limits = (gates.limits_from_schema(cached.schema, f"product type {dkey[0]} ({m.code})")
                  if cached is not None else gates.DOCUMENTED)
        held: list[HeldText] = []
        for f in [f for f in ATTRIBUTE if f in block] or [f for f in ATTRIBUTE if f in drafts]:
            src = literal(block[f]) if f in block else None
            d = drafts.get(f)
            attr = ATTRIBUTE[f]
            if d is None:
                held.append(HeldText(attr, "missing", lang, src_lang or "", _t(src)))
                continue
            r = resolve(d, src, version)
            if publishable(r, publish):
                self.fill(attrs, attr, d, m, ctx)
                continue
            shown = src if src is not None else d.source
            results = gates.check(f, shown or (), d.text, target=lang, glossary=self.glossary,
                                  limit=limits.get(f)) if shown is not None else []
            held.append(HeldText(
                attr, r.status, lang, d.source_language, _t(shown), _t(d.text),
                tuple(str(g) for g in results), r.why,
                tuple(diff_lines(d.source, src)) if r.status == "stale" and d.source is not None
                and src is not None else (),
            ))
        if not held:
            return Hold()
        said = ", ".join(f"{h.attribute} {h.status}" for h in held)
        return Hold(tuple(h.attribute for h in held), f"{lang} translation held: {said}",
                    tuple(held))

    def fill(self, attrs: dict[str, list[Entry]], attr: str, d: Draft, m: MarketplaceConfig,
             ctx: str) -> None:
        """An approved (or published machine) draft as the attribute's entries, checked against
        Amazon's lengths as a hand-written text is."""
        values = [d.text] if isinstance(d.text, str) else list(d.text)
        where = d.ref or SourceRef("translations")
        limit = {"item_name": MAX_ITEM_NAME, "bullet_point": MAX_BULLET}.get(attr)
        for v in values:
            if limit is not None and len(v) > limit:
                self.add(where, f"{d.field} is {len(v)} characters, over Amazon's {limit}", ctx)
            if attr == "product_description" and len(v.encode("utf-8")) > MAX_DESCRIPTION_BYTES:
                self.add(where, f"product_description is over {MAX_DESCRIPTION_BYTES} bytes "
                                "(Amazon's limit)", ctx)
        if len(set(values)) != len(values):
            self.add(where, "two bullet points are the same: change one", ctx)
        attrs[attr] = [_entry(v.strip(), m) for v in dict.fromkeys(values)]

    def text(
        self, sku: SkuDecl, path: tuple[Any, ...], spec: Any, context: dict[str, Any], ctx: str,
        limit: int | None,
    ) -> str | None:
        if isinstance(spec, str):
            value = spec.strip()
        else:
            name = spec["template"]
            tref = sku.ref(*path, "template")
            if name.startswith("/") or ".." in name.split("/") or "\\" in name:
                self.add(tref, f"template {name!r} is outside the catalog's templates/ "
                               "directory: refused (give a name below templates/)", ctx)
                return None
            if name not in self.texts.sources:
                self.add(tref, f"template {name!r} not found under templates/", ctx)
                return None
            if name in self.broken_templates:
                return None  # its syntax error is reported once
            try:
                value = self.texts.render(name, {**context, **(spec.get("vars") or {})})
            except TemplateProblem as e:
                self.add(SourceRef(f"templates/{e.template}", e.line, 1 if e.line else 0),
                         e.message, f"{ctx}, used at {tref}")
                return None
        if not value:
            self.add(sku.ref(*path), "text is empty", ctx)
            return None
        if limit is not None and len(value) > limit:
            self.add(sku.ref(*path), f"{path[2]} is {len(value)} characters, over Amazon's {limit}",
                     ctx)
        return value


def _t(v: Any) -> tuple[str, ...]:
    if v is None:
        return ()
    return (v,) if isinstance(v, str) else tuple(v)
