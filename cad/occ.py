"""OpenCASCADE Booleans and primitives in mm: plate faces, cylinders, fuse and cut, and their checks.

OCP is imported inside each function: importing this module loads nothing heavy.
"""

from __future__ import annotations

import math

from cad.regions import regions_from_polygons
from cad.solid import region_face
from tracer.errors import SolidError

__all__ = ["check_done", "fuse", "cut", "unify", "face_from_edges", "rect_face", "rounded_rect_face", "ellipse_face",
           "polygon_faces", "cylinder", "solids_of", "translated"]


def check_done(op, what: str):
    """``op``'s shape, or :class:`SolidError` "OpenCASCADE could not <what>" when it failed."""
    if not op.IsDone():
        raise SolidError(f"OpenCASCADE could not {what}")
    return op.Shape()


def fuse(shapes: list, what: str = "fuse the parts"):
    """Fuse many shapes in one general Boolean operation."""
    from OCP.BRepAlgoAPI import BRepAlgoAPI_Fuse

    if len(shapes) == 1:
        return shapes[0]
    return _boolean(BRepAlgoAPI_Fuse(), shapes[0], shapes[1:], what)


def _boolean(op, shape, tools_: list, what: str):
    """Run the general Boolean ``op`` (fuse or cut) of ``shape`` with ``tools_``, serially, and check it."""
    from OCP.TopTools import TopTools_ListOfShape

    args, tools = TopTools_ListOfShape(), TopTools_ListOfShape()
    args.Append(shape)
    for s in tools_:
        tools.Append(s)
    op.SetArguments(args)
    op.SetTools(tools)
    op.SetRunParallel(False)
    op.Build()
    return check_done(op, what)


def cut(shape, tools_: list, what: str = "cut the part"):
    """``shape`` minus every tool, in one general Boolean operation."""
    from OCP.BRepAlgoAPI import BRepAlgoAPI_Cut

    if not tools_:
        return shape
    return _boolean(BRepAlgoAPI_Cut(), shape, tools_, what)


def unify(shape):
    """Merge coplanar faces and collinear edges left by the Booleans (keeps the STEP small)."""
    from OCP.ShapeUpgrade import ShapeUpgrade_UnifySameDomain

    u = ShapeUpgrade_UnifySameDomain(shape, True, True, False)
    u.Build()
    return u.Shape()


def face_from_edges(edges):
    """The planar face bounded by ``edges`` (one closed wire)."""
    from OCP.BRepBuilderAPI import BRepBuilderAPI_MakeFace, BRepBuilderAPI_MakeWire

    mw = BRepBuilderAPI_MakeWire()
    for e in edges:
        mw.Add(e)
    if not mw.IsDone():
        raise SolidError("OpenCASCADE could not build the plate outline")
    mf = BRepBuilderAPI_MakeFace(mw.Wire(), True)
    return check_done(mf, "build the plate face")


def rect_face(x0, y0, x1, y1):
    """The rectangle [x0, x1] x [y0, y1] as a planar face at Z = 0."""
    from OCP import gp
    from OCP.BRepBuilderAPI import BRepBuilderAPI_MakeEdge

    p = [gp.gp_Pnt(x0, y0, 0), gp.gp_Pnt(x1, y0, 0), gp.gp_Pnt(x1, y1, 0), gp.gp_Pnt(x0, y1, 0)]
    return face_from_edges([BRepBuilderAPI_MakeEdge(p[i], p[(i + 1) % 4]).Edge() for i in range(4)])


