"""Vector artwork -> :class:`cad.regions.Regions`: the painted shapes in paint order, unioned or partitioned.

An :class:`Art` is what a vector reader (:mod:`cad.vector.svg`, :mod:`cad.vector.text`) makes: its
:class:`Paint` values in paint order, each closed rings of exact Bézier segments (or a ready
polygon, for a stroke outline) in the document's units, y down, with a fill rule and a colour.
:func:`art_regions` gives the union of everything painted, :func:`art_partition` one set of regions
per colour, where a later shape covers an earlier one: a planar partition whose neighbours share
their boundary curves exactly. Both use the frame of the trace (:func:`cad.regions.to_regions`):
millimetres, y up, centred on the subject's bounding box, sized by width, height or unit size
(:class:`cad.regions.Frame`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from cad import geometry
from cad.regions import CONTACT_GAP_MM, Frame, Region, Regions, Ring, clean_regions, polygons_of, ring_contacts
from cad.truearcs import true_arcs
from cad.vector.boolean import Curves, fill_area, ring_curves
from tracer.errors import GeometryError

__all__ = ["Paint", "Art", "art_regions", "art_partition", "FLATTEN_FRACTION"]

#: Flattening tolerance of the set operations, as a fraction of the drawing's size. The curves of the
#: result are the source's own; only where two curves cross is the meeting point found within it.
FLATTEN_FRACTION = 1e-6


@dataclass(frozen=True, slots=True, eq=False)
class Paint:
    """One painted area: closed ``rings`` ``[(ctrl (n,4,2), is_line (n,))]`` under ``rule``, or a ready
    ``polygon`` (a stroke outline), in document units (y down); ``color`` is ``#rrggbb``."""

    rings: tuple = ()
    rule: str = "nonzero"
    color: str = "#000000"
    polygon: BaseGeometry | None = None
    source: str = ""


@dataclass(slots=True, eq=False)
class Art:
    """Painted shapes in paint order; ``unit_mm`` is the document's size of one unit (None: no size of its own)."""

    paints: list[Paint]
    unit_mm: float | None = None
    warnings: list[str] = field(default_factory=list)
    name: str = ""

    def size(self) -> float:
        """The largest extent of the painted curves' control points, in document units."""
        pts = [c.reshape(-1, 2) for p in self.paints for c, _ in p.rings]
        boxes = [np.array(p.polygon.bounds).reshape(2, 2) for p in self.paints if p.polygon is not None
                 and not p.polygon.is_empty]
        allp = np.concatenate(pts + boxes) if pts or boxes else np.zeros((0, 2))
        if len(allp) == 0:
            return 0.0
        return float(np.max(allp.max(axis=0) - allp.min(axis=0)))


def _painted(art: Art, curves: Curves) -> list[tuple[str, BaseGeometry]]:
    out = []
    for p in art.paints:
        if p.polygon is not None:
            g = p.polygon
        else:
            g = fill_area([curves.add_ring(c, l) for c, l in p.rings], p.rule)
        if not g.is_empty and g.area > 0:
            out.append((p.color, g))
    return out


def _regions_mm(polys_curves, frame: Frame, min_area_mm2: float, report: dict, *, arcs: bool = False) -> list[Region]:
    """The rings in mm; with ``arcs``, the cubics of circular and elliptic arcs as the arcs (:mod:`cad.truearcs`)."""
    def ring(ctrl, is_line) -> Ring:
        r = Ring(frame.apply(ctrl), is_line)
        return true_arcs(r) if arcs else r

    out = []
    for (sc, sl, _), holes in polys_curves:
        if len(sc) < 1:
            continue
        shell = ring(sc, sl).oriented(ccw=True)
        if abs(shell.area()) < max(min_area_mm2, 1e-12):
            report["dropped_islands"] = report.get("dropped_islands", 0) + 1
            continue
        hs = []
        for hc, hl, _ in holes:
            h = ring(hc, hl).oriented(ccw=False)
            if abs(h.area()) < max(min_area_mm2, 1e-12):
                report["dropped_holes"] = report.get("dropped_holes", 0) + 1
                continue
            hs.append(h)
        out.append(Region(shell, tuple(hs)))
    return out


def _frame(box, *, width_mm, height_mm, px_mm, unit_mm, mirror) -> Frame:
    if box[2] - box[0] <= 0 or box[3] - box[1] <= 0:
        raise GeometryError("nothing to build: the drawing has no area")
    return Frame.for_box(box, width_mm=width_mm, height_mm=height_mm, px_mm=px_mm, unit_mm=unit_mm, mirror=mirror)


def _curve_box(polys_curves) -> tuple[float, float, float, float]:
    boxes = np.array([geometry.curve_bounds(sc) for (sc, _, _), _ in polys_curves if len(sc)])
    if len(boxes) == 0:
        raise GeometryError("nothing to build: the drawing has no filled shape")
    return float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()), float(boxes[:, 3].max())


def _separate(geom: BaseGeometry, gap: float, report: dict) -> BaseGeometry:
    """Cut a ``gap`` (document units) wide disk out wherever two rings of ``geom`` touch, so that every edge
    of the solid is manifold; the rest of each ring keeps its exact curves. Counted in ``report["contacts"]``."""
    contacts = ring_contacts(polygons_of(geom))
    if not contacts:
        return geom
    cut = shapely.union_all(contacts).buffer(gap / 2, quad_segs=4)
    report["contacts"] = report.get("contacts", 0) + len(contacts)
    out = shapely.make_valid(geom.difference(cut))
    return shapely.MultiPolygon([p for p in polygons_of(out) if p.area > 0])


