"""DeepL API v2 on the emulator's server, so the official ``deepl`` client, given
``server_url=<emulator URL>``, works unchanged (issue 16).

Served (https://developers.deepl.com/docs/api-reference/translate,
https://developers.deepl.com/api-reference/glossaries (v2 glossaries, the ones
``deepl.Translator.create_glossary`` calls), https://developers.deepl.com/docs/resources/
usage-limits):

- ``POST /v2/translate``: JSON or form body; ``text`` (a list, or repeated form fields),
  ``target_lang``, ``source_lang``, ``glossary_id`` (needs ``source_lang``, languages must match
  the glossary), ``tag_handling`` (``xml``/``html``), ``ignore_tags``; answers
  ``{"translations": [{"detected_source_language", "text", "billed_characters"}]}``. What the
  text becomes: :mod:`machine_translation`.
- ``/v2/glossaries`` (create: JSON or form, ``entries_format`` ``tsv``/``csv``; list), ``GET``/
  ``DELETE /v2/glossaries/{id}``, ``GET /v2/glossaries/{id}/entries`` (TSV),
  ``GET /v2/glossary-language-pairs``, ``GET /v2/usage``, ``GET /v2/languages[?type=target]``.

Limits, as DeepL documents them ("The /v2/translate endpoint accepts up to 50 texts per request
and request bodies up to 128 KiB", developers.deepl.com/docs/translate/translating-large-volumes):
more than 50 texts is 400; a body over 128 KiB is 413. ``characterLimit`` (seed) makes a request
that would go over it 456 Quota Exceeded, as DeepL's billing period limit does.

Auth: ``Authorization: DeepL-Auth-Key KEY``; a missing or unknown key is 403, as DeepL answers.
Known keys: the seed's ``deepl: {authKeys: [...]}``, :func:`register_auth_key`, and
:data:`EMBEDDED_AUTH_KEY` (the key ``reconciler`` uses against the emulator, so the demo needs no
DeepL account). The emulator stores only their SHA-256. These routes are not SP-API: no LWA
token, no SP-API quotas (``Route.auth``/``quota`` False), but every request is in the call log
under an operation named ``deepl.*`` (``deepl.translate``...), so a test can count them.

Faults: queued statuses (:func:`machine_translation.inject_faults` with service ``deepl``, or
the seed's ``deepl: {faults: [429, 456, 500]}``), one per request after the auth check.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
import uuid
from typing import Any
from urllib.parse import parse_qs

from . import machine_translation as mt
from .http import Request, Response, Route, json_response
from .state import ApiError, EmulatorState, iso

# The key reconciler sends to the emulator (reconciler.translate.engines.EMULATOR_AUTH_KEY).
EMBEDDED_AUTH_KEY = "reconciler-emulator-deepl-key:fx"
MAX_TEXTS = 50
MAX_BODY_BYTES = 128 * 1024
DEFAULT_CHARACTER_LIMIT = 500_000  # DeepL API Free's monthly characters (usage-limits page)
SOURCE_LANGS = {
    "AR": "Arabic", "BG": "Bulgarian", "CS": "Czech", "DA": "Danish", "DE": "German",
    "EL": "Greek", "EN": "English", "ES": "Spanish", "ET": "Estonian", "FI": "Finnish",
    "FR": "French", "HU": "Hungarian", "ID": "Indonesian", "IT": "Italian", "JA": "Japanese",
    "KO": "Korean", "LT": "Lithuanian", "LV": "Latvian", "NB": "Norwegian", "NL": "Dutch",
    "PL": "Polish", "PT": "Portuguese", "RO": "Romanian", "RU": "Russian", "SK": "Slovak",
    "SL": "Slovenian", "SV": "Swedish", "TR": "Turkish", "UK": "Ukrainian", "ZH": "Chinese",
}
TARGET_LANGS = {
    **{k: v for k, v in SOURCE_LANGS.items() if k not in ("EN", "PT")},
    "EN-GB": "English (British)", "EN-US": "English (American)",
    "ES-419": "Spanish (Latin American)",
    "PT-BR": "Portuguese (Brazilian)", "PT-PT": "Portuguese (European)",
}
FORMALITY = {"DE", "ES", "ES-419", "FR", "IT", "JA", "NL", "PL", "PT-BR", "PT-PT", "RU"}
GLOSSARY_LANGS = ("DA", "DE", "EN", "ES", "FR", "IT", "JA", "KO", "NB", "NL", "PL", "PT", "RU",
                  "SV", "ZH")


def init_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(
        """
        CREATE TABLE IF NOT EXISTS deepl_keys (
            key_hash TEXT PRIMARY KEY,
            character_count INTEGER NOT NULL DEFAULT 0,
            character_limit INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS deepl_glossaries (
            glossary_id TEXT PRIMARY KEY,
            key_hash TEXT NOT NULL,
            name TEXT NOT NULL,
            source_lang TEXT NOT NULL,
            target_lang TEXT NOT NULL,
            entries TEXT NOT NULL,
            creation_time TEXT NOT NULL
        );
        -- v3 (multilingual) glossaries: deepl_glossaries_v3.py; a glossary holds dictionaries
        CREATE TABLE IF NOT EXISTS deepl_v3_glossaries (
            glossary_id TEXT PRIMARY KEY,
            key_hash TEXT NOT NULL,
            name TEXT NOT NULL,
            creation_time TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS deepl_v3_dictionaries (
            glossary_id TEXT NOT NULL,
            source_lang TEXT NOT NULL,
            target_lang TEXT NOT NULL,
            entries TEXT NOT NULL,
            PRIMARY KEY (glossary_id, source_lang, target_lang)
        );
        """
    )


def seed(emu: EmulatorState, data: dict[str, Any]) -> None:
    """``deepl: {authKeys: [KEY...], characterLimit: N}`` (faults: ``machine_translation``)."""
    section = data.get("deepl") or {}
    if not isinstance(section, dict):
        return
    limit = int(section.get("characterLimit") or DEFAULT_CHARACTER_LIMIT)
    for key in section.get("authKeys") or []:
        register_auth_key(emu, str(key), character_limit=limit)
    if section.get("characterLimit") is not None:
        register_auth_key(emu, EMBEDDED_AUTH_KEY, character_limit=limit)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def register_auth_key(
    emu: EmulatorState, key: str, *, character_limit: int = DEFAULT_CHARACTER_LIMIT
) -> None:
    with emu.lock:
        emu.db.execute(
            "INSERT INTO deepl_keys(key_hash, character_limit) VALUES (?, ?) ON CONFLICT(key_hash)"
            " DO UPDATE SET character_limit = excluded.character_limit",
            (_hash(key), character_limit),
        )


def error(status: int, message: str) -> ApiError:
    return ApiError(json_response(status, {"message": message}))


def authorize(emu: EmulatorState, req: Request) -> str:
    """The key hash of an authorized request; 403 otherwise (DeepL's answer to a bad key)."""
    scheme, _, key = req.headers.get("authorization", "").partition(" ")
    key = key.strip()
    if scheme != "DeepL-Auth-Key" or not key:
        raise error(403, "Authorization failure: missing DeepL-Auth-Key authorization header")
    h = _hash(key)
    known = emu.db.execute("SELECT 1 FROM deepl_keys WHERE key_hash = ?", (h,)).fetchone()
    if known is None and key == EMBEDDED_AUTH_KEY:
        register_auth_key(emu, key)
    elif known is None:
        raise error(403, "Authorization failure: unknown authentication key")
    fault = mt.take_fault(emu, "deepl")
    if fault is not None:
        messages = {429: "Too many requests", 456: "Quota exceeded"}
        raise error(fault, messages.get(fault, "Internal server error"))
    return h


def params_of(req: Request) -> dict[str, Any]:
    """The body's parameters (JSON object, or form with repeated fields as lists) merged over the
    query string's; a form value that appears once is a string."""
    out: dict[str, Any] = {k: v if len(v) > 1 else v[0] for k, v in req.query.items()}
    ctype = req.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not req.body:
        return out
    if ctype == "application/json":
        try:
            body = json.loads(req.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise error(400, "Invalid JSON body") from None
        if not isinstance(body, dict):
            raise error(400, "The JSON body must be an object")
        out.update(body)
        return out
    try:
        form = parse_qs(req.body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise error(400, "The body is not UTF-8") from None
    out.update({k: v if len(v) > 1 or k == "text" else v[0] for k, v in form.items()})
    return out


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [p for p in value.split(",") if p]
    if isinstance(value, list):
        return [p for v in value for p in str(v).split(",") if p]
    raise error(400, "Value for a tag list must be a string or a list")


def _glossary_row(emu: EmulatorState, account: str, gid: str) -> tuple[Any, ...]:
    row = emu.db.execute(
        "SELECT glossary_id, name, source_lang, target_lang, entries, creation_time"
        " FROM deepl_glossaries WHERE glossary_id = ? AND key_hash = ?",
        (gid, account),
    ).fetchone()
    if row is None:
        raise error(404, "Glossary not found")
    return tuple(row)


def _glossary_for(
    emu: EmulatorState, account: str, gid: str, source: str, target: str
) -> dict[str, str]:
    """The entries a translation SOURCE->TARGET gets from glossary ``gid`` (v2: its languages
    must match; v3: its dictionary for the pair, which must exist)."""
    v3 = emu.db.execute(
        "SELECT 1 FROM deepl_v3_glossaries WHERE glossary_id = ? AND key_hash = ?", (gid, account)
    ).fetchone()
    if v3 is not None:
        d = emu.db.execute(
            "SELECT entries FROM deepl_v3_dictionaries WHERE glossary_id = ? AND source_lang = ?"
            " AND target_lang = ?",
            (gid, source, target),
        ).fetchone()
        if d is None:
            raise error(400, "The glossary has no dictionary for source_lang/target_lang")
        return tsv_entries(str(d[0]))
    row = _glossary_row(emu, account, gid)
    if row[2] != source or row[3] != target:
        raise error(400, "The glossary's languages do not match source_lang/target_lang")
    return tsv_entries(row[4])


def parse_entries(fmt: str, raw: object) -> dict[str, str]:
    """Glossary entries in DeepL's ``tsv`` or ``csv`` format; 400 when invalid or empty."""
    if not isinstance(raw, str) or not raw.strip():
        raise error(400, "Missing or invalid argument: entries")
    if fmt == "csv":
        rows = [r for r in csv.reader(io.StringIO(raw)) if r]
        entries = {r[0].strip(): r[1].strip() for r in rows if len(r) >= 2}
    elif fmt == "tsv":
        entries = tsv_entries(raw)
    else:
        raise error(400, "Value for 'entries_format' not supported.")
    if not entries or any(not s or not t for s, t in entries.items()):
        raise error(400, "Invalid glossary entries")
    return entries


def tsv_entries(tsv: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in tsv.splitlines():
        if "\t" in line:
            s, t = line.split("\t", 1)
            out[s.strip()] = t.strip()
    return out


def _glossary_json(row: tuple[Any, ...]) -> dict[str, Any]:
    gid, name, src, tgt, entries, created = row
    return {
        "glossary_id": gid, "name": name, "ready": True, "source_lang": src.lower(),
        "target_lang": tgt.lower(), "creation_time": created,
        "entry_count": len(tsv_entries(entries)),
    }


def translate(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    if len(req.body) > MAX_BODY_BYTES:
        return json_response(413, {"message": "Request Entity Too Large"})
    account = authorize(emu, req)
    p = params_of(req)
    texts = p.get("text")
    if isinstance(texts, str):
        texts = [texts]
    if not texts or not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise error(400, "Value for 'text' not supported.")
    if len(texts) > MAX_TEXTS:
        raise error(400, f"Too many texts: at most {MAX_TEXTS} per request")
    target = str(p.get("target_lang") or "").upper()
    if target not in TARGET_LANGS:
        raise error(400, "Value for 'target_lang' not supported.")
    source = str(p.get("source_lang") or "").upper()
    if source and source not in SOURCE_LANGS:
        raise error(400, "Value for 'source_lang' not supported.")
    entries: dict[str, str] = {}
    if p.get("glossary_id"):
        if not source:
            raise error(400, "Use of a glossary requires the source_lang parameter to be set")
        entries = _glossary_for(emu, account, str(p["glossary_id"]), source, mt.base(target))
    tags = str(p.get("tag_handling") or "")
    if tags not in ("", "xml", "html"):
        raise error(400, "Value for 'tag_handling' not supported.")
    ignore = frozenset(_list(p.get("ignore_tags")))
    chars = sum(len(t) for t in texts)
    count, limit = emu.db.execute(
        "SELECT character_count, character_limit FROM deepl_keys WHERE key_hash = ?", (account,)
    ).fetchone()
    if count + chars > limit:
        raise error(456, "Quota exceeded")
    emu.db.execute(
        "UPDATE deepl_keys SET character_count = character_count + ? WHERE key_hash = ?",
        (chars, account),
    )
    detected = source or "EN"
    out = [
        {
            "detected_source_language": detected,
            "text": mt.render(t, detected, target, entries, xml=bool(tags), ignore=ignore),
            "billed_characters": len(t),
        }
        for t in texts
    ]
    return json_response(200, {"translations": out})


def usage(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    account = authorize(emu, req)
    count, limit = emu.db.execute(
        "SELECT character_count, character_limit FROM deepl_keys WHERE key_hash = ?", (account,)
    ).fetchone()
    return json_response(200, {"character_count": count, "character_limit": limit})


def languages(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    authorize(emu, req)
    if str(params_of(req).get("type") or "source") == "target":
        return json_response(
            200,
            [
                {"language": c, "name": n, "supports_formality": c in FORMALITY}
                for c, n in sorted(TARGET_LANGS.items())
            ],
        )
    return json_response(
        200, [{"language": c, "name": n} for c, n in sorted(SOURCE_LANGS.items())]
    )


def glossary_pairs(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    authorize(emu, req)
    pairs = [
        {"source_lang": s.lower(), "target_lang": t.lower()}
        for s in GLOSSARY_LANGS
        for t in GLOSSARY_LANGS
        if s != t
    ]
    return json_response(200, {"supported_languages": pairs})


def create_glossary(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    account = authorize(emu, req)
    p = params_of(req)
    name = str(p.get("name") or "")
    src = mt.base(str(p.get("source_lang") or ""))
    tgt = mt.base(str(p.get("target_lang") or ""))
    if not name:
        raise error(400, "Missing or invalid argument: name")
    if src not in GLOSSARY_LANGS or tgt not in GLOSSARY_LANGS or src == tgt:
        raise error(400, "Unsupported glossary source and target language pair")
    entries = parse_entries(str(p.get("entries_format") or "tsv"), p.get("entries"))
    tsv = "\n".join(f"{s}\t{t}" for s, t in entries.items())
    row = (str(uuid.uuid4()), name, src, tgt, tsv, iso(emu.wall()))
    emu.db.execute(
        "INSERT INTO deepl_glossaries(glossary_id, key_hash, name, source_lang, target_lang,"
        " entries, creation_time) VALUES (?,?,?,?,?,?,?)",
        (row[0], account, *row[1:]),
    )
    return json_response(201, _glossary_json(row))


def list_glossaries(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    account = authorize(emu, req)
    rows = emu.db.execute(
        "SELECT glossary_id, name, source_lang, target_lang, entries, creation_time"
        " FROM deepl_glossaries WHERE key_hash = ? ORDER BY rowid",
        (account,),
    ).fetchall()
    return json_response(200, {"glossaries": [_glossary_json(tuple(r)) for r in rows]})


def get_glossary(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    account = authorize(emu, req)
    return json_response(200, _glossary_json(_glossary_row(emu, account, params["glossary_id"])))


def glossary_entries(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    account = authorize(emu, req)
    row = _glossary_row(emu, account, params["glossary_id"])
    accept = req.headers.get("accept", "text/tab-separated-values")
    if "tab-separated-values" not in accept and "*/*" not in accept:
        raise error(415, "Unsupported Accept header: text/tab-separated-values only")
    return Response(200, row[4].encode("utf-8"), {"content-type": "text/tab-separated-values"})


def delete_glossary(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    account = authorize(emu, req)
    _glossary_row(emu, account, params["glossary_id"])
    emu.db.execute("DELETE FROM deepl_glossaries WHERE glossary_id = ?", (params["glossary_id"],))
    return Response(204)


def deepl_route(method: str, pattern: str, op: str, handler: Any) -> Route:
    """A DeepL route: its own key check in the handler, no SP-API token or quota."""
    return Route(method, pattern, f"deepl.{op}", handler, auth=False, quota=False)


ROUTES = [
    deepl_route("POST", "/v2/translate", "translate", translate),
    deepl_route("GET", "/v2/usage", "usage", usage),
    deepl_route("POST", "/v2/usage", "usage", usage),
    deepl_route("GET", "/v2/languages", "languages", languages),
    deepl_route("GET", "/v2/glossary-language-pairs", "glossaryLanguagePairs", glossary_pairs),
    deepl_route("POST", "/v2/glossaries", "createGlossary", create_glossary),
    deepl_route("GET", "/v2/glossaries", "listGlossaries", list_glossaries),
    deepl_route("GET", "/v2/glossaries/{glossary_id}", "getGlossary", get_glossary),
    deepl_route("DELETE", "/v2/glossaries/{glossary_id}", "deleteGlossary", delete_glossary),
    deepl_route("GET", "/v2/glossaries/{glossary_id}/entries", "glossaryEntries", glossary_entries),
]
