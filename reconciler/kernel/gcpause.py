"""Pausing the cyclic garbage collector around bulk construction: shared by the catalog, the
plan and the live cache, which each build or read 100,000 listings at a time."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator

_keep_frozen = False


def keep_frozen() -> None:
    """For a process that runs one batch command (plan, apply, show ...) and exits: what the
    contexts below freeze stays frozen when they end (``gc.freeze``). The catalog, the plan and
    the live listings (millions of objects at agency scale) live until the exit anyway; handed
    back to the collector, they met a full collection at the next allocations, 5 s with the GIL
    held right after a 122,400-listing read (issue 19). The reference cycles that happened to
    be garbage at a freeze are then only freed by the exit. Not for a long-running process (the
    watch worker, the emulator's server): there they would pile up."""
    global _keep_frozen
    _keep_frozen = True


def stop_keeping_frozen() -> None:
    """The batch command is over (its process may go on: a test calling the CLI in-process):
    later contexts hand their objects back again. What is frozen stays so until someone
    unfreezes (an exiting interpreter's last collection does not scan frozen objects)."""
    global _keep_frozen
    _keep_frozen = False


def _handed_back() -> None:
    """The end of a context below: keep everything frozen (:func:`keep_frozen`), or hand it to
    the collector's oldest generation."""
    if _keep_frozen:
        gc.freeze()
    else:
        gc.unfreeze()


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
            if _keep_frozen:
                # A batch command: what the block built (the catalog, the plan) lives until
                # the exit. Re-enabling left it all in the youngest generation, scanned at the
                # next allocation (the agency catalog of 122,400 listings loads in 20.2 s
                # frozen, 21.5 s not, issue 19); frozen, no collection ever scans it.
                gc.freeze()
            gc.enable()


class ReadHeap:
    """The collector during a long read that builds 100,000+ live listings while the HTTP
    clients make garbage (issue 19's profile): every object alive at the start (the catalog,
    the desired state) is frozen out of the collector's reach (``gc.freeze``,
    https://docs.python.org/3/library/gc.html#gc.freeze), and :meth:`tick`, called as each page
    is processed, freezes what the read built so far at most every ``every_s`` seconds. The
    collector stays on, so the responses' reference cycles (each holds its 40 KB page) are
    freed as usual, but its collections only ever scan the last seconds' objects, never the
    listings read so far: with the heap only frozen at the start they rescanned them over and
    over, holding the GIL while every seller's searches waited; with the collector off, the
    responses' cycles were kept (+300 MB at 122,400 listings). What was in flight at a freeze is
    only freed after the read: everything is unfrozen at the end, into the oldest generation
    (or stays frozen in a batch command, :func:`keep_frozen`)."""

    def __init__(self, every_s: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s = every_s
        self.clock = clock
        self.last = 0.0

    def __enter__(self) -> ReadHeap:
        gc.freeze()
        self.last = self.clock()
        return self

    def tick(self) -> None:
        now = self.clock()
        if now - self.last >= self.every_s:
            self.last = now
            gc.freeze()

    def __exit__(self, *exc: object) -> None:
        _handed_back()


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Every object alive now (the desired state, the plan, the live listings: millions of
    objects at agency scale) out of the collector's reach until the block ends (``gc.freeze``).
    An apply that follows a large plan otherwise met a full collection of all of them a minute
    in: 3 s with the GIL held, every seller's PATCHes stalled (issue 19)."""
    gc.freeze()
    try:
        yield
    finally:
        _handed_back()
