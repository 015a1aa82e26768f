"""Centrelines of line art: :class:`~tracer.types.Mask` -> :class:`Centerlines` (open and closed Bézier paths).

Stages
------
1. **Skeleton graph.** The mask is thinned (:func:`tracer.skeleton.thin`) and walked into ends,
   junctions and branches (:func:`tracer.skeleton.pixel_graph`).
2. **Spurs and split junctions.** A branch from a junction to a free end that is shorter than
   ``spur`` line widths is a thinning artefact and is pruned; two junctions closer than
   ``merge`` line widths are one crossing that the skeleton split along a short diagonal, and
   become one node (an X is one junction of four branches).
3. **Centring.** Each branch is sampled every pixel; at each sample the mask is read across the
   line (bilinear, along the normal) and the sample moves to the middle of the two edges. The
   distance between the edges is the local ink width; its median is the drawing's ink width.
   Samples whose cross-section is wider than the line (near a junction, a corner or another line)
   are set aside.
4. **Nodes.** A junction goes where the lines through it meet: the least-squares intersection of
   its branches' end directions, measured beyond the junction's own blot. A free end goes half a
   line width inside the ink's tip, the centre of a round pen's cap. A corner inside a branch is
   put back the same way, where the straight runs on either side meet.
5. **Paths.** At each junction the branches that continue each other (the most nearly opposite
   directions) are joined, so an X is two crossing lines and a T a bar with a stem. Each path is
   fitted with cubic Béziers (:mod:`tracer.bezierfit`); a loop stays closed.

All coordinates are source pixels, x right and y down (the frame of :mod:`tracer.types`).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tracer.bezierfit import fit_beziers, line_bezier
from tracer.errors import EmptyMaskError
from tracer.opencv import load_cv2
from tracer.polyline import fit_line, length, meet, normals, resample, smooth
from tracer.skeleton import pixel_graph, thin
from tracer.types import Mask

__all__ = ["Stroke", "Centerlines", "centerlines", "CENTERLINE_DEFAULTS"]

#: spur: prune end branches shorter than this many line widths; merge: junctions closer than this many
#: widths are one; tolerance: Bézier fit tolerance in source pixels; step: sample spacing in source pixels.
CENTERLINE_DEFAULTS = {"spur": 1.5, "merge": 1.2, "tolerance": 0.1, "step": 1.0}
#: A cross-section wider than this many line widths touches something else (a junction, a corner).
WIDE = 1.3
#: Gaussian smoothing of the centred samples along a line (sigma, in samples): the centring's noise is
#: a tenth of a pixel, and a curve of radius r shrinks by sigma^2 / 2r.
SMOOTH_SIGMA = 2.0
#: Islands and holes of the mask smaller than this many working pixels are crumbs of the edge.
SPECK_PX = 6
#: A branch turning by more than this many degrees within a line width on either side has a corner.
CORNER_TURN = 40.0


@dataclass(frozen=True, slots=True, eq=False)
class Stroke:
    """One centreline: cubic Béziers ``ctrl`` (n, 4, 2) in source pixels and whether it is a closed loop.

    A dot (a path of no length) has one degenerate segment whose four points coincide.
    """

    ctrl: NDArray[np.float64]
    closed: bool

    def points(self, per_segment: int = 16) -> NDArray[np.float64]:
        """The path flattened to ``per_segment`` points a segment (m, 2)."""
        u = np.linspace(0.0, 1.0, per_segment + 1)[:-1]
        m = 1 - u
        b = np.stack([m**3, 3 * m * m * u, 3 * m * u * u, u**3], axis=1)
        pts = np.concatenate([b @ seg for seg in self.ctrl] + [self.ctrl[-1, 3][None]])
        return pts


@dataclass(frozen=True, slots=True, eq=False)
class Centerlines:
    """The centrelines of a drawing and its graph: ``junctions`` and ``endpoints`` (k, 2) in source pixels,
    the number of ``branches`` (edges between nodes; a loop with no node is one), and the median ink
    width measured across the lines, in source pixels."""

    strokes: tuple[Stroke, ...]
    junctions: NDArray[np.float64]
    endpoints: NDArray[np.float64]
    branches: int
    ink_width_px: float
    source_size: tuple[int, int]

    @property
    def n_segments(self) -> int:
        return sum(len(s.ctrl) for s in self.strokes)


class _Graph:
    """A mutable graph of nodes (position, kind) and edges (end nodes, polyline from ``a`` to ``b``),
    with each node's edges indexed."""

    def __init__(self) -> None:
        self.pos: dict[int, NDArray] = {}
        self.kind: dict[int, str] = {}
        self.edges: dict[int, list] = {}  # id -> [a, b, pts]; a = b = -1 for a loop with no node
        self.at: dict[int, set[int]] = {}  # node -> its edges
        self._next = 0
        self.corners: list[NDArray] = []  # corners that were junctions of a spur (see _drop_corner_spurs)

    def add_edge(self, a: int, b: int, pts: NDArray) -> int:
        e = self._next
        self.edges[e] = [a, b, pts]
        for n in (a, b):
            if n >= 0:
                self.at.setdefault(n, set()).add(e)
        self._next += 1
        return e

    def remove_edge(self, e: int) -> list:
        a, b, pts = self.edges.pop(e)
        for n in (a, b):
            if n in self.at:
                self.at[n].discard(e)
        return [a, b, pts]

    def remove_node(self, node: int) -> None:
        del self.pos[node], self.kind[node]
        self.at.pop(node, None)

    def incident(self, node: int) -> list[tuple[int, int]]:
        """(edge, end) pairs at ``node``: end 0 if the edge starts there, 1 if it ends there (a loop twice)."""
        out = []
        for e in sorted(self.at.get(node, ())):
            a, b, _ = self.edges[e]
            if a == node:
                out.append((e, 0))
            if b == node:
                out.append((e, 1))
        return out

    def degree(self, node: int) -> int:
        return len(self.incident(node))

    def dissolve(self, node: int) -> int | None:
        """Join the two edges of a node of degree 2 into one (a loop with no node if they are one edge);
        returns the joined edge."""
        inc = self.incident(node)
        if len(inc) != 2:
            return None
        (e1, end1), (e2, end2) = inc
        self.remove_node(node)
        if e1 == e2:  # a loop through this node only
            pts = self.edges.pop(e1)[2]
            return self.add_edge(-1, -1, pts)
        a1, b1, p1 = self.remove_edge(e1)
        a2, b2, p2 = self.remove_edge(e2)
        if end1 == 0:
            a1, b1, p1 = b1, a1, p1[::-1]
        if end2 == 1:
            a2, b2, p2 = b2, a2, p2[::-1]
        return self.add_edge(a1, b2, np.concatenate([p1, p2[1:]]))


