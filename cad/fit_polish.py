"""Polish a fitted ring: move its joins to where the pieces on either side follow the trace best (least
squares), keeping the count and the kinds of the pieces and their tangent continuity.

The fitting stage (:mod:`cad.fit`) puts a join where the greedy cover happened to end a piece: at the sample
where the trace leaves a line, or at the end of an arc, where a circle through a curve that is not quite one
strays the most. The join, projected onto the line or the arc, then lies off the trace, and a cubic leaving
from there along the line or the arc stays off it over much of its length. Two moves put that right:

* a join of an arc with an arc or a line moves onto the trace (onto the line: a line never moves), to the
  sample within :data:`SLIDE_PX` grains where the arcs, fitted again through their ends, follow it best;
* a join of a cubic with a line or an arc slides along the line or the arc (which keep their place), to where
  the cubic, fitted again from there with the tangent of the line or the arc, and the line or the arc follow
  the trace best.

A straight run or a round hole is recognised before the polish, and stays what it was. :func:`polish` works on
the pieces of :func:`cad.fit.fit_ring` (any objects with its attributes ``kind``, ``a``, ``b``, ``ctrl``,
``arc`` and ``err``) and the samples they index.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cad.fit_pieces import arc_cubic, arc_sweep, arc_through, cross, line_ctrl, unit

__all__ = ["polish", "SLIDE_PX", "SMOOTH_DEG"]

#: A join slides at most this many grains either way along the trace.
SLIDE_PX = 1.5
#: A join (not at a corner of the trace) is tangent-continuous, and slides, when the pieces' tangents there differ
#: by less than this (degrees): a cubic split where it strayed, or made to round a corner, may not be.
SMOOTH_DEG = 20.0
#: A piece keeps at least this many samples.
MIN_SAMPLES = 3
#: A cubic is refitted on at most this many of its samples while its join slides.
FIT_SAMPLES = 64


def _fit_cubics(q: np.ndarray, t0: np.ndarray, t1: np.ndarray, iters: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """For each run ``q[k]`` (K, M, 2) the least-squares cubic from its first sample leaving along ``t0[k]`` to
    its last arriving along ``t1[k]`` (its two handle lengths; the samples' parameters refined by Newton
    steps): (ctrl (K, 4, 2), distance of each sample (K, M), inf where no such cubic has positive handles)."""
    a, b = q[:, 0], q[:, -1]
    chord = np.hypot(*(b - a).T)
    d = np.concatenate([np.zeros((len(q), 1)), np.cumsum(np.hypot(*np.diff(q, axis=1).transpose(2, 0, 1)), axis=1)], axis=1)
    u = d / np.maximum(d[:, -1:], 1e-300)
    ok = (d[:, -1] > 0) & (chord > 0)
    c = np.stack([a, a + (b - a) / 3, a + 2 * (b - a) / 3, b], axis=1)
    for _ in range(iters):
        B = np.stack([(1 - u) ** 3, 3 * u * (1 - u) ** 2, 3 * u * u * (1 - u), u ** 3], axis=2)  # (K, M, 4)
        A1, A2 = B[:, :, 1:2] * t0[:, None], -B[:, :, 2:3] * t1[:, None]
        rhs = q - (B[:, :, 0:1] + B[:, :, 1:2]) * a[:, None] - (B[:, :, 2:3] + B[:, :, 3:4]) * b[:, None]
        c11, c12, c22 = (A1 * A1).sum(axis=(1, 2)), (A1 * A2).sum(axis=(1, 2)), (A2 * A2).sum(axis=(1, 2))
        x1, x2 = (A1 * rhs).sum(axis=(1, 2)), (A2 * rhs).sum(axis=(1, 2))
        det = c11 * c22 - c12 * c12
        good = np.abs(det) > 1e-18 * np.maximum(c11 * c22, 1e-300)
        det = np.where(good, det, 1.0)
        al1, al2 = (x1 * c22 - x2 * c12) / det, (c11 * x2 - c12 * x1) / det
        ok &= good & (al1 > 0) & (al1 < 2 * chord) & (al2 > 0) & (al2 < 2 * chord)
        c = np.stack([a, a + al1[:, None] * t0, b - al2[:, None] * t1, b], axis=1)
        diff = np.einsum("kmj,kjd->kmd", B, c) - q
        D = np.stack([-3 * (1 - u) ** 2, 3 * (1 - u) * (1 - 3 * u), 3 * u * (2 - 3 * u), 3 * u * u], axis=2)
        dp = np.einsum("kmj,kjd->kmd", D, c)
        un = u - (diff * dp).sum(axis=2) / np.maximum((dp * dp).sum(axis=2), 1e-300)
        un[:, 0], un[:, -1] = 0.0, 1.0
        mono = np.all(np.diff(un, axis=1) > 0, axis=1)
        u = np.where(mono[:, None], un, u)
    B = np.stack([(1 - u) ** 3, 3 * u * (1 - u) ** 2, 3 * u * u * (1 - u), u ** 3], axis=2)
    dist = np.hypot(*(np.einsum("kmj,kjd->kmd", B, c) - q).transpose(2, 0, 1))
    return c, np.where(ok[:, None], dist, np.inf)


class _Side:
    """The line or arc ``p`` at one end of a cubic: distances to it, the point and tangent where a join at a
    sample lands on it, and the piece ending or starting there."""

    def __init__(self, p: Any, at_end: bool):
        self.p, self.at_end = p, at_end
        if p.kind == "line":
            self.o = p.ctrl[0]
            self.u = unit(p.ctrl[3] - p.ctrl[0])
        else:
            self.c = p.arc[0]
            self.r = float(np.hypot(*(p.ctrl[0] - self.c)))
            self.sgn = 1.0 if p.arc[1] > 0 else -1.0

    def dist(self, q: np.ndarray) -> np.ndarray:
        if self.p.kind == "line":
            return np.abs(cross(self.u, q - self.o))
        return np.abs(np.hypot(*(q - self.c).T) - self.r)

    def land(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The point of the line or circle nearest ``x``, and the tangent there along the piece."""
        if self.p.kind == "line":
            return self.o + float((x - self.o) @ self.u) * self.u, self.u
        v = unit(x - self.c)
        return self.c + self.r * v, self.sgn * np.array([-v[1], v[0]])

    def moved(self, x: np.ndarray) -> tuple[np.ndarray, tuple | None] | None:
        """The piece's ctrl (and arc) with its end (``at_end``) or start at ``x``; None if a line would lose
        half its length or an arc turn the other way or by more than a half turn."""
        p = self.p
        if p.kind == "line":
            a, b = (p.ctrl[0], x) if self.at_end else (x, p.ctrl[3])
            return (line_ctrl(a, b), None) if _keeps_length(p.ctrl, a, b) else None
        c, sw = p.arc
        old = p.ctrl[3] if self.at_end else p.ctrl[0]
        delta = math.atan2(cross(old - c, x - c), float((old - c) @ (x - c)))
        new = sw + delta if self.at_end else sw - delta
        if not (new * sw > 0 and abs(new) <= math.pi):
            return None
        ctrl = arc_cubic(p.ctrl[0], x, c, new) if self.at_end else arc_cubic(x, p.ctrl[3], c, new)
        return ctrl, (c, new)


