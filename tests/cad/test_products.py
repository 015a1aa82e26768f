"""Products (plates, holes, rims, edges, stencils, stamps, cookie cutters): geometry invariants, not bytes."""

import json

import numpy as np
import pytest
import shapely
from shapely.geometry import Point

import shapes
import tracer
from cad.checks import check_file
from cad.mesh import check_mesh
from cad.products import ProductOptions, build_product
from cad.regions import to_regions
from cad.solid import count_solids, is_valid_shape
from cad.tessellate import mesh_volume_tolerance, tessellate
from tracecad import ConvertOptions
from tracecad.cli import main
from tracecad.options import PRESETS
from tracer.errors import InvalidInputError

pytestmark = pytest.mark.slow

TOL = 0.01


def regions_of(mask, width_mm=20.0, mirror=False, fit_tolerance_mm=None):
    return to_regions(tracer.trace(tracer.Mask(mask)), width_mm=width_mm, mirror=mirror,
                      fit_tolerance_mm=fit_tolerance_mm)


def make(regions, thickness=1.5, **prod):
    warnings = []
    solid = build_product(regions, ProductOptions(**prod), thickness_mm=thickness, warnings=warnings)
    return solid, warnings


def mesh_ok(solid):
    """The tessellated mesh is a closed, consistently wound volume matching the B-rep's volume."""
    mesh = tessellate(solid.shape, TOL)
    rep = check_mesh(mesh)
    assert rep.is_volume, rep
    assert rep.volume_mm3 == pytest.approx(solid.volume_mm3, abs=mesh_volume_tolerance(solid, TOL))
    return rep


def test_emboss_plate_and_artwork_volumes_add_up():
    reg = regions_of(shapes.square_with_hole())
    s, _ = make(reg, thickness=1.5, plate="rect", margin_mm=2.0, base_thickness_mm=2.0)
    w, h = reg.width_mm + 4.0, reg.height_mm + 4.0
    assert s.solids == 1 and count_solids(s.shape) == 1 and is_valid_shape(s.shape)
    assert s.volume_mm3 == pytest.approx(w * h * 2.0 + reg.area_mm2 * 1.5, rel=1e-6)
    rep = mesh_ok(s)
    assert rep.bodies == 1 and rep.genus == 0  # the artwork's hole is a blind pocket now, not a through hole
    b = s.report["footprint_mm"]
    assert b == pytest.approx([w, h], abs=1e-6)


@pytest.mark.parametrize("plate", ["rounded", "circle", "ellipse", "contour"])
def test_every_plate_shape_contains_the_artwork_and_adds_up(plate):
    reg = regions_of(shapes.letter_f())
    s, _ = make(reg, thickness=1.0, plate=plate, margin_mm=2.0, base_thickness_mm=1.5)
    assert count_solids(s.shape) == 1 and is_valid_shape(s.shape)
    plate_vol = s.volume_mm3 - reg.area_mm2 * 1.0
    plate_only, _ = make(reg, thickness=1.0, plate=plate, margin_mm=2.0, base_thickness_mm=1.5, style="deboss",
                         depth_mm=1e-3)  # same plate, almost nothing engraved
    assert plate_vol == pytest.approx(plate_only.volume_mm3 + reg.area_mm2 * 1e-3, rel=1e-5)
    mesh_ok(s)


def test_hole_raises_genus_by_one_and_misses_the_artwork():
    reg = regions_of(shapes.letter_f())
    plain, _ = make(reg, plate="contour", margin_mm=2.0)
    holed, _ = make(reg, plate="contour", margin_mm=2.0, hole_mm=3.0)
    g0, g1 = mesh_ok(plain).genus, mesh_ok(holed).genus
    assert g1 == g0 + 1
    assert holed.solids == 1
    x, y = holed.report["hole_xy_mm"]
    dx, dy = holed.report["offset_mm"]
    art = shapely.affinity.translate(reg.geometry, dx, dy)
    assert Point(x, y).distance(art) >= 1.5 + 1.0 - 1e-6  # radius + default clearance
    # the drilled volume is a full cylinder through the plate: the tab plate minus exactly pi r^2 t
    assert holed.volume_mm3 < plain.volume_mm3 + 100  # sanity: a tab was added, not a second part


