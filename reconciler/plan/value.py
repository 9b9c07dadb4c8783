"""The Plan: an immutable, sorted value of what apply would change.

Stages (design.md §2, §5)::

    desired listings ─┐
                      ├─ builder.build_plan ─▶ Plan ─▶ data() ─▶ JSON render, --out, `show`
    live listings ────┘                          ├──▶ intent() ─▶ checksum
                                                 └──▶ render.text / render.markdown

:meth:`Plan.data` is THE canonical form (octoDNS ``Plan.data``): the JSON output is made from it
and :meth:`Plan.from_data` reads it back (``reconciler show`` renders a saved plan, ``apply --plan``
applies the writes it holds). The checksum covers only :meth:`Plan.intent`, the writes a reviewer
approves (per listing: the action, and the fields set with their new values): not the old
values, the live fingerprints or the listings the plan does not write, so a sale between the
review and the apply does not change it unless it changes what the plan writes. It carries no
timestamps: the same catalog against the same live state always gives the same checksum.

Its parts live next to it: :mod:`~reconciler.plan.change` (the values it holds),
:mod:`~reconciler.plan.codec` (each value to JSON and back), :mod:`~reconciler.plan.checksum`,
:mod:`~reconciler.plan.builder` and :mod:`~reconciler.plan.safety`. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import InvalidOperation
from functools import cached_property
from typing import Any

from reconciler.kernel.errors import PlanError
from reconciler.kernel.gcpause import paused_gc
from reconciler.kernel.marketplaces import lookup
from reconciler.kernel.model import Issue, ListingKey
from reconciler.plan.change import Change, Held
from reconciler.plan.checksum import REMOTE_KEY, Many, checksum_of
from reconciler.plan.codec import (
    change_data,
    change_from,
    fingerprint_data,
    held_data,
    held_from,
    issue_data,
    issue_from,
    key_data,
    key_from,
    strategy_data,
    strategy_from,
    write_data,
)
from reconciler.plan.strategy import StrategyEstimate

# 2: the checksum covers the intended writes only (1 covered the whole body, fingerprints too).
FORMAT_VERSION = 2
INTENT_VERSION = 1  # what the checksum covers; part of the hashed body


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    held: tuple[Held, ...] = ()
    unchanged: int = 0
    fingerprints: Mapping[ListingKey, str] = field(default_factory=dict)
    strategy: StrategyEstimate | None = None
    safety: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    # ``plan --validate-remote``: Amazon's VALIDATION_PREVIEW issues per listing and how many
    # listings were previewed (0: not requested). Amazon's opinion at one moment, not part of
    # what apply writes, so they are in data() but outside the checksum.
    remote_issues: Mapping[ListingKey, tuple[Issue, ...]] = field(default_factory=dict)
    validated: int = 0
    # Supply source id -> the catalog's location name, for the ids the changes write (so
    # renders, also of a saved plan, can say "newark (353e4e48…)").
    locations: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Sorted at construction (octoDNS): every render and data() is deterministic.
        object.__setattr__(self, "changes", tuple(sorted(self.changes, key=lambda c: c.key)))
        object.__setattr__(self, "held", tuple(sorted(self.held, key=lambda h: h.key)))
        # keys already ListingKeys (a plan made by replace() from another) are kept: at
        # agency scale a plan holds 100k+ fingerprints and finish() replaces it twice
        lk = ListingKey
        fps = {k if type(k) is lk else lk(*k): v for k, v in sorted(self.fingerprints.items())}
        object.__setattr__(self, "fingerprints", fps)
        remote = {ListingKey(*k): tuple(v) for k, v in sorted(self.remote_issues.items())}
        object.__setattr__(self, "remote_issues", remote)
        object.__setattr__(self, "locations", dict(sorted(self.locations.items())))

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    # ------------------------------------------------------------------ canonical form

    def data(self) -> dict[str, Any]:
        """JSON-ready canonical form (Decimals as strings), with ``format_version`` and the
        ``checksum`` of the :meth:`intent`. A new dict on every call (callers may change it)."""
        with paused_gc():
            d = self._body()
        d["checksum"] = self.checksum
        return d

    def lazy_data(
        self,
        many: Callable[[Iterator[Any]], Any],
        fingerprint: Callable[[ListingKey, str], Any] | None = None,
    ) -> dict[str, Any]:
        """:meth:`data` with its three per-listing arrays (changes, held, fingerprints) handed
        to ``many`` as one-shot iterators instead of lists, each fingerprint element built by
        ``fingerprint``: a writer can then stream a 100k-listing plan without ever holding it
        whole (``render_json.write_json``)."""
        d = self._body(many=many, fingerprint=fingerprint)
        d["checksum"] = self.checksum
        return d

    def intent(self) -> dict[str, Any]:
        """What a reviewer approves, JSON-ready: ``{"intent": 1, "writes": [...]}``, one write
        per change (:func:`~reconciler.plan.codec.write_data`: the listing, the action, the
        product type, the MLI flag and each field set with its new value), in the plan's order.
        Not the old values, the fingerprints, the held listings, the unchanged count, the
        strategy or the safety verdict: apply re-plans and checks those itself."""
        return {"intent": INTENT_VERSION, "writes": [write_data(c) for c in self.changes]}

    @cached_property
    def checksum(self) -> str:
        """sha256 of :meth:`intent`, computed once per plan (it is immutable): renders, saved
        files and apply all ask for it. The bytes hashed are those of
        ``json.dumps(self.intent(), sort_keys=True, separators=(",", ":"))``, fed to the hash
        element by element (never one string), with Decimals written by the encoder as the
        strings ``to_plain`` would make."""
        with paused_gc():  # 30k changes allocate ~1M small objects: 3x faster without GC
            writes = Many(write_data(c, plain=False) for c in self.changes)
            return checksum_of({"intent": INTENT_VERSION, "writes": writes})

    def where(self, keep: Callable[[ListingKey, str], bool]) -> Plan:
        """The part of this plan about the listings ``keep(key, marketplace code)`` accepts
        (``reconciler show --marketplace``): their changes, held listings, fingerprints and
        Amazon's preview issues, with the unchanged listings recounted. Its checksum is the
        one a plan targeted at those listings has when nothing moved. The strategy estimate is
        dropped (it was made for the whole plan); the safety verdict of the whole plan is kept,
        so a part never looks safer than the plan it was cut from."""
        codes = {c.key: c.marketplace for c in self.changes}
        codes.update({h.key: h.marketplace for h in self.held})

        def ok(key: ListingKey) -> bool:
            code = codes.get(key)
            if code is None:
                m = lookup(key.marketplace_id)
                code = m.code if m else key.marketplace_id
            return keep(key, code)

        changes = tuple(c for c in self.changes if ok(c.key))
        held = tuple(h for h in self.held if ok(h.key))
        fps = {k: v for k, v in self.fingerprints.items() if ok(k)}
        touched = {c.key for c in changes} | {h.key for h in held}
        remote = {k: v for k, v in self.remote_issues.items() if ok(k)}
        return Plan(
            changes=changes,
            held=held,
            unchanged=sum(1 for k in fps if k not in touched),
            fingerprints=fps,
            strategy=None,
            safety=self.safety,
            accounts=self.accounts,
            remote_issues=remote,
            validated=len(changes) if self.validated else 0,
        )

    def _body(
        self,
        *,
        many: Callable[[Iterator[Any]], Any] = list,
        fingerprint: Callable[[ListingKey, str], Any] | None = None,
    ) -> dict[str, Any]:
        fp_of = fingerprint or fingerprint_data
        d: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "accounts": list(self.accounts),
            "summary": {
                "create": self.count("create"),
                "update": self.count("update"),
                "delete": self.count("delete"),
                "held": len(self.held),
                "unchanged": self.unchanged,
            },
            "changes": many(change_data(c) for c in self.changes),
            "held": many(held_data(h) for h in self.held),
            "unchanged": self.unchanged,
            "fingerprints": many(fp_of(k, fp) for k, fp in self.fingerprints.items()),
            "strategy": strategy_data(self.strategy),
            "safety": list(self.safety),
        }
        if self.locations:
            d["locations"] = dict(self.locations)
        if self.validated:
            d[REMOTE_KEY] = {
                "validated": self.validated,
                "issues": [
                    {**key_data(k), "issues": [issue_data(i) for i in v]}
                    for k, v in self.remote_issues.items()
                ],
            }
        return d

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> Plan:
        """Read :meth:`data` back. Refuses other format versions and tampered plans."""
        version = d.get("format_version") if isinstance(d, Mapping) else None
        if version != FORMAT_VERSION:
            raise PlanError(
                f"unsupported plan format_version {version!r} (this reconciler reads "
                f"{FORMAT_VERSION}); re-run `reconciler plan` with this version"
            )
        try:
            plan = cls(
                changes=tuple(change_from(c) for c in d["changes"]),
                held=tuple(held_from(h) for h in d["held"]),
                unchanged=int(d["unchanged"]),
                fingerprints={key_from(f): str(f["fingerprint"]) for f in d["fingerprints"]},
                strategy=strategy_from(d.get("strategy")),
                safety=tuple(str(s) for s in d.get("safety", ())),
                accounts=tuple(str(a) for a in d.get("accounts", ())),
                remote_issues={
                    key_from(r): tuple(issue_from(i) for i in r["issues"])
                    for r in (d.get(REMOTE_KEY) or {}).get("issues", ())
                },
                validated=int((d.get(REMOTE_KEY) or {}).get("validated", 0)),
                locations={str(k): str(v) for k, v in (d.get("locations") or {}).items()},
            )
        except (KeyError, TypeError, ValueError, InvalidOperation) as e:
            raise PlanError(f"malformed plan: {type(e).__name__}: {e}") from e
        if "checksum" in d and d["checksum"] != plan.checksum:
            raise PlanError(
                "plan checksum mismatch: the plan's writes were modified after it was made; "
                "re-run `reconciler plan`"
            )
        return plan
