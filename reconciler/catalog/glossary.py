"""The catalog's glossary (``catalog/glossary.yaml``): terms machine translation must respect.

- ``keep``: brand and model names that must come out of a translation exactly as they went in;
- ``forced``: per target language tag, source term -> the translation it must get.

``version`` names the glossary's state in a draft's provenance, so a glossary change makes the
drafts it affected stale. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Glossary:
    version: str
    keep: tuple[str, ...] = ()
    forced: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def read_glossary(data: Mapping[str, Any] | None) -> Glossary | None:
    """The glossary of a schema-valid ``glossary.yaml`` (None: the catalog has none). Its
    version is the declared ``version``, else a hash of its content (so any edit changes it)."""
    if data is None:
        return None
    keep = tuple(str(t) for t in data.get("keep") or ())
    forced = {str(lang): {str(a): str(b) for a, b in (terms or {}).items()}
              for lang, terms in (data.get("forced") or {}).items()}
    declared = data.get("version")
    if declared is not None:
        version = str(declared)
    else:
        content = json.dumps({"keep": keep, "forced": forced}, sort_keys=True, ensure_ascii=False)
        version = hashlib.sha256(content.encode("utf-8")).hexdigest()[:12]
    return Glossary(version, keep, forced)
