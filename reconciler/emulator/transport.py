"""An ``httpx.BaseTransport`` that serves requests from an :class:`Emulator` in-process.

``httpx.Client(transport=emu.transport(), base_url="https://sellingpartnerapi-na.amazon.com")``
talks to the emulator without a socket; any host works (LWA's ``api.amazon.com`` included).
Injected ``reset``/``timeout`` faults surface as ``httpx.ReadError``/``httpx.ReadTimeout``, the
errors a real connection would raise.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import parse_qs

import httpx

from .faults import FaultTimeout
from .http import Request, Response


class Service(Protocol):
    """What a transport needs of the emulator (``app.Emulator``)."""

    def handle(self, req: Request) -> Response: ...


class EmulatorTransport(httpx.BaseTransport):
    def __init__(self, emu: Service) -> None:
        self.emu = emu

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raw = request.url.raw_path.decode("ascii", "replace")
        path, _, qs = raw.partition("?")
        url = request.url
        default_port = {"http": 80, "https": 443}.get(url.scheme)
        host = url.host if url.port in (None, default_port) else f"{url.host}:{url.port}"
        req = Request(
            method=request.method,
            path=path,
            query=parse_qs(qs, keep_blank_values=True),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=request.read(),
            base_url=f"{url.scheme}://{host}",
        )
        try:
            resp = self.emu.handle(req)
        except ConnectionResetError as e:
            raise httpx.ReadError(str(e), request=request) from e
        except FaultTimeout as e:
            raise httpx.ReadTimeout(str(e), request=request) from e
        return httpx.Response(
            resp.status,
            headers=list(resp.headers.items()),
            content=resp.body,
            request=request,
        )
