"""Token buckets with an injected clock: burst, refill rate, reservations queueing fairly,
following ``x-amzn-RateLimit-Limit``, draining after a 429, seeding from the quota table."""

from __future__ import annotations

import threading

import pytest

from reconciler.kernel.quotas import QUOTAS
from reconciler.spapi.ratelimit import DEFAULT_QUOTA, RateLimiter, SlidingWindow, TokenBucket
from tests.spapi_fakes import FakeClock


def bucket(rate: float, burst: int) -> tuple[TokenBucket, FakeClock]:
    clock = FakeClock()
    return TokenBucket(rate=rate, burst=burst, clock=clock, sleep=clock.sleep), clock


def test_burst_is_free_then_one_token_per_interval() -> None:
    b, clock = bucket(5.0, 5)
    assert [b.acquire() for _ in range(5)] == [0.0] * 5
    assert clock.sleeps == []
    assert b.acquire() == pytest.approx(0.2)
    assert clock.sleeps == [pytest.approx(0.2)]


def test_sustained_rate_matches_the_quota() -> None:
    b, clock = bucket(5.0, 5)
    start = clock()
    for _ in range(105):
        b.acquire()
    # 5 from the burst, 100 more at 5/s -> 20 s
    assert clock() - start == pytest.approx(20.0)


def test_reservations_queue_without_sleeping_inside_the_lock() -> None:
    b, _ = bucket(2.0, 1)
    waits = [b.reserve() for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.5, 1.0, 1.5])


def test_refill_is_capped_at_burst() -> None:
    b, clock = bucket(5.0, 5)
    for _ in range(5):
        b.acquire()
    clock.advance(100)
    assert b.available() == pytest.approx(5.0)


def test_try_acquire_does_not_go_negative() -> None:
    b, _ = bucket(1.0, 2)
    assert b.try_acquire() and b.try_acquire()
    assert not b.try_acquire()
    assert b.available() == pytest.approx(0.0)


def test_set_rate_follows_header_and_ignores_noise() -> None:
    b, _clock = bucket(5.0, 1)
    assert b.set_rate(10.0) is True
    assert b.set_rate(10.0) is False
    assert b.set_rate(0.0) is False
    b.acquire()
    assert b.acquire() == pytest.approx(0.1)


def test_drain_empties_the_bucket() -> None:
    b, _ = bucket(5.0, 5)
    b.drain()
    assert b.reserve() == pytest.approx(0.2)


def test_invalid_bucket_is_refused() -> None:
    clock = FakeClock()
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=5, clock=clock, sleep=clock.sleep)


def test_limiter_seeds_from_quotas_times_rate_scale() -> None:
    clock = FakeClock()
    lim = RateLimiter(rate_scale=10.0, clock=clock, sleep=clock.sleep)
    b = lim.bucket("patchListingsItem")
    assert b.rate == pytest.approx(QUOTAS["patchListingsItem"].rate * 10)
    assert b.burst == QUOTAS["patchListingsItem"].burst - 1  # one token of headroom
    assert lim.bucket("patchListingsItem") is b
    assert lim.bucket("someNewOperation").rate == DEFAULT_QUOTA.rate * 10


def test_limiter_observes_header_values() -> None:
    clock = FakeClock()
    lim = RateLimiter(clock=clock, sleep=clock.sleep)
    assert lim.observe_limit_header("getListingsItem", "50.0") is True
    assert lim.bucket("getListingsItem").rate == 50.0  # not multiplied by rate_scale
    assert lim.observe_limit_header("getListingsItem", "garbage") is False
    assert lim.observe_limit_header("getListingsItem", None) is False
    assert lim.bucket("getListingsItem").rate == 50.0


def test_threads_share_one_bucket() -> None:
    b, _ = bucket(5.0, 5)
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            w = b.reserve()
            with lock:
                waits.append(w)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 20 reservations against one clock instant: 5 from the burst, then one every 0.2 s,
    # each handed out exactly once whatever the interleaving.
    expected = [0.0] * 5 + [0.2 * k for k in range(1, 16)]
    assert sorted(waits) == pytest.approx(expected)


def test_headroom_is_configurable_and_never_empties_the_bucket() -> None:
    clock = FakeClock()
    assert RateLimiter(headroom=0, clock=clock, sleep=clock.sleep).bucket("getFeed").burst == 15
    assert RateLimiter(headroom=99, clock=clock, sleep=clock.sleep).bucket("getFeed").burst == 1


def window(limit: int = 5, seconds: float = 300.0) -> tuple[SlidingWindow, FakeClock]:
    clock = FakeClock()
    return SlidingWindow(limit, seconds, clock=clock, sleep=clock.sleep), clock


def test_sliding_window_takes_five_then_waits_for_the_first_to_age_out() -> None:
    w, clock = window()
    start = clock()
    for _ in range(5):
        w.complete(w.acquire())
    assert clock() == start and w.wait() == pytest.approx(300.0)
    clock.sleep(100.0)
    w.complete(w.acquire())  # the sixth: sleeps until 300 s after the first answer
    assert clock() - start == pytest.approx(300.0)
    assert w.wait() == 0.0  # the first aged out, the sixth took its place: 5 in the window


def test_sliding_window_counts_from_the_answer_not_the_send() -> None:
    w, clock = window(limit=1, seconds=10.0)
    h = w.acquire()
    assert w.wait() == pytest.approx(10.0)  # in flight: holds its slot
    clock.sleep(3.0)  # the answer took 3 s
    w.complete(h)
    assert w.wait() == pytest.approx(10.0)


def test_sliding_window_seed_and_fill() -> None:
    w, _ = window()
    w.seed([10.0, 20.0, 30.0, 40.0, 50.0, 400.0])  # five recent (one too old to count)
    assert w.wait() == pytest.approx(250.0)  # the oldest recent one was 50 s ago
    w.seed([1.0] * 5)  # a window already counting this process's requests is kept as is
    assert w.wait() == pytest.approx(250.0)
    fresh, _ = window()
    fresh.fill()  # throttled anyway: a whole window from now
    assert fresh.wait() == pytest.approx(300.0)


def test_senders_woken_late_by_a_busy_process_do_not_go_out_in_a_burst() -> None:
    """Issue 19: a request whose wait ended during a stall (a busy process) leaves when the
    stall ends, and the requests due after it must not all leave with it: in any window, no
    more than Amazon's bucket allows (burst + rate x window), counted at the real send times."""
    clock = FakeClock()
    stall_end = clock() + 2.0

    def oversleep(seconds: float) -> None:  # the process gets no CPU until stall_end
        clock.sleep(seconds)
        clock.advance(max(0.0, stall_end - clock()))

    b = TokenBucket(rate=5.0, burst=5, clock=clock, sleep=oversleep)
    sent = []
    for _ in range(20):
        b.acquire()
        sent.append(clock())
    for i, t in enumerate(sent):
        in_window = [u for u in sent[i:] if u - t <= 1e-9]
        assert len(in_window) <= 5, (t, in_window)  # never more than the burst at once
    for i in range(len(sent)):
        for j in range(i, len(sent)):
            assert j - i + 1 <= 5 + 5.0 * (sent[j] - sent[i]) + 1e-6
