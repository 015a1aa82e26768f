"""DXF of open paths in millimetres (centrelines for pen plotters, laser engraving and CAD sketches).

Each path is a chain of entities joined end to start at bit-identical points, one per Bézier piece: a
LINE for a straight piece, a single-span cubic SPLINE otherwise (as :mod:`cad.export.dxf` writes
outlines); a closed path's chain ends where it began. With ``curves="polyline"`` each path is one
LWPOLYLINE (closed for a loop) within ``tolerance_mm`` of the curve.

Consecutive paths never meet end to start (the writer reverses an open path, turns a loop to another
start or writes it later), so a reader finds the paths as the maximal runs of entities in file order,
each continuing where the previous one ended. :func:`check_dxf_paths` reads the file back: ezdxf's
audit, millimetres, only the expected layer and entity kinds, the number of open and closed paths,
and their total length (exact curves: 1e-6 relative, integrated finely; polylines: the length of the
polylines written).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cad import geometry
from cad.export.dxf import DXF_VERSION, JOIN_MM, SEGMENT_KINDS, read_back
from tracer.errors import ExportError

__all__ = ["CENTERLINE", "write_dxf_paths", "check_dxf_paths", "paths_length", "cubic_length", "is_straight"]

#: The layer of the centrelines.
CENTERLINE = "CENTERLINE"
#: Relative agreement of the read-back length with the paths' length (exact curves).
LENGTH_RTOL = 1e-6
_MM = 4  # $INSUNITS: millimetres
_ACI_GREEN = 3
_GL_T, _GL_W = np.polynomial.legendre.leggauss(8)
_PIECES = 64  # Gauss-Legendre pieces per cubic: the length of any smooth cubic to far below 1e-9 relative


def cubic_length(ctrl: np.ndarray) -> float:
    """Total arc length of cubic Béziers ``ctrl`` (n, 4, 2), each split in 64 pieces of 8-point Gauss-Legendre."""
    ctrl = np.asarray(ctrl, dtype=np.float64).reshape(-1, 4, 2)
    if not len(ctrl):
        return 0.0
    edges = np.linspace(0.0, 1.0, _PIECES + 1)
    t = (edges[:-1, None] + (0.5 * (_GL_T + 1))[None, :] / _PIECES).ravel()
    w = np.tile(_GL_W / (2 * _PIECES), _PIECES)
    u = 1 - t
    d = np.stack([3 * u * u, 6 * u * t, 3 * t * t], axis=1)  # derivative's Bernstein basis (m, 3)
    diff = np.diff(ctrl, axis=1)  # (n, 3, 2)
    vel = np.einsum("mk,nkc->nmc", d, diff)
    return float((np.hypot(vel[..., 0], vel[..., 1]) * w).sum())


def is_straight(seg: np.ndarray) -> bool:
    """Whether a cubic (4, 2) is a straight piece traced once: inner control points on the chord, in order."""
    p0, p3 = seg[0], seg[3]
    v = p3 - p0
    n2 = float(v @ v)
    if n2 <= 0:
        return False
    rel = (seg[1:3] - p0) @ v / n2
    off = np.abs(np.cross(v, seg[1:3] - p0)) / math.sqrt(n2)
    scale = max(1.0, float(np.abs(seg).max()))
    return bool(off.max() <= 1e-12 * scale and 0 <= rel[0] <= rel[1] <= 1)


def paths_length(paths: Sequence[tuple[np.ndarray, bool]]) -> float:
    """Total length of ``(ctrl, closed)`` paths (mm)."""
    return float(sum(cubic_length(c) for c, _ in paths))


def _joined(ctrl: np.ndarray, closed: bool) -> np.ndarray:
    out = np.array(ctrl, dtype=np.float64, copy=True)
    for i in range(1, len(out)):
        if np.hypot(*(out[i, 0] - out[i - 1, 3])) <= JOIN_MM:
            out[i, 0] = out[i - 1, 3]
    if closed and np.hypot(*(out[-1, 3] - out[0, 0])) <= JOIN_MM:
        out[-1, 3] = out[0, 0]
    return out


def _is_closed(ctrl: np.ndarray, closed: bool) -> bool:
    return closed or bool(np.array_equal(ctrl[0, 0], ctrl[-1, 3]))


def _ordered(paths: Sequence[tuple[np.ndarray, bool]]) -> list[tuple[np.ndarray, bool]]:
    """The paths, each turned (an open one reversed, a loop started at another joint) or put later so that no
    path starts where the previous one ended."""
    todo = [(_joined(c, cl), _is_closed(c, cl)) for c, cl in paths if len(c)]
    out: list[tuple[np.ndarray, bool]] = []
    prev_end: np.ndarray | None = None
    while todo:
        for i, (c, cl) in enumerate(todo):
            if cl:
                options = [np.roll(c, -k, axis=0) for k in range(len(c))]
            else:
                options = [c, c[::-1, ::-1].copy()]
            fit = next((o for o in options if prev_end is None or not np.array_equal(o[0, 0], prev_end)), None)
            if fit is not None:
                break
        else:  # every remaining path starts at that point: written as it is (the check will say so)
            i, fit = 0, todo[0][0]
        cl = todo.pop(i)[1]
        out.append((fit, cl))
        prev_end = fit[-1, 3]
    return out


def _polyline(ctrl: np.ndarray, closed: bool, tolerance_mm: float) -> np.ndarray:
    pts = geometry.flatten(ctrl, np.zeros(len(ctrl), dtype=bool), tolerance_mm)
    return pts if closed else np.concatenate([pts, ctrl[-1, 3][None]])


def write_dxf_paths(paths: Sequence[tuple[np.ndarray, bool]], path: str | Path, *, layer: str = CENTERLINE,
                    curves: str = "spline", tolerance_mm: float = 0.01) -> float:
    """Write ``(ctrl, closed)`` paths (cubic Bézier control points (n, 4, 2) in mm, y up) as open and closed
    chains on ``layer``; returns the length the file should read back with (mm)."""
    import ezdxf  # (imported here: paid only when a DXF is written)

    doc = ezdxf.new(DXF_VERSION, units=_MM)
    doc.header["$MEASUREMENT"] = 1
    doc.layers.add(layer, color=_ACI_GREEN)
    msp = doc.modelspace()
    attribs = {"layer": layer}
    total = 0.0
    for ctrl, closed in _ordered(paths):
        if curves == "polyline":
            pts = _polyline(ctrl, closed, tolerance_mm)
            msp.add_lwpolyline([tuple(p) for p in pts], format="xy", close=closed, dxfattribs=attribs)
            ring = np.concatenate([pts, pts[:1]]) if closed else pts
            total += float(np.hypot(*np.diff(ring, axis=0).T).sum())
            continue
        for seg in ctrl:
            SEGMENT_KINDS["line" if is_straight(seg) else "cubic"](msp, seg, attribs)
        total += cubic_length(ctrl)
    doc.saveas(Path(path))
    return total


def _spans(e) -> list[np.ndarray] | str:
    if e.weights and any(w != 1 for w in e.weights):
        return "a rational SPLINE"
    cps, knots = e.control_points, list(e.knots)
    if e.dxf.degree == 3 and len(cps) == 4 and len(knots) == 8 and len(set(knots[:4])) == len(set(knots[4:])) == 1:
        return [np.array([(p[0], p[1]) for p in cps])]  # a clamped single span: its control points are the Bézier's
    try:
        spans = [np.array([(p.x, p.y) for p in span]) for span in e.construction_tool().bezier_decomposition()]
    except Exception as exc:  # ezdxf raises plain errors for unclamped or malformed knots
        return f"a SPLINE whose knots cannot be split into Bézier spans ({exc})"
    if any(len(s) != 4 for s in spans):
        return f"a SPLINE of degree {e.dxf.degree}"
    return spans


def _polyline_points(e) -> tuple[np.ndarray | None, bool]:
    """An LWPOLYLINE's vertices (None when an edge is an arc) and whether it is closed."""
    xyb = list(e.get_points("xyb"))
    if any(b for *_, b in xyb):
        return None, bool(e.closed)
    return np.array([(x, y) for x, y, _ in xyb]), bool(e.closed)


