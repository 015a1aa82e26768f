"""The web app's real page for the browser tests: ``tracecad serve`` as a user starts it, and headless
Chromium (Debian's package, driven by Playwright, which downloads no browser) that aborts and records
every request to any host but the server's."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
HAVE_CHROMIUM = os.access(CHROMIUM, os.X_OK)


@contextmanager
def serving(workers: int = 2):
    """``tracecad serve`` on a free port; yields its address (``http://127.0.0.1:PORT/``)."""
    proc = subprocess.Popen([sys.executable, "-m", "tracecad", "serve", "--port", "0", "--workers", str(workers)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    try:
        line = proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
        assert m, line
        url = m.group(1)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "api/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()


@contextmanager
def chromium(profile: Path, viewport=(1400, 900)):
    """A headless Chromium context; yields ``(context, outside)``, ``outside`` the addresses it refused."""
    from playwright.sync_api import sync_playwright  # (the test extra)

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            accept_downloads=True, bypass_csp=True, viewport={"width": viewport[0], "height": viewport[1]})
        outside: list[str] = []

        def guard(route):
            host = re.match(r"^[a-z]+://([^/:]+)", route.request.url)
            if route.request.url.startswith(("data:", "blob:")) or (host and host.group(1) == "127.0.0.1"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        try:
            yield context, outside
        finally:
            context.close()
