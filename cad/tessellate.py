"""B-rep -> mesh: the watertight triangulation of an exact solid, and how far its volume may stray."""

from __future__ import annotations

import numpy as np

from cad.mesh import Mesh
from tracer.errors import SolidError

__all__ = ["tessellate", "curved_area", "mesh_volume_tolerance"]


def tessellate(shape, tolerance_mm: float):
    """Triangulate the B-rep at the chord tolerance into one welded, outward-wound :class:`cad.mesh.Mesh`.

    Vertices are shared through the topology: every node on an edge gets the
    id of (edge, position along the edge), every node on a vertex the
    vertex's id, so the faces meeting at an edge use the same vertices and the
    mesh is watertight exactly where the B-rep is closed.
    """
    from OCP.BRep import BRep_Tool
    from OCP.BRepMesh import BRepMesh_IncrementalMesh
    from OCP.TopAbs import TopAbs_EDGE, TopAbs_FACE, TopAbs_REVERSED, TopAbs_VERTEX
    from OCP.TopExp import TopExp, TopExp_Explorer
    from OCP.TopLoc import TopLoc_Location
    from OCP.TopoDS import TopoDS
    from OCP.TopTools import TopTools_IndexedMapOfShape


    mesher = BRepMesh_IncrementalMesh(shape, float(tolerance_mm), False, 0.35, True)
    mesher.Perform()
    vmap, emap = TopTools_IndexedMapOfShape(), TopTools_IndexedMapOfShape()
    TopExp.MapShapes_s(shape, TopAbs_VERTEX, vmap)
    TopExp.MapShapes_s(shape, TopAbs_EDGE, emap)
    vpts = np.array([[BRep_Tool.Pnt_s(TopoDS.Vertex_s(vmap.FindKey(i))).Coord()[k] for k in range(3)]
                     for i in range(1, vmap.Extent() + 1)]) if vmap.Extent() else np.zeros((0, 3))
    keys: dict = {}
    coords: list = []

    def gid(key, xyz):
        i = keys.get(key)
        if i is None:
            i = keys[key] = len(coords)
            coords.append(xyz)
        return i

    tris = []
    ex = TopExp_Explorer(shape, TopAbs_FACE)
    fi = 0
    while ex.More():
        face = TopoDS.Face_s(ex.Current())
        ex.Next()
        fi += 1
        loc = TopLoc_Location()
        tri = BRep_Tool.Triangulation_s(face, loc)
        if tri is None:
            raise SolidError("OpenCASCADE could not triangulate a face of the solid")
        trsf = loc.Transformation()
        n = tri.NbNodes()
        pts = np.empty((n, 3))
        for i in range(1, n + 1):
            p = tri.Node(i).Transformed(trsf)
            pts[i - 1] = (p.X(), p.Y(), p.Z())
        ids = np.full(n, -1, dtype=np.int64)
        eex = TopExp_Explorer(face, TopAbs_EDGE)
        while eex.More():
            edge = TopoDS.Edge_s(eex.Current())
            eex.Next()
            if BRep_Tool.Degenerated_s(edge):
                continue
            poly = BRep_Tool.PolygonOnTriangulation_s(edge, tri, loc)
            if poly is None:
                raise SolidError("OpenCASCADE left an edge of the solid without a discretisation")
            ei = emap.FindIndex(edge)
            nodes = poly.Nodes()
            params = poly.Parameters() if poly.HasParameters() else None
            m = nodes.Length()
            order = list(range(1, m + 1))
            if params is not None and m > 1 and params.Value(1) > params.Value(m):
                order.reverse()
            v1, v2 = TopExp.FirstVertex_s(edge), TopExp.LastVertex_s(edge)
            vi = [vmap.FindIndex(v1) - 1, vmap.FindIndex(v2) - 1]
            for k, j in enumerate(order):
                node = nodes.Value(j) - 1
                if k == 0 or k == m - 1:
                    p = pts[node]
                    v = min(vi, key=lambda q: float(np.sum((vpts[q] - p) ** 2)))
                    ids[node] = gid(("v", v), vpts[v])
                else:
                    ids[node] = gid(("e", ei, k), pts[node])
        for i in range(n):
            if ids[i] < 0:
                ids[i] = gid(("f", fi, i), pts[i])
        nt = tri.NbTriangles()
        t = np.empty((nt, 3), dtype=np.int64)
        for i in range(1, nt + 1):
            a, b, c = tri.Triangle(i).Get()
            t[i - 1] = (a - 1, b - 1, c - 1)
        t = ids[t]
        if face.Orientation() == TopAbs_REVERSED:
            t = t[:, ::-1]
        tris.append(t)
    faces = np.concatenate(tris) if tris else np.zeros((0, 3), dtype=np.int64)
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])]
    return Mesh(np.asarray(coords, dtype=np.float64), faces)


def curved_area(shape) -> float:
    """Area (mm²) of the shape's faces that are not planes.

    Only curved faces can stray from their triangles (a planar face's mesh lies in its plane), so a
    mesh volume check allows (this area) x chord tolerance (:func:`mesh_volume_tolerance`)."""
    from OCP.BRepAdaptor import BRepAdaptor_Surface
    from OCP.BRepGProp import BRepGProp
    from OCP.GeomAbs import GeomAbs_Plane
    from OCP.GProp import GProp_GProps
    from OCP.TopAbs import TopAbs_FACE
    from OCP.TopExp import TopExp_Explorer
    from OCP.TopoDS import TopoDS

    curved = 0.0
    ex = TopExp_Explorer(shape, TopAbs_FACE)
    while ex.More():
        f = TopoDS.Face_s(ex.Current())
        ex.Next()
        if BRepAdaptor_Surface(f).GetType() != GeomAbs_Plane:
            props = GProp_GProps()
            BRepGProp.SurfaceProperties_s(f, props)
            curved += float(props.Mass())
    return curved


def mesh_volume_tolerance(solid, tolerance_mm: float) -> float:
    """How far the tessellated volume may stray: every point of a curved face within the chord tolerance."""
    # plus the float32 rounding of STL/3MF coordinates (relative 6e-8 each)
    return float(solid.report.get("_curved_mm2", 0.0)) * tolerance_mm + 1e-6 * abs(solid.volume_mm3) + 1e-9
