"""Height fields on a regular grid -> closed triangle meshes (the 2.5D modes' geometry).

Frames: a grid has ``(ny + 1) x (nx + 1)`` nodes; node ``(i, j)`` sits at
``x = x0 + j * pitch_x`` and ``y = y0 - i * pitch_y`` (row 0 at the top, image
y down -> -Y) with its top at ``z[i, j]`` and its bottom at ``Z = 0``. The
mesh is built with an explicit top surface, a flat bottom and side walls
that share the boundary vertices, so it is a closed 2-manifold by
construction (``check_mesh`` verifies it anyway). A *periodic* grid wraps in
x (column ``nx`` is column ``0``): it has no left/right walls and becomes a
tube once bent round a full cylinder.
"""

from __future__ import annotations

import numpy as np

from cad.mesh import weld
from tracer.errors import ExportError, InvalidInputError

__all__ = ["sample_nodes", "grid_mesh", "bend_to_cylinder", "to_manifold", "from_manifold"]


def sample_nodes(values: np.ndarray, u: np.ndarray, v: np.ndarray, *, step_px: float,
                 weights: np.ndarray | None = None) -> np.ndarray:
    """Sample ``values`` (rows, cols) at pixel positions ``u`` (columns) x ``v`` (rows) -> (len(v), len(u)).

    Positions are in pixel-edge coordinates (pixel ``(c, r)`` covers
    ``[c, c+1] x [r, r+1]``). When the grid is coarser than the pixels
    (``step_px > 1``) the image is first box-filtered over one grid step, so
    the source is downsampled to the pitch rather than aliased; a box filter
    is symmetric, so linear gradients are reproduced exactly. ``weights``
    (e.g. alpha) makes the average ignore transparent pixels.
    """
    import cv2

    vals: np.ndarray = np.ascontiguousarray(values, dtype=np.float32)
    w: np.ndarray | None = None if weights is None else np.ascontiguousarray(weights, dtype=np.float32)
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    d = int(step_px // 2)
    if d >= 2:
        # Much finer than the grid: area-reduce first (block means; a linear ramp stays exact), so the
        # filters below run on a small image instead of the full photo.
        rows, cols = vals.shape
        size = (max(1, cols // d), max(1, rows // d))
        if w is not None:
            vals = cv2.resize(vals * w, size, interpolation=cv2.INTER_AREA)
            w = cv2.resize(w, size, interpolation=cv2.INTER_AREA)
            vals = np.where(w > 1e-6, vals / np.maximum(w, 1e-6), 0.0).astype(np.float32)
        else:
            vals = cv2.resize(vals, size, interpolation=cv2.INTER_AREA)
        u = u * (size[0] / cols)
        v = v * (size[1] / rows)
        step_px = step_px * size[0] / cols
    k = int(round(step_px))
    if k >= 2:
        if w is None:
            vals = cv2.blur(vals, (k, k), borderType=cv2.BORDER_REPLICATE)
        else:
            num = cv2.blur(vals * w, (k, k), borderType=cv2.BORDER_REPLICATE)
            w = cv2.blur(w, (k, k), borderType=cv2.BORDER_REPLICATE)
            vals = num
    at = _bilinear_grid(vals.shape, u - 0.5, v - 0.5)  # (pixel centres)
    out = at(vals)
    if w is not None:
        num = at(vals * w) if k < 2 else out
        den = at(w)
        out = np.where(den > 1e-6, num / np.maximum(den, 1e-6), 0.0)
    return np.asarray(out, dtype=np.float64)


def _bilinear_grid(shape: tuple[int, int], x: np.ndarray, y: np.ndarray):
    """Bilinear sampling at the grid of columns ``x`` by rows ``y`` (pixel-centre coordinates, edges
    replicated): a function of the image. The grid is separable, so columns then rows are blended;
    unlike ``cv2.remap`` there is no limit of 32767 on either side (a banner-shaped panel exceeds it)
    and the weights are exact, not 1/32 steps."""
    def axis(p, n):
        p = np.clip(np.asarray(p, np.float64), 0.0, n - 1.0)
        i0 = np.minimum(np.floor(p).astype(np.intp), n - 1)
        return i0, np.minimum(i0 + 1, n - 1), (p - i0).astype(np.float32)

    c0, c1, fx = axis(x, shape[1])
    r0, r1, fy = axis(y, shape[0])

    def at(img: np.ndarray) -> np.ndarray:
        cols = img[:, c0] * (1.0 - fx) + img[:, c1] * fx  # (rows, len(x))
        return cols[r0] * (1.0 - fy)[:, None] + cols[r1] * fy[:, None]

    return at


def grid_mesh(z: np.ndarray, *, pitch_x: float, pitch_y: float, x0: float = 0.0, y0: float = 0.0,
              periodic: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Closed mesh of the solid between ``Z = 0`` and the height field ``z`` -> ``(vertices, faces)``.

    ``z`` is ``(ny + 1, nx + 1)`` node heights, all > 0 (``(ny + 1, nx)`` when
    ``periodic``). Triangles are counter-clockwise seen from outside.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 2 or z.shape[1] < (3 if periodic else 2):
        raise InvalidInputError(f"a height grid needs at least 2 x 2 nodes, got {z.shape}")
    if not np.isfinite(z).all() or z.min() <= 0:
        raise InvalidInputError("every node of a height grid must have a finite height above 0")
    rows, cols = z.shape
    nx = cols if periodic else cols - 1
    ny = rows - 1
    jj, ii = np.meshgrid(np.arange(cols), np.arange(rows))
    xy = np.stack([x0 + jj * pitch_x, y0 - ii * pitch_y], axis=-1).reshape(-1, 2)
    n = rows * cols
    top = np.column_stack([xy, z.reshape(-1)])
    bot = np.column_stack([xy, np.zeros(n)])
    verts = np.concatenate([top, bot])

    def nid(i, j):
        return i * cols + (j % cols if periodic else j)

    grid_i, grid_j = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    ci, cj = grid_i.ravel(), grid_j.ravel()
    a, b = nid(ci, cj), nid(ci, cj + 1)          # top-left, top-right (image rows: 0 at the top)
    c, d = nid(ci + 1, cj + 1), nid(ci + 1, cj)  # bottom-right, bottom-left
    # Seen from +Z the cell is d -> c -> b -> a counter-clockwise. Split along the shorter 3-D diagonal.
    zf = z.reshape(-1)
    diag_db = np.abs(zf[d] - zf[b]) <= np.abs(zf[a] - zf[c])
    t1 = np.where(diag_db[:, None], np.column_stack([d, c, b]), np.column_stack([d, c, a]))
    t2 = np.where(diag_db[:, None], np.column_stack([d, b, a]), np.column_stack([c, b, a]))
    top_f = np.concatenate([t1, t2])
    bot_f = np.concatenate([np.column_stack([d, b, c]), np.column_stack([d, a, b])]) + n
    walls = []

    def wall(p, q):  # top boundary edge p -> q (as the top faces traverse it) gets a quad down to Z = 0
        walls.append(np.column_stack([q, p, p + n]))
        walls.append(np.column_stack([q, p + n, q + n]))

    j = np.arange(nx)
    wall(nid(ny, j), nid(ny, j + 1))             # bottom row of the image (d -> c)
    wall(nid(0, j + 1), nid(0, j))               # top row (b -> a)
    if not periodic:
        i = np.arange(ny)
        wall(nid(i + 1, nx), nid(i, nx))         # right column (c -> b)
        wall(nid(i, 0), nid(i + 1, 0))           # left column (a -> d)
    faces = np.concatenate([top_f, bot_f, *walls]).astype(np.int64)
    used = np.zeros(len(verts), bool)
    used[faces.ravel()] = True
    remap = np.cumsum(used) - 1
    return verts[used], remap[faces]


def bend_to_cylinder(vertices: np.ndarray, *, radius_mm: float) -> np.ndarray:
    """Wrap a flat panel round a cylinder whose axis is the Z axis.

    Flat ``x`` becomes arc length on the radius ``radius_mm`` (``x = 0`` at
    angle 0, which faces -Y), flat ``y`` becomes Z and flat ``z`` (thickness)
    points outward. The map preserves orientation, and from outside (from -Y)
    the panel reads like the image.
    """
    v = np.asarray(vertices, dtype=np.float64)
    theta = v[:, 0] / radius_mm
    r = radius_mm + v[:, 2]
    return np.column_stack([r * np.sin(theta), -r * np.cos(theta), v[:, 1]])


def to_manifold(vertices: np.ndarray, faces: np.ndarray):
    import manifold3d

    mesh = manifold3d.Mesh(vert_properties=np.ascontiguousarray(vertices, dtype=np.float32),
                           tri_verts=np.ascontiguousarray(faces, dtype=np.uint32))
    m = manifold3d.Manifold(mesh)
    if m.status() != manifold3d.Error.NoError:
        raise ExportError(f"the height-field mesh is not a manifold ({m.status()})")
    return m


def from_manifold(m):
    import manifold3d

    if m.status() != manifold3d.Error.NoError:
        raise ExportError(f"manifold3d failed on the height-field mesh ({m.status()})")
    mesh = m.to_mesh()
    return weld(np.asarray(mesh.vert_properties)[:, :3], np.asarray(mesh.tri_verts))
