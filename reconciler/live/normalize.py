"""SP-API ``Item`` JSON -> :class:`LiveListing`: the read-back, normalized so it diffs like desired.

Amazon's read-back differs from what was written in ways that must never show up as a change
(design.md §2, CONTRACT.md §7): it echoes ``marketplace_id`` into entries (also into
``fulfillment_availability``, whose only selector is the channel code), returns money as floats,
ints or decimal strings, may leave out ``audience`` (meaning ``ALL``), and returns entries in any
order. :func:`normalize_item` applies exactly the canonicalisation the desired side uses
(``model.py``): Decimal money quantized to the currency's minor units, int quantities, entries
sorted by selector values (bullet points keep their order within a selector).

Only what a catalog can manage is kept: the attributes ``keep`` names (the planner passes
``DesiredState.managed_attributes``: every attribute the catalog declares; ``None`` keeps all, as
``import`` needs), and in the entries of the attributes of :data:`MANAGED_FIELDS` only those
fields (what ``reconciler.catalog.desired`` writes; other selectors are kept). No desired listing
has any other attribute or field, so nothing reads them (``lead_time_to_ship_max_days``,
``map_price``: apply's merge patches leave them alone on Amazon), and a 100k-listing plan holds
every live listing in memory. Numbers of other attributes are canonical too: an integral float is
an int (Amazon may echo ``12`` as ``12.0``). The differ and the fingerprint look only at what the
desired listing manages (the managed projection, in :mod:`reconciler.plan.projection`), which is
unchanged by leaving out fields no desired entry declares. Keys and the top-level string values of
entries are interned (``sys.intern``): JSON decoding makes a new string for every key of every
Item, and the same marketplace ids, language tags, currencies and texts repeat across listings
(the desired side interns its texts too, so an unchanged live text is the desired listing's
string).
Pure: no I/O, no clock.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from reconciler.kernel.marketplaces import CURRENCY_MINOR_UNITS
from reconciler.kernel.model import (
    SELECTORS,
    Attributes,
    Entry,
    Issue,
    ListingKey,
    LiveListing,
    MarketplaceConfig,
)

# Attributes whose entries carry a marketplace_id selector (filled in when Amazon leaves it out).
_MARKETPLACE_SELECTED = frozenset(a for a, sel in SELECTORS.items() if "marketplace_id" in sel)
_DEFAULT_SELECTOR = ("marketplace_id",)
_INT_FIELDS = frozenset({"quantity", "lead_time_to_ship_max_days"})
# The entry fields a desired listing can declare, per attribute (reconciler.catalog.desired;
# its tests check every desired entry against this). Nested values (``our_price``) are kept whole.
MANAGED_FIELDS: dict[str, frozenset[str]] = {
    "item_name": frozenset({"value", "language_tag", "marketplace_id"}),
    "product_description": frozenset({"value", "language_tag", "marketplace_id"}),
    "bullet_point": frozenset({"value", "language_tag", "marketplace_id"}),
    "purchasable_offer": frozenset({
        "marketplace_id", "currency", "audience", "our_price", "discounted_price",
        "minimum_seller_allowed_price", "maximum_seller_allowed_price", "quantity_discount_plan",
    }),
    "list_price": frozenset({"marketplace_id", "currency", "value", "value_with_tax"}),
    "fulfillment_availability": frozenset({"fulfillment_channel_code", "quantity"}),
}


# --------------------------------------------------------------------------- scalars


def to_decimal(value: Any, currency: str) -> Any:
    """A money value (float, int or decimal string) as a Decimal quantized to the currency's
    minor units. Values that are not numbers are returned unchanged (they will simply diff)."""
    if isinstance(value, bool):
        return value
    try:
        d = Decimal(str(value)) if isinstance(value, (int, float, str, Decimal)) else None
    except InvalidOperation:
        return value
    if d is None or not d.is_finite():
        return value
    units = CURRENCY_MINOR_UNITS.get(currency.upper(), 2) if currency else 2
    try:
        return d.quantize(Decimal(1).scaleb(-units), rounding=ROUND_HALF_UP)
    except InvalidOperation:  # more digits than the context holds: keep it exact
        return d


def to_int(value: Any) -> Any:
    """A count (int, float or numeric string) as an int; anything else unchanged."""
    if isinstance(value, (bool, int)):
        return value
    try:
        d = Decimal(str(value)) if isinstance(value, (float, str, Decimal)) else None
    except InvalidOperation:
        return value
    if d is None or not d.is_finite() or d != d.to_integral_value():
        return value
    return int(d)


# --------------------------------------------------------------------------- entries


def _money_schedules(field_value: Any, currency: str) -> Any:
    """``our_price``-style ``[{"schedule": [{"value_with_tax": x, ...}]}]`` with Decimal money."""
    if not isinstance(field_value, list):
        return field_value
    out = []
    for item in field_value:
        if isinstance(item, dict) and isinstance(item.get("schedule"), list):
            item = dict(item)
            item["schedule"] = [
                {**s, "value_with_tax": to_decimal(s["value_with_tax"], currency)}
                if isinstance(s, dict) and "value_with_tax" in s
                else s
                for s in item["schedule"]
            ]
        out.append(item)
    return out


def _managed_fields(attribute: str, entry: Mapping[str, Any]) -> Entry:
    """The fields of ``entry`` a catalog can manage, with interned keys and interned top-level
    string values (a decoded Item has its own copy of every key and value)."""
    keep = MANAGED_FIELDS.get(attribute)
    intern = sys.intern
    return {
        intern(k): intern(v) if type(v) is str else v
        for k, v in entry.items()
        if keep is None or k in keep
    }


def canonical_entry(attribute: str, entry: Entry, mp: MarketplaceConfig) -> Entry:
    """One live entry in the desired side's canonical form, cut to :data:`MANAGED_FIELDS`."""
    e = _managed_fields(attribute, entry)
    if attribute in _MARKETPLACE_SELECTED and "marketplace_id" not in e:
        e["marketplace_id"] = mp.marketplace_id
    if attribute == "purchasable_offer":
        e.setdefault("audience", "ALL")
        currency = str(e.get("currency") or mp.currency)
        for name, value in list(e.items()):
            if name == "quantity_discount_plan":
                e[name] = discount_plan(value)
            elif isinstance(value, list):
                e[name] = _money_schedules(value, currency)
    elif attribute == "list_price":
        currency = str(e.get("currency") or mp.currency)
        for name in ("value", "value_with_tax"):
            if name in e:
                e[name] = to_decimal(e[name], currency)
    elif attribute == "fulfillment_availability":
        # The channel code is the only selector; Amazon's echoed marketplace_id is noise.
        e.pop("marketplace_id", None)
        for name in _INT_FIELDS & e.keys():
            e[name] = to_int(e[name])
    elif attribute not in MANAGED_FIELDS:
        e = {k: canonical_number(v) for k, v in e.items()}
    return e


