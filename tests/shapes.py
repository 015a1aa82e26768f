"""Synthetic masks and images built in code (no files, nothing outside the repository)."""

from __future__ import annotations

import io
import math
import signal

import cv2
import numpy as np
import shapely
from PIL import Image, ImageDraw
from shapely import affinity


def square(n: int = 32, lo: int = 8, hi: int = 24) -> np.ndarray:
    m = np.zeros((n, n), bool)
    m[lo:hi, lo:hi] = True
    return m


def ring(n: int = 200, r_out: float = 80, r_in: float = 40) -> np.ndarray:
    yy, xx = np.mgrid[:n, :n] + 0.5
    d = np.hypot(xx - n / 2, yy - n / 2)
    return (d <= r_out) & (d >= r_in)


def square_with_hole(n: int = 64) -> np.ndarray:
    m = np.zeros((n, n), bool)
    m[8:56, 8:56] = True
    m[24:40, 24:40] = False
    return m


def letter_f(scale: int = 10) -> np.ndarray:
    """An 'F': asymmetric under both mirrors; bars point to +x, the long bar is at the top."""
    m = np.zeros((12 * scale, 10 * scale), bool)
    m[1 * scale:11 * scale, 1 * scale:3 * scale] = True   # stem on the left
    m[1 * scale:3 * scale, 1 * scale:9 * scale] = True    # long top bar
    m[5 * scale:7 * scale, 1 * scale:6 * scale] = True    # short middle bar
    return m


def _polygon(n: int, r: float, turn: float):
    return lambda d, s: d.polygon([(256 * s + r * s * math.cos(2 * math.pi * k / n + turn),
                                    256 * s + r * s * math.sin(2 * math.pi * k / n + turn)) for k in range(n)], fill=0)


def _disc(d, s, r, fill=0, cx=256, cy=256):
    d.ellipse([(cx - r) * s, (cy - r) * s, (cx + r) * s, (cy + r) * s], fill=fill)


def _ring(d, s):
    _disc(d, s, 200)
    _disc(d, s, 120, fill=255)


def _plate(d, s):  # a rounded plate with four round holes and a square one
    d.rounded_rectangle([40 * s, 100 * s, 472 * s, 412 * s], radius=50 * s, fill=0)
    for cx, cy in ((110, 170), (402, 170), (110, 342), (402, 342)):
        _disc(d, s, 30, fill=255, cx=cx, cy=cy)
    d.rectangle([206 * s, 206 * s, 306 * s, 306 * s], fill=255)


