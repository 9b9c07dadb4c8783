"""Client-side token buckets, one per SP-API operation (design.md §6 "Scheduler").

Amazon meters every operation with a token bucket (``rate`` tokens/s refill, ``burst`` = size,
CONTRACT.md §4). Mirroring it on our side means we almost never see a 429: a caller takes a
token before each request and waits when the bucket is empty.

The buckets start from ``reconciler.kernel.quotas`` (times ``rate_scale``, so a client talking to an
emulator that runs N× faster keeps Amazon's ratios) and then follow the ``x-amzn-RateLimit-Limit``
header Amazon sends on successful responses (:meth:`TokenBucket.set_rate`).

**Headroom.** Our bucket holds ``burst - headroom`` tokens (one by default). Amazon counts a
request when it *arrives*, we count it when we *send*; with variable network delay a burst
sent at once may land later than the next paced request is sent, so a client bucket exactly
as large as Amazon's can run one token ahead of Amazon's and earn a 429. One token of slack
absorbs up to ``1 / rate`` seconds of jitter (200 ms at 5 rps) for the price of one request
of burst.

**Late senders.** A thread whose wait ended while the process had no CPU sends late, together
with the requests due after it; Amazon's bucket, capped at its burst, did not refill for the
stall. Each bucket is therefore charged twice: when a request reserves its slot, and again
(:attr:`TokenBucket.sent`) when it actually leaves, which spreads such a bunch out again
(issue 19: twenty sellers' readers in one busy process).

The clock and the sleep are injected, so tests drive the buckets without waiting. This module
does no network I/O.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.kernel.quotas import QUOTAS, Quota

DEFAULT_QUOTA = Quota(1.0, 5)  # operations missing from the table: conservative
_LATE_EPSILON = 1e-6  # seconds: float noise, not a wait
INF = float("inf")


@dataclass(frozen=False)
class TokenBucket:
    """A thread-safe token bucket that hands out *reservations*.

    :meth:`acquire` takes a token even when none is left (the level goes negative) and returns
    how long the caller must wait for it. Waiting happens outside the lock, so N threads queue
    up fairly at exactly ``rate`` per second without polling.
    """

    rate: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    tokens: float = field(default=-1.0)
    updated: float = field(default=-1.0)
    # The same bucket charged when a request actually leaves, after its wait (None: not kept).
    # A busy process wakes its sleeping senders late; the requests due during the stall then
    # go out together, more than Amazon's bucket (capped at its burst) refilled meanwhile:
    # 429s. Charging this second bucket at the real send time spreads them out again.
    track_sends: bool = True
    sent: TokenBucket | None = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError(
                f"token bucket needs rate > 0 and burst >= 1, got {self.rate}/{self.burst}"
            )
        if self.tokens < 0:
            self.tokens = float(self.burst)
        if self.updated < 0:
            self.updated = self.clock()
        if self.track_sends and self.sent is None:
            self.sent = TokenBucket(self.rate, self.burst, self.clock, self.sleep,
                                    tokens=self.tokens, updated=self.updated, track_sends=False)

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
        self.updated = now

    def reserve(self, n: float = 1.0) -> float:
        """Take ``n`` tokens now; return the seconds to wait before using them (0 if available)."""
        with self._lock:
            now = self.clock()
            self._refill(now)
            self.tokens -= n
            return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def acquire(self, n: float = 1.0) -> float:
        """Take ``n`` tokens, sleeping (injected sleep) until they are due, and then as long as
        the requests actually sent allow (:attr:`sent`). Returns the wait."""
        wait = self.reserve(n)
        if wait > 0:
            self.sleep(wait)
        if self.sent is not None:
            late = self.sent.reserve(n)
            if late > _LATE_EPSILON:
                self.sleep(late)
                wait += late
        return wait

    def try_acquire(self, n: float = 1.0) -> bool:
        """Take ``n`` tokens only if they are available right now."""
        with self._lock:
            self._refill(self.clock())
            if self.tokens < n or (self.sent is not None and self.sent.available() < n):
                return False
            self.tokens -= n
        if self.sent is not None:
            self.sent.reserve(n)
        return True

    def set_rate(self, rate: float) -> bool:
        """Follow the rate Amazon reports (``x-amzn-RateLimit-Limit``). True if it changed."""
        if not rate > 0:
            return False
        with self._lock:
            if abs(rate - self.rate) <= 1e-9 * max(rate, self.rate):
                return False
            self._refill(self.clock())  # tokens earned so far count at the old rate
            self.rate = rate
        if self.sent is not None:
            self.sent.set_rate(rate)
        return True

    def drain(self) -> None:
        """Empty the bucket after a 429: Amazon's bucket is empty, ours should agree."""
        with self._lock:
            self._refill(self.clock())
            self.tokens = min(self.tokens, 0.0)
        if self.sent is not None:
            self.sent.drain()

    def available(self) -> float:
        with self._lock:
            self._refill(self.clock())
            return self.tokens


