"""Set operations on exact curves: flatten with provenance, operate with shapely, rebuild the curves.

Every Bézier segment of the artwork is flattened finely; each point of the polyline remembers the
segment and parameter it came from. Fills, unions and differences are then computed by shapely on
the polylines, and each ring of the result is turned back into curves: a run of result vertices
that lies on one source segment becomes the exact piece of that segment between the run's ends (de
Casteljau), a straight source segment stays a line. Intersection points, where shapely made a new
vertex, are found on the chord they lie on, so the pieces that meet there join exactly. Only edges
that lie on no source curve (stroke outlines, buffered polylines) stay lines.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon

from cad import geometry

__all__ = ["Curves", "fill_area", "split_cubic", "ring_curves"]


def split_cubic(ctrl: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """The piece of the cubic ``ctrl`` (4, 2) between parameters ``t0`` and ``t1`` (reversed if t0 > t1)."""
    if t0 > t1:
        return split_cubic(ctrl, t1, t0)[::-1].copy()

    def left(c, t):  # [0, t]
        a = c[:-1] + t * (c[1:] - c[:-1])
        b = a[:-1] + t * (a[1:] - a[:-1])
        d = b[:-1] + t * (b[1:] - b[:-1])
        return np.array([c[0], a[0], b[0], d[0]])

    def right(c, t):  # [t, 1]
        a = c[:-1] + t * (c[1:] - c[:-1])
        b = a[:-1] + t * (a[1:] - a[:-1])
        d = b[:-1] + t * (b[1:] - b[:-1])
        return np.array([d[0], b[1], a[2], c[3]])

    c = left(ctrl, t1) if t1 < 1 else ctrl
    if t0 <= 0:
        return c.copy()
    return right(c, t0 / t1) if t1 > 0 else c.copy()


class Curves:
    """The source segments of an artwork, their flattening and the lookup from points back to curves."""

    def __init__(self, tolerance: float) -> None:
        self.tolerance = tolerance
        self.ctrl: list[np.ndarray] = []
        self.is_line: list[bool] = []
        self.step: list[float] = []  # parameter step of each segment's flattening
        self.at: dict[tuple[float, float], dict[int, float]] = defaultdict(dict)
        self._chords: list[tuple[np.ndarray, np.ndarray, int, float, float]] = []
        self._tree: shapely.STRtree | None = None
        self._chord_geoms: list[LineString] = []

    def add_ring(self, ctrl: np.ndarray, is_line: np.ndarray) -> np.ndarray:
        """Register a closed ring of segments; returns its flattening (m, 2), last point not repeated."""
        n = geometry.segment_counts(ctrl, is_line, self.tolerance)
        pts_all = []
        for c, line, k in zip(ctrl, is_line, n):
            sid = len(self.ctrl)
            self.ctrl.append(np.asarray(c, float))
            self.is_line.append(bool(line))
            self.step.append(1.0 / int(k))
            ts = np.linspace(0.0, 1.0, int(k) + 1)
            pts = _bezier(c, ts) if not line else c[0] + np.outer(ts, c[3] - c[0])
            pts[0], pts[-1] = c[0], c[3]
            for p, t in zip(pts, ts):
                self.at[(float(p[0]), float(p[1]))][sid] = float(t)
            for j in range(len(ts) - 1):
                self._chords.append((pts[j], pts[j + 1], sid, float(ts[j]), float(ts[j + 1])))
            pts_all.append(pts[:-1])
        self._tree = None
        return np.concatenate(pts_all) if pts_all else np.zeros((0, 2))

    def _lookup(self, p: np.ndarray, eps: float) -> dict[int, float]:
        key = (float(p[0]), float(p[1]))
        hit = self.at.get(key)
        if hit:
            return hit
        if self._tree is None:
            self._chord_geoms = [LineString([a, b]) for a, b, *_ in self._chords]
            self._tree = shapely.STRtree(self._chord_geoms)
        out: dict[int, float] = {}
        for j in self._tree.query(shapely.Point(p), predicate="dwithin", distance=eps):
            a, b, sid, t0, t1 = self._chords[int(j)]
            ab = b - a
            den = float(ab @ ab)
            f = float(np.clip((p - a) @ ab / den, 0.0, 1.0)) if den > 0 else 0.0
            if sid not in out:
                out[sid] = t0 + f * (t1 - t0)
        return out

    def _refine(self, p: np.ndarray, tag: dict[int, float]) -> tuple[np.ndarray, dict[int, float]]:
        """Newton's method from the chord estimate: the crossing of the first two curves of ``tag``, or the
        nearest point of its one curve."""
        sids = sorted(tag)[:2]
        t = np.array([tag[s] for s in sids], float)
        for _ in range(8):
            vals = [(_bezier(self.ctrl[s], np.array([ti]))[0], _dbezier(self.ctrl[s], ti)) for s, ti in zip(sids, t)]
            if len(sids) == 2:
                (b0, d0), (b1, d1) = vals
                jac = np.column_stack([d0, -d1])
                if abs(np.linalg.det(jac)) < 1e-300:
                    break
                step = np.linalg.solve(jac, b0 - b1)
            else:
                (b0, d0), = vals
                den = float(d0 @ d0)
                if den <= 0:
                    break
                step = np.array([(b0 - p) @ d0 / den])
            t_new = np.clip(t - step, 0.0, 1.0)
            if np.max(np.abs(t_new - t)) < 1e-15:
                t = t_new
                break
            t = t_new
        q = _bezier(self.ctrl[sids[0]], t[:1])[0]
        if np.hypot(*(q - p)) > 10 * self.tolerance:  # no convergence: keep the chord estimate
            return p, tag
        out = dict(tag)
        out.update({s: float(ti) for s, ti in zip(sids, t)})
        return q, out

    def rebuild(self, coords: np.ndarray, breaks: set | None = None) -> tuple[np.ndarray, np.ndarray, bool]:
        """A closed ring of the result (shapely coordinates) -> ``(ctrl, is_line, exact)``.

        ``breaks``: points where a new segment must start (where three or more boundaries meet, so that
        neighbours sharing a boundary cut it at the same points)."""
        pts = np.asarray(coords, float)
        if len(pts) > 1 and np.array_equal(pts[0], pts[-1]):
            pts = pts[:-1]
        m = len(pts)
        eps = 1e-7 * self.tolerance + 1e-12
        tags = [self._lookup(p, eps) for p in pts]
        is_break = [(float(p[0]), float(p[1])) in (breaks or ()) for p in pts]
        for k, p in enumerate(pts):  # a new vertex (a crossing) moves onto the exact curves
            if (float(p[0]), float(p[1])) not in self.at and tags[k]:
                pts[k], tags[k] = self._refine(p, tags[k])
        edges: list[tuple[int, float, float] | None] = []
        for k in range(m):
            a, b = tags[k], tags[(k + 1) % m]
            best = None
            for sid in a.keys() & b.keys():
                dt = b[sid] - a[sid]  # an edge of the result lies within one chord of its segment
                if dt != 0 and abs(dt) <= self.step[sid] * (1 + 1e-9) and (best is None or abs(dt) < abs(best[2] - best[1])):
                    best = (sid, a[sid], b[sid])
            edges.append(best)

        def joins(k: int) -> bool:  # edge k continues edge k-1
            e0, e1 = edges[k - 1], edges[k]
            if e0 is None or e1 is None or e0[0] != e1[0] or is_break[k]:
                return False
            return (e0[2] - e0[1]) * (e1[2] - e1[1]) > 0 and e0[2] == e1[1]

        starts = [k for k in range(m) if not joins(k)]
        if not starts:
            starts = [0]
        out_ctrl, out_line = [], []
        exact = True
        for i, k0 in enumerate(starts):
            k1 = starts[i + 1] if i + 1 < len(starts) else starts[0] + m  # run of edges k0 .. k1-1
            p0, p1 = pts[k0 % m], pts[k1 % m]
            e = edges[k0 % m]
            if e is None:
                out_ctrl.append(_line(p0, p1))
                out_line.append(True)
                exact = False
                continue
            sid, ta = e[0], e[1]
            tb = edges[(k1 - 1) % m][2]  # type: ignore[index]
            if self.is_line[sid]:
                out_ctrl.append(_line(p0, p1))
                out_line.append(True)
                continue
            piece = split_cubic(self.ctrl[sid], ta, tb)
            piece[1] += p0 - piece[0]
            piece[2] += p1 - piece[3]
            piece[0], piece[3] = p0, p1
            out_ctrl.append(piece)
            out_line.append(False)
        return np.array(out_ctrl), np.array(out_line, dtype=bool), exact


def _bezier(c: np.ndarray, t: np.ndarray) -> np.ndarray:
    u = (1.0 - t)[:, None]
    t = t[:, None]
    return u**3 * c[0] + 3 * u * u * t * c[1] + 3 * u * t * t * c[2] + t**3 * c[3]


def _dbezier(c: np.ndarray, t: float) -> np.ndarray:
    u = 1.0 - t
    return 3 * u * u * (c[1] - c[0]) + 6 * u * t * (c[2] - c[1]) + 3 * t * t * (c[3] - c[2])


def _line(p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    return np.array([p0, p0 + (p1 - p0) / 3, p0 + 2 * (p1 - p0) / 3, p1])


def _winding(px: float, py: float, ring: np.ndarray) -> int:
    """Winding number of a point about a closed polyline ``ring`` (m, 2), last point not repeated."""
    x0, y0 = ring[:, 0], ring[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    cross = (x1 - x0) * (py - y0) - (px - x0) * (y1 - y0)
    up = (y0 <= py) & (y1 > py) & (cross > 0)
    down = (y0 > py) & (y1 <= py) & (cross < 0)
    return int(up.sum()) - int(down.sum())


def fill_area(rings: list[np.ndarray], rule: str):
    """The area that closed polylines paint under the fill rule ``nonzero`` or ``evenodd`` (shapely geometry).

    The rings are noded together and every face of the arrangement is kept or not by the winding
    number at a point inside it, so self-intersecting and overlapping subpaths follow the rule exactly."""
    rings = [r for r in rings if len(r) >= 3]
    if not rings:
        return Polygon()
    closed = [np.vstack([r, r[:1]]) for r in rings]
    if len(rings) == 1:  # one ring: simple unless it crosses itself
        ring = shapely.LinearRing(closed[0])
        if ring.is_simple:
            return Polygon(ring)
    lines = [LineString(c) for c in closed]
    noded = shapely.union_all(lines)
    faces = [f for f in shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))) if f.area > 0]
    if not faces:
        return Polygon()
    boxes = shapely.STRtree(lines)
    keep = []
    for face in faces:
        parts = [face] if face.is_valid else [p for p in shapely.get_parts(shapely.make_valid(face))
                                              if p.geom_type == "Polygon" and p.area > 0]
        for part in parts:
            pt = part.representative_point()
            w = sum(_winding(pt.x, pt.y, rings[int(j)]) for j in boxes.query(pt))
            if (w % 2 == 1) if rule == "evenodd" else (w != 0):
                keep.append(part)
    if not keep:
        return Polygon()
    return shapely.union_all(keep)


def ring_curves(curves: Curves, geom, breaks: set | None = None):
    """Each polygon of ``geom`` -> ``(shell, holes)`` with every ring as ``(ctrl, is_line, exact)``."""
    polys = [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon" and not g.is_empty]
    polys += [p for g in shapely.get_parts(geom) if isinstance(g, MultiPolygon) for p in g.geoms]
    out = []
    for p in polys:
        if p.area <= 0:
            continue
        shell = curves.rebuild(np.asarray(p.exterior.coords), breaks)
        holes = [curves.rebuild(np.asarray(h.coords), breaks) for h in p.interiors]
        out.append((shell, holes))
    return out
