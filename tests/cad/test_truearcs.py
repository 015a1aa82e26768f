"""A drawing's arcs and ellipses, read as cubics, become true arcs again: cylinders and elliptic cylinders in the B-rep."""

from __future__ import annotations

import math

import ezdxf
import numpy as np
import pytest

from cad.dxf_input import dxf_art, dxf_regions
from cad.fit_pieces import arc_cubic, sub_cubic
from cad.regions import Ring
from cad.solid import extrude, face_types, is_valid_shape
from cad.truearcs import true_arcs
from cad.vector.art import art_regions


def _drawing(path):
    """A 30 x 10 stadium (two LINEs, two ARCs) with a CIRCLE, a turned ELLIPSE and a bulged LWPOLYLINE as holes."""
    doc = ezdxf.new("R2010", units=4)
    msp = doc.modelspace()
    msp.add_line((0, 0), (20, 0))
    msp.add_arc((20, 5), 5, -90, 90)
    msp.add_line((0, 10), (20, 10))
    msp.add_arc((0, 5), 5, 90, 270)
    msp.add_circle((0, 5), 2)
    msp.add_ellipse((10, 5), major_axis=(3, 1, 0), ratio=0.4)
    msp.add_lwpolyline([(17, 4, 1.0), (19, 4, 1.0)], format="xyb", close=True)
    doc.saveas(path)
    area = 200 + 25 * math.pi - 4 * math.pi - math.pi * 10 * 0.4 - math.pi
    return path, area


def test_dxf_arcs_circles_and_ellipses_are_analytic_faces(tmp_path):
    path, area = _drawing(tmp_path / "d.dxf")
    regions = dxf_regions(path)
    assert regions.segment_kinds() == {"lines": 2, "arcs": 6, "ellipses": 2, "beziers": 0}
    assert regions.area_mm2 == pytest.approx(area, rel=1e-12)  # the arcs themselves, not their cubics
    solid = extrude(regions, thickness_mm=2.0)
    assert is_valid_shape(solid.shape)
    assert face_types(solid.shape) == {"plane": 4, "cylinder": 6, "elliptic_cylinder": 2, "bspline": 0, "other": 0}
    assert solid.volume_mm3 == pytest.approx(2.0 * area, rel=1e-9)
    # through the vector path (tracecad convert drawing.dxf), where the set operations may cut a curve
    # where a ring starts: the pieces of an arc's cubic are joined again
    art = art_regions(dxf_art(path))
    kinds = art.segment_kinds()
    assert kinds["ellipses"] == 2 and kinds["arcs"] >= 6 and kinds["beziers"] <= 1
    assert art.area_mm2 == pytest.approx(area, rel=1e-6)


def test_only_the_cubics_of_arcs_are_taken():
    c = np.array([0.0, 0.0])
    quarter = [arc_cubic(np.array([math.cos(a), math.sin(a)]), np.array([math.cos(a + 0.5 * math.pi), math.sin(a + 0.5 * math.pi)]),
                         c, 0.5 * math.pi) for a in np.arange(4) * 0.5 * math.pi]
    circle = true_arcs(Ring(np.array(quarter), np.zeros(4, bool)))
    assert circle.kinds()["arcs"] == 2 and circle.area() == pytest.approx(math.pi, rel=1e-14)
    # an arc's cubic cut in two where a ring was made to start (its last and first segments) is joined again
    split = np.array([sub_cubic(quarter[0], 0.4, 1.0)] + quarter[1:] + [sub_cubic(quarter[0], 0.0, 0.4)])
    whole = true_arcs(Ring(split, np.zeros(5, bool)))
    assert whole.kinds() == {"lines": 0, "arcs": 2, "ellipses": 0, "beziers": 0}
    assert whole.area() == pytest.approx(math.pi, rel=1e-14)
    # a piece alone is not an arc's cubic, nor is a cubic near one
    piece = np.array([sub_cubic(quarter[0], 0.0, 0.4), sub_cubic(quarter[0], 0.4, 0.7), sub_cubic(quarter[0], 0.7, 1.0)])
    assert true_arcs(Ring(np.concatenate([piece, np.array(quarter[1:])]), np.zeros(6, bool))).kinds()["beziers"] >= 1
    bent = [q.copy() for q in quarter]
    for q in bent:
        q[1:3] *= 1.0 + 1e-6
    ring = Ring(np.array(bent), np.zeros(4, bool))
    assert true_arcs(ring) is ring
