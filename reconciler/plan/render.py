"""Plan -> text (terminal), Markdown (PR comment) or JSON. Plain functions, no I/O except
reading the packaged Markdown template.

Everything shown comes from the catalog or from Amazon, and PR catalogs are untrusted: the
Markdown render escapes every such value for Markdown AND HTML (GitHub renders HTML in comments;
a title containing ``</details>`` or ``<!--`` must not break the comment), and the text render
makes control characters visible (no ANSI injection into a terminal). The template is rendered
in a jinja2 ``SandboxedEnvironment`` with autoescape off: values arrive already escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from reconciler.catalog.offers import describe as describe_offer
from reconciler.catalog.pricing import describe as describe_derivation
from reconciler.kernel.marketplaces import lookup
from reconciler.kernel.model import Entry, FieldChange, Issue, ListingKey, canonical_json
from reconciler.plan.change import Change, Held
from reconciler.plan.changetext import location_label, price_move, word_line
from reconciler.plan.heldtext import md_rows, text_lines
from reconciler.plan.render_json import json
from reconciler.plan.value import Plan

MARKER = "<!-- reconciler-plan -->"
TEMPLATE = "plan.md.j2"
SYMBOLS = {"create": "+", "update": "~", "delete": "-", "held": "!"}
_ANSI = {"create": "32", "update": "33", "delete": "31", "held": "35", "unsafe": "1;31", "dim": "2",
         "removed": "31", "added": "32"}
TEXT_MAX = 200  # characters of a text value shown in the terminal
MD_TEXT_MAX = 1000  # ... and in a PR comment
MD_MAX_SKUS = 100  # SKUs with details in a PR comment (GitHub caps a comment at 65,536 chars)
_SELECTOR_HIDDEN = ("marketplace_id",)
_ENTRY_HIDDEN = ("marketplace_id", "language_tag")
_TEXTS = ("item_name", "product_description", "bullet_point")


# --------------------------------------------------------------------------- escaping


_MD_ENTITIES = str.maketrans(
    {
        "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
        "\\": "&#92;", "|": "&#124;", "`": "&#96;", "*": "&#42;", "_": "&#95;",
        "[": "&#91;", "]": "&#93;", "~": "&#126;", "#": "&#35;", "!": "&#33;",
        "@": "&#64;", "$": "&#36;", "{": "&#123;", "}": "&#125;",
    }
)  # fmt: skip


def md_escape(value: object) -> str:
    """Escape for a Markdown table cell inside HTML in one pass: HTML special characters,
    Markdown emphasis/link/code/math characters, pipes; newlines become ``<br>``."""
    s = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return s.translate(_MD_ENTITIES).replace("\n", "<br>")


def term_clean(value: object) -> str:
    """Control characters (ESC, CR, ...) made visible, so catalog text cannot drive the
    terminal."""
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
        for ch in str(value)
    )


def _clip(s: str, limit: int) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"


# --------------------------------------------------------------------------- values


def selector_label(f: FieldChange, locations: Mapping[str, str] | None = None) -> str:
    """The selector values that tell entries apart; a supply source with its catalog name."""
    return " ".join(
        location_label(v, locations or {}) if k == "fulfillment_channel_code" else v
        for k, v in f.selector
        if k not in _SELECTOR_HIDDEN and v
    )


def _money(entry: Entry) -> str:
    try:
        v = entry["our_price"][0]["schedule"][0]["value_with_tax"]
    except (KeyError, IndexError, TypeError):
        v = entry.get("value", entry.get("value_with_tax"))
    return f"{v} {entry.get('currency', '')}".strip()


def value_texts(attribute: str, entries: list[Entry] | None) -> list[str]:
    """Human forms of one selector's entries (one string per entry; several for bullets)."""
    if entries is None:
        return []
    out = []
    for e in entries:
        if attribute == "purchasable_offer":
            out.append(describe_offer(e))
        elif attribute == "list_price":
            out.append(_money(e))
        elif attribute == "fulfillment_availability":
            rest = {k: v for k, v in e.items() if k not in ("fulfillment_channel_code", "quantity")}
            q = str(e.get("quantity", "?"))
            out.append(q + (f" {canonical_json(rest)}" if rest else ""))
        elif "value" in e and len(e) <= 3 and attribute in _TEXTS:
            out.append(str(e["value"]))
        else:
            out.append(_fields_text(e))
    return out


