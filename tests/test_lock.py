"""Account locks: atomic create, holder named on conflict, stale detection (dead pid, TTL for
other hosts, unreadable file), release only of our own lock, and a real two-process race."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.apply import lock
from reconciler.kernel.errors import LockHeldError


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_acquire_writes_holder_and_release_removes(tmp_path: Path) -> None:
    lk = lock.acquire(tmp_path, "na", command="reconciler apply catalog")
    data = json.loads(lock.lock_path(tmp_path, "na").read_text())
    assert data["pid"] == os.getpid()
    assert data["host"] == socket.gethostname()
    assert data["command"] == "reconciler apply catalog"
    assert data["started_at"].endswith("Z")
    lk.release()
    assert not lock.lock_path(tmp_path, "na").exists()


def test_second_acquire_names_holder(tmp_path: Path) -> None:
    lk = lock.acquire(tmp_path, "na")
    with pytest.raises(LockHeldError) as ei:
        lock.acquire(tmp_path, "na")
    msg = str(ei.value)
    assert f"pid {os.getpid()}" in msg
    assert socket.gethostname() in msg
    assert lk.holder.started_at in msg
    # another account is independent
    other = lock.acquire(tmp_path, "eu")
    other.release()
    lk.release()


def test_stale_lock_of_dead_pid_is_recovered_with_message(tmp_path: Path) -> None:
    path = lock.lock_path(tmp_path, "na")
    path.parent.mkdir(parents=True)
    dead = _dead_pid()
    path.write_text(
        json.dumps(
            {
                "pid": dead,
                "host": socket.gethostname(),
                "started_at": "2026-01-01T00:00:00Z",
                "command": "reconciler apply",
            }
        )
    )
    messages: list[str] = []
    lk = lock.acquire(tmp_path, "na", on_stale=messages.append)
    assert lk.holder.pid == os.getpid()
    assert len(messages) == 1 and f"pid {dead}" in messages[0] and "stale" in messages[0]
    lk.release()


def test_other_host_lock_is_stale_only_after_ttl(tmp_path: Path) -> None:
    path = lock.lock_path(tmp_path, "na")
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps(
            {"pid": 1, "host": "ci-runner-7", "started_at": "2026-01-01T00:00:00Z", "command": "x"}
        )
    )
    t0 = 1767225600.0  # 2026-01-01T00:00:00Z
    with pytest.raises(LockHeldError, match="ci-runner-7"):
        lock.acquire(tmp_path, "na", ttl_s=3600, now=lambda: t0 + 60)
    msgs: list[str] = []
    lk = lock.acquire(tmp_path, "na", ttl_s=3600, now=lambda: t0 + 7200, on_stale=msgs.append)
    assert msgs and "TTL" in msgs[0]
    lk.release()


def test_unreadable_lock_is_stale_after_grace(tmp_path: Path) -> None:
    path = lock.lock_path(tmp_path, "na")
    path.parent.mkdir(parents=True)
    path.write_text("")
    with pytest.raises(LockHeldError):
        lock.acquire(tmp_path, "na")
    old = time.time() - 60
    os.utime(path, (old, old))
    msgs: list[str] = []
    lock.acquire(tmp_path, "na", on_stale=msgs.append).release()
    assert msgs and "unreadable" in msgs[0]


def test_release_does_not_remove_someone_elses_lock(tmp_path: Path) -> None:
    lk = lock.acquire(tmp_path, "na")
    path = lock.lock_path(tmp_path, "na")
    path.write_text(
        json.dumps(
            {"pid": 4242, "host": "elsewhere", "started_at": "2026-01-01T00:00:00Z", "command": "x"}
        )
    )
    lk.release()
    assert path.exists()


def test_hold_releases_all_even_on_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), lock.hold(tmp_path, ["eu", "na"]) as held:
        assert [h.account for h in held] == ["eu", "na"]
        raise RuntimeError("boom")
    assert not lock.lock_path(tmp_path, "na").exists()
    assert not lock.lock_path(tmp_path, "eu").exists()


def test_hold_partial_failure_releases_taken_locks(tmp_path: Path) -> None:
    other = lock.acquire(tmp_path, "na")
    with pytest.raises(LockHeldError), lock.hold(tmp_path, ["eu", "na"]):
        pass
    assert not lock.lock_path(tmp_path, "eu").exists()
    other.release()


def test_two_processes_race_exactly_one_wins(tmp_path: Path) -> None:
    code = (
        "import sys, time\n"
        "from reconciler.apply import lock\n"
        "from reconciler.kernel.errors import LockHeldError\n"
        "try:\n"
        "    lk = lock.acquire(sys.argv[1], 'na')\n"
        "except LockHeldError:\n"
        "    print('held'); sys.exit(0)\n"
        "print('won'); sys.stdout.flush(); time.sleep(1.0); lk.release()\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outs = sorted(p.communicate(timeout=30)[0].strip() for p in procs)
    assert outs.count("won") == 1, outs
    assert outs.count("held") == 3, outs
