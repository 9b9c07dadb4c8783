"""A real SQS-compatible server on loopback for the tests: moto in server mode.

``with sqs_server() as endpoint:`` starts moto's threaded server on a free 127.0.0.1 port and
yields its URL; boto3 clients built with ``endpoint_url=endpoint`` (and the fake credentials of
:data:`AWS_ENV`) then talk real SQS HTTP to it. It is stopped on exit. No network beyond loopback.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from reconciler.watch.localsqs import loopback_sqs

REGION = "us-east-1"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # moto accepts any; never a real secret
    "AWS_DEFAULT_REGION": REGION,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def sqs_server() -> Iterator[str]:
    with loopback_sqs() as endpoint:
        yield endpoint


def sqs_client(endpoint: str) -> Any:
    import boto3

    for k, v in AWS_ENV.items():
        os.environ.setdefault(k, v)
    return boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
