"""An order-flow simulation on the in-process emulator (tests and ``bench/orders.py``).

``Sim`` builds an emulator seeded with the given SKUs live in every marketplace of the accounts
(ample stock), one :class:`SpApiClient` per account over the emulator's in-process transport
(rate scale = the emulator's time scale, so quotas bind exactly as at Amazon, only faster), and
helpers to write the warehouse shipments file a routing plan implies.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from reconciler.catalog.raw import StockRow
from reconciler.emulator import auth as emu_auth
from reconciler.emulator.app import Emulator
from reconciler.emulator.state import EmulatorConfig
from reconciler.kernel.model import Account
from reconciler.orders.route import RoutingPlan
from reconciler.spapi.client import SpApiClient

BASE_URL = "https://sellingpartnerapi-na.amazon.com"


def seed_data(accounts: Sequence[Account], skus: Sequence[str], quantity: int) -> dict[str, Any]:
    sellers: dict[str, Any] = {}
    for acc in accounts:
        rows = sellers.setdefault(acc.seller_id, {"listings": []})["listings"]
        for m in acc.marketplaces:
            for sku in skus:
                rows.append({"sku": sku, "marketplaceId": m.marketplace_id,
                             "productType": "PRODUCT", "attributes": {
                                 "item_name": [{"value": f"Item {sku}", "marketplace_id":
                                                m.marketplace_id,
                                                "language_tag": m.language_tag}],
                                 "purchasable_offer": [{
                                     "marketplace_id": m.marketplace_id, "currency": m.currency,
                                     "audience": "ALL",
                                     "our_price": [{"schedule": [{"value_with_tax": 19.99}]}]}],
                                 "fulfillment_availability": [
                                     {"fulfillment_channel_code": "DEFAULT",
                                      "quantity": quantity}]}})
    return {"sellers": sellers}


class Sim:
    def __init__(self, accounts: Sequence[Account], skus: Sequence[str], *,
                 time_scale: float = 1000.0, quantity: int = 1_000_000,
                 config: EmulatorConfig | None = None) -> None:
        self.accounts = tuple(accounts)
        self.emu = Emulator(":memory:", config or EmulatorConfig(time_scale=time_scale,
                                                                 feed_processing_s=2.0))
        self.emu.seed(seed_data(accounts, skus, quantity))
        self.clients: dict[str, SpApiClient] = {}
        for acc in accounts:
            token = f"Atzr|sim-{acc.name}"
            emu_auth.register_refresh_token(self.emu, token, seller_id=acc.seller_id)
            self.clients[acc.name] = SpApiClient(
                seller_id=acc.seller_id, base_url=BASE_URL,
                token_url=BASE_URL + "/auth/o2/token", refresh_token=token,
                client_id="sim-client", client_secret="sim-secret",
                transport=self.emu.transport(), rate_scale=self.emu.config.time_scale)

    def close(self) -> None:
        for c in self.clients.values():
            c.close()
        self.emu.close()

    def __enter__(self) -> Sim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stock_rows(skus: Sequence[str], locations: Sequence[str], on_hand: int) -> tuple[StockRow, ...]:
    return tuple(StockRow(sku, loc, on_hand, n) for n, (sku, loc) in enumerate(
        ((s, loc) for s in skus for loc in locations), 2))


def shipments_csv(plan: RoutingPlan, ship_date: str, *, other_carrier_every: int = 0) -> str:
    """The shipments file the warehouses would export after shipping ``plan``: one line per
    routed order (its first warehouse's default carrier and method)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["order_id", "carrier", "method", "tracking_number", "ship_date"])
    for n, r in enumerate(plan.routed, 1):
        carrier, method = plan.carriers[r.picks[0].warehouse]
        if other_carrier_every and n % other_carrier_every == 0:
            carrier, method = "Speedy Regional Couriers", "Next day"
        w.writerow([r.order.order_id, carrier, method, f"TRK{n:012d}", ship_date])
    return buf.getvalue()
