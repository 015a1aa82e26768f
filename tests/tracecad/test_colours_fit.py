"""--colors with --fit-tolerance: each shared boundary fitted once with lines and arcs, used by both colours.

The image is made here: a red disc in a blue square on white, a green ring in the disc (so red is an
annulus and a small disc); the truth is analytic.
"""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import shapely
import shapely.affinity
from PIL import Image

from cad import check_mesh
from cad.solid import face_areas, face_types, is_valid_shape
from tracecad import ConvertOptions
from tracecad.cli import main
from tracecad.modes.colours import build_multicolor

RED, BLUE, GREEN, WHITE = (220, 40, 40), (40, 70, 200), (40, 170, 60), (255, 255, 255)
N, SS = 200, 8
SQUARE = (20, 180)
C, R_DISC, R_RING_OUT, R_RING_IN = 100.0, 60.0, 40.0, 25.0
WIDTH_MM = 50.0
PX_MM = WIDTH_MM / (SQUARE[1] - SQUARE[0])
THICK = 2.0


def _target_png() -> bytes:
    yy, xx = (np.mgrid[: N * SS, : N * SS] + 0.5) / SS
    r = np.hypot(xx - C, yy - C)
    rgb = np.empty(xx.shape + (3,))
    rgb[:] = WHITE
    rgb[(xx >= SQUARE[0]) & (xx < SQUARE[1]) & (yy >= SQUARE[0]) & (yy < SQUARE[1])] = BLUE
    rgb[r <= R_DISC] = RED
    rgb[(r <= R_RING_OUT) & (r >= R_RING_IN)] = GREEN
    rgb = rgb.reshape(N, SS, N, SS, 3).mean(axis=(1, 3))
    buf = io.BytesIO()
    Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8), "RGB").save(buf, format="PNG")
    return buf.getvalue()


def _truth() -> dict:
    """The analytic footprint of each colour in mm (centred, y up)."""
    def disc(r):
        return shapely.Point(0, 0).buffer(r * PX_MM, quad_segs=256)
    half = 0.5 * (SQUARE[1] - SQUARE[0]) * PX_MM
    square = shapely.box(-half, -half, half, half)
    ring = disc(R_RING_OUT).difference(disc(R_RING_IN))
    return {BLUE: square.difference(disc(R_DISC)), RED: disc(R_DISC).difference(ring), GREEN: ring}


def _body(conv, ref):
    d = [max(abs(int(b.color[i:i + 2], 16) - ref[k]) for k, i in enumerate((1, 3, 5))) for b in conv.bodies]
    return conv.bodies[int(np.argmin(d))]


@pytest.fixture(scope="module")
def target_png(tmp_path_factory):
    p = tmp_path_factory.mktemp("fit") / "target.png"
    p.write_bytes(_target_png())
    return p


def _conv(path, fit):
    opts = ConvertOptions(colors="auto", width_mm=WIDTH_MM, thickness_mm=THICK, fit_tolerance_mm=fit,
                          formats=("3mf", "step"))
    return build_multicolor(path, opts, stem="target")


@pytest.fixture(scope="module")
def fitted(target_png):
    return _conv(target_png, None)


@pytest.fixture(scope="module")
def traced(target_png):
    return _conv(target_png, 0.0)


def test_the_circles_become_cylinders_and_the_square_planes(fitted):
    assert len(fitted.bodies) == 3
    for b in fitted.bodies:
        solid = b.solid
        assert is_valid_shape(solid.shape)
        assert solid.volume_mm3 == pytest.approx(b.area_mm2 * THICK, rel=1e-6)
        areas, types = face_areas(solid.shape), face_types(solid.shape)
        side = sum(areas.values()) - 2 * b.area_mm2
        assert (areas["plane"] - 2 * b.area_mm2 + areas["cylinder"]) / side >= 0.9, (b.color, areas)
        # every full circle is one cylindrical face or two: blue has one, red three, green two
        circles = {BLUE: 1, RED: 3, GREEN: 2}[next(k for k in (BLUE, RED, GREEN) if _body(fitted, k) is b)]
        assert circles <= types["cylinder"] <= 2 * circles, (b.color, types)
    rep = fitted.report()
    assert rep["curve_segments_by_kind"]["arcs"] >= 12 and rep["fit_tolerance_mm"] > 0
    assert 0 < rep["fit_deviation_mm"] <= 0.5 * PX_MM
    assert rep["step_faces_by_type"]["cylinder"] >= 12 and rep["step_faces_by_type"]["bspline"] <= 4


