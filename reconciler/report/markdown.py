"""``report --format markdown``: a short summary for ``$GITHUB_STEP_SUMMARY`` and PR comments.

The SLO line (now, window worst and breaches per target) and the listings that need a person;
at most :data:`MAX_ROWS` rows, the rest counted. Every value from a log, catalog or cache is
escaped for Markdown and HTML (GitHub renders both), with the plan render's escaper.
"""

from __future__ import annotations

from reconciler.plan.render import md_escape

from .aggregate import ReportData
from .model import fmt

MAX_ROWS = 30


def summary(data: ReportData) -> str:
    window = f"since {data.since:%Y-%m-%d %H:%M}Z" if data.since else "all recorded runs"
    lines = [f"## reconciler report: {len(data.runs)} run(s), {window}", ""]
    parts = []
    for f in data.slo:
        t = f.target
        if f.now is None:
            parts.append(f"{t.label} n/a")
            continue
        mark = "✅" if f.ok_now else "❌"
        worst = f", worst {fmt(f.worst, t.unit)}" if f.worst != f.now else ""
        breaches = f", {len(f.breaches)} breach(es)" if f.breaches else ""
        sign = "≥" if t.op == ">=" else "≤"
        parts.append(f"{mark} {t.label} **{fmt(f.now, t.unit)}** "
                     f"(target {sign} {fmt(t.bound, t.unit)}{worst}{breaches})")
    lines.append("**SLO:** " + " · ".join(parts))
    lines.append("")
    need = data.health.attention
    if not need:
        lines.append("No listing needs a person.")
    else:
        lines += [f"### {len(need)} listing(s) need a person", "",
                  "| listing | account | why | detail |", "|---|---|---|---|"]
        for a in need[:MAX_ROWS]:
            lines.append(f"| {md_escape(a.sku)} ({md_escape(a.marketplace)}) | "
                         f"{md_escape(a.account)} | {md_escape(a.kind)} | "
                         f"{md_escape(a.detail[:200])} |")
        if len(need) > MAX_ROWS:
            lines.append(f"\n…and {len(need) - MAX_ROWS} more (see the HTML report).")
    notes = [n for n in data.notes if n]
    if notes:
        lines += ["", "<sub>" + " · ".join(md_escape(n) for n in notes) + "</sub>"]
    return "\n".join(lines) + "\n"
