"""Regions -> exact B-rep solid (OpenCASCADE through CadQuery's OCP binding).

Each ring becomes a wire of cubic Bézier and straight edges taken straight
from potrace's curves, so each side wall is a handful of smooth faces rather
than thousands of facets. One solid per region; all solids in one compound.
OCP is imported lazily: a run that writes only meshes never loads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import Polygon

from cad.regions import Region, Ring, regions_from_polygons
from tracer.errors import ExportError, SolidError

__all__ = ["Solid", "extrude", "ring_wire", "region_face", "prism", "compound", "faceted_solid", "face_count", "shape_volume",
           "is_valid_shape", "count_solids", "face_types", "face_areas"]

#: Segments whose control polygon is shorter than this (mm) are dropped as degenerate.
DEGENERATE_MM = 1e-7
#: A polyline outline that OpenCASCADE still rejects (a slit or needle narrower than its tolerances,
#: left where two nearly coincident edges were cut apart) loses the slits and parts narrower than this (mm).
NEEDLE_MM = 0.002


@dataclass(frozen=True, slots=True, eq=False)
class Solid:
    """An OCC shape (``TopoDS_Shape``: a compound of solids) and what was measured on it."""

    shape: object
    volume_mm3: float
    faces: int
    solids: int
    report: dict = field(default_factory=dict)


def _occ():
    from OCP import BRepBuilderAPI, BRepPrimAPI, Geom, TColgp, gp  # noqa: F401

    return BRepBuilderAPI, BRepPrimAPI, Geom, TColgp, gp


def ring_wire(ring):
    """The OCC wire of a :class:`cad.regions.Ring`: its Bézier and straight segments as exact edges."""
    BRepBuilderAPI, _, Geom, TColgp, gp = _occ()
    ctrl, is_line = ring.ctrl, ring.is_line
    arcs, ells = ring.arcs, ring.ellipses
    poly_len = np.abs(np.diff(ctrl, axis=1)).sum(axis=(1, 2))
    keep = np.flatnonzero(poly_len > DEGENERATE_MM)
    if len(keep) == 0:
        raise SolidError("a ring collapsed to a point")
    mw = BRepBuilderAPI.BRepBuilderAPI_MakeWire()
    pts = {}

    def pnt(p):
        key = (float(p[0]), float(p[1]))
        if key not in pts:
            pts[key] = gp.gp_Pnt(key[0], key[1], 0.0)
        return pts[key]

    # Snap: each kept segment starts where the previous kept one ended.
    prev_end = ctrl[keep[-1], 3]
    for i in keep:
        c = ctrl[i].copy()
        c[0] = prev_end
        if ells is not None and np.isfinite(ells[i, 5]):
            me = _ellipse_edge(c[0], c[3], ells[i], pnt)
        elif arcs is not None and np.isfinite(arcs[i, 2]):
            me = _arc_edge(c[0], c[3], arcs[i], pnt)
        elif is_line[i]:
            me = BRepBuilderAPI.BRepBuilderAPI_MakeEdge(pnt(c[0]), pnt(c[3]))
        else:
            poles = TColgp.TColgp_Array1OfPnt(1, 4)
            for k in range(4):
                poles.SetValue(k + 1, pnt(c[k]) if k in (0, 3) else gp.gp_Pnt(float(c[k, 0]), float(c[k, 1]), 0.0))
            me = BRepBuilderAPI.BRepBuilderAPI_MakeEdge(Geom.Geom_BezierCurve(poles))
        if not me.IsDone():
            raise SolidError("OpenCASCADE could not make an edge of the outline")
        mw.Add(me.Edge())
        if not mw.IsDone():
            raise SolidError("OpenCASCADE could not join the edges of the outline into a wire")
        prev_end = c[3]
    return mw.Wire()


def _arc_edge(p0, p1, arc, pnt):
    """An edge on a ``Geom_Circle`` from ``p0`` to ``p1`` about ``arc[:2]``, counter-clockwise if ``arc[2] > 0``."""
    from OCP.BRepBuilderAPI import BRepBuilderAPI_MakeEdge
    from OCP.gp import gp_Ax2, gp_Circ, gp_Dir, gp_Pnt

    r = float(np.hypot(p0[0] - arc[0], p0[1] - arc[1]))
    axis = gp_Dir(0.0, 0.0, 1.0 if arc[2] > 0 else -1.0)
    circ = gp_Circ(gp_Ax2(gp_Pnt(float(arc[0]), float(arc[1]), 0.0), axis), r)
    return BRepBuilderAPI_MakeEdge(circ, pnt(p0), pnt(p1))


def _ellipse_edge(p0, p1, ell, pnt):
    """An edge on a ``Geom_Ellipse`` (``ell`` a row of :mod:`cad.ellipse`) from ``p0`` to ``p1``, counter-clockwise
    if its sweep is positive: its side face is the linear extrusion of that ellipse."""
    from OCP.BRepBuilderAPI import BRepBuilderAPI_MakeEdge
    from OCP.gp import gp_Ax2, gp_Dir, gp_Elips, gp_Pnt

    ccw = ell[5] > 0
    # gp_Ax2's Y direction is N x X: about -Z the parameter runs clockwise seen from +Z
    axes = gp_Ax2(gp_Pnt(float(ell[0]), float(ell[1]), 0.0), gp_Dir(0.0, 0.0, 1.0 if ccw else -1.0),
                  gp_Dir(float(np.cos(ell[4])), float(np.sin(ell[4])), 0.0))
    return BRepBuilderAPI_MakeEdge(gp_Elips(axes, float(ell[2]), float(ell[3])), pnt(p0), pnt(p1))


def region_face(region):
    """The planar OCC face (Z = 0) of a :class:`cad.regions.Region`: its shell with its holes."""
    BRepBuilderAPI = _occ()[0]
    mf = BRepBuilderAPI.BRepBuilderAPI_MakeFace(ring_wire(region.shell), True)
    if not mf.IsDone():
        raise SolidError("OpenCASCADE could not make a face from the outline")
    for hole in region.holes:
        mf.Add(ring_wire(hole))
    return mf.Face()


def prism(face, *, z0_mm: float, height_mm: float):
    """The solid swept by ``face`` (lying at Z = 0) moved up to ``z0_mm`` and extruded ``height_mm`` along +Z."""
    _, BRepPrimAPI, _, _, gp = _occ()
    from OCP.BRepBuilderAPI import BRepBuilderAPI_Transform

    if z0_mm:
        tr = gp.gp_Trsf()
        tr.SetTranslation(gp.gp_Vec(0.0, 0.0, float(z0_mm)))
        face = BRepBuilderAPI_Transform(face, tr, True).Shape()
    mp = BRepPrimAPI.BRepPrimAPI_MakePrism(face, gp.gp_Vec(0.0, 0.0, float(height_mm)))
    if not mp.IsDone():
        raise SolidError("OpenCASCADE could not extrude the face")
    return mp.Shape()


def compound(shapes):
    """One ``TopoDS_Compound`` grouping ``shapes``."""
    from OCP.BRep import BRep_Builder
    from OCP.TopoDS import TopoDS_Compound

    comp = TopoDS_Compound()
    b = BRep_Builder()
    b.MakeCompound(comp)
    for s in shapes:
        b.Add(comp, s)
    return comp


def shape_volume(shape) -> float:
    from OCP.BRepGProp import BRepGProp
    from OCP.GProp import GProp_GProps

    props = GProp_GProps()
    BRepGProp.VolumeProperties_s(shape, props)
    return float(props.Mass())


def _count(shape, kind) -> int:
    from OCP.TopExp import TopExp_Explorer

    n = 0
    ex = TopExp_Explorer(shape, kind)
    while ex.More():
        n += 1
        ex.Next()
    return n


def face_count(shape) -> int:
    from OCP.TopAbs import TopAbs_FACE

    return _count(shape, TopAbs_FACE)


def face_types(shape) -> dict[str, int]:
    """Face counts by surface type: ``plane``, ``cylinder``, ``elliptic_cylinder`` (the linear extrusion of an
    ellipse), ``bspline`` (B-spline or Bézier surfaces, and the extrusions of Bézier edges, which STEP writes
    as B-spline surfaces), ``other``."""
    return _by_surface(shape, area=False)


def face_areas(shape) -> dict[str, float]:
    """Face area (mm²) by surface type, the types of :func:`face_types`."""
    return _by_surface(shape, area=True)


def _by_surface(shape, *, area: bool) -> dict:
    from OCP.BRepAdaptor import BRepAdaptor_Surface
    from OCP.BRepGProp import BRepGProp
    from OCP.GeomAbs import (
        GeomAbs_BezierSurface,
        GeomAbs_BSplineSurface,
        GeomAbs_Cylinder,
        GeomAbs_Ellipse,
        GeomAbs_Plane,
        GeomAbs_SurfaceOfExtrusion,
    )
    from OCP.GProp import GProp_GProps
    from OCP.TopAbs import TopAbs_FACE
    from OCP.TopExp import TopExp_Explorer
    from OCP.TopoDS import TopoDS

    names = {GeomAbs_Plane: "plane", GeomAbs_Cylinder: "cylinder", GeomAbs_BSplineSurface: "bspline",
             GeomAbs_BezierSurface: "bspline", GeomAbs_SurfaceOfExtrusion: "bspline"}
    out: dict = {"plane": 0, "cylinder": 0, "elliptic_cylinder": 0, "bspline": 0, "other": 0}
    ex = TopExp_Explorer(shape, TopAbs_FACE)
    while ex.More():
        face = TopoDS.Face_s(ex.Current())
        surface = BRepAdaptor_Surface(face)
        kind = names.get(surface.GetType(), "other")
        if surface.GetType() == GeomAbs_SurfaceOfExtrusion and surface.BasisCurve().GetType() == GeomAbs_Ellipse:
            kind = "elliptic_cylinder"
        if area:
            props = GProp_GProps()
            BRepGProp.SurfaceProperties_s(face, props)
            out[kind] += props.Mass()
        else:
            out[kind] += 1
        ex.Next()
    return out


def count_solids(shape) -> int:
    from OCP.TopAbs import TopAbs_SOLID

    return _count(shape, TopAbs_SOLID)


def is_valid_shape(shape) -> bool:
    from OCP.BRepCheck import BRepCheck_Analyzer

    return bool(BRepCheck_Analyzer(shape).IsValid())


def _fallback_region(region):
    """The same region with every ring flattened to a polyline (for faces OCC rejects)."""
    tol = 1e-3
    return Region(Ring.from_points(region.shell.flatten(tol)).oriented(ccw=True),
                  tuple(Ring.from_points(h.flatten(tol)).oriented(ccw=False) for h in region.holes))


def _opened_regions(region) -> list:
    """The region's polyline without slits and needles narrower than :data:`NEEDLE_MM` (a morphological
    closing, then an opening)."""
    tol = 1e-3
    poly = Polygon(region.shell.flatten(tol), [h.flatten(tol) for h in region.holes])
    h = NEEDLE_MM / 2
    for d in (h, -2 * h, h):
        poly = poly.buffer(d, join_style="mitre", mitre_limit=10.0)
    return regions_from_polygons(shapely.make_valid(poly))


def extrude(regions, *, thickness_mm: float, z0_mm: float = 0.0, check: bool = True) -> Solid:
    """Extrude every region from ``z0_mm`` by ``thickness_mm`` into one compound of exact solids.

    Raises
    ------
    SolidError
        If OCC fails, or the result is not a valid solid whose volume equals
        the exact footprint area times the thickness (relative 1e-6).
    """
    if not thickness_mm > 0:
        raise SolidError(f"thickness must be > 0 mm, got {thickness_mm}")
    solids = []
    fallbacks = 0
    volume = 0.0
    for region in regions.regions:
        expected_r = region.area() * thickness_mm
        try:
            s, vol_r = _checked_prism(region, thickness_mm, z0_mm, check)
            ok = abs(vol_r - expected_r) <= 1e-6 * abs(expected_r) + 1e-9
        except SolidError:
            ok = False
        if not ok:
            fallbacks += 1
            try:
                s, vol_r = _checked_prism(_fallback_region(region), thickness_mm, z0_mm, check)
                pieces = [(s, vol_r)]
            except SolidError:  # a slit or needle finer than OCC's tolerances: close and open it away
                pieces = [_checked_prism(r, thickness_mm, z0_mm, check) for r in _opened_regions(region)]
            if not pieces or not all(v > 0 for _, v in pieces):
                raise SolidError("OpenCASCADE built an invalid solid even from the polyline outline")
            solids += [p for p, _ in pieces]
            volume += sum(v for _, v in pieces)
            continue
        solids.append(s)
        volume += vol_r
    shape = compound(solids)
    expected = sum(r.area() for r in regions.regions) * thickness_mm
    # Every solid was checked on its own above; the compound only groups disjoint solids
    # (regions.py guarantees no overlap or contact), so it is not checked again.
    if check and fallbacks == 0 and abs(volume - expected) > 1e-6 * abs(expected):
        raise SolidError(f"solid volume {volume:.6f} mm³ differs from area x thickness {expected:.6f} mm³")
    return Solid(shape=shape, volume_mm3=volume, faces=face_count(shape), solids=len(solids),
                 report={"polyline_fallbacks": fallbacks})


def _checked_prism(region, thickness_mm: float, z0_mm: float, check: bool):
    """``(prism, volume)`` of one region; with ``check``, its face passes BRepCheck first.

    BRepCheck runs on the planar face, not on the prism: the prism's side faces
    are extrusions of the face's (checked) edges and its top is a translated
    copy of the face, so checking the prism repeats the same wire checks on
    two faces (about 3x the time) and finds nothing the face check misses.
    The caller's volume test (exact area x thickness, 1e-6) then catches a
    missing face or an inverted shell.
    """
    face = region_face(region)
    if check and not is_valid_shape(face):
        raise SolidError("the outline's face fails OpenCASCADE's BRepCheck")
    s = prism(face, z0_mm=z0_mm, height_mm=thickness_mm)
    return s, shape_volume(s)


def faceted_solid(mesh):
    """An OCC solid whose faces are the mesh's triangles, sharing edges (no sewing search needed)."""
    from OCP.BRep import BRep_Builder
    from OCP.BRepBuilderAPI import (
        BRepBuilderAPI_MakeEdge,
        BRepBuilderAPI_MakeFace,
        BRepBuilderAPI_MakeVertex,
        BRepBuilderAPI_MakeWire,
    )
    from OCP.gp import gp_Pnt
    from OCP.TopoDS import TopoDS, TopoDS_Shell, TopoDS_Solid

    v, f = mesh.vertices, mesh.faces
    verts = [BRepBuilderAPI_MakeVertex(gp_Pnt(float(a), float(b), float(c))).Vertex() for a, b, c in v]
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    ue, inv = np.unique(np.sort(e, axis=1), axis=0, return_inverse=True)
    edges = [BRepBuilderAPI_MakeEdge(verts[a], verts[b]).Edge() for a, b in ue]
    inv = inv.reshape(3, -1).T
    builder = BRep_Builder()
    shell = TopoDS_Shell()
    builder.MakeShell(shell)
    for tri, ids in zip(f, inv):
        w = BRepBuilderAPI_MakeWire()
        for s, (a, b) in enumerate(((tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0]))):
            ed = edges[ids[s]]
            w.Add(TopoDS.Edge_s(ed.Reversed()) if a > b else ed)
        mf = BRepBuilderAPI_MakeFace(w.Wire(), True)
        if not mf.IsDone():
            raise ExportError("OpenCASCADE could not make a planar face from a mesh triangle")
        builder.Add(shell, mf.Face())
    shell.Closed(True)
    solid = TopoDS_Solid()
    builder.MakeSolid(solid)
    builder.Add(solid, shell)
    return solid
