"""Refit a traced ring with the fewest lines, circular arcs and cubic Béziers within a tolerance.

On a fine working raster potrace follows the residual staircase: a straight edge arrives as a
chain of slightly bent cubics and a circle as dozens of them. :func:`fit_ring` replaces such a
ring with the fewest pieces that stay close to it:

1. The ring is sampled every :data:`SPACING_TOL` tolerances. Its joins, and points about
   :data:`CANDIDATE_PX` source pixels apart inside long segments, are the candidate breakpoints;
   a join where the traced tangent turns by more than :data:`CORNER_DEG` is a forced one.
2. A closed ring without corners that is a circle (least squares) becomes one circle (two arcs).
3. Otherwise a dynamic programme over the candidates picks the cover with the fewest pieces
   (:data:`WEIGHT`: a cubic counts a little more than an arc, an arc than a line). From each
   candidate the farthest reach of a line (the chord), of a circular arc (least squares through
   both ends) and of a cubic (ends on the trace, end tangents along the trace's) is found by
   galloping search.
4. Lines and arcs are refitted by least squares (a chord carries the trace's wobble at its ends)
   and joined at the mean of the two pieces' projections of each breakpoint, two lines at a corner
   at their intersection; cubics are refitted to the moved ends. Lines and arcs may stray
   :data:`LS_SLACK` tolerances, cubics one; if a piece strays further, the ring is covered again
   with lines and arcs held to the tolerance.
5. A short piece between two straight runs that turn sharply is removed and the lines meet at
   their intersection (potrace rounds a sharp corner by a fraction of a pixel), when that point
   lies within :data:`CORNER_REACH_PX` source pixels of the trace.

The result has fewer segments than the trace, or :func:`fit_ring` returns None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cad import geometry

__all__ = ["FitResult", "fit_ring", "arc_cubic", "DEFAULT_FIT_PX", "CORNER_DEG"]

#: The default tolerance, in source pixels at the output size.
DEFAULT_FIT_PX = 0.05
#: A join of the trace where the tangent turns by more than this (degrees) is a corner.
CORNER_DEG = 30.0
#: Sample spacing along the trace, in tolerances.
SPACING_TOL = 2.0
#: Breakpoint candidates inside a long traced segment lie about this far apart (source pixels).
CANDIDATE_PX = 1.5
#: Piece weights in the programme: fewest pieces first, then lines before arcs before cubics.
WEIGHT = {"line": 1.0, "arc": 1.05, "cubic": 1.3}
#: Longest arc sweep (radians); a full circle is two arcs.
MAX_SWEEP = 1.5 * math.pi
#: A rounded corner between two lines turning by more than :data:`CORNER_DEG` is made sharp
#: when the piece it replaces is shorter than this and the lines meet this close to the trace
#: (source pixels).
CORNER_PIECE_PX = 4.0
CORNER_REACH_PX = 1.0
#: Lines and circular arcs may stray this many tolerances from the trace: they are least-squares fits,
#: which average out the trace's own wobble, where a cubic follows it.
LS_SLACK = 2.0
#: The refit is kept when its pieces stay within this many tolerances of the trace.
ACCEPT_TOL = 1.5


@dataclass(frozen=True, slots=True)
class FitResult:
    """``ctrl`` (n,4,2), ``is_line`` (n,), ``arcs`` (n,3: centre x, y, signed sweep; NaN if not an arc),
    ``deviation``: the largest distance between the refit and the trace (mm)."""

    ctrl: np.ndarray
    is_line: np.ndarray
    arcs: np.ndarray
    deviation: float


# ----------------------------------------------------------------------------- small geometry

def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.hypot(v[0], v[1]))
    return v / n if n > 0 else v


def _cross(a: np.ndarray, b: np.ndarray):
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _bern(t: np.ndarray) -> np.ndarray:
    u = 1.0 - t
    return np.stack([u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t], axis=-1)


def _bern_d(t: np.ndarray) -> np.ndarray:
    u = 1.0 - t
    return np.stack([-3 * u * u, 3 * u * u - 6 * u * t, 6 * u * t - 3 * t * t, 3 * t * t], axis=-1)


def arc_cubic(p0: np.ndarray, p3: np.ndarray, c: np.ndarray, sweep: float) -> np.ndarray:
    """The usual cubic approximation (control points) of an arc of at most a half turn."""
    k = 4.0 / 3.0 * math.tan(abs(sweep) / 4.0)
    sgn = 1.0 if sweep > 0 else -1.0
    r0, r3 = p0 - c, p3 - c
    return np.array([p0, p0 + k * sgn * np.array([-r0[1], r0[0]]), p3 - k * sgn * np.array([-r3[1], r3[0]]), p3])


def _line_ctrl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([a, a + (b - a) / 3, a + 2 * (b - a) / 3, b])


def _sweep(p0: np.ndarray, p1: np.ndarray, c: np.ndarray, sign: float) -> float:
    a0 = math.atan2(p0[1] - c[1], p0[0] - c[0])
    a1 = math.atan2(p1[1] - c[1], p1[0] - c[0])
    return (a1 - a0) % (2 * math.pi) if sign > 0 else -((a0 - a1) % (2 * math.pi))


# ----------------------------------------------------------------------------- the three primitives

def _line_err(q: np.ndarray, tol: float) -> float:
    """Largest distance of ``q`` from the chord ``q[0] q[-1]`` (inf if it runs back)."""
    d = q[-1] - q[0]
    L = float(np.hypot(d[0], d[1]))
    if L <= 0:
        return math.inf
    u = d / L
    r = q - q[0]
    s = r @ u
    if s.min() < -tol or s.max() > L + tol:
        return math.inf
    return float(np.abs(_cross(u, r)).max())


def _arc_through(q: np.ndarray) -> tuple[np.ndarray, float, float] | None:
    """The least-squares circle through both ends of ``q``: (centre, radius, signed sweep), or None."""
    a, b = q[0], q[-1]
    d = b - a
    L = float(np.hypot(d[0], d[1]))
    if L <= 0 or len(q) < 3:
        return None
    m = 0.5 * (a + b)
    n = np.array([-d[1], d[0]]) / L
    r = q - m
    lhs = 2.0 * (r @ n)
    rhs = (r * r).sum(axis=1) - 0.25 * L * L
    den = float(lhs @ lhs)
    if den <= 0:
        return None
    s = float(lhs @ rhs) / den
    c = m + s * n
    return _arc_sweep(q, c)


def _arc_sweep(q: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, float, float] | None:
    """Centre, radius and the signed sweep of ``q`` about ``c``; None unless the samples turn one way."""
    v = q - c
    ang = np.arctan2(v[:, 1], v[:, 0])
    step = np.diff(ang)
    step = (step + np.pi) % (2 * np.pi) - np.pi
    if not ((step >= -1e-9).all() or (step <= 1e-9).all()):
        return None
    radius = float(np.hypot(*(q[0] - c)))
    return c, radius, float(step.sum())


def _arc_err(q: np.ndarray, arc: tuple[np.ndarray, float, float] | None) -> float:
    if arc is None:
        return math.inf
    c, r, sw = arc
    if not 0 < abs(sw) <= MAX_SWEEP:
        return math.inf
    err = float(np.abs(np.hypot(*(q - c).T) - r).max())
    # the other way: points of the arc against the samples (a loop the samples do not make)
    a0 = math.atan2(q[0, 1] - c[1], q[0, 0] - c[0])
    t = a0 + sw * np.array([0.25, 0.5, 0.75])
    pts = c + r * np.stack([np.cos(t), np.sin(t)], axis=1)
    back = float(np.sqrt(((pts[:, None, :] - q[None, :, :]) ** 2).sum(axis=2).min(axis=1)).max())
    chord_step = float(np.hypot(*np.diff(q, axis=0).T).max()) if len(q) > 1 else 0.0
    return max(err, back - 0.5 * chord_step)


def _cubic(q: np.ndarray, t0: np.ndarray, t1: np.ndarray, tol: float = 0.0) -> tuple[np.ndarray, float]:
    """Least-squares cubic through ``q`` with ends fixed and end tangents along ``t0`` (out of the start)
    and ``t1`` (into the end): (ctrl, largest error). Stops early once within ``tol``, or when far off it."""
    a, b = q[0], q[-1]
    chord = float(np.hypot(*(b - a)))
    d = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(q, axis=0).T))])
    if d[-1] <= 0 or chord <= 0:
        return _line_ctrl(a, b), math.inf
    u = d / d[-1]
    c = _line_ctrl(a, b)
    err = math.inf
    for it in range(4):
        B = _bern(u)
        A1, A2 = B[:, 1:2] * t0, -B[:, 2:3] * t1
        rhs = q - (B[:, 0:1] + B[:, 1:2]) * a - (B[:, 2:3] + B[:, 3:4]) * b
        c11, c12, c22 = (A1 * A1).sum(), (A1 * A2).sum(), (A2 * A2).sum()
        x1, x2 = (A1 * rhs).sum(), (A2 * rhs).sum()
        det = c11 * c22 - c12 * c12
        if abs(det) < 1e-18 * max(c11 * c22, 1e-300):
            al1 = al2 = chord / 3
        else:
            al1 = (x1 * c22 - x2 * c12) / det
            al2 = (c11 * x2 - c12 * x1) / det
        if not (0 < al1 < 2 * chord and 0 < al2 < 2 * chord):
            return c, math.inf
        c = np.array([a, a + al1 * t0, b - al2 * t1, b])
        p = B @ c
        diff = p - q
        err = float(np.hypot(*diff.T).max())
        if err <= tol or (tol > 0 and it >= 1 and err > 4 * tol):
            return c, err
        # Newton step of the parameters towards the nearest points
        dp = _bern_d(u) @ c
        un = u - (diff * dp).sum(axis=1) / np.maximum((dp * dp).sum(axis=1), 1e-300)
        un[0], un[-1] = 0.0, 1.0
        if np.all(np.diff(un) > 0):
            u = un
    B = _bern(u)
    err = min(err, float(np.hypot(*(B @ c - q).T).max()))
    return c, err


# ----------------------------------------------------------------------------- sampling the trace

def _samples(ctrl: np.ndarray, spacing: float):
    """Samples along the ring about ``spacing`` apart: points, unit tangents, the first sample of each
    segment, and each sample's segment and parameter."""
    t = np.linspace(0.0, 1.0, 9)
    pts = np.einsum("tk,nkd->ntd", _bern(t), ctrl)
    length = np.hypot(*np.diff(pts, axis=1).transpose(2, 0, 1)).sum(axis=1)
    counts = np.clip(np.ceil(length / spacing), 1, 400).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    seg = np.repeat(np.arange(len(ctrl)), counts)
    tt = (np.arange(int(counts.sum())) - np.repeat(starts, counts)) / np.repeat(counts, counts)
    q = np.einsum("mk,mkd->md", _bern(tt), ctrl[seg])
    dq = np.einsum("mk,mkd->md", _bern_d(tt), ctrl[seg])
    # where the derivative vanishes (a cubic whose handle sits on its end), use the chord direction
    fd = np.roll(q, -1, axis=0) - np.roll(q, 1, axis=0)
    small = np.hypot(*dq.T) < 1e-12 * max(spacing, 1e-300)
    dq[small] = fd[small]
    tan = dq / np.maximum(np.hypot(*dq.T), 1e-300)[:, None]
    return q, tan, starts, seg, tt


