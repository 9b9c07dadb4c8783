"""The benchmark scenarios of issue 7. Each returns ONE JSON-able dict.

Common fields: ``scenario``, ``params``, ``wall_s``, ``cpu_s`` (this process, all threads),
``peak_rss_mib`` (this process's peak; run one scenario per process for a clean figure),
``calls`` (per operation, from the emulator's call log), ``throttled`` (429 answers),
``lower_bound_s`` (bench/lowerbound.py, in bench seconds = Amazon seconds / time scale),
``ratio`` = wall / lower bound, and ``amazon`` (the same figures in Amazon seconds).

Quota-bound scenarios (plan, apply, noop, incremental, naive) run against the emulator with
a time scale and scaled latency; ``local`` runs the pure pipeline on captured items with no
emulator at all.
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench import lowerbound
from bench.emu import (
    WRITE_OPERATIONS,
    Backend,
    InProcessEmulator,
    ServerEmulator,
    close_clients,
)
from bench.generate import drifted_indexes, seed_for, write_catalog, write_seed
from reconciler.apply.run import apply_plan
from reconciler.catalog.desired import build
from reconciler.catalog.loader import load
from reconciler.kernel.gcpause import paused_gc
from reconciler.kernel.model import DesiredState, ListingKey, LiveListing
from reconciler.live import normalize as live_mod
from reconciler.pipeline import run_plan
from reconciler.plan import render, render_json
from reconciler.plan.builder import build_plan

ROOT = Path(__file__).resolve().parent.parent
# The emulator's per-message feed time (EmulatorConfig default; not a serve option).
FEED_PER_MESSAGE_S = 0.0005


@dataclass(frozen=True)
class Params:
    skus: int = 10_000
    marketplaces: tuple[str, ...] = ("US", "CA", "MX")
    drift: float = 1.0  # share of live listings that differ from the catalog
    time_scale: float = 20.0
    latency_ms: float = 300.0  # Amazon ms; the emulator divides by the time scale
    feed_processing_s: float = 300.0  # Amazon seconds (emulator --feed-processing)
    write_delay_s: float = 120.0  # Amazon seconds until a write is visible (the emulator default)
    strategy: str = "auto"
    change: float = 0.01  # incremental: share of listings edited in Seller Central
    naive_listings: int = 600  # naive: listings actually run (then extrapolated)
    versus_wall_s: float = 0.0  # naive: plan+apply wall of the same work, for the speedup
    versus_amazon_s: float = 0.0  # naive: the same in Amazon time (amazon.wall_est_s sum)
    in_process: bool = False  # emulator in this process (smoke tests) instead of a server
    workdir: str = ""
    # local: check every listing against its product type definition ("on"), skip it ("off"),
    # or run both in turn and report both figures ("compare", issue 14 must-show 6)
    schema_validation: str = "on"
    repeat: int = 1  # local compare: rounds of (off, on), the median of each is reported
    # Amazon seconds of feed processing per message (emulator --feed-per-message)
    feed_per_message_s: float = FEED_PER_MESSAGE_S
    changes: int = 0  # hybrid: changes of the one seller (0: --skus x marketplaces)
    accounts: int = 20  # agency: seller accounts in one catalog (bench/agency.py)
    processes: int = 1  # agency: worker processes, each planning+applying a group of accounts

    def data(self) -> dict[str, Any]:
        d = asdict(self)
        d["marketplaces"] = ",".join(self.marketplaces)
        d.pop("workdir")
        return d


def default_workdir() -> Path:
    return Path(tempfile.gettempdir()) / "reconciler-bench"


# --------------------------------------------------------------------------- measuring


def peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@dataclass(frozen=False)
class Meter:
    """Wall and CPU time of a block, plus named stage marks."""

    wall: float = 0.0
    cpu: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    peaks: dict[str, float] = field(default_factory=dict)  # peak RSS (MiB) after each stage
    _t0: float = 0.0
    _c0: float = 0.0
    _last: float = 0.0

    def __enter__(self) -> Meter:
        self._t0 = self._last = time.perf_counter()
        self._c0 = time.process_time()
        return self

    def stage(self, name: str) -> None:
        now = time.perf_counter()
        self.stages[name] = round(self.stages.get(name, 0.0) + now - self._last, 3)
        self.peaks[name] = peak_rss_mib()
        self._last = now

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._t0
        self.cpu = time.process_time() - self._c0


def _r(x: float) -> float:
    return round(x, 3)


def _ratio(wall: float, bound: float) -> float | None:
    """wall / bound; None when the bound is 0 (the work fits in the bursts)."""
    return round(wall / bound, 3) if bound > 0 else None


def _figures(p: Params, m: Meter, bound_amazon_s: float) -> dict[str, Any]:
    bound = bound_amazon_s / p.time_scale
    return {
        "wall_s": _r(m.wall),
        "cpu_s": _r(m.cpu),
        "peak_rss_mib": peak_rss_mib(),
        "lower_bound_s": _r(bound),
        "ratio": _ratio(m.wall, bound),
        "amazon": amazon_figures(m.wall, bound_amazon_s, p.time_scale),
    }


def amazon_estimate(wall: float, bound_amazon_s: float, scale: float) -> float:
    """Wall in Amazon time: the quota-bound part (the lower bound) stretched back to Amazon's
    speed, everything else (our CPU, latency) as measured. Conservative: at Amazon's speed
    most of our CPU would overlap the quota waits."""
    return wall + bound_amazon_s / scale * (scale - 1)


def amazon_figures(wall: float, bound_amazon_s: float, scale: float) -> dict[str, Any]:
    est = amazon_estimate(wall, bound_amazon_s, scale)
    return {"wall_s": _r(wall * scale), "lower_bound_s": _r(bound_amazon_s),
            "wall_est_s": _r(est), "ratio_est": _ratio(est, bound_amazon_s)}


def _write_calls(calls: Mapping[str, int]) -> int:
    return sum(n for op, n in calls.items() if op in WRITE_OPERATIONS)


# --------------------------------------------------------------------------- prepared data


@dataclass(frozen=True)
class Prepared:
    catalog: Path
    seed: Path
    listings: int
    per_seller: dict[str, dict[str, int]]  # seller id -> marketplace id -> listings
    accounts: dict[str, str]  # account name -> seller id


# Bumped when generated catalogs change shape (the work dir caches them across runs and
# checkouts): "pt" = with product type attributes and cached definitions (issue 14).
CATALOG_FORMAT = "pt"


def _catalog_dir(p: Params) -> Path:
    name = f"catalog-{CATALOG_FORMAT}-{p.skus}-{'-'.join(p.marketplaces)}"
    return Path(p.workdir or default_workdir()) / name


def _seed_path(p: Params) -> Path:
    return _catalog_dir(p).with_name(_catalog_dir(p).name + f"-drift{p.drift:g}.seed.json")


def _info_path(p: Params) -> Path:
    return _seed_path(p).with_suffix(".info.json")


def prepare(p: Params) -> Prepared:
    """Write (once, cached in the work dir) the catalog and the drifted seed for ``p``."""
    return prepare_at(_catalog_dir(p), _seed_path(p), _info_path(p), p.drift,
                      lambda cat: write_catalog(cat, p.skus, p.marketplaces))


def prepare_at(
    cat: Path, seed: Path, info: Path, drift: float, write: Callable[[Path], None]
) -> Prepared:
    """The catalog ``write`` makes in ``cat`` (once: ``.complete`` marks it done), its seed
    drifted by ``drift`` and the seed's per-seller counts in ``info``, cached."""
    if not (cat / ".complete").exists():
        if cat.exists():
            shutil.rmtree(cat)
        write(cat)
        (cat / ".complete").write_text("ok\n", encoding="utf-8")
    if not info.exists() or not seed.exists():
        desired = build(load(cat))
        write_seed(seed, seed_for(desired, drift))
        per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        sellers = {a.name: a.seller_id for a in desired.accounts}
        for d in desired.listings:
            per[sellers[d.key.account]][d.key.marketplace_id] += 1
        info.write_text(json.dumps({
            "listings": len(desired.listings),
            "per_seller": {s: dict(m) for s, m in per.items()},
            "accounts": sellers,
        }), encoding="utf-8")
    data = json.loads(info.read_text(encoding="utf-8"))
    return Prepared(cat, seed, int(data["listings"]), data["per_seller"], data["accounts"])


