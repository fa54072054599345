"""Headless Debian Chromium for the browser tests: one way to start it, one CSP check,
and a real server on a loopback port for it to open."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from werkzeug.serving import BaseWSGIServer, make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = "/usr/bin/chromedriver"
# As this machine's network needs: no background connections, no first-run work.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)
WAIT = 10  # seconds an explicit wait may take before the test fails


def skip_without_chromium() -> None:
    """Skip the calling test module on a machine without Debian's Chromium."""
    if not CHROMIUM.exists():
        reason = "needs Debian's chromium at /usr/bin/chromium (`make browsers` installs it)"
        pytest.skip(reason, allow_module_level=True)  # allowed: chromium absent on a user machine


@contextmanager
def chromium() -> Iterator[WebDriver]:
    """A headless Chromium with a throwaway profile and the browser log kept."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.TemporaryDirectory(prefix="trustline-chromium-")
    options.add_argument(f"--user-data-dir={profile.name}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_script_timeout(WAIT)
    try:
        yield browser
    finally:
        browser.quit()
        profile.cleanup()


def csp_refusals(driver: WebDriver) -> list[str]:
    """What the browser refused since the log was last read (CSP and MIME refusals)."""
    return [
        e["message"]
        for e in driver.get_log("browser")
        if "Content Security Policy" in e["message"] or "Refused to" in e["message"]
    ]


class Server:
    """A werkzeug server in a thread, on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self.httpd: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
