"""The interface every translation engine implements (DeepL, Amazon Translate, ...).

An engine translates a batch of plain texts from one catalog language tag (``en_US``) to
another (``fr_FR``), honouring a :class:`~reconciler.catalog.glossary.Glossary`: terms it must
keep as they are (brands, model names) and forced translations per target language. It maps
language tags to its own codes, splits batches to its own limits, and raises
:class:`TranslationEngineError` (a :class:`~reconciler.kernel.errors.ReconcilerError`) for
every failure a user can act on (quota, throttling after retries, bad key, server errors), so
the caller can leave the catalog files untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from reconciler.catalog.glossary import Glossary
from reconciler.kernel.errors import ReconcilerError


class TranslationEngineError(ReconcilerError):
    """A translation engine refused or failed; nothing was written."""


class Engine(Protocol):
    """A machine translation engine."""

    #: the name recorded in a draft's provenance (``deepl``, ``amazon-translate``)
    name: str

    def translate(
        self, texts: Sequence[str], *, source: str, target: str, glossary: Glossary | None
    ) -> list[str]:
        """``texts`` (in language tag ``source``) translated to ``target``, in order."""
        ...