def _seg_tangents(ctrl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit start and end tangents of each cubic (the first non-zero handle)."""
    def first(vs):
        out = vs[0].copy()
        for v in vs[1:]:
            small = np.hypot(*out.T) < 1e-12
            out[small] = v[small]
        return out / np.maximum(np.hypot(*out.T), 1e-300)[:, None]
    start = first([ctrl[:, 1] - ctrl[:, 0], ctrl[:, 2] - ctrl[:, 0], ctrl[:, 3] - ctrl[:, 0]])
    end = first([ctrl[:, 3] - ctrl[:, 2], ctrl[:, 3] - ctrl[:, 1], ctrl[:, 3] - ctrl[:, 0]])
    return start, end


# ----------------------------------------------------------------------------- the programme

@dataclass(slots=True)
class _Piece:
    kind: str  # line, arc, cubic, orig
    a: int  # first and last sample (unrolled index)
    b: int
    ctrl: np.ndarray
    arc: tuple[np.ndarray, float] | None = None  # centre, signed sweep
    err: float = 0.0


def _reach(ok, i: int, lim: int, known: int | None = None) -> int:
    """The largest j in (i, lim] with ``ok(j)``, assuming ``ok`` holds up to some j and fails past it
    (galloping from ``known``, a j known to be ok, then bisection); ``i`` when ``ok(i + 1)`` fails."""
    lo = i if known is None else known
    step, hi, base = 1, None, lo
    while lo < lim:
        j = min(base + step, lim)
        if ok(j):
            lo, step = j, step * 2
        else:
            hi = j
            break
    if hi is None:
        return lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


def _circle(q: np.ndarray, tol: float) -> tuple[np.ndarray, float] | None:
    """A least-squares circle (algebraic, refined by Gauss-Newton) through the closed samples ``q`` within ``tol``."""
    m = q.mean(axis=0)
    s = float(np.abs(q - m).max()) or 1.0
    p = (q - m) / s
    A = np.column_stack([p, np.ones(len(p))])
    sol, *_ = np.linalg.lstsq(A, (p * p).sum(axis=1), rcond=None)
    c = 0.5 * sol[:2]
    r2 = sol[2] + c @ c
    if not r2 > 0:
        return None
    r = math.sqrt(r2)
    for _ in range(3):
        d = p - c
        dist = np.hypot(*d.T)
        if (dist == 0).any():
            return None
        J = np.column_stack([-d / dist[:, None], -np.ones(len(p))])
        step, *_ = np.linalg.lstsq(J, -(dist - r), rcond=None)
        c, r = c + step[:2], r + step[2]
    centre, radius = m + c * s, abs(r) * s
    if float(np.abs(np.hypot(*(q - centre).T) - radius).max()) > tol:
        return None
    v = q - centre
    step_ang = np.diff(np.arctan2(v[:, 1], v[:, 0]))
    step_ang = (step_ang + np.pi) % (2 * np.pi) - np.pi
    if not ((step_ang >= 0).all() or (step_ang <= 0).all()):
        return None
    return centre, radius


def _full_circle(q: np.ndarray, tol: float) -> list[_Piece] | None:
    fit = _circle(q, tol)
    if fit is None:
        return None
    c, r = fit
    v = q - c
    ccw = _cross(v[0], v[len(v) // 4]) > 0
    sgn = 1.0 if ccw else -1.0
    a0 = math.atan2(q[0, 1] - c[1], q[0, 0] - c[0])
    p0 = c + r * np.array([math.cos(a0), math.sin(a0)])
    p1 = c + r * np.array([math.cos(a0 + sgn * math.pi), math.sin(a0 + sgn * math.pi)])
    err = float(np.abs(np.hypot(*v.T) - r).max())
    return [_Piece("arc", 0, 0, arc_cubic(p0, p1, c, sgn * math.pi), (c, sgn * math.pi), err),
            _Piece("arc", 0, 0, arc_cubic(p1, p0, c, sgn * math.pi), (c, sgn * math.pi), err)]


def _sub(Q: np.ndarray, a: int, b: int, most: int = 600) -> np.ndarray:
    """At most ``most`` samples ``a..b``, both ends included, evenly spread."""
    if b - a + 1 <= most:
        return Q[a: b + 1]
    return Q[np.linspace(a, b, most).round().astype(np.int64)]


def _cover(Q, cand, forced_next, tin, tout, tol, slack):
    """The dynamic programme over candidate breakpoints: the cheapest cover as (kind, i, j) triples."""
    m = len(cand) - 1

    lt = slack * tol

    def line_ok(i):
        return lambda j: _line_err(_sub(Q, cand[i], cand[j]), lt) <= lt

    def arc_ok(i):
        def ok(j):
            q = _sub(Q, cand[i], cand[j])
            return _arc_err(q, _arc_through(q)) <= lt
        return ok

    def cubic_ok(i):
        return lambda j: _cubic(_sub(Q, cand[i], cand[j], 80), tout[i], tin[j], tol)[1] <= tol

    cost = np.full(m + 1, np.inf)
    cost[0] = 0.0
    back: list[tuple[str, int] | None] = [None] * (m + 1)
    for i in range(m):
        if not np.isfinite(cost[i]):
            continue
        lim = forced_next[i]
        rl = _reach(line_ok(i), i, lim)
        ra = _reach(arc_ok(i), i, lim, rl if rl > i else None) if rl < lim else rl
        rc = _reach(cubic_ok(i), i, lim, ra if ra > i else None) if ra < lim else ra
        top = max(rl, ra, rc, i + 1)
        for j in range(i + 1, top + 1):
            kind = "line" if j <= rl else "arc" if j <= ra else "cubic" if j <= rc else "orig"
            c = cost[i] + WEIGHT.get(kind, WEIGHT["cubic"])
            if c < cost[j] - 1e-12:
                cost[j], back[j] = c, (kind, i)
    out = []
    j = m
    while j > 0:
        entry = back[j]
        assert entry is not None
        kind, i = entry
        out.append((kind, i, j))
        j = i
    return out[::-1]


def _build(Q, cand, tin, tout, triples, orig, tol, slack) -> list[_Piece]:
    pieces = []
    for kind, i, j in triples:
        a, b = cand[i], cand[j]
        q = Q[a: b + 1]
        piece = None
        if kind == "line":
            err = _line_err(q, tol)
            if err <= ACCEPT_TOL * slack * tol:
                piece = _Piece("line", a, b, _line_ctrl(q[0], q[-1]), None, err)
        elif kind == "arc":
            arc = _arc_through(q)
            err = _arc_err(q, arc)
            if arc is not None and err <= ACCEPT_TOL * slack * tol:
                c, _, sw = arc
                piece = _Piece("arc", a, b, arc_cubic(q[0], q[-1], c, max(-math.pi, min(math.pi, sw))), (c, sw), err)
        if piece is None and kind != "orig" and j > i:
            ctrl, err = _cubic(_sub(Q, a, b, 400), tout[i], tin[j])
            if err <= ACCEPT_TOL * tol:
                piece = _Piece("cubic", a, b, ctrl, None, err)
        if piece is None and j > i + 1:  # cubics split where they stray (Schneider), tangent at the ends
            cs = geometry.fit_cubics(Q[a: b + 1], tol, tout[i], -tin[j])
            if cs is not None:
                for c in cs:
                    pieces.append(_Piece("split", a, b, np.asarray(c, np.float64), None, tol))
                continue
        if piece is None:  # the trace's own segments between the two joins
            for k in range(i, j):
                pieces.append(_Piece("orig", cand[k], cand[k + 1], orig(k), None, 0.0))
            continue
        pieces.append(piece)
    return pieces


def _tls_line(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Total least squares line through ``q``: (a point, unit direction from q[0] towards q[-1])."""
    m = q.mean(axis=0)
    _, v = np.linalg.eigh((q - m).T @ (q - m))
    u = v[:, 1]
    return m, (u if u @ (q[-1] - q[0]) >= 0 else -u)


def _project(piece: _Piece, x: np.ndarray, fit) -> np.ndarray:
    if piece.kind == "line":
        m, u = fit
        return m + ((x - m) @ u) * u
    if piece.kind == "arc":
        c, r = fit
        return c + r * _unit(x - c)
    return x


def _refine(pieces: list[_Piece], Q: np.ndarray, tin, tout, cand_of, tol: float, slack: float) -> list[_Piece] | None:
    """Least-squares lines and circles (chords are biased by the trace's wobble at their ends), joined at
    the mean of the two pieces' projections of each breakpoint, or at the intersection of two lines at a
    corner; cubics refitted to the moved ends. None if a piece then strays beyond ACCEPT_TOL tolerances."""
    n = len(pieces)
    fits: list = []
    for p in pieces:
        q = Q[p.a: p.b + 1]
        if p.kind == "line":
            fits.append(_tls_line(q))
        elif p.kind == "arc" and p.a != p.b:
            circ = _circle(q, math.inf)
            if circ is None:
                assert p.arc is not None
                circ = (p.arc[0], float(np.hypot(*(q[0] - p.arc[0]))))
            fits.append(circ)
        else:
            fits.append(None)
    joins = []
    for k in range(n):  # the join at the start of piece k
        prev, cur = pieces[k - 1], pieces[k]
        x = cur.ctrl[0]
        if prev.kind == "line" and cur.kind == "line":
            (m0, u0), (m1, u1) = fits[k - 1], fits[k]
            den = _cross(u0, u1)
            if abs(den) > math.sin(math.radians(CORNER_DEG)):
                t = _cross(m1 - m0, u1) / den
                joins.append(m0 + t * u0)
                continue
        a = _project(prev, x, fits[k - 1]) if fits[k - 1] is not None else x
        b = _project(cur, x, fits[k]) if fits[k] is not None else x
        joins.append(0.5 * (a + b) if fits[k - 1] is not None and fits[k] is not None else (a if fits[k] is None else b))
    out = []
    for k, p in enumerate(pieces):
        p0, p1 = joins[k], joins[(k + 1) % n]
        q = Q[p.a: p.b + 1].copy()
        q[0], q[-1] = p0, p1
        if p.kind == "line":
            ctrl, arc, err = _line_ctrl(p0, p1), None, _line_err(q, tol)
        elif p.kind == "arc" and p.a != p.b:
            c = fits[k][0]
            d = p1 - p0
            L = float(np.hypot(*d))
            if L <= 0:
                return None
            nrm = np.array([-d[1], d[0]]) / L
            mid = 0.5 * (p0 + p1)
            c = mid + float((c - mid) @ nrm) * nrm
            got = _arc_sweep(q, c)
            # the moved centre must keep the arc's turn (else it becomes a cubic below)
            if got is None or p.arc is None or got[2] * p.arc[1] <= 0 or abs(got[2] - p.arc[1]) > 0.25 * abs(p.arc[1]) + 0.05:
                ctrl, arc, err = _line_ctrl(p0, p1), None, math.inf
            else:
                c, _, sw = got
                ctrl, arc, err = arc_cubic(p0, p1, c, max(-math.pi, min(math.pi, sw))), (c, sw), _arc_err(q, got)
        elif p.kind == "cubic":
            ctrl, err = _cubic(_sub(q, 0, len(q) - 1, 400), tout[cand_of[p.a]], tin[cand_of[p.b]])
            arc = None
        else:  # the trace's own curve, or a split cubic: its ends follow the joins
            ctrl, arc = p.ctrl.copy(), None
            d0, d1 = p0 - ctrl[0], p1 - ctrl[3]
            ctrl[:2] += d0
            ctrl[2:] += d1
            err = p.err + max(float(np.hypot(*d0)), float(np.hypot(*d1)))
        kind = p.kind
        if not err <= ACCEPT_TOL * tol * (slack if kind in ("line", "arc") else 1.0):
            if kind not in ("line", "arc") or p.a not in cand_of or p.b not in cand_of:
                return None
            ctrl, err = _cubic(_sub(q, 0, len(q) - 1, 400), tout[cand_of[p.a]], tin[cand_of[p.b]])
            kind, arc = "cubic", None
            if not err <= ACCEPT_TOL * tol:
                return None
        out.append(_Piece(kind, p.a, p.b, ctrl, arc, err))
    return out


def _sub_cubic(c: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """The exact piece ``t0..t1`` of the cubic ``c`` (its blossom at (t0,t0,t0), (t0,t0,t1), (t0,t1,t1), (t1,t1,t1))."""
    def blossom(u1, u2, u3):
        p = c.copy()
        for u in (u1, u2, u3):
            p = p[:-1] * (1 - u) + p[1:] * u
        return p[0]
    return np.array([blossom(t0, t0, t0), blossom(t0, t0, t1), blossom(t0, t1, t1), blossom(t1, t1, t1)])


def _sharpen(pieces: list[_Piece], Q: np.ndarray, px: float) -> float:
    """Remove a short piece between two lines that turn sharply, extending the lines to their intersection
    when it lies near the trace; returns the largest distance of such a corner from the trace."""
    worst = 0.0
    k = 0
    while len(pieces) > 3 and k < len(pieces):
        prev, mid, nxt = pieces[k - 1], pieces[k], pieces[(k + 1) % len(pieces)]
        if prev.kind == "line" and nxt.kind == "line" and mid.kind != "line":
            u = _unit(prev.ctrl[3] - prev.ctrl[0])
            v = _unit(nxt.ctrl[3] - nxt.ctrl[0])
            turn = math.degrees(abs(math.atan2(_cross(u, v), float(u @ v))))
            chord = float(np.hypot(*(mid.ctrl[3] - mid.ctrl[0])))
            den = _cross(u, v)
            if turn > CORNER_DEG and chord <= CORNER_PIECE_PX * px and abs(den) > 1e-12:
                t = _cross(nxt.ctrl[0] - prev.ctrl[3], v) / den
                x = prev.ctrl[3] + t * u
                s = -_cross(prev.ctrl[3] - nxt.ctrl[0], u) / den  # along v from nxt's start
                near = float(np.hypot(*(Q[mid.a: mid.b + 1] - x).T).min())
                if t >= 0 and s <= 0 and near <= CORNER_REACH_PX * px:
                    prev.ctrl = _line_ctrl(prev.ctrl[0], x)
                    nxt.ctrl = _line_ctrl(x, nxt.ctrl[3])
                    worst = max(worst, near)
                    del pieces[k]
                    continue
        k += 1
    return worst


def fit_ring(ctrl: np.ndarray, tol: float, *, px: float | None = None) -> FitResult | None:
    """Refit the closed ring ``ctrl`` (n, 4, 2) within ``tol``; ``px`` is one source pixel in the same units
    (for corners). None when the refit would not have fewer segments than the trace."""
    ctrl = np.asarray(ctrl, np.float64)
    n = len(ctrl)
    if n < 3 or not tol > 0:
        return None
    px = px if px is not None else tol / DEFAULT_FIT_PX
    spacing = SPACING_TOL * tol
    q, tan, starts, seg, tt = _samples(ctrl, spacing)
    N = len(q)
    st, en = _seg_tangents(ctrl)
    prev_end = np.roll(en, 1, axis=0)
    turn = np.degrees(np.abs(np.arctan2(_cross(prev_end, st), (prev_end * st).sum(axis=1))))
    corner = turn > CORNER_DEG
    pieces: list[_Piece] | None = None
    deviation = 0.0
    if not corner.any():
        pieces = _full_circle(q, LS_SLACK * tol)
    if pieces is None:
        # candidates: every join, and points about CANDIDATE_PX apart inside long segments
        step = max(1, int(round(CANDIDATE_PX * px / spacing)))
        is_join = np.zeros(N, dtype=bool)
        is_join[starts] = True
        inner = np.flatnonzero(((np.arange(N) - starts[seg]) % step == 0) & ~is_join)
        inner = inner[(starts[seg[inner]] + np.bincount(seg, minlength=n)[seg[inner]] - inner) > step // 2]
        s_start = int(starts[int(np.flatnonzero(corner)[0])]) if corner.any() else 0
        orig_idx = np.sort(np.concatenate([starts, inner]))
        unrolled = (orig_idx - s_start) % N
        order = np.argsort(unrolled)
        orig_idx, cand = orig_idx[order], np.concatenate([unrolled[order], [N]])
        Q = np.concatenate([q[s_start:], q[:s_start], q[s_start:s_start + 1]])
        join_tout = np.where(is_join[orig_idx, None], st[seg[orig_idx]], tan[orig_idx])
        join_tin = np.where(is_join[orig_idx, None], prev_end[seg[orig_idx]], tan[orig_idx])
        tout = np.concatenate([join_tout, join_tout[:1]])
        tin = np.concatenate([join_tin, join_tin[:1]])
        m = len(orig_idx)
        forced = np.concatenate([is_join[orig_idx] & corner[seg[orig_idx]], [True]])
        forced_next = np.empty(m + 1, dtype=np.int64)
        nxt = m
        for i in range(m, -1, -1):  # the first forced breakpoint after each candidate
            forced_next[i] = nxt
            if forced[i]:
                nxt = i

        def orig(i: int) -> np.ndarray:  # the trace itself from candidate i to i + 1
            a, b = orig_idx[i], orig_idx[(i + 1) % m]
            return _sub_cubic(ctrl[seg[a]], float(tt[a]), 1.0 if is_join[b] else float(tt[b]))

        cand_of = {int(c): i for i, c in enumerate(cand)}
        for slack in (LS_SLACK, 1.0):  # chords within the slack are kept only as least-squares fits
            triples = _cover(Q, cand, forced_next, tin, tout, tol, slack)
            pieces = _build(Q, cand, tin, tout, triples, orig, tol, slack)
            refined = _refine(pieces, Q, tin, tout, cand_of, tol, slack) if len(pieces) > 1 else None
            if refined is not None:
                pieces = refined
                break
        assert pieces is not None
        deviation = _sharpen(pieces, Q, px)
    assert pieces is not None
    if len(pieces) >= n:
        return None
    deviation = max(deviation, max(p.err for p in pieces))
    out = np.array([p.ctrl for p in pieces])
    out[1:, 0] = out[:-1, 3]
    out[0, 0] = out[-1, 3]
    arcs = np.full((len(pieces), 3), np.nan)
    for k, p in enumerate(pieces):
        if p.arc is not None:
            arcs[k] = (p.arc[0][0], p.arc[0][1], p.arc[1])
    is_line = np.array([p.kind == "line" for p in pieces], dtype=np.bool_)
    return FitResult(out, is_line, arcs, float(deviation))
