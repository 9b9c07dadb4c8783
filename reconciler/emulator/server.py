"""The emulator as a real HTTP/1.1 server (``reconciler emulator serve``).

A ``ThreadingHTTPServer`` with keep-alive: each connection gets a thread that converts requests
to :class:`~reconciler.emulator.http.Request`, calls ``Emulator.handle`` and writes the response.
Bodies larger than ``config.max_body_bytes`` get 413 without being read (then the connection is
closed). Injected faults: ``reset`` closes the socket with an RST (SO_LINGER 0) before any byte
of the response, ``timeout`` holds the connection ``config.timeout_fault_s`` seconds and closes it.

:func:`serve_until_signalled` runs the server on a background thread and blocks until SIGINT or
SIGTERM, then shuts down cleanly (stops accepting, closes the listening socket and the db).
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from urllib.parse import parse_qs

from .app import Emulator, too_large
from .faults import FaultTimeout
from .http import Request, Response, api_error, invalid_input

IDLE_TIMEOUT_S = 60.0


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emu: Emulator, *, log: bool = False) -> None:
        self.emu = emu
        self.log_requests = log
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Server"
    sys_version = ""
    timeout = IDLE_TIMEOUT_S
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log_requests:
            super().log_message(format, *args)

    def __getattr__(self, name: str) -> Any:
        # Any method reaches the emulator, which answers an unknown one with Amazon's 405
        # (BaseHTTPRequestHandler would send an HTML 501).
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors BaseHTTPRequestHandler raises itself (bad request line, header or version,
        request line too long, too many headers) as Amazon's ErrorList with a request id, in
        HTTP/1.1 and never 5xx, instead of its HTML page."""
        status = code if 400 <= code < 500 else 400
        names = {414: "RequestURITooLong", 431: "RequestHeaderFieldsTooLarge"}
        resp = (
            invalid_input(message or "")
            if status == 400
            else api_error(status, names.get(status, "InvalidInput"), message or "Bad request.")
        )
        self.request_version = "HTTP/1.1"  # a garbled request line left it at HTTP/0.9
        self.close_connection = True
        raw = str(getattr(self, "path", "") or "")
        req = Request(
            method=str(getattr(self, "command", "") or "")[:32],
            path=raw.partition("?")[0][:2048],
            query={},
            headers={},
        )
        try:
            resp = self.server.emu.refuse(req, resp)
        except Exception:  # the db is closed (shutting down): answer without logging
            resp.headers.setdefault("x-amzn-RequestId", str(uuid.uuid4()))
        self._write(resp, close=True)

    def _serve(self) -> None:
        emu = self.server.emu
        if self.request_version == "HTTP/0.9":  # no headers, no status line: not SP-API
            self.send_error(400, "HTTP/0.9 requests are not supported")
            return
        raw_path, _, qs = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        host = headers.get("host") or "{}:{}".format(*self.server.server_address[:2])
        req = Request(
            method=self.command,
            path=raw_path,
            query=parse_qs(qs, keep_blank_values=True),
            headers=headers,
            base_url=f"http://{host}",
        )
        length_s = self.headers.get("Content-Length")
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        body = b""
        try:
            length = int(length_s) if length_s else 0
            if length < 0:
                raise ValueError(length_s)
        except ValueError:
            self._write(emu.refuse(req, invalid_input("Bad Content-Length")), close=True)
            return
        if length > emu.config.max_body_bytes:
            self._write(emu.refuse(req, too_large()), close=True)
            return
        if chunked:
            try:
                got = self._read_chunked(emu.config.max_body_bytes)
            except ValueError:
                self._write(emu.refuse(req, invalid_input("Bad chunked encoding")), close=True)
                return
            if got is None:
                self._write(emu.refuse(req, too_large()), close=True)
                return
            body = got
        elif length:
            body = self.rfile.read(length)
        req = dataclasses.replace(req, body=body)
        try:
            resp = emu.handle(req)
        except ConnectionResetError:
            self._reset()
            return
        except FaultTimeout:
            time.sleep(emu.config.timeout_fault_s)
            self.close_connection = True
            return
        except Exception:  # only while shutting down (the db is closed); handle() never raises
            self.close_connection = True
            return
        self._write(resp, close=self.close_connection)

    def _read_chunked(self, limit: int) -> bytes | None:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(65537)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > limit:
                return None
            parts.append(self.rfile.read(size))
            self.rfile.readline(65537)

    def _reset(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def _write(self, resp: Response, *, close: bool = False) -> None:
        self.send_response_only(resp.status)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(resp.body)))
        self.send_header("Date", self.date_time_string())
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)
        if self.server.log_requests:
            self.log_request(resp.status, len(resp.body))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


def make_server(
    emu: Emulator, host: str = "127.0.0.1", port: int = 0, *, log: bool = False
) -> EmulatorHTTPServer:
    return EmulatorHTTPServer((host, port), emu, log=log)


@contextlib.contextmanager
def running(emu: Emulator, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``emu`` on a background thread for the duration of the block; yields the base URL.
    The emulator itself is left open (the caller owns it)."""
    server = make_server(emu, host, port)
    t = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name="emulator-http",
        daemon=True,
    )
    t.start()
    stop = threading.Event()
    ticker = _start_ticker(emu, stop)
    try:
        yield server.url
    finally:
        stop.set()
        if ticker is not None:
            ticker.join(5)
        server.shutdown()
        t.join(5)
        server.server_close()


TICK_S = 0.2  # how often a publishing emulator advances Amazon time without requests


def _start_ticker(emu: Emulator, stop: threading.Event) -> threading.Thread | None:
    """When the emulator publishes notifications (``config.sqs_endpoint``), tick it every
    :data:`TICK_S` so that what happens in Amazon time (a feed finishing, a write becoming
    visible) is notified without anyone polling, as Amazon does."""
    if emu.config.sqs_endpoint is None:
        return None

    def loop() -> None:
        while not stop.wait(TICK_S):
            try:
                emu.tick()
            except Exception:  # a module's bug (a request would answer 500) or a closed db
                with emu.lock, contextlib.suppress(Exception):
                    if emu.db.in_transaction:
                        emu.db.execute("ROLLBACK")

    t = threading.Thread(target=loop, name="emulator-ticker", daemon=True)
    t.start()
    return t


def serve_until_signalled(
    server: EmulatorHTTPServer, ready: Callable[[str], None] | None = None
) -> None:
    """Serve until SIGINT/SIGTERM (main thread only), then shut down cleanly."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    t = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.2},
        name="emulator-http",
        daemon=True,
    )
    t.start()
    ticks = threading.Event()
    ticker = _start_ticker(server.emu, ticks)
    try:
        if ready is not None:
            ready(server.url)
        while not stop.wait(0.5):
            pass
    finally:
        ticks.set()
        if ticker is not None:
            ticker.join(5)
        server.shutdown()
        t.join(5)
        server.server_close()
        server.emu.close()
        for s, h in old.items():
            signal.signal(s, h)
