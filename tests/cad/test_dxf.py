"""DXF output: closed outlines in mm on named layers, exact curves or polylines, checked before their rename."""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import ezdxf
import ezdxf.path
import numpy as np
import pytest
import shapely
from PIL import Image

import shapes
from cad.export import dxf
from cad.regions import Ring
from tracecad import ConvertOptions, convert
from tracecad.cli import main
from tracecad.options import ProductOptions
from tracer.errors import ExportError, InvalidInputError

# A 3 x 2 mm box whose bottom side is a cubic with control heights A, B (x evenly spaced: x = 3t), so the
# area under that side is 3 (A + B) / 4 and the box encloses 6 - 3 (A + B) / 4 (the cubic bulges inwards).
A, B = 0.8, -0.3
BOX_AREA = 6 - 3 * (A + B) / 4


def _box() -> Ring:
    ctrl = np.array([[[0, 0], [1, A], [2, B], [3, 0]],       # the curved bottom, left to right
                     [[3, 0], [3, 2 / 3], [3, 4 / 3], [3, 2]],
                     [[3, 2], [2, 2], [1, 2], [0, 2]],
                     [[0, 2], [0, 4 / 3], [0, 2 / 3], [0, 0]]], float)
    return Ring(ctrl, np.array([False, True, True, True]))


def _hole() -> Ring:
    return Ring.from_points(np.array([[1.0, 1.0], [2.0, 1.0], [2.0, 1.5], [1.0, 1.5]])).oriented(ccw=False)


def _layers() -> list[dxf.Layer]:
    return [dxf.Layer("OUTLINE", (_box(),)), dxf.Layer("HOLES", (_hole(),), aci=1),
            dxf.Layer("PLATE", (dxf.rounded_rect_loop(-2, -2, 5, 4, 1.5), dxf.Ellipse(10, 0, 2, 3)), color="#ea5a47"),
            dxf.Layer("PLATE_HOLES", (dxf.Circle(10, 0, 1),))]


def _modelspace(path):
    doc = ezdxf.readfile(str(path))
    return doc, list(doc.modelspace())


def test_exact_curves_are_single_span_cubics_joined_end_to_start(tmp_path):
    path = dxf.write_dxf(_layers(), tmp_path / "t.dxf")
    doc, ents = _modelspace(path)
    assert doc.header["$INSUNITS"] == 4 and doc.header["$MEASUREMENT"] == 1
    outline = [e for e in ents if e.dxf.layer == "OUTLINE"]
    assert sorted(e.dxftype() for e in outline) == ["LINE", "LINE", "LINE", "SPLINE"]
    spline = next(e for e in outline if e.dxftype() == "SPLINE")
    assert spline.dxf.degree == 3 and list(spline.knots) == [0, 0, 0, 0, 1, 1, 1, 1]
    np.testing.assert_array_equal(np.array(spline.control_points)[:, :2], _box().ctrl[0])
    # the chain closes: every start point is exactly some entity's end point
    starts = sorted(tuple(e.dxf.start)[:2] if e.dxftype() == "LINE" else tuple(e.control_points[0])[:2] for e in outline)
    ends = sorted(tuple(e.dxf.end)[:2] if e.dxftype() == "LINE" else tuple(e.control_points[-1])[:2] for e in outline)
    assert starts == ends
    # a polygon, a rounded rectangle, an ellipse and a circle are one closed entity each
    kinds = {e.dxf.layer: e.dxftype() for e in ents if e.dxf.layer != "PLATE"}
    assert kinds["HOLES"] == "LWPOLYLINE" and kinds["PLATE_HOLES"] == "CIRCLE"
    assert sorted(e.dxftype() for e in ents if e.dxf.layer == "PLATE") == ["ELLIPSE", "LWPOLYLINE"]
    assert doc.layers.get("PLATE").rgb == (0xea, 0x5a, 0x47)


def test_read_back_areas_equal_the_true_areas(tmp_path):
    path = dxf.write_dxf(_layers(), tmp_path / "t.dxf")
    areas = dxf.check_dxf(path, _layers())
    assert areas["OUTLINE"] == pytest.approx(BOX_AREA, rel=1e-12)
    assert areas["HOLES"] == pytest.approx(-0.5, rel=1e-12)
    rounded = 7 * 6 - (4 - math.pi) * 1.5**2
    assert areas["PLATE"] == pytest.approx(rounded + math.pi * 2 * 3, rel=1e-12)
    assert areas["PLATE_HOLES"] == pytest.approx(math.pi, rel=1e-12)


