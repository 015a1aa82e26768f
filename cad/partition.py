"""The planar partition of a colour picture: one polygon set per colour, sharing their boundaries.

The traced outlines of the colours are noded together and every face of the arrangement is given to
exactly one colour (the traced colour that covers it, the label raster where traces disagree), so
neighbouring colours share their boundary vertex for vertex, never overlap and leave no gap; the
union is the traced outline of the whole subject. :func:`curve_partition` then fits each shared
boundary arc once (Béziers, or with ``fit`` the fitting stage's lines, arcs and cubics: see
:mod:`cad.fitshared`), so that neighbouring bodies share their curves exactly.
"""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from cad import geometry
from cad.fitshared import Curve, reverse_curve, split_arcs
from cad.geometry import fit_arc
from cad.regions import Region, Ring, ring_contacts
from tracer.errors import GeometryError

__all__ = ["contour_polygons", "area_polygons", "partition", "simplify_partition", "fix_pinches", "curve_partition",
           "PINCH_DISK_MM", "CURVE_FIT_PX", "CURVE_FIT_MAX_SOURCE_PX"]


#: Where two areas of one colour touch at a single point, the colour takes a disk of this
#: diameter (mm) around the point from its neighbours, so every body stays a 2-manifold.
PINCH_DISK_MM = 0.02


def contour_polygons(outlines, tol_px: float):
    """potrace outlines (px) -> one valid shapely geometry (px, y down)."""
    contours = outlines.contours
    rings = [geometry.flatten(c.ctrl, c.is_line, tol_px) for c in contours]
    polys = []
    for i, c in enumerate(contours):
        if c.is_hole:
            continue
        holes = [rings[j] for j, h in enumerate(contours) if h.is_hole and h.parent == i and len(rings[j]) >= 3]
        if len(rings[i]) >= 3:
            polys.append(shapely.make_valid(Polygon(rings[i], holes)))
    if not polys:
        return Polygon()
    return shapely.union_all(polys)


