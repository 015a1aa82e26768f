"""--colors: quantisation, a partition into aligned colour bodies, coloured 3MF/STEP, an STL per colour.

Every image is made here (flat colours, anti-aliased by 8x8 supersampling); the truth is analytic.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
import shapely
from PIL import Image

from cad import check_mesh
from cad.export.step import read_colored_step
from tracecad import ConvertOptions, convert
from tracecad.cli import main
from tracecad.modes.colours import build_multicolor, write_multicolor
from tracecad.options import parse_layer_heights
from tracer import load_image
from tracer.colors import BACKGROUND, ColorParams, label_colors
from tracer.errors import InvalidInputError
from tracer.types import IsolateParams

RED, BLUE, GREEN, WHITE, BLACK = (220, 40, 40), (40, 70, 200), (40, 170, 60), (255, 255, 255), (0, 0, 0)
N = 200      # image size, px
SS = 8       # supersampling for anti-aliasing
SQUARE = (20, 180)             # blue square [20, 180]^2
DISC = (100.0, 90.0, 45.0)     # red disc: cx, cy, r
BAR = (40, 160, 150, 170)      # green bar: x0, x1, y0, y1
WIDTH_MM = 50.0
PX_MM = WIDTH_MM / (SQUARE[1] - SQUARE[0])


def _render(paint, n: int = N, alpha: bool = False) -> bytes:
    """``paint(xx, yy) -> (rgb (h,w,3), coverage (h,w))`` on a supersampled grid, then box-filtered (anti-aliased)."""
    yy, xx = (np.mgrid[: n * SS, : n * SS] + 0.5) / SS
    rgb, cov = paint(xx, yy)
    rgb = rgb.reshape(n, SS, n, SS, 3).mean(axis=(1, 3))
    cov = cov.reshape(n, SS, n, SS).mean(axis=(1, 3))
    buf = io.BytesIO()
    if alpha:
        a = np.clip(cov * 255 + 0.5, 0, 255).astype(np.uint8)
        # straight (unpremultiplied) colour, as PNG stores it
        col = np.where(cov[..., None] > 0, rgb / np.maximum(cov[..., None], 1e-9), 0)
        img = np.dstack([np.clip(col + 0.5, 0, 255).astype(np.uint8), a])
        Image.fromarray(img, "RGBA").save(buf, format="PNG")
    else:
        Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8), "RGB").save(buf, format="PNG")
    return buf.getvalue()


def _logo(xx, yy, *, background=WHITE, transparent=False):
    sq = (xx >= SQUARE[0]) & (xx < SQUARE[1]) & (yy >= SQUARE[0]) & (yy < SQUARE[1])
    disc = np.hypot(xx - DISC[0], yy - DISC[1]) <= DISC[2]
    bar = (xx >= BAR[0]) & (xx < BAR[1]) & (yy >= BAR[2]) & (yy < BAR[3])
    rgb = np.empty(xx.shape + (3,), np.float64)
    rgb[:] = (0, 0, 0) if transparent else background
    rgb[sq] = BLUE
    rgb[disc] = RED
    rgb[bar] = GREEN
    cov = sq.astype(np.float64)
    if transparent:
        rgb *= cov[..., None]  # premultiplied, undone in _render
    return rgb, cov


#: analytic areas in mm²
AREA_RED = math.pi * DISC[2] ** 2 * PX_MM**2
AREA_GREEN = (BAR[1] - BAR[0]) * (BAR[3] - BAR[2]) * PX_MM**2
AREA_ALL = (SQUARE[1] - SQUARE[0]) ** 2 * PX_MM**2
AREA_BLUE = AREA_ALL - AREA_RED - AREA_GREEN


@pytest.fixture(scope="module")
def logo_png(tmp_path_factory):
    p = tmp_path_factory.mktemp("mc") / "logo.png"
    p.write_bytes(_render(_logo))
    return p


@pytest.fixture(scope="module")
def logo_conv(logo_png):
    opts = ConvertOptions(colors="auto", width_mm=WIDTH_MM, thickness_mm=2.0, formats=("3mf", "step", "stl"))
    return build_multicolor(logo_png, opts, stem="logo")


def _nearest(color_hex: str, ref) -> float:
    c = np.array([int(color_hex[i:i + 2], 16) for i in (1, 3, 5)], float)
    return float(np.abs(c - np.array(ref, float)).max())


def _body(conv, ref):
    ds = [_nearest(b.color, ref) for b in conv.bodies]
    return conv.bodies[int(np.argmin(ds))]


def test_palette_is_the_three_colours_and_fringes_make_no_colour(logo_png):
    img = load_image(logo_png)
    labels = label_colors(img)
    hexes = [labels.hex(k) for k in labels.colors]
    assert len(hexes) == 3, hexes  # anti-aliased fringes (red/blue, green/blue, blue/white) are not colours
    for ref in (RED, BLUE, GREEN):
        assert min(_nearest(h, ref) for h in hexes) <= 2
    assert labels.info["background"] == "#ffffff"
    assert labels.scale < 1  # sub-pixel working raster
    # every working pixel is exactly one colour or the background; the subject is the square
    sub = labels.labels != BACKGROUND
    assert abs(sub.sum() * labels.scale**2 / (SQUARE[1] - SQUARE[0]) ** 2 - 1) < 0.01


def test_colors_n_is_an_upper_bound_and_merges_the_closest():
    png = _render(_logo)
    img = load_image(png)
    two = label_colors(img, params=ColorParams(colors=2))
    assert len(two.colors) == 2
    one = label_colors(img, params=ColorParams(colors=1))
    assert len(one.colors) == 1
    # the single colour covers the whole square
    assert abs(one.area_px() / (SQUARE[1] - SQUARE[0]) ** 2 - 1) < 0.01
    with pytest.raises(InvalidInputError):
        ColorParams(colors=0)


def test_per_colour_areas_match_the_analytic_ones(logo_conv):
    assert len(logo_conv.bodies) == 3
    # potrace cuts the bar's four right-angle corners by about 0.3 px: 1.2 % of a 120 x 20 px bar
    for ref, area, rel in ((RED, AREA_RED, 0.003), (BLUE, AREA_BLUE, 0.005), (GREEN, AREA_GREEN, 0.015)):
        b = _body(logo_conv, ref)
        assert _nearest(b.color, ref) <= 2
        assert b.area_mm2 == pytest.approx(area, rel=rel), (b.color, b.area_mm2, area)
    # topology: one disc, one bar, one blue square with two holes (the disc and the bar)
    assert len(_body(logo_conv, RED).regions.regions) == 1
    assert len(_body(logo_conv, GREEN).regions.regions) == 1
    blue = _body(logo_conv, BLUE).regions
    assert len(blue.regions) == 1 and blue.n_holes == 2


def test_bodies_do_not_overlap_share_edges_and_fill_the_shape(logo_conv):
    gs = [b.regions.geometry for b in logo_conv.bodies]
    total = sum(g.area for g in gs)
    for i in range(len(gs)):
        for j in range(i + 1, len(gs)):
            assert gs[i].intersection(gs[j]).area <= 1e-9 * total
    # neighbours share their boundary exactly: the blue body's holes are the red and green outlines,
    # made of the very same Bézier control points (traversed the other way)
    blue = _body(logo_conv, BLUE).regions
    holes = [h for r in blue.regions for h in r.holes]
    for ref in (RED, GREEN):
        other = _body(logo_conv, ref).regions
        shell = other.regions[0].shell
        key = sorted(map(tuple, shell.ctrl.reshape(-1, 2)))
        assert any(sorted(map(tuple, h.ctrl.reshape(-1, 2))) == key for h in holes), ref
        assert shapely.hausdorff_distance(other.geometry.boundary, blue.geometry.boundary.intersection(
            other.geometry.buffer(1e-6).boundary.buffer(1e-3))) < 1e-6
    union = shapely.union_all(gs)
    assert union.symmetric_difference(logo_conv.union_mm).area <= 1e-3 * union.area
    assert union.area == pytest.approx(AREA_ALL, rel=0.005)
    assert logo_conv.report()["overlap_mm2"] <= 1e-9 * total
    # aligned: the subject is centred and --width wide, within a fraction of a source pixel: the traced
    # outline sets the frame, and the fitted one strays from it by about the fit's tolerance
    x0, y0, x1, y1 = union.bounds
    px = logo_conv.bodies[0].regions.px_mm
    assert x1 - x0 == pytest.approx(WIDTH_MM, abs=0.25 * px)
    assert abs(x0 + x1) < 0.25 * px and abs(y0 + y1) < 0.25 * px


def test_every_body_is_a_watertight_volume(logo_conv):
    for b in logo_conv.bodies:
        rep = check_mesh(b.mesh)
        assert rep.is_volume and rep.genus == len(b.regions.regions) * 0 + b.regions.n_holes
        assert rep.volume_mm3 == pytest.approx(b.area_mm2 * 2.0, rel=2e-3)
        z = b.mesh.vertices[:, 2]
        assert z.min() == pytest.approx(0.0) and z.max() == pytest.approx(2.0)


def test_writes_coloured_3mf_step_and_one_stl_per_colour(logo_conv, tmp_path):
    from cad.export.stl import read_stl
    from cad.export.threemf import read_3mf
    from cad.solid import count_solids, shape_volume

    out = write_multicolor(logo_conv, tmp_path, "logo")
    unit, parts = read_3mf(out["3mf"])
    assert unit == "millimeter" and len(parts) == 3
    assert [(p[0], p[2].lower()) for p in parts] == [(b.name, b.color) for b in logo_conv.bodies]
    for (_, mesh, _), b in zip(parts, logo_conv.bodies):
        assert check_mesh(mesh).is_volume
        assert check_mesh(mesh).volume_mm3 == pytest.approx(b.area_mm2 * 2.0, rel=2e-3)
    back = read_colored_step(out["step"])
    assert [(n, c) for n, c, _ in back] == [(b.name, b.color) for b in logo_conv.bodies]
    for (_, _, shape), b in zip(back, logo_conv.bodies):
        assert count_solids(shape) == len(b.regions.regions)
        assert shape_volume(shape) == pytest.approx(b.area_mm2 * 2.0, rel=1e-6)
    assert len(out["stl"]) == 3
    for p, b in zip(out["stl"], logo_conv.bodies):
        assert b.color[1:] in p.name
        assert check_mesh(read_stl(p)).is_volume
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted(
        [out["3mf"].name, out["step"].name] + [p.name for p in out["stl"]])  # no temporary left


def test_layer_heights_stack_like_a_sign(logo_png):
    opts = ConvertOptions(colors="auto", width_mm=WIDTH_MM, thickness_mm=1.0,
                          layer_heights=f"#{BLUE[0]:02x}{BLUE[1]:02x}{BLUE[2]:02x}=1,"
                                        f"#{RED[0]:02x}{RED[1]:02x}{RED[2]:02x}=2.5")
    conv = build_multicolor(logo_png, opts)
    tops = {b.color: b.mesh.vertices[:, 2].max() for b in conv.bodies}
    assert tops[_body(conv, BLUE).color] == pytest.approx(1.0)
    assert tops[_body(conv, RED).color] == pytest.approx(2.5)
    assert tops[_body(conv, GREEN).color] == pytest.approx(1.0)  # not listed: --thickness
    for b in conv.bodies:
        assert check_mesh(b.mesh).volume_mm3 == pytest.approx(b.area_mm2 * b.height_mm, rel=2e-3)
    assert parse_layer_heights("3,2") == (3.0, 2.0)
    with pytest.raises(InvalidInputError):
        parse_layer_heights("3,-1")
    with pytest.raises(InvalidInputError):
        build_multicolor(logo_png, ConvertOptions(colors="auto", layer_heights="1,2,3,4"))
    with pytest.raises(InvalidInputError):
        build_multicolor(logo_png, ConvertOptions(colors="auto", layer_heights="#ffff00=2"))


def _target(xx, yy):
    """A black disc with a white ring inside it and a red dot in the middle (white also outside)."""
    d = np.hypot(xx - 100, yy - 100)
    rgb = np.empty(xx.shape + (3,), np.float64)
    rgb[:] = WHITE
    rgb[d <= 80] = BLACK
    rgb[(d <= 55) & (d > 30)] = WHITE
    rgb[d <= 30] = RED
    return rgb, (d <= 80).astype(np.float64)


def test_enclosed_background_colour_is_a_body_or_a_hole(tmp_path):
    p = tmp_path / "target.png"
    p.write_bytes(_render(_target))
    s = WIDTH_MM / 160.0
    ring = math.pi * (55**2 - 30**2) * s**2
    fill = build_multicolor(p, ConvertOptions(colors="auto", width_mm=WIDTH_MM))
    assert sorted(b.color for b in fill.bodies) == ["#000000", "#dc2828", "#ffffff"]
    white = [b for b in fill.bodies if b.color == "#ffffff"][0]
    assert white.area_mm2 == pytest.approx(ring, rel=0.005)
    assert shapely.union_all([b.regions.geometry for b in fill.bodies]).area == pytest.approx(
        math.pi * 80**2 * s**2, rel=0.005)
    hole = build_multicolor(p, ConvertOptions(colors="auto", width_mm=WIDTH_MM, enclosed_background="hole"))
    assert sorted(b.color for b in hole.bodies) == ["#000000", "#dc2828"]
    black = [b for b in hole.bodies if b.color == "#000000"][0]
    assert black.regions.n_holes == 1


def test_transparent_background(tmp_path):
    p = tmp_path / "alpha.png"
    p.write_bytes(_render(lambda x, y: _logo(x, y, transparent=True), alpha=True))
    conv = build_multicolor(p, ConvertOptions(colors="auto", width_mm=WIDTH_MM))
    assert conv.info["background"] == "transparent"
    assert len(conv.bodies) == 3
    assert _body(conv, RED).area_mm2 == pytest.approx(AREA_RED, rel=0.005)
    assert sum(b.area_mm2 for b in conv.bodies) == pytest.approx(AREA_ALL, rel=0.005)


def test_alpha_flags_are_honoured(tmp_path, logo_png):
    """A red disc on a transparent page whose hidden pixels hold a blue square: by default (and with
    --alpha) the page is the transparent part and the square is not there; with --no-alpha the stored
    colours count, so the square is a body. --alpha on a picture without alpha is refused."""
    n = 120
    yy, xx = np.mgrid[:n, :n] + 0.5
    disc = np.hypot(xx - 60, yy - 60) <= 30
    rgba = np.zeros((n, n, 4), np.uint8)
    rgba[..., :3] = WHITE
    rgba[10:40, 10:40, :3] = BLUE  # hidden: alpha 0 there
    rgba[disc, :3] = RED
    rgba[disc, 3] = 255
    p = tmp_path / "hidden.png"
    Image.fromarray(rgba, "RGBA").save(p)
    for use_alpha, blue in ((None, False), (True, False), (False, True)):
        opts = ConvertOptions(colors="auto", isolate=IsolateParams(use_alpha=use_alpha), formats=("3mf",))
        conv = build_multicolor(p, opts)
        assert any(_nearest(b.color, BLUE) < 30 for b in conv.bodies) == blue, use_alpha
        assert any(_nearest(b.color, RED) < 30 for b in conv.bodies)
    with pytest.raises(InvalidInputError, match="no alpha channel"):
        build_multicolor(logo_png, ConvertOptions(colors="auto", isolate=IsolateParams(use_alpha=True)))


def test_cli_colors_json(logo_png, tmp_path, capsys):
    rc = main(["convert", str(logo_png), "-o", str(tmp_path), "--colors", "3", "--formats", "3mf,stl",
               "--width", "50", "--json", "-q"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    e = doc["results"][0]
    assert e["status"] == "ok" and len(e["colors"]) == 3
    assert e["overlap_mm2"] <= 1e-6
    assert e["area_mm2"] == pytest.approx(AREA_ALL, rel=0.005)
    files = sorted(f.name for f in tmp_path.iterdir())
    assert len([f for f in files if f.endswith(".stl")]) == 3 and "logo.3mf" in files
    assert all(isinstance(v, str) for v in e["outputs"].values())


def test_skip_existing_sees_the_per_colour_files(logo_png, tmp_path, capsys):
    """A finished colour conversion (one 3MF, one STL per colour) is skipped on a rerun with
    --skip-existing, its files untouched; one missing per-colour STL set makes it run again."""
    argv = ["convert", str(logo_png), "-o", str(tmp_path), "--colors", "3", "--formats", "3mf,stl", "--json", "-q"]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)["results"][0]
    stls = sorted(tmp_path.glob("logo_*.stl"))
    assert len(stls) == 3
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert main([*argv, "--skip-existing"]) == 0
    again = json.loads(capsys.readouterr().out)["results"][0]
    assert again["status"] == "skipped"
    assert sorted(again["outputs"].values()) == sorted(first["outputs"].values())
    assert {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == stamps
    for p in stls:
        p.unlink()
    assert main([*argv, "--skip-existing"]) == 0
    third = json.loads(capsys.readouterr().out)["results"][0]
    assert third["status"] == "ok" and len(sorted(tmp_path.glob("logo_*.stl"))) == 3


def test_a_step_over_the_brep_budget_is_refused_before_any_file(logo_png, tmp_path, capsys):
    """OCC's checks grow with the square of a face's segments: with a tight --max-segments the colour
    STEP is refused up front with the single-colour pipeline's sentence, and no 3MF is left either
    (all or nothing); the meshes alone are fine."""
    tight = ["--colors", "auto", "--max-segments", "200", "-q"]
    assert main(["convert", str(logo_png), "-o", str(tmp_path / "a"), "--formats", "3mf,step", *tight]) == 1
    err = capsys.readouterr().err
    assert "over budget" in err and "write only meshes" in err and "Traceback" not in err
    assert not list((tmp_path / "a").glob("*.*"))
    assert main(["convert", str(logo_png), "-o", str(tmp_path / "b"), "--formats", "3mf", *tight]) == 0
    assert (tmp_path / "b" / "logo.3mf").exists()


def test_cli_usage_errors(logo_png, tmp_path, capsys):
    assert main(["convert", str(logo_png), "-o", str(tmp_path), "--layer-heights", "2,3"]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["convert", str(logo_png), "-o", str(tmp_path), "--colors", "many"])
    assert exc.value.code == 2
    assert main(["convert", str(logo_png), "-o", str(tmp_path), "--colors", "auto", "--layer-heights", "2,x"]) == 2
    # a product other than a plain plate: one usage error up front, not one error per input
    assert main(["convert", str(logo_png), str(logo_png), "-o", str(tmp_path), "--colors", "auto",
                 "--plate", "rect", "--hole", "4"]) == 2
    assert "only --plate" in capsys.readouterr().err
    # isolation flags would do nothing here: one usage error naming them
    assert main(["convert", str(logo_png), "-o", str(tmp_path), "--colors", "auto", "--invert",
                 "--threshold", "90"]) == 2
    err = capsys.readouterr().err
    assert "--threshold, --invert cannot be combined with --colors" in err
    assert not any(tmp_path.iterdir())


def test_a_big_soft_image_is_fitted_to_its_pixel_not_a_quarter(tmp_path):
    """At the source's resolution (a 2600 px image at 50 mm: no upsampling) the label raster knows a
    blurred colour boundary only to about a pixel: a red disc (r = 1000 px) in a blue square is fitted
    with a handful of curves (a quarter-pixel fit followed the pixel noise with 28), its area within
    0.2 % and its outline within 1.5 px of the true circle."""
    import cv2

    n, r = 2600, 1000.0
    yy, xx = np.mgrid[:n, :n] + 0.5
    disc = np.clip(r - np.hypot(xx - n / 2, yy - n / 2) + 0.5, 0, 1)[..., None]
    square = np.zeros((n, n, 1))
    square[100:-100, 100:-100] = 1
    rgb = np.array(WHITE, float) * (1 - square) + (np.array(BLUE, float) * (1 - disc) + np.array(RED, float) * disc) * square
    rgb = cv2.GaussianBlur(rgb.astype(np.float32), (0, 0), 1.5)  # a soft (scanned, resized) picture
    png = tmp_path / "soft.png"
    Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8)).save(png)
    conv = build_multicolor(png, ConvertOptions(colors="auto", formats=("3mf",)))
    assert tuple(conv.info["working_size"]) == (n, n)  # (no upsampling)
    red = _body(conv, RED)
    s = conv.px_mm
    segments = sum(ring.n_segments for reg in red.regions.regions for ring in reg.rings)
    assert segments <= 16
    assert red.regions.geometry.area == pytest.approx(math.pi * (r * s) ** 2, rel=2e-3)
    c = red.regions.geometry.centroid
    circle = shapely.Point(c.x, c.y).buffer(r * s, quad_segs=256)
    assert red.regions.geometry.hausdorff_distance(circle) <= 1.5 * s


def test_debug_dir_shows_the_colour_partition(logo_png, tmp_path, capsys):
    """--debug-dir with --colors: the subject's mask and overlay, and the labels picture, each working
    pixel in its colour: the red share of the square is the disc's, outside it the background grey."""
    from tracer.debug import LABELS_BACKGROUND

    dbg = tmp_path / "dbg"
    assert main(["convert", str(logo_png), "-o", str(tmp_path / "o"), "--colors", "auto", "--formats", "3mf",
                 "--debug-dir", str(dbg), "-q"]) == 0
    assert (dbg / "logo.mask.png").exists() and (dbg / "logo.overlay.png").exists()
    lab = np.asarray(Image.open(dbg / "logo.labels.png").convert("RGB")).astype(int)
    k = lab.shape[0] / N
    red = (np.abs(lab - np.array(RED)).max(axis=2) < 30).sum() / k**2
    assert red == pytest.approx(math.pi * DISC[2] ** 2, rel=0.01)
    assert (lab[: int(SQUARE[0] * k) - 2] == LABELS_BACKGROUND).all()