class _Sampler:
    """Bilinear reads of the mask (1 ink, 0 paper) at source-pixel positions."""

    def __init__(self, mask: Mask) -> None:
        self.field = np.ascontiguousarray(mask.pixels, dtype=np.float32)
        self.scale = float(mask.scale)
        self.cv2 = load_cv2()

    def __call__(self, xy: NDArray) -> NDArray:
        shape = xy.shape[:-1]
        w = (xy.reshape(-1, 2) / self.scale - 0.5).astype(np.float32)
        cols = 4096  # remap takes fewer than 32767 rows and columns
        pad = (-len(w)) % cols
        w = np.concatenate([w, np.full((pad, 2), -10.0, np.float32)])
        mx = np.ascontiguousarray(w[:, 0].reshape(-1, cols))
        my = np.ascontiguousarray(w[:, 1].reshape(-1, cols))
        out = np.concatenate([self.cv2.remap(self.field, mx[i:i + 8192], my[i:i + 8192], self.cv2.INTER_LINEAR,
                                             borderMode=self.cv2.BORDER_CONSTANT, borderValue=0).ravel()
                              for i in range(0, len(mx), 8192)])[:len(xy.reshape(-1, 2))]
        return out.reshape(shape)


def _cross_sections(sample: _Sampler, pts: NDArray, normals: NDArray, reach: float, step: float
                    ) -> tuple[NDArray, NDArray]:
    """For each point, the offset of the middle of the ink along its normal and the ink width there
    (NaN where the point is off the ink or an edge is beyond ``reach``)."""
    t = np.arange(-reach, reach + step / 2, step)
    c0 = len(t) // 2
    v = sample(pts[:, None, :] + t[None, :, None] * normals[:, None, :])
    off = np.full(len(pts), np.nan)
    width = np.full(len(pts), np.nan)
    if len(t) < 3:
        return off, width
    below = v < 0.5
    right = below[:, c0:]
    left = below[:, :c0 + 1][:, ::-1]
    has_r, has_l = right.any(axis=1), left.any(axis=1)
    jr = c0 + np.argmax(right, axis=1)
    jl = c0 - np.argmax(left, axis=1)
    ok = has_r & has_l & ~below[:, c0]
    rows = np.arange(len(pts))
    jr_, jl_ = np.clip(jr, 1, len(t) - 1), np.clip(jl, 0, len(t) - 2)
    vr0, vr1 = v[rows, jr_ - 1], v[rows, jr_]
    vl0, vl1 = v[rows, jl_ + 1], v[rows, jl_]
    with np.errstate(divide="ignore", invalid="ignore"):
        tr = t[jr_ - 1] + step * (vr0 - 0.5) / (vr0 - vr1)
        tl = t[jl_ + 1] - step * (vl0 - 0.5) / (vl0 - vl1)
        off[ok] = 0.5 * (tr + tl)[ok]
        width[ok] = (tr - tl)[ok]
    return off, width