def canonical_number(value: Any) -> Any:
    """Integral floats as ints, recursively (desired YAML ints stay ints; ``12.0`` from Amazon
    is ``12``). Other values unchanged."""
    t = type(value)
    if t is float and value.is_integer():
        return int(value)
    if t is dict:
        return {k: canonical_number(v) for k, v in value.items()}
    if t is list:
        return [canonical_number(v) for v in value]
    return value


def discount_plan(value: Any) -> Any:
    """A ``quantity_discount_plan`` with int lower bounds and Decimal level values (2 places, as
    ``reconciler.catalog.offers`` writes them)."""
    if not isinstance(value, list):
        return value
    out = []
    for plan in value:
        if isinstance(plan, dict) and isinstance(plan.get("schedule"), list):
            plan = {**plan, "schedule": [
                {**s, "levels": [
                    {**lv, "lower_bound": to_int(lv.get("lower_bound")),
                     "value": to_decimal(lv.get("value"), "")}
                    if isinstance(lv, dict) else lv for lv in s["levels"]
                ]} if isinstance(s, dict) and isinstance(s.get("levels"), list) else s
                for s in plan["schedule"]
            ]}
        out.append(plan)
    return out


def selector_fields(
    attribute: str, selectors: Mapping[str, tuple[str, ...]] | None = None
) -> tuple[str, ...]:
    """The selector fields of ``attribute``: the product type definition's (``selectors``), else
    :data:`~reconciler.kernel.model.SELECTORS`, else ``marketplace_id``."""
    if selectors is not None:
        found = selectors.get(attribute)
        if found:
            return found
    return SELECTORS.get(attribute, _DEFAULT_SELECTOR)


def selector_of(
    attribute: str, entry: Entry, selectors: Mapping[str, tuple[str, ...]] | None = None
) -> tuple[tuple[str, str], ...]:
    """The (field, value) pairs that identify ``entry`` within ``attribute``."""
    get = entry.get
    return tuple([(name, str(get(name, ""))) for name in selector_fields(attribute, selectors)])


def sort_entries(attribute: str, entries: Iterable[Entry]) -> list[Entry]:
    """Entries sorted by selector values; a stable sort, so bullets keep their order."""
    return sorted(entries, key=lambda e: tuple(v for _, v in selector_of(attribute, e)))


