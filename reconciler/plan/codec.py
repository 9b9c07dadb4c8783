"""The plan's canonical JSON form, element by element: each value of a plan to a JSON-ready dict
(Decimals as exact strings) and back. :meth:`Plan.data <reconciler.plan.value.Plan.data>` and
:meth:`Plan.from_data <reconciler.plan.value.Plan.from_data>` are made of these."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from reconciler.kernel.model import (
    Entry,
    FieldChange,
    HeldText,
    Issue,
    ListingKey,
    PriceDerivation,
)
from reconciler.plan.change import ACTIONS, Change, Held
from reconciler.plan.patches import listing_request
from reconciler.plan.strategy import HybridSplit, StrategyEstimate

# Money fields stored as strings in data() and turned back into Decimal by from_data().
_MONEY_FIELDS = {
    "purchasable_offer": ("value_with_tax", "value"),  # value: a quantity discount level
    "list_price": ("value", "value_with_tax"),
}


def fingerprint_data(k: ListingKey, fp: str) -> dict[str, str]:
    return {**key_data(k), "fingerprint": fp}


def to_plain(value: Any) -> Any:
    """Decimals as strings, tuples as lists: JSON-ready and exact."""
    t = type(value)  # exact-type fast paths first: this runs for every entry of every change
    if t is str or t is int:
        return value
    if t is dict:
        return {k if type(k) is str else str(k): to_plain(v) for k, v in value.items()}
    if t is list or t is tuple:
        return [to_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def issue_data(i: Issue) -> dict[str, Any]:
    return {
        "code": i.code,
        "message": i.message,
        "severity": i.severity,
        "attribute_names": list(i.attribute_names),
    }


def issue_from(d: Mapping[str, Any]) -> Issue:
    return Issue(
        str(d["code"]),
        str(d["message"]),
        str(d.get("severity", "ERROR")),
        tuple(str(a) for a in d.get("attribute_names", ())),
    )


def key_data(k: ListingKey) -> dict[str, str]:
    return {"account": k.account, "sku": k.sku, "marketplace_id": k.marketplace_id}


def key_from(d: Mapping[str, Any]) -> ListingKey:
    return ListingKey(str(d["account"]), str(d["sku"]), str(d["marketplace_id"]))


def field_data(f: FieldChange, plain: bool = True) -> dict[str, Any]:
    return {
        "attribute": f.attribute,
        "selector": [list(p) for p in f.selector],
        "old": to_plain(f.old) if plain else f.old,
        "new": to_plain(f.new) if plain else f.new,
    }


def _decimal_or_str(value: str) -> Decimal | str:
    # Live money is normalized to Decimal; only a non-numeric read-back stays a string.
    try:
        return Decimal(value)
    except InvalidOperation:
        return value


def _money_back(attribute: str, value: Any) -> Any:
    names = _MONEY_FIELDS.get(attribute, ())
    if isinstance(value, dict):
        return {
            k: _decimal_or_str(v)
            if k in names and isinstance(v, str)
            else _money_back(attribute, v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_money_back(attribute, v) for v in value]
    return value


def _entries_from(attribute: str, value: Any) -> list[Entry] | None:
    if value is None:
        return None
    return [dict(_money_back(attribute, e)) for e in value]


def field_from(d: Mapping[str, Any]) -> FieldChange:
    a = str(d["attribute"])
    return FieldChange(
        a,
        tuple((str(k), str(v)) for k, v in d["selector"]),
        _entries_from(a, d["old"]),
        _entries_from(a, d["new"]),
    )


_DECIMAL_DERIVATION_FIELDS = (
    "base",
    "rate",
    "tax_delta",
    "raw",
    "result",
    "guard_min",
    "guard_max",
)


def derivation_data(p: PriceDerivation, plain: bool = True) -> dict[str, Any]:
    if not plain:
        return {name: getattr(p, name) for name in PriceDerivation.__dataclass_fields__}
    return {name: to_plain(getattr(p, name)) for name in PriceDerivation.__dataclass_fields__}


def derivation_from(d: Mapping[str, Any]) -> PriceDerivation:
    kw: dict[str, Any] = {}
    for name in PriceDerivation.__dataclass_fields__:
        if name not in d:
            continue
        v = d[name]
        if name == "vars":
            v = tuple((str(k), Decimal(x)) for k, x in v)
        kw[name] = Decimal(v) if name in _DECIMAL_DERIVATION_FIELDS and v is not None else v
    return PriceDerivation(**kw)


def change_data(c: Change, plain: bool = True, request: bool = True) -> dict[str, Any]:
    d = {
        **key_data(c.key),
        "marketplace": c.marketplace,
        "action": c.action,
        "product_type": c.product_type,
        "mli": c.mli,
        "fingerprint": c.fingerprint,
        "fields": [field_data(f, plain) for f in c.fields],
        "derivations": [derivation_data(p, plain) for p in c.derivations],
    }
    if c.action == "create":
        d["requirements"] = c.requirements
    if request:
        d["request"] = request_data(c)
    return d


def write_data(c: Change, plain: bool = True) -> dict[str, Any]:
    """What ``c`` writes, as a reviewer approves it: the listing, the action and, for a create
    or an update, the product type, the MLI flag (it adds ``DEFAULT = 0`` to the request) and
    each field set with its new value. Never the old values, the fingerprint or the price
    derivations (they explain a value, they are not written). The plan's checksum is made of
    these (:meth:`Plan.intent <reconciler.plan.value.Plan.intent>`)."""
    d: dict[str, Any] = {**key_data(c.key), "action": c.action}
    if c.action != "delete":  # a delete writes nothing but the listing's removal
        d["product_type"] = c.product_type
        d["mli"] = c.mli
        d["fields"] = [
            {
                "attribute": f.attribute,
                "selector": [list(p) for p in f.selector],
                "new": to_plain(f.new) if plain else f.new,
            }
            for f in c.fields
        ]
    if c.action == "create" and c.requirements != "LISTING":
        d["requirements"] = c.requirements  # the requirements set the put is checked against
    return d


def request_data(c: Change) -> dict[str, Any]:
    """The exact SP-API request apply sends for this change (derived, so reviewers and the
    JSON plan see what will be written; ignored by from_data)."""
    req = listing_request(c)
    out: dict[str, Any] = {"method": req.method}
    if req.body is not None:
        out["body"] = req.body
    return out


def change_from(d: Mapping[str, Any]) -> Change:
    action = str(d["action"])
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return Change(
        key=key_from(d),
        marketplace=str(d["marketplace"]),
        action=action,
        product_type=str(d["product_type"]),
        fields=tuple(field_from(f) for f in d["fields"]),
        derivations=tuple(derivation_from(p) for p in d["derivations"]),
        mli=bool(d["mli"]),
        fingerprint=str(d["fingerprint"]),
        requirements=str(d.get("requirements", "LISTING")),
    )


def held_data(h: Held) -> dict[str, Any]:
    out = {
        **key_data(h.key),
        "marketplace": h.marketplace,
        "reason": h.reason,
        "attributes": list(h.attributes),
        "whole_listing": h.whole_listing,
    }
    if h.texts:  # only with drafted translations: other plans keep their bytes
        out["texts"] = [held_text_data(t) for t in h.texts]
    return out


def held_text_data(t: HeldText) -> dict[str, Any]:
    return {
        "attribute": t.attribute, "status": t.status, "language": t.language,
        "source_language": t.source_language, "source": list(t.source), "draft": list(t.draft),
        "gates": list(t.gates), "reason": t.reason, "source_diff": list(t.source_diff),
    }


def _strs(v: Any) -> tuple[str, ...]:
    return tuple(str(x) for x in v or ())


def held_from(d: Mapping[str, Any]) -> Held:
    return Held(
        key=key_from(d),
        marketplace=str(d["marketplace"]),
        reason=str(d["reason"]),
        attributes=tuple(str(a) for a in d["attributes"]),
        whole_listing=bool(d["whole_listing"]),
        texts=tuple(
            HeldText(
                str(t["attribute"]), str(t["status"]), str(t["language"]),
                str(t.get("source_language", "")), _strs(t.get("source")), _strs(t.get("draft")),
                _strs(t.get("gates")), str(t.get("reason", "")), _strs(t.get("source_diff")),
            )
            for t in d.get("texts") or ()
        ),
    )


def strategy_data(s: StrategyEstimate | None) -> dict[str, Any] | None:
    if s is None:
        return None
    data: dict[str, Any] = {
        "chosen": s.chosen,
        "patch_seconds": s.patch_seconds,
        "feed_seconds": s.feed_seconds,
        "feeds": s.feeds,
        "listings": s.listings,
    }
    if s.feed_only:  # only when some SKU needs a feed: plans without one keep their bytes
        data["feed_only"] = s.feed_only
    if s.hybrid is not None:  # only when chosen: other plans keep their bytes
        h = s.hybrid
        data["hybrid"] = {
            "seconds": h.seconds,
            "patch_listings": h.patch_listings,
            "feed_listings": h.feed_listings,
            "feeds": h.feeds,
            "patch_skus": [[a, r, k] for a, r, k in h.patch_skus],
        }
    return data


def _hybrid_from(d: Mapping[str, Any] | None) -> HybridSplit | None:
    if not d:
        return None
    return HybridSplit(
        seconds=float(d["seconds"]),
        patch_listings=int(d["patch_listings"]),
        feed_listings=int(d["feed_listings"]),
        feeds=int(d["feeds"]),
        patch_skus=tuple((str(a), str(r), int(k)) for a, r, k in d["patch_skus"]),
    )


def strategy_from(d: Mapping[str, Any] | None) -> StrategyEstimate | None:
    if d is None:
        return None
    return StrategyEstimate(
        chosen=str(d["chosen"]),
        patch_seconds=float(d["patch_seconds"]),
        feed_seconds=float(d["feed_seconds"]),
        feeds=int(d["feeds"]),
        listings=int(d["listings"]),
        feed_only=int(d.get("feed_only", 0)),
        hybrid=_hybrid_from(d.get("hybrid")),
    )