def test_pipeline_convert_dispatches(logo_png, tmp_path):
    e = convert(logo_png, tmp_path, ConvertOptions(colors="auto", width_mm=WIDTH_MM, formats=("stl",)))
    assert e["status"] == "ok" and len(e["colors"]) == 3
    assert sum(c["area_mm2"] for c in e["colors"]) == pytest.approx(e["area_mm2"])


def test_colours_on_a_base_plate(logo_png, tmp_path):
    from cad.export.threemf import read_3mf
    from cad.products import ProductOptions

    opts = ConvertOptions(colors="auto", width_mm=WIDTH_MM, thickness_mm=1.0, formats=("3mf",),
                          product=ProductOptions(plate="rect", margin_mm=2.0, base_thickness_mm=1.5))
    conv = build_multicolor(logo_png, opts, stem="logo")
    base, colours = conv.bodies[0], conv.bodies[1:]
    assert base.is_base and base.color == "#ffffff" and len(colours) == 3
    assert base.area_mm2 == pytest.approx((WIDTH_MM + 4.0) ** 2, rel=1e-3)
    for b in colours:  # the colours stand on the plate
        z = b.mesh.vertices[:, 2]
        assert z.min() == pytest.approx(1.5) and z.max() == pytest.approx(2.5)
    assert base.mesh.vertices[:, 2].max() == pytest.approx(1.5)
    out = write_multicolor(conv, tmp_path, "logo")
    unit, parts = read_3mf(out["3mf"])
    assert len(parts) == 4 and all(check_mesh(m).is_volume for _, m, _ in parts)
    with pytest.raises(InvalidInputError):
        build_multicolor(logo_png, ConvertOptions(colors="auto", product=ProductOptions(plate="rect", hole_mm=4.0)))


