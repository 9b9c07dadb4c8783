"""Amazon Translate on the emulator's server, for boto3 unchanged (issue 16).

moto (5.x) has no Translate backend, so the emulator serves the small part ``reconciler`` uses,
in the AWS JSON 1.1 protocol boto3 speaks for this service (botocore's model
``translate/2017-07-01``: ``POST /`` with ``X-Amz-Target: AWSShineFrontendService_20170701.<Op>``,
``Content-Type: application/x-amz-json-1.1``; errors as ``{"__type": CODE, "message": ...}``):
``TranslateText`` (with ``TerminologyNames``), ``ImportTerminology`` (CSV), ``GetTerminology``,
``ListTerminologies``, ``DeleteTerminology``
(https://docs.aws.amazon.com/translate/latest/APIReference/API_Operations.html).

Point boto3 at it with ``endpoint_url="<emulator URL>/aws-translate"``. The request must be
SigV4-signed (an ``Authorization: AWS4-HMAC-SHA256 ...`` header; the signature itself is not
checked). Calls are logged as ``translate.<Op>``. Output: :mod:`machine_translation` (a
terminology is the glossary). Faults: the ``translate`` queue of :mod:`machine_translation`:
429 -> TooManyRequestsException, 456 -> LimitExceededException, 500 -> InternalServerException,
503 -> ServiceUnavailableException.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import sqlite3
from typing import Any

from . import machine_translation as mt
from .http import Request, Response, Route
from .state import EmulatorState

PREFIX = "/aws-translate"
TARGET_PREFIX = "AWSShineFrontendService_20170701."
CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_TEXT_BYTES = 10_000
_FAULTS = {
    429: ("TooManyRequestsException", 429),
    456: ("LimitExceededException", 400),
    500: ("InternalServerException", 500),
    503: ("ServiceUnavailableException", 503),
}


class _AwsError(Exception):
    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


def init_schema(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS aws_terminologies (name TEXT PRIMARY KEY, source TEXT NOT"
        " NULL, targets TEXT NOT NULL, entries TEXT NOT NULL, created REAL NOT NULL)"
    )


def _reply(status: int, obj: Any) -> Response:
    return Response(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"),
                    {"content-type": CONTENT_TYPE})


def _error(e: _AwsError) -> Response:
    r = _reply(e.status, {"__type": e.code, "message": e.message})
    r.headers["x-amzn-ErrorType"] = e.code
    return r


def _terminology(emu: EmulatorState, name: str) -> tuple[str, list[str], dict[str, dict[str, str]]]:
    row = emu.db.execute(
        "SELECT source, targets, entries FROM aws_terminologies WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        raise _AwsError("ResourceNotFoundException", 400, f"Terminology {name} not found")
    return str(row[0]), json.loads(row[1]), json.loads(row[2])


def _properties(emu: EmulatorState, name: str) -> dict[str, Any]:
    source, targets, entries = _terminology(emu, name)
    return {
        "Name": name, "SourceLanguageCode": source, "TargetLanguageCodes": targets,
        "TermCount": max((len(v) for v in entries.values()), default=0), "Format": "CSV",
        "Directionality": "UNI",
    }


def _import(emu: EmulatorState, body: dict[str, Any]) -> dict[str, Any]:
    name = str(body.get("Name") or "")
    data = body.get("TerminologyData") or {}
    if not name or not isinstance(data, dict) or str(data.get("Format")) != "CSV":
        raise _AwsError("InvalidParameterValueException", 400, "Name and a CSV file needed")
    try:
        text = base64.b64decode(str(data.get("File") or ""), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _AwsError("InvalidParameterValueException", 400, "File is not base64 UTF-8") from None
    rows = [r for r in csv.reader(io.StringIO(text)) if r]
    if len(rows) < 2 or len(rows[0]) < 2:
        raise _AwsError("InvalidParameterValueException", 400, "A header and terms needed")
    header = [h.strip() for h in rows[0]]
    entries: dict[str, dict[str, str]] = {t: {} for t in header[1:]}
    for r in rows[1:]:
        for j, target in enumerate(header[1:], start=1):
            if j < len(r) and r[0].strip() and r[j].strip():
                entries[target][r[0].strip()] = r[j].strip()
    emu.db.execute(
        "INSERT OR REPLACE INTO aws_terminologies(name, source, targets, entries, created)"
        " VALUES (?,?,?,?,?)",
        (name, header[0], json.dumps(header[1:]), json.dumps(entries), emu.wall()),
    )
    return {"TerminologyProperties": _properties(emu, name)}


def _translate(emu: EmulatorState, body: dict[str, Any]) -> dict[str, Any]:
    text = body.get("Text")
    src = str(body.get("SourceLanguageCode") or "")
    tgt = str(body.get("TargetLanguageCode") or "")
    if not isinstance(text, str) or not text or not src or not tgt:
        raise _AwsError("InvalidRequestException", 400, "Text and language codes are required")
    if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
        raise _AwsError("TextSizeLimitExceededException", 400, "Text exceeds 10000 bytes")
    entries: dict[str, str] = {}
    applied = []
    for name in body.get("TerminologyNames") or []:
        source, _targets, by_target = _terminology(emu, str(name))
        terms = by_target.get(tgt, {}) if mt.base(source) == mt.base(src) else {}
        entries.update(terms)
        applied.append({"Name": name, "Terms": [
            {"SourceText": s, "TargetText": t} for s, t in terms.items()
            if s.lower() in text.lower()
        ]})
    out: dict[str, Any] = {
        "TranslatedText": mt.render(text, src, tgt, entries),
        "SourceLanguageCode": src,
        "TargetLanguageCode": tgt,
    }
    if applied:
        out["AppliedTerminologies"] = applied
    return out


def handle(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    if not req.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 "):
        return _error(_AwsError("MissingAuthenticationTokenException", 403,
                                "Missing Authentication Token"))
    op = req.headers.get("x-amz-target", "").removeprefix(TARGET_PREFIX)
    try:
        fault = mt.take_fault(emu, "translate")
        if fault is not None:
            code, status = _FAULTS.get(fault, ("InternalServerException", fault))
            raise _AwsError(code, status, f"injected fault {fault}")
        try:
            body = json.loads(req.body.decode("utf-8") or "{}")
        except (ValueError, UnicodeDecodeError):
            raise _AwsError("SerializationException", 400, "Malformed JSON") from None
        if not isinstance(body, dict):
            raise _AwsError("SerializationException", 400, "The body must be an object")
        if op == "TranslateText":
            return _reply(200, _translate(emu, body))
        if op == "ImportTerminology":
            return _reply(200, _import(emu, body))
        if op == "GetTerminology":
            return _reply(200, {"TerminologyProperties": _properties(emu, str(body.get("Name")))})
        if op == "ListTerminologies":
            names = [r[0] for r in emu.db.execute("SELECT name FROM aws_terminologies ORDER BY"
                                                  " created, name")]
            return _reply(200, {"TerminologyPropertiesList": [_properties(emu, n) for n in names]})
        if op == "DeleteTerminology":
            _terminology(emu, str(body.get("Name")))
            emu.db.execute("DELETE FROM aws_terminologies WHERE name = ?", (str(body.get("Name")),))
            return _reply(200, {})
        raise _AwsError("UnknownOperationException", 400, f"Unknown operation {op[:64]}")
    except _AwsError as e:
        return _error(e)


ROUTES = [
    Route("POST", PREFIX, "translate.request", handle, auth=False, quota=False),
    Route("POST", PREFIX + "/", "translate.request", handle, auth=False, quota=False),
]
