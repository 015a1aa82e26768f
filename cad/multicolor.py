"""Multi-colour conversion (``--colors``): one aligned body per colour, coloured 3MF and STEP, an STL per colour.

Pipeline::

    load -> tracer.colors.label_colors (Lab k-means, background, fringes, sub-pixel partition)
         -> potrace per colour and for the whole subject
         -> partition: the traced outlines are noded together and every face of the
            arrangement is given to exactly one colour (the traced colour that covers it,
            the label raster where traces disagree), so neighbouring colours share their
            boundary vertex for vertex, never overlap and leave no gap; the union is the
            traced outline of the whole subject
         -> per-colour Regions in mm (same frame as the single-colour pipeline)
         -> per-colour prism meshes (manifold3d) and exact B-rep solids (OCC)
         -> one 3MF (one named, coloured object per colour), one STEP (named, coloured
            solids through XCAF) and one STL per colour, all checked, all or nothing.

Heights are flat (every colour ``thickness_mm``) or per colour (``layer_heights``),
like a layered sign. A base plate is not available yet (no ``cad.products`` module).
"""

from __future__ import annotations

import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry import MultiPolygon, Polygon

from cad import geometry as G
from cad.geometry import fit_arc  # noqa: F401 - (the colour boundaries' fitter; tests import it from here)
from cad import mesh as M
from cad.regions import FINE_TOLERANCE_FRACTION, Regions, regions_from_polygons, to_regions
from tracer.errors import ExportError, GeometryError, InvalidInputError, TracecadWarning

__all__ = ["ColorBody", "MultiConversion", "build_multicolor", "write_multicolor", "convert_multicolor",
           "partition", "write_colored_step", "read_colored_step", "parse_layer_heights",
           "add_arguments", "update_options"]

#: Where two areas of one colour touch at a single point, the colour takes a disk of this
#: diameter (mm) around the point from its neighbours, so every body stays a 2-manifold.
PINCH_DISK_MM = 0.02


# ----------------------------------------------------------------------------- CLI hook

def _colors_arg(text: str):
    t = text.strip().lower()
    if t == "auto":
        return "auto"
    try:
        n = int(t)
    except ValueError:
        import argparse

        raise argparse.ArgumentTypeError(f"expected a number of colours or 'auto', got {text!r}") from None
    if not 1 <= n <= 24:
        import argparse

        raise argparse.ArgumentTypeError(f"--colors must be from 1 to 24 or 'auto', got {text!r}")
    return n


def add_arguments(parser) -> None:
    g = parser.add_argument_group("colours (one body per colour)")
    g.add_argument("--colors", "--colours", dest="colors", type=_colors_arg, default=None, metavar="N|auto",
                   help="quantise into N colours besides the background (auto: as many as are distinct); "
                        "writes one body per colour: a coloured 3MF and STEP, one STL per colour")
    g.add_argument("--layer-heights", default=None, metavar="LIST",
                   help="per-colour heights in mm, in the order of the report (largest area first), "
                        "e.g. 3,2,2.5, or by colour: '#000000=3,#ea5a47=2'; others get --thickness")
    g.add_argument("--enclosed-background", choices=("fill", "hole"), default=None,
                   help="areas of the background colour enclosed by the part: a body of that colour "
                        "(fill, default) or holes")
    g.add_argument("--color-distance", type=float, default=None, metavar="DE",
                   help="colours closer than this CIE Delta E are one colour (default 8)")


def update_options(args, kw: dict) -> None:
    if getattr(args, "colors", None) is not None:
        kw["colors"] = args.colors
    if getattr(args, "layer_heights", None) is not None:
        if getattr(args, "colors", None) is None:
            raise InvalidInputError("--layer-heights needs --colors N or --colors auto")
        parse_layer_heights(args.layer_heights)  # validate early: a usage error, not a per-file one
        kw["layer_heights"] = args.layer_heights
    if getattr(args, "enclosed_background", None) is not None:
        kw["enclosed_background"] = args.enclosed_background
    if getattr(args, "color_distance", None) is not None:
        if not args.color_distance > 0:
            raise InvalidInputError(f"--color-distance must be > 0, got {args.color_distance}")
        kw["color_distance"] = float(args.color_distance)


def parse_layer_heights(text) -> tuple:
    """``"3,2"`` -> ``(3.0, 2.0)``; ``"#000000=3,#ea5a47=2"`` -> ``(("#000000", 3.0), ...)``."""
    if text is None:
        return ()
    if isinstance(text, (tuple, list)):
        items = list(text)
    else:
        items = [s.strip() for s in str(text).split(",") if s.strip()]
    out = []
    for item in items:
        if isinstance(item, (tuple, list)):
            key, val = item
        elif isinstance(item, str) and "=" in item:
            key, val = item.split("=", 1)
            key = key.strip().lower()
            if not re.fullmatch(r"#?[0-9a-f]{6}", key):
                raise InvalidInputError(f"--layer-heights: {key!r} is not a colour like #ea5a47")
            key = key if key.startswith("#") else "#" + key
        else:
            key, val = None, item
        try:
            h = float(val)
        except (TypeError, ValueError):
            raise InvalidInputError(f"--layer-heights: {val!r} is not a height in mm") from None
        if not (np.isfinite(h) and h > 0):
            raise InvalidInputError(f"--layer-heights: heights must be positive, got {val!r}")
        out.append((key, h) if key else h)
    kinds = {isinstance(x, tuple) for x in out}
    if len(kinds) > 1:
        raise InvalidInputError("--layer-heights: give either a plain list or colour=height pairs, not both")
    return tuple(out)


