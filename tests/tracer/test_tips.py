"""Blunted tips are restored (tracer.tips): blurred pictures and clean renders, and nothing else is touched."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

import tracer
from tracer import fill, tips

SS = 8  # supersampling of the synthetic renders


def _render(polys_ink, polys_paper=(), size=(400, 300)) -> np.ndarray:
    """Exact-ish coverage (0..1) of ink polygons minus paper polygons, in source pixels."""
    w, h = size
    big = np.zeros((h * SS, w * SS), np.uint8)
    for p in polys_ink:
        cv2.fillPoly(big, [np.round(np.asarray(p) * SS * 16).astype(np.int32)], 1, shift=4)
    for p in polys_paper:
        cv2.fillPoly(big, [np.round(np.asarray(p) * SS * 16).astype(np.int32)], 0, shift=4)
    return big.reshape(h, SS, w, SS).mean(axis=(1, 3))


def _photo(cover: np.ndarray, *, sigma: float, seed: int = 1) -> bytes:
    """Ink on paper, blurred like a camera, with sensor noise: the midpoint-cut path of isolate."""
    rng = np.random.default_rng(seed)
    lum = 240.0 - 210.0 * cv2.GaussianBlur(cover.astype(np.float32), (0, 0), sigma)
    lum = np.clip(lum + rng.normal(0.0, 3.0, lum.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(lum).save(buf, format="PNG")
    return buf.getvalue()


def _isolate(data: bytes, *, restore: bool, monkeypatch) -> tracer.Mask:
    if not restore:
        monkeypatch.setattr(tips, "MIN_SIGMA", 1e9)
    try:
        return tracer.isolate(tracer.load_image(data), params=tracer.IsolateParams(width_mm=50))
    finally:
        monkeypatch.undo()


def _extent_px(mask: tracer.Mask) -> tuple[float, float, float, float]:
    rows = np.flatnonzero(mask.pixels.any(axis=1))
    cols = np.flatnonzero(mask.pixels.any(axis=0))
    s = mask.scale
    return cols[0] * s, rows[0] * s, (cols[-1] + 1) * s, (rows[-1] + 1) * s


# A long, thin wedge (7.8 degrees) pointing right at x = 340.
WEDGE = [(60, 130), (340, 150), (60, 170), (40, 150)]


def test_blur_is_measured_from_the_edges():
    t = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    cover = _render([np.stack([200 + 100 * np.cos(t), 150 + 100 * np.sin(t)], axis=1)])  # edges at every phase
    for sigma in (1.0, 1.5, 2.5):
        f = cv2.GaussianBlur(cover.astype(np.float32), (0, 0), sigma)
        assert tips.estimate_blur(f) == pytest.approx(np.hypot(sigma, 0.3), rel=0.12)


def test_a_blurred_wedge_gets_its_tip_back(monkeypatch):
    data = _photo(_render([WEDGE]), sigma=1.5)
    plain = _isolate(data, restore=False, monkeypatch=monkeypatch)
    fixed = _isolate(data, restore=True, monkeypatch=monkeypatch)
    lost = 340 - _extent_px(plain)[2]
    assert lost > 8.0  # the midpoint cut loses the tip (the test can fail)
    assert fixed.info.get("tips_restored", 0) >= 1
    assert abs(_extent_px(fixed)[2] - 340) < 0.3 * lost  # 12.5 px short -> 3.5 px short, measured
    # everything else of the mask is unchanged: only pixels near the tip were added
    a, b = plain.pixels, fixed.pixels
    assert not (a & ~b).any()
    added = np.argwhere(b & ~a) * plain.scale
    assert added[:, 1].min() > 340 - 60


def test_blunt_ends_and_slits_are_left_alone(monkeypatch):
    bar = [(60, 60), (340, 60), (340, 80), (60, 80)]  # a square stroke end, 20 px wide
    thin = [(60, 120), (340, 120), (340, 124), (60, 124)]  # a 4 px stroke: no taper
    block = [(60, 160), (340, 160), (340, 260), (60, 260)]
    slit = [(340, 205), (120, 210), (340, 215)]  # a paper wedge cut into the block
    data = _photo(_render([bar, thin, block], [slit]), sigma=1.5)
    plain = _isolate(data, restore=False, monkeypatch=monkeypatch)
    fixed = _isolate(data, restore=True, monkeypatch=monkeypatch)
    assert fixed.info.get("tips_restored", 0) == 0
    assert np.array_equal(plain.pixels, fixed.pixels)


def _clean(cover: np.ndarray, *, restore: bool) -> tracer.Mask:
    """A lossless anti-aliased render (the coverage-fill path of isolate), tips restored or not."""
    buf = io.BytesIO()
    Image.fromarray((240.0 - 210.0 * cover).astype(np.uint8)).save(buf, format="PNG")
    params = tracer.IsolateParams(width_mm=50, restore_tips=restore)
    return tracer.isolate(tracer.load_image(buf.getvalue()), params=params)


def test_a_clean_renders_misplaced_tip_is_put_where_its_ink_is():
    """Box model: the coverage fill piles a taper's last ink on the body's side; the tip goes back to its point."""
    cover = _render([WEDGE])
    plain, fixed = _clean(cover, restore=False), _clean(cover, restore=True)
    assert plain.info["subpixel"] == "coverage fill"
    lost = 340 - _extent_px(plain)[2]
    assert lost > 0.5  # measured 0.67 px short (the test can fail)
    assert fixed.info.get("tips_restored", 0) == 1
    assert abs(_extent_px(fixed)[2] - 340) < 0.5 * lost  # measured 0.17 px over
    assert _coverage_iou(fixed, cover) >= _coverage_iou(plain, cover)  # ink stays where the picture has it
    changed = np.argwhere(plain.pixels != fixed.pixels) * plain.scale
    assert len(changed) and changed[:, 1].min() > 340 - 20  # only the tip was redrawn


def test_a_compressed_render_is_not_read_with_the_box_model():
    """JPEG noise would pass for evidence of where a tip's ink is: lossy pictures keep the coverage fill's cut."""
    cover = _render([WEDGE])
    buf = io.BytesIO()
    Image.fromarray((240.0 - 210.0 * cover).astype(np.uint8)).save(buf, format="JPEG", quality=75)  # (where the box model would redraw the tip)
    mask = tracer.isolate(tracer.load_image(buf.getvalue()), params=tracer.IsolateParams(width_mm=50))
    assert mask.info["subpixel"] == "coverage fill" and mask.info["dead_zone"] > 0.01
    assert "tips_restored" not in mask.info


def test_clean_blunt_ends_and_slits_are_left_alone():
    bar = [(60, 60), (340, 60), (340, 80), (60, 80)]
    thin = [(60, 120), (340, 120), (340, 124), (60, 124)]
    block = [(60, 160), (340, 160), (340, 260), (60, 260)]
    slit = [(340, 205), (120, 210), (340, 215)]
    cover = _render([bar, thin, block], [slit])
    plain, fixed = _clean(cover, restore=False), _clean(cover, restore=True)
    assert "tips_restored" not in fixed.info and np.array_equal(plain.pixels, fixed.pixels)


def test_the_cli_reports_restored_tips_and_no_tips_turns_them_off(tmp_path, capsys):
    import json

    from tracecad.cli import main

    src = tmp_path / "wedge.png"
    src.write_bytes(_photo(_render([WEDGE]), sigma=1.5))
    widths = {}
    for flag in ("--tips", "--no-tips"):
        assert main(["convert", str(src), "-o", str(tmp_path / flag), "--formats", "stl", "--px-mm", "0.1",
                     "--json", flag]) == 0
        entry = json.loads(capsys.readouterr().out)["results"][0]
        widths[flag] = (entry["tips_restored"], entry["width_mm"])
    assert widths["--tips"][0] >= 1 and widths["--no-tips"][0] == 0
    # at 0.1 mm per source pixel the restored tip adds most of the 12.5 px the cut lost
    assert widths["--tips"][1] - widths["--no-tips"][1] > 0.8


def _coverage_iou(mask: tracer.Mask, cover: np.ndarray) -> float:
    k = round(1 / mask.scale)
    m = mask.pixels.reshape(cover.shape[0], k, cover.shape[1], k).mean(axis=(1, 3))
    return float(np.minimum(m, cover).sum() / np.maximum(m, cover).sum())


def _reach(mask: tracer.Mask, centre: np.ndarray, direction: np.ndarray, radius: float) -> float:
    """How far (source px) the ink within ``radius`` of ``centre`` reaches along ``direction``:
    pixel centres plus half a working pixel."""
    s = mask.scale
    ys, xs = np.nonzero(mask.pixels)
    pts = np.stack([(xs + 0.5) * s, (ys + 0.5) * s], axis=1)
    near = np.hypot(*(pts - centre).T) < radius
    return float(((pts[near] - centre) @ direction).max() + s / 2)


def _new_ink_outside(plain: tracer.Mask, fixed: tracer.Mask) -> float:
    """How far (source px) the ink ``fixed`` adds lies outside the ``plain`` cut (0 when it adds none)."""
    new = fixed.pixels & ~plain.pixels
    if not new.any():
        return 0.0
    d = cv2.distanceTransform((~plain.pixels).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return float(max(0.0, (d[new].max() - 1.0) * plain.scale))  # less the pixel's own width


def _round_strokes(width: float) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Coverage of pen strokes ``width`` px wide with round caps and joins (straight, zigzag, bent, an
    open arc), and each cap's (centre, outward direction)."""
    from shapely.geometry import LineString

    t = np.linspace(0.3, 5.5, 40)
    lines = [[(60, 80), (300, 90)], [(80, 200), (160, 140), (240, 200), (320, 140)],
             [(400, 60), (420, 150), (520, 230)], list(zip(600 + 60 * np.cos(t), 200 + 60 * np.sin(t))),
             [(300, 320), (700, 330)]]
    ink, paper, caps = [], [], []
    for line in lines:
        shape = LineString(line).buffer(width / 2, cap_style="round", join_style="round", quad_segs=32)
        ink.append(list(shape.exterior.coords))
        paper += [list(ring.coords) for ring in shape.interiors]
        pts = np.asarray(line, float)
        for end, before in ((pts[0], pts[1]), (pts[-1], pts[-2])):
            caps.append((end, (end - before) / np.hypot(*(end - before))))
    return _render(ink, paper, size=(800, 400)), caps


