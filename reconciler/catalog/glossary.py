"""The catalog's glossary (``catalog/glossary.yaml``): terms machine translation must respect.

- ``keep``: brand and model names that must come out of a translation exactly as they went in;
- ``forced``: per target language tag, source term -> the translation it must get.

``version`` names the glossary's state in a draft's provenance, so a glossary change makes the
drafts it affected stale. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Glossary:
    version: str
    keep: tuple[str, ...] = ()
    forced: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