def _sliver_bait(xx, yy):
    """Yellow inside a black frame, and elsewhere an olive disc: olive is exactly the 50 % mix of
    black and yellow, so every anti-aliased black/yellow edge pixel looks like olive."""
    rgb = np.empty(xx.shape + (3,), np.float64)
    rgb[:] = WHITE
    frame = (xx >= 20) & (xx < 120) & (yy >= 20) & (yy < 180)
    inner = (xx >= 35.3) & (xx < 104.6) & (yy >= 35.7) & (yy < 164.2)  # edges off the pixel grid
    disc = np.hypot(xx - 155, yy - 100) <= 25
    rgb[frame] = BLACK
    rgb[inner] = (250, 230, 0)
    rgb[disc] = (125, 115, 0)
    return rgb, (frame | disc).astype(np.float64)


def test_anti_aliased_fringes_make_no_sliver_of_a_third_colour(tmp_path):
    p = tmp_path / "bait.png"
    p.write_bytes(_render(_sliver_bait))
    conv = build_multicolor(p, ConvertOptions(colors="auto", width_mm=WIDTH_MM))
    assert len(conv.bodies) == 3
    s = conv.px_mm
    olive = _body(conv, (125, 115, 0))
    assert len(olive.regions.regions) == 1  # the disc only: nothing along the black/yellow edges
    assert olive.area_mm2 == pytest.approx(math.pi * 25**2 * s**2, rel=0.005)
    yellow = _body(conv, (250, 230, 0))
    assert len(yellow.regions.regions) == 1
    assert yellow.area_mm2 == pytest.approx((104.6 - 35.3) * (164.2 - 35.7) * s**2, rel=0.005)


