"""Rectify a flat subject photographed at an angle: find its quadrilateral, estimate its aspect, warp it.

Frames
------
Corners are ``(4, 2)`` float64 in the pixels of the image they were found in (x right, y down), in
the order top-left, top-right, bottom-right, bottom-left of the rectified result
(:func:`order_corners`). The principal point is the centre of the photo as taken (a crop moves it
off the centre of the cropped picture, so the caller passes it).

Aspect ratio
------------
A rectangle seen by a pinhole camera ``K = [[f, 0, cx], [0, f, cy], [0, 0, 1]]`` maps through the
homography ``H = K [a r1, b r2, t]`` (``r1``, ``r2`` orthonormal, ``a x b`` the rectangle's size), so
``a / b = |K^-1 h1| / |K^-1 h2|`` once ``f`` is known. The two vanishing points ``v1``, ``v2`` of the
quadrilateral's opposite sides are the images of two orthogonal directions, which gives ``f``
(calibration from a plane): ``(v1 - c) . (v2 - c) + f^2 w1 w2 = 0``. That constraint determines ``f``
well only when both vanishing points are finite and not too far away; otherwise ``f`` comes from the
EXIF focal length (35 mm equivalent), and without one from a typical phone camera's field of view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tracer.opencv import load_cv2

__all__ = ["order_corners", "vanishing_focal", "focal_spread", "aspect_for_focal", "estimate_aspect",
           "AspectEstimate", "find_quad", "refine_corners", "DEFAULT_FOCAL_35MM", "FULL_FRAME_DIAGONAL_MM"]

#: The diagonal of a 36 x 24 mm frame: a 35 mm-equivalent focal length f35 is ``f35 / 43.27`` image diagonals.
FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)
#: The focal length (35 mm equivalent) assumed when neither the quadrilateral nor EXIF gives one: a phone's main camera.
DEFAULT_FOCAL_35MM = 27.0
#: The quadrilateral's own focal estimate is preferred to the EXIF one when a corner error of one pixel moves it by
#: less than this fraction ...
FOCAL_SPREAD_MAX = 0.08
#: ... and, without EXIF, preferred to the default up to this fraction (refined corners are better than a pixel;
#: beyond it the right angles say next to nothing about the focal length).
FOCAL_SPREAD_USABLE = 0.5
#: ... and when it lies in this range of 35 mm-equivalent focal lengths (a fisheye to a long telephoto).
FOCAL_35MM_RANGE = (10.0, 300.0)
#: The EXIF focal length checks the quadrilateral's: a disagreement beyond this fraction means the subject is no
#: rectangle (a rhombus sign, a trapezoid) or the corners are off, and the EXIF value is used.
EXIF_AGREEMENT = 0.3


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


def vanishing_focal(corners: np.ndarray, principal) -> float | None:
    """The focal length (pixels) for which the quadrilateral's two side directions are orthogonal, or None
    when the constraint gives none (a pair of sides parallel in the picture, or an imaginary solution)."""
    q = np.asarray(corners, np.float64)
    c = np.asarray(principal, np.float64)
    tl, tr, br, bl = (q - c)
    v1 = np.cross(np.cross(_h(tl), _h(tr)), np.cross(_h(bl), _h(br)))  # top and bottom meet here
    v2 = np.cross(np.cross(_h(tl), _h(bl)), np.cross(_h(tr), _h(br)))  # left and right
    v1 = v1 / np.linalg.norm(v1)
    v2 = v2 / np.linalg.norm(v2)
    denom = v1[2] * v2[2]
    if abs(denom) < 1e-12:
        return None
    f2 = -(v1[0] * v2[0] + v1[1] * v2[1]) / denom
    return math.sqrt(f2) if f2 > 0 else None


def focal_spread(corners: np.ndarray, principal, f: float, step_px: float = 1.0) -> float:
    """How far (as a fraction of ``f``) the vanishing-point focal length moves when the corners move by
    ``step_px``: the root sum of squares of its change per corner coordinate (infinite when it vanishes)."""
    q = np.asarray(corners, np.float64)
    total = 0.0
    for i in range(4):
        for j in range(2):
            d = q.copy()
            d[i, j] += step_px
            g = vanishing_focal(d, principal)
            if g is None:
                return math.inf
            total += (g - f) ** 2
    return math.sqrt(total) / f


def _unit_square_homography(corners: np.ndarray) -> np.ndarray:
    cv2 = load_cv2()
    src = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32)
    return cv2.getPerspectiveTransform(src, np.asarray(corners, np.float32)).astype(np.float64)


def aspect_for_focal(corners: np.ndarray, principal, f: float) -> float:
    """Width / height of the rectangle whose picture is ``corners`` through a camera of focal length ``f``."""
    h = _unit_square_homography(corners)
    cx, cy = principal
    k_inv = np.array([[1.0 / f, 0.0, -cx / f], [0.0, 1.0 / f, -cy / f], [0.0, 0.0, 1.0]])
    m = k_inv @ h
    return float(np.linalg.norm(m[:, 0]) / np.linalg.norm(m[:, 1]))


@dataclass(frozen=True, slots=True)
class AspectEstimate:
    """The rectified aspect ratio (width / height) and where it came from.

    source : "given" (``--aspect``), "quadrilateral" (the focal length from the corners' right angles),
        "exif" (the EXIF focal length), "default" (a typical phone camera) or "affine" (the sides are
        parallel in the picture: no perspective to undo, the focal length does not matter).
    focal_px, focal_35mm : the focal length used (None for "given" and "affine").
    quad_focal_35mm, exif_focal_35mm : each estimate that was available, for the report.
    """

    aspect: float
    source: str
    focal_px: float | None = None
    focal_35mm: float | None = None
    quad_focal_35mm: float | None = None
    exif_focal_35mm: float | None = None
    note: str | None = None

    def report(self) -> dict:
        out = {"aspect": round(self.aspect, 5), "aspect_source": self.source}
        for k in ("focal_px", "focal_35mm", "quad_focal_35mm", "exif_focal_35mm"):
            v = getattr(self, k)
            if v is not None:
                out[k] = round(v, 2)
        return out


def estimate_aspect(corners: np.ndarray, photo_size: tuple[int, int], *, exif_focal_35mm: float | None = None,
                    principal=None) -> AspectEstimate:
    """The aspect ratio of the rectangle pictured by ``corners`` in a photo of ``photo_size`` (w, h) pixels.

    The focal length comes from the quadrilateral when its right angles determine it (see the module
    docstring), checked against the EXIF focal length when there is one; else from EXIF; else
    :data:`DEFAULT_FOCAL_35MM`."""
    w, h = photo_size
    diag = math.hypot(w, h)
    c = (w / 2.0, h / 2.0) if principal is None else principal
    to35 = FULL_FRAME_DIAGONAL_MM / diag
    q = np.asarray(corners, np.float64)
    lo, hi = aspect_for_focal(q, c, diag * 0.2), aspect_for_focal(q, c, diag * 20.0)
    if abs(lo / hi - 1.0) < 1e-4:  # parallel sides: an affine view, any focal length gives the same aspect
        return AspectEstimate(aspect_for_focal(q, c, diag), "affine", exif_focal_35mm=exif_focal_35mm)
    f_quad = vanishing_focal(q, c)
    exif_px = exif_focal_35mm / to35 if exif_focal_35mm else None
    quad_ok = False
    if f_quad is not None:
        f35 = f_quad * to35
        limit = FOCAL_SPREAD_MAX if exif_px is not None else FOCAL_SPREAD_USABLE
        quad_ok = FOCAL_35MM_RANGE[0] <= f35 <= FOCAL_35MM_RANGE[1] and focal_spread(q, c, f_quad) < limit
    quad35 = f_quad * to35 if f_quad is not None else None
    note = None
    if quad_ok and f_quad is not None:
        if exif_px is not None and abs(f_quad / exif_px - 1.0) > EXIF_AGREEMENT:
            note = (f"the corners' right angles give a focal length of {quad35:.0f} mm (35 mm equivalent) but the "
                    f"EXIF data says {exif_focal_35mm:.0f} mm; the EXIF value was used (is the subject a rectangle?)")
            f, source = exif_px, "exif"
        else:
            f, source = f_quad, "quadrilateral"
    elif exif_px is not None:
        f, source = exif_px, "exif"
    else:
        f, source = DEFAULT_FOCAL_35MM / to35, "default"
    return AspectEstimate(aspect_for_focal(q, c, f), source, focal_px=f, focal_35mm=f * to35,
                          quad_focal_35mm=quad35, exif_focal_35mm=exif_focal_35mm, note=note)


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
    refined = refine_corners(rgb8, corners)
    return refined, {"channel": name, "fit_iou": round(iou, 4), "area_fraction": round(qarea / (sh * sw), 4)}


def refine_corners(rgb8: np.ndarray, corners: np.ndarray, *, passes: int = 2) -> np.ndarray:
    """Corners moved to the sub-pixel edge: along each side, the strongest step of lightness across it
    (parabola peak of the gradient) at many points, a robust line through them, lines intersected.

    A side where too few edge points are found keeps its line through the given corners."""
    cv2 = load_cv2()
    grey = cv2.cvtColor(rgb8, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey = cv2.GaussianBlur(grey, (0, 0), 1.0)
    q = np.asarray(corners, np.float64).copy()
    h, w = grey.shape
    for _ in range(passes):
        lines = []
        for i in range(4):
            a, b = q[i], q[(i + 1) % 4]
            d = b - a
            length = float(np.hypot(*d))
            if length < 8:
                return q
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
            lines.append(line if line is not None else np.cross(_h(a), _h(b)))
        new = _corners_from_lines(lines)
        if new is None or np.abs(new - q).max() > 0.05 * max(h, w):
            return q  # the refinement ran off: keep the corners found
        q = new
    return q