def test_fitted_bodies_share_their_boundaries_and_fill_the_footprint(fitted):
    gs = [b.regions.geometry for b in fitted.bodies]
    total = sum(g.area for g in gs)
    for i in range(len(gs)):
        for j in range(i + 1, len(gs)):
            assert gs[i].intersection(gs[j]).area <= 1e-9 * total
    union = shapely.union_all(gs)
    assert union.area == pytest.approx(total, rel=1e-9)
    assert union.symmetric_difference(fitted.union_mm).area <= 1e-3 * union.area
    assert fitted.report()["overlap_mm2"] <= 1e-9 * total
    # each hole of a colour is a neighbour's shell: the same curves (arcs with the same centres), reversed
    shells = [r.shell for b in fitted.bodies for r in b.regions.regions]
    for b in fitted.bodies:
        for hole in (h for r in b.regions.regions for h in r.holes):
            key = sorted(map(tuple, np.round(hole.ctrl.reshape(-1, 2), 12)))
            same = [s for s in shells if sorted(map(tuple, np.round(s.ctrl.reshape(-1, 2), 12))) == key]
            assert same, b.color
            assert hole.area() == pytest.approx(-same[0].area(), rel=1e-12)
            assert sorted(map(tuple, np.round(hole.arcs[:, :2], 12))) == sorted(map(tuple, np.round(same[0].arcs[:, :2], 12)))


def test_fitted_bodies_are_watertight_volumes(fitted):
    for b in fitted.bodies:
        rep = check_mesh(b.mesh)
        assert rep.is_volume and rep.genus == b.regions.n_holes
        assert rep.volume_mm3 == pytest.approx(b.area_mm2 * THICK, rel=2e-3)


def test_fit_keeps_fidelity_with_far_fewer_segments(fitted, traced):
    truth = _truth()
    for ref, shape in truth.items():
        def iou(conv):
            g = _body(conv, ref).regions.geometry
            return g.intersection(shape).area / g.union(shape).area
        assert iou(fitted) >= iou(traced) - 0.002, ref
        assert iou(fitted) >= 0.98, ref
    segs = fitted.report()["curve_segments"]
    assert segs * 2 <= traced.report()["curve_segments"]
    assert traced.report()["curve_segments_by_kind"]["arcs"] == 0 and traced.report()["fit_tolerance_mm"] == 0


def test_cli_writes_fitted_colours_to_every_format(target_png, tmp_path, capsys):
    rc = main(["convert", str(target_png), "-o", str(tmp_path), "--colors", "3", "--fit-tolerance", "auto",
               "--formats", "3mf,step,svg,dxf,stl", "--width", "50", "--json", "-q"])
    assert rc == 0
    e = json.loads(capsys.readouterr().out)["results"][0]
    assert e["status"] == "ok" and len(e["colors"]) == 3
    assert e["curve_segments_by_kind"]["arcs"] > 0 and e["step_faces_by_type"]["cylinder"] > 0
    assert sum(e["curve_segments_by_kind"].values()) == e["curve_segments"]
    assert sum(e["step_faces_by_type"].values()) == e["step_faces"]
    svgs = [p for k, p in e["outputs"].items() if k.startswith("svg")]
    assert len(svgs) == 3 and any(re.search(r"A[0-9.]+,[0-9.]+ 0 0 [01] ", Path(p).read_text()) for p in svgs)
    dxf = next(p for k, p in e["outputs"].items() if k == "dxf")
    import ezdxf

    types = {x.dxftype() for x in ezdxf.readfile(dxf).modelspace()}
    assert types & {"ARC", "CIRCLE", "LWPOLYLINE"}, types
    area = sum(c["area_mm2"] for c in e["colors"])
    assert area == pytest.approx(e["area_mm2"]) and e["overlap_mm2"] <= 1e-6
    assert area == pytest.approx(sum(g.area for g in _truth().values()), rel=0.005)
    assert all(math.isclose(c["volume_mm3"], c["area_mm2"] * 3.0, rel_tol=1e-6) for c in e["colors"])


# A warning sign: a triangle with rounded corners, outlined in black, yellow inside. Every boundary is three
# lines and three arcs, so the ideal partition has 18 segments (the outline's 6, and the 6 the two colours
# share, counted for each). Its boundaries, traced from the label raster, wobble by a fraction of a pixel.
SIGN_PX, SIGN_R, SIGN_STROKE = 420, 14.0, 9.0
YELLOW, BLACK = (250, 220, 40), (20, 20, 20)


