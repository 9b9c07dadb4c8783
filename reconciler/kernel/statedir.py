"""The local state directory (embedded emulator, live cache, locks, journals, logs): one clear
error when it cannot be used, instead of an OSError from deep inside a command.

``$RECONCILER_STATE_DIR`` (default ``./.reconciler``) is the user's setting, so a path that is
a file, or a directory that cannot be created, is a user mistake: :class:`StateDirError`, exit 1.
"""

from __future__ import annotations

import os
from pathlib import Path

from reconciler.kernel.errors import ReconcilerError

ENV_STATE_DIR = "RECONCILER_STATE_DIR"


class StateDirError(ReconcilerError):
    """The state directory is a file, or cannot be created or written."""


def _fix() -> str:
    return f"point {ENV_STATE_DIR} at a writable directory (default ./.reconciler)"


def check(path: str | os.PathLike[str]) -> None:
    """Raise StateDirError when ``path`` (or the first existing one of its parents) is not a
    directory. Creates nothing."""
    p = Path(path)
    for at in (p, *p.parents):
        if at.exists() or at.is_symlink():
            if not at.is_dir():
                what = "it" if at == p else f"its parent {str(at)!r}"
                raise StateDirError(
                    f"state directory {str(p)!r}: {what} is a file, not a directory; {_fix()}"
                )
            return


def ensure(path: str | os.PathLike[str]) -> Path:
    """Create the state directory ``path`` (and its parents) if needed; StateDirError when it
    cannot be."""
    check(path)
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StateDirError(
            f"cannot create the state directory {str(p)!r}: {e.strerror or e}; {_fix()}"
        ) from None
    return p
