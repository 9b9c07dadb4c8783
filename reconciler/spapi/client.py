"""A small synchronous SP-API client: Listings Items 2021-08-01 and Feeds 2021-06-30.

Methods return Amazon's JSON shapes (CONTRACT.md §3, §5) as parsed dicts; mapping them to our
value types is ``reconciler.live.normalize``'s job. Every call goes through the same path:

1. take a token from the operation's bucket (``reconciler.spapi.ratelimit``), waiting if needed;
2. send with the LWA access token (``auth.LwaAuth``; one refresh + retry on a token 403);
3. follow ``x-amzn-RateLimit-Limit``; on a 429 empty the bucket;
4. on 429/5xx/connection errors back off with full jitter and retry, at most ``max_retries``
   times (``scheduler``); any other non-2xx raises its typed error at once
   (``spapi.errors``).

Writes (patch/put/delete, createFeed) are retried like reads. That is safe because every
write this tool sends is *idempotent per listing state*: a patch replaces/merges selector
entries with absolute values (never "add 3 units"), a put sets the whole listing, a delete of
a deleted listing changes nothing. If Amazon applied a request whose response we lost (5xx or
reset), sending it again yields the same listing.

The client is thread-safe: one ``httpx.Client`` (its connection pool is shared by threads),
one token cache, one set of buckets. See ``scheduler`` for why bulk work uses threads.
"""

from __future__ import annotations

import gzip
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from reconciler.kernel.errors import ApiError, ApiErrorDetail, ServerError, ThrottledError
from reconciler.kernel.model import to_json_value
from reconciler.kernel.quotas import (
    JSON_LISTINGS_FEED_WINDOW,
    QUOTAS,
    SEARCH_MAX_IDENTIFIERS,
    Quota,
    limit_key,
)
from reconciler.spapi.ratelimit import RateLimiter, SlidingWindow

from .. import __version__
from .auth import LwaAuth, LwaTokenSource
from .errors import (
    RATE_LIMIT_HEADER,
    REQUEST_ID_HEADER,
    error_from_response,
    error_from_transport,
)
from .scheduler import RetryPolicy, run_with_retries
from .stats import ClientStats

DEFAULT_INCLUDED: tuple[str, ...] = (
    "summaries",
    "attributes",
    "issues",
    "offers",
    "fulfillmentAvailability",
)
LISTINGS_PATH = "/listings/2021-08-01/items"
JSON_LISTINGS_FEED = "JSON_LISTINGS_FEED"
FEED_WINDOW_RETRIES = 3  # 429s on a paced createFeed, each answered by waiting a whole window
FEEDS_PATH = "/feeds/2021-06-30"
DEFAULT_USER_AGENT = (
    f"reconciler/{__version__} (Language=Python/{sys.version_info.major}.{sys.version_info.minor})"
)
log = logging.getLogger(__name__)  # debug lines only: operation, status, delay (no secrets)
_NO_AUTH: Any = None  # httpx: auth=None on a request means "no auth at all" (presigned URLs)


def csv(values: Sequence[str] | str) -> str:
    """Swagger ``collectionFormat: csv``: one comma-separated value."""
    if isinstance(values, str):
        return values
    return ",".join(values)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


