"""Conformance harness: validate response bodies against Amazon's own published models.

The Swagger 2.0 models vendored in ``reconciler/emulator/data/`` (listings items, feeds, supply
sources) are turned into JSON Schema (draft 4, which Swagger 2.0's schema objects are a subset
of): ``#/definitions/<Name>`` references resolve inside the model, ``x-nullable: true`` widens
the type with ``null``, and ``format: date-time`` is checked. In *strict* mode (the default)
every object schema that declares ``properties`` but says nothing about
``additionalProperties`` gets ``additionalProperties: false``, so an emulator typo such as
``attributeName`` instead of ``attributeNames`` is a violation rather than silently ignored.
Amazon's own sandbox responses pass strict validation (``tests/test_emulator_sandbox.py``).

The JSON_LISTINGS_FEED documents (draft-07 JSON Schemas) are validated as they are. Response
headers are checked too (:func:`assert_headers`): ``x-amzn-RequestId`` always,
``x-amzn-RateLimit-Limit`` only on statuses whose model entry declares it.

Every validation is counted in :data:`STATS`; ``tests/conftest.py`` prints the totals at the end
of the run (``conformance: N responses validated against Amazon's models, 0 violations``).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

DATA = Path(__file__).resolve().parent.parent / "reconciler" / "emulator" / "data"

MODELS = {
    "listings": "listingsItems_2021-08-01.json",
    "feeds": "feeds_2021-06-30.json",
    "supplySources": "supplySources_2020-07-01.json",
    # Orders: both models name an operation getOrder; operations() keeps the v0 one, so
    # validate 2026-01-01 getOrder bodies with assert_conforms("orders", "GetOrderResponse").
    "orders": "orders_2026-01-01.json",
    "ordersV0": "ordersV0.json",
    "definitions": "definitionsProductTypes_2020-09-01.json",
}
FEED_SCHEMAS = {
    "feed": "listings-feed-schema-v2.json",
    "message": "listings-feed-message-schema-v2.json",
    "report": "listings-feed-processing-report-schema-v2.json",
}

# LWA has no Amazon model; this is CONTRACT.md §1.1 written down (counted separately).
LWA_TOKEN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["access_token", "token_type", "expires_in"],
    "additionalProperties": False,
    "properties": {
        "access_token": {"type": "string", "minLength": 1, "maxLength": 2048},
        "token_type": {"enum": ["bearer"]},
        "expires_in": {"type": "integer", "minimum": 1},
        "refresh_token": {"type": "string", "maxLength": 2048},
        # client_credentials (grantless) answers carry the granted scope
        "scope": {"type": "string", "minLength": 1},
    },
}
LWA_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "enum": [
                "access_denied", "invalid_grant", "invalid_request", "invalid_scope",
                "server_error", "temporarily_unavailable", "unauthorized_client",
                "invalid_client", "unsupported_grant_type",
            ]
        },
        "error_description": {"type": "string"},
    },
}

STATS: dict[str, int] = {"validated": 0, "violations": 0, "lwa": 0}


class ConformanceError(AssertionError):
    pass


@cache
def load_model(api: str) -> dict[str, Any]:
    """The raw Swagger document of ``api`` (a key of :data:`MODELS`)."""
    with open(DATA / MODELS[api], encoding="utf-8") as fh:
        return json.load(fh)  # type: ignore[no-any-return]


@cache
def load_feed_schema(kind: str) -> dict[str, Any]:
    with open(DATA / FEED_SCHEMAS[kind], encoding="utf-8") as fh:
        return json.load(fh)  # type: ignore[no-any-return]


def convert_swagger(schema: Any, strict: bool) -> Any:
    """Swagger 2.0 schema object -> JSON Schema draft 4 (refs kept, resolved at the root)."""
    if isinstance(schema, list):
        return [convert_swagger(s, strict) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, val in schema.items():
        if key in ("example", "x-docgen-enum-table-extension"):
            continue
        if key == "properties" and isinstance(val, dict):
            out[key] = {name: convert_swagger(sub, strict) for name, sub in val.items()}
        elif key in ("items", "allOf", "anyOf", "oneOf", "not") or key == "additionalProperties":
            out[key] = convert_swagger(val, strict)
        elif key == "definitions" and isinstance(val, dict):
            out[key] = {name: convert_swagger(sub, strict) for name, sub in val.items()}
        else:
            out[key] = val
    if out.pop("x-nullable", False):
        t = out.get("type")
        if isinstance(t, str):
            out["type"] = [t, "null"]
        elif isinstance(t, list) and "null" not in t:
            out["type"] = [*t, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if "$ref" in out:
            out = {"anyOf": [{"$ref": out.pop("$ref")}, {"type": "null"}], **out}
    if (
        strict
        and "properties" in out
        and "additionalProperties" not in out
        and "$ref" not in out
    ):
        out["additionalProperties"] = False
    return out


@cache
def _validator(api: str, definition: str, strict: bool) -> jsonschema.Draft4Validator:
    model = load_model(api)
    if definition not in model["definitions"]:
        raise KeyError(f"{definition} is not a definition of {MODELS[api]}")
    root = {
        "$ref": f"#/definitions/{definition}",
        "definitions": {
            name: convert_swagger(copy.deepcopy(sub), strict)
            for name, sub in model["definitions"].items()
        },
    }
    jsonschema.Draft4Validator.check_schema(root)
    return jsonschema.Draft4Validator(root, format_checker=jsonschema.FormatChecker())


@cache
def _feed_validator(kind: str) -> jsonschema.Draft7Validator:
    schema = load_feed_schema(kind)
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def errors_for(api: str, definition: str, body: Any, strict: bool = True) -> list[str]:
    """Every violation of ``#/definitions/<definition>`` of ``api``'s model (not counted)."""
    v = _validator(api, definition, strict)
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in sorted(v.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    ]


