"""Amazon's published usage plans (rate in requests/second, burst = bucket size).

Figures are the "Usage Plan" tables in each operation's description in the models under
``shared/spapi/`` (CONTRACT.md §4). The emulator enforces them, the client's token buckets start
from them (and then follow ``x-amzn-RateLimit-Limit``), and the apply strategy estimate uses them.
Pure data: no I/O.
"""

from __future__ import annotations

from typing import NamedTuple


class Quota(NamedTuple):
    rate: float  # tokens per second
    burst: int  # bucket size


QUOTAS: dict[str, Quota] = {
    # Listings Items 2021-08-01
    "getListingsItem": Quota(5.0, 10),
    "putListingsItem": Quota(5.0, 10),
    "patchListingsItem": Quota(5.0, 5),
    "deleteListingsItem": Quota(5.0, 5),
    "searchListingsItems": Quota(5.0, 5),
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
}

# Feed-type specific limit on top of createFeed's bucket: JSON_LISTINGS_FEED allows 5
# submissions per 5 minutes per region (since 2025-05-06).
JSON_LISTINGS_FEED_WINDOW = Quota(5 / 300, 5)
JSON_LISTINGS_FEED_MAX_MESSAGES = 25_000
# Amazon's static sandbox hosts: 5 rps, burst 15 for every operation.
SANDBOX_QUOTA = Quota(5.0, 15)
# Searches return at most 20 items a page and take at most 20 identifiers.
SEARCH_MAX_IDENTIFIERS = 20
