"""DeepL's v3 (multilingual) glossaries on the emulator, for ``deepl.DeepLClient``'s
``create_multilingual_glossary``, ``get_/list_/delete_multilingual_glossary`` and
``get_multilingual_glossary_entries`` (https://developers.deepl.com/api-reference/
multilingual-glossaries): a glossary holds dictionaries, one per (source, target) language pair;
``/v2/translate`` with its id uses the dictionary of the request's pair (``deepl_api``).

- ``POST /v3/glossaries`` ``{name, dictionaries: [{source_lang, target_lang, entries,
  entries_format}]}`` -> 201 ``{glossary_id, name, creation_time, dictionaries: [{source_lang,
  target_lang, entry_count}]}``;
- ``GET /v3/glossaries`` -> ``{glossaries: [...]}``; ``GET``/``DELETE /v3/glossaries/{id}``;
- ``GET /v3/glossaries/{id}/entries?source_lang=&target_lang=`` -> ``{dictionaries:
  [{source_lang, target_lang, entries, entries_format: "tsv"}]}``.

Same auth, faults and call log as the rest of the DeepL API (operations ``deepl.v3*``).
"""

from __future__ import annotations

import uuid
from typing import Any

from . import machine_translation as mt
from .deepl_api import (
    GLOSSARY_LANGS,
    authorize,
    deepl_route,
    error,
    params_of,
    parse_entries,
    tsv_entries,
)
from .http import Request, Response, json_response
from .state import EmulatorState, iso


def _info(emu: EmulatorState, account: str, gid: str) -> dict[str, Any]:
    row = emu.db.execute(
        "SELECT name, creation_time FROM deepl_v3_glossaries WHERE glossary_id = ? AND"
        " key_hash = ?",
        (gid, account),
    ).fetchone()
    if row is None:
        raise error(404, "Glossary not found")
    dicts = emu.db.execute(
        "SELECT source_lang, target_lang, entries FROM deepl_v3_dictionaries WHERE"
        " glossary_id = ? ORDER BY rowid",
        (gid,),
    ).fetchall()
    return {
        "glossary_id": gid, "name": row[0], "creation_time": row[1],
        "dictionaries": [
            {"source_lang": s.lower(), "target_lang": t.lower(),
             "entry_count": len(tsv_entries(e))}
            for s, t, e in dicts
        ],
    }


def create(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    account = authorize(emu, req)
    p = params_of(req)
    name = str(p.get("name") or "")
    dictionaries = p.get("dictionaries")
    if not name:
        raise error(400, "Missing or invalid argument: name")
    if not isinstance(dictionaries, list) or not dictionaries:
        raise error(400, "Missing or invalid argument: dictionaries")
    rows: dict[tuple[str, str], str] = {}
    for d in dictionaries:
        if not isinstance(d, dict):
            raise error(400, "Invalid dictionary")
        src = mt.base(str(d.get("source_lang") or ""))
        tgt = mt.base(str(d.get("target_lang") or ""))
        if src not in GLOSSARY_LANGS or tgt not in GLOSSARY_LANGS or src == tgt:
            raise error(400, "Unsupported glossary source and target language pair")
        entries = parse_entries(str(d.get("entries_format") or "tsv"), d.get("entries"))
        rows[(src, tgt)] = "\n".join(f"{s}\t{t}" for s, t in entries.items())
    gid = str(uuid.uuid4())
    emu.db.execute(
        "INSERT INTO deepl_v3_glossaries(glossary_id, key_hash, name, creation_time)"
        " VALUES (?,?,?,?)",
        (gid, account, name, iso(emu.wall())),
    )
    emu.db.executemany(
        "INSERT INTO deepl_v3_dictionaries(glossary_id, source_lang, target_lang, entries)"
        " VALUES (?,?,?,?)",
        [(gid, s, t, e) for (s, t), e in rows.items()],
    )
    return json_response(201, _info(emu, account, gid))


def list_all(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    account = authorize(emu, req)
    ids = [r[0] for r in emu.db.execute(
        "SELECT glossary_id FROM deepl_v3_glossaries WHERE key_hash = ? ORDER BY rowid",
        (account,),
    )]
    return json_response(200, {"glossaries": [_info(emu, account, g) for g in ids]})


def get(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    account = authorize(emu, req)
    return json_response(200, _info(emu, account, params["glossary_id"]))


def delete(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    account = authorize(emu, req)
    gid = params["glossary_id"]
    _info(emu, account, gid)
    emu.db.execute("DELETE FROM deepl_v3_dictionaries WHERE glossary_id = ?", (gid,))
    emu.db.execute("DELETE FROM deepl_v3_glossaries WHERE glossary_id = ?", (gid,))
    return Response(204)


def entries(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    account = authorize(emu, req)
    gid = params["glossary_id"]
    _info(emu, account, gid)
    src, tgt = mt.base(req.q("source_lang") or ""), mt.base(req.q("target_lang") or "")
    row = emu.db.execute(
        "SELECT entries FROM deepl_v3_dictionaries WHERE glossary_id = ? AND source_lang = ?"
        " AND target_lang = ?",
        (gid, src, tgt),
    ).fetchone()
    if row is None:
        raise error(404, "Glossary dictionary not found")
    return json_response(200, {"dictionaries": [
        {"source_lang": src.lower(), "target_lang": tgt.lower(), "entries": row[0],
         "entries_format": "tsv"}
    ]})


ROUTES = [
    deepl_route("POST", "/v3/glossaries", "v3CreateGlossary", create),
    deepl_route("GET", "/v3/glossaries", "v3ListGlossaries", list_all),
    deepl_route("GET", "/v3/glossaries/{glossary_id}", "v3GetGlossary", get),
    deepl_route("DELETE", "/v3/glossaries/{glossary_id}", "v3DeleteGlossary", delete),
    deepl_route("GET", "/v3/glossaries/{glossary_id}/entries", "v3GlossaryEntries", entries),
]
