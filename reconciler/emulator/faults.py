"""Fault injection: a spec string parsed into rates, and the per-request draw.

Spec (comma-separated ``name=rate`` pairs, rates are probabilities per SP-API request)::

    429=0.1,500=0.01,503=0.01,reset=0.01,timeout=0.005,expire=0.001,slow=0.01:2000

- ``429``: answer 429 QuotaExceeded (no ``x-amzn-RateLimit-Limit``) without consuming quota;
- ``500`` / ``503``: InternalFailure / ServiceUnavailable;
- ``reset``: the connection is reset before any response (transport: ``httpx.ReadError``);
- ``timeout``: no response until the client gives up (server: hold the connection for
  ``EmulatorConfig.timeout_fault_s`` then close it; transport: ``httpx.ReadTimeout``);
- ``expire``: the caller's (valid) access token expires now, so this request gets 403;
- ``slow=RATE:MS``: the response is delayed by MS milliseconds (divided by the time scale).

Two kinds are not per request but per object, drawn from a hash of (fault seed, what they hit)
so a given run hits the same feeds and listings whatever the request order (:func:`chance`):

- ``stuck-feed=RATE``: a created feed goes IN_PROGRESS and stays there indefinitely, applying
  nothing (``feed_processing``);
- ``late-issue=RATE``: an ACCEPTED listing write (API or feed message), once processed, gains
  an ERROR issue in that marketplace: a catalog conflict (8541, the write is not applied) or a
  price outside the allowed range (18155, the write is applied, the offer suppressed)
  (``listing_late``).

Draws come from one ``random.Random(seed)``, so a run is reproducible for a given request order.
Faults apply only to authenticated SP-API routes (not to LWA or document uploads/downloads).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

KINDS = ("429", "500", "503", "reset", "timeout", "expire", "slow", "stuck-feed", "late-issue")


def chance(seed: int, *key: str) -> float:
    """A uniform number in [0, 1) fixed by (seed, key): the draw of a per-object fault."""
    digest = hashlib.sha256("\x1f".join((str(seed), *key)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


class FaultTimeout(Exception):
    """Raised by ``Emulator.handle`` when the ``timeout`` fault fires; surfaces turn it into
    a hung connection (server) or ``httpx.ReadTimeout`` (transport)."""


class FaultSpecError(ValueError):
    pass


@dataclass(frozen=True)
class FaultSpec:
    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_503: float = 0.0
    reset: float = 0.0
    timeout: float = 0.0
    expire: float = 0.0
    slow: float = 0.0
    slow_ms: float = 2000.0
    stuck_feed: float = 0.0  # per created feed (not a per-request draw)
    late_issue: float = 0.0  # per processed listing write (not a per-request draw)

    @property
    def any(self) -> bool:
        return any(
            (
                self.rate_429,
                self.rate_500,
                self.rate_503,
                self.reset,
                self.timeout,
                self.expire,
                self.slow,
            )
        )

    @classmethod
    def parse(cls, spec: str | None) -> FaultSpec:
        if not spec or not spec.strip():
            return cls()
        values: dict[str, float] = {}
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            name, sep, raw = part.partition("=")
            name = name.strip().lower()
            if not sep or name not in KINDS:
                raise FaultSpecError(
                    f"bad fault {part!r}: expected NAME=RATE with NAME one of {', '.join(KINDS)}"
                )
            if name == "slow":
                rate_s, _, ms_s = raw.partition(":")
                values["slow"] = _rate(part, rate_s)
                if ms_s:
                    try:
                        values["slow_ms"] = float(ms_s)
                    except ValueError:
                        raise FaultSpecError(f"bad fault {part!r}: slow=RATE:MS") from None
                    if values["slow_ms"] < 0:
                        raise FaultSpecError(f"bad fault {part!r}: MS must be >= 0")
                continue
            key = {"429": "rate_429", "500": "rate_500", "503": "rate_503"}.get(
                name, name.replace("-", "_")
            )
            values[key] = _rate(part, raw)
        return cls(**values)

    def draw(self, rng: random.Random) -> str | None:
        """The fault for one request, or None. One uniform draw decides among the kinds
        (rates are disjoint slices of [0, 1))."""
        if not self.any:
            return None
        x = rng.random()
        acc = 0.0
        for kind, rate in (
            ("429", self.rate_429),
            ("500", self.rate_500),
            ("503", self.rate_503),
            ("reset", self.reset),
            ("timeout", self.timeout),
            ("expire", self.expire),
            ("slow", self.slow),
        ):
            acc += rate
            if x < acc:
                return kind
        return None


def _rate(part: str, raw: str) -> float:
    try:
        r = float(raw)
    except ValueError:
        raise FaultSpecError(f"bad fault {part!r}: rate must be a number in [0, 1]") from None
    if not 0.0 <= r <= 1.0:
        raise FaultSpecError(f"bad fault {part!r}: rate must be in [0, 1]")
    return r


NOTIFY_KINDS = ("dup", "delay", "jitter", "reorder")


@dataclass(frozen=True)
class NotifyFaults:
    """Delivery faults of the emulator's SP-API notifications (``notifications_publish``).

    Spec (comma-separated)::

        dup=0.2:3,delay=30,jitter=10,reorder

    - ``dup=RATE[:COPIES]``: a notification is delivered COPIES times (default 3) with the same
      ``notificationId``, with probability RATE (Amazon's at-least-once delivery; some messages
      arrive ten times, selling-partner-api-models issue #2616);
    - ``delay=S``: every delivery waits S Amazon seconds (divided by the time scale);
    - ``jitter=S``: plus a uniform 0..S Amazon seconds per delivery (so deliveries reorder);
    - ``reorder``: the deliveries that are due together are sent in shuffled order.
    """

    duplicate_rate: float = 0.0
    duplicate_copies: int = 3
    delay_s: float = 0.0
    jitter_s: float = 0.0
    reorder: bool = False

    @classmethod
    def parse(cls, spec: str | None) -> NotifyFaults:
        if not spec or not spec.strip():
            return cls()
        values: dict[str, float | int | bool] = {}
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            name, sep, raw = part.partition("=")
            name = name.strip().lower()
            if name not in NOTIFY_KINDS or (name == "reorder") == bool(sep):
                raise FaultSpecError(
                    f"bad notification fault {part!r}: expected dup=RATE[:COPIES], delay=S,"
                    " jitter=S or reorder"
                )
            if name == "reorder":
                values["reorder"] = True
            elif name == "dup":
                rate_s, _, copies_s = raw.partition(":")
                values["duplicate_rate"] = _rate(part, rate_s)
                if copies_s:
                    try:
                        values["duplicate_copies"] = int(copies_s)
                    except ValueError:
                        raise FaultSpecError(f"bad fault {part!r}: COPIES is a number") from None
                    if values["duplicate_copies"] < 1:
                        raise FaultSpecError(f"bad fault {part!r}: COPIES must be >= 1")
            else:
                try:
                    seconds = float(raw)
                except ValueError:
                    raise FaultSpecError(f"bad fault {part!r}: seconds must be a number") from None
                if seconds < 0:
                    raise FaultSpecError(f"bad fault {part!r}: seconds must be >= 0")
                values["delay_s" if name == "delay" else "jitter_s"] = seconds
        return cls(**values)  # type: ignore[arg-type]
