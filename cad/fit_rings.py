"""The fitting stage over the rings of one outline: the ladder of tolerances and the extent of the fit.

:func:`fit_rings` refits every ring of a traced outline (:func:`cad.fit.fit_ring`), coarse settings first
and finer ones where a refit fails (crosses itself or a neighbour, or moves the outline's extremes);
:func:`keep_extent` maps the fitted rings so the outline keeps the traced bounding box. Both work in the
trace's own units (source pixels) before :func:`cad.regions.to_regions` sets the frame.
"""

from __future__ import annotations

import numpy as np
import shapely

from cad import geometry
from cad.fit import LS_SLACK, FitResult, fit_ring
from cad.fit_noise import keeps_shape, noisy_ladder, pushes_out
from cad.fit_pieces import line_ctrl, wobble
from cad.ring import Ring
from tracer.trace import NOISE_MIN_PX

__all__ = ["fit_rings", "keep_extent", "closed_points", "FIT_RETRIES", "NOISE_TOL", "NOISE_CAP", "EXTREME_TOL"]


def keep_extent(rings: dict[int, Ring], outer: set[int], bbox: tuple[float, float, float, float], *,
                 by_height: bool) -> None:
    """Map ``rings`` in place by the similarity (a uniform scale and a shift) that gives the ``outer`` rings
    the bounding box ``bbox`` in width (or height) and centre. Sharpened corners reach a fraction of a pixel
    beyond the traced ones; this keeps the requested size and the centre of the trace."""
    lo = np.min([rings[i].bounds()[:2] for i in outer], axis=0)
    hi = np.max([rings[i].bounds()[2:] for i in outer], axis=0)
    axis = 1 if by_height else 0
    if not (hi[axis] - lo[axis]) > 0:
        return
    k = (bbox[2 + axis] - bbox[axis]) / (hi[axis] - lo[axis])
    if not abs(k - 1.0) < 0.01:
        return
    c_from = 0.5 * (lo + hi)
    c_to = np.array([0.5 * (bbox[0] + bbox[2]), 0.5 * (bbox[1] + bbox[3])])
    for i, r in rings.items():
        rings[i] = r.mapped(lambda p: c_to + k * (p - c_from), k * np.eye(2))


#: A refit that touches a neighbour is tried again at half the tolerance, at most this many times
#: (after one more try at the default tolerance when the first followed the trace's wobble).
FIT_RETRIES = 2


def closed_points(pts: np.ndarray) -> np.ndarray:
    """``pts`` closed (first point repeated), with at least two points."""
    pts = np.asarray(pts, np.float64)
    if len(pts) == 0:
        return np.zeros((2, 2))
    return np.concatenate([pts, pts[:1]]) if len(pts) < 2 or not np.array_equal(pts[0], pts[-1]) else pts


#: With the default tolerance, a ring whose trace wobbles (a JPEG's ringing) is fitted within NOISE_TOL times
#: its wobble (:func:`cad.fit_pieces.wobble`), never finer than the default and at most NOISE_CAP times it.
NOISE_TOL = 10.0
NOISE_CAP = 3.0


#: A fitted ring that moves an extreme of the outline (a side of its bounding box) by more than this many
#: default tolerances is fitted again with the extreme point as a knot (:mod:`cad.fit_knots`).
EXTREME_TOL = 0.1


def _sharpened(res: FitResult, side: int, level: float) -> bool:
    """Whether the extreme ``level`` of the fit ``res`` on ``side`` is a corner between two lines: a sharpened
    corner, which restores the corner the trace rounded and may reach past it."""
    lines = np.asarray(res.is_line, bool)
    at = np.abs(res.ctrl[:, 0, side % 2] - level) <= 1e-9 * (1.0 + abs(level))
    return bool((at & lines & np.roll(lines, 1)).any())