def _fields_text(e: Entry) -> str:
    """A product type attribute's entry without its hidden selectors: its only field, a value
    with its unit, or the fields as JSON."""
    fields = {k: v for k, v in e.items() if k not in _ENTRY_HIDDEN}
    if len(fields) == 1:
        return str(next(iter(fields.values())))
    if set(fields) == {"value", "unit"}:
        return f"{fields['value']} {fields['unit']}"
    return canonical_json(fields)


def _absent_or_clear(f: FieldChange) -> str:
    """How a missing side of a field change reads: a selector the catalog clears is (clear)."""
    return "(clear)" if f.new is None and f.old is not None else "(absent)"


def _marketplace_code(marketplace_id: str) -> str:
    m = lookup(marketplace_id)
    return m.code if m else marketplace_id


def remote_summary(plan: Plan) -> str:
    """One line about ``--validate-remote`` (empty when it was not used)."""
    if not plan.validated:
        return ""
    bad = len(plan.remote_issues)
    return f"Amazon validated {plan.validated} planned write(s) (VALIDATION_PREVIEW): " + (
        f"{bad} with issues" if bad else "no issues"
    )


def no_changes_detail(plan: Plan) -> str:
    """What "No changes." means for this plan (held listings are not changes: nothing will be
    written for them until their texts exist)."""
    if not plan.held:
        return "Live state matches the catalog."
    n = len(plan.held)
    return (
        f"Live state matches the catalog, except {n} listing{'s' if n != 1 else ''} "
        "held for review (nothing is written for held texts)."
    )


def summary_line(plan: Plan) -> str:
    return (
        f"{plan.count('create')} to create, {plan.count('update')} to update, "
        f"{plan.count('delete')} to delete, {len(plan.held)} held, {plan.unchanged} unchanged"
    )


def per_marketplace(plan: Plan) -> list[dict[str, Any]]:
    """Rows of the summary table: counts per marketplace code, plus a total row."""
    codes: dict[str, str] = {}
    for c in plan.changes:
        codes[c.key.marketplace_id] = c.marketplace
    for h in plan.held:
        codes[h.key.marketplace_id] = h.marketplace
    rows: dict[str, dict[str, Any]] = {}

    def row(mid: str) -> dict[str, Any]:
        code = codes.get(mid) or _marketplace_code(mid)
        return rows.setdefault(
            code,
            {"marketplace": code, "create": 0, "update": 0, "delete": 0, "held": 0, "unchanged": 0},
        )

    touched = set()
    for c in plan.changes:
        row(c.key.marketplace_id)[c.action] += 1
        touched.add(c.key)
    for h in plan.held:
        row(h.key.marketplace_id)["held"] += 1
        touched.add(h.key)
    for k in plan.fingerprints:
        r = row(k.marketplace_id)
        if k not in touched:
            r["unchanged"] += 1
    out = [rows[k] for k in sorted(rows)]
    total = {"marketplace": "total"}
    total.update(
        {a: sum(r[a] for r in out) for a in ("create", "update", "delete", "held", "unchanged")}
    )
    return [*out, total]


# --------------------------------------------------------------------------- text