def ensure_prepared(p: Params) -> Prepared:
    """:func:`prepare` in a child process (its memory does not count in this process's
    peak RSS), unless it is cached already or the emulator runs in-process (smoke tests)."""
    if not p.in_process and not _info_path(p).exists():
        subprocess.run(
            [sys.executable, "-m", "bench", "prepare", *to_args(p)], cwd=ROOT, check=True,
            stdout=subprocess.DEVNULL,
        )
    return prepare(p)


def to_args(p: Params) -> list[str]:
    return [
        "--skus", str(p.skus), "--marketplaces", ",".join(p.marketplaces),
        "--drift", str(p.drift), "--workdir", str(p.workdir or default_workdir()),
    ]


@contextmanager
def emulator(p: Params, prep: Prepared) -> Iterator[Backend]:
    common: dict[str, Any] = {"time_scale": p.time_scale, "latency_ms": p.latency_ms,
                              "feed_processing_s": p.feed_processing_s,
                              "write_delay_s": p.write_delay_s,
                              "feed_per_message_s": p.feed_per_message_s}
    backend: Backend
    if p.in_process:
        seed = json.loads(prep.seed.read_text(encoding="utf-8"))
        backend = InProcessEmulator(seed=seed, **common)
    else:
        db = prep.seed.with_suffix(".emulator.db")
        backend = ServerEmulator(db=db, seed=prep.seed, **common)
    try:
        yield backend
    finally:
        backend.close()


