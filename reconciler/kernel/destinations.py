"""Where credentials may be sent: Amazon's own hosts, loopback, and hosts the operator allows.

A catalog arrives in a pull request, so it must not be able to choose where the LWA refresh
token, the client secret or the access tokens go. ``endpoint`` and ``token_url`` in
``reconciler.yaml`` therefore name only:

- ``production`` / ``sandbox`` / ``emulator`` (keywords), or a URL on
- one of Amazon's SP-API hosts (``endpoint``) or LWA hosts (``token_url``), over https;
- a loopback host (127.0.0.0/8, ::1, ``localhost``), http or https: a local
  ``reconciler emulator serve``;
- a host the **operator** allows outside the catalog, in ``$RECONCILER_ALLOW_HOSTS``
  (comma-separated host names), over https. No catalog field can widen this list.

The same rule runs in three places: ``validate`` (the loader, with file:line and no request),
``spapi.connect`` before a client is built, and ``spapi.auth`` right before the refresh token
is posted (defence in depth: ``import`` and tests build accounts without the loader).

Amazon's hosts, from Amazon's pages:

- SP-API production, per region: https://developer-docs.amazon.com/sp-api/docs/sp-api-endpoints
  (``sellingpartnerapi-na``, ``-eu``, ``-fe`` ``.amazon.com``);
- SP-API sandbox: https://developer-docs.amazon.com/sp-api/docs/sp-api-sandbox ("direct the
  calls to the Selling Partner API sandbox endpoints"),
  ``sandbox.sellingpartnerapi-{na,eu,fe}.amazon.com`` (CONTRACT.md §1.3);
- LWA token endpoint: ``api.amazon.com`` (CONTRACT.md §1.1), and the regional LWA hosts listed at
  https://developer.amazon.com/docs/amazon-data-portability/lwa-access-token.html
  (``api.amazon.co.uk`` for EU, ``api.amazon.co.jp`` for FE).

Pure: no I/O; the caller passes the environment mapping.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

ENV_ALLOW_HOSTS = "RECONCILER_ALLOW_HOSTS"
SPAPI_HOSTS: dict[str, str] = {  # host -> region
    "sellingpartnerapi-na.amazon.com": "NA",
    "sellingpartnerapi-eu.amazon.com": "EU",
    "sellingpartnerapi-fe.amazon.com": "FE",
    "sandbox.sellingpartnerapi-na.amazon.com": "NA",
    "sandbox.sellingpartnerapi-eu.amazon.com": "EU",
    "sandbox.sellingpartnerapi-fe.amazon.com": "FE",
}
LWA_HOSTS = frozenset({"api.amazon.com", "api.amazon.co.uk", "api.amazon.co.jp"})
KEYWORDS = ("emulator", "production", "sandbox")
# The embedded emulator's base host: served in-process by an httpx transport, never resolved.
# Only spapi.auth accepts it (connect never builds a network client for it).
EMBEDDED_HOST = "emulator.local"

ENDPOINT = "endpoint"
TOKEN_URL = "token_url"  # noqa: S105 (a field name)


class DestinationError(ValueError):
    """A URL credentials must not be sent to. ``str(e)`` is a one-line reason."""


@dataclass(frozen=True)
class Destination:
    """Where a URL sends credentials: ``kind`` is amazon | loopback | operator | service."""

    host: str
    kind: str
    region: str = ""  # the SP-API region of an Amazon endpoint host


def operator_hosts(env: Mapping[str, str]) -> frozenset[str]:
    """The hosts the operator allows in ``$RECONCILER_ALLOW_HOSTS`` (lower-case)."""
    raw = env.get(ENV_ALLOW_HOSTS, "")
    return frozenset(_norm(h) for h in raw.split(",") if h.strip())


def is_loopback(host: str) -> bool:
    host = _norm(host)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _norm(host: str) -> str:
    return host.strip().lower().rstrip(".")


def _checked_url(url: str, field: str, alternatives: str = "") -> tuple[str, int | None, bool]:
    """(normalized host, port, is loopback) of a URL credentials may be sent to: refuses what is
    not a URL, another scheme, user info, a non-ASCII host, and http:// off loopback."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise DestinationError(f"{field} is not a valid URL") from None
    host = _norm(parts.hostname or "")
    if parts.scheme not in ("https", "http") or not host:
        raise DestinationError(f"{field} must be an https:// URL{alternatives}")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise DestinationError(f"{field} must not carry a user name or password")
    if not host.isascii():
        raise DestinationError(f"{field} host must be written in ASCII")
    if is_loopback(host):
        return host, port, True
    if parts.scheme != "https":
        raise DestinationError(
            f"{field} uses http:// on a non-loopback host: credentials never travel in clear "
            "text over a network (use https://)"
        )
    return host, port, False