def curve_points(rx: float, ry: float, deg: float = 0.0, *, n: float = 2.0, egg: float = 0.0, cx: float = 256,
                 cy: float = 256, count: int = 4096) -> np.ndarray:
    """Points (count, 2) round a closed curve on the 512-unit canvas (y down): the ellipse of semi-axes ``rx``,
    ``ry`` turned by ``deg`` (clockwise on the page); ``n`` != 2 makes it a superellipse |x/rx|^n + |y/ry|^n = 1,
    ``egg`` > 0 widens one end (y scaled by 1 + egg cos t)."""
    t = np.linspace(0, 2 * np.pi, count, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    x = rx * np.sign(c) * np.abs(c) ** (2 / n)
    y = ry * np.sign(s) * np.abs(s) ** (2 / n) * (1 + egg * c)
    a = math.radians(deg)
    return np.stack([cx + x * math.cos(a) - y * math.sin(a), cy + x * math.sin(a) + y * math.cos(a)], axis=1)


def _curve(pts: np.ndarray, fill=0):
    return lambda d, s: d.polygon([(float(x) * s, float(y) * s) for x, y in pts], fill=fill)


def _elliptic_plate(d, s):  # a plate with an elliptic hole
    d.rectangle([60 * s, 100 * s, 452 * s, 412 * s], fill=0)
    _curve(curve_points(140, 80, 20), fill=255)(d, s)


#: Geometric artwork, drawn at 8x and reduced to 512 px (anti-aliased): name -> (draw(d, s), full circles).
GEOMETRIC = {
    "circle": (lambda d, s: _disc(d, s, 200), 1),
    "ring": (_ring, 2),
    "rounded_rectangle": (lambda d, s: d.rounded_rectangle([60 * s, 120 * s, 452 * s, 392 * s], radius=60 * s, fill=0), 0),
    "triangle": (_polygon(3, 210, 0.3), 0),
    "square": (_polygon(4, 200, 0.5), 0),
    "hexagon": (_polygon(6, 200, 0.1), 0),
    "octagon": (_polygon(8, 200, 0.2), 0),
    "plate": (_plate, 4),
    "ellipse": (_curve(curve_points(210, 120, 30)), 0),
}


#: Closed curves that are and are not ellipses (:func:`curve_points` arguments), drawn like :data:`GEOMETRIC`.
CURVES = {
    "ellipse_wide": dict(rx=200, ry=120, deg=30),
    "ellipse_thin": dict(rx=220, ry=70, deg=-50),
    "ellipse_round": dict(rx=150, ry=135, deg=10),
    "ellipse_small": dict(rx=60, ry=25, deg=20),
    "superellipse": dict(rx=200, ry=120, deg=15, n=2.3),
    "superellipse_small": dict(rx=60, ry=30, deg=20, n=2.1),
    "egg": dict(rx=200, ry=120, deg=10, egg=0.06),
    "egg_small": dict(rx=40, ry=25, deg=30, egg=0.05),
}


def curve_png(name: str, size: int = 512, ss: int = 8) -> bytes:
    """One of :data:`CURVES` (or ``elliptic_plate``: a plate with an elliptic hole) as a grey PNG of ``size`` px."""
    draw = _elliptic_plate if name == "elliptic_plate" else _curve(curve_points(**CURVES[name]))
    return _render(draw, size, ss)


def geometric_png(name: str, size: int = 512, ss: int = 8) -> bytes:
    """One of :data:`GEOMETRIC` as a grey PNG of ``size`` px (drawn on a 512-unit canvas)."""
    return _render(GEOMETRIC[name][0], size, ss)


def _render(draw, size: int, ss: int) -> bytes:
    big = Image.new("L", (512 * ss, 512 * ss), 255)
    draw(ImageDraw.Draw(big), ss)
    buf = io.BytesIO()
    big.resize((size, size), Image.LANCZOS).save(buf, format="PNG")
    return buf.getvalue()


def to_png(mask: np.ndarray, *, dark_on_light: bool = True, aa: bool = False) -> bytes:
    img = np.where(mask, 0, 255).astype(np.uint8) if dark_on_light else np.where(mask, 255, 0).astype(np.uint8)
    if aa:
        img = cv2.GaussianBlur(img, (0, 0), 0.7)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def save_png(mask: np.ndarray, path, **kw) -> None:
    path.write_bytes(to_png(mask, **kw))


def default_sigint() -> None:
    """For a child process that a test stops with Ctrl-C: Python turns SIGINT into KeyboardInterrupt only
    when the signal is not ignored at start, and a suite started in the background inherits it ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def line_art(paths, width: float, size: int = 160) -> np.ndarray:
    """Dark strokes on white, anti-aliased exactly: each path (a list of (x, y) pixel points, y down)
    buffered to ``width`` with round caps and joins; a pixel's grey level is the fraction of it the
    strokes cover. Returns (size, size) uint8 grey; pixel (c, r) covers [c, c+1] x [r, r+1]."""
    import shapely
    from shapely.geometry import LineString

    return coverage_png(shapely.union_all([LineString(p) for p in paths]).buffer(width / 2, quad_segs=32), size)


def coverage_png(geom, size: int) -> np.ndarray:
    """``geom`` (pixel units, y down) dark on white, anti-aliased exactly: a pixel's grey level is the fraction
    of it that ``geom`` covers. Returns (size, size) uint8 grey; pixel (c, r) covers [c, c+1] x [r, r+1]."""
    import shapely

    rows, cols = np.mgrid[:size, :size]
    boxes = shapely.box(cols.ravel(), rows.ravel(), cols.ravel() + 1, rows.ravel() + 1)
    shapely.prepare(geom)
    hit = shapely.intersects(geom, boxes)
    cover = np.zeros(size * size)
    cover[hit] = shapely.area(shapely.intersection(boxes[hit], geom))
    return np.round(255 * (1.0 - cover.reshape(size, size))).astype(np.uint8)


def iou_at_width(geom, truth, width_mm: float = 50.0) -> float:
    """IoU of ``geom`` (mm, y up) with ``truth`` (a shapely geometry, y down, any size) scaled to ``width_mm``
    wide, both centred on their bounding boxes (as the corpus scorer aligns them)."""
    a, _, c, _ = truth.bounds
    s = width_mm / (c - a)
    want = affinity.scale(truth, s, -s, origin=(0, 0))
    out = []
    for g in (geom, want):
        x0, y0, x1, y1 = g.bounds
        out.append(affinity.translate(g, -(x0 + x1) / 2, -(y0 + y1) / 2))
    return shapely.intersection(*out).area / shapely.union(*out).area
