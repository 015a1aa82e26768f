"""Outlines (pixels, y down) -> Regions (millimetres, y up): the only place where units and the y-flip change.

The footprint is scaled so that the *subject's* bounding box has the
requested width (or height, or pixel pitch), centred on the origin, with
image x -> +X and image y (down) -> -Y. Seen from +Z the part reads like the
image; ``mirror=True`` flips X (rubber stamps).

Cleaning: nesting comes from potrace's tree; specks (islands and holes)
smaller than ``min_area_mm2`` are dropped and counted; a polygon whose exact
curves self-intersect, or that overlaps a neighbour, is repaired with
shapely and kept as a polyline (counted in ``repaired``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from cad import ellipse, geometry
from cad.fit import LS_SLACK, arc_cubic, default_fit_px, fit_grain, fit_ring
from cad.fit_noise import keeps_shape, noisy_ladder, pushes_out
from cad.fit_pieces import wobble
from tracer.errors import GeometryError, InvalidInputError
from tracer.types import Outlines

__all__ = ["Ring", "Region", "Regions", "to_regions", "regions_from_polygons", "regions_in_mm", "polygons_of",
           "ring_contacts", "clean_regions", "Frame", "DEFAULT_WIDTH_MM", "CONTACT_GAP_MM"]

DEFAULT_WIDTH_MM = 50.0
#: Flattening tolerance used to judge validity and to measure, as a fraction of the output width.
FINE_TOLERANCE_FRACTION = 2e-5
#: Polyline rings made by repair are simplified to this fraction of the width.
REPAIR_SIMPLIFY_FRACTION = 2e-5


@dataclass(frozen=True, slots=True, eq=False)
class Ring:
    """A closed ring in mm, y up: ``ctrl`` (n,4,2), ``is_line`` (n,). ``exact`` is False after repair.

    ``arcs`` (n,3), when not None, marks circular arcs: ``(centre x, centre y, signed sweep in
    radians)`` on the rows of arc segments, NaN on the others. An arc's ``ctrl`` row holds its end
    points and the usual cubic approximation (for code that only reads cubics); area, bounds,
    flattening and the B-rep use the exact arc.

    ``ellipses`` (n,6), when not None, marks elliptic arcs likewise: ``(centre x, centre y, rx, ry,
    rotation, signed sweep of the parameter)`` (see :mod:`cad.ellipse`), NaN on the other rows; a row
    is an arc or an elliptic arc, never both.
    """

    ctrl: np.ndarray
    is_line: np.ndarray
    exact: bool = True
    arcs: np.ndarray | None = None
    ellipses: np.ndarray | None = None
    _area: float | None = field(default=None, init=False, repr=False)  # cache of area() (the arrays are read-only)

    def __post_init__(self) -> None:
        for name in ("ctrl", "is_line", "arcs", "ellipses"):
            if getattr(self, name) is None:
                continue
            a = np.array(getattr(self, name), copy=True)
            a.setflags(write=False)
            object.__setattr__(self, name, a)
        if self.arcs is not None and not np.isfinite(self.arcs[:, 2]).any():
            object.__setattr__(self, "arcs", None)
        if self.ellipses is not None and not np.isfinite(self.ellipses[:, 5]).any():
            object.__setattr__(self, "ellipses", None)

    @property
    def is_arc(self) -> np.ndarray:
        """(n,) bool: which segments are circular arcs."""
        if self.arcs is None:
            return np.zeros(len(self.ctrl), dtype=bool)
        return np.isfinite(self.arcs[:, 2])

    @property
    def is_ellipse(self) -> np.ndarray:
        """(n,) bool: which segments are elliptic arcs."""
        if self.ellipses is None:
            return np.zeros(len(self.ctrl), dtype=bool)
        return np.isfinite(self.ellipses[:, 5])

    def kinds(self) -> dict[str, int]:
        """Segment counts by kind: ``lines``, ``arcs``, ``ellipses``, ``beziers``."""
        arc, ell = self.is_arc, self.is_ellipse
        lines = int((self.is_line & ~arc & ~ell).sum())
        return {"lines": lines, "arcs": int(arc.sum()), "ellipses": int(ell.sum()),
                "beziers": int(len(self.ctrl) - lines - arc.sum() - ell.sum())}

    def bounds(self) -> tuple[float, float, float, float]:
        """Exact bounding box of the ring's curves."""
        return geometry.curve_bounds(self.ctrl, self.arcs, self.ellipses)

    def beziers(self) -> Ring:
        """The same ring with each arc and elliptic arc replaced by cubics of at most a quarter turn (for code
        without them)."""
        if self.arcs is None and self.ellipses is None:
            return self
        segs, lines = [], []
        arcs = self.arcs if self.arcs is not None else np.full((len(self.ctrl), 3), np.nan)
        ells = self.ellipses if self.ellipses is not None else np.full((len(self.ctrl), 6), np.nan)
        for c, line, arc, ell in zip(self.ctrl, self.is_line, arcs, ells):
            if np.isfinite(ell[5]):
                k = max(1, int(np.ceil(abs(ell[5]) / (np.pi / 2) - 1e-9)))
                segs += list(ellipse.cubics(c[0], c[3], ell, k))
                lines += [False] * k
                continue
            if not np.isfinite(arc[2]):
                segs.append(c)
                lines.append(bool(line))
                continue
            k = max(1, int(np.ceil(abs(arc[2]) / (np.pi / 2) - 1e-9)))
            pts = np.concatenate([geometry.arc_points(c[0], arc, k), c[3:4]])
            for a, b in zip(pts[:-1], pts[1:]):
                segs.append(arc_cubic(a, b, arc[:2], arc[2] / k))
                lines.append(False)
        out = np.array(segs)
        out[1:, 0] = out[:-1, 3]
        out[0, 0] = out[-1, 3]
        return Ring(out, np.array(lines, bool), self.exact)

    @property
    def n_segments(self) -> int:
        return len(self.ctrl)

    def area(self) -> float:
        """Exact signed area in mm² (positive: counter-clockwise)."""
        if self._area is None:
            object.__setattr__(self, "_area", geometry.signed_area(self.ctrl, self.arcs, self.ellipses))
        area = self._area
        assert area is not None
        return area

    def flatten(self, tolerance_mm: float) -> np.ndarray:
        return geometry.flatten(self.ctrl, self.is_line, tolerance_mm, self.arcs, self.ellipses)

    def oriented(self, ccw: bool) -> Ring:
        if (self.area() > 0) == ccw:
            return self
        c, l = geometry.reverse(self.ctrl, self.is_line)
        arcs = None
        if self.arcs is not None:
            arcs = self.arcs[::-1].copy()
            arcs[:, 2] = -arcs[:, 2]
        ells = None
        if self.ellipses is not None:
            ells = self.ellipses[::-1].copy()
            ells[:, 5] = -ells[:, 5]
        return Ring(c, l, self.exact, arcs, ells)

    def mapped(self, apply, M: np.ndarray) -> Ring:
        """The ring under the affine map ``apply`` (points (..., 2) -> points) whose linear part ``M`` (2, 2)
        is a similarity (a scale, rotation or reflection, so a circle stays a circle); a reflection
        reverses the arcs' turn."""
        M = np.asarray(M, np.float64)
        arcs = None
        if self.arcs is not None:
            arcs = self.arcs.copy()
            arcs[:, :2] = apply(arcs[:, :2])
            arcs[:, 2] *= 1.0 if np.linalg.det(M) > 0 else -1.0
        ells = None
        if self.ellipses is not None:
            ells = ellipse.transform(self.ellipses, M, apply(np.zeros((1, 2)))[0])
        return Ring(apply(self.ctrl), self.is_line, self.exact, arcs, ells)

    @classmethod
    def from_points(cls, pts: np.ndarray) -> Ring:
        """A polyline ring through ``pts`` (m, 2); a repeated closing point is ignored."""
        pts = np.asarray(pts, dtype=np.float64)
        if len(pts) > 1 and np.allclose(pts[0], pts[-1]):
            pts = pts[:-1]
        p0, p1 = pts, np.roll(pts, -1, axis=0)
        keep = np.hypot(*(p1 - p0).T) > 0
        p0, p1 = p0[keep], p1[keep]
        if len(p0) < 3:
            raise GeometryError("a ring needs at least 3 distinct points")
        ctrl = np.stack([p0, p0 + (p1 - p0) / 3, p0 + 2 * (p1 - p0) / 3, p1], axis=1)
        return cls(ctrl, np.ones(len(p0), dtype=bool), exact=False)


