"""Pipelined verification: batches of written listings are verified on background threads as
soon as each batch is written (a feed's accepted listings once that feed is DONE), while the
account thread goes on with the later feeds."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from reconciler.apply import verify
from reconciler.apply.outcome import PENDING
from reconciler.apply.state import AccountRun, ProgressCounter
from reconciler.kernel.model import DesiredListing, Issue, ListingKey, LiveListing

Verified = tuple[
    dict[ListingKey, tuple[str, tuple[Issue, ...]]], dict[ListingKey, LiveListing | None]
]


VERIFY_BATCHES = 4  # batches (feeds) of one account verified at once; each reads with 8 workers


class Cancelled(Exception):
    """The account failed while verifications were running: they stop at their next poll."""


class Verifier:
    """Verifies batches of written listings on background threads, each batch as soon as it
    is written (a feed's accepted listings once that feed is DONE), while the account thread
    goes on polling the later feeds. Each batch is one ``verify.verify`` with the full bound
    from its start: a listing gets the same rules and the same time after its write as when
    everything was verified at the end. Reads and getFeed polls use separate token buckets of
    the same client. ``start`` may be called from the account thread and, in a hybrid apply,
    the thread of its feed path at once (``start_lock``); ``set_decided`` by the account thread
    once both are done."""

    def __init__(
        self,
        acc: AccountRun,
        desired_by_key: Mapping[ListingKey, DesiredListing],
        mps: Mapping[tuple[str, str], Any],
        baseline: Mapping[ListingKey, Collection[tuple[str, str]]],
        counter: ProgressCounter,
        *,
        timeout_s: float,
        interval_s: float,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.acc = acc
        self.changes = {c.key: c for c in acc.changes}
        self.desired_by_key = desired_by_key
        self.mps = mps
        self.baseline = baseline
        self.counter = counter
        self.timeout_s = timeout_s
        self.interval_s = interval_s
        self.clock = clock
        self.base_sleep = sleep
        self.targets = 0
        self.decided = 0
        self.done: dict[int, int] = {}
        self.lock = threading.Lock()
        self.start_lock = threading.Lock()
        self.cancelled = threading.Event()
        self.futures: list[Future[Verified]] = []
        self.pool: ThreadPoolExecutor | None = None
        self.lag = verify.VisibilityLag()  # when the account's writes become visible

    def start(self, keys: Collection[ListingKey]) -> None:
        """Verify the listings among ``keys`` that were written (status ``submitted``)."""
        targets = [
            verify.Target(
                key=k,
                action=self.changes[k].action,
                desired=self.desired_by_key.get(k),
                attributes=frozenset(f.attribute for f in self.changes[k].fields),
                fields=frozenset((f.attribute, f.selector) for f in self.changes[k].fields),
            )
            for k in keys
            if self.acc.written.get(k, ("",))[0] == "submitted"
        ]
        if not targets:
            return
        with self.start_lock:
            self.targets += len(targets)
            if self.pool is None:
                self.pool = ThreadPoolExecutor(
                    max_workers=VERIFY_BATCHES, thread_name_prefix=f"verify-{self.acc.name}"
                )
            self.futures.append(self.pool.submit(self._run, len(self.futures), targets))

    def set_decided(self, n: int) -> None:
        with self.lock:
            self.decided = n
            self._progress_locked()

    def _progress_locked(self) -> None:  # under self.lock, so the count never goes back
        self.counter.set("verify", self.acc.name, self.decided + sum(self.done.values()))

    def _progress(self, batch: int, n: int) -> None:
        with self.lock:
            self.done[batch] = n
            self._progress_locked()

    def _sleep(self, s: float) -> None:
        if self.cancelled.is_set():
            raise Cancelled
        self.base_sleep(s)
        if self.cancelled.is_set():
            raise Cancelled

    def _run(self, batch: int, targets: list[verify.Target]) -> Verified:
        polls: list[tuple[float, int]] = []
        result = verify.verify(
            self.acc.client,
            targets,
            self.mps,
            timeout_s=self.timeout_s,
            interval_s=self.interval_s,
            baseline=self.baseline,
            clock=self.clock,
            sleep=self._sleep,
            progress=lambda n: self._progress(batch, n),
            schedule=self._delay,
            on_poll=lambda elapsed, still_open: polls.append((elapsed, still_open)),
        )
        if all(status != PENDING for status, _ in result[0].values()):
            self._learn(polls)  # not from a part that ran out of time: it says nothing
        return result

    def _learn(self, polls: list[tuple[float, int]]) -> None:
        with self.lock:
            self.lag.learn(polls)

    def _delay(self, round_: int, elapsed: float) -> float:
        return self.lag.delay(round_, elapsed, self.interval_s)

    def finish(self) -> Verified:
        """Wait for every batch: merged (status, issues) and last live state per listing.
        A batch's exception (an account-level failure) stops the others and is raised."""
        results: dict[ListingKey, tuple[str, tuple[Issue, ...]]] = {}
        last: dict[ListingKey, LiveListing | None] = {}
        error: BaseException | None = None
        for f in self.futures:
            try:
                r, seen = f.result()
            except BaseException as e:  # re-raised below, once every batch has ended
                if error is None:
                    error = e
                    self.cancelled.set()
                continue
            results.update(r)
            last.update(seen)
        if error is not None:
            raise error
        return results, last

    def cancel(self) -> None:
        self.cancelled.set()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
