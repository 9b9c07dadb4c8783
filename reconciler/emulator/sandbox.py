"""Sandbox mode: answer Amazon's static sandbox vectors (``x-amzn-api-sandbox.static``) exactly.

Amazon's static sandbox is pattern matching (CONTRACT.md §8): a request carrying the parameter
values a vector lists gets that vector's status and body. Vectors are read from the vendored
models at import time, so they can never drift from Amazon's files.

Matching rules:

- A vector's ``parameters`` name path, query or body parameters. Query arrays are compared as
  lists (``collectionFormat: csv``), scalars after converting the query string to the declared
  Swagger type (``pageSize=10`` equals ``10``). ``body`` is compared to the parsed JSON body.
- A parameter listed without a ``value`` (``"body": {}``) matches anything: such vectors, and
  ``parameters: {}``, are catch-alls.
- Vectors with more valued parameters are tried first; catch-alls last.
- An operation with vectors but no matching one answers 400 ``InvalidInput`` "Could not match
  input arguments" (our reading of the real sandbox; unverified wording).
- Routes whose operation has no vectors (LWA, document upload/download) fall through (None) to
  the normal handlers.

Sandbox quotas (5 rps / burst 15 for every operation) are applied by the core's quota module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .http import Request, Response, Route, api_error
from .state import EmulatorState

DATA = Path(__file__).resolve().parent / "data"
SANDBOX_MODELS = (
    "listingsItems_2021-08-01.json",
    "feeds_2021-06-30.json",
    "supplySources_2020-07-01.json",
)
_UNSET = object()


@dataclass(frozen=True)
class Vector:
    model: str  # file name of the model the vector comes from
    operation: str  # operationId
    method: str
    path: str  # Swagger path template
    status: int
    parameters: dict[str, Any]  # name -> expected value (only the valued ones)
    wildcards: tuple[str, ...]  # names listed without a value
    response: Any  # the canned body; _UNSET (absent) means an empty body

    @property
    def has_body(self) -> bool:
        return self.response is not _UNSET

    def body_bytes(self) -> bytes:
        if self.response is _UNSET or self.status == 204:
            return b""
        return json.dumps(self.response, ensure_ascii=False).encode("utf-8")

    @property
    def vector_id(self) -> str:
        keys = ",".join(f"{k}={json.dumps(v)[:40]}" for k, v in sorted(self.parameters.items()))
        return f"{self.operation}-{self.status}-{keys or 'catch-all'}"


@cache
def _param_types(model: str) -> dict[str, dict[str, tuple[str, str]]]:
    """operationId -> {param name: (in, swagger type)}."""
    doc = _load(model)
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for methods in doc["paths"].values():
        common = methods.get("parameters", []) if isinstance(methods, dict) else []
        for op in methods.values():
            if not isinstance(op, dict) or "operationId" not in op:
                continue
            params = {}
            for p in [*common, *op.get("parameters", [])]:
                params[p["name"]] = (p["in"], p.get("type", "object"))
            out[op["operationId"]] = params
    return out


@cache
def _load(model: str) -> dict[str, Any]:
    with open(DATA / model, encoding="utf-8") as fh:
        doc: dict[str, Any] = json.load(fh)
    return doc


@cache
def vectors(model: str | None = None) -> tuple[Vector, ...]:
    """Every static vector of the sandbox models (or of one model), in file order."""
    out: list[Vector] = []
    for name in SANDBOX_MODELS if model is None else (model,):
        doc = _load(name)
        for path, methods in doc["paths"].items():
            for method, op in methods.items():
                if not isinstance(op, dict) or "operationId" not in op:
                    continue
                for code, resp in op.get("responses", {}).items():
                    sandbox = resp.get("x-amzn-api-sandbox") or {}
                    for v in sandbox.get("static", []):
                        params = v.get("request", {}).get("parameters", {}) or {}
                        valued = {k: p["value"] for k, p in params.items() if "value" in p}
                        wild = tuple(k for k, p in params.items() if "value" not in p)
                        out.append(Vector(name, op["operationId"], method.upper(), path,
                                          int(code), valued, wild, v.get("response", _UNSET)))
    return tuple(out)


@cache
def _by_operation() -> dict[str, tuple[Vector, ...]]:
    grouped: dict[str, list[Vector]] = {}
    for v in vectors():
        grouped.setdefault(v.operation, []).append(v)
    # Most specific first; stable among equals (file order).
    return {
        op: tuple(sorted(vs, key=lambda v: -len(v.parameters))) for op, vs in grouped.items()
    }


def _coerce(raw: str, swagger_type: str) -> Any:
    if swagger_type == "integer":
        try:
            return int(raw)
        except ValueError:
            return raw
    if swagger_type == "number":
        try:
            return float(raw)
        except ValueError:
            return raw
    if swagger_type == "boolean":
        return {"true": True, "false": False}.get(raw.lower(), raw)
    return raw


def _actual(
    vector: Vector, name: str, req: Request, params: dict[str, str], body: Any
) -> Any:
    if name == "body":
        return body
    where, swagger_type = _param_types(vector.model).get(vector.operation, {}).get(
        name, ("query", "string")
    )
    if where == "path":
        return params.get(name, _UNSET)
    if where == "body":
        return body
    if swagger_type == "array":
        got = req.q_csv(name)
        return _UNSET if got is None else got
    raw = req.q(name)
    return _UNSET if raw is None else _coerce(raw, swagger_type)


def _matches(vector: Vector, req: Request, params: dict[str, str], body: Any) -> bool:
    for name, expected in vector.parameters.items():
        got = _actual(vector, name, req, params, body)
        if got is _UNSET:
            return False
        if isinstance(expected, (int, float)) and not isinstance(expected, bool):
            if not isinstance(got, (int, float)) or float(got) != float(expected):
                return False
        elif got != expected:
            return False
    return True


def match(operation: str, req: Request, params: dict[str, str]) -> Vector | None:
    """The vector answering this request, or None if the operation has vectors but none match."""
    candidates = _by_operation().get(operation, ())
    body: Any = _UNSET
    if req.body:
        try:
            body = req.json()
        except (ValueError, UnicodeDecodeError):
            body = _UNSET
    for v in candidates:
        if _matches(v, req, params, body):
            return v
    return None


def respond(
    emu: EmulatorState, route: Route, req: Request, params: dict[str, str]
) -> Response | None:
    """The sandbox answer for this request, or None to let the normal handler run."""
    if route.operation not in _by_operation():
        return None
    v = match(route.operation, req, params)
    if v is None:
        return api_error(400, "InvalidInput", "Could not match input arguments",
                         "No static sandbox vector matches this request.")
    headers = {"content-type": "application/json"} if v.has_body and v.status != 204 else {}
    return Response(v.status, v.body_bytes(), headers)
