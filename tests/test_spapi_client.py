"""SpApiClient against httpx.MockTransport:

- status -> typed error (400/413/415, 401/403, 404, 429, 5xx, connection errors, time-outs),
  with operation, request id and Amazon's errors list, chained ``from`` the transport error;
- bounded retries with full-jitter backoff on 429/5xx/connection errors (fake clock, no real
  sleeping), writes included; non-retryable errors raised at once;
- request shapes: percent-encoded SKUs, csv arrays, JSON bodies, feeds lifecycle calls
  (presigned upload/download without a token, gunzip);
- token buckets follow ``x-amzn-RateLimit-Limit`` and drain on 429; stats are recorded;
- secrets never appear in exception messages.
"""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from reconciler.kernel.errors import (
    ApiError,
    AuthError,
    InvalidRequestError,
    NotFoundError,
    ServerError,
    ThrottledError,
)
from reconciler.kernel.quotas import QUOTAS
from tests.spapi_fakes import (
    REFRESH,
    SECRET,
    SELLER,
    US,
    FakeAmazon,
    amazon_error,
    body,
    json_response,
    make_client,
    path_sku,
    query,
)

CA = "A2EUQ1WTGCTBG2"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, InvalidRequestError),
        (413, InvalidRequestError),
        (415, InvalidRequestError),
        (401, AuthError),
        (403, AuthError),
        (404, NotFoundError),
        (429, ThrottledError),
        (500, ServerError),
        (503, ServerError),
    ],
)
def test_status_maps_to_typed_error(status: int, cls: type[ApiError]) -> None:
    fake = FakeAmazon(
        lambda r: amazon_error(status, "SomeCode", "Something happened.", "more detail")
    )
    client, _ = make_client(fake, max_retries=2)
    with client, pytest.raises(ApiError) as ei:
        client.get_listings_item("SKU-1", [US])
    e = ei.value
    assert type(e) is cls
    assert e.status == status
    assert e.operation == "getListingsItem"
    assert e.request_id == "req-0001"
    assert [(d.code, d.message, d.details) for d in e.errors] == [
        ("SomeCode", "Something happened.", "more detail")
    ]
    assert "getListingsItem" in str(e) and "[SomeCode]" in str(e)
    retried = status in (429, 500, 503)
    assert len(fake.requests) == (3 if retried else 1)


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
)
def test_connection_errors_are_server_errors_chained(exc: Exception) -> None:
    def api(request: httpx.Request) -> httpx.Response:
        raise exc

    fake = FakeAmazon(api)
    client, clock = make_client(fake, max_retries=3)
    with client, pytest.raises(ServerError) as ei:
        client.get_listings_item("SKU-1", [US])
    assert ei.value.__cause__ is exc
    assert ei.value.status == 0
    assert "after 3 retries" in str(ei.value)
    assert len(fake.requests) == 4
    assert len(clock.sleeps) == 3


def test_retry_then_success_with_jittered_backoff() -> None:
    responses = [
        amazon_error(503, "ServiceUnavailable", "x"),
        amazon_error(500, "InternalFailure", "x"),
        amazon_error(429, "QuotaExceeded", "You exceeded your quota for the requested resource."),
        json_response(200, {"sku": "SKU-1"}),
    ]
    fake = FakeAmazon(lambda r: responses.pop(0))
    client, clock = make_client(fake)
    with client:
        assert client.get_listings_item("SKU-1", [US]) == {"sku": "SKU-1"}
        stats = client.stats.snapshot()["getListingsItem"]
    assert len(fake.requests) == 4
    # backoff sleeps: full jitter below base * 2**n (0.5, 1, 2); the bucket adds its own waits
    backoffs = [s for s in clock.sleeps if s > 0]
    assert len(backoffs) >= 3
    assert stats["calls"] == 4 and stats["retries"] == 3 and stats["throttles"] == 1
    assert stats["errors"] == 0


