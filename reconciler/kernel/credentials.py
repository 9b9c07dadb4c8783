"""Resolve ``env/NAME`` credential references at the moment a command needs them.

The catalog never holds secrets, only references (``refresh_token: env/SP_API_REFRESH_TOKEN``).
A reference may only name a variable of the documented set :data:`ALLOWED_PREFIXES`
(``SP_API_*``, ``LWA_*``, ``RECONCILER_*``; this covers python-amazon-sp-api's
``SP_API_REFRESH_TOKEN``, ``LWA_APP_ID`` and ``LWA_CLIENT_SECRET``), so a pull request can't
make the tool send ``env/GITHUB_TOKEN``, ``env/AWS_SECRET_ACCESS_KEY`` or any other CI secret
anywhere. ``schemas/reconciler.schema.json`` (``envref``) holds the same rule, so ``validate``
and editors refuse the reference with file:line; this module refuses it again at use time.
``reconciler validate`` never calls this module; commands that talk to Amazon do, right
before they connect. Every resolved value is registered with :mod:`reconciler.kernel.redact` so it
is masked in anything printed or logged, and errors name the *variable*, never a value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.kernel.errors import CredentialsError
from reconciler.kernel.model import Account, Credentials
from reconciler.kernel.redact import register

_REF = re.compile(r"env/([A-Za-z_][A-Za-z0-9_]*)")
ALLOWED_PREFIXES = ("SP_API_", "LWA_", "RECONCILER_")
# Machine translation engines (issue 16) read their own keys, and only theirs: a DeepL key
# reference may name DEEPL_* (or RECONCILER_*), an Amazon Translate one AWS_* (or RECONCILER_*).
# SP-API references keep ALLOWED_PREFIXES, so env/AWS_SECRET_ACCESS_KEY is still refused there.
# The engines send them only to their own hosts or loopback (reconciler.translate.engines).
DEEPL_PREFIXES = ("DEEPL_", "RECONCILER_")
AWS_PREFIXES = ("AWS_", "RECONCILER_")


def allowed_variable(name: str, prefixes: tuple[str, ...] = ALLOWED_PREFIXES) -> bool:
    """True when a credential reference may name environment variable ``name``."""
    return any(name.startswith(p) and len(name) > len(p) for p in prefixes)


def allowed_names_text(prefixes: tuple[str, ...] = ALLOWED_PREFIXES) -> str:
    return ", ".join(f"{p}*" for p in prefixes)


@dataclass(frozen=True)
class ResolvedCredentials:
    refresh_token: str
    client_id: str
    client_secret: str

    def __repr__(self) -> str:  # never show values, even in a debugger or a crash log
        return "ResolvedCredentials(refresh_token=***, client_id=***, client_secret=***)"


def variable_of(ref: str, prefixes: tuple[str, ...] = ALLOWED_PREFIXES) -> str:
    """The environment variable a reference names. Raises CredentialsError for a malformed
    reference (without echoing it: a pasted secret is not a reference)."""
    m = _REF.fullmatch(ref)
    if not m:
        raise CredentialsError(
            "credential references must look like env/VARIABLE_NAME "
            "(the catalog may not contain secrets themselves)"
        )
    name = m.group(1)
    if not allowed_variable(name, prefixes):
        raise CredentialsError(
            f"credential reference env/{name} names a variable outside the allowed set "
            f"({allowed_names_text(prefixes)}): refused, so a catalog can't send other secrets"
        )
    return name


def resolve_ref(
    ref: str,
    env: Mapping[str, str] | None = None,
    *,
    account: str = "",
    prefixes: tuple[str, ...] = ALLOWED_PREFIXES,
) -> str:
    """The value of one ``env/NAME`` reference. Raises CredentialsError naming NAME."""
    name = variable_of(ref, prefixes)
    source = os.environ if env is None else env
    value = source.get(name, "")
    if not value:
        who = f" for account {account!r}" if account else ""
        raise CredentialsError(
            f"environment variable {name} is not set{who} "
            f"(reconciler.yaml refers to it as env/{name})"
        )
    register(value)
    return value


def resolve(account: Account, env: Mapping[str, str] | None = None) -> ResolvedCredentials:
    """All three LWA credentials of an account; a missing one raises CredentialsError naming
    every unset variable."""
    creds: Credentials = account.credentials
    refs = {
        "refresh_token": creds.refresh_token,
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
    }
    values: dict[str, str] = {}
    missing: list[str] = []
    for field_name, ref in refs.items():
        try:
            values[field_name] = resolve_ref(ref, env, account=account.name)
        except CredentialsError:
            missing.append(variable_of(ref))
    if missing:
        raise CredentialsError(
            f"account {account.name!r} needs environment variable(s) {', '.join(missing)} "
            "(named in reconciler.yaml under credentials)"
        )
    return ResolvedCredentials(**values)
