"""The translation engines (issue 16): DeepL through the official client and Amazon Translate
through boto3, both against the emulator on a loopback server; faults become one clear
TranslationEngineError after bounded retries; batches respect DeepL's limits; glossary terms
survive; the translation memory makes a second run send nothing (counted from the emulator's
call log); keys go only to the engine's hosts or loopback."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.catalog.glossary import Glossary
from reconciler.emulator import machine_translation as mt
from reconciler.emulator.app import Emulator
from reconciler.emulator.server import running
from reconciler.kernel.errors import CredentialsError
from reconciler.translate.aws_engine import language_code
from reconciler.translate.deepl_engine import source_code, target_code
from reconciler.translate.engine import Engine, TranslationEngineError
from reconciler.translate.engines import make_engine
from reconciler.translate.memory import MemoEngine, TranslationMemory
from tests.test_deepl_emulator import cb_oak_l_texts

KEY = "deepl-test-key-123"
ENV = {"DEEPL_AUTH_KEY": KEY, "AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "s3cr3t"}
DEEPL = {"auth_key": "env/DEEPL_AUTH_KEY", "backoff_s": 0.01, "max_retries": 2}
AWS = {"region": "eu-west-1", "access_key_id": "env/AWS_ACCESS_KEY_ID",
       "secret_access_key": "env/AWS_SECRET_ACCESS_KEY", "backoff_s": 0, "max_retries": 2}
GLOSSARY = Glossary(
    "g1", keep=("Juice Groove", "Birchwood Kitchen"), forced={"fr_FR": {"groove": "rainure"}}
)


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


def deepl_engine(url: str, sleeps: list[float] | None = None, **settings: Any) -> Engine:
    return make_engine("deepl", {**DEEPL, **settings}, env=ENV, server_url=url,
                       sleep=None if sleeps is None else sleeps.append)


def aws_engine(url: str, **settings: Any) -> Engine:
    return make_engine("amazon-translate", {**AWS, **settings}, env=ENV,
                       server_url=url + "/aws-translate", sleep=lambda s: None)


def translate_calls(emu: Emulator) -> list[int]:
    return [c.status for c in emu.calls("deepl.translate")]


# ---------------------------------------------------------------------------- DeepL


def test_deepl_drafts_the_held_french_listing(emu: Emulator, url: str) -> None:
    texts = cb_oak_l_texts()
    out = deepl_engine(url).translate(texts, source="en_US", target="fr_FR", glossary=None)
    assert len(out) == len(texts)
    assert all(o and not o.startswith("[fr]") and o != t for o, t in zip(out, texts, strict=True))
    assert translate_calls(emu) == [200]


@pytest.mark.parametrize("faults", [[429], [429, 429], [500], [503, 429]])
def test_throttling_and_server_errors_are_retried(
    emu: Emulator, url: str, faults: list[int]
) -> None:
    mt.inject_faults(emu, "deepl", faults)
    sleeps: list[float] = []
    out = deepl_engine(url, sleeps).translate(["x"], source="en_US", target="de_DE", glossary=None)
    assert out == ["[de] x"]
    assert translate_calls(emu) == [*faults, 200]
    assert sleeps == [0.01 * 2**i for i in range(len(faults))]  # backoff doubles


@pytest.mark.parametrize(("status", "words"), [(429, "429"), (500, "500"), (503, "503")])
def test_retries_are_bounded(emu: Emulator, url: str, status: int, words: str) -> None:
    mt.inject_faults(emu, "deepl", [status] * 5)
    with pytest.raises(TranslationEngineError) as e:
        deepl_engine(url).translate(["x"], source="en_US", target="de_DE", glossary=None)
    msg = str(e.value)
    assert "DeepL" in msg and words in msg and "\n" not in msg
    assert translate_calls(emu) == [status] * 3  # max_retries 2: three tries, then stop


def test_quota_exceeded_is_not_retried(emu: Emulator, url: str) -> None:
    mt.inject_faults(emu, "deepl", [456])
    with pytest.raises(TranslationEngineError) as e:
        deepl_engine(url).translate(["x"], source="en_US", target="de_DE", glossary=None)
    assert "456" in str(e.value) and "quota" in str(e.value).lower()
    assert translate_calls(emu) == [456]


def test_a_refused_key_says_which_setting(url: str, emu: Emulator) -> None:
    engine = make_engine("deepl", DEEPL, env={"DEEPL_AUTH_KEY": "wrong-key"}, server_url=url)
    with pytest.raises(TranslationEngineError) as e:
        engine.translate(["x"], source="en_US", target="de_DE", glossary=None)
    assert "403" in str(e.value) and "auth_key" in str(e.value)
    assert "wrong-key" not in str(e.value)


def test_batches_of_at_most_50_texts_in_order(emu: Emulator, url: str) -> None:
    texts = [f"text number {i}" for i in range(120)]
    out = deepl_engine(url).translate(texts, source="en_GB", target="it_IT", glossary=None)
    assert out == [f"[it] text number {i}" for i in range(120)]
    assert translate_calls(emu) == [200, 200, 200]


def test_batches_stay_under_128_kib(emu: Emulator, url: str) -> None:
    texts = [f"{i} " + "é" * 4000 for i in range(20)]  # ~24 KB each as JSON (\\u00e9)
    out = deepl_engine(url).translate(texts, source="en_US", target="fr_FR", glossary=None)
    assert out == [f"[fr] {t}" for t in texts]
    calls = translate_calls(emu)
    assert calls == [200] * len(calls) and len(calls) >= 4


def test_a_text_over_the_limit_alone_is_a_clear_error(url: str, emu: Emulator) -> None:
    with pytest.raises(TranslationEngineError) as e:
        deepl_engine(url).translate(["a" * 200_000], source="en_US", target="fr_FR",
                                    glossary=None)
    assert "128 KiB" in str(e.value)
    assert translate_calls(emu) == []


def test_kept_terms_survive_and_forced_terms_apply(emu: Emulator, url: str) -> None:
    texts = ["Our Juice Groove board has a deep groove", "Birchwood Kitchen groove & <b>"]
    out = deepl_engine(url).translate(texts, source="en_US", target="fr_FR", glossary=GLOSSARY)
    assert out[0] == "[fr] Our Juice Groove board has a deep rainure"
    assert out[1] == "[fr] Birchwood Kitchen rainure & <b>"
    # without the keep list the forced term eats into the brand
    bare = Glossary("g2", forced=GLOSSARY.forced)
    out2 = deepl_engine(url).translate(texts[:1], source="en_US", target="fr_FR", glossary=bare)
    assert "Juice Groove" not in out2[0]


def test_blank_texts_are_not_sent(emu: Emulator, url: str) -> None:
    out = deepl_engine(url).translate(["", " ", "x"], source="en_US", target="fr_FR",
                                      glossary=None)
    assert out == ["", " ", "[fr] x"]
    assert deepl_engine(url).translate([""], source="en_US", target="fr_FR", glossary=None) == [""]
    assert translate_calls(emu) == [200]


def test_a_glossary_term_deepl_refuses_is_a_clear_error(emu: Emulator, url: str) -> None:
    bad = Glossary("g9", forced={"fr_FR": {"a\tb": "c"}})
    with pytest.raises(TranslationEngineError) as e:
        deepl_engine(url).translate(["x"], source="en_US", target="fr_FR", glossary=bad)
    assert "glossary" in str(e.value)


def test_a_glossary_is_created_once_and_reused_by_content(emu: Emulator, url: str) -> None:
    for _ in range(2):  # two runs: two engines, like two processes
        engine = deepl_engine(url)
        engine.translate(["a groove"], source="en_US", target="fr_FR", glossary=GLOSSARY)
        engine.translate(["b groove"], source="en_US", target="fr_FR", glossary=GLOSSARY)
    assert len(emu.calls("deepl.createGlossary")) == 1
    assert len(emu.calls("deepl.listGlossaries")) == 2
    changed = Glossary("g3", forced={"fr_FR": {"groove": "gorge"}})
    out = deepl_engine(url).translate(["a groove"], source="en_US", target="fr_FR",
                                      glossary=changed)
    assert out == ["[fr] a gorge"]
    assert len(emu.calls("deepl.createGlossary")) == 2


def test_language_codes() -> None:
    assert [target_code(t) for t in ("fr_FR", "en_US", "en_GB", "de_DE", "es_MX", "pt_BR",
                                     "pt_PT", "en_AU")] == \
        ["FR", "EN-US", "EN-GB", "DE", "ES", "PT-BR", "PT-PT", "EN-GB"]
    assert [source_code(t) for t in ("en_US", "en_GB", "de_DE")] == ["EN", "EN", "DE"]
    assert [language_code(t) for t in ("fr_FR", "es_MX", "es_ES", "en_GB", "pt_PT", "fr_CA")] == \
        ["fr", "es-MX", "es", "en", "pt-PT", "fr-CA"]


# ---------------------------------------------------------------------------- memory


def test_a_second_run_sends_zero_requests(emu: Emulator, url: str, tmp_path: Path) -> None:
    texts = cb_oak_l_texts()
    db = tmp_path / "state"
    with TranslationMemory.in_state_dir(db) as memory:
        first = MemoEngine(deepl_engine(url), memory).translate(
            texts, source="en_US", target="fr_FR", glossary=GLOSSARY)
    after_first = len(emu.calls())
    assert after_first >= 1 and translate_calls(emu) == [200]
    with TranslationMemory.in_state_dir(db) as memory:  # a new run: new engine, same state dir
        memo = MemoEngine(deepl_engine(url), memory)
        second = memo.translate(texts, source="en_US", target="fr_FR", glossary=GLOSSARY)
        assert second == first
        assert memo.sent == 0
        assert len(emu.calls()) == after_first  # zero requests of any kind
        # a changed text is the only one sent; another glossary version sends all again
        edited = [*texts[:-1], texts[-1] + " (edited)"]
        memo.translate(edited, source="en_US", target="fr_FR", glossary=GLOSSARY)
        assert memo.sent == 1
        memo.translate(texts, source="en_US", target="de_DE", glossary=GLOSSARY)
        assert memo.sent == 1 + len(texts)
    dump = "\n".join(sqlite3.connect(db / "translation-memory.db").iterdump())
    assert KEY not in dump  # no key; sources are kept as hashes
    assert "INSERT" in dump and f"'{texts[1]}'" not in dump


class FakeEngine:
    name = "deepl"
    memory_key = "deepl"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def translate(self, texts: Any, *, source: str, target: str, glossary: Any) -> list[str]:
        self.seen.extend(texts)
        return [f"real {t}" for t in texts]


def test_the_emulators_answers_never_serve_a_real_engine(emu: Emulator, url: str) -> None:
    memory = TranslationMemory(":memory:")
    demo = MemoEngine(deepl_engine(url), memory)
    assert demo.key == "deepl@loopback"
    assert demo.translate(["a"], source="en_US", target="fr_FR", glossary=None) == ["[fr] a"]
    real = FakeEngine()  # what make_engine builds for api.deepl.com (memory_key "deepl")
    assert getattr(make_engine("deepl", DEEPL, env=ENV), "memory_key") == "deepl"
    out = MemoEngine(real, memory).translate(["a"], source="en_US", target="fr_FR", glossary=None)
    assert out == ["real a"] and real.seen == ["a"]


def test_memory_sends_each_distinct_text_once(emu: Emulator, url: str) -> None:
    memo = MemoEngine(deepl_engine(url), TranslationMemory(":memory:"))
    out = memo.translate(["a", "b", "a"], source="en_US", target="fr_FR", glossary=None)
    assert out == ["[fr] a", "[fr] b", "[fr] a"] and memo.sent == 2


def test_a_failed_run_remembers_nothing(emu: Emulator, url: str) -> None:
    memory = TranslationMemory(":memory:")
    mt.inject_faults(emu, "deepl", [456])
    with pytest.raises(TranslationEngineError):
        MemoEngine(deepl_engine(url), memory).translate(["a"], source="en_US", target="fr_FR",
                                                        glossary=None)
    assert memory.count() == 0


# ---------------------------------------------------------------------------- where keys go


@pytest.mark.parametrize(
    "endpoint",
    ["https://evil.example.com", "http://api.deepl.com", "https://api.deepl.com:8443",
     "https://user:pw@api.deepl.com", "https://api.deepl.com.evil.example"],
)
def test_the_deepl_key_goes_only_to_deepl_or_loopback(endpoint: str) -> None:
    with pytest.raises(TranslationEngineError) as e:
        make_engine("deepl", {**DEEPL, "endpoint": endpoint}, env=ENV)
    assert KEY not in str(e.value)


def test_deepls_hosts_and_an_operator_host_are_accepted() -> None:
    for endpoint in ("https://api.deepl.com", "https://api-free.deepl.com", "production"):
        assert make_engine("deepl", {**DEEPL, "endpoint": endpoint}, env=ENV).name == "deepl"
    env = {**ENV, "RECONCILER_ALLOW_HOSTS": "deepl-proxy.corp.example"}
    assert make_engine("deepl", {**DEEPL, "endpoint": "https://deepl-proxy.corp.example"},
                       env=env).name == "deepl"


@pytest.mark.parametrize("ref", ["env/GITHUB_TOKEN", "env/AWS_SECRET_ACCESS_KEY", "plainsecret"])
def test_a_deepl_key_may_name_only_deepl_variables(ref: str) -> None:
    with pytest.raises(TranslationEngineError):
        make_engine("deepl", {**DEEPL, "auth_key": ref},
                    env={**ENV, "GITHUB_TOKEN": "x", "AWS_SECRET_ACCESS_KEY": "y"})


def test_sp_api_references_still_refuse_engine_variables() -> None:
    from reconciler.kernel.credentials import resolve_ref

    for name in ("DEEPL_AUTH_KEY", "AWS_SECRET_ACCESS_KEY"):
        with pytest.raises(CredentialsError):
            resolve_ref(f"env/{name}", {name: "v"})


def test_a_missing_key_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TranslationEngineError) as e:
        make_engine("deepl", DEEPL, env={})
    assert "DEEPL_AUTH_KEY" in str(e.value)


def test_the_emulator_endpoint_needs_a_running_emulator_and_sends_its_own_key(
    emu: Emulator, url: str
) -> None:
    with pytest.raises(TranslationEngineError):
        make_engine("deepl", {"endpoint": "emulator"}, env={})
    engine = make_engine("deepl", {"endpoint": "emulator", "auth_key": "env/DEEPL_AUTH_KEY"},
                         env=ENV, server_url=url)
    assert engine.translate(["x"], source="en_US", target="fr_FR", glossary=None) == ["[fr] x"]


def test_unknown_engine_and_bad_settings() -> None:
    with pytest.raises(TranslationEngineError):
        make_engine("babelfish", {}, env=ENV)
    with pytest.raises(TranslationEngineError):
        make_engine("deepl", {**DEEPL, "max_retries": "many"}, env=ENV)
    with pytest.raises(TranslationEngineError):
        make_engine("amazon-translate", {**AWS, "region": None}, env=ENV)


# ---------------------------------------------------------------------------- Amazon Translate


def aws_calls(emu: Emulator) -> list[int]:
    return [c.status for c in emu.calls("translate.request")]


def test_amazon_translate_through_boto3(emu: Emulator, url: str) -> None:
    texts = cb_oak_l_texts()
    engine = aws_engine(url)
    out = engine.translate(texts, source="en_US", target="fr_FR", glossary=None)
    assert all(o and not o.startswith("[fr]") for o in out)
    assert aws_calls(emu) == [200] * len(texts)  # one text per TranslateText


def test_amazon_translate_terminology_from_the_glossary(emu: Emulator, url: str) -> None:
    texts = ["Our Juice Groove board has a deep groove"]
    for _ in range(2):
        out = aws_engine(url).translate(texts, source="en_US", target="fr_FR", glossary=GLOSSARY)
        assert out == ["[fr] Our Juice Groove board has a deep rainure"]
    names = [r[0] for r in emu.db.execute("SELECT name FROM aws_terminologies")]
    assert len(names) == 1  # imported once, found again by its content name


@pytest.mark.parametrize(
    ("faults", "ok"), [([429], True), ([500, 503], True), ([429] * 3, False), ([456], False)]
)
def test_amazon_translate_faults(emu: Emulator, url: str, faults: list[int], ok: bool) -> None:
    mt.inject_faults(emu, "translate", faults)
    engine = aws_engine(url)
    if ok:
        assert engine.translate(["x"], source="en_US", target="de_DE", glossary=None) == ["[de] x"]
        assert aws_calls(emu) == [*faults, 200]
    else:
        with pytest.raises(TranslationEngineError) as e:
            engine.translate(["x"], source="en_US", target="de_DE", glossary=None)
        assert "Amazon Translate" in str(e.value) and "\n" not in str(e.value)
        assert len(aws_calls(emu)) == (1 if faults == [456] else 3)


def test_amazon_translate_on_the_emulators_root_url(emu: Emulator, url: str) -> None:
    engine = make_engine("amazon-translate", {"endpoint": "emulator", "region": "eu-west-1"},
                         env={}, server_url=url)
    assert engine.translate(["x"], source="en_GB", target="es_MX", glossary=None) == ["[es-mx] x"]


def test_amazon_translate_keys_go_only_to_its_regional_host() -> None:
    ok = make_engine("amazon-translate", {**AWS, "endpoint":
                                          "https://translate.eu-west-1.amazonaws.com"}, env=ENV)
    assert ok.name == "amazon-translate"
    for endpoint in ("https://translate.us-east-1.amazonaws.com", "https://evil.example.com"):
        with pytest.raises(TranslationEngineError):
            make_engine("amazon-translate", {**AWS, "endpoint": endpoint}, env=ENV)
    with pytest.raises(TranslationEngineError):
        make_engine("amazon-translate", {**AWS, "access_key_id": "env/DEEPL_AUTH_KEY"}, env=ENV)