def test_a_blurred_star_gains_length_at_its_tips(monkeypatch):
    """A camera-blurred star's five points are restored: each tip reaches further towards the drawn
    point, and the IoU against the drawn star rises."""
    ang = np.pi / 2 + np.arange(10) * np.pi / 5
    rad = np.where(np.arange(10) % 2 == 0, 180.0, 40.0)
    centre = np.array([400.0, 200.0])
    star = np.stack([centre[0] + rad * np.cos(ang), centre[1] - rad * np.sin(ang)], axis=1)
    cover = _render([star], size=(800, 400))
    data = _photo(cover, sigma=2.0)
    plain = _isolate(data, restore=False, monkeypatch=monkeypatch)
    fixed = _isolate(data, restore=True, monkeypatch=monkeypatch)
    assert fixed.info.get("tips_restored", 0) == 5
    assert _coverage_iou(fixed, cover) > _coverage_iou(plain, cover) + 0.001  # 0.9923 -> 0.9938 measured
    for tip in star[::2]:
        out = (tip - centre) / np.hypot(*(tip - centre))
        gained = _reach(fixed, centre, out, 200) - _reach(plain, centre, out, 200)
        assert gained > 5.0, (tip, gained)  # measured 6.8-7.8 px: the cut blunts each point by about 8
        assert _reach(fixed, centre, out, 200) <= 180 + 0.5  # and the restored one not beyond it


