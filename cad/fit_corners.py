"""Corners of the trace restored before the fit (:func:`cad.fit.fit_ring`): where the source's anti-aliasing
rounded a corner, the trace runs inside it, and a piece that ends at the corner sample is held there.

A long arc or cubic that ends at a rounded corner is tilted by the fraction of a pixel that the rounding
cuts off, all along its length. :func:`sharp_corners` extrapolates each side of a corner, from beyond the
rounding, to where the two sides meet, and lays the samples within the rounding along the extrapolations,
so every kind of piece ends at the corner a designer drew (lines between two lines are sharpened again
after the fit by ``cad.fit._sharpen``, from the fitted lines themselves).

Every function takes plain arrays: samples ``q`` (m, 2) of a closed ring in order, indices into them.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

__all__ = ["sharp_corners", "ROUNDING_PX", "SIDE_PX"]

#: The source's anti-aliasing rounds a corner over about this many source pixels either side of it ...
ROUNDING_PX = 1.0
#: ... and each side is extrapolated from the samples up to this many source pixels from the corner.
SIDE_PX = 3.0
#: At least this many samples make a side.
MIN_SIDE = 5
#: A corner that the trace's own corner reaches within this many tolerances is left as the trace has it.
KEEP_TOL = 0.5


def _side(q: np.ndarray, c: int, sign: int, n0: int, n1: int) -> tuple[np.ndarray, float] | None:
    """The least-squares parabola (x and y quadratic in the arc length ``t`` from sample ``c + sign * n0``, away
    from the corner) of the samples ``n0..n1`` away from corner ``c`` on one side: its coefficients (3, 2)
    and the samples' RMS distance from it."""
    m = len(q)
    pts = q[(c + sign * np.arange(n0, n1 + 1)) % m]
    t = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
    if not t[-1] > 0:
        return None
    coef = np.polyfit(t, pts, 2)  # (3, 2): t^2, t, 1
    rms = float(np.sqrt(np.mean(np.sum((_at(coef, t) - pts) ** 2, axis=1))))
    return coef, rms


def _at(coef: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.stack([np.polyval(coef[:, 0], t), np.polyval(coef[:, 1], t)], axis=-1)


def sharp_corners(q: np.ndarray, corners: np.ndarray, px: float, spacing: float, reach: float, tol: float,
                  corner_deg: float) -> tuple[np.ndarray, float]:
    """The samples ``q`` with each corner (indices ``corners``) the trace rounded made sharp again, and how
    far a sample moved.

    Each side of a corner is the least-squares parabola of the samples from :data:`ROUNDING_PX` to
    :data:`SIDE_PX` source pixels (``px``) from it (no farther than half way to the next corner), extrapolated
    towards the corner. Where the two meet within ``reach`` of the corner sample, turning there by more than
    ``corner_deg``, and each side follows its samples within ``tol`` (RMS), the corner sample moves to that
    point and the samples within the rounding onto the parabolas, unless it is within :data:`KEEP_TOL` of the corner
    sample already (the trace kept the corner sharp). ``spacing``: the samples' spacing."""
    m = len(q)
    corners = np.unique(np.asarray(corners, np.int64) % m)
    if len(corners) == 0 or m < 4 * MIN_SIDE:
        return q, 0.0
    out = q.copy()
    moved = 0.0
    n0 = max(1, int(round(ROUNDING_PX * px / spacing)))
    n_far = int(round(SIDE_PX * px / spacing))
    gaps = np.diff(np.concatenate([corners, corners[:1] + m]))  # samples from each corner to the next
    for j, c in enumerate(corners):
        sides = []
        for sign, gap in ((-1, gaps[j - 1]), (1, gaps[j])):
            n1 = min(n_far, int(gap) // 2)
            if n1 - n0 < MIN_SIDE:
                break
            fit = _side(q, int(c), sign, n0, n1)
            if fit is None or fit[1] > tol:
                break
            sides.append(fit)
        if len(sides) < 2:
            continue
        lim = (n0 * spacing + reach) * 1.5
        ts = np.linspace(-lim, 0.0, 97)
        curves = [_at(coef, ts) for coef, _ in sides]
        hit = shapely.intersection(shapely.LineString(curves[0]), shapely.LineString(curves[1]))
        pts = shapely.get_coordinates(hit)
        if not len(pts):
            continue
        x = pts[np.argmin(np.hypot(*(pts - q[c]).T))]
        if np.hypot(*(x - q[c])) > reach:
            continue
        ends = []
        for coef, _ in sides:  # the parameter of x on each side, and the direction there (towards the corner)
            tt = ts[np.argmin(np.hypot(*(_at(coef, ts) - x).T))]
            d = -(2 * coef[0] * tt + coef[1])
            ends.append((tt, d / max(float(np.hypot(*d)), 1e-300)))
        (t_b, d_b), (t_a, d_a) = ends
        turn = math.degrees(math.acos(float(np.clip(-(d_b @ d_a), -1.0, 1.0))))  # d_a points back along the after side
        if turn <= corner_deg:
            continue
        if not np.hypot(*(x - q[c])) > KEEP_TOL * tol:  # the trace kept the corner sharp
            continue
        for (coef, _), sign, tx in zip(sides, (-1, 1), (t_b, t_a)):
            idx = (int(c) + sign * np.arange(0, n0)) % m  # from the corner out to the side's first sample
            new = _at(coef, np.linspace(tx, 0.0, n0 + 1)[:-1])
            new[0] = x
            moved = max(moved, float(np.hypot(*(new - q[idx]).T).max()))
            out[idx] = new
    return out, moved
