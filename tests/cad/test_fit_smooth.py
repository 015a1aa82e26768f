"""On a noisy image the trace is smoothed before the fit: few pieces, and as close to the drawn shape as the trace."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import shapely
from PIL import Image, ImageDraw
from shapely import affinity

import tracer
from cad.fit_noise import NOISY_RUNGS, SHIFT_TOLS, keeps_shape, local_shift, noisy_ladder, pushes_out, smooth
from cad.regions import Ring, to_regions
from tracer.trace import NOISE_MIN_PX, edge_noise_px

R_HOLE, R_HEX, TURN = 70.0, 200.0, 0.1
MIN_AREA_PX = 2.0  # the CLI's default --min-area at 50 mm wide from 512 px: the specks of compression go


def _noisy_circle(radius: float, amp: float, seed: int = 1, step: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Samples ``step`` px apart on a circle whose radius meanders by about ``amp`` over 1 to 4 px; and the angles."""
    rng = np.random.default_rng(seed)
    n = int(2 * math.pi * radius / step)
    a = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    bumps = rng.normal(0.0, 1.0, n)
    kernel = np.exp(-0.5 * (np.arange(-15, 16) * step / 0.25) ** 2)  # bumps about a pixel wide
    bumps = np.convolve(np.concatenate([bumps[-15:], bumps, bumps[:15]]), kernel / kernel.sum(), "valid")
    r = radius + amp * bumps / bumps.std()
    return np.stack([r * np.cos(a), r * np.sin(a)], axis=1), a


def _radial(q: np.ndarray) -> np.ndarray:
    return np.hypot(*q.T)


def test_smoothing_takes_out_noise_without_shrinking_the_curve():
    q, _ = _noisy_circle(20.0, 0.15)
    s = smooth(q, np.array([], np.int64), 15)  # 3 px either side
    before, after = (float(np.sqrt(((_radial(p) - 20.0) ** 2).mean())) for p in (q, s))
    assert after < 0.6 * before  # a local parabola over 3 px halves the noise of 1 px wide bumps
    # a local parabola follows the curvature; a moving average over 3 px would shrink the circle by 0.075 px
    assert abs(float(_radial(s).mean() - _radial(q).mean())) < 0.025
    assert shapely.LinearRing(s).is_simple


def test_smoothing_keeps_corners_and_small_rings():
    # a square's corners (flagged) stay where they are; its sides are already straight
    side = np.linspace(0.0, 10.0, 50, endpoint=False)
    sq = np.concatenate([np.stack([side, 0 * side], 1), np.stack([10 + 0 * side, side], 1),
                         np.stack([10 - side, 10 + 0 * side], 1), np.stack([0 * side, 10 - side], 1)])
    corners = np.array([0, 50, 100, 150])
    s = smooth(sq, corners, 15)
    assert np.abs(s[corners] - sq[corners]).max() < 1e-9
    assert np.abs(s - sq).max() < 1e-6
    # a ring 3 px across turns too fast for a 3 px window: the window shrinks, the ring keeps its size
    q, _ = _noisy_circle(1.5, 0.0)
    assert np.abs(_radial(smooth(q, np.array([], np.int64), 15)) - 1.5).max() < 0.05


def test_edge_noise_from_the_isolation():
    assert edge_noise_px({"noise_sigma": 0.0, "dead_zone": 0.01}) == 0.0  # a clean render
    assert edge_noise_px({"dead_zone": 0.024}) == 0.0  # the overshoot of a Lanczos reduction is not compression
    assert edge_noise_px({"dead_zone": 0.1}) == NOISE_MIN_PX  # compression ringing, no blur measured
    assert edge_noise_px({"noise_sigma": 0.02, "blur_sigma": 1.3}) == 1.3  # a photo: its blur


def _hexagon_with_hole(quality: int | None) -> bytes:
    ss = 8
    big = Image.new("L", (512 * ss, 512 * ss), 255)
    d = ImageDraw.Draw(big)
    d.polygon([(256 * ss + R_HEX * ss * math.cos(2 * math.pi * k / 6 + TURN),
                256 * ss + R_HEX * ss * math.sin(2 * math.pi * k / 6 + TURN)) for k in range(6)], fill=0)
    d.ellipse([(256 - R_HOLE) * ss, (256 - R_HOLE) * ss, (256 + R_HOLE) * ss, (256 + R_HOLE) * ss], fill=255)
    buf = io.BytesIO()
    small = big.resize((512, 512), Image.LANCZOS)
    small.save(buf, "JPEG", quality=quality) if quality else small.save(buf, "PNG")
    return buf.getvalue()


def _truth() -> shapely.Polygon:
    """The drawn shape in pixels, y up (as the regions are), centred on its bounding box."""
    hexagon = shapely.Polygon([(R_HEX * math.cos(2 * math.pi * k / 6 + TURN), -R_HEX * math.sin(2 * math.pi * k / 6 + TURN))
                               for k in range(6)])
    g = hexagon.difference(shapely.Point(0, 0).buffer(R_HOLE, quad_segs=256))
    return _centred(g)


def _centred(g):
    x0, y0, x1, y1 = g.bounds
    return affinity.translate(g, -(x0 + x1) / 2, -(y0 + y1) / 2)


def _iou(a, b) -> float:
    return a.intersection(b).area / a.union(b).area