def centerlines(mask: Mask, *, spur: float = CENTERLINE_DEFAULTS["spur"], merge: float = CENTERLINE_DEFAULTS["merge"],
                tolerance: float = CENTERLINE_DEFAULTS["tolerance"], step: float = CENTERLINE_DEFAULTS["step"]
                ) -> Centerlines:
    """The centrelines of the ink of ``mask`` (see the module docstring for the stages)."""
    pixels = np.asarray(mask.pixels, dtype=bool)
    if not pixels.any():
        raise EmptyMaskError("the mask has no ink to follow")
    s = float(mask.scale)
    cv2 = load_cv2()
    pixels = _tidy(pixels, cv2)
    mask = Mask(pixels, scale=mask.scale, source_size=mask.source_size)
    skel = thin(pixels)
    dist = cv2.distanceTransform(pixels.astype(np.uint8), cv2.DIST_L2, 5)
    w0 = max(float(np.median(2.0 * dist[skel])) - 1.0, 1.0) * s  # first width estimate, source px
    pg = pixel_graph(skel)

    def to_xy(rc: NDArray) -> NDArray:
        return np.stack([(rc[:, 1] + 0.5) * s, (rc[:, 0] + 0.5) * s], axis=1).astype(np.float64)

    g = _Graph()
    for i, (r, c) in enumerate(pg.pos):
        g.pos[i] = np.array([(c + 0.5) * s, (r + 0.5) * s])
        g.kind[i] = pg.kind[i]
    for br in pg.branches:
        g.add_edge(br.a, br.b, to_xy(br.pixels))
    _prune(g, max(spur * w0, w0 + 2.0 * s))  # the margin: an acute corner's spur on a thin line
    _merge_junctions(g, merge * w0)

    sample = _Sampler(mask)
    refined, width = _centre(g, sample, w0, step)
    _place_junctions(g, refined, width)
    _place_ends(g, refined, sample, width, step)
    _drop_corner_spurs(g, refined, width)
    strokes = _paths(g, refined, width, tolerance, step)
    junctions = [n for n, k in g.kind.items() if k == "junction" and g.degree(n) >= 3]
    ends = [n for n in g.kind if g.degree(n) <= 1]
    return Centerlines(
        strokes=tuple(strokes),
        junctions=np.array([g.pos[n] for n in junctions]).reshape(-1, 2),
        endpoints=np.array([g.pos[n] for n in ends]).reshape(-1, 2),
        branches=len(g.edges) + sum(1 for n in g.kind if g.degree(n) == 0),
        ink_width_px=float(width), source_size=(int(mask.source_size[0]), int(mask.source_size[1])))


def _tidy(pixels: NDArray[np.bool_], cv2) -> NDArray[np.bool_]:
    """The mask without the one-pixel notches, bumps and crumbs that a blurred or noisy edge leaves
    (each would thin to a spur or a dot): a 3x3 majority filter, then islands and holes of fewer than
    ``SPECK_PX`` pixels removed. A mask the filter would empty is kept as it is."""
    tidy = cv2.medianBlur(pixels.astype(np.uint8) * 255, 3) > 127
    if not tidy.any():
        return pixels
    for value in (True, False):
        n, labels, stats, _ = cv2.connectedComponentsWithStats((tidy == value).astype(np.uint8), connectivity=8)
        small = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] < SPECK_PX)
        small = small[small > 0]
        if len(small) and (value is False or len(small) < n - 1):
            tidy[np.isin(labels, small)] = not value
    return tidy


