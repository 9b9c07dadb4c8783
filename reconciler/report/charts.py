"""The report's charts as Vega-Lite specifications (plain JSON: the page embeds them).

Each :class:`Chart` carries its alt text (the ``description``, which Vega puts on the SVG as its
``aria-label``) and ``expected_marks``: how many marks the data must draw, counted from the rows
given to each layer. The page records both, so a browser test can compare what Vega drew with
what the data says.

Colours are the Okabe–Ito palette (safe for the common colour-vision deficiencies), and every
colour-coded series is also told apart by a legend label, a shape or a dash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .aggregate import ReportData
from .model import TARGETS
from .slo import SloFigure

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
             "#000000")
STATE_COLOURS = {"converged": "#009E73", "pending": "#E69F00", "rejected": "#D55E00",
                 "held": "#CC79A7", "unknown": "#999999"}
WIDTH = 640


@dataclass(frozen=True)
class Chart:
    chart_id: str
    title: str
    description: str  # alt text
    spec: dict[str, Any]
    expected_marks: int


def _iso(t: Any) -> str:
    return str(t.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _base(description: str, height: int = 180, width: int = WIDTH) -> dict[str, Any]:
    return {"$schema": SCHEMA, "description": description, "width": width, "height": height,
            "config": {"range": {"category": list(OKABE_ITO)}, "view": {"stroke": None},
                       "axis": {"labelFontSize": 11, "titleFontSize": 12}}}


def _time_x(data: ReportData, title: str = "time (UTC)") -> dict[str, Any]:
    """The time axis: the whole window on every chart, so they line up."""
    start = data.since or (data.runs[0].time if data.runs else data.now)
    return {"field": "t", "type": "temporal", "title": title,
            "scale": {"type": "utc", "domain": [_iso(start), _iso(data.now)]}}


def slo_chart(fig: SloFigure, data: ReportData) -> Chart:
    t = fig.target
    worst = [(b.start, b.worst[t.key]) for b in data.buckets if t.key in b.worst]
    rows = [{"t": _iso(s), "v": v} for s, v in worst]
    bad = [{"t": _iso(s), "v": v} for s, v in worst if t.breached(v)]
    desc = (f"Trend of {t.label}: the worst run per {_bucket_word(data.bucket_s)} against the "
            f"target {t.describe()}; {len(fig.breaches)} breaching run(s) in "
            f"{len(bad)} period(s), marked with triangles.")
    spec = _base(desc, 130, 290)
    y = {"field": "v", "type": "quantitative", "title": f"{t.label} ({t.unit})",
         "scale": {"zero": False}}
    spec["layer"] = [
        {"data": {"values": rows}, "mark": {"type": "line", "color": "#0072B2"},
         "encoding": {"x": _time_x(data), "y": y}},
        {"data": {"values": rows}, "mark": {"type": "point", "filled": True, "size": 24,
                                            "color": "#0072B2"},
         "encoding": {"x": _time_x(data), "y": y}},
        {"data": {"values": [{"bound": t.bound}]},
         "mark": {"type": "rule", "color": "#000000", "strokeDash": [4, 3]},
         "encoding": {"y": {"field": "bound", "type": "quantitative"}}},
        {"name": "breaches", "data": {"values": bad},
         "mark": {"type": "point", "shape": "triangle-up", "filled": True, "size": 70,
                  "color": "#D55E00"},
         "encoding": {"x": _time_x(data), "y": y,
                      "tooltip": [{"field": "t", "type": "temporal", "title": "period"},
                                  {"field": "v", "type": "quantitative", "title": t.label}]}},
    ]
    return Chart(f"chart-slo-{t.key}", f"{t.label}: trend", desc, spec,
                 (1 if rows else 0) + len(rows) + 1 + len(bad))


def _bucket_word(seconds: int) -> str:
    return {900: "15 minutes", 3600: "hour", 86400: "day", 7 * 86400: "week"}.get(
        seconds, f"{seconds // 3600} hours" if seconds < 86400 else f"{seconds // 86400} days")


def runs_chart(data: ReportData) -> Chart:
    rows = [{"t": _iso(b.start), "kind": k, "n": n} for b in data.buckets
            for k, n in (("apply", b.applies), ("drift", b.drifts)) if n]
    desc = (f"Runs per {_bucket_word(data.bucket_s)}: {sum(b.applies for b in data.buckets)} "
            f"applies and {sum(b.drifts for b in data.buckets)} drift applies, stacked.")
    spec = _base(desc)
    spec["data"] = {"values": rows}
    spec["mark"] = {"type": "bar"}
    spec["encoding"] = {
        "x": _time_x(data), "y": {"field": "n", "type": "quantitative", "title": "runs",
                              "stack": "zero"},
        "color": {"field": "kind", "type": "nominal", "title": "run",
                  "scale": {"domain": ["apply", "drift"], "range": ["#0072B2", "#56B4E9"]}},
        "tooltip": [{"field": "t", "type": "temporal"}, {"field": "kind"}, {"field": "n"}]}
    return Chart("chart-runs", "Runs over time", desc, spec, len(rows))


def activity_chart(data: ReportData) -> Chart:
    series = (("changes written", "changes"), ("throttled (429)", "throttles"),
              ("retries", "retries"))
    rows = [{"t": _iso(b.start), "series": name, "n": getattr(b, attr)}
            for b in data.buckets for name, attr in series]
    desc = (f"Changes written, throttled calls and retries per {_bucket_word(data.bucket_s)} "
            f"(totals {sum(b.changes for b in data.buckets)}, "
            f"{sum(b.throttles for b in data.buckets)}, {sum(b.retries for b in data.buckets)}).")
    spec = _base(desc)
    spec["data"] = {"values": rows}
    spec["mark"] = {"type": "line", "interpolate": "step-after",
                    "point": {"filled": True, "size": 16}}
    spec["encoding"] = {
        "x": _time_x(data), "y": {"field": "n", "type": "quantitative", "title": "count"},
        "color": {"field": "series", "type": "nominal", "title": None,
                  "scale": {"domain": [s for s, _ in series],
                            "range": ["#0072B2", "#D55E00", "#E69F00"]}},
        "strokeDash": {"field": "series", "type": "nominal", "legend": None,
                       "scale": {"domain": [s for s, _ in series],
                                 "range": [[1, 0], [5, 3], [2, 2]]}}}
    return Chart("chart-activity", "Changes, throttles and retries", desc, spec,
                 len(series) + len(rows) if rows else 0)


def wall_chart(data: ReportData) -> Chart | None:
    timed = [b for b in data.buckets if b.timed]
    if not timed:
        return None
    rows = [{"t": _iso(b.start), "series": name, "s": round(v, 2)} for b in timed
            for name, v in (("wall time", b.wall_s), ("quota lower bound", b.lower_s))]
    desc = (f"Apply wall time against the quota lower bound per {_bucket_word(data.bucket_s)}, "
            f"summed over {sum(b.timed for b in timed)} runs that recorded both.")
    spec = _base(desc)
    spec["data"] = {"values": rows}
    spec["mark"] = {"type": "line", "point": {"filled": True, "size": 16}}
    spec["encoding"] = {
        "x": _time_x(data), "y": {"field": "s", "type": "quantitative", "title": "seconds"},
        "color": {"field": "series", "type": "nominal", "title": None,
                  "scale": {"domain": ["wall time", "quota lower bound"],
                            "range": ["#0072B2", "#000000"]}},
        "strokeDash": {"field": "series", "type": "nominal", "legend": None,
                       "scale": {"domain": ["wall time", "quota lower bound"],
                                 "range": [[1, 0], [4, 3]]}}}
    return Chart("chart-wall", "Wall time against the quota lower bound", desc, spec,
                 2 + len(rows))


def health_chart(data: ReportData) -> Chart | None:
    rows = [{"marketplace": mp, "state": st, "n": n}
            for (mp, st), n in sorted(data.health.counts.items()) if n]
    if not rows:
        return None
    desc = ("Listings per marketplace by state: " + "; ".join(
        f"{r['marketplace']} {r['state']} {r['n']}" for r in rows[:40]) + ".")
    spec = _base(desc, max(120, 26 * len({r["marketplace"] for r in rows})))
    spec["data"] = {"values": rows}
    spec["mark"] = {"type": "bar"}
    states = [s for s in STATE_COLOURS if any(r["state"] == s for r in rows)]
    spec["encoding"] = {
        "y": {"field": "marketplace", "type": "nominal", "title": "marketplace"},
        "x": {"field": "n", "type": "quantitative", "title": "listings", "stack": "zero"},
        "color": {"field": "state", "type": "nominal", "title": "state",
                  "scale": {"domain": states, "range": [STATE_COLOURS[s] for s in states]}},
        "order": {"field": "state", "sort": "ascending"},
        "tooltip": [{"field": "marketplace"}, {"field": "state"}, {"field": "n"}]}
    return Chart("chart-health", "Listing health per marketplace", desc, spec, len(rows))


def price_chart(data: ReportData, limit: int = 200) -> Chart | None:
    series = data.prices[:limit]
    if not series:
        return None
    first = series[0]
    rows, guards, rates = [], [], []
    for s in series:
        prev_rate = None
        for p in s.points:
            rows.append({"series": s.name, "t": _iso(p.time), "price": p.price,
                         "source": p.source, "rate": p.rate_as_of or "n/a"})
            for bound, v in (("min guard", p.guard_min), ("max guard", p.guard_max)):
                if v is not None:
                    guards.append({"series": s.name, "t": _iso(p.time), "guard": bound, "v": v})
            if p.rate_as_of and p.rate_as_of != prev_rate and prev_rate is not None:
                rates.append({"series": s.name, "t": _iso(p.time), "rate": p.rate_as_of})
            prev_rate = p.rate_as_of or prev_rate
    desc = (f"Price history of {len(series)} SKU and marketplace series (choose one below the "
            f"chart; first: {first.name}): each written price, the live and the planned price, "
            "against the min/max guards (dashed) and the dates the FX rate changed (vertical "
            "rules).")
    spec = _base(desc, 200)
    spec["params"] = [{"name": "series", "value": first.name,
                       "bind": {"input": "select", "options": [s.name for s in series],
                                "name": "SKU and marketplace: "}}]
    flt = {"filter": "datum.series === series"}
    # its own time range: a live read or a price may predate the window
    x = {"field": "t", "type": "temporal", "title": "time (UTC)", "scale": {"type": "utc"}}
    y = {"field": "price", "type": "quantitative", "title": "price", "scale": {"zero": False}}
    spec["layer"] = [
        {"data": {"values": rows}, "transform": [flt],
         "mark": {"type": "line", "interpolate": "step-after", "color": "#0072B2"},
         "encoding": {"x": x, "y": y}},
        {"data": {"values": rows}, "transform": [flt],
         "mark": {"type": "point", "filled": True, "size": 40},
         "encoding": {"x": x, "y": y,
                      "shape": {"field": "source", "type": "nominal", "title": "price",
                                "scale": {"domain": ["written", "live", "planned"],
                                          "range": ["circle", "square", "diamond"]}},
                      "color": {"field": "source", "type": "nominal", "title": "price",
                                "scale": {"domain": ["written", "live", "planned"],
                                          "range": ["#0072B2", "#E69F00", "#009E73"]}},
                      "tooltip": [{"field": "t", "type": "temporal", "title": "time"},
                                  {"field": "price"}, {"field": "source"},
                                  {"field": "rate", "title": "FX rate of"}]}},
        {"data": {"values": guards}, "transform": [flt],
         "mark": {"type": "line", "interpolate": "step-after", "strokeDash": [4, 3],
                  "color": "#D55E00"},
         "encoding": {"x": x, "y": {"field": "v", "type": "quantitative"},
                      "detail": {"field": "guard", "type": "nominal"}}},
        {"data": {"values": rates}, "transform": [flt],
         "mark": {"type": "rule", "color": "#CC79A7", "strokeDash": [2, 2]},
         "encoding": {"x": x, "tooltip": [{"field": "rate", "title": "FX rate of"}]}},
    ]
    n_guards = len({g["guard"] for g in guards if g["series"] == first.name})
    expected = 1 + len(first.points) + n_guards + sum(
        1 for r in rates if r["series"] == first.name)
    return Chart("chart-prices", "Price history", desc, spec, expected)


def stock_chart(data: ReportData) -> Chart | None:
    sites = data.stock.sites
    if not sites:
        return None
    rows = [{"site": f"{s.marketplace} · {s.site}", "kind": k, "units": v}
            for s in sites for k, v in (("allocated", s.allocated), ("live", s.live))]
    desc = ("Stock per site, allocated by the catalog against live on Amazon: " + "; ".join(
        f"{s.marketplace} {s.site} {s.allocated} vs {s.live}" for s in sites[:30]) + ".")
    spec = _base(desc, max(120, 34 * len(sites)))
    spec["data"] = {"values": rows}
    spec["mark"] = {"type": "bar"}
    spec["encoding"] = {
        "y": {"field": "site", "type": "nominal", "title": None},
        "yOffset": {"field": "kind", "type": "nominal"},
        "x": {"field": "units", "type": "quantitative", "title": "units"},
        "color": {"field": "kind", "type": "nominal", "title": None,
                  "scale": {"domain": ["allocated", "live"], "range": ["#0072B2", "#E69F00"]}},
        "tooltip": [{"field": "site"}, {"field": "kind"}, {"field": "units"}]}
    return Chart("chart-stock", "Stock per site against allocation", desc, spec, len(rows))


def order_charts(data: ReportData) -> list[Chart]:
    o = data.orders
    out: list[Chart] = []
    rows = [{"marketplace": mp, "status": st, "n": n}
            for mp, sts in o.per_marketplace.items() for st, n in sts.items() if n]
    if rows:
        desc = "Orders per marketplace by status: " + "; ".join(
            f"{r['marketplace']} {r['status']} {r['n']}" for r in rows[:40]) + "."
        spec = _base(desc, max(100, 26 * len(o.per_marketplace)))
        spec.update(data={"values": rows}, mark={"type": "bar"}, encoding={
            "y": {"field": "marketplace", "type": "nominal"},
            "x": {"field": "n", "type": "quantitative", "title": "orders", "stack": "zero"},
            "color": {"field": "status", "type": "nominal"},
            "tooltip": [{"field": "marketplace"}, {"field": "status"}, {"field": "n"}]})
        out.append(Chart("chart-orders", "Orders per marketplace", desc, spec, len(rows)))
    if o.routed:
        rows = [{"warehouse": w, "units": u, "orders": n} for w, (n, u) in o.routed.items()]
        desc = "Routed units per warehouse: " + "; ".join(
            f"{r['warehouse']} {r['units']} units in {r['orders']} orders" for r in rows) + "."
        spec = _base(desc, max(100, 26 * len(rows)))
        spec.update(data={"values": rows}, mark={"type": "bar", "color": "#0072B2"}, encoding={
            "y": {"field": "warehouse", "type": "nominal"},
            "x": {"field": "units", "type": "quantitative", "title": "units routed"},
            "tooltip": [{"field": "warehouse"}, {"field": "units"}, {"field": "orders"}]})
        out.append(Chart("chart-routed", "Routed per warehouse", desc, spec, len(rows)))
    if o.confirm_bins:
        rows = [{"bin": label, "n": n, "i": i} for i, (label, n) in enumerate(o.confirm_bins)]
        desc = "Time from order to confirmed shipment: " + "; ".join(
            f"{r['bin']} {r['n']}" for r in rows) + "."
        spec = _base(desc, 140)
        spec.update(data={"values": rows}, mark={"type": "bar", "color": "#009E73"}, encoding={
            "x": {"field": "bin", "type": "ordinal", "sort": {"field": "i"},
                  "title": "time to confirmation"},
            "y": {"field": "n", "type": "quantitative", "title": "orders"}})
        out.append(Chart("chart-confirm", "Time to confirmation", desc, spec, len(rows)))
    if o.unroutable:
        rows = [{"t": _iso(t), "n": n} for t, n in o.unroutable]
        desc = (f"Unroutable orders per routing run ({len(rows)} runs, latest "
                f"{rows[-1]['n']}).")
        spec = _base(desc, 140)
        spec.update(data={"values": rows}, mark={"type": "bar", "color": "#D55E00"}, encoding={
            "x": _time_x(data), "y": {"field": "n", "type": "quantitative", "title": "unroutable"}})
        out.append(Chart("chart-unroutable", "Unroutable orders", desc, spec, len(rows)))
    return out


def all_charts(data: ReportData) -> dict[str, list[Chart]]:
    """Charts by report section (a section without data has none)."""
    slo = [slo_chart(f, data) for f in data.slo] if data.runs else []
    runs: list[Chart] = [runs_chart(data), activity_chart(data)] if data.runs else []
    wall = wall_chart(data)
    if wall is not None:
        runs.append(wall)
    return {
        "slo": slo, "runs": runs, "health": _some(health_chart(data)),
        "prices": _some(price_chart(data)), "stock": _some(stock_chart(data)),
        "orders": order_charts(data),
    }


def _some(c: Chart | None) -> list[Chart]:
    return [] if c is None else [c]


def count(charts: dict[str, Sequence[Chart]]) -> int:
    return sum(len(v) for v in charts.values())


__all__ = ["TARGETS", "Chart", "all_charts"]
