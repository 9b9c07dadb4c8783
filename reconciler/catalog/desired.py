"""Catalog -> desired listings: one frozen :class:`~reconciler.kernel.model.DesiredListing` per
(account, SKU, marketplace), in exactly the SP-API attribute shapes of CONTRACT.md §7.

:func:`build` is pure: it takes the :class:`~reconciler.catalog.raw.RawCatalog` the loader read and
either returns a :class:`~reconciler.kernel.model.DesiredState` or raises one
:class:`~reconciler.kernel.errors.CatalogError` carrying every semantic problem with file:line
(unknown marketplace/location/currency/product type, formula errors, guard trips, template
errors, ...). ``reconciler.catalog.loader.load_desired(root)`` is the I/O convenience wrapper.

Per listing (see the sample catalog for the YAML):

- price: ``purchasable_offer`` (and ``list_price`` when the SKU has one) from
  :mod:`reconciler.catalog.pricing`, with a :class:`~reconciler.kernel.model.PriceDerivation` for
  each price
  (our price first) and ``price_min``/``price_max`` = the guards;
- texts: ``item_name``, ``product_description``, ``bullet_point`` in the marketplace's
  language_tag (or one of its ``fallback_languages``); none -> the texts are *held for review*
  (left out, ``held_texts`` says which) while price and quantity stay managed;
- quantity: ``fulfillment_availability``. On an MLI marketplace one entry per location serving
  it (a location without a quantity for the SKU is managed at 0) plus ``DEFAULT`` = 0; elsewhere
  ``DEFAULT`` = the quantity (a literal, or the sum of its locations' quantities). Quantities
  come from the SKU (``quantity:``) or from an allocation policy over stock.csv
  (:mod:`reconciler.catalog.allocation`). No quantity given -> the attribute is not managed.
- the rest of the offer (:mod:`reconciler.catalog.offers`): sale price, business price with
  quantity tiers, minimum/maximum seller allowed prices, ``clear`` to remove one;
- any other attribute of the product type definition
  (:mod:`reconciler.contract.listing_attributes`), shaped by the catalog's cached definition
  (``product-types/``, :mod:`reconciler.catalog.listing_schema`), with the listing's
  requirements set (``requirements:``);
- every listing is then checked against its definition (requirements enforced; texts held for
  review: structure only), unless ``validate_schemas=False``;
- ``state: absent`` -> ``DesiredListing(state="absent", attributes={})``.

Pure: no I/O, no clock (``today`` is a parameter).
"""

from __future__ import annotations

import datetime as _dt
import difflib

from reconciler.catalog.desired_contract import ContractMixin
from reconciler.catalog.desired_prices import PricesMixin, dec_or_none
from reconciler.catalog.desired_texts import TextsMixin
from reconciler.catalog.fulfillment import Fulfillment
from reconciler.catalog.listing_schema import Definitions
from reconciler.catalog.pricing import Rule
from reconciler.catalog.raw import Doc, RawCatalog, SkuDecl
from reconciler.catalog.settings import (
    Settings,
    problem,
    read_config,
    read_locations,
    read_pricing,
    read_rates,
)
from reconciler.catalog.texts import Texts
from reconciler.contract.listing_attributes import declared
from reconciler.kernel import marketplaces as mkt
from reconciler.kernel.errors import CatalogError, Problem
from reconciler.kernel.gcpause import paused_gc
from reconciler.kernel.model import (
    Account,
    DesiredListing,
    DesiredState,
    Entry,
    ListingKey,
    MarketplaceConfig,
    Selector,
    SourceRef,
)