def _heights(spec: tuple, hexes: list[str], lab: np.ndarray, default: float) -> list[float]:
    """Height per colour: positional, or by the nearest listed colour (Delta E < 12)."""
    if not spec:
        return [default] * len(hexes)
    if not isinstance(spec[0], tuple):
        if len(spec) > len(hexes):
            raise InvalidInputError(f"--layer-heights lists {len(spec)} heights but the image has "
                                    f"{len(hexes)} colour(s): {', '.join(hexes)}")
        return [float(spec[i]) if i < len(spec) else default for i in range(len(hexes))]
    from tracer.colors import to_lab

    keys = [k for k, _ in spec]
    klab = to_lab(np.array([[int(k[i:i + 2], 16) / 255.0 for i in (1, 3, 5)] for k in keys]))
    out = [default] * len(hexes)
    used = set()
    for i in range(len(hexes)):
        d = np.linalg.norm(klab - lab[i], axis=1)
        j = int(np.argmin(d))
        if d[j] < 12.0:
            out[i] = float(spec[j][1])
            used.add(j)
    missing = [keys[j] for j in range(len(keys)) if j not in used]
    if missing:
        raise InvalidInputError(f"--layer-heights: no colour of the image is near {', '.join(missing)} "
                                f"(the colours are {', '.join(hexes)})")
    return out


# ----------------------------------------------------------------------------- partition

def _contour_polygons(outlines, tol_px: float):
    """potrace outlines (px) -> one valid shapely geometry (px, y down)."""
    contours = outlines.contours
    rings = [G.flatten(c.ctrl, c.is_line, tol_px) for c in contours]
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


