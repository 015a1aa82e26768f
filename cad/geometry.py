"""Exact curve arithmetic on rings of cubic Bézier segments (NumPy, no OCC).

A *ring* is ``ctrl`` ``(n, 4, 2)`` with ``ctrl[i, 3] == ctrl[i+1, 0]``
cyclically, plus ``is_line`` ``(n,)`` for straight segments (whose inner
control points sit at thirds of the chord). The same functions serve pixel
and millimetre rings.
"""

from __future__ import annotations

import numpy as np

from cad import ellipse

__all__ = ["signed_area", "flatten", "reverse", "segment_counts", "bounds", "curve_bounds", "fit_arc", "fit_cubics",
           "arc_area", "arc_bounds", "arc_points", "bernstein", "bernstein_d"]

# 3-point Gauss-Legendre on [0, 1]: exact for polynomials up to degree 5, and
# x(t) y'(t) of a cubic is degree 5, so the area below is exact.
_GL_T = 0.5 + 0.5 * np.array([-np.sqrt(3.0 / 5.0), 0.0, np.sqrt(3.0 / 5.0)])
_GL_W = 0.5 * np.array([5.0 / 9.0, 8.0 / 9.0, 5.0 / 9.0])
MAX_POINTS_PER_SEGMENT = 256


def bernstein(t: np.ndarray) -> np.ndarray:
    """The cubic Bernstein basis at ``t`` (..., 4): points are ``bernstein(t) @ ctrl``."""
    u = 1.0 - t
    return np.stack([u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t], axis=-1)


def bernstein_d(t: np.ndarray) -> np.ndarray:
    """Its derivative in ``t``."""
    u = 1.0 - t
    return np.stack([-3 * u * u, 3 * u * u - 6 * u * t, 6 * u * t - 3 * t * t, 3 * t * t], axis=-1)


_B_GL = bernstein(_GL_T)  # (3, 4): the Bernstein weights and their derivatives at the Gauss nodes
_DB_GL = bernstein_d(_GL_T)


def signed_area(ctrl: np.ndarray, arcs: np.ndarray | None = None, ellipses: np.ndarray | None = None) -> float:
    """Exact signed area enclosed by a ring (positive = counter-clockwise in a y-up frame).

    ``arcs`` (n, 3), when given, holds ``(centre x, centre y, signed sweep)`` for the segments
    that are circular arcs (NaN rows for the others); those count as exact arcs, not as cubics.
    ``ellipses`` (n, 6) likewise marks elliptic arcs (:mod:`cad.ellipse`).
    """
    p = np.einsum("qk,nkd->nqd", _B_GL, ctrl)  # (n, 3, 2)
    dp = np.einsum("qk,nkd->nqd", _DB_GL, ctrl)
    integrand = p[..., 0] * dp[..., 1] - p[..., 1] * dp[..., 0]
    per = 0.5 * (integrand @ _GL_W)
    if arcs is not None:
        a = np.flatnonzero(np.isfinite(arcs[:, 2]))
        if len(a):
            per = per.copy()
            per[a] = arc_area(ctrl[a, 0], ctrl[a, 3], arcs[a])
    if ellipses is not None:
        e = np.flatnonzero(np.isfinite(ellipses[:, 5]))
        if len(e):
            per = per.copy()
            per[e] = ellipse.area_terms(ctrl[e, 0], ctrl[e, 3], ellipses[e])
    return float(per.sum())


def arc_area(p0: np.ndarray, p1: np.ndarray, arcs: np.ndarray) -> np.ndarray:
    """Per arc from ``p0`` to ``p1`` (m, 2) about ``arcs[:, :2]`` with sweep ``arcs[:, 2]``: its term of the
    shoelace integral 1/2 (x dy - y dx), exact: 1/2 (c x (p1 - p0) + r² sweep)."""
    c = arcs[:, :2]
    d = p1 - p0
    r2 = ((p0 - c) ** 2).sum(axis=1)
    return 0.5 * (c[:, 0] * d[:, 1] - c[:, 1] * d[:, 0] + r2 * arcs[:, 2])


def arc_points(p0: np.ndarray, arc: np.ndarray, n: int) -> np.ndarray:
    """``n`` points of an arc from ``p0`` (its start, included) to its end (excluded)."""
    c = arc[:2]
    r = float(np.hypot(*(p0 - c)))
    a0 = np.arctan2(p0[1] - c[1], p0[0] - c[0])
    t = a0 + arc[2] * np.arange(n) / n
    out = np.stack([c[0] + r * np.cos(t), c[1] + r * np.sin(t)], axis=1)
    out[0] = p0
    return out


