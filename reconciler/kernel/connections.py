"""Each account's connection settings, and the plan's dangerous rule for changing them.

Where an account's credentials go is set by three things in ``reconciler.yaml``: ``endpoint``,
``token_url`` and the ``credentials`` references. :mod:`reconciler.destinations` bounds them to
Amazon's hosts, loopback and the operator's ``RECONCILER_ALLOW_HOSTS``; inside those bounds a
one-line change in a pull request (production -> an operator-allowed host, ``env/SP_API_...``
of one account -> another's) still redirects secrets, and among hundreds of catalog lines a
reviewer won't see it. So the plan makes it a dangerous rule, listed first (before every other
safety reason, so first in the PR comment) and needing ``--force``:

- any change of an account's endpoint, token URL or credential reference since the
  **connection record**: the settings the last accepted ``apply`` used (``--force`` or no
  dangerous rule), which ``apply`` keeps per account in the state directory
  (:mod:`reconciler.connstate`); the record holds references and URLs, never a secret;
- an endpoint or token URL on a host allowed only by the operator's variable (not Amazon's, not
  loopback) that the record does not already hold: the plan flags it until an apply accepts it.

An account without a record (a fresh state directory) is compared against nothing: the host
allow-list still bounds where its credentials can go. Keeping the record where the operator's
runs keep their state (the drift job's cache, an operator's machine) is what lets a later
change be seen. The catalog can't write the record: only ``apply`` does.

Pure: no I/O. The edge reads the record and the environment and passes them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from .destinations import (
    ENDPOINT,
    ENV_ALLOW_HOSTS,
    KEYWORDS,
    TOKEN_URL,
    DestinationError,
    classify,
)
from .model import Account

DANGER = "(dangerous: credentials would go somewhere new; review it, then apply with --force)"
_LABELS = {
    "endpoint": "endpoint",
    "token_url": "token_url",
    "refresh_token": "credentials.refresh_token",
    "client_id": "credentials.client_id",
    "client_secret": "credentials.client_secret",
}


@dataclass(frozen=True)
class Connection:
    """Where one account's credentials go and which variables hold them (references only)."""

    endpoint: str
    token_url: str
    refresh_token: str
    client_id: str
    client_secret: str

    @classmethod
    def of(cls, account: Account) -> Connection:
        c = account.credentials
        return cls(account.endpoint, account.token_url, c.refresh_token, c.client_id,
                   c.client_secret)

    def data(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> Connection:
        """Raises KeyError/TypeError for a malformed record."""
        values = {f.name: d[f.name] for f in fields(cls)}
        if not all(isinstance(v, str) for v in values.values()):
            raise TypeError("connection record values must be strings")
        return cls(**values)


def _shown(value: str) -> str:
    return repr(value) if value else "(default)"


def _operator_hosts(c: Connection, allowed: frozenset[str]) -> list[str]:
    hosts = []
    for field, url in ((ENDPOINT, c.endpoint), (TOKEN_URL, c.token_url)):
        if not url or url in KEYWORDS:
            continue
        try:
            d = classify(url, field, allowed)
        except DestinationError:
            continue  # refused by validate and connect before any plan exists
        if d.kind == "operator":
            hosts.append(d.host)
    return hosts


def connection_reasons(
    accounts: Iterable[Account],
    previous: Mapping[str, Connection] | None,
    allowed: frozenset[str] = frozenset(),
) -> list[str]:
    """The dangerous-rule reasons of the accounts' connection settings (see the module doc)."""
    reasons: list[str] = []
    prev = previous or {}
    for a in sorted(accounts, key=lambda x: x.name):
        now = Connection.of(a)
        before = prev.get(a.name)
        if before is not None and before != now:
            for f in fields(Connection):
                old, new = getattr(before, f.name), getattr(now, f.name)
                if old != new:
                    reasons.append(
                        f"account {a.name}: {_LABELS[f.name]} changes from {_shown(old)} to "
                        f"{_shown(new)} since the last apply {DANGER}"
                    )
        if before == now:
            continue
        for host in _operator_hosts(now, allowed):
            reasons.append(
                f"account {a.name}: credentials go to {host}, which is not Amazon's: it is "
                f"allowed only by the operator's {ENV_ALLOW_HOSTS} {DANGER}"
            )
    return reasons
