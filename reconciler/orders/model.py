"""Normalized order values: one shape for every marketplace and API version.

``normalize(raw, account)`` maps a 2026-01-01 ``Order`` (searchOrders/getOrder) to an
:class:`Order`; ``Order.to_json``/``from_json`` round-trip it through the local state and the
JSON/CSV exports. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.kernel.marketplaces import BY_ID


@dataclass(frozen=True)
class OrderLine:
    order_item_id: str
    sku: str
    quantity: int
    title: str = ""


@dataclass(frozen=True)
class ShipTo:
    country: str  # ISO 3166-1 alpha-2 (GB, not UK)
    region: str  # stateOrRegion as sent ("" when absent)
    city: str = ""
    postal_code: str = ""


@dataclass(frozen=True)
class Order:
    order_id: str
    account: str
    seller_id: str
    marketplace: str  # our code: US, CA, UK, ...
    marketplace_id: str
    created: str  # ISO 8601 as Amazon sent it
    last_updated: str
    status: str  # FulfillmentStatus: UNSHIPPED, SHIPPED, ...
    fulfilled_by: str  # MERCHANT | AMAZON
    ship_to: ShipTo
    lines: tuple[OrderLine, ...]

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "orderId": self.order_id, "account": self.account, "sellerId": self.seller_id,
            "marketplace": self.marketplace, "marketplaceId": self.marketplace_id,
            "created": self.created, "lastUpdated": self.last_updated, "status": self.status,
            "fulfilledBy": self.fulfilled_by,
            "shipTo": {"country": self.ship_to.country, "region": self.ship_to.region,
                       "city": self.ship_to.city, "postalCode": self.ship_to.postal_code},
            "lines": [{"orderItemId": x.order_item_id, "sku": x.sku, "quantity": x.quantity,
                       "title": x.title} for x in self.lines],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Order:
        s = d["shipTo"]
        return cls(
            d["orderId"], d["account"], d["sellerId"], d["marketplace"], d["marketplaceId"],
            d["created"], d["lastUpdated"], d["status"], d["fulfilledBy"],
            ShipTo(s["country"], s["region"], s.get("city", ""), s.get("postalCode", "")),
            tuple(OrderLine(x["orderItemId"], x["sku"], int(x["quantity"]), x.get("title", ""))
                  for x in d["lines"]),
        )


CSV_FIELDS = ("order_id", "account", "marketplace", "created", "last_updated", "status",
              "fulfilled_by", "country", "region", "city", "postal_code", "order_item_id", "sku",
              "quantity")


def csv_rows(order: Order) -> list[dict[str, Any]]:
    """One CSV row per order line (the order's fields repeated)."""
    base = {"order_id": order.order_id, "account": order.account,
            "marketplace": order.marketplace, "created": order.created,
            "last_updated": order.last_updated, "status": order.status,
            "fulfilled_by": order.fulfilled_by, "country": order.ship_to.country,
            "region": order.ship_to.region, "city": order.ship_to.city,
            "postal_code": order.ship_to.postal_code}
    return [{**base, "order_item_id": x.order_item_id, "sku": x.sku, "quantity": x.quantity}
            for x in order.lines]


def normalize(raw: dict[str, Any], account: str, seller_id: str) -> Order:
    """A 2026-01-01 ``Order`` -> :class:`Order` (needs ``RECIPIENT`` and ``FULFILLMENT``)."""
    mp_id = str((raw.get("salesChannel") or {}).get("marketplaceId") or "")
    market = BY_ID.get(mp_id)
    addr = (raw.get("recipient") or {}).get("deliveryAddress") or {}
    ful = raw.get("fulfillment") or {}
    lines = []
    for item in raw.get("orderItems") or []:
        product = item.get("product") or {}
        lines.append(OrderLine(str(item["orderItemId"]), str(product.get("sellerSku") or ""),
                               int(item["quantityOrdered"]), str(product.get("title") or "")))
    country = str(addr.get("countryCode") or "").upper()
    return Order(
        order_id=str(raw["orderId"]), account=account, seller_id=seller_id,
        marketplace=market.code if market is not None else mp_id, marketplace_id=mp_id,
        created=str(raw["createdTime"]), last_updated=str(raw["lastUpdatedTime"]),
        status=str(ful.get("fulfillmentStatus") or "UNSHIPPED"),
        fulfilled_by=str(ful.get("fulfilledBy") or "MERCHANT"),
        ship_to=ShipTo("GB" if country == "UK" else country,
                       str(addr.get("stateOrRegion") or ""), str(addr.get("city") or ""),
                       str(addr.get("postalCode") or "")),
        lines=tuple(lines),
    )
