"""Login With Amazon: the ``/auth/o2/token`` endpoint and the ``x-amz-access-token`` check.

Token exchange (CONTRACT §1.1): form-encoded or JSON body, ``grant_type=refresh_token`` with
``refresh_token`` (+ ``client_id``/``client_secret``), or ``client_credentials`` with ``scope``
(grantless; the token has no seller). Success: ``{"access_token": "Atza|...", "token_type":
"bearer", "expires_in": N, "refresh_token": ...}`` with ``Cache-Control: no-store``. ``expires_in``
is ``token_ttl_s`` divided by the time scale, so a client that refreshes ahead of ``expires_in``
keeps working under a scaled clock. Errors: 400 ``{"error", "error_description"}``.

With ``accept_any_refresh_token`` (the default) any non-empty refresh token works and acts for
``config.default_seller_id`` unless it was registered by a seed (``refreshTokens``); otherwise only
registered refresh tokens (and their client id/secret when registered with one) are accepted.

Access tokens live in SQLite (so they survive a restart of a file-backed server) and in a memory
cache (one dict lookup per request on the hot path).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .http import Request, Response, Route, api_error, json_response

if TYPE_CHECKING:
    from .app import Emulator

UNAUTHORIZED_MESSAGE = "Access to requested resource is denied."
INVALID_DETAILS = "The access token you provided is revoked, malformed or invalid."
EXPIRED_DETAILS = "The access token you provided has expired."
MISSING = "The request is missing a required parameter : "


@dataclass(frozen=True)
class Principal:
    seller_id: str  # "" for grantless tokens
    client_id: str
    expires_at: float
    revoked: bool = False


def init_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(
        """
        CREATE TABLE IF NOT EXISTS lwa_refresh_tokens (
            refresh_token TEXT PRIMARY KEY,
            seller_id TEXT NOT NULL,
            client_id TEXT,
            client_secret TEXT
        );
        CREATE TABLE IF NOT EXISTS lwa_access_tokens (
            access_token TEXT PRIMARY KEY,
            seller_id TEXT NOT NULL,
            client_id TEXT NOT NULL,
            expires_at REAL NOT NULL,
            revoked INTEGER NOT NULL DEFAULT 0
        );
        """
    )


def seed(emu: Emulator, data: dict[str, Any]) -> None:
    """``refreshTokens``: strings, or ``{refreshToken, sellerId?, clientId?, clientSecret?}``."""
    for item in data.get("refreshTokens", []) or []:
        if isinstance(item, str):
            item = {"refreshToken": item}
        register_refresh_token(
            emu,
            str(item["refreshToken"]),
            seller_id=str(item.get("sellerId") or emu.config.default_seller_id),
            client_id=item.get("clientId"),
            client_secret=item.get("clientSecret"),
        )


def register_refresh_token(
    emu: Emulator,
    refresh_token: str,
    *,
    seller_id: str,
    client_id: str | None = None,
    client_secret: str | None = None,
) -> None:
    with emu.lock:
        emu.db.execute(
            "INSERT OR REPLACE INTO lwa_refresh_tokens VALUES (?,?,?,?)",
            (refresh_token, seller_id, client_id, client_secret),
        )


def client_fingerprint(client_id: str) -> str:
    """A stable, non-reversible stand-in for an LWA client id (stored instead of the value)."""
    return "client-sha256:" + hashlib.sha256(client_id.encode("utf-8")).hexdigest()[:16]


def issue_token(emu: Emulator, seller_id: str, client_id: str = "test-client") -> str:
    """Mint an access token directly (tests that skip the LWA exchange)."""
    token = "Atza|" + secrets.token_urlsafe(48)
    expires_at = emu.now() + emu.config.scaled(emu.config.token_ttl_s)
    # The caller's LWA client id is a credential of the caller: keep only a fingerprint, so the
    # emulator's db (which tests and users read) never holds it.
    client_id = client_fingerprint(client_id)
    with emu.lock:
        emu.db.execute(
            "INSERT INTO lwa_access_tokens VALUES (?,?,?,?,0)",
            (token, seller_id, client_id, expires_at),
        )
        _cache(emu)[token] = Principal(seller_id, client_id, expires_at)
    return token


def expire(emu: Emulator, token: str) -> None:
    """Make ``token`` expire now (the ``expire`` fault)."""
    if not token:
        return
    with emu.lock:
        p = _lookup(emu, token)
        if p is None:
            return
        now = emu.now()
        emu.db.execute(
            "UPDATE lwa_access_tokens SET expires_at = ? WHERE access_token = ?", (now, token)
        )
        _cache(emu)[token] = Principal(p.seller_id, p.client_id, now, p.revoked)


def revoke(emu: Emulator, token: str) -> None:
    with emu.lock:
        emu.db.execute("UPDATE lwa_access_tokens SET revoked = 1 WHERE access_token = ?", (token,))
        _cache(emu).pop(token, None)


def authenticate(emu: Emulator, req: Request, path_seller: str | None) -> Principal | Response:
    """The caller's principal, or the 403 Amazon answers."""
    token = req.headers.get("x-amz-access-token", "")
    if not token:
        return unauthorized(INVALID_DETAILS)
    p = _lookup(emu, token)
    if p is None or p.revoked:
        return unauthorized(INVALID_DETAILS)
    if emu.now() >= p.expires_at:
        return unauthorized(EXPIRED_DETAILS)
    # A token bound to one seller (registered refresh token) cannot act for another.
    if (
        path_seller
        and p.seller_id
        and p.seller_id != path_seller
        and not emu.config.accept_any_refresh_token
    ):
        return unauthorized(INVALID_DETAILS)
    return p


