"""Listings attribute rules of the emulator: selectors, patch semantics, validation issues.

Pure functions over attribute dicts (``{name: [entry, ...]}``) of ONE marketplace's stored
listing. CONTRACT §3.3:

- ``add``/``replace``: every entry of ``value`` replaces the stored entries with the same selector
  values (all of them: a bullet list is replaced as a whole); entries with other selector values
  are kept;
- ``merge``: only the fields supplied are set in the matched entries (``null`` deletes a field);
  no match -> the entry is added;
- ``delete``: removes the entries whose selector values ``value`` names; selector values are
  required ("attributes cannot be deleted by name alone").

Entries of attributes whose selectors include ``marketplace_id`` carry it: an entry without one
applies to every requested marketplace. Missing ``audience`` means ``ALL``.

Issue codes (Amazon's where known, else chosen here and stable):

=========  ==================================================================  ===============
code       when                                                                source
=========  ==================================================================  ===============
90000900   unknown attribute name ("The attributes are invalid.")              Amazon [obs]
90220      required attribute missing on PUT ("'x' is required but not ...")   Amazon [obs]
4000001    a selector field is missing/empty (Amazon's message, jlevers#493)   emulator
4000003    a bad value: negative quantity, lead time outside 0..30, negative   emulator
           or non-numeric price, wrong currency or marketplace, too long text
4000004    fulfillment_channel_code is not an active supply source (MLI)       emulator
4000005    productType differs from the listing's (and is not PRODUCT)         emulator
4000006    a product type / requirements set the emulator does not define      emulator
4000007    a patch changes an attribute that is ``editable: false``            emulator
=========  ==================================================================  ===============

Attribute names, shapes, lengths and required attributes come from the product type
definitions (``listing_schemas.py`` checks every write against them; ``product_types.py``);
the rules here are the ones a definition cannot express (requested marketplaces, currencies,
supply sources).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from typing import Any

from reconciler.kernel.marketplaces import BY_ID
from reconciler.kernel.model import SELECTORS

from .product_types import selectors as definition_selectors

Entry = dict[str, Any]
Attrs = dict[str, list[Entry]]
Issue = dict[str, Any]

UNKNOWN_ATTRIBUTE = "90000900"
MISSING_ATTRIBUTE = "90220"
MISSING_SELECTOR = "4000001"
INVALID_VALUE = "4000003"
INACTIVE_CHANNEL = "4000004"
PRODUCT_TYPE_MISMATCH = "4000005"

SELECTOR_DEFAULTS = {"audience": "ALL"}
PATH_RX = re.compile(r"^/attributes/([A-Za-z0-9_]+)$")
OPS = ("add", "replace", "merge", "delete")



def selectors(name: str, entry: Entry) -> tuple[str, ...]:
    sel = SELECTORS.get(name) or definition_selectors().get(name)
    if sel:
        return sel
    return ("marketplace_id", "language_tag") if "language_tag" in entry else ("marketplace_id",)


def key(name: str, entry: Entry) -> tuple[str, ...]:
    return tuple(
        str(entry.get(s) if entry.get(s) is not None else SELECTOR_DEFAULTS.get(s, ""))
        for s in selectors(name, entry)
    )


def issue(
    code: str, message: str, names: Iterable[str] = (), categories: Iterable[str] = ()
) -> Issue:
    return {
        "code": code,
        "message": message,
        "severity": "ERROR",
        "attributeNames": list(names),
        "categories": list(categories),
    }


def for_marketplace(name: str, entries: list[Entry], marketplace_id: str) -> list[Entry]:
    """The entries of ``entries`` that apply to ``marketplace_id``, with it filled in."""
    out: list[Entry] = []
    for e in entries:
        if "marketplace_id" not in selectors(name, e):
            out.append(copy.deepcopy(e))
            continue
        mp = e.get("marketplace_id")
        if mp is None:
            e = {**copy.deepcopy(e), "marketplace_id": marketplace_id}
        elif mp != marketplace_id:
            continue
        else:
            e = copy.deepcopy(e)
        out.append(e)
    return out


# ---------------------------------------------------------------------- patch application


def apply_patches(attrs: Attrs, patches: list[dict[str, Any]], marketplace_id: str) -> Attrs:
    """``attrs`` after ``patches`` for one marketplace (a new dict; input untouched)."""
    result = copy.deepcopy(attrs)
    for p in patches:
        m = PATH_RX.match(str(p.get("path", "")))
        if m is None:
            continue
        name = m.group(1)
        value = for_marketplace(name, list(p.get("value") or []), marketplace_id)
        if not value:
            continue
        current = result.get(name, [])
        op = p["op"]
        if op in ("add", "replace"):
            keys = {key(name, e) for e in value}
            current = [e for e in current if key(name, e) not in keys] + value
        elif op == "merge":
            for patch_entry in value:
                k = key(name, patch_entry)
                matched = [e for e in current if key(name, e) == k]
                if not matched:
                    current.append({f: v for f, v in patch_entry.items() if v is not None})
                for e in matched:
                    for f, v in patch_entry.items():
                        if v is None:
                            e.pop(f, None)
                        else:
                            e[f] = v
        elif op == "delete":
            keys = {key(name, e) for e in value}
            current = [e for e in current if key(name, e) not in keys]
        if current:
            result[name] = current
        else:
            result.pop(name, None)
    return result


def replace_all(attributes: Attrs, marketplace_id: str) -> Attrs:
    """A PUT's attributes as stored for one marketplace."""
    out: Attrs = {}
    for name, entries in attributes.items():
        kept = for_marketplace(name, list(entries), marketplace_id)
        if kept:
            out[name] = kept
    return out


