"""The catalog side of the credential-destination rule (:mod:`reconciler.kernel.destinations`):
every account's ``endpoint`` and ``token_url`` in reconciler.yaml checked with file:line, by
``validate`` before any request."""

from __future__ import annotations

from reconciler.catalog.raw import Doc
from reconciler.kernel.destinations import (
    ENDPOINT,
    TOKEN_URL,
    DestinationError,
    check_endpoint,
    classify,
)
from reconciler.kernel.errors import Problem


def check_accounts(doc: Doc, allowed: frozenset[str] = frozenset()) -> list[Problem]:
    """Problems (file:line) of every account's ``endpoint`` and ``token_url`` in the parsed
    ``reconciler.yaml``: the catalog side of the rule, run by ``validate`` before any request.
    Values the schema already refuses (wrong types) are skipped here."""
    problems: list[Problem] = []
    accounts = doc.data.get("accounts") if isinstance(doc.data, dict) else None
    if not isinstance(accounts, dict):
        return problems
    for name, acc in accounts.items():
        if not isinstance(acc, dict):
            continue
        region = acc.get("region") if isinstance(acc.get("region"), str) else ""
        checks: list[tuple[str, str]] = []
        if isinstance(acc.get(ENDPOINT), str):
            checks.append((ENDPOINT, acc[ENDPOINT]))
        if isinstance(acc.get(TOKEN_URL), str):
            checks.append((TOKEN_URL, acc[TOKEN_URL]))
        for field, value in checks:
            if not value.startswith(("https://", "http://")):
                continue  # a keyword, or a value the schema refuses with its own message
            try:
                if field == ENDPOINT:
                    check_endpoint(value, str(region), allowed)
                else:
                    classify(value, TOKEN_URL, allowed)
            except DestinationError as e:
                ref = doc.ref("accounts", name, field)
                problems.append(
                    Problem(ref.file, ref.line, ref.column, f"accounts.{name}.{e}")
                )
    return problems
