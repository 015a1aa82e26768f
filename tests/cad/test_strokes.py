"""Strokes of one width along centrelines: footprint size, area and caps, in millimetres."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cad.strokes import stroke_regions
from tracer.bezierfit import line_bezier
from tracer.errors import InvalidInputError

BAR = [(line_bezier((10.0, 50.0), (110.0, 50.0))[None], False)]  # 100 px long, horizontal


@pytest.mark.parametrize("cap, extra", [("round", math.pi / 4), ("butt", 0.0), ("square", 1.0)])
def test_footprint_width_includes_the_stroke_and_area_is_exact(cap, extra):
    """--width sizes the finished footprint; area = length x width + the two caps."""
    ss = stroke_regions(BAR, stroke_mm=2.0, cap=cap, width_mm=40.0)
    reg = ss.regions
    assert reg.width_mm == pytest.approx(40.0, abs=1e-6)
    length = 40.0 - (0.0 if cap == "butt" else 2.0)  # the centreline in mm
    assert reg.height_mm == pytest.approx(2.0, abs=1e-6)
    assert reg.area_mm2 == pytest.approx(length * 2.0 + extra * 4.0, rel=2e-3)
    assert ss.frame.scale == pytest.approx(length / 100.0, rel=1e-6)
    x0, y0, x1, y1 = reg.bounds
    assert abs(x0 + x1) < 1e-6 and abs(y0 + y1) < 1e-6  # centred on the origin


def test_width_in_pixels_and_pixel_size():
    ss = stroke_regions(BAR, stroke_px=10.0, px_mm=0.1)
    assert ss.stroke_mm == pytest.approx(1.0)
    assert ss.regions.width_mm == pytest.approx(11.0, abs=1e-6)  # 100 px + two half widths of 5 px
    mirrored = stroke_regions(BAR, stroke_px=10.0, px_mm=0.1, mirror=True)
    assert mirrored.regions.area_mm2 == pytest.approx(ss.regions.area_mm2, rel=1e-9)


def test_closed_loop_has_a_hole_and_dot_is_a_disc():
    a = np.linspace(0, 2 * np.pi, 9)
    pts = np.stack([50 + 30 * np.cos(a), 50 + 30 * np.sin(a)], axis=1)
    loop = np.array([line_bezier(p, q) for p, q in zip(pts[:-1], pts[1:])])
    ss = stroke_regions([(loop, True)], stroke_px=4.0, px_mm=1.0)
    assert len(ss.regions.regions) == 1 and ss.regions.n_holes == 1
    dot = stroke_regions([(line_bezier((5.0, 5.0), (5.0, 5.0))[None], False)], stroke_mm=3.0, px_mm=1.0)
    assert dot.regions.area_mm2 == pytest.approx(math.pi * 1.5**2, rel=2e-3)


def test_bad_arguments():
    with pytest.raises(InvalidInputError):
        stroke_regions(BAR, stroke_mm=1.0, cap="pointy")
    with pytest.raises(InvalidInputError):
        stroke_regions(BAR, stroke_mm=1.0, stroke_px=2.0)
    with pytest.raises(InvalidInputError):
        stroke_regions(BAR, stroke_mm=-1.0)
    with pytest.raises(InvalidInputError):
        stroke_regions(BAR, stroke_mm=float("nan"))
