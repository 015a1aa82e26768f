"""Ellipses: a closed contour that is an ellipse is fitted as one (two elliptic arcs) and stays one in the
B-rep (extrusions of Geom_Ellipse edges), STEP, SVG (``A`` arcs) and DXF (ELLIPSE); near-ellipses are not."""

from __future__ import annotations

import math

import ezdxf
import numpy as np
import pytest
from PIL import Image, ImageDraw
from shapely.geometry import Polygon

import tracer
from cad import ellipse
from cad.dxf_input import dxf_regions
from cad.export import step, svg
from cad.export.dxf import check_dxf, footprint_layers, write_dxf
from cad.mesh import check_mesh, extrude_mesh
from cad.regions import to_regions
from cad.solid import extrude, face_types, is_valid_shape
from shapes import CURVES, curve_png, curve_points
from tracecad import ConvertOptions
from tracecad.modes.colours import build_multicolor

THICK = 3.0


def _regions(tmp_path, name, fit=None, **kw):
    path = tmp_path / f"{name}.png"
    path.write_bytes(curve_png(name))
    return to_regions(tracer.trace(tracer.isolate(tracer.load_image(path))), width_mm=50, fit_tolerance_mm=fit, **kw)


def _fidelity(tmp_path, name, regions, **kw) -> float:
    """The fitted footprint's IoU with the drawn curve; on a large curve never below the trace's by more than
    0.0005 (a small one loses up to 0.003 as the fitted outline is scaled to the trace's bounding box)."""
    pts = curve_points(**CURVES[name])
    got = _iou(regions.geometry, _truth_mm(regions, pts, **kw))
    traced = _regions(tmp_path, name, fit=0, **kw)
    assert got >= _iou(traced.geometry, _truth_mm(traced, pts, **kw)) - (0.003 if name.endswith("small") else 0.0005)
    return got


def _truth_mm(regions, pts_px, *, mirror=False) -> Polygon:
    """The drawn curve in the regions' frame (the same centre, scale, y-flip and mirror)."""
    cx, cy = regions.report["origin_px"]
    s = regions.px_mm
    x = (pts_px[:, 0] - cx) * s
    return Polygon(np.stack([-x if mirror else x, (cy - pts_px[:, 1]) * s], axis=1))


def _iou(a, b) -> float:
    return a.intersection(b).area / a.union(b).area


# ----------------------------------------------------------------------------- the arithmetic

