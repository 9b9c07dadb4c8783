"""How the plan shows a drafted translation it holds (issue 16): for each held text its source,
the machine's draft, the gates' results and the status; for a stale one, the source change
next to the held translation. Used by :mod:`reconciler.plan.render` (terminal and PR comment);
the JSON plan carries the same fields (:func:`reconciler.plan.codec.held_text_data`).

Escaping is the caller's (``clean`` for the terminal, ``md_escape`` for Markdown), passed in.
Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from reconciler.kernel.model import HeldText

Clean = Callable[[object], str]


def _clip(s: str, limit: int) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _gates(gates: tuple[str, ...], sep: str) -> str:
    failed = [g for g in gates if not g.endswith(": ok")]
    if failed:
        return sep.join(failed)
    return "all passed (" + ", ".join(g.split(":")[0] for g in gates) + ")"


def _origin(t: HeldText) -> str:
    why = f": {t.reason}" if t.reason else ""
    src = f", from {t.source_language}" if t.source_language else ""
    return f"{t.attribute} {t.language} {t.status}{src}{why}"


def text_lines(texts: Iterable[HeldText], clean: Clean, limit: int) -> list[str]:
    """Terminal lines, indented under the held listing's line."""
    lines: list[str] = []
    for t in texts:
        lines.append(f"    {clean(_origin(t))}")
        if t.source_diff:
            lines.append("      source changed:")
            lines += [f"        {clean(_clip(d, limit))}" for d in t.source_diff]
        for label, values in (("source", t.source), ("draft", t.draft)):
            many = len(values) > 1
            for i, v in enumerate(values, 1):
                tag = f"{label} {i}" if many else label
                lines.append(f"      {tag}: {_clip(repr(v), limit)}")
        if t.status == "missing":
            lines.append("      draft: (none: run `reconciler translate`)")
        if t.gates:
            lines.append(f"      gates: {clean(_gates(t.gates, '; '))}")
    return lines


def md_rows(texts: Iterable[HeldText], md: Clean, limit: int) -> tuple[dict[str, str], ...]:
    """Rows of the PR comment's held-texts table (every value escaped)."""
    rows = []
    for t in texts:
        def cell(values: tuple[str, ...]) -> str:
            if not values:
                return "—"
            if len(values) == 1:
                return md(_clip(values[0], limit))
            return "<br>".join(f"{i}. {md(_clip(v, limit))}" for i, v in enumerate(values, 1))

        source = cell(t.source)
        if t.source_diff:
            changed = "<br>".join(
                f"<del>{md(_clip(d[2:], limit))}</del>" if d.startswith("- ")
                else f"<ins>{md(_clip(d[2:], limit))}</ins>" for d in t.source_diff
            )
            source = f"changed: {changed}<br>now: {source}"
        gates = md(_gates(t.gates, "\n")) if t.gates else "—"
        rows.append({
            "field": md(f"{t.attribute} ({t.language})"),
            "status": md(f"{t.status}: {t.reason}" if t.reason else t.status),
            "source": source,
            "draft": cell(t.draft),
            "gates": gates,
        })
    return tuple(rows)