@dataclass(frozen=False)
class RateLimiter:
    """The buckets of one client, created on first use from the quota table."""

    rate_scale: float = 1.0
    headroom: int = 1  # tokens of Amazon's burst we leave unused (see module docstring)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    quotas: dict[str, Quota] = field(default_factory=lambda: dict(QUOTAS))
    _buckets: dict[str, TokenBucket] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def bucket(self, operation: str) -> TokenBucket:
        with self._lock:
            b = self._buckets.get(operation)
            if b is None:
                q = self.quotas.get(operation, DEFAULT_QUOTA)
                b = TokenBucket(
                    rate=q.rate * self.rate_scale,
                    burst=max(1, q.burst - self.headroom),
                    clock=self.clock,
                    sleep=self.sleep,
                )
                self._buckets[operation] = b
            return b

    def acquire(self, operation: str) -> float:
        return self.bucket(operation).acquire()

    def observe_limit_header(self, operation: str, value: str | None) -> bool:
        """Apply an ``x-amzn-RateLimit-Limit`` header value (a decimal string such as "5.0").

        The value is used as-is, not multiplied by ``rate_scale``: an emulator running faster
        already reports its scaled rate. Garbage is ignored (the header is best-effort).
        """
        if not value:
            return False
        try:
            rate = float(value)
        except ValueError:
            return False
        return self.bucket(operation).set_rate(rate)


@dataclass(frozen=False)
class SlidingWindow:
    """At most ``limit`` requests in any ``seconds``: Amazon's feed-type quotas such as five
    JSON_LISTINGS_FEED submissions per five minutes (``quotas.JSON_LISTINGS_FEED_WINDOW``).

    A request counts from the moment its answer arrived (:meth:`complete`), not from when it was
    sent: Amazon counts it on arrival, which is earlier, so a window measured from our side is
    never shorter than Amazon's. :meth:`wait` says how long until a slot is free,
    :meth:`acquire` sleeps until then and holds the slot; :meth:`seed` adds submissions made
    before this process (the feed journal), :meth:`fill` treats the window as full from now
    (Amazon throttled: someone else used it). Thread-safe; clock and sleep injected.
    """

    limit: int
    seconds: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _times: dict[int, float] = field(default_factory=dict, repr=False)  # handle -> t, inf: sent
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def _prune(self, now: float) -> None:
        for h in [h for h, t in self._times.items() if t <= now - self.seconds]:
            del self._times[h]

    def _add(self, t: float) -> int:
        self._next += 1
        self._times[self._next] = t
        return self._next

    def wait(self) -> float:
        """Seconds until a request may be sent (0 now); in-flight requests hold their slot."""
        with self._lock:
            now = self.clock()
            self._prune(now)
            if len(self._times) < self.limit:
                return 0.0
            oldest = sorted(self._times.values())[len(self._times) - self.limit]
            return max(0.0, oldest + self.seconds - now) if oldest != INF else self.seconds

    def acquire(self) -> int:
        """Sleep until a slot is free, take it (in flight) and return its handle."""
        while True:
            w = self.wait()
            if w > 0:
                self.sleep(w)
                continue
            with self._lock:
                self._prune(self.clock())
                if len(self._times) < self.limit:
                    return self._add(INF)

    def complete(self, handle: int) -> None:
        """The request of ``handle`` got its answer (or failed) now: it counts from now."""
        with self._lock:
            self._times[handle] = self.clock()

    def seed(self, ages: list[float]) -> None:
        """Submissions made ``ages`` seconds ago (an earlier run's, from the feed journal). A
        window that already counts requests of this process keeps them instead: they are
        the same submissions."""
        with self._lock:
            if self._times:
                return
            now = self.clock()
            for a in ages:
                if 0 <= a < self.seconds:
                    self._add(now - a)

    def fill(self) -> None:
        """Amazon throttled although we paced: count the window as full from now."""
        with self._lock:
            now = self.clock()
            self._prune(now)
            for _ in range(max(0, self.limit - len(self._times))):
                self._add(now)
