"""Triangle meshes: the prism mesher for plain extrusions and the mesh checks.

The prism mesher flattens the exact rings at the chord tolerance, lets
manifold3d clean and triangulate the footprint, and closes the prism with
wall quads; :func:`check_mesh` verifies it independently (closed,
consistently wound, volume) before any file is written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracer.errors import ExportError

__all__ = ["Mesh", "MeshReport", "extrude_mesh", "check_mesh", "merge_vertices", "weld", "DEFAULT_TOLERANCE_MM"]

#: Default chord tolerance for meshes: well below an FDM nozzle's resolution (0.4 mm nozzle, 0.1 mm steps).
DEFAULT_TOLERANCE_MM = 0.01


@dataclass(frozen=True, slots=True, eq=False)
class Mesh:
    """Triangles in mm: ``vertices`` (n, 3) float64, ``faces`` (m, 3) int64, counter-clockwise seen from outside."""

    vertices: np.ndarray
    faces: np.ndarray

    def __post_init__(self) -> None:
        v = np.array(self.vertices, dtype=np.float64, copy=True).reshape(-1, 3)
        f = np.array(self.faces, dtype=np.int64, copy=True).reshape(-1, 3)
        v.setflags(write=False)
        f.setflags(write=False)
        object.__setattr__(self, "vertices", v)
        object.__setattr__(self, "faces", f)

    @property
    def n_triangles(self) -> int:
        return len(self.faces)

    def triangles(self) -> np.ndarray:
        """``(m, 3, 3)`` corner coordinates."""
        return self.vertices[self.faces]

    def volume(self) -> float:
        return _signed_volume(self.vertices, self.faces)

    @classmethod
    def concatenate(cls, meshes: list[Mesh]) -> Mesh:
        vs, fs, off = [], [], 0
        for m in meshes:
            vs.append(m.vertices)
            fs.append(m.faces + off)
            off += len(m.vertices)
        return cls(np.concatenate(vs) if vs else np.zeros((0, 3)), np.concatenate(fs) if fs else np.zeros((0, 3)))


@dataclass(frozen=True, slots=True)
class MeshReport:
    """What :func:`check_mesh` found. ``is_volume`` is the one verdict that matters."""

    triangles: int
    watertight: bool
    winding_consistent: bool
    volume_mm3: float
    bodies: int
    genus: int
    degenerate: int

    @property
    def is_volume(self) -> bool:
        return self.watertight and self.winding_consistent and self.volume_mm3 > 0 and self.triangles > 0


def _signed_volume(v: np.ndarray, f: np.ndarray) -> float:
    """Sum over triangles of ``a . (b x c) / 6`` (divergence theorem), without ``np.cross``'s overhead."""
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    cx = b[:, 1] * c[:, 2] - b[:, 2] * c[:, 1]
    cy = b[:, 2] * c[:, 0] - b[:, 0] * c[:, 2]
    cz = b[:, 0] * c[:, 1] - b[:, 1] * c[:, 0]
    return float((a[:, 0] * cx + a[:, 1] * cy + a[:, 2] * cz).sum() / 6.0)


