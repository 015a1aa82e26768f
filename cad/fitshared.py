"""Fit the shared boundaries of a colour partition with the fitting stage's lines, arcs and cubics.

In the colour mode neighbouring colours share their boundaries exactly (:mod:`cad.partition`): a
boundary is cut at its junctions (where three or more colours, or a colour and the outside, meet)
into chains, and each chain is fitted once; both colours use the same curve, one of them reversed.
:class:`ChainFitter` fits one such chain (an open polyline in mm whose ends stay fixed, or a closed
loop) with :func:`cad.fit.fit_ring`:

* a closed loop that is a circle becomes one (two half turns from the loop's first point), and so
  does one that is an ellipse (the ellipse about the same centre through that point);
* an open chain, or any other loop, is fitted as a ring: the chain, then a short way back (a step
  back along its end, across, a step onto its start). The ring turns by 180° at the chain's ends,
  so they are forced breakpoints and the cover of the chain does not depend on the way back. The pieces along the chain are kept and
  their ends are moved back onto the junctions (a line stays a line, an arc is the circle through
  its moved ends and its mid-point, a cubic's handle moves with its end), so every chain meeting
  at a junction ends on the same point.

:class:`ChainFitter` tries each chain smoothed over a long window, a shorter one, then as traced (a
boundary traced from a label raster meanders about the edge over a few pixels), a wobbling one at its own
tolerance first, and declines a fit that moves the chain or pushes the subject's extent out.

A fit is kept only when it has fewer segments than the chain and stays as close to it, both ways
(sampled, so a lost or looped piece is seen), as the ring's fit may stray from what it refits:
:data:`ACCEPT_TOL` tolerances, or as far as :func:`cad.fit.fit_ring` reports (a corner it sharpened),
plus how far that trace lies from the chain; otherwise the caller's fallback fits the chain.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from cad import ellipse, geometry
from cad.fit import LS_SLACK, arc_cubic, fit_ring
from cad.fit_noise import SHIFT_TOLS, local_shift
from cad.fit_pieces import wobble

__all__ = ["ChainFitter", "Curve", "fit_chain", "pushes_extent", "reverse_curve", "split_arcs", "ACCEPT_TOL"]

#: A fitted chain is kept when it stays within this many tolerances of what it refits, both ways
#: (lines and arcs are least-squares fits and may stray :data:`cad.fit.LS_SLACK` tolerances), or within
#: the ring fit's own deviation (a sharpened corner), plus the refitted trace's distance from the chain.
ACCEPT_TOL = 1.5 * LS_SLACK
#: The way back of an open chain starts and ends with a step this many tolerances long.
DETOUR_TOL = 8.0
#: A chain is smoothed over these many grains either side of each point before it is fitted, the longest window
#: first (:func:`cad.fit_noise.smooth`: a label raster's staircase, traced, meanders about the edge over a few
#: pixels; the smoothing takes the meander out without moving the shape, and leaves tips and tight turns as
#: they are), the last as traced. A smoothed fit is kept only when it moves no stretch of the chain, averaged over
#: its window, by more than :data:`cad.fit_noise.SHIFT_TOLS` default tolerances (:func:`cad.fit_noise.local_shift`),
#: as a noisy image's smoothed outline.
SMOOTH_GRAINS = (8.0, 4.0, 0.0)
#: A chain whose trace wobbles (:func:`cad.fit_pieces.wobble`: an aliased image's staircase) is fitted within
#: NOISE_TOL times its wobble first, at most NOISE_CAP times the fit's tolerance, as a single outline is.
NOISE_TOL = 10.0
NOISE_CAP = 3.0
#: A moved arc may change its sweep by at most this fraction (plus 0.05 rad), else the fit is refused.
SWEEP_CHANGE = 0.25

#: A fitted curve: ``ctrl`` (n,4,2), ``is_line`` (n,), ``arcs`` (n,3: centre, signed sweep; NaN rows
#: for non-arcs) or None; ``arcs`` is (n,9) when the curve has elliptic arcs: those three columns, then
#: an elliptic arc's row of :mod:`cad.ellipse` (NaN rows elsewhere). See :func:`split_arcs`.
Curve = tuple[np.ndarray, np.ndarray, np.ndarray | None]


def split_arcs(arcs: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """A curve's ``arcs`` as the circular (n,3) and elliptic (n,6) rows of :class:`cad.regions.Ring`."""
    if arcs is None:
        return None, None
    return arcs[:, :3], (arcs[:, 3:] if arcs.shape[1] > 3 else None)


