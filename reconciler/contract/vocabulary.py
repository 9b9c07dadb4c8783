"""The words of Amazon's product type definition meta-schema that every checker shares: the
requirements sets, Amazon's issue codes, the JSON types, value formats and UTF-8 lengths, and
the issue value. :mod:`~reconciler.contract.producttypes` (the validator),
:mod:`~reconciler.contract.producttype_check` and :mod:`~reconciler.contract.producttype_issues`
build on it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

REQUIREMENTS = ("LISTING", "LISTING_OFFER_ONLY", "LISTING_PRODUCT_ONLY")


META_SCHEMA_URI = "https://schemas.amazon.com/selling-partners/definitions/product-types/meta-schema/v1"


# Issue codes: Amazon's where known (CONTRACT.md §3.3), else the emulator's stable ones
# (reconciler.emulator.listing_rules documents them).
MISSING_ATTRIBUTE = "90220"  # "'x' is required but not supplied."


UNKNOWN_ATTRIBUTE = "90000900"  # "The attributes are invalid."


MISSING_FIELD = "4000001"  # a field of an entry is missing (Amazon's "does not have enough values")


INVALID_VALUE = "4000003"


Check = Callable[[Any], bool]


_INFORMATIONAL = frozenset({
    "$schema", "$id", "$comment", "$defs", "title", "description", "examples", "default",
    "editable", "hidden", "enumNames", "then", "else", "selectors", "$lifecycle",
})  # fmt: skip


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$"
)


_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")


class UnsupportedSchema(ValueError):
    """A keyword this validator does not implement (so nothing is silently skipped)."""


@dataclass(frozen=True, slots=True)
class SchemaIssue:
    """One problem of a listing's attributes, worded as Amazon words it."""

    code: str
    attribute: str  # top-level attribute name ("" for the listing as a whole)
    path: str  # e.g. "list_price[0].value_with_tax"; the attribute name alone when it is missing
    message: str
    category: str = "INVALID_ATTRIBUTE"  # or MISSING_ATTRIBUTE


def is_number(x: Any) -> bool:
    return isinstance(x, (int, float, Decimal)) and not isinstance(x, bool)


def is_integer(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    if isinstance(x, int):
        return True
    if isinstance(x, (float, Decimal)):
        try:
            return x == int(x)
        except (ValueError, OverflowError, InvalidOperation):
            return False
    return False


_TYPES: dict[str, Check] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "integer": is_integer,
    "number": is_number,
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
}


def _format_ok(fmt: str, x: Any) -> bool:
    if not isinstance(x, str):
        return True
    if fmt == "date":
        return bool(_DATE.match(x)) and _valid_date(x[:10])
    if fmt == "date-time":
        return bool(_DATE_TIME.match(x)) and _valid_date(x[:10])
    if fmt == "uri":
        return bool(_URI.match(x))
    return True  # other formats are annotations


def _valid_date(s: str) -> bool:
    import datetime as _dt

    try:
        _dt.date.fromisoformat(s)
    except ValueError:
        return False
    return True


def _multiple_of(x: Any, m: Any) -> bool:
    if not is_number(x):
        return True
    try:
        return Decimal(str(x)) % Decimal(str(m)) == 0
    except InvalidOperation:
        return False


def _key(x: Any) -> Any:
    """A hashable value equal when JSON Schema's equality says so (1 == 1.0, True != 1)."""
    if isinstance(x, bool):
        return ("b", x)
    if is_number(x):
        return ("n", Decimal(str(x)))
    if isinstance(x, list):
        return ("l", tuple(_key(i) for i in x))
    if isinstance(x, dict):
        return ("d", frozenset((k, _key(v)) for k, v in x.items()))
    return ("s", x)


def utf8_len(s: str) -> int:
    return len(s.encode("utf-8"))


def selector_counts(
    entries: Iterable[Any], selectors: tuple[str, ...]
) -> dict[tuple[Any, ...], int]:
    counts: dict[tuple[Any, ...], int] = {}
    for e in entries:
        if isinstance(e, dict):
            k = tuple(_key(e.get(s)) for s in selectors)
            counts[k] = counts.get(k, 0) + 1
    return counts
