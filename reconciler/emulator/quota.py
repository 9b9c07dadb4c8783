"""Amazon's usage plans (``reconciler.kernel.quotas``, the table the client shares), enforced
per request.

- Per account-application pair: a token bucket per (seller, limit key); the key is the
  operation, or ``"<operation>:VALIDATION_PREVIEW"`` for previews (their own 1 / 1 plan). Empty:
  429 ``QuotaExceeded`` "You exceeded your quota for the requested resource."
- Per application (every seller of one LWA client together): a bucket per (client, key) for the
  operations and attribute classes of ``quotas.APP_RATES`` (burst: one second's worth). Empty:
  429 with Amazon's message naming the limit: "... allowed for the application." (the
  operation's or the preview limit), "... for relationships.", "... for product data." (put and
  patch by the attributes they write, ``quotas.update_classes``).
- Feed-type limits on top of createFeed: sliding windows (:func:`take_window`), e.g. five
  JSON_LISTINGS_FEED submissions per five minutes per (seller, region).

Rates are multiplied by ``EmulatorConfig.time_scale`` (bursts are not: a bucket holds the same
number of requests, it refills faster), windows divided by it. Time comes from ``emu.now()`` so
tests drive buckets with a fake clock. Buckets live in memory (a restarted server starts with
full buckets, as Amazon's would after a pause). Sandbox mode uses Amazon's sandbox plan (5 rps,
burst 15) for every operation, per seller only.
"""

from __future__ import annotations

from collections import deque

from reconciler.kernel.quotas import (
    APP_RATES,
    APP_THROTTLE_MESSAGES,
    QUOTA_EXCEEDED_MESSAGE,
    QUOTAS,
    SANDBOX_QUOTA,
    Quota,
    Window,
    limit_key,
    update_classes,
)

from .http import Request, Response, Route, api_error
from .state import Bucket, EmulatorState

WRITES_BY_CLASS = ("putListingsItem", "patchListingsItem")


def throttled(message: str = QUOTA_EXCEEDED_MESSAGE) -> Response:
    return api_error(429, "QuotaExceeded", message)


def key_for(route: Route, req: Request) -> str:
    """The per-account limit key of a request (previews of put/patch have their own)."""
    if route.operation in WRITES_BY_CLASS:
        return limit_key(route.operation, req.q("mode"))
    return route.operation


def plan_for(emu: EmulatorState, key: str) -> Quota | None:
    """The usage plan of limit ``key`` (None: unlimited)."""
    if emu.config.sandbox:
        return SANDBOX_QUOTA
    return QUOTAS.get(key)


def rate_header(emu: EmulatorState, key: str) -> str | None:
    """The ``x-amzn-RateLimit-Limit`` value for ``key`` (scaled rate), e.g. ``"5.0"``."""
    q = plan_for(emu, key)
    if q is None:
        return None
    return str(q.rate * emu.config.time_scale)


def admit(
    emu: EmulatorState, key: str, route: Route, req: Request, seller: str, app: str
) -> Response | None:
    """Take the tokens of one request: None when admitted, else the 429 to answer."""
    if not emu.config.quotas or not route.quota:
        return None
    q = plan_for(emu, key)
    if q is not None and not _take(emu, (seller, key), q):
        return throttled()
    if emu.config.sandbox:
        return None
    limits = [(key, "application")]
    if key in WRITES_BY_CLASS:
        limits += [(f"{key}:{c}", c) for c in update_classes(_attribute_names(req))]
    for app_key, kind in limits:
        rate = APP_RATES.get(app_key)
        if rate is not None and not _take(emu, ("app:" + app, app_key), Quota(rate, int(rate))):
            return throttled(APP_THROTTLE_MESSAGES[kind])
    return None


def _attribute_names(req: Request) -> list[str]:
    """Top-level attributes a put (``attributes``) or patch (``patches[].path``) writes; a body
    that does not parse writes nothing here (the handler answers its 400)."""
    try:
        body = req.json()
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(body, dict):
        return []
    attrs = body.get("attributes")
    if isinstance(attrs, dict):
        return [str(k) for k in attrs]
    names = []
    for p in body.get("patches") or []:
        path = p.get("path") if isinstance(p, dict) else None
        if isinstance(path, str) and path.startswith("/attributes/"):
            names.append(path.split("/")[2])
    return names


def take(emu: EmulatorState, seller: str, operation: str) -> bool:
    """Consume one token of (seller, operation); False means throttle (429)."""
    if not emu.config.quotas:
        return True
    q = plan_for(emu, operation)
    if q is None:
        return True
    return _take(emu, (seller, operation), q)


def take_window(emu: EmulatorState, name: str, seller: str, window: Window) -> bool:
    """Count one request against a sliding window (e.g. ``"JSON_LISTINGS_FEED:EU"``): False
    when ``window.limit`` were already counted in the last ``window.seconds`` (scaled)."""
    if not emu.config.quotas:
        return True
    now = emu.now()
    span = emu.config.scaled(window.seconds)
    times = emu.windows.setdefault((seller, name), deque())
    while times and times[0] <= now - span:
        times.popleft()
    if len(times) >= window.limit:
        return False
    times.append(now)
    return True


def _take(emu: EmulatorState, key: tuple[str, str], q: Quota) -> bool:
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