def test_areas_agree_with_ezdxfs_own_flattening(tmp_path):
    """An independent reading: ezdxf's own flattening of every entity, summed with the shoelace formula."""
    path = dxf.write_dxf(_layers(), tmp_path / "t.dxf")
    _, ents = _modelspace(path)
    total = 0.0
    for e in ents:
        if e.dxf.layer in ("OUTLINE", "HOLES"):
            pts = np.array([(v.x, v.y) for v in ezdxf.path.make_path(e).flattening(1e-7)])
            total += 0.5 * float(np.sum(pts[:-1, 0] * pts[1:, 1] - pts[1:, 0] * pts[:-1, 1]))
    assert total == pytest.approx(BOX_AREA - 0.5, rel=1e-6)


def test_polylines_stay_within_the_tolerance(tmp_path):
    tol = 0.01
    path = dxf.write_dxf(_layers(), tmp_path / "p.dxf", curves="polyline", tolerance_mm=tol)
    dxf.check_dxf(path, _layers(), curves="polyline", tolerance_mm=tol)
    _, ents = _modelspace(path)
    assert {e.dxftype() for e in ents} == {"LWPOLYLINE"} and all(e.closed for e in ents)
    assert all(b == 0 for e in ents for *_, b in e.get_points("xyb"))  # straight edges only
    # every vertex lies on the curve; every chord's midpoint lies within tol of it
    box = next(e for e in ents if e.dxf.layer == "OUTLINE")
    pts = np.array([(x, y) for x, y in box.get_points("xy")])
    t = np.linspace(0, 1, 20001)[:, None]
    bottom = sum(c * w for c, w in zip(_box().ctrl[0], ((1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t**2 * (1 - t), t**3)))
    curve = shapely.LinearRing(np.vstack([bottom, [[3, 2], [0, 2]]]))
    mids = 0.5 * (pts + np.roll(pts, -1, axis=0))
    for p, bound in ((pts, 1e-6), (mids, tol)):
        assert shapely.distance(curve, shapely.points(p)).max() <= bound
    circle = next(e for e in ents if e.dxf.layer == "PLATE_HOLES")
    r = np.hypot(*(np.array([(x - 10, y) for x, y in circle.get_points("xy")])).T)
    assert np.allclose(r, 1.0) and len(r) >= 8


@pytest.mark.parametrize("damage, message", [
    (lambda doc: doc.modelspace().delete_entity(
        next(e for e in doc.modelspace() if e.dxftype() == "LINE")), "open chain"),
    (lambda doc: next(e for e in doc.modelspace() if e.dxftype() == "SPLINE").control_points.__setitem__(
        1, (1.0, 0.9, 0.0)), "reads back enclosing"),
    (lambda doc: setattr(next(e for e in doc.modelspace() if e.dxftype() == "LWPOLYLINE"), "closed", False),
     "open LWPOLYLINE"),
    (lambda doc: doc.modelspace().add_arc((0, 0), 1, 0, 90, dxfattribs={"layer": "OUTLINE"}), "ARC"),
    (lambda doc: doc.modelspace().add_line((0, 0), (1, 1), dxfattribs={"layer": "STRAY"}), "open chain|STRAY"),
    (lambda doc: doc.header.__setitem__("$INSUNITS", 1), "millimetres"),
])
def test_the_check_finds_a_damaged_file(tmp_path, damage, message):
    path = dxf.write_dxf(_layers(), tmp_path / "t.dxf")
    doc = ezdxf.readfile(str(path))
    damage(doc)
    doc.saveas(path)
    with pytest.raises(ExportError, match=message):
        dxf.check_dxf(path, _layers(), name="t.dxf")


def test_garbage_is_refused_in_one_sentence(tmp_path):
    path = tmp_path / "t.dxf"
    path.write_text("0\nSECTION\n2\nENTITIES\n0\nLINE\n10\nnot-a-number\n")
    with pytest.raises(ExportError, match="t.dxf"):
        dxf.check_dxf(path, _layers(), name="t.dxf")


# --------------------------------------------------------------------------- through the modes

def _read_layers(path) -> dict:
    doc = ezdxf.readfile(str(path))
    readings, problems = dxf.read_dxf_layers(doc)
    assert not problems and doc.audit().has_errors is False
    assert all(r.open_ends == 0 for r in readings.values())
    return readings


def test_extrude_writes_the_footprint(tmp_path):
    png = tmp_path / "sq.png"
    shapes.save_png(shapes.square_with_hole(), png)
    e = convert(png, tmp_path / "out", ConvertOptions(width_mm=40, formats=("stl", "dxf")))
    got = _read_layers(e["outputs"]["dxf"])
    assert set(got) == {"OUTLINE", "HOLES"}
    assert got["OUTLINE"].area + got["HOLES"].area == pytest.approx(e["area_mm2"], rel=1e-6)
    # the true footprint: a 48 px square with a 16 px hole, 40 mm wide
    assert got["OUTLINE"].area + got["HOLES"].area == pytest.approx(40**2 * (1 - (16 / 48) ** 2), rel=2e-3)


def test_product_plate_and_hole_on_their_own_layers(tmp_path):
    png = tmp_path / "f.png"
    shapes.save_png(shapes.letter_f(4), png)
    e = convert(png, tmp_path / "out", ConvertOptions(width_mm=20, thickness_mm=1.0, formats=("dxf",),
                                                       product=ProductOptions(plate="rect", hole_mm=3.0)))
    doc = ezdxf.readfile(e["outputs"]["dxf"])
    got = _read_layers(e["outputs"]["dxf"])
    assert set(got) == {"OUTLINE", "PLATE", "PLATE_HOLES"}
    plate = next(x for x in doc.modelspace() if x.dxf.layer == "PLATE")
    xy = np.array(plate.get_points("xy"))
    fw, fh = e["product"]["footprint_mm"]
    # the plate is the footprint, centred on the origin like the solid
    assert xy[:, 0].max() - xy[:, 0].min() == pytest.approx(fw, abs=1e-3)
    assert xy[:, 1].max() - xy[:, 1].min() == pytest.approx(fh, abs=1e-3)
    assert np.abs(xy.max(axis=0) + xy.min(axis=0)).max() < 1e-6
    hole = next(x for x in doc.modelspace() if x.dxf.layer == "PLATE_HOLES")
    assert hole.dxftype() == "CIRCLE" and hole.dxf.radius == pytest.approx(1.5)
    assert (hole.dxf.center.x, hole.dxf.center.y) == pytest.approx(tuple(e["product"]["hole_xy_mm"]), abs=1e-4)
    assert got["OUTLINE"].area == pytest.approx(e["area_mm2"], rel=1e-6)


def _two_colours() -> bytes:
    img = np.full((120, 160, 3), 255, np.uint8)
    img[20:100, 20:80] = (220, 40, 40)
    img[20:100, 90:140] = (40, 70, 200)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("curves", ["spline", "polyline"])
def test_colours_get_a_layer_each_with_its_colour(tmp_path, curves):
    png = tmp_path / "two.png"
    png.write_bytes(_two_colours())
    e = convert(png, tmp_path / "out", ConvertOptions(colors="auto", width_mm=60, formats=("dxf",), dxf_curves=curves))
    doc = ezdxf.readfile(e["outputs"]["dxf"])
    got = _read_layers(e["outputs"]["dxf"])
    assert len(e["colors"]) == 2 and len(got) == 2
    for c in e["colors"]:
        name = f"COLOR_{c['color'][1:]}"
        assert doc.layers.get(name).rgb == tuple(int(c["color"][i:i + 2], 16) for i in (1, 3, 5))
        assert got[name].area == pytest.approx(c["area_mm2"], rel=1e-6 if curves == "spline" else 1e-3)


def test_a_failed_check_leaves_nothing(tmp_path, monkeypatch):
    png = tmp_path / "sq.png"
    shapes.save_png(shapes.square_with_hole(), png)
    real = dxf.write_dxf

    def short(layers, path, **kw):  # a writer that loses the holes
        return real([layer for layer in layers if layer.name != "HOLES"], path, **kw)

    monkeypatch.setattr(dxf, "write_dxf", short)
    with pytest.raises(ExportError, match="HOLES"):
        convert(png, tmp_path / "out", ConvertOptions(formats=("stl", "dxf")))
    assert not list((tmp_path / "out").iterdir())


def test_usage_errors(tmp_path, capsys):
    with pytest.raises(InvalidInputError, match="dxf is not available in --mode relief"):
        ConvertOptions(mode="relief", formats=("stl", "dxf"))
    with pytest.raises(InvalidInputError, match="dxf_curves"):
        ConvertOptions(formats=("dxf",), dxf_curves="arcs")
    png = tmp_path / "sq.png"
    shapes.save_png(shapes.square(), png)
    assert main(["convert", str(png), "-o", str(tmp_path / "o"), "--formats", "stl", "--dxf-curves", "polyline"]) == 2
    assert "--dxf-curves needs --formats with dxf" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- real clients

FREECAD = shutil.which("freecadcmd") or shutil.which("FreeCADCmd")

FREECAD_SCRIPT = """
import json, FreeCAD, Import, Part
FreeCAD.newDocument("t")
Import.readDXF({path!r}, "t", True)
edges = [e for o in FreeCAD.ActiveDocument.Objects if hasattr(o, "Shape") for e in o.Shape.Edges]
loops = []
for group in Part.sortEdges(edges):
    w = Part.Wire(group)
    loops.append([w.isClosed(), Part.Face(w).Area if w.isClosed() else 0.0])
print("LOOPS" + json.dumps(loops))
"""


@pytest.mark.slow
@pytest.mark.skipif(FREECAD is None, reason="FreeCAD (freecadcmd) is not installed")
@pytest.mark.parametrize("curves", ["spline", "polyline"])
def test_freecad_imports_closed_loops_of_the_right_areas(tmp_path, curves):
    """FreeCAD's DXF importer evaluates the curves itself: every loop it joins is closed and encloses
    the area of one contour (exact curves: 1e-6; polylines: their own area)."""
    layers = _layers()
    path = dxf.write_dxf(layers, tmp_path / "t.dxf", curves=curves)
    script = tmp_path / "import.py"
    script.write_text(FREECAD_SCRIPT.format(path=str(path)))
    assert FREECAD is not None
    out = subprocess.run([FREECAD, str(script)], capture_output=True, text=True, timeout=300)
    line = next((s for s in out.stdout.splitlines() if "LOOPS" in s), None)
    assert line is not None, out.stdout[-2000:] + out.stderr[-2000:]
    loops = json.loads(line[line.index("LOOPS") + 5:])
    assert all(closed for closed, _ in loops)
    got = sorted(area for _, area in loops)
    want = sorted(abs(c.area()) for layer in layers for c in layer.contours)
    if curves == "spline":
        np.testing.assert_allclose(got, want, rtol=1e-6)
    else:
        readings, _ = dxf.read_dxf_layers(ezdxf.readfile(str(path)))
        assert len(got) == len(want)
        assert sum(got) == pytest.approx(sum(abs(r.area) for r in readings.values()), rel=1e-9)
        np.testing.assert_allclose(got, want, rtol=0.02)


def _freecad_loops(path, tmp_path) -> list:
    script = tmp_path / "import.py"
    script.write_text(FREECAD_SCRIPT.format(path=str(path)))
    assert FREECAD is not None
    out = subprocess.run([FREECAD, str(script)], capture_output=True, text=True, timeout=300)
    line = next((s for s in out.stdout.splitlines() if "LOOPS" in s), None)
    assert line is not None, out.stdout[-2000:] + out.stderr[-2000:]
    return json.loads(line[line.index("LOOPS") + 5:])


@pytest.mark.slow
@pytest.mark.skipif(FREECAD is None, reason="FreeCAD (freecadcmd) is not installed")
def test_freecad_imports_a_product_drawing(tmp_path):
    """A traced keychain-like product: FreeCAD closes every outline (artwork chains, bulged plate, hole)
    and the loops enclose what tracecad's check read."""
    png = tmp_path / "sq.png"
    shapes.save_png(shapes.square_with_hole(), png)
    e = convert(png, tmp_path / "out", ConvertOptions(width_mm=30, formats=("dxf",),
                                                       product=ProductOptions(plate="rounded", hole_mm=3.0)))
    loops = _freecad_loops(e["outputs"]["dxf"], tmp_path)
    readings, _ = dxf.read_dxf_layers(ezdxf.readfile(e["outputs"]["dxf"]))
    assert set(readings) == {"OUTLINE", "HOLES", "PLATE", "PLATE_HOLES"}
    assert len(loops) == 4  # the square, its hole, the plate, the keychain hole
    assert all(closed for closed, _ in loops)
    assert sum(a for _, a in loops) == pytest.approx(sum(abs(r.area) for r in readings.values()), rel=1e-9)


def test_written_paths_are_final(tmp_path):
    """No temporary file is left beside the DXF."""
    png = tmp_path / "sq.png"
    shapes.save_png(shapes.square(), png)
    e = convert(png, tmp_path / "out", ConvertOptions(formats=("dxf",)))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [Path(e["outputs"]["dxf"]).name]


def test_a_multi_span_spline_reads_back_with_its_exact_area(tmp_path):
    """The reader is not limited to what the writer makes: a clamped spline with a triple knot at each
    joint (the whole box as one entity) is split into its Bézier spans and encloses the box's area."""
    c = _box().ctrl
    pts = [tuple(c[0, 0])] + [tuple(p) for seg in c for p in seg[1:]]
    doc = ezdxf.new("R2010", units=4)
    doc.modelspace().add_open_spline(pts, degree=3, knots=[0] * 4 + [1, 1, 1, 2, 2, 2, 3, 3, 3] + [4] * 4,
                                     dxfattribs={"layer": "OUTLINE"})
    doc.saveas(tmp_path / "one.dxf")
    got = dxf.check_dxf(tmp_path / "one.dxf", [dxf.Layer("OUTLINE", (_box(),))])
    assert got["OUTLINE"] == pytest.approx(BOX_AREA, rel=1e-12)


def test_ends_apart_by_rounding_are_joined_but_a_gap_is_found(tmp_path):
    c = _box().ctrl.copy()
    c[0, 0] += 1e-15  # where the last segment ends and the first starts, apart by rounding
    ring = Ring(c, _box().is_line)
    dxf.write_dxf([dxf.Layer("OUTLINE", (ring,))], tmp_path / "r.dxf")
    dxf.check_dxf(tmp_path / "r.dxf", [dxf.Layer("OUTLINE", (ring,))])
    c[0, 0] += 1e-3  # a real gap
    gap = Ring(c, _box().is_line)
    dxf.write_dxf([dxf.Layer("OUTLINE", (gap,))], tmp_path / "g.dxf")
    with pytest.raises(ExportError, match="open chain"):
        dxf.check_dxf(tmp_path / "g.dxf", [dxf.Layer("OUTLINE", (gap,))])


LIBRECAD = shutil.which("librecad")


def _pdf_polylines(path) -> list[np.ndarray]:
    """The polylines a PDF page strokes: the end points of its ``m``, ``l`` and ``c`` path operators, in
    the content stream's own coordinates; the page frame (a path as large as the page) left out."""
    paths: list[list] = []
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", Path(path).read_bytes(), re.S):
        try:
            text = zlib.decompress(m.group(1)).decode("latin-1")
        except zlib.error:
            continue
        nums: list[float] = []
        cur: list | None = None
        for tok in text.split():
            if re.fullmatch(r"-?\d*\.?\d+", tok):
                nums.append(float(tok))
                continue
            if tok == "m":
                cur = [nums[-2:]]
                paths.append(cur)
            elif tok in ("l", "c") and cur is not None:
                cur.append(nums[-2:])
            nums = []
    out = [np.array(p) for p in paths if len(p) > 1]
    page = np.ptp(np.vstack(out), axis=0)
    return [p for p in out if not (np.ptp(p, axis=0) > 0.9 * page).all()]


@pytest.mark.slow
@pytest.mark.skipif(LIBRECAD is None, reason="LibreCAD is not installed")
def test_librecad_draws_the_splines_on_the_outline(tmp_path):
    """LibreCAD's own spline evaluation, printed to PDF, lies on the true outline: every point it draws
    is on the fine polyline of the same outline (printed the same way), to the PDF's resolution."""
    layers = [dxf.Layer("OUTLINE", (_box(),)), dxf.Layer("HOLES", (_hole(),))]
    dxf.write_dxf(layers, tmp_path / "s.dxf")
    dxf.write_dxf(layers, tmp_path / "p.dxf", curves="polyline", tolerance_mm=1e-5)
    assert LIBRECAD is not None
    subprocess.run([LIBRECAD, "dxf2pdf", "-a", "s.dxf", "p.dxf"], cwd=tmp_path, capture_output=True, timeout=300,
                   env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    drawn, ref = _pdf_polylines(tmp_path / "s.pdf"), _pdf_polylines(tmp_path / "p.pdf")
    span = np.ptp(np.vstack(ref), axis=0).max()
    off = shapely.distance(shapely.MultiLineString(ref), shapely.points(np.vstack(drawn))) / span
    assert off.max() < 2e-4  # (LibreCAD draws a closed SPLINE with triple knots 0.1-8 % of the size off)
    missed = shapely.distance(shapely.MultiLineString(drawn), shapely.points(np.vstack(ref))) / span
    assert missed.max() < 2e-3  # every part of the outline is drawn (LibreCAD's chords are coarse)


@pytest.mark.parametrize("curves", ["spline", "polyline"])
def test_open_paths_meeting_at_one_point_stay_apart(tmp_path, curves):
    """Three open paths ending at one point (a Y), a loop through it and a straight line: every path is its own
    chain (the writer turns paths so none starts where the previous ended), as long as the curves."""
    from cad.export.dxf_paths import check_dxf_paths, cubic_length, paths_length, write_dxf_paths

    def line(p, q):
        p, q = np.asarray(p, float), np.asarray(q, float)
        return np.array([p, p + (q - p) / 3, p + 2 * (q - p) / 3, q])

    arc = np.array([[0, 0], [5, 1], [8, 4], [9, 9]], float)  # ends at the Y's centre (0, 0) when reversed
    k = 4 / 3 * math.tan(math.pi / 8)  # a circle of radius 3 through (0, 0) from four quarter cubics
    c = np.array([0.0, -3.0])
    quarter = [np.array([[3 * math.cos(a), 3 * math.sin(a)],
                         [3 * (math.cos(a) - k * math.sin(a)), 3 * (math.sin(a) + k * math.cos(a))],
                         [3 * (math.cos(a + math.pi / 2) + k * math.sin(a + math.pi / 2)),
                          3 * (math.sin(a + math.pi / 2) - k * math.cos(a + math.pi / 2))],
                         [3 * math.cos(a + math.pi / 2), 3 * math.sin(a + math.pi / 2)]]) + c
               for a in (math.pi / 2, math.pi, 1.5 * math.pi, 0.0)]
    paths = [(line((-10, 0), (0, 0))[None], False), (line((0, 0), (0, 10))[None], False), (arc[::-1][None], False),
             (np.array(quarter), True), (np.stack([line((20, 0), (30, 0)), line((30, 0), (30, 5))]), False)]
    assert cubic_length(line((0, 0), (3, 4))[None]) == pytest.approx(5.0, rel=1e-12)
    out = tmp_path / "paths.dxf"
    written = write_dxf_paths(paths, out, curves=curves, tolerance_mm=0.001)
    want = paths_length(paths)
    assert written == pytest.approx(want, rel=1e-6 if curves == "spline" else 1e-4)
    assert want == pytest.approx(10 + 10 + 15 + cubic_length(arc[None]) + 2 * math.pi * 3, rel=1e-3)
    got = check_dxf_paths(out, open_paths=4, closed_paths=1, length_mm=written, curves=curves)
    assert got == pytest.approx(written, rel=1e-9)
    kinds = {e.dxftype() for e in ezdxf.readfile(out).modelspace()}
    assert kinds == ({"LINE", "SPLINE"} if curves == "spline" else {"LWPOLYLINE"})


def test_a_colour_layer_of_arcs_among_cubics_is_exact(tmp_path):
    # the box with its top side a half circle bulging up: a line, an arc and a cubic on a colour's layer
    box = _box()
    ctrl = box.ctrl.copy()
    c, sweep = np.array([1.5, 2.0]), math.pi
    k = 4 / 3 * math.tan(sweep / 4)
    ctrl[2] = [[3, 2], [3, 2 + 1.5 * k], [0, 2 + 1.5 * k], [0, 2]]
    arcs = np.full((4, 3), np.nan)
    arcs[2] = [c[0], c[1], sweep]
    ring = Ring(ctrl, np.array([False, True, False, True]), True, arcs)
    assert ring.area() == pytest.approx(BOX_AREA + math.pi * 1.5**2 / 2, rel=1e-12)
    layer = dxf.colour_layer("#336699", type("R", (), {"regions": [type("G", (), {"rings": (ring,)})()]})())
    dxf.write_dxf([layer], tmp_path / "c.dxf")
    # arcs among cubics are all SPLINEs: the arc as cubics of a quarter turn, within 2.7e-4 of its radius
    area = dxf.check_dxf(tmp_path / "c.dxf", [layer])[layer.name]
    assert area == pytest.approx(ring.beziers().area(), rel=1e-9) and area == pytest.approx(ring.area(), rel=1e-3)
