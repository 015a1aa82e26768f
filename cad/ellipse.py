"""Elliptic arcs: exact arithmetic on a ring's elliptic segments, and the least-squares ellipse of a closed contour.

An elliptic segment is a row ``(cx, cy, rx, ry, rotation, sweep)``: the centre, the semi-axes
(``rx >= ry``), the direction of the ``rx`` axis (radians from +x) and the signed sweep in the
ellipse's own parameter ``t`` (positive: counter-clockwise in a y-up frame), the points being
``c + R(rotation) (rx cos t, ry sin t)``. The segment starts at its first control point (its
parameter follows from it) and ends at its last. An elliptic arc is the image of a circular arc
under the affine map ``c + R diag(rx, ry)``, so area, bounds, sampling and cubics follow from the
circle's.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["affine", "param", "points", "area_terms", "bounds", "cubics", "transform", "chords",
           "distances", "fit_ellipse"]

#: Newton steps for the foot point on the ellipse, Gauss-Newton steps of the geometric fit.
FOOT_STEPS = 8
FIT_STEPS = 8


def affine(e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The centre (2,) and the matrix ``R(rotation) diag(rx, ry)`` (2, 2) that map the unit circle onto ``e``."""
    c, s = math.cos(float(e[4])), math.sin(float(e[4]))
    return np.array([e[0], e[1]], np.float64), np.array([[c * e[2], -s * e[3]], [s * e[2], c * e[3]]])


def param(e: np.ndarray, p: np.ndarray) -> float:
    """The parameter of the point ``p`` (on the ellipse, or its radial projection onto it)."""
    c, A = affine(e)
    u = np.linalg.solve(A, np.asarray(p, np.float64) - c)
    return math.atan2(float(u[1]), float(u[0]))


def points(p0: np.ndarray, e: np.ndarray, n: int) -> np.ndarray:
    """``n`` points of the segment from ``p0`` (its start, included) to its end (excluded), evenly in ``t``."""
    c, A = affine(e)
    t = param(e, p0) + float(e[5]) * np.arange(n) / n
    out = c + np.stack([np.cos(t), np.sin(t)], axis=1) @ A.T
    out[0] = p0
    return out