def canonical_attributes(
    attributes: Mapping[str, Any], mp: MarketplaceConfig, keep: Collection[str] | None = None
) -> Attributes:
    """Restrict to the attributes ``keep`` names (all when None) and to entries of ``mp`` (or
    without marketplace_id), and canonicalise."""
    out: Attributes = {}
    for name in sorted(attributes):
        if keep is not None and name not in keep:
            continue  # no desired listing manages it: not kept (memory at 100k listings)
        value = attributes[name]
        if not isinstance(value, list):
            continue  # attributes are arrays (CONTRACT.md §7); anything else is not ours
        entries = [
            canonical_entry(name, e, mp)
            for e in value
            if isinstance(e, dict)
            and e.get("marketplace_id", mp.marketplace_id) == mp.marketplace_id
        ]
        if not entries:
            continue
        out[sys.intern(name)] = sort_entries(name, entries)
    return out


# --------------------------------------------------------------------------- items


def _for_marketplace(items: Any, mp: MarketplaceConfig) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        return []
    return [i for i in items if isinstance(i, dict) and i.get("marketplaceId") == mp.marketplace_id]


def amazon_issues(raw: Any, marketplace_id: str | None = None) -> tuple[Issue, ...]:
    """Amazon's ``Issue`` objects (a listing's, or a submission response's ``issues``) as
    :class:`Issue`; with ``marketplace_id``, only those that apply to it (an issue naming no
    marketplace applies to all)."""
    out = []
    for i in raw or ():
        if not isinstance(i, Mapping):
            continue
        mps = i.get("marketplaceIds")
        if marketplace_id is not None and mps and marketplace_id not in mps:
            continue
        out.append(
            Issue(
                code=str(i.get("code", "")),
                message=str(i.get("message", "")),
                severity=str(i.get("severity", "ERROR")),
                attribute_names=tuple(str(a) for a in i.get("attributeNames") or ()),
            )
        )
    return tuple(out)


def _derived_fulfillment(item: Mapping[str, Any]) -> list[Entry]:
    out = []
    for fa in item.get("fulfillmentAvailability") or ():
        if isinstance(fa, dict) and "fulfillmentChannelCode" in fa:
            e: Entry = {"fulfillment_channel_code": fa["fulfillmentChannelCode"]}
            if "quantity" in fa:
                e["quantity"] = fa["quantity"]
            out.append(e)
    return out


def _derived_offers(item: Mapping[str, Any], mp: MarketplaceConfig) -> list[Entry]:
    """``offers[]`` (Money strings) as ``purchasable_offer`` entries, for reads that carry offers
    but no ``attributes.purchasable_offer``."""
    out = []
    for o in _for_marketplace(item.get("offers"), mp):
        price = o.get("price")
        if not isinstance(price, dict) or "amount" not in price:
            continue
        audience = o.get("audience")
        aud = audience.get("value", "ALL") if isinstance(audience, dict) else "ALL"
        if o.get("offerType") == "B2B" and not audience:
            aud = "B2B"
        out.append(
            {
                "marketplace_id": mp.marketplace_id,
                "currency": price.get("currencyCode", mp.currency),
                "audience": aud,
                "our_price": [{"schedule": [{"value_with_tax": price["amount"]}]}],
            }
        )
    return out


_STATUSES: dict[tuple[str, ...], tuple[str, ...]] = {}


def _status(value: Any) -> tuple[str, ...]:
    """The summary's status as a tuple, one shared tuple per distinct status."""
    status = tuple(str(s) for s in value or ())
    if len(_STATUSES) < 64:  # a handful of values in practice; bounded all the same
        return _STATUSES.setdefault(status, status)
    return _STATUSES.get(status, status)


def normalize_item(
    item: Mapping[str, Any],
    key: ListingKey,
    mp: MarketplaceConfig,
    keep: Collection[str] | None = None,
) -> LiveListing:
    """One SP-API ``Item`` (getListingsItem / searchListingsItems) as the live listing of ``key``
    in marketplace ``mp``, keeping the attributes ``keep`` names (all when None)."""
    summaries = _for_marketplace(item.get("summaries"), mp)
    summary = summaries[0] if summaries else {}
    product_type = str(summary.get("productType", ""))
    if not product_type:
        types = _for_marketplace(item.get("productTypes"), mp)
        product_type = str(types[0].get("productType", "")) if types else ""

    raw = dict(item.get("attributes") or {})
    if "fulfillment_availability" not in raw and item.get("fulfillmentAvailability"):
        raw["fulfillment_availability"] = _derived_fulfillment(item)
    if "purchasable_offer" not in raw:
        offers = _derived_offers(item, mp)
        if offers:
            raw["purchasable_offer"] = offers

    return LiveListing(
        key=key,
        product_type=sys.intern(product_type),
        attributes=canonical_attributes(raw, mp, keep),
        status=_status(summary.get("status")),
        issues=amazon_issues(item.get("issues"), mp.marketplace_id),
        last_updated=sys.intern(str(summary.get("lastUpdatedDate", ""))),
    )


# --------------------------------------------------------------------------- managed projection