def area_polygons(geom) -> list[Polygon]:
    return [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon" and not g.is_empty and g.area > 0] \
        + [p for g in shapely.get_parts(geom) if g.geom_type == "MultiPolygon" for p in g.geoms]


def _clean_polygonal(geom):
    geom = shapely.make_valid(geom)
    ps = []
    for g in shapely.get_parts(geom):
        if g.geom_type == "Polygon" and g.area > 0:
            ps.append(g)
        elif g.geom_type in ("MultiPolygon", "GeometryCollection"):
            ps.extend(p for p in area_polygons(g) if p.area > 0)
    return MultiPolygon(ps) if ps else MultiPolygon()


def partition(colour_geoms: list, union, label_at, *, min_area: float, grid: float) -> tuple[list, dict]:
    """Resolve independently traced colour outlines into a partition of ``union``.

    ``colour_geoms`` are shapely geometries (one per colour, any frame), ``union`` the
    outline of the whole subject, ``label_at(x, y)`` the colour index (or -1) of the
    label raster at points. Returns one MultiPolygon per colour: pairwise disjoint
    interiors, shared edges made of identical vertices, union equal to ``union``.
    Colour areas smaller than ``min_area`` go to the neighbour they share most boundary with.
    """
    K = len(colour_geoms)
    lines = [shapely.set_precision(g.boundary, grid) for g in [*colour_geoms, union] if not g.is_empty]
    noded = shapely.union_all(lines, grid_size=grid)
    faces = np.array(shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))), dtype=object)
    faces = faces[shapely.area(faces) > 0] if len(faces) else faces
    info: dict[str, float] = {"faces": int(len(faces))}
    if len(faces) == 0:
        raise GeometryError("the colour outlines enclose no area")
    pts = shapely.point_on_surface(faces)
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    shapely.prepare(union)
    inside_u = shapely.contains_xy(union, x, y)
    faces, x, y = faces[inside_u], x[inside_u], y[inside_u]
    inside = np.zeros((K, len(faces)), bool)
    for k, g in enumerate(colour_geoms):
        if not g.is_empty:
            shapely.prepare(g)
            inside[k] = shapely.contains_xy(g, x, y)
    lab = np.asarray(label_at(x, y))
    n_in = inside.sum(axis=0)
    owner = np.full(len(faces), -1)
    one = n_in == 1
    owner[one] = inside[:, one].argmax(axis=0)
    multi = np.flatnonzero(n_in > 1)
    for f in multi:  # traced colours overlap here: the label raster decides
        cands = np.flatnonzero(inside[:, f])
        owner[f] = lab[f] if lab[f] in cands else cands[np.argmax([colour_geoms[c].area for c in cands])]
    none = np.flatnonzero(n_in == 0)
    for f in none:  # a gap between traced colours: the label raster decides, else a neighbour (below)
        if 0 <= lab[f] < K:
            owner[f] = lab[f]
    info.update(overlap_faces=int(len(multi)), gap_faces=int(len(none)))
    geoms = [shapely.union_all(faces[owner == k], grid_size=grid) if np.any(owner == k) else MultiPolygon()
             for k in range(K)]
    orphans = list(faces[owner < 0])
    moved = 0
    # Orphan gap faces and colour specks go to the neighbour with the longest shared boundary.
    for _ in range(3):
        pieces = orphans
        orphans = []
        for k in range(K):
            keep = []
            for p in area_polygons(geoms[k]):
                if p.area < min_area:
                    pieces.append(p)
                    moved += 1
                else:
                    keep.append(p)
            if len(keep) != len(area_polygons(geoms[k])):
                geoms[k] = MultiPolygon(keep) if keep else MultiPolygon()
        if not pieces:
            break
        for p in pieces:
            shared = [shapely.intersection(p.boundary, g.boundary, grid_size=grid).length if not g.is_empty else 0.0
                      for g in geoms]
            k = int(np.argmax(shared))
            if shared[k] > 0:
                geoms[k] = shapely.union_all([geoms[k], p], grid_size=grid)
            else:
                orphans.append(p)
        if not orphans:
            break
    info["reassigned_pieces"] = moved
    info["dropped_area"] = float(sum(p.area for p in orphans))
    return [_clean_polygonal(g) for g in geoms], info


def simplify_partition(parts: list, tolerance: float, grid: float) -> list:
    """Simplify a partition as a coverage (GEOS CoverageSimplifier): shared edges stay shared.

    Each colour's outline keeps within about ``tolerance`` of the traced one; the result is
    used only when it is still a valid, gap-free coverage of the same total area.
    """
    arr = np.array(parts, dtype=object)
    if tolerance <= 0 or len(arr) == 0:
        return parts
    try:
        simple = shapely.coverage_simplify(arr, tolerance, simplify_boundary=True)
    except shapely.errors.GEOSException:
        return parts
    total = sum(p.area for p in parts)
    if not (all(g.is_valid for g in simple) and shapely.coverage_is_valid(simple)
            and abs(sum(g.area for g in simple) - total) <= 1e-3 * total):
        return parts
    return [_clean_polygonal(shapely.set_precision(g, grid)) for g in simple]


def _pinch_points(geom) -> list:
    """Points where two boundary rings of one colour touch (they would make a non-manifold body)."""
    return ring_contacts(area_polygons(geom))


def fix_pinches(geoms: list, disk: float, grid: float) -> int:
    """Where a colour touches itself at a point, give it a small disk there (taken from the others)."""
    fixed = 0
    for _ in range(3):
        changed = False
        for k in range(len(geoms)):
            pts = _pinch_points(geoms[k])
            if not pts:
                continue
            cut = shapely.union_all(pts).buffer(disk / 2, quad_segs=4)
            geoms[k] = _clean_polygonal(shapely.union(geoms[k], cut, grid_size=grid))
            for j in range(len(geoms)):
                if j != k and not geoms[j].is_empty and geoms[j].intersects(cut):
                    geoms[j] = _clean_polygonal(shapely.difference(geoms[j], cut, grid_size=grid))
            fixed += len(pts)
            changed = True
        if not changed:
            break
    return fixed


