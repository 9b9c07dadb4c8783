"""Bulk reads of live listings (design.md §4): raw ``Item`` JSON per SKU.

- :func:`read_listings` — the SKUs a plan needs, in one marketplace. ``searchListingsItems``
  with ``identifiersType=SKU`` and up to 20 identifiers per call (ceil(N/20) calls, 20× fewer
  than one GET per listing), batches run concurrently under the client's token bucket.
  **Fallback to getListingsItem** per SKU, for:

  * SKUs containing a comma: ``identifiers`` is a csv array (CONTRACT.md §0), so such a SKU
    cannot be expressed in a search and is read by GET straight away;
  * batches whose search fails with a 400-class error (``InvalidRequestError``, e.g. an
    identifier Amazon refuses) or a 404 (``NotFoundError``; an endpoint without search): the
    batch's SKUs are then read one by one, and a 404 there means "not live" (None).

  Throttling, auth and server errors are not fallback cases: they propagate (after the
  client's bounded retries).
- :func:`read_updated_since` — incremental read with ``lastUpdatedAfter``, paginated. Amazon
  lets a search page through at most 1000 items; when the result set is larger this raises
  :class:`SearchCapReached` (before reading it all) so the caller falls back to a full read by
  SKU (:func:`read_listings`), which has no cap.
- :func:`read_all` — every listing of the seller in one marketplace (``reconciler import``),
  paginated. Above the 1000 cap it splits the time range by ``createdAfter``/``createdBefore``
  (both inclusive, whole seconds; windows overlap by their boundary second and results are
  de-duplicated by SKU) until each window holds ≤ 1000; a single second holding more than
  1000 listings raises :class:`SearchCapReached`.

``progress`` callbacks receive *increments* (number of SKUs just finished). They run on worker
threads but never two at a time (the reader serialises them), so ``click``'s
``ProgressBar.update`` can be passed directly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from reconciler.kernel.clock import iso_utc
from reconciler.kernel.errors import InvalidRequestError, NotFoundError, ReconcilerError
from reconciler.kernel.quotas import SEARCH_MAX_IDENTIFIERS
from reconciler.spapi.client import DEFAULT_INCLUDED, SpApiClient
from reconciler.spapi.scheduler import DEFAULT_WORKERS, map_concurrent

SEARCH_CAP = 1000  # "The maximum number of items (SKUs) that can be returned and paged through"
PAGE_SIZE = 20
_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)

Item = dict[str, Any]


class SearchCapReached(ReconcilerError):
    """A search matches more listings than Amazon lets one page through (1000)."""

    hint = "read the listings by SKU instead (a full read)"

    def __init__(self, number_of_results: int, what: str = "search") -> None:
        self.number_of_results = number_of_results
        super().__init__(
            f"{what} matches {number_of_results} listings, over Amazon's cap of {SEARCH_CAP}"
        )


def _batches(skus: Sequence[str], size: int) -> list[list[str]]:
    return [list(skus[i : i + size]) for i in range(0, len(skus), size)]


def read_listings(
    client: SpApiClient,
    marketplace_id: str,
    skus: Sequence[str],
    *,
    included_data: Sequence[str] = DEFAULT_INCLUDED,
    concurrency: int | None = None,
    progress: Callable[[int], None] | None = None,
    on_found: Callable[[dict[str, Item | None]], None] | None = None,
) -> dict[str, Item | None]:
    """Raw ``Item`` per requested SKU; None where the listing does not exist live.

    ``on_found`` gets every SKU's final answer once, a search batch or a single get at a
    time, as each arrives (on the reader's worker threads, possibly concurrently: it must be
    thread-safe and quick), so a caller can process listings while the rest are being read."""
    wanted = list(dict.fromkeys(skus))  # de-duplicate, keep order
    out: dict[str, Item | None] = dict.fromkeys(wanted)
    searchable = [s for s in wanted if "," not in s]
    by_get = [s for s in wanted if "," in s]
    workers = concurrency or DEFAULT_WORKERS
    progress = _serialised(progress)

    def search_batch(batch: list[str]) -> tuple[list[str], dict[str, Item] | None]:
        try:
            found = _search_identifiers(client, marketplace_id, batch, included_data)
        except (InvalidRequestError, NotFoundError):
            return batch, None
        if on_found is not None:
            on_found({sku: found.get(sku) for sku in batch})
        if progress is not None:
            progress(len(batch))
        return batch, found

    for batch, found in map_concurrent(
        search_batch, _batches(searchable, SEARCH_MAX_IDENTIFIERS), workers=workers
    ):
        if found is None:
            by_get.extend(batch)
        else:
            for sku in batch:
                out[sku] = found.get(sku)

    def get_one(sku: str) -> tuple[str, Item | None]:
        try:
            item: Item | None = client.get_listings_item(sku, [marketplace_id], included_data)
        except NotFoundError:
            item = None
        if on_found is not None:
            on_found({sku: item})
        if progress is not None:
            progress(1)
        return sku, item

    for sku, item in map_concurrent(get_one, by_get, workers=workers):
        out[sku] = item
    return out


def _serialised(progress: Callable[[int], None] | None) -> Callable[[int], None] | None:
    if progress is None:
        return None
    lock = threading.Lock()
    fn = progress

    def call(n: int) -> None:
        with lock:
            fn(n)

    return call


def _search_identifiers(
    client: SpApiClient, marketplace_id: str, batch: list[str], included_data: Sequence[str]
) -> dict[str, Item]:
    found: dict[str, Item] = {}
    token: str | None = None
    while True:
        page = client.search_listings_items(
            [marketplace_id],
            identifiers=batch,
            identifiers_type="SKU",
            included_data=included_data,
            page_size=PAGE_SIZE,
            page_token=token,
        )
        for item in page.get("items") or ():
            found[str(item.get("sku", ""))] = item
        token = (page.get("pagination") or {}).get("nextToken")
        if not token:
            break
    if len(found) < len(batch):
        # Amazon may normalise the case of a SKU it echoes; match case-insensitively as a
        # second chance, never overriding an exact match.
        folded = {k.casefold(): v for k, v in found.items()}
        for sku in batch:
            if sku not in found and sku.casefold() in folded:
                found[sku] = folded[sku.casefold()]
    return found


def _page_all(
    client: SpApiClient,
    marketplace_id: str,
    included_data: Sequence[str],
    what: str,
    progress: Callable[[int], None] | None = None,
    **filters: Any,
) -> dict[str, Item]:
    """Every item of one search (≤ SEARCH_CAP), or SearchCapReached."""
    out: dict[str, Item] = {}
    token: str | None = None
    seen = 0
    while True:
        page = client.search_listings_items(
            [marketplace_id],
            included_data=included_data,
            page_size=PAGE_SIZE,
            page_token=token,
            **filters,
        )
        total = int(page.get("numberOfResults") or 0)
        if total > SEARCH_CAP:
            raise SearchCapReached(total, what)
        items = page.get("items") or ()
        seen += len(items)
        for item in items:
            out[str(item.get("sku", ""))] = item
        if progress is not None and items:
            progress(len(items))
        token = (page.get("pagination") or {}).get("nextToken")
        if not token:
            return out
        if seen >= SEARCH_CAP:  # more pages than Amazon will give: the cap, undeclared
            raise SearchCapReached(max(total, seen + 1), what)


def read_updated_since(
    client: SpApiClient,
    marketplace_id: str,
    since_iso: str,
    *,
    included_data: Sequence[str] = DEFAULT_INCLUDED,
) -> dict[str, Item]:
    """Listings updated at or after ``since_iso`` (ISO 8601). Raises SearchCapReached when
    more than 1000 match: the caller then reads by SKU instead."""
    return _page_all(
        client,
        marketplace_id,
        included_data,
        f"lastUpdatedAfter={since_iso}",
        last_updated_after=since_iso,
    )


def read_all(
    client: SpApiClient,
    marketplace_id: str,
    *,
    included_data: Sequence[str] = DEFAULT_INCLUDED,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> dict[str, Item]:
    """Every listing of the seller in ``marketplace_id`` (for ``reconciler import``)."""
    try:
        return _page_all(client, marketplace_id, included_data, "search", progress)
    except SearchCapReached:
        pass
    end = (now or datetime.now(timezone.utc)).replace(microsecond=0) + timedelta(days=1)
    out: dict[str, Item] = {}
    stack = [(_EPOCH, end)]
    while stack:
        lo, hi = stack.pop()
        what = f"createdAfter={iso_utc(lo)} createdBefore={iso_utc(hi)}"
        try:
            part = _page_all(
                client,
                marketplace_id,
                included_data,
                what,
                progress,
                created_after=iso_utc(lo),
                created_before=iso_utc(hi),
            )
        except SearchCapReached:
            if hi - lo <= timedelta(seconds=1):
                raise
            mid = lo + timedelta(seconds=int((hi - lo).total_seconds()) // 2)
            stack.append((mid, hi))  # bounds are inclusive: the windows share `mid`
            stack.append((lo, mid))
            continue
        out.update(part)
    return out
