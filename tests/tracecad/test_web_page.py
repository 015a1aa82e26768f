"""The web app's page in real headless Chromium (Playwright, Debian's chromium; no browser is
downloaded): upload a logo, see the trace and the 3D part, set the width, download the STL.
Every request to any host but the server's is aborted, and the test checks that none was made."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("playwright.sync_api")

from webpage import HAVE_CHROMIUM, chromium, serving  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
AUDI = ROOT / "sample_images" / "audi.512.png"

pytestmark = pytest.mark.skipif(not HAVE_CHROMIUM, reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def server():
    with serving() as url:
        yield url


@pytest.fixture()
def browser(tmp_path):
    with chromium(tmp_path / "profile") as got:
        yield got


def test_upload_trace_view_resize_and_download(server, browser, tmp_path):
    import trimesh

    context, outside = browser
    page = context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    page.goto(server)
    page.set_input_files("#file", str(AUDI))
    page.wait_for_selector("#trace-panel[data-state=done]", timeout=20_000)  # (the photo shows first, then its trace)
    assert page.is_visible("#overlay")
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
