"""Pictures of the web app for docs/web.md, taken from the real page in headless Chromium.

Starts `tracecad serve` on a free port, uploads sample images and saves:
docs/web-page.png (audi.512.png, 80 mm wide), docs/web-colours.png (target_nested.png, --colors auto) and
docs/web-photo.png (a sheet photographed at an angle, drawn by tests/photo_scenes.py: four clicked
corners and a picked point).

Run: .venv/bin/python scripts/screenshots.py  (needs Debian's chromium and the test extra's playwright)
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def shoot(page, url: str, image: Path, settings: dict[str, str], out: Path) -> None:
    page.goto(url)
    page.set_input_files("#file", str(image))
    page.wait_for_selector("#part-panel[data-state=done]", timeout=60_000)
    for sel, value in settings.items():
        if page.get_attribute(sel, "type") == "number":
            page.fill(sel, value)
        else:
            page.select_option(sel, value)
    if settings:
        page.wait_for_selector("#part-panel[data-state=busy]", timeout=10_000)
        page.wait_for_selector("#part-panel[data-state=done]", timeout=60_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(out), full_page=True)
    print(f"wrote {out.relative_to(ROOT)}")


def shoot_photo(page, url: str, out: Path) -> None:
    """A sheet seen at an angle: its four corners clicked, then a point on the disc picked."""
    spec = importlib.util.spec_from_file_location("photo_scenes", ROOT / "tests" / "photo_scenes.py")
    scenes = importlib.util.module_from_spec(spec)
    sys.modules["photo_scenes"] = scenes
    spec.loader.exec_module(scenes)
    art = np.zeros((400, 300), np.float32)
    cv2.circle(art, (150, 150), 80, 1, -1)
    cv2.rectangle(art, (60, 280), (240, 340), 1, -1)
    sc = scenes.render(art, sheet_wh=(600, 800), photo_wh=(800, 600), tilt_deg=30, axis_deg=60, focal_35mm=26,
                       seed=3)
    page.goto(url)
    page.set_input_files("#file", {"name": "sheet.jpg", "mimeType": "image/jpeg", "buffer": sc.jpeg})
    page.wait_for_selector("#marks[viewBox]", timeout=60_000)
    page.wait_for_selector("#part-panel[data-state=done]", timeout=60_000)
    box = page.locator("#overlay").bounding_box()

    def click(x: float, y: float) -> None:
        page.mouse.click(box["x"] + x / 800 * box["width"], box["y"] + y / 600 * box["height"])

    page.click("#tools button[data-tool=corners]")
    for x, y in sc.corners:
        click(float(x), float(y))
    page.click("#tools button[data-tool=pick]")
    sheet_to_photo = cv2.getPerspectiveTransform(np.float32([[0, 0], [600, 0], [600, 800], [0, 800]]),
                                                 np.float32(sc.corners))
    x, y = cv2.perspectiveTransform(np.float32([[[300, 300]]]), sheet_to_photo)[0, 0]
    click(float(x), float(y))
    page.wait_for_selector("#part-panel[data-state=done]", timeout=60_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(out), full_page=True)
    print(f"wrote {out.relative_to(ROOT)}")


def main() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tracecad", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)
    try:
        url = re.search(r"(http://\S+/)", proc.stdout.readline()).group(1)
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "api/health", timeout=2).close()
                break
            except OSError:
                time.sleep(0.1)
        with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
            ctx = pw.chromium.launch_persistent_context(profile, executable_path="/usr/bin/chromium", args=ARGS,
                                                        headless=True, viewport={"width": 1400, "height": 820})
            page = ctx.new_page()
            samples = ROOT / "sample_images"
            shoot(page, url, samples / "audi.512.png", {"#width": "80"}, ROOT / "docs" / "web-page.png")
            shoot(page, url, samples / "target_nested.png", {"#colors": "auto"}, ROOT / "docs" / "web-colours.png")
            shoot_photo(page, url, ROOT / "docs" / "web-photo.png")
            ctx.close()
    finally:
        proc.terminate()
        proc.wait(20)


if __name__ == "__main__":
    main()
