"""Cubics that are a drawing's circular and elliptic arcs -> the arcs themselves.

Vector inputs (DXF's ARC, CIRCLE, ELLIPSE and bulges, SVG's circles, ellipses and arcs) reach
tracecad as cubic Béziers: each piece of an arc is the usual cubic of that piece (end handles along
the tangents, ``4/3 tan(sweep / 4)`` of the radius long; for an ellipse, the image of that cubic).
:func:`true_arcs` finds such cubics again, exactly (to :data:`RTOL` of the radius), and gives the
ring back with each run of them on one circle as arcs of at most a half turn, and a ring that is one
whole ellipse as that ellipse (two halves): in the STEP they are cylinders and elliptic cylinders,
not B-spline faces. A traced or a freely drawn cubic is never such a cubic but by design.
"""

from __future__ import annotations

import math

import numpy as np

from cad import ellipse
from cad.fit_pieces import arc_cubic, cross, sub_cubic
from cad.regions import Region, Regions, Ring

__all__ = ["true_arcs", "regions_with_true_arcs", "RTOL"]

#: A cubic is an arc's when its control points are within this share of the radius of that arc's cubic.
RTOL = 1e-9


def _arc_of(c: np.ndarray) -> tuple[np.ndarray, float, float] | None:
    """(centre, radius, signed sweep) of the arc whose usual cubic is ``c`` (4, 2), or None."""
    t0, t1 = c[1] - c[0], c[3] - c[2]
    h0, h1 = float(np.hypot(*t0)), float(np.hypot(*t1))
    if not abs(h0 - h1) <= 1e-6 * max(h0, h1):  # (quick) an arc's cubic is symmetric
        return None
    den = cross(t0, t1)
    if not abs(den) > 1e-12 * float(np.hypot(*t0) * np.hypot(*t1)):
        return None
    # the centre is where the normals at both ends meet: c0 + s perp(t0) = c3 + u perp(t1)
    n0, n1 = np.array([-t0[1], t0[0]]), np.array([-t1[1], t1[0]])
    m = np.column_stack([n0, -n1])
    try:
        s, _ = np.linalg.solve(m, c[3] - c[0])
    except np.linalg.LinAlgError:
        return None
    centre = c[0] + s * n0
    r = float(np.hypot(*(c[0] - centre)))
    v0, v1 = c[0] - centre, c[3] - centre
    sweep = math.atan2(float(cross(v0, v1)), float(v0 @ v1))
    if not (r > 0 and sweep != 0):
        return None
    if np.abs(arc_cubic(c[0], c[3], centre, sweep) - c).max() > RTOL * r:
        return None
    return centre, r, sweep


def _same(a, b) -> bool:
    return (a is not None and b is not None and a[2] * b[2] > 0 and abs(a[1] - b[1]) <= RTOL * a[1]
            and float(np.hypot(*(a[0] - b[0]))) <= RTOL * a[1])