def merge_vertices(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge vertices with identical coordinates, as STL readers do.

    Same result as ``np.unique(vertices, axis=0, return_inverse=True)`` (unique
    rows in lexicographic order), about 15x faster: one lexsort of the columns.
    """
    v = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    if len(v) == 0:
        return v.copy(), np.asarray(faces, dtype=np.int64)
    if _strictly_sorted(v):  # already unique rows in lexicographic order (a welded mesh): the sort is the identity
        return v.copy(), np.array(faces, dtype=np.int64)
    order = np.lexsort((v[:, 2], v[:, 1], v[:, 0]))
    s = v[order]
    new = np.empty(len(s), dtype=bool)
    new[0] = True
    np.any(s[1:] != s[:-1], axis=1, out=new[1:])
    inverse = np.empty(len(v), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return s[new], inverse[faces]


def _strictly_sorted(v: np.ndarray) -> bool:
    """True when every row of ``v`` (n, 3) is lexicographically greater than the one before (so no two are equal).

    The comparisons are those of ``np.lexsort`` and ``!=`` in :func:`merge_vertices` (-0.0 equals 0.0; a NaN
    compares false, so a NaN row makes this False).
    """
    if len(v) < 2:
        return True
    a, b = v[:-1], v[1:]
    gt = b[:, 2] > a[:, 2]
    eq = b[:, 1] == a[:, 1]
    gt &= eq
    gt |= b[:, 1] > a[:, 1]
    gt &= b[:, 0] == a[:, 0]
    gt |= b[:, 0] > a[:, 0]
    return bool(gt.all())


def _components(n: int, edges: np.ndarray) -> np.ndarray:
    labels = np.arange(n)
    if len(edges) == 0:
        return labels
    a, b = edges[:, 0], edges[:, 1]
    while True:
        la, lb = labels[a], labels[b]
        m = np.minimum(la, lb)
        new = labels.copy()
        np.minimum.at(new, la, m)
        np.minimum.at(new, lb, m)
        new = new[new]
        while True:  # pointer jumping
            nn = new[new]
            if (nn == new).all():
                break
            new = nn
        if (new == labels).all():
            return labels
        labels = new


def check_mesh(mesh: Mesh) -> MeshReport:
    """Watertight (each edge shared by exactly two triangles), consistent winding, volume, bodies, genus."""
    v, f = merge_vertices(mesh.vertices, mesh.faces)
    if len(f) == 0:
        return MeshReport(0, False, False, 0.0, 0, 0, 0)
    degenerate = int(((f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 0] == f[:, 2])).sum())
    n = len(v)
    directed = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    key = directed[:, 0] * n + directed[:, 1]
    rkey = directed[:, 1] * n + directed[:, 0]
    skey = np.sort(key)
    winding = bool((skey[1:] != skey[:-1]).all())  # no directed edge twice
    und = np.unique(np.minimum(key, rkey), return_counts=True)[1]
    # Each undirected edge twice, and (winding) no directed edge twice: the two uses are (a, b) and
    # (b, a), so every edge's reverse is present (what np.isin(rkey, key) tested, at 10x the cost).
    watertight = bool((und == 2).all()) and degenerate == 0
    labels = _components(n, directed)
    used = np.flatnonzero(np.bincount(f.ravel(), minlength=n))
    bodies = int(np.count_nonzero(np.bincount(labels[used], minlength=n)))
    n_edges = len(und)
    euler = len(used) - n_edges + len(f)
    genus = int(round((2 * bodies - euler) / 2)) if watertight else -1
    vol = _signed_volume(v, f)
    return MeshReport(len(f), watertight, winding, vol, bodies, genus, degenerate)


def overlap_volume(meshes: list[Mesh]) -> float | None:
    """Volume (mm³) that two or more bodies of closed ``meshes`` share (0 when they only touch), or None
    when manifold3d cannot read them as manifolds (it is not measured then).

    Each body is closed and consistently wound, but nothing in a mesh file stops two bodies from
    passing through each other; a slicer then prints their union and the file's volume counts the
    shared part twice. manifold3d unions the bodies (exact predicates, so faces that only touch
    stay apart) and the union's volume is compared with the sum of the bodies'.
    """
    import manifold3d

    parts = []
    for m in meshes:
        v, f = merge_vertices(m.vertices, m.faces)
        mf = manifold3d.Manifold(manifold3d.Mesh(vert_properties=np.ascontiguousarray(v, dtype=np.float32),
                                                 tri_verts=np.ascontiguousarray(f, dtype=np.uint32)))
        if mf.status() != manifold3d.Error.NoError:
            return None
        parts += mf.decompose()
    if len(parts) < 2:
        return 0.0
    total = sum(p.volume() for p in parts)
    union = manifold3d.Manifold.batch_boolean(parts, manifold3d.OpType.Add).volume()
    # float32 vertices: touching bodies may differ from the sum by rounding, never by a real overlap
    return max(total - union, 0.0) if total - union > 1e-6 * total else 0.0


def extrude_mesh(regions, thickness_mm: float, *, tolerance_mm: float = DEFAULT_TOLERANCE_MM,
                 z0_mm: float = 0.0) -> Mesh:
    """Prism mesh of ``regions`` from ``z0_mm`` to ``z0_mm + thickness_mm``.

    The rings are flattened at the chord tolerance and cleaned by manifold3d's
    ``CrossSection`` (Clipper2, positive fill: overlaps from flattening are
    resolved); its polygons are triangulated once by manifold3d's
    triangulator for both caps, and every polygon edge becomes a wall quad.
    This is what ``Manifold.extrude`` builds (same triangles, volume, genus
    and bodies on the corpus), without its half-edge mesh construction (about
    30 % of the mesher's time). :func:`check_mesh` verifies the result before
    any file is written.
    """
    import manifold3d

    contours = [ring.flatten(tolerance_mm) for r in regions.regions for ring in r.rings]
    cs = manifold3d.CrossSection(contours, manifold3d.FillRule.Positive)
    polys = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in cs.to_polygons()]
    polys = [p for p in polys if len(p) >= 3]
    if not polys:
        raise ExportError("manifold could not extrude the footprint (nothing left after cleaning the outline)")
    caps = np.asarray(manifold3d.triangulate(polys), dtype=np.int64).reshape(-1, 3)
    pts = np.concatenate(polys)
    n = len(pts)
    sizes = np.fromiter((len(p) for p in polys), dtype=np.int64, count=len(polys))
    ends = np.cumsum(sizes)
    nxt = np.arange(1, n + 1)
    nxt[ends - 1] = ends - sizes  # each polygon closes on its first vertex
    z0, z1 = float(z0_mm), float(z0_mm) + float(thickness_mm)
    v = np.empty((2 * n, 3))
    v[:n, :2], v[:n, 2] = pts, z0
    v[n:, :2], v[n:, 2] = pts, z1
    a = np.arange(n)
    walls = np.concatenate([np.stack([a, nxt, nxt + n], axis=1), np.stack([a, nxt + n, a + n], axis=1)])
    faces = np.concatenate([caps[:, ::-1], caps + n, walls])  # bottom faces down, top up, walls out
    return _weld_prism(pts, z0, z1, v, faces)


def _weld_prism(pts: np.ndarray, z0: float, z1: float, v: np.ndarray, faces: np.ndarray) -> Mesh:
    """``weld(v, faces)`` for a prism whose vertices ``v`` are ``pts`` at ``z0`` then ``pts`` at ``z1``: the same Mesh.

    The float32 points are merged in 2D (one sort of n rows instead of 2n): when the two heights stay
    apart in float32, the sorted unique vertices of ``weld`` are each unique point at ``z0`` followed by
    it at ``z1``, and a vertex merges only with copies of its own point at its own height, the first of
    them (stable sort) being kept. Other cases (non-finite points, heights equal in float32) go to :func:`weld`.
    """
    n = len(pts)
    p32 = pts.astype(np.float32).astype(np.float64)
    lo, hi = float(np.float32(z0)), float(np.float32(z1))
    if n == 0 or not lo < hi or not np.isfinite(p32).all():
        return weld(v, faces)
    order = np.lexsort((p32[:, 1], p32[:, 0]))
    s = p32[order]
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.any(s[1:] != s[:-1], axis=1, out=new[1:])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.cumsum(new) - 1
    u = s[new]
    verts = np.empty((2 * len(u), 3))
    verts[0::2, :2], verts[0::2, 2] = u, lo
    verts[1::2, :2], verts[1::2, 2] = u, hi
    inverse = np.concatenate([2 * rank, 2 * rank + 1])
    f = inverse[faces]
    keep = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    return Mesh(verts, f[keep])


def weld(vertices: np.ndarray, faces: np.ndarray) -> Mesh:
    """Merge vertices that coincide once stored as float32 (as in STL) and drop triangles that collapse.

    manifold3d keeps coincident vertices apart where two outlines touch; a
    file reader would merge them, so the mesh is welded exactly as it will be read.
    """
    v32 = np.asarray(vertices, dtype=np.float32).astype(np.float64)
    v, f = merge_vertices(v32, np.asarray(faces, dtype=np.int64))
    keep = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    return Mesh(v, f[keep])
