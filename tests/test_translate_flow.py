"""Translations drafted into the catalog, approved by people (issue 16, the flow).

Must-shows, each on a tmp copy of the sample catalog:
1. CB-OAK-L in FR: `reconciler translate` drafts it through the emulator's DeepL API with the
   official client; the plan holds it (machine); `status: approved` makes the plan create it;
   apply converges; a second translate drafts nothing and sends no request;
2. editing one English source text makes exactly its translations stale; the plan holds them and
   shows the source diff;
3. gates: the glossary brand survives; a draft over the schema's byte limit is needs_review
   with the limit named; a lost model number is caught;
4. XLIFF (and PO) export -> edit -> import round-trips; the imported texts plan as approved;
5. engine faults (429, 456, 5xx) exit 1 with one clear line and leave the files byte-identical.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from reconciler.catalog.glossary import Glossary, read_glossary
from reconciler.catalog.loader import load, load_desired
from reconciler.catalog.translation_work import find_work
from reconciler.cli import main
from reconciler.emulator import machine_translation as mt
from reconciler.emulator.app import Emulator, EmulatorConfig
from reconciler.emulator.demo import demo_seed
from reconciler.kernel.errors import CatalogError
from reconciler.kernel.marketplaces import by_code
from reconciler.kernel.model import DesiredListing
from reconciler.plan.builder import build_plan
from reconciler.plan.render import markdown, text
from reconciler.plan.value import Plan
from reconciler.spapi import connect
from reconciler.spapi.connect import close_embedded_emulators
from reconciler.translate.draft import run
from reconciler.translate.engine import TranslationEngineError

ROOT = Path(__file__).resolve().parent.parent
FR = by_code("FR").marketplace_id
EU_SELLER = "A2EXAMPLEEU001"
TITLE_GB = "Birchwood Kitchen End Grain Oak Chopping Board, Large 45 x 30 cm, with Juice Groove"
TITLE_FAKE = "[fr_FR] " + TITLE_GB.replace("Juice Groove", "rigole à jus")  # Fake's draft


class Fake:
    """A deterministic engine: '[fr_FR] <text>' with the glossary's forced terms (and optional
    rewrites), counting calls."""

    name = "fake"

    def __init__(self, rewrite: dict[str, str] | None = None, fail_at: int = 0) -> None:
        self.rewrite = rewrite or {}
        self.calls = 0
        self.fail_at = fail_at

    def translate(self, texts: Sequence[str], *, source: str, target: str,
                  glossary: Glossary | None) -> list[str]:
        self.calls += 1
        if self.fail_at and self.calls >= self.fail_at:
            raise TranslationEngineError("fake: quota exceeded")
        forced = (glossary.forced.get(target) or {}) if glossary else {}
        out = []
        for t in texts:
            for a, b in self.rewrite.items():
                t = t.replace(a, b)
            for a, b in forced.items():  # as engines apply a glossary
                t = re.sub(re.escape(a), b, t, flags=re.IGNORECASE)
            out.append(f"[{target}] {t}")
        return out


@pytest.fixture
def cat(tmp_path: Path) -> Path:
    c = tmp_path / "catalog"
    shutil.copytree(ROOT / "catalog", c)
    cfg = c / "reconciler.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        "verify_interval_seconds: 5", "verify_interval_seconds: 0.05").replace(
        "endpoint: emulator            # the embedded emulator's DeepL API",
        "endpoint: emulator\n  max_retries: 0                # the embedded emulator's DeepL API"),
        encoding="utf-8")
    return c


@pytest.fixture
def emu(isolated_state: Path, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> Iterator[Emulator]:
    """The embedded emulator of the test's state dir: the demo's live state without CB-OAK-L
    in FR (so approving its translation creates it)."""
    isolated_state.mkdir(parents=True, exist_ok=True)
    # no write visibility delay (1.2 s of wall per apply at this scale): not tested here
    e = Emulator(str(isolated_state / "emulator.db"),
                 EmulatorConfig(time_scale=100.0, write_delay_s=0.0))
    seed = demo_seed()
    eu = seed["sellers"][EU_SELLER]
    eu["listings"] = [x for x in eu["listings"]
                      if not (x["sku"] == "CB-OAK-L" and x["marketplaceId"] == FR)]
    e.seed(seed)
    monkeypatch.setitem(connect._emulators, os.path.realpath(isolated_state), e)
    monkeypatch.chdir(tmp_path)
    yield e
    close_embedded_emulators()


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def fr_file(cat: Path) -> Path:
    return cat / "translations" / "fr_FR.yaml"


def entries(cat: Path) -> dict[str, Any]:
    data = yaml.safe_load(fr_file(cat).read_text(encoding="utf-8"))
    return dict(data["skus"]["CB-OAK-L"])


def set_status(cat: Path, status: str) -> None:
    p = fr_file(cat)
    p.write_text(p.read_text(encoding="utf-8").replace("status: machine", f"status: {status}"),
                 encoding="utf-8")


def fr_listing(cat: Path, sku: str = "CB-OAK-L") -> DesiredListing:
    return next(d for d in load_desired(cat).listings
                if d.key.sku == sku and d.key.marketplace_id == FR)


def plan_json(cat: Path) -> dict[str, Any]:
    r = cli("plan", str(cat), "--sku", "CB-OAK-L", "--marketplace", "FR", "--format", "json")
    assert r.exit_code == 0, r.output
    return dict(json.loads(r.stdout))


# ----------------------------------------------------------------------------- must-show 1


def test_held_listing_drafted_approved_created_and_converged(cat: Path, emu: Emulator) -> None:
    assert fr_listing(cat).held_reason == "no texts for fr_FR"
    r = cli("translate", str(cat))
    assert r.exit_code == 0, r.output
    assert "drafted 3 text(s) with deepl" in r.stdout
    assert "wrote translations/fr_FR.yaml" in r.stdout
    sent = [c for c in emu.calls() if c.operation == "deepl.translate" and c.status == 200]
    assert sent, "the draft went through the emulator's DeepL API"
    e = entries(cat)
    assert {f: e[f]["status"] for f in e} == dict.fromkeys(
        ("item_name", "product_description", "bullet_points"), "machine")
    assert e["item_name"]["engine"] == "deepl" and e["item_name"]["source_language"] == "en_GB"
    assert "Planche à découper" in e["item_name"]["text"]  # the emulator's phrase table
    assert len(e["bullet_points"]["text"]) == 2

    held = plan_json(cat)
    assert held["changes"] == []
    [h] = held["held"]
    assert h["whole_listing"] is True
    assert [t["status"] for t in h["texts"]] == ["machine"] * 3
    assert h["texts"][0]["source"] == [TITLE_GB]
    assert h["texts"][0]["draft"] == [e["item_name"]["text"]]
    assert all(g.endswith(": ok") for t in h["texts"] for g in t["gates"])

    set_status(cat, "approved")
    created = plan_json(cat)
    assert [(c["action"], c["sku"]) for c in created["changes"]] == [("create", "CB-OAK-L")]
    assert created["held"] == []
    r = cli("apply", str(cat), "--sku", "CB-OAK-L", "--marketplace", "FR", "--auto-approve")
    assert r.exit_code == 0, r.output
    assert "1 converged" in r.output
    live = emu.listing_state(EU_SELLER, "CB-OAK-L", FR)
    assert live is not None
    assert live["attributes"]["item_name"][0]["value"] == e["item_name"]["text"]
    assert plan_json(cat)["changes"] == []

    # idempotent: a second run drafts nothing and sends nothing
    before = fr_file(cat).read_bytes()
    emu.reset_calls()
    r = cli("translate", str(cat))
    assert r.exit_code == 0, r.output
    assert "drafted 0 text(s)" in r.stdout
    assert "kept 3 up-to-date draft(s) as they are (3 approved)" in r.stdout
    assert [c for c in emu.calls() if c.operation.startswith("deepl.")] == []
    assert fr_file(cat).read_bytes() == before
    # the drafts lost: drafted again from the translation memory, still no request
    fr_file(cat).unlink()
    r = cli("translate", str(cat))
    assert "drafted 3 text(s)" in r.stdout and "0 text(s) sent to deepl" in r.stdout
    assert [c for c in emu.calls() if c.operation.startswith("deepl.")] == []
    assert entries(cat)["item_name"]["text"] == e["item_name"]["text"]


def test_amazon_translate_through_the_emulator(cat: Path, emu: Emulator) -> None:
    r = cli("translate", str(cat), "--engine", "amazon-translate", "--sku", "CB-OAK-L")
    assert r.exit_code == 0, r.output
    assert "drafted 3 text(s) with amazon-translate" in r.stdout
    assert [c for c in emu.calls() if c.operation == "translate.request"]
    assert entries(cat)["item_name"]["engine"] == "amazon-translate"


def test_publish_machine_translations_publishes_machine_drafts_only(cat: Path) -> None:
    run(cat, lambda raw: Fake())
    assert fr_listing(cat).held_texts
    cfg = cat / "reconciler.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        "      FR: {}", "      FR: {publish_machine_translations: true}"), encoding="utf-8")
    d = fr_listing(cat)
    assert d.held_texts == ()
    assert d.attributes["item_name"][0]["value"] == TITLE_FAKE
    boards = cat / "skus" / "boards.yaml"  # a stale draft is held even so
    boards.write_text(boards.read_text(encoding="utf-8").replace(
        "Large 45 x 30 cm, with", "Large 45 x 30 cm, Oiled, with"), encoding="utf-8")
    assert fr_listing(cat).held_texts == ("item_name",)


def test_dry_run_writes_nothing_and_calls_no_engine(cat: Path) -> None:
    def never(raw: Any) -> Any:
        raise AssertionError("no engine in a dry run")

    s = run(cat, never, dry_run=True)
    assert [(d.sku, d.field) for d in s.drafted] == [
        ("CB-OAK-L", "item_name"), ("CB-OAK-L", "product_description"),
        ("CB-OAK-L", "bullet_points")]
    assert not (cat / "translations").exists()


def test_editing_the_draft_counts_as_approval_and_keeps_the_edit(cat: Path) -> None:
    run(cat, lambda raw: Fake())
    p = fr_file(cat)
    p.write_text(p.read_text(encoding="utf-8").replace(
        f"text: '{TITLE_FAKE}'", "text: Planche Birchwood Kitchen 45 x 30 cm"),
        encoding="utf-8")
    d = fr_listing(cat)
    assert d.attributes["item_name"][0]["value"] == "Planche Birchwood Kitchen 45 x 30 cm"
    assert "item_name" not in d.held_texts and "bullet_point" in d.held_texts
    assert run(cat, lambda raw: Fake()).drafted == []  # the edit is kept


# ----------------------------------------------------------------------------- must-show 2


def test_a_source_edit_makes_exactly_its_translations_stale(cat: Path) -> None:
    run(cat, lambda raw: Fake())
    set_status(cat, "approved")
    before = {(d.key.sku, d.key.marketplace_id): d.held_texts
              for d in load_desired(cat).listings}
    assert before[("CB-OAK-L", FR)] == ()
    boards = cat / "skus" / "boards.yaml"
    new_bullet = "HAND WASH ONLY: oil every month to keep the wood supple"
    boards.write_text(boards.read_text(encoding="utf-8").replace(
        '      - "HAND WASH ONLY: oil monthly to keep the wood supple"\n      # no fr_FR',
        f'      - "{new_bullet}"\n      # no fr_FR').replace(
        '          - "HAND WASH ONLY: oil monthly to keep the wood supple"\n      es_MX',
        f'          - "{new_bullet}"\n      es_MX'), encoding="utf-8")
    desired = load_desired(cat)
    after = {(d.key.sku, d.key.marketplace_id): d.held_texts for d in desired.listings}
    changed = {k: v for k, v in after.items() if v != before[k]}
    assert changed == {("CB-OAK-L", FR): ("bullet_point",)}
    d = next(x for x in desired.listings if x.key == ("eu", "CB-OAK-L", FR))
    [t] = d.held_details
    assert (t.attribute, t.status) == ("bullet_point", "stale")
    assert t.source_diff == ("- HAND WASH ONLY: oil monthly to keep the wood supple",
                             f"+ {new_bullet}")
    assert d.attributes["item_name"][0]["value"] == TITLE_FAKE  # still approved

    plan = build_plan(desired, {}, skus=["CB-OAK-L"], marketplaces=["FR"])
    [h] = plan.held
    shown = text(plan)
    assert "bullet_point fr_FR stale" in shown and "source changed:" in shown
    assert f"+ {new_bullet}" in shown
    md = markdown(plan)
    assert "<del>HAND WASH ONLY: oil monthly" in md and "<ins>HAND WASH ONLY: oil every" in md
    assert [x.status for x in h.texts] == ["stale"]
    back = Plan.from_data(json.loads(json.dumps(plan.data())))  # a saved plan shows the same
    assert back.held == plan.held and text(back) == shown and markdown(back) == md
    s = run(cat, lambda raw: Fake())  # translate drafts the stale text again
    assert [(x.field, x.status) for x in s.drafted] == [("bullet_points", "machine")]


# ----------------------------------------------------------------------------- must-show 3


def test_the_glossary_brand_survives_the_real_engine(cat: Path, emu: Emulator) -> None:
    boards = cat / "skus" / "boards.yaml"  # a text outside the phrase table
    boards.write_text(boards.read_text(encoding="utf-8").replace(
        "End grain oak is kind", "Birchwood Kitchen end grain oak is kind"), encoding="utf-8")
    r = cli("translate", str(cat))
    assert r.exit_code == 0, r.output
    e = entries(cat)
    assert "Birchwood Kitchen" in e["item_name"]["text"]
    assert "Birchwood Kitchen" in e["product_description"]["text"]
    assert e["product_description"]["status"] == "machine"


def test_a_lost_brand_is_caught(cat: Path) -> None:
    s = run(cat, lambda raw: Fake({"Birchwood Kitchen": "Cuisine Bouleau"}))
    item = next(d for d in s.drafted if d.field == "item_name")
    assert item.status == "needs_review"
    assert "'Birchwood Kitchen'" in item.reason
    d = fr_listing(cat)
    assert "item_name" in d.held_texts
    assert any("glossary" in g and "Birchwood Kitchen" in g
               for t in d.held_details for g in t.gates)


def test_a_draft_over_the_schemas_byte_limit_needs_review_naming_it(cat: Path) -> None:
    s = run(cat, lambda raw: Fake({"kind to knife edges": "é" * 5100}))
    desc = next(d for d in s.drafted if d.field == "product_description")
    assert desc.status == "needs_review"
    assert "maxUtf8ByteLength 10000 of product type CUTTING_BOARD (FR)" in desc.reason
    assert entries(cat)["product_description"]["reason"] == desc.reason
    assert "product_description" in fr_listing(cat).held_texts
    assert "1 need review" in s.lines()[0]


def test_a_lost_model_number_is_caught(cat: Path) -> None:
    boards = cat / "skus" / "boards.yaml"
    boards.write_text(boards.read_text(encoding="utf-8").replace(
        TITLE_GB, TITLE_GB.replace("Large", "Model BK-1218, Large")), encoding="utf-8")
    s = run(cat, lambda raw: Fake({"Model BK-1218, ": ""}))
    item = next(d for d in s.drafted if d.field == "item_name")
    assert item.status == "needs_review"
    assert "model number(s) lost: BK-1218" in item.reason


# ----------------------------------------------------------------------------- must-show 4


@pytest.mark.parametrize("fmt", ["xliff", "po"])
def test_export_edit_import_round_trips_as_approved(cat: Path, tmp_path: Path, fmt: str) -> None:
    from translate.storage import po, xliff

    run(cat, lambda raw: Fake())
    out = tmp_path / f"fr.{fmt}"
    r = cli("translate", "export", str(cat), "--format", fmt, "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "4 text(s)" in r.stdout  # title, description, 2 bullets
    store: Any = (xliff.xlifffile if fmt == "xliff" else po.pofile).parsestring(out.read_bytes())
    units = [u for u in store.unit_iter() if not u.isheader()]
    for u in units:
        u.target = "Traduit : " + str(u.source)
    if fmt == "po":  # a fuzzy entry is not done: not imported
        assert all(u.isfuzzy() for u in units)
        out.write_bytes(bytes(store))
        r = cli("translate", "import", str(cat), str(out))
        assert "approved 0 text(s)" in r.stdout and "skipped 4 entry(ies)" in r.stdout
        for u in units:
            u.markfuzzy(False)
    out.write_bytes(bytes(store))
    r = cli("translate", "import", str(cat), str(out))
    assert r.exit_code == 0, r.output
    assert "approved 3 text(s)" in r.stdout
    e = entries(cat)
    assert {f: e[f]["status"] for f in e} == dict.fromkeys(e, "approved")
    assert e["item_name"]["text"] == f"Traduit : {TITLE_GB}"
    d = fr_listing(cat)
    assert d.held_texts == ()
    assert [b["value"] for b in d.attributes["bullet_point"]] == [
        "Traduit : END GRAIN OAK: self-healing surface that keeps knives sharp",
        "Traduit : HAND WASH ONLY: oil monthly to keep the wood supple"]
    r = cli("translate", "export", str(cat), "--format", fmt)
    assert "Traduit" not in r.stdout  # nothing pending any more


def test_import_of_an_unknown_unit_writes_nothing(cat: Path, tmp_path: Path) -> None:
    from translate.storage import xliff

    run(cat, lambda raw: Fake())
    before = fr_file(cat).read_bytes()
    store = xliff.xlifffile()
    u = store.addsourceunit("x")
    u.setid("NOPE/fr_FR/item_name")
    u.target = "y"
    f = tmp_path / "bad.xliff"
    f.write_bytes(bytes(store))
    r = cli("translate", "import", str(cat), str(f))
    assert r.exit_code == 1
    assert "NOPE/fr_FR/item_name" in r.output and "Traceback" not in r.output
    assert fr_file(cat).read_bytes() == before


# ----------------------------------------------------------------------------- must-show 5


@pytest.mark.parametrize("status", [429, 456, 500, 503])
def test_engine_faults_leave_the_files_byte_identical(
    cat: Path, emu: Emulator, status: int
) -> None:
    boards = cat / "skus" / "boards.yaml"
    other = cat / "translations" / "de_DE.yaml"  # an existing translations file must survive
    other.parent.mkdir()
    other.write_text("language: de_DE\nskus: {}\n", encoding="utf-8")
    files = {p: p.read_bytes() for p in cat.rglob("*") if p.is_file()}
    mt.inject_faults(emu, "deepl", [status])
    r = cli("translate", str(cat))
    assert r.exit_code == 1, r.output
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert lines[0].startswith("reconciler: ") and "Traceback" not in r.output
    assert {p: p.read_bytes() for p in cat.rglob("*") if p.is_file()} == files
    assert boards.read_bytes() == files[boards]


def test_an_engine_error_after_a_good_batch_writes_nothing(cat: Path) -> None:
    boards = cat / "skus" / "boards.yaml"  # CB-BAM-M without German: two target languages
    text = boards.read_text(encoding="utf-8")
    german = "      de_DE:\n        item_name: Birchwood Kitchen Schneidebrett aus Bambus"
    assert german in text
    boards.write_text(text.replace(german, "      xx_XX:\n        item_name: x"),
                      encoding="utf-8")
    assert len({j.language for j in find_work(load(cat)).jobs}) == 2
    fake = Fake(fail_at=2)
    with pytest.raises(TranslationEngineError):
        run(cat, lambda raw: fake)
    assert fake.calls == 2
    assert not (cat / "translations").exists()
    assert [p.name for p in cat.rglob("*.tmp")] == []


def test_unknown_marketplace_or_sku_is_a_clear_error(cat: Path) -> None:
    r = cli("translate", str(cat), "--marketplace", "XX", "--dry-run")
    assert r.exit_code == 1 and "XX" in r.output and "Traceback" not in r.output
    r = cli("translate", str(cat), "--sku", "NOPE", "--dry-run")
    assert r.exit_code == 1 and "NOPE" in r.output


def test_sample_glossary_reads() -> None:
    g = read_glossary(yaml.safe_load((ROOT / "catalog" / "glossary.yaml").read_text()))
    assert g is not None and "Birchwood Kitchen" in g.keep and g.version


def test_drafts_of_a_sku_not_in_the_catalog_are_a_warning(cat: Path) -> None:
    run(cat, lambda raw: Fake())
    p = fr_file(cat)
    p.write_text(p.read_text(encoding="utf-8").replace("  CB-OAK-L:", "  CB-OAK-XL:"),
                 encoding="utf-8")
    desired = load_desired(cat)
    assert any("'CB-OAK-XL' is not in the catalog" in w for w in desired.warnings)
    assert fr_listing(cat).held_reason == "no texts for fr_FR"


def test_template_texts_are_skipped_naming_the_template(cat: Path) -> None:
    mugs = cat / "skus" / "mugs.yaml"
    lines = mugs.read_text(encoding="utf-8").split("\n")
    french = [i for i, x in enumerate(lines) if x.strip() == "fr_FR:"]
    assert french
    lines[french[0]] = lines[french[0]].replace("fr_FR:", "xx_XX:")  # MUG-CER-12 lacks French
    mugs.write_text("\n".join(lines), encoding="utf-8")
    s = run(cat, lambda raw: Fake(), dry_run=True, marketplaces=["FR"])
    why = {x.why for x in s.skipped if x.sku == "MUG-CER-12"}
    assert "item_name comes from templates/mug-title.en.j2: write a fr_FR template instead" in why


def test_a_language_split_into_files_below_its_directory(cat: Path) -> None:
    (cat / "translations" / "fr_FR").mkdir(parents=True)
    s = run(cat, lambda raw: Fake())
    assert s.written == ["translations/fr_FR/boards.yaml"]  # named after skus/boards.yaml
    written = cat / "translations" / "fr_FR" / "boards.yaml"
    modeline = written.read_text(encoding="utf-8").split("\n", 1)[0]
    schema = modeline.split("$schema=", 1)[1]
    assert schema == "../../../schemas/translations.schema.json"  # the sample's layout
    assert fr_listing(cat).held_details[0].draft == (TITLE_FAKE,)
    assert run(cat, lambda raw: Fake()).drafted == []
    # the same text drafted in two files of one language is refused
    twin = cat / "translations" / "fr_FR.yaml"
    twin.write_text(written.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(CatalogError) as e:
        load_desired(cat)
    assert len(e.value.problems) == 3
    assert all("also drafted in translations/" in p.message for p in e.value.problems)


def test_a_file_over_the_catalog_limit_is_refused_before_writing(
    cat: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.translate import draft

    monkeypatch.setattr(draft, "MAX_FILE_BYTES", 1000)
    with pytest.raises(CatalogError) as e:
        run(cat, lambda raw: Fake())
    [p] = e.value.problems
    assert p.file == "translations/fr_FR.yaml" and "mkdir translations/fr_FR" in p.message
    assert not (cat / "translations").exists()


def test_a_translations_symlink_leaving_the_catalog_is_refused(cat: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (cat / "translations").symlink_to(outside, target_is_directory=True)
    r = cli("translate", str(cat))
    assert r.exit_code == 1 and "outside the catalog" in r.output
    assert list(outside.iterdir()) == []
