"""Emulator Listings Items API (in-process transport, fake clock).

Covers: patch semantics per CONTRACT §3.3 (replace keeps other selectors, merge keeps sibling
fields and deletes on null, delete needs selector values), INVALID issues (unknown attribute,
missing selector, negative quantity, missing price, inactive MLI channel), VALIDATION_PREVIEW
persists nothing, ACCEPTED writes visible only after the delay and applied in order, derived read
shapes (summaries, offers, fulfillmentAvailability, reordered attributes), percent-decoded SKUs,
search filters/sorting/pagination/cap and its 400s, malformed input (415/400), history.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from reconciler.emulator import auth
from reconciler.emulator.app import Emulator
from reconciler.emulator.state import EmulatorConfig

SELLER = "A1PP0FEH11RW77"
US = "ATVPDKIKX0DER"
CA = "A2EUQ1WTGCTBG2"
BASE = f"/listings/2021-08-01/items/{SELLER}"
ALL_DATA = "summaries,attributes,issues,offers,fulfillmentAvailability"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def mug_attributes(qty_nyc: int = 4) -> dict[str, Any]:
    return {
        "item_name": [{"value": "Mug", "language_tag": "en_US"}],
        "purchasable_offer": [
            {
                "currency": "USD",
                "audience": "ALL",
                "our_price": [{"schedule": [{"value_with_tax": 26.99}]}],
                "discounted_price": [
                    {
                        "schedule": [
                            {
                                "value_with_tax": 20.0,
                                "start_at": "2026-01-01",
                                "end_at": "2026-01-31",
                            }
                        ]
                    }
                ],
            }
        ],
        "fulfillment_availability": [
            {"fulfillment_channel_code": "DEFAULT", "quantity": 0},
            {
                "fulfillment_channel_code": "AMAZON_NA",
                "quantity": qty_nyc,
                "lead_time_to_ship_max_days": 2,
            },
        ],
    }


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emu(clock: Clock) -> Iterator[Emulator]:
    # writes visible at once unless a test asks for the delay (test_accepted_writes_are_...)
    e = Emulator(config=EmulatorConfig(quotas=False, write_delay_s=0.0), clock=clock,
                 sleep=lambda s: None)
    e.seed(
        {
            "sellers": {
                SELLER: {
                    "listings": [
                        {
                            "sku": "MUG-1",
                            "marketplaceId": US,
                            "productType": "DRINKING_CUP",
                            "attributes": mug_attributes(),
                        },
                    ]
                }
            }
        }
    )
    yield e
    assert [c for c in e.calls() if c.error] == [], "a handler raised"
    e.close()


@pytest.fixture
def api(emu: Emulator) -> Iterator[httpx.Client]:
    token = auth.issue_token(emu, SELLER)
    with httpx.Client(
        transport=emu.transport(),
        base_url="https://sellingpartnerapi-na.amazon.com",
        headers={"x-amz-access-token": token},
    ) as c:
        yield c


def patch(
    api: httpx.Client,
    sku: str,
    patches: list[dict[str, Any]],
    *,
    mps: str = US,
    product_type: str = "DRINKING_CUP",
    **params: str,
) -> httpx.Response:
    return api.patch(
        f"{BASE}/{quote(sku, safe='')}",
        params={"marketplaceIds": mps, **params},
        json={"productType": product_type, "patches": patches},
    )


def get(api: httpx.Client, sku: str, *, mps: str = US, data: str = ALL_DATA) -> httpx.Response:
    return api.get(
        f"{BASE}/{quote(sku, safe='')}", params={"marketplaceIds": mps, "includedData": data}
    )


def fa(emu: Emulator, sku: str = "MUG-1") -> dict[str, dict[str, Any]]:
    st = emu.listing_state(SELLER, sku, US)
    assert st is not None
    return {e["fulfillment_channel_code"]: e for e in st["attributes"]["fulfillment_availability"]}


# ---------------------------------------------------------------------- patch semantics


def test_replace_keeps_entries_with_other_selectors_and_drops_unsent_fields(
    api: httpx.Client, emu: Emulator
) -> None:
    r = patch(
        api,
        "MUG-1",
        [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "AMAZON_NA", "quantity": 9}],
            }
        ],
    )
    assert r.status_code == 200 and r.json()["status"] == "ACCEPTED", r.text
    entries = fa(emu)
    assert entries["DEFAULT"] == {"fulfillment_channel_code": "DEFAULT", "quantity": 0}
    # replace drops the unsent lead time of the replaced instance (models#4406)
    assert entries["AMAZON_NA"] == {"fulfillment_channel_code": "AMAZON_NA", "quantity": 9}


def test_merge_keeps_lead_time_and_null_deletes_a_field(api: httpx.Client, emu: Emulator) -> None:
    r = patch(
        api,
        "MUG-1",
        [
            {
                "op": "merge",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "AMAZON_NA", "quantity": 7}],
            }
        ],
    )
    assert r.json()["status"] == "ACCEPTED"
    assert fa(emu)["AMAZON_NA"] == {
        "fulfillment_channel_code": "AMAZON_NA",
        "quantity": 7,
        "lead_time_to_ship_max_days": 2,
    }
    r = patch(
        api,
        "MUG-1",
        [
            {
                "op": "merge",
                "path": "/attributes/purchasable_offer",
                "value": [
                    {
                        "currency": "USD",
                        "audience": "ALL",
                        "our_price": [{"schedule": [{"value_with_tax": 25.0}]}],
                        "discounted_price": None,
                    }
                ],
            }
        ],
    )
    assert r.json()["status"] == "ACCEPTED"
    offer = emu.listing_state(SELLER, "MUG-1", US)["attributes"]["purchasable_offer"]  # type: ignore[index]
    assert offer == [
        {
            "currency": "USD",
            "audience": "ALL",
            "marketplace_id": US,
            "our_price": [{"schedule": [{"value_with_tax": 25.0}]}],
        }
    ]


def test_merge_without_a_match_adds_the_entry(api: httpx.Client, emu: Emulator) -> None:
    patch(
        api,
        "MUG-1",
        [
            {
                "op": "merge",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "AMAZON_US_TBYB", "quantity": 1}],
            }
        ],
    )
    assert set(fa(emu)) == {"DEFAULT", "AMAZON_NA", "AMAZON_US_TBYB"}


def test_delete_needs_selector_values(api: httpx.Client, emu: Emulator) -> None:
    r = patch(
        api,
        "MUG-1",
        [{"op": "delete", "path": "/attributes/fulfillment_availability", "value": [{}]}],
    )
    body = r.json()
    assert body["status"] == "INVALID"
    assert "fulfillment_channel_code" in body["issues"][0]["message"]
    assert body["issues"][0]["message"].endswith("The required minimum is '1' value(s).")
    r = patch(api, "MUG-1", [{"op": "delete", "path": "/attributes/fulfillment_availability"}])
    assert r.json()["status"] == "INVALID"
    assert set(fa(emu)) == {"DEFAULT", "AMAZON_NA"}
    r = patch(
        api,
        "MUG-1",
        [
            {
                "op": "delete",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "AMAZON_NA"}],
            }
        ],
    )
    assert r.json()["status"] == "ACCEPTED"
    assert set(fa(emu)) == {"DEFAULT"}
    r = patch(
        api,
        "MUG-1",
        [
            {
                "op": "delete",
                "path": "/attributes/item_name",
                "value": [{"marketplace_id": US, "language_tag": "en_US"}],
            }
        ],
    )
    assert r.json()["status"] == "ACCEPTED"
    assert "item_name" not in emu.listing_state(SELLER, "MUG-1", US)["attributes"]  # type: ignore[index]


def test_replace_of_a_text_only_touches_its_language(api: httpx.Client, emu: Emulator) -> None:
    patch(
        api,
        "MUG-1",
        [
            {
                "op": "add",
                "path": "/attributes/item_name",
                "value": [{"value": "Taza", "language_tag": "es_US"}],
            }
        ],
    )
    patch(
        api,
        "MUG-1",
        [
            {
                "op": "replace",
                "path": "/attributes/item_name",
                "value": [{"value": "Big mug", "language_tag": "en_US"}],
            }
        ],
    )
    names = emu.listing_state(SELLER, "MUG-1", US)["attributes"]["item_name"]  # type: ignore[index]
    assert sorted((n["language_tag"], n["value"]) for n in names) == [
        ("en_US", "Big mug"),
        ("es_US", "Taza"),
    ]


def test_bullets_are_replaced_as_a_list_and_keep_their_order(
    api: httpx.Client, emu: Emulator
) -> None:
    bullets = [{"value": v, "language_tag": "en_US"} for v in ("b", "c", "a")]
    patch(api, "MUG-1", [{"op": "replace", "path": "/attributes/bullet_point", "value": bullets}])
    patch(
        api,
        "MUG-1",
        [
            {
                "op": "replace",
                "path": "/attributes/bullet_point",
                "value": [
                    {"value": "z", "language_tag": "en_US"},
                    {"value": "y", "language_tag": "en_US"},
                ],
            }
        ],
    )
    got = get(api, "MUG-1", data="attributes").json()["attributes"]["bullet_point"]
    assert [b["value"] for b in got] == ["z", "y"]


def test_patch_on_unknown_sku_creates_the_listing(api: httpx.Client, emu: Emulator) -> None:
    r = patch(
        api,
        "NEW-1",
        [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3}],
            }
        ],
        product_type="PRODUCT",
    )
    assert r.json()["status"] == "ACCEPTED"
    assert get(api, "NEW-1").json()["fulfillmentAvailability"] == [
        {"fulfillmentChannelCode": "DEFAULT", "quantity": 3}
    ]


# ---------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("patches", "code", "fragment"),
    [
        (
            [
                {
                    "op": "replace",
                    "path": "/attributes/fulfillmentAvailability",
                    "value": [{"quantity": 1}],
                }
            ],
            "90000900",
            "The attributes are invalid.",
        ),
        (
            [
                {
                    "op": "replace",
                    "path": "/attributes/fulfillment_availability",
                    "value": [{"quantity": 1}],
                }
            ],
            "4000001",
            "does not have enough values",
        ),
        (
            [
                {
                    "op": "merge",
                    "path": "/attributes/fulfillment_availability",
                    "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": -1}],
                }
            ],
            "4000003",
            "'quantity'",
        ),
        (
            [
                {
                    "op": "replace",
                    "path": "/attributes/fulfillment_availability",
                    "value": [
                        {
                            "fulfillment_channel_code": "DEFAULT",
                            "quantity": 1,
                            "lead_time_to_ship_max_days": 31,
                        }
                    ],
                }
            ],
            "4000003",
            "lead_time",
        ),
        (
            [
                {
                    "op": "replace",
                    "path": "/attributes/purchasable_offer",
                    "value": [
                        {"currency": "USD", "our_price": [{"schedule": [{"value_with_tax": "x"}]}]}
                    ],
                }
            ],
            "4000003",
            "value_with_tax",
        ),
        (
            [
                {
                    "op": "replace",
                    "path": "/attributes/purchasable_offer",
                    "value": [
                        {"currency": "CAD", "our_price": [{"schedule": [{"value_with_tax": 1}]}]}
                    ],
                }
            ],
            "4000003",
            "currency",
        ),
        (
            [
                {
                    "op": "replace",
                    "path": "/attributes/item_name",
                    "value": [{"value": "x" * 201, "language_tag": "en_US"}],
                }
            ],
            "4000003",
            "200",
        ),
    ],
)
def test_invalid_patches_get_issues_and_change_nothing(
    api: httpx.Client, emu: Emulator, patches: list[dict[str, Any]], code: str, fragment: str
) -> None:
    before = emu.listing_state(SELLER, "MUG-1", US)
    body = patch(api, "MUG-1", patches).json()
    assert body["status"] == "INVALID"
    assert body["issues"][0]["code"] == code
    assert fragment in body["issues"][0]["message"]
    assert body["issues"][0]["severity"] == "ERROR"
    assert isinstance(body["issues"][0]["categories"], list)
    assert emu.listing_state(SELLER, "MUG-1", US) == before


def test_unknown_attribute_issue_has_amazons_shape(api: httpx.Client) -> None:
    body = patch(
        api,
        "MUG-1",
        [{"op": "replace", "path": "/attributes/fake_attribute", "value": [{"value": 1}]}],
    ).json()
    assert body["issues"] == [
        {
            "code": "90000900",
            "message": "The attributes are invalid.",
            "severity": "ERROR",
            "attributeNames": ["fake_attribute"],
            "categories": [],
        }
    ]


def test_mli_channel_must_be_an_active_supply_source(api: httpx.Client, emu: Emulator) -> None:
    if emu.module("supply_sources") is None:
        pytest.skip("supply sources module not present")
    body = patch(
        api,
        "MUG-1",
        [
            {
                "op": "merge",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "NO-SUCH-STORE", "quantity": 1}],
            }
        ],
    ).json()
    assert body["status"] == "INVALID"
    assert body["issues"][0]["code"] == "4000004"


def test_put_without_price_is_invalid_90220(api: httpx.Client, emu: Emulator) -> None:
    r = api.put(
        f"{BASE}/MUG-2",
        params={"marketplaceIds": US},
        json={
            "productType": "DRINKING_CUP",
            "requirements": "LISTING_OFFER_ONLY",
            "attributes": {
                "item_name": [{"value": "x", "language_tag": "en_US"}],
                "condition_type": [{"value": "new_new"}],
                "merchant_suggested_asin": [{"value": "B0C7MUG002"}],
            },
        },
    )
    body = r.json()
    assert body["status"] == "INVALID"
    assert body["issues"] == [
        {
            "code": "90220",
            "message": "'purchasable_offer' is required but not supplied.",
            "severity": "ERROR",
            "attributeNames": ["purchasable_offer"],
            "categories": ["MISSING_ATTRIBUTE"],
            "marketplaceIds": [US],
        }
    ]
    assert emu.listing_state(SELLER, "MUG-2", US) is None


def test_put_replaces_the_whole_listing(api: httpx.Client, emu: Emulator) -> None:
    attrs = {
        "purchasable_offer": [
            {"currency": "USD", "our_price": [{"schedule": [{"value_with_tax": 9.5}]}]}
        ],
        "condition_type": [{"value": "new_new"}],
        "merchant_suggested_asin": [{"value": "B0C7MUG001"}],
    }
    r = api.put(
        f"{BASE}/MUG-1",
        params={"marketplaceIds": US},
        json={"productType": "DRINKING_CUP", "requirements": "LISTING_OFFER_ONLY",
              "attributes": attrs},
    )
    assert r.json()["status"] == "ACCEPTED"
    st = emu.listing_state(SELLER, "MUG-1", US)
    assert st is not None and set(st["attributes"]) == set(attrs)
    assert get(api, "MUG-1").json()["offers"][0]["price"] == {
        "currencyCode": "USD",
        "amount": "9.50",
    }


def test_put_takes_one_marketplace(api: httpx.Client) -> None:
    r = api.put(
        f"{BASE}/MUG-1",
        params={"marketplaceIds": f"{US},{CA}"},
        json={"productType": "DRINKING_CUP", "attributes": {}},
    )
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "InvalidInput"


def test_validation_preview_persists_nothing(api: httpx.Client, emu: Emulator) -> None:
    before = emu.listing_state(SELLER, "MUG-1", US)
    hist = len(emu.history())
    r = patch(
        api,
        "MUG-1",
        [
            {
                "op": "merge",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 5}],
            }
        ],
        mode="VALIDATION_PREVIEW",
        includedData="identifiers,issues",
    )
    body = r.json()
    assert body["status"] == "VALID"
    assert body["identifiers"][0]["marketplaceId"] == US
    assert emu.listing_state(SELLER, "MUG-1", US) == before
    assert len(emu.history()) == hist
    bad = patch(
        api,
        "MUG-1",
        [{"op": "replace", "path": "/attributes/nope", "value": [{}]}],
        mode="VALIDATION_PREVIEW",
    )
    assert bad.json()["status"] == "INVALID"


def test_bad_patch_structure_is_400(api: httpx.Client) -> None:
    for patches in (
        [],
        [{"op": "move", "path": "/attributes/x", "value": []}],
        [{"op": "replace", "path": "/attributes/x/0", "value": [{}]}],
        [{"op": "replace", "path": "/attributes/item_name", "value": "x"}],
    ):
        r = patch(api, "MUG-1", patches)
        assert r.status_code == 400, patches
        assert r.json()["errors"][0]["code"] == "InvalidInput"


def test_malformed_json_wrong_type_and_bad_query(api: httpx.Client) -> None:
    r = api.patch(
        f"{BASE}/MUG-1",
        params={"marketplaceIds": US},
        content=b"{nope",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "InvalidInput"
    r = api.patch(
        f"{BASE}/MUG-1",
        params={"marketplaceIds": US},
        content=b"<xml/>",
        headers={"content-type": "application/xml"},
    )
    assert r.status_code == 415 and "errors" in r.json()
    r = api.get(f"{BASE}/MUG-1", params={"marketplaceIds": "NOTAMARKET"})
    assert r.status_code == 400
    r = api.get(f"{BASE}/MUG-1")
    assert r.status_code == 400
    r = api.get(f"{BASE}/MUG-1", params={"marketplaceIds": US, "includedData": "everything"})
    assert r.status_code == 400
    r = api.patch(
        f"{BASE}/MUG-1",
        params={"marketplaceIds": US, "mode": "DRY"},
        json={"productType": "DRINKING_CUP", "patches": []},
    )
    assert r.status_code == 400


def test_productType_mismatch_is_invalid(api: httpx.Client) -> None:
    body = patch(
        api,
        "MUG-1",
        [
            {
                "op": "merge",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 1}],
            }
        ],
        product_type="LUGGAGE",
    ).json()
    assert body["status"] == "INVALID" and body["issues"][0]["code"] == "4000005"


# ---------------------------------------------------------------------- async writes


def test_accepted_writes_are_visible_after_the_delay_in_order(clock: Clock) -> None:
    with Emulator(
        config=EmulatorConfig(write_delay_s=10.0, time_scale=2.0, quotas=False), clock=clock
    ) as e:
        e.put_listing_direct(SELLER, "S", US, "DRINKING_CUP", mug_attributes())
        token = auth.issue_token(e, SELLER)
        with httpx.Client(
            transport=e.transport(), base_url="https://x", headers={"x-amz-access-token": token}
        ) as c:
            for q in (1, 2, 3):
                clock.t += 1.0
                body = patch(
                    c,
                    "S",
                    [
                        {
                            "op": "merge",
                            "path": "/attributes/fulfillment_availability",
                            "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": q}],
                        }
                    ],
                ).json()
                assert body["status"] == "ACCEPTED"
            assert get(c, "S").json()["fulfillmentAvailability"][0]["quantity"] == 0
            clock.t += 3.5  # first write due at 1001 + 5 s (10 s / time scale 2)
            qty = {
                x["fulfillmentChannelCode"]: x["quantity"]
                for x in get(c, "S").json()["fulfillmentAvailability"]
            }
            assert qty["DEFAULT"] == 1
            clock.t += 10
            qty = {
                x["fulfillmentChannelCode"]: x["quantity"]
                for x in get(c, "S").json()["fulfillmentAvailability"]
            }
            assert qty["DEFAULT"] == 3
        sources = [h.source for h in e.history("S")]
        assert sources == ["seller_central", "patch", "patch", "patch"]
        assert (
            [
                h.attributes["fulfillment_availability"][0]["quantity"]  # type: ignore[index]
                for h in e.history("S")[1:]
            ]
            == [1, 2, 3]
        )


# ---------------------------------------------------------------------- read shapes


def test_get_read_shapes(api: httpx.Client) -> None:
    r = get(api, "MUG-1")
    assert r.status_code == 200
    assert r.headers["x-amzn-RateLimit-Limit"] == "5.0"
    item = r.json()
    s = item["summaries"][0]
    assert s["marketplaceId"] == US and s["productType"] == "DRINKING_CUP"
    assert s["status"] == ["BUYABLE", "DISCOVERABLE"]
    assert s["itemName"] == "Mug" and s["asin"].startswith("B0") and len(s["asin"]) == 10
    assert s["createdDate"].endswith("Z") and s["lastUpdatedDate"].endswith("Z")
    assert item["offers"] == [
        {
            "marketplaceId": US,
            "offerType": "B2C",
            "price": {"currencyCode": "USD", "amount": "26.99"},
            "audience": {"value": "ALL", "displayName": "Sell on Amazon"},
        }
    ]
    assert sorted(item["fulfillmentAvailability"], key=lambda x: x["fulfillmentChannelCode"]) == [
        {"fulfillmentChannelCode": "AMAZON_NA", "quantity": 4},
        {"fulfillmentChannelCode": "DEFAULT", "quantity": 0},
    ]
    attrs = item["attributes"]
    assert list(attrs) == sorted(attrs, reverse=True)  # reordered on purpose
    assert attrs["item_name"] == [{"value": "Mug", "language_tag": "en_US", "marketplace_id": US}]
    assert [e["fulfillment_channel_code"] for e in attrs["fulfillment_availability"]] == [
        "DEFAULT",
        "AMAZON_NA",
    ]
    assert attrs["purchasable_offer"][0]["our_price"][0]["schedule"][0]["value_with_tax"] == 26.99
    assert item["issues"] == []


def test_get_default_included_data_is_summaries(api: httpx.Client) -> None:
    item = api.get(f"{BASE}/MUG-1", params={"marketplaceIds": US}).json()
    assert set(item) == {"sku", "summaries"}


def test_not_buyable_without_stock(api: httpx.Client) -> None:
    patch(
        api,
        "MUG-1",
        [
            {
                "op": "merge",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "AMAZON_NA", "quantity": 0}],
            }
        ],
    )
    assert get(api, "MUG-1").json()["summaries"][0]["status"] == ["DISCOVERABLE"]


def test_unknown_sku_is_404_not_found(api: httpx.Client) -> None:
    r = get(api, "NOPE")
    assert r.status_code == 404
    assert r.headers["x-amzn-RateLimit-Limit"] == "5.0"
    assert r.json() == {
        "errors": [
            {
                "code": "NOT_FOUND",
                "message": f"SKU 'NOPE' not found in marketplace {US}",
                "details": "",
            }
        ]
    }


@pytest.mark.parametrize("sku", ["MY SKU", "a#b", "kaffeebecher-ü-日本", "x%y+z"])
def test_percent_encoded_skus(api: httpx.Client, emu: Emulator, sku: str) -> None:
    r = patch(
        api,
        sku,
        [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 2}],
            }
        ],
    )
    assert r.json()["sku"] == sku
    assert emu.listing_state(SELLER, sku, US) is not None
    assert get(api, sku).json()["sku"] == sku


def test_get_answers_the_first_marketplace_and_search_merges(
    api: httpx.Client, emu: Emulator
) -> None:
    emu.put_listing_direct(
        SELLER,
        "MUG-1",
        CA,
        "MUG",
        {
            "purchasable_offer": [
                {"currency": "CAD", "our_price": [{"schedule": [{"value_with_tax": 30}]}]}
            ],
            "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": 0}],
        },
    )
    # getListingsItem with several marketplaceIds: Amazon answers for the first one only
    first = get(api, "MUG-1", mps=f"{US},{CA}").json()
    assert [s["marketplaceId"] for s in first["summaries"]] == [US]
    assert [o["price"]["currencyCode"] for o in first["offers"]] == ["USD"]
    assert [s["marketplaceId"] for s in get(api, "MUG-1", mps=f"{CA},{US}").json()[
        "summaries"]] == [CA]
    r = api.get(BASE, params={"marketplaceIds": f"{US},{CA}", "identifiers": "MUG-1",
                              "identifiersType": "SKU",
                              "includedData": "summaries,offers,attributes"})
    (item,) = r.json()["items"]
    assert [s["marketplaceId"] for s in item["summaries"]] == [US, CA]
    assert {o["price"]["currencyCode"]: o["price"]["amount"] for o in item["offers"]} == {
        "USD": "26.99",
        "CAD": "30.00",
    }
    assert {e["marketplace_id"] for e in item["attributes"]["purchasable_offer"]} == {US, CA}


def test_delete_removes_the_listing(api: httpx.Client, emu: Emulator) -> None:
    r = api.delete(f"{BASE}/MUG-1", params={"marketplaceIds": US})
    assert r.json()["status"] == "ACCEPTED"
    assert get(api, "MUG-1").status_code == 404
    assert emu.history("MUG-1")[-1].source == "delete"
    assert emu.history("MUG-1")[-1].attributes is None


def test_seller_central_edit_bumps_last_updated(emu: Emulator, clock: Clock) -> None:
    before = emu.listing_state(SELLER, "MUG-1", US)
    emu.put_listing_direct(SELLER, "MUG-1", US, "DRINKING_CUP", mug_attributes(qty_nyc=1))
    after = emu.listing_state(SELLER, "MUG-1", US)
    assert before is not None and after is not None
    assert after["lastUpdatedDate"] > before["lastUpdatedDate"]
    assert after["createdDate"] == before["createdDate"]
    assert emu.history("MUG-1")[-1].source == "seller_central"


# ---------------------------------------------------------------------- search


@pytest.fixture
def many(emu: Emulator) -> Emulator:
    listings = []
    for i in range(30):
        attrs = mug_attributes(qty_nyc=i % 3)
        if i % 5 == 0:
            del attrs["item_name"]
        listings.append(
            {
                "sku": f"SKU-{i:02d}",
                "marketplaceId": US,
                "productType": "DRINKING_CUP",
                "attributes": attrs,
                "createdDate": f"2026-01-{i + 1:02d}T00:00:00Z",
                "lastUpdatedDate": f"2026-02-{(i % 28) + 1:02d}T00:00:00.000Z",
            }
        )
    emu.seed({"sellers": {SELLER: {"listings": listings}}})
    return emu


def search(api: httpx.Client, **params: Any) -> httpx.Response:
    return api.get(BASE, params={"marketplaceIds": US, **params})


def test_search_pages_through_everything_sorted(api: httpx.Client, many: Emulator) -> None:
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, Any] = {"sortBy": "sku", "sortOrder": "ASC", "pageSize": 7}
        if token:
            params["pageToken"] = token
        body = search(api, **params).json()
        assert body["numberOfResults"] == 31
        seen += [i["sku"] for i in body["items"]]
        pages += 1
        token = body.get("pagination", {}).get("nextToken")
        if not token:
            break
        assert pages < 10
    assert seen == sorted(seen) and len(seen) == 31 and pages == 5
    prev = search(
        api,
        sortBy="sku",
        sortOrder="ASC",
        pageSize=7,
        pageToken=body["pagination"]["previousToken"],
    ).json()
    assert [i["sku"] for i in prev["items"]] == seen[21:28]


def test_search_default_sort_is_last_updated_desc(api: httpx.Client, many: Emulator) -> None:
    items = search(api, pageSize=20, includedData="summaries").json()["items"]
    dates = [i["summaries"][0]["lastUpdatedDate"] for i in items]
    assert dates == sorted(dates, reverse=True)
    assert len(items) == 20


def test_search_filters(api: httpx.Client, many: Emulator) -> None:
    body = search(api, identifiers="SKU-01,SKU-02,NOPE", identifiersType="SKU").json()
    assert sorted(i["sku"] for i in body["items"]) == ["SKU-01", "SKU-02"]
    body = search(
        api,
        createdAfter="2026-01-05T00:00:00Z",
        createdBefore="2026-01-07T00:00:00Z",
        sortBy="createdDate",
        sortOrder="ASC",
    ).json()
    assert [i["sku"] for i in body["items"]] == ["SKU-04", "SKU-05", "SKU-06"]  # inclusive
    body = search(
        api,
        lastUpdatedAfter="2026-02-28T00:00:00Z",
        lastUpdatedBefore="2026-02-28T00:00:00.000Z",
        pageSize=20,
    ).json()
    assert sorted(i["sku"] for i in body["items"]) == ["SKU-27"]
    body = search(api, withoutStatus="DISCOVERABLE", pageSize=20).json()
    assert sorted(i["sku"] for i in body["items"]) == [f"SKU-{i:02d}" for i in range(0, 30, 5)]
    body = search(api, withStatus="BUYABLE", pageSize=20).json()
    # stock 1 or 2 at AMAZON_NA when i % 3 != 0 (20 SKUs), plus MUG-1
    assert body["numberOfResults"] == 1 + sum(1 for i in range(30) if i % 3)
    body = search(api, withIssueSeverity="ERROR").json()
    assert body["numberOfResults"] == 0
    asin = get(api, "SKU-03").json()["summaries"][0]["asin"]
    body = search(api, identifiers=asin, identifiersType="ASIN").json()
    assert [i["sku"] for i in body["items"]] == ["SKU-03"]
    assert search(api, identifiers="x", identifiersType="EAN").json()["numberOfResults"] == 0


def test_search_caps_paging_at_1000(api: httpx.Client, emu: Emulator) -> None:
    emu.seed(
        {
            "sellers": {
                SELLER: {
                    "listings": [
                        {
                            "sku": f"C-{i:04d}",
                            "marketplaceId": US,
                            "productType": "DRINKING_CUP",
                            "attributes": {},
                        }
                        for i in range(1005)
                    ]
                }
            }
        }
    )
    body = search(api, sortBy="sku", sortOrder="ASC", pageSize=20).json()
    assert body["numberOfResults"] == 1006
    token = body["pagination"]["nextToken"]
    count = len(body["items"])
    while token:
        body = search(api, sortBy="sku", sortOrder="ASC", pageSize=20, pageToken=token).json()
        count += len(body["items"])
        token = body.get("pagination", {}).get("nextToken")
    assert count == 1000


@pytest.mark.parametrize(
    "params",
    [
        {"identifiers": "A"},
        {"identifiersType": "SKU"},
        {"identifiers": ",".join(f"S{i}" for i in range(21)), "identifiersType": "SKU"},
        {"identifiers": "A", "identifiersType": "SKU", "variationParentSku": "P"},
        {"identifiersType": "BOGUS", "identifiers": "A"},
        {"pageSize": "21"},
        {"pageSize": "0"},
        {"pageSize": "ten"},
        {"sortBy": "price"},
        {"sortOrder": "UP"},
        {"createdAfter": "yesterday"},
        {"withStatus": "SOLD"},
        {"withIssueSeverity": "FATAL"},
        {"pageToken": "garbage!"},
        {"marketplaceIds": "invalid"},
    ],
)
def test_search_rejects_bad_parameters(api: httpx.Client, params: dict[str, str]) -> None:
    r = search(api, **params)
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["code"] == "InvalidInput"


def test_page_token_is_bound_to_its_query(api: httpx.Client, many: Emulator) -> None:
    token = search(api, pageSize=5).json()["pagination"]["nextToken"]
    assert search(api, pageSize=5, pageToken=token).status_code == 200
    assert search(api, pageSize=6, pageToken=token).status_code == 400
