"""``python -m bench agency --accounts N --skus S`` (issue 19): an agency's N sellers in one
catalog, every seller at its own quota, all at once, at Amazon's speed.

- The catalog (:func:`write_agency_catalog`): N accounts ``s01``..``sNN`` in region NA, each
  with its own seller id and its own refresh token (registered in the strict emulator), each
  selling ``S`` SKUs of its own (``accounts: [sNN]``) on ``--marketplaces`` (US,CA,MX): texts in
  the marketplace languages through the sandboxed templates, price formulas, literal
  quantities. Listings = N x S x marketplaces. The seed drifts ``--drift`` of the listings
  (price, stock and title; bench/generate.py ``seed_for``).
- ``reconciler emulator serve`` in a subprocess at ``--time-scale`` 1 with Amazon's latency
  (``--latency 300`` ms), so the quotas are Amazon's own.
- Measured (``wall_s``, ``cpu_s``): a full plan of every account (``run_plan``: one reading
  thread per account, normalize+diff overlapping the reads), then an apply of every change
  (``apply_plan``, ``--strategy``, default patch). With ``--processes K`` the accounts are split
  into K groups, each planned and applied by a child process of its own (its own GIL); the
  figures then include the children's CPU and memory.
- ``lower_bound_s``: the slowest seller's quota bound (bench/lowerbound.py) of its full read plus
  its apply (write, the emulator's write delay, verify); ``ratio`` = wall / bound.
- Correctness at scale (not in ``wall_s``): a fresh full plan once the apply is done, whose
  changes per account must all be 0 (``fresh_plan_changes``), and the emulator's call log:
  per seller, the 429 answers after the seller's first burst (``throttled_after_burst``: a 429
  that came once the client had had a second to learn the seller's rates) must be 0.
- ``peak_rss_mib``: the reconciler's peak over the plan and the apply (``ru_maxrss`` read as
  the apply ends; with K workers, the parent's plus the workers', summed: an upper bound of
  their joint peak); ``peak_rss_with_check_mib`` the same at the end of the fresh plan. The
  emulator's is reported on its own (``emulator_peak_rss_mib``, ``emulator_cpu_s``).
  ``loadavg``: ``os.getloadavg()`` at the start and the end (the machine is shared).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from bench import lowerbound
from bench.emu import ServerEmulator, close_clients
from bench.generate import LANGUAGES, RATES
from bench.scenarios import FEED_PER_MESSAGE_S, Params, Prepared, default_workdir, prepare_at
from reconciler.catalog import select
from reconciler.catalog.desired import build
from reconciler.catalog.loader import load
from reconciler.emulator.product_types import write_catalog_copies
from reconciler.kernel.gcpause import keep_frozen
from reconciler.kernel.marketplaces import by_code

ROOT = Path(__file__).resolve().parent.parent
FORMAT = "agency1"  # bump when the generated catalog changes shape (the work dir caches it)


def seller_id(i: int) -> str:
    """The seller id of account ``i`` (1-based)."""
    return f"AGENCY{i:04d}SELLER"


def account_name(i: int) -> str:
    return f"s{i:02d}"


# --------------------------------------------------------------------------- the catalog


def write_agency_catalog(root: Path, accounts: int, skus: int,
                         marketplaces: Sequence[str]) -> int:
    """N accounts of ``skus`` SKUs each; returns the number of listings."""
    (root / "skus").mkdir(parents=True, exist_ok=True)
    (root / "templates").mkdir(parents=True, exist_ok=True)
    mps = [by_code(c) for c in marketplaces]
    regions = {m.region for m in mps}
    if len(regions) != 1:
        raise SystemExit("agency: --marketplaces must be of one region")
    region = regions.pop()
    mp_cfg = {m.code: ({"fallback_languages": ["en_US"]} if m.code == "CA" else {}) for m in mps}
    accts = {
        account_name(i): {
            "seller_id": seller_id(i), "region": region, "endpoint": "emulator",
            "credentials": {"refresh_token": f"env/SP_API_AGENCY_REFRESH_TOKEN_{i:02d}",
                            "client_id": "env/LWA_BENCH_APP_ID",
                            "client_secret": "env/LWA_BENCH_CLIENT_SECRET"},
            "marketplaces": mp_cfg,
        } for i in range(1, accounts + 1)
    }

    def dump(rel: str, data: Any) -> None:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
        (root / rel).write_text(text, encoding="utf-8")

    dump("reconciler.yaml", {
        "version": 1, "accounts": accts,
        "safety": {"max_update_share": 1, "max_price_change_pct": 1000, "allow_deletes": False},
        "apply": {"strategy": "auto"},
    })
    currencies = sorted({m.currency for m in mps} - {"USD"})
    dump("rates.yaml", {"as_of": "2026-11-20", "source": "bench", "base": "USD",
                        "rates": {c: RATES.get(c, 1) for c in currencies}})
    pricing = {m.code: {"formula": "base * rate * margin + tax", "vars": {"margin": 1.08},
                        "ending": "whole"} for m in mps if m.code == "MX"}
    dump("pricing.yaml", {"base_currency": "USD",
                          "defaults": {"formula": "base * rate + tax", "tax": 0,
                                       "ending": ".99"},
                          "marketplaces": pricing})
    langs = {m.language_tag.split("_", 1)[0] for m in mps} & set(LANGUAGES) | {"en"}
    for lang in sorted(langs):
        (root / "templates" / f"title.{lang}.j2").write_text(LANGUAGES[lang][0] + "\n",
                                                             encoding="utf-8")
    kinds = ("Mug", "Bowl", "Bottle", "Board", "Plate", "Jar", "Pan", "Kettle")
    colors = ("Sage", "Charcoal", "Ivory", "Terracotta", "Navy", "Mustard", "Slate", "Rose")
    for a in range(1, accounts + 1):
        family: dict[str, Any] = {}
        fam_no = 0
        for i in range(skus):
            kind, color, size = kinds[i % 8], colors[(i // 3) % 8], f"{8 + i % 9 * 2} oz"
            texts: dict[str, Any] = {}
            for m in mps:
                if m.code == "CA":
                    continue  # falls back to en_US
                lang = m.language_tag.split("_", 1)[0]
                lang = lang if lang in LANGUAGES else "en"
                _, bullets, desc = LANGUAGES[lang]
                texts[m.language_tag] = {
                    "item_name": {"template": f"title.{lang}.j2"},
                    "product_description": desc.format(kind_l=kind.lower()),
                    "bullet_points": [b.format(size=size) for b in bullets],
                }
            family[f"{account_name(a).upper()}-{i:06d}"] = {
                "accounts": [account_name(a)],
                "product_type": "HOME", "requirements": "LISTING_OFFER_ONLY",
                "attributes": {"condition_type": "new_new",
                               "merchant_suggested_asin": f"B{a:02d}{i:07d}"},
                "base_price": round(9 + (i * 7 + a) % 60 + 0.5, 2),
                "vars": {"brand": f"Brand {a:02d}", "kind": kind, "n": i, "size": size,
                         "color": color},
                "texts": texts,
                "quantity": {m.code: 3 + (i * 3 + a) % 25 for m in mps},
            }
            if len(family) == 100 or i == skus - 1:
                dump(f"skus/{account_name(a)}-{fam_no:04d}.yaml", {"skus": family})
                fam_no += 1
                family = {}
    write_catalog_copies(root, [("HOME", m.code, "LISTING_OFFER_ONLY") for m in mps],
                         retrieved="2026-11-20")
    return accounts * skus * len(mps)


def _dir(p: Params) -> Path:
    name = f"{FORMAT}-{p.accounts}x{p.skus}-{'-'.join(p.marketplaces)}"
    return Path(p.workdir or default_workdir()) / name


def prepare(p: Params) -> Prepared:
    """Write (once, cached in the work dir) the catalog and its drifted seed."""
    base = _dir(p)
    seed = base / f"drift{p.drift:g}.seed.json"
    return prepare_at(base / "catalog", seed, seed.with_suffix(".info.json"), p.drift,
                      lambda cat: write_agency_catalog(cat, p.accounts, p.skus, p.marketplaces))


# --------------------------------------------------------------------------- measuring


def _rss_mib(who: int) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


@contextmanager
def _emulator(p: Params, prep: Prepared) -> Iterator[ServerEmulator]:
    emu = ServerEmulator(
        db=prep.seed.with_suffix(".emulator.db"), seed=prep.seed, time_scale=p.time_scale,
        latency_ms=p.latency_ms, feed_processing_s=p.feed_processing_s,
        write_delay_s=p.write_delay_s, sellers=prep.accounts.values())
    try:
        yield emu
    finally:
        emu.close()


def throttled_after_burst(db: Any, since: int, grace_s: float) -> dict[str, dict[str, int]]:
    """Per seller and operation: 429 answers more than ``grace_s`` after the seller's first
    call of that operation since the mark (its first burst: before then the client has not
    yet learnt the seller's rates)."""
    rows = db.execute(
        "SELECT seller_id, operation, COUNT(*) FROM calls c WHERE id > ? AND status = 429 "
        "AND time > (SELECT MIN(time) FROM calls d WHERE d.id > ? AND d.seller_id = c.seller_id"
        " AND d.operation = c.operation) + ? GROUP BY seller_id, operation",
        (since, since, grace_s)).fetchall()
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for seller, op, n in rows:
        out[str(seller)][str(op)] = int(n)
    return dict(out)


def _work(p: Params, prep: Prepared, url: str, accounts: Sequence[str],
          state_dir: str) -> dict[str, Any]:
    """Plan then apply ``accounts`` (all of them at once, one process); the figures."""
    from bench.emu import _Base
    from reconciler.apply.run import apply_plan
    from reconciler.pipeline import load as load_desired
    from reconciler.pipeline import run_plan

    backend = _Base()
    backend.url, backend.time_scale = url, p.time_scale
    keep_frozen()  # as `reconciler plan` and `apply` do (one batch command a process)
    t0, c0 = time.perf_counter(), time.process_time()
    if len(accounts) == len(prep.accounts):
        desired = load_desired(prep.catalog)
    else:  # a group's worker builds only its accounts' listings (reconciler.catalog.select)
        desired = select.only_accounts(build(
            select.for_accounts(load(prep.catalog), accounts), today=date.today()), accounts)
    clients = {a: backend.client(prep.accounts[a]) for a in accounts}
    try:
        loaded = time.perf_counter()
        run = run_plan(prep.catalog, state_dir=state_dir, clients=dict(clients),
                       desired=desired, refresh="full", slim_live=True)  # as the CLI does
        planned = time.perf_counter()
        report = apply_plan(
            run.plan, run.desired, dict(clients), strategy=p.strategy,
            verify_timeout_s=3600 / p.time_scale, verify_interval_s=5 / p.time_scale,
            feed_poll_interval_s=5 / p.time_scale, feed_timeout_s=7200 / p.time_scale,
            state_dir=state_dir, live_before=run.live)
        applied, end = time.perf_counter(), time.time()
        cpu = time.process_time() - c0
        peak = _rss_mib(resource.RUSAGE_SELF)  # of the plan and the apply (not the check below)
        strategy = report.strategy
        outcomes: dict[str, int] = defaultdict(int)
        for o in report.outcomes:
            outcomes[o.status] += 1
        changes: dict[str, int] = defaultdict(int)
        for c in run.plan.changes:
            changes[c.key.account] += 1
        del run, report
        gc.unfreeze()  # what the run kept frozen (keep_frozen) goes back to the collector
        gc.collect()  # so that the check starts clean
        fresh = run_plan(prep.catalog, state_dir=state_dir, clients=dict(clients),
                         desired=desired, refresh="full")
        left: dict[str, int] = dict.fromkeys(accounts, 0)
        for c in fresh.plan.changes:
            left[c.key.account] += 1
    finally:
        close_clients(clients)
    return {"wall_s": applied - t0, "cpu_s": cpu, "load_s": loaded - t0,
            "plan_s": planned - loaded, "apply_s": applied - planned,
            "peak_rss_mib": peak, "peak_rss_with_check_mib": _rss_mib(resource.RUSAGE_SELF),
            "changes": dict(changes),
            "strategy": strategy, "end": end,
            "outcomes": dict(outcomes), "fresh_plan_changes": left}


def _groups(names: Sequence[str], k: int) -> list[list[str]]:
    k = max(1, min(k, len(names)))
    return [list(names[i::k]) for i in range(k)]


def _data(p: Params) -> str:
    return json.dumps({**p.data(), "workdir": p.workdir})


def _params(data: str) -> Params:
    p = json.loads(data)
    p["marketplaces"] = tuple(p["marketplaces"].split(","))
    return Params(**{k: v for k, v in p.items() if k in Params.__dataclass_fields__})


def worker_main(argv: list[str]) -> None:
    """``python -m bench.agency --worker URL STATE ACCOUNTS,.. PARAMS``: one group."""
    url, state, names = argv[0], argv[1], argv[2].split(",")
    p = _params(argv[3])
    print(json.dumps(_work(p, prepare(p), url, names, state)), flush=True)


def scenario_agency(p: Params) -> dict[str, Any]:
    import tempfile

    p = agency_defaults(p)
    if p.accounts < 1:
        raise SystemExit("agency: --accounts must be at least 1")
    load0 = os.getloadavg()
    base = _dir(p)
    seed = base / f"drift{p.drift:g}.seed.json"
    if not (base / ".complete").exists() or not seed.with_suffix(".info.json").exists():
        # in a child: its memory must not count in this process's peak
        subprocess.run([sys.executable, "-m", "bench.agency", "--prepare", _data(p)],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    prep = prepare(p)
    names = sorted(prep.accounts)
    with _emulator(p, prep) as emu, tempfile.TemporaryDirectory(prefix="bench-agency-") as sd:
        mark = emu.mark()
        started, t_start = time.perf_counter(), time.time()
        if p.processes <= 1:
            results = [_work(p, prep, emu.url, names, sd)]
        else:
            pdata = _data(p)
            procs = []
            for i, g in enumerate(_groups(names, p.processes)):
                state = os.path.join(sd, f"g{i}")
                os.makedirs(state)
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "bench.agency", "--worker", emu.url, state,
                     ",".join(g), pdata], cwd=ROOT, stdout=subprocess.PIPE, text=True))
            results = []
            for pr in procs:
                out, _ = pr.communicate()
                if pr.returncode != 0:
                    raise RuntimeError(f"agency worker failed ({pr.returncode})")
                results.append(json.loads(out.strip().splitlines()[-1]))
        total_wall = time.perf_counter() - started
        calls, throttled = emu.calls_since(mark)
        late = throttled_after_burst(emu._conn(), mark, 1.0 + p.latency_ms / 1000)
        emu_db_rows = emu._conn().execute(
            "SELECT operation, COUNT(*) FROM calls WHERE id > ? AND status = 429 "
            "GROUP BY operation", (mark,)).fetchall()
        emu_rss = _emulator_rss(emu)
        emu_cpu = _emulator_cpu(emu)
    changes: dict[str, int] = {}
    left: dict[str, int] = {}
    outcomes: dict[str, int] = defaultdict(int)
    for r in results:
        changes.update(r["changes"])
        left.update(r["fresh_plan_changes"])
        for k, v in r["outcomes"].items():
            outcomes[k] += v
    wall = max(r["end"] for r in results) - t_start  # from the start to the last apply's end
    per_seller_changes: dict[str, dict[str, int]] = {}
    bound, worst = 0.0, ""
    share = {a: changes.get(a, 0) / max(1, sum(prep.per_seller[s].values()))
             for a, s in prep.accounts.items()}
    for a, s in prep.accounts.items():
        mps = prep.per_seller[s]
        changed = {mp: round(n * share[a]) for mp, n in mps.items()}
        per_seller_changes[s] = changed
        b = lowerbound.plan_bound({s: mps}) + lowerbound.apply_bound(
            {s: changed}, p.strategy, processing_s=p.feed_processing_s,
            per_message_s=FEED_PER_MESSAGE_S, write_delay_s=p.write_delay_s)["total"]
        if b > bound:
            bound, worst = b, a
    bound /= p.time_scale
    if p.processes > 1:  # the parent (no listings) plus the workers' peaks, summed
        peak = _rss_mib(resource.RUSAGE_SELF) + sum(r["peak_rss_mib"] for r in results)
        peak_all = _rss_mib(resource.RUSAGE_SELF) + sum(
            r["peak_rss_with_check_mib"] for r in results)
    else:
        peak, peak_all = results[0]["peak_rss_mib"], results[0]["peak_rss_with_check_mib"]
    return {
        "scenario": "agency", "params": p.data(), "accounts": p.accounts,
        "listings": prep.listings, "processes": max(1, min(p.processes, len(names))),
        "wall_s": round(wall, 3), "lower_bound_s": round(bound, 3),
        "ratio": round(wall / bound, 3) if bound else None, "slowest_seller": worst,
        "cpu_s": round(sum(r["cpu_s"] for r in results), 3),
        "peak_rss_mib": round(peak, 1), "peak_rss_with_check_mib": round(peak_all, 1),
        "emulator_peak_rss_mib": emu_rss,
        "emulator_cpu_s": emu_cpu,
        "stages_s": {k: round(max(r[k] for r in results), 3)
                     for k in ("load_s", "plan_s", "apply_s")},
        "changes": sum(changes.values()), "outcomes": dict(outcomes),
        "fresh_plan_changes": sum(left.values()),
        "fresh_plan_changes_per_account": {a: n for a, n in sorted(left.items()) if n},
        "calls": calls, "throttled": throttled,
        "throttled_after_burst": sum(n for ops in late.values() for n in ops.values()),
        "throttled_after_burst_per_seller": late,
        "throttled_per_operation": _throttled_ops(emu_db_rows),
        "total_wall_with_fresh_plan_s": round(total_wall, 3),
        "loadavg": {"start": [round(x, 2) for x in load0],
                    "end": [round(x, 2) for x in os.getloadavg()]},
        "cpus": os.cpu_count(),
    }