@pytest.mark.parametrize("width", [5.0, 11.0])
def test_round_stroke_ends_do_not_change(monkeypatch, width):
    """Round caps and joins of blurred pen strokes are not tips: each cap moves by less than 0.1 px and
    no new ink lies further than 0.1 px outside the plain cut."""
    cover, caps = _round_strokes(width)
    data = _photo(cover, sigma=2.0)
    plain = _isolate(data, restore=False, monkeypatch=monkeypatch)
    fixed = _isolate(data, restore=True, monkeypatch=monkeypatch)
    assert _new_ink_outside(plain, fixed) < 0.1
    for end, out in caps:
        moved = _reach(fixed, end, out, 2 * width) - _reach(plain, end, out, 2 * width)
        assert abs(moved) < 0.1, (end, moved)
    assert _coverage_iou(fixed, cover) >= _coverage_iou(plain, cover) - 1e-4


def test_a_texture_is_left_as_cut(monkeypatch):
    """Hundreds of sharp points (a photographed texture) are not a logo's tapers: no restoration, bounded time."""
    rng = np.random.default_rng(0)
    n = cv2.GaussianBlur(rng.random((1024, 1024)).astype(np.float32), (0, 0), 3)
    data = _photo((n > np.median(n)).astype(np.float32), sigma=1.5)
    plain = _isolate(data, restore=False, monkeypatch=monkeypatch)
    fixed = _isolate(data, restore=True, monkeypatch=monkeypatch)
    assert "tips_restored" not in fixed.info and np.array_equal(plain.pixels, fixed.pixels)


