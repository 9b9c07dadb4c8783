"""Identifiers that would be sent to Amazon are exact (issue 12 item 11).

SKUs, seller ids, language tags, fulfillment channel codes, account and location names, and the
cells of stock.csv are refused with file:line when they carry control characters, a trailing
newline, surrounding spaces, or digits other than 0-9 (Amazon: a SKU is at most 40 printable
characters). The schemas' regular expressions get JSON Schema's (ECMA-262) meaning: Python's
``$`` also matches before a final newline, which let ``"US\\n"`` through every pattern.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler.catalog import loader
from reconciler.catalog.schemacheck import ecma_regex
from reconciler.kernel.errors import CatalogError
from tests.test_validate_cli import BASE


def _load_with(tmp_path: Path, file: str, old: str, new: str) -> CatalogError:
    cat = tmp_path / "catalog"
    shutil.copytree(BASE, cat)
    p = cat / file
    text = p.read_text("utf-8")
    assert old in text
    p.write_text(text.replace(old, new, 1), "utf-8")
    with pytest.raises(CatalogError) as ei:
        loader.load(cat, env={})
    return ei.value


@pytest.mark.parametrize(
    ("file", "old", "new", "line"),
    [
        ("skus/mug.yaml", "  MUG-1:", '  "MUG-1\\n":', 3),
        ("skus/mug.yaml", "  MUG-1:", '  "MUG-1 ":', 3),
        ("skus/mug.yaml", "  MUG-1:", '  " MUG-1":', 3),
        ("skus/mug.yaml", "  MUG-1:", '  "MUG-1\\t":', 3),
        ("skus/mug.yaml", "  MUG-1:", '  "MUG-\\u0661":', 3),  # Arabic-Indic one
        ("skus/mug.yaml", "  MUG-1:", '  "MUG-\\u00b9":', 3),  # superscript one
        ("skus/mug.yaml", "  MUG-1:", '  "MUG-1\\u200b":', 3),  # zero-width space
        ("skus/mug.yaml", "  MUG-1:", '  "MUG-1\\e]0;pwned\\a":', 3),  # terminal escape
        ("skus/mug.yaml", "  MUG-1:", "  M" + "X" * 40 + ":", 3),  # 41 characters
        ("reconciler.yaml", "seller_id: A1PP0FEH11RW77", 'seller_id: "A1PP0FEH11RW77\\n"', 5),
        ("reconciler.yaml", "seller_id: A1PP0FEH11RW77", 'seller_id: " A1PP0FEH11RW77"', 5),
        ("reconciler.yaml", "seller_id: A1PP0FEH11RW77", 'seller_id: "A1PP0FEH11RW\\u0667\\u0667"',
         5),
        ("skus/mug.yaml", "      en_US:", '      "en_US\\n":', 8),
        ("skus/mug.yaml", "      en_US:", '      "en_US ":', 8),
        ("locations.yaml", "fulfillment_channel_code: 353e4e48-6301-4d50-990e-43a86e8787a3",
         'fulfillment_channel_code: "353e4e48-6301-4d50-990e-43a86e8787a3\\n"', 4),
        ("locations.yaml", "fulfillment_channel_code: 353e4e48-6301-4d50-990e-43a86e8787a3",
         'fulfillment_channel_code: "353e4e48-6301-4d50-990e-43a86e8787a3\\u00a0"', 4),
        ("locations.yaml", "    account: na", '    account: "na\\n"', 5),
    ],
)
def test_yaml_identifiers_are_exact(
    tmp_path: Path, file: str, old: str, new: str, line: int
) -> None:
    e = _load_with(tmp_path, file, old, new)
    assert [(p.file, p.line) for p in e.problems][:1] == [(file, line)], e.problems
    assert all("\n" not in str(p) and "\x1b" not in str(p) for p in e.problems)


@pytest.mark.parametrize(
    ("row", "column", "message"),
    [
        ("BTL-1,central,\u0663\u0660", 3, "is not a whole number"),  # Arabic-Indic 30
        ("BTL-1,central,\u00b3", 3, "is not a whole number"),  # superscript three
        ("BTL-1,central,1_000", 3, "is not a whole number"),
        ("BTL-1,central, 30", 3, "has spaces around it"),
        ("BTL-1 ,central,30", 1, "has spaces around it"),
        ("BTL-1,central ,30", 2, "has spaces around it"),
        ('"BTL-1\n",central,30', 1, "U+000A"),
        ("BTL-1\x1b[31m,central,30", 1, "U+001B"),
        ("BTL-1,cent\u200bral,30", 2, "U+200B"),
    ],
)
def test_stock_csv_cells_are_exact(tmp_path: Path, row: str, column: int, message: str) -> None:
    e = _load_with(tmp_path, "stock.csv", "BTL-1,central,30", row)
    p = e.problems[0]
    assert (p.file, p.line, p.column) == ("stock.csv", 2, column)
    assert message in p.message
    assert "\n" not in str(p) and "\x1b" not in str(p)


def test_patterns_have_json_schema_meaning() -> None:
    rx = ecma_regex("^[A-Z]{2}$")
    assert rx.search("US") and not rx.search("US\n")
    assert not ecma_regex(r"^\d+$").search("\u0663")  # \d is 0-9 only
    assert ecma_regex(r"^a[$]b\$$").search("a$b$")  # "$" in a class or escaped stays literal


def test_a_raw_control_character_in_yaml_is_placed(tmp_path: Path) -> None:
    e = _load_with(tmp_path, "skus/mug.yaml", "  MUG-1:", "  MUG-1\x1b[31m:")
    p = e.problems[0]
    assert (p.file, p.line, p.column) == ("skus/mug.yaml", 3, 8)
    assert "U+001B" in p.message and "\x1b" not in str(p)
