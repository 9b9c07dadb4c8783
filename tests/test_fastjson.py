"""reconciler/kernel/fastjson.py: orjson (the ``fast`` extra) and the standard library decode
SP-API bodies to the same values; what orjson refuses but the standard library accepts still
decodes; invalid JSON is a ValueError either way."""

from __future__ import annotations

import json
import math

import pytest

from reconciler.kernel import fastjson

BODIES = [
    b'{"items": [{"sku": "BK-1", "attributes": {"purchasable_offer": [{"our_price": '
    b'[{"schedule": [{"value_with_tax": 19.99}]}]}]}}], "numberOfResults": 1}',
    '{"title": "Tasse – spülmaschinenfest", "q": 0, "n": null, "b": true}'.encode(),
    b'{"ints": [0, -1, 9223372036854775807, -9223372036854775808], "f": 1e-7}',
]


@pytest.mark.parametrize("body", BODIES)
def test_both_decoders_agree(body: bytes) -> None:
    assert fastjson.loads_json(body) == fastjson._stdlib(body) == json.loads(body)


def test_an_integer_beyond_64_bits_is_the_one_difference() -> None:
    big = 123456789012345678901234567890
    assert fastjson.loads_json(b'{"big": %d}' % big)["big"] == pytest.approx(big)


def test_nan_falls_back_to_the_standard_library() -> None:
    data = fastjson.loads_json(b'{"x": NaN}')
    assert math.isnan(data["x"])


@pytest.mark.parametrize("body", [b"{", b"not json", b'{"a": 1,}'])
def test_invalid_json_is_a_value_error(body: bytes) -> None:
    with pytest.raises(ValueError):
        fastjson.loads_json(body)


def test_orjson_is_used_when_installed() -> None:
    pytest.importorskip("orjson")
    assert fastjson.loads_json is fastjson._fast


@pytest.mark.parametrize("body", BODIES)
def test_the_cache_copy_reads_back_to_the_same_values(body: bytes) -> None:
    data = json.loads(body)
    text = fastjson.dumps_sorted(data)
    assert json.loads(text) == data
    orders: list[list[str]] = []
    json.loads(text, object_pairs_hook=lambda pairs: orders.append([k for k, _ in pairs]))
    assert orders and all(keys == sorted(keys) for keys in orders)  # keys sorted
    assert ', "' not in text and '": ' not in text  # compact


def test_what_orjson_cannot_write_is_written_by_the_standard_library() -> None:
    big = {"b": 123456789012345678901234567890, "a": [1]}
    assert json.loads(fastjson.dumps_sorted(big)) == big