def arc_bounds(p0: np.ndarray, p1: np.ndarray, arc: np.ndarray) -> tuple[float, float, float, float]:
    """Exact box of one arc: its end points and the axis-extreme points its sweep passes."""
    c = arc[:2]
    r = float(np.hypot(*(p0 - c)))
    a0 = float(np.arctan2(p0[1] - c[1], p0[0] - c[0]))
    sw = float(arc[2])
    pts = [p0, p1]
    lo, hi = (a0, a0 + sw) if sw >= 0 else (a0 + sw, a0)
    for k in range(int(np.floor(lo / (np.pi / 2))), int(np.ceil(hi / (np.pi / 2))) + 1):
        ang = k * np.pi / 2
        if lo < ang < hi:
            pts.append(c + r * np.array([np.cos(ang), np.sin(ang)]))
    a = np.array(pts)
    return float(a[:, 0].min()), float(a[:, 1].min()), float(a[:, 0].max()), float(a[:, 1].max())


def segment_counts(ctrl: np.ndarray, is_line: np.ndarray, tolerance: float,
                   arcs: np.ndarray | None = None, ellipses: np.ndarray | None = None) -> np.ndarray:
    """Chords per segment so that the chord error stays below ``tolerance``.

    Uses the bound ``error <= M / (8 n^2)`` with ``M`` the largest second
    derivative of the cubic, ``6 * max |P0 - 2 P1 + P2|, |P1 - 2 P2 + P3|``.
    """
    d1 = np.hypot(*(ctrl[:, 0] - 2 * ctrl[:, 1] + ctrl[:, 2]).T)
    d2 = np.hypot(*(ctrl[:, 1] - 2 * ctrl[:, 2] + ctrl[:, 3]).T)
    m = 6.0 * np.maximum(d1, d2)
    n = np.ceil(np.sqrt(m / (8.0 * tolerance)))
    n = np.clip(n, 1, MAX_POINTS_PER_SEGMENT).astype(np.int64)
    n[is_line] = 1
    if arcs is not None:
        a = np.flatnonzero(np.isfinite(arcs[:, 2]))
        if len(a):
            r = np.hypot(*(ctrl[a, 0] - arcs[a, :2]).T)
            # a sag of a quarter of the tolerance: a chord lies inside its arc, and a full sag would
            # shrink every arc, where the bound used for cubics above is rarely reached
            step = 2 * np.arccos(np.clip(1 - 0.25 * tolerance / np.maximum(r, 1e-300), -1, 1))
            na = np.ceil(np.abs(arcs[a, 2]) / np.maximum(step, 1e-9))
            n[a] = np.clip(na, 2, MAX_POINTS_PER_SEGMENT * 4).astype(np.int64)
    if ellipses is not None:
        e = np.flatnonzero(np.isfinite(ellipses[:, 5]))
        if len(e):
            n[e] = np.clip(ellipse.chords(ellipses[e], tolerance), 2, MAX_POINTS_PER_SEGMENT * 4).astype(np.int64)
    return n


def flatten(ctrl: np.ndarray, is_line: np.ndarray, tolerance: float, arcs: np.ndarray | None = None,
            ellipses: np.ndarray | None = None) -> np.ndarray:
    """Polyline through the ring within ``tolerance``: ``(m, 2)``, closed, last point not repeated.

    Arcs and elliptic arcs (see :func:`signed_area`) are sampled on their curve, not on their cubic."""
    n = segment_counts(ctrl, is_line, tolerance, arcs, ellipses)
    total = int(n.sum())
    seg = np.repeat(np.arange(len(ctrl)), n)
    offsets = np.concatenate([[0], np.cumsum(n)[:-1]])
    t = (np.arange(total) - np.repeat(offsets, n)) / np.repeat(n, n)
    out = np.einsum("mk,mkd->md", bernstein(t), ctrl[seg])
    if arcs is not None:
        for i in np.flatnonzero(np.isfinite(arcs[:, 2])):
            out[offsets[i]: offsets[i] + n[i]] = arc_points(ctrl[i, 0], arcs[i], int(n[i]))
    if ellipses is not None:
        for i in np.flatnonzero(np.isfinite(ellipses[:, 5])):
            out[offsets[i]: offsets[i] + n[i]] = ellipse.points(ctrl[i, 0], ellipses[i], int(n[i]))
    return out


