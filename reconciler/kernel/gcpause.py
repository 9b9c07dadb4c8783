"""Pausing the cyclic garbage collector around bulk construction: shared by the catalog, the
plan and the live cache, which each build or read 100,000 listings at a time."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic value graphs (100,000
    listings allocate millions of small objects; each full collection rescans them all)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@contextlib.contextmanager
def collector_off_for_read() -> Iterator[None]:
    """A long read that builds 100,000+ live listings while other threads allocate too: every
    object alive at the start (the catalog, the desired state) is moved out of the collector's
    reach (``gc.freeze``, https://docs.python.org/3/library/gc.html#gc.freeze) and the collector
    is paused for the whole block (its collections otherwise ran over and over inside the
    readers' JSON decoding and the normalizer, scanning the listings read so far). At the end,
    what the block allocated is frozen as well before the collector resumes, then everything is
    unfrozen into the oldest generation: no collection scans the new objects at once; the next
    full collection does, as it would have."""
    was = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was:
            gc.enable()
        gc.unfreeze()
