"""LiveCache: the local SQLite cache of the last live state per listing.

Covers: item round trip (found / not found live / not cached), isolation per account and
marketplace, persistence across reopen, large IN queries, read marks and the watermark for
``lastUpdatedAfter``, the full-read bound, catalog digests and change detection, invalidate /
invalidate_all / prune, schema version mismatch, garbage and corrupt files, a corrupt row, and
use after close.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from reconciler.live.cache import SCHEMA_VERSION, LiveCache, normalize_time

US = "ATVPDKIKX0DER"
CA = "A2EUQ1WTGCTBG2"


def item(sku: str, qty: int = 3) -> dict[str, Any]:
    return {
        "sku": sku,
        "summaries": [{"marketplaceId": US, "productType": "PRODUCT", "status": ["BUYABLE"]}],
        "attributes": {"fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT",
                                                     "quantity": qty}]},
    }


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "live.sqlite"


@pytest.fixture
def cache(path: Path) -> Any:
    with LiveCache(path) as c:
        yield c


def test_round_trip_found_absent_and_uncached(cache: LiveCache) -> None:
    cache.put_many("na", US, {"A": item("A"), "B": None}, "2026-01-01T00:00:00Z")
    assert cache.get_many("na", US, ["A", "B", "C"]) == {"A": item("A")}
    assert cache.lookup("na", US, ["A", "B", "C"]) == {"A": item("A"), "B": None}
    assert cache.read_at("na", US, ["A", "B", "C"]) == {
        "A": "2026-01-01T00:00:00Z",
        "B": "2026-01-01T00:00:00Z",
    }
    assert cache.reset_reason is None


def test_put_replaces_previous_entry(cache: LiveCache) -> None:
    cache.put_many("na", US, {"A": item("A", 1)}, "2026-01-01T00:00:00Z")
    cache.put_many("na", US, {"A": item("A", 7)}, "2026-01-01T00:15:00Z")
    assert cache.get_many("na", US, ["A"])["A"]["attributes"]["fulfillment_availability"][0][
        "quantity"
    ] == 7
    cache.put_many("na", US, {"A": None}, "2026-01-01T00:30:00Z")
    assert cache.lookup("na", US, ["A"]) == {"A": None}


def test_entries_are_isolated_per_account_and_marketplace(cache: LiveCache) -> None:
    cache.put_many("na", US, {"A": item("A", 1)}, "2026-01-01T00:00:00Z")
    cache.put_many("na", CA, {"A": item("A", 2)}, "2026-01-01T00:00:00Z")
    cache.put_many("eu", US, {"A": item("A", 3)}, "2026-01-01T00:00:00Z")
    got = [
        cache.get_many(acc, mp, ["A"])["A"]["attributes"]["fulfillment_availability"][0]["quantity"]
        for acc, mp in (("na", US), ("na", CA), ("eu", US))
    ]
    assert got == [1, 2, 3]
    assert cache.get_many("eu", CA, ["A"]) == {}


def test_persists_across_reopen(path: Path) -> None:
    with LiveCache(path) as c:
        c.put_many("na", US, {"A": item("A")}, "2026-01-01T00:00:00Z")
        c.mark_full_read("na", US, "2026-01-01T00:00:00Z")
        c.set_catalog_digest("na", US, "A", "d1")
    with LiveCache(path) as c:
        assert c.reset_reason is None
        assert c.get_many("na", US, ["A"]) == {"A": item("A")}
        assert c.last_full_read("na", US) == "2026-01-01T00:00:00Z"
        assert c.catalog_digest("na", US, "A") == "d1"


def test_many_skus_cross_the_query_chunk_size(cache: LiveCache) -> None:
    skus = [f"SKU-{i:05d}" for i in range(1234)]
    cache.put_many("na", US, {s: item(s, i) for i, s in enumerate(skus)}, "2026-01-01T00:00:00Z")
    got = cache.get_many("na", US, [*skus, "MISSING"])
    assert len(got) == 1234
    assert got["SKU-01233"]["attributes"]["fulfillment_availability"][0]["quantity"] == 1233
    digests = {s: f"d{i}" for i, s in enumerate(skus)}
    cache.set_catalog_digests("na", US, digests)
    assert cache.catalog_digests("na", US, skus) == digests


def test_normalize_time() -> None:
    assert normalize_time("2026-05-01T10:00:00.9+02:00") == "2026-05-01T08:00:00Z"
    assert normalize_time("2026-05-01T10:00:00Z") == "2026-05-01T10:00:00Z"
    assert normalize_time("2026-05-01T10:00:00") == "2026-05-01T10:00:00Z"
    with pytest.raises(ValueError):
        normalize_time("yesterday")


def test_read_marks_and_watermark(cache: LiveCache) -> None:
    assert cache.last_full_read("na", US) is None
    assert cache.watermark("na", US) is None
    cache.mark_incremental_read("na", US, "2026-01-01T01:00:00Z")
    assert cache.watermark("na", US) is None  # never a full read: the caller must read fully
    cache.mark_full_read("na", US, "2026-01-01T00:00:00+00:00")
    assert cache.last_full_read("na", US) == "2026-01-01T00:00:00Z"
    assert cache.watermark("na", US) == "2026-01-01T01:00:00Z"
    cache.mark_full_read("na", US, "2026-01-01T02:00:00Z")
    assert cache.watermark("na", US) == "2026-01-01T02:00:00Z"
    assert cache.last_full_read("na", CA) is None
    assert cache.last_full_read("eu", US) is None


def test_needs_full_read_bound(cache: LiveCache) -> None:
    now = "2026-01-01T06:00:00Z"
    assert cache.needs_full_read("na", US, now_iso=now, max_age_seconds=3600)
    cache.mark_full_read("na", US, "2026-01-01T05:30:00Z")
    assert not cache.needs_full_read("na", US, now_iso=now, max_age_seconds=3600)
    assert cache.needs_full_read("na", US, now_iso=now, max_age_seconds=600)
    # A last full read in the future (clock change) is not trusted.
    assert cache.needs_full_read("na", US, now_iso="2026-01-01T05:00:00Z", max_age_seconds=3600)


def test_catalog_digests_detect_changed_listings(cache: LiveCache) -> None:
    cache.set_catalog_digests("na", US, {"A": "a1", "B": "b1"})
    assert cache.changed_in_catalog("na", US, {"A": "a1", "B": "b2", "C": "c1"}) == {"B", "C"}
    cache.set_catalog_digest("na", US, "B", "b2")
    assert cache.changed_in_catalog("na", US, {"A": "a1", "B": "b2"}) == set()
    assert cache.catalog_digest("na", CA, "A") is None


def test_invalidate_forgets_only_the_named_listings(cache: LiveCache) -> None:
    cache.put_many("na", US, {"A": item("A"), "B": item("B")}, "2026-01-01T00:00:00Z")
    cache.put_many("na", CA, {"A": item("A")}, "2026-01-01T00:00:00Z")
    cache.set_catalog_digests("na", US, {"A": "a", "B": "b"})
    cache.invalidate("na", US, ["A"])
    assert set(cache.get_many("na", US, ["A", "B"])) == {"B"}
    assert cache.catalog_digests("na", US, ["A", "B"]) == {"B": "b"}
    assert set(cache.get_many("na", CA, ["A"])) == {"A"}


def test_invalidate_all_per_account(cache: LiveCache) -> None:
    for acc in ("na", "eu"):
        cache.put_many(acc, US, {"A": item("A")}, "2026-01-01T00:00:00Z")
        cache.mark_full_read(acc, US, "2026-01-01T00:00:00Z")
    cache.invalidate_all("na")
    assert cache.get_many("na", US, ["A"]) == {}
    assert cache.last_full_read("na", US) is None
    assert set(cache.get_many("eu", US, ["A"])) == {"A"}
    cache.invalidate_all()
    assert cache.get_many("eu", US, ["A"]) == {}
    assert cache.last_full_read("eu", US) is None


def test_prune_drops_skus_left_the_catalog(cache: LiveCache) -> None:
    cache.put_many("na", US, {s: item(s) for s in "ABC"}, "2026-01-01T00:00:00Z")
    cache.put_many("na", CA, {"A": item("A")}, "2026-01-01T00:00:00Z")
    cache.set_catalog_digests("na", US, {"C": "c"})
    assert cache.prune("na", US, ["A", "B"]) == 1
    assert set(cache.get_many("na", US, "ABC")) == {"A", "B"}
    assert cache.catalog_digests("na", US, ["C"]) == {}
    assert set(cache.get_many("na", CA, ["A"])) == {"A"}  # other marketplace untouched


def _set_version(path: Path, version: str) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (version,))


def test_schema_version_mismatch_is_treated_as_missing(path: Path) -> None:
    with LiveCache(path) as c:
        c.put_many("na", US, {"A": item("A")}, "2026-01-01T00:00:00Z")
        c.mark_full_read("na", US, "2026-01-01T00:00:00Z")
    _set_version(path, str(SCHEMA_VERSION + 1))
    with LiveCache(path) as c:
        assert c.reset_reason is not None and "schema version" in c.reset_reason
        assert c.get_many("na", US, ["A"]) == {}
        assert c.last_full_read("na", US) is None
        c.put_many("na", US, {"A": item("A")}, "2026-01-01T00:00:00Z")  # usable again
    with LiveCache(path) as c:
        assert c.reset_reason is None
        assert set(c.get_many("na", US, ["A"])) == {"A"}


def test_foreign_sqlite_database_is_replaced(path: Path) -> None:
    path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE something_else (x)")
    with LiveCache(path) as c:
        assert c.reset_reason is not None
        c.put_many("na", US, {"A": item("A")}, "2026-01-01T00:00:00Z")
        assert set(c.get_many("na", US, ["A"])) == {"A"}


def test_garbage_file_is_recreated(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database at all\n" * 200)
    with LiveCache(path) as c:
        assert c.reset_reason is not None
        assert c.get_many("na", US, ["A"]) == {}
        c.put_many("na", US, {"A": item("A")}, "2026-01-01T00:00:00Z")
    with LiveCache(path) as c:
        assert c.reset_reason is None
        assert set(c.get_many("na", US, ["A"])) == {"A"}


def test_empty_file_is_a_fresh_cache(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    with LiveCache(path) as c:
        assert c.reset_reason is None
        c.put_many("na", US, {"A": None}, "2026-01-01T00:00:00Z")
        assert c.lookup("na", US, ["A"]) == {"A": None}


def test_corrupt_pages_found_during_use_reset_the_cache(path: Path) -> None:
    with LiveCache(path) as c:
        c.put_many("na", US, {f"S{i}": item(f"S{i}") for i in range(300)}, "2026-01-01T00:00:00Z")
    data = bytearray(path.read_bytes())
    assert len(data) > 3 * 4096
    # Keep the 100-byte header (so the file still opens), smash every page after the first.
    data[4096:] = b"\xff" * (len(data) - 4096)
    path.write_bytes(bytes(data))
    with LiveCache(path) as c:
        assert c.get_many("na", US, ["S1", "S2"]) == {}
        assert c.reset_reason is not None
        c.put_many("na", US, {"S1": item("S1")}, "2026-01-01T00:00:00Z")
        assert set(c.get_many("na", US, ["S1", "S2"])) == {"S1"}


def test_unparseable_row_resets_instead_of_raising(path: Path) -> None:
    with LiveCache(path) as c:
        c.put_many("na", US, {"A": item("A")}, "2026-01-01T00:00:00Z")
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE items SET item='{not json' WHERE sku='A'")
    with LiveCache(path) as c:
        assert c.lookup("na", US, ["A"]) == {}
        assert c.reset_reason is not None and "unparseable" in c.reset_reason


def test_concurrent_writers_from_threads(cache: LiveCache) -> None:
    def write(n: int) -> None:
        cache.put_many("na", US, {f"T{n}-{i}": item("x", i) for i in range(50)},
                       "2026-01-01T00:00:00Z")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    skus = [f"T{n}-{i}" for n in range(4) for i in range(50)]
    assert len(cache.get_many("na", US, skus)) == 200


def test_use_after_close_is_an_error(path: Path) -> None:
    c = LiveCache(path)
    c.close()
    c.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        c.get_many("na", US, ["A"])


def test_default_path_is_inside_the_state_dir(tmp_path: Path) -> None:
    from reconciler.live.cache import default_path

    p = default_path(tmp_path / "state")
    assert p.parent == tmp_path / "state"
    with LiveCache(p) as c:  # creates the state dir
        c.put_many("na", US, {"A": None}, "2026-01-01T00:00:00Z")
    assert p.is_file()
