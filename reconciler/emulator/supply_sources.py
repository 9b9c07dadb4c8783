"""Supply Sources API 2020-07-01 (CONTRACT.md §10): the seller's MLI locations.

Supply sources belong to the seller that owns the access token (the API has no ``sellerId``
parameter). New sources start ``Inactive``; archiving is final (later updates: 400
``InvalidInput`` details ``"1005"``); a duplicate ``supplySourceCode`` is 400 details ``"1004"``.
The listings validation asks :func:`is_active` whether a ``fulfillment_channel_code`` names an
active location of the seller (by ``supplySourceId`` or by ``supplySourceCode``).

Request bodies are validated against the model's own definitions (Swagger 2.0 -> JSON Schema,
non-strict), so a wrong type anywhere in ``configuration`` is a 400 like Amazon's.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import sqlite3
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]

from . import store
from .http import Request, Response, Route, api_error, invalid_input, json_response
from .state import EmulatorState, json_body  # json_body raises ApiError: 415, 400

BASE = "/supplySources/2020-07-01/supplySources"
MODEL = Path(__file__).resolve().parent / "data" / "supplySources_2020-07-01.json"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MAX_PAGE_SIZE = 50  # the model states no maximum; we cap pages like the other list APIs

SCHEMA = """
CREATE TABLE IF NOT EXISTS supply_sources (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    seller_id TEXT NOT NULL,
    supply_source_id TEXT NOT NULL UNIQUE,
    code TEXT NOT NULL,
    alias TEXT NOT NULL,
    status TEXT NOT NULL,
    address TEXT NOT NULL,
    configuration TEXT,
    capabilities TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (seller_id, code)
);
"""

_COLS = (
    "supply_source_id, code, alias, status, address, configuration, capabilities, created_at,"
    " updated_at"
)


def init_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


# -- model-backed body validation ---------------------------------------------------------


def _to_draft4(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_to_draft4(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _to_draft4(v) for k, v in schema.items() if k != "example"}
    if out.pop("x-nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


@cache
def _validator(definition: str) -> jsonschema.Draft4Validator:
    with open(MODEL, encoding="utf-8") as fh:
        defs = json.load(fh)["definitions"]
    root = {"$ref": f"#/definitions/{definition}", "definitions": _to_draft4(copy.deepcopy(defs))}
    return jsonschema.Draft4Validator(root)


def _body_problem(definition: str, body: Any) -> str | None:
    err = jsonschema.exceptions.best_match(_validator(definition).iter_errors(body))
    if err is None:
        return None
    where = "/".join(str(p) for p in err.absolute_path)
    return f"{where}: {err.message}" if where else err.message


def _json_body(req: Request) -> Any:
    return json_body(req)


# -- storage -------------------------------------------------------------------------------


def _row_to_source(row: tuple[Any, ...]) -> dict[str, Any]:
    src: dict[str, Any] = {
        "supplySourceId": row[0],
        "supplySourceCode": row[1],
        "alias": row[2],
        "status": row[3],
        "address": json.loads(row[4]),
    }
    if row[5] is not None:
        src["configuration"] = json.loads(row[5])
    if row[6] is not None:
        src["capabilities"] = json.loads(row[6])
    src["createdAt"] = row[7]
    src["updatedAt"] = row[8]
    return src


def _fetch(emu: EmulatorState, seller_id: str, supply_source_id: str) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = emu.db.execute(
        f"SELECT {_COLS} FROM supply_sources"  # noqa: S608 - constant column list
        " WHERE seller_id = ? AND supply_source_id = ?",
        (seller_id, supply_source_id),
    ).fetchone()
    return row


def get_source(emu: EmulatorState, seller_id: str, supply_source_id: str) -> dict[str, Any] | None:
    """The stored ``SupplySource`` (as the API returns it), or None."""
    with emu.lock:
        row = _fetch(emu, seller_id, supply_source_id)
    return None if row is None else _row_to_source(row)


def insert_source(
    emu: EmulatorState,
    seller_id: str,
    code: str,
    alias: str,
    address: dict[str, Any],
    *,
    status: str = "Inactive",
    supply_source_id: str | None = None,
    configuration: dict[str, Any] | None = None,
    capabilities: dict[str, Any] | None = None,
) -> str | None:
    """Store a new source; returns its id, or None when ``code`` already exists for the seller."""
    sid = supply_source_id or str(uuid.uuid4())
    now = emu.utcnow_iso()
    with emu.lock:
        try:
            emu.db.execute(
                "INSERT INTO supply_sources(seller_id, supply_source_id, code, alias, status,"
                " address, configuration, capabilities, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    seller_id, sid, code, alias, status, json.dumps(address),
                    None if configuration is None else json.dumps(configuration),
                    None if capabilities is None else json.dumps(capabilities),
                    now, now,
                ),
            )
        except sqlite3.IntegrityError:
            return None
    return sid


def is_active(emu: EmulatorState, seller_id: str, code: str) -> bool:
    """Whether ``code`` (a supplySourceId or supplySourceCode) is an Active source of the seller."""
    with emu.lock:
        row = emu.db.execute(
            "SELECT 1 FROM supply_sources WHERE seller_id = ? AND status = 'Active'"
            " AND (supply_source_id = ? OR code = ?) LIMIT 1",
            (seller_id, code, code),
        ).fetchone()
    return row is not None


def seed(emu: EmulatorState, data: dict[str, Any]) -> None:
    """Load ``data["sellers"][sid]["supplySources"]`` (SupplySource dicts, ``status`` honoured)."""
    for seller_id, seller in (data.get("sellers") or {}).items():
        for src in (seller or {}).get("supplySources") or []:
            status = src.get("status", "Inactive")
            if status not in ("Active", "Inactive", "Archived"):
                raise ValueError(
                    f"supply source {src.get('supplySourceCode')!r}: bad status {status!r}"
                )
            code = src.get("supplySourceCode") or src.get("supplySourceId")
            if not code:
                raise ValueError("a seeded supply source needs a supplySourceCode")
            address = src.get("address") or {
                "name": str(src.get("alias", code)),
                "addressLine1": "1 EmulatorState Way",
                "countryCode": "US",
                "stateOrRegion": "WA",
            }
            sid = insert_source(
                emu, seller_id, code, src.get("alias", code), address, status=status,
                supply_source_id=src.get("supplySourceId"),
                configuration=src.get("configuration"), capabilities=src.get("capabilities"),
            )
            if sid is None:
                raise ValueError(f"supply source code {code!r} seeded twice for {seller_id}")


# -- handlers ------------------------------------------------------------------------------


def _seller(params: dict[str, str]) -> str:
    # The core puts the access token's seller here (the API has no sellerId parameter).
    return params.get("_seller_id", "")


def _code_exists() -> Response:
    return api_error(400, "InvalidInput", "Supply Source with given Code already exists", "1004")


def _archived() -> Response:
    return api_error(
        400, "InvalidInput", "Supply Source has been archived and cannot be modified.", "1005"
    )


def _not_found(supply_source_id: str) -> Response:
    return api_error(404, "NotFound", "The requested supply source was not found.",
                     f"No supply source {supply_source_id!r} exists for this seller.")


def _lookup(
    emu: EmulatorState, req: Request, params: dict[str, str]
) -> tuple[str, tuple[Any, ...] | None, Response | None]:
    seller_id = _seller(params)
    ssid = params["supplySourceId"]
    if not _UUID.match(ssid):
        return seller_id, None, api_error(400, "InvalidInput", "Invalid Input", "")
    row = _fetch(emu, seller_id, ssid)
    if row is None:
        return seller_id, None, _not_found(ssid)
    return seller_id, row, None


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _decode_token(token: str) -> int | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = data["o"]
    except (ValueError, KeyError, TypeError):
        return None
    return offset if isinstance(offset, int) and offset >= 0 else None


def get_supply_sources(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    raw_size = req.q("pageSize")
    size = 10
    if raw_size is not None:
        try:
            size_f = float(raw_size)
        except ValueError:
            return invalid_input("pageSize must be a number.")
        if size_f != int(size_f) or not 1 <= size_f <= MAX_PAGE_SIZE:
            return invalid_input(f"pageSize must be a whole number between 1 and {MAX_PAGE_SIZE}.")
        size = int(size_f)
    offset = 0
    token = req.q("nextPageToken")
    if token is not None:
        decoded = _decode_token(token)
        if decoded is None:
            return invalid_input("Invalid nextPageToken.")
        offset = decoded
    seller_id = _seller(params)
    rows = emu.db.execute(
        f"SELECT {_COLS} FROM supply_sources"  # noqa: S608 - constant column list
        " WHERE seller_id = ? ORDER BY seq LIMIT ? OFFSET ?",
        (seller_id, size + 1, offset),
    ).fetchall()
    page = [_row_to_source(r) for r in rows[:size]]
    body: dict[str, Any] = {
        "supplySources": [
            {k: s[k] for k in ("alias", "supplySourceId", "supplySourceCode", "address")}
            for s in page
        ]
    }
    if len(rows) > size:
        body["nextPageToken"] = _encode_token(offset + size)
    return json_response(200, body)


def create_supply_source(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    body = _json_body(req)
    problem = _body_problem("CreateSupplySourceRequest", body)
    if problem is None:
        missing = [
            f for f in ("name", "addressLine1", "countryCode", "stateOrRegion")
            if not body["address"].get(f)
        ]
        if missing:
            problem = f"address is missing required fields: {', '.join(missing)}"
        elif not body["supplySourceCode"] or not body["alias"]:
            problem = "supplySourceCode and alias must not be empty"
    if problem is not None:
        return invalid_input(problem)
    seller_id = _seller(params)
    sid = insert_source(emu, seller_id, body["supplySourceCode"], body["alias"], body["address"])
    if sid is None:
        return _code_exists()
    return json_response(200, {"supplySourceId": sid, "supplySourceCode": body["supplySourceCode"]})


def get_supply_source(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    _, row, bad = _lookup(emu, req, params)
    if bad is not None or row is None:
        return bad or invalid_input()
    return json_response(200, _row_to_source(row))


def _update(emu: EmulatorState, seller_id: str, ssid: str, **cols: Any) -> None:
    sets = ", ".join(f"{c} = ?" for c in cols)
    with store.transaction(emu.db):
        emu.db.execute(
            f"UPDATE supply_sources SET {sets}, updated_at = ? "  # noqa: S608 - fixed column names
            "WHERE seller_id = ? AND supply_source_id = ?",
            (*cols.values(), emu.utcnow_iso(), seller_id, ssid),
        )


def update_supply_source(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    seller_id, row, bad = _lookup(emu, req, params)
    if bad is not None or row is None:
        return bad or invalid_input()
    body = _json_body(req)
    problem = _body_problem("UpdateSupplySourceRequest", body)
    if problem is not None:
        return invalid_input(problem)
    if row[3] == "Archived":
        return _archived()
    cols: dict[str, Any] = {}
    if "alias" in body:
        if not body["alias"]:
            return invalid_input("alias must not be empty")
        cols["alias"] = body["alias"]
    if "configuration" in body:
        cols["configuration"] = json.dumps(body["configuration"])
    if "capabilities" in body:
        cols["capabilities"] = json.dumps(body["capabilities"])
    if cols:
        _update(emu, seller_id, row[0], **cols)
    return Response(204)


def archive_supply_source(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    seller_id, row, bad = _lookup(emu, req, params)
    if bad is not None or row is None:
        return bad or invalid_input()
    if row[3] == "Archived":
        return _archived()
    _update(emu, seller_id, row[0], status="Archived")
    return Response(204)


def update_supply_source_status(
    emu: EmulatorState, req: Request, params: dict[str, str]
) -> Response:
    seller_id, row, bad = _lookup(emu, req, params)
    if bad is not None or row is None:
        return bad or invalid_input()
    body = _json_body(req)
    problem = _body_problem("UpdateSupplySourceStatusRequest", body)
    if problem is None and "status" not in body:
        problem = "status is required"
    if problem is not None:
        return invalid_input(problem)
    if row[3] == "Archived":
        return _archived()
    if body["status"] != row[3]:
        _update(emu, seller_id, row[0], status=body["status"])
    return Response(204)


ROUTES: list[Route] = [
    Route("GET", BASE, "getSupplySources", get_supply_sources),
    Route("POST", BASE, "createSupplySource", create_supply_source),
    Route("GET", BASE + "/{supplySourceId}", "getSupplySource", get_supply_source),
    Route("PUT", BASE + "/{supplySourceId}", "updateSupplySource", update_supply_source),
    Route("DELETE", BASE + "/{supplySourceId}", "archiveSupplySource", archive_supply_source),
    Route("PUT", BASE + "/{supplySourceId}/status", "updateSupplySourceStatus",
          update_supply_source_status),
]
