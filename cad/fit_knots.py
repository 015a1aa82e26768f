"""Where the fit (:mod:`cad.fit`) must place knots, and the tangents there: corners and the outline's extremes.

A corner of the trace is a knot with a tangent on either side. The points where an outline reaches its
extremes (its least and greatest x and y, which set its bounding box and so the size and centre of the
whole part) are knots as well, as a type designer puts nodes at extremes: a *pin*. There the fitted
outline passes through the traced extreme point along the axis (tangent-continuous: the tangent of
the pieces on both sides is parallel to the axis of the other coordinate), so that no piece can run
past the extreme or fall short of it, and the fitted bounding box is the traced one. A line through
a pin lies along that axis (one that only ends there, running inwards, may keep its own direction);
an arc ending at one has its centre on the normal there; a cubic leaves it along the axis. Arcs meet
lines tangentially as well (:func:`fillet_joins`, :func:`arc_centres`). An extreme at a corner of the
trace is the corner's, which the fit keeps (or sharpens, restoring what the trace rounded), and needs
no pin.

Every function takes plain arrays: samples ``q`` (m, 2) of a closed ring in order, indices into them.
"""

from __future__ import annotations

import math

import numpy as np

from cad.fit_pieces import arc_through, cross

__all__ = ["extreme_pins", "tangents", "merge_pinned_lines", "pinned_line", "arc_centre", "arc_centres", "pinned_piece",
           "snap_joins", "fillet_joins"]

#: The sides of a bounding box, in the order of its tuple ``(xmin, ymin, xmax, ymax)``.
SIDES = ("xmin", "ymin", "xmax", "ymax")


def extreme_pins(q: np.ndarray, raw: np.ndarray, levels: tuple, sides, corners: np.ndarray, near: int,
                 depth: float, reach: int, corner_deg: float) -> tuple[np.ndarray, dict[int, np.ndarray | None]]:
    """The samples ``q`` with their extremes on ``sides`` (indices into :data:`SIDES`) pinned, and the pins
    ``{sample index: unit tangent, or None at a tip}``.

    The extreme of a side is where the trace ``raw`` (the samples before any smoothing, in the same order)
    runs along the axis: the vertex of the least-squares parabola through the stretch of samples within
    ``depth`` of the farthest one (on a gentle curve the farthest sample is anywhere along a stretch of the
    staircase); a straight edge there is not pinned, as its least-squares line is the better estimate of it.
    The sample there is moved across the axis to the exact traced extreme ``levels[side]`` (the trace's
    bounds), so the fit passes through it. Where the trace turns by more than ``corner_deg`` from ``reach``
    samples before the pin to as many after it (a tip, or a corner the trace rounded), the pin is a corner
    of the fit (no tangent), which the fit may sharpen.
    None is pinned within ``near`` samples of a corner (indices ``corners``: the extreme is the corner's) or
    of another pin."""
    m = len(q)
    q = q.copy()
    pins: dict[int, np.ndarray | None] = {}
    if m < 4 * near + 4:
        return q, pins
    idx = np.arange(m)
    for side in sides:
        axis, sign = side % 2, (1.0 if side >= 2 else -1.0)
        vertex = _vertex(raw, int(np.argmax(sign * raw[:, axis])), axis, sign, depth)
        if vertex is None:  # a straight edge: its least-squares line is the better estimate of the extreme
            continue
        i = vertex
        taken = np.concatenate([np.asarray(corners, np.int64) % m, np.array(list(pins), np.int64)])
        gap = np.abs(idx[taken] - i) if len(taken) else np.array([m])
        if len(taken) and np.minimum(gap, m - gap).min() <= near:
            continue
        along = (raw[(i + near) % m] - raw[(i - near) % m])[1 - axis]
        u, v = raw[i] - raw[(i - reach) % m], raw[(i + reach) % m] - raw[i]
        tip = math.degrees(abs(math.atan2(cross(u, v), float(u @ v)))) > corner_deg
        if along == 0 and not tip:
            continue
        t = np.zeros(2)
        t[1 - axis] = math.copysign(1.0, along)
        q[i, axis] = float(levels[side])
        pins[i] = None if tip else t
    return q, pins