class SpApiClient:
    """One seller's SP-API endpoint (one region, or the emulator)."""

    def __init__(
        self,
        *,
        seller_id: str,
        base_url: str,
        token_url: str,
        refresh_token: str,
        client_id: str,
        client_secret: str,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 8,
        rate_scale: float = 1.0,
        timeout: float = 30.0,
        user_agent: str = DEFAULT_USER_AGENT,
        quotas: Mapping[str, Quota] | None = None,
    ) -> None:
        """``quotas`` replaces the seed table of the token buckets (default: Amazon's
        production usage plans, ``reconciler.kernel.quotas.QUOTAS``; the sandbox has its own)."""
        self.seller_id = seller_id
        self.base_url = base_url.rstrip("/")
        self.rate_scale = rate_scale
        self._clock = clock
        self._sleep = sleep
        self.stats = ClientStats()
        self.limiter = RateLimiter(
            rate_scale=rate_scale,
            clock=clock,
            sleep=sleep,
            quotas=dict(quotas if quotas is not None else QUOTAS),
        )
        self.retry = RetryPolicy(max_retries=max_retries).scaled(rate_scale)
        window = JSON_LISTINGS_FEED_WINDOW  # per seller and region: this client's
        self.feed_window = SlidingWindow(
            window.limit, window.seconds / rate_scale, clock=clock, sleep=sleep
        )
        headers = {"user-agent": user_agent, "accept": "application/json"}
        # Token requests go to a different host (api.amazon.com) and must not carry the auth.
        self._token_http = httpx.Client(transport=transport, timeout=timeout, headers=headers)
        self.tokens = LwaTokenSource(
            token_url=token_url,
            refresh_token=refresh_token,
            client_id=client_id,
            client_secret=client_secret,
            http=self._token_http,
            clock=clock,
            sleep=sleep,
            retry=RetryPolicy(max_retries=min(max_retries, 3)).scaled(rate_scale),
            stats=self.stats,
        )
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout,
            headers=headers,
            auth=LwaAuth(self.tokens),
        )

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        self._http.close()
        self._token_http.close()

    def __enter__(self) -> SpApiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ core

    def _request(
        self,
        operation: str,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        metered: bool = True,
        signed: bool = True,
        limit: str | None = None,
        retry_throttled: bool = True,
    ) -> httpx.Response:
        """Send one logical call with bucket, retries and stats; return the 2xx response.
        ``limit``: the bucket's key when it is not the operation's (previews,
        ``quotas.limit_key``); ``retry_throttled=False`` raises a 429 at once (the caller
        paces itself by a window instead)."""
        bucket = limit or operation
        hdrs = dict(headers or {})
        if body is not None:
            content = json.dumps(to_json_value(body), ensure_ascii=False).encode("utf-8")
            hdrs.setdefault("content-type", "application/json")

        def attempt(retries: int) -> httpx.Response:
            if metered:
                self.limiter.acquire(bucket)
            start = self._clock()
            try:
                if signed:
                    r = self._http.request(
                        method, url, params=params, content=content, headers=hdrs
                    )
                else:
                    r = self._http.request(
                        method, url, params=params, content=content, headers=hdrs, auth=_NO_AUTH
                    )
            except httpx.RequestError as e:
                self.stats.record_call(operation, self._clock() - start, 0)
                raise error_from_transport(e, operation, retries=retries) from e
            self.stats.record_call(operation, self._clock() - start, r.status_code)
            if metered:
                if r.status_code == 429:
                    self.limiter.bucket(bucket).drain()
                else:
                    self.limiter.observe_limit_header(bucket, r.headers.get(RATE_LIMIT_HEADER))
            if not 200 <= r.status_code < 300:
                raise error_from_response(r, operation, retries=retries)
            return r

        def on_retry(n: int, e: BaseException, delay: float) -> None:
            self.stats.record_retry(operation)
            status = getattr(e, "status", 0) or type(e).__name__
            log.debug("%s: %s, retry %d in %.3f s", operation, status, n + 1, delay)

        try:
            return run_with_retries(
                attempt,
                # LWA failures (operation "lwaToken") were already retried by the token source
                retryable=lambda e: (
                    isinstance(e, (ThrottledError, ServerError))
                    and e.operation == operation
                    and (retry_throttled or not isinstance(e, ThrottledError))
                ),
                policy=self.retry,
                sleep=self._sleep,
                on_retry=on_retry,
            )
        except ApiError:
            self.stats.record_error(operation)
            raise

    def _json(self, operation: str, r: httpx.Response) -> dict[str, Any]:
        try:
            data = r.json()
        except ValueError as e:
            raise ServerError(
                "response is not JSON",
                status=r.status_code,
                operation=operation,
                request_id=r.headers.get(REQUEST_ID_HEADER, ""),
            ) from e
        if not isinstance(data, dict):
            raise ServerError(
                "response is not a JSON object",
                status=r.status_code,
                operation=operation,
                request_id=r.headers.get(REQUEST_ID_HEADER, ""),
                errors=(ApiErrorDetail("UnexpectedShape", type(data).__name__),),
            )
        return data

    def _item_path(self, sku: str) -> str:
        return f"{LISTINGS_PATH}/{quote(self.seller_id, safe='')}/{quote(sku, safe='')}"

    # ------------------------------------------------------------------ Listings Items

    def get_listings_item(
        self,
        sku: str,
        marketplace_ids: Sequence[str],
        included_data: Sequence[str] = DEFAULT_INCLUDED,
        issue_locale: str | None = None,
    ) -> dict[str, Any]:
        params = {"marketplaceIds": csv(marketplace_ids), "includedData": csv(included_data)}
        if issue_locale:
            params["issueLocale"] = issue_locale
        op = "getListingsItem"
        return self._json(op, self._request(op, "GET", self._item_path(sku), params=params))

    def search_listings_items(
        self,
        marketplace_ids: Sequence[str],
        *,
        identifiers: Sequence[str] | None = None,
        identifiers_type: str = "SKU",
        included_data: Sequence[str] = DEFAULT_INCLUDED,
        last_updated_after: str | None = None,
        page_size: int = 20,
        page_token: str | None = None,
        **filters: Any,
    ) -> dict[str, Any]:
        """``filters``: any other query parameter of searchListingsItems, in snake_case or
        camelCase (``created_after``, ``with_status=["BUYABLE"]``, ``sort_by``, ...)."""
        params: dict[str, str] = {
            "marketplaceIds": csv(marketplace_ids),
            "includedData": csv(included_data),
            "pageSize": str(page_size),
        }
        if identifiers:
            if len(identifiers) > SEARCH_MAX_IDENTIFIERS:
                raise ValueError(
                    f"searchListingsItems takes at most {SEARCH_MAX_IDENTIFIERS} identifiers"
                )
            params["identifiers"] = csv(identifiers)
            params["identifiersType"] = identifiers_type
        if last_updated_after:
            params["lastUpdatedAfter"] = last_updated_after
        if page_token:
            params["pageToken"] = page_token
        for k, v in filters.items():
            if v is None:
                continue
            params[_camel(k)] = csv(v) if isinstance(v, (list, tuple)) else str(v)
        path = f"{LISTINGS_PATH}/{quote(self.seller_id, safe='')}"
        op = "searchListingsItems"
        return self._json(op, self._request(op, "GET", path, params=params))

    def patch_listings_item(
        self,
        sku: str,
        marketplace_ids: Sequence[str],
        body: dict[str, Any],
        *,
        mode: str | None = None,
        included_data: Sequence[str] = ("issues",),
    ) -> dict[str, Any]:
        params = {"marketplaceIds": csv(marketplace_ids), "includedData": csv(included_data)}
        if mode:
            params["mode"] = mode
        op = "patchListingsItem"
        r = self._request(
            op, "PATCH", self._item_path(sku), params=params, body=body, limit=limit_key(op, mode)
        )
        return self._json(op, r)

    def put_listings_item(
        self,
        sku: str,
        marketplace_ids: Sequence[str],
        body: dict[str, Any],
        *,
        mode: str | None = None,
    ) -> dict[str, Any]:
        params = {"marketplaceIds": csv(marketplace_ids)}
        if mode:
            params["mode"] = mode
        op = "putListingsItem"
        r = self._request(
            op, "PUT", self._item_path(sku), params=params, body=body, limit=limit_key(op, mode)
        )
        return self._json(op, r)

    def delete_listings_item(self, sku: str, marketplace_ids: Sequence[str]) -> dict[str, Any]:
        params = {"marketplaceIds": csv(marketplace_ids)}
        op = "deleteListingsItem"
        return self._json(op, self._request(op, "DELETE", self._item_path(sku), params=params))

    # ------------------------------------------------------------------ Feeds

    def create_feed_document(self, content_type: str) -> dict[str, Any]:
        """``{feedDocumentId, url}``; upload to ``url`` within 5 minutes."""
        op = "createFeedDocument"
        r = self._request(op, "POST", f"{FEEDS_PATH}/documents", body={"contentType": content_type})
        return self._json(op, r)

    def upload_feed_document(self, url: str, data: bytes, content_type: str) -> None:
        """A plain PUT to the presigned URL: no access token, no SP-API quota. The
        ``Content-Type`` must equal the one given to :meth:`create_feed_document`."""
        self._request(
            "uploadFeedDocument",
            "PUT",
            url,
            content=data,
            headers={"content-type": content_type},
            metered=False,
            signed=False,
        )

    def create_feed(
        self, feed_type: str, marketplace_ids: Sequence[str], input_feed_document_id: str
    ) -> str:
        """createFeed. A ``JSON_LISTINGS_FEED`` is paced by its own quota (five submissions in
        any five minutes, :attr:`feed_window`): it waits for the earliest free slot instead of
        retrying into 429s. A 429 anyway (someone else used the window) fills the window and
        the submission waits for the next one, at most ``FEED_WINDOW_RETRIES`` times."""
        op = "createFeed"
        body = {
            "feedType": feed_type,
            "marketplaceIds": list(marketplace_ids),
            "inputFeedDocumentId": input_feed_document_id,
        }
        if feed_type != JSON_LISTINGS_FEED:
            data = self._json(op, self._request(op, "POST", f"{FEEDS_PATH}/feeds", body=body))
            return str(data["feedId"])
        throttled = 0
        while True:
            slot = self.feed_window.acquire()
            try:
                r = self._request(
                    op, "POST", f"{FEEDS_PATH}/feeds", body=body, retry_throttled=False
                )
            except ThrottledError:
                self.feed_window.complete(slot)
                self.feed_window.fill()
                throttled += 1
                if throttled > FEED_WINDOW_RETRIES:
                    raise
                log.debug("%s: 429, waiting for the next submission window", op)
                continue
            except BaseException:
                self.feed_window.complete(slot)  # Amazon may have counted it
                raise
            self.feed_window.complete(slot)
            return str(self._json(op, r)["feedId"])

    def feed_submission_wait(self) -> float:
        """Seconds until the next JSON_LISTINGS_FEED may be submitted (0: now)."""
        return self.feed_window.wait()

    def get_feed(self, feed_id: str) -> dict[str, Any]:
        op = "getFeed"
        path = f"{FEEDS_PATH}/feeds/{quote(feed_id, safe='')}"
        return self._json(op, self._request(op, "GET", path))

    def get_feeds(
        self,
        feed_types: Sequence[str],
        *,
        processing_statuses: Sequence[str] | None = None,
        marketplace_ids: Sequence[str] | None = None,
        created_since: str | None = None,
        page_size: int = 100,
    ) -> list[dict[str, Any]]:
        """Every feed of this seller matching the filters, all pages (``nextToken`` is sent
        alone, as the model requires). ``created_since`` is ISO 8601; Amazon's default is
        90 days back."""
        op = "getFeeds"
        params: dict[str, str] = {"feedTypes": csv(feed_types), "pageSize": str(page_size)}
        if processing_statuses:
            params["processingStatuses"] = csv(processing_statuses)
        if marketplace_ids:
            params["marketplaceIds"] = csv(marketplace_ids)
        if created_since:
            params["createdSince"] = created_since
        feeds: list[dict[str, Any]] = []
        while True:
            data = self._json(op, self._request(op, "GET", f"{FEEDS_PATH}/feeds", params=params))
            feeds.extend(data.get("feeds") or [])
            token = data.get("nextToken")
            if not token:
                return feeds
            params = {"nextToken": str(token)}

    def cancel_feed(self, feed_id: str) -> None:
        self._request("cancelFeed", "DELETE", f"{FEEDS_PATH}/feeds/{quote(feed_id, safe='')}")

    def get_feed_document(self, feed_document_id: str) -> dict[str, Any]:
        op = "getFeedDocument"
        path = f"{FEEDS_PATH}/documents/{quote(feed_document_id, safe='')}"
        return self._json(op, self._request(op, "GET", path))

    def download_feed_document(self, doc: Mapping[str, Any]) -> bytes:
        """The document's bytes, gunzipped when ``compressionAlgorithm`` is ``GZIP``.

        (httpx already undoes a ``Content-Encoding: gzip`` transfer encoding, so we only
        gunzip bytes that still carry the gzip magic number.)"""
        r = self._request(
            "downloadFeedDocument", "GET", str(doc["url"]), metered=False, signed=False
        )
        data = r.content
        if doc.get("compressionAlgorithm") == "GZIP" and data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        return data