@dataclass(frozen=True, slots=True, eq=False)
class Region:
    """One polygon: a counter-clockwise shell and clockwise holes, all in mm."""

    shell: Ring
    holes: tuple[Ring, ...] = ()

    @property
    def rings(self) -> tuple[Ring, ...]:
        return (self.shell, *self.holes)

    def area(self) -> float:
        return self.shell.area() + sum(h.area() for h in self.holes)


@dataclass(frozen=True, slots=True, eq=False)
class Regions:
    """The cleaned footprint in mm (y up, centred on the subject's bounding box).

    ``geometry`` is a valid shapely MultiPolygon flattened finely from the
    rings (for measuring, never for building the solid).
    """

    regions: tuple[Region, ...]
    geometry: MultiPolygon
    px_mm: float
    report: dict = field(default_factory=dict)
    _bounds: tuple[float, float, float, float] | None = field(default=None, init=False, repr=False)  # cache of bounds

    @property
    def area_mm2(self) -> float:
        """Exact area enclosed by the curves, in mm²."""
        return float(sum(r.area() for r in self.regions))

    def segment_kinds(self) -> dict[str, int]:
        """Curve segments by kind (``lines``, ``arcs``, ``ellipses``, ``beziers``) over every ring."""
        out = {"lines": 0, "arcs": 0, "ellipses": 0, "beziers": 0}
        for r in self.regions:
            for ring in r.rings:
                for k, v in ring.kinds().items():
                    out[k] += v
        return out

    def beziers(self) -> Regions:
        """The same regions with every arc and elliptic arc as cubics (for builders without them)."""
        if not any(ring.arcs is not None or ring.ellipses is not None for r in self.regions for ring in r.rings):
            return self
        regs = tuple(Region(r.shell.beziers(), tuple(h.beziers() for h in r.holes)) for r in self.regions)
        return Regions(regions=regs, geometry=self.geometry, px_mm=self.px_mm, report=dict(self.report))

    @property
    def n_holes(self) -> int:
        return sum(len(r.holes) for r in self.regions)

    @property
    def n_segments(self) -> int:
        return sum(ring.n_segments for r in self.regions for ring in r.rings)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Exact bounding box of the curves, in mm."""
        if self._bounds is None:
            boxes = np.array([r.shell.bounds() for r in self.regions])
            object.__setattr__(self, "_bounds", (float(boxes[:, 0].min()), float(boxes[:, 1].min()),
                                                 float(boxes[:, 2].max()), float(boxes[:, 3].max())))
        assert self._bounds is not None
        return self._bounds

    @property
    def width_mm(self) -> float:
        b = self.bounds
        return b[2] - b[0]

    @property
    def height_mm(self) -> float:
        b = self.bounds
        return b[3] - b[1]


@dataclass(frozen=True, slots=True)
class Frame:
    """Source units (pixels, or a vector document's units; y down) -> millimetres (y up), centred on
    the subject's bounding-box centre ``(cx, cy)``; ``mirror`` flips X. The one place of tracecad
    where units change and y is flipped: the trace (:func:`to_regions`) and the vector readers
    (:mod:`cad.vector`) both map through it."""

    scale: float
    cx: float
    cy: float
    mirror: bool = False

    @classmethod
    def for_box(cls, box: tuple[float, float, float, float], *, width_mm=None, height_mm=None, px_mm=None,
                unit_mm: float | None = None, mirror: bool = False) -> Frame:
        """The frame of a subject whose bounding box (source units) is ``box``: sized by at most one of
        ``width_mm``, ``height_mm`` and ``px_mm``; with none, ``unit_mm`` per unit if given, else 50 mm wide."""
        size = (box[2] - box[0], box[3] - box[1])
        if unit_mm is not None and width_mm is None and height_mm is None and px_mm is None:
            scale = float(unit_mm)
        else:
            scale = _scale_from(size, width_mm, height_mm, px_mm)
        return cls(scale, 0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3]), mirror)

    def apply(self, ctrl: np.ndarray) -> np.ndarray:
        """Control points (..., 2) in source units -> mm."""
        out = np.empty_like(ctrl, dtype=np.float64)
        out[..., 0] = (ctrl[..., 0] - self.cx) * (-self.scale if self.mirror else self.scale)
        out[..., 1] = (self.cy - ctrl[..., 1]) * self.scale
        return out


def _scale_from(size_px: tuple[float, float], width_mm, height_mm, px_mm) -> float:
    given = [v is not None for v in (width_mm, height_mm, px_mm)]
    if sum(given) > 1:
        raise InvalidInputError("give only one of width_mm, height_mm and px_mm")
    for name, v in (("width_mm", width_mm), ("height_mm", height_mm), ("px_mm", px_mm)):
        if v is not None and not (np.isfinite(v) and v > 0):
            raise InvalidInputError(f"{name} must be a positive number, got {v}")
    if px_mm is not None:
        return float(px_mm)
    if height_mm is not None:
        return float(height_mm) / size_px[1]
    return float(width_mm if width_mm is not None else DEFAULT_WIDTH_MM) / size_px[0]


def regions_in_mm(geom, *, px_mm: float, width_ref_mm: float, report: dict | None = None) -> Regions:
    """Regions from a shapely (Multi)Polygon already in mm (y up): polyline rings, cleaned like
    :func:`to_regions`' (overlaps merged, touching rings parted). ``width_ref_mm`` sets the tolerances."""
    raw = regions_from_polygons(geom, simplify=REPAIR_SIMPLIFY_FRACTION * width_ref_mm)
    if not raw:
        raise GeometryError("nothing to build: the footprint is empty")
    regions, mp = _clean(raw, tolerance=FINE_TOLERANCE_FRACTION * width_ref_mm,
                         simplify=REPAIR_SIMPLIFY_FRACTION * width_ref_mm)
    return Regions(regions=regions, geometry=mp, px_mm=px_mm, report=dict(report or {}))


def to_regions(outlines: Outlines, *, width_mm: float | None = None, height_mm: float | None = None,
               px_mm: float | None = None, min_area_mm2: float = 0.0, mirror: bool = False,
               fit_tolerance_mm: float | None = None) -> Regions:
    """Convert traced outlines to valid, oriented regions in millimetres.

    Parameters
    ----------
    outlines : potrace outlines in source pixels, y down.
    width_mm, height_mm, px_mm : at most one; the subject's bounding-box width
        (default 50 mm), its height, or the size of one source pixel.
    min_area_mm2 : islands and holes enclosing less than this are dropped.
    mirror : flip X (the part then reads mirrored from +Z, as a stamp must).
    fit_tolerance_mm : refit each ring with lines, circular arcs and cubics within this distance
        of the trace (:mod:`cad.fit`); None: :func:`cad.fit.default_fit_px` (a tenth of a source pixel, a
        little more on a subject over 512 px), more on a ring whose trace wobbles; 0: keep potrace's curves.
    """
    contours = outlines.contours
    if not contours:
        raise GeometryError("nothing to build: the outline is empty")
    boxes_px = {i: geometry.curve_bounds(c.ctrl) for i, c in enumerate(contours) if c.parent < 0}  # outer contours
    areas_px = np.array([abs(geometry.signed_area(c.ctrl)) for c in contours])
    alive = np.ones(len(contours), dtype=bool)
    # drop specks: a dropped contour takes its descendants with it (parents come first)
    dropped_islands = dropped_holes = 0
    scale = None
    for _ in range(2):  # scale depends on the bbox, which depends on what is dropped
        bbox = _bbox_px(boxes_px, alive)
        scale = _scale_from((bbox[2] - bbox[0], bbox[3] - bbox[1]), width_mm, height_mm, px_mm)
        if min_area_mm2 <= 0:
            break
        min_px = min_area_mm2 / scale**2
        new_alive = np.ones(len(contours), dtype=bool)
        for i, c in enumerate(contours):
            if (c.parent >= 0 and not new_alive[c.parent]) or areas_px[i] < min_px:
                new_alive[i] = False
        if (new_alive == alive).all():
            break
        alive = new_alive
        if not alive.any():  # all specks: say so (the bbox of nothing cannot be taken)
            break
    if not alive.any():
        raise GeometryError(f"every part of the outline is smaller than --min-area {min_area_mm2} mm²")
    for i, c in enumerate(contours):
        if not alive[i] and (c.parent < 0 or alive[c.parent]):
            if c.is_hole:
                dropped_holes += 1
            else:
                dropped_islands += 1
    assert scale is not None
    # The fit works on the pixel outline (its tolerance in source pixels), before the frame is set;
    # it keeps the traced outline's bounding box, so the frame (size and centre) does not depend on it.
    bbox = _bbox_px(boxes_px, alive)
    grain = fit_grain(max(bbox[2] - bbox[0], bbox[3] - bbox[1]))
    fit_px = default_fit_px(grain) if fit_tolerance_mm is None else float(fit_tolerance_mm) / scale
    px_rings = {i: Ring(c.ctrl, c.is_line) for i, c in enumerate(contours) if alive[i]}
    auto = fit_tolerance_mm is None
    noise_px = float(outlines.info.get("noise_px", 0.0)) if auto else 0.0
    n_fitted, deviation_px = (_fit_rings(px_rings, fit_px, 1.0, grain=grain, follow_noise=auto, noise_px=noise_px)
                              if fit_px > 0 else (0, 0.0))
    if n_fitted:
        _keep_extent(px_rings, {i for i in px_rings if contours[i].parent < 0}, bbox, by_height=height_mm is not None)
    cx, cy = 0.5 * (bbox[0] + bbox[2]), 0.5 * (bbox[1] + bbox[3])
    frame = Frame(scale, cx, cy, mirror)

    def ring_mm(ring: Ring) -> Ring:
        if ring.arcs is None and ring.ellipses is None:
            return Ring(frame.apply(ring.ctrl), ring.is_line, ring.exact)
        # centres map like points, the y-flip (and a mirror) reverse the turn
        M = (frame.apply(np.eye(2)) - frame.apply(np.zeros((1, 2)))).T
        return ring.mapped(frame.apply, M)

    rings = {i: ring_mm(r) for i, r in px_rings.items()}
    raw: list[Region] = []
    for i, c in enumerate(contours):
        if alive[i] and not c.is_hole:
            holes = tuple(rings[j].oriented(ccw=False) for j, h in enumerate(contours)
                          if alive[j] and h.is_hole and h.parent == i)
            raw.append(Region(rings[i].oriented(ccw=True), holes))
    width_ref = (bbox[2] - bbox[0]) * scale
    regions = _clean(raw, tolerance=FINE_TOLERANCE_FRACTION * width_ref,
                     simplify=REPAIR_SIMPLIFY_FRACTION * width_ref)
    report = {"dropped_islands": dropped_islands, "dropped_holes": dropped_holes,
              "repaired": sum(1 for r in regions[0] if not all(x.exact for x in r.rings)),
              "fit_tolerance_mm": fit_px * scale, "fit_deviation_mm": deviation_px * scale,
              "origin_px": (cx, cy)}
    return Regions(regions=regions[0], geometry=regions[1], px_mm=scale, report=report)


def _keep_extent(rings: dict[int, Ring], outer: set[int], bbox: tuple[float, float, float, float], *,
                 by_height: bool) -> None:
    """Map ``rings`` in place by the similarity (a uniform scale and a shift) that gives the ``outer`` rings
    the bounding box ``bbox`` in width (or height) and centre. Sharpened corners reach a fraction of a pixel
    beyond the traced ones; this keeps the requested size and the centre of the trace."""
    lo = np.min([rings[i].bounds()[:2] for i in outer], axis=0)
    hi = np.max([rings[i].bounds()[2:] for i in outer], axis=0)
    axis = 1 if by_height else 0
    if not (hi[axis] - lo[axis]) > 0:
        return
    k = (bbox[2 + axis] - bbox[axis]) / (hi[axis] - lo[axis])
    if not abs(k - 1.0) < 0.01:
        return
    c_from = 0.5 * (lo + hi)
    c_to = np.array([0.5 * (bbox[0] + bbox[2]), 0.5 * (bbox[1] + bbox[3])])
    for i, r in rings.items():
        rings[i] = r.mapped(lambda p: c_to + k * (p - c_from), k * np.eye(2))


#: A refit that touches a neighbour is tried again at half the tolerance, at most this many times
#: (after one more try at the default tolerance when the first followed the trace's wobble).
FIT_RETRIES = 2


def _closed(pts: np.ndarray) -> np.ndarray:
    """``pts`` closed (first point repeated), with at least two points."""
    pts = np.asarray(pts, np.float64)
    if len(pts) == 0:
        return np.zeros((2, 2))
    return np.concatenate([pts, pts[:1]]) if len(pts) < 2 or not np.array_equal(pts[0], pts[-1]) else pts


#: With the default tolerance, a ring whose trace wobbles (a JPEG's ringing) is fitted within NOISE_TOL times
#: its wobble (:func:`cad.fit_pieces.wobble`), never finer than the default and at most NOISE_CAP times it.
NOISE_TOL = 10.0
NOISE_CAP = 3.0


def _fit_rings(rings: dict[int, Ring], tol: float, px: float, *, grain: float = 1.0, follow_noise: bool = False,
               noise_px: float = 0.0) -> tuple[int, float]:
    """Refit ``rings`` in place (:func:`cad.fit.fit_ring`): how many were refitted, and the largest deviation.

    A refit that flips, crosses itself, or touches or crosses another ring is tried again at half and
    a quarter of the tolerance, and then keeps the traced ring, so the cleaning never has to repair
    what the fit did. With ``follow_noise`` each ring's tolerance follows the wobble of its trace; with
    ``noise_px`` (the length over which the image's noise makes its edges meander, in ``px``) each trace is
    smoothed over a few times that and fitted within a fraction of it. ``grain``: :func:`cad.fit.fit_grain`."""
    fitted: dict[int, tuple[Ring, float]] = {}
    keys = list(rings)
    ladder = {i: [(tol / 2**level, 0.0, False) for level in range(FIT_RETRIES + 1)] for i in keys}
    for i in keys if follow_noise and noise_px > 0 else ():  # smoothed, coarse first
        ladder[i][:0] = noisy_ladder(tol, noise_px / px)
    for i in keys if follow_noise and not noise_px > 0 else ():
        noisy = min(NOISE_TOL * wobble(rings[i].ctrl, px), NOISE_CAP * tol)
        above = []
        while noisy > tol:  # a wobbling trace is tried at its own tolerance first, halved down to the default
            above.append((noisy, 0.0, False))
            noisy /= 2
        ladder[i][:0] = above
    # the outline's extremes set its size and centre: a smoothed fit may not push them out by more than the
    # default allows (an arc or a cubic bulging out at the edge would scale the whole part)
    extent = np.array([rings[i].bounds() for i in keys] or [(0.0, 0.0, 0.0, 0.0)])
    lo, hi = extent[:, :2].min(axis=0), extent[:, 2:].max(axis=0)
    todo = list(keys)
    for level in range(max(map(len, ladder.values()), default=0)):
        todo = [i for i in todo if level < len(ladder[i])]
        dropped: set[int] = set()
        for i in todo:
            t, smooth_px, guard = ladder[i][level]
            coarse = t > tol or smooth_px > 0
            res = fit_ring(rings[i].ctrl, t, px=px, grain=grain * px, smooth_px=smooth_px)
            new = Ring(res.ctrl, res.is_line, True, res.arcs, res.ellipses) if res is not None else None
            pts = new.flatten(t / 16) if new is not None else ()  # fine: a thin sliver may cross at its tip
            if res is None or new is None or len(pts) < 3 or (new.area() > 0) != (rings[i].area() > 0) \
                    or not shapely.LinearRing(pts).is_simple \
                    or (smooth_px > 0 and pushes_out(new, rings[i].bounds(), lo, hi, LS_SLACK * tol, tol if guard else np.inf)) \
                    or (guard and not keeps_shape(pts, rings[i].flatten(tol / 16), smooth_px, tol)):
                if coarse:  # above the default tolerance, a failed refit is tried again finer
                    dropped.add(i)
                continue
            fitted[i] = (new, res.deviation)
        while fitted:  # each round drops at least one refit
            # flattened coarsely, so rings this close may touch once flattened finely for the cleaning
            t = tol / 2 ** min(level, FIT_RETRIES)  # the default tolerance of this round
            lines = [shapely.LineString(_closed((fitted[i][0] if i in fitted else rings[i]).flatten(t / 2))) for i in keys]
            a, b = shapely.STRtree(lines).query(lines, predicate="dwithin", distance=t)
            pairs = [(keys[x], keys[y]) for x, y in zip(a, b) if x != y and (keys[x] in fitted or keys[y] in fitted)]
            clash = {i for pair in pairs for i in pair} & set(fitted)
            if not clash:
                break
            for i in clash:
                fitted.pop(i)
            dropped |= clash
        todo = [i for i in keys if i in dropped]
        if not todo:
            break
    for i, (new, _) in fitted.items():
        rings[i] = new
    return len(fitted), max((d for _, d in fitted.values()), default=0.0)


def clean_regions(raw: list[Region], *, width_mm: float, px_mm: float, report: dict | None = None) -> Regions:
    """Regions already in mm (oriented shells and holes) -> valid, disjoint :class:`Regions`.

    The same cleaning as :func:`to_regions`: regions whose curves self-intersect, overlap or touch a
    neighbour are repaired as polylines (counted in ``report["repaired"]``). ``width_mm`` sets the
    fine flattening tolerance; ``px_mm`` is stored as the size of one source unit."""
    if not raw:
        raise GeometryError("nothing to build: the outline is empty")
    regions, geom = _clean(raw, tolerance=FINE_TOLERANCE_FRACTION * width_mm,
                           simplify=REPAIR_SIMPLIFY_FRACTION * width_mm)
    rep = dict(report or {})
    rep["repaired"] = sum(1 for r in regions if not all(x.exact for x in r.rings)) + rep.get("repaired", 0)
    return Regions(regions=regions, geometry=geom, px_mm=px_mm, report=rep)


def _bbox_px(boxes_px: dict, alive: np.ndarray) -> tuple[float, float, float, float]:
    """The bounding box of the alive outer contours, from their boxes ``{index: curve_bounds}``."""
    boxes = [box for i, box in boxes_px.items() if alive[i]]
    if not boxes:
        raise GeometryError("nothing to build: the outline is empty")
    b = np.array(boxes)
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def _polygon(region: Region, tolerance: float) -> Polygon:
    return Polygon(region.shell.flatten(tolerance), [h.flatten(tolerance) for h in region.holes])


def polygons_of(geom) -> list[Polygon]:
    """The polygons of a shapely geometry (a Polygon, a MultiPolygon or a collection), in order."""
    if geom is None or geom.is_empty:
        return []
    if geom.geom_type == "Polygon":
        return [geom]
    return [p for g in getattr(geom, "geoms", []) for p in polygons_of(g)]


def regions_from_polygons(geom, *, simplify: float = 0.0) -> list[Region]:
    """Polyline regions from a shapely (Multi)Polygon (already in mm, y up)."""
    out = []
    geom = shapely.orient_polygons(geom, exterior_cw=False)
    for poly in getattr(geom, "geoms", [geom]):
        if poly.is_empty or poly.geom_type != "Polygon" or poly.area <= 0:
            continue
        if simplify > 0:
            simple = poly.simplify(simplify, preserve_topology=True)
            if simple.is_valid and not simple.is_empty:
                poly = shapely.orient_polygons(simple, exterior_cw=False)
        shell = Ring.from_points(np.asarray(poly.exterior.coords))
        holes = tuple(Ring.from_points(np.asarray(h.coords)) for h in poly.interiors if len(h.coords) >= 4)
        # A hole of no area (collinear points, left by make_valid/simplify) encloses nothing, and
        # OCC rejects the face that holds it (BRepCheck_IntersectingWires): it is left out.
        holes = tuple(h for h in holes if abs(h.area()) > max(simplify, 1e-9) ** 2)
        out.append(Region(shell.oriented(ccw=True), tuple(h.oriented(ccw=False) for h in holes)))
    return out


#: Where two rings touch at a point (a checkerboard corner), the solid would have a non-manifold
#: edge there; a gap this wide (mm) is cut around the contact, far below what a printer resolves.
CONTACT_GAP_MM = 0.02


def ring_contacts(polygons) -> list:
    """Where two boundary rings of ``polygons`` touch or cross: a list of shapely geometries (points, lines)."""
    rings = [shapely.LinearRing(r) for p in polygons for r in (p.exterior, *p.interiors)]
    if len(rings) < 2:
        return []
    a, b = shapely.STRtree(rings).query(rings, predicate="intersects")
    contacts = []
    for i, j in zip(a, b):
        if i < j:
            inter = rings[i].intersection(rings[j])
            if not inter.is_empty:
                contacts.append(inter)
    return contacts


def _separate_contacts(regions: list[Region], polys: list[Polygon], *, tolerance: float, simplify: float):
    """Cut a tiny gap wherever two boundary rings touch, so every edge of the solid is manifold."""
    contacts = ring_contacts(polys)
    if not contacts:
        return regions, polys
    cut = shapely.union_all(contacts).buffer(CONTACT_GAP_MM / 2, quad_segs=4)
    new_regions, new_polys = [], []
    for reg, poly in zip(regions, polys):
        if not poly.intersects(cut):
            new_regions.append(reg)
            new_polys.append(poly)
            continue
        for r in regions_from_polygons(shapely.make_valid(poly.difference(cut)), simplify=simplify):
            new_regions.append(r)
            new_polys.append(_polygon(r, tolerance))
    return new_regions, new_polys


def _clean(raw: list[Region], *, tolerance: float, simplify: float) -> tuple[tuple[Region, ...], MultiPolygon]:
    """Keep exact regions that are valid and disjoint; repair the others as polylines."""
    polys = [_polygon(r, tolerance) for r in raw]
    valid = shapely.is_valid(np.array(polys, dtype=object)) if polys else np.array([], bool)
    # Overlaps between neighbours (an island grazing its surrounding hole after smoothing).
    tree = shapely.STRtree(polys)
    pairs = tree.query(polys, predicate="intersects")
    group = list(range(len(polys)))

    def find(a: int) -> int:
        while group[a] != a:
            group[a] = group[group[a]]
            a = group[a]
        return a

    for a, b in pairs.T:
        if a < b and valid[a] and valid[b]:
            inter = polys[a].intersection(polys[b])
            if inter.area > 0 or inter.geom_type not in ("Point", "MultiPoint"):
                group[find(a)] = find(b)
    members: dict[int, list[int]] = {}
    for i in range(len(polys)):
        members.setdefault(find(i), []).append(i)
    out_regions: list[Region] = []
    out_polys: list[Polygon] = []
    for idx in members.values():
        if len(idx) == 1 and valid[idx[0]]:
            out_regions.append(raw[idx[0]])
            out_polys.append(polys[idx[0]])
            continue
        fixed = shapely.union_all([shapely.make_valid(polys[i]) for i in idx])
        fixed = shapely.make_valid(fixed)
        parts = [g for g in getattr(fixed, "geoms", [fixed]) if g.geom_type in ("Polygon", "MultiPolygon")]
        for reg in regions_from_polygons(shapely.MultiPolygon(
                [p for g in parts for p in getattr(g, "geoms", [g])]) if parts else Polygon(), simplify=simplify):
            out_regions.append(reg)
            out_polys.append(_polygon(reg, tolerance))
    if not out_regions:
        raise GeometryError("the outline has no area left after cleaning")
    out_regions, out_polys = _separate_contacts(out_regions, out_polys, tolerance=tolerance, simplify=simplify)
    mp = shapely.orient_polygons(MultiPolygon(out_polys), exterior_cw=False)
    if not mp.is_valid:
        mp = shapely.make_valid(mp)
    return tuple(out_regions), mp
