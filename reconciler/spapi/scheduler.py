"""Retries with backoff, and the concurrency model of every bulk SP-API job.

**Retries.** Throttling (429), server errors (5xx) and connection failures are retried with
exponential backoff and *full jitter* (delay uniform in ``[0, min(cap, base * 2**attempt)]``,
AWS Architecture Blog "Exponential Backoff and Jitter"), at most ``max_retries`` times; then
the typed error is raised. Everything else (400, 403, 404 ...) is raised at once.

**Concurrency: threads, not asyncio.** The work is I/O bound (≈300 ms per SP-API call) and
metered per second: to reach a rate ``r`` with latency ``L`` one needs about ``r × L`` requests in
flight (5 rps × 0.3 s = 1.5, plus the burst), i.e. a handful, never thousands. A small thread
pool over one shared ``httpx.Client`` (thread-safe, one connection pool) gives exactly that
while the client, its token buckets and the LWA cache stay plain synchronous code that the CLI,
the apply loop and the tests call directly; asyncio would force ``async`` through every
caller for no throughput gain at this scale. The shared token buckets, not the pool size,
decide the request rate: the pool only has to be large enough to keep the bucket busy.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_WORKERS = 8  # ≥ rate × latency + burst for Listings (5 × 0.3 + 5), with headroom


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 8
    base: float = 0.5  # seconds before the first retry (upper bound of the jitter)
    cap: float = 20.0  # longest single wait
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int) -> float:
        """Full-jitter delay before retry number ``attempt + 1`` (``attempt`` counts from 0)."""
        ceiling = min(self.cap, self.base * (2 ** min(attempt, 30)))
        return self.rng.uniform(0.0, ceiling)

    def scaled(self, rate_scale: float) -> RetryPolicy:
        """The same policy for a world running ``rate_scale`` times faster (emulator time scale)."""
        if rate_scale <= 0 or rate_scale == 1:
            return self
        return RetryPolicy(
            self.max_retries, self.base / rate_scale, self.cap / rate_scale, self.rng
        )


def run_with_retries(
    attempt: Callable[[int], T],
    *,
    retryable: Callable[[BaseException], bool],
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """Call ``attempt(n)`` (n = retries so far) until it returns, a non-retryable error is
    raised, or ``policy.max_retries`` retries are spent (the last error is raised)."""
    n = 0
    while True:
        try:
            return attempt(n)
        except Exception as e:
            if n >= policy.max_retries or not retryable(e):
                raise
            d = policy.delay(n)
            if on_retry is not None:
                on_retry(n, e, d)
            sleep(d)
            n += 1


def map_concurrent(
    fn: Callable[[T], R], items: Iterable[T], *, workers: int = DEFAULT_WORKERS
) -> list[R]:
    """``[fn(x) for x in items]`` on up to ``workers`` threads, results in input order.

    The first exception cancels the work not yet started and is re-raised (after the calls
    already in flight finish, so no request is abandoned half-way).
    """
    seq: Sequence[T] = list(items)
    if not seq:
        return []
    workers = max(1, min(workers, len(seq)))
    if workers == 1:
        return [fn(x) for x in seq]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="spapi") as pool:
        futures: list[Future[R]] = [pool.submit(fn, x) for x in seq]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f in done and f.exception() is not None), None)
        if failed is not None:
            for f in pending:
                f.cancel()
            exc = failed.exception()
            assert exc is not None
            raise exc
        return [f.result() for f in futures]


class Counter:
    """A thread-safe running total (e.g. for progress callbacks fed from several workers)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self, n: int) -> int:
        with self._lock:
            self.value += n
            return self.value
