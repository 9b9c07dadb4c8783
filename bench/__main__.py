"""``python -m bench SCENARIO [options]``: run one scenario, print one JSON object.

Scenarios: plan, apply, noop, incremental, naive, local, agency (bench/agency.py: N sellers
at Amazon's speed), report (bench/report.py, its own options); ``all`` runs every row of the table
(each scenario in its own process, so peak RSS is per scenario) and prints one line each;
``prepare`` writes the cached catalog/seed (and ``--items`` the captured live Items).
See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.registry import SCENARIOS
from bench.scenarios import (
    Params,
    capture_items,
    default_workdir,
    prepare,
    with_defaults,
)

ROOT = Path(__file__).resolve().parent.parent


def _parser() -> argparse.ArgumentParser:
    d = Params()
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", choices=[*SCENARIOS, "all", "prepare"])
    ap.add_argument("--skus", type=int, default=d.skus,
                    help="SKUs (listings = SKUs x marketplaces); local defaults to 33334")
    ap.add_argument("--marketplaces", default=None,
                    help=f"default {','.join(d.marketplaces)} (hybrid: US)")
    ap.add_argument("--drift", type=float, default=d.drift,
                    help="share of live listings that differ from the catalog (0..1)")
    ap.add_argument("--time-scale", type=float, default=None,
                    help=f"default {d.time_scale:g} (hybrid: 5)")
    ap.add_argument("--latency", type=float, default=d.latency_ms,
                    help="emulated latency per request, Amazon ms (scaled)")
    ap.add_argument("--feed-processing", type=float, default=d.feed_processing_s,
                    help="modelled feed processing, Amazon seconds (scaled)")
    ap.add_argument("--write-delay", type=float, default=d.write_delay_s,
                    help="until an accepted write is visible, Amazon seconds (scaled)")
    ap.add_argument("--feed-per-message", type=float, default=None,
                    help="feed processing per message, Amazon seconds (scaled; emulator default "
                         "0.0005, hybrid default 0.1)")
    ap.add_argument("--changes", type=int, default=d.changes,
                    help="hybrid: changes of the one seller (SKUs = changes / marketplaces)")
    ap.add_argument("--strategy", choices=["auto", "patch", "feed"], default=d.strategy)
    ap.add_argument("--change", type=float, default=d.change,
                    help="incremental: share of listings edited on Amazon")
    ap.add_argument("--naive-listings", type=int, default=d.naive_listings)
    ap.add_argument("--local-skus", type=int, default=33_334,
                    help="all: SKUs of the local scenario (33,334 x 3 = 100,002 listings)")
    ap.add_argument("--versus-wall-s", type=float, default=0.0,
                    help="naive: plan+apply wall of the same work (for the speedup)")
    ap.add_argument("--versus-amazon-s", type=float, default=0.0,
                    help="naive: plan+apply Amazon-time estimate of the same work")
    ap.add_argument("--in-process", action="store_true",
                    help="run the emulator in this process instead of a server subprocess")
    ap.add_argument("--workdir", default=str(default_workdir()))
    ap.add_argument("--items", action="store_true", help="prepare: also capture live Items")
    ap.add_argument("--out", default="", help="all: also append the JSON lines to this file")
    ap.add_argument("--schema-validation", choices=["on", "off", "compare"], default="on",
                    help="local: validate listings against their product type definitions (on), "
                         "not (off), or run both and report both figures (compare)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="local --schema-validation compare: rounds of (off, on); medians reported")
    ap.add_argument("--accounts", type=int, default=d.accounts,
                    help="agency: seller accounts (each --skus SKUs of its own)")
    ap.add_argument("--processes", type=int, default=d.processes,
                    help="agency: worker processes, each planning and applying a group of "
                         "accounts (1: every account in this process, one thread each)")
    ap.add_argument("--profile", default="",
                    help="write a cProfile of the scenario to this file (top 30 on stderr)")
    return ap


def params_from(ns: argparse.Namespace) -> Params:
    d = Params()
    if getattr(ns, "scenario", "") == "hybrid":  # bench/hybrid.py: one marketplace, slow feeds
        from bench.hybrid import (
            HYBRID_FEED_PER_MESSAGE_S,
            HYBRID_MARKETPLACES,
            HYBRID_TIME_SCALE,
        )

        ns.marketplaces = ns.marketplaces or HYBRID_MARKETPLACES
        ns.time_scale = ns.time_scale or HYBRID_TIME_SCALE
        if ns.feed_per_message is None:
            ns.feed_per_message = HYBRID_FEED_PER_MESSAGE_S
    return Params(
        skus=ns.skus,
        marketplaces=tuple(m.strip().upper()
                           for m in (ns.marketplaces or ",".join(d.marketplaces)).split(",")),
        drift=ns.drift, time_scale=ns.time_scale or d.time_scale, latency_ms=ns.latency,
        feed_processing_s=ns.feed_processing, write_delay_s=ns.write_delay,
        strategy=ns.strategy, change=ns.change,
        naive_listings=ns.naive_listings, versus_wall_s=ns.versus_wall_s,
        versus_amazon_s=ns.versus_amazon_s,
        in_process=ns.in_process, workdir=ns.workdir, schema_validation=ns.schema_validation,
        repeat=ns.repeat, changes=ns.changes, accounts=ns.accounts, processes=ns.processes,
        **({} if ns.feed_per_message is None else {"feed_per_message_s": ns.feed_per_message}),
    )


def _child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=ROOT, check=True, capture_output=True,
        text=True,
    ).stdout.strip().splitlines()
    data: dict[str, Any] = json.loads(out[-1])
    return data


def run_all(ns: argparse.Namespace, argv: list[str]) -> None:
    base = [a for a in argv if a not in ("all",)]
    strip = {"--strategy", "--skus", "--versus-wall-s", "--versus-amazon-s", "--out",
             "--local-skus"}
    cleaned: list[str] = []
    skip = False
    for a in base:
        if skip:
            skip = False
            continue
        if a in strip:
            skip = True
            continue
        if a.split("=", 1)[0] in strip:
            continue
        cleaned.append(a)
    sku_args = ["--skus", str(ns.skus)]
    rows: list[dict[str, Any]] = []

    def emit(r: dict[str, Any]) -> None:
        rows.append(r)
        line = json.dumps(r)
        print(line, flush=True)
        if ns.out:
            with open(ns.out, "a", encoding="utf-8") as f:
                f.write(line + "\n")

    plan = _child(["plan", *sku_args, *cleaned])
    emit(plan)
    applied: dict[str, dict[str, Any]] = {}
    for strategy in ("auto", "feed", "patch"):
        applied[strategy] = r = _child(["apply", "--strategy", strategy, *sku_args, *cleaned])
        emit(r)
    emit(_child(["noop", *sku_args, *cleaned]))
    emit(_child(["incremental", *sku_args, *cleaned]))
    versus = plan["wall_s"] + applied["auto"]["wall_s"]
    versus_amazon = plan["amazon"]["wall_est_s"] + applied["auto"]["amazon"]["wall_est_s"]
    emit(_child(["naive", *sku_args, "--versus-wall-s", f"{versus:.3f}",
                 "--versus-amazon-s", f"{versus_amazon:.3f}", *cleaned]))
    emit(_child(["local", "--skus", str(ns.local_skus), *cleaned]))


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["report"]:  # the monitoring report has its own options (bench/report.py)
        from bench.report import main as report_main

        report_main(argv[1:])
        return
    if argv[:1] == ["watch"]:  # real-time stock (bench/watch.py, its own options)
        from bench.watch import main as watch_main

        watch_main(argv[1:])
        return
    ns = _parser().parse_args(argv)
    p = params_from(ns)
    if ns.scenario == "all":
        run_all(ns, argv)
        return
    if ns.scenario == "prepare":
        prepared = prepare(p)
        if ns.items:
            capture_items(p)
        print(json.dumps({"prepared": str(prepared.catalog), "listings": prepared.listings}))
        return
    p = with_defaults(ns.scenario, replace(p))
    if ns.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        result = prof.runcall(SCENARIOS[ns.scenario], p)
        prof.dump_stats(ns.profile)
        stats = pstats.Stats(prof, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(20)
    else:
        result = SCENARIOS[ns.scenario](p)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
