"""Allocation at its boundaries (tests/test_allocation.py has the worked examples).

A site exactly at its refill threshold is not refilled (only *below* it is); threshold 0 never
refills; a site above MAX under a higher threshold gets nothing; an offer exactly at the floor
is kept; equal stock is served by name; every policy knob refuses a negative value.
"""

from __future__ import annotations

import pytest

from reconciler.catalog.allocation import Allocation, Policy, allocate


def test_a_site_exactly_at_its_threshold_is_not_refilled() -> None:
    a = allocate(Policy(max=40, threshold=12), central=100, sites={"at": 12, "below": 11})
    assert a.refills == {"below": 29, "at": 0}
    assert a.quantities == {"below": 40, "at": 12}
    assert a.central_left == 71


def test_without_a_threshold_a_site_exactly_at_max_is_not_refilled() -> None:
    a = allocate(Policy(max=10), central=5, sites={"full": 10, "short": 9})
    assert a == Allocation({"short": 10, "full": 10}, {"short": 1, "full": 0}, 4)


def test_threshold_zero_never_refills() -> None:
    a = allocate(Policy(max=10, threshold=0), central=50, sites={"empty": 0, "some": 3})
    assert a == Allocation({"empty": 0, "some": 3}, {"empty": 0, "some": 0}, 50)


def test_a_site_over_max_under_a_higher_threshold_gets_nothing() -> None:
    a = allocate(Policy(max=10, threshold=50), central=30, sites={"big": 20})
    assert a == Allocation({"big": 10}, {"big": 0}, 30)


def test_an_offer_exactly_at_the_floor_is_kept() -> None:
    a = allocate(Policy(max=10, threshold=0, buffer=1, floor=3), central=0,
                 sites={"at": 4, "under": 3})
    assert a.quantities == {"under": 0, "at": 3}


def test_the_buffer_is_held_back_after_a_refill() -> None:
    a = allocate(Policy(max=10, buffer=2), central=4, sites={"s": 1})
    assert a == Allocation({"s": 3}, {"s": 4}, 0)  # 1 + 4 = 5 on hand, 2 held back


def test_equal_stock_is_served_in_name_order() -> None:
    a = allocate(Policy(max=10), central=6, sites={"b": 0, "a": 0, "c": 0})
    assert list(a.quantities) == ["a", "b", "c"]
    assert a.refills == {"a": 6, "b": 0, "c": 0}
    a = allocate(Policy(max=10), central=6, sites={"a": 2, "b": 1})
    assert a.refills == {"b": 6, "a": 0}  # the neediest first, whatever its name


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max": -1}, "max must be >= 0"),
        ({"max": 1, "buffer": -1}, "buffer must be >= 0"),
        ({"max": 1, "floor": -1}, "floor must be >= 0"),
        ({"max": 1, "threshold": -1}, "threshold must be >= 0"),
    ],
)
def test_policy_knobs_refuse_negative_values(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError) as e:
        Policy(**kwargs)
    assert str(e.value) == message


def test_zero_is_a_valid_value_for_every_knob() -> None:
    assert Policy(max=0, threshold=0, buffer=0, floor=0).max == 0
    assert allocate(Policy(max=0), central=5, sites={"s": 3}) == Allocation({"s": 0}, {"s": 0}, 5)


def test_negative_site_stock_is_refused() -> None:
    with pytest.raises(ValueError) as e:
        allocate(Policy(max=5), central=3, sites={"s": -1})
    assert str(e.value) == "stock on hand cannot be negative"
    assert allocate(Policy(max=5), central=0, sites={}) == Allocation({}, {}, 0)
