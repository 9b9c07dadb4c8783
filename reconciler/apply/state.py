"""The mutable state of one apply run: per account (its changes, what was written, the feeds)
and the shared progress counter. Owned by the run's threads as documented on each class."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.apply.outcome import (
    FeedRecord,
)
from reconciler.kernel.model import Issue, ListingKey, LiveListing
from reconciler.plan.change import Change
from reconciler.spapi.client import SpApiClient

Progress = Callable[[str, int, int], None]


@dataclass(frozen=False)
class AccountRun:
    """Mutable per-account state of one run (owned by that account's thread)."""

    name: str
    client: SpApiClient
    seller_id: str
    changes: list[Change]
    written: dict[ListingKey, tuple[str, tuple[Issue, ...], str]] = field(default_factory=dict)
    live_after: dict[ListingKey, LiveListing | None] = field(default_factory=dict)
    feeds: list[FeedRecord] = field(default_factory=list)
    feed_of: dict[ListingKey, str] = field(default_factory=dict)
    error: str = ""
    bug: BaseException | None = None  # an unexpected exception behind ``error``


class ProgressCounter:
    """Thread-safe progress across accounts."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done: dict[str, int] = {}
        self.lock = threading.Lock()

    def set(self, phase: str, account: str, n: int) -> None:
        if self.progress is None:
            return
        with self.lock:
            self.done[f"{phase}:{account}"] = n
            done = sum(v for k, v in self.done.items() if k.startswith(phase + ":"))
            self.progress(phase, done, self.total)