def _prune(g: _Graph, max_len: float) -> None:
    """Remove end branches shorter than ``max_len`` at junctions, shortest first."""
    heap = [(length(pts), e) for e, (_, _, pts) in g.edges.items()]
    heapq.heapify(heap)
    while heap:
        run_len, e = heapq.heappop(heap)
        if run_len >= max_len:
            return
        if e not in g.edges:
            continue
        a, b, _ = g.edges[e]
        for end_node, other in ((a, b), (b, a)):
            if end_node < 0 or g.kind[end_node] != "end" or other < 0 or other == end_node or g.degree(other) < 3:
                continue
            g.remove_edge(e)
            g.remove_node(end_node)
            if g.degree(other) == 2:
                joined = g.dissolve(other)
                if joined is not None:
                    heapq.heappush(heap, (length(g.edges[joined][2]), joined))
            break


def _merge_junctions(g: _Graph, max_len: float) -> None:
    """Contract short branches between two junctions (a crossing the skeleton split in two)."""

    def short(e: int) -> bool:
        a, b, _ = g.edges[e]
        return a >= 0 and b >= 0 and a != b and g.kind[a] == "junction" and g.kind[b] == "junction"

    heap = [(length(pts), e) for e, (_, _, pts) in g.edges.items() if short(e)]
    heapq.heapify(heap)
    while heap:
        run_len, e = heapq.heappop(heap)
        if run_len >= max_len:
            return
        if e not in g.edges or not short(e):
            continue
        a, b, _ = g.remove_edge(e)
        g.pos[a] = 0.5 * (g.pos[a] + g.pos[b])
        for e2 in sorted(g.at.get(b, ())):
            a2, b2, pts = g.remove_edge(e2)
            if a2 == b:
                a2, pts = a, np.concatenate([g.pos[a][None], pts])
            if b2 == b:
                b2, pts = a, np.concatenate([pts, g.pos[a][None]])
            new = g.add_edge(a2, b2, pts)
            if short(new):
                heapq.heappush(heap, (length(pts), new))
        g.remove_node(b)


def _centre(g: _Graph, sample: _Sampler, w0: float, step: float) -> tuple[dict, float]:
    """Every edge resampled, smoothed and moved to the middle of the ink: ``{edge: (pts, ok)}`` and the
    median ink width (``ok`` marks samples whose cross-section is one clean line)."""
    out: dict[int, list] = {}
    widths: list[NDArray] = []
    w = w0
    for it in range(2):
        widths = []
        for e, (a, b, pts) in g.edges.items():
            closed = a < 0
            base = out[e][0] if it else smooth(resample(pts, step), max(w0 / (2 * step), 1.0), closed)
            if len(base) < 2:
                out[e] = [base, np.zeros(len(base), bool), np.full(len(base), np.nan), base]
                continue
            nrm = normals(smooth(base, max(w / (2 * step), 1.0), closed), closed)
            off, wid = _cross_sections(sample, base, nrm, 1.0 * w + 2.0 + 2 * sample.scale, min(0.25, sample.scale / 2))
            moved = base + np.nan_to_num(off)[:, None] * nrm
            first = out[e][3] if it else base
            out[e] = [moved, np.isfinite(off), wid, first]
            widths.append(wid[np.isfinite(wid)])
        allw = np.concatenate(widths) if widths else np.array([])
        if len(allw):
            w = float(np.median(allw))
    for e, (moved, ok, wid, first) in out.items():
        # a clean cross-section is one line's, and the skeleton ran near its middle
        good = ok & (wid <= WIDE * w) & (wid >= 0.3 * w) & (np.hypot(*(moved - first).T) <= max(0.3 * w, 1.0))
        a, b, _ = g.edges[e]
        closed = a < 0
        d = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(moved, axis=0).T))])
        for node, near in ((a, d), (b, d[-1] - d)):  # the blot of a junction is not the line
            if node >= 0 and g.kind[node] == "junction":
                good &= near > 0.9 * w
        good &= ~_near_corners(moved, w, closed)
        good = _drop_islands(good, max(int(w / step), 3))
        sm = moved.copy()
        edges = np.flatnonzero(np.diff(np.concatenate([[0], good.astype(np.int8), [0]])))
        for lo, hi in zip(edges[::2], edges[1::2]):  # light smoothing along each clean run
            sm[lo:hi] = smooth(moved[lo:hi], SMOOTH_SIGMA, bool(closed and good.all()))
        out[e] = [sm, good]
    return out, w