def _vertex(raw: np.ndarray, i: int, axis: int, sign: float, depth: float) -> int | None:
    """The sample of the stretch of ``raw`` about ``i`` within ``depth`` of it on the axis ``axis`` (outwards
    ``sign``) nearest the vertex of the least-squares parabola through the stretch; None when the parabola
    falls by less than half ``depth`` over it (a straight edge, which leaves the stretch where it turns at its
    ends, not by its own bending)."""
    m = len(raw)
    top = sign * raw[i, axis]
    lo = hi = 0
    while lo < m // 4 and top - sign * raw[(i - lo - 1) % m, axis] <= depth:
        lo += 1
    while hi < m // 4 and top - sign * raw[(i + hi + 1) % m, axis] <= depth:
        hi += 1
    run = (i + np.arange(-lo, hi + 1)) % m
    if len(run) < 5:
        return i
    s = raw[run, 1 - axis] - raw[i, 1 - axis]
    d = sign * raw[run, axis] - top
    a, b, _ = np.polyfit(s, d, 2)
    # a stretch that bends by less than the ring's size (its radius, 1 / 2a, larger) is a straight edge for the
    # fit: a line fits it, its least-squares line estimates the extreme, and a pin along it would only split it
    if a < 0 and -a * (0.5 * np.ptp(s)) ** 2 >= 0.5 * depth:
        k = int(np.argmin(np.abs(s + b / (2 * a))))
        if 0 < k < len(run) - 1:
            return int(run[k])
    return None


def tangents(Q: np.ndarray, cuts: list[int], N: int, w: int, closed: bool, pins: dict):
    """Unit tangents into (``tin``) and out of (``tout``) each sample of the unrolled ``Q`` (two laps of ``N``
    samples): the chord ``w`` samples either side, not reaching past a corner (``cuts``), around the ring if
    ``closed`` (and no pin is a tip); along the axis at the pins (``{index: tangent or None}``)."""
    idx = np.arange(len(Q))
    closed = closed and all(t is not None for t in pins.values())
    if closed:
        plus, minus = idx + w, idx - w
        minus = np.where(minus < 0, minus + N, minus)
        plus = np.minimum(plus, len(Q) - 1)
        tin = Q[plus] - Q[minus]
        tout = tin.copy()
    else:
        tin = np.zeros_like(Q)
        tout = np.zeros_like(Q)
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            k = np.arange(lo, hi + 1)
            plus, minus = np.minimum(k + w, hi), np.maximum(k - w, lo)
            t = Q[plus] - Q[minus]
            tin[k] = t
            tout[k] = t
            tout[lo] = Q[min(lo + w, hi)] - Q[lo]
            tin[hi] = Q[hi] - Q[max(hi - w, lo)]
        tin[N + 1:] = tin[1: len(Q) - N]
        tout[N + 1:] = tout[1: len(Q) - N]
    for i, t in pins.items():
        if t is not None:
            tin[i] = tout[i] = t
    tin /= np.maximum(np.hypot(*tin.T), 1e-300)[:, None]
    tout /= np.maximum(np.hypot(*tout.T), 1e-300)[:, None]
    return tin, tout


def _axis_err(q: np.ndarray, p: np.ndarray, t: np.ndarray) -> float:
    """The largest distance of ``q`` from the line through ``p`` along ``t``."""
    return float(np.abs(cross(t, q - p)).max()) if len(q) else 0.0


