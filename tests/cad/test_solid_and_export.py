"""B-rep and mesh invariants, and file round-trips through independent readers (OCC, trimesh, svgpathtools)."""

import math

import numpy as np
import pytest
import trimesh

import cad
import shapes
import tracecad
import tracer
from cad.export.step import read_step, write_step
from cad.export.stl import read_stl, write_stl
from cad.export.threemf import Part, read_3mf, write_3mf
from cad.mesh import check_mesh, extrude_mesh
from cad.regions import to_regions
from cad.solid import count_solids, extrude, face_count, is_valid_shape, shape_volume

pytestmark = pytest.mark.slow


def regions_of(mask, **kw):
    return to_regions(tracer.trace(tracer.Mask(mask)), **kw)


@pytest.mark.parametrize("mask, holes, bodies", [
    (shapes.square(), 0, 1),
    (shapes.ring(), 1, 1),
    (shapes.square_with_hole(), 1, 1),
    (shapes.letter_f(), 0, 1),
    (shapes.ring(n=200, r_out=90, r_in=70) | shapes.ring(n=200, r_out=40, r_in=20), 2, 2),  # island in a hole
])
def test_volume_equals_area_times_thickness_and_genus_equals_holes(mask, holes, bodies):
    r = regions_of(mask, width_mm=40)
    s = extrude(r, thickness_mm=2.5)
    assert is_valid_shape(s.shape)
    assert s.volume_mm3 == pytest.approx(r.area_mm2 * 2.5, rel=1e-6)
    assert s.solids == bodies == len(r.regions)
    m = extrude_mesh(r, 2.5)
    rep = check_mesh(m)
    assert rep.is_volume and rep.bodies == bodies and rep.genus == holes
    tm = trimesh.Trimesh(m.vertices, m.faces)  # independent check
    assert tm.is_volume
    assert tm.volume == pytest.approx(r.area_mm2 * 2.5, rel=2e-3)
    assert tm.euler_number == 2 * bodies - 2 * holes
    np.testing.assert_allclose(tm.bounds[:, 2], [0, 2.5])


def test_side_walls_are_one_face_per_curve_segment():
    r = regions_of(shapes.ring(), width_mm=30)
    s = extrude(r, thickness_mm=1)
    assert s.faces == r.n_segments + 2  # walls + top + bottom


def test_step_round_trip_is_the_same_valid_solid(tmp_path):
    r = regions_of(shapes.square_with_hole(), width_mm=20)
    s = extrude(r, thickness_mm=3)
    p = write_step(s.shape, tmp_path / "a.step")
    text = p.read_text(errors="replace")
    assert "AUTOMOTIVE_DESIGN" in text  # AP214
    assert "SI_UNIT(.MILLI.,.METRE.)" in text.replace(" ", "")
    back = read_step(p)
    assert is_valid_shape(back) and count_solids(back) == 1
    assert shape_volume(back) == pytest.approx(s.volume_mm3, rel=1e-9)
    assert face_count(back) == s.faces


def test_stl_and_3mf_load_as_watertight_volumes_with_the_same_bounds(tmp_path):
    r = regions_of(shapes.ring(), width_mm=25)
    m = extrude_mesh(r, 4)
    stl = trimesh.load(write_stl(m, tmp_path / "a.stl"), force="mesh")
    tmf = trimesh.load(write_3mf([Part("a", m)], tmp_path / "a.3mf"), force="mesh")
    for t in (stl, tmf):
        assert t.is_volume
        x0, y0, x1, y1 = r.bounds
        assert x1 - x0 == pytest.approx(25, abs=1e-9)
        np.testing.assert_allclose(t.bounds, [[x0, y0, 0], [x1, y1, 4]], atol=0.01)  # chord tolerance
        assert t.volume == pytest.approx(m.volume(), rel=1e-5)
    unit, parts = read_3mf(tmp_path / "a.3mf")
    assert unit == "millimeter" and len(parts) == 1
    assert check_mesh(read_stl(tmp_path / "a.stl")).is_volume


def test_check_mesh_detects_a_hole_and_a_flipped_triangle():
    m = extrude_mesh(regions_of(shapes.square(), width_mm=10), 1)
    good = check_mesh(m)
    assert good.is_volume and good.genus == 0
    holed = cad.Mesh(m.vertices, m.faces[1:])
    assert not check_mesh(holed).watertight
    f = m.faces.copy()
    f[0] = f[0][::-1]
    assert not check_mesh(cad.Mesh(m.vertices, f)).winding_consistent


