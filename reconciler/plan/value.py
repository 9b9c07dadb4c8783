"""The Plan: an immutable, sorted value of what apply would change.

Stages (design.md §2, §5)::

    desired listings ─┐
                      ├─ builder.build_plan ─▶ Plan ─▶ data() ─▶ JSON render, checksum, --out
    live listings ────┘                          └──▶ render.text / render.markdown

:meth:`Plan.data` is THE canonical form (octoDNS ``Plan.data``): the JSON output and the
checksum are both made from it, so they can never disagree, and :meth:`Plan.from_data` reads it
back (a saved plan is applied from exactly what was reviewed). It carries no timestamps, so the
same catalog against the same live state always gives the same checksum.

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
)
from reconciler.plan.strategy import StrategyEstimate

FORMAT_VERSION = 1


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
        fps = {ListingKey(*k): v for k, v in sorted(self.fingerprints.items())}
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
        ``checksum`` of everything else. A new dict on every call (callers may change it)."""
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

    @cached_property
    def checksum(self) -> str:
        """sha256 of the canonical body, computed once per plan (it is immutable): renders,
        saved files and apply all ask for it.

        It covers what the plan says, not what is derived from it: each change's ``request``
        (a function of its fields, product type and MLI flag, rebuilt by apply and ignored by
        :meth:`from_data`) stays out. The bytes hashed are those of
        ``json.dumps(body, sort_keys=True, separators=(",", ":"))`` of the body ``data()``
        gives less the requests, fed to the hash element by element (never one string), with
        Decimals written by the encoder as the strings ``to_plain`` would make."""
        with paused_gc():  # 30k changes allocate ~1M small objects: 3x faster without GC
            return checksum_of(self._body(plain=False, requests=False, many=Many))

    def _body(
        self,
        *,
        plain: bool = True,
        requests: bool = True,
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
            "changes": many(change_data(c, plain, requests) for c in self.changes),
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
                "plan checksum mismatch: the plan file was modified after it was made; "
                "re-run `reconciler plan`"
            )
        return plan


# --------------------------------------------------------------------------- (de)serialisation


# --------------------------------------------------------------------------- building


# --------------------------------------------------------------------------- safety