def check_dxf_paths(path: str | Path, *, open_paths: int, closed_paths: int, length_mm: float,
                    layer: str = CENTERLINE, curves: str = "spline", name: str | None = None) -> float:
    """Read ``path`` back and check it holds ``open_paths`` open and ``closed_paths`` closed chains on ``layer``,
    ``length_mm`` long in all; raises :class:`ExportError` naming the file (``name``). Returns the length read."""
    name = name or str(path)
    doc = read_back(path, name)
    chains: list[list] = []  # [start, end, a closed polyline, kind]: runs of entities, each starting where one ended
    length = 0.0
    for e in doc.modelspace():
        kind = e.dxftype()
        if e.dxf.layer != layer:
            raise ExportError(f"{name}: the DXF has entities on an unexpected layer {e.dxf.layer!r}")
        if kind == "LINE":
            p, q = (e.dxf.start.x, e.dxf.start.y), (e.dxf.end.x, e.dxf.end.y)
            length += math.dist(p, q)
            flagged = False
        elif kind == "SPLINE":
            spans = _spans(e)
            if isinstance(spans, str):
                raise ExportError(f"{name}: the DXF holds {spans}, which is not a centreline piece")
            length += cubic_length(np.array(spans))
            p, q = tuple(spans[0][0]), tuple(spans[-1][3])
            flagged = False
        elif kind == "LWPOLYLINE":
            pts, flagged = _polyline_points(e)
            if pts is None:
                raise ExportError(f"{name}: the DXF holds an LWPOLYLINE with arcs, which is not a centreline")
            ring = np.concatenate([pts, pts[:1]]) if flagged else pts
            length += float(np.hypot(*np.diff(ring, axis=0).T).sum())
            p, q = tuple(pts[0]), tuple(pts[-1])
        else:
            raise ExportError(f"{name}: the DXF holds a {kind} entity, which is not a centreline piece")
        last = chains[-1] if chains else None
        if last is not None and "LWPOLYLINE" not in (kind, last[3]) and last[1] == p:
            last[1] = q
        else:
            chains.append([p, q, flagged, kind])
    closed = sum(1 for c in chains if c[2] or c[0] == c[1])
    if (len(chains) - closed, closed) != (open_paths, closed_paths):
        raise ExportError(f"{name}: the DXF reads back as {len(chains) - closed} open and {closed} closed paths, "
                          f"expected {open_paths} and {closed_paths}")
    rtol = LENGTH_RTOL if curves == "spline" else 1e-9
    if abs(length - length_mm) > rtol * length_mm + 1e-9:
        raise ExportError(f"{name}: the DXF's paths read back {length:.6f} mm long, expected {length_mm:.6f}")
    return length
