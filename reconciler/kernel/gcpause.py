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
def frozen_heap() -> Iterator[None]:
    """Move every object alive now (the loaded catalog, the desired state) out of the cyclic
    collector's reach until the block ends (``gc.freeze``): a long read that keeps allocating
    (100,000 live listings arriving page by page, while the collector stays enabled for the
    HTTP clients' garbage) then never rescans them in its full collections.
    https://docs.python.org/3/library/gc.html#gc.freeze"""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
