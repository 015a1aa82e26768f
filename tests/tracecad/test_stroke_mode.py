"""--mode stroke end to end: a line drawing becomes a watertight solid of uniform strokes and open paths."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import shapely
import trimesh
from PIL import Image
from shapely.geometry import LineString

from cad.export.stl import read_stl
from cad.mesh import check_mesh
from cad.products import ProductOptions
from cad.strokes import flatten_path
from shapes import line_art
from tracecad import ConvertOptions, convert
from tracecad.cli import main
from tracecad.modes.extrude import write_outputs
from tracecad.modes.stroke import build
from tracecad.options import StrokeParams
from tracer.errors import InvalidInputError

# a hand-drawn-like figure: a loop with a crossing stem and a T bar (3 junctions, 3 free ends)
LOOP = [(80 + 35 * np.cos(a), 95 + 35 * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 181)]
DRAWING = [[(22, 30), (138, 33)], [(80, 31.5), (83, 150)], LOOP]


@pytest.fixture(scope="module")
def drawing(tmp_path_factory):
    path = tmp_path_factory.mktemp("stroke") / "drawing.png"
    Image.fromarray(line_art(DRAWING, 5.0)).save(path)
    return path


def run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_stl_is_watertight_and_volume_is_area_times_thickness(capsys, drawing, tmp_path):
    code, out, err = run(capsys, "convert", drawing, "-o", tmp_path, "--mode", "stroke", "--stroke-width", "1.5",
                         "--width", "40", "--thickness", "2", "--formats", "stl,svg", "--json")
    assert code == 0, err
    entry = json.loads(out)["results"][0]
    assert entry["status"] == "ok"
    assert (entry["junctions"], entry["endpoints"]) == (3, 3)
    assert entry["stroke_width_mm"] == 1.5 and not entry["stroke_width_auto"]
    assert abs(entry["ink_width_px"] - 5.0) <= 0.35
    mesh = read_stl(tmp_path / "drawing.stl")
    rep = check_mesh(mesh)
    assert rep.is_volume and rep.watertight
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=True)
    assert tm.is_watertight and tm.is_volume
    assert tm.volume == pytest.approx(entry["area_mm2"] * 2.0, rel=2e-3)
    lo, hi = tm.bounds
    assert hi[0] - lo[0] == pytest.approx(40.0, abs=0.02)  # --width: the footprint, strokes included
    assert lo[2] == pytest.approx(0.0, abs=1e-6) and hi[2] == pytest.approx(2.0, abs=1e-6)
    # the outline SVG of the strokes is filled, with the loop's two holes
    text = (tmp_path / "drawing.svg").read_text()
    assert 'fill="#000000"' in text


def test_strokes_are_uniform(drawing):
    """Every point of the footprint is within half the stroke width of a centreline, and its area is
    about length x width: the pen's uneven edges are gone."""
    conv = build(drawing, ConvertOptions(mode="stroke", formats=("stl",), width_mm=50.0, stroke=StrokeParams(width_mm=1.0)))
    lines = shapely.union_all([LineString(flatten_path(c, cl, 1e-3)) for c, cl in conv.strokes.paths])
    boundary = conv.regions.geometry.boundary
    d = shapely.distance(shapely.points(np.asarray(boundary.segmentize(0.05).geoms[0].coords)), lines)
    assert np.percentile(d, 50) == pytest.approx(0.5, abs=0.01)
    assert d.max() <= 0.5 + 0.01


def test_svg_centerline_writes_open_paths(capsys, drawing, tmp_path):
    code, out, err = run(capsys, "convert", drawing, "-o", tmp_path, "--mode", "stroke", "--formats", "svg",
                         "--svg-content", "centerline", "--cap", "butt", "--json")
    assert code == 0, err
    entry = json.loads(out)["results"][0]
    text = (tmp_path / "drawing.svg").read_text()
    assert 'fill="none"' in text and 'stroke-linecap="butt"' in text
    ds = re.findall(r' d="([^"]+)"', text)
    assert len(ds) == entry["centerlines"] == 3  # bar, stem, loop
    assert sum(d.endswith("Z") for d in ds) == 1  # only the loop is closed
    assert entry["stroke_width_auto"] and entry["stroke_width_mm"] == pytest.approx(entry["ink_width_mm"], rel=1e-4)


def test_stroke_flags_need_the_mode(capsys, drawing, tmp_path):
    code, _, err = run(capsys, "convert", drawing, "-o", tmp_path, "--cap", "round")
    assert code == 2 and "--mode stroke" in err
    with pytest.raises(SystemExit) as e:
        main(["convert", str(drawing), "--mode", "stroke", "--stroke-width", "-1"])
    assert e.value.code == 2
    with pytest.raises(InvalidInputError):
        ConvertOptions(mode="stroke", colors=3)
    with pytest.raises(InvalidInputError):
        ConvertOptions(stroke=StrokeParams(cap="butt"))


def test_blank_image_is_one_clear_error(tmp_path):
    path = tmp_path / "blank.png"
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(path)
    with pytest.raises(Exception) as e:
        convert(path, tmp_path / "out", ConvertOptions(mode="stroke", formats=("stl",)))
    assert "blank.png" in str(e.value)
    assert not list((tmp_path).glob("out/*"))


