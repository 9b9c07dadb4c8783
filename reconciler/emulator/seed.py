"""Seed files for the emulator (``reconciler emulator serve --seed FILE``).

YAML (safe loading only) or JSON, chosen by extension (``.json`` -> JSON, else YAML, which also
reads JSON). Shape::

    sellers:
      A1PP0FEH11RW77:
        listings:
          - {sku: MUG-001, marketplaceId: ATVPDKIKX0DER, productType: PRODUCT, attributes: {...}}
        supplySources: [...]
        lateIssues:         # post-acceptance issues (listing_late.py), every processed write
          - {sku: MUG-001, marketplaceId: ATVPDKIKX0DER, kind: catalog-conflict}
          - {sku: MUG-002, kind: price-out-of-range}
    refreshTokens:      # each bound to its seller; the emulator exchanges no other (strict)
      - {refreshToken: "Atzr|...", sellerId: A1PP0FEH11RW77, clientId: ..., clientSecret: ...}
    deepl:              # the DeepL API (deepl_api.py): known keys, quota, queued faults
      authKeys: [KEY]
      characterLimit: 500000
      faults: [429, 456, 500]    # one per DeepL request, in order
    amazonTranslate:    # Amazon Translate (aws_translate_api.py)
      faults: [429]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


class SeedError(ValueError):
    pass


def load_seed_file(path: str) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise SeedError(f"cannot read seed file {path}: {e.strerror}") from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as e:
        raise SeedError(f"seed file {path} is not valid {p.suffix or 'YAML'}: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SeedError(f"seed file {path}: the top level must be a mapping")
    sellers = data.get("sellers", {})
    if not isinstance(sellers, dict):
        raise SeedError(f"seed file {path}: 'sellers' must be a mapping of seller id -> data")
    return data