def merge_pinned_lines(pieces: list, Q: np.ndarray, N: int, pins: dict, allow: float, trim: float) -> list:
    """Pieces (with ``kind``, ``a``, ``b``; the samples ``Q`` are two laps of ``N``) where two lines meeting at a
    pin are joined into one line when one line fits the samples of both within ``allow`` (but those within
    ``trim`` of its ends, where the trace rounds into its neighbours): a straight edge at an extreme, whose
    least-squares line is the better estimate of it, so the pin is dropped (``pins`` is updated). The last and
    the first piece meet at the ring's start (a pin, when no corner comes first)."""

    def join(a: int, b: int, i: int) -> bool:
        q = Q[a: b + 1]
        along = (q - q[0]) @ (q[-1] - q[0]) / max(float(np.hypot(*(q[-1] - q[0]))), 1e-300)
        inner = q[(along > trim) & (along < along[-1] - trim)]
        q = inner if len(inner) >= 2 else q
        if _axis_err(q, q.mean(axis=0), _tls_direction(q)) <= allow:
            for j in (i % N, i % N + N):
                pins.pop(j, None)
            return True
        return False

    if len(pieces) > 2 and pins.get(0) is not None and pieces[-1].kind == pieces[0].kind == "line" \
            and pieces[-1].b == N and pieces[0].a == 0 and join(pieces[-1].a, pieces[0].b + N, 0):
        pieces[-1].b = pieces[0].b + N
        del pieces[0]
    k = 1
    while k < len(pieces):
        prev, cur = pieces[k - 1], pieces[k]
        if pins.get(cur.a) is not None and prev.kind == cur.kind == "line" and prev.b == cur.a \
                and join(prev.a, cur.b, cur.a):
            prev.b = cur.b
            del pieces[k]
            continue
        k += 1
    return pieces


def _tls_direction(q: np.ndarray) -> np.ndarray:
    """The unit direction of the total-least-squares line through ``q``."""
    r = q - q.mean(axis=0)
    return np.linalg.svd(r, full_matrices=False)[2][0]


def pinned_line(q: np.ndarray, a: int, pins: dict, Q: np.ndarray, fit, allow: float):
    """The line ``fit`` ``(point, unit direction)`` of the samples ``q`` (the samples ``a`` on of ``Q``), or,
    when a pin lies on it, the line along the axis through the pin if no sample strays more than ``allow``
    from that. Else a line that ends at the pin keeps its own direction (it runs inwards from the extreme;
    the join there is the pin), and one that passes it cannot be a line (None)."""
    for i, t in pins.items():
        if t is not None and a <= i < a + len(q):
            if _axis_err(q, Q[i], t) <= allow:
                return Q[i].copy(), (t if t @ fit[1] >= 0 else -t)
            return fit if i in (a, a + len(q) - 1) else None
    return fit


def arc_centre(q: np.ndarray, t0: np.ndarray, t1: np.ndarray, pinned: tuple[bool, bool]) -> np.ndarray | None:
    """The centre of the arc through both ends of ``q``: tangent to ``t0`` at its start and ``t1`` at its end
    where ``pinned`` (a circle through two points with its centre on the normal at one), else the least-squares
    one (:func:`cad.fit_pieces.arc_through`); None when the pins allow no arc."""
    if not any(pinned):
        return arc_through(q)
    a, b, t = (q[0], q[-1], t0) if pinned[0] else (q[-1], q[0], t1)
    n = np.array([-t[1], t[0]])
    d = a - b
    den = 2.0 * float(n @ d)
    if abs(den) <= 1e-12 * max(float(d @ d), 1e-300):
        return None
    c = a - float(d @ d) / den * n
    if all(pinned):  # the other end's radius must be normal to its tangent as well
        r = q[-1] - c
        if abs(float(r @ t1)) > 1e-3 * float(np.hypot(*r)):
            return None
    return c


def pinned_piece(q: np.ndarray, a: int, b: int, Q: np.ndarray, pins: dict):
    """For a piece over the samples ``a..b`` of ``Q`` (``q`` a subset of them, ends included) with a pin at
    an end, what :func:`cad.fit.fit_ring`'s cover tests it with: ``(largest distance of q from the line along
    the axis through the pin(s), the circle (centre, radius) tangent to the axis there or None)``; None when
    neither end is pinned."""
    t0, t1 = pins.get(a), pins.get(b)
    if t0 is None and t1 is None:
        return None
    line = max(_axis_err(q, Q[i], t) for i, t in ((a, t0), (b, t1)) if t is not None)
    z = np.zeros(2)
    c = arc_centre(q, t0 if t0 is not None else z, t1 if t1 is not None else z, (t0 is not None, t1 is not None))
    return line, (None if c is None else (c, float(np.hypot(*(q[0] - c)))))


