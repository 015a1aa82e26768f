"""Polish a fitted ring: slide each join between a cubic and a line or an arc along the line or the arc, to
where the two pieces together follow the trace best (least squares), keeping the kinds and the count of the
pieces and their tangent continuity.

The fitting stage (:mod:`cad.fit`) places a join on the line or the arc it meets, where the greedy cover
happened to end that piece: at the sample where the trace leaves the line, or at the end of an arc, where a
circle through a curve that is not quite one strays the most. A cubic leaving from there along the line or
the arc starts off the trace and stays off it over much of its length. Moving the join along the line or the
arc keeps the line a line and the arc on its circle; the cubic, refitted from the new join with the tangent
of the line or the arc there, then follows the trace from its start. The line or arc itself does not move,
so a straight run or a round hole is recognised exactly as before.

:func:`polish` works on the pieces of :func:`cad.fit.fit_ring` (any objects with its attributes ``kind``,
``a``, ``b``, ``ctrl``, ``arc`` and ``err``) and the samples they index.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cad.fit_pieces import arc_cubic, cross, line_ctrl, unit
from cad.geometry import bernstein as bern
from cad.geometry import bernstein_d as bern_d

__all__ = ["polish", "SLIDE_PX", "SMOOTH_DEG"]

#: A join slides at most this many grains either way along the trace.
SLIDE_PX = 1.5
#: A join is smooth (and slides) when the pieces' tangents there differ by less than this (degrees).
SMOOTH_DEG = 3.0
#: A piece keeps at least this many samples.
MIN_SAMPLES = 3


def _fit_cubic(q: np.ndarray, t0: np.ndarray, t1: np.ndarray, iters: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """The least-squares cubic from ``q[0]`` leaving along ``t0`` to ``q[-1]`` arriving along ``t1`` (its
    handle lengths; the samples' parameters refined by Newton steps): (ctrl, distance of each sample)."""
    a, b = q[0], q[-1]
    chord = float(np.hypot(*(b - a)))
    d = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(q, axis=0).T))])
    if not (d[-1] > 0 and chord > 0):
        return line_ctrl(a, b), np.full(len(q), math.inf)
    u = d / d[-1]
    c = line_ctrl(a, b)
    for _ in range(iters):
        B = bern(u)
        A1, A2 = B[:, 1:2] * t0, -B[:, 2:3] * t1
        rhs = q - (B[:, 0:1] + B[:, 1:2]) * a - (B[:, 2:3] + B[:, 3:4]) * b
        M = np.array([[(A1 * A1).sum(), (A1 * A2).sum()], [(A1 * A2).sum(), (A2 * A2).sum()]])
        try:
            al = np.linalg.solve(M, [(A1 * rhs).sum(), (A2 * rhs).sum()])
        except np.linalg.LinAlgError:
            return c, np.full(len(q), math.inf)
        if not (0 < al[0] < 2 * chord and 0 < al[1] < 2 * chord):
            return c, np.full(len(q), math.inf)
        c = np.array([a, a + al[0] * t0, b - al[1] * t1, b])
        diff = B @ c - q
        dp = bern_d(u) @ c
        un = u - (diff * dp).sum(axis=1) / np.maximum((dp * dp).sum(axis=1), 1e-300)
        un[0], un[-1] = 0.0, 1.0
        if np.all(np.diff(un) > 0):
            u = un
    return c, np.hypot(*(bern(u) @ c - q).T)


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
        """The piece's ctrl (and arc) with its end (``at_end``) or start at ``x``; None if an arc would
        turn the other way or by more than a half turn."""
        p = self.p
        if p.kind == "line":
            return (line_ctrl(p.ctrl[0], x) if self.at_end else line_ctrl(x, p.ctrl[3])), None
        c, sw = p.arc
        old = p.ctrl[3] if self.at_end else p.ctrl[0]
        delta = math.atan2(cross(old - c, x - c), float((old - c) @ (x - c)))
        new = sw + delta if self.at_end else sw - delta
        if not (new * sw > 0 and abs(new) <= math.pi):
            return None
        ctrl = arc_cubic(p.ctrl[0], x, c, new) if self.at_end else arc_cubic(x, p.ctrl[3], c, new)
        return ctrl, (c, new)


def _smooth(t0: np.ndarray, t1: np.ndarray) -> bool:
    return float(t0 @ t1) >= math.cos(math.radians(SMOOTH_DEG))


def polish(pieces: list, Q: np.ndarray, N: int, step: int, allow: dict[str, float]) -> None:
    """Slide, in place, the joins between each cubic of ``pieces`` and a line or an arc beside it.

    ``Q`` are the samples the pieces index (``Q[i]`` is ``Q[i % N]``), ``step`` samples make a grain, and
    ``allow`` the largest distance from the trace each kind may keep (``line``, ``arc``, ``cubic``). A join
    moves when the pieces on either side follow the samples better in the least-squares sense, and no sample
    strays farther than allowed (nor farther than it did)."""
    n = len(pieces)
    if n < 3:
        return
    reach = max(1, int(round(SLIDE_PX * step)))
    for k, p in enumerate(pieces):
        if p.kind != "cubic":
            continue
        prev, nxt = pieces[k - 1], pieces[(k + 1) % n]
        for side_p, at_start in ((prev, True), (nxt, False)):
            if side_p.kind not in ("line", "arc") or side_p is p:
                continue
            if at_start and (side_p.b - p.a) % N or not at_start and (p.b - side_p.a) % N:
                continue  # not joined along the samples (a sharpened corner removed what was between)
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
    window = Q[idx % N]
    d_side = side.dist(window)
    best = None
    for off in range(lo, hi + 1):
        j = j0 + off
        x, t = side.land(Q[j % N])
        run = Q[np.arange(j, p.b + 1) % N] if at_start else Q[np.arange(p.a, j + 1) % N]
        if len(run) < MIN_SAMPLES:
            continue
        run = run.copy()
        if at_start:
            run[0], run[-1] = x, far
            ctrl, d = _fit_cubic(run, t, t_far)
        else:
            run[0], run[-1] = far, x
            ctrl, d = _fit_cubic(run, t_far, t)
        # the side's samples in the window: those on its side of the join
        mine = (idx <= j) if at_start else (idx >= j)
        ds = d_side[mine]
        worst_c, worst_s = float(d.max()), float(ds.max()) if len(ds) else 0.0
        if not (worst_c <= max(allow["cubic"], p.err) and worst_s <= allow[s.kind]):
            continue
        # the cubic's whole run, and the side's samples in the window
        cost = float((d * d).sum() + (ds * ds).sum())
        if best is None or cost < best[0]:
            best = (cost, off, x, ctrl, worst_c)
    if best is None or best[1] == 0:
        return
    _, off, x, ctrl, worst = best
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
