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


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    n = ord(ch)
    if n < 0x100:
        return f"\\x{n:02x}"
    return f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def escape(text: str, keep: str = "") -> str:
    """``text`` with every non-printable character written as an escape (``\\x1b``,
    ``\\u202e``): control characters, terminal escapes, line and paragraph separators,
    bidirectional overrides, zero-width characters. Catalog values echoed in messages pass
    through here, so a ``stock.csv`` cell can't move the cursor, recolour or clear a terminal,
    fake a line of a CI log, or reorder what a reviewer reads. ``keep``: characters left as
    they are (e.g. the newlines of a multi-line message)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch in keep else _escape_char(ch) for ch in text)


_COMMANDS = ("::", "##[")  # GitHub Actions workflow commands (and their older form)


def defuse_commands(text: str) -> str:
    """Lines that a CI runner would read as a workflow command (``::error ...``,
    ``::add-mask::``, ``##[...``; leading blanks are ignored by the runner) get a backslash in
    front, so printed text is shown, never obeyed."""
    if "::" not in text and "##[" not in text:
        return text
    return "\n".join(
        "\\" + line if line.lstrip().startswith(_COMMANDS) else line
        for line in text.split("\n")
    )
