"""Desired listings, the texts part: each listing's texts in its marketplace's language (or a
fallback the catalog allows), literal or rendered from a sandboxed template, checked against
Amazon's lengths. A marketplace without a text in its language is held for review. Mixed into
the builder of :mod:`reconciler.catalog.desired`. Pure."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from reconciler.catalog.raw import SkuDecl
from reconciler.catalog.settings import Settings
from reconciler.catalog.texts import TemplateProblem, Texts
from reconciler.kernel.model import Account, Entry, MarketplaceConfig, SourceRef

TEXT_FIELDS = ("item_name", "product_description", "bullet_point")
HELD_TEXTS = TEXT_FIELDS  # what a listing without a text in its language holds back
MAX_ITEM_NAME = 200
MAX_BULLET = 600
MAX_DESCRIPTION_BYTES = 10_000


class TextsMixin:
    add: Callable[..., None]
    settings: Settings
    texts: Texts
    broken_templates: set[str]

    def text_lang(self, sku: SkuDecl, acc: Account, m: MarketplaceConfig) -> str | None:
        """The language whose texts the listing uses (its own or a fallback); None: held."""
        texts = sku.data.get("texts") or {}
        lang = m.language_tag
        return lang if lang in texts else next(
            (f for f in self.settings.config.fallbacks.get((acc.name, m.code), ()) if f in texts),
            None,
        )

    def texts_for(
        self, sku: SkuDecl, m: MarketplaceConfig, ctx: str, attrs: dict[str, list[Entry]],
        source_lang: str | None,
    ) -> None:
        """Fill the text attributes from ``source_lang`` (None: held for review)."""
        if source_lang is None:
            return
        texts = sku.data.get("texts") or {}
        lang = m.language_tag
        block = texts[source_lang]
        context = {
            **(sku.data.get("vars") or {}),
            "sku": sku.code, "marketplace": m.code, "language_tag": lang,
            "currency": m.currency,
        }

        def entry(value: str) -> Entry:
            # interned: the live side interns what it reads, so an unchanged live text and
            # this one are one string (100k listings hold several texts each, twice)
            return {"value": sys.intern(value), "language_tag": lang,
                    "marketplace_id": m.marketplace_id}

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
