"""The watch loop: SQS (boto3, long polling) -> validated events -> reservations -> PATCHes.

One iteration ("batch"):

1. **Receive** with long polling (``WaitTimeSeconds``); once a message arrives, keep receiving
   for ``window_s`` more seconds (at most ``MAX_BATCH`` messages): every event for one SKU in
   that window is merged into one recomputation and one write per listing.
   (boto3 ``receive_message``; SQS long polling:
   https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html)
2. **Validate** each body (:mod:`reconciler.watch.events`). A failure is recorded (``watch.db``
   ``rejected``, the log) and the message is made visible again at once and never deleted: after
   ``maxReceiveCount`` receives the queue's redrive policy moves it to the dead-letter queue.
   A notificationId already done (``watch.db`` ``seen``) is deleted unprocessed.
3. **Apply** the events in ``EventTime`` order: reservations, listing health, feed verification.
4. **Write**: take the lease of every touched SKU, in sorted order (so two workers
   never wait on each other in a circle), rebuild the desired state, PATCH the quantities.
5. **Finish**: audit record, notificationIds marked done, and only then ``DeleteMessageBatch``.
   A worker killed before this point deletes nothing: the messages come back after the
   visibility timeout and another worker redoes the same (idempotent) work.

SIGTERM/SIGINT only set a flag: the batch in flight is finished (step 5 included), then the
loop ends.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from reconciler.apply import audit
from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.model import Account, ListingKey
from reconciler.orders.state import OrderState
from reconciler.spapi.client import SpApiClient

from .events import Event, Rejected, parse
from .feeds import verify_feed
from .store import WatchStore
from .sync import CatalogView, LeaseLost, apply_order, desired_now, load_view, sync_skus

log = logging.getLogger("reconciler.watch")
MAX_BATCH = 100


@dataclass
class WatchConfig:
    catalog_dir: str
    state_dir: str
    queue_url: str
    window_s: float = 2.0
    wait_s: int = 10  # long-poll seconds (SQS allows 1..20)
    visibility_s: int = 60
    lease_ttl_s: float = 60.0
    max_idle_s: float | None = None  # stop after this long without messages (tests, demo)
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")


@dataclass
class BatchStats:
    messages: int = 0
    rejected: int = 0
    duplicates: int = 0
    written: int = 0


def _epoch(iso: str) -> float | None:
    try:
        return _dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class Worker:
    def __init__(self, cfg: WatchConfig, sqs: Any, clients: Mapping[str, SpApiClient],
                 accounts: tuple[Account, ...], *, env: Mapping[str, str] | None = None,
                 say: Callable[[str], None] | None = None) -> None:
        self.cfg = cfg
        self.sqs = sqs
        self.clients = clients
        self.accounts = accounts
        self.env = dict(os.environ if env is None else env)
        self.say = say or log.info
        self.store = WatchStore(cfg.state_dir)
        self.orders = OrderState(cfg.state_dir)
        self.stopping = False
        self.totals = BatchStats()
        self.timings: dict[str, float] = {}  # the last batch's stages (the log line)

    # -- lifecycle -----------------------------------------------------------------------------

    def stop(self, *_: object) -> None:
        self.stopping = True

    def install_signals(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            self.say(f"watch: signal {signum}: finishing the work in flight, then exiting")
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def close(self) -> None:
        self.store.close()
        self.orders.close()

    def run(self) -> BatchStats:
        idle_since = time.monotonic()
        while not self.stopping:
            try:
                msgs = self.receive()
            except Exception as e:
                if not retryable(e):
                    raise
                self.say(f"watch: receive failed ({type(e).__name__}: {e}); retrying in 2 s")
                time.sleep(2.0)
                continue
            if not msgs:
                if self.cfg.max_idle_s is not None and \
                        time.monotonic() - idle_since >= self.cfg.max_idle_s:
                    break
                continue
            idle_since = time.monotonic()
            try:
                self.process(msgs)
            except Exception as e:
                if not retryable(e):
                    raise
                # nothing deleted: the messages return after the visibility timeout
                self.say(f"watch: batch not finished ({type(e).__name__}: {e}); its messages"
                         " will be delivered again")
        return self.totals

    # -- SQS -----------------------------------------------------------------------------------

    def receive(self) -> list[dict[str, Any]]:
        wait = self.cfg.wait_s
        if self.cfg.max_idle_s is not None:
            wait = max(0, min(wait, int(self.cfg.max_idle_s)))
        got = self._receive(wait)
        if not got:
            return []
        end = time.monotonic() + self.cfg.window_s
        seen = {m["MessageId"] for m in got}
        while len(got) < MAX_BATCH and not self.stopping:
            left = end - time.monotonic()
            if left <= 0:
                break
            more = self._receive(max(0, min(20, int(left))))
            for m in more:
                if m["MessageId"] not in seen:
                    seen.add(m["MessageId"])
                    got.append(m)
            if not more and left < 1:
                time.sleep(max(0.0, min(left, 0.2)))
        return got

    def _receive(self, wait_s: int) -> list[dict[str, Any]]:
        r = self.sqs.receive_message(
            QueueUrl=self.cfg.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s,
            VisibilityTimeout=self.cfg.visibility_s, AttributeNames=["All"])
        return list(r.get("Messages") or [])

    def _delete(self, msgs: list[dict[str, Any]]) -> None:
        for i in range(0, len(msgs), 10):
            chunk = msgs[i:i + 10]
            self.sqs.delete_message_batch(QueueUrl=self.cfg.queue_url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)])

    def _return_now(self, msgs: list[dict[str, Any]]) -> None:
        """Make rejected messages visible again at once, so they reach maxReceiveCount (and the
        dead-letter queue) quickly instead of after a visibility timeout each."""
        for i in range(0, len(msgs), 10):
            chunk = msgs[i:i + 10]
            self.sqs.change_message_visibility_batch(QueueUrl=self.cfg.queue_url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for n, m in enumerate(chunk)])

    # -- one batch -----------------------------------------------------------------------------

    def process(self, msgs: list[dict[str, Any]]) -> None:
        stats = BatchStats(messages=len(msgs))
        events: list[tuple[Event, dict[str, Any]]] = []
        bad: list[dict[str, Any]] = []
        done_now: list[dict[str, Any]] = []
        ids: set[str] = set()
        rejected_notes: list[str] = []
        for m in msgs:
            ev = parse(str(m.get("Body") or ""))
            if isinstance(ev, Rejected):
                stats.rejected += 1
                self.store.reject(ev.notification_id or m["MessageId"], ev.reason)
                self.say(f"watch: rejected message {m['MessageId']}: {ev.reason} (it goes to the"
                         " dead-letter queue after the queue's maxReceiveCount)")
                bad.append(m)
                rejected_notes.append(f"rejected {ev.notification_id or m['MessageId']}: "
                                      f"{ev.reason}")
                continue
            if ev.notification_id in ids or self.store.seen(ev.notification_id):
                stats.duplicates += 1
                done_now.append(m)
                continue
            ids.add(ev.notification_id)
            events.append((ev, m))
        if bad:
            self._return_now(bad)
        t0 = time.monotonic()
        self.timings = {}
        view = load_view(self.cfg.catalog_dir, self.accounts)
        self.timings["catalog"] = time.monotonic() - t0
        skus: set[str] = set()
        orders: list[str] = []
        health: list[dict[str, Any]] = []
        notes: list[str] = list(rejected_notes)  # reasons in the audit log too
        for ev, m in sorted(events, key=lambda x: x[0].event_time):
            account = self._account(ev, view)
            if account is None:
                notes.append(f"{ev.kind} {ev.notification_id}: seller {ev.seller_id} is not in"
                             " the catalog: ignored")
                continue
            if ev.kind == "ORDER_CHANGE":
                applied = self.store.order_applied(ev.order_id)
                if apply_order(ev, account, view, self.orders, applied):
                    self.store.set_order(ev.order_id, ev.change_time, ev.order_status)
                sent = _epoch(ev.event_time) or float(m.get("Attributes", {}).get(
                    "SentTimestamp", time.time() * 1000)) / 1000
                self.store.order_published(ev.order_id, sent)
                orders.append(ev.order_id)
                skus.update(i.sku for i in ev.items)
            elif ev.kind == "LISTINGS_ITEM_ISSUES_CHANGE":
                health.append(_health(account, ev))
            elif ev.kind == "FEED_PROCESSING_FINISHED":
                verdict = verify_feed(self.clients[account], self.cfg.state_dir, account, ev)
                notes.append(verdict.summary)
                health.extend(verdict.outcomes)
                skus.update(verdict.skus)
            else:  # MFN quantity or status changed outside the tool: compare and correct stock
                skus.add(ev.sku)
        beat = Heartbeat(self, [m for _e, m in events])
        beat.start()
        try:
            result = self._write(sorted(skus), view, beat) if skus else None
        finally:
            beat.stop()
        stats.written = len(result.written) if result else 0
        self.store.orders_done(orders, time.time())
        self._audit(result, health, notes, len(events))
        self.store.mark_seen((ev.notification_id, ev.kind) for ev, _m in events)
        self._delete(done_now + [m for _e, m in events])
        for n in notes[len(rejected_notes):]:
            self.say(f"watch: {n}")
        self.say(f"watch: batch messages={stats.messages} events={len(events)} "
                 f"duplicates={stats.duplicates} rejected={stats.rejected} "
                 f"skus={len(skus)} patches={stats.written} seconds=" + ",".join(
                     f"{k}:{v:.2f}" for k, v in self.timings.items()))
        for k in ("messages", "rejected", "duplicates", "written"):
            setattr(self.totals, k, getattr(self.totals, k) + getattr(stats, k))

    def _account(self, ev: Event, view: CatalogView) -> str | None:
        if ev.seller_id:
            return view.sellers.get(ev.seller_id)
        return next(iter(view.sellers.values())) if len(view.sellers) == 1 else None

    def _write(self, skus: list[str], view: CatalogView, beat: Heartbeat) -> Any:
        keys = [f"sku/{s}" for s in skus]
        owner = self.cfg.worker_id
        deadline = time.monotonic() + 2 * self.cfg.lease_ttl_s
        held: list[str] = []
        t0 = time.monotonic()
        beat.leases = held  # renewed as they are taken
        try:
            for k in keys:  # sorted: no circular wait between workers
                while not self.store.try_lease(k, owner, self.cfg.lease_ttl_s):
                    if time.monotonic() > deadline:
                        raise LeaseLost(f"lease on {k} not obtained in time")
                    time.sleep(0.05)
                held.append(k)
            t1 = time.monotonic()
            self.timings["leases"] = t1 - t0
            desired = desired_now(view, self.cfg.state_dir)  # after the leases: sees every
            # reservation committed before them (the previous holder's included)

            def on_write(key: ListingKey, started: float, ended: float) -> None:
                self.store.record_write(key.account, key.sku, key.marketplace_id, owner,
                                        started, ended)

            def still_mine(sku: str) -> bool:
                return self.store.holds(f"sku/{sku}", owner)

            t2 = time.monotonic()
            self.timings["desired"] = t2 - t1
            try:
                return sync_skus(desired, self.clients, skus, on_write=on_write,
                                 still_mine=still_mine)
            finally:
                self.timings["read_write"] = time.monotonic() - t2
        finally:
            self.store.release(held, owner)

    def _audit(self, result: Any, health: list[dict[str, Any]], notes: list[str],
               events: int) -> None:
        outcomes: list[dict[str, Any]] = list(health)
        if result is not None:
            outcomes += [{"account": k.account, "sku": k.sku, "marketplace_id": k.marketplace_id,
                          "action": "update", "status": "converged", "via": "patch"}
                         for k in result.written]
            outcomes += [{"account": k.account, "sku": k.sku, "marketplace_id": k.marketplace_id,
                          "action": "update", "status": "rejected", "via": "patch",
                          "issues": [{"code": "PATCH_REJECTED", "message": msg}]}
                         for k, msg in result.rejected]
        drift = [] if result is None else [
            {"account": k.account, "sku": k.sku, "marketplace_id": k.marketplace_id,
             "attributes": attrs} for k, attrs in result.drift]
        if not outcomes and not drift and not notes:
            return
        rec = audit.build_record(
            plan_checksum="", strategy="patch", outcomes=outcomes, kpis={"events": events},
            command="watch", extra={"drift_reported": drift, "notes": notes,
                                   "worker": self.cfg.worker_id},
            env=self.env, cwd=self.cfg.catalog_dir)
        audit.append(audit.audit_path(None, self.env, root=Path(self.cfg.catalog_dir)), rec)


class Heartbeat(threading.Thread):
    """While a batch is worked on: renews this worker's leases and extends its messages'
    visibility every third of their lifetimes. A live worker therefore never loses a lease or
    its messages to another worker, however long Amazon's throttling makes it retry; only a dead
    worker's leases and messages expire."""

    def __init__(self, worker: Worker, msgs: list[dict[str, Any]]) -> None:
        super().__init__(name="watch-heartbeat", daemon=True)
        self.worker = worker
        self.msgs = msgs
        self.leases: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        # boto3 low-level clients are thread-safe, so this thread shares the worker's client
        # (boto3 docs, "Multithreading or multiprocessing with clients")
        cfg = self.worker.cfg
        every = max(0.2, min(cfg.lease_ttl_s, cfg.visibility_s) / 3)
        with WatchStore(cfg.state_dir) as store:
            while not self.done.wait(every):
                for k in list(self.leases):
                    store.try_lease(k, cfg.worker_id, cfg.lease_ttl_s)
                for i in range(0, len(self.msgs), 10):
                    try:
                        self.worker.sqs.change_message_visibility_batch(
                            QueueUrl=cfg.queue_url, Entries=[
                                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"],
                                 "VisibilityTimeout": cfg.visibility_s}
                                for n, m in enumerate(self.msgs[i:i + 10])])
                    except Exception as e:  # the batch still finishes; SQS may redeliver
                        log.warning("watch: visibility not extended: %s", e)

    def stop(self) -> None:
        self.done.set()
        self.join(10)


def _health(account: str, ev: Event) -> dict[str, Any]:
    """A LISTINGS_ITEM_ISSUES_CHANGE as an audit outcome: the report's listing health reads the
    latest outcome of each listing (ERROR severity -> rejected, i.e. needs a person)."""
    status = "rejected" if "ERROR" in ev.severities else "converged"
    issues = [{"code": a, "message": f"Amazon: {', '.join(ev.severities) or 'no'} issues"}
              for a in ev.enforcement] or [
        {"code": "ISSUES_CHANGE", "message": f"Amazon: {', '.join(ev.severities) or 'no'} issues"}]
    return {"account": account, "sku": ev.sku, "marketplace_id": ev.marketplace_id,
            "action": "health", "status": status, "via": "notification",
            "issues": issues if ev.severities else []}


def retryable(e: BaseException) -> bool:
    """Errors a worker outlives (the batch's messages come back): Amazon or SQS unavailable, a
    lease not obtained, a catalog that does not load right now (a bad merge: the workers wait
    for the fix instead of dying), a busy database."""
    return isinstance(e, (ReconcilerError, LeaseLost, OSError, sqlite3.OperationalError)) \
        or type(e).__module__.startswith("botocore")
