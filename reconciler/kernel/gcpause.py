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