def classify(url: str, field: str, allowed: frozenset[str] = frozenset()) -> Destination:
    """Where ``url`` (an ``endpoint`` or ``token_url``) would send credentials. Raises
    :class:`DestinationError` naming the rule when it may not."""
    host, port, loopback = _checked_url(url, field, f" (or {_keywords(field)})")
    if loopback:
        return Destination(host, "loopback")
    amazon = SPAPI_HOSTS if field == ENDPOINT else dict.fromkeys(LWA_HOSTS, "")
    if host in amazon:
        if port not in (None, 443):
            raise DestinationError(f"{field}: Amazon's host {host} is served on port 443 only")
        return Destination(host, "amazon", amazon[host])
    if host in allowed:
        return Destination(host, "operator")
    what = "SP-API endpoints" if field == ENDPOINT else "LWA token hosts"
    known = ", ".join(sorted(amazon))
    raise DestinationError(
        f"{field} host {host} is not one of Amazon's {what} ({known}) or a loopback address: "
        f"credentials are sent only there; an operator may allow another host outside the "
        f"catalog with {ENV_ALLOW_HOSTS}=host"
    )


def classify_service(
    url: str, field: str, hosts: frozenset[str], what: str, allowed: frozenset[str] = frozenset()
) -> Destination:
    """:func:`classify` for another service's credentials (a machine translation engine's key,
    issue 16): ``url`` must be on one of ``hosts`` (https, port 443), a loopback host, or an
    operator-allowed host (https). Raises :class:`DestinationError` naming the rule."""
    host, port, loopback = _checked_url(url, field)
    if loopback:
        return Destination(host, "loopback")
    if host in hosts:
        if port not in (None, 443):
            raise DestinationError(f"{field}: {what} host {host} is served on port 443 only")
        return Destination(host, "service")
    if host in allowed:
        return Destination(host, "operator")
    raise DestinationError(
        f"{field} host {host} is not one of {what}'s hosts ({', '.join(sorted(hosts))}) or a "
        f"loopback address: its key is sent only there; an operator may allow another host "
        f"outside the catalog with {ENV_ALLOW_HOSTS}=host"
    )


def _keywords(field: str) -> str:
    return "production, sandbox or emulator" if field == ENDPOINT else "left out"


def check_endpoint(
    endpoint: str, region: str, allowed: frozenset[str] = frozenset()
) -> Destination | None:
    """``None`` for a keyword (``production``/``sandbox``/``emulator``), else the endpoint URL's
    destination. Raises DestinationError (also for an Amazon host of another region)."""
    if endpoint in KEYWORDS:
        return None
    d = classify(endpoint, ENDPOINT, allowed)
    if d.region and region and d.region != region:
        raise DestinationError(
            f"endpoint {d.host} serves region {d.region}, but the account is in region {region}"
        )
    return d


def check_sent(url: str, allowed: frozenset[str] = frozenset()) -> None:
    """The last check before credentials leave (``spapi.auth``): any of Amazon's hosts (SP-API
    or LWA), loopback, an operator-allowed host, or the in-process embedded emulator. Raises
    DestinationError."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise DestinationError("token URL is not a valid URL") from None
    host = _norm(parts.hostname or "")
    if host == EMBEDDED_HOST and parts.scheme == "http":
        return
    field = ENDPOINT if host in SPAPI_HOSTS else TOKEN_URL
    classify(url, field, allowed)


