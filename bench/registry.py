"""The scenarios ``python -m bench`` runs, by name. Separate from :mod:`bench.scenarios` so that
the naive baseline (:mod:`bench.naive`, which builds on the scenarios' helpers) is registered
without an import circle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.agency import scenario_agency
from bench.hybrid import scenario_hybrid
from bench.naive import scenario_naive
from bench.scenarios import (
    Params,
    scenario_apply,
    scenario_incremental,
    scenario_local,
    scenario_noop,
    scenario_plan,
)
from bench.watch import scenario_watch

SCENARIOS: dict[str, Callable[[Params], dict[str, Any]]] = {
    "plan": scenario_plan,
    "apply": scenario_apply,
    "noop": scenario_noop,
    "incremental": scenario_incremental,
    "naive": scenario_naive,
    "local": scenario_local,
    "hybrid": scenario_hybrid,
    "watch": scenario_watch,  # its own options: python -m bench watch --help
    "agency": scenario_agency,
}
