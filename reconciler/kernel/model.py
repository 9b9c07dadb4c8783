"""Frozen value types shared by every stage: catalog settings, listings, changes.

Desired and live listings use the same :class:`Listing` type so the differ never sees YAML or
SP-API JSON. A listing's ``attributes`` are in exactly the SP-API shapes of CONTRACT.md §7
(every attribute an array of entry objects carrying their selector fields), with two
canonicalisations that both sides apply:

- money (``value_with_tax``, ``list_price.value``) is a :class:`~decimal.Decimal` quantized to
  the currency's minor units; quantities are ``int``;
- entries are sorted by their selector values (bullet points keep their order within one
  selector).

This module is pure: no I/O, no clock.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

Entry = dict[str, Any]
Attributes = dict[str, list[Entry]]
Selector = tuple[tuple[str, str], ...]  # (field, value) pairs that identify an entry

# Selector fields per managed attribute (CONTRACT.md §7). Diffs are per selector, not per
# attribute: an entry whose selector values the catalog does not declare is unmanaged.
SELECTORS: dict[str, tuple[str, ...]] = {
    "item_name": ("marketplace_id", "language_tag"),
    "product_description": ("marketplace_id", "language_tag"),
    "bullet_point": ("marketplace_id", "language_tag"),
    "purchasable_offer": ("marketplace_id", "currency", "audience"),
    "list_price": ("marketplace_id", "currency"),
    "fulfillment_availability": ("fulfillment_channel_code",),
}
# Attributes where several entries share one selector value set (an ordered list).
MULTI_ENTRY = frozenset({"bullet_point"})
TEXT_ATTRIBUTES = ("item_name", "product_description", "bullet_point")
DEFAULT_CHANNEL = "DEFAULT"


class ListingKey(NamedTuple):
    """One SKU in one marketplace of one account (the catalog's account name)."""

    account: str
    sku: str
    marketplace_id: str


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where in the catalog something was declared (1-based line/column)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


# --------------------------------------------------------------------------- catalog settings


@dataclass(frozen=True)
class Credentials:
    """References such as ``env/SP_API_REFRESH_TOKEN``; resolved only by commands that call
    Amazon (never by ``validate``), and never printed."""

    refresh_token: str = "env/SP_API_REFRESH_TOKEN"  # noqa: S105 (a reference, not a secret)
    client_id: str = "env/LWA_APP_ID"
    client_secret: str = "env/LWA_CLIENT_SECRET"  # noqa: S105 (a reference)


@dataclass(frozen=True)
class MarketplaceConfig:
    code: str  # US, CA, UK ...
    marketplace_id: str
    currency: str
    language_tag: str
    mli: bool = False


@dataclass(frozen=True)
class Account:
    name: str
    seller_id: str
    region: str  # NA | EU | FE
    endpoint: str  # "emulator" | "production" | "sandbox" | an https:// base URL
    marketplaces: tuple[MarketplaceConfig, ...]
    credentials: Credentials = field(default_factory=Credentials)
    token_url: str = ""  # empty: Amazon's LWA endpoint (or the emulator's for endpoint=emulator)


@dataclass(frozen=True)
class Safety:
    """Thresholds that stop a plan unless ``--force`` (settings under ``safety:``)."""

    max_update_share: Decimal = Decimal("0.5")  # share of managed listings updated
    min_listings_for_share: int = 10  # the share rule applies from this many listings on
    max_price_change_pct: Decimal = Decimal("30")  # any single price move over this %
    allow_deletes: bool = False  # any delete stops the plan unless true
    # Dangerous rules (DEFAULT > 0 on MLI, price outside guards) have no setting: --force only.


@dataclass(frozen=True)
class ApplySettings:
    strategy: str = "auto"  # auto | patch | feed
    verify_timeout_seconds: float = 600.0
    verify_interval_seconds: float = 5.0
    # set in the catalog: a path inside the catalog root (confined by reconciler.apply.audit);
    # empty: .reconciler/audit.jsonl in the working directory; $RECONCILER_AUDIT_LOG wins
    audit_log: str = ""
    stock_only_drift_apply: bool = False  # drift.yml may push stock-only changes when true


# --------------------------------------------------------------------------- listings


@dataclass(frozen=True, slots=True)
class Issue:
    """An issue Amazon reports for a listing (API ``Issue`` or feed report issue)."""

    code: str
    message: str
    severity: str = "ERROR"  # ERROR | WARNING | INFO
    attribute_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PriceDerivation:
    """How one target price was computed, so a plan can show why (shown by
    :func:`reconciler.catalog.pricing.describe`)."""

    marketplace: str  # code, e.g. CA
    currency: str
    formula: str  # e.g. "base * rate + tax"
    base: Decimal
    base_currency: str
    rate: Decimal
    rate_as_of: str  # ISO date of the rates file
    rate_source: str
    tax_delta: Decimal
    raw: Decimal  # formula result before guards and rounding
    rounding: str  # e.g. "ending .99", "whole", "minor units"
    result: Decimal
    guard_min: Decimal | None = None
    guard_max: Decimal | None = None
    override: str = ""  # e.g. "price fixed per SKU", "rule override per SKU"
    vars: tuple[tuple[str, Decimal], ...] = ()  # the rule's own variables (e.g. vat), sorted
    raw_exact: bool = True  # False: ``raw`` is the formula's value cut to 6 decimals

    @property
    def fixed(self) -> bool:
        return self.formula == "fixed"


@dataclass(frozen=True, slots=True)  # slots: 100k+ of each in a plan
class Listing:
    """A listing's managed state (desired) or read state (live), SP-API attribute shapes."""

    key: ListingKey
    product_type: str
    attributes: Attributes
    state: str = "present"  # "absent" only in desired: the one way to delete


@dataclass(frozen=True)
class HeldText:
    """One text held for review, with what a reviewer needs to judge it (issue 16): the source,
    the machine's draft, the gates' results, the status; for a stale draft, how the source
    changed since it was drafted. Texts are tuples: one item, or the bullet points."""

    attribute: str  # item_name | product_description | bullet_point
    status: str  # missing | machine | needs_review | stale
    language: str  # the draft's language tag
    source_language: str = ""
    source: tuple[str, ...] = ()
    draft: tuple[str, ...] = ()
    gates: tuple[str, ...] = ()  # "length: ok", "numbers: model number(s) lost: BK-1842"
    reason: str = ""
    source_diff: tuple[str, ...] = ()  # "- old" / "+ new" lines


@dataclass(frozen=True, slots=True)  # slots: 100k+ of each in a plan
class DesiredListing(Listing):
    mli: bool = False
    derivations: tuple[PriceDerivation, ...] = ()
    # Text attributes held for review (language of the marketplace has no text): they are
    # left out of ``attributes``. A listing that does not exist live and has held texts is
    # held as a whole (nothing is created in the wrong language).
    held_texts: tuple[str, ...] = ()
    held_reason: str = ""
    held_details: tuple[HeldText, ...] = ()  # drafted translations held (issue 16)
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    allocated: int | None = None  # total units allocated to this listing (MLI invariant)
    source: SourceRef | None = None
    # The requirements set of the product type definition the listing is created with
    # (putListingsItem ``requirements``): LISTING, LISTING_OFFER_ONLY or LISTING_PRODUCT_ONLY.
    requirements: str = "LISTING"
    # Entries the catalog says to remove (``clear``): (attribute, selector). Only an entry Amazon
    # has is deleted; an absent one needs nothing.
    clears: tuple[tuple[str, Selector], ...] = ()
    # Selector fields per attribute from the product type definition (shared by every listing
    # of one definition); attributes not named fall back to SELECTORS.
    selectors: Mapping[str, tuple[str, ...]] | None = None
    # Attributes Amazon does not let an existing listing change (``editable: false``).
    locked: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)  # slots: 100k+ of each in a plan
