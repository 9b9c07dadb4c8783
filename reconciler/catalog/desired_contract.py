"""The part of ``desired.build`` that speaks Amazon's listing contract (issue 14): which cached
product type definition a listing uses, the product type attributes the catalog declares, the
offer lines beyond our price (sale, business, allowed prices, list price in the marketplace's
shape), and the check of every listing against its definition with problems at the YAML line
the attribute came from. A mixin of ``desired._Builder``; pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from reconciler.catalog import offers
from reconciler.catalog.listing_schema import (
    Definitions,
    DefinitionUnusable,
    describe,
    locate,
    missing_message,
    without_cleared,
)
from reconciler.catalog.pricing import Rule, quantum
from reconciler.contract.listing_attributes import OWN_KEYS, AttributeProblem, Declared
from reconciler.kernel.model import (
    DesiredListing,
    Entry,
    MarketplaceConfig,
    PriceDerivation,
    Selector,
    SourceRef,
)

if TYPE_CHECKING:
    from reconciler.catalog.raw import RawCatalog, SkuDecl
    from reconciler.catalog.settings import RulePart

Key = tuple[str, str, str]


class ContractMixin:
    raw: RawCatalog
    defs: Definitions
    _no_definition: set[Key]
    add: Callable[..., None]
    one_price: Callable[..., PriceDerivation | None]
    known_product_types: frozenset[str]
    # a SKU's schema problems, by (where, message) -> marketplace codes (flushed per SKU)
    schema_problems: dict[tuple[SourceRef, str], list[str]]

    def definition_key(self, sku: SkuDecl, m: MarketplaceConfig, pt: str, ctx: str
                       ) -> tuple[str, Key | None]:
        """(requirements set, key of the cached definition or None after reporting it missing
        once per key)."""
        ov = (sku.data.get("overrides") or {}).get(m.code) or {}
        requirements = str(ov.get("requirements") or sku.data.get("requirements") or "LISTING")
        key = (pt, m.code, requirements)
        if self.defs.get(key) is not None:
            return requirements, key
        known = pt in self.known_product_types or any(k[0] == pt for k in self.raw.product_types)
        if key not in self._no_definition and pt and known:
            self._no_definition.add(key)
            self.add(sku.ref("product_type"), missing_message(key), ctx)
        return requirements, None

    def catalog_attributes(
        self, sku: SkuDecl, m: MarketplaceConfig, ctx: str, dkey: Key,
        decl: dict[str, Declared], attrs: dict[str, list[Entry]],
        clears: list[tuple[str, Selector]],
    ) -> None:
        """The product type attributes the SKU declares (listing_attributes)."""
        for name, dv in decl.items():
            if name in OWN_KEYS:
                self.add(sku.ref(*dv.path, key=True),
                         f"{name} is not declared under attributes: use {OWN_KEYS[name]}", ctx)
                continue
            maker = self.defs.maker(dkey, name)
            if maker is None:
                pt, code, req = dkey
                self.add(sku.ref(*dv.path, key=True),
                         f"{name} is not an attribute of product type {pt} in {code} "
                         f"({req} definition); check the name in product-types/", ctx)
                continue
            try:
                entries, clear = maker.entries(dv.value, m.marketplace_id, m.language_tag)
            except AttributeProblem as e:
                self.add(sku.ref(*dv.path, *e.path_suffix), e.message, ctx)
                continue
            if entries is not None:
                attrs[name] = entries
            elif clear is not None:
                clears.append((name, clear))

    def check_schema(
        self, sku: SkuDecl, m: MarketplaceConfig, ctx: str, dkey: Key,
        d: DesiredListing, text_lang: str | None, decl: dict[str, Declared],
    ) -> None:
        """The listing against its cached definition; problems point at the catalog (the same
        problem in several marketplaces of a SKU is one problem naming them all, see
        :meth:`flush_schema_problems`)."""
        try:
            v = self.defs.validator(dkey, enforced=not d.held_texts)
        except DefinitionUnusable as e:
            if dkey not in self._no_definition:
                self._no_definition.add(dkey)
                self.add(SourceRef(str(self.defs.cached[dkey].path)), str(e))
            return
        payload = without_cleared(d.attributes) if d.clears or _has_none(d.attributes) else (
            d.attributes)
        if v.is_valid(payload):
            return
        for issue in v.issues(payload):
            path, key = locate(sku.data, m.code, text_lang, issue, decl)
            found = (sku.ref(*path, key=key), describe(issue, dkey))
            self.schema_problems.setdefault(found, []).append(m.code)

    def flush_schema_problems(self, sku: SkuDecl) -> None:
        pending, self.schema_problems = self.schema_problems, {}
        for (ref, message), codes in pending.items():
            self.add(ref, message, f"SKU {sku.code!r} ({', '.join(codes)})")

    def offer_lines(
        self, sku: SkuDecl, m: MarketplaceConfig, ctx: str, attrs: dict[str, list[Entry]],
        our: PriceDerivation, rule: Rule, part: RulePart, dkey: Key | None,
        clears: list[tuple[str, Selector]],
    ) -> list[PriceDerivation]:
        """``purchasable_offer`` (our price, then the lines of reconciler.catalog.offers) and
        ``list_price`` in the shape of the listing's definition; their derivations."""
        ov = (sku.data.get("overrides") or {}).get(m.code) or {}
        out: list[PriceDerivation] = []
        offer: Entry = {
            "marketplace_id": m.marketplace_id,
            "currency": m.currency,
            "audience": "ALL",
            "our_price": [{"schedule": [{"value_with_tax": our.result}]}],
        }
        attrs["purchasable_offer"] = [offer]

        def price(base: Any, fixed: Any, base_field: str, fixed_field: str, note: str,
                  clamp: bool) -> PriceDerivation | None:
            return self.one_price(sku, m, ctx, rule, part, base, fixed, base_field, fixed_field,
                                  note, clamp=clamp)

        def report(path: tuple[Any, ...], message: str) -> None:
            self.add(sku.ref(*path) if path else sku.ref(key=True), message, ctx)

        parts = offers.build(sku.data, ov, m.code, m.marketplace_id, m.currency, price, report)
        offer.update(parts.all_fields)
        if parts.b2b is not None:
            attrs["purchasable_offer"].append(parts.b2b)
        clears.extend(parts.clears)
        lp_fixed = ov.get("list_price")
        lp_base = sku.data.get("list_price")
        chosen = lp_fixed if lp_fixed is not None else lp_base
        field = self.defs.list_price_field(dkey)
        if chosen == offers.CLEAR:
            clears.append(("list_price", (("marketplace_id", m.marketplace_id),
                                          ("currency", m.currency))))
        elif chosen is not None and Decimal(chosen) == 0:  # Amazon: 0 means "no list price"
            attrs["list_price"] = [{"marketplace_id": m.marketplace_id, "currency": m.currency,
                                    field: Decimal(0).quantize(quantum(m.currency))}]
        elif chosen is not None:
            lp = price(lp_base if lp_fixed is None else None, lp_fixed, "list_price",
                       "list_price", "list price", False)
            if lp is not None:
                out.append(lp)
                attrs["list_price"] = [
                    {"marketplace_id": m.marketplace_id, "currency": m.currency,
                     field: lp.result}
                ]
        out.extend(parts.derivations)
        return out


def _has_none(attributes: dict[str, list[Entry]]) -> bool:
    """Whether a field is cleared (None): only offer lines are (reconciler.catalog.offers)."""
    return any(v is None for e in attributes.get("purchasable_offer", ()) for v in e.values())
