"""One lock per seller account, so two applies never write the same account at once.

A lock is the file ``<state_dir>/locks/<account>.lock``, created atomically with
``O_CREAT | O_EXCL`` and holding ``{"pid", "host", "started_at", "command"}`` as JSON. A second
apply finds the file and raises :class:`~reconciler.kernel.errors.LockHeldError` naming the holder.

A lock is *stale* when its holder cannot be running any more:

- same host: the pid is not alive (``os.kill(pid, 0)``), e.g. the apply was killed with SIGKILL;
- another host (a shared state dir): the lock is older than ``ttl_s``;
- unreadable content (a holder killed between create and write) older than a few seconds.

A stale lock is broken and re-acquired; the message saying so is handed to ``on_stale`` (this
module never prints). Breaking is serialised by a second ``O_EXCL`` file (``.break``) so two
processes that both see a stale lock cannot both take it.

CI runs add a workflow ``concurrency:`` group per account on top (see
``.github/workflows/apply.yml``); this lock is what protects local and cron runs too.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from reconciler.kernel import statedir
from reconciler.kernel.errors import LockHeldError

DEFAULT_TTL_S = 6 * 3600.0  # a lock from another host older than this is stale
_UNREADABLE_GRACE_S = 5.0  # an empty/corrupt lock younger than this may still be being written


@dataclass(frozen=True)
class LockHolder:
    pid: int
    host: str
    started_at: str  # UTC ISO 8601
    command: str

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, started {self.started_at} ({self.command})"


@dataclass(frozen=True)
class AccountLock:
    """A held lock. Release it with :meth:`release` (or use :func:`hold`)."""

    account: str
    path: Path
    holder: LockHolder

    def release(self) -> None:
        # Only remove the file if it is still ours (a stale-breaker may have replaced it).
        current = _read(self.path)
        if current is not None and (current.pid, current.host, current.started_at) != (
            self.holder.pid,
            self.holder.host,
            self.holder.started_at,
        ):
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def lock_path(state_dir: str | Path, account: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in account) or "_"
    return Path(state_dir) / "locks" / f"{safe}.lock"


def acquire(
    state_dir: str | Path,
    account: str,
    *,
    command: str = "reconciler apply",
    ttl_s: float = DEFAULT_TTL_S,
    on_stale: Callable[[str], None] | None = None,
    now: Callable[[], float] = time.time,
) -> AccountLock:
    """Take the account's lock or raise LockHeldError naming the holder."""
    path = lock_path(state_dir, account)
    statedir.ensure(path.parent)
    holder = LockHolder(
        pid=os.getpid(),
        host=socket.gethostname(),
        started_at=_iso(now()),
        command=command,
    )
    for _ in range(3):
        if _try_create(path, holder):
            return AccountLock(account, path, holder)
        reason = _stale_reason(path, ttl_s, now)
        if reason is None:
            current = _read(path)
            if current is None:  # released between our create and our read: try again
                continue
            raise LockHeldError(
                f"account {account!r} is locked by another apply: {current.describe()}; "
                f"lock file {path}"
            )
        if _break(path, ttl_s, now) and on_stale is not None:
            on_stale(f"recovered a stale lock for account {account!r}: {reason}")
    current = _read(path)
    who = current.describe() if current else "unknown holder"
    raise LockHeldError(f"account {account!r} is locked by another apply: {who}; lock file {path}")


@contextlib.contextmanager
def hold(
    state_dir: str | Path,
    accounts: Iterable[str],
    *,
    command: str = "reconciler apply",
    ttl_s: float = DEFAULT_TTL_S,
    on_stale: Callable[[str], None] | None = None,
) -> Iterator[list[AccountLock]]:
    """Hold the locks of several accounts (taken in sorted order, so two applies over
    overlapping account sets cannot deadlock); all are released on exit."""
    held: list[AccountLock] = []
    try:
        for account in sorted(set(accounts)):
            held.append(
                acquire(state_dir, account, command=command, ttl_s=ttl_s, on_stale=on_stale)
            )
        yield held
    finally:
        for lk in reversed(held):
            lk.release()


def read_holder(state_dir: str | Path, account: str) -> LockHolder | None:
    return _read(lock_path(state_dir, account))


# --------------------------------------------------------------------------- internals


def _iso(t: float) -> str:
    return (
        _dt.datetime.fromtimestamp(t, _dt.timezone.utc)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z")
    )


def _try_create(path: Path, holder: LockHolder) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    try:
        data = json.dumps(
            {
                "pid": holder.pid,
                "host": holder.host,
                "started_at": holder.started_at,
                "command": holder.command,
            }
        ).encode("utf-8")
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def _read(path: Path) -> LockHolder | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return LockHolder(
            pid=int(raw["pid"]),
            host=str(raw["host"]),
            started_at=str(raw["started_at"]),
            command=str(raw.get("command", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _age(path: Path, started_at: str | None, now: Callable[[], float]) -> float:
    if started_at:
        try:
            t = _dt.datetime.fromisoformat(started_at.replace("Z", "+00:00")).timestamp()
            return now() - t
        except ValueError:
            pass
    try:
        return now() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _stale_reason(path: Path, ttl_s: float, now: Callable[[], float]) -> str | None:
    holder = _read(path)
    if holder is None:
        if not path.exists():
            return None
        if _age(path, None, now) > _UNREADABLE_GRACE_S:
            return "the lock file was unreadable (its holder died while writing it)"
        return None
    if holder.host == socket.gethostname():
        if not _pid_alive(holder.pid):
            return f"holder {holder.describe()} is no longer running"
        return None
    if _age(path, holder.started_at, now) > ttl_s:
        return f"holder {holder.describe()} is older than the {ttl_s:.0f} s TTL"
    return None


def _break(path: Path, ttl_s: float, now: Callable[[], float]) -> bool:
    """Remove a stale lock; only one process at a time may do so. Returns True if we broke it."""
    breaker = path.with_name(path.name + ".break")
    try:
        fd = os.open(breaker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        # Someone else is breaking it; a breaker file left by a killed process goes stale too.
        with contextlib.suppress(FileNotFoundError):
            if now() - breaker.stat().st_mtime > _UNREADABLE_GRACE_S:
                breaker.unlink()
        time.sleep(0.05)
        return False
    os.close(fd)
    try:
        # Re-check under the breaker: the lock may have been replaced by a live holder.
        if _stale_reason(path, ttl_s, now) is None:
            return False
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            breaker.unlink()