@pytest.mark.parametrize("rx, ry, rot, sweep", [(5.0, 2.0, 0.3, math.pi), (4.0, 4.0, 0.0, -2.5), (7.0, 1.0, -1.2, 1.1)])
def test_elliptic_arc_area_bounds_and_cubics_are_exact(rx, ry, rot, sweep):
    e = np.array([1.5, -2.0, rx, ry, rot, sweep])
    c, A = ellipse.affine(e)
    t0 = 0.4
    p0 = c + A @ [math.cos(t0), math.sin(t0)]
    p1 = c + A @ [math.cos(t0 + sweep), math.sin(t0 + sweep)]
    dense = np.concatenate([ellipse.points(p0, e, 200_000), p1[None]])
    shoelace = 0.5 * float(np.sum(dense[:-1, 0] * dense[1:, 1] - dense[1:, 0] * dense[:-1, 1]))
    assert ellipse.area_terms(p0[None], p1[None], e[None])[0] == pytest.approx(shoelace, rel=1e-8, abs=1e-9)
    box = ellipse.bounds(p0, p1, e)
    assert box == pytest.approx((*dense.min(axis=0), *dense.max(axis=0)), abs=1e-6)
    cubics = ellipse.cubics(p0, p1, e, 4)
    t = np.linspace(0, 1, 50)
    pts = np.einsum("tk,nkd->ntd", np.stack([(1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t ** 3], 1), cubics)
    d, _ = ellipse.distances(pts.reshape(-1, 2), c, max(rx, ry), min(rx, ry), rot if rx >= ry else rot + math.pi / 2)
    assert np.abs(d).max() <= 3e-4 * max(rx, ry)
    assert np.array_equal(cubics[0, 0], p0) and np.array_equal(cubics[-1, 3], p1)


def test_an_affine_map_keeps_the_arc():
    e = np.array([[1.0, 2.0, 5.0, 2.0, 0.7, 2.0]])
    c, A = ellipse.affine(e[0])
    p0 = c + A @ [1.0, 0.0]
    for M in (np.array([[2.0, 0.0], [0.0, -2.0]]), np.array([[0.0, -1.5], [1.5, 0.0]]), np.array([[3.0, 1.0], [0.0, 1.0]])):
        shift = np.array([0.5, -4.0])
        e2 = ellipse.transform(e, M, shift)
        assert e2[0, 2] >= e2[0, 3] > 0
        moved = ellipse.points(M @ p0 + shift, e2[0], 64)
        assert np.abs(moved - (ellipse.points(p0, e[0], 64) @ M.T + shift)).max() < 1e-12 * 100


def test_the_fit_finds_a_noisy_ellipse_and_refuses_an_egg():
    rng = np.random.default_rng(3)
    t = np.linspace(0, 2 * np.pi, 3000, endpoint=False)
    q = np.stack([40 * np.cos(t), 17 * np.sin(t)], 1) @ np.array([[0.8, -0.6], [0.6, 0.8]]).T + [3, -2]
    c, rx, ry, rot, d, _ = ellipse.fit_ellipse(q + rng.normal(0, 0.02, q.shape))
    assert np.allclose(c, [3, -2], atol=0.01) and rx == pytest.approx(40, abs=0.01) and ry == pytest.approx(17, abs=0.01)
    assert rot == pytest.approx(math.atan2(0.6, 0.8), abs=1e-3)
    egg = np.stack([40 * np.cos(t), 17 * np.sin(t) * (1 + 0.05 * np.cos(t))], 1)
    assert np.abs(ellipse.fit_ellipse(egg)[4]).max() > 0.2
    assert ellipse.fit_ellipse(np.zeros((10, 2))) is None


# ----------------------------------------------------------------------------- end to end

@pytest.mark.parametrize("name", [n for n in CURVES if n.startswith("ellipse")])
@pytest.mark.parametrize("mirror", [False, True])
def test_an_ellipse_is_two_elliptic_faces(tmp_path, name, mirror):
    regions = _regions(tmp_path, name, mirror=mirror)
    assert regions.segment_kinds() == {"lines": 0, "arcs": 0, "ellipses": 2, "beziers": 0}
    ring = regions.regions[0].shell
    assert ring.area() > 0 and np.ptp(ring.ellipses[:, :5], axis=0).max() < 1e-9
    assert _fidelity(tmp_path, name, regions, mirror=mirror) >= (0.99 if name == "ellipse_small" else 0.995)
    solid = extrude(regions, thickness_mm=THICK)
    assert is_valid_shape(solid.shape)
    assert face_types(solid.shape) == {"plane": 2, "cylinder": 0, "elliptic_cylinder": 2, "bspline": 0, "other": 0}
    assert solid.volume_mm3 == pytest.approx(regions.area_mm2 * THICK, rel=1e-9)
    assert check_mesh(extrude_mesh(regions, THICK)).is_volume


@pytest.mark.parametrize("name", ["superellipse", "superellipse_small", "egg", "egg_small"])
def test_a_near_ellipse_is_not_one(tmp_path, name):
    regions = _regions(tmp_path, name)
    assert regions.segment_kinds()["ellipses"] == 0
    assert _fidelity(tmp_path, name, regions) >= (0.99 if name.endswith("small") else 0.995)


def test_an_elliptic_hole_in_step_svg_and_dxf(tmp_path):
    regions = _regions(tmp_path, "elliptic_plate")
    hole = regions.regions[0].holes[0]
    assert hole.kinds()["ellipses"] == 2 and hole.area() < 0
    truth = Polygon([(60, 100), (452, 100), (452, 412), (60, 412)], [curve_points(140, 80, 20)])
    assert _iou(regions.geometry, _truth_mm(regions, np.array(truth.exterior.coords)).difference(
        _truth_mm(regions, curve_points(140, 80, 20)))) >= 0.995
    solid = extrude(regions, thickness_mm=THICK)
    assert solid.volume_mm3 == pytest.approx(regions.area_mm2 * THICK, rel=1e-9)
    back = step.read_step(step.write_step(solid.shape, tmp_path / "p.step"))
    assert face_types(back) == face_types(solid.shape) and face_types(back)["elliptic_cylinder"] == 2
    # SVG: A arcs with the axis' rotation, read back to the exact area
    path = svg.write_svg(regions, tmp_path / "p.svg")
    assert svg.svg_area_mm2(path) == pytest.approx(regions.area_mm2, rel=1e-6)
    assert " C" not in path.read_text() and "C" not in path.read_text().split("<path", 1)[1]
    # DXF: the hole is one ELLIPSE, checked and read back
    layers = footprint_layers(regions)
    write_dxf(layers, tmp_path / "p.dxf")
    check_dxf(tmp_path / "p.dxf", layers)
    kinds = [(e.dxftype(), e.dxf.layer) for e in ezdxf.readfile(tmp_path / "p.dxf").modelspace()]
    assert ("ELLIPSE", "HOLES") in kinds and kinds.count(("ELLIPSE", "HOLES")) == 1
    assert dxf_regions(tmp_path / "p.dxf").area_mm2 == pytest.approx(regions.area_mm2, rel=1e-6)


def test_an_elliptic_colour_is_an_ellipse_in_both_colours(tmp_path):
    """A red ellipse in a blue square: the boundary they share is one ellipse, the red body's and the blue hole's."""
    ss = 8
    big = Image.new("RGB", (512 * ss, 512 * ss), (255, 255, 255))
    draw = ImageDraw.Draw(big)
    draw.rectangle([40 * ss, 60 * ss, 472 * ss, 452 * ss], fill=(40, 70, 200))
    pts = curve_points(150, 90, 25)
    draw.polygon([(x * ss, y * ss) for x, y in pts], fill=(220, 40, 40))
    big.resize((512, 512), Image.LANCZOS).save(tmp_path / "c.png")
    opts = ConvertOptions(colors="auto", width_mm=50, thickness_mm=THICK, fit_tolerance_mm=None, formats=("3mf", "step"))
    conv = build_multicolor(tmp_path / "c.png", opts, stem="c")
    red, blue = sorted(conv.bodies, key=lambda b: b.regions.area_mm2)
    shell, hole = red.regions.regions[0].shell, blue.regions.regions[0].holes[0]
    assert red.regions.segment_kinds()["ellipses"] == 2 and hole.kinds()["ellipses"] == 2
    assert np.abs(np.sort(shell.ellipses[:, :5], axis=0) - np.sort(hole.ellipses[:, :5], axis=0)).max() == 0
    assert hole.area() == pytest.approx(-shell.area(), rel=1e-12)
    for b in (red, blue):
        assert is_valid_shape(b.solid.shape) and face_types(b.solid.shape)["elliptic_cylinder"] == 2
        assert b.solid.volume_mm3 == pytest.approx(b.regions.area_mm2 * THICK, rel=1e-9)
    assert conv.report()["overlap_mm2"] <= 1e-9 * blue.regions.area_mm2
    # the red body is the drawn ellipse, in the colour mode's frame (the subject's box: the blue square)
    s = 50 / 432
    truth = Polygon(np.stack([(pts[:, 0] - 256) * s, (256 - pts[:, 1]) * s], axis=1))
    g = red.regions.geometry
    assert g.intersection(truth).area / g.union(truth).area >= 0.995
