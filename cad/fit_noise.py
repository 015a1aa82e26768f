"""A traced ring with the noise of its image smoothed out, for the fitting stage (:mod:`cad.fit`).

A JPEG's ringing or a photo's grain makes potrace's outline meander about the true edge: bumps a pixel or
a few wide and a few tenths of a pixel high. A fit held within a tenth of a pixel of such a trace follows
every bump. :func:`smooth` takes the bumps out before the fit.

It rests on one local model: about each sample, the samples within a half-width either side, in the
frame of their chord, are fitted with a parabola (weighted least squares). The parabola takes up the
shape's own bending, to second order, so the fit neither shrinks a curve nor flattens it; what it leaves
is the noise. Every function takes plain arrays in any unit.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from cad.geometry import curve_bounds

__all__ = ["local_parabola", "smooth", "pushes_out", "local_shift", "MAX_TURN_DEG"]

#: A smoothing window turns by at most this much (degrees) between its halves; one that turns more holds a
#: feature of the shape (a tip, a rounded corner), which is not smoothed.
MAX_TURN_DEG = 30.0


def local_parabola(q: np.ndarray, half: np.ndarray, closed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """For each sample of ``q`` (m, 2), the parabola through the samples ``half[i]`` either side of it
    (``half`` (m,) ints, at most ``max(half)``; none past the ends of an open run): (its point above the
    centre of the window, the RMS distance of those samples from it). A sample with ``half`` < 2 is its own point."""
    m = len(q)
    h = int(half.max()) if m else 0
    if h < 2 or m < 5:
        return q.copy(), np.zeros(m)
    k = np.arange(-h, h + 1)
    idx = np.arange(m)[:, None] + k[None, :]
    use = np.abs(k)[None, :] <= half[:, None]
    if closed:
        idx %= m
    else:
        use &= (idx >= 0) & (idx < m)
        idx = np.clip(idx, 0, m - 1)
    w = use.astype(np.float64)
    win = q[idx]  # (m, 2h+1, 2)
    hi = np.clip(np.arange(m) + half, None, None if closed else m - 1)
    lo = np.arange(m) - half
    if closed:
        hi, lo = hi % m, lo % m
    else:
        lo = np.clip(lo, 0, m - 1)
    d = q[hi] - q[lo]
    u = d / np.maximum(np.hypot(*d.T), 1e-300)[:, None]
    r = win - q[:, None, :]
    x = (r * u[:, None, :]).sum(axis=2)
    y = r[..., 1] * u[:, None, 0] - r[..., 0] * u[:, None, 1]
    s = np.maximum(np.abs(x * w).max(axis=1, keepdims=True), 1e-300)
    x = x / s
    A = np.stack([np.ones_like(x), x, x * x], axis=2) * w[..., None]
    AtA = np.einsum("nmi,nmj->nij", A, A) + 1e-9 * np.eye(3)
    c = np.linalg.solve(AtA, np.einsum("nmi,nm->ni", A, y * w)[..., None])[..., 0]
    res = (y - np.einsum("nmi,ni->nm", np.stack([np.ones_like(x), x, x * x], axis=2), c)) * w
    rms = np.sqrt((res * res).sum(axis=1) / np.maximum(w.sum(axis=1), 1.0))
    normal = np.stack([-u[:, 1], u[:, 0]], axis=1)
    xm = (x * w).sum(axis=1) / np.maximum(w.sum(axis=1), 1.0)  # the window's centre, so the points keep their order
    ym = c[:, 0] + c[:, 1] * xm + c[:, 2] * xm * xm
    out = q + (xm * s[:, 0])[:, None] * u + ym[:, None] * normal
    small = half < 2
    out[small] = q[small]
    rms[small] = 0.0
    return out, rms


def smooth(q: np.ndarray, corners: np.ndarray, half: int) -> np.ndarray:
    """The closed samples ``q`` with their noise smoothed out: each sample moved onto the parabola
    through the ``half`` samples either side of it, the window shrunk so it never reaches past a corner
    (indices ``corners``), which stay where they are, nor into a window that turns by more than
    :data:`MAX_TURN_DEG` (a small ring, a tip, a corner potrace rounded), which stays as it is."""
    m = len(q)
    if half < 2 or m < 5:
        return q
    h = np.full(m, half, dtype=np.int64)
    if len(corners):
        c = np.sort(np.asarray(corners, np.int64) % m)
        i = np.arange(m)
        pos = np.searchsorted(c, i)
        after = c[pos % len(c)] - i
        after[after < 0] += m
        before = i - c[(pos - 1) % len(c)]
        before[before < 0] += m
        h = np.minimum(h, np.minimum(before, after))
    i = np.arange(m)
    # a window that turns by more than MAX_TURN_DEG holds a feature, not noise: no window reaches into it
    avg = q[(i[:, None] + np.arange(-(half // 2), half // 2 + 1)[None, :]) % m].mean(axis=1)  # a spike does not turn it
    a, b = avg - avg[(i - half) % m], avg[(i + half) % m] - avg
    cos = (a * b).sum(axis=1) / np.maximum(np.hypot(*a.T) * np.hypot(*b.T), 1e-300)
    h[cos < math.cos(math.radians(MAX_TURN_DEG))] = 0
    for d in range(1, half + 1):  # the window grows back by one sample a sample: no step in the smoothed points
        h = np.minimum(h, np.minimum(np.roll(h, d), np.roll(h, -d)) + d)
    return local_parabola(q, h)[0]


def pushes_out(ring, old: tuple, lo, hi, reach: float, inward: float = math.inf) -> bool:
    """Whether the arcs and cubics of the refitted ``ring`` (a :class:`cad.regions.Ring`; its lines, which a
    sharpened corner extends, left out) push an edge of the extent ``lo``, ``hi`` that the traced ring (bounds
    ``old``) reaches out by more than ``reach``. Moving it in is what smoothing does to a trace whose
    extreme is a bump of noise; an extreme moved in by more than ``inward`` counts as well."""
    keep = ~np.asarray(ring.is_line, bool)
    if not keep.any():
        return False
    new = curve_bounds(ring.ctrl[keep], ring.arcs[keep] if ring.arcs is not None else None)
    out = (old[0] - new[0], old[1] - new[1], new[2] - old[2], new[3] - old[3])
    return any(abs(o - e) <= 1e-9 and (d > reach or -d > inward) for d, o, e in zip(out, old, (lo[0], lo[1], hi[0], hi[1])))


def local_shift(new: np.ndarray, old: np.ndarray, window: float) -> float:
    """How far the closed polyline ``new`` (m, 2) moves the outline of the closed polyline ``old`` (k, 2),
    as a mean over a stretch of at least ``window`` (a length): the largest area of a piece of their
    symmetric difference divided by the length it spans along the outline (half its perimeter), at least
    ``window``. The noise of a trace about its shape makes small pieces that average out over a few of its
    bumps; a refit that cuts a tip, fills a notch or closes a gap makes one piece of that feature's area,
    and one that moves a stretch of edge a long piece as thick as the move."""
    if len(old) < 3 or len(new) < 3:
        return 0.0
    a, b = (shapely.make_valid(shapely.Polygon(p)) for p in (new, old))
    diff = shapely.symmetric_difference(a, b)
    parts = shapely.get_parts(diff)
    parts = parts[shapely.area(parts) > 0]
    if not len(parts):
        return 0.0
    return float((shapely.area(parts) / np.maximum(0.5 * shapely.length(parts), window)).max())


#: A noisy image's rings are tried at these rungs, coarse first: (the smoothing half-width, the tolerance,
#: in multiples of the image's noise length; whether :func:`keeps_shape` guards it); the tolerance is never
#: finer than the default. A rung whose refit fails falls to the next, and the last to the plain fit.
NOISY_RUNGS = ((16 / 3, 4 / 15, True), (4.0, 0.2, False), (4.0, 0.0, False))
#: A smoothed refit may move the outline, averaged over its smoothing window, by at most this many default
#: tolerances.
SHIFT_TOLS = 2.0


def noisy_ladder(tol: float, noise: float) -> list[tuple[float, float, bool]]:
    """The rungs (tolerance, smoothing half-width, guarded by :func:`keeps_shape`) of a ring of an image whose
    noise length is ``noise``, coarse first."""
    return [(max(tol, f_tol * noise), f_smooth * noise, g) for f_smooth, f_tol, g in NOISY_RUNGS]


def keeps_shape(new: np.ndarray | tuple, old: np.ndarray, smooth: float, tol: float) -> bool:
    """Whether a smoothed refit (closed points ``new``) keeps the shape of the trace (``old``): averaged
    over its smoothing window (``2 * smooth``), it moves no stretch of the outline by more than
    :data:`SHIFT_TOLS` default tolerances ``tol``."""
    return local_shift(np.asarray(new, np.float64), old, 2 * smooth) <= SHIFT_TOLS * tol
