"""Plan orchestration (issue 6): incremental reads from the live cache, and multi-account.

Aspects:
- after a full plan, a 1 % change on Amazon's side is found by an incremental plan that reads
  only the changed listings (asserted from the emulator call log), and finds exactly them;
- a listing changed in the catalog is re-read fresh even when Amazon did not change it;
- `auto` reads fully without a cache, incrementally with a fresh one;
- the two-account sample reads and writes both sellers, with separate quotas.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.kernel.model import ListingKey
from reconciler.live.cache import LiveCache
from reconciler.pipeline import close_clients, load, open_clients, run_plan
from reconciler.spapi.connect import close_embedded_emulators, embedded_emulator
from tests.emulator_support import quick_embedded_emulator

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "catalog"
NA, EU = "A1PP0FEH11RW77", "A2EXAMPLEEU001"
WRITES = {"patchListingsItem", "putListingsItem", "deleteListingsItem", "createFeed"}


@pytest.fixture(autouse=True)
def _no_clock_margin(monkeypatch: pytest.MonkeyPatch, isolated_state: Path) -> Any:
    # The 2-minute skew margin would re-read everything seeded a moment ago.
    monkeypatch.setenv("RECONCILER_CLOCK_MARGIN_SECONDS", "0")
    # the embedded emulator without Amazon's write visibility delay (2 s of wall per converge):
    # these tests read after writes that are done, they do not test the delay
    quick_embedded_emulator(isolated_state, monkeypatch, write_delay_s=0.0)
    yield
    close_embedded_emulators()


def _next_second() -> None:
    """lastUpdatedAfter has whole-second resolution: step past the current second."""
    time.sleep(1.05 - (time.time() % 1.0))


def _converge(state_dir: str) -> None:
    from reconciler.apply.run import apply_plan

    run = run_plan(CATALOG, state_dir=state_dir, refresh="full")
    try:
        report = apply_plan(
            run.plan, run.desired, run.clients, strategy="patch",
            verify_timeout_s=30, verify_interval_s=0.05, live_before=run.live,
        )
        assert report.converged, report.table()
    finally:
        close_clients(run.clients)


def _reads(emu: Any) -> list[Any]:
    return [c for c in emu.calls() if c.operation in ("searchListingsItems", "getListingsItem")]


def test_incremental_plan_reads_only_what_changed(isolated_state: Path) -> None:
    state = str(isolated_state)
    _converge(state)
    _next_second()  # the apply's own writes must predate the full read's watermark
    run = run_plan(CATALOG, state_dir=state, refresh="full")
    close_clients(run.clients)
    assert not run.plan.has_changes
    total = run.plan.unchanged + len(run.plan.held)

    emu = embedded_emulator(state)
    _next_second()
    # Seller Central edits 1 listing (1.5 % of the sample's 68)
    seller, sku, mp = NA, "MUG-CER-12", "CA"
    mp_id = "A2EUQ1WTGCTBG2"
    before = emu.listing_state(seller, sku, mp_id)
    assert before is not None
    attrs = before["attributes"]
    attrs["fulfillment_availability"] = [{"fulfillment_channel_code": "DEFAULT", "quantity": 999}]
    emu.put_listing_direct(seller, sku, mp_id, before["productType"], attrs)
    emu.reset_calls()

    stats: dict[str, Any] = {}
    run = run_plan(CATALOG, state_dir=state, refresh="incremental", stats=stats)
    close_clients(run.clients)
    assert [(c.key.sku, c.marketplace) for c in run.plan.changes] == [(sku, mp)]
    read = stats["read"]
    assert set(read.mode.values()) == {"incremental"}
    assert read.fresh == 1
    assert read.cached == total - 1
    reads = _reads(emu)
    # one lastUpdatedAfter search per (account, marketplace), no read by identifier
    assert all("lastUpdatedAfter" in c.query for c in reads), [c.query for c in reads]
    assert not any("identifiers" in c.query for c in reads)
    assert not any(c.operation == "getListingsItem" for c in reads)
    assert len(reads) == 6


def test_catalog_change_is_read_fresh(isolated_state: Path, tmp_path: Path) -> None:
    state = str(isolated_state)
    cat = tmp_path / "catalog"
    import shutil

    shutil.copytree(CATALOG, cat)
    run = run_plan(cat, state_dir=state, refresh="full")
    close_clients(run.clients)
    _next_second()
    sku_file = cat / "skus" / "mugs.yaml"
    sku_file.write_text(
        sku_file.read_text(encoding="utf-8").replace("base_price: 14.99", "base_price: 15.49"),
        encoding="utf-8",
    )
    emu = embedded_emulator(state)
    emu.reset_calls()
    run = run_plan(cat, state_dir=state, refresh="incremental")
    close_clients(run.clients)
    by_identifier = [c for c in _reads(emu) if "identifiers" in c.query]
    skus = {s for c in by_identifier for v in c.query["identifiers"] for s in v.split(",")}
    assert skus == {"MUG-CER-12"}


def test_auto_is_full_without_cache_then_incremental(isolated_state: Path) -> None:
    state = str(isolated_state)
    stats: dict[str, Any] = {}
    close_clients(run_plan(CATALOG, state_dir=state, refresh="auto", stats=stats).clients)
    assert set(stats["read"].mode.values()) == {"full"}
    _next_second()
    close_clients(run_plan(CATALOG, state_dir=state, refresh="auto", stats=stats).clients)
    assert set(stats["read"].mode.values()) == {"incremental"}
    # a broken cache file is never fatal: it is recreated and the read is full again
    (isolated_state / "live-cache.sqlite").write_bytes(b"not a database")
    close_clients(run_plan(CATALOG, state_dir=state, refresh="auto", stats=stats).clients)
    assert set(stats["read"].mode.values()) == {"full"}
    with LiveCache(isolated_state / "live-cache.sqlite") as cache:
        assert cache.last_full_read("na", "ATVPDKIKX0DER") is not None


def test_two_accounts_plan_and_apply_both_sellers(isolated_state: Path) -> None:
    state = str(isolated_state)
    emu = embedded_emulator(state)
    _converge(state)
    sellers_read = {c.seller_id for c in _reads(emu)}
    sellers_written = {c.seller_id for c in emu.calls() if c.operation in WRITES}
    assert sellers_read == {NA, EU}
    assert sellers_written == {NA, EU}
    desired = load(CATALOG)
    clients = open_clients(desired, state_dir=state)
    try:
        # separate clients, separate buckets: one account's throttling never slows the other
        assert set(clients) == {"na", "eu"}
        assert clients["na"] is not clients["eu"]
    finally:
        close_clients(clients)
    keys = {d.key for d in desired.listings}
    assert ListingKey("eu", "MUG-CER-12", "A1PA6795UKMFR9") in keys


def test_incremental_skips_listings_unchanged_on_both_sides(
    isolated_state: Path, tmp_path: Path
) -> None:
    """A listing that changed neither on Amazon nor in the catalog since a plan found it
    unchanged is not normalized or diffed again; an edit on either side is never hidden."""
    import shutil

    from reconciler.pipeline import open_cache, read_live, targeted_keys

    state = str(isolated_state)
    cat = tmp_path / "catalog"
    shutil.copytree(CATALOG, cat)
    _converge(state)
    _next_second()
    run = run_plan(cat, state_dir=state, refresh="full")  # records every outcome
    close_clients(run.clients)
    total = run.plan.unchanged + len(run.plan.held)
    _next_second()

    emu = embedded_emulator(state)
    seller, sku, mp_id = NA, "MUG-CER-16", "A1AM78C64UM0Y8"  # MX
    before = emu.listing_state(seller, sku, mp_id)
    assert before is not None
    attrs = before["attributes"]
    attrs["fulfillment_availability"] = [{"fulfillment_channel_code": "DEFAULT", "quantity": 77}]
    emu.put_listing_direct(seller, sku, mp_id, before["productType"], attrs)
    # the read below starts in a later second than the edit (as it did by chance under load):
    # its mark then lies past the edit, and the next incremental read must still diff it
    _next_second()

    desired = load(cat)
    clients = open_clients(desired, state_dir=state)
    known: dict[ListingKey, str] = {}
    try:
        with open_cache(state) as cache:
            live = read_live(
                desired, clients, targeted_keys(desired), cache=cache, refresh="incremental",
                known=known,
            )
    finally:
        close_clients(clients)
    edited = ListingKey("na", sku, mp_id)
    assert edited in live and edited not in known
    absent = sum(1 for d in desired.listings if d.state == "absent")  # never memoized
    assert absent == 3
    assert len(known) == total - 1 - len(run.plan.held) - absent
    assert not set(known) & set(live)

    # the plan built from it finds exactly the Amazon-side edit, and fingerprints every listing
    run2 = run_plan(cat, state_dir=state, refresh="incremental")
    close_clients(run2.clients)
    assert [(c.key.sku, c.marketplace) for c in run2.plan.changes] == [(sku, "MX")]
    assert set(run2.plan.fingerprints) == set(run.plan.fingerprints)

    # a catalog edit of a memoized listing is diffed again (its digest changed)
    sku_file = cat / "skus" / "mugs.yaml"
    sku_file.write_text(
        sku_file.read_text(encoding="utf-8").replace("base_price: 14.99", "base_price: 15.49"),
        encoding="utf-8",
    )
    run3 = run_plan(cat, state_dir=state, refresh="incremental")
    close_clients(run3.clients)
    assert {c.key.sku for c in run3.plan.changes} == {sku, "MUG-CER-12"}
