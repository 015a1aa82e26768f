"""--colors: which areas of the page colour are page and which are enclosed by the subject.

The page is the background colour connected to the image border through more than a pinch:
a white square of a chequer that touches the page only at a corner, or the inside of an outline
with a hairline gap, is enclosed (a white body); a pocket with a wide mouth is page.
Every image is drawn here, anti-aliased by supersampling; the truth is analytic.
"""

from __future__ import annotations

import io

import numpy as np
import shapely
import shapely.affinity
from PIL import Image
from shapely.geometry import Point, box

from cad import check_mesh
from tracecad import ConvertOptions
from tracecad.modes.colours import build_multicolor
from tracer import load_image
from tracer.colors import BACKGROUND, label_colors

N = 200
SS = 8
WHITE, BLACK = (255, 255, 255), (0, 0, 0)

# A 4x4 chequer of 30 px squares (black where col+row is even) in [X0, X0+120] x [Y0, Y0+120],
# framed in black on the top, right and bottom; its left side is open to the page. Off the
# pixel grid so that the corners of the squares fall inside pixels.
X0, Y0, Q, FRAME, OVER = 30.4, 40.3, 30.0, 6.0, 0.3


def _render(paint) -> bytes:
    """``paint(xx, yy) -> black`` on a supersampled grid, box-filtered: exact anti-aliasing."""
    yy, xx = (np.mgrid[: N * SS, : N * SS] + 0.5) / SS
    cov = paint(xx, yy).astype(float).reshape(N, SS, N, SS).mean(axis=(1, 3))[..., None]
    rgb = np.array(WHITE, float) * (1 - cov) + np.array(BLACK, float) * cov
    buf = io.BytesIO()
    Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8), "RGB").save(buf, format="PNG")
    return buf.getvalue()


def _white_squares():
    """The white squares, each OVER px wider on every side: diagonal neighbours overlap at their
    corners by a hairline, so every white square is joined to the open pockets of the left column."""
    return [box(X0 + c * Q - OVER, Y0 + r * Q - OVER, X0 + (c + 1) * Q + OVER, Y0 + (r + 1) * Q + OVER)
            for c in range(4) for r in range(4) if (c + r) % 2 == 1]


def _flag_black(xx, yy):
    x1, y1 = X0 + 4 * Q, Y0 + 4 * Q
    black = (xx >= X0) & (xx < x1) & (yy >= Y0) & (yy < y1)
    black |= (xx >= X0) & (xx < x1 + FRAME) & (((yy >= Y0 - FRAME) & (yy < Y0)) | ((yy >= y1) & (yy < y1 + FRAME)))
    black |= (xx >= x1) & (xx < x1 + FRAME) & (yy >= Y0 - FRAME) & (yy < y1 + FRAME)
    for w in _white_squares():
        bx0, by0, bx1, by1 = w.bounds
        black &= ~((xx >= bx0) & (xx < bx1) & (yy >= by0) & (yy < by1))
    return black


def _flag():
    return _render(_flag_black)


def _flag_truth():
    """White squares enclosed by black (the ones of the left column are open pockets: page), and the black."""
    x1, y1 = X0 + 4 * Q, Y0 + 4 * Q
    board = shapely.union_all([box(X0, Y0, x1, y1), box(X0, Y0 - FRAME, x1 + FRAME, Y0),
                               box(X0, y1, x1 + FRAME, y1 + FRAME), box(x1, Y0, x1 + FRAME, y1)])
    squares = _white_squares()
    pockets = shapely.union_all([w for w in squares if w.bounds[0] < X0])
    white = shapely.union_all([w for w in squares if w.bounds[0] > X0]).difference(pockets)
    black = board.difference(shapely.union_all(squares))
    return white, black


# A ring (outline of an eye) closed but for a hairline gap, with a black pupil, and a "C" whose
# mouth is wide: the inside of the ring is enclosed, the inside of the C is page.
RING = (60.0, 100.0, 40.0, 6.0)      # cx, cy, outer radius, stroke
PUPIL = 12.0
HAIRLINE = 0.8                       # gap in the ring, px
CEE = (150.0, 100.0, 35.0, 6.0)
MOUTH = 24.0                         # height of the C's opening, px


