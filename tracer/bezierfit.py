"""Cubic Béziers fitted to a dense polyline, within a distance tolerance (Schneider's method).

Least squares for the two inner control points along fixed end tangents, Newton steps on the
parameters when the fit is near, and a split at the worst point otherwise. Corners given by the
caller split the polyline first, so a fitted curve is smooth only where the polyline is.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["fit_beziers", "line_bezier"]

MAX_DEPTH = 24


def line_bezier(p0: NDArray, p1: NDArray) -> NDArray[np.float64]:
    """A straight segment as a cubic (4, 2), its inner points at thirds."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    return np.stack([p0, p0 + (p1 - p0) / 3, p0 + 2 * (p1 - p0) / 3, p1])


def _unit(v: NDArray) -> NDArray:
    n = float(np.hypot(*v))
    return v / n if n > 1e-12 else np.zeros(2)


def _end_tangent(pts: NDArray, reach: float) -> NDArray:
    """The direction leaving ``pts[0]``, over the points within ``reach`` of it."""
    d = np.hypot(*(pts - pts[0]).T)
    far = np.flatnonzero(d >= reach)
    k = int(far[0]) if len(far) else len(pts) - 1
    return _unit(pts[max(k, 1)] - pts[0])


def _bezier(ctrl: NDArray, u: NDArray) -> NDArray:
    m = 1 - u
    b = np.stack([m**3, 3 * m * m * u, 3 * m * u * u, u**3], axis=1)
    return b @ ctrl


def _chord(pts: NDArray) -> NDArray:
    d = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
    return d / d[-1] if d[-1] > 0 else np.linspace(0, 1, len(pts))


def _generate(pts: NDArray, u: NDArray, t0: NDArray, t1: NDArray) -> NDArray:
    p0, p3 = pts[0], pts[-1]
    m = 1 - u
    a1 = (3 * m * m * u)[:, None] * t0
    a2 = (3 * m * u * u)[:, None] * t1
    c = np.array([[np.sum(a1 * a1), np.sum(a1 * a2)], [np.sum(a1 * a2), np.sum(a2 * a2)]])
    base = np.outer(m**3 + 3 * m * m * u, p0) + np.outer(3 * m * u * u + u**3, p3)
    r = pts - base
    x = np.array([np.sum(a1 * r), np.sum(a2 * r)])
    seg = float(np.hypot(*(p3 - p0)))
    det = c[0, 0] * c[1, 1] - c[0, 1] ** 2
    alpha = np.linalg.solve(c, x) if abs(det) > 1e-12 else np.array([seg / 3, seg / 3])
    if alpha[0] < 1e-6 * seg or alpha[1] < 1e-6 * seg or max(alpha) > 3 * max(seg, 1e-9):
        alpha = np.array([seg / 3, seg / 3])
    return np.stack([p0, p0 + alpha[0] * t0, p3 + alpha[1] * t1, p3])


def _newton(ctrl: NDArray, pts: NDArray, u: NDArray) -> NDArray:
    d1 = 3 * (ctrl[1:] - ctrl[:-1])
    d2 = 2 * (d1[1:] - d1[:-1])
    m = 1 - u
    q = _bezier(ctrl, u) - pts
    q1 = np.stack([m * m, 2 * m * u, u * u], axis=1) @ d1
    q2 = np.stack([m, u], axis=1) @ d2
    num = np.sum(q * q1, axis=1)
    den = np.sum(q1 * q1, axis=1) + np.sum(q * q2, axis=1)
    step = np.where(np.abs(den) > 1e-12, num / np.where(den == 0, 1, den), 0.0)
    out = np.clip(u - step, 0.0, 1.0)
    out[0], out[-1] = 0.0, 1.0
    return np.maximum.accumulate(out)


def _fit(pts: NDArray, t0: NDArray, t1: NDArray, tol: float, depth: int, out: list) -> None:
    if len(pts) <= 2 or depth >= MAX_DEPTH:
        out.append(line_bezier(pts[0], pts[-1]))
        return
    u = _chord(pts)
    ctrl = _generate(pts, u, t0, t1)
    for _ in range(4):
        err = np.hypot(*(_bezier(ctrl, u) - pts).T)
        if err.max() <= tol or err.max() > 8 * tol:
            break
        u = _newton(ctrl, pts, u)
        ctrl = _generate(pts, u, t0, t1)
    err = np.hypot(*(_bezier(ctrl, u) - pts).T)
    if err.max() <= tol:
        out.append(ctrl)
        return
    k = int(np.argmax(err[1:-1])) + 1
    tc = _unit(pts[k - 1] - pts[k + 1])
    if not tc.any():
        tc = _unit(pts[k - 1] - pts[k])
    _fit(pts[: k + 1], t0, tc, tol, depth + 1, out)
    _fit(pts[k:], -tc, t1, tol, depth + 1, out)


def fit_beziers(pts: NDArray, tolerance: float, *, closed: bool = False, corners=(), reach: float = 2.0
                ) -> NDArray[np.float64]:
    """Cubic Béziers ``(n, 4, 2)`` within ``tolerance`` of every point of ``pts`` (m, 2).

    ``corners`` are indices of points where the tangent may break; elsewhere consecutive curves share
    their tangent. ``closed``: ``pts[0]`` and ``pts[-1]`` are the same point and the curve is smooth
    there (unless 0 is a corner). ``reach`` is the distance over which end tangents are measured.
    """
    pts = np.asarray(pts, dtype=np.float64)
    keep = np.concatenate([[True], np.hypot(*np.diff(pts, axis=0).T) > 1e-9])
    idx_map = np.cumsum(keep) - 1
    pts = pts[keep]
    corners = sorted({int(idx_map[c]) for c in corners if 0 < c < len(keep) - 1})
    if len(pts) < 2:
        return np.empty((0, 4, 2))
    if len(pts) == 2:
        return line_bezier(pts[0], pts[1])[None]
    cuts = [0, *[c for c in corners if 0 < c < len(pts) - 1], len(pts) - 1]
    out: list = []
    for i, (a, b) in enumerate(zip(cuts[:-1], cuts[1:])):
        piece = pts[a: b + 1]
        if len(piece) < 2:
            continue
        t0 = _end_tangent(piece, reach)
        t1 = _end_tangent(piece[::-1], reach)
        if closed and not corners:
            seam = _unit(_unit(pts[1] - pts[0]) - _unit(pts[-2] - pts[-1]))
            if seam.any():
                t0, t1 = seam, -seam
        _fit(piece, t0, t1, tolerance, 0, out)
    return np.array(out)
