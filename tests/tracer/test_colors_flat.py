"""--colors on flat-colour drawings without outlines: colours touching each other and the paper.

Three ways such a drawing went wrong, each drawn here from exact shapes (anti-aliased by
supersampling) and checked against the truth in pixels:

* a photographed print: off-white paper under uneven light, blur and sensor noise must stay one
  background, and the subject's box must not grow into the paper;
* a light grey (#e1e8ed, Delta E 9 from white) touching white paper must be a colour at every
  resolution, including a soft (bicubic) enlargement;
* two greens Delta E 10 apart must stay two colours on a photo.
"""

from __future__ import annotations

import cv2
import numpy as np

from tracer.colormodes import separate_modes
from tracer.colorphoto import even_photo, fit_paper
from tracer.colors import BACKGROUND, label_colors
from tracer.colorspace import to_lab
from tracer.types import Image, IsolateParams

SS = 4


def _hex(h: str) -> np.ndarray:
    return np.array([int(h[i:i + 2], 16) / 255.0 for i in (1, 3, 5)])


def _draw(n: int, layers) -> tuple[np.ndarray, np.ndarray]:
    """``layers``: [(hex, inside(x, y) with x, y in [0, 1])], painted in order on white.
    Returns float RGB (n, n, 3) and the label of each pixel's centre (-1 paper, else layer index)."""
    yy, xx = (np.mgrid[: n * SS, : n * SS] + 0.5) / (n * SS)
    lab = np.full(xx.shape, -1, np.int16)
    for i, (_, inside) in enumerate(layers):
        lab[inside(xx, yy)] = i
    rgb = np.zeros((n, n, 3))
    for i, c in enumerate([np.ones(3)] + [_hex(h) for h, _ in layers]):
        rgb += (lab == i - 1).reshape(n, SS, n, SS).mean(axis=(1, 3))[..., None] * c
    centre = lab[SS // 2::SS, SS // 2::SS]
    return rgb, centre


def _photo(rgb: np.ndarray, seed: int = 1) -> np.ndarray:
    """Printed on off-white paper, lit 18 % darker on one side and at the corners, blurred, noisy, uint8."""
    h, w = rgb.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w) - 0.5
    light = 1.0 - 0.15 * (0.5 + 0.8 * xx + 0.6 * yy) - 0.12 * (xx**2 + yy**2)
    img = rgb * np.array([243, 239, 229]) * light[..., None]
    img = cv2.GaussianBlur(img, (0, 0), 1.2)
    img = img + np.random.default_rng(seed).standard_normal(img.shape) * (3.0 + 0.6 * np.sqrt(np.clip(img, 0, None)))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def _u8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(np.round(rgb * 255), 0, 255).astype(np.uint8)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _labels_at_source(lab, n: int) -> np.ndarray:
    """The label raster resampled to the source grid (nearest), to compare with the truth."""
    return cv2.resize(lab.labels.astype(np.int16), (n, n), interpolation=cv2.INTER_NEAREST)


def _disc(cx, cy, r):
    return lambda x, y: (x - cx) ** 2 + (y - cy) ** 2 < r * r


GREENS = [("#3e721d", _disc(0.5, 0.5, 0.34)), ("#538b2d", _disc(0.55, 0.52, 0.2))]  # Delta E about 10


def test_greens_are_delta_e_ten_apart():
    d = float(np.linalg.norm(to_lab(_hex(GREENS[0][0])[None].astype(np.float32))
                             - to_lab(_hex(GREENS[1][0])[None].astype(np.float32))))
    assert 9.0 < d < 11.0


def test_photo_paper_is_one_background_and_greens_stay_two():
    n = 320
    rgb, truth = _draw(n, GREENS)
    img = Image(_photo(rgb))
    fit = fit_paper(img)
    assert fit is not None and fit.drift_delta_e > 10  # the light drifts strongly over the paper
    even, info = even_photo(img)
    assert info["illumination"] == "flattened" and "noise_blur_px" in info
    lab = label_colors(img, isolate=IsolateParams(upsample=1))
    assert len(lab.colors) == 2, lab.info["palette"]
    got = _labels_at_source(lab, n)
    # The subject is the disc, not the disc and a piece of the paper.
    subject = got != BACKGROUND
    assert _iou(subject, truth >= 0) > 0.98
    rows, cols = np.nonzero(subject)
    trows, tcols = np.nonzero(truth >= 0)
    assert abs(int(rows.min()) - int(trows.min())) <= 2 and abs(int(cols.max()) - int(tcols.max())) <= 2
    # Each green covers its own truth.
    for i in range(2):
        hexes = [lab.hex(k) for k in lab.colors]
        k = lab.colors[int(np.argmin([np.linalg.norm(_hex(h) - _hex(GREENS[i][0])) for h in hexes]))]
        assert _iou(got == k, truth == i) > 0.95


