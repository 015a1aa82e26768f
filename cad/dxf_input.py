"""A DXF drawing's closed outlines -> :class:`cad.regions.Regions`: DXF as an input.

Every entity of the modelspace (or of the layers asked for) becomes cubic Bézier segments: a LINE a
straight segment; a SPLINE its Bézier spans (exact knot insertion; quadratics raised to cubics,
exactly); a circular arc (ARC, CIRCLE, a bulge of an LWPOLYLINE or POLYLINE) cubics of at most
22.5° each (within 1e-7 of the radius); an ELLIPSE the same cubics through its axes. Closed
entities are outlines by themselves; open ones are joined end to end (either way round) into
closed outlines, ends within 1e-7 of the drawing's size counting as one point. Outlines nest by
even-odd: inside an even number of others, an island; inside an odd number, a hole.

The outlines then go through :func:`cad.regions.to_regions` like a trace, with the drawing's
``$INSUNITS`` as the default scale (a drawing made in mm comes out in mm, one in inches 25.4 times
larger), so the cleaning, the size options and the geometry contract are the same.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Polygon

from cad import geometry
from cad.regions import Regions, to_regions
from cad.truearcs import regions_with_true_arcs
from cad.vector.art import Art, Paint
from tracer.errors import GeometryError, InvalidInputError, TooComplexError
from tracer.types import Contour, Outlines

__all__ = ["read_dxf_outlines", "dxf_regions", "dxf_art", "looks_like_dxf", "UNIT_MM"]

#: ``$INSUNITS`` -> millimetres per drawing unit (0, unitless, is taken as mm).
UNIT_MM = {0: 1.0, 1: 25.4, 2: 304.8, 4: 1.0, 5: 10.0, 6: 1000.0, 8: 25.4e-6, 9: 25.4e-3, 10: 914.4,
           13: 1e-3, 14: 1e-4}
#: Ends of open entities closer than this fraction of the drawing's size are joined.
JOIN_FRACTION = 1e-7
_MAX_ARC_RAD = math.pi / 8
#: A file larger than this many bytes per segment of the budget (plus 1 MiB) is refused unread: a cubic
#: SPLINE takes about 380 bytes, a LINE about 170.
BYTES_PER_SEGMENT = 1000


def _line(p, q) -> np.ndarray:
    p, q = np.asarray(p, float), np.asarray(q, float)
    return np.array([[p, p + (q - p) / 3, p + 2 * (q - p) / 3, q]])


def _arc(cx: float, cy: float, r: float, a0: float, sweep: float) -> np.ndarray:
    """Cubics along a circular arc (counter-clockwise for a positive ``sweep``), pieces of at most 22.5°."""
    n = max(1, math.ceil(abs(sweep) / _MAX_ARC_RAD - 1e-9))
    h = sweep / n
    k = 4.0 / 3.0 * math.tan(h / 4)
    out = np.empty((n, 4, 2))
    for i in range(n):
        t0, t1 = a0 + i * h, a0 + (i + 1) * h
        p0 = np.array([math.cos(t0), math.sin(t0)])
        p3 = np.array([math.cos(t1), math.sin(t1)])
        out[i] = [p0, p0 + k * np.array([-p0[1], p0[0]]), p3 - k * np.array([-p3[1], p3[0]]), p3]
    return out * r + np.array([cx, cy])


def _bulge(p, q, b: float) -> np.ndarray:
    theta = 4 * math.atan(b)
    c = math.dist(p, q)
    if c == 0:
        return np.empty((0, 4, 2))
    r = c / (2 * math.sin(abs(theta) / 2))
    mx, my = 0.5 * (p[0] + q[0]), 0.5 * (p[1] + q[1])
    ux, uy = (q[0] - p[0]) / c, (q[1] - p[1]) / c
    d = r * math.cos(theta / 2) * math.copysign(1.0, theta)
    cx, cy = mx - uy * d, my + ux * d
    arc = _arc(cx, cy, r, math.atan2(p[1] - cy, p[0] - cx), theta)
    arc[0, 0], arc[-1, 3] = p, q  # the vertices themselves, not their recomputation
    return arc


def _polyline(pts: list, bulges: list, closed: bool) -> np.ndarray:
    segs = []
    n = len(pts)
    for i in range(n if closed else n - 1):
        p, q = pts[i], pts[(i + 1) % n]
        if bulges[i]:
            segs.append(_bulge(p, q, bulges[i]))
        elif p != q:
            segs.append(_line(p, q))
    return np.concatenate(segs) if segs else np.empty((0, 4, 2))


def _spline(e, name: str) -> np.ndarray:
    if e.weights and any(w != 1 for w in e.weights):
        raise InvalidInputError(f"{name}: a rational SPLINE (with weights) is not supported; convert it to "
                                "a polynomial spline or a polyline")
    try:
        spans = list(e.construction_tool().bezier_decomposition())
    except Exception as exc:  # ezdxf raises plain errors for unclamped or malformed knots
        raise InvalidInputError(f"{name}: a SPLINE cannot be read ({exc})") from None
    out = []
    for span in spans:
        c = np.array([(p[0], p[1]) for p in span], float)
        if len(c) == 2:
            out.append(_line(c[0], c[1])[0])
        elif len(c) == 3:  # a quadratic, raised to a cubic exactly
            out.append(np.array([c[0], c[0] + 2 / 3 * (c[1] - c[0]), c[2] + 2 / 3 * (c[1] - c[2]), c[2]]))
        elif len(c) == 4:
            out.append(c)
        else:
            raise InvalidInputError(f"{name}: a SPLINE of degree {len(c) - 1} is not supported (degree 1 to 3)")
    return np.array(out)


def _pieces(doc, layers, name: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(closed rings, open pieces)``, each ``(n, 4, 2)`` cubics, of the modelspace's entities."""
    closed: list[np.ndarray] = []
    open_: list[np.ndarray] = []
    wanted = None if layers is None else {str(x).upper() for x in layers}
    for e in doc.modelspace():
        if wanted is not None and e.dxf.layer.upper() not in wanted:
            continue
        kind = e.dxftype()
        is_closed = False
        if kind == "LINE":
            p, q = (e.dxf.start.x, e.dxf.start.y), (e.dxf.end.x, e.dxf.end.y)
            segs = _line(p, q) if p != q else np.empty((0, 4, 2))
        elif kind == "ARC":
            a0, a1 = math.radians(e.dxf.start_angle), math.radians(e.dxf.end_angle)
            sweep = (a1 - a0) % (2 * math.pi) or 2 * math.pi
            segs = _arc(e.dxf.center.x, e.dxf.center.y, e.dxf.radius, a0, sweep)
        elif kind == "CIRCLE":
            segs, is_closed = _arc(e.dxf.center.x, e.dxf.center.y, e.dxf.radius, 0.0, 2 * math.pi), True
        elif kind == "ELLIPSE":
            s0, s1 = e.dxf.start_param, e.dxf.end_param
            sweep = (s1 - s0) % (2 * math.pi) or 2 * math.pi
            is_closed = abs(sweep - 2 * math.pi) < 1e-12
            u = np.array([e.dxf.major_axis.x, e.dxf.major_axis.y])
            v = e.dxf.ratio * np.array([-u[1], u[0]])
            unit = _arc(0.0, 0.0, 1.0, s0, sweep)
            segs = np.array([e.dxf.center.x, e.dxf.center.y]) + unit[..., :1] * u + unit[..., 1:] * v
        elif kind == "LWPOLYLINE":
            xyb = list(e.get_points("xyb"))
            segs = _polyline([(x, y) for x, y, _ in xyb], [b for *_, b in xyb], e.closed)
            is_closed = e.closed
        elif kind == "POLYLINE" and not e.is_3d_polyline and not e.is_polygon_mesh and not e.is_poly_face_mesh:
            vs = list(e.vertices)
            segs = _polyline([(v.dxf.location.x, v.dxf.location.y) for v in vs],
                             [v.dxf.get("bulge", 0.0) for v in vs], e.is_closed)
            is_closed = e.is_closed
        elif kind == "SPLINE":
            segs = _spline(e, name)
        else:
            continue  # text, dimensions, hatches, points: not outlines
        if len(segs) == 0:
            continue
        (closed if is_closed else open_).append(segs)
    return closed, open_


