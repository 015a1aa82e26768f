"""The photo tools of the web app's page in real headless Chromium (Debian's chromium through Playwright):
a click picks the subject, a drag crops, four clicks square up a sheet seen at an angle. Each test
checks the part the page built against the true shape, not only that a file came back."""

from __future__ import annotations

import io
import math
import re
import urllib.request

import cv2
import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("playwright.sync_api")
trimesh = pytest.importorskip("trimesh")

from photo_scenes import render  # noqa: E402
from webpage import HAVE_CHROMIUM, chromium, serving  # noqa: E402

pytestmark = pytest.mark.skipif(not HAVE_CHROMIUM, reason="Debian's chromium is not installed")

W, H, SS = 480, 360, 8
THICKNESS = 3.0  # the page's default


def two_shapes() -> tuple[bytes, dict[str, np.ndarray]]:
    """A red disc and a blue square on white (anti-aliased), as PNG bytes, and their true masks."""
    big = np.full((H * SS, W * SS, 3), 255, np.uint8)
    masks = {}
    for name, colour, draw in (
            ("disc", (220, 40, 40), lambda m: cv2.circle(m, (130 * SS, 180 * SS), 80 * SS, 1, -1)),
            ("square", (40, 60, 210), lambda m: cv2.rectangle(m, (290 * SS, 100 * SS), (430 * SS - 1, 240 * SS - 1), 1, -1))):
        m = np.zeros((H * SS, W * SS), np.uint8)
        draw(m)
        big[m.astype(bool)] = colour
        masks[name] = cv2.resize(m.astype(np.float32), (W, H), interpolation=cv2.INTER_AREA) >= 0.5
    small = cv2.resize(big, (W, H), interpolation=cv2.INTER_AREA)
    buf = io.BytesIO()
    Image.fromarray(small).save(buf, format="PNG")
    return buf.getvalue(), masks


def footprint(mesh, n: int = 96) -> np.ndarray:
    """The top face seen from +Z rasterised into an n x n grid over its bounding box (row 0 = +Y)."""
    top = mesh.triangles[mesh.triangles[:, :, 2].min(axis=1) > mesh.bounds[1][2] - 1e-6][:, :, :2]
    (x0, y0), (x1, y1) = mesh.bounds[0][:2], mesh.bounds[1][:2]
    grid = np.zeros((n, n), np.uint8)
    for t in top:
        px = np.round((t[:, 0] - x0) / (x1 - x0) * n * 16).astype(np.int32)
        py = np.round((y1 - t[:, 1]) / (y1 - y0) * n * 16).astype(np.int32)
        cv2.fillPoly(grid, [np.stack([px, py], 1)], 1, shift=4)
    return grid.astype(bool)


def normalised(mask: np.ndarray, n: int = 96) -> np.ndarray:
    """A true mask cropped to its bounding box and resized to n x n, to compare with :func:`footprint`."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    crop = mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.float32)
    return cv2.resize(crop, (n, n), interpolation=cv2.INTER_AREA) >= 0.5


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def bbox_aspect(mask: np.ndarray) -> float:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return (rows[-1] - rows[0] + 1) / (cols[-1] - cols[0] + 1)


@pytest.fixture(scope="module")
def server():
    with serving() as url:
        yield url


@pytest.fixture()
def page(server, tmp_path):
    with chromium(tmp_path / "profile") as (context, outside):
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server)
        yield page
        assert not errors, errors
        assert outside == [], outside


def upload(page, name: str, data: bytes, mime: str) -> None:
    page.set_input_files("#file", {"name": name, "mimeType": mime, "buffer": data})
    page.wait_for_selector("#marks[viewBox]", timeout=20_000)  # the photo to click on has arrived
    page.wait_for_selector("#part-panel[data-state=done]", timeout=60_000)


def screen(page, x: float, y: float, size) -> tuple[float, float]:
    """Where on the screen the photo's pixel position (x, y) is drawn (the picture is scaled by CSS)."""
    box = page.locator("#overlay").bounding_box()
    return box["x"] + x / size[0] * box["width"], box["y"] + y / size[1] * box["height"]