def _record(problems: list[str], what: str, body: Any) -> None:
    if problems:
        STATS["violations"] += 1
        shown = json.dumps(body, ensure_ascii=False)[:2000]
        raise ConformanceError(f"{what}: {len(problems)} violation(s):\n  "
                               + "\n  ".join(problems[:20]) + f"\nbody: {shown}")


def assert_conforms(api: str, definition: str, body: Any, strict: bool = True) -> None:
    """Validate ``body`` against Amazon's definition and count it; raise on any violation."""
    STATS["validated"] += 1
    _record(errors_for(api, definition, body, strict), f"{MODELS[api]}#/definitions/{definition}",
            body)


def assert_feed_document(kind: str, body: Any) -> None:
    """Validate against a listings feed JSON Schema (``feed``, ``message`` or ``report``)."""
    STATS["validated"] += 1
    v = _feed_validator(kind)
    problems = [
        f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in v.iter_errors(body)
    ]
    _record(problems, FEED_SCHEMAS[kind], body)


def assert_lwa(status: int, body: Any) -> None:
    """The LWA token endpoint has no Amazon model: validate against CONTRACT.md §1.1."""
    STATS["lwa"] += 1
    schema = LWA_TOKEN_SCHEMA if status == 200 else LWA_ERROR_SCHEMA
    problems = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(body)]
    if problems:
        STATS["violations"] += 1
        raise ConformanceError(f"LWA {status}: {problems} body={body!r}")


@cache
def operations() -> dict[str, tuple[str, str, str, dict[str, Any]]]:
    """operationId -> (api, method, path, operation object) over every model."""
    out: dict[str, tuple[str, str, str, dict[str, Any]]] = {}
    for api in MODELS:
        for path, methods in load_model(api)["paths"].items():
            for method, op in methods.items():
                if isinstance(op, dict) and "operationId" in op:
                    out[op["operationId"]] = (api, method.upper(), path, op)
    return out


def response_definition(operation_id: str, status: int) -> str | None:
    """The definition name the model declares for ``status`` of ``operation_id``.

    None when the model declares the status without a body schema (cancelFeed 200). Raises
    ConformanceError when the status is not declared for the operation at all.
    """
    api, _, _, op = operations()[operation_id]
    resp = op["responses"].get(str(status))
    if resp is None:
        STATS["violations"] += 1
        raise ConformanceError(
            f"{operation_id} answered {status}, which {MODELS[api]} does not declare "
            f"(declared: {sorted(op['responses'])})"
        )
    schema = resp.get("schema")
    if schema is None:
        return None
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else None


def assert_response(operation_id: str, status: int, body: bytes) -> Any:
    """Validate a raw response of ``operation_id``: status declared, body matches its schema.

    Returns the parsed JSON body (None for an empty body). 204 responses and the schema-less
    cancelFeed 200 must have an empty body.
    """
    api = operations()[operation_id][0]
    definition = response_definition(operation_id, status)
    if status == 204 or definition is None:
        STATS["validated"] += 1
        if body != b"":
            STATS["violations"] += 1
            raise ConformanceError(f"{operation_id} {status} must have no body, got {body[:200]!r}")
        return None
    try:
        parsed = json.loads(body)
    except ValueError as e:
        STATS["validated"] += 1
        STATS["violations"] += 1
        raise ConformanceError(f"{operation_id} {status}: body is not JSON: {body[:200]!r}") from e
    assert_conforms(api, definition, parsed)
    return parsed


def assert_headers(operation_id: str, status: int, headers: Any) -> None:
    """``x-amzn-RequestId`` on every response; ``x-amzn-RateLimit-Limit`` only where the model
    declares it for that status (never on 403/429/5xx of the listings and feeds models)."""
    _, _, _, op = operations()[operation_id]
    declared = {h.lower() for h in op["responses"].get(str(status), {}).get("headers", {})}
    problems = []
    if not headers.get("x-amzn-RequestId"):
        problems.append("x-amzn-RequestId missing")
    if "x-amzn-RateLimit-Limit" in headers and "x-amzn-ratelimit-limit" not in declared:
        problems.append(f"x-amzn-RateLimit-Limit sent on a {status}, which does not declare it")
    if problems:
        STATS["violations"] += 1
        raise ConformanceError(f"{operation_id} {status}: {problems}")


def summary_line() -> str:
    extra = f" (+{STATS['lwa']} LWA bodies against CONTRACT.md §1.1)" if STATS["lwa"] else ""
    return (
        f"conformance: {STATS['validated']} responses validated against Amazon's models{extra}, "
        f"{STATS['violations']} violations"
    )
