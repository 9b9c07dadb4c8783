"""Translation memory: an unchanged text is never sent to an engine twice (issue 16).

Keyed by (SHA-256 of the source text, target language tag, engine, glossary version), the
engine being its ``memory_key`` (``deepl``, or ``deepl@loopback`` for the emulator):
a changed text, another language, another engine or a glossary change each miss, and the engine
is asked again. Stored in SQLite in the state directory (``<state dir>/translation-memory.db``,
:mod:`reconciler.kernel.statedir`); it holds source hashes and translations, never a key or a
credential. :class:`MemoEngine` wraps any engine: it answers from memory what it can, sends the
rest (each distinct text once) to the engine in one call, and remembers the answers only when
the whole call succeeded.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from reconciler.catalog.glossary import Glossary
from reconciler.kernel import statedir
from reconciler.kernel.errors import ReconcilerError

from .engine import Engine, TranslationEngineError

FILE_NAME = "translation-memory.db"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS memory (
    source_hash TEXT NOT NULL,
    target TEXT NOT NULL,
    engine TEXT NOT NULL,
    glossary_version TEXT NOT NULL,
    translation TEXT NOT NULL,
    PRIMARY KEY (source_hash, target, engine, glossary_version)
)
"""


class TranslationMemoryError(ReconcilerError):
    """The translation memory's database cannot be used."""


def source_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class TranslationMemory:
    """A SQLite-backed memory; ``path`` ``":memory:"`` for tests."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise TranslationMemoryError(
                f"cannot use the translation memory {self.path!r} ({e}): move or delete it "
                "(it is a cache; the next run fills it again)"
            ) from None

    @classmethod
    def in_state_dir(cls, state_dir: str | Path) -> TranslationMemory:
        return cls(statedir.ensure(state_dir) / FILE_NAME)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> TranslationMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lookup(
        self, texts: Sequence[str], *, target: str, engine: str, glossary_version: str
    ) -> dict[str, str]:
        """text -> remembered translation, for the texts the memory holds."""
        found: dict[str, str] = {}
        for text in dict.fromkeys(texts):
            row = self._db.execute(
                "SELECT translation FROM memory WHERE source_hash = ? AND target = ? AND engine = ?"
                " AND glossary_version = ?",
                (source_hash(text), target, engine, glossary_version),
            ).fetchone()
            if row is not None:
                found[text] = str(row[0])
        return found

    def remember(
        self,
        pairs: Sequence[tuple[str, str]],
        *,
        target: str,
        engine: str,
        glossary_version: str,
    ) -> None:
        """Store (source text, translation) pairs, all or none."""
        self._db.execute("BEGIN")
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO memory(source_hash, target, engine, glossary_version,"
                " translation) VALUES (?,?,?,?,?)",
                [(source_hash(s), target, engine, glossary_version, t) for s, t in pairs],
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM memory").fetchone()[0])


class MemoEngine:
    """``engine`` behind a :class:`TranslationMemory`: only texts it does not remember are sent."""

    def __init__(self, engine: Engine, memory: TranslationMemory) -> None:
        self.engine = engine
        self.memory = memory
        self.name = engine.name
        # the engine's answers are filed under its memory_key when it has one (``deepl@loopback``
        # for the emulator: its renderings must never come back as a real engine's)
        self.key = str(getattr(engine, "memory_key", engine.name))
        self.sent = 0  # texts sent to the engine by this wrapper (for summaries and tests)

    def translate(
        self, texts: Sequence[str], *, source: str, target: str, glossary: Glossary | None
    ) -> list[str]:
        version = glossary.version if glossary is not None else ""
        key = {"target": target, "engine": self.key, "glossary_version": version}
        known = self.memory.lookup(texts, **key)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            fresh = self.engine.translate(missing, source=source, target=target, glossary=glossary)
            self.sent += len(missing)
            if len(fresh) != len(missing):
                raise TranslationEngineError(
                    f"the {self.name} engine answered {len(fresh)} translations for "
                    f"{len(missing)} texts; nothing was written"
                )
            pairs = list(zip(missing, fresh, strict=True))
            self.memory.remember(pairs, **key)
            known.update(pairs)
        return [known[t] for t in texts]