@contextmanager
def _state_dir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="bench-state-") as d:
        yield d


# --------------------------------------------------------------------------- plan


def _timed_plan(
    prep: Prepared, clients: Mapping[str, Any], state_dir: str, refresh: str,
    desired: DesiredState | None = None,
) -> tuple[Any, Meter, dict[str, Any]]:
    """run_plan (load + read + diff/plan) then the text render, with stage times."""
    stats: dict[str, Any] = {}
    m = Meter()
    last_read = [0.0]

    def read_progress(_n: int) -> None:
        last_read[0] = time.perf_counter()

    with m:
        def read_start(_n: int) -> None:
            m.stage("load" if desired is None else "targets")

        run = run_plan(prep.catalog, state_dir=state_dir, clients=dict(clients),
                       desired=desired, refresh=refresh, on_read_start=read_start,
                       progress=read_progress, stats=stats)
        m.stage("read+plan")
        render.text(run.plan)
        m.stage("render")
    if last_read[0]:
        # "read": until the last listing came back; the rest of read+plan is local
        # (normalizing the last marketplace, diff, plan)
        m.stages["read"] = _r(last_read[0] - m._t0 - m.stages.get("load",
                                                                   m.stages.get("targets", 0)))
    read = stats.get("read")
    info = {"read_modes": sorted(set(read.mode.values())) if read else [],
            "fresh": read.fresh if read else 0, "cached": read.cached if read else 0}
    return run, m, info


def scenario_plan(p: Params) -> dict[str, Any]:
    """Full plan: load the catalog, read every listing (searches of 20), diff, plan, render."""
    prep = ensure_prepared(p)
    with emulator(p, prep) as emu, _state_dir() as sd:
        clients = {a: emu.client(s) for a, s in prep.accounts.items()}
        try:
            mark = emu.mark()
            run, m, info = _timed_plan(prep, clients, sd, "full")
            calls, throttled = emu.calls_since(mark)
        finally:
            close_clients(clients)
    bound = lowerbound.plan_bound(prep.per_seller)
    out = {"scenario": "plan", "params": p.data(), **_figures(p, m, bound),
           "stages_s": m.stages, "listings": prep.listings, "changes": len(run.plan.changes),
           "calls": calls, "throttled": throttled,
           "searches_min": sum(lowerbound.searches(x) for x in prep.per_seller.values()),
           "write_calls": _write_calls(calls), **info}
    out["quota_phase_ratio"] = _ratio(m.stages.get("read", 0.0), out["lower_bound_s"])
    return out