class LiveListing(Listing):
    status: tuple[str, ...] = ()  # BUYABLE / DISCOVERABLE
    issues: tuple[Issue, ...] = ()
    last_updated: str = ""


@dataclass(frozen=True)
class DesiredState:
    """Everything the catalog says: listings sorted by key."""

    listings: tuple[DesiredListing, ...]
    accounts: tuple[Account, ...]
    safety: Safety = field(default_factory=Safety)
    apply: ApplySettings = field(default_factory=ApplySettings)
    rates_as_of: str = ""
    warnings: tuple[str, ...] = ()
    # fulfillment_channel_code (supply source id) -> its location's name in locations.yaml,
    # so a plan can say "newark (353e4e48…)" instead of the id alone.
    location_names: Mapping[str, str] = field(default_factory=dict)

    @functools.cached_property
    def managed_attributes(self) -> frozenset[str]:
        """Every attribute some listing declares or clears: what reading live state keeps."""
        names: set[str] = set(SELECTORS)
        for d in self.listings:
            names.update(d.attributes)
            names.update(a for a, _ in d.clears)
        return frozenset(names)


# --------------------------------------------------------------------------- changes


class FieldChange(NamedTuple):
    """One selector's change inside one attribute. ``old``/``new`` are lists of entries
    (one entry for single-entry attributes, the ordered list for bullet points); ``None`` means
    absent."""

    attribute: str
    selector: tuple[tuple[str, str], ...]
    old: list[Entry] | None
    new: list[Entry] | None


def canonical_json(data: Any) -> str:
    """Deterministic JSON (sorted keys, Decimal as a JSON number). Used for checksums."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(o: Any) -> Any:
    if isinstance(o, Decimal):
        # JSON number with the Decimal's exact digits; json has no raw-number hook, so we
        # emit a float only when it round-trips, else the string (never for money we quantize).
        f = float(o)
        return int(o) if o == o.to_integral_value() and abs(o) < 2**53 else f
    if isinstance(o, (tuple, frozenset, set)):
        return list(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def to_json_value(data: Any) -> Any:
    """Convert attribute data (with Decimals) into plain JSON values for an SP-API body."""
    return json.loads(json.dumps(data, default=_json_default))