def snap_joins(joins: list, pieces: list, fits: list, Q: np.ndarray, pins: dict) -> list:
    """The joins of ``pieces`` (``joins[k]`` where piece ``k`` starts) on the pins: at a pin the traced extreme
    point itself, and where a line along the axis through a pin meets another line, on the pinned one."""
    for k, p in enumerate(pieces):
        if p.a in pins:
            joins[k] = Q[p.a]
            continue
        on = [f for f, piece in ((fits[k - 1], pieces[k - 1]), (fits[k], p))
              if piece.kind == "line" and f is not None and any(
                  t is not None and piece.a <= i <= piece.b
                  and abs(cross(f[1], Q[i] - f[0])) <= 1e-12 * (1 + abs(Q[i]).max()) for i, t in pins.items())]
        if len(on) == 1:
            m, u = on[0]
            joins[k] = m + float((joins[k] - m) @ u) * u
    return joins


def arc_centres(q: np.ndarray, t0: np.ndarray, t1: np.ndarray, pinned: tuple[bool, bool],
                tangent: tuple[bool, bool]) -> list[np.ndarray]:
    """Centres of the arc through both ends of ``q`` to try in turn: tangent to ``t0``, ``t1`` at the
    ``pinned`` ends (always) and at the ``tangent`` ends (where it meets a line: G1), then at fewer of the
    latter (:func:`arc_centre`)."""
    tries = [tangent, (tangent[0], False), (False, tangent[1]), (False, False)]
    out = []
    for t in dict.fromkeys(tries):
        c = arc_centre(q, t0, t1, (pinned[0] or t[0], pinned[1] or t[1]))
        if c is not None:
            out.append(c)
    return out


def fillet_joins(joins: list, pieces: list, fits: list, corners: set, Q: np.ndarray, allow: float) -> set[int]:
    """Move the ends of each arc between two lines (no corner at its ends) onto the points where the circle of
    its radius tangent to both lines touches them (a fillet), and the pieces' ends onto the samples nearest
    them, when that circle stays within ``allow`` of the samples between them and the lines keep their
    direction; the indices of those arcs."""
    n, out = len(pieces), set()
    for k, p in enumerate(pieces):
        prev, nxt = pieces[k - 1], pieces[(k + 1) % n]
        if p.kind != "arc" or prev.kind != "line" or nxt.kind != "line" or p.a in corners or p.b in corners \
                or fits[k] is None or fits[k - 1] is None or fits[(k + 1) % n] is None or n < 4:
            continue
        (c0, r), (m0, u0), (m1, u1) = fits[k], fits[k - 1], fits[(k + 1) % n]
        det = float(cross(u0, u1))
        if abs(det) < 1e-3:
            continue
        n0, n1 = np.array([-u0[1], u0[0]]), np.array([-u1[1], u1[0]])
        s0, s1 = math.copysign(r, float(n0 @ (c0 - m0))), math.copysign(r, float(n1 @ (c0 - m1)))
        c = np.linalg.solve(np.array([n0, n1]), np.array([n0 @ m0 + s0, n1 @ m1 + s1]))
        a, b = m0 + float((c - m0) @ u0) * u0, m1 + float((c - m1) @ u1) * u1
        lo, hi = prev.a, nxt.b  # the samples of the three pieces; the arc's ends move to those nearest a and b
        if hi <= lo or k == 0 or k + 1 >= n:  # (the ring's first and last pieces are left as they are)
            continue
        ia = lo + int(np.argmin(np.hypot(*(Q[lo: hi + 1] - a).T)))
        ib = lo + int(np.argmin(np.hypot(*(Q[lo: hi + 1] - b).T)))
        if not lo < ia < ib - 2 < hi - 3 or (a - joins[k - 1]) @ u0 <= 0 or (joins[(k + 2) % n] - b) @ u1 <= 0:
            continue
        if float(np.abs(np.hypot(*(Q[ia: ib + 1] - c).T) - r).max()) > allow:
            continue
        prev.b, p.a, p.b, nxt.a = ia, ia, ib, ib
        joins[k], joins[k + 1] = a, b
        out.add(k)
    return out
