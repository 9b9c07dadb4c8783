"""Supply Sources 2020-07-01 in the emulator.

Covers: create (defaults Inactive, duplicate code -> 400 "1004", body validated against the
model), get (404 unknown, 400 malformed id), list pagination, update/archive/status (204;
archived -> "1005"), sources are per seller, ``is_active`` by id and by code, seeding.
"""

from __future__ import annotations

from typing import Any

import httpx

from reconciler.emulator import supply_sources
from reconciler.emulator.state import EmulatorConfig

from . import spapi_models
from .emulator_support import OTHER_SELLER, SELLER, client, emulator

BASE = "/supplySources/2020-07-01/supplySources"
ADDRESS = {"name": "Brooklyn store", "addressLine1": "1 Main St", "city": "New York",
           "countryCode": "US", "stateOrRegion": "NY", "postalCode": "11201"}


def create(c: httpx.Client, code: str, alias: str = "Store - City") -> dict[str, Any]:
    r = c.post(BASE, json={"supplySourceCode": code, "alias": alias, "address": ADDRESS})
    body = spapi_models.assert_response("createSupplySource", r.status_code, r.content)
    assert r.status_code == 200, r.text
    assert isinstance(body, dict)
    return body


def test_create_get_defaults_inactive_and_duplicate_code_is_1004() -> None:
    with emulator() as emu, client(emu) as c:
        made = create(c, "NYC-1")
        assert made["supplySourceCode"] == "NYC-1"
        r = c.get(f"{BASE}/{made['supplySourceId']}")
        src = spapi_models.assert_response("getSupplySource", r.status_code, r.content)
        assert src["status"] == "Inactive" and src["address"] == ADDRESS
        assert src["createdAt"] == src["updatedAt"]
        dup = c.post(BASE, json={"supplySourceCode": "NYC-1", "alias": "x", "address": ADDRESS})
        assert dup.status_code == 400
        err = spapi_models.assert_response("createSupplySource", 400, dup.content)
        assert err["errors"][0]["code"] == "InvalidInput"
        assert err["errors"][0]["details"] == "1004"
        assert not supply_sources.is_active(emu, SELLER, "NYC-1")