def built_part(page, server):
    """After a change: wait for the new part, then fetch its STL through the page's download link."""
    page.wait_for_selector("#part-panel[data-state=done]", timeout=60_000)
    assert page.is_hidden("#error"), page.inner_text("#error")
    href = page.get_attribute("#downloads a:text-is('STL')", "href")
    with urllib.request.urlopen(server.rstrip("/") + href, timeout=30) as r:
        mesh = trimesh.load(io.BytesIO(r.read()), file_type="stl")
    assert mesh.is_watertight
    return mesh


def area_mm2(mesh) -> float:
    return float(mesh.volume / THICKNESS)


def test_a_click_picks_one_shape_and_the_part_is_that_shape(page, server):
    png, masks = two_shapes()
    upload(page, "shapes.png", png, "image/png")
    # a click on the disc: the part is the disc alone, 50 mm wide (its own width)
    page.mouse.click(*screen(page, 130, 180, (W, H)))
    assert page.locator("#picks li").count() == 1
    mesh = built_part(page, server)
    disc = masks["disc"]
    assert iou(footprint(mesh), normalised(disc)) >= 0.95
    assert iou(footprint(mesh), normalised(masks["square"])) < 0.85
    scale = 50.0 / (np.ptp(np.flatnonzero(disc.any(0))) + 1)  # mm per pixel
    assert abs(area_mm2(mesh) / (math.pi * 80 ** 2 * scale ** 2) - 1) < 0.02
    report = page.inner_text("#photo-report")
    assert "Picked points" in report and "#dc2828" in report
    (px, py), = [tuple(map(float, t.strip("() ").split(","))) for t in
                 page.eval_on_selector_all("#picks li", "ls => ls.map(l => l.firstChild.textContent)")]
    assert abs(px - 130) < 2 and abs(py - 180) < 2  # the photo's pixels, not the screen's

    # a second click on the square adds it; keep the largest part: the disc (pi 80^2 > 140^2 pixels);
    # remove the first point: the square alone
    page.mouse.click(*screen(page, 360, 170, (W, H)))
    assert page.locator("#picks li").count() == 2
    mesh = built_part(page, server)
    both = masks["disc"] | masks["square"]
    assert iou(footprint(mesh), normalised(both)) >= 0.93
    page.select_option("#keep-mode", "largest")
    mesh = built_part(page, server)
    assert iou(footprint(mesh), normalised(disc)) >= 0.95
    assert "kept 1 of 2 (largest)" in page.inner_text("#photo-report")
    page.click("#picks li:first-child button")
    mesh = built_part(page, server)
    assert iou(footprint(mesh), normalised(masks["square"])) >= 0.95
    page.click("#clear-picks")
    assert page.locator("#picks li").count() == 0


def test_a_dragged_crop_keeps_the_shape_inside_it(page, server):
    png, masks = two_shapes()
    upload(page, "shapes.png", png, "image/png")
    page.click("#tools button[data-tool=crop]")
    page.mouse.move(*screen(page, 270, 80, (W, H)))
    page.mouse.down()
    page.mouse.move(*screen(page, 360, 170, (W, H)), steps=4)
    page.mouse.move(*screen(page, 455, 265, (W, H)), steps=4)
    page.mouse.up()
    x, y, w, h = map(float, page.input_value("#crop").split(","))
    assert abs(x - 270) <= 2 and abs(y - 80) <= 2 and abs(x + w - 455) <= 2 and abs(y + h - 265) <= 2
    assert page.locator("#marks rect.crop").count() == 1
    mesh = built_part(page, server)
    square = masks["square"]
    assert iou(footprint(mesh), normalised(square)) >= 0.95
    scale = 50.0 / 140
    assert abs(area_mm2(mesh) / (140 * 140 * scale ** 2) - 1) < 0.02
    assert "Crop" in page.inner_text("#photo-report")
    page.click("#clear-crop")
    assert page.input_value("#crop") == ""
    mesh = built_part(page, server)
    extent = mesh.extents
    assert abs(extent[1] / extent[0] - bbox_aspect(masks["disc"] | square)) < 0.02  # both shapes again