# Amazon product types the catalog may use (a subset of the Product Type Definitions API's
# list; extend it when a seller needs another one).
PRODUCT_TYPES = frozenset({
    "PRODUCT", "BAKEWARE", "BOTTLE", "CONTAINER_LID", "COOKWARE", "CUTTING_BOARD",
    "DINNERWARE", "DRINKING_CUP", "DRINKING_STRAW", "FOOD_STORAGE_CONTAINER", "HAIRBAND",
    "HOME", "HOME_BED_AND_BATH", "KITCHEN", "KITCHEN_KNIFE", "LUGGAGE", "PITCHER",
    "SERVING_TRAY", "TABLECLOTH", "TEAPOT", "TOWEL", "UTENSIL", "VACUUM_FLASK", "WATER_BOTTLE",
})


def build(
    raw: RawCatalog, *, today: _dt.date | None = None, validate_schemas: bool = True
) -> DesiredState:
    """The desired state of the catalog. Raises CatalogError with every problem found.
    ``validate_schemas=False`` skips checking listings against their product type definitions
    (the benchmark's comparison; shapes still come from the definitions)."""
    with paused_gc():
        return _Builder(raw, today, validate_schemas).build()




def schema_needs(raw: RawCatalog) -> dict[tuple[str, str, str], tuple[str, str]]:
    """The product type definitions the catalog needs: (product type, marketplace code,
    requirements set) -> (an account selling there, the marketplace's language_tag as locale),
    for every listing that is not ``state: absent``. Raises CatalogError (accounts, targets)."""
    b = _Builder(raw, None)
    config = read_config(raw.config, b.problems)
    b.accounts = {a.name: a for a in config.accounts}
    out: dict[tuple[str, str, str], tuple[str, str]] = {}
    for sku in b.collect_skus():
        data = sku.data
        pt = data.get("product_type")
        if data.get("state", "present") == "absent" or not pt:
            continue
        for acc, m in b.sku_targets(sku):
            ov = (data.get("overrides") or {}).get(m.code) or {}
            req = str(ov.get("requirements") or data.get("requirements") or "LISTING")
            out.setdefault((pt, m.code, req), (acc.name, m.language_tag))
    if b.problems:
        raise CatalogError(list(dict.fromkeys(b.problems)))
    return dict(sorted(out.items()))