def _near_corners(pts: NDArray, w: float, closed: bool) -> NDArray[np.bool_]:
    """Samples within a line width of a corner: where the direction turns by more than ``CORNER_TURN``
    degrees over a width on either side (a local maximum of the turn)."""
    n = len(pts)
    out = np.zeros(n, dtype=bool)
    d = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
    if n < 5 or d[-1] < 3 * w:
        return out
    k = max(int(round(w / max(d[-1] / (n - 1), 1e-9))), 2)
    idx = np.arange(n)
    if closed:
        before, after = pts[(idx - k) % (n - 1)], pts[(idx + k) % (n - 1)]
    else:
        before, after = pts[np.clip(idx - k, 0, n - 1)], pts[np.clip(idx + k, 0, n - 1)]
    u, v = pts - before, after - pts
    cos = np.sum(u * v, axis=1) / np.maximum(np.hypot(*u.T) * np.hypot(*v.T), 1e-12)
    turn = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    if not closed:
        turn[:k] = turn[n - k:] = 0.0
    for i in np.flatnonzero(turn > CORNER_TURN).tolist():
        lo, hi = max(i - k, 0), min(i + k + 1, n)
        if turn[i] >= turn[lo:hi].max():
            out[max(i - 2 * k, 0):min(i + 2 * k + 1, n)] = True
    return out


def _drop_islands(good: NDArray[np.bool_], min_run: int) -> NDArray[np.bool_]:
    """Clear runs of clean samples shorter than ``min_run`` that have unclean samples on both sides."""
    out = good.copy()
    edges = np.flatnonzero(np.diff(np.concatenate([[0], good.astype(np.int8), [0]])))
    for a, b in zip(edges[::2], edges[1::2]):
        if a > 0 and b < len(good) and b - a < min_run:
            out[a:b] = False
    return out


def _end_run(pts: NDArray, ok: NDArray, at_start: bool, reach: float) -> NDArray:
    """The clean samples within ``reach`` (arc length) of the first clean sample from one end."""
    idx = np.flatnonzero(ok)
    if not len(idx):
        return np.empty((0, 2))
    if not at_start:
        idx = idx[::-1]
    p = pts[idx]
    d = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))])
    return p[d <= reach]


def _place_junctions(g: _Graph, refined: dict, w: float) -> None:
    for node, kind in list(g.kind.items()):
        if kind != "junction":
            continue
        lines = []
        for e, end in g.incident(node):
            pts, ok = refined[e]
            run = _end_run(pts, ok, end == 0, max(2.0 * w, 4.0))
            fit = fit_line(run)
            if fit is not None and length(run) >= 1.0:
                lines.append(fit)
        p = meet(lines) if len(lines) >= 2 else None
        if p is not None and np.hypot(*(p - g.pos[node])) <= 1.5 * w + 1.0:
            g.pos[node] = p


def _place_ends(g: _Graph, refined: dict, sample: _Sampler, w: float, step: float) -> None:
    """Free ends half a width inside the tip of the ink, along the line's direction."""
    for node, kind in list(g.kind.items()):
        inc = g.incident(node)
        if kind != "end" or len(inc) != 1:
            continue
        e, end = inc[0]
        pts, ok = refined[e]
        run = _end_run(pts, ok, end == 0, max(1.5 * w, 3.0))
        if len(run) < 2:
            continue
        last = run[0]
        fit = fit_line(run)
        assert fit is not None
        d = fit[1] if np.dot(fit[1], run[0] - run[-1]) > 0 else -fit[1]
        t = np.arange(0.0, 1.5 * w + 3.0, 0.25)
        v = sample(last[None, :] + t[:, None] * d[None, :])
        off = np.flatnonzero(v < 0.5)
        if not len(off) or off[0] == 0:
            continue
        j = off[0]
        tip = t[j - 1] + 0.25 * (v[j - 1] - 0.5) / max(v[j - 1] - v[j], 1e-6)
        g.pos[node] = last + max(tip - 0.5 * w, 0.0) * d


