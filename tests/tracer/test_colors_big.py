"""--colors on images larger than the palette sample and the mixing band (tracer.colors).

A large image's palette is fitted on a jittered-grid sample and its pixels are mixed in bands of
rows; the results must still be those of the drawn shapes, banding must not change a single
label, and sampling must give the palette and labels of the whole image.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tracer import colors
from tracer.colors import BACKGROUND, label_colors
from tracer.types import Image, IsolateParams

WHITE, RED, BLUE, GREEN, YELLOW = (255, 255, 255), (220, 40, 40), (40, 70, 200), (40, 170, 60), (250, 220, 40)


def _disc(h, w, cx, cy, r):
    """Anti-aliased coverage of a disc (pixel centres at +0.5)."""
    yy, xx = np.ogrid[:h, :w]
    return np.clip(r - np.hypot(xx + 0.5 - cx, yy + 0.5 - cy) + 0.5, 0.0, 1.0)


def _box(h, w, x0, x1, y0, y1):
    """Exact area coverage of an axis-aligned box with fractional edges."""
    def overlap(n, a, b):
        i = np.arange(n)
        return np.clip(np.minimum(i + 1, b) - np.maximum(i, a), 0.0, 1.0)
    return overlap(h, y0, y1)[:, None] * overlap(w, x0, x1)[None, :]


def _paint(h, w, layers, noise=0.0, blur=0.0, seed=0):
    """Composite ``(colour, coverage)`` layers over white, as uint8 RGB (optionally blurred, with
    Gaussian noise)."""
    rgb = np.empty((h, w, 3), np.float32)
    rgb[:] = WHITE
    for colour, cov in layers:
        c = cov.astype(np.float32)[..., None]
        rgb = rgb * (1 - c) + np.array(colour, np.float32) * c
    if blur:
        import cv2

        rgb = cv2.GaussianBlur(rgb, (0, 0), blur)
    if noise:
        rgb += np.random.default_rng(seed).normal(0, noise, rgb.shape).astype(np.float32)
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def _target(h=1400, w=1600):
    """Red disc, blue disc, green square (a target), a small yellow square in the red ring; with areas.

    The squares have whole-pixel edges (a working pixel of scale 1 takes one colour; the discs'
    boundary pixels, covered by every fraction, balance out)."""
    u = min(h, w) / 1400
    cx, cy = w / 2 + 0.3, h / 2 - 0.2
    r1, r2, g, ys = 650.4 * u, 400.7 * u, round(500 * u), round(40 * u)
    gx, gy = round(cx - g / 2), round(cy - g / 2)
    yx, yy = round(cx + 470 * u), round(cy - ys / 2)  # the yellow square sits in the red ring
    layers = [(RED, _disc(h, w, cx, cy, r1)), (BLUE, _disc(h, w, cx, cy, r2)),
              (GREEN, _box(h, w, gx, gx + g, gy, gy + g)), (YELLOW, _box(h, w, yx, yx + ys, yy, yy + ys))]
    areas = {RED: math.pi * (r1**2 - r2**2) - ys**2, BLUE: math.pi * r2**2 - g**2, GREEN: g**2, YELLOW: ys**2}
    return _paint(h, w, layers), areas


def _by_colour(lab):
    """{drawn colour: palette index} (nearest), and the largest error of a palette colour, /255."""
    out, err = {}, 0.0
    for k in lab.colors:
        rgb = lab.palette.rgb[k] * 255
        c = min((RED, BLUE, GREEN, YELLOW), key=lambda c: float(np.abs(rgb - c).sum()))
        out[c] = k
        err = max(err, float(np.abs(rgb - c).max()))
    return out, err


def test_large_flat_logo_has_the_drawn_colours_and_areas(monkeypatch):
    px, areas = _target()
    h, w = px.shape[:2]
    # The sampled, banded path: images above PALETTE_ALL_PX (4 MP) sample PALETTE_SAMPLE_PX pixels;
    # this 2.2 MP image (kept small for speed) takes that path at the default sample size.
    monkeypatch.setattr(colors, "PALETTE_ALL_PX", colors.PALETTE_SAMPLE_PX)
    assert h * w > colors.PALETTE_SAMPLE_PX and h * w > colors.BAND_PX
    lab = label_colors(Image(px), isolate=IsolateParams(upsample=1))
    assert lab.scale == 1.0
    assert len(lab.colors) == 4
    index, err = _by_colour(lab)
    assert set(index) == {RED, BLUE, GREEN, YELLOW}
    assert err <= 1.0
    for colour, area in areas.items():
        got = lab.area_px(index[colour])
        tol = 0.001 if colour == YELLOW else 0.0005
        assert got == pytest.approx(area, rel=tol), (colour, got, area)
    total = sum(areas.values())
    assert lab.area_px() == pytest.approx(total, rel=5e-4)
    assert np.count_nonzero(lab.labels == BACKGROUND) == pytest.approx(h * w - total, rel=5e-4)


def _photo_target():
    h, w = 560, 640
    cx, cy = 320.3, 279.6
    layers = [(RED, _disc(h, w, cx, cy, 250.2)), (BLUE, _disc(h, w, cx, cy, 150.6)),
              (GREEN, _box(h, w, cx - 90.5, cx + 90.5, cy - 90.5, cy + 90.5)),
              (BLUE, _box(h, w, 20.5, 600.5, 10.0, 11.5))]  # a thin stroke: no flat pixel of its own
    return _paint(h, w, layers, noise=3.0, blur=4.0)  # blurred edges: mixes found 4-8 px away


@pytest.mark.parametrize("photo", [False, True])
def test_mixing_in_bands_changes_no_label(monkeypatch, photo):
    px = _photo_target() if photo else _target(420, 480)[0]
    image = Image(px)
    pal, info = colors.palette(image)
    params = colors.ColorParams()

    def mixes():
        return colors._coverage(image, pal, params, False, info["flat_delta_e"], info["noise_delta_e"])

    whole_mix = mixes()
    whole = label_colors(image, isolate=IsolateParams(upsample=1))
    monkeypatch.setattr(colors, "BAND_PX", 9_000)  # bands of a few rows: many band margins
    for a, b in zip(mixes(), whole_mix):  # every pixel's two colours and mixing fraction
        np.testing.assert_array_equal(a, b)
    banded = label_colors(image, isolate=IsolateParams(upsample=1))
    np.testing.assert_array_equal(banded.palette.rgb, whole.palette.rgb)
    np.testing.assert_array_equal(banded.labels, whole.labels)


@pytest.mark.parametrize("photo", [False, True])
def test_a_sampled_palette_is_the_whole_image_palette(monkeypatch, photo):
    px = _photo_target() if photo else _target(420, 480)[0]
    whole = label_colors(Image(px), isolate=IsolateParams(upsample=1))
    monkeypatch.setattr(colors, "PALETTE_ALL_PX", 40_000)
    monkeypatch.setattr(colors, "PALETTE_SAMPLE_PX", 40_000)  # a sample of about 1 pixel in 9
    sampled = label_colors(Image(px), isolate=IsolateParams(upsample=1))
    assert len(sampled.colors) == len(whole.colors)
    a, b = whole.palette.rgb, sampled.palette.rgb  # the same colours, maybe in another order
    pair = np.argmin(np.abs(a[:, None] - b[None]).sum(axis=2), axis=1)
    assert len(set(pair.tolist())) == len(a) == len(b)
    assert pair[whole.palette.background] == sampled.palette.background
    assert float(np.abs(a - b[pair]).max()) * 255 <= 1.5
    mapped = np.where(whole.labels >= 0, pair[np.maximum(whole.labels, 0)], BACKGROUND)
    assert np.count_nonzero(mapped != sampled.labels) <= 2e-4 * mapped.size


def test_palette_colours_of_a_big_flat_image_are_exact():
    """Millions of equal pixels: a float32 running sum would drift (white came out as L* 96.8, 'lossy' noise 3.2)."""
    h, w = 1500, 2000
    px = np.empty((h, w, 3), np.float32)
    px[:] = np.array(WHITE, np.float32) / 255.0
    px[300:1200, 400:1600] = np.array(RED, np.float32) / 255.0
    pal, info = colors.palette(Image(px))
    got = {tuple(int(round(v * 255)) for v in c) for c in pal.rgb}
    assert got == {WHITE, RED}
    assert np.abs(pal.rgb * 255 - np.round(pal.rgb * 255)).max() < 1e-4  # float32 input, exact mean
    assert info["noise_delta_e"] == 0.0
