"""render: text, Markdown and JSON, compared with golden files as whole files.

The golden plan covers create, update, delete, held (whole listing and texts only), an MLI
quantity change, a price change with its derivation, a text change and safety violations.
Regenerate the goldens with ``python -m pytest tests/test_render.py --update-goldens`` and
review the diff. Also covers: escaping of hostile catalog values (Markdown/HTML and terminal),
colour only on request, the hidden marker, JSON = plan.data().
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.kernel.model import Issue, ListingKey, LiveListing, Safety
from reconciler.plan import render, render_json
from reconciler.plan.builder import build_plan
from reconciler.plan.value import Plan
from tests.core_builders import CA, LOC_A, LOC_B, MX, US, desired, key, live_of, state

GOLDEN = Path(__file__).resolve().parent / "golden"
LONG_TITLE = "Travel mug | 12 oz, double-walled stainless steel with a leak-proof lid"
LONG_TITLE_LIVE = (
    "Travel mug (SALE!) 12 oz, double-walled stainless steel with a leak-proof lid NEW!!"
)


def golden_plan() -> Plan:
    listings = [
        # MLI quantity change: stale DEFAULT 3 -> 0, locations get 10 and 5
        desired("ssnm001", US, qty={LOC_A: 10, LOC_B: 5}, title="Stainless mug 12 oz"),
        # price drift with derivation (+ safety: a move over 30 %), a long title edited in
        # Seller Central (a word diff)
        desired("MUG-001", CA, price="26.99", title=LONG_TITLE, bullets=("Keeps hot", "Lid")),
        # texts held for review, price still planned
        desired("MUG-001", MX, held=True, price="399.00", qty=4),
        # new listing, its price fixed per SKU
        desired("CUP-010", CA, price="12.50", qty=20, title="Espresso cup", bullets=("Porcelain",)),
        # new listing with no texts in the marketplace's language: held whole
        desired("CUP-010", MX, held=True, price="199.00", qty=2),
        # deleted
        desired("OLD-001", CA, state="absent"),
        # unchanged
        desired("MUG-002", CA, price="15.99", title="Mug"),
    ]
    live: dict[ListingKey, LiveListing | None] = {
        key("ssnm001", US): live_of(
            desired("ssnm001", US, qty={}, title="Stainless mug 12 oz"), US
        ),
        key("MUG-001", CA): live_of(
            desired(
                "MUG-001",
                CA,
                price="19.99",
                title=LONG_TITLE_LIVE,
                bullets=("Keeps hot", "Lid"),
            ),
            CA,
        ),
        key("MUG-001", MX): live_of(desired("MUG-001", MX, price="379.00", qty=4), MX),
        key("CUP-010", CA): None,
        key("CUP-010", MX): None,
        key("OLD-001", CA): live_of(desired("OLD-001", CA, title="Old mug"), CA),
        key("MUG-002", CA): live_of(desired("MUG-002", CA, price="15.99", title="Mug"), CA),
    }
    us = live[key("ssnm001", US)]
    assert us is not None
    us.attributes["fulfillment_availability"] = [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 3}
    ]
    st = state(*listings, safety=Safety(max_price_change_pct=Decimal("30")))
    return build_plan(replace(st, location_names={LOC_A: "newark", LOC_B: "reno"}), live)


def check_golden(name: str, actual: str, update: bool) -> None:
    path = GOLDEN / name
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"missing golden {path}; run pytest with --update-goldens"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from its golden file; review, then --update-goldens"


def test_golden_plan_covers_every_case() -> None:
    plan = golden_plan()
    assert {c.action for c in plan.changes} == {"create", "update", "delete"}
    assert {(h.key.sku, h.marketplace, h.whole_listing) for h in plan.held} == {
        ("MUG-001", "MX", False),
        ("CUP-010", "MX", True),
    }
    assert plan.unchanged == 1 and len(plan.safety) == 2
    assert any(c.mli and c.action == "update" for c in plan.changes)
    assert any(c.derivations for c in plan.changes)


@pytest.mark.parametrize(
    ("name", "renderer"),
    [
        ("plan.txt", lambda p: render.text(p)),
        ("plan.md", render.markdown),
        ("plan.json", render_json.json),
    ],
)
def test_goldens(name: str, renderer: object, update_goldens: bool) -> None:
    check_golden(name, renderer(golden_plan()), update_goldens)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("name", "renderer"), [("empty.txt", render.text), ("empty.md", render.markdown)]
)
def test_empty_goldens(name: str, renderer: object, update_goldens: bool) -> None:
    d = desired("MUG-001", CA)
    plan = build_plan(state(d), {d.key: live_of(d, CA)})
    check_golden(name, renderer(plan), update_goldens)  # type: ignore[operator]


def test_json_is_plan_data() -> None:
    plan = golden_plan()
    data = json.loads(render_json.json(plan))
    assert data == json.loads(json.dumps(plan.data()))
    assert data["format_version"] == 2 and data["checksum"] == plan.checksum
    assert Plan.from_data(data) == plan


def test_markdown_marker_summary_and_derivation() -> None:
    md = render.markdown(golden_plan())
    assert md.startswith("<!-- reconciler-plan -->\n")
    assert "| CA | 1 | 1 | 1 | 0 | 1 |" in md
    assert "| MX | 0 | 1 | 0 | 2 | 0 |" in md
    assert "> [!CAUTION]" in md and md.index("CAUTION") < md.index("| marketplace |")
    assert (
        "15.52 USD × 1.3654 (rate of 2026-11-01, ECB) × (1 + 0.25) + 0 = 26.48876 → ending .99 → "
        "26.99 CAD" in md
    )
    assert md.count("<details>") == md.count("</details>") == 4  # one per SKU


def test_text_symbols_and_colour_only_on_request() -> None:
    plan = golden_plan()
    plain = render.text(plan)
    assert "\x1b[" not in plain
    for line in (
        "+ create CUP-010 (CA)",
        "~ update MUG-001 (CA)",
        "- delete OLD-001 (CA)",
        "! held CUP-010 (MX)",
    ):
        assert line in plain
    coloured = render.text(plan, color=True)
    assert "\x1b[32m+ create CUP-010 (CA)\x1b[0m" in coloured and "\x1b[1;31m" in coloured


HOSTILE = (
    "Mug </details> <!-- hide --> <script>x</script> | **bold** [l](http://e) `c` _i_ \x1b[31mred"
)


def test_hostile_catalog_values_are_escaped() -> None:
    d = desired("EVIL-1", CA, title=HOSTILE, bullets=("a\nb", "<b>"))
    plan = build_plan(state(d), {d.key: None})
    md = render.markdown(plan)
    body = md.split("\n", 1)[1]
    assert "<!--" not in body and "</details>" not in body.replace("\n</details>\n", "\n")
    assert (
        "<script>" not in md and "**bold**" not in md and "`c`" not in md and "| **bold" not in md
    )
    assert "&lt;/details&gt;" in md and "&lt;&#33;-- hide --&gt;" in md and "&#124;" in md
    assert md.count("<details>") == md.count("</details>") == 1
    # every table row still has exactly 4 cells
    rows = [
        line for line in md.splitlines() if line.startswith("| item") or line.startswith("| bullet")
    ]
    assert rows and all(r.count("|") == 5 for r in rows)
    txt = render.text(plan)
    assert "\x1b" not in txt and "\\x1b[31mred" in txt


def test_long_texts_are_clipped() -> None:
    d = desired("LONG-1", CA, title="x" * 5000)
    plan = build_plan(state(d), {d.key: None})
    assert "x" * render.TEXT_MAX not in render.text(plan)
    assert "x" * render.MD_TEXT_MAX not in render.markdown(plan)
    assert "x" * 5000 in render_json.json(plan)  # the JSON plan is complete


def test_markdown_caps_details_for_huge_plans() -> None:
    listings = [desired(f"SKU-{i:04}", MX, price="100.00") for i in range(render.MD_MAX_SKUS + 7)]
    live = {d.key: None for d in listings}
    md = render.markdown(build_plan(state(*listings), live))  # type: ignore[arg-type]
    assert md.count("<details>") == render.MD_MAX_SKUS
    assert "…and 7 more SKU(s)" in md


def test_remote_issues_are_rendered_and_escaped() -> None:
    from dataclasses import replace

    from reconciler.kernel.model import Issue

    plan = golden_plan()
    k = next(c.key for c in plan.changes if c.action == "create")
    issue = Issue("90220", "'<b>brand</b>' is required", "ERROR", ("brand",))
    validated = replace(plan, remote_issues={k: (issue,)}, validated=4)
    txt = render.text(validated)
    assert "! Amazon preview: ERROR 90220: '<b>brand</b>' is required (brand)" in txt
    assert "Amazon validated 4 planned write(s) (VALIDATION_PREVIEW): 1 with issues" in txt
    md = render.markdown(validated)
    assert (
        "Amazon preview: ERROR 90220: &#39;&lt;b&gt;brand&lt;/b&gt;&#39; is required (brand)" in md
    )
    assert "**Remote validation:** Amazon validated 4" in md
    assert "Remote validation" not in render.markdown(plan)


def test_only_held_listings_is_no_changes() -> None:
    d = desired("MUG-001", MX, held=True)
    plan = build_plan(state(d), {d.key: live_of(d, MX)})
    assert not plan.has_changes and len(plan.held) == 1
    expected = "No changes. Live state matches the catalog, except 1 listing held for review"
    assert expected in render.text(plan)
    assert expected in render.markdown(plan)


def _dumps(plan: Plan) -> str:
    return json.dumps(plan.data(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("validated", [False, True])
def test_streamed_json_is_byte_for_byte_json_dumps_of_plan_data(validated: bool) -> None:
    plan = golden_plan()
    if validated:  # the remote_validation block, and texts JSON must escape
        k = plan.changes[0].key
        issue = Issue("90220", 'bad "quote" \\ \u2028 é\n<x>', "ERROR", ("brand",))
        plan = replace(plan, remote_issues={k: (issue,)}, validated=3)
    sink = io.StringIO()
    render_json.write_json(plan, sink)
    assert sink.getvalue() == _dumps(plan) == render_json.json(plan)


def test_streamed_json_of_empty_and_unchanged_plans() -> None:
    d = desired("MUG-001", CA)
    for plan in (Plan(changes=()), build_plan(state(d), {d.key: live_of(d, CA)})):
        sink = io.StringIO()
        render_json.write_json(plan, sink)
        assert sink.getvalue() == _dumps(plan)


def test_streamed_json_writes_in_pieces() -> None:
    plan = golden_plan()
    many = {ListingKey("main", f"SKU-{i:04d}", CA.marketplace_id): "f" * 64 for i in range(300)}
    plan = replace(plan, fingerprints={**plan.fingerprints, **many})
    writes: list[str] = []

    class Sink:
        def write(self, s: str) -> int:
            writes.append(s)
            return len(s)

    render_json.write_json(plan, Sink())
    assert len(writes) > len(plan.changes) + len(plan.fingerprints)
    assert max(map(len, writes)) < len("".join(writes)) / 10  # no piece is the whole plan
    assert "".join(writes) == _dumps(plan)