def test_hole_at_user_position():
    reg = regions_of(shapes.square(), width_mm=20)
    s, w = make(reg, plate="rect", margin_mm=8.0, hole_mm=3.0, hole_at=(-13.0, 13.0))
    assert s.report["hole_xy_mm"] == pytest.approx([-13.0, 13.0])
    no_hole, _ = make(reg, plate="rect", margin_mm=8.0)
    assert no_hole.volume_mm3 - s.volume_mm3 == pytest.approx(np.pi * 1.5**2 * 2.0, rel=1e-6)
    assert not w


def test_engraved_volume_is_plate_minus_pocket():
    reg = regions_of(shapes.square_with_hole())
    s, _ = make(reg, plate="rect", margin_mm=3.0, base_thickness_mm=3.0, style="deboss", depth_mm=1.2)
    w, h = reg.width_mm + 6.0, reg.height_mm + 6.0
    assert s.volume_mm3 == pytest.approx(w * h * 3.0 - reg.area_mm2 * 1.2, rel=1e-6)
    assert count_solids(s.shape) == 1
    mesh_ok(s)


@pytest.mark.parametrize("style", ["deboss", "stencil"])
def test_direct_complement_faces_match_the_boolean_cut(style, monkeypatch):
    from cad import plates

    reg = regions_of(shapes.ring(n=200, r_out=90, r_in=70) | shapes.ring(n=200, r_out=40, r_in=20))
    fast, _ = make(reg, plate="ellipse", margin_mm=2.0, style=style, depth_mm=0.5)
    monkeypatch.setattr(plates, "complement_faces", lambda *a: None)
    slow, _ = make(reg, plate="ellipse", margin_mm=2.0, style=style, depth_mm=0.5)
    assert fast.report["fast_complement"] and not slow.report["fast_complement"]
    assert fast.volume_mm3 == pytest.approx(slow.volume_mm3, rel=1e-7)
    assert count_solids(fast.shape) == 1 and is_valid_shape(fast.shape)


def test_chamfer_is_valid_and_smaller():
    reg = regions_of(shapes.square(), width_mm=10)
    sharp, _ = make(reg, plate="rect", margin_mm=3.0)
    cham, warn = make(reg, plate="rect", margin_mm=3.0, chamfer_mm=0.4)
    assert not warn
    assert is_valid_shape(cham.shape) and count_solids(cham.shape) == 1
    assert cham.volume_mm3 < sharp.volume_mm3
    # square artwork 10x10 and plate 16x16: 45° chamfers remove c²/2 per mm of top edge (minus corner overlaps)
    lost = sharp.volume_mm3 - cham.volume_mm3
    assert lost == pytest.approx(0.08 * (40 + 64), rel=0.05)
    mesh_ok(cham)
    fil, _ = make(reg, plate="rect", margin_mm=3.0, fillet_mm=0.4)
    assert is_valid_shape(fil.shape) and cham.volume_mm3 < fil.volume_mm3 < sharp.volume_mm3


@pytest.mark.parametrize("kind", ["chamfer_mm", "fillet_mm"])
def test_edges_without_a_plate_keep_one_body_per_island(kind):
    """A chamfer or fillet alone (no plate) treats each island of a multi-part logo: as many bodies as islands."""
    m = np.zeros((40, 72), bool)
    m[8:32, 8:32] = m[8:32, 40:64] = True  # two separate 24 px squares
    reg = regions_of(m, width_mm=14.0)
    sharp, _ = make(reg, thickness=2.0)
    treated, warn = make(reg, thickness=2.0, **{kind: 0.4})
    assert not warn
    assert treated.solids == 2 == count_solids(treated.shape) and is_valid_shape(treated.shape)
    assert sharp.volume_mm3 == pytest.approx(reg.area_mm2 * 2.0, rel=1e-6)
    # 45° chamfers take c²/2 per mm of top edge: two 6 mm squares have 48 mm of it (minus corner overlaps)
    lost = sharp.volume_mm3 - treated.volume_mm3
    if kind == "chamfer_mm":
        assert lost == pytest.approx(0.08 * 48, rel=0.05)
    else:
        assert 0 < lost < 0.08 * 48
    rep = mesh_ok(treated)
    assert rep.bodies == 2 and rep.genus == 0


