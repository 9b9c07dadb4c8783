"""Token buckets per (seller, operation) with Amazon's usage plans (``reconciler.kernel.quotas``).

Rates are multiplied by ``EmulatorConfig.time_scale`` (bursts are not: a bucket holds the same
number of requests, it refills faster). Time comes from ``emu.now()`` so tests drive buckets with
a fake clock. Buckets live in memory (a restarted server starts with full buckets, as Amazon's
would after a pause). Sandbox mode uses Amazon's sandbox plan (5 rps, burst 15) for every
operation.

Extra limits on top of an operation's bucket (the ``JSON_LISTINGS_FEED`` 5-per-5-minutes window)
use :func:`take_extra` with their own name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciler.kernel.quotas import QUOTAS, SANDBOX_QUOTA, Quota

if TYPE_CHECKING:
    from .app import Emulator


@dataclass(frozen=False)
class Bucket:
    tokens: float
    last: float


def plan_for(emu: Emulator, operation: str) -> Quota | None:
    """The usage plan that applies to ``operation`` (None: unlimited)."""
    if emu.config.sandbox:
        return SANDBOX_QUOTA
    return QUOTAS.get(operation)


def rate_header(emu: Emulator, operation: str) -> str | None:
    """The ``x-amzn-RateLimit-Limit`` value for ``operation`` (scaled rate), e.g. ``"5.0"``."""
    q = plan_for(emu, operation)
    if q is None:
        return None
    return str(q.rate * emu.config.time_scale)


def take(emu: Emulator, seller: str, operation: str) -> bool:
    """Consume one token of (seller, operation); False means throttle (429)."""
    if not emu.config.quotas:
        return True
    q = plan_for(emu, operation)
    if q is None:
        return True
    return _take(emu, (seller, operation), q)


def take_extra(emu: Emulator, name: str, seller: str, q: Quota) -> bool:
    """Consume one token of an additional named limit (e.g. ``"JSON_LISTINGS_FEED"``)."""
    if not emu.config.quotas:
        return True
    return _take(emu, (seller, "extra:" + name), q)


def _take(emu: Emulator, key: tuple[str, str], q: Quota) -> bool:
    now = emu.now()
    rate = q.rate * emu.config.time_scale
    buckets = emu.buckets
    b = buckets.get(key)
    if b is None:
        b = buckets[key] = Bucket(float(q.burst), now)
    else:
        b.tokens = min(float(q.burst), b.tokens + max(0.0, now - b.last) * rate)
        b.last = now
    if b.tokens >= 1.0 - 1e-9:  # float refill of exactly one token must count
        b.tokens = max(0.0, b.tokens - 1.0)
        return True
    return False