# --------------------------------------------------------------------------- apply


def _apply(p: Params, run: Any, clients: Mapping[str, Any], state_dir: str, strategy: str
           ) -> tuple[Any, Meter]:
    phases: dict[str, list[float]] = {}

    def progress(phase: str, done: int, total: int) -> None:
        now = time.perf_counter()
        phases.setdefault(phase, [now, now])[1] = now

    m = Meter()
    with m:
        report = apply_plan(
            run.plan, run.desired, dict(clients), strategy=strategy,
            verify_timeout_s=3600 / p.time_scale, verify_interval_s=5 / p.time_scale,
            feed_poll_interval_s=5 / p.time_scale, feed_timeout_s=7200 / p.time_scale,
            state_dir=state_dir, live_before=run.live, progress=progress,
        )
    t0 = m._t0
    m.stages = {f"{k}_end": round(v[1] - t0, 3) for k, v in phases.items()}
    return report, m


def _outcomes(report: Any) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for o in report.outcomes:
        counts[o.status] += 1
    return dict(counts)


def scenario_apply(p: Params) -> dict[str, Any]:
    """Plan (reported, not part of the apply figures), then apply every change with
    ``p.strategy`` and verify by read-back."""
    prep = ensure_prepared(p)
    with emulator(p, prep) as emu, _state_dir() as sd:
        clients = {a: emu.client(s) for a, s in prep.accounts.items()}
        try:
            run, pm, _ = _timed_plan(prep, clients, sd, "full")
            mark = emu.mark()
            report, m = _apply(p, run, clients, sd, p.strategy)
            calls, throttled = emu.calls_since(mark)
        finally:
            close_clients(clients)
    chosen = report.strategy
    per_seller = _changed_per_seller(run.plan.changes, prep)
    b = lowerbound.apply_bound(per_seller, chosen, processing_s=p.feed_processing_s,
                               per_message_s=FEED_PER_MESSAGE_S, write_delay_s=p.write_delay_s)
    # A feed apply verifies each feed's listings once that feed is DONE (apply.py), so its
    # headline bound is the pipelined one; patches are verified after the last patch.
    headline = "pipelined" if chosen == "feed" else "total"
    out = {"scenario": "apply", "params": p.data(), **_figures(p, m, b[headline]),
           "bound": "pipelined" if headline == "pipelined" else "sequential",
           "phases_s": m.stages, "listings": prep.listings, "changes": len(run.plan.changes),
           "strategy": chosen, "strategy_reason": report.strategy_reason,
           "feeds": len(report.feeds), "outcomes": _outcomes(report),
           "calls": calls, "throttled": throttled, "write_calls": _write_calls(calls),
           "lower_bound_parts_s": {k: _r(v / p.time_scale) for k, v in b.items()},
           "ratio_vs_pipelined_bound": _ratio(m.wall, b["pipelined"] / p.time_scale),
           "ratio_vs_sequential_bound": _ratio(m.wall, b["total"] / p.time_scale),
           "plan_wall_s": _r(pm.wall)}
    return out


def _changed_per_seller(changes: Any, prep: Prepared) -> dict[str, dict[str, int]]:
    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for c in changes:
        per[prep.accounts[c.key.account]][c.key.marketplace_id] += 1
    return {s: dict(x) for s, x in per.items()}