def test_cookie_cutter_uses_the_strokes_as_its_wall(drawing, tmp_path):
    """The cutter's wall is the strokes at full height, on a flange (the strokes grown by --flange) at
    the base thickness: volume = strokes x height + the rest of the flange x its height."""
    opts = ConvertOptions(mode="stroke", formats=("stl",), width_mm=50.0, thickness_mm=10.0,
                          stroke=StrokeParams(width_mm=1.0),
                          product=ProductOptions(style="cutter", flange_mm=3.0, base_thickness_mm=1.5))
    conv = build(drawing, opts)
    art = conv.regions.geometry
    flange = art.buffer(3.0, quad_segs=16).area
    assert conv.solid.volume_mm3 == pytest.approx(art.area * 10.0 + (flange - art.area) * 1.5, rel=5e-3)
    write_outputs(conv, tmp_path, "cutter")
    tm = trimesh.load(tmp_path / "cutter.stl")
    assert tm.is_watertight and tm.is_volume and tm.body_count == 1
    assert tm.bounds[1][2] == pytest.approx(10.0, abs=1e-6)


def test_web_form_fields_reach_the_stroke_options():
    from tracecad.web.forms import FormError, options_from_form

    o = options_from_form([("mode", "stroke"), ("stroke_width", "1.5"), ("cap", "square"),
                           ("svg_content", "centerline"), ("formats", "svg,stl")], max_pixels=10**6)
    assert o.mode == "stroke" and o.stroke == StrokeParams(width_mm=1.5, cap="square", svg_content="centerline")
    with pytest.raises(FormError):
        options_from_form([("cap", "round")], max_pixels=10**6)  # without the mode


def test_noise_is_not_line_art_but_still_a_checked_solid(tmp_path):
    """Salt-and-pepper noise thins to thousands of tiny branches and loops; the mode still ends with a
    closed solid (or one clear error), not a hang."""
    rng = np.random.default_rng(3)
    path = tmp_path / "noise.png"
    Image.fromarray(((rng.random((60, 60)) < 0.5) * 255).astype(np.uint8)).save(path)
    entry = convert(path, tmp_path / "out", ConvertOptions(mode="stroke", formats=("stl",)))
    assert entry["status"] == "ok" and entry["branches"] > 10
    assert trimesh.load(entry["outputs"]["stl"]).is_volume


def test_dxf_centerline_writes_open_and_closed_chains(capsys, tmp_path):
    """An X crossing (two open lines through one junction) and a separate loop: the DXF holds two open
    chains and one closed chain on CENTERLINE, as long as the centreline SVG's paths, in the frame of the STL."""
    import ezdxf
    from ezdxf.path import make_path

    from cad.export import svg
    from cad.export.dxf_paths import check_dxf_paths
    from tracer.errors import ExportError

    loop = [(120 + 28 * np.cos(a), 110 + 28 * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 181)]
    path = tmp_path / "xloop.png"
    Image.fromarray(line_art([[(15, 15), (80, 80)], [(15, 80), (80, 15)], loop], 5.0)).save(path)
    code, out, err = run(capsys, "convert", path, "-o", tmp_path, "--mode", "stroke", "--formats", "dxf,svg,stl",
                         "--svg-content", "centerline", "--stroke-width", "1", "--width", "40", "--json")
    assert code == 0, err
    entry = json.loads(out)["results"][0]
    assert (entry["centerlines"], entry["junctions"]) == (3, 1)
    dxf_path = tmp_path / "xloop.dxf"
    doc = ezdxf.readfile(dxf_path)
    assert not doc.audit().has_errors and doc.header["$INSUNITS"] == 4
    ents = list(doc.modelspace())
    assert {e.dxf.layer for e in ents} == {"CENTERLINE"} and {e.dxftype() for e in ents} <= {"LINE", "SPLINE"}
    # chains in file order: each entity starting where the previous ended continues the path
    chains: list[list] = []
    for e in ents:
        pts = [(e.dxf.start.x, e.dxf.start.y), (e.dxf.end.x, e.dxf.end.y)] if e.dxftype() == "LINE" else \
            [tuple(p[:2]) for p in e.control_points]
        if chains and chains[-1][-1] == pts[0]:
            chains[-1].extend(pts[1:])
        else:
            chains.append(pts)
    closed = [c[0] == c[-1] for c in chains]
    assert (len(chains), sum(closed)) == (3, 1)
    n_svg, svg_len = svg.svg_open_paths(tmp_path / "xloop.svg")
    assert n_svg == 3
    length = check_dxf_paths(dxf_path, open_paths=2, closed_paths=1, length_mm=svg_len * (1 + 1e-7))
    assert length == pytest.approx(svg_len, rel=1e-5)  # svgpathtools' own length integration
    # the same frame as the STL (mm, centred, y up): the footprint is the curves grown by half the stroke width
    lo, hi = trimesh.load(tmp_path / "xloop.stl").bounds
    on_curve = np.array([(v.x, v.y) for e in ents for v in make_path(e).flattening(1e-4)])
    np.testing.assert_allclose(on_curve.min(axis=0) - 0.5, lo[:2], atol=0.01)
    np.testing.assert_allclose(on_curve.max(axis=0) + 0.5, hi[:2], atol=0.01)
    # the check can fail: a wrong count or length is refused
    with pytest.raises(ExportError, match="open and"):
        check_dxf_paths(dxf_path, open_paths=4, closed_paths=1, length_mm=length)
    with pytest.raises(ExportError, match="long"):
        check_dxf_paths(dxf_path, open_paths=2, closed_paths=1, length_mm=length * 1.001)


def test_dxf_centerline_failing_check_leaves_no_file(monkeypatch, drawing, tmp_path):
    from cad.export import dxf_paths

    monkeypatch.setattr(dxf_paths, "LENGTH_RTOL", -1.0)  # no length can pass
    opts = ConvertOptions(mode="stroke", formats=("svg", "dxf"), stroke=StrokeParams(svg_content="centerline"))
    with pytest.raises(Exception, match="drawing.dxf: the DXF's paths read back"):
        convert(drawing, tmp_path / "out", opts)
    assert not list((tmp_path / "out").iterdir())