@pytest.fixture(scope="module")
def jpeg_outlines(tmp_path_factory):
    path = tmp_path_factory.mktemp("jpeg") / "hexagon.jpg"
    path.write_bytes(_hexagon_with_hole(35))
    return tracer.trace(tracer.isolate(tracer.load_image(path)))


def test_jpeg_trace_is_fitted_with_few_pieces_on_the_drawn_shape(jpeg_outlines):
    assert jpeg_outlines.info.get("noise_px", 0.0) > 0 and jpeg_outlines.info["noisy"]  # it saw the compression
    kw = {"px_mm": 1.0, "min_area_mm2": MIN_AREA_PX}
    traced = to_regions(jpeg_outlines, fit_tolerance_mm=0, **kw)
    fixed = to_regions(jpeg_outlines, fit_tolerance_mm=0.1, **kw)  # a tenth of a pixel, no smoothing
    auto = to_regions(jpeg_outlines, **kw)
    truth = _truth()
    # the designer drew 8 segments (six sides and a circle); the noise of q35 still breaks the fit up, but far
    # less than when the fit follows it
    assert auto.n_segments <= 0.4 * fixed.n_segments
    assert auto.segment_kinds()["lines"] >= 6
    iou_traced, iou_auto = _iou(_centred(traced.geometry), truth), _iou(_centred(auto.geometry), truth)
    assert iou_auto > 0.997
    assert iou_auto >= iou_traced - 0.001  # smoothing the noise costs next to nothing of the drawn shape
    # the reported deviation bounds the distance from the trace
    gap = shapely.hausdorff_distance(auto.geometry.boundary, traced.geometry.boundary)
    assert gap <= auto.report["fit_deviation_mm"] + 1e-6


def test_clean_render_is_smoothed_only_over_its_working_raster(tmp_path):
    path = tmp_path / "hexagon.png"
    path.write_bytes(_hexagon_with_hole(None))
    outlines = tracer.trace(tracer.isolate(tracer.load_image(path)))
    assert 0 < outlines.info["noise_px"] < NOISE_MIN_PX  # a few sub-pixels, not a noisy image's blur
    assert outlines.info["noisy"] is False
    auto = to_regions(outlines, px_mm=1.0)
    assert _iou(_centred(auto.geometry), _truth()) > 0.999


def test_guard_passes_smoothed_noise_and_refuses_a_refit_that_moves_the_outline():
    """The per-ring guard: the area between refit and trace per length of outline, over at least the
    smoothing window, is small for noise about the shape; a refit that fills a notch, or moves the whole
    outline, exceeds the bound and is refused."""
    q, a = _noisy_circle(30.0, 0.15)
    tol, half = 0.1, 4.0  # the default tolerance and a smoothing half-width, in px
    true = 30.0 * np.stack([np.cos(a), np.sin(a)], axis=1)
    assert local_shift(true, q, 2 * half) < SHIFT_TOLS * tol  # the drawn circle against its noisy trace
    assert keeps_shape(true, q, half, tol)
    # the circle 0.3 px smaller all round, a notch filled, a bump cut: moved by more than the bound
    assert not keeps_shape(true * (1 - 0.3 / 30.0), q, half, tol)
    notch = q.copy()
    cut = np.abs(np.angle(np.exp(1j * a))) < 4.0 / 30.0  # 8 px of the edge pushed 0.5 px in
    notch[cut] *= 1 - 0.5 / 30.0
    assert not keeps_shape(true, notch, half, tol)  # the refit (the drawn circle) fills what the trace cut
    assert abs(local_shift(true, notch, 2 * half) - 0.5) < 0.2
    # the notch's area spread over a window the ring's size is diluted
    assert local_shift(true, notch, 1e6) < 0.05


def test_noisy_ladder_is_coarse_first_and_guarded_at_the_top():
    rungs = noisy_ladder(0.1, 0.75)
    assert [r[0] for r in rungs] == sorted((r[0] for r in rungs), reverse=True)  # coarse first
    assert all(t >= 0.1 for t, _, _ in rungs)  # never finer than the default
    assert rungs[0][2] and not any(g for _, _, g in rungs[1:])  # only the coarsest rung is guarded
    assert len(rungs) == len(NOISY_RUNGS)


def test_extent_check_counts_an_extreme_moved_in_only_when_asked():
    """A refit's curved extreme may move in (smoothing a bump of noise does); with ``inward`` it may not
    move in further than that, as the extremes set the frame of the whole part."""
    def box_of_cubics(w: float) -> Ring:  # a square of straight cubics (not lines: lines are left out)
        p = np.array([[0.0, 0.0], [w, 0.0], [w, w], [0.0, w]])
        ctrl = np.array([[a, a + (b - a) / 3, a + 2 * (b - a) / 3, b] for a, b in zip(p, np.roll(p, -1, axis=0))])
        return Ring(ctrl, np.zeros(4, bool))
    old = box_of_cubics(10.0).bounds()
    lo, hi = np.array(old[:2]), np.array(old[2:])
    smaller = box_of_cubics(9.7)  # its right and top extremes 0.3 in
    assert not pushes_out(smaller, old, lo, hi, 0.15)
    assert pushes_out(smaller, old, lo, hi, 0.15, inward=0.1)
    assert not pushes_out(smaller, old, lo, hi, 0.15, inward=0.5)
    assert pushes_out(box_of_cubics(10.3), old, lo, hi, 0.15)
