"""The fit's default: on where the curves are kept (STEP, SVG, DXF), off for meshes alone unless a
tolerance in mm is given; the mesh is the same solid either way."""

import pytest
import trimesh

import shapes
import tracecad


@pytest.fixture(scope="module")
def ring_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("fit") / "ring.png"
    path.write_bytes(shapes.geometric_png("ring"))  # anti-aliased at 512 px
    return path


def _convert(path, out, **kw):
    e = tracecad.convert(path, out, tracecad.ConvertOptions(width_mm=30, **kw))
    assert e["status"] == "ok", e
    return e


def test_the_default_fits_a_step_and_leaves_a_mesh_alone(ring_png, tmp_path):
    cad = _convert(ring_png, tmp_path / "cad", formats=("step", "stl"))
    assert cad["fit_tolerance_mm"] > 0 and cad["curve_segments_by_kind"]["arcs"] == cad["curve_segments"] == 4
    assert cad["step_faces_by_type"]["cylinder"] == 4 and cad["step_faces_by_type"]["bspline"] == 0
    mesh = _convert(ring_png, tmp_path / "mesh", formats=("stl",))
    assert mesh["fit_tolerance_mm"] == 0 and mesh["curve_segments_by_kind"]["arcs"] == 0
    forced = _convert(ring_png, tmp_path / "forced", formats=("stl",), fit_tolerance_mm=cad["fit_tolerance_mm"])
    assert forced["curve_segments_by_kind"]["arcs"] == 4
    # the same solid: volumes within the fit's tolerance times the outline's length
    a, b = (trimesh.load(e["outputs"]["stl"]) for e in (cad, mesh))
    assert a.is_volume and b.is_volume
    length = 2 * 3.141592653589793 * 15 * 2  # the ring's two circles (30 mm wide) are shorter than twice the outer
    assert abs(a.volume - b.volume) < 3 * length * cad["fit_tolerance_mm"] * 3.0  # (3 mm thick)
