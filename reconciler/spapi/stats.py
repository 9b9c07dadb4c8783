"""Per-operation call statistics of one client (thread-safe), for KPIs and benchmarks."""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    s = sorted(values)
    k = max(1, math.ceil(p / 100 * len(s)))
    return s[min(k, len(s)) - 1]


@dataclass(frozen=False)
class ClientStats:
    """Counts per operation: HTTP calls (every attempt), latencies of every attempt in
    seconds, retries, throttles (429 responses) and errors (calls that finally raised)."""

    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    retries: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    throttles: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record_call(self, operation: str, latency: float, status: int) -> None:
        with self._lock:
            self.calls[operation] += 1
            self.latencies[operation].append(latency)
            if status == 429:
                self.throttles[operation] += 1

    def record_retry(self, operation: str) -> None:
        with self._lock:
            self.retries[operation] += 1

    def record_error(self, operation: str) -> None:
        with self._lock:
            self.errors[operation] += 1

    def latency(self, p: float, operation: str | None = None) -> float:
        """Latency percentile in seconds, of one operation or of all."""
        with self._lock:
            if operation is None:
                values = [v for vs in self.latencies.values() for v in vs]
            else:
                values = list(self.latencies.get(operation, ()))
        return percentile(values, p)

    def total_calls(self, operation: str | None = None) -> int:
        with self._lock:
            if operation is None:
                return sum(self.calls.values())
            return self.calls.get(operation, 0)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready summary: per operation calls, retries, throttles, errors, p50/p95 ms."""
        with self._lock:
            ops = sorted(set(self.calls) | set(self.errors))
            lat = {op: list(self.latencies.get(op, ())) for op in ops}
            out: dict[str, Any] = {
                op: {
                    "calls": self.calls.get(op, 0),
                    "retries": self.retries.get(op, 0),
                    "throttles": self.throttles.get(op, 0),
                    "errors": self.errors.get(op, 0),
                    "p50_ms": round(percentile(lat[op], 50) * 1000, 1),
                    "p95_ms": round(percentile(lat[op], 95) * 1000, 1),
                }
                for op in ops
            }
        return out
