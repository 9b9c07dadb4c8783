"""Post-acceptance issues: an ACCEPTED write that gains an ERROR issue once Amazon processes it.

``ACCEPTED`` only means queued (CONTRACT.md §3.2): Amazon checks a submission against its catalog
and policies asynchronously, and the outcome shows up later as an issue on the listing
(``getListingsItem``/``searchListingsItems`` ``issues``, a feed report's ``items``). The emulator
reproduces two such outcomes, attached when the write is processed (``write_delay_s`` after it was
accepted, scaled), in the marketplace it was processed for:

- ``catalog-conflict``: code ``8541``, "The listing data you provided differs from what is already
  in Amazon's catalog ..." (Amazon's wording, models#4969, jrl84/amazon-sp-api#200), naming the
  first product attribute the write sets (else its first attribute). That attribute keeps the
  catalog's value (on a new listing: none); the rest of the write applies.
- ``price-out-of-range``: code ``18155``, the minimum-price issue of Amazon's own model example
  (INVALID_PRICE, LISTING_SUPPRESSED): the write applies and the offer is suppressed (the
  listing is no longer BUYABLE, ``listing_views``).

Which writes get one:

- scripted per SKU in a seed: ``sellers.<id>.lateIssues: [{sku, marketplaceId?, kind?,
  issue?}]`` (``kind`` one of the above, default catalog-conflict; ``issue`` a complete Issue
  object instead; no ``marketplaceId``: every marketplace), every processed write of that SKU;
- drawn with the fault ``late-issue=RATE``: a draw fixed per (fault seed, seller, sku,
  marketplace) (``faults.chance``), so the same listings are hit whatever the order of writes;
  the same draw picks the kind among those that fit the write (a catalog conflict needs a
  product attribute such as ``item_name``, a price out of range a ``purchasable_offer``; a
  write with neither, e.g. stock only, gets none).

A later processed write that draws no late issue clears the one the emulator added before (Amazon
re-evaluates the listing); issues given by a seed stay. Deletes get none.
"""

from __future__ import annotations

import json
import sqlite3
import weakref
from typing import Any

from reconciler.kernel.quotas import OFFER_ATTRIBUTES

from .faults import chance
from .listing_rules import Attrs
from .listing_views import asin
from .state import EmulatorState

