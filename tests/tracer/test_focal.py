"""The aspect ratio of a rectangle seen at an angle: the focal length's posterior and its honesty.

Corners are projected here by an exact pinhole camera (no image), then disturbed by seeded noise of
a known size, so that each estimate can be compared with the truth and with its own uncertainty.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from photo_scenes import rotation, sheet_homography
from tracer.focal import CORNER_SIGMA_GIVEN_PX, aspect_for_focal, estimate_aspect
from tracer.perspective import order_corners, rectified_size

PHOTO = (1600, 1200)


def _corners(sheet_wh, *, f35, tilt, axis, roll=0.0, fill=0.6, shift=(0.0, 0.0)) -> np.ndarray:
    hom = sheet_homography(sheet_wh, PHOTO, f35, rotation(axis, tilt, roll), fill=fill, shift=shift)
    sw, sh = sheet_wh
    c = np.c_[np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float64), np.ones(4)] @ hom.T
    return order_corners(c[:, :2] / c[:, 2:3])


def test_oblique_view_gives_the_focal_length():
    """Tilted about a slanted axis: the right angles fix the focal length, EXIF or not."""
    q = _corners((210, 297), f35=35.0, tilt=35, axis=40, roll=5)
    rng = np.random.default_rng(0)
    noisy = q + rng.normal(0, 0.2, q.shape)
    est = estimate_aspect(noisy, PHOTO, corner_sigma_px=0.2)
    assert est.source == "quadrilateral" and est.quad_share > 0.9
    assert abs(est.focal_35mm / 35.0 - 1) < 0.05
    assert abs(est.aspect / (210 / 297) - 1) < 0.005
    assert est.aspect_sigma < 0.005


def test_degenerate_view_says_it_is_unsure():
    """Tilted about an axis parallel to the picture's edge: the right angles hold for every focal length, so the
    estimate falls back on the prior, and its uncertainty (several %) covers the error that a wrong guess makes."""
    q = _corners((210, 297), f35=45.0, tilt=35, axis=0)
    est = estimate_aspect(q, PHOTO, corner_sigma_px=0.2)
    assert est.source == "default" and est.quad_share < 0.5
    err = abs(est.aspect / (210 / 297) - 1)
    assert err > 0.03  # (a 27 mm guess for a 45 mm lens: the aspect is several % off ...)
    assert est.aspect_sigma > 0.5 * err  # (... and the estimate says so)
    f_px = 45.0 / math.hypot(36, 24) * math.hypot(*PHOTO)
    assert abs(aspect_for_focal(q, (800, 600), f_px) / (210 / 297) - 1) < 1e-6
    with_exif = estimate_aspect(q, PHOTO, exif_focal_35mm=45.0, corner_sigma_px=0.2)
    assert with_exif.source == "exif" and abs(with_exif.aspect / (210 / 297) - 1) < 0.01


def test_reported_uncertainty_is_calibrated():
    """Over many random views (no EXIF), the aspect's error stays within twice the reported standard deviation
    in at least 85 % of them, and every estimate claiming better than 0.5 % is within 2 %."""
    rng = np.random.default_rng(7)
    z, sure = [], []
    for _ in range(60):
        sheet = (210, 297) if rng.random() < 0.5 else (297, 210)
        q = _corners(sheet, f35=float(rng.uniform(22, 55)), tilt=float(rng.uniform(5, 40)),
                     axis=float(rng.uniform(0, 180)), roll=float(rng.uniform(-10, 10)),
                     fill=float(rng.uniform(0.5, 0.75)), shift=tuple(rng.uniform(-0.08, 0.08, 2)))
        sigma = float(rng.uniform(0.1, 0.4))
        est = estimate_aspect(q + rng.normal(0, sigma, q.shape), PHOTO, corner_sigma_px=sigma)
        err = abs(est.aspect / (sheet[0] / sheet[1]) - 1)
        z.append(err / est.aspect_sigma)
        if est.aspect_sigma < 0.005:
            sure.append(err)
    assert np.mean(np.array(z) <= 2.0) >= 0.85
    assert len(sure) >= 20 and max(sure) < 0.02


def test_exif_that_contradicts_the_corners_is_used_with_a_note():
    """A clear rectangle seen with a 26 mm lens, EXIF saying 90 mm: the two disagree far beyond their errors."""
    q = _corners((210, 297), f35=26.0, tilt=35, axis=30, roll=4)
    est = estimate_aspect(q, PHOTO, exif_focal_35mm=90.0, corner_sigma_px=0.2)
    assert est.source == "exif" and est.note and "EXIF" in est.note
    assert abs(est.focal_35mm / 90.0 - 1) < 0.05


def test_affine_view_needs_no_focal_length():
    q = np.array([[100, 100], [500, 100], [500, 400], [100, 400]], np.float64)
    est = estimate_aspect(q, PHOTO, corner_sigma_px=CORNER_SIGMA_GIVEN_PX)
    assert est.source == "affine" and est.aspect == pytest.approx(4 / 3)


def test_rectified_size_keeps_the_nearest_edges_density():
    """No rectified pixel covers more than one photo pixel: the size follows the quadrilateral's densest part."""
    q = _corners((210, 297), f35=28.0, tilt=38, axis=10)
    a = 210 / 297
    w, h = rectified_size(q, a)
    assert w / h == pytest.approx(a)
    sides = [float(np.hypot(*(q[(i + 1) % 4] - q[i]))) for i in range(4)]
    assert w >= max(sides[0], sides[2]) - 1e-6 and h >= max(sides[1], sides[3]) - 1e-6
    # the local scale at the nearest corner, measured by finite differences of the exact map, is at most 1.0
    import cv2

    rect = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    m = cv2.getPerspectiveTransform(rect, q.astype(np.float32)).astype(np.float64)

    def to_photo(u, v):
        p = m @ np.array([u, v, 1.0])
        return p[:2] / p[2]

    worst = 0.0
    for u, v in ((0, 0), (w, 0), (w, h), (0, h), (w / 2, 0), (w / 2, h), (0, h / 2), (w, h / 2)):
        du = np.hypot(*(to_photo(u + 0.5, v) - to_photo(u - 0.5, v)))
        dv = np.hypot(*(to_photo(u, v + 0.5) - to_photo(u, v - 0.5)))
        worst = max(worst, du, dv)
    assert 0.97 < worst <= 1.0 + 1e-3


@pytest.mark.parametrize("quad", [
    [[100, 100], [1500, 102], [1501, 104], [99, 103]],    # a sliver: two sides 3 px long
    [[0, 0], [1600, 0], [900, 1200], [700, 1200]],        # a steep trapezoid reaching the frame
    [[-800, -600], [2400, -500], [2300, 1800], [-700, 1700]],  # corners far outside the photo
])
def test_hostile_quadrilaterals_give_finite_estimates(quad):
    est = estimate_aspect(np.array(quad, np.float64), PHOTO, corner_sigma_px=1.0)
    assert math.isfinite(est.aspect) and est.aspect > 0
    assert est.aspect_sigma is not None and math.isfinite(est.aspect_sigma)


def test_corner_sigma_must_be_finite():
    q = _corners((210, 297), f35=35.0, tilt=35, axis=40)
    with pytest.raises(ValueError, match="corner_sigma_px"):
        estimate_aspect(q, PHOTO, corner_sigma_px=math.inf)
