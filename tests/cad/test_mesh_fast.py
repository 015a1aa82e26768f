"""The faster mesh code gives the verdicts and numbers of the code it replaced (kept here as the reference)."""

import numpy as np
import pytest
import shapely

import cad
import shapes
import tracer
from cad.mesh import _components, check_mesh, extrude_mesh, merge_vertices
from cad.regions import to_regions


def reference_check(mesh):
    """The former ``check_mesh``: np.unique counts, np.isin for reverse edges, np.cross volume."""
    v, f = merge_vertices(mesh.vertices, mesh.faces)
    if len(f) == 0:
        return (0, False, False, 0.0, 0, 0, 0)
    degenerate = int(((f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 0] == f[:, 2])).sum())
    n = len(v)
    directed = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    key = directed[:, 0] * n + directed[:, 1]
    rkey = directed[:, 1] * n + directed[:, 0]
    ukey, counts = np.unique(key, return_counts=True)
    winding = bool((counts == 1).all())
    und = np.unique(np.minimum(key, rkey), return_counts=True)[1]
    watertight = bool((und == 2).all()) and degenerate == 0
    if winding:
        watertight = watertight and bool(np.isin(rkey, ukey, assume_unique=False).all())
    labels = _components(n, directed)
    used = np.flatnonzero(np.bincount(f.ravel(), minlength=n))
    bodies = int(np.count_nonzero(np.bincount(labels[used], minlength=n)))
    euler = len(used) - len(und) + len(f)
    genus = int(round((2 * bodies - euler) / 2)) if watertight else -1
    t = v[f]
    vol = float(np.einsum("ij,ij->i", t[:, 0], np.cross(t[:, 1], t[:, 2])).sum() / 6.0)
    return (len(f), watertight, winding, vol, bodies, genus, degenerate)


def as_tuple(rep):
    return (rep.triangles, rep.watertight, rep.winding_consistent, rep.volume_mm3, rep.bodies, rep.genus, rep.degenerate)


def _mesh(mask, width=20.0):
    return extrude_mesh(to_regions(tracer.trace(tracer.Mask(mask)), width_mm=width), 2.0)


GOOD = {
    "square": _mesh(shapes.square()),
    "ring": _mesh(shapes.ring()),
    "island in a hole": _mesh(shapes.ring(n=200, r_out=90, r_in=70) | shapes.ring(n=200, r_out=40, r_in=20)),
    "letter f": _mesh(shapes.letter_f()),
}


def _mutations(m, rng):
    f = m.faces
    yield "as is", m
    yield "one triangle missing", cad.Mesh(m.vertices, f[1:])
    g = f.copy()
    g[3] = g[3][::-1]
    yield "one triangle flipped", cad.Mesh(m.vertices, g)
    yield "all flipped", cad.Mesh(m.vertices, f[:, ::-1])
    yield "a triangle twice", cad.Mesh(m.vertices, np.concatenate([f, f[:1]]))
    yield "a triangle twice, reversed", cad.Mesh(m.vertices, np.concatenate([f, f[:1, ::-1]]))
    g = f.copy()
    g[5, 1] = g[5, 0]
    yield "a degenerate triangle", cad.Mesh(m.vertices, g)
    yield "shuffled", cad.Mesh(m.vertices, f[rng.permutation(len(f))])
    yield "two copies side by side", cad.Mesh.concatenate([m, cad.Mesh(m.vertices + [100.0, 0, 0], f)])
    yield "two copies overlapping (edges used 4 times)", cad.Mesh.concatenate([m, m])
    yield "empty", cad.Mesh(np.zeros((0, 3)), np.zeros((0, 3), np.int64))


@pytest.mark.parametrize("name", sorted(GOOD))
def test_check_mesh_equals_the_former_implementation(name):
    rng = np.random.default_rng(3)
    for label, m in _mutations(GOOD[name], rng):
        assert as_tuple(check_mesh(m)) == reference_check(m), label


def test_mesh_volume_is_the_triple_product_sum():
    m = GOOD["ring"]
    t = m.triangles()
    assert m.volume() == float(np.einsum("ij,ij->i", t[:, 0], np.cross(t[:, 1], t[:, 2])).sum() / 6.0)


def manifold_extrude(regions, thickness, tol, z0=0.0):
    """The former mesher: manifold3d's own extrusion of the same cleaned cross-section, welded."""
    import manifold3d

    from cad.mesh import weld

    contours = [ring.flatten(tol) for r in regions.regions for ring in r.rings]
    solid = manifold3d.Manifold.extrude(manifold3d.CrossSection(contours, manifold3d.FillRule.Positive), thickness)
    solid = solid.translate((0.0, 0.0, z0))
    m = solid.to_mesh()
    return weld(np.asarray(m.vert_properties)[:, :3], np.asarray(m.tri_verts))


