"""A process-wide registry of secret values, and redaction of text that might contain them.

Credentials are registered the moment they are resolved (``register``); everything the CLI
prints, logs or writes to the audit log passes through :func:`redact` as a last line of defence.
The first line is not to put secrets into messages at all.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "***"


def register(value: str) -> None:
    """Remember a secret value. Values shorter than 6 characters are not registered (masking
    them would garble ordinary text); real LWA secrets are far longer."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for s in secrets:
        if s in text:
            text = text.replace(s, MASK)
    return text


def clear() -> None:
    """Forget every registered secret (tests)."""
    with _lock:
        _secrets.clear()
