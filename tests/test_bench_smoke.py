"""Smoke versions of every benchmark scenario (issue 7), so the bench code cannot rot.

Covers: each scenario's JSON object (the common fields, JSON-serialisable), and the invariants
the full runs report: a full plan reads with ceil(N/20) searches and writes nothing; apply
(patch and feed) converges every change; the no-op plan after apply has no change and makes
no write call; the incremental plan reads only what was edited; the naive loop makes one GET
per listing and one PATCH per changed one; the local path plans every listing. Tiny sizes, the
emulator in-process with a large time scale; one plan goes through the real HTTP server.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench import lowerbound
from bench.__main__ import main as bench_main
from bench.registry import SCENARIOS
from bench.scenarios import Params, prepare

COMMON = ("scenario", "params", "wall_s", "cpu_s", "peak_rss_mib", "calls", "lower_bound_s",
          "ratio")


@pytest.fixture()
def params(tmp_path: Path) -> Params:
    return Params(skus=8, marketplaces=("US", "CA", "MX"), drift=1.0, time_scale=400.0,
                  latency_ms=300.0, feed_processing_s=20.0, naive_listings=12,
                  in_process=True, workdir=str(tmp_path / "work"))


def run(name: str, p: Params) -> dict[str, Any]:
    out = SCENARIOS[name](p)
    json.dumps(out)  # one JSON object
    for k in COMMON:
        assert k in out, k
    assert out["scenario"] == name
    assert out["wall_s"] > 0 and out["cpu_s"] > 0 and out["peak_rss_mib"] > 10
    return out


def test_plan_reads_in_searches_of_20_and_writes_nothing(params: Params) -> None:
    out = run("plan", params)
    assert out["listings"] == 24 and out["changes"] == 24
    assert out["calls"] == {"searchListingsItems": 3 * math.ceil(8 / 20)}
    assert out["write_calls"] == 0
    assert out["lower_bound_s"] == 0  # 3 searches fit in the burst of 5
    assert out["ratio"] is None


@pytest.mark.parametrize("strategy", ["patch", "feed"])
def test_apply_converges_every_change(params: Params, strategy: str) -> None:
    out = run("apply", replace(params, strategy=strategy))
    assert out["strategy"] == strategy
    assert out["outcomes"] == {"converged": 24}
    if strategy == "patch":
        assert out["calls"]["patchListingsItem"] == 24
        assert out["ratio"] > 0
        # the Amazon-time estimate stretches only the bound: between the bound and the wall
        est = out["amazon"]["wall_est_s"]
        assert out["amazon"]["lower_bound_s"] < est < out["amazon"]["wall_s"]
    else:
        assert out["feeds"] == 3 and out["calls"]["createFeed"] == 3
        assert out["lower_bound_s"] > 0 and out["ratio"] > 0
    assert out["lower_bound_parts_s"]["pipelined"] <= out["lower_bound_parts_s"]["total"]


def test_noop_plan_after_apply_makes_no_write_call(params: Params) -> None:
    out = run("noop", params)
    assert out["applied_before"] == {"converged": 24}
    assert out["changes"] == 0
    assert out["write_calls"] == 0
    assert not set(out["calls_plan_and_apply"]) & {"patchListingsItem", "createFeed"}


def test_incremental_reads_only_the_edited_listings(params: Params) -> None:
    out = run("incremental", replace(params, skus=40, change=0.05))
    assert out["changes_full"] == 0  # in-sync seed
    assert out["edited"] == 6 and out["changes"] == 6
    assert out["fresh"] == 6 and out["cached"] == 114
    assert out["calls"] == {"searchListingsItems": 3}  # one lastUpdatedAfter page per mp
    assert out["vs_full"] > 0


def test_naive_gets_every_listing_and_patches_the_changed(params: Params) -> None:
    out = run("naive", replace(params, versus_wall_s=1.0, versus_amazon_s=400.0))
    assert out["listings_run"] == 12 and out["changes"] == 12
    assert out["calls"] == {"getListingsItem": 12, "patchListingsItem": 12}
    assert out["extrapolated_wall_s"] > out["wall_s"]  # 24 listings at the rate of 12
    assert out["speedup"] > 0 and out["ratio"] > 0
    assert out["amazon"]["speedup_est"] == pytest.approx(out["speedup"], rel=0.01)


def test_local_plans_every_listing(params: Params) -> None:
    out = run("local", replace(params, drift=0.5))
    assert out["listings"] == 24 and out["changes"] == 12
    assert set(out["stages_s"]) >= {"load", "desired", "live", "diff+plan", "render_markdown"}
    assert out["render_chars"]["json"] > 0


def test_local_compares_schema_validation_on_and_off(params: Params) -> None:
    out = SCENARIOS["local"](replace(params, drift=0.5, schema_validation="compare", repeat=2))
    json.dumps(out)
    assert all(k in out for k in COMMON)
    assert out["scenario"] == "local-schema-validation" and out["rounds"] == 2
    assert out["listings"] == 24
    assert len(out["runs"]["off"]) == len(out["runs"]["on"]) == 2
    assert out["ratio_wall"] == round(out["with"]["wall_s"] / out["without"]["wall_s"], 3)
    assert out["with"]["desired_s"] > 0 and out["without"]["desired_s"] > 0


def test_plan_over_real_http_server(params: Params, capsys: pytest.CaptureFixture[str]) -> None:
    p = replace(params, in_process=False, skus=4)
    prepare(p)  # cached: no preparation subprocess
    bench_main(["plan", "--skus", "4", "--time-scale", "400", "--workdir", p.workdir])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["params"]["in_process"] is False
    assert out["calls"] == {"searchListingsItems": 3} and out["changes"] == 12


def test_lower_bounds_follow_the_formula() -> None:
    one = {"S": {"US": 10_000, "CA": 10_000, "MX": 10_000}}
    assert lowerbound.plan_bound(one) == (1500 - 5) / 5
    b = lowerbound.apply_bound(one, "patch", processing_s=300, per_message_s=0.0005)
    assert b["write"] == (30_000 - 5) / 5 and b["total"] == b["write"] + b["verify"]
    f = lowerbound.apply_bound(one, "feed", processing_s=300, per_message_s=0.0005)
    # three feeds of 10k, one after another: queue P/4, then 3 x (3P/4 + 10k x m)
    assert f["write"] == pytest.approx(75 + 3 * (225 + 5))
    assert f["pipelined"] < f["total"]