#: Curve-fit tolerance of the shared colour boundaries, in working pixels (see build_multicolor),
#: and at most this many source pixels where the working raster resolves that (half a working
#: pixel no coarser): an upsampled raster places the boundaries from the anti-aliased levels,
#: while one at the source's resolution or coarser only knows them to about a pixel.
CURVE_FIT_PX = 1.0


CURVE_FIT_MAX_SOURCE_PX = 0.25


#: An arc whose fitted curve crosses another is fitted again with half the tolerance this many
#: times before it is kept as a polyline.
REFIT_ROUNDS = 3


def curve_partition(parts_mm: list, tol: float, inner_tol: float | None = None, *, fit=None,
                    flatten: float | None = None):
    """Exact curved regions for a partition (a coverage of polygons in mm).

    Every boundary arc between two junctions (points where three or more colours, or the
    outside, meet) is fitted once, and the SAME control points (reversed where needed)
    serve both colours it separates, so neighbouring bodies share their curves exactly.
    Arcs between two colours are fitted within ``inner_tol`` (default ``tol``), the outline of
    the whole subject within ``tol``. ``fit(points, tol, loop=...)`` fits one arc (an open polyline,
    or a closed one whose ends coincide; ``loop``: a whole ring without junctions, whose fit may start
    anywhere) and returns ``(ctrl, is_line, arcs)`` (``arcs`` as :data:`cad.fitshared.Curve` has them, or
    None); the default fits Béziers (:func:`cad.geometry.fit_arc`).
    Returns a list of region lists, or None when the fitted curves would make a region invalid
    (flattened within ``flatten``, if finer than a quarter of ``tol``: the flattening the caller uses).
    """
    fit = fit or _fit_beziers

    owners = defaultdict(set)
    rings_of = []
    for k, g in enumerate(parts_mm):
        rings = []
        for poly in area_polygons(shapely.orient_polygons(g, exterior_cw=False)):
            rs = [np.asarray(poly.exterior.coords)[:-1]] + [np.asarray(r.coords)[:-1] for r in poly.interiors]
            rings.append(rs)
            for r in rs:
                for pt in map(tuple, r):
                    owners[pt].add(k)
        rings_of.append(rings)
    outline = shapely.coverage_union_all(np.array(parts_mm, dtype=object))
    for poly in area_polygons(outline):
        for r in (poly.exterior, *poly.interiors):
            for pt in map(tuple, np.asarray(r.coords)[:-1]):
                owners[pt].add(-1)
    cache: dict = {}
    # Arcs whose fitted curve made a region invalid (it crossed another) or drifted are fitted
    # again closer (tolerance halved, REFIT_ROUNDS times), and only then kept as polylines.
    level: dict = {}
    straight: set = set()
    used: list = []
    fitted: dict = {}
    pins: dict = {}  # arc -> (points where its fitted curve crossed another, radius kept as a polyline)

    def arc(points: np.ndarray, loop: bool = False):
        fwd = tuple(map(tuple, points))
        rev = fwd[::-1]
        key, pts, flip = (fwd, points, False) if fwd <= rev else (rev, points[::-1], True)
        used.append(key)
        curve = _arc_curve(key, pts, loop)
        fitted[key] = curve
        return reverse_curve(curve) if flip else curve

    def _arc_curve(key, pts, loop):
        if key in straight:
            return _polyline_curve(pts)
        lv = level.get(key, 0)
        pin = pins.get(key)
        mid = key[len(key) // 2]
        base = tol if (inner_tol is None or -1 in owners[mid]) else inner_tol
        ck = (key, lv, None if pin is None else (pin[1], len(pin[0])))
        if ck not in cache:
            if pin is None:
                cache[ck] = fit(pts, base * 0.5**lv, loop=loop)
            else:  # near where it crossed another arc the arc stays a polyline, elsewhere it is fitted
                near = np.zeros(len(pts), bool)
                for q in pin[0]:
                    near |= np.hypot(pts[:, 0] - q[0], pts[:, 1] - q[1]) <= pin[1]
                cache[ck] = _fit_pinned(np.asarray(pts, np.float64), near, base * 0.5**lv, fit)
        return cache[ck]

    def ring_curves(r: np.ndarray):
        nodes = [i for i, pt in enumerate(map(tuple, r)) if len(owners[pt]) >= 3]
        if not nodes:  # a closed loop shared by two colours: canonical start and direction
            i0 = min(range(len(r)), key=lambda i: tuple(r[i]))
            rr = np.roll(r, -i0, axis=0)
            return arc(np.vstack([rr, rr[:1]]), loop=True)
        rr = np.roll(r, -nodes[0], axis=0)
        idx = [i - nodes[0] for i in nodes] + [len(r)]
        ext = np.vstack([rr, rr[:1]])
        return _join([arc(ext[a: b + 1]) for a, b in zip(idx[:-1], idx[1:])])

    fine = tol / 4 if flatten is None else min(tol / 4, flatten)
    tmax = max(tol, inner_tol or tol)
    for _ in range(8 + REFIT_ROUNDS):
        out: list = []
        bad: set = set()
        pinned_now: set = set()
        for k, rings in enumerate(rings_of):
            regs = []
            for rs in rings:
                used.clear()
                curves = [ring_curves(r) for r in rs]
                shell = _ring(curves[0]).oriented(ccw=True)
                holes = tuple(_ring(c).oriented(ccw=False) for c in curves[1:])
                reg = Region(shell, holes)
                poly = Polygon(shell.flatten(fine), [h.flatten(fine) for h in holes])
                orig = Polygon(rs[0], rs[1:])
                drift = 2.0 * tmax * orig.length + 1e-9
                if not poly.is_valid:  # a fitted arc crosses another: fit the arcs that cross closer
                    crossing = _crossing_arcs({a: fitted[a] for a in used if a not in straight}, fine)
                    if crossing:
                        bad.update(a for a, where in crossing.items() if not where)
                        for a, where in ((a, w) for a, w in crossing.items() if w):
                            old_pts, radius = pins.get(a, ([], 2.0 * tmax))
                            if a in pinned_now:
                                radius = pins[a][1]
                            elif a in pins:
                                radius *= 2.0
                            pins[a] = (old_pts + [w for w in where if all(np.hypot(*(np.subtract(w, o))) > 1e-9
                                                                          for o in old_pts)], radius)
                            pinned_now.add(a)
                            if radius > 2.0 * tmax * 2.0**REFIT_ROUNDS:
                                straight.add(a)
                        regs.append(reg)
                        continue
                    m = re.search(r"\[([-0-9.eE+]+) ([-0-9.eE+]+)\]", shapely.is_valid_reason(poly))
                    near = set()
                    if m:
                        where = shapely.Point(float(m.group(1)), float(m.group(2)))
                        near = {a for a in used if a not in straight
                                and shapely.LineString(a).distance(where) <= 4 * tmax + 1e-9}
                    bad.update(near or {a for a in used if a not in straight})
                elif (abs(reg.area() - poly.area) > 1e-3 * abs(poly.area) + fine * orig.length + 1e-9
                        or abs(reg.area() - orig.area) > drift):  # a looped curve, or one that strays
                    bad.update(a for a in used if a not in straight)
                regs.append(reg)
            out.append(regs)
        if not bad and not pinned_now:
            return out
        for a in bad:
            level[a] = level.get(a, 0) + 1
            if level[a] > REFIT_ROUNDS:
                straight.add(a)
    return None


def _ring(curve: Curve) -> Ring:
    ctrl, is_line, arcs = curve
    return Ring(ctrl, is_line, True, *split_arcs(arcs))


def _fit_beziers(pts: np.ndarray, tol: float, *, loop: bool = False) -> Curve:
    c, l = fit_arc(pts, tol)
    return c, l, None


def _join(curves: list[Curve]) -> Curve:
    """Curves end to end as one (the arcs' rows NaN where a piece has none)."""
    ctrl = np.concatenate([c for c, _, _ in curves])
    is_line = np.concatenate([l for _, l, _ in curves])
    if all(a is None for _, _, a in curves):
        return ctrl, is_line, None
    width = max(a.shape[1] for _, _, a in curves if a is not None)  # (9 with elliptic arcs)
    arcs = np.concatenate([np.full((len(c), width), np.nan) if a is None else
                           np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=np.nan) for c, _, a in curves])
    return ctrl, is_line, arcs


