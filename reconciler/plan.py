"""The Plan: an immutable, sorted value of what apply would change, and the safety checks.

Stages (design.md §2, §5)::

    desired listings ─┐
                      ├─ build_plan ─▶ Plan ─▶ data() ─▶ JSON render, checksum, --out file
    live listings ────┘                  └──▶ render.text / render.markdown

:meth:`Plan.data` is THE canonical form (octoDNS ``Plan.data``): the JSON output and the
checksum are both made from it, so they can never disagree, and :meth:`Plan.from_data` reads it
back (a saved plan is applied from exactly what was reviewed). It carries no timestamps, so the
same catalog against the same live state always gives the same checksum.

Safety (:func:`check_safety`): thresholds from ``safety:`` in reconciler.yaml, plus dangerous
rules that have no setting. Every message names what to change. Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cached_property
from typing import Any

from reconciler.diff import diff_listing
from reconciler.errors import PlanError
from reconciler.live import ABSENT, managed_projection, projection_fingerprint
from reconciler.marketplaces import lookup
from reconciler.model import (
    DEFAULT_CHANNEL,
    DesiredListing,
    DesiredState,
    Entry,
    FieldChange,
    Issue,
    ListingKey,
    LiveListing,
    PriceDerivation,
)
from reconciler.raw import paused_gc
from reconciler.strategy import StrategyEstimate, estimate

FORMAT_VERSION = 1
REMOTE_KEY = "remote_validation"  # in data(), outside the checksum
ACTIONS = ("create", "update", "delete")
PRICE_ATTRIBUTES = ("purchasable_offer", "list_price")
# Money fields stored as strings in data() and turned back into Decimal by from_data().
_MONEY_FIELDS = {
    "purchasable_offer": ("value_with_tax",),
    "list_price": ("value", "value_with_tax"),
}


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

    @property
    def name(self) -> str:
        return listing_name(self.key, self.marketplace)


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

    def __post_init__(self) -> None:
        # Sorted at construction (octoDNS): every render and data() is deterministic.
        object.__setattr__(self, "changes", tuple(sorted(self.changes, key=lambda c: c.key)))
        object.__setattr__(self, "held", tuple(sorted(self.held, key=lambda h: h.key)))
        fps = {ListingKey(*k): v for k, v in sorted(self.fingerprints.items())}
        object.__setattr__(self, "fingerprints", fps)
        remote = {ListingKey(*k): tuple(v) for k, v in sorted(self.remote_issues.items())}
        object.__setattr__(self, "remote_issues", remote)

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
        whole (``render.write_json``)."""
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
        Decimals written by the encoder as the strings ``_plain`` would make."""
        with paused_gc():  # 30k changes allocate ~1M small objects: 3x faster without GC
            return _checksum(self._body(plain=False, requests=False, many=Many))

    def _body(
        self,
        *,
        plain: bool = True,
        requests: bool = True,
        many: Callable[[Iterator[Any]], Any] = list,
        fingerprint: Callable[[ListingKey, str], Any] | None = None,
    ) -> dict[str, Any]:
        fp_of = fingerprint or _fingerprint_data
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
            "changes": many(_change_data(c, plain, requests) for c in self.changes),
            "held": many(_held_data(h) for h in self.held),
            "unchanged": self.unchanged,
            "fingerprints": many(fp_of(k, fp) for k, fp in self.fingerprints.items()),
            "strategy": _strategy_data(self.strategy),
            "safety": list(self.safety),
        }
        if self.validated:
            d[REMOTE_KEY] = {
                "validated": self.validated,
                "issues": [
                    {**_key_data(k), "issues": [_issue_data(i) for i in v]}
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
                changes=tuple(_change_from(c) for c in d["changes"]),
                held=tuple(_held_from(h) for h in d["held"]),
                unchanged=int(d["unchanged"]),
                fingerprints={_key_from(f): str(f["fingerprint"]) for f in d["fingerprints"]},
                strategy=_strategy_from(d.get("strategy")),
                safety=tuple(str(s) for s in d.get("safety", ())),
                accounts=tuple(str(a) for a in d.get("accounts", ())),
                remote_issues={
                    _key_from(r): tuple(_issue_from(i) for i in r["issues"])
                    for r in (d.get(REMOTE_KEY) or {}).get("issues", ())
                },
                validated=int((d.get(REMOTE_KEY) or {}).get("validated", 0)),
            )
        except (KeyError, TypeError, ValueError, InvalidOperation) as e:
            raise PlanError(f"malformed plan: {type(e).__name__}: {e}") from e
        if "checksum" in d and d["checksum"] != plan.checksum:
            raise PlanError(
                "plan checksum mismatch: the plan file was modified after it was made; "
                "re-run `reconciler plan`"
            )
        return plan


def listing_name(key: ListingKey, marketplace: str) -> str:
    return f"{key.sku} ({marketplace})"


# --------------------------------------------------------------------------- (de)serialisation


class Many:
    """A JSON array whose elements are made one at a time: what :meth:`Plan.lazy_data` hands
    the checksum and ``render.write_json`` for the per-listing arrays."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = items


