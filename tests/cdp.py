"""A small Chrome DevTools Protocol client for the report's browser tests.

Starts Debian's ``chromium`` headless with ``--remote-debugging-port=0`` (the port it picked is
read from ``DevToolsActivePort`` in its profile), talks to it over a loopback websocket
(``websockets``' sync client), opens a page and records what really happened in it: every
network request (``Network.requestWillBeSent``), console errors
(``Runtime.consoleAPICalled``), uncaught exceptions (``Runtime.exceptionThrown``) and browser
log errors (``Log.entryAdded``). No browser is downloaded: without the ``chromium`` package the
browser tests fail, unless ``RECONCILER_SKIP_BROWSER_TESTS=1`` opts a developer out.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

SKIP_ENV = "RECONCILER_SKIP_BROWSER_TESTS"


def chromium_or_fail() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe:
        return exe
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"no chromium and {SKIP_ENV}=1")
    pytest.fail("the report's browser test needs Debian's chromium package (`apt-get install "
                f"chromium`; .ci/run installs it); set {SKIP_ENV}=1 to skip it on purpose")


class Page:
    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    def send(self, method: str, params: dict[str, Any] | None = None,
             timeout: float = 30.0) -> dict[str, Any]:
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def evaluate(self, expression: str) -> Any:
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise AssertionError(f"page script failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 90.0) -> Any:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            v = self.evaluate(expression)
            if v:
                return v
            self.browser.pump(0.2)
        raise AssertionError(f"timed out waiting for {expression}")

    def screenshot(self, path: Path, *, top: float = 0, height: float | None = None) -> None:
        """A PNG of the whole page (or of ``height`` CSS pixels from ``top``)."""
        m = self.send("Page.getLayoutMetrics")
        size = m.get("cssContentSize") or m["contentSize"]
        full = min(size["height"], 16000)
        clip = {"x": 0, "y": top, "width": size["width"],
                "height": min(height or full, full - top), "scale": 1}
        r = self.send("Page.captureScreenshot", {"format": "png", "clip": clip,
                                                 "captureBeyondViewport": True}, timeout=120)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(r["data"]))

    # what the page did, from the recorded events
    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.browser.events
                if e.get("sessionId") == self.session
                and e["method"] == "Network.requestWillBeSent"]

    def errors(self) -> list[str]:
        out = []
        for e in self.browser.events:
            if e.get("sessionId") != self.session:
                continue
            p = e["params"]
            if e["method"] == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
                out.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                  for a in p.get("args", [])))
            elif e["method"] == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(p["exceptionDetails"])[:500])
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out


class Browser:
    def __init__(self, profile: Path) -> None:
        from websockets.sync.client import connect

        exe = chromium_or_fail()
        profile.mkdir(parents=True, exist_ok=True)
        args = [exe, "--headless", "--disable-gpu", "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps", "--mute-audio",
                "--hide-scrollbars", "--window-size=1200,900", "about:blank"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        end = time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if self.proc.poll() is not None or time.monotonic() > end:
                self.close()
                raise AssertionError("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        self.stack = contextlib.ExitStack()
        self.ws = self.stack.enter_context(
            connect(f"ws://127.0.0.1:{int(port)}{path}", max_size=None, open_timeout=30))
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                msg = json.loads(self.ws.recv(timeout=left))
            except TimeoutError:
                return
            if "method" in msg:
                self.events.append(msg)

    def send(self, method: str, params: dict[str, Any] | None = None, *, session: str = "",
             timeout: float = 30.0) -> dict[str, Any]:
        i = next(self.ids)
        msg: dict[str, Any] = {"id": i, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no answer to {method}")
            reply = json.loads(self.ws.recv(timeout=left))
            if reply.get("id") == i:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            if "method" in reply:
                self.events.append(reply)

    def open(self, width: int = 1200, height: int = 900) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        page = Page(self, session["sessionId"])
        for domain in ("Network", "Runtime", "Log", "Page"):
            page.send(f"{domain}.enable")
        page.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        return page

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            with contextlib.suppress(Exception):  # closing anyway
                self.send("Browser.close", timeout=5)
            self.stack.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


# Counts, per chart, what Vega drew: the items of every data mark (``g.role-mark``) in its SVG.
MARKS_JS = """(() => Array.from(document.querySelectorAll('figure.chart')).map(f => ({
  id: f.id, expected: Number(f.dataset.expectedMarks),
  drawn: f.querySelectorAll('svg g.role-mark > *').length,
  svg: !!f.querySelector('svg'), label: (f.querySelector('svg') || {getAttribute: () => ''})
    .getAttribute('aria-label'), error: f.dataset.error || ''})))()"""