# ---------------------------------------------------------------------- validation

ChannelCheck = Callable[[str], bool]


def check_patch_shape(patches: Any) -> str | None:
    """A reason for 400 InvalidInput when ``patches`` is structurally wrong, else None."""
    if not isinstance(patches, list) or not patches:
        return "'patches' must be a non-empty array"
    for i, p in enumerate(patches):
        if not isinstance(p, dict):
            return f"patches[{i}] must be an object"
        if p.get("op") not in OPS:
            return f"patches[{i}].op must be one of {', '.join(OPS)}"
        if not isinstance(p.get("path"), str) or not PATH_RX.match(p["path"]):
            return (
                f"patches[{i}].path must be /attributes/<name>: only top-level listings item"
                " attributes can be patched"
            )
        v = p.get("value")
        if v is None and p["op"] != "delete":
            return f"patches[{i}].value is required for {p['op']}"
        if v is not None and (not isinstance(v, list) or not all(isinstance(e, dict) for e in v)):
            return f"patches[{i}].value must be an array of objects"
    return None


def validate_patches(
    patches: list[dict[str, Any]], marketplace_ids: list[str], channel_ok: ChannelCheck
) -> list[Issue]:
    issues: list[Issue] = []
    for p in patches:
        name = PATH_RX.match(p["path"]).group(1)  # type: ignore[union-attr]
        value = p.get("value") or []
        if p["op"] == "delete" and not value:
            issues.append(_missing_selector(name, selectors(name, {})[0]))
            continue
        issues.extend(
            validate_entries(name, value, marketplace_ids, channel_ok, values=p["op"] != "delete")
        )
    return issues


def validate_attributes(
    attributes: Attrs,
    marketplace_ids: list[str],
    channel_ok: ChannelCheck,
    requirements: str = "LISTING",
) -> list[Issue]:
    issues: list[Issue] = []
    for name, entries in attributes.items():
        issues.extend(validate_entries(name, entries, marketplace_ids, channel_ok, values=True))
    return issues


def _missing_selector(name: str, field: str) -> Issue:
    return issue(
        MISSING_SELECTOR,
        f"The field '{field}' for the attribute '{name}' does not have enough values. The"
        " required minimum is '1' value(s).",
        [name],
        ["MISSING_ATTRIBUTE"],
    )


def _bad(name: str, message: str) -> Issue:
    return issue(INVALID_VALUE, message, [name], ["INVALID_ATTRIBUTE"])


