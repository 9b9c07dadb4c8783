"""DeepL through its official Python client (``deepl``), with glossaries.

- **Languages**: a catalog tag (``fr_FR``) becomes DeepL's target code (``FR``; English and
  Portuguese keep their variant: ``EN-US``, ``EN-GB``, ``PT-BR``, ``PT-PT``) and source code
  (``EN``): https://developers.deepl.com/docs/getting-started/supported-languages.
- **Batches**: at most 50 texts and 128 KiB of request body per ``/v2/translate`` request
  ("The /v2/translate endpoint accepts up to 50 texts per request and request bodies up to
  128 KiB", https://developers.deepl.com/docs/translate/translating-large-volumes).
- **Forced terms** (``glossary.forced``): a DeepL glossary per (source, target) pair, named by a
  hash of its content (``reconciler-<hash>``), found again with ``list_glossaries`` and reused,
  else created (v2 glossaries: ``Translator.create_glossary``,
  https://developers.deepl.com/api-reference/glossaries). DeepL applies a glossary's entries
  and may inflect them to fit the sentence ("DeepL intelligently flexes entries").
- **Kept terms** (``glossary.keep``: brand and model names) are *not* glossary entries, because
  DeepL may flex a glossary entry: each one is wrapped in ``<x>...</x>`` and sent with
  ``tag_handling=xml, ignore_tags=x``, so DeepL leaves it byte for byte ("ignore_tags: ...
  the content of these tags is not translated",
  https://developers.deepl.com/docs/xml-and-html-handling/xml); the tags are removed from the
  result. Only batches that contain a kept term use XML handling.
- **Failures**: 429 and 5xx (and dropped connections) are retried by this engine a bounded number
  of times with backoff (the client's own retries are turned off with its documented knob
  ``deepl.http_client.max_network_retries``); every failure a user can act on becomes a
  :class:`TranslationEngineError` with one line saying what failed and what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import deepl

from reconciler.catalog.glossary import Glossary
from reconciler.kernel.redact import escape

from .engine import TranslationEngineError
from .engine_support import (
    KEEP_TAG,
    Retryable,
    RetryPolicy,
    batches,
    content_name,
    forced_terms,
    has_keep_terms,
    json_size,
    protect,
    unprotect,
    with_retries,
)

NAME = "deepl"
MAX_TEXTS = 50
MAX_BODY_BYTES = 128 * 1024
BODY_RESERVE = 4 * 1024  # the request's other fields (languages, glossary id, tag options)
_VARIANT_TARGETS = {"EN-US", "EN-GB", "PT-BR", "PT-PT"}


def source_code(tag: str) -> str:
    """``en_US`` -> ``EN`` (DeepL's source languages have no regional variant)."""
    return tag.replace("-", "_").split("_")[0].upper()


def target_code(tag: str) -> str:
    """``fr_FR`` -> ``FR``; ``en_US`` -> ``EN-US``; ``en_AU`` -> ``EN-GB``; ``pt_PT`` ->
    ``PT-PT``; ``es_MX`` -> ``ES`` (DeepL's ``ES-419`` is Latin American, not a catalog tag)."""
    parts = tag.replace("-", "_").split("_")
    lang = parts[0].upper()
    region = parts[1].upper() if len(parts) > 1 else ""
    if lang == "EN":
        return "EN-US" if region in ("US", "") else "EN-GB"
    if lang == "PT":
        return "PT-BR" if region in ("BR", "") else "PT-PT"
    code = f"{lang}-{region}"
    return code if code in _VARIANT_TARGETS else lang


def _message(e: deepl.DeepLException) -> str:
    return escape(str(e))[:300]


class DeepLEngine:
    """An :class:`~reconciler.translate.engine.Engine` over ``deepl.Translator``."""

    name = NAME

    def __init__(
        self,
        auth_key: str,
        *,
        server_url: str | None = None,
        retry: RetryPolicy | None = None,
        where: str = "DeepL",
    ) -> None:
        # One retry policy: ours (bounded, configurable). deepl-python documents this knob:
        # "the number of retries can be configured ... deepl.http_client.max_network_retries".
        deepl.http_client.max_network_retries = 0
        self._translator = deepl.Translator(
            auth_key, server_url=server_url, send_platform_info=False
        )
        self._retry = retry or RetryPolicy()
        self._where = where
        self.memory_key = self.name  # translation memory's engine key (engines.py)
        self._glossaries: dict[str, str] = {}  # content name -> glossary id
        self._listed: dict[str, str] | None = None

    def close(self) -> None:
        self._translator.close()  # type: ignore[no-untyped-call]

    # ------------------------------------------------------------------ failures

    def _fail(self, what: str, e: Exception) -> TranslationEngineError:
        if isinstance(e, deepl.AuthorizationException):
            return TranslationEngineError(
                f"{self._where} refused the authentication key while {what} (HTTP 403): check "
                "the key that reconciler.yaml's translation.auth_key names; nothing was written"
            )
        if isinstance(e, deepl.QuotaExceededException):
            return TranslationEngineError(
                f"{self._where}'s character quota for this billing period is used up (HTTP 456) "
                f"while {what}: raise the plan's limit or wait for the next period; nothing "
                "was written"
            )
        if isinstance(e, deepl.TooManyRequestsException):
            return TranslationEngineError(
                f"{self._where} kept answering 429 Too Many Requests while {what}, after "
                f"{self._retry.max_retries + 1} tries: try again later; nothing was written"
            )
        status = getattr(e, "http_status_code", None)
        code = f" (HTTP {status})" if status else ""
        if isinstance(e, deepl.DeepLException):
            return TranslationEngineError(
                f"{self._where} failed while {what}{code}: {_message(e)}; nothing was written"
            )
        return TranslationEngineError(
            f"{self._where} failed while {what}: {escape(str(e))[:300]}; nothing was written"
        )

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        def once() -> Any:
            try:
                return fn(*args, **kwargs)
            except (deepl.AuthorizationException, deepl.QuotaExceededException):
                raise
            except deepl.DeepLException as e:
                status = getattr(e, "http_status_code", None) or 0
                if (
                    isinstance(e, (deepl.TooManyRequestsException, deepl.ConnectionException))
                    or status >= 500
                    or getattr(e, "should_retry", False)
                ):
                    raise Retryable(e) from e
                raise

        try:
            result, failure = with_retries(once, self._retry)
        except deepl.DeepLException as e:
            raise self._fail(what, e) from None
        except ValueError as e:  # the client's own checks (e.g. a glossary term with a tab)
            raise TranslationEngineError(
                f"{self._where} client refused the request while {what}: "
                f"{escape(str(e))[:200]}; fix the glossary or text it names"
            ) from None
        if failure is not None:
            raise self._fail(what, failure) from None
        return result

    # ------------------------------------------------------------------ glossaries

    def glossary_id(self, source: str, target: str, glossary: Glossary | None) -> str | None:
        """The DeepL glossary holding ``glossary``'s forced terms for this pair (reused by its
        content name, else created); None when there are none."""
        entries = forced_terms(glossary, target)
        if not entries:
            return None
        src, tgt = source_code(source), target_code(target).split("-")[0]
        name = content_name("reconciler", src, tgt, entries=entries)
        if name in self._glossaries:
            return self._glossaries[name]
        if self._listed is None:
            found = self._call("listing glossaries", self._translator.list_glossaries)
            self._listed = {
                g.name: g.glossary_id
                for g in found
                if g.ready and g.source_lang == src and g.target_lang == tgt
            }
        gid = self._listed.get(name)
        if gid is None:
            info = self._call(
                f"creating a glossary {src}->{tgt}",
                self._translator.create_glossary,
                name,
                src,
                tgt,
                entries,
            )
            gid = str(info.glossary_id)
        self._glossaries[name] = gid
        return gid

    # ------------------------------------------------------------------ translation

    def translate(
        self, texts: Sequence[str], *, source: str, target: str, glossary: Glossary | None
    ) -> list[str]:
        out: list[str] = list(texts)  # blank texts stay as they are, unsent
        todo = [i for i, t in enumerate(texts) if t.strip()]
        if not todo:
            return out
        done = self._translate([texts[i] for i in todo], source, target, glossary)
        for i, t in zip(todo, done, strict=True):
            out[i] = t
        return out

    def _translate(
        self, texts: Sequence[str], source: str, target: str, glossary: Glossary | None
    ) -> list[str]:
        src, tgt = source_code(source), target_code(target)
        what = f"translating {source} -> {target}"
        gid = self.glossary_id(source, target, glossary)
        keep = glossary.keep if glossary is not None else ()
        out: list[str] = [""] * len(texts)
        try:
            groups = list(
                batches(
                    texts,
                    max_count=MAX_TEXTS,
                    max_bytes=MAX_BODY_BYTES - BODY_RESERVE,
                    size=lambda t: json_size(protect(t, keep)),
                )
            )
        except ValueError as e:
            raise TranslationEngineError(
                f"{self._where} takes at most {MAX_BODY_BYTES // 1024} KiB per request: {e}; "
                "shorten the text"
            ) from None
        for group in groups:
            xml = any(has_keep_terms(texts[i], keep) for i in group)
            payload = [protect(texts[i], keep) if xml else texts[i] for i in group]
            options: dict[str, Any] = {}
            if xml:
                options = {"tag_handling": "xml", "ignore_tags": [KEEP_TAG]}
            results = self._call(
                what,
                self._translator.translate_text,
                payload,
                source_lang=src,
                target_lang=tgt,
                glossary=gid,
                **options,
            )
            if len(results) != len(group):
                raise TranslationEngineError(
                    f"{self._where} answered {len(results)} translations for {len(group)} texts "
                    f"while {what}; nothing was written"
                )
            for i, r in zip(group, results, strict=True):
                out[i] = unprotect(r.text) if xml else r.text
        return out
