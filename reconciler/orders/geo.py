"""Where a ship-to address is, roughly: the centroid of its state/province/region (or of its
country), and great-circle distances.

The table ``data/centroids.csv`` ships inside the package (countries, US states, Canadian
provinces, Mexican states, UK nations, German Länder): nothing is downloaded at run time.
Regions match by code (``WA``, ``ON``, ``JAL``) or name/alias (``Washington``, ``Québec``,
``CDMX``), case- and accent-insensitively.
"""

from __future__ import annotations

import csv
import io
import math
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
COUNTRY_ALIASES = {"UK": "GB"}


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float


@dataclass(frozen=True)
class Located:
    point: Point
    precision: str  # "region" | "country"
    name: str


def _key(s: str) -> str:
    norm = unicodedata.normalize("NFKD", s.strip().casefold())
    return "".join(c for c in norm if not unicodedata.combining(c)).replace(".", "")


@cache
def _table() -> tuple[dict[str, Located], dict[tuple[str, str], Located]]:
    text = resources.files("reconciler.orders").joinpath("data/centroids.csv").read_text("utf-8")
    rows = csv.DictReader(io.StringIO("\n".join(
        line for line in text.splitlines() if not line.startswith("#"))))
    countries: dict[str, Located] = {}
    regions: dict[tuple[str, str], Located] = {}
    for r in rows:
        country = r["country"].upper()
        point = Point(float(r["lat"]), float(r["lon"]))
        if not r["region"]:
            countries[country] = Located(point, "country", r["name"])
            continue
        loc = Located(point, "region", r["name"])
        for name in (r["region"], r["name"], *filter(None, (r["aliases"] or "").split("|"))):
            regions.setdefault((country, _key(name)), loc)
    return countries, regions


def country_code(code: str) -> str:
    c = code.strip().upper()
    return COUNTRY_ALIASES.get(c, c)


def locate(country: str, region: str | None) -> Located | None:
    """The region's centroid, else the country's, else None (unknown country)."""
    countries, regions = _table()
    c = country_code(country)
    if region:
        hit = regions.get((c, _key(region)))
        if hit is not None:
            return hit
    return countries.get(c)


def distance_km(a: Point, b: Point) -> float:
    """Great-circle (haversine) distance in kilometres."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