def _sign_truth() -> dict:
    tri = shapely.Polygon([(210, 30), (395, 380), (25, 380)])
    outer = tri.buffer(-SIGN_R, quad_segs=64).buffer(SIGN_R, quad_segs=64)
    inner = outer.buffer(-SIGN_STROKE, quad_segs=64)
    return {BLACK: outer.difference(inner), YELLOW: inner}


def _sign_png(path: Path) -> Path:
    from PIL import ImageDraw

    img = Image.new("RGB", (SIGN_PX * SS, SIGN_PX * SS), WHITE)
    draw = ImageDraw.Draw(img)
    truth = _sign_truth()
    for colour, geom in ((BLACK, truth[BLACK].union(truth[YELLOW])), (YELLOW, truth[YELLOW])):
        draw.polygon([(x * SS, y * SS) for x, y in geom.exterior.coords], fill=colour)
    img.resize((SIGN_PX, SIGN_PX), Image.Resampling.BOX).save(path)
    return path


def _sign_ious(conv) -> list[float]:
    """Each colour's IoU with its truth, both centred on the subject's bounding box, in source pixels."""
    truth = _sign_truth()
    whole = shapely.union_all(list(truth.values()))
    k = (whole.bounds[2] - whole.bounds[0]) / WIDTH_MM
    out = []
    for ref, shape in truth.items():
        g = shapely.affinity.scale(_body(conv, ref).regions.geometry, k, -k, origin=(0, 0))
        c = shapely.box(*whole.bounds).centroid
        g = shapely.affinity.translate(g, c.x, c.y)
        out.append(g.intersection(shape).area / g.union(shape).area)
    return out


@pytest.fixture(scope="module")
def sign(tmp_path_factory):
    path = _sign_png(tmp_path_factory.mktemp("sign") / "sign.png")
    opts = {"colors": "auto", "width_mm": WIDTH_MM, "thickness_mm": THICK}
    return (build_multicolor(path, ConvertOptions(**opts, fit_tolerance_mm=0.0), stem="sign"),
            build_multicolor(path, ConvertOptions(**opts), stem="sign"))


def test_wobbling_colour_boundaries_become_the_lines_and_arcs_they_were_drawn_with(sign):
    traced, fitted = sign
    kinds = fitted.report()["curve_segments_by_kind"]
    assert kinds["beziers"] <= 1, kinds
    assert fitted.report()["curve_segments"] <= 20 < traced.report()["curve_segments"] / 3, kinds
    assert kinds["lines"] >= 6 and kinds["arcs"] >= 6
    for before, after in zip(_sign_ious(traced), _sign_ious(fitted)):
        assert after >= before - 0.002 and after >= 0.98


def test_the_fit_keeps_the_subjects_size_and_centre(sign):
    traced, fitted = sign
    a = shapely.union_all([b.regions.geometry for b in traced.bodies]).bounds
    b = shapely.union_all([b.regions.geometry for b in fitted.bodies]).bounds
    px = fitted.px_mm
    # no side moves out by more than the fit lets a line or an arc stray (a quarter pixel, LS_SLACK times)
    assert max(a[0] - b[0], a[1] - b[1], b[2] - a[2], b[3] - a[3]) <= 0.4 * px


def test_the_default_tolerance_follows_the_subjects_size(tmp_path):
    from PIL import ImageDraw

    from cad.fit import default_fit_px, fit_grain

    # a subject 1300 px across: its trace's grain is 2.5 px, the tolerance 0.1 px times 2.5^(1/3); drawn without
    # anti-aliasing, so the disc's edge is a staircase of whole pixels, which the fit follows by its wobble
    n = 1400
    img = Image.new("RGB", (n, n), WHITE)
    draw = ImageDraw.Draw(img)
    draw.rectangle((50, 50, n - 51, n - 51), fill=BLUE)
    draw.ellipse((300, 300, n - 301, n - 301), fill=RED)
    img.save(tmp_path / "big.png")
    conv = build_multicolor(tmp_path / "big.png", ConvertOptions(colors="auto", width_mm=WIDTH_MM), stem="big")
    rep = conv.report()
    want = default_fit_px(fit_grain(n - 100)) * conv.px_mm
    assert rep["fit_tolerance_mm"] == pytest.approx(want, rel=0.01)
    assert rep["fit_tolerance_mm"] > 1.3 * 0.1 * conv.px_mm
    # (the disc's boundary, a staircase the label raster's trace keeps corners of, is not one circle; it is
    # not the hundreds of pieces that following the staircase makes either)
    assert rep["curve_segments_by_kind"]["beziers"] <= 2 and rep["curve_segments"] <= 100