def _polyline_curve(pts) -> Curve:
    q = np.asarray(pts, np.float64)
    c = np.stack([q[:-1], q[:-1] + (q[1:] - q[:-1]) / 3, q[:-1] + 2 * (q[1:] - q[:-1]) / 3, q[1:]], axis=1)
    return c, np.ones(len(c), bool), None


def _fit_pinned(p: np.ndarray, near: np.ndarray, tol: float, fit=None) -> Curve:
    """Fit an open polyline with the vertices flagged ``near`` (and the edges touching them) kept
    as a polyline: runs of far vertices are fitted with ``fit`` (default: Béziers)."""
    fit = fit or _fit_beziers
    n = len(p)
    keep = near.copy()
    keep[:-1] |= near[1:]
    keep[1:] |= near[:-1]
    pieces: list[Curve] = []
    i = 0
    while i < n - 1:
        if keep[i] and keep[i + 1]:  # a straight edge
            j = i + 1
            while j < n - 1 and keep[j + 1] and keep[j]:
                j += 1
            pieces.append(_polyline_curve(p[i: j + 1]))
        else:
            j = i + 1
            while j < n - 1 and not (keep[j] and keep[j + 1]):
                j += 1
            pieces.append(fit(p[i: j + 1], tol))
        i = j
    ctrl, is_line, arcs = _join(pieces)
    ctrl[1:, 0] = ctrl[:-1, 3]
    return ctrl, is_line, arcs


