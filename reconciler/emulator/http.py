"""Transport-neutral request/response values and routing for the SP-API emulator.

The same handlers serve the real HTTP server (``server.py``) and the in-process httpx transport
(``transport.py``): both convert to :class:`Request`, call ``Emulator.handle``, and convert the
:class:`Response` back. Handler modules (listings, feeds, supply sources, auth) expose a
``ROUTES`` list of :class:`Route`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # raw (still percent-encoded) path, without the query string
    query: dict[str, list[str]]  # decoded; repeated keys keep every value
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    base_url: str = "http://127.0.0.1"  # scheme://host[:port] the client used, for self URLs

    def q(self, name: str) -> str | None:
        """The single value of a query parameter (the last one if repeated)."""
        vals = self.query.get(name)
        return vals[-1] if vals else None

    def q_csv(self, name: str) -> list[str] | None:
        """A Swagger ``collectionFormat: csv`` array parameter (also accepts repeats)."""
        vals = self.query.get(name)
        if vals is None:
            return None
        out: list[str] = []
        for v in vals:
            out.extend(p for p in v.split(",") if p != "")
        return out

    def json(self) -> Any:
        """The JSON body; raises ValueError on malformed JSON (also on JSON nested too deeply
        for the parser, which raises RecursionError)."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    h = {"content-type": "application/json"}
    if headers:
        h.update(headers)
    return Response(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), h)


def api_error(status: int, code: str, message: str, details: str = "") -> Response:
    """Amazon's ``ErrorList`` body: ``{"errors": [{"code", "message", "details"}]}``."""
    error = {"code": code, "message": message, "details": details}
    return json_response(status, {"errors": [error]})


# Services the emulator serves beside SP-API, whose front door answers in their own error shape
# (issue 16): DeepL's ``{"message": ...}`` and the AWS JSON protocol's ``{"__type", "message"}``.
DEEPL_PREFIXES = ("/v2/", "/v3/")
AWS_TRANSLATE_PREFIX = "/aws-translate"


def in_service_shape(path: str, resp: Response) -> Response:
    """``resp`` (an Amazon ``ErrorList`` the emulator's front door wrote: 404, 405, 413) in the
    error shape of the service ``path`` belongs to; unchanged for SP-API paths."""
    if not path.startswith((*DEEPL_PREFIXES, AWS_TRANSLATE_PREFIX)):
        return resp
    try:
        error = json.loads(resp.body)["errors"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        return resp
    if path.startswith(AWS_TRANSLATE_PREFIX):
        body: dict[str, str] = {"__type": f"{error['code']}Exception",
                                "message": error["message"]}
    else:
        body = {"message": error["message"]}
    return json_response(resp.status, body, {k: v for k, v in resp.headers.items()
                                              if k.lower() != "content-type"})


def invalid_input(details: str = "") -> Response:
    message = "Request has missing or invalid parameters and cannot be parsed."
    return api_error(400, "InvalidInput", message, details)


# A handler takes the emulator's state (``state.EmulatorState``, a layer above this one, hence
# ``Any`` here), the request and its decoded path parameters.
Handler = Callable[[Any, Request, dict[str, str]], Response]


@dataclass(frozen=True)
class Route:
    """``pattern`` uses ``{name}`` placeholders for one path segment each."""

    method: str
    pattern: str
    operation: str  # Amazon's operationId, e.g. "patchListingsItem"; quotas are keyed by it
    handler: Handler
    auth: bool = True  # needs x-amz-access-token
    quota: bool = True  # subject to the per-operation token bucket
    scope: str | None = None  # a grantless operation: the LWA scope its token must carry
    unbound_ok: bool = False  # an unbound (permissive) token keeps its "any seller" identity
    logged: bool = True  # recorded in the call log (the emulator's own plumbing is not)

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        m = _compile(self.pattern).fullmatch(path)
        if m is None:
            return None
        return {k: unquote(v) for k, v in m.groupdict().items()}


_CACHE: dict[str, re.Pattern[str]] = {}


def _compile(pattern: str) -> re.Pattern[str]:
    rx = _CACHE.get(pattern)
    if rx is None:
        rx = re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern))
        _CACHE[pattern] = rx
    return rx
