"""Shared fixtures. The autouse ``no_network`` guard fails any test that tries to reach a
non-loopback address (no Amazon endpoint may ever be contacted from the suite)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_SPAPI = ROOT.parent / "shared" / "spapi"
SAMPLE_CATALOG = ROOT / "catalog"


class YouForgotToStayOnLoopback(AssertionError):
    pass


def _is_loopback(host: Any) -> bool:
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else address
            if not _is_loopback(host):
                raise YouForgotToStayOnLoopback(f"test tried to reach {address!r}")

    def connect(self: socket.socket, address: Any) -> Any:
        check(self, address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        check(self, address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield


@pytest.fixture(autouse=True)
def isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own state dir so the embedded emulator never leaks between tests."""
    d = tmp_path / "state"
    monkeypatch.setenv("RECONCILER_STATE_DIR", str(d))
    # the audit log defaults to a path relative to the working directory: keep tests' lines
    # out of the checkout
    monkeypatch.setenv("RECONCILER_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    return d


def pytest_addoption(parser: pytest.Parser) -> None:
    # Golden files (tests/golden/) are compared as whole files; regenerating them takes this
    # explicit flag: `python -m pytest tests/test_render.py --update-goldens`.
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite golden files under tests/golden/ instead of comparing against them",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    # Conformance count (tests/spapi_models.py): printed only when a test validated something.
    import sys

    models = sys.modules.get("tests.spapi_models")
    if models is not None and (models.STATS["validated"] or models.STATS["violations"]):
        terminalreporter.write_line(models.summary_line())
