"""Rectify a flat subject photographed at an angle: find its quadrilateral and the size to rectify it to.

Frames
------
Corners are ``(4, 2)`` float64 in the pixels of the image they were found in (x right, y down), in
the order top-left, top-right, bottom-right, bottom-left of the rectified result
(:func:`order_corners`). The principal point is the centre of the photo as taken (a crop moves it
off the centre of the cropped picture, so the caller passes it).

The aspect ratio and the focal length it needs are estimated by :mod:`tracer.focal`, which weighs
the corners by their uncertainty (:func:`refine_corners` measures it).
"""

from __future__ import annotations

import math

import numpy as np

from tracer.opencv import load_cv2

__all__ = ["order_corners", "find_quad", "refine_corners", "rectified_size", "CORNER_SIGMA_FLOOR_PX"]

#: What the edge fit cannot see of the refined corners' error (pixels): the blur's asymmetry, the compression,
#: a lens's bending; added to the fit's own standard error.
CORNER_SIGMA_FLOOR_PX = 0.2


def order_corners(pts) -> np.ndarray:
    """Four points -> ``(4, 2)`` in the order top-left, top-right, bottom-right, bottom-left.

    The points are sorted round their centroid (clockwise on screen, y down) and the cycle starts at
    the corner that is most top-left (smallest ``x + y``), so a quadrilateral photographed upright
    keeps its orientation."""
    p = np.asarray(pts, np.float64).reshape(4, 2)
    c = p.mean(axis=0)
    ang = np.arctan2(p[:, 1] - c[1], p[:, 0] - c[0])
    p = p[np.argsort(ang)]  # clockwise on screen (y down)
    start = int(np.argmin(p[:, 0] + p[:, 1]))
    return np.roll(p, -start, axis=0)


def _h(p) -> np.ndarray:
    return np.array([p[0], p[1], 1.0])


def rectified_size(corners: np.ndarray, aspect: float) -> tuple[float, float]:
    """``(width, height)`` of a rectified picture of aspect ``aspect`` in which no pixel is larger than a pixel of
    the photo anywhere on the quadrilateral: the photo's pixel density where it is highest (the nearest edge).

    The local scale of the map from the rectangle to the photo is its Jacobian; its columns' lengths (photo
    pixels per unit of width and of height) are evaluated on a grid over the rectangle (a projective map's
    scale is largest at its boundary, where the plane is nearest) and the largest one sets the size."""
    a = float(aspect)
    cv2 = load_cv2()
    rect = np.array([[0, 0], [a, 0], [a, 1], [0, 1]], np.float32)
    h = cv2.getPerspectiveTransform(rect, np.asarray(corners, np.float32)).astype(np.float64)
    u, v = np.meshgrid(np.linspace(0.0, a, 9), np.linspace(0.0, 1.0, 9))
    pts = np.stack([u.ravel(), v.ravel(), np.ones(u.size)])
    xyw = h @ pts
    w = xyw[2]
    x, y = xyw[0] / w, xyw[1] / w
    # d(x, y)/du = (h[:2, 0] - (x, y) h[2, 0]) / w, likewise for v with column 1
    du = np.hypot(h[0, 0] - x * h[2, 0], h[1, 0] - y * h[2, 0]) / np.abs(w)
    dv = np.hypot(h[0, 1] - x * h[2, 1], h[1, 1] - y * h[2, 1]) / np.abs(w)
    s = float(max(du.max(), dv.max()))
    return s * a, s


# --------------------------------------------------------------------------- finding the quadrilateral

#: The search runs on a copy at most this many pixels on its long side.
SEARCH_SIDE = 720
#: A candidate region must fill at least this fraction of the picture ...
MIN_AREA_FRACTION = 0.04
#: ... and its quadrilateral must cover it this well (IoU): a disc or a blob is no quadrilateral.
MIN_QUAD_IOU = 0.98
#: Levels tried per channel in the threshold sweep.
SWEEP_LEVELS = 28


def _channels(rgb8: np.ndarray) -> list[np.ndarray]:
    """uint8 channels in which a sheet or a sign stands out: lightness, darkness, whiteness, colourfulness."""
    cv2 = load_cv2()
    lab = cv2.cvtColor(rgb8, cv2.COLOR_RGB2LAB).astype(np.float32)
    light = lab[..., 0]
    chroma = np.hypot(lab[..., 1] - 128.0, lab[..., 2] - 128.0)
    white = np.clip(light - 2.0 * chroma, 0, 255)
    out = []
    for ch in (light, 255.0 - light, white, np.clip(chroma * 2.0, 0, 255)):
        out.append(cv2.GaussianBlur(ch, (0, 0), 1.5).astype(np.uint8))
    return out


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    cv2 = load_cv2()
    h, w = mask.shape
    pad = np.zeros((h + 2, w + 2), np.uint8)
    pad[1:-1, 1:-1] = mask
    flood = pad.copy()
    cv2.floodFill(flood, np.zeros((h + 4, w + 4), np.uint8), (0, 0), 1)
    return (pad[1:-1, 1:-1] | (flood[1:-1, 1:-1] == 0)).astype(np.uint8)