def text(plan: Plan, *, color: bool = False) -> str:
    """The terminal render. ANSI colour only when ``color`` (the CLI passes ``use_color()``)."""

    def paint(kind: str, s: str) -> str:
        return f"\x1b[{_ANSI[kind]}m{s}\x1b[0m" if color else s

    multi = len(plan.accounts) > 1
    lines = [f"reconciler plan: {summary_line(plan)}"]
    if not plan.changes:
        lines.append(f"No changes. {no_changes_detail(plan)}")
    held_by_key = {h.key: h for h in plan.held}
    for c in plan.changes:
        lines.append("")
        where = f", account {c.key.account}" if multi else ""
        head = f"{SYMBOLS[c.action]} {c.action} {term_clean(c.name)}"
        lines.append(paint(c.action, head) + f"  [{term_clean(c.product_type)}{where}]")
        for f in c.fields:
            lines.extend(_text_field(c, f, plan.locations, paint))
        for d in c.derivations:
            shown = term_clean(describe_derivation(d))
            lines.append(paint("dim", f"    price {d.marketplace}: {shown}"))
        h = held_by_key.get(c.key)
        if h is not None:
            lines.append(paint("held", f"    ! texts held: {term_clean(h.reason)}"))
        for i in plan.remote_issues.get(c.key, ()):
            lines.append(paint("unsafe", f"    ! Amazon preview: {term_clean(issue_text(i))}"))
    for h in plan.held:
        lines.append("")
        scope = "whole listing" if h.whole_listing else "texts only; price and quantity planned"
        lines.append(
            paint("held", f"! held {term_clean(h.name)}")
            + f": {term_clean(h.reason)} ({', '.join(h.attributes)}; {scope})"
        )
        lines += text_lines(h.texts, term_clean, TEXT_MAX)
    if plan.strategy is not None and plan.changes:
        lines += ["", f"Strategy: {plan.strategy.describe()}"]
    if plan.validated:
        lines += ["", remote_summary(plan)]
    if plan.safety:
        lines += [
            "",
            paint(
                "unsafe",
                f"UNSAFE: {len(plan.safety)} safety violation(s); apply stops unless --force:",
            ),
        ]
        lines += [paint("unsafe", f"  ! {term_clean(r)}") for r in plan.safety]
    lines += ["", f"checksum: {plan.checksum}"]
    return "\n".join(lines) + "\n"


def _text_field(
    c: Change, f: FieldChange, locations: Mapping[str, str], paint: Callable[[str, str], str]
) -> list[str]:
    sel = selector_label(f, locations)
    label = f"    {f.attribute} ({term_clean(sel)})" if sel else f"    {f.attribute}"
    # repr() shows text values quoted with control characters escaped; others are cleaned.
    show = repr if _is_text(f) else term_clean
    old = [show(_clip(s, TEXT_MAX)) for s in value_texts(f.attribute, f.old)]
    new = [show(_clip(s, TEXT_MAX)) for s in value_texts(f.attribute, f.new)]
    if len(old) <= 1 and len(new) <= 1:
        after = new[0] if new else _absent_or_clear(f)
        line = f"{label}: {old[0] if old else '(absent)'} -> {after}"
        lines = [line + price_move(f)]
    else:
        lines = [f"{label}:", *(f"      - {s}" for s in old), *(f"      + {s}" for s in new)]
        if f.new is None:
            lines.append("      + (clear)")
    words = word_line(  # wdiff style, coloured too when colour is on
        f, term_clean,
        lambda t: paint("removed", f"[-{t}-]"), lambda t: paint("added", f"{{+{t}+}}"),
    )
    return [*lines, f"      words: {words}"] if words else lines


def _is_text(f: FieldChange) -> bool:
    return f.attribute in ("item_name", "product_description", "bullet_point")


# --------------------------------------------------------------------------- markdown


@dataclass(frozen=True)
class _Section:
    symbol: str
    action: str
    marketplace: str
    account: str
    product_type: str
    rows: tuple[dict[str, str], ...]
    derivations: tuple[str, ...]
    note: str
    issues: tuple[str, ...] = ()
    words: tuple[str, ...] = ()  # word diffs of long text changes, escaped
    held_texts: tuple[dict[str, str], ...] = ()  # drafted translations held, escaped


def _md_values(attribute: str, entries: list[Entry] | None) -> str:
    vals = value_texts(attribute, entries)
    if not vals:
        return "—"
    if attribute == "bullet_point":
        return "<br>".join(
            f"{i}. {md_escape(_clip(v, MD_TEXT_MAX))}" for i, v in enumerate(vals, 1)
        )
    return "<br>".join(md_escape(_clip(v, MD_TEXT_MAX)) for v in vals)


def issue_text(i: Issue) -> str:
    attrs = f" ({', '.join(i.attribute_names)})" if i.attribute_names else ""
    return f"{i.severity} {i.code}: {i.message}{attrs}"


def _md_words(f: FieldChange, locations: Mapping[str, str]) -> str:
    """``item_name fr_FR: … Réversible <del>- NEW!!</del>`` for a long text change (GitHub
    strikes <del> through and underlines <ins>), else empty."""
    words = word_line(f, md_escape, "<del>{}</del>".format, "<ins>{}</ins>".format)
    return f"{md_escape(f'{f.attribute} {selector_label(f, locations)}')}: {words}" if words else ""


