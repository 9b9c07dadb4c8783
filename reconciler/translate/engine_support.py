"""What every engine does around its requests: batches cut to the engine's limits, bounded
retries with backoff, keep-terms protected by markup, and a content name for a glossary.

Retrying: a 429 or a 5xx is retried ``max_retries`` times, waiting ``backoff_s * 2**attempt``
seconds (tests pass ``backoff_s=0``); anything else, and the last failure, becomes a
:class:`~reconciler.translate.engine.TranslationEngineError` built by the engine.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar
from xml.sax.saxutils import escape, unescape

from reconciler.catalog.glossary import Glossary

T = TypeVar("T")
KEEP_TAG = "x"  # the ignore tag around a kept term (DeepL ``ignore_tags``)
_ENTITIES = {"&quot;": '"', "&apos;": "'"}


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    backoff_s: float = 1.0
    sleep: Callable[[float], None] = time.sleep


class Retryable(Exception):
    """Raised by an engine's call to ask for another try; ``cause`` is the last failure."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def with_retries(call: Callable[[], T], policy: RetryPolicy) -> tuple[T | None, Exception | None]:
    """(result, None), or (None, the last retryable failure) once the retries are used up.
    ``call`` raises :class:`Retryable` for a failure worth another try; other exceptions
    propagate."""
    last: Exception | None = None
    for attempt in range(policy.max_retries + 1):
        if attempt:
            policy.sleep(policy.backoff_s * 2 ** (attempt - 1))
        try:
            return call(), None
        except Retryable as e:
            last = e.cause
    return None, last


def batches(
    texts: Sequence[str], *, max_count: int, max_bytes: int, size: Callable[[str], int]
) -> Iterator[list[int]]:
    """Indexes of ``texts`` in consecutive batches of at most ``max_count`` texts and
    ``max_bytes`` bytes (each text counting ``size(text)``). A text larger than ``max_bytes``
    alone raises ValueError (the caller names the limit)."""
    batch: list[int] = []
    used = 0
    for i, t in enumerate(texts):
        n = size(t)
        if n > max_bytes:
            raise ValueError(f"text {i + 1} is {n} bytes, over the limit of {max_bytes}")
        if batch and (len(batch) >= max_count or used + n > max_bytes):
            yield batch
            batch, used = [], 0
        batch.append(i)
        used += n
    if batch:
        yield batch


def json_size(text: str) -> int:
    """Bytes a text takes in a JSON request body (ASCII-escaped, as ``requests`` sends it)."""
    return len(json.dumps(text)) + 2


def forced_terms(glossary: Glossary | None, target: str) -> dict[str, str]:
    """The glossary's forced translations for language tag ``target`` (``fr_FR``), falling back
    to the entry for its language (``fr``)."""
    if glossary is None:
        return {}
    lang = target.split("_")[0]
    for key in (target, lang, lang.lower()):
        entries = glossary.forced.get(key)
        if entries:
            return {str(s): str(t) for s, t in entries.items() if str(s).strip() and str(t).strip()}
    return {}


def content_name(prefix: str, *parts: str, entries: Mapping[str, str]) -> str:
    """A name fixed by a glossary's content, so an unchanged one is reused, not re-created."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8") + b"\x1f")
    for s, t in sorted(entries.items()):
        h.update(s.encode("utf-8") + b"\x1e" + t.encode("utf-8") + b"\x1f")
    return f"{prefix}-{h.hexdigest()[:16]}"


def _keep_rx(keep: Sequence[str]) -> re.Pattern[str] | None:
    terms = sorted({escape(k) for k in keep if k.strip()}, key=len, reverse=True)
    if not terms:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(t) for t in terms) + r")(?!\w)")


def has_keep_terms(text: str, keep: Sequence[str]) -> bool:
    rx = _keep_rx(keep)
    return rx is not None and rx.search(escape(text)) is not None


def protect(text: str, keep: Sequence[str]) -> str:
    """``text`` as XML with every kept term inside ``<x>...</x>`` (DeepL translates nothing in
    an ignored tag: https://developers.deepl.com/docs/xml-and-html-handling/xml)."""
    escaped = escape(text)
    rx = _keep_rx(keep)
    if rx is None:
        return escaped
    return rx.sub(lambda m: f"<{KEEP_TAG}>{m.group(0)}</{KEEP_TAG}>", escaped)


def unprotect(xml: str) -> str:
    """The inverse of :func:`protect` on a translation: the keep tags dropped, text unescaped."""
    plain = re.sub(rf"</?{KEEP_TAG}\s*/?>", "", xml)
    return unescape(plain, _ENTITIES)
