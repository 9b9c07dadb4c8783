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
import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from reconciler.kernel.errors import ThrottledError
from reconciler.kernel.quotas import (
    SEARCH_MAX_IDENTIFIERS,
    limit_key,
)

from .base import ClientBase

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
log = logging.getLogger(__name__)  # debug lines only: operation, status, delay (no secrets)


def csv(values: Sequence[str] | str) -> str:
    """Swagger ``collectionFormat: csv``: one comma-separated value."""
    if isinstance(values, str):
        return values
    return ",".join(values)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


class SpApiClient(ClientBase):
    """One seller's SP-API endpoint (one region, or the emulator): the Listings Items and Feeds
    operations, each one :meth:`~reconciler.spapi.base.ClientBase._request`."""

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