def scenario_noop(p: Params) -> dict[str, Any]:
    """Apply (auto), then plan again (the CLI's default ``--refresh auto``) and apply that
    plan: it must have no changes and make no write call."""
    prep = ensure_prepared(p)
    with emulator(p, prep) as emu, _state_dir() as sd:
        clients = {a: emu.client(s) for a, s in prep.accounts.items()}
        try:
            run, _, _ = _timed_plan(prep, clients, sd, "full")
            first, _ = _apply(p, run, clients, sd, "auto")
            mark = emu.mark()
            run2, m, info = _timed_plan(prep, clients, sd, "auto")
            plan_calls, _ = emu.calls_since(mark)
            _, am = _apply(p, run2, clients, sd, "auto")
            calls, throttled = emu.calls_since(mark)
        finally:
            close_clients(clients)
    bound = lowerbound.plan_bound(prep.per_seller)
    return {"scenario": "noop", "params": p.data(), **_figures(p, m, bound),
            "stages_s": m.stages, "listings": prep.listings,
            "applied_before": _outcomes(first), "changes": len(run2.plan.changes),
            "calls": plan_calls, "throttled": throttled,
            "calls_plan_and_apply": calls, "write_calls": _write_calls(calls),
            "apply_wall_s": _r(am.wall), **info}


# --------------------------------------------------------------------------- incremental


def _seller_central_edits(emu: Backend, desired: DesiredState, share: float) -> int:
    """Edit ``share`` of the listings through the API (drift made in Seller Central)."""
    sellers = {a.name: a.seller_id for a in desired.accounts}
    listings = [d for d in desired.listings if d.state != "absent"]
    picked = sorted(drifted_indexes(len(listings), share, salt=7))
    clients = {a: emu.client(s) for a, s in sellers.items()}
    try:
        for j in picked:
            d = listings[j]
            entry = dict(d.attributes["item_name"][0])
            entry["value"] = "Edited in Seller Central " + str(entry["value"])
            body = {"productType": d.product_type, "patches": [
                {"op": "replace", "path": "/attributes/item_name", "value": [entry]}]}
            clients[d.key.account].patch_listings_item(d.key.sku, [d.key.marketplace_id], body)
    finally:
        close_clients(clients)
    return len(picked)


def scenario_incremental(p: Params) -> dict[str, Any]:
    """Full plan (fills the live cache), ``p.change`` of the listings edited on Amazon, then
    an incremental plan (``lastUpdatedAfter`` + cache): its wall vs the full plan's. Runs on
    an in-sync seed (drift 0: the steady state of the 15-minute drift job), whatever
    ``p.drift`` says."""
    p = replace(p, drift=0.0)
    prep = ensure_prepared(p)
    with emulator(p, prep) as emu, _state_dir() as sd:
        clients = {a: emu.client(s) for a, s in prep.accounts.items()}
        try:
            full, fm, _ = _timed_plan(prep, clients, sd, "full")
            edited = _seller_central_edits(emu, full.desired, p.change)
            time.sleep(p.write_delay_s / p.time_scale + 0.05)  # until the edits are visible
            mark = emu.mark()
            run, m, info = _timed_plan(prep, clients, sd, "incremental")
            calls, throttled = emu.calls_since(mark)
        finally:
            close_clients(clients)
    n_mps = {s: len(x) for s, x in prep.per_seller.items()}
    # Fewest calls: one search page per 20 edited listings per marketplace (>= 1 per mp).
    per_seller = {s: {mp: max(20, math.ceil(edited * n / prep.listings)) for mp, n in x.items()}
                  for s, x in prep.per_seller.items()}
    bound = lowerbound.plan_bound(per_seller)
    full_wall = fm.wall
    out = {"scenario": "incremental", "params": p.data(), **_figures(p, m, bound),
           "stages_s": m.stages, "listings": prep.listings, "edited": edited,
           "changes_full": len(full.plan.changes), "changes": len(run.plan.changes),
           "calls": calls, "throttled": throttled, "write_calls": _write_calls(calls),
           "full_plan_wall_s": _r(full_wall), "full_plan_stages_s": fm.stages,
           "vs_full": _ratio(m.wall, full_wall), "marketplaces_per_seller": n_mps, **info}
    full_est = amazon_estimate(full_wall, lowerbound.plan_bound(prep.per_seller), p.time_scale)
    out["amazon"]["full_plan_wall_est_s"] = _r(full_est)
    out["amazon"]["vs_full_est"] = _ratio(out["amazon"]["wall_est_s"], full_est)
    return out


# --------------------------------------------------------------------------- local compute


def _items_path(p: Params) -> Path:
    return _seed_path(p).with_suffix(".items.jsonl")