def test_an_over_budget_product_does_not_offer_meshes_as_the_way_out(tmp_path, capsys):
    """A product is built as an exact solid even for STL, so its budget error must not say
    'write only meshes'; a plain extrusion's STEP error still does, and its STL alone is written."""
    png = tmp_path / "ring.png"
    shapes.save_png(shapes.ring(), png, aa=True)
    tight = ["--max-segments", "200", "--upsample", "1", "-q"]
    assert main(["convert", str(png), "-o", str(tmp_path / "a"), "--formats", "stl", "--plate", "rect", *tight]) == 1
    err = capsys.readouterr().err
    assert "over budget" in err and "product" in err and "write only meshes" not in err
    assert main(["convert", str(png), "-o", str(tmp_path / "b"), "--formats", "step,stl", *tight]) == 1
    assert "write only meshes" in capsys.readouterr().err
    assert main(["convert", str(png), "-o", str(tmp_path / "c"), "--formats", "stl", *tight]) == 0
    assert check_file(tmp_path / "c" / "ring.stl")["ok"]


def _star(n=240, outer=100.0, inner=40.0, points=5):
    pts = [(n / 2 + (outer if i % 2 == 0 else inner) * np.cos(np.pi * i / points - np.pi / 2),
            n / 2 + (outer if i % 2 == 0 else inner) * np.sin(np.pi * i / points - np.pi / 2)) for i in range(2 * points)]
    yy, xx = np.mgrid[:n, :n] + 0.5
    return shapely.contains_xy(shapely.Polygon(pts), xx, yy)


def test_a_chamfer_rounds_sharp_tips_it_cannot_follow():
    """potrace ends a star's tips in curves far tighter than 0.3 mm (kept with --fit-tolerance 0), which
    OpenCASCADE's chamfer cannot follow: the part is chamfered again with its convex corners rounded to
    1.3 x 0.3 mm, and says so. It stays one valid solid, and the chamfer takes about c²/2 per mm of top edge."""
    reg = regions_of(_star(), width_mm=20.0, fit_tolerance_mm=0)
    s, warn = make(reg, thickness=2.0, chamfer_mm=0.3)
    assert any("rounded to 0.39 mm" in w for w in warn) and not any("left sharp" in w for w in warn), warn
    assert s.solids == 1 and count_solids(s.shape) == 1 and is_valid_shape(s.shape)
    lost = reg.area_mm2 * 2.0 - s.volume_mm3
    edge = reg.geometry.length
    assert 0.8 * 0.045 * edge < lost < 1.2 * 0.045 * edge + 2.0 * 0.01 * reg.area_mm2  # (+ the rounding, < 1 %)
    mesh_ok(s)


def test_a_crash_while_chamfering_costs_that_part_only(monkeypatch):
    """OpenCASCADE's fillet builder can crash the process on a traced outline: the parts are treated
    in a child process, so a crash (injected here on the first part) leaves that part sharp, with a
    warning, and the other chamfered."""
    m = np.zeros((40, 72), bool)
    m[8:32, 8:32] = m[8:32, 40:64] = True
    reg = regions_of(m, width_mm=14.0)
    monkeypatch.setenv("TRACECAD_FAULT_EDGE_PART", "0")
    s, warn = make(reg, thickness=2.0, chamfer_mm=0.4)
    assert any("could not chamfer 1 of 2" in w for w in warn), warn
    assert s.solids == 2 and is_valid_shape(s.shape)
    lost = reg.area_mm2 * 2.0 - s.volume_mm3
    assert lost == pytest.approx(0.08 * 24, rel=0.05)  # one 6 mm square's 24 mm of top edge, not both


