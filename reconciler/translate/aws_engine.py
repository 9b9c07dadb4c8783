"""Amazon Translate through boto3, with custom terminology from the catalog's glossary.

- **Languages**: a catalog tag becomes Amazon Translate's code: the language (``fr``, ``de``,
  ``en``), with the regional variants Amazon Translate has (``es-MX``, ``fr-CA``, ``pt-PT``,
  ``zh-TW``): https://docs.aws.amazon.com/translate/latest/dg/what-is-languages.html.
- **Requests**: ``TranslateText`` takes one text of at most 10,000 bytes (botocore's model:
  ``BoundedLengthString`` max 10000; https://docs.aws.amazon.com/translate/latest/APIReference/
  API_TranslateText.html), so a batch is one request per text.
- **Terminology**: the glossary's forced terms for the pair, and its kept terms mapped to
  themselves (Amazon's guide: custom terminology makes "brand names, character names, model
  names" come out as you define them,
  https://docs.aws.amazon.com/translate/latest/dg/how-custom-terminology.html), imported once
  with ``ImportTerminology`` (CSV, header ``source,target``) under a name fixed by its content,
  and passed as ``TerminologyNames``. An existing terminology of that name is reused
  (``GetTerminology``).
- **Failures**: botocore's own retries are off (``total_max_attempts: 1``: one attempt,
  https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html); this engine retries
  ``TooManyRequestsException``/``ThrottlingException`` and 5xx a bounded number of times, and turns
  every ``ClientError`` / ``BotoCoreError`` into a one-line :class:`TranslationEngineError`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from reconciler.catalog.glossary import Glossary
from reconciler.kernel.redact import escape

from .engine import TranslationEngineError
from .engine_support import Retryable, RetryPolicy, content_name, forced_terms, with_retries

NAME = "amazon-translate"
MAX_TEXT_BYTES = 10_000
_VARIANTS = {"es-MX", "fr-CA", "pt-PT", "zh-TW", "fa-AF"}
_RETRY_CODES = {"TooManyRequestsException", "ThrottlingException", "InternalServerException",
                "ServiceUnavailableException", "RequestTimeout"}
_QUOTA_CODES = {"LimitExceededException", "ServiceQuotaExceededException"}
_AUTH_CODES = {"UnrecognizedClientException", "InvalidSignatureException",
               "AccessDeniedException", "ExpiredTokenException", "MissingAuthenticationToken"}


def language_code(tag: str) -> str:
    """``fr_FR`` -> ``fr``; ``es_MX`` -> ``es-MX``; ``pt_PT`` -> ``pt-PT``; ``en_GB`` -> ``en``."""
    parts = tag.replace("-", "_").split("_")
    lang = parts[0].lower()
    if len(parts) > 1:
        code = f"{lang}-{parts[1].upper()}"
        if code in _VARIANTS:
            return code
    return lang


class AmazonTranslateEngine:
    """An :class:`~reconciler.translate.engine.Engine` over boto3's ``translate`` client."""

    name = NAME

    def __init__(self, client: Any, *, retry: RetryPolicy | None = None) -> None:
        self._client = client
        self._retry = retry or RetryPolicy()
        self._terminologies: set[str] = set()
        self.memory_key = self.name  # translation memory's engine key (engines.py)

    @classmethod
    def connect(
        cls,
        region: str,
        keys: tuple[str, str, str | None],
        *,
        endpoint_url: str,
        retry: RetryPolicy | None = None,
    ) -> AmazonTranslateEngine:
        """A client with explicit credentials only (never boto3's search of the environment and
        profile files) talking to ``endpoint_url`` (checked by the caller)."""
        session = boto3.session.Session(
            aws_access_key_id=keys[0],
            aws_secret_access_key=keys[1],
            aws_session_token=keys[2],
            region_name=region,
        )
        client = session.client(
            "translate",
            endpoint_url=endpoint_url,
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=10,
                          read_timeout=30),
        )
        return cls(client, retry=retry)

    def _fail(self, what: str, e: Exception) -> TranslationEngineError:
        if isinstance(e, ClientError):
            err = e.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
            msg = escape(str(err.get("Message", "")))[:200]
            if code in _AUTH_CODES or status == 403:
                hint = "check the AWS keys that translation.access_key_id/secret_access_key name"
            elif code in _QUOTA_CODES:
                hint = "a service quota is reached: raise it in the AWS console or wait"
            elif code in _RETRY_CODES or (isinstance(status, int) and status >= 500):
                hint = f"still failing after {self._retry.max_retries + 1} tries: try again later"
            else:
                hint = "the request was refused"
            return TranslationEngineError(
                f"Amazon Translate failed while {what} ({code or 'error'}, HTTP {status}: {msg}): "
                f"{hint}; nothing was written"
            )
        return TranslationEngineError(
            f"Amazon Translate could not be reached while {what}: {escape(str(e))[:200]}; "
            "nothing was written"
        )

    def _call(self, what: str, op: str, **kwargs: Any) -> Any:
        fn = getattr(self._client, op)

        def once() -> Any:
            try:
                return fn(**kwargs)
            except ClientError as e:
                code = str(e.response.get("Error", {}).get("Code", ""))
                status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                if code in _RETRY_CODES or (isinstance(status, int) and status >= 500):
                    raise Retryable(e) from e
                raise

        try:
            result, failure = with_retries(once, self._retry)
        except (ClientError, BotoCoreError) as e:
            raise self._fail(what, e) from None
        if failure is not None:
            raise self._fail(what, failure) from None
        return result

    def terminology(self, source: str, target: str, glossary: Glossary | None) -> str | None:
        """The name of the custom terminology for this pair (imported if new), or None."""
        if glossary is None:
            return None
        entries = {k: k for k in glossary.keep if k.strip()}
        entries.update(forced_terms(glossary, target))
        if not entries:
            return None
        src, tgt = language_code(source), language_code(target)
        name = content_name("reconciler", src, tgt, entries=entries)
        if name in self._terminologies:
            return name
        try:
            self._client.get_terminology(Name=name, TerminologyDataFormat="CSV")
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise self._fail("reading a custom terminology", e) from None
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow([src, tgt])
            w.writerows(sorted(entries.items()))
            self._call(
                f"importing a custom terminology {src}->{tgt}",
                "import_terminology",
                Name=name,
                MergeStrategy="OVERWRITE",
                Description="reconciler: the catalog's glossary (catalog/glossary.yaml)",
                TerminologyData={"File": buf.getvalue().encode("utf-8"), "Format": "CSV",
                                 "Directionality": "UNI"},
            )
        except BotoCoreError as e:
            raise self._fail("reading a custom terminology", e) from None
        self._terminologies.add(name)
        return name

    def translate(
        self, texts: Sequence[str], *, source: str, target: str, glossary: Glossary | None
    ) -> list[str]:
        if not texts:
            return []
        for i, t in enumerate(texts):
            if len(t.encode("utf-8")) > MAX_TEXT_BYTES:
                raise TranslationEngineError(
                    f"Amazon Translate takes at most {MAX_TEXT_BYTES} bytes per text: text "
                    f"{i + 1} has {len(t.encode('utf-8'))}; shorten it"
                )
        term = self.terminology(source, target, glossary)
        src, tgt = language_code(source), language_code(target)
        what = f"translating {source} -> {target}"
        out: list[str] = []
        for t in texts:
            if not t.strip():
                out.append(t)
                continue
            kwargs: dict[str, Any] = {"Text": t, "SourceLanguageCode": src,
                                      "TargetLanguageCode": tgt}
            if term:
                kwargs["TerminologyNames"] = [term]
            resp = self._call(what, "translate_text", **kwargs)
            out.append(str(resp["TranslatedText"]))
        return out
