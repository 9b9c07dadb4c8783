"""The two write paths of an apply, for one account: PATCH (``write_patches``: one request a
listing, workers sharing the client's token buckets) and JSON_LISTINGS_FEED (``write_feeds``,
the lifecycle in :mod:`reconciler.apply.feeds`), and ``write_both``, which runs them at once for
a hybrid apply (separate quotas: patchListingsItem's bucket and the feed limits). Each records
per listing what it wrote in ``acc.written`` (different keys on each path).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor

from reconciler.apply import feeds as feedrun
from reconciler.apply.outcome import PENDING, REJECTED, FeedRecord
from reconciler.apply.state import AccountRun, ProgressCounter
from reconciler.kernel.errors import ApiError, InvalidRequestError, NotFoundError
from reconciler.kernel.model import Issue, ListingKey
from reconciler.kernel.quotas import SEARCH_MAX_IDENTIFIERS
from reconciler.kernel.redact import redact
from reconciler.live.normalize import amazon_issues
from reconciler.plan.change import Change
from reconciler.plan.patches import listing_request
from reconciler.spapi.client import SpApiClient


def api_issue(e: ApiError) -> tuple[Issue, ...]:
    if e.errors:
        return tuple(Issue(x.code, redact(x.message)) for x in e.errors)
    return (Issue(f"HTTP_{e.status}" if e.status else "API_ERROR", redact(str(e))),)


def write_one(client: SpApiClient, change: Change) -> tuple[str, tuple[Issue, ...]]:
    """One request for one listing: (submitted|rejected|pending, issues)."""
    req = listing_request(change)
    mp = [req.marketplace_id]
    try:
        if req.method == "DELETE":
            res = client.delete_listings_item(req.sku, mp)
        elif req.method == "PUT":
            res = client.put_listings_item(req.sku, mp, req.body or {})
        else:
            res = client.patch_listings_item(req.sku, mp, req.body or {})
    except NotFoundError:
        if req.method == "DELETE":
            return "submitted", ()  # already gone: verify confirms
        raise
    except InvalidRequestError as e:  # Amazon refused this listing's request
        return REJECTED, api_issue(e)
    except ApiError as e:  # throttled/5xx after bounded retries: not written, run again
        return PENDING, api_issue(e)
    issues = amazon_issues(res.get("issues"))
    if res.get("status") == "INVALID":
        return REJECTED, tuple(i for i in issues if i.severity == "ERROR") or issues
    return "submitted", ()


VERIFY_CHUNKS = 8  # a patch apply hands its written listings to verification in this many parts


def verify_chunk(n: int) -> int:
    """Listings per verification part of a patch apply of ``n`` listings: about
    :data:`VERIFY_CHUNKS` parts, never less than one search's worth (20 SKUs)."""
    return max(SEARCH_MAX_IDENTIFIERS, -(-n // VERIFY_CHUNKS))


def write_patches(
    acc: AccountRun,
    todo: list[Change],
    counter: ProgressCounter,
    workers: int,
    on_written: Callable[[Collection[ListingKey]], None] | None = None,
) -> None:
    """One request a listing, ``workers`` at once under the client's buckets. With
    ``on_written``, the written listings are handed over in parts of :func:`verify_chunk` as
    they are written (and the rest at the end), so the early ones are read back (searches, a
    bucket of their own) while the later ones are still being patched: only the last part's
    verification is left once the last PATCH is sent."""
    done = 0
    lock = threading.Lock()
    size = verify_chunk(len(todo))
    ready: list[ListingKey] = []

    def one(c: Change) -> None:
        nonlocal done
        status, issues = write_one(acc.client, c)
        part: list[ListingKey] = []
        with lock:
            acc.written[c.key] = (status, issues, "patch")
            done += 1
            n = done
            if on_written is not None:
                ready.append(c.key)
                if len(ready) >= size:
                    part = ready[:]
                    ready.clear()
        counter.set("write", acc.name, n)
        if part and on_written is not None:
            on_written(part)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="patch") as pool:
        list(pool.map(one, todo))
    if ready and on_written is not None:
        on_written(ready)


def write_feeds(
    acc: AccountRun,
    todo: list[Change],
    journal: feedrun.Journal,
    counter: ProgressCounter,
    timeout_s: float,
    poll_s: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    on_done: Callable[[Collection[ListingKey]], None],
    sent: int = 0,
    progress_key: str = "",
) -> None:
    """One feed per marketplace (and 25,000 messages), each submitted as soon as the
    JSON_LISTINGS_FEED window allows and polled meanwhile (``feedrun.run``); as soon as one is
    terminal its report decides its listings and ``on_done`` gets them (to verify the accepted
    ones while the other feeds are still processing). A feed unfinished at its bound leaves its
    listings pending, with the feed id and its age. ``sent``: listings already written;
    ``progress_key``: the progress counter's key for them (default: the account's name)."""
    key = progress_key or acc.name

    def submitted(fid: str, batch: Sequence[Change]) -> None:
        nonlocal sent
        for c in batch:
            acc.written[c.key] = ("submitted", (), "feed")
            acc.feed_of[c.key] = fid
        sent += len(batch)
        counter.set("write", key, sent)

    def failed(batch: Sequence[Change], e: ApiError) -> None:
        for c in batch:
            acc.written[c.key] = (PENDING, api_issue(e), "feed")

    def decided(r: feedrun.FeedResult) -> None:
        for key in r.keys:
            if key in r.rejected:
                acc.written[key] = (REJECTED, r.rejected[key], "feed")
            elif r.status not in ("DONE",):
                acc.written[key] = (PENDING, (r.unfinished_issue(),), "feed")
        acc.feeds.append(
            FeedRecord(
                acc.name, r.feed_id, r.marketplace_id, len(r.keys), r.status, len(r.rejected)
            )
        )
        if r.status == "DONE":
            on_done(r.keys)

    feedrun.run(
        acc.client,
        acc.seller_id,
        feedrun.batches(todo),
        journal,
        timeout_s=timeout_s,
        poll_s=poll_s,
        clock=clock,
        sleep=sleep,
        on_submitted=submitted,
        on_failed=failed,
        on_result=decided,
    )
    acc.feeds.sort(key=lambda f: f.feed_id)  # by feed id, as before, whichever ended first


def write_both(patch: Callable[[], None], feed: Callable[[], None], *, name: str) -> None:
    """Run the feed path on its own thread while ``patch`` runs on this one (a hybrid apply:
    the two paths have separate quotas), then wait for it; its exception is raised here."""
    failed: list[BaseException] = []

    def run_feed() -> None:
        try:
            feed()
        except BaseException as e:  # re-raised on the account thread
            failed.append(e)

    t = threading.Thread(target=run_feed, name=name)
    t.start()
    try:
        patch()
    finally:
        t.join()
    if failed:
        raise failed[0]