def test_a_treated_part_that_does_not_mesh_to_its_volume_stays_sharp(monkeypatch):
    """BRepCheck passes some chamfered parts whose faces do not triangulate to the solid; such a part
    must stay sharp (with the warning) rather than fail the product's mesh check later. Simulated
    here by a tessellation 1 % too large for the in-process treatment (the plate's)."""
    from cad import edges
    from cad.mesh import Mesh

    reg = regions_of(shapes.square(), width_mm=10)
    sharp, _ = make(reg, plate="rect", margin_mm=3.0)
    real = edges.tessellate
    monkeypatch.setattr(edges, "tessellate", lambda shape, tol: Mesh(real(shape, tol).vertices * 1.01,
                                                                        real(shape, tol).faces))
    s, warn = make(reg, plate="rect", margin_mm=3.0, chamfer_mm=0.4)
    assert any("could not chamfer 1 of 1 plate part(s)" in w for w in warn), warn
    assert is_valid_shape(s.shape) and count_solids(s.shape) == 1
    # the artwork (treated in a child process, which the patch does not reach) is still chamfered
    assert sharp.volume_mm3 - s.volume_mm3 == pytest.approx(0.08 * 40, rel=0.05)


def test_chamfer_failure_falls_back_with_a_warning():
    reg = regions_of(shapes.square(), width_mm=1.0)  # 1 mm artwork, 2 mm chamfer cannot fit
    s, warn = make(reg, plate="rect", margin_mm=3.0, chamfer_mm=2.0, rim_mm=1.0)
    assert any("left sharp" in w for w in warn)
    assert is_valid_shape(s.shape) and count_solids(s.shape) == 1


def test_rim_adds_a_border_ring():
    reg = regions_of(shapes.square(), width_mm=10)
    plain, _ = make(reg, plate="rect", margin_mm=5.0, thickness=1.0)
    rim, _ = make(reg, plate="rect", margin_mm=5.0, thickness=1.0, rim_mm=1.0)
    assert rim.volume_mm3 - plain.volume_mm3 == pytest.approx((20 * 20 - 18 * 18) * 1.0, rel=1e-6)
    assert count_solids(rim.shape) == 1
    mesh_ok(rim)


@pytest.mark.parametrize("mask", [
    shapes.ring(),                                                           # O
    shapes.square_with_hole(),                                               # a counter
    shapes.ring(n=200, r_out=90, r_in=70) | shapes.ring(n=200, r_out=40, r_in=20),  # nested counters
])
def test_stencil_stays_one_piece(mask):
    reg = regions_of(mask)
    s, _ = make(reg, plate="rect", margin_mm=4.0, base_thickness_mm=1.0, style="stencil", bridge_mm=1.0)
    assert count_solids(s.shape) == 1 and is_valid_shape(s.shape)
    assert s.report["bridges"] == reg.n_holes
    rep = mesh_ok(s)
    assert rep.bodies == 1
    w, h = reg.width_mm + 8, reg.height_mm + 8
    # cut through: the plate minus the artwork plus the bridges (each at most bridge x span)
    assert w * h - reg.area_mm2 < s.volume_mm3 < (w * h - reg.area_mm2) + reg.n_holes * 1.0 * 10.0


def test_stencil_of_letters_with_counters(samples):
    from tracecad import build

    conv = build(samples / "letters_B8A.png", ConvertOptions(
        width_mm=40, product=ProductOptions(plate="rect", style="stencil", margin_mm=5.0, base_thickness_mm=1.0)))
    assert conv.solid.solids == 1 and count_solids(conv.solid.shape) == 1
    assert conv.solid.report["bridges"] >= conv.regions.n_holes  # B:2, 8:2, A:1 counters held
    rep = check_mesh(conv.mesh)
    assert rep.is_volume and rep.bodies == 1