def _arc_rows(p0: np.ndarray, centre: np.ndarray, sweep: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """An arc from ``p0`` about ``centre`` as pieces of at most a half turn: (ctrl rows, arc rows)."""
    k = max(1, math.ceil(abs(sweep) / math.pi - 1e-9))
    v = p0 - centre
    ends = [p0]
    for j in range(1, k + 1):
        a = sweep * j / k
        ends.append(centre + np.array([v[0] * math.cos(a) - v[1] * math.sin(a), v[0] * math.sin(a) + v[1] * math.cos(a)]))
    return ([arc_cubic(ends[j], ends[j + 1], centre, sweep / k) for j in range(k)],
            [np.array([centre[0], centre[1], sweep / k]) for _ in range(k)])


def _ellipse_of(c: np.ndarray) -> np.ndarray | None:
    """The ellipse row (:mod:`cad.ellipse`) of which ``c`` (4, 2) is the image of the usual cubic of a circular
    arc, or None. Taking the arc of sweep ``phi`` symmetric about the x axis, the image ``C + A u`` has
    ``A``'s second column along the chord, (chord) / (2 sin(phi/2)); the handles' sum along it too, with
    tan²(phi/4) = 1 - 3/2 |sum| / |chord|; and the first column (handle out - handle in) / (2 h sin(phi/2))."""
    chord = c[3] - c[0]
    hsum = (c[1] - c[0]) + (c[3] - c[2])
    L = float(np.hypot(*chord))
    if not L > 0 or abs(cross(hsum, chord)) > RTOL * L * L:
        return None
    tq = 1.0 - 1.5 * float(hsum @ chord) / (L * L)
    if not 0.0 < tq < 1.0:
        return None
    phi = 4.0 * math.atan(math.sqrt(tq))
    h = 4.0 / 3.0 * math.tan(phi / 4.0)
    a2 = chord / (2.0 * math.sin(phi / 2.0))
    a1 = ((c[1] - c[0]) - (c[3] - c[2])) / (2.0 * h * math.sin(phi / 2.0))
    A = np.column_stack([a1, a2])
    if not abs(np.linalg.det(A)) > 0:
        return None
    centre = c[0] - a1 * math.cos(phi / 2.0) + a2 * math.sin(phi / 2.0)
    return ellipse.transform(np.array([[0.0, 0.0, 1.0, 1.0, 0.0, phi]]), A, centre)[0]


def _whole_ellipse(ring: Ring) -> Ring | None:
    """A ring of cubics that are the image cubics of one whole ellipse, as that ellipse (two halves)."""
    c = ring.ctrl
    if ring.is_line.any() or len(c) < 2:
        return None
    row = _ellipse_of(c[0])
    if row is None:
        return None
    sweeps = []
    for seg in c:
        sw = (ellipse.param(row, seg[3]) - ellipse.param(row, seg[0]) + math.pi) % (2 * math.pi) - math.pi
        e = row.copy()
        e[5] = sw
        if not sw or np.abs(ellipse.cubics(seg[0], seg[3], e, 1)[0] - seg).max() > RTOL * row[2]:
            return None
        sweeps.append(sw)
    total = float(np.sum(sweeps))
    if not (abs(abs(total) - 2 * math.pi) < 1e-6 and (np.sign(sweeps) == np.sign(total)).all()):
        return None
    centre, rx, rot = row[:2], float(row[2]), float(row[4])
    half = row.copy()
    half[5] = math.copysign(math.pi, total)
    axis = np.array([math.cos(rot), math.sin(rot)]) * rx
    p0, p1 = centre + axis, centre - axis
    ctrl = np.array([ellipse.cubics(p0, p1, half, 1)[0], ellipse.cubics(p1, p0, half, 1)[0]])
    return Ring(ctrl, np.zeros(2, bool), ring.exact, None, np.array([half, half]))


def _unsplit(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """The cubic that was split into ``a`` and ``b`` (de Casteljau, at the ratio of the handles at the
    split), when it is an arc's cubic; else None."""
    ha, hb = float(np.hypot(*(a[3] - a[2]))), float(np.hypot(*(b[1] - b[0])))
    if not (ha > 0 and hb > 0):
        return None
    t = ha / (ha + hb)
    whole = np.array([a[0], a[0] + (a[1] - a[0]) / t, b[3] + (b[2] - b[3]) / (1.0 - t), b[3]])
    r = _arc_of(whole)
    if r is None or np.abs(np.concatenate([sub_cubic(whole, 0.0, t), sub_cubic(whole, t, 1.0)]) -
                           np.concatenate([a, b])).max() > RTOL * r[1]:
        return None
    return whole


def _rejoined(ring: Ring) -> Ring:
    """``ring`` with an arc's cubic that was cut in two where the ring was made to start (its last and
    first segments) whole again."""
    c, lines = ring.ctrl, ring.is_line
    if len(c) > 2 and not lines[-1] and not lines[0] and _arc_of(c[-1]) is None and _arc_of(c[0]) is None:
        whole = _unsplit(c[-1], c[0])
        if whole is not None:
            return Ring(np.concatenate([c[1:-1], whole[None]]), np.concatenate([lines[1:-1], [False]]), ring.exact)
    return ring


def true_arcs(ring: Ring) -> Ring:
    """``ring`` with its arcs' cubics as arcs (see the module); the ring itself when it has none."""
    if ring.arcs is not None or ring.ellipses is not None or ring.is_line.all():
        return ring
    ring = _rejoined(ring)
    c = ring.ctrl
    h0, h1 = np.hypot(*(c[:, 1] - c[:, 0]).T), np.hypot(*(c[:, 3] - c[:, 2]).T)
    maybe = ~ring.is_line & (np.abs(h0 - h1) <= 1e-6 * np.maximum(h0, h1)) & (h0 > 0)  # an arc's cubic is symmetric
    found: list[tuple[np.ndarray, float, float] | None] = [_arc_of(c[k]) if maybe[k] else None for k in range(len(c))]
    n = len(found)
    if all(f is None for f in found):
        return _whole_ellipse(ring) or ring
    starts = [i for i in range(n) if not _same(found[i], found[i - 1])]
    if not starts:  # one circle all round
        starts = [0]
    s0 = starts[0]
    ctrl: list[np.ndarray] = []
    lines: list[bool] = []
    arcs: list[np.ndarray] = []
    i = 0
    while i < n:
        k = (s0 + i) % n
        arc = found[k]
        if arc is None:
            ctrl.append(ring.ctrl[k])
            lines.append(bool(ring.is_line[k]))
            arcs.append(np.full(3, np.nan))
            i += 1
            continue
        j = i + 1
        while j < n and _same(found[(s0 + j) % n], arc):
            j += 1
        sweep = 0.0
        for m in range(i, j):
            piece = found[(s0 + m) % n]
            assert piece is not None
            sweep += piece[2]
        c_rows, a_rows = _arc_rows(ring.ctrl[k, 0], arc[0], sweep)
        c_rows[-1] = c_rows[-1].copy()
        c_rows[-1][3] = ring.ctrl[(s0 + j - 1) % n, 3]  # the run's own end point
        ctrl += c_rows
        lines += [False] * len(c_rows)
        arcs += a_rows
        i = j
    out = np.array(ctrl)
    out[1:, 0] = out[:-1, 3]
    out[0, 0] = out[-1, 3]
    return Ring(out, np.array(lines, bool), ring.exact, np.array(arcs))


def regions_with_true_arcs(regions: Regions) -> Regions:
    """Every ring of ``regions`` through :func:`true_arcs`."""
    regs = tuple(Region(true_arcs(r.shell), tuple(true_arcs(h) for h in r.holes)) for r in regions.regions)
    return Regions(regions=regs, geometry=regions.geometry, px_mm=regions.px_mm, report=dict(regions.report))
