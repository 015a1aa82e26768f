"""Fit the shared boundaries of a colour partition with the fitting stage's lines, arcs and cubics.

In the colour mode neighbouring colours share their boundaries exactly (:mod:`cad.partition`): a
boundary is cut at its junctions (where three or more colours, or a colour and the outside, meet)
into chains, and each chain is fitted once; both colours use the same curve, one of them reversed.
:class:`ChainFitter` fits one such chain (an open polyline in mm whose ends stay fixed, or a closed
loop) with :func:`cad.fit.fit_ring`:

* a closed loop is a ring as it is (a circle becomes one);
* an open chain is fitted as the degenerate ring that runs along the chain and back. Its two ends
  are corners of that ring (the trace turns by 180° there), so they are forced breakpoints and
  the cover of the chain does not depend on the way back. The pieces along the chain are kept and
  their ends are moved back onto the junctions (a line stays a line, an arc is the circle through
  its moved ends and its mid-point, a cubic's handle moves with its end), so every chain meeting
  at a junction ends on the same point.

A fit is kept only when it has fewer segments than the chain and stays within
:data:`ACCEPT_TOL` tolerances of it both ways (sampled, so a lost or looped piece is seen);
otherwise the caller's fallback fits the chain.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from cad import geometry
from cad.fit import LS_SLACK, arc_cubic, fit_ring

__all__ = ["ChainFitter", "Curve", "fit_chain", "reverse_curve", "ACCEPT_TOL"]

#: A fitted chain is kept when it stays within this many tolerances of the chain, both ways
#: (lines and arcs are least-squares fits and may stray :data:`cad.fit.LS_SLACK` tolerances).
ACCEPT_TOL = 1.5 * LS_SLACK
#: A moved arc may change its sweep by at most this fraction (plus 0.05 rad), else the fit is refused.
SWEEP_CHANGE = 0.25

#: A fitted curve: ``ctrl`` (n,4,2), ``is_line`` (n,), ``arcs`` (n,3: centre, signed sweep; NaN rows
#: for non-arcs) or None.
Curve = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]


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
    pts = np.vstack([geometry.flatten(ctrl, is_line, 0.25 * tol, arcs), ctrl[-1, 3][None]])
    fitted = shapely.LineString(pts)
    chain = shapely.LineString(p)
    # the chain's vertices and points between them (a chord's middle is where a polyline strays most)
    mids = np.vstack([p, 0.5 * (p[:-1] + p[1:])])
    there = shapely.distance(shapely.points(mids), fitted).max()
    back = shapely.distance(shapely.points(pts), chain).max()
    return float(max(there, back))


def fit_chain(points: np.ndarray, tol: float, *, px: float) -> tuple[Curve, float] | None:
    """Fit the polyline ``points`` (m, 2) within ``tol`` (``px``: one source pixel, same units) with lines,
    circular arcs and cubics; its ends stay where they are. A chain whose ends coincide is a closed loop.
    Returns (curve, deviation from the chain), or None when the fit has no fewer segments or strays."""
    p = np.asarray(points, np.float64)
    keep = np.concatenate([[True], np.hypot(*np.diff(p, axis=0).T) > 0])
    p = p[keep]
    n_edges = len(p) - 1
    if n_edges < 2 or not tol > 0:
        return None
    closed = bool(np.array_equal(p[0], p[-1]))
    fwd = _polyline_ctrl(p)
    if closed:
        if n_edges < 3:
            return None
        res = fit_ring(fwd, tol, px=px)
        if res is None:
            return None
        curve: Curve | None = (res.ctrl, res.is_line, res.arcs)
        n_keep = len(res.ctrl)
    else:
        back = fwd[::-1, ::-1]
        res = fit_ring(np.concatenate([fwd, back]), tol, px=px)
        if res is None or len(res.ctrl) < 2:
            return None
        ends = res.ctrl[:-1, 3]
        k = int(np.argmin(np.hypot(*(ends - p[-1]).T)))  # the last piece along the chain
        n_keep = k + 1
        curve = _pin_ends((res.ctrl[:n_keep], res.is_line[:n_keep], res.arcs[:n_keep]), p[0], p[-1])
    if curve is None or n_keep >= n_edges:
        return None
    dev = _deviation(curve, p, tol)
    if not dev <= ACCEPT_TOL * tol:
        return None
    ctrl, is_line, arcs = curve
    if arcs is not None and not np.isfinite(arcs[:, 2]).any():
        arcs = None
    return (ctrl, is_line, arcs), dev


class ChainFitter:
    """Fit the chains of a partition (:func:`fit_chain`) and fall back to ``fallback(points, tol)`` (which
    returns ``(ctrl, is_line)``) where the fit declines. Remembers the largest deviation of the kept fits
    and counts the fitted and fallen-back chains."""

    def __init__(self, *, px: float, fallback) -> None:
        self.px = px
        self.fallback = fallback
        self.deviation = 0.0
        self.fitted = 0
        self.fell_back = 0

    def __call__(self, points: np.ndarray, tol: float) -> Curve:
        got = fit_chain(points, tol, px=self.px)
        if got is None:
            self.fell_back += 1
            ctrl, is_line = self.fallback(points, tol)
            return ctrl, is_line, None
        curve, dev = got
        self.fitted += 1
        self.deviation = max(self.deviation, dev)
        return curve
