"""Readable messages for JSON Schema violations, placed at the offending key or value.

``jsonschema``'s own messages name schema internals ("is not valid under any of the given
schemas"); catalog authors need "skus.MUG-1.quantity.CA: -3 is less than the minimum of 0" at
``skus/mugs.yaml, line 12``. For ``oneOf``/``anyOf`` the branch whose type matches the value
explains the problem; unknown keys point at the key and list the allowed ones; values under
``credentials`` are never echoed (a pasted secret must not reach CI logs).

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from jsonschema.exceptions import ValidationError, best_match

from reconciler.catalog.raw import locate
from reconciler.kernel.credentials import allowed_names_text
from reconciler.kernel.errors import Problem

_SCHEMA_TYPES = {"object": "mapping", "array": "list"}
_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _dotted(path: Iterable[Any]) -> str:
    parts = [str(p) for p in path]
    return ".".join(parts) if parts else "(top level)"


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    return "number"


def _short(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return ""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def explain(e: ValidationError, data: Any, file: str) -> list[Problem]:
    path = list(e.absolute_path)
    where = _dotted(path)
    if e.validator in ("oneOf", "anyOf") and e.context:
        # Prefer the branch whose type matches the value (a negative quantity should say
        # "less than the minimum", not "expected a mapping").
        relevant = [c for c in e.context if not (c.validator == "type" and not c.relative_path)]
        branches = {c.relative_schema_path[0] for c in relevant}
        if len(branches) > 1 and all(not c.relative_path for c in relevant):
            # every branch fails on the value itself: say what each would have wanted
            parts = [explain(c, data, file)[0].message.split(": ", 1)[-1] for c in relevant]
            line, col = locate(data, path)
            return [Problem(file, line, col, f"{where}: {' or '.join(dict.fromkeys(parts))}")]
        if relevant:
            return explain(best_match(relevant), data, file)
        types: set[str] = set()
        for c in e.context:
            vv: Any = c.validator_value
            types.update(_SCHEMA_TYPES.get(t, t) for t in ([vv] if isinstance(vv, str) else vv))
        line, col = locate(data, path)
        got = f"{_type_name(e.instance)} {_short(e.instance)}".rstrip()
        return [Problem(file, line, col, f"{where}: expected {' or '.join(sorted(types))}, "
                                         f"got {got}")]
    line, col = locate(data, path)
    v = e.validator
    value: Any = e.validator_value
    sch: Any = e.schema
    if "propertyNames" in list(e.schema_path) and isinstance(e.instance, str):
        line, col = locate(data, [*path, e.instance], key=True)
        if v == "pattern":
            why = f"must match {value}"
        elif v == "not":
            why = "the name is reserved"
        else:
            why = e.message
        return [Problem(file, line, col, f"{where}: key {e.instance!r} is not allowed ({why})")]
    if v == "additionalProperties" and isinstance(e.instance, dict):
        props = sch.get("properties") or {}
        allowed = sorted(props)
        extra = [k for k in e.instance if k not in props]
        out = []
        for k in extra:
            kl, kc = locate(data, [*path, k], key=True)
            hint = f"; allowed here: {', '.join(allowed)}" if allowed else ""
            out.append(Problem(file, kl, kc, f"{where}: unknown key {k!r}{hint}"))
        return out
    if v == "required":
        missing = e.message.split("'")[1] if "'" in e.message else e.message
        msg = f"{where}: missing required key {missing!r}"
    elif v == "type":
        want_l: list[str] = value if isinstance(value, list) else [value]
        want_s = " or ".join(_SCHEMA_TYPES.get(w, w) for w in want_l)
        got = f"{_type_name(e.instance)} {_short(e.instance)}".rstrip()
        msg = f"{where}: expected {want_s}, got {got}"
    elif v == "pattern" and "credentials" in path:
        name = e.instance[4:] if isinstance(e.instance, str) else ""
        if isinstance(e.instance, str) and e.instance.startswith("env/") and _VAR.fullmatch(name):
            # a variable name, not a secret: saying which one helps
            msg = (
                f"{where}: env/{name} is not an allowed credential variable: references may "
                f"only name {allowed_names_text()} variables (so a catalog can't send other "
                "secrets, e.g. env/GITHUB_TOKEN)"
            )
        else:
            # a pasted secret must not end up in CI logs: never echo the value
            msg = f"{where}: must be a reference like env/VARIABLE_NAME (value not shown)"
    elif v == "pattern":
        msg = f"{where}: {_short(e.instance)} does not match the pattern {value}"
    elif v == "enum":
        opts = ", ".join(repr(o) for o in value)
        msg = f"{where}: {_short(e.instance)} is not one of {opts}"
    elif v == "const":
        msg = f"{where}: must be {value!r}"
    else:
        msg = f"{where}: {e.message}"
    return [Problem(file, line, col, msg)]
