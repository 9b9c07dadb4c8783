"""Login With Amazon: the ``/auth/o2/token`` endpoint and the ``x-amz-access-token`` check.

Token exchange (CONTRACT §1.1): form-encoded or JSON body, ``grant_type=refresh_token`` with
``refresh_token`` (+ ``client_id``/``client_secret``), or ``client_credentials`` with ``scope``
(grantless; the token has no seller). Success: ``{"access_token": "Atza|...", "token_type":
"bearer", "expires_in": N, "refresh_token": ...}`` with ``Cache-Control: no-store``. ``expires_in``
is ``token_ttl_s`` divided by the time scale, so a client that refreshes ahead of ``expires_in``
keeps working under a scaled clock. Errors: 400 ``{"error", "error_description"}``.

**Seller binding (strict, the default).** A seller authorizes an application and Amazon hands out
a refresh token for that one seller, so:

- only refresh tokens registered with their seller (seed ``refreshTokens``, or
  :func:`register_refresh_token`) are exchanged; any other is ``invalid_grant``;
- the access token acts for that seller only: a call on another seller's path is ``403
  Unauthorized`` "Access to requested resource is denied." with empty details, the body Amazon
  answers when the caller may not act on a resource (models#826, models#1117), and the feeds,
  supply sources and orders of a token are those of its seller;
- a grantless token (``client_credentials``) has no seller: every seller operation refuses it
  (403); its ``scope`` must be one of Amazon's grantless scopes (:data:`GRANTLESS_SCOPES`), else
  ``invalid_scope``, and a grantless route (``Route.scope``) accepts only a token with its scope.

**Permissive mode** (``EmulatorConfig.permissive``, ``emulator serve --permissive``: quick tries
without a seed) exchanges any non-empty refresh token that is not registered for an *unbound*
access token, which acts for the seller each request names, by the same rule for listings and
feeds: the path's ``sellerId`` for the Listings Items API, the feed document's
``header.sellerId`` for JSON_LISTINGS_FEED (its feeds and documents belong to the unbound
principal :data:`ANY_SELLER`); APIs that name no seller (supply sources, orders) act for
``config.default_seller_id``. Registered refresh tokens stay bound in both modes.

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
from typing import Any
from urllib.parse import parse_qs

from .http import Request, Response, Route, api_error, json_response
from .state import EmulatorState

UNAUTHORIZED_MESSAGE = "Access to requested resource is denied."
INVALID_DETAILS = "The access token you provided is revoked, malformed or invalid."
EXPIRED_DETAILS = "The access token you provided has expired."
DENIED_DETAILS = ""  # a valid token that may not act here: Amazon leaves details empty
MISSING = "The request is missing a required parameter : "
ANY_SELLER = "*"  # the seller of an unbound (permissive-mode) access token
# Amazon's grantless scopes (Developer Guide, "Grantless operations"): notifications and the
# client-secret rotation of the application.
GRANTLESS_SCOPES = frozenset(
    {"sellingpartnerapi::notifications", "sellingpartnerapi::client_credential:rotation"}
)


@dataclass(frozen=True)
class Principal:
    seller_id: str  # "" for grantless tokens, ANY_SELLER for unbound (permissive) ones
    client_id: str  # a fingerprint of the LWA client id (the application)
    expires_at: float
    revoked: bool = False
    scope: str = ""  # grantless tokens: the granted scope(s), space-separated

    @property
    def grantless(self) -> bool:
        return not self.seller_id


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
            revoked INTEGER NOT NULL DEFAULT 0,
            scope TEXT NOT NULL DEFAULT ''
        );
        """
    )
    # rows of a database written before only fingerprints were stored: drop the raw values
    conn.execute("DELETE FROM lwa_refresh_tokens WHERE refresh_token NOT LIKE 'rt-sha256:%'")
    cols = {r[1] for r in conn.execute("PRAGMA table_info(lwa_access_tokens)")}
    if "scope" not in cols:  # a database written before scopes were checked
        conn.execute("ALTER TABLE lwa_access_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT ''")


def seed(emu: EmulatorState, data: dict[str, Any]) -> None:
    """``refreshTokens``: strings (bound to ``config.default_seller_id``), or
    ``{refreshToken, sellerId?, clientId?, clientSecret?}``."""
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
    emu: EmulatorState,
    refresh_token: str,
    *,
    seller_id: str,
    client_id: str | None = None,
    client_secret: str | None = None,
) -> None:
    """Bind ``refresh_token`` to ``seller_id`` (and, when given, to one LWA client). Only
    fingerprints are stored: the emulator's db never holds a caller's credentials."""
    with emu.lock:
        emu.db.execute(
            "INSERT OR REPLACE INTO lwa_refresh_tokens VALUES (?,?,?,?)",
            (
                _fingerprint("rt", refresh_token),
                seller_id,
                None if client_id is None else client_fingerprint(client_id),
                None if client_secret is None else _fingerprint("cs", client_secret),
            ),
        )


def _fingerprint(kind: str, value: str) -> str:
    return f"{kind}-sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()


def client_fingerprint(client_id: str) -> str:
    """A stable, non-reversible stand-in for an LWA client id (stored instead of the value)."""
    return "client-sha256:" + hashlib.sha256(client_id.encode("utf-8")).hexdigest()[:16]


