"""The pieces of the fitting stage (:mod:`cad.fit`): samples of a traced ring, and least-squares lines,
circles and cubics through runs of them, each with its largest distance from the samples.

Every function takes plain arrays of points (m, 2) in any unit and is cheap enough to be called a few
thousand times per ring: the fitting stage tests each piece on at most a few hundred samples.
"""

from __future__ import annotations

import math

import numpy as np

from cad.geometry import bernstein as bern
from cad.geometry import bernstein_d as bern_d

__all__ = ["wobble", "arc_cubic", "line_ctrl", "cross", "unit", "samples", "seg_tangents", "sub", "sub_cubic",
           "bias", "tls_line", "line_err", "kasa_circle", "circle", "arc_through", "arc_sweep", "arc_err", "cubic", "merge_lines", "chord_err",
           "MAX_SWEEP", "farthest_ok"]

#: Longest arc sweep (radians); a full circle is two arcs.
MAX_SWEEP = 1.5 * math.pi


def unit(v: np.ndarray) -> np.ndarray:
    n = float(np.hypot(v[0], v[1]))
    return v / n if n > 0 else v


def cross(a: np.ndarray, b: np.ndarray):
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def arc_cubic(p0: np.ndarray, p3: np.ndarray, c: np.ndarray, sweep: float) -> np.ndarray:
    """The usual cubic approximation (control points) of an arc of at most a half turn."""
    k = 4.0 / 3.0 * math.tan(abs(sweep) / 4.0)
    sgn = 1.0 if sweep > 0 else -1.0
    r0, r3 = p0 - c, p3 - c
    return np.array([p0, p0 + k * sgn * np.array([-r0[1], r0[0]]), p3 - k * sgn * np.array([-r3[1], r3[0]]), p3])


def line_ctrl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([a, a + (b - a) / 3, a + 2 * (b - a) / 3, b])


def sub(Q: np.ndarray, a: int, b: int, most: int) -> np.ndarray:
    """At most ``most`` samples ``a..b``, both ends included, evenly spread."""
    if b - a + 1 <= most:
        return Q[a: b + 1]
    return Q[np.linspace(a, b, most).round().astype(np.int64)]


