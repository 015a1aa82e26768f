"""Corners at the fit's ends: a corner that the trace rounded is restored before the fit
(:mod:`cad.fit_corners`), and a join that a line laid over a gently curved side carries past the outline's
extent comes back (:func:`cad.fit_rings.fit_rings`), so the part keeps its traced size without a rescale."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from PIL import Image
from shapely.geometry import Polygon

import shapes
import tracer
from cad.fit_corners import sharp_corners
from cad.fit_rings import fit_rings
from cad.regions import Ring


def _rounded_corner(turn_deg: float, radius: float, spacing: float = 0.2, side: float = 8.0):
    """Samples along two straight sides meeting at the origin (turning by ``turn_deg``), the corner rounded by
    an arc of ``radius`` (0: sharp), closed back round a far loop; and the index of the sample at the corner."""
    a = math.radians(turn_deg)
    d0, d1 = np.array([1.0, 0.0]), np.array([math.cos(a), math.sin(a)])
    cut = radius * math.tan(a / 2)  # where the rounding meets each side
    pts = [-(side - s) * d0 for s in np.arange(0.0, side - cut, spacing)]
    if radius > 0:
        centre = -cut * d0 + radius * np.array([0.0, 1.0])
        for t in np.linspace(0.0, a, max(3, int(radius * a / spacing)))[1:-1]:
            pts.append(centre + radius * np.array([math.sin(t), -math.cos(t)]))
    mid = len(pts) - (len(pts) - int(side / spacing)) // 2 if radius > 0 else len(pts)
    pts += [s * d1 for s in np.arange(cut, side, spacing)]
    far = np.asarray(pts[-1]), np.asarray(pts[0])  # back round, well away from the corner
    loop = [far[0] + (far[1] - far[0]) * u + 6.0 * math.sin(math.pi * u) * np.array([-d1[1], d1[0]]) * -1
            for u in np.linspace(0.0, 1.0, 200)[1:-1]]
    q = np.asarray(pts + loop)
    corner = int(np.argmin(np.hypot(*q[: len(pts)].T))) if radius == 0 else mid
    return q, corner


@pytest.mark.parametrize("turn", [60.0, 90.0, 120.0])
def test_rounded_corner_is_restored_to_the_sides_intersection(turn):
    q, c = _rounded_corner(turn, radius=0.5)
    out, moved = sharp_corners(q, np.array([c]), 1.0, 0.2, 2.0, 0.1, 30.0)
    assert np.hypot(*out[c]) < 0.02  # the drawn corner, at the origin
    rounded_gap = float(np.hypot(*q.T).min())
    assert moved == pytest.approx(np.hypot(*(out - q).T).max()) and moved >= rounded_gap - 1e-9
    far = np.hypot(*q.T) > 2.0
    assert np.array_equal(out[far], q[far])  # only the rounding moves


def test_sharp_corner_and_gentle_turn_are_left_alone():
    q, c = _rounded_corner(90.0, radius=0.0)
    out, moved = sharp_corners(q, np.array([c]), 1.0, 0.2, 2.0, 0.1, 30.0)
    assert moved < 0.05 and np.hypot(*(out - q).T).max() < 0.05
    q, c = _rounded_corner(20.0, radius=0.5)  # turns less than a corner
    out, moved = sharp_corners(q, np.array([c]), 1.0, 0.2, 2.0, 0.1, 30.0)
    assert moved == 0.0 and np.array_equal(out, q)


def _crest(sag: float = 0.3) -> Polygon:
    """A crest (y down): its left side a gentle arc bulging ``sag`` px, whose top end is the leftmost point, a
    corner with the rising top edge; the right side and the bottom straight."""
    y = np.linspace(100.0, 400.0, 601)
    x = 100.0 + 4.0 * (y - 100.0) / 300.0 - sag * (1.0 - ((y - 250.0) / 150.0) ** 2)
    left = list(zip(x[::-1], y[::-1]))
    return Polygon(left + [(400.0, 60.0), (420.0, 420.0)])


def test_line_over_gentle_side_does_not_carry_the_corner_past_the_extent(tmp_path):
    truth = _crest()
    path = tmp_path / "crest.png"
    Image.fromarray(shapes.coverage_png(truth, 512)).save(path)
    outlines = tracer.trace(tracer.isolate(tracer.load_image(path)))
    rings = {i: Ring(c.ctrl, c.is_line) for i, c in enumerate(outlines.contours)}
    traced = {i: r.bounds() for i, r in rings.items()}
    n, _ = fit_rings(rings, 0.1, 1.0, follow_noise=True, noise_px=float(outlines.info["noise_px"]),
                     noisy=bool(outlines.info["noisy"]))
    assert n == len(rings) == 1
    fitted = rings[0].bounds()
    # the trace rounds the drawn corner (x = 100) a little; a line laid over the whole side put it 0.13 px out
    assert traced[0][0] > 100.0
    assert abs(fitted[0] - 100.0) <= 0.05
    assert shapely.LinearRing(rings[0].flatten(0.01)).is_simple


def test_noisy_disc_is_one_circle_though_its_trace_reaches_less_far(tmp_path):
    """A q35 JPEG's trace: its extremes are the tops of the ringing, and the least-squares circle may reach
    a little past them; it is still the disc (a whole circle is the better estimate of its size)."""
    from shapely.geometry import Point

    truth = Point(256.0, 256.0).buffer(200.0, quad_segs=256)
    path = tmp_path / "disc.jpg"
    Image.fromarray(shapes.coverage_png(truth, 512)).save(path, quality=35)
    outlines = tracer.trace(tracer.isolate(tracer.load_image(path)))
    assert outlines.info["noisy"]
    from cad.regions import to_regions

    regions = to_regions(outlines, width_mm=50.0, min_area_mm2=0.5)  # the JPEG's specks dropped
    assert len(regions.regions) == 1 and not regions.regions[0].holes
    shell = regions.regions[0].shell
    assert shell.n_segments <= 2 and shell.kinds()["arcs"] == shell.n_segments
    assert shapes.iou_at_width(regions.geometry, truth) > 0.999
