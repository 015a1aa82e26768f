"""The web app's page in real headless Chromium (Playwright, Debian's chromium; no browser is
downloaded): upload a logo, see the trace and the 3D part, set the width, download the STL.
Every request to any host but the server's is aborted, and the test checks that none was made."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
playwright_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[2]
AUDI = ROOT / "sample_images" / "audi.512.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def server():
    """``tracecad serve`` on a free port, as a user starts it."""
    proc = subprocess.Popen([sys.executable, "-m", "tracecad", "serve", "--port", "0", "--workers", "2"],
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


@pytest.fixture()
def browser(tmp_path):
    with playwright_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            accept_downloads=True, bypass_csp=True, viewport={"width": 1400, "height": 900})
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


def test_upload_trace_view_resize_and_download(server, browser, tmp_path):
    import trimesh

    context, outside = browser
    page = context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    page.goto(server)
    page.set_input_files("#file", str(AUDI))
    page.wait_for_selector("#overlay:not([hidden])", timeout=20_000)
    assert page.eval_on_selector("#overlay", "img => img.naturalWidth") >= 1024
    page.wait_for_selector("#part-panel[data-state=done]", timeout=30_000)
    assert page.is_visible("#viewer canvas")
    assert re.match(r"50\.00 × ", page.inner_text("#part-size"))
    assert page.is_hidden("#error")
    labels = page.eval_on_selector_all("#downloads a[download]", "as => as.map(a => a.textContent)")
    assert {"STEP", "STL", "3MF", "SVG"} <= set(labels)

    page.fill("#width", "80")
    page.wait_for_function("document.getElementById('part-size').textContent.startsWith('80.00 ×')",
                           timeout=30_000)
    page.wait_for_function("document.getElementById('trace-size').textContent.includes('80.00 ×')",
                           timeout=10_000)
    with page.expect_download() as got:
        page.click("#downloads a:text-is('STL')")
    path = tmp_path / "part.stl"
    got.value.save_as(path)
    mesh = trimesh.load(path, file_type="stl")
    assert mesh.is_watertight
    assert abs(mesh.extents[0] - 80) < 0.05

    page.set_input_files("#file", {"name": "notes.png", "mimeType": "image/png", "buffer": b"not a picture"})
    page.wait_for_selector("#error:not([hidden])", timeout=20_000)
    assert "notes.png" in page.inner_text("#error") and "Traceback" not in page.inner_text("#error")
    assert not page_errors, page_errors
    assert outside == [], outside
