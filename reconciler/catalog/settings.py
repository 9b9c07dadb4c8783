"""The catalog's settings files as typed values: accounts, rates, price rules, locations.

Turns the schema-valid :class:`~reconciler.catalog.raw.Doc` of ``reconciler.yaml``, ``rates.yaml``,
``pricing.yaml`` and ``locations.yaml`` into values :mod:`reconciler.catalog.desired` uses, checking
what a schema cannot: known marketplaces and currencies, marketplaces in their account's
region, formulas that parse and use known variables, guard pairs, locations that serve a
configured marketplace. Problems are appended to a list, with file:line, never raised here.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from reconciler.catalog.allocation import Policy
from reconciler.catalog.formula import Formula, FormulaError, parse
from reconciler.catalog.pricing import DEFAULT_FORMULA, PriceError, Rates, check_guards
from reconciler.catalog.raw import Doc, YDict
from reconciler.kernel import marketplaces as mkt
from reconciler.kernel.errors import Problem
from reconciler.kernel.model import (
    Account,
    ApplySettings,
    Credentials,
    MarketplaceConfig,
    Safety,
    SourceRef,
)

DEFAULT_MAX_RATE_AGE_DAYS = 14
RULE_FIELDS = ("formula", "tax", "ending", "min", "max", "vars")


def problem(ref: SourceRef, message: str, context: str = "") -> Problem:
    return Problem(ref.file, ref.line, ref.column, message, context)


@dataclass(frozen=True)
class Config:
    accounts: tuple[Account, ...]
    safety: Safety
    apply: ApplySettings
    max_rate_age_days: int
    fallbacks: dict[tuple[str, str], tuple[str, ...]]  # (account, code) -> languages
    # (account, code) of marketplaces with publish_machine_translations: true
    publish_machine: frozenset[tuple[str, str]] = frozenset()
    translation: dict[str, Any] = field(default_factory=dict)  # reconciler.yaml translation:


@dataclass(frozen=True)
class Location:
    name: str
    channel: str
    account: str
    marketplace: str  # code
    ref: SourceRef


@dataclass(frozen=True)
class RulePart:
    """Rule fields as written in one place (defaults, a marketplace, a SKU override), each
    with where it was written."""

    values: dict[str, Any]
    refs: dict[str, SourceRef]


@dataclass
class Settings:
    config: Config
    rates: Rates | None = None
    rates_ref: SourceRef | None = None
    base_currency: str = ""
    base_currency_ref: SourceRef | None = None
    default_rule: RulePart = field(default_factory=lambda: RulePart({}, {}))
    rules: dict[str, RulePart] = field(default_factory=dict)
    locations: dict[str, Location] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    formulas: dict[str, Formula] = field(default_factory=dict)

    def formula(self, text: str) -> Formula:
        """Parse (once) a formula. Raises FormulaError."""
        f = self.formulas.get(text)
        if f is None:
            f = parse(text)
            self.formulas[text] = f
        return f


def _dec(v: Any) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(v)


def read_config(doc: Doc, problems: list[Problem]) -> Config:
    data: YDict = doc.data
    accounts: list[Account] = []
    fallbacks: dict[tuple[str, str], tuple[str, ...]] = {}
    publish: set[tuple[str, str]] = set()
    for name, acc in (data.get("accounts") or {}).items():
        region = acc["region"]
        mps: list[MarketplaceConfig] = []
        for code, conf in (acc.get("marketplaces") or {}).items():
            conf = conf or {}
            m = mkt.lookup(code)
            ref = doc.ref("accounts", name, "marketplaces", code, key=True)
            if m is None or m.marketplace_id == code:
                problems.append(problem(
                    ref, f"unknown marketplace {code!r} (known: {', '.join(mkt.MARKETPLACES)})"
                ))
                continue
            if m.region != region:
                problems.append(problem(
                    ref, f"marketplace {m.code} is in region {m.region}, but account "
                    f"{name!r} is {region}: put it in an account of region {m.region}"
                ))
                continue
            lang = conf.get("language_tag") or m.language_tag
            fbs = tuple(conf.get("fallback_languages") or ())
            for i, fb in enumerate(fbs):
                if fb.split("_")[0] != lang.split("_")[0]:
                    problems.append(problem(
                        doc.ref("accounts", name, "marketplaces", code, "fallback_languages", i),
                        f"fallback language {fb} is not {lang.split('_')[0]}: a marketplace "
                        f"in {lang} may only borrow texts of the same language",
                    ))
            fallbacks[name, m.code] = fbs
            if conf.get("publish_machine_translations"):
                publish.add((name, m.code))
            mps.append(MarketplaceConfig(m.code, m.marketplace_id, m.currency, lang,
                                         bool(conf.get("mli", False))))
        codes = [x.code for x in mps]
        if len(set(codes)) != len(codes):  # UK and GB both given
            problems.append(problem(doc.ref("accounts", name, "marketplaces"),
                                    "a marketplace is listed twice (UK and GB are the same)"))
        for x in mps:
            if x.mli and x.code != "US":
                problems.append(problem(
                    doc.ref("accounts", name, "marketplaces", x.code, "mli"),
                    f"Multi-Location Inventory is available on US only, not {x.code}",
                ))
        c = acc.get("credentials") or {}
        defaults = Credentials()
        accounts.append(Account(
            name=name,
            seller_id=acc["seller_id"],
            region=region,
            endpoint=acc["endpoint"],
            marketplaces=tuple(mps),
            credentials=Credentials(
                refresh_token=c.get("refresh_token", defaults.refresh_token),
                client_id=c.get("client_id", defaults.client_id),
                client_secret=c.get("client_secret", defaults.client_secret),
            ),
            token_url=acc.get("token_url", ""),
        ))
    sellers: dict[str, str] = {}
    for a in accounts:
        if a.seller_id in sellers:
            problems.append(problem(
                doc.ref("accounts", a.name, "seller_id"),
                f"seller id {a.seller_id} is also used by account {sellers[a.seller_id]!r}",
            ))
        sellers[a.seller_id] = a.name
    s = data.get("safety") or {}
    d = Safety()
    safety = Safety(
        max_update_share=_dec(s.get("max_update_share", d.max_update_share)),
        min_listings_for_share=int(s.get("min_listings_for_share", d.min_listings_for_share)),
        max_price_change_pct=_dec(s.get("max_price_change_pct", d.max_price_change_pct)),
        allow_deletes=bool(s.get("allow_deletes", d.allow_deletes)),
    )
    ap: dict[str, Any] = data.get("apply") or {}
    da = ApplySettings()
    apply = ApplySettings(
        strategy=ap.get("strategy", da.strategy),
        verify_timeout_seconds=float(ap.get("verify_timeout_seconds", da.verify_timeout_seconds)),
        verify_interval_seconds=float(
            ap.get("verify_interval_seconds", da.verify_interval_seconds)
        ),
        audit_log=ap.get("audit_log", da.audit_log),
        stock_only_drift_apply=bool(
            ap.get("stock_only_drift_apply", da.stock_only_drift_apply)
        ),
    )
    if apply.audit_log:
        why = audit_log_problem(apply.audit_log)
        if why:
            problems.append(problem(doc.ref("apply", "audit_log"), f"apply.audit_log {why}"))
    age = int(data.get("max_rate_age_days", DEFAULT_MAX_RATE_AGE_DAYS))
    return Config(tuple(accounts), safety, apply, age, fallbacks, frozenset(publish),
                  dict(data.get("translation") or {}))


def audit_log_problem(path: str) -> str:
    """Why a catalog's ``apply.audit_log`` may not be used ("" when it may): the catalog comes
    from a pull request, so its audit log must stay inside the catalog (an operator puts it
    anywhere with $RECONCILER_AUDIT_LOG)."""
    parts = path.replace("\\", "/").split("/")
    if path.startswith(("/", "\\", "~")) or (len(path) > 1 and path[1] == ":"):
        return (f"{path!r} is not a path inside the catalog: give a relative path (an operator "
                "may set RECONCILER_AUDIT_LOG to put the log anywhere)")
    if ".." in parts:
        return f"{path!r} leaves the catalog ('..'): give a path inside the catalog"
    if not path.isprintable() or "\\" in path:
        return f"{path!r} contains characters a file name here may not have"
    return ""


def read_rates(doc: Doc, problems: list[Problem]) -> Rates:
    data = doc.data
    for cur in [data["base"], *data["rates"]]:
        if cur not in mkt.CURRENCY_MINOR_UNITS:
            where = doc.ref("rates", cur, key=True) if cur in data["rates"] else doc.ref("base")
            problems.append(problem(where, f"unknown currency {cur!r} (ISO 4217 code expected)"))
    return Rates(
        as_of=str(data["as_of"]),
        base=data["base"],
        rates={k: _dec(v) for k, v in data["rates"].items()},
        source=str(data.get("source", "")),
    )


def _rule_part(doc: Doc, path: tuple[str, ...], data: Any) -> RulePart:
    values: dict[str, Any] = {}
    refs: dict[str, SourceRef] = {}
    for f in RULE_FIELDS:
        if isinstance(data, dict) and f in data:
            values[f] = data[f]
            refs[f] = doc.ref(*path, f)
    return RulePart(values, refs)


def read_pricing(doc: Doc, st: Settings, configured: set[str], problems: list[Problem]) -> None:
    data = doc.data
    st.base_currency = data["base_currency"]
    st.base_currency_ref = doc.ref("base_currency")
    if st.base_currency not in mkt.CURRENCY_MINOR_UNITS:
        problems.append(problem(st.base_currency_ref,
                                f"unknown currency {st.base_currency!r} (ISO 4217 code expected)"))
    st.default_rule = _rule_part(doc, ("defaults",), data.get("defaults"))
    check_rule_part(st, st.default_rule, None, problems)
    for code, rule in (data.get("marketplaces") or {}).items():
        m = mkt.lookup(code)
        ref = doc.ref("marketplaces", code, key=True)
        if m is None or m.marketplace_id == code:
            problems.append(problem(ref, f"unknown marketplace {code!r}"))
            continue
        if m.code not in configured:
            problems.append(problem(
                ref, f"price rule for {m.code}, which no account in reconciler.yaml sells in"
            ))
            continue
        part = _rule_part(doc, ("marketplaces", code), rule)
        st.rules[m.code] = part
        check_rule_part(st, merge(st.default_rule, part), m.currency, problems)


def merge(*parts: RulePart) -> RulePart:
    values: dict[str, Any] = {}
    refs: dict[str, SourceRef] = {}
    for p in parts:
        for k, v in p.values.items():
            if k == "vars":
                values["vars"] = {**values.get("vars", {}), **v}
            else:
                values[k] = v
            refs[k] = p.refs[k]
    return RulePart(values, refs)


def check_rule_part(
    st: Settings, part: RulePart, currency: str | None, problems: list[Problem],
    context: str = "",
) -> Formula | None:
    """Parse the formula of a merged rule and check its variables and guards; returns the
    formula (None after a problem)."""
    text = part.values.get("formula", DEFAULT_FORMULA)
    ref = part.refs.get("formula")
    f: Formula | None = None
    try:
        f = st.formula(text)
        f.check_names({"base", "rate", "tax", *part.values.get("vars", {})})
    except FormulaError as e:
        at = f" at column {e.column}" if e.column else ""
        problems.append(problem(
            ref or SourceRef("pricing.yaml"),
            f"formula {text!r}: {e.message}{at}",
            context,
        ))
        f = None
    lo, hi = part.values.get("min"), part.values.get("max")
    if lo is not None and hi is not None:
        try:
            check_guards(_dec(lo), _dec(hi), currency or "")
        except PriceError as e:
            problems.append(problem(part.refs["min"], f"guards: {e.message}", context))
            f = None
    return f


def read_locations(
    doc: Doc, st: Settings, accounts: dict[str, Account], problems: list[Problem]
) -> None:
    data = doc.data
    channels: dict[tuple[str, str], str] = {}
    for name, loc in (data.get("locations") or {}).items():
        ref = doc.ref("locations", name, key=True)
        acc = accounts.get(loc["account"])
        if acc is None:
            problems.append(problem(
                doc.ref("locations", name, "account"),
                f"unknown account {loc['account']!r} (accounts: {', '.join(accounts)})",
            ))
            continue
        code = loc["marketplace"]
        m = mkt.lookup(code)
        if m is None or m.marketplace_id == code:
            problems.append(problem(doc.ref("locations", name, "marketplace"),
                                    f"unknown marketplace {code!r}"))
            continue
        if m.code not in {x.code for x in acc.marketplaces}:
            problems.append(problem(
                doc.ref("locations", name, "marketplace"),
                f"account {acc.name!r} does not sell in {m.code} (see reconciler.yaml)",
            ))
            continue
        channel = loc["fulfillment_channel_code"]
        if channel == "DEFAULT":
            problems.append(problem(
                doc.ref("locations", name, "fulfillment_channel_code"),
                "DEFAULT is Amazon's channel without a location; use the supply source id",
            ))
            continue
        if (acc.name, channel) in channels:
            problems.append(problem(
                doc.ref("locations", name, "fulfillment_channel_code"),
                f"fulfillment_channel_code {channel} is also used by location "
                f"{channels[acc.name, channel]!r}",
            ))
            continue
        channels[acc.name, channel] = name
        st.locations[name] = Location(name, channel, acc.name, m.code, ref)
    for name, pol in (data.get("allocation_policies") or {}).items():
        st.policies[name] = Policy(
            max=pol["max"], threshold=pol.get("threshold"), buffer=pol.get("buffer", 0),
            floor=pol.get("floor", 0),
        )