def _crossing_arcs(arcs: dict, fine: float) -> dict:
    """The fitted arcs (key -> (ctrl, is_line, arcs)) that cross another or themselves, i.e. meet
    anywhere but at an end point they share: key -> the points where they do."""
    keys = list(arcs)
    out: dict = {}
    if not keys:
        return out
    strings = []
    for k in keys:
        c, l, a = arcs[k]
        pts = np.vstack([geometry.flatten(c, l, fine, *split_arcs(a)), c[-1, 3][None]])
        strings.append(shapely.LineString(pts))
    lines = np.array(strings, dtype=object)
    for k, g in zip(keys, lines):
        if not g.is_simple and not g.is_ring:  # a curve looping on itself: no point to pin, fit it closer
            out[k] = []
    tree = shapely.STRtree(lines)
    ia, ib = tree.query(lines, predicate="intersects")
    for i, j in zip(ia, ib):
        if i >= j:
            continue
        inter = shapely.intersection(lines[i], lines[j])
        ends = np.array([keys[i][0], keys[i][-1], keys[j][0], keys[j][-1]])
        pts = shapely.get_coordinates(inter)
        shared = [bool(np.min(np.abs(ends[:2] - q).max(axis=1)) <= 1e-9 and np.min(np.abs(ends[2:] - q).max(axis=1)) <= 1e-9)
                  for q in pts]
        if inter.geom_type in ("Point", "MultiPoint") and all(shared):
            continue
        where = [tuple(q) for q, sh in zip(pts, shared) if not sh] or [tuple(pts[0])]
        out.setdefault(keys[i], []).extend(where)
        out.setdefault(keys[j], []).extend(where)
    return out