def _throttled_ops(rows: Sequence[tuple[str, int]]) -> dict[str, int]:
    return {str(op): int(n) for op, n in rows}


def _emulator_cpu(emu: ServerEmulator) -> float | None:
    """The emulator's CPU seconds so far (user + system, /proc; Linux only): it shares the
    machine's cores with the reconciler."""
    try:
        fields = Path(f"/proc/{emu.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 1)


def _emulator_rss(emu: ServerEmulator) -> float | None:
    """The emulator's peak RSS (VmHWM), read while it still runs (Linux only)."""
    try:
        for line in Path(f"/proc/{emu.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def agency_defaults(p: Params) -> Params:
    """The agency's defaults where the common ones were left: Amazon's speed (time scale 1),
    2,040 SKUs per seller (x 3 marketplaces: 306 searches, 60.2 s of one seller's search
    quota), 5 % drift, a patch apply, a 10 s write delay."""
    d = Params()
    return replace(
        p,
        time_scale=1.0 if p.time_scale == d.time_scale else p.time_scale,
        skus=2040 if p.skus == d.skus else p.skus,
        drift=0.05 if p.drift == d.drift else p.drift,
        strategy="patch" if p.strategy == d.strategy else p.strategy,
        write_delay_s=10.0 if p.write_delay_s == d.write_delay_s else p.write_delay_s,
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker_main(sys.argv[2:])
    elif sys.argv[1:2] == ["--prepare"]:
        prepare(_params(sys.argv[2]))
