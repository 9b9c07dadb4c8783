"""``warehouses.yaml``: where orders ship from.

Read like the rest of the catalog: safe YAML with provenance (``reconciler.catalog.yamlsrc``),
validated
against ``schemas/warehouses.schema.json``, every problem reported with its file, line and
column (:class:`~reconciler.kernel.errors.CatalogError`). Cross-checks: a warehouse's ``location``
is a
location of ``locations.yaml`` or ``central`` (the stock.csv rows it holds), and the
marketplaces it serves are configured in ``reconciler.yaml``.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from reconciler.catalog.raw import RawCatalog, locate
from reconciler.catalog.schemamsg import explain
from reconciler.catalog.yamlsrc import parse_yaml
from reconciler.kernel.errors import CatalogError, Problem

from .geo import COUNTRY_ALIASES, Point

FILENAME = "warehouses.yaml"
MAX_BYTES = 5 * 1024 * 1024
SCHEMA_FILE = Path(__file__).resolve().parent.parent / "data" / "schemas" / \
    "warehouses.schema.json"
COUNTRY_OF_MARKETPLACE = {"UK": "GB"}


@dataclass(frozen=True)
class Carrier:
    carrier: str
    methods: tuple[str, ...]


@dataclass(frozen=True)
class Warehouse:
    name: str
    location: str  # locations.yaml key or "central": its stock.csv rows
    country: str
    point: Point
    marketplaces: tuple[str, ...]
    countries: tuple[str, ...]  # ship-to countries it ships to
    carriers: tuple[Carrier, ...]
    alias: str = ""
    region: str = ""

    def serves(self, marketplace: str, country: str) -> bool:
        return marketplace in self.marketplaces and country in self.countries


@functools.cache
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return data


def _read(root: Path) -> tuple[str | None, list[Problem]]:
    path = root / FILENAME
    if not os.path.lexists(path):
        return None, []
    real = path.resolve()
    if not real.is_relative_to(root.resolve()) or not real.is_file():
        return None, [Problem(FILENAME, message="must be a regular file inside the catalog")]
    data = real.read_bytes()[: MAX_BYTES + 1]
    if len(data) > MAX_BYTES:
        return None, [Problem(FILENAME, message=f"larger than {MAX_BYTES} bytes")]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        return None, [Problem(FILENAME, message="not valid UTF-8 text")]


def load(root: str | os.PathLike[str], raw: RawCatalog | None = None) -> tuple[Warehouse, ...]:
    """The catalog's warehouses (empty when it has no warehouses.yaml). ``raw`` (the loaded
    catalog) enables the cross-checks against locations.yaml and reconciler.yaml."""
    base = Path(root)
    text, problems = _read(base)
    if text is None:
        if problems:
            raise CatalogError(problems)
        return ()
    data, problems = parse_yaml(text, FILENAME)
    if not problems:
        v = jsonschema.validators.validator_for(schema())(schema())
        for e in v.iter_errors(data):
            problems.extend(explain(e, data, FILENAME))
    if problems:
        raise CatalogError(problems)
    known_locations: set[str] | None = None
    known_markets: set[str] | None = None
    if raw is not None:
        locs = raw.locations.data.get("locations") if raw.locations is not None else None
        known_locations = {"central", *(locs or {})}
        known_markets = {
            str(m) for a in (raw.config.data.get("accounts") or {}).values()
            for m in ((a or {}).get("marketplaces") or {})
        }
    out: list[Warehouse] = []
    for name, w in data["warehouses"].items():
        line, col = locate(data, ["warehouses", name], key=True)
        where = f"warehouse {name}"
        if known_locations is not None and w["location"] not in known_locations:
            problems.append(Problem(FILENAME, line, col, f"{where}: location {w['location']!r}"
                                    f" is not in locations.yaml (nor 'central')"))
        mkts = tuple(str(m) for m in w["serves"]["marketplaces"])
        if known_markets is not None:
            for m in mkts:
                if m not in known_markets:
                    problems.append(Problem(FILENAME, line, col, f"{where}: marketplace {m} is"
                                            " not configured in reconciler.yaml"))
        countries = tuple(
            COUNTRY_ALIASES.get(str(c), str(c))
            for c in (w["serves"].get("countries") or
                      [COUNTRY_OF_MARKETPLACE.get(m, m) for m in mkts])
        )
        out.append(Warehouse(
            name=str(name), location=str(w["location"]), country=str(w["country"]),
            point=Point(float(w["latitude"]), float(w["longitude"])), marketplaces=mkts,
            countries=countries,
            carriers=tuple(Carrier(str(c["carrier"]), tuple(str(x) for x in c["methods"]))
                           for c in w["carriers"]),
            alias=str(w.get("alias") or ""), region=str(w.get("region") or ""),
        ))
    if problems:
        raise CatalogError(problems)
    return tuple(out)
