"""Amazon's usage plans: the one table the client, the emulator and the estimates share.

Rates are requests per second, bursts are bucket sizes (token buckets, CONTRACT.md §4). Where
the models' "Usage Plan" tables and Amazon's current rate-limit pages differ, the pages win:

- Listings Items, https://developer-docs.amazon.com/sp-api/docs/listings-items-api-rate-limits
  (per account-application pair / per application / burst): getListingsItem 5 / 100 / 5,
  putListingsItem 5 / 100 / 5 (variation data: 25 per application), patchListingsItem
  5 / 500 / 5 (variation data: 5, product data such as ``item_name``: 100, validation previews:
  20 per application), deleteListingsItem 5 / 100 / 5. The models still say burst 10 for get
  and put. searchListingsItems is not on the page: the model's 5 / 5.
- ``mode=VALIDATION_PREVIEW``: "a throttling rate of one request per second" for putListingsItem
  and patchListingsItem (the operations' reference and the changelog
  https://developer-docs.amazon.com/sp-api/changelog/update-listings-items-api-v2021-08-01-now-supports-previewing-errors),
  plus the page's 20 per application. Previews are metered by their own per-account bucket
  (key ``"<operation>:VALIDATION_PREVIEW"``, 1 / 1), not by the operation's write bucket.
- 429 answers of put/patch name the limit they hit since 2025-06-25
  (https://developer-docs.amazon.com/sp-api/changelog/update-listings-items-api-now-returns-granular-rate-limit-throttle-messages):
  :data:`APP_THROTTLE_MESSAGES`; the per-account limit keeps the generic ``QuotaExceeded``
  message (:data:`QUOTA_EXCEEDED_MESSAGE`).
- Feeds, https://developer-docs.amazon.com/sp-api/docs/feeds-api-rate-limits, and on top of
  createFeed's bucket the JSON_LISTINGS_FEED limit of five submissions per five minutes per
  region (since 2025-05-06,
  https://developer-docs.amazon.com/sp-api/changelog/update-feed-size-and-rate-limit-changes-for-the-json_listings_feed):
  :data:`JSON_LISTINGS_FEED_WINDOW`, read as a sliding window (at most 5 in any 300 s), the
  strictest reading, which a token bucket of the same figures would also accept.

Per-application limits apply to all sellers of one application together (the emulator meters
them per LWA client); the per-application bursts are not published, the emulator uses one
second's worth. Pure data and arithmetic: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class Quota(NamedTuple):
    rate: float  # tokens per second
    burst: int  # bucket size


class Window(NamedTuple):
    """At most ``limit`` requests in any ``seconds``."""

    limit: int
    seconds: float


PREVIEW = "VALIDATION_PREVIEW"


def limit_key(operation: str, mode: str | None = None) -> str:
    """The key of the per-account bucket a request takes from (previews have their own)."""
    return f"{operation}:{PREVIEW}" if mode == PREVIEW else operation


QUOTAS: dict[str, Quota] = {
    # Listings Items 2021-08-01 (the rate-limits page)
    "getListingsItem": Quota(5.0, 5),
    "putListingsItem": Quota(5.0, 5),
    "patchListingsItem": Quota(5.0, 5),
    "deleteListingsItem": Quota(5.0, 5),
    "searchListingsItems": Quota(5.0, 5),
    "putListingsItem:" + PREVIEW: Quota(1.0, 1),
    "patchListingsItem:" + PREVIEW: Quota(1.0, 1),
    # Feeds 2021-06-30
    "getFeeds": Quota(0.0222, 10),
    "createFeed": Quota(0.0083, 15),
    "getFeed": Quota(2.0, 15),
    "cancelFeed": Quota(2.0, 15),
    "createFeedDocument": Quota(0.5, 15),
    "getFeedDocument": Quota(0.0222, 10),
    # Supply Sources 2020-07-01: the model states no usage plan; we assume a conservative 1/5.
    "getSupplySources": Quota(1.0, 5),
    "getSupplySource": Quota(1.0, 5),
    "createSupplySource": Quota(1.0, 5),
    "updateSupplySource": Quota(1.0, 5),
    "archiveSupplySource": Quota(1.0, 5),
    "updateSupplySourceStatus": Quota(1.0, 5),
    # Orders 2026-01-01 (getOrder has the same plan in v0 and 2026-01-01)
    "searchOrders": Quota(0.0056, 20),
    "getOrder": Quota(0.5, 30),
    # Orders v0
    "getOrders": Quota(0.0167, 20),
    "getOrderItems": Quota(0.5, 30),
    "confirmShipment": Quota(2.0, 10),
    # Product Type Definitions 2020-09-01: the model says 5/10; Amazon's current usage-plan page
    # says rate 5, burst 5 (CONTRACT.md §4: the docs page is what Amazon enforces).
    "getDefinitionsProductType": Quota(5.0, 5),
    "searchDefinitionsProductTypes": Quota(5.0, 5),
    # Notifications v1: every operation 1 rps, burst 5 (the usage plan of each operation in
    # notifications_v1.json)
    **dict.fromkeys(
        (
            "getSubscriptions",
            "getSubscription",
            "createSubscription",
            "getSubscriptionById",
            "deleteSubscriptionById",
            "getDestinations",
            "createDestination",
            "getDestination",
            "deleteDestination",
        ),
        Quota(1.0, 5),
    ),
}

# Per-application rates (every seller of one application together). Keys: an operation, its
# preview key, or "<operation>:<update class>" for the put/patch limits by attribute class.
RELATIONSHIPS = "relationships"
PRODUCT_DATA = "product_data"
APP_RATES: dict[str, float] = {
    "getListingsItem": 100.0,
    "putListingsItem": 100.0,
    "patchListingsItem": 500.0,
    "deleteListingsItem": 100.0,
    "patchListingsItem:" + PREVIEW: 20.0,
    "putListingsItem:" + RELATIONSHIPS: 25.0,
    "patchListingsItem:" + RELATIONSHIPS: 5.0,
    "patchListingsItem:" + PRODUCT_DATA: 100.0,
}
QUOTA_EXCEEDED_MESSAGE = "You exceeded your quota for the requested resource."
APP_THROTTLE_MESSAGES = {
    "application": "The frequency of requests was greater than what is allowed for the "
    "application.",
    RELATIONSHIPS: "The frequency of requests was greater than what is allowed for "
    "relationships.",
    PRODUCT_DATA: "The frequency of requests was greater than what is allowed for product data.",
}
# "relationship updating attributes (child_parent_sku_relationship, package_contains_sku)"
RELATIONSHIP_ATTRIBUTES = frozenset({"child_parent_sku_relationship", "package_contains_sku"})
# Offer and inventory attributes. Amazon names product data only by example ("for example,
# item_name"); every attribute that is neither this nor a relationship counts as product data.
OFFER_ATTRIBUTES = frozenset(
    {
        "purchasable_offer",
        "fulfillment_availability",
        "list_price",
        "condition_type",
        "condition_note",
        "max_order_quantity",
        "merchant_release_date",
        "skip_offer",
        "main_offer_image_locator",
        "other_offer_image_locator",
    }
)


def update_classes(attribute_names: Iterable[str]) -> list[str]:
    """The attribute classes with their own per-application limit that a put/patch touches."""
    names = set(attribute_names)
    out = []
    if names & RELATIONSHIP_ATTRIBUTES:
        out.append(RELATIONSHIPS)
    if names - RELATIONSHIP_ATTRIBUTES - OFFER_ATTRIBUTES:
        out.append(PRODUCT_DATA)
    return out


# JSON_LISTINGS_FEED submissions per seller and region (see the module docstring).
JSON_LISTINGS_FEED_WINDOW = Window(5, 300.0)
JSON_LISTINGS_FEED_MAX_MESSAGES = 25_000
# Amazon's static sandbox hosts: 5 rps, burst 15 for every operation.
SANDBOX_QUOTA = Quota(5.0, 15)
# Searches return at most 20 items a page and take at most 20 identifiers.
SEARCH_MAX_IDENTIFIERS = 20


def window_wait(i: int, window: Window, rate_scale: float = 1.0) -> float:
    """Seconds from the first submission until submission ``i`` (0-based) of a back-to-back
    series fits a sliding ``window``: every ``limit`` submissions open the next window."""
    return (i // window.limit) * window.seconds / rate_scale
