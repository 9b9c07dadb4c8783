"""Account (from ``reconciler.yaml``) -> a ready :class:`SpApiClient`.

``account.endpoint`` selects where the client talks to:

- ``production`` — Amazon's regional host for ``account.region`` (CONTRACT.md §1.3);
- ``sandbox`` — Amazon's static sandbox host for the region;
- an explicit base URL — ``https://...`` anywhere, or ``http://`` on a loopback host only (a
  local ``reconciler emulator serve``); tokens never travel in clear text over a network;
- ``emulator`` — the *embedded* emulator: one process-wide ``Emulator`` per state directory,
  persisted in ``<state_dir>/emulator.db``, seeded on first creation from
  ``reconciler.emulator.demo.demo_seed()`` (when that module exists), reached in-process through
  ``EmulatorTransport`` at ``http://emulator.local`` (never resolved: no socket is opened); it
  runs 60 times faster than Amazon (writes visible after 2 s instead of 2 min), and binds each
  account's refresh token to the account's seller, as Amazon does.

The token URL is Amazon's LWA endpoint unless ``account.token_url`` says otherwise; for the
embedded emulator and loopback base URLs it defaults to the emulator's ``/auth/o2/token`` (so a
local test setup never sends credentials to Amazon). A client of a loopback emulator server
paces itself by the server's time scale (``GET /_emulator/info``).

Credentials are ``env/NAME`` references resolved at use time by ``reconciler.credentials``: a
missing variable raises ``CredentialsError`` naming the VARIABLE, never a value, and every
resolved value is registered with ``redact``. For the embedded emulator, unset variables fall
back to dummy values (one refresh token per account, registered for its seller), so a fresh
clone plans without credentials.
"""

from __future__ import annotations

import atexit
import importlib
import ipaddress
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..credentials import resolve_ref
from ..errors import CredentialsError, ReconcilerError
from ..marketplaces import LWA_TOKEN_URL, REGION_HOSTS, SANDBOX_HOSTS
from ..model import Account
from ..quotas import QUOTAS, SANDBOX_QUOTA
from .client import SpApiClient

EMULATOR_BASE_URL = "http://emulator.local"
EMULATOR_TOKEN_PATH = "/auth/o2/token"  # noqa: S105 (a path)
EMULATOR_INFO_PATH = "/_emulator/info"  # a local emulator server's time scale
EMULATOR_DB = "emulator.db"
EMBEDDED_TIME_SCALE = 60.0  # the embedded emulator's clock: one Amazon minute per second
_DUMMY = {
    "refresh_token": "Atzr|embedded-emulator-refresh-token",
    "client_id": "amzn1.application-oa2-client.embedded-emulator",
    "client_secret": "embedded-emulator-client-secret",
}

_lock = threading.Lock()
_emulators: dict[str, Any] = {}  # realpath(state_dir) -> reconciler.emulator.app.Emulator


def _credentials(account: Account, env: Mapping[str, str], *, lenient: bool) -> dict[str, str]:
    refs = {
        "refresh_token": account.credentials.refresh_token,
        "client_id": account.credentials.client_id,
        "client_secret": account.credentials.client_secret,
    }
    out: dict[str, str] = {}
    for field, ref in refs.items():
        try:
            out[field] = resolve_ref(ref, env, account=account.name)
        except CredentialsError:
            if not lenient:
                raise
            # one dummy refresh token per account: the embedded emulator binds each refresh
            # token to its seller, as Amazon does
            dummy = _DUMMY[field]
            out[field] = f"{dummy}-{account.name}" if field == "refresh_token" else dummy
    return out


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def base_url_for(account: Account) -> str:
    """The SP-API base URL of a non-embedded account endpoint."""
    ep = account.endpoint
    if ep in ("production", "sandbox"):
        hosts = REGION_HOSTS if ep == "production" else SANDBOX_HOSTS
        try:
            return hosts[account.region]
        except KeyError:
            raise ReconcilerError(
                f"account {account.name!r}: unknown region {account.region!r} "
                f"(expected one of {', '.join(sorted(hosts))})"
            ) from None
    parts = urlsplit(ep)
    if parts.scheme == "https" and parts.hostname:
        return ep.rstrip("/")
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return ep.rstrip("/")
    raise ReconcilerError(
        f"account {account.name!r}: endpoint {ep!r} is not emulator, production, sandbox, an "
        "https:// URL or an http:// URL on a loopback address"
    )


