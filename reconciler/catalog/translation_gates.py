"""The gates a machine draft must pass before it may be published (the seed's
``LocalizationError``): a draft that fails one is written ``status: needs_review`` with the
reasons, and the plan holds it.

- **length**: ``maxLength`` / ``maxUtf8ByteLength`` of the attribute's ``value`` in the cached
  product type definition (``product-types/``; ``maxUtf8ByteLength`` counts UTF-8 bytes, per
  Amazon's Product Type Definition Meta-Schema v1, amazon-product-type-definition-meta-schema-v1
  in the selling-partner-api-models repository), else Amazon's documented limits
  (:data:`DOCUMENTED`); the reason names the limit and where it comes from;
- **glossary**: every ``keep`` term of the source (brands, model names) is in the draft as it
  was; every ``forced`` translation for the target language is used;
- **numbers, units, model numbers**: each survives (``3.5`` may become ``3,5``; ``in`` may
  become ``po``/``pouces``/``Zoll``...);
- **placeholders**: ``{{ x }}``, ``{% ... %}``, ``%s``/``%(name)s``, ``{name}`` survive;
- **shape**: no empty text, the same number of bullets as the source.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.catalog.glossary import Glossary
from reconciler.catalog.translations import ATTRIBUTE, Value


@dataclass(frozen=True)
class Limit:
    chars: int | None = None
    bytes: int | None = None
    origin: str = "Amazon's documented limit"


# Amazon's documented limits, used when the catalog has no cached definition.
DOCUMENTED = {
    "item_name": Limit(chars=200),
    "bullet_points": Limit(chars=600),
    "product_description": Limit(bytes=10_000),
}


@dataclass(frozen=True)
class Gate:
    name: str  # length | glossary | numbers | placeholders | shape
    ok: bool
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.name}: {'ok' if self.ok else self.detail}"


def limits_from_schema(schema: Mapping[str, Any], origin: str) -> dict[str, Limit]:
    """The text limits of a product type definition's JSON schema (``origin`` names it in
    reasons, e.g. ``product type CUTTING_BOARD (FR)``); fields it doesn't limit keep the
    documented limits."""
    out = dict(DOCUMENTED)
    props = schema.get("properties") or {}
    for field, attr in ATTRIBUTE.items():
        value = (((props.get(attr) or {}).get("items") or {}).get("properties") or {}).get("value")
        if not isinstance(value, Mapping):
            continue
        chars, nbytes = value.get("maxLength"), value.get("maxUtf8ByteLength")
        if isinstance(chars, int) or isinstance(nbytes, int):
            out[field] = Limit(chars if isinstance(chars, int) else None,
                               nbytes if isinstance(nbytes, int) else None, origin)
    return out


_PLACEHOLDER = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|%\([A-Za-z_]\w*\)[sd]|%[sd]|\{[A-Za-z_]\w*\}")
_MODEL = re.compile(r"\b(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9]{2,}(?:-[A-Z0-9]+)*\b")
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)?(?![\w])")
_UNIT = re.compile(
    r"(\d+(?:[.,]\d+)?)\s*(fl\.? oz|oz|in|cm|mm|ml|l|kg|g|lbs?|qt|W|V)(?![\w])", re.IGNORECASE
)
# what a unit may become in a translation
_UNIT_ALIASES = {
    "in": ("in", "po", "pouces", "pouce", "zoll", "pulgadas", "pulgada", "pollici", '"', "″"),
    "oz": ("oz", "once", "onces", "unze", "unzen", "onza", "onzas", "oncia", "once liquide"),
    "lb": ("lb", "lbs", "livre", "livres", "pfund", "libra", "libras"),
    "lbs": ("lb", "lbs", "livre", "livres", "pfund", "libra", "libras"),
    "fl oz": ("fl oz", "fl. oz", "oz", "onces liquides", "once liquide"),
    "fl. oz": ("fl oz", "fl. oz", "oz", "onces liquides", "once liquide"),
}


def _texts(v: Value) -> list[str]:
    return [v] if isinstance(v, str) else list(v)


def _num(s: str) -> str:
    return s.replace(",", ".")


def check(
    field: str, source: Value, draft: Value, *, target: str, glossary: Glossary | None,
    limit: Limit | None = None,
) -> list[Gate]:
    """Every gate's result for one drafted field (``target``: the draft's language tag)."""
    src, out = _texts(source), _texts(draft)
    return [
        _shape(field, src, out),
        _length(field, out, limit or DOCUMENTED.get(field, Limit())),
        _glossary(src, out, target, glossary),
        _numbers(src, out),
        _placeholders(src, out),
    ]


def failures(gates: list[Gate]) -> list[str]:
    return [str(g) for g in gates if not g.ok]


def _shape(field: str, src: list[str], out: list[str]) -> Gate:
    if any(not t.strip() for t in out) or not out:
        return Gate("shape", False, "the draft is empty")
    if len(src) != len(out):
        return Gate("shape", False,
                    f"{len(out)} bullet points for the source's {len(src)}")
    return Gate("shape", True)


def _length(field: str, out: list[str], limit: Limit) -> Gate:
    for i, t in enumerate(out):
        what = f"bullet point {i + 1}" if field == "bullet_points" else field
        if limit.chars is not None and len(t) > limit.chars:
            return Gate("length", False, f"{what} is {len(t)} characters, over the maxLength "
                                         f"{limit.chars} of {limit.origin}")
        n = len(t.encode("utf-8"))
        if limit.bytes is not None and n > limit.bytes:
            return Gate("length", False, f"{what} is {n} bytes, over the maxUtf8ByteLength "
                                         f"{limit.bytes} of {limit.origin}")
    return Gate("length", True)


def _glossary(src: list[str], out: list[str], target: str, g: Glossary | None) -> Gate:
    if g is None:
        return Gate("glossary", True)
    s, o = "\n".join(src), "\n".join(out)
    lost = [t for t in g.keep if t in s and s.count(t) > o.count(t)]
    if lost:
        return Gate("glossary", False, "glossary term(s) not kept as written: "
                    + ", ".join(repr(t) for t in lost))
    forced = g.forced.get(target) or {}
    missed = [(a, b) for a, b in forced.items()
              if a.lower() in s.lower() and b.lower() not in o.lower()]
    if missed:
        return Gate("glossary", False, "glossary translation(s) not used: " + ", ".join(
            f"{a!r} must be {b!r}" for a, b in missed))
    return Gate("glossary", True)


def _numbers(src: list[str], out: list[str]) -> Gate:
    s, o = "\n".join(src), "\n".join(out)
    models = set(_MODEL.findall(s))
    lost_models = sorted(m for m in models if m not in o)
    if lost_models:
        return Gate("numbers", False, "model number(s) lost: " + ", ".join(lost_models))
    for m in models:  # their digits are not numbers of their own
        s, o = s.replace(m, " "), o.replace(m, " ")
    s, o = _PLACEHOLDER.sub(" ", s), _PLACEHOLDER.sub(" ", o)
    have = Counter(_num(n) for n in _NUMBER.findall(o))
    lost = [n for n, k in Counter(_num(n) for n in _NUMBER.findall(s)).items() if have[n] < k]
    if lost:
        return Gate("numbers", False, "number(s) lost: " + ", ".join(lost))
    units_out = [(_num(n), u.lower()) for n, u in _UNIT.findall(o)]
    low = o.lower()
    for n, u in _UNIT.findall(s):
        n, u = _num(n), u.lower()
        if (n, u) in units_out:
            continue
        aliases = _UNIT_ALIASES.get(u, (u,))
        number = re.escape(n).replace(r"\.", "[.,]")
        units = "|".join(map(re.escape, aliases))
        if not re.search(rf"{number}\s*(?:{units})(?![\w])", low):
            return Gate("numbers", False, f"unit lost: {n} {u}")
    return Gate("numbers", True)


def _placeholders(src: list[str], out: list[str]) -> Gate:
    have = Counter(_PLACEHOLDER.findall("\n".join(out)))
    want = Counter(_PLACEHOLDER.findall("\n".join(src)))
    lost = [p for p, k in want.items() if have[p] < k]
    if lost:
        return Gate("placeholders", False, "placeholder(s) lost: " + ", ".join(lost))
    return Gate("placeholders", True)
