"""The managed projection: the part of a live listing that a desired listing manages, and its
fingerprint. The differ compares exactly this, and a plan's staleness check hashes it, so an
edit to an unmanaged attribute or field never shows up as a change or makes a plan stale.
Pure."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.kernel.model import (
    Attributes,
    DesiredListing,
    Entry,
    LiveListing,
    canonical_json,
)
from reconciler.live.normalize import selector_of

ABSENT = "absent"  # the fingerprint of a listing that does not exist live


def _project(template: Any, value: Any) -> Any:
    """``value`` restricted to the dict keys ``template`` declares, recursively. A key the
    template declares as None (the catalog clears it) is projected as None when ``value`` lacks
    it: cleared and absent are the same state."""
    if isinstance(template, dict) and isinstance(value, dict):
        return {
            k: _project(template[k], value[k]) if k in value else None
            for k in template
            if k in value or template[k] is None
        }
    if isinstance(template, list) and isinstance(value, list) and template:
        return [_project(template[min(i, len(template) - 1)], v) for i, v in enumerate(value)]
    return value


def group_by_selector(
    attribute: str,
    entries: Iterable[Entry],
    selectors: Mapping[str, tuple[str, ...]] | None = None,
) -> dict[tuple[tuple[str, str], ...], list[Entry]]:
    groups: dict[tuple[tuple[str, str], ...], list[Entry]] = {}
    for e in entries:
        groups.setdefault(selector_of(attribute, e, selectors), []).append(e)
    return groups


def managed_projection(desired: DesiredListing, live: LiveListing) -> Attributes:
    """The part of ``live`` that ``desired`` manages: for each desired attribute, the live
    entries with a selector the desired listing declares, cut down to the fields the desired
    entries of that selector declare; and the live entries of the selectors it clears, whole.
    Laid out in the desired listing's order, so a live listing that matches projects to exactly
    ``desired.attributes``."""
    out: Attributes = {}
    sel = desired.selectors
    for name, wanted in desired.attributes.items():
        have = group_by_selector(name, live.attributes.get(name, ()), sel)
        entries: list[Entry] = []
        for selector, want in group_by_selector(name, wanted, sel).items():
            template: dict[str, Any] = {}
            for w in want:
                for k, v in w.items():
                    template.setdefault(k, v)
            entries.extend(_project(template, e) for e in have.get(selector, ()))
        if entries:
            out[name] = entries
    for name, selector in desired.clears:
        for e in live.attributes.get(name, ()):
            if selector_of(name, e, sel) == selector:
                out.setdefault(name, []).append(e)
    return out


def projection_fingerprint(projected: Attributes) -> str:
    """sha256 of a managed projection (see :func:`fingerprint`)."""
    data = {"exists": True, "attributes": projected}
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def fingerprint(desired: DesiredListing, live: LiveListing | None) -> str:
    """sha256 of the live managed projection: unmanaged edits never make a plan stale, managed
    ones always do. ``"absent"`` when the listing does not exist live."""
    if live is None:
        return ABSENT
    return projection_fingerprint(managed_projection(desired, live))
