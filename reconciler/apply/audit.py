"""The audit log: one JSON line per apply (who, when, git commit and whether the tree was
dirty, plan checksum, strategy, per-listing outcome, KPIs).

Who (``actor``): the CI's actor (``GITHUB_ACTOR`` and its peers), else the git user, else the
OS user; ``actor_source`` says which.

The path is ``$RECONCILER_AUDIT_LOG`` (the operator's: anywhere, relative to the current
directory), else the catalog's ``apply.audit_log``, confined to the catalog root: relative,
no ``..``, and still inside the root once symlinks are resolved (a pull request must not make
apply append to ``~/.bashrc`` or a workflow file), else ``.reconciler/audit.jsonl`` in the
current directory. Every string in the record passes through
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

from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.model import ApplySettings
from reconciler.kernel.redact import redact

ENV_AUDIT_LOG = "RECONCILER_AUDIT_LOG"


DEFAULT_AUDIT_LOG = ".reconciler/audit.jsonl"


def audit_path(
    settings: ApplySettings | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    *,
    root: str | Path | None = None,
) -> Path:
    """Where the audit line goes (see the module doc). ``root`` is the catalog directory: with
    it, the catalog's ``audit_log`` is confined to it (ReconcilerError otherwise); without it
    (tools, tests) that value is taken relative to ``cwd``."""
    env = os.environ if env is None else env
    here = Path(cwd or os.getcwd())
    if env.get(ENV_AUDIT_LOG):
        p = Path(env[ENV_AUDIT_LOG]).expanduser()
        return p if p.is_absolute() else here / p
    configured = (settings or ApplySettings()).audit_log
    if not configured:
        return here / DEFAULT_AUDIT_LOG
    if root is None:
        p = Path(configured)
        return p if p.is_absolute() else here / p
    return confined(configured, root)


def confined(relative: str, root: str | Path) -> Path:
    """``relative`` inside the catalog ``root``, or ReconcilerError naming the setting."""
    base = Path(root).resolve()
    p = Path(relative)
    if p.is_absolute() or ".." in p.parts or relative.startswith("~"):
        raise ReconcilerError(
            f"apply.audit_log {relative!r} in reconciler.yaml is outside the catalog: give a "
            f"path inside it, or set {ENV_AUDIT_LOG}"
        )
    target = base / p
    # resolve symlinks of every existing part: a link in the catalog must not lead outside
    try:
        real = target.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise ReconcilerError(
            f"apply.audit_log {relative!r} in reconciler.yaml can't be resolved (a symlink "
            "loop?)"
        ) from None
    if real != base and base not in real.parents:
        raise ReconcilerError(
            f"apply.audit_log {relative!r} in reconciler.yaml resolves outside the catalog "
            f"(a symlink?): refused; give a path inside it, or set {ENV_AUDIT_LOG}"
        )
    return real


# Who started a CI run, per CI system (the first one set wins):
# https://docs.github.com/en/actions/reference/workflows-and-actions/variables
# https://docs.gitlab.com/ci/variables/predefined_variables/
# https://circleci.com/docs/reference/variables/
# https://learn.microsoft.com/en-us/azure/devops/pipelines/build/variables (Build.RequestedFor)
# https://buildkite.com/docs/pipelines/configure/environment-variables
CI_ACTOR_VARIABLES = (
    "GITHUB_ACTOR",
    "GITLAB_USER_LOGIN",
    "CIRCLE_USERNAME",
    "BUILD_REQUESTEDFOR",
    "BUILDKITE_BUILD_CREATOR",
)
OS_USER_VARIABLES = ("LOGNAME", "USER", "LNAME", "USERNAME")  # as getpass.getuser() reads them


def _git(args: list[str], cwd: str | Path | None) -> str | None:
    """``git ARGS`` stdout (stripped) or None when git is missing or fails."""
    try:
        r = subprocess.run(
            ["git", *args],
            cwd=str(cwd) if cwd else None,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def actor_of(
    env: Mapping[str, str] | None = None, cwd: str | Path | None = None
) -> tuple[str, str]:
    """(who, where it comes from): the CI's actor (``GITHUB_ACTOR``, ...), else the git user
    (``git config user.name``/``user.email``), else the OS user, else ``unknown``."""
    env = os.environ if env is None else env
    for var in CI_ACTOR_VARIABLES:
        if env.get(var):
            return env[var], var
    name = _git(["config", "user.name"], cwd) or ""
    email = _git(["config", "user.email"], cwd) or ""
    if name or email:
        return (f"{name} <{email}>" if name and email else name or email), "git config"
    for var in OS_USER_VARIABLES:
        if env.get(var):
            return env[var], "os user"
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name, "os user"
    except (ImportError, KeyError, OSError):
        return "unknown", "unknown"


def actor(env: Mapping[str, str] | None = None, cwd: str | Path | None = None) -> str:
    return actor_of(env, cwd)[0]


def git_dirty(cwd: str | Path | None = None, paths: tuple[str, ...] = ()) -> bool | None:
    """Whether the work tree (limited to ``paths``, e.g. the catalog) has uncommitted changes,
    untracked files included; None outside a git work tree."""
    status = _git(["status", "--porcelain", "--", *paths], cwd)
    return None if status is None else bool(status)


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
    catalog_dir: str | Path | None = None,
) -> dict[str, Any]:
    """One audit record. ``git_dirty`` says whether the catalog directory (else the tree at
    ``cwd``) had uncommitted changes when it was applied (None outside git)."""
    who, source = actor_of(env, cwd if cwd is not None else catalog_dir)
    rec: dict[str, Any] = {
        "time": utc_now_iso(now),
        "actor": who,
        "actor_source": source,
        "git_commit": git_commit(env, cwd),
        "git_dirty": git_dirty(catalog_dir, (".",)) if catalog_dir else git_dirty(cwd),
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
                "rate_as_of": d.rate_as_of,  # "" for a price fixed per SKU (no rate used)
                "fixed": d.fixed,
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