def _gap_units(geom: BaseGeometry, *, width_mm, height_mm, px_mm, unit_mm) -> float:
    """:data:`cad.regions.CONTACT_GAP_MM` in document units, from the (flattened) subject's box."""
    b = geom.bounds
    if b[2] - b[0] <= 0 or b[3] - b[1] <= 0:
        return 0.0
    return CONTACT_GAP_MM / Frame.for_box(b, width_mm=width_mm, height_mm=height_mm, px_mm=px_mm,
                                          unit_mm=unit_mm).scale


def art_regions(art: Art, *, width_mm: float | None = None, height_mm: float | None = None,
                px_mm: float | None = None, min_area_mm2: float = 0.0, mirror: bool = False) -> Regions:
    """The union of everything ``art`` paints, as regions in mm (sized like a trace; without a size,
    the document's own ``unit_mm``, else 50 mm wide)."""
    size = art.size()
    if size <= 0:
        raise GeometryError("nothing to build: the drawing has no filled shape")
    curves = Curves(FLATTEN_FRACTION * size)
    painted = _painted(art, curves)
    if not painted:
        raise GeometryError("nothing to build: the drawing has no filled shape")
    union = shapely.union_all([g for _, g in painted])
    report: dict = {}
    union = _separate(union, _gap_units(union, width_mm=width_mm, height_mm=height_mm, px_mm=px_mm,
                                        unit_mm=art.unit_mm), report)
    polys = ring_curves(curves, union)
    frame = _frame(_curve_box(polys), width_mm=width_mm, height_mm=height_mm, px_mm=px_mm, unit_mm=art.unit_mm,
                   mirror=mirror)
    raw = _regions_mm(polys, frame, min_area_mm2, report, arcs=True)
    if not raw:
        raise GeometryError(f"every part of the drawing is smaller than --min-area {min_area_mm2} mm²")
    box = _curve_box(polys)
    return clean_regions(raw, width_mm=(box[2] - box[0]) * frame.scale, px_mm=frame.scale, report=report)


def _breaks(geoms: list[BaseGeometry]) -> set:
    """Vertices where three or more boundary edges of the partition meet."""
    nbr: dict[tuple, set] = {}
    for g in geoms:
        for p in shapely.get_parts(g):
            if p.geom_type != "Polygon":
                continue
            for ring in (p.exterior, *p.interiors):
                c = [tuple(map(float, q)) for q in np.asarray(ring.coords)]
                for a, b in zip(c[:-1], c[1:]):
                    nbr.setdefault(a, set()).add(b)
                    nbr.setdefault(b, set()).add(a)
    return {v for v, n in nbr.items() if len(n) >= 3}


def art_partition(art: Art, *, width_mm: float | None = None, height_mm: float | None = None,
                  px_mm: float | None = None, min_area_mm2: float = 0.0, mirror: bool = False
                  ) -> tuple[list[tuple[str, Regions]], Regions]:
    """One set of regions per fill colour (in order of first paint), and the union, in mm.

    What is visible of a shape is what later shapes leave of it; the colours' areas are therefore
    disjoint, cover the union, and neighbours share their boundary curves (cut at the same points)."""
    size = art.size()
    if size <= 0:
        raise GeometryError("nothing to build: the drawing has no filled shape")
    curves = Curves(FLATTEN_FRACTION * size)
    painted = _painted(art, curves)
    if not painted:
        raise GeometryError("nothing to build: the drawing has no filled shape")
    visible: dict[str, list] = {}
    above = Polygon()
    for color, g in reversed(painted):
        vis = g.difference(above) if not above.is_empty else g
        above = shapely.union_all([above, g])
        visible.setdefault(color, [])
        if not vis.is_empty and vis.area > 0:
            visible[color].append(vis)
    order = list(dict.fromkeys(c for c, _ in painted))
    gap = _gap_units(above, width_mm=width_mm, height_mm=height_mm, px_mm=px_mm, unit_mm=art.unit_mm)
    contacts: dict[str, dict] = {c: {} for c in order}
    parts = {c: _separate(shapely.union_all(visible[c]), gap, contacts[c]) for c in order if visible.get(c)}
    if len(parts) > 1:  # every vertex of one colour that lies on another's boundary becomes a vertex of it too
        pts = shapely.multipoints(np.unique(np.concatenate([shapely.get_coordinates(g) for g in parts.values()]),
                                            axis=0))
        snapped = {c: shapely.snap(g, pts, 1e-9 * size) for c, g in parts.items()}
        parts = {c: (g if g.is_valid else parts[c]) for c, g in snapped.items()}
    breaks = _breaks(list(parts.values()))
    union_polys = ring_curves(curves, above)
    frame = _frame(_curve_box(union_polys), width_mm=width_mm, height_mm=height_mm, px_mm=px_mm,
                   unit_mm=art.unit_mm, mirror=mirror)
    box = _curve_box(union_polys)
    width_ref = (box[2] - box[0]) * frame.scale
    out = []
    for c, g in parts.items():
        report = contacts[c]
        raw = _regions_mm(ring_curves(curves, g, breaks), frame, min_area_mm2, report)
        if raw:
            out.append((c, clean_regions(raw, width_mm=width_ref, px_mm=frame.scale, report=report)))
    if not out:
        raise GeometryError(f"every part of the drawing is smaller than --min-area {min_area_mm2} mm²")
    union = clean_regions(_regions_mm(union_polys, frame, min_area_mm2, {}), width_mm=width_ref, px_mm=frame.scale)
    return out, union