def test_backoff_delays_are_bounded_and_grow() -> None:
    fake = FakeAmazon(lambda r: amazon_error(500, "InternalFailure", "x"))
    client, _clock = make_client(fake, max_retries=8)
    policy = client.retry
    delays = [policy.delay(n) for n in range(12)]
    assert all(0 <= d <= min(policy.cap, policy.base * 2**n) for n, d in enumerate(delays))
    # Eight retries, then the error: nothing sleeps for real (the fake clock records it).
    with client, pytest.raises(ServerError):
        client.get_listings_item("SKU-1", [US])
    assert len(fake.requests) == 9


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_writes_retry_on_throttle_and_server_errors(method: str) -> None:
    responses = [
        amazon_error(429, "QuotaExceeded", "q"),
        amazon_error(503, "ServiceUnavailable", "s"),
        json_response(200, {"sku": "SKU-1", "status": "ACCEPTED", "submissionId": "s1"}),
    ]
    fake = FakeAmazon(lambda r: responses.pop(0))
    client, _ = make_client(fake)
    payload = {"productType": "PRODUCT", "patches": [], "attributes": {}}
    with client:
        if method == "patch":
            out = client.patch_listings_item("SKU-1", [US], payload)
        elif method == "put":
            out = client.put_listings_item("SKU-1", [US], payload)
        else:
            out = client.delete_listings_item("SKU-1", [US])
    assert out["status"] == "ACCEPTED"
    assert len(fake.requests) == 3
    assert {r.method for r in fake.requests} == {method.upper()}


def test_bad_request_is_not_retried() -> None:
    fake = FakeAmazon(lambda r: amazon_error(400, "InvalidInput", "bad"))
    client, clock = make_client(fake)
    with client, pytest.raises(InvalidRequestError):
        client.patch_listings_item("SKU-1", [US], {"productType": "PRODUCT", "patches": []})
    assert len(fake.requests) == 1
    assert clock.sleeps == []


def test_sku_is_percent_encoded_in_the_path() -> None:
    fake = FakeAmazon(lambda r: json_response(200, {"sku": path_sku(r)}))
    client, _ = make_client(fake)
    with client:
        client.get_listings_item("my sku/α", [US])
        client.patch_listings_item("my sku/α", [US], {"productType": "P", "patches": []})
    for r in fake.requests:
        raw = r.url.raw_path.decode().split("?")[0]
        assert raw == f"/listings/2021-08-01/items/{SELLER}/my%20sku%2F%CE%B1"
        assert path_sku(r) == "my sku/α"


def test_array_params_are_csv() -> None:
    fake = FakeAmazon(lambda r: json_response(200, {"sku": "S"}))
    client, _ = make_client(fake)
    with client:
        client.get_listings_item("S", [US, CA], issue_locale="en_US")
        client.search_listings_items(
            [US],
            identifiers=["A", "B"],
            with_status=["BUYABLE", "DISCOVERABLE"],
            sortOrder="ASC",
        )
    q = query(fake.requests[0])
    assert q["marketplaceIds"] == f"{US},{CA}"
    assert q["includedData"] == "summaries,attributes,issues,offers,fulfillmentAvailability"
    assert q["issueLocale"] == "en_US"
    q = query(fake.requests[1])
    assert fake.requests[1].url.path == f"/listings/2021-08-01/items/{SELLER}"
    assert q["identifiers"] == "A,B" and q["identifiersType"] == "SKU"
    assert q["withStatus"] == "BUYABLE,DISCOVERABLE"
    assert q["sortOrder"] == "ASC" and q["pageSize"] == "20"


def test_search_refuses_more_than_20_identifiers() -> None:
    client, _ = make_client(FakeAmazon())
    with client, pytest.raises(ValueError):
        client.search_listings_items([US], identifiers=[str(i) for i in range(21)])