def sub_cubic(c: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """The exact piece ``t0..t1`` of the cubic ``c`` (its blossom at (t0,t0,t0), (t0,t0,t1), (t0,t1,t1), (t1,t1,t1))."""
    def blossom(u1, u2, u3):
        p = c.copy()
        for u in (u1, u2, u3):
            p = p[:-1] * (1 - u) + p[1:] * u
        return p[0]
    return np.array([blossom(t0, t0, t0), blossom(t0, t0, t1), blossom(t0, t1, t1), blossom(t1, t1, t1)])


# ----------------------------------------------------------------------------- sampling the trace

def samples(ctrl: np.ndarray, spacing: float):
    """Samples along the ring about ``spacing`` apart: points, the first sample of each segment, and each
    sample's segment and parameter."""
    t = np.linspace(0.0, 1.0, 9)
    pts = np.einsum("tk,nkd->ntd", bern(t), ctrl)
    length = np.hypot(*np.diff(pts, axis=1).transpose(2, 0, 1)).sum(axis=1)
    counts = np.clip(np.ceil(length / spacing), 1, 400).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    seg = np.repeat(np.arange(len(ctrl)), counts)
    tt = (np.arange(int(counts.sum())) - np.repeat(starts, counts)) / np.repeat(counts, counts)
    q = np.einsum("mk,mkd->md", bern(tt), ctrl[seg])
    return q, starts, seg, tt


def seg_tangents(ctrl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def bias(signed: np.ndarray, q: np.ndarray, window: float) -> float:
    """The mean size of the signed distances ``signed`` of the samples ``q`` averaged over ``window`` (a
    length): a fit's systematic error, without the wobble of the trace around it."""
    n = len(signed)
    if n < 3 or not window > 0:
        return float(np.abs(signed).mean()) if n else 0.0
    length = float(np.hypot(*(q[-1] - q[0]))) + 1e-300
    seg = np.hypot(*np.diff(q, axis=0).T).sum() or length
    w = int(min(n, max(1, round(n * window / seg))))
    if w <= 1:
        return float(np.abs(signed).mean())
    c = np.concatenate([[0.0], np.cumsum(signed)])
    return float(np.abs((c[w:] - c[:-w]) / w).mean())


# ----------------------------------------------------------------------------- lines

def tls_line(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Total least squares line through ``q``: (its centroid, unit direction from q[0] towards q[-1])."""
    m = q.mean(axis=0)
    r = q - m
    sxx, syy, sxy = float(r[:, 0] @ r[:, 0]), float(r[:, 1] @ r[:, 1]), float(r[:, 0] @ r[:, 1])
    th = 0.5 * math.atan2(2 * sxy, sxx - syy)
    u = np.array([math.cos(th), math.sin(th)])
    return m, (u if u @ (q[-1] - q[0]) >= 0 else -u)


def line_err(q: np.ndarray, slack: float, mean_weight: float = 0.0, window: float = 0.0) -> float:
    """Largest distance of ``q`` from its least-squares line (or ``mean_weight`` times the mean distance
    averaged over ``window``, :func:`bias`, if larger); inf when the samples run back along it by more than
    ``slack`` or the run is shorter than that."""
    if len(q) < 2:
        return math.inf
    m, u = tls_line(q)
    r = q - m
    s = r @ u
    if s[-1] - s[0] <= slack or s.min() < s[0] - slack or s.max() > s[-1] + slack:
        return math.inf
    d = r[:, 0] * u[1] - r[:, 1] * u[0]
    big = float(np.abs(d).max())
    if not mean_weight or big > slack:  # the average only matters to a piece within its allowance
        return big
    return max(big, mean_weight * bias(d, q, window))


def chord_err(q: np.ndarray, p0: np.ndarray, p1: np.ndarray, slack: float) -> float:
    """Largest distance of ``q`` from the line ``p0 p1`` (inf if ``q`` runs back beyond its ends by ``slack``)."""
    d = p1 - p0
    L = float(np.hypot(d[0], d[1]))
    if L <= 0:
        return math.inf
    u = d / L
    r = q - p0
    s = r @ u
    if s.min() < -slack or s.max() > L + slack:
        return math.inf
    return float(np.abs(cross(u, r)).max())


def _turn_deg(u: np.ndarray, v: np.ndarray) -> float:
    return math.degrees(abs(math.atan2(float(cross(u, v)), float(u @ v))))


def merge_lines(pieces: list, Q: np.ndarray, n: int, limit: float, corner_deg: float, trim: float) -> None:
    """Join, in place, each two successive lines of a closed ring that one line fits (they turn by at most ``corner_deg``): the chord from the
    first one's start to the second one's end lies within ``limit`` of the samples of both (but those within
    ``trim`` of its ends, where potrace rounded the corners), and both its ends
    are corners (it turns by more than ``corner_deg`` from its neighbours there), so no tangent join moves.
    A corner potrace split in two turns leaves a short line beside a long one in the same direction.
    ``pieces`` (of :mod:`cad.fit`) have ``kind``, ``a``, ``b`` (sample indices into ``Q``, which holds two
    laps of ``n`` samples), ``ctrl`` and ``err``."""
    k = 0
    while len(pieces) > 3 and k < len(pieces):
        first, second = pieces[k], pieces[(k + 1) % len(pieces)]
        if first.kind != "line" or second.kind != "line":
            k += 1
            continue
        p0, p1 = first.ctrl[0], second.ctrl[3]
        u = unit(p1 - p0)
        before, after = pieces[k - 1], pieces[(k + 2) % len(pieces)]
        t_in = unit(before.ctrl[3] - (before.ctrl[2] if before.kind != "line" else before.ctrl[0]))
        t_out = unit((after.ctrl[1] if after.kind != "line" else after.ctrl[3]) - after.ctrl[0])
        b = second.b if second.b >= first.a else second.b + n
        q = Q[first.a: b + 1]
        along = (q - p0) @ u
        q = q[(along > trim) & (along < float(np.hypot(*(p1 - p0))) - trim)]  # not the corners potrace rounded
        d = float(np.abs(cross(q - p0, u)).max()) if len(q) else math.inf
        bend = _turn_deg(unit(first.ctrl[3] - p0), unit(p1 - second.ctrl[0]))
        if d > limit or bend > corner_deg or _turn_deg(t_in, u) <= corner_deg or _turn_deg(u, t_out) <= corner_deg:
            k += 1
            continue
        first.ctrl, first.b, first.err = line_ctrl(p0, p1), b, max(first.err, second.err, d)
        j = (k + 1) % len(pieces)
        del pieces[j]
        k -= j < k  # and stay: the joined line may join its next one too


# ----------------------------------------------------------------------------- circles and arcs

def kasa_circle(q: np.ndarray) -> tuple[np.ndarray, float] | None:
    """The algebraic least-squares circle through ``q`` (Kåsa): (centre, radius), or None."""
    m = q.mean(axis=0)
    p = q - m
    s = float(np.abs(p).max())
    if not s > 0:
        return None
    p = p / s
    z = (p * p).sum(axis=1)
    A = np.column_stack([p, np.ones(len(p))])
    M = A.T @ A
    try:
        sol = np.linalg.solve(M, A.T @ z)
    except np.linalg.LinAlgError:
        return None
    c = 0.5 * sol[:2]
    r2 = sol[2] + c @ c
    if not (np.isfinite(r2) and r2 > 0):
        return None
    return m + c * s, math.sqrt(r2) * s


def circle(q: np.ndarray, tol: float) -> tuple[np.ndarray, float] | None:
    """A least-squares circle (algebraic, refined by Gauss-Newton) through the closed samples ``q`` within
    ``tol``, turning one way; None otherwise."""
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


def arc_through(q: np.ndarray) -> np.ndarray | None:
    """The centre of the least-squares circle through both ends of ``q`` (on their perpendicular bisector)."""
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
    return m + float(lhs @ rhs) / den * n


def arc_sweep(q: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, float, float] | None:
    """Centre, radius (at q[0]) and the signed sweep of ``q`` about ``c``; None unless the samples turn one way."""
    v = q - c
    ang = np.arctan2(v[:, 1], v[:, 0])
    step = np.diff(ang)
    step = (step + np.pi) % (2 * np.pi) - np.pi
    if not ((step >= -1e-9).all() or (step <= 1e-9).all()):
        return None
    radius = float(np.hypot(*(q[0] - c)))
    return c, radius, float(step.sum())


def arc_err(q: np.ndarray, c: np.ndarray, r: float, mean_weight: float = 0.0,
            window: float = 0.0, limit: float = math.inf) -> tuple[float, float]:
    """The largest distance of ``q`` from the circle (``c``, ``r``) (or ``mean_weight`` times the mean distance,
    if larger), and the signed sweep of ``q`` about it (inf, 0 when the samples do not turn one way or sweep
    more than :data:`MAX_SWEEP`)."""
    v = q - c
    ang = np.arctan2(v[:, 1], v[:, 0])
    step = np.diff(ang)
    step = (step + np.pi) % (2 * np.pi) - np.pi
    if not ((step >= -1e-9).all() or (step <= 1e-9).all()):
        return math.inf, 0.0
    sw = float(step.sum())
    if not 0 < abs(sw) <= MAX_SWEEP:
        return math.inf, 0.0
    d = np.hypot(v[:, 0], v[:, 1]) - r
    big = float(np.abs(d).max())
    if not mean_weight or big > limit:
        return big, sw
    return max(big, mean_weight * bias(d, q, window)), sw


# ----------------------------------------------------------------------------- cubics

def cubic(q: np.ndarray, t0: np.ndarray, t1: np.ndarray, tol: float = 0.0,
          mean_weight: float = 0.0, window: float = 0.0) -> tuple[np.ndarray, float]:
    """Least-squares cubic through ``q`` with ends fixed and end tangents along ``t0`` (out of the start)
    and ``t1`` (into the end): (ctrl, largest error, or ``mean_weight`` times the mean error if larger).
    Stops early once within ``tol``, or when far off it."""
    a, b = q[0], q[-1]
    chord = float(np.hypot(*(b - a)))
    d = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(q, axis=0).T))])
    if d[-1] <= 0 or chord <= 0:
        return line_ctrl(a, b), math.inf
    u = d / d[-1]
    c = line_ctrl(a, b)
    err = math.inf
    for it in range(4):
        B = bern(u)
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
        err = _cubic_err(diff, q, mean_weight, window, tol if tol > 0 else math.inf)
        if err <= tol or (tol > 0 and it >= 1 and err > 4 * tol):
            return c, err
        # Newton step of the parameters towards the nearest points
        dp = bern_d(u) @ c
        un = u - (diff * dp).sum(axis=1) / np.maximum((dp * dp).sum(axis=1), 1e-300)
        un[0], un[-1] = 0.0, 1.0
        if np.all(np.diff(un) > 0):
            u = un
    err = min(err, _cubic_err(bern(u) @ c - q, q, mean_weight, window, tol if tol > 0 else math.inf))
    return c, err


def _cubic_err(diff: np.ndarray, q: np.ndarray, mean_weight: float, window: float, limit: float) -> float:
    big = float(np.hypot(diff[:, 0], diff[:, 1]).max())
    if not mean_weight or big > limit or len(q) < 3:
        return big
    t = np.concatenate([q[1:2] - q[:1], q[2:] - q[:-2], q[-1:] - q[-2:-1]])
    signed = (t[:, 0] * diff[:, 1] - t[:, 1] * diff[:, 0]) / np.maximum(np.hypot(t[:, 0], t[:, 1]), 1e-300)
    return max(big, mean_weight * bias(signed, q, window))



def wobble(ctrl: np.ndarray, px: float, half: int = 8) -> float:
    """The trace's own wobble: the median, over the ring, of the RMS distance of the samples (a quarter
    ``px`` apart) from a parabola fitted to the ``half`` samples either side in the frame of their chord.
    The parabola takes up the shape's bending, so what is left is the noise of the trace (JPEG ringing,
    a photo's grain); a corner touches too few windows to move the median."""
    q = samples(np.asarray(ctrl, np.float64), 0.25 * px)[0]
    n = len(q)
    if n < 2 * half + 3:
        return 0.0
    idx = (np.arange(n)[:, None] + np.arange(-half, half + 1)[None, :]) % n
    win = q[idx]  # (n, 2h+1, 2)
    d = win[:, -1] - win[:, 0]
    u = d / np.maximum(np.hypot(*d.T), 1e-300)[:, None]
    r = win - win[:, :1]
    x = (r * u[:, None, :]).sum(axis=2)
    y = r[..., 1] * u[:, None, 0] - r[..., 0] * u[:, None, 1]
    x = x / np.maximum(np.abs(x).max(axis=1, keepdims=True), 1e-300)
    A = np.stack([np.ones_like(x), x, x * x], axis=2)  # (n, m, 3)
    AtA = np.einsum("nmi,nmj->nij", A, A) + 1e-12 * np.eye(3)
    Aty = np.einsum("nmi,nm->ni", A, y)
    c = np.linalg.solve(AtA, Aty[..., None])[..., 0]
    res = y - np.einsum("nmi,ni->nm", A, c)
    return float(np.median(np.sqrt((res * res).mean(axis=1))))


def farthest_ok(ok, i: int, lim: int, step: int, res: int, known: int | None = None) -> int:
    """The largest j in (i, lim] with ``ok(j)`` (to within ``res``), assuming ``ok`` holds up to some j and fails
    past it: galloping from ``known`` (a j known to be ok) by ``step``, then bisection; ``i`` when none is ok."""
    lo = i if known is None else known
    hi = None
    while lo < lim:
        j = min(lo + step, lim)
        if ok(j):
            lo, step = j, step * 2
        else:
            hi = j
            break
    if hi is None:
        return lo
    while hi - lo > res:
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    if lo == i and hi - lo > 1:  # nothing found at the coarse resolution: look closer
        return farthest_ok(ok, i, hi - 1, 1, 1) if hi - 1 > i else i
    return lo