def test_four_clicked_corners_square_up_a_sheet(page, server):
    art = np.zeros((400, 300), np.float32)  # the sheet's artwork: a disc over a bar (asymmetric top to bottom)
    cv2.circle(art, (150, 150), 80, 1, -1)
    cv2.rectangle(art, (60, 280), (240, 340), 1, -1)
    sc = render(art, sheet_wh=(600, 800), photo_wh=(800, 600), tilt_deg=30, axis_deg=60, focal_35mm=26, seed=3)
    upload(page, "sheet.jpg", sc.jpeg, "image/jpeg")
    page.click("#tools button[data-tool=corners]")
    for x, y in sc.corners[[2, 0, 3, 1]]:  # in any order
        page.mouse.click(*screen(page, x, y, (800, 600)))
    assert page.input_value("#perspective-mode") == "corners"
    assert page.locator("#marks circle.corner").count() == 4
    mesh = built_part(page, server)
    report = page.inner_text("#photo-report")
    assert "Corners used" in report and "Aspect" in report
    truth = art >= 0.5
    assert iou(footprint(mesh), normalised(truth)) >= 0.93
    # the aspect of the squared-up artwork is the true one (the sheet's is 3:4 and the art fills its width)
    assert abs((mesh.extents[1] / mesh.extents[0]) / bbox_aspect(truth) - 1) < 0.03
    # a fifth click moves the nearest corner; "Clear corners" removes them all
    x, y = sc.corners[0]
    page.mouse.click(*screen(page, x + 3, y + 3, (800, 600)))
    assert page.locator("#marks circle.corner").count() == 4
    page.click("#clear-corners")
    assert page.locator("#marks circle.corner").count() == 0


def test_a_click_on_a_turned_photo_is_in_its_turned_pixels(page):
    """A JPEG whose EXIF orientation turns it a quarter: the page shows it turned, and a click is read in the
    turned photo's pixels (the command line's frame), here on its lower, blue half."""
    raw = np.zeros((120, 200, 3), np.uint8)
    raw[:, :100] = (220, 40, 40)
    raw[:, 100:] = (40, 60, 210)
    exif = Image.Exif()
    exif[0x0112] = 6  # turn a quarter clockwise: 120 wide, 200 high, red above, blue below
    buf = io.BytesIO()
    Image.fromarray(raw).save(buf, format="JPEG", quality=95, exif=exif.tobytes())
    page.set_input_files("#file", {"name": "turned.jpg", "mimeType": "image/jpeg", "buffer": buf.getvalue()})
    page.wait_for_selector("#marks[viewBox='0 0 120 200']", timeout=20_000)
    # (the first trace, without a point, finds no subject in two halves: the photo stays shown)
    page.wait_for_selector("#trace-panel:is([data-state=done], [data-state=error])", timeout=60_000)
    box = page.locator("#overlay").bounding_box()
    assert abs(box["height"] / box["width"] - 200 / 120) < 0.02  # shown turned
    page.mouse.click(*screen(page, 60, 150, (120, 200)))
    page.wait_for_function("document.getElementById('photo-report').textContent.includes('Picked points')",
                           timeout=60_000)
    report = page.inner_text("#photo-report")
    colour = re.search(r"#([0-9a-f]{6})", report).group(1)
    assert np.abs(np.array([int(colour[i:i + 2], 16) for i in (0, 2, 4)]) - (40, 60, 210)).max() < 12
    point = re.search(r"\(([\d.]+), ([\d.]+)\)", report)
    assert abs(float(point.group(1)) - 60) < 2 and abs(float(point.group(2)) - 150) < 2