def area_terms(p0: np.ndarray, p1: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Per segment from ``p0`` to ``p1`` (m, 2) on ``e`` (m, 6): its term of the shoelace integral
    1/2 (x dy - y dx), exact: 1/2 (c x (p1 - p0) + rx ry sweep)."""
    d = p1 - p0
    return 0.5 * (e[:, 0] * d[:, 1] - e[:, 1] * d[:, 0] + e[:, 2] * e[:, 3] * e[:, 5])


def bounds(p0: np.ndarray, p1: np.ndarray, e: np.ndarray) -> tuple[float, float, float, float]:
    """Exact box of one segment: its ends and the axis-extreme points its sweep passes."""
    c, A = affine(e)
    t0 = param(e, p0)
    sw = float(e[5])
    lo, hi = (t0, t0 + sw) if sw >= 0 else (t0 + sw, t0)
    pts = [np.asarray(p0, np.float64), np.asarray(p1, np.float64)]
    for row in A:  # x(t) = c + row . (cos t, sin t) is extreme where tan t = row[1] / row[0]
        base = math.atan2(float(row[1]), float(row[0]))
        for k in range(int(math.floor((lo - base) / math.pi)), int(math.ceil((hi - base) / math.pi)) + 1):
            t = base + k * math.pi
            if lo < t < hi:
                pts.append(c + A @ np.array([math.cos(t), math.sin(t)]))
    a = np.array(pts)
    return float(a[:, 0].min()), float(a[:, 1].min()), float(a[:, 0].max()), float(a[:, 1].max())


def cubics(p0: np.ndarray, p1: np.ndarray, e: np.ndarray, k: int) -> np.ndarray:
    """The segment as ``k`` cubics (k, 4, 2), each the image of the usual cubic of a circular arc of
    ``sweep / k`` (within 2.7e-4 ``rx`` of the ellipse for a quarter turn); ends exactly ``p0``, ``p1``."""
    c, A = affine(e)
    t = param(e, p0) + float(e[5]) * np.arange(k + 1) / k
    h = 4.0 / 3.0 * math.tan(float(e[5]) / k / 4.0)
    u = np.stack([np.cos(t), np.sin(t)], axis=1)
    du = np.stack([-np.sin(t), np.cos(t)], axis=1)
    unit = np.stack([u[:-1], u[:-1] + h * du[:-1], u[1:] - h * du[1:], u[1:]], axis=1)
    out = c + unit @ A.T
    out[0, 0] = p0
    out[-1, 3] = p1
    out[1:, 0] = out[:-1, 3]
    return out


def transform(e: np.ndarray, M: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Rows ``e`` (m, 6) under the affine map ``x -> M x + shift`` (any invertible ``M``): the new axes are the
    singular vectors of ``M R diag(rx, ry)``; a reflection reverses the sweep."""
    out = np.array(e, np.float64, copy=True)
    sgn = 1.0 if np.linalg.det(M) > 0 else -1.0
    for i in np.flatnonzero(np.isfinite(out[:, 5])):
        c, A = affine(out[i])
        U, S, _ = np.linalg.svd(M @ A)
        if np.linalg.det(U) < 0:
            U[:, 1] = -U[:, 1]
        out[i, :2] = M @ c + shift
        out[i, 2], out[i, 3] = S
        out[i, 4] = (math.atan2(U[1, 0], U[0, 0]) + math.pi / 2) % math.pi - math.pi / 2  # the axis, either way
        out[i, 5] *= sgn
    return out


def chords(e: np.ndarray, tolerance: float) -> np.ndarray:
    """Chords per segment (m,) so that none strays more than a quarter of ``tolerance`` from its ellipse
    (the sag of a chord of parameter step ``dt`` is at most ``rx³ dt² / (8 ry²)``)."""
    rx, ry = e[:, 2], np.maximum(e[:, 3], 1e-300)
    dt = np.sqrt(2.0 * tolerance / np.maximum(rx, 1e-300)) * ry / np.maximum(rx, 1e-300)
    return np.ceil(np.abs(e[:, 5]) / np.maximum(dt, 1e-9))


# ----------------------------------------------------------------------------- fitting

def distances(q: np.ndarray, c: np.ndarray, rx: float, ry: float, rot: float) -> tuple[np.ndarray, np.ndarray]:
    """Signed distances of ``q`` (m, 2) from the ellipse (positive outside) and their foot points' parameters."""
    cs, sn = math.cos(rot), math.sin(rot)
    d = q - c
    u, v = d[:, 0] * cs + d[:, 1] * sn, -d[:, 0] * sn + d[:, 1] * cs
    t = np.arctan2(v * rx, u * ry)
    k = rx * rx - ry * ry
    for _ in range(FOOT_STEPS):  # Newton on d/dt |(u, v) - (rx cos t, ry sin t)|² / 2 = 0
        ct, st = np.cos(t), np.sin(t)
        g = k * st * ct - u * rx * st + v * ry * ct
        dg = k * (ct * ct - st * st) - u * rx * ct - v * ry * st
        ok = dg > 1e-300
        t = np.where(ok, t - g / np.where(ok, dg, 1.0), t)
    ct, st = np.cos(t), np.sin(t)
    dist = np.hypot(u - rx * ct, v - ry * st)
    inside = (u / rx) ** 2 + (v / ry) ** 2 < 1.0
    return np.where(inside, -dist, dist), t


def _conic(q: np.ndarray) -> tuple[np.ndarray, float, float, float] | None:
    """The direct least-squares ellipse of ``q`` (Fitzgibbon, Pilu & Fisher; the stable form of Halír &
    Flusser), on centred and scaled points: (centre, rx, ry, rotation) or None when no ellipse fits."""
    m = q.mean(axis=0)
    s = float(np.abs(q - m).max())
    if not s > 0:
        return None
    x, y = ((q - m) / s).T
    D1 = np.column_stack([x * x, x * y, y * y])
    D2 = np.column_stack([x, y, np.ones_like(x)])
    S1, S2, S3 = D1.T @ D1, D1.T @ D2, D2.T @ D2
    try:
        T = -np.linalg.solve(S3, S2.T)
    except np.linalg.LinAlgError:
        return None
    Mq = S1 + S2 @ T
    Mq = np.array([Mq[2] / 2, -Mq[1], Mq[0] / 2])
    w, vec = np.linalg.eig(Mq)
    vec = np.real(vec)
    cond = 4 * vec[0] * vec[2] - vec[1] ** 2
    good = np.flatnonzero(cond > 0)
    if len(good) == 0:
        return None
    a1 = vec[:, good[0]]
    A, B, C = a1
    D, E, F = T @ a1
    Q = np.array([[A, B / 2], [B / 2, C]])
    try:
        c = np.linalg.solve(2 * Q, [-D, -E])
    except np.linalg.LinAlgError:
        return None
    f0 = float(c @ Q @ c + D * c[0] + E * c[1] + F)
    lam, axes = np.linalg.eigh(Q)
    if not (lam[0] * lam[1] > 0 and -f0 / lam[0] > 0 and -f0 / lam[1] > 0):
        return None
    r = np.sqrt(-f0 / lam)  # lam ascending: r[0] is the larger semi-axis
    rot = math.atan2(axes[1, 0], axes[0, 0])
    return m + s * c, float(s * r[0]), float(s * r[1]), rot


def fit_ellipse(q: np.ndarray) -> tuple[np.ndarray, float, float, float, np.ndarray, np.ndarray] | None:
    """The least-squares ellipse of the closed samples ``q`` (m, 2): the direct fit, refined geometrically
    (Gauss-Newton on the orthogonal distances). Returns (centre, rx, ry, rotation, signed distances,
    foot parameters), ``rx >= ry``, or None."""
    q = np.asarray(q, np.float64)
    if len(q) < 6:
        return None
    first = _conic(q)
    if first is None:
        return None
    c, rx, ry, rot = first
    for _ in range(FIT_STEPS):
        d, t = distances(q, c, rx, ry, rot)
        ct, st = np.cos(t), np.sin(t)
        cs, sn = math.cos(rot), math.sin(rot)
        # the outward normal at the foot point, and the foot point's derivatives (t held)
        nx_l, ny_l = ct / rx, st / ry
        nl = np.hypot(nx_l, ny_l)
        nx_l, ny_l = nx_l / nl, ny_l / nl
        n = np.stack([cs * nx_l - sn * ny_l, sn * nx_l + cs * ny_l], axis=1)
        w = np.stack([rx * ct, ry * st], axis=1)
        rw = np.stack([cs * w[:, 0] - sn * w[:, 1], sn * w[:, 0] + cs * w[:, 1]], axis=1)
        J = -np.column_stack([n[:, 0], n[:, 1],
                              n[:, 0] * cs * ct + n[:, 1] * sn * ct,
                              -n[:, 0] * sn * st + n[:, 1] * cs * st,
                              -n[:, 0] * rw[:, 1] + n[:, 1] * rw[:, 0]])
        step, *_ = np.linalg.lstsq(J, -d, rcond=None)
        if not np.isfinite(step).all():
            return None
        c = c + step[:2]
        rx, ry, rot = rx + float(step[2]), ry + float(step[3]), rot + float(step[4])
        if not (rx > 0 and ry > 0):
            return None
        if float(np.abs(step).max()) <= 1e-12 * max(rx, 1e-300):
            break
    if ry > rx:
        rx, ry, rot = ry, rx, rot + math.pi / 2
    rot = (rot + math.pi / 2) % math.pi - math.pi / 2
    d, t = distances(q, c, rx, ry, rot)
    return c, rx, ry, rot, d, t
