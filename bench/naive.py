"""The naive baseline: the seed article's loop (issue 7).

For each marketplace, for each SKU: ``getListingsItem``, compare, ``patchListingsItem`` when
it differs. Sequential, plain HTTP (no client-side pacing), retrying on 429 after a fixed
sleep. It uses the reconciler's own desired state, normalizer, diff and patch builder, so it
does the same work as plan + apply (minus the verify read-back), only the naive way.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import httpx

from bench import lowerbound
from bench.emu import refresh_token_for
from bench.scenarios import (
    Meter,
    Params,
    _figures,
    _r,
    _write_calls,
    emulator,
    ensure_prepared,
)
from reconciler.catalog.desired import build
from reconciler.catalog.loader import load
from reconciler.kernel.model import LiveListing
from reconciler.live import normalize as live_mod
from reconciler.plan.change import Change
from reconciler.plan.diff import diff_listing
from reconciler.plan.patches import listing_request
from reconciler.spapi.client import DEFAULT_INCLUDED


def naive_loop(
    http: httpx.Client, base_url: str, token: str, seller_id: str,
    desired: list[Any], marketplace_codes: Mapping[str, str],
    mps: Mapping[tuple[str, str], Any], retry_sleep_s: float,
) -> dict[str, int]:
    """The seed article's loop: per marketplace, per SKU, getListingsItem; patchListingsItem
    when it differs. Sequential, retrying on 429 (fixed sleep), no client-side pacing."""
    counts = {"gets": 0, "patches": 0, "retries": 0, "changed": 0}
    headers = {"x-amz-access-token": token, "content-type": "application/json"}
    by_mp: dict[str, list[Any]] = defaultdict(list)
    for d in desired:
        by_mp[d.key.marketplace_id].append(d)

    def send(method: str, url: str, **kw: Any) -> httpx.Response:
        while True:
            r = http.request(method, url, headers=headers, **kw)
            if r.status_code != 429:
                return r
            counts["retries"] += 1
            time.sleep(retry_sleep_s)

    for mp_id, ds in sorted(by_mp.items()):
        for d in ds:
            url = f"{base_url}/listings/2021-08-01/items/{seller_id}/{d.key.sku}"
            r = send("GET", url, params={"marketplaceIds": mp_id,
                                         "includedData": ",".join(DEFAULT_INCLUDED)})
            counts["gets"] += 1
            live: LiveListing | None = None
            if r.status_code == 200:
                live = live_mod.normalize_item(r.json(), d.key, mps[(d.key.account, mp_id)])
            fields = diff_listing(d, live)
            if not fields:
                continue
            counts["changed"] += 1
            change = Change(d.key, marketplace_codes[mp_id],
                            "create" if live is None else "update", d.product_type, fields,
                            (), d.mli)
            req = listing_request(change)
            method = "PUT" if req.method == "PUT" else "PATCH"
            send(method, url, params={"marketplaceIds": mp_id}, json=req.body)
            counts["patches"] += 1
    return counts


def scenario_naive(p: Params) -> dict[str, Any]:
    """The naive baseline on the first listings (``p.naive_listings``, whole SKUs across the
    marketplaces), extrapolated to all listings at the measured rate."""
    prep = ensure_prepared(p)
    desired = build(load(prep.catalog))
    n_mps = len(p.marketplaces)
    skus = sorted({d.key.sku for d in desired.listings})[: max(1, p.naive_listings // n_mps)]
    wanted = set(skus)
    subset = [d for d in desired.listings if d.key.sku in wanted and d.state != "absent"]
    codes = {m.marketplace_id: m.code for a in desired.accounts for m in a.marketplaces}
    mps = {(a.name, m.marketplace_id): m for a in desired.accounts for m in a.marketplaces}
    sellers = {a.name: a.seller_id for a in desired.accounts}
    with emulator(p, prep) as emu:
        http = httpx.Client(transport=emu.transport, timeout=60.0)
        try:
            toks = {
                seller: http.post(emu.url + "/auth/o2/token", data={
                    "grant_type": "refresh_token", "refresh_token": refresh_token_for(seller),
                    "client_id": "bench", "client_secret": "bench"}).json()["access_token"]
                for seller in sellers.values()
            }
            mark = emu.mark()
            m = Meter()
            counts: dict[str, int] = defaultdict(int)
            with m:
                for account, seller in sorted(sellers.items()):
                    mine = [d for d in subset if d.key.account == account]
                    for k, v in naive_loop(http, emu.url, toks[seller], seller, mine, codes, mps,
                                           1.0 / p.time_scale).items():
                        counts[k] += v
            calls, throttled = emu.calls_since(mark)
        finally:
            http.close()
    n = len(subset)
    rate = n / m.wall if m.wall > 0 else 0.0
    share = counts["changed"] / n if n else 0.0
    sub_seller = {
        sellers[a]: {mp: sum(1 for d in subset if d.key.account == a and d.key.marketplace_id == mp)
                     for mp in {d.key.marketplace_id for d in subset if d.key.account == a}}
        for a in sellers
    }
    bound = lowerbound.naive_bound(sub_seller, share, p.latency_ms / 1000)
    out = {"scenario": "naive", "params": p.data(), **_figures(p, m, bound),
           "listings_run": n, "changes": counts["changed"], "calls": calls,
           "throttled": throttled, "write_calls": _write_calls(calls),
           "listings_per_s": round(rate, 3),
           "amazon_listings_per_s": round(rate / p.time_scale, 4),
           "listings": prep.listings,
           "extrapolated_wall_s": _r(prep.listings / rate) if rate else None}
    if out["extrapolated_wall_s"]:
        out["amazon"]["extrapolated_wall_s"] = _r(out["extrapolated_wall_s"] * p.time_scale)
    if p.versus_wall_s > 0 and rate:
        out["plan_apply_wall_s"] = p.versus_wall_s
        out["speedup"] = round(prep.listings / rate / p.versus_wall_s, 2)
    if p.versus_amazon_s > 0 and rate:
        # the naive loop is latency-bound: its Amazon time is its wall x time scale
        out["amazon"]["plan_apply_wall_est_s"] = p.versus_amazon_s
        out["amazon"]["speedup_est"] = round(
            prep.listings / rate * p.time_scale / p.versus_amazon_s, 2)
    return out