def _keeps_length(ctrl: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether the line ``ctrl`` moved to run from ``a`` to ``b`` keeps its way and half its length (a line that
    a sharpened corner made short could otherwise turn back on itself)."""
    d = ctrl[3] - ctrl[0]
    return float((b - a) @ d) >= 0.5 * float(d @ d)


def _smooth(t0: np.ndarray, t1: np.ndarray) -> bool:
    return float(t0 @ t1) >= math.cos(math.radians(SMOOTH_DEG))


def polish(pieces: list, Q: np.ndarray, N: int, step: int, allow: dict[str, float], corners: set[int]) -> None:
    """Move, in place, the joins of ``pieces`` that meet an arc, and those between a cubic and a line.

    ``Q`` are the samples the pieces index (``Q[i]`` is ``Q[i % N]``), ``step`` samples make a grain,
    ``allow`` the largest distance from the trace each kind may keep (``line``, ``arc``, ``cubic``), and
    ``corners`` the samples (modulo ``N``) where the trace turns sharply. First a join of an arc with an arc
    or a line moves onto the trace (onto the line), and the arcs are fitted again through their new ends;
    then each join of a cubic with a line or an arc slides along it. A join moves when the pieces on either
    side follow the samples better in the least-squares sense, and no sample strays farther than allowed
    (nor farther than it did)."""
    n = len(pieces)
    if n < 3:
        return
    reach = max(1, int(round(SLIDE_PX * step)))
    for k in range(n):
        a, b = pieces[k - 1], pieces[k]
        if (a is not b and {a.kind, b.kind} <= {"arc", "line"} and "arc" in (a.kind, b.kind)
                and not (a.b - b.a) % N and b.a % N not in corners):
            _arc_join(a, b, Q, N, reach, allow)
    for k, p in enumerate(pieces):
        if p.kind != "cubic":
            continue
        prev, nxt = pieces[k - 1], pieces[(k + 1) % n]
        for side_p, at_start in ((prev, True), (nxt, False)):
            if side_p.kind not in ("line", "arc") or side_p is p:
                continue
            if at_start and (side_p.b - p.a) % N or not at_start and (p.b - side_p.a) % N:
                continue  # not joined along the samples (a sharpened corner removed what was between)
            if (p.a if at_start else p.b) % N in corners:
                continue
            _slide(p, _Side(side_p, at_end=at_start), at_start, Q, N, reach, allow)


def _slide(p: Any, side: _Side, at_start: bool, Q: np.ndarray, N: int, reach: int, allow: dict[str, float]) -> None:
    """Move the join of the cubic ``p`` with ``side`` (at its start if ``at_start``) to the best sample."""
    s = side.p
    c = p.ctrl
    t_here = unit(c[1] - c[0]) if at_start else unit(c[3] - c[2])
    x_old = c[0] if at_start else c[3]
    _, t_side = side.land(x_old)
    if not _smooth(t_here, t_side):
        return
    t_far = unit(c[3] - c[2]) if at_start else unit(c[1] - c[0])
    far = c[3] if at_start else c[0]
    length_p, length_s = p.b - p.a, s.b - s.a
    lo = -min(reach, length_s - MIN_SAMPLES) if at_start else -min(reach, length_p - MIN_SAMPLES)
    hi = min(reach, length_p - MIN_SAMPLES) if at_start else min(reach, length_s - MIN_SAMPLES)
    if lo >= hi:
        return
    j0 = p.a if at_start else p.b  # the join's sample now
    idx = np.arange(j0 + lo, j0 + hi + 1)
    d_side = side.dist(Q[idx % N])

    def fit(offs: np.ndarray, most: int) -> tuple:
        """The cubics with the join at each of ``offs``, on ``most`` samples each: (cost, join, ctrl, worst)."""
        j = j0 + offs
        land = [side.land(Q[i % N]) for i in j]
        x, t = np.array([v[0] for v in land]), np.array([v[1] for v in land])
        first, last = (j, np.full_like(j, p.b)) if at_start else (np.full_like(j, p.a), j)
        pick = np.linspace(first, last, most, axis=1).round().astype(np.int64) % N
        run = Q[pick]
        run[:, 0 if at_start else -1] = x
        run[:, -1 if at_start else 0] = far
        tf = np.repeat(t_far[None], len(j), axis=0)
        ctrl, d = _fit_cubics(run, t, tf) if at_start else _fit_cubics(run, tf, t)
        mine = (idx[None] <= j[:, None]) if at_start else (idx[None] >= j[:, None])  # the side's samples
        ds = np.where(mine, d_side[None], 0.0)
        worst_c, worst_s = d.max(axis=1), ds.max(axis=1)
        # the cubic's run (its mean square, times its samples) and the side's samples in the window
        cost = (d * d).mean(axis=1) * (last - first + 1) + (ds * ds).sum(axis=1)
        bad = ~((worst_c <= max(allow["cubic"], p.err)) & (worst_s <= allow[s.kind]))
        return np.where(bad, np.inf, cost), x, ctrl, worst_c

    offs = np.arange(lo, hi + 1)
    cost, *_ = fit(offs, min(FIT_SAMPLES, length_p + 1 - hi if at_start else length_p + 1 + lo))
    k = int(np.argmin(cost))  # at the same sample too: an arc fitted again moved its tangent
    if not np.isfinite(cost[k]):
        return
    off = int(offs[k])
    cost, x, ctrl, worst = fit(np.array([off]), length_p + 1 + (-off if at_start else off))  # on every sample
    best = (cost[0], x[0], ctrl[0], float(worst[0])) if np.isfinite(cost[0]) else None
    if best is None:
        return
    _, x, ctrl, worst = best
    moved = side.moved(x)
    if moved is None:
        return
    s.ctrl, arc = moved
    if arc is not None:
        s.arc = arc
    p.ctrl, p.err = ctrl, worst
    if at_start:
        s.b += off
        p.a += off
    else:
        s.a += off
        p.b += off


def _arc_fit(q: np.ndarray, sweep: float) -> tuple[np.ndarray, float, np.ndarray] | None:
    """The least-squares arc through both ends of ``q`` turning the way of ``sweep``: (centre, sweep,
    distance of each sample), or None."""
    c = arc_through(q)
    got = arc_sweep(q, c) if c is not None else None
    if c is None or got is None or not (got[2] * sweep > 0 and abs(got[2]) <= math.pi):
        return None
    return c, got[2], np.abs(np.hypot(*(q - c).T) - got[1])


def _arc_join(a: Any, b: Any, Q: np.ndarray, N: int, reach: int, allow: dict[str, float]) -> None:
    """Move the join of ``a`` and ``b`` (an arc and an arc or a line) to the sample (or its projection on the line)
    where the arcs through it and the other ends of the pieces follow the samples best."""
    j0, shift = a.b, a.b - b.a  # b's samples, in a's numbering
    lo, hi = -min(reach, a.b - a.a - MIN_SAMPLES), min(reach, b.b - b.a - MIN_SAMPLES)
    if lo >= hi:
        return
    start, end = a.ctrl[0], b.ctrl[3]
    line = a if a.kind == "line" else b if b.kind == "line" else None
    u = unit(line.ctrl[3] - line.ctrl[0]) if line is not None else np.zeros(2)

    def piece(p: Any, first: int, last: int, x0: np.ndarray, x1: np.ndarray, most: int):
        q = Q[np.linspace(first, last, min(last - first + 1, most)).round().astype(np.int64) % N]
        q[0], q[-1] = x0, x1
        if p.kind == "line":
            return (line_ctrl(x0, x1), None, np.abs(cross(u, q - x0))) if _keeps_length(p.ctrl, x0, x1) else None
        got = _arc_fit(q, p.arc[1])
        if got is None:
            return None
        c, sw, d = got
        return arc_cubic(x0, x1, c, sw), (c, sw), d

    def trial(off: int, most: int):
        j = j0 + off
        x = Q[j % N]
        if line is not None:
            x = line.ctrl[0] + float((x - line.ctrl[0]) @ u) * u
        pa = piece(a, a.a, j, start, x, most)
        pb = piece(b, j, b.b + shift, x, end, most)
        if pa is None or pb is None or pa[2].max() > allow[a.kind] or pb[2].max() > allow[b.kind]:
            return None
        cost = (pa[2] ** 2).mean() * (j - a.a + 1) + (pb[2] ** 2).mean() * (b.b + shift - j + 1)
        return float(cost), pa, pb, off

    def now(p: Any, first: int, last: int) -> np.ndarray:
        q = Q[np.linspace(first, last, min(last - first + 1, FIT_SAMPLES)).round().astype(np.int64) % N]
        if p.kind == "line":
            return np.abs(cross(unit(p.ctrl[3] - p.ctrl[0]), q - p.ctrl[0]))
        return np.abs(np.hypot(*(q - p.arc[0]).T) - float(np.hypot(*(p.ctrl[0] - p.arc[0]))))

    da, db = now(a, a.a, a.b), now(b, b.a, b.b)
    before = (da ** 2).mean() * (a.b - a.a + 1) + (db ** 2).mean() * (b.b - b.a + 1)
    tried = [t for t in (trial(off, FIT_SAMPLES) for off in range(lo, hi + 1)) if t is not None]
    if not tried:
        return
    best = min(tried, key=lambda t: t[0])
    if not best[0] < before:
        return
    off = best[3]
    got = trial(off, max(a.b - a.a, b.b - b.a) + 2 * reach + 1)  # on every sample
    if got is None:
        return
    _, (a.ctrl, arc_a, _), (b.ctrl, arc_b, _), _ = got
    a.arc = arc_a if a.kind == "arc" else a.arc
    b.arc = arc_b if b.kind == "arc" else b.arc
    a.b += off
    b.a += off