def issue_token(
    emu: EmulatorState, seller_id: str, client_id: str = "test-client", *, scope: str = ""
) -> str:
    """Mint an access token directly (tests that skip the LWA exchange). ``seller_id=""`` with
    a ``scope`` is a grantless token."""
    token = "Atza|" + secrets.token_urlsafe(48)
    expires_at = emu.now() + emu.config.scaled(emu.config.token_ttl_s)
    # The caller's LWA client id is a credential of the caller: keep only a fingerprint, so the
    # emulator's db (which tests and users read) never holds it.
    client_id = client_fingerprint(client_id)
    with emu.lock:
        emu.db.execute(
            "INSERT INTO lwa_access_tokens(access_token, seller_id, client_id, expires_at,"
            " revoked, scope) VALUES (?,?,?,?,0,?)",
            (token, seller_id, client_id, expires_at, scope),
        )
        _cache(emu)[token] = Principal(seller_id, client_id, expires_at, False, scope)
    return token


def expire(emu: EmulatorState, token: str) -> None:
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
        _cache(emu)[token] = Principal(p.seller_id, p.client_id, now, p.revoked, p.scope)


def revoke(emu: EmulatorState, token: str) -> None:
    with emu.lock:
        emu.db.execute("UPDATE lwa_access_tokens SET revoked = 1 WHERE access_token = ?", (token,))
        _cache(emu).pop(token, None)


def authenticate(
    emu: EmulatorState, req: Request, route: Route, path_seller: str | None
) -> Principal | Response:
    """The caller's principal, or the 403 Amazon answers (see the module docstring)."""
    token = req.headers.get("x-amz-access-token", "")
    if not token:
        return unauthorized(INVALID_DETAILS)
    p = _lookup(emu, token)
    if p is None or p.revoked:
        return unauthorized(INVALID_DETAILS)
    if emu.now() >= p.expires_at:
        return unauthorized(EXPIRED_DETAILS)
    if route.scope is not None:  # a grantless operation: the token must carry its scope
        if route.scope not in p.scope.split():
            return unauthorized(DENIED_DETAILS)
        return p
    if p.grantless:  # a seller operation needs a seller's authorization
        return unauthorized(DENIED_DETAILS)
    # Amazon's static sandbox answers its canned vectors (e.g. sellerId "SellerId") to anyone
    if path_seller and p.seller_id not in (path_seller, ANY_SELLER) and not emu.config.sandbox:
        return unauthorized(DENIED_DETAILS)
    return p


def acting_seller(emu: EmulatorState, p: Principal, route: Route, path_seller: str | None) -> str:
    """The seller a request acts for: the path's (authenticate checked it is the token's), else
    the token's; an unbound token keeps :data:`ANY_SELLER` on routes whose seller comes from the
    request body (``Route.unbound_ok``: feeds) and acts for the default seller elsewhere."""
    if path_seller:
        return path_seller
    if p.seller_id == ANY_SELLER and not route.unbound_ok:
        return emu.config.default_seller_id
    return p.seller_id


def unauthorized(details: str) -> Response:
    resp = api_error(403, "Unauthorized", UNAUTHORIZED_MESSAGE, details)
    resp.headers["x-amzn-ErrorType"] = "AccessDeniedException"
    return resp


_CACHES: weakref.WeakKeyDictionary[EmulatorState, dict[str, Principal]] = (
    weakref.WeakKeyDictionary()
)


def _cache(emu: EmulatorState) -> dict[str, Principal]:
    c = _CACHES.get(emu)
    if c is None:
        c = _CACHES[emu] = {}
    return c


def _lookup(emu: EmulatorState, token: str) -> Principal | None:
    cache = _cache(emu)
    p = cache.get(token)
    if p is not None:
        return p
    row = emu.db.execute(
        "SELECT seller_id, client_id, expires_at, revoked, scope FROM lwa_access_tokens"
        " WHERE access_token = ?",
        (token,),
    ).fetchone()
    if row is None:
        return None
    p = Principal(row[0], row[1], row[2], bool(row[3]), row[4] or "")
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


def token_endpoint(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
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
            (_fingerprint("rt", rt),),
        ).fetchone()
        if row is None:
            if not emu.config.permissive:
                return _lwa_error(
                    "invalid_grant", "The request has an invalid grant parameter : refresh_token"
                )
            seller = ANY_SELLER
        else:
            seller = row[0]
            if row[1] is not None and row[1] != client_fingerprint(client_id):
                return _lwa_error("invalid_client", "Client authentication failed", 401)
            if row[2] is not None and row[2] != _fingerprint("cs", form.get("client_secret", "")):
                return _lwa_error("invalid_client", "Client authentication failed", 401)
        token = issue_token(emu, seller, client_id or "unknown-client")
        body: dict[str, Any] = {
            "access_token": token,
            "refresh_token": rt,
            "token_type": "bearer",
            "expires_in": _expires_in(emu),
        }
    elif grant == "client_credentials":
        scopes = form.get("scope", "").split()
        if not scopes or any(sc not in GRANTLESS_SCOPES for sc in scopes):
            return _lwa_error("invalid_scope", "The request has an invalid parameter : scope")
        token = issue_token(emu, "", client_id or "unknown-client", scope=" ".join(scopes))
        body = {
            "access_token": token,
            "scope": " ".join(scopes),
            "token_type": "bearer",
            "expires_in": _expires_in(emu),
        }
    elif not grant:
        return _lwa_error("invalid_request", MISSING + "grant_type")
    else:
        return _lwa_error("unsupported_grant_type", f"The grant type {grant!r} is not supported")
    return json_response(200, body, {"cache-control": "no-store", "pragma": "no-cache"})


def _expires_in(emu: EmulatorState) -> int:
    return max(1, int(emu.config.scaled(emu.config.token_ttl_s)))


ROUTES: list[Route] = [
    Route("POST", "/auth/o2/token", "lwaToken", token_endpoint, auth=False, quota=False),
]
