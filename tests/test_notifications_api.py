"""The emulator's Notifications API v1 against Amazon's model (``notifications_v1.json``):
response bodies validate against the model's definitions, grantless operations take only a
``sellingpartnerapi::notifications`` token (and the client asks LWA for one), one subscription per
application, seller, type and payload version (409 on a second), the 1 rps / burst 5 plans."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx
import jsonschema
import pytest

from reconciler.emulator import auth
from reconciler.emulator.app import Emulator
from reconciler.emulator.state import EmulatorConfig
from reconciler.kernel.errors import AuthError, InvalidRequestError
from reconciler.spapi import notifications as api
from reconciler.spapi.auth import NOTIFICATIONS_SCOPE
from reconciler.spapi.client import SpApiClient
from tests.emulator_support import NA_HOST, OTHER_SELLER, SELLER, FakeClock
from tests.notif_support import SHARED
from tests.spapi_models import convert_swagger

SCOPE = "sellingpartnerapi::notifications"
ARN = "arn:aws:sqs:us-east-1:123456789012:reconciler"
BASE = "/notifications/v1"


@cache
def model() -> dict[str, Any]:
    return dict(json.loads((SHARED / "notifications_v1.json").read_text(encoding="utf-8")))


def conforms(operation: str, r: httpx.Response) -> Any:
    """The status is declared for the operation and the body matches its schema (strict: no
    property the model does not name)."""
    ops = {op["operationId"]: op for methods in model()["paths"].values()
           for op in methods.values() if isinstance(op, dict) and "operationId" in op}
    resp = ops[operation]["responses"].get(str(r.status_code))
    assert resp is not None, f"{operation} answered {r.status_code}, not in the model"
    body = r.json()
    ref = resp["schema"]["$ref"]
    defs = model()["definitions"]
    # the parts of an allOf (EventFilter) cannot each forbid the others' properties
    parts = {m["$ref"].rsplit("/", 1)[-1] for d in defs.values() for m in d.get("allOf", [])
             if "$ref" in m}
    root = {"$ref": ref, "definitions": {
        n: convert_swagger(copy.deepcopy(d), n not in parts and "allOf" not in d)
        for n, d in defs.items()}}
    jsonschema.Draft4Validator(root).validate(body)
    return body


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[Emulator]:
    e = Emulator(config=EmulatorConfig(write_delay_s=0.0), clock=clock, sleep=lambda s: None)
    yield e
    e.close()


def http(emu: Emulator, token: str) -> httpx.Client:
    return httpx.Client(transport=emu.transport(), base_url=NA_HOST,
                        headers={"x-amz-access-token": token})


@pytest.fixture
def grantless(emu: Emulator) -> Iterator[httpx.Client]:
    with http(emu, auth.issue_token(emu, "", "app-1", scope=SCOPE)) as c:
        yield c


@pytest.fixture
def seller(emu: Emulator) -> Iterator[httpx.Client]:
    with http(emu, auth.issue_token(emu, SELLER, "app-1")) as c:
        yield c


def create_sqs(c: httpx.Client, arn: str = ARN) -> httpx.Response:
    return c.post(f"{BASE}/destinations",
                  json={"name": "q", "resourceSpecification": {"sqs": {"arn": arn}}})


def test_destinations_round_trip(grantless: httpx.Client) -> None:
    r = create_sqs(grantless)
    d = conforms("createDestination", r)["payload"]
    assert r.status_code == 200 and d["resource"] == {"sqs": {"arn": ARN}} and d["name"] == "q"
    r = grantless.post(f"{BASE}/destinations", json={"name": "eb", "resourceSpecification": {
        "eventBridge": {"accountId": "123456789012", "region": "us-east-1"}}})
    eb = conforms("createDestination", r)["payload"]
    assert eb["resource"]["eventBridge"]["name"].startswith(
        "aws.partner/sellingpartnerapi.amazon.com/")
    listed = conforms("getDestinations", grantless.get(f"{BASE}/destinations"))["payload"]
    assert [x["destinationId"] for x in listed] == [d["destinationId"], eb["destinationId"]]
    one = grantless.get(f"{BASE}/destinations/{d['destinationId']}")
    assert conforms("getDestination", one)["payload"] == d
    r = grantless.delete(f"{BASE}/destinations/{d['destinationId']}")
    assert r.status_code == 200 and conforms("deleteDestination", r) == {}
    r = grantless.get(f"{BASE}/destinations/{d['destinationId']}")
    assert r.status_code == 404 and conforms("getDestination", r)["errors"]


@pytest.mark.parametrize("spec", [
    {"sqs": {"arn": "arn:aws:sns:us-east-1:123456789012:topic"}},
    {"sqs": {"arn": ARN}, "eventBridge": {"accountId": "123456789012", "region": "us-east-1"}},
    {},
    {"eventBridge": {"accountId": "123456789012"}},
])
def test_bad_destinations_are_400(grantless: httpx.Client, spec: dict[str, Any]) -> None:
    r = grantless.post(f"{BASE}/destinations", json={"name": "q", "resourceSpecification": spec})
    assert r.status_code == 400 and conforms("createDestination", r)["errors"]


def test_the_same_queue_twice_is_409(grantless: httpx.Client) -> None:
    assert create_sqs(grantless).status_code == 200
    r = create_sqs(grantless)
    assert r.status_code == 409 and conforms("createDestination", r)["errors"][0]["code"] \
        == "Conflict"


def test_grantless_operations_refuse_a_sellers_token_and_vice_versa(
    grantless: httpx.Client, seller: httpx.Client, emu: Emulator
) -> None:
    assert create_sqs(seller).status_code == 403
    assert seller.get(f"{BASE}/destinations").status_code == 403
    d = create_sqs(grantless).json()["payload"]["destinationId"]
    r = grantless.post(f"{BASE}/subscriptions/ORDER_CHANGE",
                       json={"payloadVersion": "1.0", "destinationId": d})
    assert r.status_code == 403  # a subscription is a seller's: it needs their authorization
    with http(emu, auth.issue_token(emu, "", "app-1", scope="sellingpartnerapi::"
                                    "client_credential:rotation")) as other_scope:
        assert other_scope.get(f"{BASE}/destinations").status_code == 403


def test_one_subscription_per_type_and_application(
    grantless: httpx.Client, seller: httpx.Client, emu: Emulator
) -> None:
    d = create_sqs(grantless).json()["payload"]["destinationId"]
    r = seller.get(f"{BASE}/subscriptions/ORDER_CHANGE")
    assert r.status_code == 404 and conforms("getSubscription", r)["errors"]
    body = {"payloadVersion": "1.0", "destinationId": d}
    r = seller.post(f"{BASE}/subscriptions/ORDER_CHANGE", json=body)
    sub = conforms("createSubscription", r)["payload"]
    assert r.status_code == 200 and sub["destinationId"] == d
    r = seller.post(f"{BASE}/subscriptions/ORDER_CHANGE", json=body)
    assert r.status_code == 409 and conforms("createSubscription", r)["errors"]
    got = conforms("getSubscription", seller.get(f"{BASE}/subscriptions/ORDER_CHANGE"))
    assert got["payload"] == sub
    # another seller of the same application has their own subscription
    with http(emu, auth.issue_token(emu, OTHER_SELLER, "app-1")) as other:
        assert other.post(f"{BASE}/subscriptions/ORDER_CHANGE", json=body).status_code == 200
    # by id: grantless, only the application's own
    path = f"{BASE}/subscriptions/ORDER_CHANGE/{sub['subscriptionId']}"
    assert conforms("getSubscriptionById", grantless.get(path))["payload"] == sub
    with http(emu, auth.issue_token(emu, "", "app-2", scope=SCOPE)) as app2:
        assert app2.get(path).status_code == 404
    r = grantless.delete(f"{BASE}/destinations/{d}")
    assert r.status_code == 409  # still in use
    r = grantless.delete(path)
    assert r.status_code == 200 and conforms("deleteSubscriptionById", r) == {}
    assert seller.get(f"{BASE}/subscriptions/ORDER_CHANGE").status_code == 404


def test_subscription_validation(grantless: httpx.Client, seller: httpx.Client) -> None:
    d = create_sqs(grantless).json()["payload"]["destinationId"]
    cases = [
        ("NOT_A_TYPE", {"payloadVersion": "1.0", "destinationId": d}),
        ("ORDER_CHANGE", {"payloadVersion": "9.9", "destinationId": d}),
        ("ORDER_CHANGE", {"payloadVersion": "1.0", "destinationId": "nope"}),
        ("ORDER_CHANGE", {"destinationId": d}),
        # the listings notifications come through EventBridge, not straight to SQS
        ("LISTINGS_ITEM_STATUS_CHANGE", {"payloadVersion": "1.0", "destinationId": d}),
    ]
    for t, body in cases:
        r = seller.post(f"{BASE}/subscriptions/{t}", json=body)
        assert r.status_code == 400, (t, body, r.text)
        conforms("createSubscription", r)


def test_quota_is_one_per_second_with_a_burst_of_five(
    grantless: httpx.Client, clock: FakeClock
) -> None:
    codes = [grantless.get(f"{BASE}/destinations").status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    clock.advance(1.0)
    r = grantless.get(f"{BASE}/destinations")
    assert r.status_code == 200 and r.headers["x-amzn-RateLimit-Limit"] == "1.0"


# ---------------------------------------------------------------------- the client side


def client(emu: Emulator, *, scope: str | None, refresh_token: str = "") -> SpApiClient:
    return SpApiClient(seller_id=SELLER, base_url="http://emulator.local",
                       token_url="http://emulator.local/auth/o2/token",
                       refresh_token=refresh_token, client_id="amzn1.application-oa2-client.x",
                       client_secret="client-secret-value", transport=emu.transport(),
                       scope=scope, sleep=lambda s: None)


def test_the_client_gets_a_grantless_token_for_destinations(emu: Emulator) -> None:
    auth.register_refresh_token(emu, "Atzr|seller-refresh-token", seller_id=SELLER)
    with client(emu, scope=NOTIFICATIONS_SCOPE) as g, \
            client(emu, scope=None, refresh_token="Atzr|seller-refresh-token") as s:
        d = api.create_destination(g, "reconciler", {"sqs": {"arn": ARN}})
        assert api.get_destinations(g) == [d]
        assert api.get_subscription(s, "ORDER_CHANGE") is None
        sub = api.create_subscription(s, "ORDER_CHANGE", "1.0", str(d["destinationId"]))
        assert api.get_subscription(s, "ORDER_CHANGE") == sub
        with pytest.raises(InvalidRequestError) as e:
            api.create_subscription(s, "ORDER_CHANGE", "1.0", str(d["destinationId"]))
        assert e.value.status == 409
        with pytest.raises(AuthError):  # a seller's token is not a grantless one
            api.get_destinations(s)
        api.delete_subscription(g, "ORDER_CHANGE", str(sub["subscriptionId"]))
        api.delete_destination(g, str(d["destinationId"]))
        assert api.get_destinations(g) == []
    grants = [c for c in emu.calls("lwaToken")]
    assert len(grants) == 2  # one token per client, reused


def test_processing_directives(grantless: httpx.Client, seller: httpx.Client) -> None:
    d = create_sqs(grantless).json()["payload"]["destinationId"]

    def create(directive: Any) -> httpx.Response:
        return seller.post(f"{BASE}/subscriptions/ORDER_CHANGE", json={
            "payloadVersion": "1.0", "destinationId": d, "processingDirective": directive})

    for bad in ({"eventFilter": {"marketplaceIds": ["ATVPDKIKX0DER"]}},  # no eventFilterType
                {"eventFilter": {"eventFilterType": "ANY_OFFER_CHANGED"}},
                {"eventFilter": {"eventFilterType": "ORDER_CHANGE"}, "filterExpression": "x"},
                "not an object"):
        r = create(bad)
        assert r.status_code == 400, bad
        conforms("createSubscription", r)
    good = {"eventFilter": {"eventFilterType": "ORDER_CHANGE",
                            "marketplaceIds": ["ATVPDKIKX0DER"]}}
    r = create(good)
    assert r.status_code == 200
    assert conforms("createSubscription", r)["payload"]["processingDirective"] == good


def test_grantless_quotas_are_per_application(emu: Emulator, grantless: httpx.Client) -> None:
    assert [grantless.get(f"{BASE}/destinations").status_code for _ in range(6)][-1] == 429
    with http(emu, auth.issue_token(emu, "", "app-2", scope=SCOPE)) as app2:
        assert app2.get(f"{BASE}/destinations").status_code == 200