def _pull_corners(res: FitResult, ring: Ring, tol: float, extent: tuple, slack: float, pinned: tuple,
                  kw: dict) -> FitResult:
    """``res`` with the joins that run past the outline's ``extent`` by more than ``slack`` moved back along
    the axis, where that is the tolerance's doing: a line laid over a gently curved side, within the
    tolerance, carries the corner at its end outwards, and the part's size with it (:func:`keep_extent`
    scales the whole outline back). The test is a fit at a quarter of the tolerance: a corner the trace
    rounded reaches past the trace at any tolerance; one carried out by a line comes back, to where that fit
    puts it. A line keeps its far end, a cubic moves its handle with its end (its tangent is kept); a join
    with an arc stays. The moved pieces must stay within the allowance of the trace (or no farther from it than
    before, at a sharpened corner); the count of pieces is unchanged."""
    past = _past(res, extent)
    if not past.max() > slack:
        return res
    finer = fit_ring(ring.ctrl, tol / 4, extremes=pinned, g1_arcs=True, **kw)
    if finer is None:
        return res
    trace = shapely.LinearRing(ring.flatten(tol / 16))
    allow = LS_SLACK * tol
    kinds = np.where(np.asarray(res.is_line, bool), 1, np.where(np.isfinite(res.arcs[:, 2]), 2, 0))
    if res.ellipses is not None:
        kinds[np.isfinite(res.ellipses[:, 5])] = 2
    n = len(res.ctrl)
    out = res
    for s in range(4):
        axis, sign = s % 2, (1.0 if s >= 2 else -1.0)
        back = past[s] - _past(finer, extent)[s]
        if not (past[s] > slack and back > 0.5 * past[s]):
            continue
        ctrl = out.ctrl.copy()
        joins = np.flatnonzero(sign * (ctrl[:, 0, axis] - extent[s]) > 0)
        if not len(joins) or (kinds[joins] == 2).any() or (kinds[joins - 1] == 2).any():
            continue
        step = np.zeros(2)
        step[axis] = -sign * back
        moved = set()
        for k in joins:
            ctrl[k, 0] += step
            ctrl[k - 1, 3] += step
            if kinds[k] == 0:
                ctrl[k, 1] += step
            if kinds[k - 1] == 0:
                ctrl[k - 1, 2] += step
            moved |= {k % n, (k - 1) % n}
        for k in moved:
            if kinds[k] == 1:
                ctrl[k] = line_ctrl(ctrl[k, 0], ctrl[k, 3])
        again = FitResult(ctrl, out.is_line, out.arcs, out.deviation, out.ellipses)
        t = np.linspace(0.0, 1.0, 33)
        far = [shapely.distance(shapely.points(np.concatenate([geometry.bernstein(t) @ c[k] for k in moved])), trace).max()
               for c in (out.ctrl, ctrl)]  # a sharpened corner is off the rounded trace already: no farther
        if _past(again, extent)[s] < past[s] and far[1] <= max(allow, far[0]):
            out = again
    return out


def _box(res: FitResult) -> tuple[float, float, float, float]:
    return geometry.curve_bounds(res.ctrl, res.arcs, res.ellipses)


def _past(res: FitResult, extent: tuple) -> np.ndarray:
    """How far the fit ``res`` runs past ``extent`` (xmin, ymin, xmax, ymax) on each side (0 within it)."""
    return np.maximum((np.asarray(_box(res)) - np.asarray(extent)) * (-1, -1, 1, 1), 0.0)


def _closed_conic(res: FitResult) -> bool:
    """Whether the fit ``res`` is a whole circle or ellipse (at most two arcs): its least-squares size is a
    better estimate of the shape's extent than the noisy trace's farthest points."""
    if len(res.ctrl) > 2:
        return False
    arcs = np.isfinite(res.arcs[:, 2]).all() if res.arcs is not None else False
    ells = res.ellipses is not None and np.isfinite(res.ellipses[:, 5]).all()
    return bool(arcs or ells)


def _worst(moved: np.ndarray) -> tuple[float, float]:
    """How far a fit moves the outline's extremes (per side): the largest, then in all."""
    return float(moved.max()), float(moved.sum())


def _fit_keeping(ring: Ring, tol: float, sides: tuple[int, ...], slack: float, extent: tuple, *, coarse: bool,
                 **kw) -> FitResult | None:
    """:func:`cad.fit.fit_ring` of ``ring``, fitted again with the extreme points on ``sides`` of its bounding
    box as knots (:mod:`cad.fit_knots`) where the fit moves them by more than ``slack``, and on any side where
    it runs past the outline's ``extent`` (xmin, ymin, xmax, ymax) by more (and again where that refit moves
    others): a type designer's nodes at extremes, so that the outline keeps its size and centre. A sharpened
    corner may reach past the trace (:func:`_sharpened`). Arcs meet lines tangentially (``g1_arcs`` of
    :func:`cad.fit.fit_ring`). Neither in a ``coarse`` fit (of a noisy image's smoothed trace), whose
    traced extremes are the tops of the noise (measured: knots there cost jpeg35 mean IoU).
    Pinned only where needed, as each pin is a knot (a piece more); of the fits tried, the one whose worst
    extreme moves least (then the least in all; then the first)."""
    old = ring.bounds()

    def moved(res: FitResult) -> np.ndarray:
        box, past = _box(res), _past(res, extent)
        out = np.zeros(4)
        for s in range(4):
            if not _sharpened(res, s, box[s]):
                out[s] = max(abs(box[s] - old[s]) if s in sides else 0.0, past[s])
        return out

    res = fit_ring(ring.ctrl, tol, g1_arcs=not coarse, **kw)
    if res is None or coarse:
        return res
    tried = [(*_worst(moved(res)), 0, res)]
    pinned: set[int] = set()
    for k in range(4):
        more = {s for s, d in enumerate(moved(res)) if d > slack} - pinned
        if not more:
            break
        pinned |= more
        again = fit_ring(ring.ctrl, tol, extremes=tuple(sorted(pinned)), g1_arcs=True, **kw)
        if again is None:
            break
        res = again
        tried.append((*_worst(moved(res)), k + 1, res))
    res = min(tried, key=lambda x: x[:3])[3]
    return _pull_corners(res, ring, tol, extent, slack, tuple(sorted(pinned)), kw)