def _quad_of(region: np.ndarray) -> tuple[np.ndarray, float] | None:
    """The quadrilateral that fits a filled region's outline, and how well (IoU), or None."""
    cv2 = load_cv2()
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    cnt = max(contours, key=cv2.contourArea)
    hull = cv2.convexHull(cnt)
    peri = cv2.arcLength(hull, True)
    approx = None
    for eps in (0.01, 0.02, 0.03, 0.05, 0.08):
        a = cv2.approxPolyDP(hull, eps * peri, True)
        if len(a) == 4:
            approx = a
            break
        if len(a) < 4:
            break
    if approx is None:
        return None
    fitted = _fit_sides(cnt.reshape(-1, 2).astype(np.float64), order_corners(approx.reshape(4, 2)))
    if fitted is None:
        return None
    quad = fitted
    poly = np.zeros_like(region)
    cv2.fillPoly(poly, [np.rint(quad * 4).astype(np.int32)], 1, cv2.LINE_8, 2)
    inter = int(np.count_nonzero(poly & region))
    union = int(np.count_nonzero(poly | region))
    return quad, inter / max(union, 1)


def _intersect(l1: np.ndarray, l2: np.ndarray) -> np.ndarray | None:
    p = np.cross(l1, l2)
    if abs(p[2]) < 1e-12:
        return None
    return p[:2] / p[2]


def _line_through(points: np.ndarray) -> np.ndarray | None:
    """The homogeneous line of a robust fit (OpenCV's Huber fit) through ``points``."""
    cv2 = load_cv2()
    if len(points) < 2:
        return None
    vx, vy, x0, y0 = cv2.fitLine(points.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
    return np.cross([x0, y0, 1.0], [x0 + vx, y0 + vy, 1.0])


def _corners_from_lines(lines: list[np.ndarray]) -> np.ndarray | None:
    out = []
    for i in range(4):
        p = _intersect(lines[i - 1], lines[i])  # side i-1 (ending at corner i) and side i (starting there)
        if p is None:
            return None
        out.append(p)
    return np.array(out)


def _fit_sides(points: np.ndarray, quad: np.ndarray) -> np.ndarray | None:
    """Corners refined by a line fitted to the outline points near each side (away from the corners)."""
    lines = []
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        d = b - a
        length = float(np.hypot(*d))
        if length < 4:
            return None
        n = np.array([-d[1], d[0]]) / length
        rel = points - a
        t = rel @ d / length ** 2
        dist = np.abs(rel @ n)
        sel = (t > 0.1) & (t < 0.9) & (dist < max(2.0, 0.02 * length))
        line = _line_through(points[sel]) if sel.sum() >= 8 else np.cross(_h(a), _h(b))
        if line is None:
            return None
        lines.append(line)
    return _corners_from_lines(lines)


def _on_border(quad: np.ndarray, w: int, h: int) -> bool:
    """Whether a side of the quadrilateral runs along the picture's edge (the frame, or a region cut off by it)."""
    tol = 0.012 * max(w, h)
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        for axis, edge in ((0, 0.0), (0, w - 1.0), (1, 0.0), (1, h - 1.0)):
            if abs(a[axis] - edge) < tol and abs(b[axis] - edge) < tol:
                return True
    return False


def _convex_and_sane(quad: np.ndarray) -> bool:
    """Convex, every angle between 20 and 160 degrees."""
    signs = []
    for i in range(4):
        a, b, c = quad[i - 1], quad[i], quad[(i + 1) % 4]
        u, v = a - b, c - b
        cross = u[0] * v[1] - u[1] * v[0]
        cosang = float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-12))
        if not -0.94 < cosang < 0.94:
            return False
        signs.append(cross > 0)
    return all(signs) or not any(signs)


