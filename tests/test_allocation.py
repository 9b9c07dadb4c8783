"""Allocation policy: the seed's refill rule, made total and deterministic.

Worked examples for each knob (threshold, MAX, buffer, floor, neediest-first order), and
hypothesis properties: quantities never negative, never over MAX, never more than the stock.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.catalog.allocation import Policy, allocate


def test_refill_below_threshold_by_min_central_max_minus_local() -> None:
    a = allocate(Policy(max=40, threshold=12), central=120, sites={"a": 4, "b": 18})
    assert a.refills == {"a": 36, "b": 0}  # min(120, 40 - 4); b is above the threshold
    assert a.quantities == {"a": 40, "b": 18}
    assert a.central_left == 84


def test_central_runs_out_neediest_first() -> None:
    a = allocate(Policy(max=20), central=10, sites={"x": 5, "y": 0})
    assert a.refills == {"y": 10, "x": 0}
    assert a.quantities == {"y": 10, "x": 5}
    assert a.central_left == 0


def test_buffer_and_floor() -> None:
    a = allocate(Policy(max=40, threshold=0, buffer=2, floor=3), central=0,
                 sites={"a": 4, "b": 5, "c": 1})
    # a: 4 - 2 = 2 < floor 3 -> 0; b: 5 - 2 = 3; c: 1 - 2 < 0 -> 0
    assert a.quantities == {"a": 0, "b": 3, "c": 0}


def test_offer_is_capped_at_max() -> None:
    a = allocate(Policy(max=10), central=50, sites={"a": 25})
    assert a.quantities == {"a": 10} and a.refills == {"a": 0}


def test_sample_catalog_numbers() -> None:
    # BTL-INS-750 in catalog/stock.csv with the "standard" policy of catalog/locations.yaml
    a = allocate(Policy(max=40, threshold=12, buffer=2, floor=3), central=120,
                 sites={"newark": 4, "reno": 18, "toronto": 0})
    assert a.quantities == {"toronto": 38, "newark": 38, "reno": 16}
    assert a.central_left == 44


def test_negative_stock_is_rejected() -> None:
    with pytest.raises(ValueError):
        allocate(Policy(max=5), central=-1, sites={})
    with pytest.raises(ValueError):
        Policy(max=-1)


policies = st.builds(
    Policy,
    max=st.integers(0, 200),
    threshold=st.one_of(st.none(), st.integers(0, 250)),
    buffer=st.integers(0, 20),
    floor=st.integers(0, 20),
)
site_maps = st.dictionaries(st.text("abcdefgh", min_size=1, max_size=3), st.integers(0, 300),
                            max_size=8)


@given(policies, st.integers(0, 1000), site_maps)
def test_allocation_never_exceeds_stock_and_is_never_negative(
    policy: Policy, central: int, sites: dict[str, int]
) -> None:
    a = allocate(policy, central, sites)
    assert set(a.quantities) == set(sites)
    assert all(q >= 0 for q in a.quantities.values())
    assert all(q <= policy.max for q in a.quantities.values())
    assert sum(a.quantities.values()) <= central + sum(sites.values())
    assert 0 <= a.central_left <= central
    assert sum(a.refills.values()) == central - a.central_left
    for name, q in a.quantities.items():
        assert q <= sites[name] + a.refills[name]