_CHECKSUM_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), default=lambda o: _checksum_default(o)
)


def _checksum(d: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of a plan body (sorted keys, compact, ASCII), Decimals as
    their exact strings: the same bytes whether the body went through ``_plain`` or not, and
    whether its arrays are lists or :class:`Many` (streamed into the hash one element at a
    time, so a 100k-listing body is never one string)."""
    h = hashlib.sha256()
    enc = _CHECKSUM_ENCODER.encode
    sep = b"{"
    for name in sorted(k for k in d if k not in ("checksum", REMOTE_KEY)):
        h.update(sep + enc(name).encode("utf-8") + b":")
        sep = b","
        value = d[name]
        if type(value) is not Many:
            h.update(enc(value).encode("utf-8"))
            continue
        h.update(b"[")
        comma = b""
        for item in value.items:
            h.update(comma + enc(item).encode("utf-8"))
            comma = b","
        h.update(b"]")
    h.update(b"}" if sep == b"," else b"{}")
    return h.hexdigest()


def _fingerprint_data(k: ListingKey, fp: str) -> dict[str, str]:
    return {**_key_data(k), "fingerprint": fp}


def _checksum_default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return str(o)  # as _plain writes it
    if isinstance(o, (frozenset, set)):
        return list(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def _plain(value: Any) -> Any:
    """Decimals as strings, tuples as lists: JSON-ready and exact."""
    t = type(value)  # exact-type fast paths first: this runs for every entry of every change
    if t is str or t is int:
        return value
    if t is dict:
        return {k if type(k) is str else str(k): _plain(v) for k, v in value.items()}
    if t is list or t is tuple:
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _issue_data(i: Issue) -> dict[str, Any]:
    return {
        "code": i.code,
        "message": i.message,
        "severity": i.severity,
        "attribute_names": list(i.attribute_names),
    }


def _issue_from(d: Mapping[str, Any]) -> Issue:
    return Issue(
        str(d["code"]),
        str(d["message"]),
        str(d.get("severity", "ERROR")),
        tuple(str(a) for a in d.get("attribute_names", ())),
    )


def _key_data(k: ListingKey) -> dict[str, str]:
    return {"account": k.account, "sku": k.sku, "marketplace_id": k.marketplace_id}


def _key_from(d: Mapping[str, Any]) -> ListingKey:
    return ListingKey(str(d["account"]), str(d["sku"]), str(d["marketplace_id"]))


def _field_data(f: FieldChange, plain: bool = True) -> dict[str, Any]:
    return {
        "attribute": f.attribute,
        "selector": [list(p) for p in f.selector],
        "old": _plain(f.old) if plain else f.old,
        "new": _plain(f.new) if plain else f.new,
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


def _field_from(d: Mapping[str, Any]) -> FieldChange:
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


def _derivation_data(p: PriceDerivation, plain: bool = True) -> dict[str, Any]:
    if not plain:
        return {name: getattr(p, name) for name in PriceDerivation.__dataclass_fields__}
    return {name: _plain(getattr(p, name)) for name in PriceDerivation.__dataclass_fields__}


def _derivation_from(d: Mapping[str, Any]) -> PriceDerivation:
    kw: dict[str, Any] = {}
    for name in PriceDerivation.__dataclass_fields__:
        if name not in d:
            continue
        v = d[name]
        kw[name] = Decimal(v) if name in _DECIMAL_DERIVATION_FIELDS and v is not None else v
    return PriceDerivation(**kw)


def _change_data(c: Change, plain: bool = True, request: bool = True) -> dict[str, Any]:
    d = {
        **_key_data(c.key),
        "marketplace": c.marketplace,
        "action": c.action,
        "product_type": c.product_type,
        "mli": c.mli,
        "fingerprint": c.fingerprint,
        "fields": [_field_data(f, plain) for f in c.fields],
        "derivations": [_derivation_data(p, plain) for p in c.derivations],
    }
    if c.action == "create":
        d["requirements"] = c.requirements
    if request:
        d["request"] = _request_data(c)
    return d


def _request_data(c: Change) -> dict[str, Any]:
    """The exact SP-API request apply sends for this change (derived, so reviewers and the
    JSON plan see what will be written; ignored by from_data)."""
    from reconciler.patches import listing_request  # patches builds on Change: import late

    req = listing_request(c)
    out: dict[str, Any] = {"method": req.method}
    if req.body is not None:
        out["body"] = req.body
    return out


def _change_from(d: Mapping[str, Any]) -> Change:
    action = str(d["action"])
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return Change(
        key=_key_from(d),
        marketplace=str(d["marketplace"]),
        action=action,
        product_type=str(d["product_type"]),
        fields=tuple(_field_from(f) for f in d["fields"]),
        derivations=tuple(_derivation_from(p) for p in d["derivations"]),
        mli=bool(d["mli"]),
        fingerprint=str(d["fingerprint"]),
        requirements=str(d.get("requirements", "LISTING")),
    )


def _held_data(h: Held) -> dict[str, Any]:
    return {
        **_key_data(h.key),
        "marketplace": h.marketplace,
        "reason": h.reason,
        "attributes": list(h.attributes),
        "whole_listing": h.whole_listing,
    }


def _held_from(d: Mapping[str, Any]) -> Held:
    return Held(
        key=_key_from(d),
        marketplace=str(d["marketplace"]),
        reason=str(d["reason"]),
        attributes=tuple(str(a) for a in d["attributes"]),
        whole_listing=bool(d["whole_listing"]),
    )


def _strategy_data(s: StrategyEstimate | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "chosen": s.chosen,
        "patch_seconds": s.patch_seconds,
        "feed_seconds": s.feed_seconds,
        "feeds": s.feeds,
        "listings": s.listings,
    }


def _strategy_from(d: Mapping[str, Any] | None) -> StrategyEstimate | None:
    if d is None:
        return None
    return StrategyEstimate(
        chosen=str(d["chosen"]),
        patch_seconds=float(d["patch_seconds"]),
        feed_seconds=float(d["feed_seconds"]),
        feeds=int(d["feeds"]),
        listings=int(d["listings"]),
    )


# --------------------------------------------------------------------------- building


def marketplace_codes(desired: DesiredState) -> dict[tuple[str, str], str]:
    """(account, marketplace_id) -> marketplace code, from the catalog's accounts."""
    return {(a.name, m.marketplace_id): m.code for a in desired.accounts for m in a.marketplaces}


def _code(codes: Mapping[tuple[str, str], str], key: ListingKey) -> str:
    code = codes.get((key.account, key.marketplace_id))
    if code:
        return code
    m = lookup(key.marketplace_id)
    return m.code if m else key.marketplace_id


def _targeted(
    listings: Iterable[DesiredListing],
    codes: Mapping[tuple[str, str], str],
    skus: Collection[str],
    marketplaces: Collection[str],
) -> list[DesiredListing]:
    wanted_mps = {m.upper() for m in marketplaces} | set(marketplaces)
    wanted_mps |= {"UK"} if "GB" in wanted_mps else set()
    out = []
    for d in listings:
        if skus and d.key.sku not in skus:
            continue
        if marketplaces and not (
            _code(codes, d.key) in wanted_mps or d.key.marketplace_id in wanted_mps
        ):
            continue
        out.append(d)
    return out


def write_counts(plan: Plan, desired: DesiredState) -> dict[tuple[str, str], int]:
    """(account, region) -> listings the plan writes: the input of ``strategy.estimate``."""
    return {k: sum(v) for k, v in write_counts_per_marketplace(plan, desired).items()}


def write_counts_per_marketplace(
    plan: Plan, desired: DesiredState
) -> dict[tuple[str, str], list[int]]:
    """(account, region) -> listings written per marketplace (sorted by marketplace id): the
    ``per_marketplace`` input of ``strategy.estimate`` (apply sends one feed a marketplace)."""
    regions = {a.name: a.region for a in desired.accounts}
    by_mp: dict[tuple[str, str], dict[str, int]] = {}
    for c in plan.changes:
        k = (c.key.account, regions.get(c.key.account, ""))
        mps = by_mp.setdefault(k, {})
        mps[c.key.marketplace_id] = mps.get(c.key.marketplace_id, 0) + 1
    return {k: [v[m] for m in sorted(v)] for k, v in sorted(by_mp.items())}


class PlanBuilder:
    """Builds a plan one listing at a time, so the diff can run while the rest of the live
    state is still being read (``workflow`` feeds it from a worker thread; one thread at a
    time). :func:`build_plan` is the same in one call.

    ``known`` maps listings the caller knows to be unchanged since an earlier plan (neither
    side moved) to that plan's fingerprint: they count as unchanged without a diff."""

    def __init__(
        self,
        desired: DesiredState,
        *,
        skus: Collection[str] = (),
        marketplaces: Collection[str] = (),
        known: Mapping[ListingKey, str] | None = None,
    ) -> None:
        self.desired = desired
        self.codes = marketplace_codes(desired)
        targeted = _targeted(desired.listings, self.codes, skus, marketplaces)
        self.targets = {d.key: d for d in targeted}
        self.known = known
        self.changes: list[Change] = []
        self.held: list[Held] = []
        self.fingerprints: dict[ListingKey, str] = {}

    def add(self, key: ListingKey, have: LiveListing | None) -> None:
        """Compare one targeted listing with its live state (None: not listed). Keys the
        catalog does not target are ignored; a key added twice keeps its first result."""
        d = self.targets.get(key)
        if d is None or key in self.fingerprints:
            return
        code = _code(self.codes, key)
        if self.known and key in self.known and d.state == "present" and not d.held_texts:
            self.fingerprints[key] = self.known[key]
            return
        projected = managed_projection(d, have) if have is not None else None
        fp = projection_fingerprint(projected) if projected is not None else ABSENT
        self.fingerprints[key] = fp
        if d.state == "absent":
            if have is not None:
                delete = Change(key, code, "delete", have.product_type, (), (), d.mli, fp)
                self.changes.append(delete)
            return
        if d.held_texts:
            self.held.append(
                Held(key, code, d.held_reason, tuple(d.held_texts), whole_listing=have is None)
            )
            if have is None:
                return  # nothing is created in the wrong language
        fields = diff_listing(d, have, projected=projected)
        if not fields:
            return
        prices = any(f.attribute in PRICE_ATTRIBUTES for f in fields)
        self.changes.append(
            Change(
                key,
                code,
                "create" if have is None else "update",
                d.product_type,
                fields,
                tuple(d.derivations) if prices else (),
                d.mli,
                fp,
                d.requirements,
            )
        )

    def finish(
        self,
        live: Mapping[ListingKey, LiveListing | None],
        strategy: StrategyEstimate | None = None,
    ) -> Plan:
        """Add every targeted listing not added yet (from ``live``; missing = not listed),
        then the plan with its strategy (estimated from Amazon's published quotas when None
        and the plan writes anything) and :func:`check_safety`."""
        with paused_gc():  # 100k listings allocate millions of small acyclic objects
            for key in self.targets:
                if key not in self.fingerprints:
                    self.add(key, live.get(key))
        touched = {c.key for c in self.changes} | {h.key for h in self.held}
        plan = Plan(
            changes=tuple(self.changes),
            held=tuple(self.held),
            unchanged=sum(1 for k in self.fingerprints if k not in touched),
            fingerprints=self.fingerprints,
            strategy=strategy,
            accounts=tuple(a.name for a in self.desired.accounts),
        )
        if plan.strategy is None and plan.changes:
            per_mp = write_counts_per_marketplace(plan, self.desired)
            counts = {k: sum(v) for k, v in per_mp.items()}
            plan = replace(plan, strategy=estimate(counts, per_marketplace=per_mp))
        return replace(plan, safety=check_safety(plan, self.desired))


def build_plan(
    desired: DesiredState,
    live: Mapping[ListingKey, LiveListing | None],
    *,
    skus: Collection[str] = (),
    marketplaces: Collection[str] = (),
    strategy: StrategyEstimate | None = None,
    known: Mapping[ListingKey, str] | None = None,
) -> Plan:
    """Compare every targeted desired listing with its live state (missing from ``live`` =
    not listed). ``known``: see :class:`PlanBuilder`. ``strategy=None`` estimates it from
    Amazon's published quotas when the plan writes anything (pass an estimate to model a
    time-scaled emulator). ``safety`` is filled by :func:`check_safety`."""
    builder = PlanBuilder(desired, skus=skus, marketplaces=marketplaces, known=known)
    return builder.finish(live, strategy)


# --------------------------------------------------------------------------- safety


def _pct(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _setting(value: Decimal) -> str:
    return format(value.normalize(), "f")


def our_price(entries: list[Entry] | None) -> Decimal | None:
    """The ``our_price`` value (or list price ``value``) of a money entry list, if any."""
    for e in entries or ():
        if "our_price" in e:
            try:
                v = e["our_price"][0]["schedule"][0]["value_with_tax"]
            except (KeyError, IndexError, TypeError):
                continue
            return v if isinstance(v, Decimal) else None
        value = e.get("value")
        if isinstance(value, Decimal):
            return value
    return None


def price_moves(change: Change) -> list[tuple[FieldChange, Decimal, Decimal]]:
    """(field, old, new) for each price field of an update that has both values."""
    out = []
    for f in change.fields:
        if f.attribute in PRICE_ATTRIBUTES:
            old, new = our_price(f.old), our_price(f.new)
            if old is not None and new is not None and old != new:
                out.append((f, old, new))
    return out


def check_safety(plan: Plan, desired: DesiredState) -> tuple[str, ...]:
    """Every safety violation of ``plan``, each naming the setting (or saying it has none)."""
    s = desired.safety
    reasons: list[str] = []
    by_key = {d.key: d for d in desired.listings}

    existing = sum(1 for fp in plan.fingerprints.values() if fp != ABSENT)
    updates = plan.count("update")
    if existing and existing >= s.min_listings_for_share:
        share = Decimal(updates) / Decimal(existing)
        if share > s.max_update_share:
            reasons.append(
                f"{updates} of {existing} listings would be updated ({_pct(share * 100)}%), "
                f"over safety.max_update_share = {_setting(s.max_update_share * 100)}% "
                "in reconciler.yaml"
            )

    for c in plan.changes:
        if c.action != "update":
            continue
        for f, old, new in price_moves(c):
            label = "list price" if f.attribute == "list_price" else "price"
            currency = dict(f.selector).get("currency", "")
            if old == 0:
                move = "moves from 0"
            else:
                pct = (new - old) / old * 100
                if abs(pct) <= s.max_price_change_pct:
                    continue
                move = f"moves {'+' if pct > 0 else ''}{_pct(pct)}%"
            reasons.append(
                f"{c.name}: {label} {old} -> {new} {currency} {move}, "
                f"over safety.max_price_change_pct = {_setting(s.max_price_change_pct)}"
            )

    deletes = [c.name for c in plan.changes if c.action == "delete"]
    if deletes and not s.allow_deletes:
        shown = ", ".join(deletes[:5]) + (
            f" and {len(deletes) - 5} more" if len(deletes) > 5 else ""
        )
        reasons.append(
            f"{len(deletes)} listing{'s' if len(deletes) != 1 else ''} would be deleted "
            f"({shown}), and safety.allow_deletes = false in reconciler.yaml"
        )

    for c in plan.changes:
        d = by_key.get(c.key)
        if c.action == "delete" or d is None:
            continue
        reasons.extend(_dangerous(c, d))
    return tuple(reasons)


_NO_SETTING = "(dangerous: no setting allows this; fix the catalog or use --force)"


def _dangerous(c: Change, d: DesiredListing) -> list[str]:
    out = []
    if c.action == "update":
        for f in c.fields:
            if f.attribute in d.locked and f.old:
                out.append(
                    f"{c.name}: Amazon does not let an existing listing change {f.attribute} "
                    f"(editable: false in its product type definition) {_NO_SETTING}"
                )
    if d.mli:
        for e in d.attributes.get("fulfillment_availability", ()):
            q = e.get("quantity")
            if (
                e.get("fulfillment_channel_code") == DEFAULT_CHANNEL
                and isinstance(q, int)
                and q > 0
            ):
                out.append(
                    f"{c.name}: DEFAULT quantity {q} on a Multi-Location Inventory marketplace "
                    f"(must be 0, or stock is sold twice) {_NO_SETTING}"
                )
    for e in d.attributes.get("purchasable_offer", ()):
        price = our_price([e])
        if price is None:
            continue
        currency = e.get("currency", "")
        if d.price_min is not None and price < d.price_min:
            out.append(
                f"{c.name}: price {price} {currency} is below its guard price_min {d.price_min} "
                f"{_NO_SETTING}"
            )
        if d.price_max is not None and price > d.price_max:
            out.append(
                f"{c.name}: price {price} {currency} is above its guard price_max {d.price_max} "
                f"{_NO_SETTING}"
            )
    return out