def unauthorized(details: str) -> Response:
    return api_error(403, "Unauthorized", UNAUTHORIZED_MESSAGE, details)


_CACHES: weakref.WeakKeyDictionary[Emulator, dict[str, Principal]] = weakref.WeakKeyDictionary()


def _cache(emu: Emulator) -> dict[str, Principal]:
    c = _CACHES.get(emu)
    if c is None:
        c = _CACHES[emu] = {}
    return c


def _lookup(emu: Emulator, token: str) -> Principal | None:
    cache = _cache(emu)
    p = cache.get(token)
    if p is not None:
        return p
    row = emu.db.execute(
        "SELECT seller_id, client_id, expires_at, revoked FROM lwa_access_tokens"
        " WHERE access_token = ?",
        (token,),
    ).fetchone()
    if row is None:
        return None
    p = Principal(row[0], row[1], row[2], bool(row[3]))
    cache[token] = p
    return p


# ---------------------------------------------------------------------- the token endpoint


def _lwa_error(code: str, description: str, status: int = 400) -> Response:
    return json_response(
        status,
        {"error": code, "error_description": description},
        {"cache-control": "no-store", "pragma": "no-cache"},
    )


def _form(req: Request) -> dict[str, str] | None:
    ctype = req.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    try:
        text = req.body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if ctype == "application/json":
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested too deeply
            return None
        if not isinstance(obj, dict):
            return None
        return {str(k): str(v) for k, v in obj.items() if v is not None}
    if ctype in ("application/x-www-form-urlencoded", ""):
        return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
    return None


def token_endpoint(emu: Emulator, req: Request, params: dict[str, str]) -> Response:
    form = _form(req)
    if form is None:
        return _lwa_error(
            "invalid_request", "The request body is malformed or of an unsupported type."
        )
    grant = form.get("grant_type", "")
    client_id = form.get("client_id", "")
    if grant == "refresh_token":
        rt = form.get("refresh_token", "")
        if not rt:
            return _lwa_error("invalid_request", MISSING + "refresh_token")
        if "scope" in form:
            return _lwa_error("invalid_request", "refresh_token and scope are mutually exclusive")
        row = emu.db.execute(
            "SELECT seller_id, client_id, client_secret FROM lwa_refresh_tokens"
            " WHERE refresh_token = ?",
            (rt,),
        ).fetchone()
        if row is None:
            if not emu.config.accept_any_refresh_token:
                return _lwa_error(
                    "invalid_grant", "The request has an invalid grant parameter : refresh_token"
                )
            seller = emu.config.default_seller_id
        else:
            seller = row[0]
            if row[1] is not None and row[1] != client_id:
                return _lwa_error("invalid_client", "Client authentication failed", 401)
            if row[2] is not None and row[2] != form.get("client_secret", ""):
                return _lwa_error("invalid_client", "Client authentication failed", 401)
        token = issue_token(emu, seller, client_id or "unknown-client")
        body: dict[str, Any] = {
            "access_token": token,
            "refresh_token": rt,
            "token_type": "bearer",
            "expires_in": _expires_in(emu),
        }
    elif grant == "client_credentials":
        if not form.get("scope"):
            return _lwa_error("invalid_scope", "The request has an invalid parameter : scope")
        token = issue_token(emu, "", client_id or "unknown-client")
        body = {
            "access_token": token,
            "scope": form["scope"],
            "token_type": "bearer",
            "expires_in": _expires_in(emu),
        }
    elif not grant:
        return _lwa_error("invalid_request", MISSING + "grant_type")
    else:
        return _lwa_error("unsupported_grant_type", f"The grant type {grant!r} is not supported")
    return json_response(200, body, {"cache-control": "no-store", "pragma": "no-cache"})


def _expires_in(emu: Emulator) -> int:
    return max(1, int(emu.config.scaled(emu.config.token_ttl_s)))


ROUTES: list[Route] = [
    Route("POST", "/auth/o2/token", "lwaToken", token_endpoint, auth=False, quota=False),
]
