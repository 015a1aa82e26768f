import numpy as np
import pytest
import shapely

import shapes
import tracer
from cad.regions import to_regions
from tracer.errors import InvalidInputError


def regions_of(mask, **kw):
    return to_regions(tracer.trace(tracer.Mask(mask)), **kw)


def test_width_is_exact_and_footprint_is_centred():
    r = regions_of(shapes.ring(), width_mm=37.5)
    x0, y0, x1, y1 = r.bounds
    assert x1 - x0 == pytest.approx(37.5, abs=1e-9)
    assert (x0 + x1) / 2 == pytest.approx(0, abs=1e-9)
    assert (y0 + y1) / 2 == pytest.approx(0, abs=1e-9)


def test_height_and_px_mm_set_the_scale():
    m = shapes.square(n=40, lo=5, hi=25)  # 20 x 20 px
    assert regions_of(m, height_mm=10).height_mm == pytest.approx(10)
    assert regions_of(m, px_mm=0.5).width_mm == pytest.approx(10)
    with pytest.raises(InvalidInputError):
        regions_of(m, width_mm=10, px_mm=0.5)


def test_area_is_exact_for_polygons_and_close_for_curves():
    sq = regions_of(shapes.square(), px_mm=1.0)
    assert sq.area_mm2 == pytest.approx(256.0, rel=1e-12)
    m = shapes.ring(r_out=80, r_in=40)
    ring = regions_of(m, px_mm=1.0)
    assert ring.area_mm2 == pytest.approx(m.sum(), rel=3e-3)  # the pixel count it traces
    assert ring.area_mm2 == pytest.approx(np.pi * (80**2 - 40**2), rel=5e-3)  # and the true disc


def test_valid_oriented_polygons_and_hole_count():
    r = regions_of(shapes.square_with_hole())
    assert r.geometry.is_valid
    assert r.n_holes == 1 and len(r.regions) == 1
    assert r.regions[0].shell.area() > 0 and r.regions[0].holes[0].area() < 0
    assert r.geometry.area == pytest.approx(r.area_mm2, rel=1e-6)


def test_image_y_down_becomes_mm_y_up_and_nothing_is_mirrored():
    f = shapes.letter_f()
    r = regions_of(f, width_mm=80)
    g = r.geometry
    x0, y0, x1, y1 = r.bounds
    # the long bar is at the top of the image: it must be at +Y
    top = g.intersection(shapely.box(x0, y1 - 0.1 * (y1 - y0), x1, y1)).area
    bottom = g.intersection(shapely.box(x0, y0, x1, y0 + 0.1 * (y1 - y0))).area
    assert top > 3 * bottom
    # the stem is on the left of the image: it must be at -X
    left = g.intersection(shapely.box(x0, y0, x0 + 0.2 * (x1 - x0), y1)).area
    right = g.intersection(shapely.box(x1 - 0.2 * (x1 - x0), y0, x1, y1)).area
    assert left > 2 * right
    m = regions_of(f, width_mm=80, mirror=True).geometry
    assert shapely.equals_exact(shapely.normalize(m), shapely.normalize(
        shapely.affinity.scale(g, xfact=-1, origin=(0, 0))), tolerance=1e-6)


def test_specks_are_dropped_and_counted():
    m = shapes.square(n=100, lo=10, hi=90)
    m[2:5, 95:98] = True   # a 3x3 speck
    m[50:52, 50:52] = False  # a 2x2 pinhole
    r = regions_of(m, px_mm=1.0, min_area_mm2=20)
    assert r.report["dropped_islands"] == 1 and r.report["dropped_holes"] == 1
    assert len(r.regions) == 1 and r.n_holes == 0
    assert r.area_mm2 == pytest.approx(80 * 80)


def test_winding_of_input_does_not_matter():
    # A ring whose contours are given the other way round gives the same regions.
    out = tracer.trace(tracer.Mask(shapes.square_with_hole()))
    flipped = tracer.Outlines(
        contours=tuple(tracer.Contour(c.ctrl[::-1, ::-1], c.is_line[::-1], c.is_hole, c.parent) for c in out.contours),
        source_size=out.source_size)
    a, b = to_regions(out), to_regions(flipped)
    assert a.area_mm2 == pytest.approx(b.area_mm2, rel=1e-12)
    assert shapely.normalize(a.geometry).equals(shapely.normalize(b.geometry))