@pytest.mark.parametrize("mask", [shapes.square(), shapes.ring(), shapes.square_with_hole(), shapes.letter_f(),
                                  shapes.ring(n=200, r_out=90, r_in=70) | shapes.ring(n=200, r_out=40, r_in=20)])
@pytest.mark.parametrize("z0", [0.0, 1.5])
def test_prism_mesher_matches_manifold_extrude(mask, z0):
    regions = to_regions(tracer.trace(tracer.Mask(mask)), width_mm=20.0)
    ours, ref = extrude_mesh(regions, 2.0, tolerance_mm=0.01, z0_mm=z0), manifold_extrude(regions, 2.0, 0.01, z0)
    a, b = check_mesh(ours), check_mesh(ref)
    assert a.is_volume and a.triangles == b.triangles and (a.bodies, a.genus) == (b.bodies, b.genus)
    assert a.volume_mm3 == pytest.approx(b.volume_mm3, rel=1e-12)
    assert np.allclose(ours.vertices.min(0), ref.vertices.min(0)) and np.allclose(ours.vertices.max(0), ref.vertices.max(0))
    assert abs(a.volume_mm3 - regions.area_mm2 * 2.0) <= float(regions.geometry.length) * 0.01 * 2.0  # chord error


@pytest.mark.parametrize("simplify", [0.0, 1e-3])
def test_a_zero_area_hole_left_by_repair_is_dropped_and_the_solid_builds(simplify):
    """bitcoin.512.png: make_valid/simplify left a hole of three collinear points; OCC refused the face."""
    from shapely.geometry import Polygon

    from cad.regions import Regions, regions_from_polygons
    from cad.solid import extrude

    shell = [(0, 0), (10, 0), (10, 10), (0, 10)]
    real_hole = [(2, 2), (4, 2), (4, 4), (2, 4)]
    flat_hole = [(6, 6), (7, 7), (8, 8), (6, 6)]
    regs = regions_from_polygons(Polygon(shell, [real_hole, flat_hole]), simplify=simplify)
    assert len(regs) == 1 and len(regs[0].holes) == 1
    assert regs[0].area() == pytest.approx(100 - 4)
    geom = shapely.MultiPolygon([Polygon(shell, [real_hole])])
    solid = extrude(Regions(regions=tuple(regs), geometry=geom, px_mm=1.0), thickness_mm=2.0)
    assert solid.volume_mm3 == pytest.approx(96 * 2.0, rel=1e-9)


def unique_reference(vertices, faces):
    """``merge_vertices`` as first written: np.unique over rows."""
    u, inv = np.unique(np.asarray(vertices, dtype=np.float64).reshape(-1, 3), axis=0, return_inverse=True)
    return u, inv.reshape(-1)[np.asarray(faces, dtype=np.int64)]


def _same(a, b):
    return all(np.array_equal(x, y) and np.array_equal(np.signbit(x), np.signbit(y)) for x, y in zip(a, b))


def test_merge_vertices_on_sorted_unique_rows_is_the_identity_and_equals_np_unique():
    rng = np.random.default_rng(5)
    for name in sorted(GOOD):  # a welded mesh: its vertices are already sorted and unique
        m = GOOD[name]
        v, f = merge_vertices(m.vertices, m.faces)
        assert np.array_equal(v, m.vertices) and np.array_equal(f, m.faces)
        assert _same(merge_vertices(m.vertices, m.faces), unique_reference(m.vertices, m.faces))
    grid = rng.integers(-2, 3, size=(400, 3)).astype(np.float64)
    cases = [grid, np.unique(grid, axis=0), np.unique(grid, axis=0)[::-1], grid[:1], np.zeros((2, 3)),
             np.array([[0.0, 1, 2], [0.0, 1, 3], [0.0, 2, 0], [1.0, -1, 0]])]
    for v in cases:
        f = rng.integers(0, len(v), size=(30, 3))
        assert _same(merge_vertices(v, f), unique_reference(v, f))


def test_the_prism_weld_equals_the_general_weld():
    from cad.mesh import _weld_prism, weld

    rng = np.random.default_rng(7)
    pts = rng.integers(-3, 4, size=(300, 2)).astype(np.float64) * 0.25  # many repeated points
    pts[:5] = [[0.0, 1.0], [-0.0, 1.0], [0.0, -0.0], [1e-9, 1.0], [1.0 + 1e-12, 2.0]]  # -0.0; float32 merges
    n = len(pts)
    faces = rng.integers(0, 2 * n, size=(500, 3))
    for z0, z1 in ((0.0, 3.0), (-2.0, 1.0), (7.0, 7.001), (1.0, 1.0 + 1e-12)):  # the last: equal in float32
        v = np.concatenate([np.column_stack([pts, np.full(n, z0)]), np.column_stack([pts, np.full(n, z1)])])
        a, b = _weld_prism(pts, z0, z1, v, faces), weld(v, faces)
        assert _same((a.vertices, a.faces), (b.vertices, b.faces)), (z0, z1)