def test_patch_sends_json_body_mode_and_included_data() -> None:
    fake = FakeAmazon(lambda r: json_response(200, {"status": "VALID"}))
    client, _ = make_client(fake)
    patch = {
        "productType": "PRODUCT",
        "patches": [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 0}],
            }
        ],
    }
    with client:
        client.patch_listings_item("S", [US], patch, mode="VALIDATION_PREVIEW")
    (r,) = fake.requests
    assert r.method == "PATCH"
    assert r.headers["content-type"] == "application/json"
    assert body(r) == patch
    assert query(r)["mode"] == "VALIDATION_PREVIEW"
    assert query(r)["includedData"] == "issues"


def test_bucket_follows_rate_limit_header() -> None:
    fake = FakeAmazon(lambda r: json_response(200, {}, {"x-amzn-RateLimit-Limit": "50.0"}))
    client, _ = make_client(fake)
    with client:
        assert client.limiter.bucket("getListingsItem").rate == QUOTAS["getListingsItem"].rate
        client.get_listings_item("S", [US])
        assert client.limiter.bucket("getListingsItem").rate == 50.0


def test_rate_scale_multiplies_seeded_rates() -> None:
    client, _ = make_client(FakeAmazon(), rate_scale=20.0)
    with client:
        assert client.limiter.bucket("searchListingsItems").rate == pytest.approx(100.0)
        assert client.retry.base == pytest.approx(0.5 / 20)


def test_throttle_drains_bucket_so_next_call_waits() -> None:
    responses = [amazon_error(429, "QuotaExceeded", "q"), json_response(200, {})]
    fake = FakeAmazon(lambda r: responses.pop(0))
    client, _ = make_client(fake, max_retries=1)
    with client:
        client.get_listings_item("S", [US])
        # burst was 10; after the 429 the bucket was emptied and refilled only by the backoff
        assert client.limiter.bucket("getListingsItem").available() < 9


def test_client_paces_requests_at_the_quota() -> None:
    fake = FakeAmazon(lambda r: json_response(200, {}))
    client, clock = make_client(fake)
    start = clock()
    with client:
        for _ in range(15):
            client.patch_listings_item("S", [US], {"productType": "P", "patches": []})
    # patchListingsItem: burst 5 less one token of headroom, then 5/s -> 11 more take 2.2 s
    assert clock() - start == pytest.approx(2.2)


def test_feed_lifecycle_calls() -> None:
    report = json.dumps({"summary": {"errors": 0}}).encode()

    def api(request: httpx.Request) -> httpx.Response:
        p = request.url.path
        if request.method == "POST" and p == "/feeds/2021-06-30/documents":
            return json_response(
                201, {"feedDocumentId": "doc1", "url": "https://s3.example/up/doc1"}
            )
        if request.method == "PUT" and p == "/up/doc1":
            return httpx.Response(200)
        if request.method == "POST" and p == "/feeds/2021-06-30/feeds":
            return json_response(202, {"feedId": "F1"})
        if request.method == "GET" and p == "/feeds/2021-06-30/feeds/F1":
            return json_response(
                200, {"feedId": "F1", "processingStatus": "DONE", "resultFeedDocumentId": "res1"}
            )
        if request.method == "GET" and p == "/feeds/2021-06-30/documents/res1":
            return json_response(
                200,
                {
                    "feedDocumentId": "res1",
                    "url": "https://s3.example/dl/res1",
                    "compressionAlgorithm": "GZIP",
                },
            )
        if request.method == "GET" and p == "/dl/res1":
            return httpx.Response(200, content=gzip.compress(report))
        return amazon_error(404, "NotFound", p)

    fake = FakeAmazon(api)
    client, _ = make_client(fake)
    ct = "application/json; charset=UTF-8"
    with client:
        doc = client.create_feed_document(ct)
        client.upload_feed_document(doc["url"], b'{"messages": []}', ct)
        feed_id = client.create_feed("JSON_LISTINGS_FEED", [US], doc["feedDocumentId"])
        feed = client.get_feed(feed_id)
        res = client.get_feed_document(feed["resultFeedDocumentId"])
        data = client.download_feed_document(res)
    assert feed_id == "F1"
    assert data == report
    assert body(fake.requests[0]) == {"contentType": ct}
    upload = fake.requests[1]
    assert upload.headers["content-type"] == ct
    assert upload.content == b'{"messages": []}'
    assert "x-amz-access-token" not in upload.headers  # presigned URL: no token
    assert "x-amz-access-token" not in fake.requests[5].headers
    assert body(fake.requests[2]) == {
        "feedType": "JSON_LISTINGS_FEED",
        "marketplaceIds": [US],
        "inputFeedDocumentId": "doc1",
    }
    assert fake.requests[2].headers["x-amz-access-token"].startswith("Atza|")