def find_quad(rgb8: np.ndarray) -> tuple[np.ndarray, dict] | None:
    """The dominant quadrilateral of a picture (uint8 RGB): ``(corners, info)`` in its pixels, or None.

    A threshold sweep over four channels (lightness, darkness, whiteness, colourfulness) gives
    regions; each large region whose outline a quadrilateral fits (IoU at least
    :data:`MIN_QUAD_IOU`) and that is not cut off by the picture's edge is a candidate, and the largest
    candidate wins: a sheet lit unevenly or crossed by a shadow is whole at some level before the
    background joins it. The corners are then refined on the full picture (:func:`refine_corners`).
    """
    cv2 = load_cv2()
    h, w = rgb8.shape[:2]
    d = max(1.0, max(h, w) / SEARCH_SIDE)
    small = cv2.resize(rgb8, (max(8, round(w / d)), max(8, round(h / d))), interpolation=cv2.INTER_AREA) if d > 1 else rgb8
    sh, sw = small.shape[:2]
    min_area = MIN_AREA_FRACTION * sh * sw
    best: tuple[float, float, np.ndarray, str] | None = None
    names = ("light", "dark", "white", "colour")
    for name, ch in zip(names, _channels(small)):
        lo, hi = np.percentile(ch, [2, 99.5])
        if hi - lo < 12:
            continue
        seen: set[tuple[int, int, int, int]] = set()
        for level in np.linspace(lo, hi, SWEEP_LEVELS + 2)[1:-1]:
            mask = (ch > level).astype(np.uint8)
            mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
            n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
            order = np.argsort(-stats[1:, cv2.CC_STAT_AREA])[:3] + 1
            for lab in order:
                x, y, bw, bh, area = stats[lab]
                if area < min_area:
                    break
                key = (int(x) // 4, int(y) // 4, int(bw) // 4, int(bh) // 4)
                if key in seen:
                    continue
                seen.add(key)
                region = _fill_holes((labels == lab).astype(np.uint8))
                fit = _quad_of(region)
                if fit is None:
                    continue
                quad, iou = fit
                if iou < MIN_QUAD_IOU or not _convex_and_sane(quad) or _on_border(quad, sw, sh):
                    continue
                qarea = 0.5 * abs(float(np.cross(quad[2] - quad[0], quad[3] - quad[1])))
                if best is None or qarea > best[0] * 1.02 or (qarea > best[0] / 1.02 and iou > best[1]):
                    best = (qarea, iou, quad, name)
    if best is None:
        return None
    qarea, iou, quad, name = best
    corners = (quad + 0.5) * d - 0.5  # (pixel centres of the reduced copy -> the full picture)
    refined, sigma = refine_corners(rgb8, corners)
    if not math.isfinite(sigma):  # (a side kept its line from the search: good to a pixel of the reduced copy)
        sigma = d
    return refined, {"channel": name, "fit_iou": round(iou, 4), "area_fraction": round(qarea / (sh * sw), 4),
                     "corner_sigma_px": math.hypot(CORNER_SIGMA_FLOOR_PX, sigma)}


def refine_corners(rgb8: np.ndarray, corners: np.ndarray, *, passes: int = 2) -> tuple[np.ndarray, float]:
    """Corners moved to the sub-pixel edge: along each side, the strongest step of lightness across it
    (parabola peak of the gradient) at many points, a robust line through them, lines intersected.

    Returns the corners and the random part of their uncertainty (pixels): the largest over the sides of
    the fitted line's standard error at its ends, ``2 s / sqrt(n)`` for ``n`` edge points scattered by ``s``
    (robust) about it (infinite when a side found too few edge points and keeps its line through the given
    corners, or the refinement ran off)."""
    cv2 = load_cv2()
    grey = cv2.cvtColor(rgb8, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey = cv2.GaussianBlur(grey, (0, 0), 1.0)
    q = np.asarray(corners, np.float64).copy()
    h, w = grey.shape
    for _ in range(passes):
        lines = []
        scatter: list[float] = []
        for i in range(4):
            a, b = q[i], q[(i + 1) % 4]
            d = b - a
            length = float(np.hypot(*d))
            if length < 8:
                return q, math.inf
            u = d / length
            n = np.array([-u[1], u[0]])
            reach = max(3.0, min(12.0, 0.01 * length))
            ts = np.linspace(0.08, 0.92, max(16, min(200, int(length / 4))))
            offs = np.arange(-reach, reach + 0.25, 0.25)
            px = a[0] + ts[:, None] * d[0] + offs[None, :] * n[0]
            py = a[1] + ts[:, None] * d[1] + offs[None, :] * n[1]
            inside = (px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)
            prof = cv2.remap(grey, px.astype(np.float32), py.astype(np.float32), cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
            grad = np.abs(np.gradient(prof, axis=1))
            grad[~inside] = 0.0
            k = np.argmax(grad, axis=1)
            pts = []
            strengths = grad[np.arange(len(ts)), k]
            floor = 0.35 * float(np.median(strengths)) if len(strengths) else 0.0
            for r, kk in enumerate(k):
                if kk == 0 or kk == len(offs) - 1 or strengths[r] <= max(floor, 1.0):
                    continue
                g0, g1, g2 = grad[r, kk - 1], grad[r, kk], grad[r, kk + 1]
                den = g0 - 2 * g1 + g2
                sub = 0.5 * (g0 - g2) / den if den < 0 else 0.0
                o = offs[kk] + sub * 0.25
                pts.append([a[0] + ts[r] * d[0] + o * n[0], a[1] + ts[r] * d[1] + o * n[1]])
            line = _line_through(np.array(pts)) if len(pts) >= max(6, len(ts) // 3) else None
            if line is None:
                line = np.cross(_h(a), _h(b))
                scatter.append(math.inf)
            else:
                e = np.array(pts) @ line[:2] + line[2]
                e = e / float(np.hypot(line[0], line[1]))
                mad = 1.4826 * float(np.median(np.abs(e - np.median(e))))
                scatter.append(2.0 * mad / math.sqrt(len(pts)))
            lines.append(line)
        new = _corners_from_lines(lines)
        if new is None or np.abs(new - q).max() > 0.05 * max(h, w):
            return q, math.inf  # the refinement ran off: keep the corners found
        q = new
    return q, max(scatter)