def validate_entries(
    name: str,
    entries: list[Entry],
    marketplace_ids: list[str],
    channel_ok: ChannelCheck,
    *,
    values: bool,
) -> list[Issue]:
    issues: list[Issue] = []
    for e in entries:
        for s in selectors(name, e):
            if s in SELECTOR_DEFAULTS or s == "marketplace_id":
                continue
            if e.get(s) in (None, ""):
                issues.append(_missing_selector(name, s))
        mp = e.get("marketplace_id")
        if mp is not None and mp not in marketplace_ids:
            issues.append(
                _bad(name, f"The value '{mp}' for 'marketplace_id' is not a requested marketplace.")
            )
        if values:
            issues.extend(_validate_values(name, e, marketplace_ids, channel_ok))
    return issues


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _validate_values(
    name: str, e: Entry, marketplace_ids: list[str], channel_ok: ChannelCheck
) -> list[Issue]:
    out: list[Issue] = []
    if name == "fulfillment_availability":
        code = e.get("fulfillment_channel_code")
        q = e.get("quantity")
        if q is not None and (not isinstance(q, int) or isinstance(q, bool) or q < 0):
            out.append(
                _bad(name, f"The value '{q}' for 'quantity' must be an integer of at least 0.")
            )
        lt = e.get("lead_time_to_ship_max_days")
        if lt is not None and (
            not isinstance(lt, int) or isinstance(lt, bool) or not 0 <= lt <= 30
        ):
            out.append(
                _bad(name, f"The value '{lt}' for 'lead_time_to_ship_max_days' must be 0 to 30.")
            )
        if q is not None and e.get("is_inventory_available") is not None:
            out.append(_bad(name, "'is_inventory_available' cannot be combined with 'quantity'."))
        if (
            isinstance(code, str)
            and code
            and code != "DEFAULT"
            and not code.startswith("AMAZON_")
            and not channel_ok(code)
        ):
            out.append(
                issue(
                    INACTIVE_CHANNEL,
                    f"The value '{code}' for 'fulfillment_channel_code' is not an active supply"
                    " source of this seller.",
                    [name],
                    ["INVALID_ATTRIBUTE"],
                )
            )
    elif name == "purchasable_offer":
        out.extend(_validate_offer(e, marketplace_ids))
    elif name == "list_price":
        v = e.get("value", e.get("value_with_tax"))
        if v is not None and (not _is_number(v) or v < 0):
            out.append(_bad(name, f"The value '{v}' for 'list_price' must be a number >= 0."))
        out.extend(_check_currency(name, e, marketplace_ids))
    return out


def _check_currency(name: str, e: Entry, marketplace_ids: list[str]) -> list[Issue]:
    cur = e.get("currency")
    mp = e.get("marketplace_id")
    mps = [mp] if mp else marketplace_ids
    bad = [m for m in mps if m in BY_ID and cur is not None and BY_ID[m].currency != cur]
    if bad:
        return [_bad(name, f"The currency '{cur}' is not valid in marketplace {bad[0]}.")]
    return []


def _validate_offer(e: Entry, marketplace_ids: list[str]) -> list[Issue]:
    out = _check_currency("purchasable_offer", e, marketplace_ids)
    aud = e.get("audience")
    if aud is not None and aud not in ("ALL", "B2B"):
        out.append(_bad("purchasable_offer", f"The value '{aud}' for 'audience' is not valid."))
    for sub in (
        "our_price",
        "discounted_price",
        "minimum_seller_allowed_price",
        "maximum_seller_allowed_price",
        "map_price",
    ):
        for block in e.get(sub) or []:
            for sched in (block.get("schedule") or []) if isinstance(block, dict) else [None]:
                v = sched.get("value_with_tax") if isinstance(sched, dict) else None
                if v is None or not _is_number(v) or v < 0:
                    out.append(
                        _bad(
                            "purchasable_offer",
                            f"The value '{v}' for '{sub}.schedule.value_with_tax' must be a"
                            " number >= 0.",
                        )
                    )
    return out
