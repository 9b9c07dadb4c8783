"""A real SQS-compatible server on loopback: moto in server mode (``moto[server]``).

For ``reconciler demo --watch`` and the tests: boto3 clients built with ``endpoint_url`` set to
the yielded URL talk real SQS HTTP to it. Production uses Amazon SQS with the same code.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from reconciler.kernel.errors import ReconcilerError


@contextmanager
def loopback_sqs() -> Iterator[str]:
    """Start moto's threaded server on a free 127.0.0.1 port, yield its URL, stop it on exit."""
    try:
        from moto.server import ThreadedMotoServer  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        raise ReconcilerError("a local SQS server needs moto: pip install 'moto[server]', or "
                              "pass --sqs-endpoint URL") from None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    # werkzeug (under moto's server) logs every request on stderr whatever `verbose` says
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