class _Builder(ContractMixin, TextsMixin, PricesMixin):
    def __init__(self, raw: RawCatalog, today: _dt.date | None, validate: bool = True) -> None:
        self.raw = raw
        self.today = today
        self.defs = Definitions(raw.product_types, validate=validate)
        self.known_product_types = PRODUCT_TYPES
        self.schema_problems: dict[tuple[SourceRef, str], list[str]] = {}
        self._no_definition: set[tuple[str, str, str]] = set()
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        self._seen: set[tuple[str, int, str]] = set()
        self.broken_templates: set[str] = set()
        self._rules: dict[str, Rule | None] = {}  # per marketplace code, SKUs without overrides

    def add(self, ref: SourceRef, message: str, context: str = "") -> None:
        # the same settings-file problem hit by many SKUs is reported once
        if not ref.file.startswith("skus/"):
            key = (ref.file, ref.line, message)
            if key in self._seen:
                return
            self._seen.add(key)
        self.problems.append(problem(ref, message, context))

    # ----------------------------------------------------------------------- build

    def build(self) -> DesiredState:
        raw = self.raw
        config = read_config(raw.config, self.problems)
        self.accounts = {a.name: a for a in config.accounts}
        st = self.settings = Settings(config)
        configured = {m.code for a in config.accounts for m in a.marketplaces}
        if raw.rates is not None:
            st.rates = read_rates(raw.rates, self.problems)
            st.rates_ref = raw.rates.ref("rates")
            self.check_rate_age(raw.rates, config.max_rate_age_days)
        if raw.pricing is not None:
            read_pricing(raw.pricing, st, configured, self.problems)
        if raw.locations is not None:
            read_locations(raw.locations, st, self.accounts, self.problems)
        self._seen.update((p.file, p.line, p.message) for p in self.problems)
        self.texts = Texts(raw.templates)
        self.read_drafts(raw)
        for tp in self.texts.check_all():
            self.broken_templates.add(tp.template)
            self.problems.append(
                Problem(f"templates/{tp.template}", tp.line, 1 if tp.line else 0, tp.message)
            )
        self.fulfillment = Fulfillment(
            st, raw.stock, raw.stock_file, report=self.add, warn=self.warnings.append
        )
        skus = self.collect_skus()
        self.warnings.extend(self.orphan_drafts(skus))
        listings: list[DesiredListing] = []
        for sku in skus:
            listings.extend(self.sku_listings(sku))
        if raw.stock is not None:
            unknown = sorted({r.sku for r in raw.stock} - {s.code for s in skus})
            if unknown:
                shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
                self.warnings.append(
                    f"{raw.stock_file}: {len(unknown)} SKU(s) not in the catalog are ignored: "
                    f"{shown}"
                )
        if self.problems:
            raise CatalogError(list(dict.fromkeys(self.problems)))
        listings.sort(key=lambda x: x.key)
        return DesiredState(
            listings=tuple(listings),
            accounts=config.accounts,
            safety=config.safety,
            apply=config.apply,
            rates_as_of=st.rates.as_of if st.rates else "",
            warnings=tuple(self.warnings),
            location_names={loc.channel: name for name, loc in sorted(st.locations.items())},
        )

    def check_rate_age(self, doc: Doc, max_days: int) -> None:
        try:
            as_of = _dt.date.fromisoformat(str(doc.data["as_of"]))
        except ValueError:
            self.add(doc.ref("as_of"), f"as_of {doc.data['as_of']!r} is not a valid date")
            return
        if self.today is None:
            return
        age = (self.today - as_of).days
        if age > max_days:
            self.warnings.append(
                f"{doc.path}: exchange rates are {age} days old (as_of {as_of}); "
                f"max_rate_age_days is {max_days}: update the rates"
            )
        elif age < 0:
            self.warnings.append(f"{doc.path}: as_of {as_of} is in the future")

    def collect_skus(self) -> list[SkuDecl]:
        seen: dict[str, SkuDecl] = {}
        for doc in self.raw.skus:
            for code, data in (doc.data.get("skus") or {}).items():
                sku = SkuDecl(code, doc, data)
                if code in seen:
                    first = seen[code].ref(key=True)
                    self.add(sku.ref(key=True), f"SKU {code!r} is already defined at {first}")
                    continue
                seen[code] = sku
        return [seen[c] for c in sorted(seen)]

    # ----------------------------------------------------------------------- one SKU

    def sku_targets(self, sku: SkuDecl) -> list[tuple[Account, MarketplaceConfig]]:
        names = sku.data.get("accounts")
        accounts: list[Account] = []
        if names is None:
            accounts = list(self.accounts.values())
        else:
            for i, n in enumerate(names):
                if n not in self.accounts:
                    self.add(sku.ref("accounts", i),
                             f"unknown account {n!r} (accounts: {', '.join(self.accounts)})",
                             sku.context)
                else:
                    accounts.append(self.accounts[n])
        codes = sku.data.get("marketplaces")
        wanted: set[str] | None = None
        if codes is not None:
            wanted = set()
            for i, c in enumerate(codes):
                m = mkt.lookup(c)
                if m is None or m.marketplace_id == c:
                    self.add(sku.ref("marketplaces", i),
                             f"unknown marketplace {c!r} (known: {', '.join(mkt.MARKETPLACES)})",
                             sku.context)
                    continue
                if not any(m.code == x.code for a in accounts for x in a.marketplaces):
                    self.add(sku.ref("marketplaces", i),
                             f"marketplace {m.code} is not configured for account(s) "
                             f"{', '.join(a.name for a in accounts)} in reconciler.yaml",
                             sku.context)
                    continue
                wanted.add(m.code)
        return [
            (a, m) for a in accounts for m in a.marketplaces if wanted is None or m.code in wanted
        ]

    def sku_listings(self, sku: SkuDecl) -> list[DesiredListing]:
        data = sku.data
        targets = self.sku_targets(sku)
        codes = {m.code for _, m in targets}
        state = data.get("state", "present")
        pt = data.get("product_type", "")
        cached_types = {k[0] for k in self.raw.product_types}
        if pt and pt not in PRODUCT_TYPES and pt not in cached_types:
            close = difflib.get_close_matches(pt, sorted(PRODUCT_TYPES | cached_types), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            self.add(sku.ref("product_type"), f"unknown product type {pt!r}{hint}", sku.context)
        for section in ("quantity", "overrides"):
            for code in data.get(section) or {}:
                if code not in codes:
                    known = mkt.lookup(code)
                    bad = known is None or known.marketplace_id == code
                    why = "unknown marketplace" if bad else "the SKU is not listed there"
                    self.add(sku.ref(section, code, key=True), f"{section} for {code}: {why}",
                             sku.context)
        if state == "absent":
            return [
                DesiredListing(
                    key=ListingKey(a.name, sku.code, m.marketplace_id),
                    product_type=pt or "PRODUCT", attributes={}, state="absent", mli=m.mli,
                    source=sku.ref(key=True),
                )
                for a, m in targets
            ]
        alloc = self.fulfillment.allocation(sku, targets)
        out = [self.listing(sku, acc, mc, pt, alloc) for acc, mc in targets]
        self.flush_schema_problems(sku)
        return out

    def listing(
        self, sku: SkuDecl, acc: Account, m: MarketplaceConfig, pt: str,
        alloc: dict[str, int],
    ) -> DesiredListing:
        ctx = f"SKU {sku.code!r} ({m.code})"
        before = len(self.problems)
        requirements, dkey = self.definition_key(sku, m, pt, ctx)
        attrs: dict[str, list[Entry]] = {}
        clears: list[tuple[str, Selector]] = []
        part = self.rule_for(sku, m.code)
        derivations = self.prices(sku, m, ctx, attrs, part, dkey, clears)
        text_lang = self.text_lang(sku, acc, m)
        hold = self.texts_for(sku, acc, m, ctx, attrs, text_lang, dkey)
        entries, allocated = self.fulfillment.entries(sku, acc, m, ctx, alloc)
        if entries is not None:
            attrs["fulfillment_availability"] = entries
        decl = declared(sku.data, m.code, text_lang)
        if dkey is not None:
            self.catalog_attributes(sku, m, ctx, dkey, decl, attrs, clears)
        d = DesiredListing(
            key=ListingKey(acc.name, sku.code, m.marketplace_id),
            product_type=pt,
            attributes=attrs,
            mli=m.mli,
            derivations=tuple(derivations),
            held_texts=hold.attributes,
            held_reason=hold.reason,
            held_details=hold.details,
            price_min=dec_or_none(part.values.get("min")),
            price_max=dec_or_none(part.values.get("max")),
            allocated=allocated,
            source=sku.source,
            requirements=requirements,
            clears=tuple(clears),
            selectors=self.defs.selectors(dkey) if dkey is not None else None,
            locked=self.defs.locked(dkey) if dkey is not None else frozenset(),
        )
        if dkey is not None and self.defs.validate and len(self.problems) == before:
            self.check_schema(sku, m, ctx, dkey, d, text_lang, decl)
        return d


def summary(state: DesiredState) -> str:
    """The one line ``reconciler validate`` prints on success."""
    skus = {x.key.sku for x in state.listings}
    held = sum(1 for x in state.listings if x.held_texts)
    n_mp = sum(len(a.marketplaces) for a in state.accounts)
    s = "s" if len(state.accounts) != 1 else ""
    return (
        f"catalog OK: {len(skus)} SKUs, {len(state.listings)} listings "
        f"({len(state.accounts)} account{s}, {n_mp} marketplaces), "
        f"{held} held for review"
    )