def _polys(geom) -> list[Polygon]:
    return [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon" and not g.is_empty and g.area > 0] \
        + [p for g in shapely.get_parts(geom) if g.geom_type == "MultiPolygon" for p in g.geoms]


def _clean_polygonal(geom):
    geom = shapely.make_valid(geom)
    ps = []
    for g in shapely.get_parts(geom):
        if g.geom_type == "Polygon" and g.area > 0:
            ps.append(g)
        elif g.geom_type in ("MultiPolygon", "GeometryCollection"):
            ps.extend(p for p in _polys(g) if p.area > 0)
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
    info = {"faces": int(len(faces))}
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
            for p in _polys(geoms[k]):
                if p.area < min_area:
                    pieces.append(p)
                    moved += 1
                else:
                    keep.append(p)
            if len(keep) != len(_polys(geoms[k])):
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
    from cad.regions import ring_contacts

    return ring_contacts(_polys(geom))


def _fix_pinches(geoms: list, disk: float, grid: float) -> int:
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


# ----------------------------------------------------------------------------- shared curves

#: Curve-fit tolerance of the shared colour boundaries, in working pixels (see build_multicolor),
#: and at most this many source pixels where the working raster resolves that (half a working
#: pixel no coarser): an upsampled raster places the boundaries from the anti-aliased levels,
#: while one at the source's resolution or coarser only knows them to about a pixel.
CURVE_FIT_PX = 1.0
CURVE_FIT_MAX_SOURCE_PX = 0.25

#: An arc whose fitted curve crosses another is fitted again with half the tolerance this many
#: times before it is kept as a polyline.
REFIT_ROUNDS = 3


def curve_partition(parts_mm: list, tol: float, inner_tol: float | None = None):
    """Exact Bézier regions for a partition (a coverage of polygons in mm).

    Every boundary arc between two junctions (points where three or more colours, or the
    outside, meet) is fitted once, and the SAME control points (reversed where needed)
    serve both colours it separates, so neighbouring bodies share their curves exactly.
    Arcs between two colours are fitted within ``inner_tol`` (default ``tol``), the outline of
    the whole subject within ``tol``.
    Returns a list of region lists, or None when the fitted curves would make a region invalid.
    """
    from collections import defaultdict

    from cad.regions import Region, Ring

    owners = defaultdict(set)
    rings_of = []
    for k, g in enumerate(parts_mm):
        rings = []
        for poly in _polys(shapely.orient_polygons(g, exterior_cw=False)):
            rs = [np.asarray(poly.exterior.coords)[:-1]] + [np.asarray(r.coords)[:-1] for r in poly.interiors]
            rings.append(rs)
            for r in rs:
                for pt in map(tuple, r):
                    owners[pt].add(k)
        rings_of.append(rings)
    outline = shapely.coverage_union_all(np.array(parts_mm, dtype=object))
    for poly in _polys(outline):
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

    def arc(points: np.ndarray):
        fwd = tuple(map(tuple, points))
        rev = fwd[::-1]
        key, pts, flip = (fwd, points, False) if fwd <= rev else (rev, points[::-1], True)
        used.append(key)
        c, l = _arc_curve(key, pts)
        fitted[key] = (c, l)
        return G.reverse(c, l) if flip else (c, l)

    def _arc_curve(key, pts):
        if key in straight:
            return _polyline_curve(pts)
        lv = level.get(key, 0)
        pin = pins.get(key)
        mid = key[len(key) // 2]
        base = tol if (inner_tol is None or -1 in owners[mid]) else inner_tol
        ck = (key, lv, None if pin is None else (pin[1], len(pin[0])))
        if ck not in cache:
            if pin is None:
                cache[ck] = fit_arc(pts, base * 0.5**lv)
            else:  # near where it crossed another arc the arc stays a polyline, elsewhere it is fitted
                near = np.zeros(len(pts), bool)
                for q in pin[0]:
                    near |= np.hypot(pts[:, 0] - q[0], pts[:, 1] - q[1]) <= pin[1]
                cache[ck] = _fit_pinned(np.asarray(pts, np.float64), near, base * 0.5**lv)
        return cache[ck]

    def ring_curves(r: np.ndarray):
        nodes = [i for i, pt in enumerate(map(tuple, r)) if len(owners[pt]) >= 3]
        if not nodes:  # a closed loop shared by two colours: canonical start and direction
            i0 = min(range(len(r)), key=lambda i: tuple(r[i]))
            rr = np.roll(r, -i0, axis=0)
            return arc(np.vstack([rr, rr[:1]]))
        rr = np.roll(r, -nodes[0], axis=0)
        idx = [i - nodes[0] for i in nodes] + [len(r)]
        ext = np.vstack([rr, rr[:1]])
        cs, ls = [], []
        for a, b in zip(idx[:-1], idx[1:]):
            c, l = arc(ext[a: b + 1])
            cs.append(c)
            ls.append(l)
        return np.concatenate(cs), np.concatenate(ls)

    fine = tol / 4
    tmax = max(tol, inner_tol or tol)
    for _ in range(8 + REFIT_ROUNDS):
        out, bad = [], set()
        pinned_now: set = set()
        for k, rings in enumerate(rings_of):
            regs = []
            for rs in rings:
                used.clear()
                curves = [ring_curves(r) for r in rs]
                shell = Ring(*curves[0]).oriented(ccw=True)
                holes = tuple(Ring(*c).oriented(ccw=False) for c in curves[1:])
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


def _polyline_curve(pts) -> tuple[np.ndarray, np.ndarray]:
    q = np.asarray(pts, np.float64)
    c = np.stack([q[:-1], q[:-1] + (q[1:] - q[:-1]) / 3, q[:-1] + 2 * (q[1:] - q[:-1]) / 3, q[1:]], axis=1)
    return c, np.ones(len(c), bool)


def _fit_pinned(p: np.ndarray, near: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Fit an open polyline with the vertices flagged ``near`` (and the edges touching them) kept
    as a polyline: runs of far vertices are fitted with :func:`fit_arc`."""
    n = len(p)
    keep = near.copy()
    keep[:-1] |= near[1:]
    keep[1:] |= near[:-1]
    cs, ls = [], []
    i = 0
    while i < n - 1:
        if keep[i] and keep[i + 1]:  # a straight edge
            j = i + 1
            while j < n - 1 and keep[j + 1] and keep[j]:
                j += 1
            c, l = _polyline_curve(p[i: j + 1])
        else:
            j = i + 1
            while j < n - 1 and not (keep[j] and keep[j + 1]):
                j += 1
            c, l = fit_arc(p[i: j + 1], tol)
        cs.append(c)
        ls.append(l)
        i = j
    ctrl = np.concatenate(cs)
    ctrl[1:, 0] = ctrl[:-1, 3]
    return ctrl, np.concatenate(ls)


def _crossing_arcs(arcs: dict, fine: float) -> dict:
    """The fitted arcs (key -> (ctrl, is_line)) that cross another or themselves, i.e. meet
    anywhere but at an end point they share: key -> the points where they do."""
    keys = list(arcs)
    out: dict = {}
    if not keys:
        return out
    lines = []
    for k in keys:
        c, l = arcs[k]
        pts = np.vstack([G.flatten(c, l, fine), c[-1, 3][None]])
        lines.append(shapely.LineString(pts))
    lines = np.array(lines, dtype=object)
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


# ----------------------------------------------------------------------------- build

@dataclass(slots=True, eq=False)
class ColorBody:
    """One colour of the part: its footprint (mm), its height range and, on demand, mesh and solid."""

    name: str
    color: str
    regions: Regions
    z0_mm: float
    height_mm: float
    tolerance_mm: float
    is_base: bool = False  # the base plate under the colours (not a colour of the image)
    _mesh: M.Mesh | None = None
    _solid: object = None

    @property
    def area_mm2(self) -> float:
        return self.regions.area_mm2

    @property
    def expected_volume_mm3(self) -> float:
        return self.area_mm2 * self.height_mm

    @property
    def volume_tolerance_mm3(self) -> float:
        return float(self.regions.geometry.length) * self.tolerance_mm * self.height_mm + 1e-9

    @property
    def mesh(self) -> M.Mesh:
        if self._mesh is None:
            from cad.pipeline import check_volume_mesh

            mesh = M.extrude_mesh(self.regions, self.height_mm, tolerance_mm=self.tolerance_mm, z0_mm=self.z0_mm)
            check_volume_mesh(mesh, self.expected_volume_mm3, self.volume_tolerance_mm3, self.name)
            self._mesh = mesh
        return self._mesh

    @property
    def solid(self):
        if self._solid is None:
            from cad.solid import extrude

            self._solid = extrude(self.regions, thickness_mm=self.height_mm, z0_mm=self.z0_mm)
        return self._solid


@dataclass(slots=True, eq=False)
class MultiConversion:
    """The in-memory result of :func:`build_multicolor`."""

    name: str
    options: object
    labels: object
    bodies: list[ColorBody]
    union_mm: object  # shapely geometry of the whole subject's traced outline, mm
    px_mm: float
    timings: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def overlap_mm2(self) -> float:
        """Total pairwise intersection area between the bodies' footprints."""
        gs = [b.regions.geometry for b in self.bodies if not b.is_base]
        return float(sum(gs[i].intersection(gs[j]).area for i in range(len(gs)) for j in range(i + 1, len(gs))))

    def report(self) -> dict:
        bounds = np.array([b.regions.bounds for b in self.bodies])
        xmin, ymin = bounds[:, 0].min(), bounds[:, 1].min()
        xmax, ymax = bounds[:, 2].max(), bounds[:, 3].max()
        solids_built = all(b._solid is not None for b in self.bodies)
        meshes_built = all(b._mesh is not None for b in self.bodies)
        union_area = float(self.union_mm.area)
        colours = []
        for b in self.bodies:
            colours.append({
                "name": b.name, "color": b.color, "area_mm2": round(b.area_mm2, 6),
                "z_mm": [round(b.z0_mm, 6), round(b.z0_mm + b.height_mm, 6)],
                "volume_mm3": round(b._solid.volume_mm3 if b._solid is not None else b.expected_volume_mm3, 6),
                "bodies": len(b.regions.regions), "holes": b.regions.n_holes,
                "triangles": b._mesh.n_triangles if b._mesh is not None else None,
                "step_faces": b._solid.faces if b._solid is not None else None, "base_plate": b.is_base})
        return {
            "width_mm": round(float(xmax - xmin), 6), "height_mm": round(float(ymax - ymin), 6),
            "thickness_mm": max(b.z0_mm + b.height_mm for b in self.bodies),
            "area_mm2": round(sum(b.area_mm2 for b in self.bodies if not b.is_base), 6),
            "volume_mm3": round(sum(c["volume_mm3"] for c in colours), 6),
            "bodies": sum(len(b.regions.regions) for b in self.bodies),
            "holes": sum(b.regions.n_holes for b in self.bodies),
            "contours": sum(len(r.rings) for b in self.bodies for r in b.regions.regions),
            "curve_segments": sum(b.regions.n_segments for b in self.bodies),
            "step_faces": sum(b._solid.faces for b in self.bodies) if solids_built else None,
            "triangles": sum(b._mesh.n_triangles for b in self.bodies) if meshes_built else None,
            "px_mm": self.px_mm, "dropped_specks": self.info.get("merged_specks", 0),
            "repaired_regions": 0,
            "working_size": self.info.get("working_size"),
            "background": self.info.get("background"),
            "union_area_mm2": round(union_area, 6),
            "overlap_mm2": round(self.overlap_mm2(), 9),
            "colors": colours,
        }


def _color_params(options):
    from tracer.colors import ColorParams

    n = getattr(options, "colors", None)
    kw = {}
    if isinstance(n, int) and not isinstance(n, bool):
        kw["colors"] = n
    elif n not in ("auto", None, True):
        raise InvalidInputError(f"colors must be a number or 'auto', got {n!r}")
    if getattr(options, "enclosed_background", None):
        kw["enclosed_background"] = options.enclosed_background
    if getattr(options, "color_distance", None):
        kw["merge_delta_e"] = float(options.color_distance)
    return ColorParams(**kw)


def build_multicolor(source, options, *, name: str | None = None, stem: str = "part") -> MultiConversion:
    """Quantise, trace and partition ``source`` into one body per colour (meshes and solids on demand)."""
    import tracer
    from tracer.colors import BACKGROUND, label_colors

    from cad.pipeline import collect_warnings, load_for, source_name

    name = source_name(source, name)
    if getattr(options, "mode", "extrude") != "extrude":
        raise InvalidInputError(f"--colors makes one extruded body per colour; it cannot be combined with "
                                f"--mode {options.mode}")
    timings: dict[str, float] = {}
    caught: list[str] = []
    with collect_warnings(caught):
        image, iso = load_for(source, options, name, timings)
        t = time.perf_counter()
        labels = label_colors(image, params=_color_params(options), isolate=iso)
        timings["colors"] = time.perf_counter() - t
        t = time.perf_counter()
        union_outlines = tracer.trace(labels.mask(None), params=options.trace)
        # The frame (scale, centre, y-flip, mirror) is the single-colour pipeline's, from to_regions.
        frame = to_regions(union_outlines, width_mm=options.width_mm, height_mm=options.height_mm,
                           px_mm=options.px_mm, min_area_mm2=0.0, mirror=options.mirror)
        s = frame.px_mm
        tol_px = 0.5 * options.tolerance_mm / s
        union_px = _contour_polygons(union_outlines, tol_px)
        colour_px = []
        for k in labels.colors:
            colour_px.append(_contour_polygons(tracer.trace(labels.mask(k), params=options.trace), tol_px))
        timings["trace"] = time.perf_counter() - t
        if getattr(options, "debug_dir", None):  # the subject's mask and outline, and the colour partition
            from tracer.debug import attempt, write_debug, write_labels

            failed = attempt(options.debug_dir, lambda: (
                write_debug(options.debug_dir, stem, image, labels.mask(None), union_outlines),
                write_labels(options.debug_dir, stem, labels.labels, labels.palette.rgb, BACKGROUND)))
            if failed:
                warnings.warn(failed, TracecadWarning)
        t = time.perf_counter()
        lab_img = labels.labels
        index_of = {k: i for i, k in enumerate(labels.colors)}
        lut = np.full(int(max(labels.colors)) + 2, -1, np.int64)
        for k, i in index_of.items():
            lut[k] = i

        def label_at(x, y):
            r = np.clip((np.asarray(y) / labels.scale).astype(np.int64), 0, lab_img.shape[0] - 1)
            c = np.clip((np.asarray(x) / labels.scale).astype(np.int64), 0, lab_img.shape[1] - 1)
            v = lab_img[r, c].astype(np.int64)
            return np.where(v == BACKGROUND, -1, lut[np.maximum(v, 0)])

        min_area_px = max(options.min_area_mm2 / s**2, 1e-9)
        grid_px = 1e-6 / s  # a 1 nm precision grid (in px) for the overlay: exact noding, far below any tolerance
        parts, pinfo = partition(colour_px, union_px, label_at, min_area=min_area_px, grid=grid_px)
        parts = simplify_partition(parts, options.tolerance_mm / s, grid_px)
        pinches = _fix_pinches(parts, PINCH_DISK_MM / s, grid_px)
        pinfo["pinches"] = pinches
        timings["partition"] = time.perf_counter() - t
    # px (y down) -> mm (y up, centred): the same affine map to_regions applied to the whole outline.
    bx = np.array([G.curve_bounds(c.ctrl) for c in union_outlines.contours if c.parent < 0])
    cx, cy = 0.5 * (bx[:, 0].min() + bx[:, 2].max()), 0.5 * (bx[:, 1].min() + bx[:, 3].max())
    sx = -s if options.mirror else s
    affine = [sx, 0.0, 0.0, -s, -cx * sx, cy * s]
    union_mm = shapely.affinity.affine_transform(union_px, affine)
    fb = frame.bounds
    ub = union_mm.bounds
    if max(abs(fb[0] - ub[0]), abs(fb[2] - ub[2]), abs(fb[1] - ub[1]), abs(fb[3] - ub[3])) > 2 * options.tolerance_mm + 1e-6:
        raise GeometryError(f"{name}: the colour outlines do not line up with the subject's frame "
                            f"(bounds {ub} vs {fb})")
    from tracer.colors import to_lab

    hexes = [labels.hex(k) for k in labels.colors]
    lab = to_lab(np.array([labels.palette.rgb[k] for k in labels.colors]))
    heights = _heights(parse_layer_heights(getattr(options, "layer_heights", None)), hexes, lab, options.thickness_mm)
    parts_mm = [shapely.affinity.affine_transform(g, affine) for g in parts]
    t = time.perf_counter()
    # The boundaries between colours are known to about a working pixel (the label raster's step),
    # so they are fitted within CURVE_FIT_PX of it (at most CURVE_FIT_MAX_SOURCE_PX where the raster
    # resolves that; --tolerance if coarser): fitting closer only follows the staircase of the raster
    # with more faces (a soft 3000 px picture, not upsampled: 7781 segments at a quarter pixel, 1098 at
    # one pixel). The
    # subject's outline (potrace's, as in the single-colour pipeline, which sets the frame) keeps
    # --tolerance.
    fit_px = CURVE_FIT_PX * labels.scale  # (source px)
    if 0.5 * labels.scale <= CURVE_FIT_MAX_SOURCE_PX:
        fit_px = min(fit_px, CURVE_FIT_MAX_SOURCE_PX)
    inner_tol = max(options.tolerance_mm, fit_px * s)
    curves = curve_partition(parts_mm, options.tolerance_mm, inner_tol)
    fine = FINE_TOLERANCE_FRACTION * max(union_mm.bounds[2] - union_mm.bounds[0], 1e-9)
    flat = None  # each colour's regions flattened at ``fine``: what the checks and exports read
    if curves is not None:
        flat = [[Polygon(r.shell.flatten(fine), [h.flatten(fine) for h in r.holes]) for r in regs] for regs in curves]
        if not all(p.is_valid for ps in flat for p in ps):
            curves = flat = None  # (valid when flattened for the fit, crossing at the finer flattening)
    timings["curves"] = time.perf_counter() - t
    if curves is None:
        caught.append("the shared colour boundaries are kept as polylines (a fitted curve would have crossed another)")
    bodies = []
    dropped_colours = []
    for i, g_mm in enumerate(parts_mm):
        if g_mm.is_empty or g_mm.area <= 0:
            dropped_colours.append(hexes[i])
            continue
        if curves is not None:
            regs = curves[i]
            geom = MultiPolygon(flat[i])
        else:
            regs = regions_from_polygons(g_mm)
            geom = MultiPolygon([p for p in _polys(g_mm)])
        geom = shapely.orient_polygons(geom, exterior_cw=False)
        regions = Regions(regions=tuple(regs), geometry=geom, px_mm=s, report={})
        bodies.append(ColorBody(name=f"{stem}_{len(bodies) + 1}_{hexes[i][1:]}", color=hexes[i], regions=regions,
                                z0_mm=0.0, height_mm=heights[i], tolerance_mm=options.tolerance_mm))
    if not bodies:
        raise GeometryError(f"{name}: no colour has any area left")
    plate = _base_plate(options, union_mm, labels, stem, s)
    if plate is not None:
        for b in bodies:
            b.z0_mm = plate.height_mm
        bodies.insert(0, plate)
    if dropped_colours:
        caught.append(f"colour(s) {', '.join(dropped_colours)} had no area left after the partition")
    if labels.info.get("merged_specks"):
        caught.append(f"merged {labels.info['merged_specks']} colour speck(s) into their neighbours")
    if pinfo.get("dropped_area", 0) > 0:
        caught.append(f"dropped {pinfo['dropped_area'] * s * s:.4f} mm² of isolated specks")
    info = dict(labels.info)
    info.update(pinfo)
    return MultiConversion(name=name, options=options, labels=labels, bodies=bodies, union_mm=union_mm, px_mm=s,
                           timings=timings, warnings=caught, info=info)


def _base_plate(options, union_mm, labels, stem: str, px_mm: float) -> ColorBody | None:
    """The base plate body of ``--plate`` (cad/products.py), or None. The colours then stand on it."""
    prod = getattr(options, "product", None)  # (ConvertOptions refused every other product with --colors)
    if prod is None or getattr(prod, "plate", "none") == "none":
        return None
    from cad import products

    outline = products._plate_outline(prod.plate, union_mm, prod.margin_mm, prod.corner_radius_mm).poly
    regs = regions_from_polygons(outline)
    geom = shapely.orient_polygons(MultiPolygon(_polys(outline)), exterior_cw=False)
    bg = labels.info.get("background", "")
    color = bg if isinstance(bg, str) and bg.startswith("#") else "#808080"
    return ColorBody(name=f"{stem}_base_{color[1:]}", color=color,
                     regions=Regions(regions=tuple(regs), geometry=geom, px_mm=px_mm, report={}),
                     z0_mm=0.0, height_mm=prod.base_thickness_mm, tolerance_mm=options.tolerance_mm, is_base=True)


# ----------------------------------------------------------------------------- STEP with XCAF

def _xcaf_doc():
    from OCP.TCollection import TCollection_ExtendedString
    from OCP.TDocStd import TDocStd_Document
    from OCP.XCAFApp import XCAFApp_Application

    app = XCAFApp_Application.GetApplication_s()
    doc = TDocStd_Document(TCollection_ExtendedString("MDTV-XCAF"))
    app.InitDocument(doc)
    return doc


def write_colored_step(items: list[tuple[str, str, object]], path: str | Path) -> Path:
    """Write ``[(name, "#rrggbb", shape)]`` as one STEP AP214 file with named, coloured products (XCAF)."""
    from OCP.IFSelect import IFSelect_RetDone
    from OCP.Quantity import Quantity_Color, Quantity_TOC_sRGB
    from OCP.STEPCAFControl import STEPCAFControl_Writer
    from OCP.STEPControl import STEPControl_AsIs
    from OCP.TCollection import TCollection_ExtendedString
    from OCP.TDataStd import TDataStd_Name
    from OCP.XCAFDoc import XCAFDoc_ColorType, XCAFDoc_DocumentTool

    from cad.export.step import quiet_occ_messages, writer_settings

    path = Path(path)
    quiet_occ_messages()
    doc = _xcaf_doc()
    st = XCAFDoc_DocumentTool.ShapeTool_s(doc.Main())
    ct = XCAFDoc_DocumentTool.ColorTool_s(doc.Main())
    for name, color, shape in items:
        lab = st.AddShape(shape, False)
        TDataStd_Name.Set_s(lab, TCollection_ExtendedString(name))
        r, g, b = (int(color[i:i + 2], 16) / 255.0 for i in (1, 3, 5))
        qc = Quantity_Color(r, g, b, Quantity_TOC_sRGB)
        ct.SetColor(lab, qc, XCAFDoc_ColorType.XCAFDoc_ColorGen)
        ct.SetColor(lab, qc, XCAFDoc_ColorType.XCAFDoc_ColorSurf)
    w = STEPCAFControl_Writer()
    w.SetColorMode(True)
    w.SetNameMode(True)
    with writer_settings():  # the same schema, unit and no p-curves as the one-body writer
        if not w.Transfer(doc, STEPControl_AsIs):
            raise ExportError(f"{path.name}: OpenCASCADE could not translate the coloured solids to STEP")
        if w.Write(str(path)) != IFSelect_RetDone:
            raise ExportError(f"{path.name}: OpenCASCADE could not write the STEP file")
    return path


def read_colored_step(path: str | Path) -> list[tuple[str | None, str | None, object]]:
    """Read a STEP file's top-level products as ``[(name, "#rrggbb" or None, shape)]`` (XCAF)."""
    from OCP.IFSelect import IFSelect_RetDone
    from OCP.Quantity import Quantity_Color
    from OCP.STEPCAFControl import STEPCAFControl_Reader
    from OCP.TDataStd import TDataStd_Name
    from OCP.TDF import TDF_LabelSequence
    from OCP.TopAbs import TopAbs_SOLID
    from OCP.TopExp import TopExp_Explorer
    from OCP.XCAFDoc import XCAFDoc_ColorTool, XCAFDoc_ColorType, XCAFDoc_DocumentTool, XCAFDoc_ShapeTool

    r = STEPCAFControl_Reader()
    r.SetColorMode(True)
    r.SetNameMode(True)
    if r.ReadFile(str(path)) != IFSelect_RetDone:
        raise ExportError(f"{path}: not a readable STEP file")
    doc = _xcaf_doc()
    if not r.Transfer(doc):
        raise ExportError(f"{path}: OpenCASCADE could not transfer the STEP file")
    st = XCAFDoc_DocumentTool.ShapeTool_s(doc.Main())
    ct = XCAFDoc_DocumentTool.ColorTool_s(doc.Main())
    seq = TDF_LabelSequence()
    st.GetFreeShapes(seq)
    out = []
    for i in range(1, seq.Length() + 1):
        lab = seq.Value(i)
        attr = TDataStd_Name()
        name = attr.Get().ToExtString() if lab.FindAttribute(TDataStd_Name.GetID_s(), attr) else None
        shape = XCAFDoc_ShapeTool.GetShape_s(lab)
        qc = Quantity_Color()
        gen, surf = XCAFDoc_ColorType.XCAFDoc_ColorGen, XCAFDoc_ColorType.XCAFDoc_ColorSurf
        if XCAFDoc_ColorTool.GetColor_s(lab, gen, qc) or XCAFDoc_ColorTool.GetColor_s(lab, surf, qc):
            color = _hex(qc)
        else:  # the reader puts the colour on each solid of a compound: they must all agree
            found = set()
            ex = TopExp_Explorer(shape, TopAbs_SOLID)
            while ex.More():
                q = Quantity_Color()
                found.add(_hex(q) if (ct.GetColor(ex.Current(), surf, q) or ct.GetColor(ex.Current(), gen, q)) else None)
                ex.Next()
            color = found.pop() if len(found) == 1 else None
        out.append((name, color, shape))
    return out


def _hex(qc) -> str:
    from OCP.Quantity import Quantity_TOC_sRGB

    return "#%02x%02x%02x" % tuple(int(round(min(max(v, 0.0), 1.0) * 255)) for v in qc.Values(Quantity_TOC_sRGB))


# ----------------------------------------------------------------------------- writing

def output_paths(out_dir, stem: str, formats, bodies) -> dict[str, Path | list[Path]]:
    """``step``/``3mf``: one file; ``stl``/``svg``: one file per colour, ``STEM_<i>_<rrggbb>.<ext>``."""
    out_dir = Path(out_dir)
    paths: dict = {}
    for f in formats:
        if f in ("step", "3mf"):
            paths[f] = out_dir / f"{stem}.{f}"
        else:
            paths[f] = [out_dir / f"{b.name}.{f}" for b in bodies]
    return paths


def write_multicolor(conv: MultiConversion, out_dir, stem: str, formats=None) -> dict:
    """Write and check every requested format through one :class:`Staging`: all or nothing."""
    from cad.export import Staging, fsync_file, parse_formats
    from cad.export.stl import read_stl, write_stl
    from cad.export.threemf import Part, read_3mf, write_3mf
    from cad.pipeline import check_volume_mesh

    formats = parse_formats(formats or conv.options.formats)
    from cad.export import prepare_out_dir

    out_dir = prepare_out_dir(out_dir)
    finals = output_paths(out_dir, stem, formats, conv.bodies)
    t0 = time.perf_counter()
    bodies = conv.bodies
    if "step" in formats:  # OCC's checks grow with the square of a face's segments: refused before any file
        from tracer.budget import check_brep_budget

        check_brep_budget([[ring.n_segments for ring in r.rings] for b in bodies for r in b.regions.regions],
                          max_segments=conv.options.trace.max_segments)
    with Staging() as stage:
        for fmt, final in finals.items():
            try:
                if fmt == "3mf":
                    tmp = stage.path(final)
                    write_3mf([Part(b.name, b.mesh, b.color) for b in bodies], tmp)
                    unit, parts = read_3mf(tmp)
                    if unit != "millimeter" or len(parts) != len(bodies):
                        raise ExportError(f"{final.name}: the 3MF did not read back as {len(bodies)} parts in mm")
                    for b, (pname, pmesh, pcolor) in zip(bodies, parts):
                        if pname != b.name or (pcolor or "").lower() != b.color.lower():
                            raise ExportError(f"{final.name}: part {b.name} read back as {pname!r} {pcolor!r}")
                        check_volume_mesh(pmesh, b.expected_volume_mm3, b.volume_tolerance_mm3 * 1.5, final.name)
                    fsync_file(tmp)
                elif fmt == "step":
                    tmp = stage.path(final)
                    _write_checked_step(bodies, tmp, final)
                    fsync_file(tmp)
                elif fmt == "stl":
                    for b, fin in zip(bodies, final):
                        tmp = stage.path(fin)
                        write_stl(b.mesh, tmp)
                        check_volume_mesh(read_stl(tmp), b.expected_volume_mm3, b.volume_tolerance_mm3 * 1.5, fin.name)
                        fsync_file(tmp)
                elif fmt == "svg":
                    from cad.export.svg import svg_area_mm2, svg_text

                    for b, fin in zip(bodies, final):
                        tmp = stage.path(fin)
                        tmp.write_text(svg_text(b.regions, fill=b.color), encoding="utf-8")
                        area = svg_area_mm2(tmp)
                        if abs(area - b.area_mm2) > 1e-4 * b.area_mm2 + 1e-6:
                            raise ExportError(f"{fin.name}: the SVG reads back with area {area:.4f} mm², "
                                              f"expected {b.area_mm2:.4f}")
                        fsync_file(tmp)
            except OSError as exc:
                raise ExportError(f"{final}: cannot write ({exc.strerror or exc})") from exc
        stage.commit()
    conv.timings["export"] = time.perf_counter() - t0
    return finals


def _write_checked_step(bodies: list[ColorBody], tmp: Path, final: Path) -> None:
    from cad.solid import count_solids, is_valid_shape, shape_volume

    items = [(b.name, b.color, b.solid.shape) for b in bodies]
    write_colored_step(items, tmp)
    back = read_colored_step(tmp)
    if len(back) != len(bodies):
        raise ExportError(f"{final.name}: the STEP file read back with {len(back)} products, expected {len(bodies)}")
    for b, (name, color, shape) in zip(bodies, back):
        vol = shape_volume(shape)
        if name != b.name or color != b.color:
            raise ExportError(f"{final.name}: body {b.name} ({b.color}) read back as {name!r} ({color})")
        if count_solids(shape) != b.solid.solids or abs(vol - b.solid.volume_mm3) > 1e-6 * b.solid.volume_mm3 + 1e-9:
            raise ExportError(f"{final.name}: body {b.name} did not read back as the same solid "
                              f"({count_solids(shape)} solids, {vol:.4f} mm³)")
        if not is_valid_shape(shape):
            raise ExportError(f"{final.name}: body {b.name} reads back as an invalid shape")


def convert_multicolor(source, out_dir, options, *, stem: str | None = None, name: str | None = None) -> dict:
    """Multi-colour counterpart of :func:`cad.pipeline.convert`: same report entry plus ``colors``."""
    t0 = time.perf_counter()
    if stem is None:
        stem = Path(str(source)).stem if not isinstance(source, (bytes, bytearray)) else "image"
    conv = build_multicolor(source, options, name=name, stem=stem)
    outputs = write_multicolor(conv, out_dir, stem)
    flat: dict[str, str] = {}
    for k, v in outputs.items():  # one string per file: "stl:<body name>" for the per-colour files
        if isinstance(v, Path):
            flat[k] = str(v)
        else:
            flat.update({f"{k}:{b.name}": str(p) for b, p in zip(conv.bodies, v)})
    entry = {"input": conv.name, "status": "ok", "error": None, "outputs": flat}
    entry.update(conv.report())
    for c, b in zip(entry["colors"], conv.bodies):
        c["outputs"] = {k.split(":")[0]: p for k, p in flat.items() if k.endswith(":" + b.name)}
    overlap = entry["overlap_mm2"]
    if overlap > 1e-6 * max(entry["area_mm2"], 1e-9):
        conv.warnings.append(f"colour bodies overlap by {overlap:.6f} mm²")
    entry["warnings"] = conv.warnings
    entry["seconds"] = {k: round(v, 4) for k, v in conv.timings.items()}
    entry["seconds"]["total"] = round(time.perf_counter() - t0, 4)
    return entry
