"""The 2D layout of a product in mm: plate outlines and their exact faces, the keychain hole and its tab,
stencil bridges, a cookie cutter's silhouette, and the plate face with the artwork as holes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import Point, Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from cad.occ import ellipse_face, polygon_faces, rect_face, rounded_rect_face
from cad.regions import polygons_of
from cad.solid import is_valid_shape, ring_wire
from tracer.errors import InvalidInputError, SolidError

__all__ = ["OUTLINE_SIMPLIFY_MM", "Plate", "plate_outline", "place_hole", "stencil_bridges", "silhouette",
           "complement_faces", "ellipse_polygon", "rounded_rect_polygon"]


#: Offset outlines (contour plates, cutter walls, tabs, bridges) are polylines simplified to this (mm):
#: half the default chord tolerance, and it keeps BRepCheck (quadratic in the edges of a wire) fast.
OUTLINE_SIMPLIFY_MM = 0.005


@dataclass(slots=True)
class Plate:
    """A base plate's outline (shapely, mm), its kind and the parameters of its exact faces."""

    kind: str
    poly: BaseGeometry                 # shapely outline of the plate (fine polyline)
    params: tuple = ()
    tab: BaseGeometry | None = None    # shapely tab added for the hole
    extra: list = field(default_factory=list)

    def faces(self, inset: float = 0.0) -> list:
        """Exact OCC face(s) of the plate outline, offset inwards by ``inset`` (without the tab)."""
        if self.kind == "rect":
            x0, y0, x1, y1 = self.params
            return [rect_face(x0 + inset, y0 + inset, x1 - inset, y1 - inset)]
        if self.kind == "rounded":
            x0, y0, x1, y1, r = self.params
            return [rounded_rect_face(x0 + inset, y0 + inset, x1 - inset, y1 - inset, max(r - inset, 0.0))]
        if self.kind in ("circle", "ellipse"):
            a, b = self.params
            return [ellipse_face(a - inset, b - inset)]
        return polygon_faces(self.poly.buffer(-inset, quad_segs=16) if inset else self.poly,
                             simplify_mm=OUTLINE_SIMPLIFY_MM)

    def inner_poly(self, inset: float):
        if self.kind == "rect":
            x0, y0, x1, y1 = self.params
            return box(x0 + inset, y0 + inset, x1 - inset, y1 - inset)
        if self.kind in ("circle", "ellipse"):
            a, b = self.params
            return ellipse_polygon(a - inset, b - inset)
        return self.poly.buffer(-inset, quad_segs=16)


def ellipse_polygon(a, b, n=256):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return Polygon(np.c_[a * np.cos(t), b * np.sin(t)])


def rounded_rect_polygon(x0, y0, x1, y1, r):
    r = min(r, 0.5 * (x1 - x0), 0.5 * (y1 - y0))
    if r <= 1e-6:
        return box(x0, y0, x1, y1)
    return box(x0 + r, y0 + r, x1 - r, y1 - r).buffer(r, quad_segs=32)


def plate_outline(kind: str, art, margin: float, corner: float | None) -> Plate:
    x0, y0, x1, y1 = art.bounds
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    if kind == "rect":
        p = (x0 - margin, y0 - margin, x1 + margin, y1 + margin)
        return Plate("rect", box(*p), p)
    if kind == "rounded":
        p = (x0 - margin, y0 - margin, x1 + margin, y1 + margin)
        r = corner if corner is not None else min(5.0, 0.25 * min(p[2] - p[0], p[3] - p[1]))
        return Plate("rounded", rounded_rect_polygon(*p, r), (*p, r))
    hull = np.asarray(art.convex_hull.exterior.coords) - (cx, cy)
    if kind == "circle":
        r = float(np.hypot(*hull.T).max()) + margin
        return Plate("circle", ellipse_polygon(r, r), (r, r))
    if kind == "ellipse":
        hw, hh = max(0.5 * (x1 - x0), 1e-6), max(0.5 * (y1 - y0), 1e-6)
        s = float(np.sqrt((hull[:, 0] / hw) ** 2 + (hull[:, 1] / hh) ** 2).max())
        a, b = s * hw + margin, s * hh + margin
        return Plate("ellipse", ellipse_polygon(a, b), (a, b))
    if kind == "contour":
        sil = shapely.union_all([Polygon(p.exterior) for p in polygons_of(art)])
        poly = sil.buffer(margin, quad_segs=16)
        parts = polygons_of(poly)
        if len(parts) > 1:  # islands further apart than twice the margin: close the gaps
            d = margin
            while len(polygons_of(poly)) > 1 and d < 1e4:
                d *= 2
                poly = sil.buffer(margin + d, quad_segs=16).buffer(-d, quad_segs=16)
        poly = Polygon(max(polygons_of(poly), key=lambda q: q.area).exterior)
        return Plate("contour", poly.simplify(OUTLINE_SIMPLIFY_MM, preserve_topology=True))
    raise InvalidInputError(f"unknown plate {kind!r}")


