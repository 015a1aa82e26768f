"""Centrelines (pixels) -> strokes of one width (mm) -> :class:`~cad.regions.Regions`.

Each centreline is flattened finely and buffered to the stroke width with round joins and the chosen
cap; the union of the strokes is the footprint. ``width_mm`` / ``height_mm`` size the finished
footprint, strokes included: the stroke width in pixels depends on the scale and the footprint's box
on the stroke width, so the scale is found by fixed-point iteration (exact for round caps after one
step). Pixels become millimetres only through :class:`cad.regions.Frame`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import LineString, Point

from cad import geometry
from cad.regions import Frame, Regions, regions_in_mm
from tracer.errors import GeometryError, InvalidInputError

__all__ = ["CAPS", "StrokeSet", "stroke_regions", "flatten_path"]

CAPS = ("round", "butt", "square")
#: Chord tolerance of the flattened centrelines and of the buffers' arcs, as a fraction of the stroke width.
FLATTEN_FRACTION = 0.01
#: Scale iterations for butt and square caps (the box converges geometrically; round caps need one).
MAX_ITERATIONS = 8


@dataclass(frozen=True, slots=True, eq=False)
class StrokeSet:
    """The strokes in mm: the footprint ``regions``, the centrelines ``paths`` (Bézier control points
    (n, 4, 2) in mm, closed flag), the stroke width used and the frame that mapped pixels to mm."""

    regions: Regions
    paths: tuple[tuple[NDArray[np.float64], bool], ...]
    stroke_mm: float
    cap: str
    frame: Frame


def flatten_path(ctrl: NDArray, closed: bool, tolerance: float) -> NDArray[np.float64]:
    """A Bézier path (n, 4, 2) as a polyline within ``tolerance`` (its last point included)."""
    ctrl = np.asarray(ctrl, dtype=np.float64)
    pts = geometry.flatten(ctrl, np.zeros(len(ctrl), dtype=bool), tolerance)
    return np.concatenate([pts, ctrl[-1, 3][None]])


def _footprint(lines: list[tuple[NDArray, bool]], half: float, cap: str):
    """The union of the strokes of half-width ``half`` around polylines (closed ones without caps)."""
    quad = 16
    parts = []
    for pts, closed in lines:
        if len(pts) < 2 or np.ptp(pts, axis=0).max() <= 1e-12:
            if cap == "round":  # a dot
                parts.append(Point(pts[0]).buffer(half, quad_segs=quad))
            elif cap == "square":
                x, y = pts[0]
                parts.append(shapely.box(x - half, y - half, x + half, y + half))
            continue
        ring = pts[:-1] if np.allclose(pts[0], pts[-1]) else pts
        if closed and len(np.unique(ring, axis=0)) >= 3:
            parts.append(shapely.LinearRing(ring).buffer(half, quad_segs=quad, join_style="round"))
        else:  # an open line (or a loop too small to be a ring)
            parts.append(LineString(pts).buffer(half, quad_segs=quad, cap_style="flat" if cap == "butt" else cap, join_style="round"))
    geom = shapely.union_all(parts)
    if geom.is_empty:
        raise GeometryError("nothing to build: the strokes have no area")
    return geom


def stroke_regions(paths: Sequence[tuple[NDArray, bool]], *, stroke_mm: float | None = None,
                   stroke_px: float | None = None, cap: str = "round", width_mm: float | None = None,
                   height_mm: float | None = None, px_mm: float | None = None, mirror: bool = False) -> StrokeSet:
    """Strokes of one width along centrelines given in source pixels (y down).

    Parameters
    ----------
    paths : ``(ctrl, closed)`` per centreline, cubic Bézier control points (n, 4, 2) in pixels.
    stroke_mm, stroke_px : the stroke width, in mm or in source pixels (exactly one).
    cap : "round", "butt" or "square" (closed paths have no caps; joins are round).
    width_mm, height_mm, px_mm : at most one; the finished footprint's width (default 50 mm), its
        height, or the size of one source pixel.
    mirror : flip X.
    """
    if cap not in CAPS:
        raise InvalidInputError(f"unknown cap {cap!r} (choose from {', '.join(CAPS)})")
    if (stroke_mm is None) == (stroke_px is None):
        raise InvalidInputError("give the stroke width in mm or in pixels (one of them)")
    for name, v in (("stroke width", stroke_mm), ("stroke width", stroke_px)):
        if v is not None and not (np.isfinite(v) and v > 0):
            raise InvalidInputError(f"the {name} must be a positive number, got {v}")
    paths = [(np.asarray(c, dtype=np.float64), bool(closed)) for c, closed in paths if len(c)]
    if not paths:
        raise GeometryError("nothing to build: no centreline")
    ref = max(float(np.ptp(np.concatenate([c.reshape(-1, 2) for c, _ in paths]), axis=0).max()), 1.0)

    def footprint_px(w_px: float):
        tol = max(FLATTEN_FRACTION * w_px, 1e-6 * ref)
        return _footprint([(flatten_path(c, cl, tol), cl) for c, cl in paths], w_px / 2, cap)

    sizing = {"width_mm": width_mm, "height_mm": height_mm, "px_mm": px_mm}
    if stroke_px is not None:
        frame = Frame.for_box(footprint_px(stroke_px).bounds, mirror=mirror, **sizing)
        stroke_mm = stroke_px * frame.scale
    else:
        assert stroke_mm is not None
        centre_box = shapely.MultiPoint(np.concatenate([c.reshape(-1, 2) for c, _ in paths])).bounds
        frame = Frame.for_box(centre_box if centre_box[2] > centre_box[0] else
                            (centre_box[0] - 0.5, centre_box[1] - 0.5, centre_box[2] + 0.5, centre_box[3] + 0.5),
                            mirror=mirror, **sizing)
        for _ in range(MAX_ITERATIONS):
            new = Frame.for_box(footprint_px(stroke_mm / frame.scale).bounds, mirror=mirror, **sizing)
            done = abs(new.scale - frame.scale) <= 1e-9 * frame.scale
            frame = new
            if done:
                break
    assert stroke_mm is not None
    mm_paths = tuple((frame.apply(c), cl) for c, cl in paths)
    tol = FLATTEN_FRACTION * stroke_mm
    geom = _footprint([(flatten_path(c, cl, tol), cl) for c, cl in mm_paths], stroke_mm / 2, cap)
    x0, y0, x1, y1 = geom.bounds
    regions = regions_in_mm(geom, px_mm=frame.scale, width_ref_mm=max(x1 - x0, y1 - y0))
    return StrokeSet(regions=regions, paths=mm_paths, stroke_mm=float(stroke_mm), cap=cap, frame=frame)