def test_cookie_cutter_is_one_piece_even_for_separate_islands():
    mask = np.zeros((100, 200), bool)
    mask[20:80, 10:80] = True
    mask[20:80, 110:190] = True
    mask[40:60, 30:60] = False  # a hole: ignored by the cutter
    reg = regions_of(mask, width_mm=40)
    s, warn = make(reg, thickness=10.0, style="cutter", wall_mm=0.8, flange_mm=3.0, base_thickness_mm=1.5)
    assert count_solids(s.shape) == 1 and is_valid_shape(s.shape)
    assert any("merged" in w for w in warn)
    rep = mesh_ok(s)
    assert rep.bodies == 1 and rep.genus == 1  # one ring around everything


def test_cookie_cutter_single_shape_wall_volume():
    reg = regions_of(shapes.square(n=64, lo=8, hi=56), width_mm=30)
    s, _ = make(reg, thickness=10.0, style="cutter", wall_mm=1.0, flange_mm=3.0, base_thickness_mm=1.0)
    sil = shapely.Polygon(reg.geometry.geoms[0].exterior)
    wall = sil.buffer(1.0, quad_segs=16).area - sil.area
    flange = sil.buffer(4.0, quad_segs=16).area - sil.buffer(1.0, quad_segs=16).area
    assert s.volume_mm3 == pytest.approx(wall * 10.0 + flange * 1.0, rel=1e-3)
    assert mesh_ok(s).genus == 1


def test_stamp_is_mirrored_on_a_block():
    reg = regions_of(shapes.letter_f(), mirror=True)
    plain = regions_of(shapes.letter_f())
    s, _ = make(reg, thickness=2.0, plate="rect", base_thickness_mm=8.0, margin_mm=3.0)
    assert count_solids(s.shape) == 1
    # the F's stem is on the left (centroid left of the bbox centre) normally, on the right on the stamp
    assert plain.geometry.centroid.x < -0.5 and reg.geometry.centroid.x == pytest.approx(-plain.geometry.centroid.x)
    from OCP.BRepGProp import BRepGProp
    from OCP.GProp import GProp_GProps

    props = GProp_GProps()
    BRepGProp.VolumeProperties_s(s.shape, props)
    assert props.CentreOfMass().X() > 0  # the raised (mirrored) F pulls the block's centre of mass right


def test_presets_are_documented_defaults_and_flags_override(tmp_path):
    png = tmp_path / "f.png"
    shapes.save_png(shapes.letter_f(), png)
    out = tmp_path / "out"
    argv = ["convert", str(png), "-o", str(out), "--preset", "keychain", "--hole", "3", "--json", "-q"]
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(argv) == 0
    entry = json.loads(buf.getvalue())["results"][0]
    assert entry["product"]["preset"] == "keychain" and entry["product"]["hole_mm"] == 3.0
    assert entry["thickness_mm"] == PRESETS["keychain"]["thickness_mm"]
    assert any("thin" in k for k in entry) and "printability" in entry
    for f in entry["outputs"].values():
        assert check_file(f)["ok"]


def test_apply_preset_for_batch_manifests():
    from tracecad.options import apply_preset

    o = apply_preset(ConvertOptions(product=ProductOptions(nozzle_mm=0.25)), "stamp")
    assert o.product.preset == "stamp" and o.mirror and o.thickness_mm == PRESETS["stamp"]["thickness_mm"]
    assert o.product.base_thickness_mm == PRESETS["stamp"]["base_thickness_mm"] and o.product.nozzle_mm == 0.25
    with pytest.raises(InvalidInputError):
        apply_preset(ConvertOptions(), "mug")


def test_options_are_checked():
    with pytest.raises(InvalidInputError):
        ProductOptions(style="deboss")  # no plate
    with pytest.raises(InvalidInputError):
        ProductOptions(plate="rect", style="deboss", depth_mm=3.0, base_thickness_mm=2.0)
    with pytest.raises(InvalidInputError):
        ProductOptions(plate="rect", chamfer_mm=0.5, fillet_mm=0.5)
