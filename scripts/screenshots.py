"""Pictures of the web app for docs/web.md, taken from the real page in headless Chromium.

Starts `tracecad serve` on a free port, uploads sample images and saves:
docs/web-page.png (audi.512.png, 80 mm wide) and docs/web-colours.png (target_nested.png, --colors auto).

Run: .venv/bin/python scripts/screenshots.py  (needs Debian's chromium and the test extra's playwright)
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

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
            ctx.close()
    finally:
        proc.terminate()
        proc.wait(20)


if __name__ == "__main__":
    main()
