"""Refit a traced ring with the fewest lines, circular arcs and cubic Béziers within a tolerance.

On a fine working raster potrace follows the residual staircase: a straight edge arrives as a
chain of slightly bent cubics and a circle as dozens of them. :func:`fit_ring` replaces such a
ring with the fewest pieces that stay close to it:

1. The ring is sampled about every :data:`SPACING_TOL` tolerances (at most :data:`SPACING_PX`
   grains apart; the grain, :func:`fit_grain`, is a source pixel on a subject up to
   :data:`FIT_SUBJECT_PX` across, and grows with a larger one). A join of the trace where its tangent
   turns by more than :data:`CORNER_DEG` is a corner; elsewhere the tangent at a sample is the
   direction of the chord :data:`TANGENT_PX` grains either side of it, which averages out the
   trace's wobble.
2. A closed ring without corners that is a circle (least squares) becomes one circle (two arcs);
   failing that, one that is an ellipse becomes one ellipse (two halves, :func:`_full_ellipse`).
3. Otherwise each run between corners is covered greedily: from the end of the last piece, the
   farthest reach of a least-squares line, a least-squares circular arc and a cubic (ends on the
   trace, end tangents along the smoothed tangents) is found by galloping search, and the piece
   that reaches farthest is taken (a line before an arc before a cubic when it reaches nearly as
   far, :data:`PREFER_SHARE`). As each kind's error only grows with its length, this gives the
   fewest pieces. A piece may stray :data:`LS_SLACK` (lines, arcs) or :data:`CUBIC_SLACK` (cubics)
   tolerances from the trace, and on average, over :data:`BIAS_PX` grains, no more than
   :data:`MEAN_TOL`: the wobble averages out, a shape that is not the piece's kind does not. A
   line after a curve then reaches back into it as far as it holds; a ring without corners joins
   its last and first pieces when one piece covers both.
4. Lines and circles are fitted again without the samples that leave them (a rounded corner at an
   end would pull a whole side off), and a line ends where the trace leaves it. A line keeps its
   place where it meets an arc or a cubic, two lines meet at their intersection at a corner, two
   curves at the mean of their projections of the breakpoint. Arcs are the least-squares circles
   through their moved ends; an arc that barely turns is a line; cubics leave and meet lines and
   arcs along them (G1). A piece that strays more than :data:`ACCEPT_TOL` times its allowance
   becomes a cubic, and if that strays too, cubics split where they stray (Schneider).
5. A run of short pieces between two straight runs that turn sharply is removed and the lines meet
   at their intersection, when it lies within :data:`CORNER_REACH_PX` source pixels of the trace
   (potrace rounds a sharp corner); two lines between corners that one line fits become one.

The result has fewer segments than the trace (or as many, more of them lines and arcs), or None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cad import ellipse, geometry
from cad.fit_corners import sharp_corners
from cad.fit_knots import (
    arc_centres,
    extreme_pins,
    fillet_joins,
    merge_pinned_lines,
    pinned_line,
    pinned_piece,
    snap_joins,
    tangents,
)
from cad.fit_noise import smooth
from cad.fit_pieces import (
    arc_cubic,
    arc_err,
    arc_sweep,
    bias,
    chord_err,
    circle,
    cross,
    cubic,
    farthest_ok,
    kasa_circle,
    line_ctrl,
    line_err,
    merge_lines,
    samples,
    seg_tangents,
    sub,
    tls_line,
    unit,
)
from cad.fit_polish import polish

__all__ = ["FitResult", "fit_ring", "fit_grain", "default_fit_px", "arc_cubic", "DEFAULT_FIT_PX", "CORNER_DEG", "LS_SLACK"]

#: The default tolerance, in source pixels, of a subject up to FIT_SUBJECT_PX source pixels across.
DEFAULT_FIT_PX = 0.1
#: A larger subject is traced on a working raster that is coarser in its source pixels (the raster follows the
#: output size, not the image): the trace's grain (:func:`fit_grain`) is its size over this many pixels ...
FIT_SUBJECT_PX = 512.0
#: ... and the default tolerance grows as the grain to this power: a finer image's trace is closer to the shape
#: relative to the subject's size, so the tolerance grows more slowly than the grain (at four times the size,
#: one and a half times the tolerance; twice would cost fidelity).
FIT_GROWTH = 1.0 / 3.0
#: A join of the trace where the tangent turns by more than this (degrees) is a corner.
CORNER_DEG = 30.0
#: Sample spacing along the trace, in tolerances, and at most this many grains.
SPACING_TOL = 2.0
SPACING_PX = 0.2
#: The tangent at a sample is the chord from this many grains before it to as many after.
TANGENT_PX = 0.75
#: Lines and circular arcs may stray this many tolerances from the trace, cubics CUBIC_SLACK: all are
#: least-squares fits, which average out the trace's own wobble.
LS_SLACK = 1.5
CUBIC_SLACK = 1.5
#: ... and on average no more than MEAN_TOL tolerances: the trace's wobble averages out, a shape that
#: is not the piece's kind does not.
MEAN_TOL = 0.2
#: (on pieces longer than this many grains), the distances averaged over BIAS_PX grains.
MEAN_MIN_PX = 2.0
BIAS_PX = 1.5
#: An arc that turns by less than FLAT_SWEEP (radians) is a line when this share of its samples, all but some at its
#: ends, lie within the allowance of one.
FLAT_SHARE = 0.9
FLAT_SWEEP = 0.05
#: Lines and circles are fitted again to the samples whose distance from the fit is within 4.5 median
#: deviations (and at least TRIM_TOL tolerances) of the median distance.
TRIM_TOL = 0.5
#: The refit is kept when its pieces stay within this many times their allowance of the trace.
ACCEPT_TOL = 1.5
#: A simpler kind of piece is taken when it reaches within this share of the longest piece's length
#: (and at least half a grain) as far as a more complex one.
PREFER_SHARE = 0.1
#: Pieces are tested on at most this many samples (a line's, an arc's, a cubic's) while searching.
TEST_SAMPLES = {"line": 200, "arc": 120, "cubic": 60}
#: A run of short pieces (together shorter than CORNER_PIECE_PX) between two lines turning by more
#: than :data:`CORNER_DEG` is made a sharp corner when the lines meet this close to the trace
#: (source pixels: the source's anti-aliasing, not the trace's grain, rounds a corner).
CORNER_PIECE_PX = 8.0
CORNER_REACH_PX = 2.0
#: A closed ring is an ellipse when its least-squares ellipse stays within ELLIPSE_MEAN tolerances on average over
#: ELLIPSE_WINDOW of the way round: a shape that is not one (an egg, a superellipse) strays from its best ellipse
#: in lobes an eighth of the way round or longer, by ten tolerances and more at 512 px; the trace's staircase
#: averages out.
ELLIPSE_WINDOW = 1.0 / 32.0
ELLIPSE_MEAN = 0.3
#: ... and its semi-minor axis is at least this many source pixels (a JPEG's specks are not ellipses).
ELLIPSE_MIN_PX = 1.0


def fit_grain(subject_px: float) -> float:
    """The grain of the trace of a subject ``subject_px`` source pixels across, in source pixels: the length
    over which its wobble is averaged (sample spacing, tangent chords, the window of a piece's mean error)."""
    return max(1.0, float(subject_px) / FIT_SUBJECT_PX) if subject_px > 0 else 1.0


def default_fit_px(grain: float = 1.0) -> float:
    """The default tolerance in source pixels for a trace of the grain ``grain`` (:func:`fit_grain`)."""
    return DEFAULT_FIT_PX * max(1.0, grain) ** FIT_GROWTH


@dataclass(frozen=True, slots=True)
class FitResult:
    """``ctrl`` (n,4,2), ``is_line`` (n,), ``arcs`` (n,3: centre x, y, signed sweep; NaN if not an arc),
    ``deviation``: the largest distance between the refit and the trace (mm), ``ellipses`` (n,6: see
    :mod:`cad.ellipse`; NaN if not an elliptic arc)."""

    ctrl: np.ndarray
    is_line: np.ndarray
    arcs: np.ndarray
    deviation: float
    ellipses: np.ndarray | None = None


@dataclass(slots=True)
class _Piece:
    kind: str  # line, arc, cubic, split
    a: int  # first and last sample (unrolled index)
    b: int
    ctrl: np.ndarray
    arc: tuple[np.ndarray, float] | None = None  # centre, signed sweep
    err: float = 0.0
    ell: np.ndarray | None = None  # an elliptic arc's row (cad.ellipse)


def _cover(Q, lo: int, hi: int, tin, tout, tol: float, slack: float, cubic_slack: float,
           step: int, res: int, pins: dict) -> list[_Piece]:
    """Greedy cover of the samples ``lo..hi``: from each piece's end the piece of any kind that reaches farthest
    (lines and arcs at a pin along its axis: :func:`cad.fit_knots.pinned_piece`)."""
    lt, ct = slack * tol, cubic_slack * tol
    prefer = max(1, 2 * res)
    win = BIAS_PX * step * float(np.hypot(*(Q[1] - Q[0])))  # about BIAS_PX source pixels
    pieces: list[_Piece] = []
    a = lo
    while a < hi:
        def lw(b, a=a):  # the mean is held only on pieces long enough to average the wobble out
            return slack / MEAN_TOL if b - a > MEAN_MIN_PX * step else 0.0

        def line_ok(b):
            q = sub(Q, a, b, TEST_SAMPLES["line"])
            pinned = pinned_piece(q, a, b, Q, pins) if pins else None
            return (line_err(q, lt, lw(b), win) if pinned is None else pinned[0]) <= lt

        def arc_ok(b):
            if b - a < 4:
                return False
            q = sub(Q, a, b, TEST_SAMPLES["arc"])
            pinned = pinned_piece(q, a, b, Q, pins) if pins else None
            fit = kasa_circle(q) if pinned is None else pinned[1]
            return fit is not None and arc_err(q, *fit, lw(b), win, lt)[0] <= lt

        def cubic_ok(b):
            return cubic(sub(Q, a, b, TEST_SAMPLES["cubic"]), tout[a], tin[b], ct,
                         lw(b) * cubic_slack / slack, win)[1] <= ct

        rl = farthest_ok(line_ok, a, hi, step, res)
        ra = farthest_ok(arc_ok, a, hi, step, res, rl if rl > a else None) if rl < hi else rl
        rc = farthest_ok(cubic_ok, a, hi, step, res, ra if ra > a else None) if ra < hi else ra
        far = max(rl, ra, rc)
        if far <= a:  # nothing fits: cubics split where they stray (Schneider)
            b = min(a + step, hi)
            for c in geometry.fit_cubics(Q[a: b + 1], tol, tout[a], -tin[b]) or []:
                pieces.append(_Piece("split", a, b, np.asarray(c, np.float64), None, tol))
            a = b
            continue
        slack_far = far - max(prefer, PREFER_SHARE * (far - a))
        if rl > a and rl >= slack_far:
            kind, b = "line", rl
        elif ra > a and ra >= slack_far:
            kind, b = "arc", ra
        else:
            kind, b = "cubic", rc
        pieces.append(_Piece(kind, a, b, line_ctrl(Q[a], Q[b])))
        a = b
    # a line after a curve reaches back into it as far as it holds: a curve that was taken because it
    # reached a little farther must not shorten a straight run
    k = 1
    while k < len(pieces):
        cur, prev = pieces[k], pieces[k - 1]
        if cur.kind == "line" and prev.kind != "line":
            b = cur.b

            def back_ok(d):
                return line_err(sub(Q, b - d, b, TEST_SAMPLES["line"]), lt, lw(d, 0), win) <= lt
            d = farthest_ok(back_ok, 0, b - prev.a, step, res, b - cur.a)
            cur.a = prev.b = b - d
            if prev.b - prev.a < 2:
                cur.a = prev.a
                del pieces[k - 1]
                continue
        k += 1
    return pieces


def _fits_whole(Q, a: int, b: int, tin, tout, tol: float, slack: float, cubic_slack: float,
                win: float = 0.0, mean_from: float = 0.0) -> str | None:
    """The simplest kind of piece that covers the samples ``a..b`` on its own, or None."""
    lt, ct = slack * tol, cubic_slack * tol
    lw = slack / MEAN_TOL if b - a > mean_from else 0.0
    if line_err(sub(Q, a, b, TEST_SAMPLES["line"]), lt, lw, win) <= lt:
        return "line"
    q = sub(Q, a, b, TEST_SAMPLES["arc"])
    fit = kasa_circle(q)
    if fit is not None and arc_err(q, *fit, lw, win, lt)[0] <= lt:
        return "arc"
    if cubic(sub(Q, a, b, TEST_SAMPLES["cubic"]), tout[a], tin[b], ct, lw * cubic_slack / slack, win)[1] <= ct:
        return "cubic"
    return None


def _full_circle(q: np.ndarray, tol: float) -> list[_Piece] | None:
    fit = circle(q, tol)
    if fit is None:
        return None
    c, r = fit
    v = q - c
    ccw = cross(v[0], v[len(v) // 4]) > 0
    sgn = 1.0 if ccw else -1.0
    a0 = math.atan2(q[0, 1] - c[1], q[0, 0] - c[0])
    p0 = c + r * np.array([math.cos(a0), math.sin(a0)])
    p1 = c + r * np.array([math.cos(a0 + sgn * math.pi), math.sin(a0 + sgn * math.pi)])
    err = float(np.abs(np.hypot(*v.T) - r).max())
    return [_Piece("arc", 0, 0, arc_cubic(p0, p1, c, sgn * math.pi), (c, sgn * math.pi), err),
            _Piece("arc", 0, 0, arc_cubic(p1, p0, c, sgn * math.pi), (c, sgn * math.pi), err)]


def _full_ellipse(q: np.ndarray, tol: float, px: float) -> list[_Piece] | None:
    """The closed samples ``q`` as one ellipse, two halves from the ends of its major axis, when the
    least-squares ellipse stays within the allowance of a placed arc (:data:`ACCEPT_TOL` times
    :data:`LS_SLACK` tolerances) of every sample and, on average over :data:`ELLIPSE_WINDOW` of the way
    round, within :data:`ELLIPSE_MEAN` tolerances; None otherwise."""
    fit = ellipse.fit_ellipse(q)
    if fit is None:
        return None
    c, rx, ry, rot, d, t = fit
    if ry < ELLIPSE_MIN_PX * px:  # a speck: no shape to speak of
        return None
    window = max(BIAS_PX * px, ELLIPSE_WINDOW * float(np.hypot(*np.diff(q, axis=0).T).sum()))
    allow = ACCEPT_TOL * LS_SLACK * tol
    if not (float(np.abs(d).max()) <= allow and bias(d, q, window) <= ELLIPSE_MEAN * tol):
        return None
    if rx - ry <= allow:  # nearly round: a circle when it passes the same test (a trace's wobble can fail the
        round_fit = circle(q, allow)  # circle's tighter one, while its ellipse, with two more freedoms, passes)
        if round_fit is not None:
            dc = np.hypot(*(q - round_fit[0]).T) - round_fit[1]
            if bias(dc, q, window) <= ELLIPSE_MEAN * tol:
                return _full_circle(q, allow)
    step = np.diff(np.concatenate([t, t[:1]]))
    step = (step + np.pi) % (2 * np.pi) - np.pi
    if not ((step > 0).all() or (step < 0).all()):  # once round, one way
        return None
    sgn = 1.0 if step[0] > 0 else -1.0
    axis = np.array([math.cos(rot), math.sin(rot)]) * rx
    p0, p1 = c + axis, c - axis
    row = np.array([c[0], c[1], rx, ry, rot, sgn * math.pi])
    err = float(np.abs(d).max())
    return [_Piece("ellipse", 0, 0, ellipse.cubics(p0, p1, row, 1)[0], None, err, row),
            _Piece("ellipse", 0, 0, ellipse.cubics(p1, p0, row, 1)[0], None, err, row)]


def _trimmed(kind: str, q: np.ndarray, fit, tol: float):
    """The line or circle ``fit`` fitted again (twice) to the samples whose distance from it is within 4.5
    median deviations (and at least TRIM_TOL tolerances) of the median distance."""
    for _ in range(2):
        res = _residuals(kind, q, fit)
        med = float(np.median(res))
        keep = np.abs(res - med) <= max(TRIM_TOL * tol, 4.5 * float(np.median(np.abs(res - med))))
        if keep.all() or 2 * keep.sum() < len(q) or keep.sum() < 3:
            break
        refit = tls_line(q[keep]) if kind == "line" else circle(q[keep], math.inf)
        fit = refit if refit is not None else fit
    return fit


def _residuals(kind: str, q: np.ndarray, fit) -> np.ndarray:
    """Signed distances of ``q`` from the line or circle ``fit``."""
    if kind == "line":
        m, u = fit
        return cross(u, q - m)
    c, r = fit
    return np.hypot(*(q - c).T) - r


def _project(kind: str, x: np.ndarray, fit) -> np.ndarray:
    if kind == "line":
        m, u = fit
        return m + ((x - m) @ u) * u
    c, r = fit
    return c + r * unit(x - c)


def _refine(pieces: list[_Piece], Q: np.ndarray, tin, tout, corners: set[int], tol: float, slack: float,
            cubic_slack: float, px: float, pins: dict, g1_arcs: bool = False) -> list[_Piece]:
    """Least-squares lines and circles (fitted again without the samples that stray from them), joined on the
    line where a line meets an arc or a cubic, at the intersection of two lines at a corner, else at the mean
    of the two pieces' projections of the breakpoint; arcs and cubics refitted to the moved ends (:func:`_place`)."""
    n = len(pieces)
    fits: list = []
    for p in pieces:
        q = Q[p.a: p.b + 1]
        fit: Any = None
        if p.kind == "arc":
            fit = circle(q, math.inf) or kasa_circle(q)
            got = arc_sweep(q, fit[0]) if fit is not None else None
            if got is None:
                p.kind = "cubic"
            else:
                line = _trimmed("line", q, tls_line(q), tol)
                inside = np.flatnonzero(np.abs(_residuals("line", q, line)) <= slack * tol)
                if (abs(got[2]) <= FLAT_SWEEP and len(inside) >= FLAT_SHARE * len(q)
                        and inside[-1] - inside[0] + 1 == len(inside)):
                    p.kind = "line"  # flat: a line along most of it, its ends go to its neighbours
                else:
                    p.arc = (fit[0], got[2])
        if p.kind == "line":
            fit = tls_line(q)
        elif p.kind != "arc":
            fit = None
        if fit is not None:  # again on the samples that follow it: a rounded corner at an end would pull
            fit = _trimmed(p.kind, q, fit, tol)  # the whole piece off the straight run
        if p.kind == "line" and pins:  # a line through an extreme lies along the axis (cad.fit_knots)
            fit = pinned_line(q, p.a, pins, Q, fit, slack * tol)
            p.kind = "line" if fit is not None else "cubic"
        fits.append(fit)
    for k, p in enumerate(pieces):  # a line ends where the trace leaves it, not where it left the tolerance
        if p.kind != "line" or fits[k] is None:
            continue
        res = np.abs(_residuals("line", Q[p.a: p.b + 1], fits[k]))
        inside = np.flatnonzero(res <= max(TRIM_TOL * tol, 4.5 * float(np.median(res))))
        if len(inside) < 2:
            continue
        most = (p.b - p.a) // 4
        prev, nxt = pieces[k - 1], pieces[(k + 1) % n]
        head, tail = min(int(inside[0]), most), min(p.b - p.a - int(inside[-1]), most)
        if head > 0 and prev.kind != "line" and p.a not in corners:
            prev.b += head
            p.a += head
        if tail > 0 and nxt.kind != "line" and p.b not in corners and nxt.a >= tail:
            nxt.a -= tail
            p.b -= tail
    joins = snap_joins([_join(pieces[k - 1], pieces[k], fits[k - 1], fits[k], Q) for k in range(n)], pieces, fits, Q, pins)
    filleted = fillet_joins(joins, pieces, fits, corners | set(pins), Q, slack * tol) if g1_arcs else set()
    out = []
    for k, p in enumerate(pieces):
        # a cubic leaves and meets a line or an arc along it (G1), except at a corner of the trace
        t0 = tout[p.a] if p.a in corners else _end_tangent(pieces[k - 1], fits[k - 1], joins[k], tout[p.a])
        t1 = tin[p.b] if p.b in corners else -_end_tangent(pieces[(k + 1) % n], fits[(k + 1) % n],
                                                           joins[(k + 1) % n], -tin[p.b], start=True)
        out.append(_place(p, joins[k], joins[(k + 1) % n], Q, t0, t1, tol, slack, cubic_slack, px,
                          (pins.get(p.a) is not None, pins.get(p.b) is not None),
                          (g1_arcs and pieces[k - 1].kind == "line" and p.a not in corners or k in filleted,
                           g1_arcs and pieces[(k + 1) % n].kind == "line" and p.b not in corners or k in filleted)))
    return [p for group in out for p in group]


def _end_tangent(p: _Piece, fit, x: np.ndarray, other: np.ndarray, *, start: bool = False) -> np.ndarray:
    """The unit tangent of the line or arc ``p`` at its end ``x`` (pointing along ``p``; with ``start``,
    at its start and pointing back out of it); ``other`` for a cubic."""
    if fit is None or p.kind not in ("line", "arc"):
        return other
    if p.kind == "line":
        u = fit[1]
    else:
        assert p.arc is not None
        r = x - fit[0]
        u = unit(np.array([-r[1], r[0]]) * (1.0 if p.arc[1] > 0 else -1.0))
    return -u if start else u


def _join(prev: _Piece, cur: _Piece, f0, f1, Q: np.ndarray) -> np.ndarray:
    """The point where ``prev`` meets ``cur``."""
    x = cur.ctrl[0] if "split" in (prev.kind, cur.kind) else Q[cur.a]  # split cubics share a sample range
    if prev.kind == "line" and cur.kind == "line":
        (m0, u0), (m1, u1) = f0, f1
        den = cross(u0, u1)
        if abs(den) > math.sin(math.radians(CORNER_DEG)):
            return m0 + cross(m1 - m0, u1) / den * u0
    a = _project(prev.kind, x, f0) if f0 is not None else None
    b = _project(cur.kind, x, f1) if f1 is not None else None
    if a is not None and b is not None and (prev.kind == "line") != (cur.kind == "line"):
        return a if prev.kind == "line" else b  # a line stays where the straight run is; the arc follows
    if a is None:
        return x if b is None else b
    if b is None:
        return a
    return 0.5 * (a + b)


def _place(p: _Piece, p0: np.ndarray, p1: np.ndarray, Q: np.ndarray, t0: np.ndarray, t1: np.ndarray,
           tol: float, slack: float, cubic_slack: float, px: float, pinned=(False, False),
           tangent=(False, False)) -> list[_Piece]:
    """The piece ``p`` from ``p0`` to ``p1`` (an arc tangent to ``t0``, ``t1`` at ``pinned`` ends, and where it
    can at ``tangent`` ones: :func:`cad.fit_knots.arc_centres`): as its kind, or a cubic leaving along ``t0``
    and arriving along ``t1`` if it strays too far, or cubics split where they stray (Schneider) if that does too."""
    q = Q[p.a: p.b + 1].copy()
    q[0], q[-1] = p0, p1
    kind, arc, err = p.kind, None, math.inf
    allow = ACCEPT_TOL * tol * (slack if kind in ("line", "arc") else cubic_slack)
    if kind == "line":
        ctrl, err = line_ctrl(p0, p1), chord_err(q, p0, p1, slack * tol)
    elif kind == "arc":
        assert p.arc is not None
        ctrl = line_ctrl(p0, p1)
        for c in arc_centres(q, t0, t1, pinned, tangent):
            e, sw = arc_err(q, c, float(np.hypot(*(p0 - c))))
            # the moved centre must keep the arc's turn (else it becomes a cubic below)
            if e < err and sw * p.arc[1] > 0 and abs(sw - p.arc[1]) <= 0.25 * abs(p.arc[1]) + 0.05:
                ctrl, arc, err = arc_cubic(p0, p1, c, max(-math.pi, min(math.pi, sw))), (c, sw), e
            if err <= allow:
                break
    elif kind == "cubic":
        ctrl, err = cubic(sub(q, 0, len(q) - 1, 400), t0, t1)
    else:  # a split cubic: its ends follow the joins
        ctrl = p.ctrl.copy()
        d0, d1 = p0 - ctrl[0], p1 - ctrl[3]
        ctrl[:2] += d0
        ctrl[2:] += d1
        err = p.err + max(float(np.hypot(*d0)), float(np.hypot(*d1)))
    if not err <= allow and kind in ("line", "arc"):
        ctrl, err = cubic(sub(q, 0, len(q) - 1, 400), t0, t1)
        kind, arc = "cubic", None
    line_err_ = chord_err(q, p0, p1, slack * tol) if kind == "cubic" and not err <= allow else math.inf
    if line_err_ <= ACCEPT_TOL * tol * slack:  # a straight run between two corners that potrace rounded: a cubic
        ctrl, err, kind = line_ctrl(p0, p1), line_err_, "line"  # held to its neighbours' tangents cannot follow it
    # a short piece rounding a corner may stray as far as a sharpened corner may; a chord if closer (a flat end)
    chord = float(np.hypot(*(p1 - p0)))
    short = chord <= CORNER_PIECE_PX * px
    if short and kind == "cubic" and not err <= CORNER_REACH_PX * px:
        ctrl = np.array([p0, p0 + t0 * chord / 3, p1 - t1 * chord / 3, p1])
        curve = geometry.bernstein(np.linspace(0.0, 1.0, 33)) @ ctrl
        err = float(np.sqrt(((q[:, None, :] - curve[None, :, :]) ** 2).sum(axis=2).min(axis=1)).max())
        if (straight := chord_err(q, p0, p1, CORNER_REACH_PX * px)) < err:  # two corners, not a bulge past them
            kind, ctrl, err = "line", line_ctrl(p0, p1), straight
    if (err <= ACCEPT_TOL * tol * cubic_slack or (kind in ("line", "arc") and err <= allow)
            or (short and err <= CORNER_REACH_PX * px)):
        return [_Piece(kind, p.a, p.b, ctrl, arc, err)]
    # split where it strays, allowing for how far the joins moved off the trace (else it splits at its ends)
    moved = max(float(np.hypot(*(p0 - Q[p.a]))), float(np.hypot(*(p1 - Q[p.b]))))
    split_tol = max(cubic_slack * tol, min(1.25 * moved, ACCEPT_TOL * cubic_slack * tol))
    cs = geometry.fit_cubics(q, split_tol, t0, -t1) if len(q) > 2 else None
    if not cs:
        return [_Piece("split", p.a, p.b, line_ctrl(p0, p1), None, chord_err(q, p0, p1, math.inf))]
    return [_Piece("split", p.a, p.b, np.asarray(c, np.float64), None, split_tol) for c in cs]


def _sharpen(pieces: list[_Piece], Q: np.ndarray, px: float) -> float:
    """Remove a run of short pieces between two lines that turn sharply, extending the lines to their
    intersection when it lies near the trace; returns the largest distance of such a corner from the trace."""
    worst = 0.0
    k = 0
    while len(pieces) > 3 and k < len(pieces):
        prev = pieces[k - 1]
        done = False
        if prev.kind == "line":
            length = 0.0
            for r in range(1, 4):  # the run pieces[k .. k + r - 1]
                if len(pieces) - r < 3:
                    break
                mid = pieces[(k + r - 1) % len(pieces)]
                length += float(np.hypot(*(mid.ctrl[3] - mid.ctrl[0])))
                nxt = pieces[(k + r) % len(pieces)]
                if length > CORNER_PIECE_PX * px or nxt is prev:
                    break
                if nxt.kind != "line":
                    continue
                u, v = unit(prev.ctrl[3] - prev.ctrl[0]), unit(nxt.ctrl[3] - nxt.ctrl[0])
                lp, ln = (float(np.hypot(*(x.ctrl[3] - x.ctrl[0]))) for x in (prev, nxt))
                turn = math.degrees(abs(math.atan2(cross(u, v), float(u @ v))))
                den = cross(u, v)
                if turn <= CORNER_DEG or min(lp, ln) < length or abs(den) < 1e-12:
                    continue
                t = cross(nxt.ctrl[0] - prev.ctrl[3], v) / den
                x = prev.ctrl[3] + t * u
                s = -cross(prev.ctrl[3] - nxt.ctrl[0], u) / den  # along v from nxt's start
                first, last = pieces[k], mid
                run = Q[first.a: last.b + 1] if first.a <= last.b else np.concatenate([Q[first.a:], Q[: last.b + 1]])
                if not len(run):
                    continue
                near = float(np.hypot(*(run - x).T).min())
                if t >= -1e-9 and s <= 1e-9 and near <= CORNER_REACH_PX * px:
                    prev.ctrl = line_ctrl(prev.ctrl[0], x)
                    nxt.ctrl = line_ctrl(x, nxt.ctrl[3])
                    worst = max(worst, near)
                    for _ in range(r):
                        del pieces[k % len(pieces)]
                        if k >= len(pieces):
                            k = 0
                    done = True
                    break
        if not done:
            k += 1
    return worst


def fit_ring(ctrl: np.ndarray, tol: float, *, px: float | None = None, grain: float | None = None,
             ellipses: bool = True, smooth_px: float = 0.0, extremes: tuple[int, ...] = (),
             g1_arcs: bool = False, restore_corners: bool = False) -> FitResult | None:
    """Refit the closed ring ``ctrl`` (n, 4, 2) within ``tol``; ``px`` is one source pixel in the same units
    (for corners, which the source's anti-aliasing rounds), ``grain`` the trace's grain (:func:`fit_grain`;
    default ``px``), over which its wobble is averaged. None when the refit would not have fewer segments
    than the trace. ``ellipses=False`` leaves out elliptic arcs (for callers that only keep lines, arcs and
    cubics). With ``smooth_px``, the trace is first smoothed between its corners over that many source
    pixels either side of each point (:func:`cad.fit_noise.smooth`), so the fit follows the shape, not the
    noise of the trace. ``extremes``: the sides of the ring's bounding box (0 to 3: xmin, ymin, xmax, ymax) whose
    extreme points are knots with the tangent along the axis (:mod:`cad.fit_knots`), so the fit keeps them.
    ``g1_arcs``: arcs meet lines tangentially where they can (fillets), not bulging past a straight edge.
    ``restore_corners``: corners the trace rounded are made sharp first (:mod:`cad.fit_corners`)."""
    ctrl = np.asarray(ctrl, np.float64)
    n = len(ctrl)
    if n < 2 or not tol > 0 or not np.isfinite(ctrl).all():
        return None
    px = px if px is not None else tol / DEFAULT_FIT_PX
    grain = grain if grain is not None else px
    spacing = min(SPACING_TOL * tol, SPACING_PX * grain)
    q, starts, seg, _ = samples(ctrl, spacing)
    N = len(q)
    st, en = seg_tangents(ctrl)
    prev_end = np.roll(en, 1, axis=0)
    turn = np.degrees(np.abs(np.arctan2(cross(prev_end, st), (prev_end * st).sum(axis=1))))
    corner = turn > CORNER_DEG
    pieces: list[_Piece] | None = None
    deviation = shift = 0.0
    if smooth_px > 0 and N > 4:
        raw = q
        step_len = float(np.hypot(*np.diff(q, axis=0).T).mean())
        q = smooth(q, starts[corner], int(round(smooth_px * px / max(step_len, 1e-300))))
        t = np.roll(raw, -1, axis=0) - np.roll(raw, 1, axis=0)  # across the trace: sliding along it moves nothing
        shift = float((np.abs(cross(t, q - raw)) / np.maximum(np.hypot(*t.T), 1e-300)).max())
    if not corner.any():
        pieces = _full_circle(q, LS_SLACK * tol)
        if pieces is None and ellipses:
            pieces = _full_ellipse(q, tol, px)
    q, corner_move = (sharp_corners(q, starts[corner], px, spacing, CORNER_REACH_PX * px, tol, CORNER_DEG)
                      if restore_corners and corner.any() else (q, 0.0))
    w = max(1, int(round(TANGENT_PX * grain / spacing)))
    pins: dict = {}  # the extremes kept as knots (cad.fit_knots)
    if pieces is None and extremes:
        q, pins = extreme_pins(q, raw if smooth_px > 0 and N > 4 else q, geometry.curve_bounds(ctrl), extremes, starts[corner],
                               w, LS_SLACK * tol, max(w, round(CORNER_REACH_PX * px / spacing)), CORNER_DEG)
    if pieces is None:
        knots = sorted(set(starts[corner].tolist()) | set(pins))
        s0 = int(knots[0]) if knots else 0
        pins = {(i - s0) % N + lap: t for i, t in pins.items() for lap in (0, N)}
        Q = np.concatenate([q[s0:], q[:s0], q[s0:], q[:s0], q[s0:s0 + 1]])  # two laps from the first corner
        cuts = sorted({int(c) for c in (starts[corner] - s0) % N} | {0, N} | {i for i in pins if i < N})
        tin, tout = tangents(Q, cuts, N, w, not corner.any(), pins)
        step = max(2, int(round(grain / spacing)))
        res = max(1, int(round(0.25 * grain / spacing)))
        cover: list[_Piece] = []
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            cover += _cover(Q, lo, hi, tin, tout, tol, LS_SLACK, CUBIC_SLACK, step, res, pins)
        cover = merge_pinned_lines(cover, Q, N, pins, LS_SLACK * tol, CORNER_REACH_PX * px)
        if not corner.any() and not pins and len(cover) > 2:  # the start was arbitrary: join the last and first pieces
            last, first = cover[-1], cover[0]
            kind = _fits_whole(Q, last.a, first.b + N, tin, tout, tol, LS_SLACK, CUBIC_SLACK)
            if kind is not None and first.kind != "split" and last.kind != "split":
                cover = [_Piece(kind, last.a, first.b + N, line_ctrl(Q[last.a], Q[first.b + N]))] + cover[1:-1]
        if len(cover) < 2:
            return None
        pieces = _refine(cover, Q, tin, tout, set(cuts), tol, LS_SLACK, CUBIC_SLACK, px, pins, g1_arcs)
        deviation = max(_sharpen(pieces, Q, px), corner_move)
        merge_lines(pieces, Q, N, LS_SLACK * tol, CORNER_DEG, CORNER_REACH_PX * px)
        polish(pieces, Q, N, step, {"line": ACCEPT_TOL * LS_SLACK * tol, "arc": ACCEPT_TOL * LS_SLACK * tol,
                                    "cubic": ACCEPT_TOL * CUBIC_SLACK * tol}, {c % N for c in cuts} if corner.any() or pins else set())
    simple = sum(p.kind in ("line", "arc", "ellipse") for p in pieces)
    handles = np.abs(cross(ctrl[:, 1:3] - ctrl[:, :1], (ctrl[:, 3] - ctrl[:, 0])[:, None, :])).max(axis=1)
    straight = int((handles <= 1e-9 * np.hypot(*(ctrl[:, 3] - ctrl[:, 0]).T) + 1e-300).sum())
    if len(pieces) > n or (len(pieces) == n and simple <= straight):  # no fewer, nor simpler, pieces
        return None
    deviation = shift + max(deviation, max(p.err for p in pieces))
    out = np.array([p.ctrl for p in pieces])
    out[1:, 0] = out[:-1, 3]
    out[0, 0] = out[-1, 3]
    arcs = np.full((len(pieces), 3), np.nan)
    for k, p in enumerate(pieces):
        if p.arc is not None:
            arcs[k] = (p.arc[0][0], p.arc[0][1], p.arc[1])
    ells = None
    if any(p.ell is not None for p in pieces):
        ells = np.array([np.full(6, np.nan) if p.ell is None else p.ell for p in pieces])
    is_line = np.array([p.kind == "line" for p in pieces], dtype=np.bool_)
    return FitResult(out, is_line, arcs, float(deviation), ells)
