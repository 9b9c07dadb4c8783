"""``reconciler product-types pull``: fetch the product type definitions the catalog uses and
cache them under ``product-types/`` (the I/O edge of :mod:`reconciler.contract.producttype_files`).

For each (product type, marketplace, requirements set) a listing of the catalog needs
(:func:`reconciler.catalog.desired.schema_needs`), with the marketplace's language as locale:

1. ``getDefinitionsProductType`` (requirementsEnforced ENFORCED, productTypeVersion LATEST);
2. if the cached copy has the same ``productTypeVersion`` and schema checksum, nothing else
   happens (the file is not touched);
3. else the schema document the definition links to is downloaded, its checksum verified, and the
   file rewritten (atomically) with the version and today's date.

So a pull rewrites exactly what changed on Amazon's side, and the change is reviewed in a pull
request like an exchange-rate change. Cached files the catalog no longer needs are reported, not
deleted. A definition Amazon refuses (e.g. a requirements set the product type does not support)
is reported with Amazon's message and the rest continues; the command then fails.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.contract.producttype_files import (
    DIRECTORY,
    CachedDefinition,
    DefinitionFileError,
    Key,
    parse,
    relative_path,
    render,
)
from reconciler.kernel.errors import ApiError
from reconciler.kernel.marketplaces import MARKETPLACES

from .spapi.client import SpApiClient
from .spapi.definitions import download_schema, get_definitions_product_type


@dataclass
class PullResult:
    unchanged: list[str] = field(default_factory=list)
    written: list[tuple[str, str, str]] = field(default_factory=list)  # path, old, new version
    failed: list[tuple[str, str]] = field(default_factory=list)  # path, why
    unused: list[str] = field(default_factory=list)


def _read_cached(root: Path, rel: str) -> CachedDefinition | None:
    p = root / rel
    if not p.is_file():
        return None
    try:
        return parse(p.read_text(encoding="utf-8"), rel)
    except (OSError, UnicodeDecodeError, DefinitionFileError):
        return None  # unreadable: fetched again


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def pull(
    root: str | os.PathLike[str],
    needs: Mapping[Key, tuple[str, str]],
    clients: Mapping[str, SpApiClient],
    *,
    today: _dt.date,
    product_types: Collection[str] = (),
    marketplaces: Collection[str] = (),
) -> PullResult:
    """Fetch ``needs`` (see :func:`reconciler.catalog.desired.schema_needs`), optionally only some
    product types / marketplace codes, into ``root/product-types/``."""
    base = Path(root)
    result = PullResult()
    for (pt, code, req), (account, locale) in needs.items():
        if (product_types and pt not in product_types) or (
            marketplaces and code not in marketplaces
        ):
            continue
        rel = relative_path(pt, code, req)
        mp = MARKETPLACES[code]
        client = clients[account]
        cached = _read_cached(base, rel)
        try:
            d = get_definitions_product_type(
                client, pt, mp.marketplace_id, requirements=req, locale=locale
            )
            version = str((d.get("productTypeVersion") or {}).get("version", ""))
            link = d.get("schema") or {}
            checksum = str(link.get("checksum", ""))
            if cached is not None and cached.version == version and cached.checksum == checksum:
                result.unchanged.append(rel)
                continue
            data = download_schema(client, link, what=f"{pt} {code} {req}")
            schema = json.loads(data.decode("utf-8"))
        except ApiError as e:
            result.failed.append((rel, str(e)))
            continue
        except (ValueError, UnicodeDecodeError) as e:
            result.failed.append((rel, f"the schema document is not JSON: {e}"))
            continue
        fresh = CachedDefinition(
            product_type=pt, marketplace=code, marketplace_id=mp.marketplace_id,
            requirements=str(d.get("requirements", req)),
            requirements_enforced=str(d.get("requirementsEnforced", "ENFORCED")),
            locale=str(d.get("locale", locale)), version=version, checksum=checksum,
            retrieved=today.isoformat(), schema=schema,
            latest=bool((d.get("productTypeVersion") or {}).get("latest", True)), path=rel,
        )
        _write_atomically(base / rel, render(fresh))
        result.written.append((rel, cached.version if cached else "", version))
    wanted = {relative_path(*k) for k in needs}
    top = base / DIRECTORY
    if top.is_dir() and not product_types and not marketplaces:
        for p in sorted(top.rglob("*.json")):
            rel = p.relative_to(base).as_posix()
            if rel not in wanted:
                result.unused.append(rel)
    return result