def reverse(ctrl: np.ndarray, is_line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same ring traversed the other way."""
    return ctrl[::-1, ::-1].copy(), is_line[::-1].copy()


def bounds(points: np.ndarray) -> tuple[float, float, float, float]:
    """``(xmin, ymin, xmax, ymax)`` of an ``(m, 2)`` array."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def curve_bounds(ctrl: np.ndarray, arcs: np.ndarray | None = None,
                 ellipses: np.ndarray | None = None) -> tuple[float, float, float, float]:
    """Exact ``(xmin, ymin, xmax, ymax)`` of a ring of cubics (end points plus interior extrema), arcs and
    elliptic arcs."""
    is_arc = np.isfinite(arcs[:, 2]) if arcs is not None else np.zeros(len(ctrl), bool)
    is_ell = np.isfinite(ellipses[:, 5]) if ellipses is not None else np.zeros(len(ctrl), bool)
    if is_arc.any() or is_ell.any():
        assert arcs is not None or ellipses is not None
        boxes = [arc_bounds(ctrl[i, 0], ctrl[i, 3], arcs[i]) for i in np.flatnonzero(is_arc)]  # type: ignore[index]
        boxes += [ellipse.bounds(ctrl[i, 0], ctrl[i, 3], ellipses[i]) for i in np.flatnonzero(is_ell)]  # type: ignore[index]
        rest = ~(is_arc | is_ell)
        if rest.any():
            boxes.append(curve_bounds(ctrl[rest]))
        b = np.array(boxes)
        return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())
    p0, p1, p2, p3 = ctrl[:, 0], ctrl[:, 1], ctrl[:, 2], ctrl[:, 3]
    # B'(t)/3 = a t^2 + b t + c
    a = -p0 + 3 * p1 - 3 * p2 + p3
    b = 2 * (p0 - 2 * p1 + p2)
    c = p1 - p0
    ts = [np.zeros_like(a), np.ones_like(a)]
    disc = b * b - 4 * a * c
    sq = np.sqrt(np.maximum(disc, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        quad = np.abs(a) > 1e-12
        r1 = np.where(quad, (-b + sq) / (2 * a), np.where(np.abs(b) > 1e-12, -c / b, 0.0))
        r2 = np.where(quad, (-b - sq) / (2 * a), 0.0)
    for r in (r1, r2):
        ok = (disc >= 0) & (r > 0) & (r < 1)
        ts.append(np.where(ok, r, 0.0))
    lo = np.full(2, np.inf)
    hi = np.full(2, -np.inf)
    for t in ts:  # each t is (n, 2): one parameter per axis
        u = 1.0 - t
        v = u**3 * p0 + 3 * u**2 * t * p1 + 3 * u * t**2 * p2 + t**3 * p3
        lo = np.minimum(lo, v.min(axis=0))
        hi = np.maximum(hi, v.max(axis=0))
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


# ----------------------------------------------------------------------------- fitting polylines

#: A polyline vertex where the outline turns by more than this (degrees) is a corner of the curve fit.
CORNER_DEG = 40.0


def _cubic_once(p: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One least-squares cubic through ``p`` (m >= 3, distinct ends) with end tangents ``t0``/``t1``: (ctrl, errors)."""
    a, b = p[0], p[-1]
    chord = np.linalg.norm(b - a)
    d = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
    u = d / d[-1]
    for _ in range(3):
        B = np.stack([(1 - u) ** 3, 3 * (1 - u) ** 2 * u, 3 * (1 - u) * u**2, u**3], axis=1)
        A1, A2 = B[:, 1:2] * t0, B[:, 2:3] * t1
        rhs = p - (B[:, 0:1] + B[:, 1:2]) * a - (B[:, 2:3] + B[:, 3:4]) * b
        c11, c12, c22 = (A1 * A1).sum(), (A1 * A2).sum(), (A2 * A2).sum()
        x1, x2 = (A1 * rhs).sum(), (A2 * rhs).sum()
        det = c11 * c22 - c12 * c12
        al1 = (x1 * c22 - x2 * c12) / det if abs(det) > 1e-12 else 0.0
        al2 = (c11 * x2 - c12 * x1) / det if abs(det) > 1e-12 else 0.0
        if not (al1 > 1e-6 * chord and al2 > 1e-6 * chord) or al1 > 2 * chord or al2 > 2 * chord:
            al1 = al2 = chord / 3
        c = np.array([a, a + al1 * t0, b + al2 * t1, b])
        q = B @ c
        err = np.linalg.norm(q - p, axis=1)
        # Newton step on the parameters (one per round)
        d1 = 3 * ((1 - u) ** 2)[:, None] * (c[1] - c[0]) + 6 * ((1 - u) * u)[:, None] * (c[2] - c[1]) \
            + 3 * (u**2)[:, None] * (c[3] - c[2])
        d2 = 6 * (1 - u)[:, None] * (c[2] - 2 * c[1] + c[0]) + 6 * u[:, None] * (c[3] - 2 * c[2] + c[1])
        num = ((q - p) * d1).sum(axis=1)
        den = (d1 * d1).sum(axis=1) + ((q - p) * d2).sum(axis=1)
        un = np.where(np.abs(den) > 1e-12, u - num / np.where(den == 0, 1, den), u)
        un[0], un[-1] = 0.0, 1.0
        if np.all(np.diff(un) > 0):
            u = un
    return c, err


def _fit_cubic(p: np.ndarray, tol: float, t0: np.ndarray, t1: np.ndarray, depth: int = 0) -> list[np.ndarray]:
    """Least-squares cubic Béziers through ``p`` (m, 2) within ``tol`` (Schneider), end tangents ``t0``/``t1``."""
    a, b = p[0], p[-1]
    chord = np.linalg.norm(b - a)
    if len(p) == 2:
        return [np.array([a, a + (b - a) / 3, a + 2 * (b - a) / 3, b])]
    if chord == 0:  # closed piece: fit its two halves
        i = len(p) // 2
        tm = _unit(p[i + 1] - p[i - 1])
        return _fit_cubic(p[: i + 1], tol, t0, -tm, depth + 1) + _fit_cubic(p[i:], tol, tm, t1, depth + 1)
    c, err = _cubic_once(p, t0, t1)
    i = int(np.argmax(err))
    if err[i] <= tol:
        return [c]
    if depth > 40 or len(p) <= 3:
        if len(p) <= 3:  # two chords: lines through the points
            return [np.array([p[k], p[k] + (p[k + 1] - p[k]) / 3, p[k] + 2 * (p[k + 1] - p[k]) / 3, p[k + 1]])
                    for k in range(len(p) - 1)]
        return [c]
    i = min(max(i, 1), len(p) - 2)
    tm = p[i + 1] - p[i - 1]
    tm = tm / (np.linalg.norm(tm) or 1.0)
    return _fit_cubic(p[: i + 1], tol, t0, -tm, depth + 1) + _fit_cubic(p[i:], tol, tm, t1, depth + 1)


def fit_cubics(p: np.ndarray, tol: float, t0: np.ndarray, t1: np.ndarray, *,
               max_pieces: int | None = None) -> list[np.ndarray] | None:
    """Cubics (each (4, 2)) through the open polyline ``p`` within ``tol``, tangent to ``t0`` at the start and
    to ``-t1`` at the end (``t1`` points back into the curve), split as needed; None if more than ``max_pieces``."""
    p = np.asarray(p, np.float64)
    if max_pieces == 1:
        if len(p) < 3 or not np.linalg.norm(p[-1] - p[0]) > 0:
            return None
        c, err = _cubic_once(p, t0, t1)
        return [c] if err.max() <= tol else None
    cs = _fit_cubic(p, tol, t0, t1)
    return None if max_pieces is not None and len(cs) > max_pieces else cs


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


def fit_arc(p: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """An open polyline (m, 2) -> cubic Bézier segments (n, 4, 2) and ``is_line`` (n,), split at corners."""
    p = np.asarray(p, np.float64)
    v = np.diff(p, axis=0)
    ang = np.degrees(np.abs(np.arctan2(v[:-1, 0] * v[1:, 1] - v[:-1, 1] * v[1:, 0], (v[:-1] * v[1:]).sum(axis=1))))
    inner = (np.flatnonzero(ang > CORNER_DEG) + 1).tolist()
    if np.array_equal(p[0], p[-1]) and len(inner) < 2:  # a closed loop: at least three pieces
        inner = sorted(set(inner) | {len(p) // 3, (2 * len(p)) // 3})
    cuts = [0, *[c for c in inner if 0 < c < len(p) - 1], len(p) - 1]
    segs, lines = [], []
    for s0, s1 in zip(cuts[:-1], cuts[1:]):
        q = p[s0: s1 + 1]
        if len(q) == 2:
            a, b = q
            segs.append(np.array([a, a + (b - a) / 3, a + 2 * (b - a) / 3, b]))
            lines.append(True)
            continue
        t0 = _unit(q[1] - q[0])
        t1 = _unit(q[-2] - q[-1])
        for c in _fit_cubic(q, tol, t0, t1):
            segs.append(c)
            chord = c[3] - c[0]
            lines.append(bool(np.allclose(c[1], c[0] + chord / 3) and np.allclose(c[2], c[0] + 2 * chord / 3)))
    ctrl = np.array(segs)
    ctrl[1:, 0] = ctrl[:-1, 3]  # exact continuity
    return ctrl, np.array(lines, bool)
