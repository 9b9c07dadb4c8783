"""Sandbox mode answers Amazon's static sandbox vectors exactly.

Covers: every ``x-amzn-api-sandbox.static`` vector of the listings (14), feeds (12) and supply
sources (13) models, parametrized straight from the model files, sent through the in-process
transport with ``sandbox=True`` -> same status and same body; catch-all vectors do not shadow
specific ones; unmatched requests get a 400; Amazon's sandbox throttle (burst 15) applies.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from reconciler.emulator import auth, sandbox
from reconciler.emulator.state import EmulatorConfig

from . import spapi_models
from .emulator_support import SELLER, US, FakeClock, client, emulator

LISTINGS = "listingsItems_2021-08-01.json"
FEEDS = "feeds_2021-06-30.json"
SUPPLY = "supplySources_2020-07-01.json"

ALL = sandbox.vectors()

# Values for parameters a vector does not pin (a catch-all still needs a well-formed request).
DEFAULT_PATH = {
    "sellerId": SELLER,
    "sku": "GM-ZDPI-9B4E",
    "feedId": "3485934",
    "feedDocumentId": "3d4e42b5-1d6e-44e8-a89c-2abfca0625bb",
    "supplySourceId": "ed85fcf9-798c-4b63-a47e-8d4f0d273ddb",
}
DEFAULT_QUERY: dict[str, dict[str, Any]] = {
    "getListingsItem": {"marketplaceIds": [US]},
    "putListingsItem": {"marketplaceIds": [US]},
    "patchListingsItem": {"marketplaceIds": [US]},
    "deleteListingsItem": {"marketplaceIds": [US]},
    "searchListingsItems": {"marketplaceIds": [US]},
    "getFeeds": {"feedTypes": ["JSON_LISTINGS_FEED"]},
}
DEFAULT_BODY: dict[str, Any] = {
    "putListingsItem": {"productType": "PRODUCT", "attributes": {}},
    "patchListingsItem": {"productType": "PRODUCT", "patches": [
        {"op": "delete", "path": "/attributes/item_name",
         "value": [{"marketplace_id": US, "language_tag": "en_US"}]}]},
    "createSupplySource": {"supplySourceCode": "code-1", "alias": "Shop",
                           "address": {"name": "n", "addressLine1": "a", "countryCode": "US",
                                       "stateOrRegion": "WA"}},
    "updateSupplySource": {"alias": "renamed"},
    "updateSupplySourceStatus": {"status": "Active"},
}


def _request(v: sandbox.Vector) -> tuple[str, str, dict[str, str], bytes | None]:
    types = sandbox._param_types(v.model)[v.operation]
    path = v.path
    query: dict[str, Any] = dict(DEFAULT_QUERY.get(v.operation, {}))
    body: Any = DEFAULT_BODY.get(v.operation)
    for name, (where, _) in types.items():
        if where == "path":
            value = v.parameters.get(name, DEFAULT_PATH[name])
            path = path.replace("{" + name + "}", quote(str(value), safe=""))
    for name, value in v.parameters.items():
        where = types.get(name, ("body", ""))[0] if name != "body" else "body"
        if where == "query":
            query[name] = value
        elif where == "body":
            body = value
    qs = {k: ",".join(v) if isinstance(v, list) else str(v) for k, v in query.items()}
    content = None if body is None else json.dumps(body).encode()
    return v.method, path, qs, content


def test_vector_counts_match_the_models() -> None:
    by_model: dict[str, int] = {}
    for v in ALL:
        by_model[v.model] = by_model.get(v.model, 0) + 1
    assert by_model == {LISTINGS: 14, FEEDS: 12, SUPPLY: 13}


@pytest.mark.parametrize("vector", ALL, ids=[f"{i:02d}-{v.vector_id}" for i, v in enumerate(ALL)])
def test_static_vector_is_answered_exactly(vector: sandbox.Vector) -> None:
    method, path, query, content = _request(vector)
    with emulator(EmulatorConfig(sandbox=True)) as emu, client(emu) as c:
        headers = {"content-type": "application/json"} if content is not None else {}
        r = c.request(method, path, params=query, content=content, headers=headers)
        assert r.status_code == vector.status, r.text
        if vector.has_body and vector.status != 204:
            assert r.json() == vector.response
        else:
            assert r.content == b""
        assert "x-amzn-RequestId" in r.headers
    if vector.model != SUPPLY:
        # Amazon's own listings/feeds vectors conform to its models (strict); the supply
        # source vectors do not (e.g. addresses without the required "name"), so skip those.
        spapi_models.assert_response(vector.operation, r.status_code, r.content)


def test_specific_vector_wins_over_catch_all() -> None:
    with emulator(EmulatorConfig(sandbox=True)) as emu, client(emu) as c:
        preview = c.put(
            f"/listings/2021-08-01/items/{SELLER}/VALIDATION_INVALID",
            params={"marketplaceIds": US, "includedData": "identifiers,issues",
                    "mode": "VALIDATION_PREVIEW"},
            json={"productType": "PRODUCT", "attributes": {}},
        )
        assert preview.json()["status"] == "INVALID"
        # Same SKU without the preview mode: only the catch-all matches.
        plain = c.put(f"/listings/2021-08-01/items/{SELLER}/VALIDATION_INVALID",
                      params={"marketplaceIds": US},
                      json={"productType": "PRODUCT", "attributes": {}})
        assert plain.json()["status"] == "ACCEPTED"


def test_csv_arrays_compare_as_lists_and_numbers_by_value() -> None:
    with emulator(EmulatorConfig(sandbox=True)) as emu, client(emu) as c:
        # Repeated keys instead of one csv value still match the getFeeds 200 vector.
        r = c.get("/feeds/2021-06-30/feeds", params=[
            ("feedTypes", "POST_PRODUCT_DATA"), ("pageSize", "10"),
            ("processingStatuses", "CANCELLED"), ("processingStatuses", "DONE")])
        assert r.status_code == 200 and r.json()["feeds"][0]["feedId"] == "FeedId1"
        # A different order is a different list: no vector matches.
        r = c.get("/feeds/2021-06-30/feeds", params={
            "feedTypes": "POST_PRODUCT_DATA", "pageSize": "10",
            "processingStatuses": "DONE,CANCELLED"})
        assert r.status_code == 400
        assert r.json()["errors"][0]["code"] == "InvalidInput"


def test_unmatched_request_is_a_400_and_non_vector_routes_fall_through() -> None:
    with emulator(EmulatorConfig(sandbox=True)) as emu, client(emu) as c:
        r = c.post("/feeds/2021-06-30/feeds", json={"feedType": "X", "marketplaceIds": [US],
                                                    "inputFeedDocumentId": "nope"})
        assert r.status_code == 400
        spapi_models.assert_response("createFeed", 400, r.content)
        # LWA has no vectors: the real token endpoint answers (registered tokens only).
        auth.register_refresh_token(emu, "Atzr|x", seller_id=SELLER)
        tok = c.post("/auth/o2/token", data={"grant_type": "refresh_token",
                                             "refresh_token": "Atzr|x", "client_id": "c",
                                             "client_secret": "s"})
        assert tok.status_code == 200 and tok.json()["token_type"] == "bearer"


def test_sandbox_throttle_is_burst_15_then_429() -> None:
    clock = FakeClock()
    with emulator(EmulatorConfig(sandbox=True), clock) as emu, client(emu) as c:
        codes = [c.get("/feeds/2021-06-30/feeds/feedId1").status_code for _ in range(16)]
        assert codes == [200] * 15 + [429]
        assert c.get("/feeds/2021-06-30/feeds/feedId1").status_code == 429
        clock.advance(0.2)  # 5 rps: one token back
        ok = c.get("/feeds/2021-06-30/feeds/feedId1")
        assert ok.status_code == 200
        assert ok.headers["x-amzn-RateLimit-Limit"] == "5.0"


def test_sandbox_off_does_not_answer_vectors() -> None:
    with emulator() as emu, client(emu) as c:
        r = c.get("/feeds/2021-06-30/feeds/feedId1")
        assert r.status_code == 400  # not a numeric feed id of ours, not the canned feed
        assert isinstance(r, httpx.Response) and "FeedId1" not in r.text
