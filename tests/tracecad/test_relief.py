"""--mode relief / --mode lithophane: heights match the image, volumes are exact, meshes are closed, sizes as asked."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
import trimesh
from PIL import Image

from cad.checks import check_file
from cad.export.stl import read_stl
from cad.export.threemf import read_3mf
from cad.mesh import check_mesh
from tracecad import ConvertOptions, convert
from tracecad.modes.relief import build_relief
from tracecad.options import ReliefParams
from tracer.errors import InvalidInputError


def png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(a, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def assert_volume(mesh) -> None:
    """Closed, consistently wound, positive volume: by our checker AND by trimesh."""
    rep = check_mesh(mesh)
    assert rep.is_volume and rep.watertight and rep.degenerate == 0, rep
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=True)
    assert tm.is_watertight and tm.is_winding_consistent and tm.is_volume
    assert abs(tm.volume - rep.volume_mm3) <= 1e-6 * rep.volume_mm3


def top_z(mesh, x: float, y: float) -> float:
    """Height of the upward-facing surface above (x, y): an independent vertical ray cast."""
    t = mesh.triangles()
    n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    t = t[n[:, 2] > 1e-12]
    a, b, c = t[:, 0, :2], t[:, 1, :2], t[:, 2, :2]
    det = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
    l1 = ((x - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (y - a[:, 1])) / det
    l2 = ((b[:, 0] - a[:, 0]) * (y - a[:, 1]) - (x - a[:, 0]) * (b[:, 1] - a[:, 1])) / det
    l0 = 1 - l1 - l2
    inside = (l0 >= -1e-9) & (l1 >= -1e-9) & (l2 >= -1e-9)
    assert inside.any(), (x, y)
    z = l0 * t[:, 0, 2] + l1 * t[:, 1, 2] + l2 * t[:, 2, 2]
    return float(z[inside].max())


def opts(mode: str, **kw) -> ConvertOptions:
    rp = {k: kw.pop(k) for k in list(kw) if k in ReliefParams.__dataclass_fields__}
    kw.setdefault("formats", ("stl", "3mf"))
    return ConvertOptions(mode=mode, relief=ReliefParams(**rp), **kw)


# ------------------------------------------------------------------------------------------ heights


@pytest.mark.parametrize("cols", [160, 1600])  # finer than the pitch, and 8 x finer (area-reduced first)
def test_gradient_heights_match_the_image_at_sample_points(cols):
    rows = cols * 3 // 8
    u = (np.arange(cols) + 0.5) / cols
    values = np.round(255 * u**2)  # curved ramp: the simplifier has to keep it within tolerance
    img = np.tile(values, (rows, 1))
    res = build_relief(png(img), opts("relief", width_mm=40.0, base_mm=1.0, min_height_mm=0.5, max_height_mm=2.5))
    assert_volume(res.mesh)
    px = 40.0 / cols
    for x in np.linspace(-18.0, 18.0, 13):
        for y in (-5.0, 0.0, 6.0):
            # the value at x: linear between pixel centres
            uc = (x + 20.0) / px - 0.5
            v = np.interp(uc, np.arange(cols), values) / 255.0
            want = 1.0 + 0.5 + v * 2.0
            assert abs(top_z(res.mesh, x, y) - want) < 0.03, (x, y)
    assert res.mesh.n_triangles < 0.2 * (2 * 200 * 75 * 2)  # simplified: far below the raw grid


def test_sampling_has_no_side_limit_and_is_exact_on_a_ramp():
    """A banner: 40000 source columns and 40000 grid columns (cv2.remap refuses sides of 32767 or more).
    Bilinear sampling reproduces a linear ramp exactly, edges replicated beyond the image."""
    from cad.heightmap import sample_nodes

    cols = 40_000
    ramp = np.tile(np.arange(cols, dtype=np.float64) * 1e-4, (3, 1))  # value = 1e-4 x pixel index
    u = np.linspace(-5.0, cols + 5.0, cols)  # pixel-edge coordinates: pixel c's centre is c + 0.5
    got = sample_nodes(ramp, u, np.array([0.5, 1.5, 2.5]), step_px=1.0)
    want = np.clip(u - 0.5, 0, cols - 1) * 1e-4
    assert got.shape == (3, cols)
    np.testing.assert_allclose(got, np.broadcast_to(want, got.shape), atol=2e-6)  # (float32 weights)


def test_a_frame_with_no_room_for_the_image_is_one_clear_error(tmp_path, capsys):
    from tracecad.cli import main

    src = tmp_path / "strip.png"
    src.write_bytes(png(np.full((20, 3000), 100)))  # 50 mm wide -> 0.33 mm tall inside a 3 mm frame
    assert main(["convert", str(src), "-o", str(tmp_path / "o"), "--mode", "lithophane", "--pitch", "1", "-q"]) == 1
    err = capsys.readouterr().err
    assert "no row or column of the 1 mm grid is left" in err and "Traceback" not in err and "Warning" not in err
    assert not (tmp_path / "o" / "strip.stl").exists()


def test_vertical_gradient_and_gamma():
    rows = 100
    img = np.repeat(np.linspace(255, 0, rows)[:, None], 50, axis=1)  # bright at the top
    res = build_relief(png(img), opts("relief", width_mm=20.0, gamma=2.0, base_mm=1.0, max_height_mm=3.0))
    assert_volume(res.mesh)
    h = 40.0
    for y in (15.0, 5.0, -5.0, -15.0):
        vc = (h / 2 - y) / (h / rows) - 0.5
        v = np.interp(vc, np.arange(rows), np.linspace(255, 0, rows)) / 255.0
        assert abs(top_z(res.mesh, 0.0, y) - (1.0 + 3.0 * v**2)) < 0.03


def test_flat_grey_volume_is_area_times_thickness_relief():
    img = np.full((50, 80), 100, np.uint8)
    res = build_relief(png(img), opts("relief", width_mm=64.0, base_mm=1.5, min_height_mm=0.2, max_height_mm=2.2))
    assert_volume(res.mesh)
    t = 1.5 + 0.2 + 100 / 255 * 2.0
    assert res.mesh.volume() == pytest.approx(64.0 * 40.0 * t, rel=1e-5)
    assert res.mesh.n_triangles <= 12  # a flat box after simplification


def test_flat_grey_volume_lithophane_dark_is_thick():
    img = np.full((40, 40), 64, np.uint8)
    res = build_relief(png(img), opts("lithophane", width_mm=30.0, frame_mm=0.0))
    assert_volume(res.mesh)
    t = 0.8 + (1 - 64 / 255) * (3.0 - 0.8)
    assert res.mesh.volume() == pytest.approx(30.0 * 30.0 * t, rel=1e-5)
    black = build_relief(png(np.zeros((40, 40))), opts("lithophane", width_mm=30.0, frame_mm=0.0))
    white = build_relief(png(np.full((40, 40), 255)), opts("lithophane", width_mm=30.0, frame_mm=0.0))
    assert black.mesh.volume() == pytest.approx(900 * 3.0, rel=1e-5)
    assert white.mesh.volume() == pytest.approx(900 * 0.8, rel=1e-5)
    inverted = build_relief(png(np.zeros((40, 40))), opts("lithophane", width_mm=30.0, frame_mm=0.0,
                                                          invert_heights=True))
    assert inverted.mesh.volume() == pytest.approx(900 * 0.8, rel=1e-5)


def test_lithophane_frame_is_full_height_and_sized():
    img = np.full((60, 90), 255, np.uint8)  # white: thinnest inside the frame
    res = build_relief(png(img), opts("lithophane", width_mm=60.0, frame_mm=4.0, pitch_mm=0.25))
    assert_volume(res.mesh)
    lo, hi = res.mesh.vertices.min(axis=0), res.mesh.vertices.max(axis=0)
    assert hi[0] - lo[0] == pytest.approx(60.0, abs=1e-5)
    # inner image 52 mm wide, 52 * 60/90 high, plus the frame on both sides
    assert hi[1] - lo[1] == pytest.approx(52.0 * 60 / 90 + 8.0, abs=1e-5)
    assert top_z(res.mesh, -28.5, 0.0) == pytest.approx(3.0, abs=1e-6)   # in the frame
    assert top_z(res.mesh, 0.0, hi[1] - 2.0) == pytest.approx(3.0, abs=1e-6)
    assert top_z(res.mesh, 0.0, 0.0) == pytest.approx(0.8, abs=1e-6)    # inside: white is thin
    assert res.report["frame_mm"] == pytest.approx(4.0, abs=0.13)


def test_smoothing_keeps_mean_and_flattens_steps():
    img = np.zeros((40, 80), np.uint8)
    img[:, 40:] = 255
    sharp = build_relief(png(img), opts("relief", width_mm=40.0))
    soft = build_relief(png(img), opts("relief", width_mm=40.0, smooth_mm=1.0))
    assert_volume(soft.mesh)
    assert soft.mesh.volume() == pytest.approx(sharp.mesh.volume(), rel=2e-3)
    # one sigma beside the step the soft surface is well between the levels, the sharp one is not
    assert 1.1 < top_z(soft.mesh, -1.0, 0.0) < 1.5 and top_z(sharp.mesh, -1.0, 0.0) == pytest.approx(1.0, abs=0.02)


# ------------------------------------------------------------------------------------------ sizes, mirror


@pytest.mark.parametrize("size", [dict(width_mm=37.0), dict(height_mm=22.0), dict(px_mm=0.5)])
def test_dimensions_come_out_as_asked(size):
    img = np.tile(np.linspace(0, 255, 70), (30, 1))
    res = build_relief(png(img), opts("relief", **size))
    assert_volume(res.mesh)
    lo, hi = res.mesh.vertices.min(axis=0), res.mesh.vertices.max(axis=0)
    w = size.get("width_mm") or (size["height_mm"] * 70 / 30 if "height_mm" in size else 70 * 0.5)
    assert hi[0] - lo[0] == pytest.approx(w, abs=1e-5)
    assert hi[1] - lo[1] == pytest.approx(w * 30 / 70, abs=1e-5)
    assert lo[2] == 0.0 and hi[2] == pytest.approx(3.0, abs=0.02)
    assert lo[0] == pytest.approx(-hi[0], abs=1e-5) and lo[1] == pytest.approx(-hi[1], abs=1e-5)
    assert res.report["width_mm"] == pytest.approx(hi[0] - lo[0], abs=1e-5)


def asymmetric() -> np.ndarray:
    """Dark image with one bright block at the top-left: mirrored or flipped output would move it."""
    img = np.zeros((60, 90), np.uint8)
    img[5:25, 5:35] = 255
    return img


def test_relief_is_not_mirrored():
    res = build_relief(png(asymmetric()), opts("relief", width_mm=90.0, pitch_mm=0.5))
    # 1 mm per pixel, centred: the block covers x in [-40, -10], y in [5, 25]
    assert top_z(res.mesh, -25.0, 15.0) == pytest.approx(3.0, abs=0.02)
    assert top_z(res.mesh, 25.0, 15.0) == pytest.approx(1.0, abs=0.02)
    assert top_z(res.mesh, -25.0, -15.0) == pytest.approx(1.0, abs=0.02)
    mirrored = build_relief(png(asymmetric()), opts("relief", width_mm=90.0, pitch_mm=0.5, mirror=True))
    assert top_z(mirrored.mesh, 25.0, 15.0) == pytest.approx(3.0, abs=0.02)


def test_pitch_sets_the_grid():
    res = build_relief(png(np.full((30, 60), 80)), opts("relief", width_mm=30.0, pitch_mm=0.5, simplify=False))
    assert res.report["grid"] == [60, 30]
    assert res.mesh.n_triangles == 2 * 2 * 60 * 30 + 2 * 2 * (60 + 30)
    assert_volume(res.mesh)


# ------------------------------------------------------------------------------------------ curved


def test_curved_lithophane_has_the_arc_asked():
    img = asymmetric()
    res = build_relief(png(img), opts("lithophane", width_mm=60.0, frame_mm=2.0, curve_angle_deg=120.0))
    assert_volume(res.mesh)
    v = res.mesh.vertices
    r = np.hypot(v[:, 0], v[:, 1])
    radius = 60.0 / math.radians(120.0)
    assert r.min() == pytest.approx(radius, abs=1e-4)
    assert r.max() == pytest.approx(radius + 3.0, abs=1e-4)
    ang = np.degrees(np.arctan2(v[:, 0], -v[:, 1]))  # 0 at -Y, growing towards +X
    assert ang.min() == pytest.approx(-60.0, abs=1e-3) and ang.max() == pytest.approx(60.0, abs=1e-3)
    assert v[:, 2].min() == 0.0
    assert v[:, 2].max() == pytest.approx((60.0 - 4.0) * 60 / 90 + 4.0, abs=1e-5)
    assert res.report["curve_radius_mm"] == pytest.approx(radius) and res.report["curve_angle_deg"] == 120.0
    # Seen from outside (-Y): the bright (thin) block is at the upper left, X < 0; dark elsewhere is thick.
    zmax = v[:, 2].max()
    thin = r < radius + 1.0
    thin_pts = v[thin & (v[:, 2] > 3) & (v[:, 2] < zmax - 3)]
    assert len(thin_pts) and (thin_pts[:, 0] < 0).all() and (thin_pts[:, 2] > zmax / 2).all()


def test_curved_radius_and_full_turn_tube():
    res = build_relief(png(np.full((40, 120), 128)), opts("lithophane", curve_radius_mm=20.0, curve_angle_deg=360.0,
                                                         frame_mm=2.0, pitch_mm=0.4))
    assert_volume(res.mesh)
    rep = check_mesh(res.mesh)
    assert rep.genus == 1 and rep.bodies == 1  # a closed tube
    circ = 2 * math.pi * 20.0
    h = circ * 40 / 120 + 4.0
    t = 0.8 + (1 - 128 / 255) * 2.2
    # volume of the annulus: grey inside, full-height frame bands top and bottom (faceted: -0.1 %)
    ann = lambda th: math.pi * ((20.0 + th) ** 2 - 20.0**2)  # noqa: E731
    want = ann(t) * (h - 4.0) + ann(3.0) * 4.0
    assert res.mesh.volume() == pytest.approx(want, rel=0.01)
    v = res.mesh.vertices
    assert np.hypot(v[:, 0], v[:, 1]).min() == pytest.approx(20.0, abs=1e-4)
    with pytest.raises(InvalidInputError):
        build_relief(png(np.full((40, 120), 128)), opts("lithophane", width_mm=200.0, curve_radius_mm=20.0))


# ------------------------------------------------------------------------------------------ subject outline


def rgba_disc(n: int = 120, grey: int = 128) -> bytes:
    yy, xx = np.mgrid[:n, :n] + 0.5
    a = (np.hypot(xx - n / 2, yy - n / 2) <= n * 0.4).astype(np.uint8) * 255
    rgb = np.zeros((n, n, 3), np.uint8)  # transparent pixels are black: must not leak into the edge
    rgb[a > 0] = grey
    buf = io.BytesIO()
    Image.fromarray(np.dstack([rgb, a]), "RGBA").save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("n", [120, 1200])  # the large one is area-reduced (alpha-weighted) before sampling
def test_alpha_subject_outline_follows_the_subject(n):
    res = build_relief(rgba_disc(n), opts("relief", width_mm=40.0, base_mm=1.0, max_height_mm=2.0))
    assert res.report["outline"] == "subject"
    assert_volume(res.mesh)
    lo, hi = res.mesh.vertices.min(axis=0), res.mesh.vertices.max(axis=0)
    # the exact outline is 40 mm wide; the mesh's chords may cut inside it by the 0.01 mm tolerance per side
    assert 40.0 - 0.021 <= hi[0] - lo[0] <= 40.0 + 1e-4
    assert res.report["width_mm"] == pytest.approx(40.0, abs=1e-6)
    h = res.report["height_mm"]  # the traced pixel disc may be a fraction of a pixel taller than wide
    assert h == pytest.approx(40.0, abs=0.02) and h - 0.021 <= hi[1] - lo[1] <= h + 1e-4
    t = 1.0 + 128 / 255 * 2.0
    area = res.report["area_mm2"]
    assert area == pytest.approx(math.pi * 20.0**2, rel=2e-3)  # a disc, not a 40 x 40 square
    assert res.mesh.volume() == pytest.approx(area * t, rel=2e-3)  # the edge did not pick up the black
    rect = build_relief(rgba_disc(), opts("relief", width_mm=40.0, outline="rect"))
    assert rect.report["outline"] == "rect"


def test_subject_outline_from_luminance_with_frame_and_not_mirrored():
    from shapes import letter_f, to_png

    data = to_png(letter_f(10))
    res = build_relief(data, opts("relief", width_mm=40.0, outline="subject", invert_heights=True))
    assert_volume(res.mesh)
    assert check_mesh(res.mesh).bodies == 1
    lo, hi = res.mesh.vertices.min(axis=0), res.mesh.vertices.max(axis=0)
    assert hi[0] - lo[0] == pytest.approx(40.0, abs=1e-3)
    # 'F': the long top bar reaches the right only at the top; the black ink is high (inverted)
    assert top_z(res.mesh, 15.0, 20.0) == pytest.approx(3.0, abs=0.02)
    with pytest.raises(AssertionError):
        top_z(res.mesh, 15.0, -20.0)  # nothing there: the outline follows the subject
    framed = build_relief(data, opts("relief", width_mm=40.0, outline="subject", frame_mm=1.0))
    assert_volume(framed.mesh)
    flo, fhi = framed.mesh.vertices.min(axis=0), framed.mesh.vertices.max(axis=0)
    assert fhi[0] - flo[0] == pytest.approx(42.0, abs=0.02)


# ------------------------------------------------------------------------------------------ files, CLI, errors


def test_files_are_checked_solids_and_step_is_a_valid_solid(tmp_path):
    img = np.tile(np.linspace(0, 255, 40), (20, 1))
    entry = convert(png(img), tmp_path, opts("relief", width_mm=20.0, pitch_mm=0.5, formats=("step", "stl", "3mf")),
                    stem="grad")
    assert set(entry["outputs"]) == {"step", "stl", "3mf"}
    for f in entry["outputs"].values():
        r = check_file(f)
        assert r["ok"] and r["solids"] == 1
        assert r["volume_mm3"] == pytest.approx(entry["volume_mm3"], rel=1e-5)
    assert_volume(read_stl(tmp_path / "grad.stl"))
    unit, parts = read_3mf(tmp_path / "grad.3mf")
    assert unit == "millimeter"
    assert_volume(parts[0][1])
    assert entry["step_faces"] == entry["triangles"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_cli_lithophane_defaults_to_meshes(tmp_path, capsys):
    from tracecad.cli import main

    src = tmp_path / "photo.png"
    src.write_bytes(png(asymmetric()))
    out = tmp_path / "out"
    code = main(["convert", str(src), "-o", str(out), "--mode", "lithophane", "--width", "50", "--frame", "2",
                 "--pitch", "0.5", "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    e = doc["results"][0]
    assert e["status"] == "ok" and set(e["outputs"]) == {"stl", "3mf"}
    assert e["width_mm"] == pytest.approx(50.0) and e["thickness_mm"] == 3.0 and e["min_thickness_mm"] == 0.8
    assert check_file(out / "photo.stl")["ok"]
    # svg, --colors and products have no meaning here: one usage error before any input, nothing written
    for extra in (["--formats", "stl,svg"], ["--colors", "3"], ["--plate", "rect"]):
        code = main(["convert", str(src), str(src), "-o", str(tmp_path / "o2"), "--mode", "relief", "-q", *extra])
        err = capsys.readouterr().err
        assert code == 2 and err.count("tracecad: error:") == 1 and "Traceback" not in err, err
        assert ("svg is not available in --mode relief" in err if "svg" in extra[1] else "--mode relief" in err)
    assert not (tmp_path / "o2").exists()
    # relief options without a relief mode are a usage error
    assert main(["convert", str(src), "-o", str(out), "--pitch", "0.3", "-q"]) == 2
    # the extrude mode still defaults to step,stl
    assert main(["convert", str(src), "-o", str(tmp_path / "o3"), "-q"]) == 0
    assert (tmp_path / "o3" / "photo.step").exists() and (tmp_path / "o3" / "photo.stl").exists()


@pytest.mark.parametrize("bad", [
    dict(mode="relief", min_height_mm=2.0, max_height_mm=1.0),
    dict(mode="lithophane", base_mm=1.0),
    dict(mode="relief", base_mm=0.0, min_height_mm=0.0),
    dict(mode="lithophane", width_mm=10.0, frame_mm=5.0),
    dict(mode="lithophane", width_mm=50.0, curve_angle_deg=90.0, curve_radius_mm=30.0),
])
def test_bad_options_are_one_clear_error(bad):
    mode = bad.pop("mode")
    with pytest.raises(InvalidInputError):
        build_relief(png(np.full((20, 20), 100)), opts(mode, **bad))


@pytest.mark.parametrize("flags", [["--mode", "lithophane", "--base", "1"],
                                   ["--mode", "relief", "--base", "0", "--min-height", "0"],
                                   ["--mode", "relief", "--min-height", "2", "--max-height", "1"]])
def test_heights_that_contradict_each_other_are_a_usage_error(tmp_path, capsys, flags):
    """Known from the options alone: exit 2 with one sentence before any input is read, not once per input."""
    from tracecad.cli import main

    src = tmp_path / "p.png"
    src.write_bytes(png(np.full((20, 20), 100)))
    assert main(["convert", str(src), str(src), "-o", str(tmp_path / "o"), "-q", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("tracecad: error:") == 1 and "p.png" not in err and not (tmp_path / "o").exists()


def test_debug_dir_shows_the_height_field(tmp_path, capsys):
    """--debug-dir in a relief mode writes the node heights as 16-bit grey: a lithophane of a left-to-right
    brightening ramp is thickest (white) on the left, thinner to the right, and its frame is full height."""
    from tracecad.cli import main

    ramp = np.tile(np.linspace(0, 255, 200), (100, 1))
    src = tmp_path / "ramp.png"
    src.write_bytes(png(ramp))
    dbg = tmp_path / "dbg"
    assert main(["convert", str(src), "-o", str(tmp_path / "o"), "--mode", "lithophane", "--width", "40",
                 "--frame", "2", "--pitch", "0.5", "--debug-dir", str(dbg), "-q"]) == 0
    h = np.asarray(Image.open(dbg / "ramp.heights.png"))
    assert h.dtype == np.uint16 and h.shape == (45, 81)  # 22 x 40 mm at 0.5 mm: (ny + 1, nx + 1) nodes
    inner = h[5:-5, 5:-5].astype(float)
    assert (np.diff(inner.mean(axis=0)) < 0).all()  # thinner where brighter
    assert h[0].min() == h[:, 0].min() == 65535  # the frame: the maximum thickness
    assert h.min() == 0


def test_option_validation():
    with pytest.raises(InvalidInputError):
        ConvertOptions(mode="emboss")
    with pytest.raises(InvalidInputError):
        ReliefParams(pitch_mm=0.0)
    with pytest.raises(InvalidInputError):
        ReliefParams(curve_angle_deg=400.0)
    with pytest.raises(InvalidInputError):
        ReliefParams(outline="circle")


def test_step_refused_above_the_facet_limit_and_nothing_is_written(tmp_path, monkeypatch):
    from tracecad.modes import relief
    from tracer.errors import ExportError

    monkeypatch.setattr(relief, "STEP_MAX_FACETS", 10)
    img = np.tile(np.linspace(0, 255, 40) ** 1.5 / 255**0.5, (20, 1))
    with pytest.raises(ExportError, match="too large"):
        convert(png(img), tmp_path, opts("relief", width_mm=20.0, pitch_mm=0.5, formats=("stl", "step")), stem="x")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_images_always_give_closed_meshes(seed):
    import cv2

    rng = np.random.default_rng(seed)
    grey = cv2.GaussianBlur(rng.uniform(0, 255, (70, 90)).astype(np.float32), (0, 0), 3)
    grey = (grey - grey.min()) / (np.ptp(grey) + 1e-9) * 255
    blob = cv2.GaussianBlur(rng.uniform(0, 1, (70, 90)).astype(np.float32), (0, 0), 6)
    alpha = np.where(blob > np.median(blob), 255, 0).astype(np.uint8)  # ragged shape, several islands
    buf = io.BytesIO()
    Image.fromarray(np.dstack([np.repeat(grey.astype(np.uint8)[..., None], 3, axis=2), alpha]), "RGBA").save(buf, "PNG")
    data = buf.getvalue()
    cases = [opts("relief", width_mm=25.0, smooth_mm=0.2),
             opts("relief", width_mm=25.0, frame_mm=0.8, gamma=0.7),
             opts("lithophane", width_mm=25.0, outline="rect", curve_angle_deg=200.0, pitch_mm=0.3)]
    for o in cases:
        res = build_relief(data, o)
        assert_volume(res.mesh)
        assert res.mesh.vertices[:, 2].min() == 0.0