def _join(pieces: list[np.ndarray], tol: float, name: str) -> list[np.ndarray]:
    """Join open pieces end to end (either way round) into closed rings."""
    cell = max(tol, 1e-300) * 4
    grid: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)

    def key(p) -> tuple[int, int]:
        return int(math.floor(p[0] / cell)), int(math.floor(p[1] / cell))

    for i, pc in enumerate(pieces):
        grid[key(pc[0, 0])].append((i, 0))
        grid[key(pc[-1, 3])].append((i, 1))
    used = [False] * len(pieces)

    def take_near(p) -> tuple[int, int] | None:
        kx, ky = key(p)
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for i, end in grid.get((kx + dx, ky + dy), ()):
                    if not used[i] and math.dist(p, pieces[i][0, 0] if end == 0 else pieces[i][-1, 3]) <= tol:
                        return i, end
        return None

    rings = []
    for i in range(len(pieces)):
        if used[i]:
            continue
        used[i] = True
        parts = [pieces[i].copy()]
        start, cur = parts[0][0, 0], parts[0][-1, 3]
        while math.dist(cur, start) > tol:
            found = take_near(cur)
            if found is None:
                raise InvalidInputError(f"{name}: an outline is open near ({cur[0]:.6g}, {cur[1]:.6g}); "
                                        "only closed outlines make a solid")
            j, end = found
            used[j] = True
            nxt = pieces[j].copy() if end == 0 else geometry.reverse(pieces[j], np.zeros(len(pieces[j]), bool))[0]
            nxt[0, 0] = cur
            parts.append(nxt)
            cur = nxt[-1, 3]
        ring = np.concatenate(parts)
        ring[-1, 3] = ring[0, 0]
        rings.append(ring)
    return rings


