"""Fuzz the SP-API emulator's HTTP surface with hypothesis: ``python -m bench.fuzz_emulator``.

Every generated request (any method; known route patterns with hostile path segments, or random
paths; known and unknown query parameters with huge, negative, malformed or enormous values;
any content type; no body, random bytes, malformed JSON, random JSON, mutated Amazon bodies,
oversized bodies; a valid, invalid or missing access token) must get:

- a status below 500 (no 500 and no crash: the call log holds no handler traceback);
- for 4xx an Amazon-shaped body ``{"errors": [{"code": str, "message": str, ...}]}`` (the LWA
  token endpoint answers OAuth's ``{"error": ..., "error_description": ...}``);
- an ``x-amzn-RequestId`` header.

The suite runs a bounded version (``tests/test_emulator_fuzz.py``); this module runs longer and
prints the number of cases::

    python -m bench.fuzz_emulator --examples 5000          # in-process transport
    python -m bench.fuzz_emulator --examples 500 --server  # over real HTTP (loopback)
    python -m bench.fuzz_emulator --examples 1000 --feeds  # feed documents -> processing
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.emulator import auth
from reconciler.emulator.app import Emulator
from reconciler.emulator.state import EmulatorConfig

SELLER = "A1PP0FEH11RW77"
US = "ATVPDKIKX0DER"
SKU = "FUZZ-1"
MAX_BODY = 64 * 1024  # small, so oversized bodies are cheap to generate
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "FOO")

def _route_table() -> tuple[tuple[str, str], ...]:
    """(method, pattern) of every route the emulator serves, placeholders named {sellerId},
    {sku} or {id}."""
    emu = Emulator(":memory:")
    try:
        table = []
        for r in emu.routes:
            pattern = r.pattern
            for name in ("feedId", "feedDocumentId", "documentId", "supplySourceId", "orderId"):
                pattern = pattern.replace("{" + name + "}", "{id}")
            table.append((r.method, pattern))
        return tuple(table)
    finally:
        emu.close()


ROUTE_TABLE = _route_table()
ROUTES = tuple(sorted({p for _, p in ROUTE_TABLE}))
QUERY_NAMES = (
    "marketplaceIds", "includedData", "identifiers", "identifiersType", "pageSize", "pageToken",
    "sortBy", "sortOrder", "lastUpdatedAfter", "lastUpdatedBefore", "createdAfter",
    "createdBefore", "withIssueSeverity", "withStatus", "withoutStatus", "variationParentSku",
    "packageHierarchySku", "issueLocale", "mode", "feedTypes", "processingStatuses",
    "nextToken", "maxResults", "CreatedAfter", "MarketplaceIds", "OrderStatuses",
    "MaxResultsPerPage", "NextToken", "marketplaceId", "x",
)
CONTENT_TYPES = (
    None, "application/json", "application/json; charset=UTF-8", "text/plain",
    "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/json; charset=latin-1", "garbage", "",
)

# ------------------------------------------------------------------------------ strategies

_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_huge_int = st.integers(min_value=-(10**40), max_value=10**40)
_values = st.one_of(
    _text,
    _huge_int.map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", "0", "-1", "20", "21", "999999999999999999999", "NaN", "1e309",
                     "2026-13-45T99:99:99Z", "2026-11-22T00:00:00Z", US, f"{US},{US}",
                     "summaries,attributes,issues,offers,fulfillmentAvailability",
                     "SKU", "ASIN", "VALIDATION_PREVIEW", "JSON_LISTINGS_FEED", "IN_QUEUE",
                     ",,,", "%", "%00", "a" * 5000, "\x00", "\u202e", "../../etc/passwd"]),
)
_segment = st.one_of(
    st.sampled_from([SELLER, SKU, "A2OTHERSELLER9", "50000000001", "x", "..", ".", "%2F",
                     "%00", "%ZZ", "%E2%82", "a" * 3000, "%25", "%20", "null"]),
    _text.filter(lambda s: "/" not in s and "?" not in s and "#" not in s).map(
        lambda s: "".join(c if c.isalnum() or c in "-_.~" else f"%{ord(c) & 0xFF:02X}"
                          for c in s) or "x"
    ),
)
_json_leaf = st.one_of(st.none(), st.booleans(), _huge_int, st.floats(allow_nan=False), _text)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(_text, inner, max_size=4)),
    max_leaves=20,
)


def _mutated_amazon_body() -> st.SearchStrategy[Any]:
    """Amazon-looking bodies with one part replaced by a random value."""
    patch = {"productType": "PRODUCT", "patches": [
        {"op": "replace", "path": "/attributes/item_name",
         "value": [{"value": "x", "language_tag": "en_US", "marketplace_id": US}]}]}
    put = {"productType": "PRODUCT", "requirements": "LISTING", "attributes": {
        "item_name": [{"value": "x", "marketplace_id": US}]}}
    feed = {"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [US],
            "inputFeedDocumentId": "amzn1.tortuga.4.na.x"}
    doc = {"contentType": "application/json; charset=UTF-8"}
    supply = {"supplySourceCode": "c", "alias": "a",
              "address": {"name": "n", "addressLine1": "l", "countryCode": "US"}}
    bases = [patch, put, feed, doc, supply]

    def mutate(args: tuple[int, int, Any, str]) -> Any:
        i, j, value, key = args
        body = json.loads(json.dumps(bases[i % len(bases)]))
        keys = list(body)
        k = keys[j % len(keys)]
        if j % 3 == 0:
            body[k] = value
        elif j % 3 == 1:
            body[key or "extra"] = value
        else:
            del body[k]
        return body

    return st.tuples(st.integers(0, 99), st.integers(0, 99), _json, _text).map(mutate)


_body = st.one_of(
    st.just(b""),
    st.binary(max_size=200),
    _json.map(lambda v: json.dumps(v).encode()),
    _mutated_amazon_body().map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"{", b"[1,2", b'{"a": }', b"null", b"\xff\xfe\x00", b'{"a":1}{"b":2}',
                     b"[" * 10000, b'"' + b"x" * 1000, b"{}", b"[]", b"1e99999",
                     b'{"patches": [{"op": "replace", "path": "/attributes/' + b"a" * 500 + b'"}]}',
                     ]),
    st.integers(MAX_BODY - 10, MAX_BODY + 4096).map(lambda n: b" " * n),  # around the limit
)


@dataclass(frozen=True)
class FuzzRequest:
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    content_type: str | None
    token: str  # "valid" | "invalid" | "missing"
    body: bytes = field(repr=False)

    def describe(self) -> str:
        return (f"{self.method} {self.path[:120]} q={[(k, v[:40]) for k, v in self.query][:6]} "
                f"ct={self.content_type!r} token={self.token} body={self.body[:80]!r}"
                f"({len(self.body)} B)")


def _path(pattern: str, segments: list[str]) -> str:
    out = pattern
    for name in ("{sellerId}", "{sku}", "{id}"):
        while name in out:
            out = out.replace(name, segments.pop() if segments else "x", 1)
    return out


def _request(draw: st.DrawFn) -> FuzzRequest:
    if draw(st.integers(0, 9)) < 7:  # mostly a method the route serves, so handlers run
        method, pattern = draw(st.sampled_from(ROUTE_TABLE))
        segments = draw(st.one_of(st.just(["x", SKU, SELLER]),
                                  st.lists(_segment, min_size=3, max_size=3)))
        path = _path(pattern, list(segments))
        return draw(_rest(method, path))
    return draw(_random_request)


def _rest(method: str, path: str) -> st.SearchStrategy[FuzzRequest]:
    return st.builds(
        FuzzRequest,
        method=st.just(method),
        path=st.just(path),
        query=st.lists(st.tuples(st.sampled_from(QUERY_NAMES), _values), max_size=6).map(tuple),
        content_type=st.sampled_from(CONTENT_TYPES),
        token=st.sampled_from(["valid", "valid", "valid", "invalid", "missing"]),
        body=_body,
    )


_random_request: st.SearchStrategy[FuzzRequest] = st.builds(
    FuzzRequest,
    method=st.sampled_from(METHODS),
    path=st.one_of(
        st.builds(_path, st.sampled_from(ROUTES), st.lists(_segment, min_size=3, max_size=3)),
        st.builds(_path, st.sampled_from(ROUTES), st.just([SKU, SELLER])),
        st.lists(_segment, min_size=1, max_size=6).map(lambda p: "/" + "/".join(p)),
        st.sampled_from(["/", "//", "/listings", "/listings/2021-08-01/items/",
                         "/feeds/2021-06-30/feeds/", "/" + "a/" * 200]),
    ),
    query=st.lists(st.tuples(st.sampled_from(QUERY_NAMES), _values), max_size=6).map(tuple),
    content_type=st.sampled_from(CONTENT_TYPES),
    token=st.sampled_from(["valid", "valid", "invalid", "missing"]),
    body=_body,
)
requests: st.SearchStrategy[FuzzRequest] = st.composite(_request)()

# ------------------------------------------------------------------------------ checking


def check(req: FuzzRequest, status: int, headers: httpx.Headers, body: bytes) -> list[str]:
    """Problems with one answer (empty: fine)."""
    problems: list[str] = []
    if status >= 500:
        problems.append(f"status {status}")
    if not headers.get("x-amzn-RequestId"):
        problems.append("no x-amzn-RequestId")
    if 400 <= status < 500 and req.method != "HEAD":
        if req.path.startswith(("/_emulator/documents/", "/_emulator/definitions/")) and (
            body.startswith(b"<?xml")
        ):
            # presigned document and definition URLs are S3's, which answers S3's XML <Error>
            return problems if b"<Error><Code>" in body else [*problems, "bad S3 error"]
        try:
            data = json.loads(body)
        except ValueError:
            return [*problems, f"{status} body is not JSON: {body[:100]!r}"]
        if req.path == "/auth/o2/token" and isinstance(data, dict) and "error" in data:
            return problems  # OAuth's error shape (LWA)
        if req.path.startswith(("/v2/", "/v3/")):
            # DeepL's API beside SP-API (issue 16): DeepL's error shape, {"message": ...}
            ok = isinstance(data, dict) and isinstance(data.get("message"), str)
            return problems if ok else [*problems, f"{status} body is not DeepL's error"]
        if req.path.startswith("/aws-translate"):
            # Amazon Translate's AWS JSON 1.1 error shape: {"__type": ..., "message": ...}
            ok = isinstance(data, dict) and isinstance(data.get("__type"), str)
            return problems if ok else [*problems, f"{status} body is not an AWS JSON error"]
        errors = data.get("errors") if isinstance(data, dict) else None
        if not (
            isinstance(errors, list)
            and errors
            and all(isinstance(e, dict) and isinstance(e.get("code"), str)
                    and isinstance(e.get("message"), str) for e in errors)
        ):
            problems.append(f"{status} body is not Amazon's ErrorList: {body[:200]!r}")
    return problems


def fuzz_emulator(db: str = ":memory:") -> Emulator:
    emu = Emulator(db, EmulatorConfig(time_scale=1000.0, quotas=False, max_body_bytes=MAX_BODY))
    emu.seed({"sellers": {SELLER: {"listings": [{
        "sku": SKU, "marketplaceId": US, "productType": "PRODUCT",
        "attributes": {"item_name": [{"value": "Mug", "language_tag": "en_US",
                                      "marketplace_id": US}]}}]}}})
    return emu


@dataclass(frozen=False)
class Fuzzer:
    """Sends FuzzRequests through one httpx client and collects problems and counts."""

    client: httpx.Client
    emu: Emulator
    token: str
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def send(self, req: FuzzRequest) -> list[str]:
        headers = {}
        if req.content_type is not None:
            headers["content-type"] = req.content_type
        if req.token == "valid":
            headers["x-amz-access-token"] = self.token
        elif req.token == "invalid":
            headers["x-amz-access-token"] = "Atza|not-a-token"
        self.cases += 1
        r = self.client.request(req.method, req.path, params=list(req.query), headers=headers,
                                content=req.body)
        self.statuses[r.status_code] += 1
        found = check(req, r.status_code, r.headers, r.content)
        bugs = [c for c in self.emu.calls() if c.error]
        if bugs:
            found.append("handler traceback: " + (bugs[-1].error or "")[-400:])
            self.emu.reset_calls()
        elif self.cases % 200 == 0:
            self.emu.reset_calls()  # keep the call log small
        if found:
            self.problems.append(f"{req.describe()}: {found}")
        return found


@contextmanager
def fuzzer(*, server: bool = False) -> Iterator[Fuzzer]:
    emu = fuzz_emulator()
    token = auth.issue_token(emu, SELLER)
    try:
        if server:
            from reconciler.emulator.server import running

            with running(emu) as url, httpx.Client(base_url=url, timeout=10) as c:
                yield Fuzzer(c, emu, token)
        else:
            with httpx.Client(transport=emu.transport(), base_url="http://emulator.local",
                              timeout=10) as c:
                yield Fuzzer(c, emu, token)
    finally:
        emu.close()


def run(examples: int, *, server: bool = False, seed: int | None = None,
        report: Callable[[str], None] = print) -> Fuzzer:
    with fuzzer(server=server) as fz:

        @settings(max_examples=examples, deadline=None, database=None, derandomize=seed is None,
                  suppress_health_check=list(HealthCheck))
        @given(requests)
        def one(req: FuzzRequest) -> None:
            fz.send(req)

        if seed is not None:
            one = settings(derandomize=False)(one)  # type: ignore[assignment]
            from hypothesis import seed as hseed

            one = hseed(seed)(one)
        started = time.monotonic()
        one()
        report(
            f"fuzz_emulator: {fz.cases} cases over {'real HTTP' if server else 'in-process'} "
            f"in {time.monotonic() - started:.1f}s, statuses {dict(sorted(fz.statuses.items()))},"
            f" {len(fz.problems)} problem(s)"
        )
        return fz


# ------------------------------------------------------------------------------ feed documents

_MESSAGES = [
    {"sku": SKU, "operationType": "DELETE"},
    {"sku": SKU, "operationType": "PARTIAL_UPDATE", "productType": "PRODUCT",
     "attributes": {"fulfillment_availability": [
         {"fulfillment_channel_code": "DEFAULT", "quantity": 10}]}},
    {"sku": "NEW-1", "operationType": "UPDATE", "productType": "PRODUCT",
     "requirements": "LISTING", "attributes": {"item_name": [
         {"value": "T", "language_tag": "en_US", "marketplace_id": US}]}},
    {"sku": SKU, "operationType": "PATCH", "productType": "PRODUCT", "patches": [
        {"op": "merge", "path": "/attributes/purchasable_offer", "value": [
            {"marketplace_id": US, "currency": "USD", "audience": "ALL",
             "our_price": [{"schedule": [{"value_with_tax": 9.99}]}]}]}]},
]


@st.composite
def _message(draw: st.DrawFn, mid: int) -> Any:
    m: Any = json.loads(json.dumps(draw(st.sampled_from(_MESSAGES))))
    m["messageId"] = draw(st.one_of(st.just(mid), st.just(1), _huge_int, _text))
    for _ in range(draw(st.integers(0, 2))):  # mutate: replace, add or drop a key, or deeper
        k = draw(st.sampled_from([*m, "attributes", "patches", "sku", "x"]))
        how = draw(st.integers(0, 3))
        if how == 0:
            m[k] = draw(_json)
        elif how == 1:
            m.pop(k, None)
        elif how == 2 and isinstance(m.get("attributes"), dict):
            m["attributes"][draw(_text) or "a"] = draw(_json)
        else:
            m["sku"] = draw(st.one_of(_text, st.just("x" * 500)))
    if draw(st.integers(0, 14)) == 0:
        m = draw(_json)  # not even an object
    return m


@st.composite
def feed_documents(draw: st.DrawFn) -> bytes:
    """JSON_LISTINGS_FEED documents: mostly well-formed envelopes with mutated messages, some
    broken envelopes, wrong sellers, random JSON, non-JSON bytes and hostile nesting."""
    kind = draw(st.integers(0, 15))
    if kind == 0:
        return draw(st.binary(max_size=300))
    if kind == 1:
        return draw(st.sampled_from([b"[" * 50000, b'{"header":' * 5000, b"\xef\xbb\xbf{}",
                                     b"", b"null", b'{"header": {}, "messages": []}']))
    header: Any = {"sellerId": draw(st.sampled_from([SELLER] * 6 + ["AOTHER", ""])),
                   "version": draw(st.sampled_from(["2.0"] * 6 + ["1.0", 2])),
                   "issueLocale": draw(st.sampled_from(["en_US", "xx_XX", ""]))}
    if draw(st.integers(0, 3)) == 0:
        header["report"] = {"includedData": draw(st.lists(st.sampled_from(
            ["issues", "summaries", "attributes", "offers", "nope"]), max_size=3)),
            "apiVersion": draw(st.sampled_from(["2021-08-01", "2021-08-01", "1999"]))}
    n = draw(st.integers(0, 6)) or draw(st.integers(0, 6))
    messages = [draw(_message(i + 1)) for i in range(n)]
    doc: Any = {"header": header, "messages": messages}
    if kind == 2:
        doc[draw(_text) or "k"] = draw(_json)
    if kind == 3:
        doc = draw(_json)
    return json.dumps(doc).encode()


@dataclass(frozen=False)
class FeedFuzzer:
    """Uploads documents, creates feeds, lets them finish; checks nothing is a 5xx or a bug."""

    client: httpx.Client
    emu: Emulator
    clock: Any
    cases: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def send(self, document: bytes, content_type: str) -> None:
        self.cases += 1
        found: list[str] = []
        c = self.client
        c.headers["x-amz-access-token"] = auth.issue_token(self.emu, SELLER)  # clock moves
        r = c.post("/feeds/2021-06-30/documents", json={"contentType": content_type})
        if r.status_code != 201:
            found.append(f"createFeedDocument {r.status_code}")
        else:
            url = r.json()["url"]
            up = c.put(url, content=document, headers={"content-type": content_type,
                                                       "x-amz-access-token": ""})
            r = c.post("/feeds/2021-06-30/feeds", json={
                "feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [US],
                "inputFeedDocumentId": r.json()["feedDocumentId"]})
            if up.status_code >= 500 or r.status_code >= 500:
                found.append(f"upload {up.status_code} / createFeed {r.status_code}")
            elif r.status_code == 202:
                feed_id = r.json()["feedId"]
                self.clock.advance(60)
                g = c.get(f"/feeds/2021-06-30/feeds/{feed_id}")
                status = g.json().get("processingStatus") if g.status_code == 200 else None
                self.outcomes[str(status)] += 1
                if status not in ("DONE", "FATAL"):
                    found.append(f"getFeed {g.status_code} {status}")
                elif g.json().get("resultFeedDocumentId"):
                    d = c.get(f"/feeds/2021-06-30/documents/{g.json()['resultFeedDocumentId']}")
                    rep = c.get(d.json()["url"]) if d.status_code == 200 else d
                    if rep.status_code != 200:
                        found.append(f"report {rep.status_code}")
            else:
                self.outcomes[f"createFeed {r.status_code}"] += 1
        bugs = [x for x in self.emu.calls() if x.error or x.status >= 500]
        if bugs:
            found.append(f"{bugs[-1].operation} {bugs[-1].status}: {(bugs[-1].error or '')[-300:]}")
        self.emu.reset_calls()
        if found:
            self.problems.append(f"{document[:120]!r} ({content_type}): {found}")


class _Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, s: float) -> None:
        self.t += s


def run_feeds(examples: int, *, report: Callable[[str], None] = print) -> FeedFuzzer:
    clock = _Clock()
    cfg = EmulatorConfig(quotas=False, feed_processing_s=2.0, write_delay_s=0.0)
    emu = Emulator(":memory:", cfg, clock=clock, sleep=lambda s: None)
    emu.seed({"sellers": {SELLER: {"listings": [{
        "sku": SKU, "marketplaceId": US, "productType": "PRODUCT",
        "attributes": {"item_name": [{"value": "Mug", "marketplace_id": US}]}}]}}})
    token = auth.issue_token(emu, SELLER)
    try:
        with httpx.Client(transport=emu.transport(), base_url="http://emulator.local",
                          headers={"x-amz-access-token": token}, timeout=10) as c:
            ff = FeedFuzzer(c, emu, clock)

            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(feed_documents(), st.sampled_from(["application/json; charset=UTF-8",
                                                      "application/json", "text/plain"]))
            def one(document: bytes, ctype: str) -> None:
                ff.send(document, ctype)

            started = time.monotonic()
            one()
            report(f"fuzz_emulator feeds: {ff.cases} feed documents in "
                   f"{time.monotonic() - started:.1f}s, outcomes {dict(ff.outcomes)}, "
                   f"{len(ff.problems)} problem(s)")
            return ff
    finally:
        emu.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.fuzz_emulator", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=5000)
    ap.add_argument("--server", action="store_true", help="over real HTTP on 127.0.0.1")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: derandomized)")
    ap.add_argument("--feeds", action="store_true",
                    help="fuzz JSON_LISTINGS_FEED documents through feed processing instead")
    args = ap.parse_args(argv)
    if args.feeds:
        ff = run_feeds(args.examples)
        for p in ff.problems[:20]:
            print("  -", p, file=sys.stderr)
        return 1 if ff.problems else 0
    fz = run(args.examples, server=args.server, seed=args.seed)
    for p in fz.problems[:20]:
        print("  -", p, file=sys.stderr)
    return 1 if fz.problems else 0


if __name__ == "__main__":
    sys.exit(main())