def place_hole(plate: Plate, art, *, hole_mm: float, nozzle_mm: float, clearance_mm: float,
               at: tuple[float, float] | None, rim_mm: float, warnings: list):
    """Centre of a ``hole_mm`` hole (at ``at``, or placed where it keeps ``clearance_mm`` from the artwork
    ``art``) and, when the plate has no room for it, a tab (shapely) that holds it."""
    r = hole_mm / 2
    ring = max(1.5, 2 * nozzle_mm, 0.5 * r)  # material kept around the hole
    keep_out = art.buffer(r + clearance_mm, quad_segs=16)
    if at is not None:
        c = Point(at)
        if c.buffer(r).intersects(art):
            warnings.append(f"the hole at {at[0]:g},{at[1]:g} cuts into the artwork")
        if plate.poly.buffer(-ring).contains(c):
            return c, None
        return c, _tab(plate, c, r + ring)
    inner = plate.inner_poly(rim_mm) if rim_mm else plate.poly
    room = inner.buffer(-(r + ring), quad_segs=16).difference(keep_out)
    if not room.is_empty and room.area > 1e-6:
        top = room.bounds[3]
        band = room.intersection(box(room.bounds[0] - 1, top - max(0.5, 0.05 * r), room.bounds[2] + 1, top + 1))
        if band.is_empty:
            band = room
        c = nearest_points(band, Point(0.0, top))[0]
        return c, None
    # no room on the plate: a tab above the artwork, at its centre line
    x = 0.0
    strip = keep_out.intersection(box(x - 1e-3, -1e6, x + 1e-3, 1e6))
    y = (strip.bounds[3] if not strip.is_empty else keep_out.bounds[3])
    return Point(x, y), _tab(plate, Point(x, y), r + ring)


def _tab(plate: Plate, c: Point, R: float):
    """A disc of radius ``R`` at ``c`` joined to the plate by a straight strip."""
    disc = c.buffer(R, quad_segs=32)
    if plate.poly.contains(disc):
        return None
    p = nearest_points(plate.poly, c)[0]
    v = np.array([p.x - c.x, p.y - c.y])
    n = float(np.hypot(*v))
    if n < 1e-9:
        return disc
    u = v / n
    far = np.array([c.x, c.y]) + u * (n + R)  # overlap the plate by R
    strip = shapely.LineString([(c.x, c.y), tuple(far)]).buffer(R, cap_style="flat")
    return shapely.union_all([disc, strip])


def stencil_bridges(material: BaseGeometry, width: float, within: BaseGeometry) -> tuple[BaseGeometry, list]:
    """Join every island of ``material`` to the rest with straight bridges ``width`` wide; returns (material, bridges)."""
    bridges: list[BaseGeometry] = []
    for _ in range(4 * len(polygons_of(material)) + 4):
        parts = sorted(polygons_of(material), key=lambda q: -q.area)
        if len(parts) <= 1:
            return material, bridges
        island = parts[-1]
        rest = shapely.union_all(parts[:-1])
        a, b = nearest_points(island, rest)
        v = np.array([b.x - a.x, b.y - a.y])
        n = float(np.hypot(*v))
        u = v / n if n > 1e-12 else np.array([1.0, 0.0])
        ext = max(width, 0.5)  # reach into both pieces so the bridge fuses with them
        p0 = np.array([a.x, a.y]) - u * ext
        p1 = np.array([b.x, b.y]) + u * ext
        bar = shapely.LineString([tuple(p0), tuple(p1)]).buffer(width / 2, cap_style="flat").intersection(within)
        bridges.append(bar)
        material = shapely.union_all([material, bar])
    raise SolidError("could not hold every island of the stencil with bridges")


def silhouette(art, wall: float):
    """Outer silhouette for a cookie cutter: holes ignored, islands merged by a closing; returns (polygon, merged)."""
    shells = shapely.union_all([Polygon(p.exterior) for p in polygons_of(art)])
    if len(polygons_of(shells)) == 1:
        return Polygon(polygons_of(shells)[0].exterior), False
    d = max(wall, 0.5)
    sil = shells
    while len(polygons_of(sil)) > 1 and d < 1e4:
        sil = shells.buffer(d, quad_segs=16).buffer(-d, quad_segs=16)
        d *= 1.5
    sil = max(polygons_of(sil), key=lambda q: q.area)
    return Polygon(sil.exterior).simplify(OUTLINE_SIMPLIFY_MM, preserve_topology=True), True


def complement_faces(plate_faces: list, regions):
    """Faces of (plate minus artwork) with the artwork's exact rings, or ``None`` when OCC rejects them.

    The plate face gets every artwork shell as a hole; every artwork hole becomes a face of its own,
    with the artwork islands directly inside it as its holes.
    """
    from OCP.BRepBuilderAPI import BRepBuilderAPI_MakeFace
    from OCP.BRepTools import BRepTools
    from OCP.TopoDS import TopoDS

    if len(plate_faces) != 1:
        return None
    regs = regions.regions
    tol = 1e-3
    holes = [(i, h, Polygon(h.flatten(tol))) for i, r in enumerate(regs) for h in r.holes]
    probe = [Point(*r.shell.ctrl[0, 0]) for r in regs]  # a point of the region itself (on its shell)
    parent: dict[int, int] = {}  # region -> index into holes of the smallest hole holding it
    for j, pt in enumerate(probe):
        best = None
        for k, (i, _, hp) in enumerate(holes):
            if i != j and hp.contains(pt) and (best is None or hp.area < holes[best][2].area):
                best = k
        if best is not None:
            parent[j] = best
    try:
        faces = []
        mf = BRepBuilderAPI_MakeFace(BRepTools.OuterWire_s(TopoDS.Face_s(plate_faces[0])), True)
        for j, r in enumerate(regs):
            if j not in parent:
                mf.Add(ring_wire(r.shell.oriented(ccw=False)))
        faces.append(mf.Face())
        for k, (_, h, _) in enumerate(holes):
            mf = BRepBuilderAPI_MakeFace(ring_wire(h.oriented(ccw=True)), True)
            for j, r in enumerate(regs):
                if parent.get(j) == k:
                    mf.Add(ring_wire(r.shell.oriented(ccw=False)))
            faces.append(mf.Face())
    except SolidError:  # an outline OCC cannot take as exact curves: use the Boolean route
        return None
    if not all(is_valid_shape(f) for f in faces):
        return None
    return faces