def test_colour_curves_that_cross_when_flattened_finely_fall_back_to_polylines(tmp_path):
    """Regression (found by fuzzing random colour drawings): fitted colour curves valid at the fit's flattening
    crossed at the finer one the checks use; the report's overlap measure raised (GEOS) and STEP refused the face.
    Such curves now fall back to polylines, and the 3MF, STL and STEP are written as valid volumes."""
    from pathlib import Path

    from tracecad import ConvertOptions, convert

    src = Path(__file__).resolve().parents[1] / "data" / "colour_self_touching_fuzz.jpg"
    from cad.checks import check_file
    from cad.export.threemf import read_3mf

    opts = ConvertOptions(formats=("3mf", "stl", "step"), colors="auto", width_mm=40)
    entry = convert(src, tmp_path, opts)
    assert entry["status"] == "ok" and entry["overlap_mm2"] < 1e-6
    files = [Path(p) for v in entry["outputs"].values() for p in (v if isinstance(v, list) else [v])]
    assert files and all(check_file(p)["ok"] for p in files)
    _, parts = read_3mf(entry["outputs"]["3mf"])
    for (_, mesh, _), colour in zip(parts, entry["colors"]):
        height = colour["z_mm"][1] - colour["z_mm"][0]
        assert check_mesh(mesh).volume_mm3 == pytest.approx(colour["area_mm2"] * height, rel=2e-3)
