"""The emulator speaks DeepL's API v2 (issue 16): the official ``deepl`` client, pointed at a
real loopback server with ``server_url``, works unchanged; the output is deterministic (a phrase
table covering the sample's held French listing, else a marked rendering); auth, limits, usage,
glossaries and injected faults behave as DeepL documents them; every request is logged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import deepl
import httpx
import pytest
import yaml
from deepl.api_data import MultilingualGlossaryDictionaryEntries

from reconciler.emulator import deepl_api
from reconciler.emulator import machine_translation as mt
from reconciler.emulator.app import Emulator
from reconciler.emulator.server import running
from reconciler.translate import engines
from tests.conftest import SAMPLE_CATALOG
from tests.test_emulator_server import serve

KEY = "test-deepl-key"


@pytest.fixture(autouse=True)
def no_client_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    # the client's own backoff (1 s and up) would make fault tests slow: one attempt each
    monkeypatch.setattr(deepl.http_client, "max_network_retries", 0)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    e = Emulator()
    e.seed({"deepl": {"authKeys": [KEY]}})
    yield e
    e.close()


@pytest.fixture
def url(emu: Emulator) -> Iterator[str]:
    with running(emu) as u:
        yield u


@pytest.fixture
def translator(url: str) -> Iterator[deepl.Translator]:
    t = deepl.Translator(KEY, server_url=url)
    yield t
    t.close()


def cb_oak_l_texts(lang: str = "en_US") -> list[str]:
    skus = yaml.safe_load((SAMPLE_CATALOG / "skus" / "boards.yaml").read_text("utf-8"))
    texts = next(v for k, v in skus.items() if isinstance(v, dict) and "CB-OAK-L" in v)
    t = texts["CB-OAK-L"]["texts"][lang]
    return [t["item_name"], t["product_description"], *t["bullet_points"]]


def test_the_held_french_listing_is_in_the_phrase_table(translator: deepl.Translator) -> None:
    for lang in ("en_US", "en_GB"):
        texts = cb_oak_l_texts(lang)
        results = translator.translate_text(texts, source_lang="EN", target_lang="FR")
        assert isinstance(results, list) and len(results) == len(texts)
        for src, r in zip(texts, results, strict=True):
            assert r.text and not r.text.startswith("[fr]"), src
            assert r.text != src
            assert r.detected_source_lang == "EN"
            assert r.billed_characters == len(src)
            assert "Birchwood Kitchen" in r.text or "Birchwood Kitchen" not in src
            # numbers survive (the catalog's gate checks them)
            assert [c for c in src if c.isdigit()] == [c for c in r.text if c.isdigit()]


def test_other_texts_get_a_marked_rendering(translator: deepl.Translator) -> None:
    r = translator.translate_text("Some text nobody translated", target_lang="DE")
    assert not isinstance(r, list)
    assert r.text == "[de] Some text nobody translated"
    r2 = translator.translate_text("Some text nobody translated", target_lang="EN-GB")
    assert not isinstance(r2, list)
    assert r2.text.startswith("[en-gb] ")


def test_form_bodies_with_repeated_text_answer_like_json(emu: Emulator, url: str) -> None:
    texts = [*cb_oak_l_texts()[:2], "plain"]
    headers = {"Authorization": f"DeepL-Auth-Key {KEY}"}
    form = urlencode([("target_lang", "FR"), ("source_lang", "EN")] + [("text", t) for t in texts])
    with httpx.Client(base_url=url, headers=headers) as c:
        a = c.post("/v2/translate", content=form,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        b = c.post("/v2/translate", json={"text": texts, "target_lang": "FR", "source_lang": "EN"})
    assert a.status_code == b.status_code == 200
    assert a.json() == b.json()
    assert len(a.json()["translations"]) == 3


def test_the_in_process_transport_serves_it_too(emu: Emulator) -> None:
    with httpx.Client(transport=emu.transport(), base_url="https://api.deepl.com") as c:
        r = c.post("/v2/translate", json={"text": ["x"], "target_lang": "IT"},
                   headers={"Authorization": f"DeepL-Auth-Key {KEY}"})
    assert r.status_code == 200 and r.json()["translations"][0]["text"] == "[it] x"


def test_missing_or_unknown_keys_get_403(emu: Emulator, url: str) -> None:
    with httpx.Client(base_url=url) as c:
        assert c.post("/v2/translate", json={"text": ["x"], "target_lang": "DE"}).status_code == 403
        r = c.get("/v2/usage", headers={"Authorization": "DeepL-Auth-Key nope"})
        assert r.status_code == 403 and "message" in r.json()
    bad = deepl.Translator("not-registered", server_url=url)
    with pytest.raises(deepl.AuthorizationException):
        bad.translate_text("x", target_lang="DE")
    bad.close()
    assert [c.status for c in emu.calls("deepl.translate")] == [403, 403]
    # the emulator keeps hashes of keys, never keys
    dump = "\n".join(emu.db.iterdump())
    assert KEY not in dump


def test_limits_50_texts_and_128_kib(emu: Emulator, url: str) -> None:
    headers = {"Authorization": f"DeepL-Auth-Key {KEY}"}
    with httpx.Client(base_url=url, headers=headers) as c:
        ok = c.post("/v2/translate", json={"text": ["a"] * 50, "target_lang": "DE"})
        many = c.post("/v2/translate", json={"text": ["a"] * 51, "target_lang": "DE"})
        big = c.post("/v2/translate", json={"text": ["a" * (129 * 1024)], "target_lang": "DE"})
    assert ok.status_code == 200 and len(ok.json()["translations"]) == 50
    assert many.status_code == 400
    assert big.status_code == 413


def test_glossaries_round_trip_and_apply(translator: deepl.Translator) -> None:
    pairs = translator.get_glossary_languages()
    assert any(p.source_lang.upper() == "EN" and p.target_lang.upper() == "FR" for p in pairs)
    g = translator.create_glossary("g1", "EN", "FR", {"cutting board": "planche à découper"})
    assert g.ready and g.entry_count == 1 and g.source_lang == "EN" and g.target_lang == "FR"
    assert [x.glossary_id for x in translator.list_glossaries()] == [g.glossary_id]
    assert translator.get_glossary(g.glossary_id).name == "g1"
    assert translator.get_glossary_entries(g) == {"cutting board": "planche à découper"}
    r = translator.translate_text("A Cutting Board", source_lang="EN", target_lang="FR",
                                  glossary=g)
    assert not isinstance(r, list)
    assert r.text == "[fr] A planche à découper"
    with pytest.raises(deepl.DeepLException):  # the glossary is EN->FR
        translator.translate_text("x", source_lang="EN", target_lang="DE", glossary=g.glossary_id)
    translator.delete_glossary(g)
    with pytest.raises(deepl.GlossaryNotFoundException):
        translator.get_glossary(g.glossary_id)


def test_v3_multilingual_glossaries_with_deepl_client(url: str, emu: Emulator) -> None:
    client = deepl.DeepLClient(KEY, server_url=url)
    g = client.create_multilingual_glossary("m", [
        MultilingualGlossaryDictionaryEntries("EN", "FR", {"board": "planche"}),
        MultilingualGlossaryDictionaryEntries("EN", "DE", {"board": "Brett"}),
    ])
    assert {(d.source_lang, d.target_lang, d.entry_count) for d in g.dictionaries} == {
        ("EN", "FR", 1), ("EN", "DE", 1)}
    assert [x.glossary_id for x in client.list_multilingual_glossaries()] == [g.glossary_id]
    assert client.get_multilingual_glossary(g.glossary_id).name == "m"
    got = client.get_multilingual_glossary_entries(g, "EN", "DE").dictionaries[0]
    assert "Brett" in str(got.entries)
    for target, word in (("FR", "planche"), ("DE", "Brett")):
        r = client.translate_text("a board", source_lang="EN", target_lang=target, glossary=g)
        assert not isinstance(r, list) and r.text == f"[{target.lower()}] a {word}"
    with pytest.raises(deepl.DeepLException):  # no EN->IT dictionary
        client.translate_text("a board", source_lang="EN", target_lang="IT",
                              glossary=g.glossary_id)
    client.delete_multilingual_glossary(g)
    with pytest.raises(deepl.GlossaryNotFoundException):
        client.get_multilingual_glossary(g.glossary_id)
    client.close()
    assert {c.operation for c in emu.calls()} >= {"deepl.v3CreateGlossary", "deepl.translate"}


def test_a_glossary_entry_beats_the_phrase_table(translator: deepl.Translator) -> None:
    name = cb_oak_l_texts()[0]
    plain = translator.translate_text(name, source_lang="EN", target_lang="FR")
    g = translator.create_glossary("g", "EN", "FR", {"Juice Groove": "gouttière"})
    forced = translator.translate_text(name, source_lang="EN", target_lang="FR", glossary=g)
    assert not isinstance(plain, list) and not isinstance(forced, list)
    assert "gouttière" not in plain.text
    assert "gouttière" in forced.text


def test_ignored_tags_are_kept_verbatim(translator: deepl.Translator) -> None:
    g = translator.create_glossary("g", "EN", "DE", {"oak": "Eiche"})
    r = translator.translate_text(
        "Oak &amp; <x>Oak Works</x> board", source_lang="EN", target_lang="DE", glossary=g,
        tag_handling="xml", ignore_tags=["x"],
    )
    assert not isinstance(r, list)
    assert r.text == "[de] Eiche &amp; <x>Oak Works</x> board"


def test_usage_and_the_character_quota(url: str, emu: Emulator) -> None:
    emu.seed({"deepl": {"authKeys": ["small"], "characterLimit": 10}})
    t = deepl.Translator("small", server_url=url)
    t.translate_text("12345678", target_lang="DE")
    usage = t.get_usage()
    assert usage.character.count == 8 and usage.character.limit == 10
    with pytest.raises(deepl.QuotaExceededException):
        t.translate_text("123", target_lang="DE")
    assert t.get_usage().character.count == 8  # a refused request is not billed
    t.close()


def test_languages(translator: deepl.Translator) -> None:
    sources = {x.code for x in translator.get_source_languages()}
    targets = {x.code for x in translator.get_target_languages()}
    assert {"EN", "FR", "DE", "ES", "IT"} <= sources
    assert {"EN-US", "EN-GB", "FR", "DE", "ES", "IT"} <= targets and "EN" not in targets


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (429, deepl.TooManyRequestsException),
        (456, deepl.QuotaExceededException),
        (500, deepl.DeepLException),
        (503, deepl.DeepLException),
    ],
)
def test_injected_faults_one_per_request(
    emu: Emulator, translator: deepl.Translator, status: int, exc: type[Exception]
) -> None:
    mt.inject_faults(emu, "deepl", [status])
    with pytest.raises(exc):
        translator.translate_text("x", target_lang="DE")
    r = translator.translate_text("x", target_lang="DE")  # the queue is empty again
    assert not isinstance(r, list) and r.text == "[de] x"
    assert [c.status for c in emu.calls("deepl.translate")] == [status, 200]


def test_faults_from_the_seed(url: str, emu: Emulator) -> None:
    emu.seed({"deepl": {"faults": [429, 456]}})
    t = deepl.Translator(KEY, server_url=url)
    with pytest.raises(deepl.TooManyRequestsException):
        t.translate_text("x", target_lang="DE")
    with pytest.raises(deepl.QuotaExceededException):
        t.get_usage()
    assert t.get_usage().character.count == 0
    t.close()
    ops = [(c.operation, c.status) for c in emu.calls()]
    assert ops == [("deepl.translate", 429), ("deepl.usage", 456), ("deepl.usage", 200)]


def test_routes_are_not_sp_api() -> None:
    for r in deepl_api.ROUTES:
        assert r.operation.startswith("deepl.") and not r.auth and not r.quota


def test_reconcilers_emulator_key_is_the_emulators() -> None:
    assert engines.EMULATOR_AUTH_KEY == deepl_api.EMBEDDED_AUTH_KEY


def test_the_embedded_key_works_without_a_seed(url: str) -> None:
    t = deepl.Translator(engines.EMULATOR_AUTH_KEY, server_url=url)
    r = t.translate_text("x", target_lang="FR")
    assert not isinstance(r, list) and r.text == "[fr] x"
    t.close()


def test_phrase_table_is_valid_json_with_collapsed_keys() -> None:
    for pair, table in mt.phrases().items():
        assert ">" in pair
        for src in table:
            assert src == " ".join(src.split())
    assert json.loads(json.dumps(mt.phrases()))


@pytest.mark.server
def test_reconciler_emulator_serve_speaks_deepl(tmp_path: Path) -> None:
    """The real server subprocess, seeded from a file (a key and two queued faults): the
    client sees the faults in order, then translations; the call log counts every request."""
    seed = tmp_path / "deepl.yaml"
    seed.write_text("deepl:\n  authKeys: [file-key]\n  faults: [429, 503]\n", encoding="utf-8")
    with serve(tmp_path, "--seed", str(seed)) as server:
        t = deepl.Translator("file-key", server_url=server.url)
        with pytest.raises(deepl.TooManyRequestsException):
            t.translate_text("x", target_lang="FR")
        with pytest.raises(deepl.DeepLException):
            t.translate_text("x", target_lang="FR")
        texts = cb_oak_l_texts("en_GB")
        out = t.translate_text(texts, source_lang="EN", target_lang="FR")
        assert isinstance(out, list) and not any(r.text.startswith("[fr]") for r in out)
        t.close()
    with Emulator.open_readonly(str(server.db)) as emu:
        assert [c.status for c in emu.calls("deepl.translate")] == [429, 503, 200]
