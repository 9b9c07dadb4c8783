import socket

import pytest

from tests.conftest import YouForgotToStayOnLoopback


def test_non_loopback_connect_is_refused() -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(YouForgotToStayOnLoopback):
            s.connect(("93.184.216.34", 443))
    finally:
        s.close()


def test_loopback_connect_is_allowed() -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    c = socket.socket()
    try:
        c.connect(srv.getsockname())
    finally:
        c.close()
        srv.close()
