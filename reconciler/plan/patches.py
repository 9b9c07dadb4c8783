"""Plan changes -> SP-API request bodies and JSON_LISTINGS_FEED messages (design.md §6).

One request per listing: every field change of a listing goes into ONE patch body (one op per
attribute), so a listing is never half-updated and, on Multi-Location Inventory marketplaces,
``DEFAULT = 0`` travels with the location quantities.

Ops (CONTRACT.md §3.3):

- ``purchasable_offer``, ``fulfillment_availability``, ``list_price``: ``merge`` with the changed
  selector entries. Merge updates only the fields we send inside the instance matched by its
  selectors, so siblings we do not manage (``discounted_price``,
  ``minimum_seller_allowed_price``, ``lead_time_to_ship_max_days``, ``restock_date``) survive.
- texts (``item_name``, ``product_description``, ``bullet_point``) and every other attribute:
  ``replace`` with the complete entries of each changed selector (bullets: the full ordered
  list), so a shorter bullet list really loses its extra bullets.
- a selector the catalog clears (``clear``): ``delete`` with its selector values ("attributes
  cannot be deleted by name alone", CONTRACT.md §3.3;
  https://developer-docs.amazon.com/sp-api/docs/manage-purchasable-offer). A field cleared inside a
  ``purchasable_offer`` entry (a sale price, the quantity discounts, a min/max allowed price)
  travels in the entry's ``merge`` as ``null``, which deletes just that field (Amazon's merge
  semantics, https://developer-docs.amazon.com/sp-api/docs/merge-a-listing and the 2025-06-16
  changelog "...now include a JSON patch merge operation"). A feed ``PATCH`` message carries the
  same patches.
- create: ``PUT`` ``{productType, requirements, attributes}`` (feed ``UPDATE``) with the
  listing's requirements set; cleared fields are left out (nothing to delete yet);
  delete: ``DELETE`` (feed ``DELETE``).

Values are plain JSON (Decimal -> JSON number). Pure: no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from reconciler.kernel.model import DEFAULT_CHANNEL, Entry, to_json_value

if TYPE_CHECKING:  # plan.py imports this module to put each request into Plan.data()
    from reconciler.plan.change import Change

MERGE_ATTRIBUTES = frozenset({"purchasable_offer", "fulfillment_availability", "list_price"})
FEED_VERSION = "2.0"


class ListingRequest(NamedTuple):
    method: str  # PATCH | PUT | DELETE
    sku: str
    marketplace_id: str
    body: dict[str, Any] | None


def _new_attributes(change: Change) -> dict[str, list[Entry]]:
    """Changed selector entries per attribute, in the change's (sorted) order."""
    attrs: dict[str, list[Entry]] = {}
    for f in change.fields:
        if f.new is not None:
            attrs.setdefault(f.attribute, []).extend(f.new)
    if change.mli and "fulfillment_availability" in attrs:
        # MLI invariant: never send location quantities without DEFAULT = 0 in the same body.
        codes = {e.get("fulfillment_channel_code") for e in attrs["fulfillment_availability"]}
        if DEFAULT_CHANNEL not in codes:
            attrs["fulfillment_availability"].append(
                {"fulfillment_channel_code": DEFAULT_CHANNEL, "quantity": 0}
            )
    return attrs


def _deleted_selectors(change: Change) -> dict[str, list[Entry]]:
    """Per attribute, the selector values of the entries the change removes (``clear``)."""
    out: dict[str, list[Entry]] = {}
    for f in change.fields:
        if f.new is None and f.old is not None:
            out.setdefault(f.attribute, []).append(dict(f.selector))
    return out


def patch_ops(change: Change) -> list[dict[str, Any]]:
    """The patch operations of an update: one per attribute, plus one ``delete`` per attribute
    with cleared selectors."""
    ops = []
    for attribute, entries in sorted(_new_attributes(change).items()):
        ops.append(
            {
                "op": "merge" if attribute in MERGE_ATTRIBUTES else "replace",
                "path": f"/attributes/{attribute}",
                "value": to_json_value(entries),
            }
        )
    for attribute, selectors in sorted(_deleted_selectors(change).items()):
        ops.append({"op": "delete", "path": f"/attributes/{attribute}", "value": selectors})
    return ops


def _without_nulls(value: Any) -> Any:
    """``value`` without the fields the catalog clears (None): a create has nothing to clear."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def listing_request(change: Change) -> ListingRequest:
    """The one Listings Items API request that applies ``change``."""
    key = change.key
    if change.action == "delete":
        return ListingRequest("DELETE", key.sku, key.marketplace_id, None)
    if change.action == "create":
        body = {
            "productType": change.product_type,
            "requirements": change.requirements,
            "attributes": _without_nulls(
                to_json_value(dict(sorted(_new_attributes(change).items())))
            ),
        }
        return ListingRequest("PUT", key.sku, key.marketplace_id, body)
    if change.action == "update":
        ops = patch_ops(change)
        if not ops:
            raise ValueError(f"{change.name}: update without field changes")
        return ListingRequest(
            "PATCH",
            key.sku,
            key.marketplace_id,
            {"productType": change.product_type, "patches": ops},
        )
    raise ValueError(f"{change.name}: unknown action {change.action!r}")


def feed_message(change: Change, message_id: int) -> dict[str, Any]:
    """The JSON_LISTINGS_FEED v2 message equivalent to :func:`listing_request`."""
    req = listing_request(change)
    msg: dict[str, Any] = {"messageId": message_id, "sku": req.sku}
    if req.method == "DELETE":
        msg["operationType"] = "DELETE"
    elif req.method == "PUT":
        assert req.body is not None
        msg.update(operationType="UPDATE", **req.body)
    else:
        assert req.body is not None
        msg.update(operationType="PATCH", **req.body)
    return msg


def feed_document(
    seller_id: str, messages: list[dict[str, Any]], *, issue_locale: str = "en_US"
) -> dict[str, Any]:
    """A JSON_LISTINGS_FEED v2 document (at most 25,000 messages; the caller batches)."""
    return {
        "header": {"sellerId": seller_id, "version": FEED_VERSION, "issueLocale": issue_locale},
        "messages": messages,
    }
