"""A fast yes/no JSON Schema check for the catalog's own schemas.

``jsonschema`` explains problems well but walks every node through its generic machinery
(about 150 dispatches per SKU), which dominates loading a 100,000-listing catalog. Nearly every
catalog in CI is valid, so the loader first asks this compiled checker "valid?" and only runs
``jsonschema`` (for the messages) when the answer is no.

:func:`compile_schema` turns a schema into nested closures (no ``eval``/``exec``) implementing
exactly the keywords our schemas use, with ``jsonschema``'s semantics (``integer`` excludes
bools and Decimals, ``pattern`` is a search with ECMA-262 meaning (:func:`ecma_regex`),
``enum``/``const``/``uniqueItems`` compare ``True`` and ``1`` as different). A keyword it
does not know raises :class:`UnsupportedSchema` at compile time, and the loader then uses
``jsonschema`` alone, so a schema edit can make loading slower but never lets an invalid
document through.
``tests/test_loader.py`` checks both agree on the sample, every fixture and generated
mutations.

Pure: no I/O.
"""

from __future__ import annotations

import functools
import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]
_IGNORED = frozenset({"$schema", "$id", "title", "description", "$defs", "default",
                      "examples", "$comment"})


class UnsupportedSchema(ValueError):
    pass


@functools.cache
def ecma_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled with the meaning JSON Schema gives it (ECMA-262, no flags), not
    Python's: ``$`` is the end of the string (Python's ``$`` also matches before a final
    newline, so ``^[A-Z]{2}$`` would accept ``"US\\n"``), and ``\\d``/``\\w`` are ASCII
    (Python's match Arabic-Indic digits and other scripts). Both the fast checker and the
    jsonschema validator of :mod:`reconciler.catalog.loader` use it, so they agree."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "$":
            c = r"\Z"
        out.append(c)
        i += 1
    return re.compile("".join(out), re.ASCII)


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Number) and not isinstance(x, bool)


_TYPES: dict[str, Check] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
    "number": _is_number,
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
}


def _freeze(x: Any) -> Any:
    """A hashable value equal exactly when jsonschema's ``equal`` says so."""
    if isinstance(x, bool):
        return ("b", x)
    if isinstance(x, str):
        return ("s", x)
    if x is None:
        return ("z",)
    if isinstance(x, list):
        return ("l", tuple(_freeze(i) for i in x))
    if isinstance(x, dict):
        return ("d", frozenset((k, _freeze(v)) for k, v in x.items()))
    return ("n", x)


def compile_schema(root: Mapping[str, Any]) -> Check:
    """A function ``document -> bool`` equivalent to ``jsonschema``'s ``is_valid``."""
    defs: dict[str, Check] = {}

    def ref(target: str) -> Check:
        prefix = "#/$defs/"
        if not target.startswith(prefix):
            raise UnsupportedSchema(f"$ref {target}")
        name = target[len(prefix):]
        if name not in root.get("$defs", {}):
            raise UnsupportedSchema(f"$ref {target}")

        def check(x: Any) -> bool:
            if name not in defs:
                defs[name] = build(root["$defs"][name])
            return defs[name](x)

        return check

    def build(schema: Any) -> Check:
        if schema is True or schema == {}:
            return lambda x: True
        if schema is False:
            return lambda x: False
        if not isinstance(schema, Mapping):
            raise UnsupportedSchema(repr(schema))
        checks: list[Check] = []
        for key, value in schema.items():
            if key in _IGNORED or key in ("then", "else"):
                continue
            checks.append(keyword(key, value, schema))
        if len(checks) == 1:
            return checks[0]
        return lambda x: all(c(x) for c in checks)

    def keyword(key: str, v: Any, schema: Mapping[str, Any]) -> Check:
        if key == "type":
            fns = [_TYPES[t] for t in ([v] if isinstance(v, str) else v)]
            return lambda x: any(f(x) for f in fns)
        if key == "$ref":
            return ref(v)
        if key == "properties":
            props = {k: build(s) for k, s in v.items()}
            return lambda x: not isinstance(x, dict) or all(
                props[k](x[k]) for k in props if k in x
            )
        if key == "additionalProperties":
            known = frozenset(schema.get("properties", {}))
            if "patternProperties" in schema:
                raise UnsupportedSchema("patternProperties")
            extra = build(v)
            return lambda x: not isinstance(x, dict) or all(
                extra(val) for k, val in x.items() if k not in known
            )
        if key == "required":
            req = tuple(v)
            return lambda x: not isinstance(x, dict) or all(k in x for k in req)
        if key == "propertyNames":
            names = build(v)
            return lambda x: not isinstance(x, dict) or all(names(k) for k in x)
        if key == "minProperties":
            return lambda x: not isinstance(x, dict) or len(x) >= v
        if key == "items":
            item = build(v)
            return lambda x: not isinstance(x, list) or all(item(i) for i in x)
        if key == "minItems":
            return lambda x: not isinstance(x, list) or len(x) >= v
        if key == "maxItems":
            return lambda x: not isinstance(x, list) or len(x) <= v
        if key == "uniqueItems":
            if not v:
                return lambda x: True
            return lambda x: not isinstance(x, list) or len({_freeze(i) for i in x}) == len(x)
        if key == "pattern":
            rx = ecma_regex(v)
            return lambda x: not isinstance(x, str) or rx.search(x) is not None
        if key == "minLength":
            return lambda x: not isinstance(x, str) or len(x) >= v
        if key == "maxLength":
            return lambda x: not isinstance(x, str) or len(x) <= v
        if key == "minimum":
            return lambda x: not _is_number(x) or x >= v
        if key == "maximum":
            return lambda x: not _is_number(x) or x <= v
        if key == "exclusiveMinimum":
            return lambda x: not _is_number(x) or x > v
        if key == "enum":
            allowed = frozenset(_freeze(e) for e in v)
            return lambda x: _freeze(x) in allowed
        if key == "const":
            want = _freeze(v)
            return lambda x: _freeze(x) == want
        if key == "oneOf":
            branches = [build(s) for s in v]
            return lambda x: sum(1 for b in branches if b(x)) == 1
        if key == "anyOf":
            branches = [build(s) for s in v]
            return lambda x: any(b(x) for b in branches)
        if key == "not":
            inner = build(v)
            return lambda x: not inner(x)
        if key == "if":
            cond = build(v)
            then = build(schema.get("then", True))
            other = build(schema.get("else", True))
            return lambda x: then(x) if cond(x) else other(x)
        raise UnsupportedSchema(key)

    return build(root)