def _drop_corner_spurs(g: _Graph, refined: dict, w: float) -> None:
    """A sharp corner of a thin line thins to a junction with a spur into the corner's tip, longer
    than the line is wide; once its end sits half a width inside the tip, the spur has (almost) no
    length left. Such a spur is removed and its junction becomes a corner of the line through it."""
    for node, kind in list(g.kind.items()):
        inc = g.incident(node)
        if kind != "end" or len(inc) != 1:
            continue
        e, end = inc[0]
        a, b, _ = g.edges[e]
        other = b if end == 0 else a
        if other < 0 or other == node or g.kind.get(other) != "junction" or g.degree(other) != 3:
            continue
        if np.hypot(*(g.pos[node] - g.pos[other])) > 0.75 * w:
            continue
        g.remove_edge(e)
        g.remove_node(node)
        del refined[e]
        (e1, end1), (e2, end2) = g.incident(other)
        if e1 == e2:
            continue
        (p1, ok1), (p2, ok2) = refined[e1], refined[e2]
        if end1 == 0:  # the first edge towards the corner, the second away from it (as _Graph.dissolve)
            p1, ok1 = p1[::-1], ok1[::-1]
        if end2 == 1:
            p2, ok2 = p2[::-1], ok2[::-1]
        corner = g.pos[other].copy()
        new = g.dissolve(other)
        assert new is not None
        refined[new] = [np.concatenate([p1, corner[None], p2]), np.concatenate([ok1, [True], ok2])]
        del refined[e1], refined[e2]
        g.corners.append(corner)


def _edge_points(g: _Graph, e: int, refined: dict) -> NDArray:
    """The clean samples of an edge between its two nodes' final positions (from ``a`` to ``b``)."""
    a, b, raw = g.edges[e]
    pts, ok = refined[e]
    keep = pts[ok]
    if a < 0:  # a loop with no node: its clean samples, closed
        if len(keep) < 3:
            keep = pts
        return np.concatenate([keep, keep[:1]])
    pa, pb = g.pos[a], g.pos[b]
    # drop the leading and trailing samples that lie behind either node (past an end, or in a junction)
    for _ in range(2):
        if len(keep) >= 2:
            ahead = np.dot(keep - pa, keep[min(2, len(keep) - 1)] - pa) > 0
            keep = keep[int(np.argmax(ahead)):] if ahead.any() else keep[:0]
        keep, pa, pb = keep[::-1], pb, pa
    return np.concatenate([pa[None], keep, pb[None]])


def _corners(pts: NDArray, w: float, step: float, known: Sequence[NDArray] = ()) -> tuple[NDArray, list[int]]:
    """Corners inside a polyline with gaps (clean samples were dropped there): where the straight runs on
    either side of a gap meet at an angle, the meeting point is inserted. Returns points and corner indices."""
    if len(pts) < 4:
        return pts, []
    seg = np.hypot(*np.diff(pts, axis=0).T)
    out: list[NDArray] = [pts[:1]]
    corners: list[int] = []
    n_out = 1
    start = 0
    gaps = np.flatnonzero(seg > 2.5 * step)
    is_known = np.zeros(len(pts), dtype=bool)
    for c in known:
        is_known |= np.hypot(*(pts - c).T) < 1e-9
    corners_known = set(np.flatnonzero(is_known).tolist())
    for gi in gaps.tolist():
        if is_known[gi] or is_known[gi + 1]:  # a corner placed already
            out.append(pts[start + 1:gi + 1])
            n_out += gi - start
            start = gi
            continue
        before = pts[start:gi + 1]
        after_end = int(gaps[gaps > gi][0]) + 1 if (gaps > gi).any() else len(pts)
        after = pts[gi + 1:after_end]
        cut_b = before[np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(before[::-1], axis=0).T))])[::-1] <= 2 * w]
        cut_a = after[np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(after, axis=0).T))]) <= 2 * w]
        fb, fa = fit_line(cut_b), fit_line(cut_a)
        out.append(pts[start + 1:gi + 1])
        n_out += gi - start
        if fb is not None and fa is not None and length(cut_b) > 1 and length(cut_a) > 1:
            db = fb[1] if np.dot(fb[1], cut_b[-1] - cut_b[0]) > 0 else -fb[1]
            da = fa[1] if np.dot(fa[1], cut_a[-1] - cut_a[0]) > 0 else -fa[1]
            turn = math.degrees(math.acos(float(np.clip(np.dot(db, da), -1, 1))))
            p = meet([fb, fa]) if turn > 25 else None
            gap = pts[gi + 1] - pts[gi]
            if p is not None and np.hypot(*(p - pts[gi])) < seg[gi] + 3 * w and np.hypot(*(p - pts[gi + 1])) < seg[gi] + 3 * w \
                    and np.dot(p - pts[gi], gap) > -w and np.dot(pts[gi + 1] - p, gap) > -w:
                out.append(p[None])
                corners.append(n_out)
                n_out += 1
        start = gi
    out.append(pts[start + 1:])
    merged = np.concatenate(out)
    if corners_known:  # the known corners' indices in the output
        for c in known:
            corners.extend(np.flatnonzero(np.hypot(*(merged - c).T) < 1e-9).tolist())
    return merged, sorted(set(corners))


