"""bench/agency.py's pieces (the run itself is a benchmark, far too long for a test): the agency
catalog gives every account SKUs of its own under its own seller id, and the call-log check
counts a seller's 429s only after that seller's first burst of an operation."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

from bench.agency import seller_id, throttled_after_burst, write_agency_catalog
from bench.emu import refresh_token_for, tokens_seed
from reconciler.catalog.desired import build
from reconciler.catalog.loader import load


def test_every_account_sells_its_own_skus(tmp_path: Path) -> None:
    n = write_agency_catalog(tmp_path, 3, 4, ("US", "CA", "MX"))
    desired = build(load(tmp_path))
    assert n == len(desired.listings) == 3 * 4 * 3
    assert [a.seller_id for a in desired.accounts] == [seller_id(i) for i in (1, 2, 3)]
    per = Counter(d.key.account for d in desired.listings)
    assert per == {"s01": 12, "s02": 12, "s03": 12}
    for d in desired.listings:  # an account's SKUs carry its name: no SKU in two accounts
        assert d.key.sku.lower().startswith(d.key.account + "-")
    seed = tokens_seed(a.seller_id for a in desired.accounts)
    assert {t["refreshToken"] for t in seed["refreshTokens"]} == {
        refresh_token_for(a.seller_id) for a in desired.accounts}


def test_only_429s_after_a_sellers_first_burst_count() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE calls (id INTEGER PRIMARY KEY, time REAL, operation TEXT, "
               "status INTEGER, seller_id TEXT)")
    rows = [
        (100.0, "searchListingsItems", 200, "A"), (100.2, "searchListingsItems", 429, "A"),
        (105.0, "searchListingsItems", 429, "A"),  # late: counts
        (103.0, "patchListingsItem", 200, "A"), (103.5, "patchListingsItem", 429, "A"),
        (101.0, "searchListingsItems", 200, "B"), (101.9, "searchListingsItems", 429, "B"),
    ]
    db.executemany("INSERT INTO calls (time, operation, status, seller_id) VALUES (?,?,?,?)",
                   rows)
    assert throttled_after_burst(db, 0, 1.0) == {"A": {"searchListingsItems": 1}}
    assert throttled_after_burst(db, 0, 0.1) == {
        "A": {"searchListingsItems": 2, "patchListingsItem": 1},
        "B": {"searchListingsItems": 1}}
    assert throttled_after_burst(db, 3, 1.0) == {}  # calls after the mark only


def test_a_group_builds_only_its_accounts_listings(tmp_path: Path) -> None:
    from reconciler.catalog import select

    write_agency_catalog(tmp_path, 3, 4, ("US", "CA"))
    first = (tmp_path / "skus" / "s01-0000.yaml").read_text(encoding="utf-8")
    entry = first.split("  S01-000001:")[0]  # the file's first SKU
    # a SKU every account sells (no accounts:), in a file of its own
    (tmp_path / "skus" / "shared.yaml").write_text(
        entry.replace("S01-000000", "SHARED-1").replace("    accounts:\n    - s01\n", ""),
        encoding="utf-8")
    raw = load(tmp_path)
    full = build(raw)
    group = ("s01", "s03")
    part = select.only_accounts(build(select.for_accounts(raw, group)), group)
    assert part.listings == tuple(d for d in full.listings if d.key.account in group)
    assert [a.name for a in part.accounts] == ["s01", "s03"]
    assert {d.key.sku for d in part.listings if d.key.account == "s03"} >= {"SHARED-1"}
    kept = {d.path for d in select.for_accounts(raw, ["s02"]).skus}
    assert "skus/s01-0000.yaml" not in kept and {"skus/s02-0000.yaml", "skus/shared.yaml"} <= kept
