"""The HTML page: one file with its styles, the chart library and the chart specs inlined.

Opened from disk it makes no request: no CDN, no web font (the system's sans-serif), no image.
Every value from the audit logs, catalog or cache is HTML-escaped by jinja2's autoescape; chart
specs go in ``<script type="application/json">`` with ``<``, ``>`` and ``&`` escaped, so a
hostile SKU cannot end the element.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from jinja2 import Environment, StrictUndefined, select_autoescape
from markupsafe import Markup

from .aggregate import ReportData
from .assets import inline_script
from .charts import Chart, all_charts
from .model import fmt
from .tables import all_tables, outcome_table, run_kpis

TEMPLATE = "report.html.j2"


def spec_json(spec: dict[str, Any]) -> Markup:
    text = json.dumps(spec, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 (escaped for a JSON script element just above)


def _environment() -> Environment:
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["spec_json"] = spec_json
    env.globals["fmt"] = fmt
    return env


def _template() -> str:
    return resources.files("reconciler").joinpath("templates").joinpath(TEMPLATE).read_text(
        "utf-8")


def context(data: ReportData, charts: dict[str, list[Chart]]) -> dict[str, Any]:
    window = (f"since {data.since:%Y-%m-%d %H:%M}Z" if data.since else "all recorded runs")
    details = [(r, run_kpis(r), outcome_table(r)) for r in data.detail_runs]
    return {
        "d": data, "charts": charts, "tables": all_tables(data), "window": window,
        "details": details, "breach_runs": data.breach_runs,
        "generated": f"{data.now:%Y-%m-%d %H:%M}Z",
        "totals": {
            "runs": len(data.runs), "applies": sum(1 for r in data.runs if r.kind == "apply"),
            "drifts": sum(1 for r in data.runs if r.kind == "drift"),
            "changes": sum(r.changes for r in data.runs),
            "throttles": sum(int((r.kpis or {}).get("throttles", 0)) for r in data.runs),
            "retries": sum(int((r.kpis or {}).get("retries", 0)) for r in data.runs),
        },
    }


def render(data: ReportData, vega_js: str) -> str:
    charts = all_charts(data)
    ctx = context(data, charts)
    ctx["vega_js"] = Markup(inline_script(vega_js))  # noqa: S704 (the library, made inert above)
    return _environment().from_string(_template()).render(**ctx)
