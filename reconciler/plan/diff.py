"""Desired vs live listing -> field changes, per attribute and selector (design.md §2).

Only what the desired listing manages is compared (``live.managed_projection``): its
attributes, the selectors it declares, and within a selector the fields its entries declare.
So sibling fields Amazon or the seller keep (``discounted_price``, ``lead_time_to_ship_max_days``),
other marketplaces, languages and channels, and unmanaged attributes never produce a change.
Bullet points are compared as the ordered list of one selector; other attributes ignore order.
Selectors come from the product type definition (``DesiredListing.selectors``). A selector the
catalog clears gives a change to ``None`` when Amazon has entries under it (nothing otherwise);
a field the catalog clears inside an entry is ``None`` in the desired entry, and a live entry
without it projects the same (``live.managed_projection``).

This is the only module that imports deepdiff. Equal listings take a fast path (one canonical
JSON comparison of the managed projection), and within a differing listing each selector is
compared by canonical JSON first; deepdiff (milliseconds a call) only decides order-insensitive
multi-entry selectors, so a 100k-listing plan stays fast.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from deepdiff import DeepDiff

from reconciler.kernel.model import (
    MULTI_ENTRY,
    Attributes,
    DesiredListing,
    Entry,
    FieldChange,
    LiveListing,
    canonical_json,
)
from reconciler.plan.projection import group_by_selector, managed_projection


def _differs(attribute: str, old: list[Entry], new: list[Entry]) -> bool:
    """Whether one selector's managed entries differ. Canonical JSON (sorted keys, exact
    values) decides whenever order is significant or there is one entry; deepdiff decides the
    rest (several entries under one selector whose order Amazon does not keep). deepdiff costs
    milliseconds a call, so it only runs where the cheap comparison cannot decide."""
    if len(old) != len(new):
        return True
    if canonical_json(old) == canonical_json(new):
        return False
    if attribute in MULTI_ENTRY or len(new) == 1:
        return True
    return bool(DeepDiff(old, new, ignore_order=True))


def diff_listing(
    desired: DesiredListing, live: LiveListing | None, *, projected: Attributes | None = None
) -> tuple[FieldChange, ...]:
    """The managed field changes that turn ``live`` into ``desired``, sorted by attribute and
    selector. ``live=None`` (not listed) gives every managed selector as new. A desired listing
    with ``state: absent`` has no field changes (its deletion is decided by the plan).
    ``projected`` is ``managed_projection(desired, live)`` when the caller already has it."""
    if desired.state == "absent":
        return ()
    if live is None:
        projected = {}
    elif projected is None:
        projected = managed_projection(desired, live)
    if live is not None and canonical_json(projected) == canonical_json(desired.attributes):
        return ()
    changes: list[FieldChange] = []
    sel = desired.selectors
    for attribute, wanted in desired.attributes.items():
        have = group_by_selector(attribute, projected.get(attribute, ()), sel)
        for selector, new in group_by_selector(attribute, wanted, sel).items():
            old = have.get(selector)
            if old is None or _differs(attribute, old, new):
                changes.append(FieldChange(attribute, selector, old, new))
    for attribute, selector in desired.clears:
        old = group_by_selector(attribute, projected.get(attribute, ()), sel).get(selector)
        if old:
            changes.append(FieldChange(attribute, selector, old, None))
    return tuple(sorted(changes, key=lambda c: (c.attribute, c.selector)))
