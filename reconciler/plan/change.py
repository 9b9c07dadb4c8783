"""What a plan is made of: one :class:`Change` per listing written (create, update or delete,
with its field changes and price derivations) and one :class:`Held` per listing held for
review. Frozen values; the :class:`~reconciler.plan.value.Plan` keeps them sorted."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.kernel.model import (
    FieldChange,
    HeldText,
    ListingKey,
    PriceDerivation,
)
from reconciler.plan.projection import ABSENT

ACTIONS = ("create", "update", "delete")


PRICE_ATTRIBUTES = ("purchasable_offer", "list_price")


@dataclass(frozen=True)
class Change:
    key: ListingKey
    marketplace: str  # code, e.g. "CA"
    action: str  # create | update | delete
    product_type: str
    fields: tuple[FieldChange, ...]
    derivations: tuple[PriceDerivation, ...] = ()
    mli: bool = False
    fingerprint: str = ABSENT
    requirements: str = "LISTING"  # a create's putListingsItem requirements set

    @property
    def name(self) -> str:
        return listing_name(self.key, self.marketplace)


@dataclass(frozen=True)
class Held:
    """A listing (or its texts) held for review: nothing is written in the wrong language."""

    key: ListingKey
    marketplace: str
    reason: str
    attributes: tuple[str, ...]
    whole_listing: bool
    texts: tuple[HeldText, ...] = ()  # drafted translations held: source, draft, gates, status

    @property
    def name(self) -> str:
        return listing_name(self.key, self.marketplace)


def listing_name(key: ListingKey, marketplace: str) -> str:
    return f"{key.sku} ({marketplace})"
