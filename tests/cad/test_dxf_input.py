"""DXF as an input: closed outlines of any of the common entities -> regions in mm, and tracecad's own DXF round trip."""

from __future__ import annotations

import math

import ezdxf
import numpy as np
import pytest

import shapes
from cad.dxf_input import dxf_regions
from cad.export import dxf
from cad.regions import to_regions
from tracer import isolate, trace
from tracer.errors import GeometryError, InvalidInputError, TooComplexError
from tracer.load import load_image


def _traced(mask, width_mm=40.0):
    return to_regions(trace(isolate(load_image(shapes.to_png(mask)))), width_mm=width_mm)


@pytest.mark.parametrize("mask", [shapes.square_with_hole(), shapes.ring(), shapes.letter_f(6)],
                         ids=["square_with_hole", "ring", "F"])
def test_round_trip_of_the_exact_dxf_is_the_same_footprint(tmp_path, mask):
    reg = _traced(mask)
    dxf.write_dxf(dxf.footprint_layers(reg), tmp_path / "a.dxf")
    back = dxf_regions(tmp_path / "a.dxf")
    assert len(back.regions) == len(reg.regions) and back.n_holes == reg.n_holes
    # the same segments (a polyline's bulges, read as cubics, are arcs again: cad.truearcs) and the same solid
    assert back.segment_kinds() == reg.segment_kinds()
    assert back.area_mm2 == pytest.approx(reg.area_mm2, rel=1e-9)
    np.testing.assert_allclose(back.bounds, reg.bounds, atol=1e-9 * reg.width_mm)
    assert back.geometry.symmetric_difference(reg.geometry).area < 1e-4 * reg.geometry.length


def test_round_trip_of_the_polyline_dxf_within_the_tolerance(tmp_path):
    reg = _traced(shapes.ring())
    tol = 0.01
    dxf.write_dxf(dxf.footprint_layers(reg), tmp_path / "p.dxf", curves="polyline", tolerance_mm=tol)
    back = dxf_regions(tmp_path / "p.dxf")
    assert abs(back.area_mm2 - reg.area_mm2) <= reg.geometry.length * tol


def test_every_common_entity_and_the_units(tmp_path):
    """A 40 x 20 rectangle of two LINEs and two ARCs (a stadium), with a CIRCLE, an ELLIPSE, a bulged
    LWPOLYLINE and an old-style POLYLINE inside it as holes, in inches."""
    doc = ezdxf.new("R2010", units=1)  # inches
    msp = doc.modelspace()
    msp.add_line((0, 0), (20, 0))
    msp.add_arc((20, 5), 5, -90, 90)
    msp.add_line((0, 10), (20, 10))  # drawn the other way round: joined reversed
    msp.add_arc((0, 5), 5, 90, 270)
    msp.add_circle((2, 5), 1)
    msp.add_ellipse((8, 5), major_axis=(2, 0, 0), ratio=0.5)
    msp.add_lwpolyline([(12, 4, 1.0), (14, 4, 1.0)], format="xyb", close=True)  # a circle of radius 1 as two bulges
    msp.add_polyline2d([(17, 3), (19, 3), (19, 7), (17, 7)], close=True)
    msp.add_text("ignored")
    doc.saveas(tmp_path / "e.dxf")
    reg = dxf_regions(tmp_path / "e.dxf")
    stadium = 20 * 10 + math.pi * 25
    holes = math.pi * 1 + math.pi * 2 * 1 + math.pi * 1 + 2 * 4
    assert len(reg.regions) == 1 and reg.n_holes == 4
    assert reg.area_mm2 == pytest.approx((stadium - holes) * 25.4**2, rel=1e-6)  # arcs as cubics: 1e-7 of r
    assert reg.width_mm == pytest.approx(30 * 25.4, rel=1e-9)
    assert dxf_regions(tmp_path / "e.dxf", width_mm=60).width_mm == pytest.approx(60)


def test_layers_pick_the_artwork_of_a_product_drawing(tmp_path):
    """A keychain's DXF holds the plate around the artwork; the artwork's layers alone give it back."""
    reg = _traced(shapes.square_with_hole())
    layers = dxf.footprint_layers(reg) + dxf.plate_layers([dxf.rounded_rect_loop(-25, -25, 25, 30, 4)],
                                                          [dxf.Circle(0, 26, 2)])
    dxf.write_dxf(layers, tmp_path / "k.dxf")
    art = dxf_regions(tmp_path / "k.dxf", layers=["outline", "HOLES"])
    assert art.area_mm2 == pytest.approx(reg.area_mm2, rel=1e-12)
    whole = dxf_regions(tmp_path / "k.dxf")  # the plate, its hole and the artwork nested even-odd
    plate = 50 * 55 - (4 - math.pi) * 16 - math.pi * 4
    assert whole.area_mm2 == pytest.approx(plate - reg.area_mm2, rel=1e-6)


def test_islands_in_holes_nest_even_odd(tmp_path):
    doc = ezdxf.new("R2010", units=4)
    msp = doc.modelspace()
    for r in (10, 7, 4, 1):
        msp.add_circle((0, 0), r)
    doc.saveas(tmp_path / "n.dxf")
    reg = dxf_regions(tmp_path / "n.dxf")
    assert len(reg.regions) == 2 and reg.n_holes == 2
    assert reg.area_mm2 == pytest.approx(math.pi * (100 - 49 + 16 - 1), rel=1e-6)


@pytest.mark.parametrize("make, error, message", [
    (lambda msp: msp.add_line((0, 0), (1, 0)), InvalidInputError, "open near"),
    (lambda msp: None, GeometryError, "no outline"),
    (lambda msp: msp.add_rational_spline([(0, 0), (1, 1), (2, 0), (0, 0)], [1, 2, 1, 1]), InvalidInputError,
     "rational"),
    (lambda msp: [msp.add_circle((i, 0), 0.3) for i in range(30)], TooComplexError, "budget"),
])
def test_bad_drawings_are_one_sentence(tmp_path, make, error, message):
    doc = ezdxf.new("R2010", units=4)
    make(doc.modelspace())
    doc.saveas(tmp_path / "b.dxf")
    with pytest.raises(error, match=message):
        dxf_regions(tmp_path / "b.dxf", name="b.dxf", max_segments=100)


def test_a_file_too_large_for_the_budget_is_refused_unread(tmp_path):
    big = tmp_path / "big.dxf"
    big.write_bytes(b"999\n" + b" " * (2**20 + 10_001) + b"\n")
    with pytest.raises(TooComplexError, match="big.dxf: the file has"):
        dxf_regions(big, name="big.dxf", max_segments=10)


@pytest.mark.parametrize("content", [b"", b"\x00\xff garbage", b"0\nSECTION\n2\nENTITIES\n0\nLINE\n10\nnan\n"])
def test_garbage_is_refused(tmp_path, content):
    (tmp_path / "g.dxf").write_bytes(content)
    with pytest.raises((InvalidInputError, GeometryError), match="g.dxf"):
        dxf_regions(tmp_path / "g.dxf", name="g.dxf")