def _paths(g: _Graph, refined: dict, w: float, tolerance: float, step: float) -> list[Stroke]:
    """Join the edges that continue each other through junctions, then fit each path with Béziers."""
    polylines = {e: _edge_points(g, e, refined) for e in g.edges}
    # at each junction, pair the most nearly opposite branch ends
    partner: dict[tuple[int, int], tuple[int, int]] = {}
    for node in g.kind:
        inc = g.incident(node)
        if len(inc) < 3:
            if len(inc) == 2:
                partner[inc[0]], partner[inc[1]] = inc[1], inc[0]
            continue
        dirs = {}
        for e, end in inc:
            p = polylines[e] if end == 0 else polylines[e][::-1]
            d = p[np.searchsorted(np.cumsum(np.hypot(*np.diff(p, axis=0).T)), 2 * w).clip(0, len(p) - 2) + 1] - p[0]
            dirs[(e, end)] = d / max(float(np.hypot(*d)), 1e-12)
        pairs = sorted((float(np.dot(dirs[i], dirs[j])), i, j) for ii, i in enumerate(inc) for j in inc[ii + 1:])
        used: set = set()
        for c, i, j in pairs:
            if c > -0.5:
                break
            if i in used or j in used:
                continue
            used |= {i, j}
            partner[i], partner[j] = j, i
    strokes: list[Stroke] = []
    done: set[int] = set()

    def chain(e0: int, end0: int) -> tuple[list[NDArray], bool]:
        """Follow from edge ``e0`` entered at its end ``end0`` through paired junctions."""
        parts, e, end = [], e0, end0
        while True:
            done.add(e)
            p = polylines[e] if end == 0 else polylines[e][::-1]
            parts.append(p)
            a, b, _ = g.edges[e]
            exit_end = 1 - end
            nxt = partner.get((e, exit_end))
            if nxt is None:
                return parts, False
            if nxt == (e0, end0):
                return parts, True
            if nxt[0] in done:
                return parts, False
            e, end = nxt

    at_node = {x for n in g.kind if g.degree(n) != 2 for x, _ in g.incident(n)}  # paths start at ends and junctions
    order = sorted(g.edges, key=lambda e: e not in at_node)
    for e in order:
        if e in done:
            continue
        a, b, _ = g.edges[e]
        if a < 0:
            done.add(e)
            parts, closed = [polylines[e]], True
        else:
            # walk back to where this path starts, then forward
            start = (e, 0)
            seen = {e}
            while (back := partner.get(start)) is not None and back[0] not in seen:
                seen.add(back[0])
                start = (back[0], 1 - back[1])
            parts, closed = chain(*start)
        pts = np.concatenate([parts[0]] + [p[1:] for p in parts[1:]])
        pts, corners = _corners(pts, w, step, g.corners)
        if closed and not np.allclose(pts[0], pts[-1]):
            pts = np.concatenate([pts, pts[:1]])
        if length(pts) < 1e-6:
            ctrl = line_bezier(pts[0], pts[0])[None]
        else:
            ctrl = fit_beziers(pts, tolerance, closed=closed, corners=corners, reach=max(w, 2.0))
        strokes.append(Stroke(ctrl=ctrl, closed=closed))
    for n, kind in g.kind.items():  # dots: an end with no branch
        if g.degree(n) == 0:
            strokes.append(Stroke(ctrl=line_bezier(g.pos[n], g.pos[n])[None], closed=False))
    return strokes