def test_download_without_compression_is_raw() -> None:
    fake = FakeAmazon(lambda r: httpx.Response(200, content=b"plain"))
    client, _ = make_client(fake)
    with client:
        assert client.download_feed_document({"url": "https://s3.example/x"}) == b"plain"


def test_non_json_success_is_server_error() -> None:
    fake = FakeAmazon(lambda r: httpx.Response(200, content=b"<html>"))
    client, _ = make_client(fake)
    with client, pytest.raises(ServerError):
        client.get_feed("F1")


def test_stats_count_calls_and_latency() -> None:
    fake = FakeAmazon(lambda r: json_response(200, {}))
    client, _ = make_client(fake)
    with client:
        for _ in range(3):
            client.get_listings_item("S", [US])
        snap = client.stats.snapshot()
    assert snap["getListingsItem"]["calls"] == 3
    assert snap["lwaToken"]["calls"] == 1
    assert client.stats.total_calls("getListingsItem") == 3
    assert client.stats.latency(95) >= 0.0


def test_secrets_never_in_error_messages() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        # even a server echoing the credentials back must not leak them into messages
        return amazon_error(403, "Unauthorized", f"denied for {REFRESH}", f"secret {SECRET}")

    fake = FakeAmazon(api)
    client, _ = make_client(fake)
    with client, pytest.raises(AuthError) as ei:
        client.get_listings_item("S", [US])
    text = "\n".join([str(ei.value), *ei.value.lines()])
    assert REFRESH not in text and SECRET not in text
    assert fake.tokens_issued[0] not in text
    assert "Unauthorized" in text


def test_user_agent_is_sent() -> None:
    fake = FakeAmazon(lambda r: json_response(200, {}))
    client, _ = make_client(fake)
    with client:
        client.get_listings_item("S", [US])
    assert fake.requests[0].headers["user-agent"].startswith("reconciler/")
    assert "Language=Python/3." in fake.requests[0].headers["user-agent"]


def test_get_feeds_follows_next_token_alone() -> None:
    """Every page is fetched; the follow-up request carries nextToken as its only parameter,
    as the getFeeds model requires."""
    pages = {
        None: {"feeds": [{"feedId": "F1"}, {"feedId": "F2"}], "nextToken": "t2"},
        "t2": {"feeds": [{"feedId": "F3"}]},
    }

    def api(request: httpx.Request) -> httpx.Response:
        return json_response(200, pages[request.url.params.get("nextToken")])

    fake = FakeAmazon(api)
    client, _ = make_client(fake)
    with client:
        feeds = client.get_feeds(
            ["JSON_LISTINGS_FEED"],
            processing_statuses=["IN_QUEUE", "IN_PROGRESS"],
            marketplace_ids=[US],
            created_since="2026-11-22T10:00:00Z",
        )
    assert [f["feedId"] for f in feeds] == ["F1", "F2", "F3"]
    first, second = (dict(r.url.params) for r in fake.requests)
    assert first == {
        "feedTypes": "JSON_LISTINGS_FEED",
        "pageSize": "100",
        "processingStatuses": "IN_QUEUE,IN_PROGRESS",
        "marketplaceIds": US,
        "createdSince": "2026-11-22T10:00:00Z",
    }
    assert second == {"nextToken": "t2"}