def capture_items(p: Params) -> Path:
    """Read every listing once through the in-process emulator (quotas off, no latency) and
    keep the raw Items, one JSON line per listing (``[account, sku, marketplace_id, item]``),
    grouped by marketplace: the local scenario's stand-in for the network read."""
    path = _items_path(p)
    if path.exists():
        return path
    prep = prepare(p)
    seed = json.loads(prep.seed.read_text(encoding="utf-8"))
    desired = build(load(prep.catalog))
    from reconciler.live.reader import read_listings

    # Quotas off, and a huge time scale: the client's buckets follow the emulator's
    # x-amzn-RateLimit-Limit header, which must not pace the capture either.
    scale = 1e6
    emu = InProcessEmulator(seed=seed, time_scale=scale, latency_ms=0.0, feed_processing_s=0.0,
                            quotas=False, token_ttl_s=int(3600 * scale))
    del seed
    tmp = path.with_suffix(".tmp")
    try:
        by: dict[tuple[str, str], list[str]] = defaultdict(list)
        for d in desired.listings:
            by[(d.key.account, d.key.marketplace_id)].append(d.key.sku)
        sellers = {a.name: a.seller_id for a in desired.accounts}
        with tmp.open("w", encoding="utf-8") as f:
            for (account, mp), skus in sorted(by.items()):
                with emu.client(sellers[account]) as cl:
                    items = read_listings(cl, mp, skus)
                for sku, item in items.items():
                    if item is not None:
                        f.write(json.dumps([account, sku, mp, item], ensure_ascii=False) + "\n")
    finally:
        emu.close()
    tmp.replace(path)
    return path


def _read_live(items_file: Path, desired: DesiredState) -> dict[ListingKey, LiveListing | None]:
    """Normalize the captured Items marketplace by marketplace, as ``workflow.read_live``
    does with a marketplace's search results (raw JSON parsed here, as httpx would)."""
    mps = {(a.name, mk.marketplace_id): mk for a in desired.accounts for mk in a.marketplaces}
    keep = desired.managed_attributes
    live: dict[ListingKey, LiveListing | None] = dict.fromkeys(d.key for d in desired.listings)
    with items_file.open(encoding="utf-8") as f, paused_gc():
        for line in f:
            account, sku, mp, item = json.loads(line)
            # the key's strings are the catalog's (interned by the YAML reader), as in
            # workflow.read_live, whose keys are made from the desired listings' SKUs
            k = ListingKey(sys.intern(account), sys.intern(sku), sys.intern(mp))
            if k in live:
                live[k] = live_mod.normalize_item(item, k, mps[(account, mp)], keep)
    return live


class _CountingSink:
    """A text sink that only counts the characters written to it."""

    def __init__(self) -> None:
        self.chars = 0

    def write(self, s: str) -> int:
        self.chars += len(s)
        return len(s)


def scenario_local(p: Params) -> dict[str, Any]:
    """Local compute only (no emulator, no quotas, no latency): load, desired (with the product
    type schema validation unless ``schema_validation`` is off), parse and normalize the captured
    live Items, diff + plan, render text / markdown / json; each stage timed.
    ``target_stages_s`` = every stage but the renders + the slowest render (a run prints one
    format). ``schema_validation="compare"`` runs the scenario without and then with the
    validation, each in its own process, and reports both and their ratio."""
    if p.schema_validation == "compare":
        return _compare_schema_validation(p)
    if not p.in_process and not _items_path(p).exists():
        subprocess.run(
            [sys.executable, "-m", "bench", "prepare", "--items", *to_args(p)], cwd=ROOT,
            check=True, stdout=subprocess.DEVNULL,
        )
    prep = prepare(p)
    items_file = capture_items(p)
    m = Meter()
    sizes: dict[str, int] = {}
    with m:
        raw = load(prep.catalog)
        m.stage("load")
        desired = build(raw, validate_schemas=p.schema_validation != "off")
        del raw  # as in loader.load_desired: the raw catalog is garbage once built
        m.stage("desired")
        live = _read_live(items_file, desired)
        m.stage("live")
        plan = build_plan(desired, live)
        m.stage("diff+plan")
        for name, fn in (("text", render.text), ("markdown", render.markdown)):
            sizes[name] = len(fn(plan))
            m.stage(f"render_{name}")
        sink = _CountingSink()  # JSON streams, as `reconciler plan --format json` writes it
        render_json.write_json(plan, sink)
        sizes["json"] = sink.chars
        m.stage("render_json")
    renders = [v for k, v in m.stages.items() if k.startswith("render_")]
    target = sum(v for k, v in m.stages.items() if not k.startswith("render_")) + max(renders)
    return {"scenario": "local", "params": p.data(), "wall_s": _r(m.wall), "cpu_s": _r(m.cpu),
            "peak_rss_mib": peak_rss_mib(), "stages_s": m.stages, "target_stages_s": _r(target),
            "peak_rss_after_stage_mib": m.peaks,
            "listings": len(desired.listings), "changes": len(plan.changes),
            "render_chars": sizes, "calls": {}, "lower_bound_s": 0.0, "ratio": None}