def _eye_and_c(xx, yy):
    cx, cy, ro, w = RING
    d = np.hypot(xx - cx, yy - cy)
    ring = (d <= ro) & (d > ro - w) & ~((np.abs(yy - cy) < HAIRLINE / 2) & (xx > cx))
    pupil = d <= PUPIL
    ex, ey, eo, ew = CEE
    e = np.hypot(xx - ex, yy - ey)
    cee = (e <= eo) & (e > eo - ew) & ~((np.abs(yy - ey) < MOUTH / 2) & (xx > ex))
    return ring | pupil | cee


def _iou(a, b) -> float:
    return a.intersection(b).area / a.union(b).area


def _white_px(labels) -> np.ndarray:
    k = [k for k in labels.colors if labels.hex(k) == "#ffffff"]
    return labels.labels == k[0] if k else np.zeros(labels.labels.shape, bool)


def _raster(geom, labels) -> np.ndarray:
    """Working-pixel centres inside ``geom`` (px, y down)."""
    h, w = labels.labels.shape
    s = labels.scale
    yy, xx = (np.mgrid[:h, :w] + 0.5) * s
    return shapely.contains_xy(geom, xx, yy)


def test_chequer_squares_touching_the_page_at_a_corner_are_a_body(tmp_path):
    p = tmp_path / "flag.png"
    p.write_bytes(_flag())
    labels = label_colors(load_image(p))
    assert labels.info["background"] == "#ffffff"
    white_truth, black_truth = _flag_truth()
    white = _white_px(labels)
    truth = _raster(white_truth, labels)
    iou = (white & truth).sum() / max((white | truth).sum(), 1)
    assert iou > 0.97, iou  # all six enclosed squares, not the two open pockets of the left column
    pockets = _raster(shapely.union_all([box(X0 + 2, Y0 + r * Q + 2, X0 + Q - 2, Y0 + (r + 1) * Q - 2)
                                         for r in (1, 3)]), labels)
    assert (labels.labels[pockets] == BACKGROUND).all()


def test_chequer_bodies_match_the_truth_and_do_not_overlap(tmp_path):
    p = tmp_path / "flag.png"
    p.write_bytes(_flag())
    conv = build_multicolor(p, ConvertOptions(colors="auto", px_mm=0.25, formats=("3mf",)))
    assert sorted(b.color for b in conv.bodies) == ["#000000", "#ffffff"]
    white_truth, black_truth = _truth_mm(conv, *_flag_truth())
    geo = {b.color: b.regions.geometry for b in conv.bodies}
    assert _iou(geo["#ffffff"], white_truth) > 0.98
    assert _iou(geo["#000000"], black_truth) > 0.98
    assert geo["#ffffff"].intersection(geo["#000000"]).area < 1e-6 * geo["#000000"].area
    for b in conv.bodies:
        assert check_mesh(b.mesh).is_volume


def test_outline_with_a_hairline_gap_encloses_a_wide_mouth_does_not(tmp_path):
    p = tmp_path / "eye.png"
    p.write_bytes(_render(_eye_and_c))
    labels = label_colors(load_image(p))
    white = _white_px(labels)
    cx, cy, ro, w = RING
    eye_white = Point(cx, cy).buffer(ro - w, 256).difference(Point(cx, cy).buffer(PUPIL, 256))
    truth = _raster(eye_white, labels)
    iou = (white & truth).sum() / max((white | truth).sum(), 1)
    assert iou > 0.97, iou
    ex, ey, eo, ew = CEE
    inside_c = _raster(Point(ex, ey).buffer(eo - ew - 2, 64), labels)
    assert (labels.labels[inside_c] == BACKGROUND).all()


def _truth_mm(conv, *geoms):
    """The truth (px, y down) in the bodies' frame: mm, centred on the subject's bounding box, y up."""
    s = conv.px_mm
    tb = shapely.union_all(list(geoms)).bounds
    aff = [s, 0, 0, -s, -0.5 * (tb[0] + tb[2]) * s, 0.5 * (tb[1] + tb[3]) * s]
    return [shapely.affinity.affine_transform(g, aff) for g in geoms]


def test_enclosed_page_colour_as_holes(tmp_path):
    p = tmp_path / "flag.png"
    p.write_bytes(_flag())
    conv = build_multicolor(p, ConvertOptions(colors="auto", px_mm=0.25, formats=("3mf",),
                                              enclosed_background="hole"))
    assert [b.color for b in conv.bodies] == ["#000000"]
    white_truth, black_truth = _truth_mm(conv, *_flag_truth())
    assert _iou(conv.bodies[0].regions.geometry, black_truth) > 0.98
    assert check_mesh(conv.bodies[0].mesh).is_volume
