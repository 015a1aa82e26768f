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

from cad import geometry
from cad.fit import default_fit_px, fit_grain
from cad.fit_rings import fit_rings, keep_extent
from cad.ring import Ring
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
    n_fitted, deviation_px = (fit_rings(px_rings, fit_px, 1.0, grain=grain, follow_noise=auto, noise_px=noise_px,
                                                        noisy=outlines.info.get("noisy"))
                              if fit_px > 0 else (0, 0.0))
    if n_fitted:
        keep_extent(px_rings, {i for i in px_rings if contours[i].parent < 0}, bbox, by_height=height_mm is not None)
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