def fit_rings(rings: dict[int, Ring], tol: float, px: float, *, grain: float = 1.0, follow_noise: bool = False,
               noise_px: float = 0.0, noisy: bool | None = None) -> tuple[int, float]:
    """Refit ``rings`` in place (:func:`cad.fit.fit_ring`): how many were refitted, and the largest deviation.

    A refit that flips, crosses itself, or touches or crosses another ring is tried again at half and
    a quarter of the tolerance, and then keeps the traced ring, so the cleaning never has to repair
    what the fit did. With ``follow_noise`` each ring's tolerance follows the wobble of its trace; with
    ``noise_px`` (the length over which the image's noise makes its edges meander, in ``px``) each trace is
    smoothed over a few times that and fitted within a fraction of it; ``noisy``: whether that is an image's
    noise rather than a clean trace's staircase (default: by its length). ``grain``: :func:`cad.fit.fit_grain`.
    Every refit keeps the outline's extremes, which set its size and centre (:func:`_fit_keeping`)."""
    fitted: dict[int, tuple[Ring, float]] = {}
    keys = list(rings)
    ladder = {i: [(tol / 2**level, 0.0, False) for level in range(FIT_RETRIES + 1)] for i in keys}
    for i in keys if follow_noise and noise_px > 0 else ():  # smoothed, coarse first
        ladder[i][:0] = noisy_ladder(tol, noise_px / px)
    for i in keys if follow_noise and not noise_px > 0 else ():
        own = min(NOISE_TOL * wobble(rings[i].ctrl, px), NOISE_CAP * tol)
        above = []
        while own > tol:  # a wobbling trace is tried at its own tolerance first, halved down to the default
            above.append((own, 0.0, False))
            own /= 2
        ladder[i][:0] = above
    # the outline's extremes set its size and centre: a smoothed fit may not push them out by more than the
    # default allows (an arc or a cubic bulging out at the edge would scale the whole part)
    extent = np.array([rings[i].bounds() for i in keys] or [(0.0, 0.0, 0.0, 0.0)])
    lo, hi = extent[:, :2].min(axis=0), extent[:, 2:].max(axis=0)
    # the rings that reach them keep them (:func:`_fit_keeping`)
    sides = {i: tuple(s for s in range(4) if box[s] == (lo, hi)[s // 2][s % 2]) for i, box in zip(keys, extent)}
    noisy_image = follow_noise and (noise_px / px >= NOISE_MIN_PX if noisy is None else noisy)  # grain, ringing

    def extent_limits(res: FitResult, guard: bool) -> tuple[float, float]:
        # a noisy image's traced extremes are the tops of its noise: a smoothed fit may fall inside them, and a
        # whole circle or ellipse, whose least-squares size is the better estimate, may reach past them
        if noisy_image:
            return (np.inf, np.inf) if _closed_conic(res) else (LS_SLACK * tol, np.inf)
        return (LS_SLACK * tol, tol if guard else np.inf)

    todo = list(keys)
    for level in range(max(map(len, ladder.values()), default=0)):
        todo = [i for i in todo if level < len(ladder[i])]
        dropped: set[int] = set()
        for i in todo:
            t, smooth_px, guard = ladder[i][level]
            coarse = t > tol or smooth_px > 0
            res = _fit_keeping(rings[i], t, sides[i], EXTREME_TOL * tol, (*lo, *hi), coarse=noisy_image and smooth_px > 0, px=px,
                               grain=grain * px, smooth_px=smooth_px, restore_corners=not noisy_image)
            new = Ring(res.ctrl, res.is_line, True, res.arcs, res.ellipses) if res is not None else None
            pts = new.flatten(t / 16) if new is not None else ()  # fine: a thin sliver may cross at its tip
            if res is None or new is None or len(pts) < 3 or (new.area() > 0) != (rings[i].area() > 0) \
                    or not shapely.LinearRing(pts).is_simple \
                    or (smooth_px > 0 and pushes_out(new, rings[i].bounds(), lo, hi, *extent_limits(res, guard))) \
                    or (guard and not keeps_shape(pts, rings[i].flatten(tol / 16), smooth_px, tol)):
                if coarse:  # above the default tolerance, a failed refit is tried again finer
                    dropped.add(i)
                continue
            fitted[i] = (new, res.deviation)
        while fitted:  # each round drops at least one refit
            # flattened coarsely, so rings this close may touch once flattened finely for the cleaning
            t = tol / 2 ** min(level, FIT_RETRIES)  # the default tolerance of this round
            lines = [shapely.LineString(closed_points((fitted[i][0] if i in fitted else rings[i]).flatten(t / 2))) for i in keys]
            a, b = shapely.STRtree(lines).query(lines, predicate="dwithin", distance=t)
            pairs = [(keys[x], keys[y]) for x, y in zip(a, b) if x != y and (keys[x] in fitted or keys[y] in fitted)]
            clash = {i for pair in pairs for i in pair} & set(fitted)
            if not clash:
                break
            for i in clash:
                fitted.pop(i)
            dropped |= clash
        todo = [i for i in keys if i in dropped]
        if not todo:
            break
    for i, (new, _) in fitted.items():
        rings[i] = new
    return len(fitted), max((d for _, d in fitted.values()), default=0.0)
