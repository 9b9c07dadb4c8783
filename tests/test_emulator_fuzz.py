"""Bad HTTP input to the emulator (issue 8, must-show 6): Amazon-shaped 4xx, never a 500 or a crash.

- hypothesis fuzz (``bench/fuzz_emulator.py``: any method, hostile path segments, huge/invalid
  query values, any content type, random/malformed/mutated/oversized bodies, valid/invalid/no
  token): 300 examples through the in-process transport and 60 over a real loopback server;
  every answer < 500, 4xx bodies are Amazon's ErrorList, every answer has x-amzn-RequestId and
  the call log holds no handler traceback;
- named cases: malformed JSON, wrong content types, oversized bodies, unknown paths and
  methods, huge and invalid query values (both surfaces);
- raw bytes to the real server (not HTTP, bad Content-Length, bad chunked encoding, a
  Content-Length larger than what is sent, an unknown method, an over-long request line):
  a 4xx Amazon-shaped answer or a closed connection, and the server keeps serving.

Case counts are printed with ``-s``.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bench import fuzz_emulator as fz
from reconciler.emulator import auth
from reconciler.emulator.app import Emulator
from reconciler.emulator.server import running
from reconciler.emulator.state import EmulatorConfig

SELLER = fz.SELLER
US = fz.US
ITEM = f"/listings/2021-08-01/items/{SELLER}/{fz.SKU}"
SEARCH = f"/listings/2021-08-01/items/{SELLER}"


def test_fuzz_in_process() -> None:
    result = fz.run(300, report=print)
    assert result.cases == 300
    assert result.problems == [], "\n".join(result.problems[:10])
    assert len(result.statuses) >= 4  # the fuzz reached more than one kind of answer


def test_fuzz_over_real_http() -> None:
    result = fz.run(60, server=True, report=print)
    assert result.cases == 60
    assert result.problems == [], "\n".join(result.problems[:10])


@pytest.fixture(params=["in-process", "server"])
def surface(request: pytest.FixtureRequest) -> Iterator[tuple[httpx.Client, Emulator]]:
    emu = Emulator(":memory:", EmulatorConfig(time_scale=1000.0, quotas=False, write_delay_s=0.0,
                                                   feed_processing_s=2.0))
    emu.seed({"sellers": {SELLER: {"listings": [{
        "sku": fz.SKU, "marketplaceId": US, "productType": "PRODUCT",
        "attributes": {"item_name": [{"value": "Mug", "marketplace_id": US}]}}]}}})
    headers = {"x-amz-access-token": auth.issue_token(emu, SELLER)}
    try:
        if request.param == "server":
            with running(emu) as url, httpx.Client(base_url=url, headers=headers,
                                                   timeout=10) as c:
                yield c, emu
        else:
            with httpx.Client(transport=emu.transport(), base_url="http://e.local",
                              headers=headers, timeout=10) as c:
                yield c, emu
    finally:
        emu.close()


def amazon_error(r: httpx.Response, status: int | tuple[int, ...]) -> dict[str, Any]:
    wanted = (status,) if isinstance(status, int) else status
    assert r.status_code in wanted, (r.status_code, r.text[:300])
    assert r.headers.get("x-amzn-RequestId")
    body = r.json()
    err = body["errors"][0]
    assert isinstance(err["code"], str) and isinstance(err["message"], str)
    return dict(err)


PATCH_OK = {"productType": "PRODUCT", "patches": [{"op": "replace",
            "path": "/attributes/item_name", "value": [{"value": "x", "marketplace_id": US}]}]}


@pytest.mark.parametrize("body", [b"{", b'{"patches": [}', b"\xff\xfe", b"[1,2,3]", b"null",
                                  b'"text"', b"{}", b'{"patches": "no"}', b"[" * 5000],
                         ids=lambda b: repr(b[:12]))
def test_malformed_json(surface: tuple[httpx.Client, Emulator], body: bytes) -> None:
    c, emu = surface
    r = c.patch(ITEM, params={"marketplaceIds": US}, content=body,
                headers={"content-type": "application/json"})
    amazon_error(r, 400)
    assert not [x for x in emu.calls() if x.error]


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml", "multipart/form-data",
                                   "application/x-www-form-urlencoded", "garbage/;;;"])
def test_wrong_content_type(surface: tuple[httpx.Client, Emulator], ctype: str) -> None:
    c, _ = surface
    r = c.patch(ITEM, params={"marketplaceIds": US}, content=json.dumps(PATCH_OK),
                headers={"content-type": ctype})
    assert amazon_error(r, 415)["code"] == "UnsupportedMediaType"


def test_oversized_body(surface: tuple[httpx.Client, Emulator]) -> None:
    c, emu = surface
    big = b"{" + b" " * (emu.config.max_body_bytes + 10) + b"}"
    r = c.put(ITEM, params={"marketplaceIds": US}, content=big,
              headers={"content-type": "application/json"})
    assert amazon_error(r, 413)["code"] == "RequestEntityTooLarge"
    # the server is still fine afterwards
    assert c.get(ITEM, params={"marketplaceIds": US}).status_code == 200


@pytest.mark.parametrize("method,path", [
    ("GET", "/nope"), ("GET", "/"), ("POST", "/listings/2021-08-01/items"),
    ("GET", "/listings/2099-01-01/items/X/Y"), ("GET", "/" + "a/" * 500),
    ("DELETE", "/feeds/2021-06-30/documents"), ("PATCH", SEARCH),
    ("GET", "/listings/2021-08-01/items/%ZZ/%00"), ("OPTIONS", ITEM),
])
def test_unknown_paths_and_methods(
    surface: tuple[httpx.Client, Emulator], method: str, path: str
) -> None:
    c, _ = surface
    amazon_error(c.request(method, path), (400, 403, 404, 405))


@pytest.mark.parametrize("params", [
    {"marketplaceIds": US, "pageSize": "10" * 40},
    {"marketplaceIds": US, "pageSize": "-1"},
    {"marketplaceIds": US, "pageSize": "abc"},
    {"marketplaceIds": US, "pageToken": "x" * 20000},
    {"marketplaceIds": US, "identifiers": ",".join(f"S{i}" for i in range(5000)),
     "identifiersType": "SKU"},
    {"marketplaceIds": US, "identifiersType": "NOPE", "identifiers": "x"},
    {"marketplaceIds": "NOT-A-MARKETPLACE"},
    {"marketplaceIds": ",".join([US] * 500)},
    {"marketplaceIds": US, "lastUpdatedAfter": "2026-99-99T99:99:99Z"},
    {"marketplaceIds": US, "lastUpdatedAfter": "9" * 400},
    {"marketplaceIds": US, "includedData": "everything"},
    {"marketplaceIds": US, "sortBy": "x", "sortOrder": "sideways"},
    {"marketplaceIds": US, "withIssueSeverity": "\u202e\x00"},
    {},
])
def test_huge_or_invalid_query_values(
    surface: tuple[httpx.Client, Emulator], params: dict[str, str]
) -> None:
    c, emu = surface
    r = c.get(SEARCH, params=params)
    assert r.status_code < 500, r.text[:300]
    if r.status_code >= 400:
        amazon_error(r, r.status_code)
    assert not [x for x in emu.calls() if x.error]


def test_huge_query_values_on_get_item_and_feeds(surface: tuple[httpx.Client, Emulator]) -> None:
    c, emu = surface
    for path, params in [
        (ITEM, {"marketplaceIds": US, "includedData": "," * 10000}),
        (ITEM, {"marketplaceIds": US, "issueLocale": "x" * 10000}),
        ("/feeds/2021-06-30/feeds", {"pageSize": "1e99", "feedTypes": "JSON_LISTINGS_FEED"}),
        ("/feeds/2021-06-30/feeds", {"nextToken": "%%%" * 1000}),
        ("/feeds/2021-06-30/feeds/" + "9" * 400, {}),
        ("/supplySources/2020-07-01/supplySources", {"pageSize": "-5", "nextToken": "x"}),
    ]:
        r = c.get(path, params=params)
        assert r.status_code < 500, (path, r.text[:300])
        if r.status_code >= 400:
            amazon_error(r, r.status_code)
    assert not [x for x in emu.calls() if x.error]


# --------------------------------------------------------------------------- raw bytes


@pytest.fixture
def server() -> Iterator[tuple[str, int, Emulator]]:
    emu = Emulator(":memory:", EmulatorConfig(time_scale=1000.0, quotas=False, write_delay_s=0.0,
                                                   feed_processing_s=2.0))
    try:
        with running(emu) as url:
            host, port = url.removeprefix("http://").split(":")
            yield host, int(port), emu
    finally:
        emu.close()


def _raw(host: str, port: int, data: bytes) -> bytes:
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        except (ConnectionResetError, TimeoutError):
            pass
        return b"".join(chunks)


RAW_CASES = {
    "not http": b"hello there\r\n\r\n",
    "binary": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),
    "bad content-length": (f"PATCH {ITEM}?marketplaceIds={US} HTTP/1.1\r\nHost: x\r\n"
                           "Content-Length: abc\r\n\r\n{}").encode(),
    "negative content-length": (f"PATCH {ITEM} HTTP/1.1\r\nHost: x\r\n"
                                "Content-Length: -5\r\n\r\n").encode(),
    "huge content-length": (f"PUT {ITEM} HTTP/1.1\r\nHost: x\r\n"
                            "Content-Length: 99999999999999999999\r\n\r\n{}").encode(),
    "short body": (f"PATCH {ITEM} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Content-Length: 500\r\n\r\n{\"patches\": []}").encode(),
    "bad chunked": (f"PATCH {ITEM} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                    "Content-Type: application/json\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n").encode(),
    "unknown method": f"BREW {ITEM} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
    "long request line": b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "many headers": b"GET / HTTP/1.1\r\n" + b"".join(
        f"X-H{i}: v\r\n".encode() for i in range(200)) + b"\r\n",
    "http/0.9": b"GET /\r\n",
    "bad version": b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(RAW_CASES))
def test_raw_garbage_to_the_real_server(name: str, server: tuple[str, int, Emulator]) -> None:
    host, port, emu = server
    answer = _raw(host, port, RAW_CASES[name])
    if answer:  # an answer must be an HTTP 4xx with Amazon's ErrorList (a close is also fine)
        head, _, body = answer.partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0]
        parts = status_line.split(b" ")
        assert parts[0].startswith(b"HTTP/") and parts[1][:1] == b"4", answer[:300]
        err = json.loads(body)["errors"][0]
        assert err["code"] and err["message"]
        assert b"x-amzn-requestid" in head.lower()
    assert not [c for c in emu.calls() if c.error]
    # the server keeps serving
    with httpx.Client(base_url=f"http://{host}:{port}", timeout=5) as c:
        assert c.get("/nope").status_code == 404


def test_fuzz_feed_documents_through_processing() -> None:
    """Hostile JSON_LISTINGS_FEED documents (bench/fuzz_emulator.feed_documents): every feed ends
    DONE or FATAL with a report, and no request around it is a 5xx or a handler bug (found: a
    message whose operationType was an object crashed the processing tick, and every request
    after it answered 500)."""
    result = fz.run_feeds(150, report=print)
    assert result.cases == 150
    assert result.problems == [], "\n".join(result.problems[:5])
    assert result.outcomes["DONE"] > 0 and result.outcomes["FATAL"] > 0


def test_a_message_with_an_object_operation_type_is_a_bad_message() -> None:
    from tests.emulator_support import FakeClock, client, emulator, listings_feed, submit_feed

    clock = FakeClock()
    cfg = EmulatorConfig(quotas=False, write_delay_s=0.0, feed_processing_s=2.0)
    with emulator(cfg, clock) as emu, \
            client(emu) as c:
        doc = listings_feed([
            {"messageId": 1, "sku": "A", "operationType": {"x": 1}},
            {"messageId": 2, "sku": "B", "operationType": "PATCH", "productType": "PRODUCT",
             "patches": [{"op": ["replace"], "path": "/attributes/item_name"}]},
            {"messageId": 3, "sku": "C", "operationType": "UPDATE", "productType": "PRODUCT",
             "requirements": {"r": 1}, "attributes": {"item_name": [{"value": "x"}]}},
        ])
        feed_id = submit_feed(c, doc)
        clock.advance(60)
        r = c.get(f"/feeds/2021-06-30/feeds/{feed_id}")
        assert r.status_code == 200 and r.json()["processingStatus"] == "DONE", r.text
        assert not [x for x in emu.calls() if x.error or x.status >= 500]


def test_a_bug_while_processing_a_feed_kills_that_feed_not_the_emulator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Feed processing runs inside every request's tick: an exception there used to answer 500
    to every later request, forever (the tick retried the same feed). Now the feed is FATAL, its
    traceback is kept for tests (feed_error), and the emulator keeps answering."""
    from reconciler.emulator import feed_processing, listings_feed
    from tests.emulator_support import FakeClock, client, emulator, submit_feed
    from tests.emulator_support import listings_feed as feed_doc

    def boom(*a: Any, **k: Any) -> Any:
        raise RuntimeError("bug in message processing")

    clock = FakeClock()
    cfg = EmulatorConfig(quotas=False, write_delay_s=0.0, feed_processing_s=2.0)
    with emulator(cfg, clock) as emu, \
            client(emu) as c:
        monkeypatch.setattr(listings_feed, "process_message", boom)
        doc = feed_doc([{"messageId": 1, "sku": "A", "operationType": "DELETE"}])
        feed_id = submit_feed(c, doc)
        clock.advance(60)
        r = c.get(f"/feeds/2021-06-30/feeds/{feed_id}")
        assert r.status_code == 200 and r.json()["processingStatus"] == "FATAL", r.text
        assert "bug in message processing" in (feed_processing.feed_error(emu, feed_id) or "")
        assert c.get("/feeds/2021-06-30/feeds", params={"feedTypes": "JSON_LISTINGS_FEED"}
                     ).status_code == 200
