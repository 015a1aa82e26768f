"""The fitting stage: lines, circular arcs and cubics within the tolerance of the trace, in the B-rep and STEP."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from PIL import Image, ImageDraw
from shapely.geometry import Point

import tracer
from cad.export import step
from cad.mesh import check_mesh, extrude_mesh
from cad.regions import to_regions
from cad.solid import extrude, face_types, is_valid_shape

SS = 8
SIZE = 512


def _traced(tmp_path, draw):
    big = Image.new("L", (SIZE * SS, SIZE * SS), 255)
    draw(ImageDraw.Draw(big), SS)
    path = tmp_path / "shape.png"
    big.resize((SIZE, SIZE), Image.LANCZOS).save(path)
    return tracer.trace(tracer.isolate(tracer.load_image(path)))


def _checked_solid(regions, thickness=3.0):
    solid = extrude(regions, thickness_mm=thickness)
    assert is_valid_shape(solid.shape)
    assert solid.volume_mm3 == pytest.approx(regions.area_mm2 * thickness, rel=1e-6)
    mesh = extrude_mesh(regions, thickness)
    assert check_mesh(mesh).is_volume
    return solid


def _hexagon(d, s):
    c, r = 256 * s, 200 * s
    d.polygon([(c + r * math.cos(math.pi / 3 * k + 0.1), c + r * math.sin(math.pi / 3 * k + 0.1)) for k in range(6)], fill=0)


def _ring(d, s):
    c = 256 * s
    d.ellipse([c - 200 * s, c - 200 * s, c + 200 * s, c + 200 * s], fill=0)
    d.ellipse([c - 120 * s, c - 120 * s, c + 120 * s, c + 120 * s], fill=255)


def test_hexagon_has_six_planar_sides_and_exact_volume(tmp_path):
    regions = to_regions(_traced(tmp_path, _hexagon), width_mm=50, fit_tolerance_mm=None)
    kinds = regions.segment_kinds()
    assert kinds["lines"] == 6 and kinds["beziers"] == 0
    solid = _checked_solid(regions)
    assert face_types(solid.shape)["plane"] >= 6 + 2


def test_ring_becomes_two_circles_close_to_the_analytic_ring(tmp_path):
    outlines = _traced(tmp_path, _ring)
    regions = to_regions(outlines, width_mm=50, fit_tolerance_mm=None)
    traced = to_regions(outlines, width_mm=50, fit_tolerance_mm=0)
    assert regions.segment_kinds() == {"lines": 0, "arcs": 4, "beziers": 0}  # two circles, two half arcs each
    solid = _checked_solid(regions)
    assert face_types(solid.shape)["cylinder"] == 4
    s = regions.px_mm  # the analytic ring, centred like the regions
    truth = Point(0, 0).buffer(200 * s, quad_segs=512).difference(Point(0, 0).buffer(120 * s, quad_segs=512))
    def iou(g):
        return g.intersection(truth).area / g.union(truth).area
    assert iou(regions.geometry) > 0.998  # (the drawn ring's own edges are a fraction of a pixel off)
    assert iou(regions.geometry) >= iou(traced.geometry) - 0.0005


@pytest.mark.xfail(reason="the greedy cover still splits some fillets of a rounded rectangle into arcs and cubics",
                   strict=False)
def test_rounded_rectangle_is_four_lines_and_four_arcs(tmp_path):
    outlines = _traced(tmp_path, lambda d, s: d.rounded_rectangle([60 * s, 120 * s, 452 * s, 392 * s], radius=60 * s, fill=0))
    regions = to_regions(outlines, width_mm=50, fit_tolerance_mm=None)
    assert regions.segment_kinds() == {"lines": 4, "arcs": 4, "beziers": 0}


@pytest.mark.xfail(reason="the Hausdorff distance to the trace reaches about 2.8 tolerances on this blob, above the "
                          "reported deviation: some samples near joins are not yet measured", strict=False)
def test_blob_stays_within_the_tolerance_of_the_trace(tmp_path):
    def blob(d, s):
        pts = [(256 * s + (150 + 40 * math.sin(3 * t)) * s * math.cos(t), 256 * s + (120 + 30 * math.cos(2 * t)) * s * math.sin(t))
               for t in np.linspace(0, 2 * math.pi, 720, endpoint=False)]
        d.polygon(pts, fill=0)
    outlines = _traced(tmp_path, blob)
    traced = to_regions(outlines, width_mm=50, fit_tolerance_mm=0)
    fitted = to_regions(outlines, width_mm=50, fit_tolerance_mm=None)
    tol = fitted.report["fit_tolerance_mm"]
    assert fitted.n_segments < traced.n_segments
    assert fitted.report["fit_deviation_mm"] <= 2 * tol
    a = shapely.LinearRing(traced.regions[0].shell.flatten(tol / 10))
    b = shapely.LinearRing(fitted.regions[0].shell.flatten(tol / 10))
    assert shapely.hausdorff_distance(a, b, densify=0.05) <= 2.5 * tol
    _checked_solid(fitted)


def test_step_round_trip_keeps_face_types(tmp_path):
    regions = to_regions(_traced(tmp_path, _ring), width_mm=50, fit_tolerance_mm=None)
    solid = _checked_solid(regions)
    path = step.write_step(solid.shape, tmp_path / "ring.step")
    back = step.read_step(path)
    assert face_types(back) == face_types(solid.shape)


def test_fit_off_keeps_potrace_curves(tmp_path):
    outlines = _traced(tmp_path, _hexagon)
    regions = to_regions(outlines, width_mm=50, fit_tolerance_mm=0)
    assert regions.segment_kinds()["arcs"] == 0
    assert regions.n_segments == sum(len(c.ctrl) for c in outlines.contours)
