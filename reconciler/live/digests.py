"""Catalog digests for the live cache: a hash of what the catalog wants of one listing, stored
with its cached item, so an incremental read knows which listings the catalog changed since
(:meth:`reconciler.live.cache.LiveCache.changed_in_catalog`). Pure."""

from __future__ import annotations

import hashlib

from reconciler.kernel.model import DesiredListing, DesiredState, ListingKey, canonical_json


def catalog_digest(d: DesiredListing) -> str:
    body = {"state": d.state, "product_type": d.product_type, "attributes": d.attributes}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


class LazyDigests(dict[ListingKey, str]):
    """:func:`catalog_digest` per key, computed on first use: by the reading thread as its
    pages are written to the cache, not all before the first request (serial seconds at
    100,000+ listings). Two threads computing one key store the same value."""

    def __init__(self, desired: DesiredState) -> None:
        super().__init__()
        self._by_key = {d.key: d for d in desired.listings}

    def __missing__(self, key: ListingKey) -> str:
        value = self[key] = catalog_digest(self._by_key[key])
        return value