def _hairline(angle_deg: float, width: float) -> np.ndarray:
    """A block with a 150 px hairline leaving it at a shallow angle, ``width`` px wide at the block, sharp at the end."""
    t = np.radians(angle_deg)
    d, n = np.array([np.cos(t), np.sin(t)]), np.array([-np.sin(t), np.cos(t)])
    a = np.array([100.0, 140.0])
    line = [a + n * width / 2, a + d * 150, a - n * width / 2, a - d * 20 - n * width * 1.5, a - d * 20 + n * width * 1.5]
    return _render([[(40, 100), (100, 100), (100, 180), (40, 180)], line], size=(320, 240))


def test_pieces_the_fill_cut_off_a_hairline_are_joined_back(monkeypatch):
    """A hairline under a pixel wide comes out of the coverage fill in pieces; the small ones are joined again."""
    cover = _hairline(4, 1.0)
    joined = _clean(cover, restore=True)
    monkeypatch.setattr(fill, "JOIN_REACH_PX", 0.0)
    apart = _clean(cover, restore=True)
    parts = [cv2.connectedComponents(m.pixels.view(np.uint8), connectivity=8)[0] - 1 for m in (apart, joined)]
    assert joined.info.get("pieces_joined", 0) >= 3 and parts[1] <= parts[0] - 3  # measured 13 -> 8 pieces
    assert _coverage_iou(joined, cover) >= _coverage_iou(apart, cover) - 1e-4  # one-pixel bridges, no blobs


def test_joining_never_crosses_paper():
    """A small piece is joined to the ink next to it only where the picture holds ink all the way."""
    k = 6
    mask = np.zeros((40 * k, 40 * k), bool)
    mask[10 * k:30 * k, 5 * k:20 * k] = True  # a body
    mask[19 * k:20 * k, 21 * k:22 * k] = True  # a piece of 1 px², 1 px to its right
    cover = np.zeros((40, 40), np.float32)
    cover[10:30, 5:20] = 1.0
    cover[19, 21] = 1.0
    near = (np.array([21]), np.array([19]))
    assert fill.join_pieces(mask.copy(), k, near, cover) == 0  # paper between them: left apart
    cover[19, 20] = 0.1  # a faint hairline across the gap
    m = mask.copy()
    assert fill.join_pieces(m, k, near, cover) == 1
    assert cv2.connectedComponents(m.view(np.uint8), connectivity=8)[0] == 2
    assert m.sum() - mask.sum() <= 2 * k  # a one-pixel line, not a blob


def test_a_folded_outline_does_not_break_the_taper_fit():
    """Regression (found by fuzzing random line art): a sharp point whose side pairs all sit at one
    distance along the axis made the taper's least-squares fit degenerate (LinAlgError); it is skipped."""
    from pathlib import Path

    data = (Path(__file__).resolve().parents[1] / "data" / "folded_tip_20x169.png").read_bytes()
    for width in (10.0, 50.0):
        mask = tracer.isolate(tracer.load_image(data), params=tracer.IsolateParams(width_mm=width))
        assert mask.pixels.any()


def test_a_blurred_v_notch_gets_its_point_back(monkeypatch):
    """A paper wedge cut into ink (a V notch, a slit between letters) is closed early by the blur, as an ink
    tip is cut short; it is opened again to where the picture shows it ends, and no ink is added."""
    block = [(60, 60), (340, 60), (340, 240), (60, 240)]
    notch = [(340, 135), (120, 150), (340, 165)]  # 7.8 degrees, 220 px deep, point at x = 120
    cover = _render([block], [notch])
    data = _photo(cover, sigma=1.5)
    plain = _isolate(data, restore=False, monkeypatch=monkeypatch)
    fixed = _isolate(data, restore=True, monkeypatch=monkeypatch)
    k = round(1 / plain.scale)

    def depth(mask):  # the notch's point: its leftmost paper pixel inside the block, around its axis
        paper = ~mask.pixels[140 * k:160 * k, 100 * k:340 * k]
        return np.nonzero(paper)[1].min() / k + 100

    lost = depth(plain) - 120
    assert lost > 8.0  # the blur closes the notch's point (the test can fail)
    assert fixed.info.get("tips_restored", 0) >= 1
    assert abs(depth(fixed) - 120) < 0.3 * lost  # measured 13.75 -> 2.5 px short
    assert not (fixed.pixels & ~plain.pixels).any()  # paper opened, no ink added
    assert _coverage_iou(fixed, cover) > _coverage_iou(plain, cover)
