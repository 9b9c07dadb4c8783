"""The monitoring report without a browser: reading, aggregation, Markdown, CLI, escaping.

Covers: audit lines that are cut or foreign are skipped and counted; drift vs apply runs; run
ids (anchors) are unique; the quota lower bound from older lines' strategy_reason; the window
pre-filter never drops a record in the window; SLO now/worst/breaches/trend; a year stays a few
hundred buckets; listing health from outcome, plan, catalog and cache; the Markdown summary
against its golden file (regenerate with ``--update-goldens``); the CLI's one-line errors; a
hostile SKU cannot break out of the page; the page loads nothing from elsewhere.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bench.report_history import START, Breach, generate
from reconciler.cli import main
from reconciler.report import audit_log, build
from reconciler.report.aggregate import MAX_BUCKETS, parse_since
from reconciler.report.aggregate import build as aggregate
from reconciler.report.charts import all_charts
from reconciler.report.model import TARGETS
from reconciler.report.page import render
from reconciler.report.sources import CatalogRead, LiveRead, OrdersRead

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "report-summary.md"
NOW = datetime(2025, 1, 3, tzinfo=timezone.utc)


def line(t: str, *, kpis: dict[str, Any] | None = None, outcomes: list[dict[str, Any]] | None
         = None, **extra: Any) -> str:
    rec = {"time": t, "command": "apply", "strategy": "patch", "outcomes": outcomes or [],
           "kpis": kpis if kpis is not None else {}, **extra}
    return json.dumps(rec, sort_keys=True)


def kpis(sync: float = 100.0, p95: float = 300.0, dev: float = 0.0) -> dict[str, Any]:
    return {"sync_success_pct": sync, "latency_p50_ms": 100.0, "latency_p95_ms": p95,
            "stock_deviation_pct": dev, "retries": 1, "throttles": 2, "errors": 0,
            "calls": {"patchListingsItem": 3}}


def out(account: str, sku: str, status: str = "converged", mid: str = "ATVPDKIKX0DER",
        code: str = "") -> dict[str, Any]:
    o: dict[str, Any] = {"account": account, "sku": sku, "marketplace_id": mid,
                         "action": "update", "status": status, "via": "patch"}
    if code:
        o["issues"] = [{"code": code, "message": "bad <b>value</b>", "severity": "ERROR"}]
    return o


def test_reader_skips_cut_and_foreign_lines_and_tells_drift_from_apply(tmp_path: Path) -> None:
    (tmp_path / "drift-na.jsonl").write_text("\n".join([
        line("2025-01-01T00:00:00Z", kpis=kpis(), outcomes=[out("na", "A")]),
        '{"time": "2025-01-01T00:15:00Z", "outc',  # cut by a kill
        "[1, 2]", json.dumps({"no": "time"}),
        line("2025-01-01T00:15:00Z", kpis=kpis(), outcomes=[out("na", "B")]),
    ]) + "\n")
    (tmp_path / "apply.jsonl").write_text(line(
        "2025-01-01T00:15:00Z", kpis=kpis(), outcomes=[out("na", "C")],
        strategy_reason="auto: feed: 900 listings, est. 15.1 min via 2 JSON_LISTINGS_FEEDs") + "\n")
    read = audit_log.read([tmp_path])
    assert read.lines == 6 and read.skipped == 3
    assert [(r.kind, r.source) for r in read.runs] == [
        ("drift", "drift-na.jsonl"), ("apply", "apply.jsonl"), ("drift", "drift-na.jsonl")]
    ids = [r.run_id for r in read.runs]
    assert ids[0] == "run-20250101T000000Z-na" and len(set(ids)) == 3
    assert read.runs[1].lower_bound_s == pytest.approx(15.1 * 60)
    # a missing file is a note, not a crash
    assert audit_log.read([tmp_path / "nope.jsonl"]).notes


def test_the_window_prefilter_keeps_every_record_inside_it(tmp_path: Path) -> None:
    since = datetime(2025, 1, 2, tzinfo=timezone.utc)
    # a nested "time" before the window must not hide a record inside it
    inside = line("2025-01-02T10:00:00Z", kpis=kpis(),
                  prices=[{"time": "2024-01-01T00:00:00Z", "price": 1}])
    f = tmp_path / "a.jsonl"
    f.write_text("\n".join([line("2025-01-01T10:00:00Z", kpis=kpis()), inside]) + "\n")
    read = audit_log.read([f], since=since)
    assert [r.time.day for r in read.runs] == [2]


def _data(tmp_path: Path, lines: list[str], plans: list[dict[str, Any]] | None = None,
          since: datetime | None = None) -> Any:
    f = tmp_path / "audit.jsonl"
    f.write_text("\n".join(lines) + "\n")
    return aggregate(now=NOW, since=since, audit=audit_log.read([f], since=since),
                     catalog=CatalogRead(None), live=LiveRead(), orders=OrdersRead(),
                     plans=plans or [])


def test_slo_now_is_the_worst_latest_run_per_account_and_breaches_name_their_runs(
        tmp_path: Path) -> None:
    data = _data(tmp_path, [
        line("2025-01-01T00:00:00Z", kpis=kpis(p95=1200.0), outcomes=[out("eu", "X")]),
        line("2025-01-01T01:00:00Z", kpis=kpis(sync=98.0), outcomes=[out("na", "A")]),
        line("2025-01-01T02:00:00Z", kpis=kpis(dev=0.2), outcomes=[out("na", "A")]),
        line("2025-01-01T03:00:00Z", kpis=None, outcomes=[]),  # a no-op apply: no figures
    ])
    sync, lat, dev = data.slo
    assert sync.now == 100.0 and sync.worst == 98.0
    assert [b.run_id for b in sync.breaches] == ["run-20250101T010000Z-na"]
    # eu's latest (and only) run still breaches latency: "now" shows it
    assert lat.now == 1200.0 and not lat.ok_now
    assert [b.run_id for b in lat.breaches] == ["run-20250101T000000Z-eu"]
    assert dev.breaches == () and dev.worst == 0.2 and dev.samples == 3


@pytest.mark.parametrize(("values", "trend"), [((300.0, 300.0), "steady"),
                                               ((300.0, 700.0), "worse"),
                                               ((700.0, 300.0), "better")])
def test_trend_compares_the_last_quarter_with_the_one_before(
        tmp_path: Path, values: tuple[float, float], trend: str) -> None:
    since = NOW - timedelta(days=4)
    data = _data(tmp_path, [
        line((NOW - timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M:%SZ"), kpis=kpis(p95=values[0]),
             outcomes=[out("na", "A")]),
        line((NOW - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ"), kpis=kpis(p95=values[1]),
             outcomes=[out("na", "A")]),
    ], since=since)
    assert data.slo[1].trend == trend


def test_a_year_of_runs_is_a_few_hundred_points(tmp_path: Path) -> None:
    generate(tmp_path, days=365, accounts=("na",), skus=8)
    read = audit_log.read([tmp_path])
    assert len(read.runs) > 35_000
    data = aggregate(now=START + timedelta(days=365), since=None, audit=read,
                     catalog=CatalogRead(None), live=LiveRead(), orders=OrdersRead(), plans=[])
    assert data.bucket_s == 86400 and len(data.buckets) <= MAX_BUCKETS
    charts = all_charts(data)
    for c in [*charts["slo"], *charts["runs"]]:
        rows = [len(layer["data"]["values"]) for layer in c.spec.get("layer", [c.spec])]
        assert max(rows) <= 3 * MAX_BUCKETS, c.chart_id


def test_health_takes_the_freshest_evidence(tmp_path: Path) -> None:
    plan = {"changes": [{"account": "na", "sku": "P", "marketplace": "US"}],
            "held": [{"account": "na", "sku": "H", "marketplace": "US",
                      "reason": "machine translation awaiting review"}]}
    data = _data(tmp_path, [
        line("2025-01-01T00:00:00Z", kpis=kpis(), outcomes=[
            out("na", "R", "converged"), out("na", "C", "rejected", code="8541")]),
        line("2025-01-01T01:00:00Z", kpis=kpis(), outcomes=[
            out("na", "R", "rejected", code="90220"), out("na", "C", "converged"),
            out("na", "W", "pending")]),
    ], plans=[plan])
    h = data.health
    assert h.counts == {("US", "rejected"): 1, ("US", "converged"): 1, ("US", "pending"): 2,
                        ("US", "held"): 1}
    assert h.rejected_codes == {("US", "90220"): 1}
    assert h.held == {("US", "machine"): 1}
    assert [(a.sku, a.kind) for a in h.attention] == [("H", "held"), ("R", "rejected")]
    assert h.attention[1].run_id == "run-20250101T010000Z-na"


def test_parse_since() -> None:
    assert parse_since("30d", NOW) == NOW - timedelta(days=30)
    assert parse_since("2w", NOW) == NOW - timedelta(days=14)
    assert parse_since("all", NOW) is None
    assert parse_since("2024-06-01", NOW) == datetime(2024, 6, 1, tzinfo=timezone.utc)
    with pytest.raises(ValueError):
        parse_since("soon", NOW)


def golden_data(tmp_path: Path) -> Any:
    generate(tmp_path / "audit", days=2, breaches=[
        Breach("sync_success_pct", "na", 10), Breach("latency_p95_ms", "eu", 100),
        Breach("stock_deviation_pct", "na", 150)])
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"changes": [], "held": [
        {"account": "eu", "sku": "MUG|<b>1</b>", "marketplace": "FR",
         "reason": "no texts for fr_FR"}]}))
    inputs = build.Inputs(audit=[tmp_path / "audit"], plans=[plan])
    return build.collect(inputs, now=START + timedelta(days=2), since=None)


def test_markdown_summary_golden(tmp_path: Path, update_goldens: bool) -> None:
    text = build.markdown(golden_data(tmp_path))
    if update_goldens:
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")
    # what the golden must show: every breach and the listings that need a person, escaped
    assert text.count("1 breach(es)") == 3
    assert "2 listing(s) need a person" in text and "&#91;8541&#93;" in text
    assert "MUG&#124;&lt;b&gt;1&lt;/b&gt;" in text


def test_cli_errors_are_one_line_and_exit_1(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["report", "--since", "soon", "--format", "markdown",
                                  "--audit", str(tmp_path)])
    assert r.exit_code == 1 and "--since 'soon' is not a window" in r.output
    assert "Traceback" not in r.output
    r = CliRunner().invoke(main, ["report", str(tmp_path / "missing"), "--format", "markdown",
                                  "--audit", str(tmp_path)])
    assert r.exit_code == 1 and "catalog directory" in r.output


def test_cli_markdown_goes_to_stdout(tmp_path: Path) -> None:
    generate(tmp_path / "audit", days=1, accounts=("na",),
             breaches=[Breach("latency_p95_ms", "na", 3)])
    r = CliRunner().invoke(main, ["report", "--format", "markdown", "--since", "all",
                                  "--audit", str(tmp_path / "audit"),
                                  "--now", "2025-01-02T00:00:00Z"])
    assert r.exit_code == 0, r.output
    assert "**SLO:**" in r.output and "API latency p95 **" in r.output
    assert "1 breach(es)" in r.output


HOSTILE = '</script><img src=x onerror=alert(1)><!--'


def test_a_hostile_sku_cannot_break_out_of_the_page(tmp_path: Path) -> None:
    data = _data(tmp_path, [line("2025-01-01T00:00:00Z", kpis=kpis(sync=90.0), outcomes=[
        out("na", HOSTILE, "rejected", code="<i>x</i>")])])
    page = render(data, "window.vegaEmbed = function () { return Promise.resolve(); };")
    assert "<img" not in page and "<i>x</i>" not in page
    # the only </script> closings are ours: the library, the runner and one per chart spec
    assert page.count("</script>") == 2 + sum(len(v) for v in all_charts(data).values())


@pytest.fixture(scope="module")
def real_page(tmp_path_factory: pytest.TempPathFactory) -> str:
    d = tmp_path_factory.mktemp("page")
    generate(d / "audit", days=3, breaches=[Breach("latency_p95_ms", "na", 5)])
    data = build.collect(build.Inputs(audit=[d / "audit"], catalog=ROOT / "catalog"),
                         now=START + timedelta(days=3), since=None)
    return build.html(data, d / "state")


def test_the_page_loads_nothing_from_elsewhere(real_page: str) -> None:
    # the markup outside the inline scripts (the library's own strings may mention <img src=)
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "", real_page, flags=re.DOTALL)
    assert markup.count("<figure") >= 5
    assert re.search(r"""<(script|link|img|iframe|object|embed)\b[^>]*\b(src|href|data)\s*=""",
                     markup, re.IGNORECASE) is None
    assert "@import" not in real_page and not re.search(r"url\(\s*['\"]?https?:", real_page)
    assert "default-src 'none'" in real_page  # and the CSP would block it anyway
    assert len(real_page.encode()) < 5_000_000
    for t in TARGETS:
        assert f'data-slo="{t.key}"' in real_page


def test_html_without_the_chart_extra_is_a_clear_error(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "vl_convert", None)  # import fails
    r = CliRunner().invoke(main, ["report", "--audit", str(tmp_path), "--out",
                                  str(tmp_path / "r.html")])
    assert r.exit_code == 1 and "pip install 'reconciler[report]'" in r.output
    assert not (tmp_path / "r.html").exists()


def test_live_cache_and_orders_are_read_without_writing(tmp_path: Path) -> None:
    from reconciler.live.cache import LiveCache, default_path
    from reconciler.orders.state import OrderState
    from reconciler.report import history
    from reconciler.report.sources import read_live_cache, read_orders

    state = tmp_path / "state"
    state.mkdir()
    item = {"sku": "A", "summaries": [{"marketplaceId": "ATVPDKIKX0DER", "status": ["BUYABLE"],
                                       "productType": "MUG"}],
            "issues": [{"code": "90220", "message": "missing brand", "severity": "ERROR",
                        "attributeNames": ["brand"]}],
            "attributes": {"fulfillment_availability": [
                {"fulfillment_channel_code": "DEFAULT", "quantity": 7}]}}
    with LiveCache(default_path(state)) as c:
        c.put_many("na", "ATVPDKIKX0DER", {"A": item, "GONE": None}, "2025-01-01T10:00:00Z")
        c.mark_full_read("na", "ATVPDKIKX0DER", "2025-01-01T09:00:00Z")
    with OrderState(state) as st:
        st.db.execute("INSERT INTO orders VALUES ('111-1', 'na', 'US', 'Shipped', "
                      "'2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z', '{}')")
        st.db.execute("INSERT INTO reservations VALUES ('111-1', 'newark', 'newark', 'A', 2, 0,"
                      " 0)")
        confirmed = datetime(2025, 1, 1, 5, tzinfo=timezone.utc).timestamp()
        st.db.execute("INSERT INTO confirmations VALUES ('111-1', 'na', 'F1', 'confirmed', '',"
                      f" 'UPS', '1Z', {confirmed})")
    (state / "orders-kpi.jsonl").write_text(json.dumps(
        {"at": "2025-01-01T06:00:00+00:00", "command": "route", "routed": 1, "unroutable": 3})
        + "\n")
    before = {p.name: p.stat().st_mtime_ns for p in state.iterdir()}
    notes: list[str] = []
    live = read_live_cache([state], {}, notes)
    orders = history.orders(read_orders([state], notes), None)
    assert notes == []
    # nothing was written (SQLite may add its -wal/-shm sidecars to read a WAL database)
    after = {p.name: p.stat().st_mtime_ns for p in state.iterdir()
             if not p.name.endswith(("-wal", "-shm"))}
    assert after == {k: v for k, v in before.items() if not k.endswith(("-wal", "-shm"))}
    (a,) = [i for i in live.items if i.key.sku == "A"]
    assert a.quantities == {"DEFAULT": 7} and a.issues[0].code == "90220"
    assert [(m.marketplace, m.kind) for m in live.marks] == [("US", "full")]
    assert orders.per_marketplace == {"US": {"Shipped": 1}}
    assert orders.routed == {"newark": (1, 2)}
    assert dict(orders.confirm_bins)["4–12 h"] == 1 and orders.confirm_median_h == 5.0
    assert [n for _, n in orders.unroutable] == [3]
    # the page draws the orders section's four charts, each mark counted from its data
    data = aggregate(now=NOW, since=None, audit=audit_log.read([]), catalog=CatalogRead(None),
                     live=live, orders=read_orders([state], []), plans=[])
    charts = {c.chart_id: c.expected_marks for c in all_charts(data)["orders"]}
    assert charts == {"chart-orders": 1, "chart-routed": 1, "chart-confirm": 6,
                      "chart-unroutable": 1}
    assert [(x.kind, x.sku) for x in data.health.attention] == [("amazon issue", "A")]