def rounded_rect_face(x0, y0, x1, y1, r):
    """The rectangle with corners rounded to ``r`` (exact arcs) as a planar face."""
    from OCP.BRepBuilderAPI import BRepBuilderAPI_MakeEdge
    from OCP.GC import GC_MakeArcOfCircle

    r = min(r, 0.5 * (x1 - x0), 0.5 * (y1 - y0))
    if r <= 1e-6:
        return rect_face(x0, y0, x1, y1)
    from OCP import gp

    P = lambda x, y: gp.gp_Pnt(float(x), float(y), 0.0)  # noqa: E731
    k = 1 - math.sqrt(0.5)
    edges = []
    corners = [((x1 - r, y0 + r), (x1 - r, y0), (x1, y0 + r), (x1 - r * k, y0 + r * k)),
               ((x1 - r, y1 - r), (x1, y1 - r), (x1 - r, y1), (x1 - r * k, y1 - r * k)),
               ((x0 + r, y1 - r), (x0 + r, y1), (x0, y1 - r), (x0 + r * k, y1 - r * k)),
               ((x0 + r, y0 + r), (x0, y0 + r), (x0 + r, y0), (x0 + r * k, y0 + r * k))]
    for i, (_, a, b, mid) in enumerate(corners):
        edges.append(BRepBuilderAPI_MakeEdge(GC_MakeArcOfCircle(P(*a), P(*mid), P(*b)).Value()).Edge())
        nxt = corners[(i + 1) % 4][1]
        if math.dist(b, nxt) > 1e-9:
            edges.append(BRepBuilderAPI_MakeEdge(P(*b), P(*nxt)).Edge())
    return face_from_edges(edges)


def ellipse_face(a, b, cx=0.0, cy=0.0):
    """The ellipse (a circle when a == b) with semi-axes ``a`` along X and ``b`` along Y, as a planar face."""
    from OCP import gp
    from OCP.BRepBuilderAPI import BRepBuilderAPI_MakeEdge

    if abs(a - b) < 1e-9:
        circ = gp.gp_Circ(gp.gp_Ax2(gp.gp_Pnt(cx, cy, 0), gp.gp_Dir(0, 0, 1)), a)
        return face_from_edges([BRepBuilderAPI_MakeEdge(circ).Edge()])
    if a >= b:
        ax = gp.gp_Ax2(gp.gp_Pnt(cx, cy, 0), gp.gp_Dir(0, 0, 1), gp.gp_Dir(1, 0, 0))
        el = gp.gp_Elips(ax, a, b)
    else:
        ax = gp.gp_Ax2(gp.gp_Pnt(cx, cy, 0), gp.gp_Dir(0, 0, 1), gp.gp_Dir(0, 1, 0))
        el = gp.gp_Elips(ax, b, a)
    return face_from_edges([BRepBuilderAPI_MakeEdge(el).Edge()])


def polygon_faces(geom, *, simplify_mm: float):
    """OCC faces of a shapely (Multi)Polygon (polyline edges, simplified within ``simplify_mm``)."""
    return [region_face(r) for r in regions_from_polygons(geom, simplify=simplify_mm)]


def cylinder(x: float, y: float, radius: float, *, z0_mm: float, height_mm: float):
    """A vertical cylinder of ``radius`` centred on (x, y), from ``z0_mm`` up ``height_mm``."""
    from OCP import gp
    from OCP.BRepPrimAPI import BRepPrimAPI_MakeCylinder

    return BRepPrimAPI_MakeCylinder(gp.gp_Ax2(gp.gp_Pnt(x, y, z0_mm), gp.gp_Dir(0, 0, 1)), radius, height_mm).Shape()


def solids_of(shape) -> list:
    """The solids of ``shape``, in order."""
    from OCP.TopAbs import TopAbs_SOLID
    from OCP.TopExp import TopExp_Explorer
    from OCP.TopoDS import TopoDS

    out, ex = [], TopExp_Explorer(shape, TopAbs_SOLID)
    while ex.More():
        out.append(TopoDS.Solid_s(ex.Current()))
        ex.Next()
    return out


def translated(shape, dx: float, dy: float):
    """A copy of ``shape`` moved by (dx, dy) in the XY plane."""
    from OCP import gp
    from OCP.BRepBuilderAPI import BRepBuilderAPI_Transform

    tr = gp.gp_Trsf()
    tr.SetTranslation(gp.gp_Vec(dx, dy, 0.0))
    return BRepBuilderAPI_Transform(shape, tr, True).Shape()
