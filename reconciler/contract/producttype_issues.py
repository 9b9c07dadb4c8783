"""What is wrong with a listing's attributes, in Amazon's words (the slow path of
:class:`reconciler.contract.producttypes.Validator`).

The walker interprets the same keywords the compiled checker implements and must agree with it
(``tests/test_producttypes.py``). Messages follow Amazon's issue wording where it is known
(CONTRACT.md §3.3): ``'condition_type' is required but not supplied.`` (90220) for a missing
attribute, ``The attributes are invalid.`` (90000900) for a name the product type does not define,
``The field 'x' for the attribute 'y' does not have enough values. The required minimum is '1'
value(s).`` for a missing field of an entry, and the reference validators' ``Each combination of
selector values may only occur N times ...`` for ``maxUniqueItems``. Other value problems name the
path and the rule. Catalog values are quoted with ``repr`` (never interpreted).

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.contract.producttype_check import safe_pattern, simplify_any_of
from reconciler.contract.vocabulary import (
    _TYPES,
    INVALID_VALUE,
    MISSING_ATTRIBUTE,
    MISSING_FIELD,
    UNKNOWN_ATTRIBUTE,
    SchemaIssue,
    _format_ok,
    _key,
    _multiple_of,
    is_number,
    selector_counts,
    utf8_len,
)

Path = tuple[Any, ...]
_MAX_SHOWN = 8


def explain(
    schema: Mapping[str, Any], attributes: Mapping[str, Any], properties: frozenset[str]
) -> list[SchemaIssue]:
    out: list[SchemaIssue] = []
    for name in attributes:
        if name not in properties:
            out.append(SchemaIssue(UNKNOWN_ATTRIBUTE, name, name, "The attributes are invalid."))
    out.extend(_Walker(schema).walk(schema, attributes, ()))
    return out


def path_text(path: Path) -> str:
    s = ""
    for p in path:
        s += f"[{p}]" if isinstance(p, int) else (f".{p}" if s else str(p))
    return s


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


class _Walker:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root

    def issue(self, path: Path, message: str, code: str = INVALID_VALUE,
              category: str = "INVALID_ATTRIBUTE") -> SchemaIssue:
        attr = str(path[0]) if path else ""
        return SchemaIssue(code, attr, path_text(path) or attr, message, category)

    def walk(self, schema: Any, x: Any, path: Path) -> list[SchemaIssue]:
        if schema is True or schema == {}:
            return []
        if schema is False:
            return [self.issue(path, f"'{path_text(path)}' is not allowed.")]
        simple = simplify_any_of(schema)
        if simple is not None:
            schema = simple
        out: list[SchemaIssue] = []
        for key, v in schema.items():
            out.extend(self.keyword(key, v, schema, x, path))
        return out

    def keyword(
        self, key: str, v: Any, schema: Mapping[str, Any], x: Any, path: Path
    ) -> list[SchemaIssue]:
        p = path_text(path)
        if key == "type":
            types = [v] if isinstance(v, str) else list(v)
            if any(_TYPES[t](x) for t in types):
                return []
            return [self.issue(path, f"The value {_show(x)} for '{p}' must be "
                                     f"{' or '.join(_article(t) for t in types)}.")]
        if key == "$ref":
            name = str(v).rsplit("/", 1)[-1]
            return self.walk(self.root.get("$defs", {}).get(name, True), x, path)
        if key == "properties" and isinstance(x, dict):
            out = []
            for k, s in v.items():
                if k in x:
                    out.extend(self.walk(s, x[k], (*path, k)))
            return out
        if key == "additionalProperties" and isinstance(x, dict):
            known = set(schema.get("properties", {}))
            extra = [k for k in x if k not in known]
            if v is False:
                allowed = ", ".join(sorted(known)) or "none"
                return [self.issue((*path, k), f"'{k}' is not a valid field of '{p}' "
                                               f"(valid fields: {allowed}).") for k in extra]
            return [i for k in extra for i in self.walk(v, x[k], (*path, k))]
        if key == "required" and isinstance(x, dict):
            missing = [k for k in v if k not in x]
            if not path:
                return [self.issue((k,), f"'{k}' is required but not supplied.",
                                   MISSING_ATTRIBUTE, "MISSING_ATTRIBUTE") for k in missing]
            attr = str(path[0])
            return [self.issue((*path, k), f"The field '{k}' for the attribute '{attr}' does not "
                                           "have enough values. The required minimum is '1' "
                                           "value(s).", MISSING_FIELD, "MISSING_ATTRIBUTE")
                    for k in missing]
        if key == "items" and isinstance(x, list):
            return [i for n, item in enumerate(x) for i in self.walk(v, item, (*path, n))]
        if key == "contains" and isinstance(x, list):
            if any(not self.walk(v, item, path) for item in x):
                return []
            return [self.issue(path, f"'{p}' has no value of the required kind.")]
        if key == "minItems" and isinstance(x, list) and len(x) < v:
            return [self.issue(path, f"'{p}' needs at least {v} value(s).")]
        if key == "maxItems" and isinstance(x, list) and len(x) > v:
            return [self.issue(path, f"'{p}' allows at most {v} value(s), got {len(x)}.")]
        if key == "uniqueItems" and v and isinstance(x, list):
            if len({_key(i) for i in x}) != len(x):
                return [self.issue(path, f"'{p}' has duplicate values.")]
            return []
        if key in ("maxUniqueItems", "minUniqueItems") and isinstance(x, list) and x:
            sel = tuple(schema.get("selectors", ()))
            counts = selector_counts(x, sel)
            bad = [k for k, n in counts.items() if (n > v if key == "maxUniqueItems" else n < v)]
            out = []
            for k in bad:
                pairs = zip(sel, k, strict=True)
                combo = ", ".join(f"{s}={_plain(val)}" for s, val in pairs) or "(none)"
                word = "only" if key == "maxUniqueItems" else "at least"
                many = "too many" if key == "maxUniqueItems" else "too few"
                out.append(self.issue(path, f"Each combination of selector values may {word} "
                                            f"occur {v} times. The following selector value "
                                            f"combination occurs {many} times: {{{combo}}}"))
            return out
        if not isinstance(x, str):
            if key in ("minLength", "maxLength", "maxUtf8ByteLength", "minUtf8ByteLength",
                       "pattern"):
                return []
        elif key == "minLength" and len(x) < v:
            return [self.issue(path, f"'{p}' is shorter than {v} characters.")]
        elif key == "maxLength" and len(x) > v:
            return [self.issue(path, f"'{p}' is longer than {v} characters ({len(x)}).")]
        elif key == "maxUtf8ByteLength" and utf8_len(x) > v:
            return [self.issue(path, f"'{p}' is longer than {v} bytes in UTF-8 ({utf8_len(x)}).")]
        elif key == "minUtf8ByteLength" and utf8_len(x) < v:
            return [self.issue(path, f"'{p}' is shorter than {v} bytes in UTF-8.")]
        elif key == "pattern" and safe_pattern(v).search(x) is None:
            return [self.issue(path, f"The value {_show(x)} for '{p}' does not match the "
                                     f"expected format {v}.")]
        if key == "format" and not _format_ok(v, x):
            return [self.issue(path, f"The value {_show(x)} for '{p}' is not a valid {v}.")]
        if is_number(x):
            if key == "minimum" and x < v:
                return [self.issue(path, f"The value {_plain(x)} for '{p}' must be at least {v}.")]
            if key == "maximum" and x > v:
                return [self.issue(path, f"The value {_plain(x)} for '{p}' must be at most {v}.")]
            if key == "exclusiveMinimum" and x <= v:
                return [self.issue(path, f"The value {_plain(x)} for '{p}' must be over {v}.")]
            if key == "exclusiveMaximum" and x >= v:
                return [self.issue(path, f"The value {_plain(x)} for '{p}' must be under {v}.")]
            if key == "multipleOf" and not _multiple_of(x, v):
                return [self.issue(path, f"The value {_plain(x)} for '{p}' must be a multiple "
                                         f"of {v}.")]
        if key == "enum" and _key(x) not in {_key(e) for e in v}:
            shown = ", ".join(str(_plain(e)) for e in v[:_MAX_SHOWN])
            more = f" and {len(v) - _MAX_SHOWN} more" if len(v) > _MAX_SHOWN else ""
            return [self.issue(path, f"The value {_show(x)} for '{p}' is not one of the allowed "
                                     f"values ({shown}{more}).")]
        if key == "const" and _key(x) != _key(v):
            return [self.issue(path, f"The value {_show(x)} for '{p}' must be {_show(v)}.")]
        if key in ("anyOf", "oneOf"):
            results = [self.walk(s, x, path) for s in v]
            passing = sum(1 for r in results if not r)
            if key == "oneOf" and passing > 1:
                return [self.issue(path, f"The value for '{p}' matches more than one form.")]
            if passing:
                return []
            return min(results, key=len)
        if key == "allOf":
            return [i for s in v for i in self.walk(s, x, path)]
        if key == "not":
            if self.walk(v, x, path):
                return []
            return [self.issue(path, _not_message(v, p))]
        if key == "if":
            if not self.walk(v, x, path):
                return self.walk(schema.get("then", True), x, path)
            return self.walk(schema.get("else", True), x, path)
        return []


def _article(t: str) -> str:
    return {"integer": "an integer", "object": "an object", "array": "an array of values"}.get(
        t, f"a {t}"
    )


def _plain(v: Any) -> Any:
    if isinstance(v, tuple) and len(v) == 2 and v[0] in ("b", "n", "s"):
        return v[1]
    return v


def _not_message(schema: Any, p: str) -> str:
    where = f" in '{p}'" if p else ""
    if isinstance(schema, Mapping):
        req = schema.get("required")
        if isinstance(req, list) and len(req) > 1 and set(schema) == {"required"}:
            return f"'{req[0]}' cannot be combined with " + ", ".join(
                f"'{r}'" for r in req[1:]) + where + "."
        if isinstance(req, list) and len(req) == 1 and set(schema) == {"required"}:
            return f"'{req[0]}' is not allowed{where}."
        branches = schema.get("anyOf")
        if isinstance(branches, list) and all(
            isinstance(b, Mapping) and set(b) == {"required"} for b in branches
        ):
            names = ", ".join(f"'{r}'" for b in branches for r in b["required"])
            return f"{names} not allowed{where}."
    return f"The value for '{p}' is not allowed."
