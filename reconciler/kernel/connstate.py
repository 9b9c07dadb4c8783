"""The connection record: each account's connection settings as the last accepted apply used
them, in ``<state_dir>/connections.json`` (see :mod:`reconciler.connections` for why).

Written only by ``apply``, once the plan passed its safety check (``--force`` for a dangerous
rule) and was approved; read by ``plan`` and ``apply`` to flag a change. It holds endpoints,
token URLs and ``env/NAME`` references, never a secret. Written atomically (temp file +
rename), so a kill leaves the old record or the new one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .connections import Connection
from .errors import ReconcilerError
from .model import Account

FILENAME = "connections.json"
FORMAT = 1


def record_path(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir) / FILENAME


def read(state_dir: str | os.PathLike[str]) -> dict[str, Connection]:
    """The recorded connection of every account ({} when nothing was recorded yet). Raises
    ReconcilerError naming the file when it can't be read or is not a record."""
    path = record_path(state_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise ReconcilerError(f"cannot read the connection record {path}: {e}") from None
    try:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}")
        return {str(k): Connection.from_data(v) for k, v in data["accounts"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ReconcilerError(
            f"the connection record {path} is damaged ({type(e).__name__}); delete it (the next "
            "apply writes it again, after showing every connection setting as new)"
        ) from None


def record(state_dir: str | os.PathLike[str], accounts: Iterable[Account]) -> Path:
    """Remember ``accounts``' connection settings (other accounts' entries are kept)."""
    path = record_path(state_dir)
    try:
        current = read(state_dir)
    except ReconcilerError:
        current = {}  # a damaged record is replaced by what was just accepted
    for a in accounts:
        current[a.name] = Connection.of(a)
    body = {
        "format": FORMAT,
        "accounts": {k: current[k].data() for k in sorted(current)},
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".connections-", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise ReconcilerError(f"cannot write the connection record {path}: {e}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(body, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