def test_convert_writes_all_formats_that_read_back(tmp_path):
    png = tmp_path / "ring.png"
    shapes.save_png(shapes.ring(), png, aa=True)
    e = tracecad.convert(png, tmp_path / "out", tracecad.ConvertOptions(width_mm=30, thickness_mm=2,
                                                              formats=("step", "stl", "3mf", "svg")))
    assert e["status"] == "ok" and set(e["outputs"]) == {"step", "stl", "3mf", "svg"}
    assert e["width_mm"] == pytest.approx(30, abs=1e-9)
    assert e["holes"] == 1 and e["bodies"] == 1
    assert e["volume_mm3"] == pytest.approx(e["area_mm2"] * 2, rel=1e-6)
    assert e["step_faces"] <= 1.2 * (e["curve_segments"] + 2 * e["bodies"])
    from cad.export.svg import svg_area_mm2
    assert svg_area_mm2(e["outputs"]["svg"]) == pytest.approx(e["area_mm2"], rel=1e-4)
    t = trimesh.load(e["outputs"]["stl"], force="mesh")
    assert t.is_volume and t.bounds[1][0] - t.bounds[0][0] == pytest.approx(30, abs=0.02)
    # nothing but the four outputs is left in the folder
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ring.3mf", "ring.step", "ring.stl", "ring.svg"]


def test_stl_only_run_does_not_build_the_brep(tmp_path):
    png = tmp_path / "sq.png"
    shapes.save_png(shapes.square(64, 10, 50), png)
    conv = tracecad.build(png, tracecad.ConvertOptions(formats="stl"))
    tracecad.write_outputs(conv, tmp_path, "sq")
    assert conv.solid_built is None and "solid" not in conv.timings


def test_an_stl_that_is_not_the_checked_mesh_bit_for_bit_is_checked_on_its_own(tmp_path, monkeypatch):
    from cad.export import stl as stl_mod

    m = extrude_mesh(regions_of(shapes.ring(), width_mm=25), 4)
    p = write_stl(m, tmp_path / "a.stl")
    assert stl_mod.holds_mesh(p, m)  # the mesher's coordinates are float32 values: the file is the mesh
    shifted = cad.Mesh(m.vertices + 1e-9, m.faces)  # not float32 values: the file cannot hold it exactly
    assert not stl_mod.holds_mesh(write_stl(shifted, tmp_path / "b.stl"), shifted)
    data = bytearray(p.read_bytes())
    data[84 + 12] ^= 0x40  # one corner of the first triangle damaged
    (tmp_path / "c.stl").write_bytes(bytes(data))
    assert not stl_mod.holds_mesh(tmp_path / "c.stl", m)
    (tmp_path / "d.stl").write_bytes(p.read_bytes()[:-50])  # a truncated file
    assert not stl_mod.holds_mesh(tmp_path / "d.stl", m)
    # in the pipeline, a written file that is not the checked mesh is checked on its own (and refused here)
    png = tmp_path / "ring.png"
    shapes.save_png(shapes.ring(), png, aa=True)
    conv = tracecad.build(png, tracecad.ConvertOptions(width_mm=30, formats="stl"))

    def damaged_write(mesh, path):
        path.write_bytes(stl_mod.stl_bytes(cad.Mesh(mesh.vertices, mesh.faces[1:])))  # one triangle missing
        return path

    monkeypatch.setattr(stl_mod, "write_stl", damaged_write)
    with pytest.raises(tracer.ExportError, match="watertight"):
        tracecad.write_outputs(conv, tmp_path / "out", "ring")
    assert not (tmp_path / "out" / "ring.stl").exists()


@pytest.mark.parametrize("sweep", [0, 1])
def test_the_svg_read_back_integrates_arcs_exactly(tmp_path, sweep):
    """A disc of two arcs drawn either way round, and a square with a bulge or a notch: exact areas."""
    from cad.export.svg import svg_area_mm2

    disc = f"M 10 0 A 10 10 0 0 {sweep} -10 0 A 10 10 0 0 {sweep} 10 0 Z"
    square = f"M 20 0 L 30 0 L 30 0 A 5 5 0 0 {sweep} 30 10 L 20 10 Z"  # (with a line of zero length)  # sweep 1: clockwise on the page, outwards
    for d, area in ((disc, math.pi * 100), (square, 100 + (math.pi * 25 / 2) * (1 if sweep else -1))):
        (tmp_path / "a.svg").write_text(f'<svg xmlns="http://www.w3.org/2000/svg"><path d="{d}"/></svg>')
        assert svg_area_mm2(tmp_path / "a.svg") == pytest.approx(area, rel=1e-12)