def _is_line(ctrl: np.ndarray) -> np.ndarray:
    """Segments whose inner control points lie on the chord (straight)."""
    d = ctrl[:, 3] - ctrl[:, 0]
    ln = np.hypot(d[:, 0], d[:, 1])
    w = ctrl[:, 1:3] - ctrl[:, None, 0]
    off = np.abs(d[:, None, 0] * w[..., 1] - d[:, None, 1] * w[..., 0]) / np.maximum(ln, 1e-300)[:, None]
    return (off.max(axis=1) <= 1e-12 * np.maximum(ln, 1.0)) & (ln > 0)


def read_dxf_outlines(source: str | os.PathLike[str], *, name: str | None = None, layers=None,
                      max_segments: int = 200_000) -> tuple[Outlines, float]:
    """The closed outlines of a DXF as :class:`tracer.types.Outlines` in drawing units (y down, like a
    trace's pixels), nested by even-odd, and the drawing's millimetres per unit."""
    import ezdxf  # (imported here: 0.3 s and more, paid only when a DXF is read)

    name = name or str(source)
    try:
        n_bytes = os.path.getsize(source)
    except OSError as exc:
        raise InvalidInputError(f"{name}: cannot read the file ({exc.strerror})") from None
    if n_bytes > BYTES_PER_SEGMENT * max_segments + 2**20:  # refused before it is parsed into memory
        raise TooComplexError(f"{name}: the file has {n_bytes} bytes, more than a drawing within the budget of "
                              f"{max_segments} segments can have")
    try:
        doc = ezdxf.readfile(str(source))
    except (OSError, ezdxf.DXFError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInputError(f"{name}: not a readable DXF file ({exc})") from None
    unit = UNIT_MM.get(int(doc.header.get("$INSUNITS", 0) or 0))
    if unit is None:
        raise InvalidInputError(f"{name}: the drawing's units ($INSUNITS {doc.header.get('$INSUNITS')}) are not "
                                "a length tracecad knows; give --px-mm, the millimetres per drawing unit")
    closed, open_ = _pieces(doc, layers, name)
    n = sum(len(p) for p in closed) + sum(len(p) for p in open_)
    if n > max_segments:
        raise TooComplexError(f"{name}: the drawing has {n} curve segments, above the budget of {max_segments}")
    if not closed and not open_:
        raise GeometryError(f"{name}: the drawing has no outline (no line, arc, circle, ellipse, polyline or spline)")
    pts = np.concatenate([p.reshape(-1, 2) for p in closed + open_])
    if not np.isfinite(pts).all():
        raise InvalidInputError(f"{name}: the drawing has coordinates that are not finite numbers")
    size = float(np.ptp(pts, axis=0).max())
    rings = closed + _join(open_, JOIN_FRACTION * max(size, 1e-12), name)
    return _nest(rings, size), unit


def _inside(poly: Polygon):
    """A point inside ``poly`` (of its largest part, when the ring crosses itself)."""
    if not poly.is_valid:
        parts = [g for g in getattr(shapely.make_valid(poly), "geoms", [shapely.make_valid(poly)])
                 if g.geom_type == "Polygon" and g.area > 0]
        if parts:
            return max(parts, key=lambda g: g.area).representative_point()
    return poly.representative_point()


def _nest(rings: list[np.ndarray], size: float) -> Outlines:
    """Even-odd nesting: parents first (larger area), ``parent`` the smallest ring around each."""
    tol = 1e-5 * max(size, 1e-12)
    polys = [Polygon(geometry.flatten(r, _is_line(r), tol)) for r in rings]
    areas = np.array([abs(geometry.signed_area(r)) for r in rings])
    order = np.argsort(-areas, kind="stable")
    rings = [rings[i] for i in order]
    polys = [polys[i] for i in order]
    areas = areas[order]
    probes = [_inside(p) for p in polys]  # a point inside each ring stands for it
    tree = shapely.STRtree(polys)
    pi, pj = tree.query(probes, predicate="within")
    parent = [-1] * len(rings)
    depth = [0] * len(rings)
    for i in range(len(rings)):
        around = [j for j in pj[pi == i] if j != i and areas[j] > areas[i]]
        depth[i] = len(around)
        if around:
            parent[i] = min(around, key=lambda j: areas[j])
    contours = []
    for i, r in enumerate(rings):
        px = r.copy()
        px[..., 1] = -px[..., 1]  # y down, like a trace's pixels
        contours.append(Contour(px, _is_line(r), is_hole=depth[i] % 2 == 1, parent=int(parent[i])))
    x0, y0 = np.min([c.ctrl.reshape(-1, 2).min(axis=0) for c in contours], axis=0)
    x1, y1 = np.max([c.ctrl.reshape(-1, 2).max(axis=0) for c in contours], axis=0)
    return Outlines(tuple(contours), (max(1, int(math.ceil(x1 - x0))), max(1, int(math.ceil(y1 - y0)))))


def dxf_regions(source: str | os.PathLike[str], *, name: str | None = None, layers=None,
                width_mm: float | None = None, height_mm: float | None = None, px_mm: float | None = None,
                min_area_mm2: float = 0.0, mirror: bool = False, max_segments: int = 200_000) -> Regions:
    """A DXF's closed outlines as regions in mm, centred like a trace (:func:`cad.regions.to_regions`): the
    drawing's own curves, its arcs and ellipses as true arcs (:mod:`cad.truearcs`).

    Without a size, one drawing unit is what ``$INSUNITS`` says (mm when unitless); ``layers`` picks
    layers by name (default: all).
    """
    outlines, unit = read_dxf_outlines(Path(source), name=name, layers=layers, max_segments=max_segments)
    if width_mm is None and height_mm is None and px_mm is None:
        px_mm = unit
    return regions_with_true_arcs(to_regions(outlines, width_mm=width_mm, height_mm=height_mm, px_mm=px_mm,
                                             min_area_mm2=min_area_mm2, mirror=mirror, fit_tolerance_mm=0))


def looks_like_dxf(source) -> bool:
    """Whether ``source`` is a path with a ``.dxf`` name (DXF is read from files only)."""
    return not isinstance(source, (bytes, bytearray)) and Path(str(source)).suffix.lower() == ".dxf"


def dxf_art(source: str | os.PathLike[str], *, name: str | None = None, layers=None,
            max_segments: int = 200_000) -> Art:
    """A DXF's closed outlines as vector artwork: one black area under the even-odd rule, one drawing
    unit being what ``$INSUNITS`` says, so that it goes through the same regions, products and checks
    as an SVG."""
    outlines, unit = read_dxf_outlines(source, name=name, layers=layers, max_segments=max_segments)
    rings = tuple((c.ctrl, c.is_line) for c in outlines.contours)
    return Art([Paint(rings=rings, rule="evenodd", source="DXF outlines")], unit_mm=unit, name=name or str(source))
