"""The pure parts of issue 16: the gates a machine draft must pass, and how a draft's status
is read (edited = approved, source change = stale, glossary change = stale for machine drafts).
"""

from __future__ import annotations

import pytest

from reconciler.catalog.glossary import Glossary, read_glossary
from reconciler.catalog.translation_gates import Limit, check, failures, limits_from_schema
from reconciler.catalog.translations import Draft, diff_lines, publishable, resolve, text_hash

G = Glossary("v1", keep=("Birchwood Kitchen", "BK-1218"),
             forced={"fr_FR": {"cutting board": "planche à découper"}})


def failed(field: str, source: str | tuple[str, ...], draft: str | tuple[str, ...],
           limit: Limit | None = None) -> list[str]:
    return failures(check(field, source, draft, target="fr_FR", glossary=G, limit=limit))


def test_a_faithful_draft_passes_every_gate() -> None:
    src = "Birchwood Kitchen cutting board BK-1218, 45 x 30 cm, holds 3.5 oz, {{ size }} %s"
    out = "Birchwood Kitchen planche à découper BK-1218, 45 x 30 cm, contient 3,5 oz, {{ size }} %s"
    assert failed("item_name", src, out) == []


@pytest.mark.parametrize(("draft", "named"), [
    ("Cuisine Bouleau planche à découper BK-1218, 45 x 30 cm", "'Birchwood Kitchen'"),
    ("Birchwood Kitchen planche BK-1218, 45 x 30 cm", "'cutting board' must be"),
    ("Birchwood Kitchen planche à découper, 45 x 30 cm", "BK-1218"),
    ("Birchwood Kitchen planche à découper BK-1218, 45 x 31 cm", "number(s) lost: 30"),
    ("Birchwood Kitchen planche à découper BK-1218, 45 x 30", "unit lost: 30 cm"),
    ("", "empty"),
])
def test_each_gate_names_what_failed(draft: str, named: str) -> None:
    src = "Birchwood Kitchen cutting board BK-1218, 45 x 30 cm"
    reasons = failed("item_name", src, draft)
    assert reasons and any(named in r for r in reasons), reasons


def test_units_may_be_translated() -> None:
    assert failed("item_name", "Large 18 x 12 in", "Grande 18 x 12 po") == []
    assert failed("item_name", "Large 18 x 12 in", "Grande 18 x 12 pouces") == []
    assert failed("item_name", "holds 3.5 oz", "contient 3,5 onces") == []


def test_placeholders_and_template_syntax_survive() -> None:
    for p in ("{{ size }}", "{% if x %}", "%s", "%(name)s", "{name}"):
        assert failed("item_name", f"A {p} B", f"a {p} b") == []
        assert any(p in r for r in failed("item_name", f"A {p} B", "a b")), p


def test_bullets_keep_their_number() -> None:
    reasons = failed("bullet_points", ("A", "B"), ("a",))
    assert reasons == ["shape: 1 bullet points for the source's 2"]


def test_length_limits_come_from_the_schema_and_are_named() -> None:
    schema = {"properties": {
        "product_description": {"items": {"properties": {"value": {"maxUtf8ByteLength": 20}}}},
        "item_name": {"items": {"properties": {"value": {"maxLength": 10}}}},
    }}
    limits = limits_from_schema(schema, "product type X (FR)")
    assert limits["bullet_points"] == Limit(chars=600)  # the documented table
    [r] = failed("product_description", "short", "é" * 11, limits["product_description"])
    assert r == ("length: product_description is 22 bytes, over the maxUtf8ByteLength 20 of "
                 "product type X (FR)")
    [r] = failed("item_name", "short", "x" * 11, limits["item_name"])
    assert "11 characters, over the maxLength 10 of product type X (FR)" in r


def draft(**kw: object) -> Draft:
    base: dict[str, object] = dict(
        sku="S", language="fr_FR", field="item_name", text="Bonjour", status="machine",
        source_language="en_GB", source="Hello", source_hash=text_hash("Hello"),
        glossary_version="v1", draft_hash=text_hash("Bonjour"))
    base.update(kw)
    return Draft(**base)  # type: ignore[arg-type]


def test_status_resolution() -> None:
    assert resolve(draft(), "Hello", "v1").status == "machine"
    assert resolve(draft(text="Salut"), "Hello", "v1").status == "approved"  # edited
    assert resolve(draft(status="needs_review", text="Salut"), "Hello", "v1").status == "approved"
    r = resolve(draft(status="approved"), "Hello there", "v1")
    assert (r.status, r.why) == ("stale", "the en_GB text changed")
    assert resolve(draft(), "Hello", "v2").status == "stale"  # the glossary changed
    assert resolve(draft(status="approved"), "Hello", "v2").status == "approved"
    assert resolve(draft(status="stale"), "Hello", "v1").status == "stale"
    assert resolve(draft(status="needs_review", reason="r"), "Hello", "v1").why == "r"


def test_what_is_published() -> None:
    for status, off, on in (("approved", True, True), ("machine", False, True),
                            ("needs_review", False, False), ("stale", False, False)):
        r = resolve(draft(status=status), "Hello", "v1")
        assert (publishable(r, False), publishable(r, True)) == (off, on), status


def test_glossary_version_is_declared_or_a_content_hash() -> None:
    assert read_glossary(None) is None
    a = read_glossary({"keep": ["A"]})
    b = read_glossary({"keep": ["A", "B"]})
    assert a is not None and b is not None and a.version != b.version
    c = read_glossary({"version": "2026-12", "keep": ["A"]})
    assert c is not None and c.version == "2026-12"


def test_source_diff_lines() -> None:
    assert diff_lines(("a", "b"), ("a", "c")) == ["- b", "+ c"]
    assert diff_lines("old", "new") == ["- old", "+ new"]