def test_create_validates_body() -> None:
    with emulator() as emu, client(emu) as c:
        bad = [
            {"alias": "a", "address": ADDRESS},  # no code
            {"supplySourceCode": "c", "alias": "a", "address": {"name": "n"}},  # address fields
            {"supplySourceCode": 5, "alias": "a", "address": ADDRESS},  # wrong type
        ]
        for body in bad:
            r = c.post(BASE, json=body)
            assert r.status_code == 400, body
            spapi_models.assert_response("createSupplySource", 400, r.content)
        r = c.post(BASE, content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 400
        r = c.post(BASE, content=b"<x/>", headers={"content-type": "application/xml"})
        assert r.status_code == 415
        spapi_models.assert_response("createSupplySource", 415, r.content)


def test_get_unknown_and_malformed_ids() -> None:
    with emulator() as emu, client(emu) as c:
        r = c.get(f"{BASE}/cbc976e5-1e55-4d33-855b-35e6254f5a58")
        assert r.status_code == 404
        spapi_models.assert_response("getSupplySource", 404, r.content)
        r = c.get(f"{BASE}/not-a-uuid")
        assert r.status_code == 400
        spapi_models.assert_response("getSupplySource", 400, r.content)


def test_list_paginates_and_is_per_seller() -> None:
    # More calls than the assumed 1 rps / burst 5 usage plan allows: quotas off.
    with emulator(EmulatorConfig(quotas=False)) as emu:
        with client(emu) as c:
            ids = [create(c, f"LOC-{i}")["supplySourceId"] for i in range(5)]
            seen: list[str] = []
            token = None
            while True:
                params: dict[str, str] = {"pageSize": "2"}
                if token:
                    params["nextPageToken"] = token
                r = c.get(BASE, params=params)
                page = spapi_models.assert_response("getSupplySources", r.status_code, r.content)
                seen += [s["supplySourceId"] for s in page["supplySources"]]
                token = page.get("nextPageToken")
                if not token:
                    break
            assert seen == ids
            for bad in ({"pageSize": "0"}, {"pageSize": "abc"}, {"nextPageToken": "%%%"}):
                r = c.get(BASE, params=bad)
                assert r.status_code == 400, bad
                spapi_models.assert_response("getSupplySources", 400, r.content)
        with client(emu, OTHER_SELLER) as other:
            r = other.get(BASE)
            assert r.json() == {"supplySources": []}
            assert other.get(f"{BASE}/{ids[0]}").status_code == 404


def test_update_status_archive_and_1005() -> None:
    with emulator() as emu, client(emu) as c:
        sid = create(c, "SEA-1")["supplySourceId"]
        r = c.put(f"{BASE}/{sid}", json={"alias": "Seattle - WA",
                                         "configuration": {"timezone": "America/Los_Angeles"}})
        assert r.status_code == 204 and r.content == b""
        spapi_models.assert_response("updateSupplySource", 204, r.content)
        r = c.put(f"{BASE}/{sid}/status", json={"status": "Active"})
        assert r.status_code == 204
        spapi_models.assert_response("updateSupplySourceStatus", 204, r.content)
        src = c.get(f"{BASE}/{sid}").json()
        assert src["alias"] == "Seattle - WA" and src["status"] == "Active"
        assert src["configuration"] == {"timezone": "America/Los_Angeles"}
        assert supply_sources.is_active(emu, SELLER, sid)
        assert supply_sources.is_active(emu, SELLER, "SEA-1")
        assert not supply_sources.is_active(emu, OTHER_SELLER, "SEA-1")
        bad = c.put(f"{BASE}/{sid}/status", json={"status": "Archived"})
        assert bad.status_code == 400  # only Active|Inactive may be set
        r = c.delete(f"{BASE}/{sid}")
        assert r.status_code == 204
        spapi_models.assert_response("archiveSupplySource", 204, r.content)
        assert not supply_sources.is_active(emu, SELLER, sid)
        for resp in (c.put(f"{BASE}/{sid}", json={"alias": "again"}),
                     c.put(f"{BASE}/{sid}/status", json={"status": "Active"}),
                     c.delete(f"{BASE}/{sid}")):
            assert resp.status_code == 400
            err = resp.json()["errors"][0]
            assert (err["code"], err["details"]) == ("InvalidInput", "1005")
        assert c.get(f"{BASE}/{sid}").json()["status"] == "Archived"


def test_seed_and_is_active() -> None:
    with emulator() as emu:
        emu.seed({"sellers": {SELLER: {"supplySources": [
            {"supplySourceId": "11111111-2222-3333-4444-555555555555",
             "supplySourceCode": "brooklyn", "alias": "Brooklyn", "status": "Active"},
            {"supplySourceCode": "queens", "alias": "Queens"},
        ]}}})
        assert supply_sources.is_active(emu, SELLER, "brooklyn")
        assert supply_sources.is_active(emu, SELLER, "11111111-2222-3333-4444-555555555555")
        assert not supply_sources.is_active(emu, SELLER, "queens")  # default Inactive
        assert not supply_sources.is_active(emu, SELLER, "manhattan")
        with client(emu) as c:
            src = c.get(f"{BASE}/11111111-2222-3333-4444-555555555555")
            body = spapi_models.assert_response("getSupplySource", 200, src.content)
            assert body["supplySourceCode"] == "brooklyn"


def test_listing_channel_codes_must_name_an_active_source() -> None:
    us = "ATVPDKIKX0DER"

    def patch(c: httpx.Client, code: str) -> dict[str, Any]:
        r = c.patch(f"/listings/2021-08-01/items/{SELLER}/MUG-1", params={"marketplaceIds": us},
                    json={"productType": "PRODUCT", "patches": [
                        {"op": "merge", "path": "/attributes/fulfillment_availability",
                         "value": [{"fulfillment_channel_code": code, "quantity": 4}]}]})
        body = spapi_models.assert_response("patchListingsItem", r.status_code, r.content)
        assert isinstance(body, dict)
        return body

    with emulator(EmulatorConfig(quotas=False)) as emu, client(emu) as c:
        sid = create(c, "soho")["supplySourceId"]
        assert patch(c, "soho")["status"] == "INVALID"  # new sources are Inactive
        assert c.put(f"{BASE}/{sid}/status", json={"status": "Active"}).status_code == 204
        assert patch(c, "soho")["status"] == "ACCEPTED"
        assert patch(c, sid)["status"] == "ACCEPTED"  # by supplySourceId too
        assert patch(c, "DEFAULT")["status"] == "ACCEPTED"
        assert c.delete(f"{BASE}/{sid}").status_code == 204
        assert patch(c, "soho")["status"] == "INVALID"  # archived
        with client(emu, OTHER_SELLER) as other:  # another seller's source does not count
            r = other.patch(f"/listings/2021-08-01/items/{OTHER_SELLER}/MUG-1",
                            params={"marketplaceIds": us},
                            json={"productType": "PRODUCT", "patches": [
                                {"op": "merge", "path": "/attributes/fulfillment_availability",
                                 "value": [{"fulfillment_channel_code": "soho", "quantity": 1}]}]})
            assert r.json()["status"] == "INVALID"