def _line_ctrl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([a, a + (b - a) / 3, a + 2 * (b - a) / 3, b])


def _polyline_ctrl(p: np.ndarray) -> np.ndarray:
    return np.stack([p[:-1], p[:-1] + (p[1:] - p[:-1]) / 3, p[:-1] + 2 * (p[1:] - p[:-1]) / 3, p[1:]], axis=1)


def reverse_curve(curve: Curve) -> Curve:
    """The same curve traversed the other way (an arc's sweep changes sign)."""
    ctrl, is_line, arcs = curve
    c, l = geometry.reverse(ctrl, is_line)
    if arcs is None:
        return c, l, None
    a = arcs[::-1].copy()
    a[:, 2] = -a[:, 2]
    if a.shape[1] > 3:
        a[:, 8] = -a[:, 8]
    return c, l, a


def _circumcentre(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray | None:
    d = 2.0 * (a[0] * (b[1] - c[1]) + b[0] * (c[1] - a[1]) + c[0] * (a[1] - b[1]))
    if abs(d) < 1e-300:
        return None
    aa, bb, cc = a @ a, b @ b, c @ c
    return np.array([(aa * (b[1] - c[1]) + bb * (c[1] - a[1]) + cc * (a[1] - b[1])) / d,
                     (aa * (c[0] - b[0]) + bb * (a[0] - c[0]) + cc * (b[0] - a[0])) / d])


def _moved_arc(p0: np.ndarray, p1: np.ndarray, ctrl: np.ndarray, arc: np.ndarray):
    """The arc ``ctrl``/``arc`` with its ends moved to ``p0`` and ``p1``: the circle through them and the
    arc's mid-point, turning the same way; (ctrl row, arc row) or None if the turn changes much."""
    c, sweep = arc[:2], float(arc[2])
    r0 = ctrl[0] - c
    h = 0.5 * sweep
    mid = c + np.array([r0[0] * math.cos(h) - r0[1] * math.sin(h), r0[0] * math.sin(h) + r0[1] * math.cos(h)])
    centre = _circumcentre(p0, mid, p1)
    if centre is None:
        return None
    a0 = math.atan2(p0[1] - centre[1], p0[0] - centre[0])
    a1 = math.atan2(p1[1] - centre[1], p1[0] - centre[0])
    new = (a1 - a0) % (2 * math.pi) if sweep > 0 else -((a0 - a1) % (2 * math.pi))
    if abs(new - sweep) > SWEEP_CHANGE * abs(sweep) + 0.05:
        return None
    row = arc_cubic(p0, p1, centre, max(-math.pi, min(math.pi, new)))
    return row, np.array([centre[0], centre[1], new])


def _pin_ends(curve: Curve, p0: np.ndarray, p1: np.ndarray) -> Curve | None:
    """``curve`` with its first point moved to ``p0`` and its last to ``p1``; None if an arc would not follow."""
    ctrl, is_line, arcs = curve
    ctrl = ctrl.copy()
    arcs = None if arcs is None else arcs.copy()
    for k, end, p in ((0, 0, p0), (len(ctrl) - 1, 3, p1)):
        a, b = ctrl[k, 0].copy(), ctrl[k, 3].copy()
        if end == 0:
            a = p
        else:
            b = p
        if arcs is not None and np.isfinite(arcs[k, 2]):
            moved = _moved_arc(a, b, ctrl[k], arcs[k])
            if moved is None:
                return None
            ctrl[k], arcs[k] = moved
        elif is_line[k]:
            ctrl[k] = _line_ctrl(a, b)
        else:
            d = p - ctrl[k, end]
            ctrl[k, end] += d
            ctrl[k, 1 if end == 0 else 2] += d
    ctrl[1:, 0] = ctrl[:-1, 3]
    return ctrl, is_line, arcs


def _deviation(curve: Curve, p: np.ndarray, tol: float) -> float:
    """The largest distance between ``curve`` and the polyline ``p``, both ways (sampled at ``tol / 4``)."""
    ctrl, is_line, arcs = curve
    pts = np.vstack([geometry.flatten(ctrl, is_line, 0.25 * tol, *split_arcs(arcs)), ctrl[-1, 3][None]])
    fitted = shapely.LineString(pts)
    chain = shapely.LineString(p)
    # the chain's vertices and points between them (a chord's middle is where a polyline strays most)
    mids = np.vstack([p, 0.5 * (p[:-1] + p[1:])])
    there = shapely.distance(shapely.points(mids), fitted).max()
    back = shapely.distance(shapely.points(pts), chain).max()
    return float(max(there, back))


def _circle_from(p0: np.ndarray, res) -> Curve | None:
    """A closed chain that :func:`fit_ring` made a circle, as two half turns starting at ``p0`` (the
    circle about the same centre through ``p0``); None if it is not a circle."""
    if res is None or len(res.ctrl) != 2 or res.arcs is None or not np.isfinite(res.arcs[:, 2]).all():
        return None
    c, sweep = res.arcs[0, :2], math.copysign(math.pi, float(res.arcs[0, 2]))
    r0 = p0 - c
    p1 = c - r0
    ctrl = np.array([arc_cubic(p0, p1, c, sweep), arc_cubic(p1, p0, c, sweep)])
    return ctrl, np.zeros(2, bool), np.array([[c[0], c[1], sweep], [c[0], c[1], sweep]])


def _ellipse_from(p0: np.ndarray, res) -> Curve | None:
    """A closed chain that :func:`fit_ring` made an ellipse, as two halves starting at ``p0`` (the ellipse
    about the same centre, scaled to pass through ``p0``); None if it is not an ellipse."""
    if res is None or res.ellipses is None or len(res.ctrl) != 2 or not np.isfinite(res.ellipses[:, 5]).all():
        return None
    row = res.ellipses[0].copy()
    c, A = ellipse.affine(row)
    scale = float(np.hypot(*np.linalg.solve(A, p0 - c)))
    if not scale > 0:
        return None
    row[2:4] *= scale
    p1 = 2 * c - p0  # the opposite point: an ellipse is symmetric about its centre
    ctrl = np.array([ellipse.cubics(p0, p1, row, 1)[0], ellipse.cubics(p1, p0, row, 1)[0]])
    return ctrl, np.zeros(2, bool), np.array([np.concatenate([np.full(3, np.nan), row])] * 2)


def _with_ellipses(res) -> Curve:
    """A :class:`cad.fit.FitResult` as a curve (its elliptic arcs as the columns of :data:`Curve`)."""
    if res.ellipses is None:
        return res.ctrl, res.is_line, res.arcs
    return res.ctrl, res.is_line, np.concatenate([res.arcs, res.ellipses], axis=1)


def _rotated(res, p0: np.ndarray) -> Curve | None:
    """A fitted closed ring started at its join nearest ``p0``, that join moved onto ``p0``."""
    if res is None or res.ellipses is not None:  # (an ellipse is not moved piece by piece)
        return None
    k = int(np.argmin(np.hypot(*(res.ctrl[:, 0] - p0).T)))
    return _pin_ends((np.roll(res.ctrl, -k, axis=0), np.roll(res.is_line, -k), np.roll(res.arcs, -k, axis=0)), p0, p0)


def _end_tangents(ctrl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit tangents out of the first point of ``ctrl`` and into its last (the first non-zero handle)."""
    def first(vs):
        for v in vs:
            n = float(np.hypot(*v))
            if n > 0:
                return v / n
        return np.array([1.0, 0.0])
    c0, c1 = ctrl[0], ctrl[-1]
    return first([c0[1] - c0[0], c0[2] - c0[0], c0[3] - c0[0]]), first([c1[3] - c1[2], c1[3] - c1[1], c1[3] - c1[0]])


def _way_back(ctrl: np.ndarray, step: float) -> np.ndarray:
    """Three lines from the end of ``ctrl`` back to its start: a step back along the end, across, and a
    step onto the start against its direction, so the ring turns by 180° at both ends of ``ctrl``."""
    t0, t1 = _end_tangents(ctrl)
    a, b = ctrl[-1, 3], ctrl[0, 0]
    return _polyline_ctrl(np.array([a, a - step * t1, b + step * t0, b]))


def _allowance(res, tol: float) -> float:
    """How far the ring fit ``res`` may stray from what it refitted: :data:`ACCEPT_TOL` tolerances, or its own
    reported deviation (a corner it sharpened may lie a source pixel or two out)."""
    return max(ACCEPT_TOL * tol, float(res.deviation) if res is not None else 0.0)


def fit_chain(points: np.ndarray, tol: float, *, px: float, grain: float | None = None,
              trace: np.ndarray | None = None, loop: bool = False, smooth_px: float = 0.0) -> tuple[Curve, float] | None:
    """Fit the polyline ``points`` (m, 2) within ``tol`` (``px``: one source pixel, same units) with lines,
    circular arcs and cubics; its ends stay where they are. A chain whose ends coincide is a closed loop;
    with ``loop`` it is a ring with no junction on it, whose fit may start anywhere. ``grain`` (same units,
    default ``px``) is the length over which the chain's wobble is averaged (:func:`cad.fit.fit_grain`).

    ``trace`` (n,4,2), cubics close to the chain from its first point to its last, is what
    :func:`cad.fit.fit_ring` refits (its joins are the candidate breakpoints: far fewer than the
    polyline's vertices); by default the polyline's own edges. Returns (curve, deviation from the
    chain), or None when the fit has more segments than ``trace`` or strays."""
    p = np.asarray(points, np.float64)
    keep = np.concatenate([[True], np.hypot(*np.diff(p, axis=0).T) > 0])
    p = p[keep]
    closed = bool(np.array_equal(p[0], p[-1]))
    if len(p) < (4 if closed else 3) or not tol > 0:
        return None
    fwd = _polyline_ctrl(p) if trace is None else np.asarray(trace, np.float64)
    # what the fit may stray from the chain: its allowance from the trace it refits, plus the trace's own distance
    off = 0.0 if trace is None else _deviation((fwd, np.zeros(len(fwd), bool), None), p, tol)
    curve: Curve | None = None
    if closed and len(fwd) >= 3:  # a circle, or the ring's own fit started on the chain's first point
        res = fit_ring(fwd, tol, px=px, grain=grain, smooth_px=smooth_px)
        if loop:
            curve = None if res is None else _with_ellipses(res)
        else:
            curve = _circle_from(p[0], res) or _ellipse_from(p[0], res) or _rotated(res, p[0])
        if curve is not None and not _deviation(curve, p, tol) <= _allowance(res, tol) + off:
            curve = None
    if curve is None:
        res = fit_ring(np.concatenate([fwd, _way_back(fwd, DETOUR_TOL * tol)]), tol, px=px, grain=grain,
                       ellipses=False, smooth_px=smooth_px)
        if res is None or len(res.ctrl) < 2:
            return None
        ends = res.ctrl[:-1, 3]
        k = int(np.argmin(np.hypot(*(ends - p[-1]).T)))  # the last piece along the chain
        curve = _pin_ends((res.ctrl[: k + 1], res.is_line[: k + 1], res.arcs[: k + 1]), p[0], p[-1])
    if curve is None or len(curve[0]) > len(fwd) or (closed and len(curve[0]) < (3 if curve[1].all() else 2)):
        return None
    dev = _deviation(curve, p, tol)
    if not dev <= _allowance(res, tol) + off:
        return None
    ctrl, is_line, arcs = curve
    if arcs is not None and not np.isfinite(arcs[:, 2]).any() and not (arcs.shape[1] > 3 and np.isfinite(arcs[:, 8]).any()):
        return (ctrl, is_line, None), dev
    return (ctrl, is_line, arcs), dev


class ChainFitter:
    """Fit the chains of a partition with :func:`fit_chain`, refitting the curves that ``fallback(points,
    tol)`` (which returns ``(ctrl, is_line)``, e.g. :func:`cad.geometry.fit_arc`) makes at the fit's
    tolerance; where the fit declines, the chain is ``fallback``'s at ``tol``.

    A chain's tolerance is the fit's, as for a single outline (its least-squares lines and arcs may
    stray :data:`cad.fit.LS_SLACK` times as far), up to ``wide``. A wider one (a boundary known only to
    the precision of a label raster) already covers the trace's wobble: the fit's lines and arcs are
    kept within it (the fit runs at ``tol / LS_SLACK``, not below ``wide``). ``grain`` is the length over
    which a chain's wobble is averaged (:func:`cad.fit.fit_grain`, default ``px``).
    Remembers the largest deviation of the kept fits and counts the fitted and fallen-back chains."""

    def __init__(self, *, px: float, fallback, wide: float = math.inf, grain: float | None = None,
                 extent: tuple[float, float, float, float] | None = None) -> None:
        self.px = px
        self.grain = px if grain is None else grain
        self.fallback = fallback
        self.wide = wide
        self.extent = extent
        self.deviation = 0.0
        self.fitted = 0
        self.fell_back = 0

    def __call__(self, points: np.ndarray, tol: float, *, loop: bool = False) -> Curve:
        fit_tol = tol if tol <= self.wide else max(tol / LS_SLACK, self.wide)
        p = np.asarray(points, np.float64)
        # a chain that wobbles more than the tolerance allows for (an aliased edge's staircase) is tried at its
        # own tolerance first, halved down to the fit's
        rungs = [fit_tol]
        noisy = min(NOISE_TOL * wobble(_polyline_ctrl(p), self.px), NOISE_CAP * fit_tol) if len(p) > 2 else 0.0
        while noisy > fit_tol:
            rungs.insert(len(rungs) - 1, noisy)
            noisy /= 2
        got = None
        for t in rungs:
            trace, _ = self.fallback(points, t)
            for grains in SMOOTH_GRAINS:  # smoothed over a long window first, then shorter, then as traced
                smooth = grains * self.grain
                got = fit_chain(points, t, px=self.px, grain=self.grain, trace=trace, loop=loop,
                                smooth_px=smooth / self.px)
                d = min(t, self.wide)  # the extremes keep to the default tolerance, as a single outline's do
                if got is not None and self.extent is not None and pushes_extent(
                        got[0], points, self.extent, LS_SLACK * d, d if smooth > 0 else LS_SLACK * d):
                    got = None
                if got is not None and smooth > 0 and not _keeps_shape(got[0], p, smooth, min(t, self.wide)):
                    got = None
                if got is not None:
                    break
            if got is not None:
                break
        if got is None:
            self.fell_back += 1
            ctrl, is_line = self.fallback(points, tol)
            return ctrl, is_line, None
        curve, dev = got
        self.fitted += 1
        self.deviation = max(self.deviation, dev)
        return curve


def _keeps_shape(curve: Curve, p: np.ndarray, smooth: float, tol: float) -> bool:
    """Whether the fitted ``curve`` of the chain ``p`` moves no stretch of it, averaged over the smoothing window
    (``2 * smooth``), by more than :data:`cad.fit_noise.SHIFT_TOLS` tolerances: for an open chain, the area
    between the two (its ends are the same) per length; for a closed one, the symmetric difference."""
    ctrl, is_line, arcs = curve
    pts = np.vstack([geometry.flatten(ctrl, is_line, 0.25 * tol, *split_arcs(arcs)), ctrl[-1, 3][None]])
    if np.array_equal(p[0], p[-1]):
        return local_shift(pts, p, 2 * smooth) <= SHIFT_TOLS * tol
    loop = shapely.make_valid(shapely.Polygon(np.vstack([pts, p[::-1]])))
    parts = shapely.get_parts(loop)
    parts = parts[shapely.area(parts) > 0]
    if not len(parts):
        return True
    return float((shapely.area(parts) / np.maximum(0.5 * shapely.length(parts), 2 * smooth)).max()) <= SHIFT_TOLS * tol


def pushes_extent(curve: Curve, points: np.ndarray, extent: tuple[float, float, float, float], reach: float,
                  inward: float = math.inf) -> bool:
    """Whether the fitted ``curve`` of the chain ``points`` pushes a side of ``extent`` (the subject's bounding
    box) that the chain reaches (to within ``reach``) out by more than ``reach``, or in by more than ``inward``:
    the outline's extremes set the part's size and centre (a sharpened corner or a bulging arc there would
    scale the whole part and shift every colour; smoothing may flatten an extreme that is a bump of the trace,
    but not by more than the default tolerance)."""
    ctrl, _, arcs = curve
    circ, ell = split_arcs(arcs)
    new = geometry.curve_bounds(ctrl, circ, ell)
    p = np.asarray(points, np.float64)
    old = (p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max())
    out = (old[0] - new[0], old[1] - new[1], new[2] - old[2], new[3] - old[3])
    return any(abs(o - e) <= reach and (d > reach or -d > inward) for d, o, e in zip(out, old, extent))
