"""The audit log: one JSON line per apply (who, when, git commit, plan checksum, strategy,
per-listing outcome, KPIs).

The path is ``ApplySettings.audit_log`` (relative paths resolve against the current directory),
overridden by ``$RECONCILER_AUDIT_LOG``. Every string in the record passes through
:func:`reconciler.kernel.redact.redact` before it is written, and the line is written with a single
``write`` on an ``O_APPEND`` descriptor followed by ``fsync``, so concurrent appliers (or a kill)
never interleave or truncate lines.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from reconciler.kernel.model import ApplySettings
from reconciler.kernel.redact import redact

ENV_AUDIT_LOG = "RECONCILER_AUDIT_LOG"


def audit_path(
    settings: ApplySettings | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
) -> Path:
    env = os.environ if env is None else env
    raw = env.get(ENV_AUDIT_LOG) or (settings or ApplySettings()).audit_log
    p = Path(raw).expanduser()
    if not p.is_absolute():
        p = Path(cwd or os.getcwd()) / p
    return p


def actor(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get("GITHUB_ACTOR") or env.get("USER") or env.get("USERNAME") or "unknown"


def git_commit(env: Mapping[str, str] | None = None, cwd: str | Path | None = None) -> str | None:
    """$GITHUB_SHA, else ``git rev-parse HEAD`` when ``cwd`` is inside a repository."""
    env = os.environ if env is None else env
    if env.get("GITHUB_SHA"):
        return env["GITHUB_SHA"]
    try:
        r = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=str(cwd) if cwd else None,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = r.stdout.strip()
    return sha if r.returncode == 0 and len(sha) >= 7 else None


def utc_now_iso(now: Callable[[], _dt.datetime] | None = None) -> str:
    t = now() if now else _dt.datetime.now(_dt.timezone.utc)
    return t.astimezone(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_record(
    *,
    plan_checksum: str,
    strategy: str,
    outcomes: list[dict[str, Any]],
    kpis: Mapping[str, Any],
    command: str = "apply",
    extra: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    now: Callable[[], _dt.datetime] | None = None,
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "time": utc_now_iso(now),
        "actor": actor(env),
        "git_commit": git_commit(env, cwd),
        "command": command,
        "plan_checksum": plan_checksum,
        "strategy": strategy,
        "outcomes": outcomes,
        "kpis": dict(kpis),
    }
    if extra:
        rec.update(extra)
    return rec


def price_points(changes: Iterable[Any]) -> list[dict[str, Any]]:
    """The prices a plan writes, for the audit line's ``prices`` (the report's price history):
    one entry per price derivation of each change that writes a price, with its guards and the
    date of the FX rates it used. List prices ignore the guards (``pricing.compute``)."""
    out: list[dict[str, Any]] = []
    for c in changes:
        if not any(f.attribute in ("purchasable_offer", "list_price") for f in c.fields):
            continue
        for d in c.derivations:
            kind = "list" if "list price" in d.override else "offer"
            out.append({
                "account": c.key.account, "sku": c.key.sku, "marketplace": c.marketplace,
                "currency": d.currency, "kind": kind, "price": float(d.result),
                "min": None if kind == "list" or d.guard_min is None else float(d.guard_min),
                "max": None if kind == "list" or d.guard_max is None else float(d.guard_max),
                "rate_as_of": d.rate_as_of,
            })
    return out


def _redact_all(o: Any) -> Any:
    if isinstance(o, str):
        return redact(o)
    if isinstance(o, Mapping):
        return {redact(str(k)): _redact_all(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_redact_all(v) for v in o]
    return o


def append(path: str | Path, record: Mapping[str, Any]) -> None:
    """Append one redacted JSON line atomically."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(_redact_all(record), sort_keys=True, ensure_ascii=False, default=str)
    data = (line.replace("\n", " ") + "\n").encode("utf-8")
    fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, data)
        if written != len(data):  # pragma: no cover - regular files write fully
            raise OSError(f"short write to audit log {p}")
        os.fsync(fd)
    finally:
        os.close(fd)


def read(path: str | Path) -> list[dict[str, Any]]:
    """Every record of an audit log (tests, tooling)."""
    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line]