def embedded_emulator(state_dir: str | os.PathLike[str]) -> Any:
    """The process-wide embedded Emulator of ``state_dir`` (created and seeded on first use),
    running :data:`EMBEDDED_TIME_SCALE` times faster than Amazon: one Amazon minute (a write
    becoming visible, a feed in its queue) passes in a second, every quota keeps its ratio."""
    from ..emulator.app import Emulator, EmulatorConfig  # only imported when used

    key = os.path.realpath(state_dir)
    with _lock:
        emu = _emulators.get(key)
        if emu is None:
            Path(key).mkdir(parents=True, exist_ok=True)
            db = Path(key) / EMULATOR_DB
            fresh = not db.exists()
            emu = Emulator(str(db), EmulatorConfig(time_scale=EMBEDDED_TIME_SCALE))
            if fresh:
                seed = _demo_seed()
                if seed is not None:
                    emu.seed(seed)
            _emulators[key] = emu
        return emu


def _demo_seed() -> dict[str, Any] | None:
    try:  # provided by the integrator; imported by name so its absence is not a type error
        demo = importlib.import_module("reconciler.emulator.demo")
    except ModuleNotFoundError:
        return None
    fn = getattr(demo, "demo_seed", None)
    return fn() if callable(fn) else None


def close_embedded_emulators() -> None:
    """Close every embedded emulator of this process (tests; runs at exit)."""
    with _lock:
        emus = list(_emulators.values())
        _emulators.clear()
    for emu in emus:
        close = getattr(emu, "close", None)
        if callable(close):
            close()


atexit.register(close_embedded_emulators)


def _local_time_scale(base_url: str, transport: httpx.BaseTransport | None) -> float:
    """The time scale a loopback emulator server reports (``GET /_emulator/info``); 1.0 when
    the server is not one (or does not answer)."""
    try:
        with httpx.Client(transport=transport, timeout=5.0) as http:
            r = http.get(base_url + EMULATOR_INFO_PATH)
        scale = float(r.json()["timeScale"]) if r.status_code == 200 else 1.0
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return 1.0
    return scale if scale > 0 else 1.0


def client_for(
    account: Account,
    *,
    state_dir: str,
    env: Mapping[str, str] = os.environ,
    transport: httpx.BaseTransport | None = None,
    **client_kwargs: Any,
) -> SpApiClient:
    """A client for ``account``. ``transport`` overrides how requests travel (tests)."""
    if account.endpoint == "emulator":
        emu = embedded_emulator(state_dir)
        if transport is None:
            from ..emulator.transport import EmulatorTransport

            transport = EmulatorTransport(emu)
        base_url = EMULATOR_BASE_URL
        token_url = account.token_url or EMULATOR_BASE_URL + EMULATOR_TOKEN_PATH
        creds = _credentials(account, env, lenient=True)
        # Amazon ties a refresh token to the seller who authorised it; the embedded emulator
        # learns that tie from the catalog, so each account's feeds run as its own seller.
        from ..emulator import auth as emu_auth

        emu_auth.register_refresh_token(emu, creds["refresh_token"], seller_id=account.seller_id)
        scale = getattr(getattr(emu, "config", None), "time_scale", 1.0)
        client_kwargs.setdefault("rate_scale", float(scale or 1.0))
    else:
        base_url = base_url_for(account)
        host = urlsplit(base_url).hostname or ""
        local = base_url.startswith("http://") and _is_loopback(host)
        default_token = base_url + EMULATOR_TOKEN_PATH if local else LWA_TOKEN_URL
        token_url = account.token_url or default_token
        creds = _credentials(account, env, lenient=False)  # before any request
        if local and "rate_scale" not in client_kwargs:
            # a local `reconciler emulator serve` keeps Amazon's ratios N times faster: pace by
            # its clock (buckets, backoff and the JSON_LISTINGS_FEED window alike)
            client_kwargs["rate_scale"] = _local_time_scale(base_url, transport)
        if account.endpoint == "sandbox":  # every operation: 5 rps, burst 15 (CONTRACT.md §4)
            client_kwargs.setdefault("quotas", dict.fromkeys(QUOTAS, SANDBOX_QUOTA))
    return SpApiClient(
        seller_id=account.seller_id,
        base_url=base_url,
        token_url=token_url,
        refresh_token=creds["refresh_token"],
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        transport=transport,
        **client_kwargs,
    )