def _compare_schema_validation(p: Params) -> dict[str, Any]:
    """``repeat`` rounds of the local scenario without then with the validation, each run in its
    own process; the medians, every run, the ratios of the medians, and the ratio of each
    mode's best round."""
    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    for _ in range(max(1, p.repeat)):
        for mode in ("off", "on"):
            if p.in_process:
                runs[mode].append(scenario_local(replace(p, schema_validation=mode)))
                continue
            out = subprocess.run(
                [sys.executable, "-m", "bench", "local", *to_args(p), "--schema-validation",
                 mode], cwd=ROOT, check=True, capture_output=True, text=True,
            ).stdout.strip().splitlines()
            runs[mode].append(json.loads(out[-1]))

    def median(mode: str, field: str) -> float:
        return _r(statistics.median(r[field] for r in runs[mode]))

    def stage(mode: str, name: str) -> float:
        return _r(statistics.median(r["stages_s"][name] for r in runs[mode]))

    fields = ("wall_s", "cpu_s", "target_stages_s")
    off = {f: median("off", f) for f in fields}
    on = {f: median("on", f) for f in fields}
    return {
        "scenario": "local-schema-validation", "params": p.data(),
        "listings": runs["on"][0]["listings"], "rounds": len(runs["on"]),
        # the common fields are those of the normal configuration (validation on)
        "wall_s": on["wall_s"], "cpu_s": on["cpu_s"],
        "peak_rss_mib": max(r["peak_rss_mib"] for r in runs["on"]),
        "without": {**off, "desired_s": stage("off", "desired"),
                    "peak_rss_mib": max(r["peak_rss_mib"] for r in runs["off"])},
        "with": {**on, "desired_s": stage("on", "desired"),
                 "peak_rss_mib": max(r["peak_rss_mib"] for r in runs["on"])},
        "ratio_wall": _r(on["wall_s"] / off["wall_s"]),
        "ratio_target_stages": _r(on["target_stages_s"] / off["target_stages_s"]),
        "ratio_cpu": _r(on["cpu_s"] / off["cpu_s"]),
        # the best round of each mode: on a shared machine the least-disturbed run is the
        # closest to the code's own cost (the median still carries other processes' load)
        "ratio_wall_best": _r(min(r["wall_s"] for r in runs["on"])
                              / min(r["wall_s"] for r in runs["off"])),
        "loadavg_1m_end": _r(os.getloadavg()[0]),
        "runs": {mode: [{f: r[f] for f in (*fields, "stages_s")} for r in rs]
                 for mode, rs in runs.items()},
        "calls": {}, "lower_bound_s": 0.0, "ratio": None,
    }


def with_defaults(name: str, p: Params) -> Params:
    """Scenario-specific defaults (local: 100k listings; hybrid: SKUs from ``--changes``)."""
    if name == "local" and p.skus == Params.skus:
        return replace(p, skus=33_334)
    if name == "hybrid":
        changes = p.changes or 3000
        return replace(p, changes=changes, skus=math.ceil(changes / len(p.marketplaces)))
    return p