def test_even_paper_is_left_alone():
    rgb, _ = _draw(128, GREENS)
    img = Image(_u8(rgb))
    out, info = even_photo(img)
    assert out is img and info["illumination"] == "even" and "noise_blur_px" not in info


def test_light_grey_on_white_is_a_colour_at_every_resolution():
    # A small grey bumper (1 % of the picture, about 1/60 of the paper) beside a red car body with
    # dark tyres, grey hubs and a light blue window.
    car = [("#e1e8ed", lambda x, y: (abs(x - 0.3) < 0.12) & (abs(y - 0.62) < 0.045)),
           ("#dd2e44", _disc(0.6, 0.45, 0.25)), ("#292f33", _disc(0.35, 0.72, 0.1)),
           ("#292f33", _disc(0.75, 0.72, 0.1)), ("#99aab5", _disc(0.35, 0.72, 0.04)),
           ("#bbddf5", _disc(0.6, 0.35, 0.1))]
    small, truth_small = _draw(256, car)
    sharp, truth_big = _draw(1024, car)
    soft = np.clip(cv2.resize(small, (1024, 1024), interpolation=cv2.INTER_CUBIC), 0, 1)  # a soft enlargement (x4)
    for rgb, truth in ((small, truth_small), (sharp, truth_big), (soft, truth_big)):
        lab = label_colors(Image(_u8(rgb)), isolate=IsolateParams(upsample=1))
        assert lab.labels.shape == truth.shape
        hexes = [lab.hex(k) for k in lab.colors]
        d = [float(np.linalg.norm(_hex(h) - _hex("#e1e8ed"))) for h in hexes]
        assert min(d) < 4 / 255, hexes  # the grey is a colour of the part
        k = lab.colors[int(np.argmin(d))]
        assert _iou(lab.labels == k, truth == 0) > 0.95


def test_noise_tail_is_not_a_mode_and_a_second_colour_is():
    rng = np.random.default_rng(0)
    big = np.array([90.0, 0.0, 0.0])
    paper = big + rng.standard_normal((20000, 3)) * 1.5
    tail = big + np.abs(rng.standard_normal((2000, 1))) * np.array([[-3.0, 0, 0]])  # a one-sided tail
    grey = np.array([81.0, -1.5, -3.0]) + rng.standard_normal((600, 3)) * 0.4
    assert separate_modes(np.concatenate([paper, grey]), big, grey.mean(axis=0))
    assert not separate_modes(np.concatenate([paper, tail]), big, tail[tail[:, 0] < 86].mean(axis=0))


def test_photo_step_on_hostile_pictures():
    # Too small to fit anything: returned as it is.
    tiny = Image(np.full((4, 5, 3), 200, np.uint8))
    out, info = even_photo(tiny)
    assert out is tiny and info.get("illumination") == "no paper"
    # No paper at all (noise over the whole picture): nothing to divide out, the noise is still smoothed.
    rng = np.random.default_rng(3)
    noisy = Image(np.clip(rng.normal(120, 25, (96, 96, 3)), 0, 255).astype(np.uint8))
    out, info = even_photo(noisy)
    assert info["illumination"] == "no paper" and info["noise_blur_px"] > 0
    assert out.shape == noisy.shape and float(out.pixels.std()) < float(noisy.pixels.std())
    # A transparent picture is not a photo.
    alpha = np.zeros((64, 64), np.float32)
    alpha[16:48, 16:48] = 1
    clear = Image(np.clip(rng.normal(120, 25, (64, 64, 3)), 0, 255).astype(np.uint8), alpha)
    assert even_photo(clear)[0] is clear
