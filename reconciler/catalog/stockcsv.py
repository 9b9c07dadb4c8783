"""``stock.csv``: on-hand units per (SKU, location), as a warehouse system exports it.

:func:`parse_stock` turns the file's text into rows, reporting every bad row at its line and
column (a missing column, an invisible character, a number that is not plain digits, a negative
or absurd count, a duplicate) and skipping it. The loader reads the file; this is pure.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable

from reconciler.catalog.raw import StockRow

STOCK_COLUMNS = ("sku", "location", "on_hand")
MAX_QUANTITY = 1_000_000_000

ProblemSink = Callable[..., None]  # (file, message, line=0, column=0)


def parse_stock(text: str, rel: str, problem: ProblemSink) -> tuple[StockRow, ...] | None:
    """The rows of ``text`` (the file ``rel``); None when the file as a whole is unusable."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        problem(rel, "empty file: expected the header sku,location,on_hand", 1, 1)
        return None
    except csv.Error as e:
        problem(rel, f"CSV error: {e}", 1, 1)
        return None
    missing = [c for c in STOCK_COLUMNS if c not in header]
    if missing:
        problem(
            rel,
            f"header lacks column(s) {', '.join(missing)}: expected sku,location,on_hand",
            1,
            1,
        )
        return None
    idx = [header.index(c) for c in STOCK_COLUMNS]
    rows: list[StockRow] = []
    seen: dict[tuple[str, str], int] = {}
    try:
        end = reader.line_num
        for cells in reader:
            line, end = end + 1, reader.line_num  # a quoted cell may span lines
            if not any(c.strip() for c in cells):
                continue
            if len(cells) < len(header):
                problem(rel, f"expected {len(header)} columns, found {len(cells)}", line)
                continue
            sku, loc, raw = (cells[i] for i in idx)
            bad = _bad_cell((c, i, cells[i]) for c, i in zip(STOCK_COLUMNS, idx, strict=True))
            if bad:
                name, i, why = bad
                problem(rel, f"{name} {cells[i]!r} {why}", line, i + 1)
                continue
            col = idx[2] + 1
            if not _WHOLE.fullmatch(raw):  # int() would take '٣', '1_000' and ' 3 '
                problem(rel, f"on_hand {raw!r} is not a whole number (digits 0-9)",
                             line, col)
                continue
            on_hand = int(raw)
            if on_hand < 0:
                problem(rel, f"on_hand {on_hand} is negative (stock is never < 0)",
                             line, col)
                continue
            if on_hand > MAX_QUANTITY:
                problem(rel, f"on_hand {on_hand} is absurd (over {MAX_QUANTITY:,})",
                             line, col)
                continue
            if not sku or not loc:
                problem(rel, "sku and location must not be empty", line, 1)
                continue
            if (sku, loc) in seen:
                problem(
                    rel,
                    f"duplicate row for {sku} at {loc} (first on line {seen[sku, loc]})",
                    line,
                    1,
                )
                continue
            seen[sku, loc] = line
            rows.append(StockRow(sku, loc, on_hand, line))
    except csv.Error as e:
        problem(rel, f"CSV error: {e}", reader.line_num)
        return None
    return tuple(rows)


_WHOLE = re.compile(r"-?[0-9]+")


def _bad_cell(cells: Iterable[tuple[str, int, str]]) -> tuple[str, int, str] | None:
    """The first of (column name, column index, cell) that is not a clean identifier or
    number: control or other invisible characters (a newline inside quotes, a terminal
    escape), or spaces around it. Returns (column name, column index, why)."""
    for name, i, cell in cells:
        if not cell.isprintable():
            ch = next(c for c in cell if not c.isprintable())
            return name, i, f"contains the invisible character U+{ord(ch):04X}: refused"
        if cell != cell.strip():
            return name, i, "has spaces around it: remove them"
    return None
