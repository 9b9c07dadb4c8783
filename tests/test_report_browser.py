"""The monitoring report in a real headless Chromium (issue 17, must-show 1 and 2).

1. After ``reconciler demo``, ``reconciler report --out report.html`` writes the file; opened
   from disk in Debian's ``chromium`` (driven over the DevTools protocol, ``tests/cdp.py``):
   - no console error, no uncaught exception, no browser log error;
   - no network request but the file itself (requests are recorded, not blocked);
   - every chart drawn, with as many marks as its data has rows (and the count of charts is
     the one the data calls for);
   - the SLO figures on the page equal the audit line's KPIs.
   A full-page screenshot is saved to ``tests/artifacts/report-demo.png`` (git-ignored).
2. A seeded year-long history with one breach of each target (``bench/report_history.py``):
   the page marks each breach at its run (card count, breach table link, the run's outcome
   section, a triangle on the trend chart), and nothing else. Screenshot:
   ``tests/artifacts/report-breaches.png``.

Without chromium these tests FAIL (CI installs it), unless RECONCILER_SKIP_BROWSER_TESTS=1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.report_history import Breach, generate
from reconciler.report.assets import CACHE_DIR, vega_bundle
from tests.cdp import MARKS_JS, Browser, chromium_or_fail

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
READY = "document.documentElement && document.documentElement.getAttribute('data-charts-drawn')"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The chart library's bundle, made once for the module (it takes seconds)."""
    d = tmp_path_factory.mktemp("vega")
    vega_bundle(d)
    return d / CACHE_DIR


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    chromium_or_fail()
    b = Browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield b
    finally:
        b.close()


def _cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    return r


def _open(browser: Browser, path: Path, shot: Path) -> tuple[list[dict[str, object]], object]:
    page = browser.open()
    url = path.resolve().as_uri()
    page.send("Page.navigate", {"url": url})
    assert page.wait_for(READY)
    marks = page.evaluate(MARKS_JS)
    page.screenshot(shot)
    page.screenshot(shot.with_name(shot.stem + "-top.png"), height=1400)
    assert page.errors() == []
    assert page.requests() == [url], "the report asked for something beyond its own file"
    assert page.evaluate("document.documentElement.getAttribute('data-charts-failed')") == "0"
    return marks, page


def test_demo_report_in_chromium(tmp_path: Path, browser: Browser, bundle_cache: Path) -> None:
    state = tmp_path / "state"
    audit = tmp_path / "audit.jsonl"
    env = {**os.environ, "RECONCILER_STATE_DIR": str(state), "RECONCILER_AUDIT_LOG": str(audit)}
    env.pop("RECONCILER_CATALOG", None)
    work = tmp_path / "work"
    shutil.copytree(ROOT / "catalog", work / "catalog")
    _cli(["demo"], work, env)
    shutil.copytree(bundle_cache, state / CACHE_DIR, dirs_exist_ok=True)
    r = _cli(["report", "--out", "report.html"], work, env)
    out = work / "report.html"
    assert out.is_file() and "report written to report.html" in r.stderr

    marks, page = _open(browser, out, ARTIFACTS / "report-demo.png")
    print(f"\nscreenshot: {ARTIFACTS / 'report-demo.png'}")
    by_id = {m["id"]: m for m in marks}
    # the demo has one apply (runs, SLO trends), listings in six marketplaces (health), prices
    # from the catalog, live cache and audit, stock per site; no orders were pulled
    assert set(by_id) == {"chart-slo-sync_success_pct", "chart-slo-latency_p95_ms",
                          "chart-slo-stock_deviation_pct", "chart-runs", "chart-activity",
                          "chart-wall", "chart-health", "chart-prices", "chart-stock"}
    for m in marks:
        assert m["svg"] and m["error"] == "", m
        assert m["drawn"] == m["expected"] > 0, m
        assert m["label"], f"{m['id']} has no aria-label"
    # one run: each trend is one line, one point and the target rule; one bar in the runs chart
    assert by_id["chart-slo-sync_success_pct"]["drawn"] == 3
    assert by_id["chart-runs"]["drawn"] == 1

    (line,) = [json.loads(x) for x in audit.read_text().splitlines()]
    # apply records what the report's wall-time and price charts need
    assert line["wall_s"] > 0 and line["lower_bound_s"] is not None
    assert {(p["sku"], p["marketplace"]) for p in line["prices"]} >= {("ssnm001", "CA")}
    # a formula price records its rates' date; a price fixed per SKU used no rate
    assert all(bool(p["rate_as_of"]) != p["fixed"] for p in line["prices"])
    assert any(not p["fixed"] for p in line["prices"])
    shown = page.evaluate("""Object.fromEntries(Array.from(document.querySelectorAll(
        '[data-slo]')).map(c => [c.dataset.slo, [Number(c.dataset.now),
        Number(c.dataset.worst), Number(c.dataset.breaches)]]))""")
    for key in ("sync_success_pct", "latency_p95_ms", "stock_deviation_pct"):
        assert shown[key] == [line["kpis"][key], line["kpis"][key], 0], key
    text = page.evaluate("document.body.innerText")
    assert f"{line['kpis']['latency_p95_ms']:,.0f} ms" in text


def test_seeded_breaches_are_marked_at_their_runs(tmp_path: Path, browser: Browser,
                                                  bundle_cache: Path) -> None:
    breaches = [Breach("sync_success_pct", "na", 5000), Breach("latency_p95_ms", "eu", 12000),
                Breach("stock_deviation_pct", "na", 30000)]
    history = tmp_path / "audit"
    lines = generate(history, days=365, breaches=breaches)
    state = tmp_path / "state"
    shutil.copytree(bundle_cache, state / CACHE_DIR)
    env = {**os.environ, "RECONCILER_STATE_DIR": str(state)}
    env.pop("RECONCILER_CATALOG", None)
    _cli(["report", "--audit", str(history), "--since", "all", "--now", "2026-01-01T00:00:00Z",
          "--out", "report.html"], tmp_path, env)
    out = tmp_path / "report.html"
    assert out.stat().st_size <= 5_000_000 and lines > 70_000

    marks, page = _open(browser, out, ARTIFACTS / "report-breaches.png")
    print(f"\nscreenshot: {ARTIFACTS / 'report-breaches.png'}")
    for m in marks:
        assert m["drawn"] == m["expected"] > 0, m
    found = page.evaluate("""(() => {
      const out = {};
      for (const card of document.querySelectorAll('[data-slo]')) {
        const key = card.dataset.slo;
        const rows = document.querySelectorAll('#breaches-' + key + ' tbody a');
        out[key] = {count: Number(card.dataset.breaches),
                    links: Array.from(rows).map(a => a.getAttribute('href')),
                    triangles: document.querySelectorAll('#chart-slo-' + key +
                      ' svg g.role-mark.breaches_marks > path').length};
      }
      out.sections = Array.from(document.querySelectorAll('section.run.breach')).map(s => s.id);
      return out;
    })()""")
    for b in breaches:
        f = found[b.target]
        assert f["count"] == 1, (b, f)
        assert f["links"] == [f"#{b.run_id}"], (b, f)
        assert f["triangles"] == 1, (b, f)  # the breach's day is marked on the trend chart
        # every link lands on that run's outcome table
        assert page.evaluate(f"!!document.getElementById('{b.run_id}')"
                             f" && !!document.getElementById('outcomes-{b.run_id}')")
    assert sorted(found["sections"]) == sorted(b.run_id for b in breaches)
