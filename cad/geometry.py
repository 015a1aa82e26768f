"""Exact curve arithmetic on rings of cubic Bézier segments (NumPy, no OCC).

A *ring* is ``ctrl`` ``(n, 4, 2)`` with ``ctrl[i, 3] == ctrl[i+1, 0]``
cyclically, plus ``is_line`` ``(n,)`` for straight segments (whose inner
control points sit at thirds of the chord). The same functions serve pixel
and millimetre rings.
"""

from __future__ import annotations

import numpy as np

__all__ = ["signed_area", "flatten", "reverse", "segment_counts", "bounds"]

# 3-point Gauss-Legendre on [0, 1]: exact for polynomials up to degree 5, and
# x(t) y'(t) of a cubic is degree 5, so the area below is exact.
_GL_T = 0.5 + 0.5 * np.array([-np.sqrt(3.0 / 5.0), 0.0, np.sqrt(3.0 / 5.0)])
_GL_W = 0.5 * np.array([5.0 / 9.0, 8.0 / 9.0, 5.0 / 9.0])
MAX_POINTS_PER_SEGMENT = 256


def _bernstein(t: np.ndarray) -> np.ndarray:
    u = 1.0 - t
    return np.stack([u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t], axis=-1)


def _bernstein_d(t: np.ndarray) -> np.ndarray:
    u = 1.0 - t
    return np.stack([-3 * u * u, 3 * u * u - 6 * u * t, 6 * u * t - 3 * t * t, 3 * t * t], axis=-1)


_B_GL = _bernstein(_GL_T)  # (3, 4): the Bernstein weights and their derivatives at the Gauss nodes
_DB_GL = _bernstein_d(_GL_T)


def signed_area(ctrl: np.ndarray) -> float:
    """Exact signed area enclosed by a ring (positive = counter-clockwise in a y-up frame)."""
    p = np.einsum("qk,nkd->nqd", _B_GL, ctrl)  # (n, 3, 2)
    dp = np.einsum("qk,nkd->nqd", _DB_GL, ctrl)
    integrand = p[..., 0] * dp[..., 1] - p[..., 1] * dp[..., 0]
    return float(0.5 * (integrand @ _GL_W).sum())


def segment_counts(ctrl: np.ndarray, is_line: np.ndarray, tolerance: float) -> np.ndarray:
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
    return n


def flatten(ctrl: np.ndarray, is_line: np.ndarray, tolerance: float) -> np.ndarray:
    """Polyline through the ring within ``tolerance``: ``(m, 2)``, closed, last point not repeated."""
    n = segment_counts(ctrl, is_line, tolerance)
    total = int(n.sum())
    seg = np.repeat(np.arange(len(ctrl)), n)
    offsets = np.concatenate([[0], np.cumsum(n)[:-1]])
    t = (np.arange(total) - np.repeat(offsets, n)) / np.repeat(n, n)
    return np.einsum("mk,mkd->md", _bernstein(t), ctrl[seg])


def reverse(ctrl: np.ndarray, is_line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same ring traversed the other way."""
    return ctrl[::-1, ::-1].copy(), is_line[::-1].copy()


def bounds(points: np.ndarray) -> tuple[float, float, float, float]:
    """``(xmin, ymin, xmax, ymax)`` of an ``(m, 2)`` array."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def curve_bounds(ctrl: np.ndarray) -> tuple[float, float, float, float]:
    """Exact ``(xmin, ymin, xmax, ymax)`` of a ring of cubics (end points plus interior extrema)."""
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
