"""Binary STL (millimetres; STL has no unit field, slicers assume mm)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cad.mesh import Mesh
from tracer.errors import ExportError

__all__ = ["write_stl", "read_stl", "stl_bytes", "holds_mesh"]

_DTYPE = np.dtype([("normal", "<f4", (3,)), ("v", "<f4", (3, 3)), ("attr", "<u2")])


_HEADER = b"tracecad binary STL, units: mm"


def _records(mesh: Mesh) -> np.ndarray:
    """The 50-byte triangle records: unit normal (0 for a degenerate triangle), three corners, attribute 0."""
    tri = mesh.triangles()
    rec = np.zeros(len(tri), dtype=_DTYPE)
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    ln = np.linalg.norm(n, axis=1, keepdims=True)
    rec["normal"] = np.divide(n, ln, out=np.zeros_like(n), where=ln > 0)
    rec["v"] = tri
    return rec


def _head(header: bytes, n: int) -> bytes:
    return header[:80].ljust(80, b" ") + np.uint32(n).tobytes()


def stl_bytes(mesh: Mesh, *, header: bytes = _HEADER) -> bytes:
    rec = _records(mesh)
    return _head(header, len(rec)) + rec.tobytes()


def write_stl(mesh: Mesh, path: str | Path) -> Path:
    """Write ``stl_bytes(mesh)`` to ``path`` (the records straight from their array, without joining copies)."""
    path = Path(path)
    rec = _records(mesh)
    with open(path, "wb") as fh:
        fh.write(_head(_HEADER, len(rec)))
        fh.write(memoryview(rec).cast("B"))  # type: ignore[arg-type]  # (numpy arrays are buffers)
    return path


def holds_mesh(path: str | Path, mesh: Mesh) -> bool:
    """True when ``path`` is a binary STL of exactly ``mesh``'s triangles: same count and order, and every
    corner, read back as float64 like :func:`read_stl` does, equal to the mesh's coordinate bit for bit.

    Then the file reads back as the very mesh: any check of ``read_stl(path)`` gives the verdict that the
    same check gave ``mesh`` (merging identical coordinates yields the same corners per triangle, in the
    same order). False when it does not (a mesh whose coordinates are not float32 values, a damaged
    write): the caller then checks what the file holds.
    """
    data = Path(path).read_bytes()
    n = mesh.n_triangles
    if len(data) != 84 + 50 * n or int(np.frombuffer(data, "<u4", 1, 80)[0]) != n:
        return False
    rec = np.frombuffer(data, _DTYPE, n, 84)
    return bool(np.array_equal(rec["v"].astype(np.float64), mesh.triangles()))


def read_stl(path: str | Path) -> Mesh:
    """Read a binary (or ASCII) STL into a :class:`Mesh` (vertices not merged)."""
    data = Path(path).read_bytes()
    if len(data) >= 84:
        n = int(np.frombuffer(data, "<u4", 1, 80)[0])
        if 84 + 50 * n == len(data):
            rec = np.frombuffer(data, _DTYPE, n, 84)
            v = rec["v"].astype(np.float64).reshape(-1, 3)
            return Mesh(v, np.arange(len(v)).reshape(-1, 3))
    text = data.decode("ascii", errors="replace")
    if text.lstrip().startswith("solid"):
        vals = [line.split()[1:4] for line in text.splitlines() if line.strip().startswith("vertex")]
        v = np.array(vals, dtype=np.float64).reshape(-1, 3)
        if len(v) % 3 == 0:
            return Mesh(v, np.arange(len(v)).reshape(-1, 3))
    raise ExportError(f"{path}: not a valid STL file")