CATALOG_CONFLICT = "catalog-conflict"
PRICE_OUT_OF_RANGE = "price-out-of-range"
KINDS = (CATALOG_CONFLICT, PRICE_OUT_OF_RANGE)
PRICE_MESSAGE = (
    "The 'minimum price' is greater than the selling price (excluding shipping) for the listing."
    " Review and update your price and/or minimum price."
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS listing_late_scripts (
    seller_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    marketplace_id TEXT NOT NULL,   -- '' = every marketplace
    kind TEXT NOT NULL,
    issue TEXT                      -- a complete Issue object (JSON) instead of a kind
);
CREATE INDEX IF NOT EXISTS listing_late_scripts_sku ON listing_late_scripts(seller_id, sku);
CREATE TABLE IF NOT EXISTS listing_late_marks (
    seller_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    marketplace_id TEXT NOT NULL,
    issue TEXT NOT NULL,            -- the Issue the emulator added (JSON)
    PRIMARY KEY (seller_id, sku, marketplace_id)
);
"""


def init_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


# EmulatorState -> [any scripts, any marks]: lets the hot path (every processed write) skip two
# queries while no late issue is scripted or was ever added. Rebuilt from the db when absent.
_SEEN: weakref.WeakKeyDictionary[EmulatorState, list[bool]] = weakref.WeakKeyDictionary()


def _seen(emu: EmulatorState) -> list[bool]:
    got = _SEEN.get(emu)
    if got is None:
        scripts = emu.db.execute("SELECT EXISTS(SELECT 1 FROM listing_late_scripts)").fetchone()
        marks = emu.db.execute("SELECT EXISTS(SELECT 1 FROM listing_late_marks)").fetchone()
        got = _SEEN[emu] = [bool(scripts[0]), bool(marks[0])]
    return got


def seed(emu: EmulatorState, data: dict[str, Any]) -> None:
    _SEEN.pop(emu, None)
    for seller_id, sdata in (data.get("sellers") or {}).items():
        for item in (sdata or {}).get("lateIssues", []) or []:
            kind = str(item.get("kind", CATALOG_CONFLICT))
            custom = item.get("issue")
            if custom is None and kind not in KINDS:
                raise ValueError(f"lateIssues: kind must be one of {', '.join(KINDS)}: {kind!r}")
            emu.db.execute(
                "INSERT INTO listing_late_scripts VALUES (?,?,?,?,?)",
                (
                    str(seller_id),
                    str(item["sku"]),
                    str(item.get("marketplaceId") or ""),
                    kind,
                    None if custom is None else json.dumps(custom),
                ),
            )


def written_attributes(kind: str, payload: Any) -> list[str]:
    """Top-level attributes a queued write sets (put: ``attributes``; patch: patch paths)."""
    if kind == "put" and isinstance(payload, dict):
        return [str(k) for k in payload]
    if kind == "patch" and isinstance(payload, list):
        return [str(p["path"]).split("/")[2] for p in payload if isinstance(p, dict)]
    return []


def draw(
    emu: EmulatorState, seller_id: str, sku: str, marketplace_id: str, attributes: list[str]
) -> tuple[str, dict[str, Any]] | None:
    """(kind, issue) when this processed write gains a late issue, else None."""
    if not _seen(emu)[0] and emu.config.faults.late_issue <= 0:
        return None
    row = emu.db.execute(
        "SELECT kind, issue FROM listing_late_scripts WHERE seller_id = ? AND sku = ?"
        " AND marketplace_id IN ('', ?) ORDER BY marketplace_id DESC LIMIT 1",
        (seller_id, sku, marketplace_id),
    ).fetchone()
    if row is not None:
        kind = str(row[0])
        if row[1] is not None:
            return kind, dict(json.loads(row[1]))
    else:
        rate = emu.config.faults.late_issue
        if rate <= 0:
            return None
        x = chance(emu.config.seed, "late-issue", seller_id, sku, marketplace_id)
        kinds = [k for k in KINDS if _plausible(k, attributes)]
        if x >= rate or not kinds:
            return None
        kind = kinds[int(x / rate * len(kinds)) % len(kinds)]
    if kind == PRICE_OUT_OF_RANGE:
        return kind, {
            "code": "18155",
            "message": PRICE_MESSAGE,
            "severity": "ERROR",
            "categories": ["INVALID_PRICE"],
            "enforcements": {
                "actions": [{"action": "LISTING_SUPPRESSED"}],
                "exemption": {"status": "NOT_EXEMPT"},
            },
            "marketplaceIds": [marketplace_id],
        }
    name = conflicting(attributes)
    return kind, {
        "code": "8541",
        "message": (
            "The listing data you provided differs from what is already in Amazon's catalog. The"
            " standard product identifiers you supplied match the ASIN"
            f" {asin(seller_id, sku)}, but some of the listing details contradict the data"
            " already in Amazon's catalog. The following listing attribute values conflict with"
            f" the catalog values: '{name}'."
        ),
        "severity": "ERROR",
        "attributeNames": [name],
        "categories": ["INVALID_ATTRIBUTE"],
        "marketplaceIds": [marketplace_id],
    }


def _plausible(kind: str, attributes: list[str]) -> bool:
    """Whether a drawn late issue fits the write: a catalog conflict needs product data, a price
    out of range a price."""
    if kind == CATALOG_CONFLICT:
        return any(a not in OFFER_ATTRIBUTES for a in attributes)
    return "purchasable_offer" in attributes


def conflicting(attributes: list[str]) -> str:
    """The attribute a catalog conflict names: the first product attribute written."""
    product = [a for a in attributes if a not in OFFER_ATTRIBUTES]
    return (product or attributes or ["item_name"])[0]


def keep_catalog_value(new: Attrs, old: Attrs | None, name: str) -> Attrs:
    """``new`` with attribute ``name`` as the catalog has it (``old``'s, or absent)."""
    out = dict(new)
    if old is not None and name in old:
        out[name] = old[name]
    else:
        out.pop(name, None)
    return out


def settle_issues(
    emu: EmulatorState,
    seller_id: str,
    sku: str,
    marketplace_id: str,
    issues: list[dict[str, Any]],
    new: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """The listing's issues after a processed write: the emulator's previous late issue
    removed, ``new`` (if any) added; remembered so the next write can clear it."""
    seen = _seen(emu)
    if new is None and not seen[1]:
        return issues
    row = emu.db.execute(
        "SELECT issue FROM listing_late_marks WHERE seller_id = ? AND sku = ?"
        " AND marketplace_id = ?",
        (seller_id, sku, marketplace_id),
    ).fetchone()
    out = list(issues)
    if row is not None:
        previous = json.loads(row[0])
        out = [i for i in out if i != previous]
    if new is None:
        if row is not None:
            emu.db.execute(
                "DELETE FROM listing_late_marks WHERE seller_id = ? AND sku = ?"
                " AND marketplace_id = ?",
                (seller_id, sku, marketplace_id),
            )
        return out
    emu.db.execute(
        "INSERT OR REPLACE INTO listing_late_marks VALUES (?,?,?,?)",
        (seller_id, sku, marketplace_id, json.dumps(new)),
    )
    seen[1] = True
    return [*out, new]