def _sections(
    changes: Iterable[Change],
    held: Iterable[Held],
    multi: bool,
    remote: Mapping[ListingKey, tuple[Issue, ...]],
    locations: Mapping[str, str],
) -> list[_Section]:
    held_map = {h.key: h for h in held}
    out = []
    for c in changes:
        rows = tuple(
            {
                "attribute": md_escape(f.attribute),
                "selector": md_escape(selector_label(f, locations)),
                "old": _md_values(f.attribute, f.old),
                "new": (_md_values(f.attribute, f.new) + md_escape(price_move(f)))
                if f.new is not None or f.old is None else "(clear)",
            }
            for f in c.fields
        )
        words = tuple(w for w in (_md_words(f, locations) for f in c.fields) if w)
        h = held_map.pop(c.key, None)
        note = f"{md_escape(h.reason)} (texts only; price and quantity planned)" if h else ""
        out.append(
            _Section(
                SYMBOLS[c.action],
                c.action,
                md_escape(c.marketplace),
                md_escape(c.key.account) if multi else "",
                md_escape(c.product_type),
                rows,
                tuple(md_escape(describe_derivation(d)) for d in c.derivations),
                note,
                tuple(md_escape(issue_text(i)) for i in remote.get(c.key, ())),
                words,
                md_rows(h.texts, md_escape, MD_TEXT_MAX) if h else (),
            )
        )
    for h in held_map.values():
        scope = "whole listing, nothing is created" if h.whole_listing else "texts only"
        out.append(
            _Section(
                SYMBOLS["held"],
                "held",
                md_escape(h.marketplace),
                md_escape(h.key.account) if multi else "",
                "",
                (),
                (),
                f"{md_escape(h.reason)} ({md_escape(', '.join(h.attributes))}; {scope})",
                held_texts=md_rows(h.texts, md_escape, MD_TEXT_MAX),
            )
        )
    return out


def _skus(plan: Plan, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Details per SKU for the first ``limit`` SKUs, and how many SKUs there are in all."""
    multi = len(plan.accounts) > 1
    changes: dict[tuple[str, str], list[Change]] = {}
    held: dict[tuple[str, str], list[Held]] = {}
    for c in plan.changes:
        changes.setdefault((c.key.account, c.key.sku), []).append(c)
    for h in plan.held:
        held.setdefault((h.key.account, h.key.sku), []).append(h)
    keys = sorted(changes.keys() | held.keys())
    out = []
    for account, sku in keys[:limit]:
        k = (account, sku)
        sections = _sections(
            changes.get(k, ()), held.get(k, ()), multi, plan.remote_issues, plan.locations
        )
        out.append(
            {
                "sku": md_escape(sku),
                "account": md_escape(account) if multi else "",
                "headline": ", ".join(f"{s.symbol} {s.marketplace}" for s in sections),
                "sections": sections,
            }
        )
    return out, len(keys)


def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True
    )


def _template_source() -> str:
    return resources.files("reconciler").joinpath("templates").joinpath(TEMPLATE).read_text("utf-8")


def markdown(plan: Plan) -> str:
    """The PR-comment render: hidden marker, safety first, summary table, strategy, then one
    collapsible section per SKU with old -> new per field and each price's derivation."""
    skus, total = _skus(plan, MD_MAX_SKUS)
    strategy = plan.strategy.describe() if plan.strategy is not None and plan.changes else ""
    view = {
        "marker": MARKER,
        "summary": summary_line(plan),
        "safety": [md_escape(r) for r in plan.safety],
        "rows": [
            {**r, "marketplace": md_escape(r["marketplace"])} if r["marketplace"] != "total" else r
            for r in per_marketplace(plan)
        ],
        "strategy": md_escape(strategy),
        "skus": skus,
        "more_skus": total - len(skus),
        "remote": md_escape(remote_summary(plan)),
        "checksum": plan.checksum,
        "has_changes": plan.has_changes,
        "no_changes": md_escape(no_changes_detail(plan)),
    }
    return _environment().from_string(_template_source()).render(**view)


RENDERERS: dict[str, Callable[[Plan], str]] = {"text": text, "markdown": markdown, "json": json}
