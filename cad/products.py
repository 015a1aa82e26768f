"""Products on top of the plain extrusion: badges, keychains, signs, stamps, stencils and cookie cutters.

Everything is built as exact B-rep operations in OpenCASCADE (prisms of the
artwork's exact Bézier faces, primitive plates, Boolean fuse/cut, chamfer and
fillet), so the STEP file stays clean, and every product is ONE solid. The
2D reasoning (where a keychain hole fits, which islands of a stencil need a
bridge, the cookie cutter's silhouette) is done with shapely in mm.

Parts, from the bottom (Z=0) up:

* plate (``--plate rect|rounded|circle|ellipse|contour``) of ``--base-thickness``,
  ``--margin`` around the artwork; ``contour`` offsets the artwork's outline
  like a sticker;
* artwork (``--style``): ``emboss`` raises it ``--thickness`` above the plate,
  ``deboss`` engraves it ``--depth`` into the plate, ``stencil`` cuts it
  through the plate and holds islands (the counters of O, A, B) with
  ``--bridge`` wide bridges; ``cutter`` makes a cookie cutter instead;
* ``--rim`` width border on the plate's edge, as high as the artwork;
* ``--hole D`` keychain hole, placed automatically where it does not cut the
  artwork (the plate grows a tab when it has no room) or at ``--hole-at X,Y``;
* ``--chamfer`` / ``--fillet`` on the top edges of the artwork and the plate;
  where OpenCASCADE cannot do it (a stroke thinner than twice the size), a
  smaller one is tried, then none, with a warning.

The mesh for STL/3MF is the tessellated B-rep (:func:`cad.tessellate.tessellate`), welded
along the shared edge discretisation, so it is watertight by construction
and checked like every mesh.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from cad import plates
from cad.edges import rounded_prism, treat_all
from cad.occ import cut, cylinder, fuse, polygon_faces, solids_of, translated, unify
from cad.plates import OUTLINE_SIMPLIFY_MM, Plate, place_hole, plate_outline, silhouette, stencil_bridges
from cad.regions import Region, Regions, Ring, polygons_of
from cad.solid import Solid, compound, extrude, face_count, is_valid_shape, prism, region_face, shape_volume
from cad.tessellate import curved_area
from tracer.errors import InvalidInputError, SolidError

__all__ = ["ProductOptions", "PLATES", "STYLES", "build_product"]


PLATES = ("none", "rect", "rounded", "circle", "ellipse", "contour")


STYLES = ("emboss", "deboss", "stencil", "cutter")


@dataclass(frozen=True, slots=True)
class ProductOptions:
    """What to build around the artwork. Sizes in mm; ``thickness_mm`` of ConvertOptions is the artwork height."""

    preset: str | None = None
    plate: str = "none"
    style: str = "emboss"
    margin_mm: float = 3.0
    base_thickness_mm: float = 2.0
    depth_mm: float = 1.0
    corner_radius_mm: float | None = None
    hole_mm: float = 0.0
    hole_at: tuple[float, float] | None = None
    hole_clearance_mm: float = 1.0
    rim_mm: float = 0.0
    chamfer_mm: float = 0.0
    fillet_mm: float = 0.0
    bridge_mm: float = 1.0
    wall_mm: float = 0.8
    flange_mm: float = 4.0
    nozzle_mm: float = 0.4
    min_feature_mm: float | None = None
    preview: bool = False

    def __post_init__(self) -> None:
        if self.plate not in PLATES:
            raise InvalidInputError(f"unknown plate {self.plate!r} (choose from {', '.join(PLATES)})")
        if self.style not in STYLES:
            raise InvalidInputError(f"unknown style {self.style!r} (choose from {', '.join(STYLES)})")
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name.endswith("_mm") and v is not None and not (math.isfinite(v) and v >= 0):
                raise InvalidInputError(f"{f.name} must be a number >= 0, got {v}")
        for name in ("base_thickness_mm", "nozzle_mm", "wall_mm"):
            if not getattr(self, name) > 0:
                raise InvalidInputError(f"{name} must be > 0")
        if self.style in ("deboss", "stencil") and self.plate == "none":
            raise InvalidInputError(f"--style {self.style} needs a plate (--plate rect, rounded, circle, ellipse or contour)")
        if self.style == "deboss" and not 0 < self.depth_mm < self.base_thickness_mm:
            raise InvalidInputError(f"--depth {self.depth_mm} must be between 0 and --base-thickness {self.base_thickness_mm}")
        if self.chamfer_mm and self.fillet_mm:
            raise InvalidInputError("give --chamfer or --fillet, not both")
        if self.style == "stencil" and self.bridge_mm <= 0:
            raise InvalidInputError("--bridge must be > 0 for a stencil")

    @property
    def builds_solid(self) -> bool:
        """False for a plain extrusion (only the printability check is wanted)."""
        return (self.plate != "none" or self.style != "emboss" or self.hole_mm > 0 or self.chamfer_mm > 0
                or self.fillet_mm > 0 or self.rim_mm > 0)


def build_product(regions: Regions, prod: ProductOptions, *, thickness_mm: float, warnings: list[str],
                  art_is_wall: bool = False) -> Solid:
    """The product's exact B-rep as a :class:`cad.solid.Solid` (one solid), checked with BRepCheck.

    ``regions`` is the artwork; ``thickness_mm`` its height (emboss), the wall height (cutter) or
    ignored (deboss, stencil). Warnings (edges left sharp, islands merged) are appended to ``warnings``.
    ``art_is_wall``: the artwork is line art drawn as strokes, and a cookie cutter uses the strokes
    themselves as its wall (instead of a wall along the silhouette).
    """
    h = thickness_mm
    base = prod.base_thickness_mm
    art = regions.geometry
    rep: dict = {}

    if prod.style == "cutter":
        if art_is_wall:
            return _stroke_cutter(regions, prod, h)
        return _cookie_cutter(regions, prod, h, warnings)

    plate = plate_outline(prod.plate, art, prod.margin_mm, prod.corner_radius_mm) if prod.plate != "none" else None
    hole = tab = None
    if prod.hole_mm > 0:
        if plate is None:
            plate_for_hole = Plate("contour", art.convex_hull)
        else:
            plate_for_hole = plate
        hole, tab = place_hole(plate_for_hole, art, hole_mm=prod.hole_mm, nozzle_mm=prod.nozzle_mm,
                               clearance_mm=prod.hole_clearance_mm, at=prod.hole_at, rim_mm=prod.rim_mm,
                               warnings=warnings)
        if plate is None:
            raise InvalidInputError("--hole needs a plate (--plate rect, rounded, circle, ellipse or contour)")
    footprint: BaseGeometry = plate.poly if plate is not None else art
    if tab is not None:
        footprint = shapely.union_all([footprint, tab])
    # re-centre the footprint's bounding box on the origin (geometry contract)
    fx0, fy0, fx1, fy1 = footprint.bounds
    dx, dy = -0.5 * (fx0 + fx1), -0.5 * (fy0 + fy1)
    if abs(dx) < 1e-9 and abs(dy) < 1e-9:
        dx = dy = 0.0

    top_art = base + h if prod.style == "emboss" and plate is not None else h
    parts = []
    # plate
    treat = prod.chamfer_mm or prod.fillet_mm
    # Fast path for deboss/stencil: the plate face with the artwork's exact outlines as holes, extruded
    # directly (no Boolean cut across the artwork's side walls, which takes OCC seconds).
    comp = None
    if plate is not None and prod.style in ("deboss", "stencil") and tab is None and not treat:
        comp = plates.complement_faces(plate.faces(), regions)
    if comp is not None:
        if prod.style == "stencil":
            parts += [prism(f, z0_mm=0.0, height_mm=base) for f in comp]
        else:
            assert plate is not None  # (comp is only made on a plate)
            parts += [prism(f, z0_mm=0.0, height_mm=base - prod.depth_mm) for f in plate.faces()]
            parts += [prism(f, z0_mm=base - prod.depth_mm, height_mm=prod.depth_mm) for f in comp]
    if plate is not None and comp is None:
        plate_solids = [prism(f, z0_mm=0.0, height_mm=base) for f in plate.faces()]
        if tab is not None:
            tab_faces = polygon_faces(tab, simplify_mm=OUTLINE_SIMPLIFY_MM)
            plate_solids += [prism(f, z0_mm=0.0, height_mm=base) for f in tab_faces]
            plate_solids = solids_of(unify(fuse(plate_solids, "join the hole's tab to the plate")))
        kind = "chamfer" if prod.chamfer_mm else "fillet"
        if treat and not prod.rim_mm:
            plate_solids = treat_all(plate_solids, base, treat, kind, "plate", warnings,
                                      isolate=plate.kind == "contour")
        parts += plate_solids
    if plate is not None:
        kind = "chamfer" if prod.chamfer_mm else "fillet"
        if prod.rim_mm:
            outer = plate.faces()
            inner = plate.faces(prod.rim_mm)
            rim = cut(fuse([prism(f, z0_mm=base, height_mm=h) for f in outer]),
                      [prism(f, z0_mm=base - 1.0, height_mm=h + 2.0) for f in inner],
                       "cut the rim")
            rim_solids = solids_of(rim)
            if treat:
                rim_solids = treat_all(rim_solids, base + h, treat, kind, "rim", warnings,
                                        isolate=plate.kind == "contour")
            parts += rim_solids
    # artwork
    cut_tools = []
    if prod.style == "emboss":
        z0 = base if plate is not None else 0.0
        art_solids = solids_of(extrude(regions, thickness_mm=h, z0_mm=z0).shape)
        treat = prod.chamfer_mm or prod.fillet_mm
        if treat:
            by_region = len(art_solids) == len(regions.regions)  # (one prism per region, in order)
            art_solids = treat_all(art_solids, z0 + h, treat, "chamfer" if prod.chamfer_mm else "fillet",
                                    "artwork", warnings,
                                    rounded=(lambda i, fit_mm: rounded_prism(regions.regions[i], treat, z0, h, fit_mm))
                                    if by_region else None, isolate=True)
        parts += art_solids
        rep["art_volume_mm3"] = round(sum(shape_volume(s) for s in art_solids), 6)
    elif prod.style == "deboss" and comp is None:
        cut_tools.append(extrude(regions, thickness_mm=prod.depth_mm + 1.0, z0_mm=base - prod.depth_mm).shape)
    elif prod.style == "stencil" and comp is None:
        cut_tools.append(extrude(regions, thickness_mm=base + 2.0, z0_mm=-1.0).shape)
    if prod.style == "deboss":
        rep["depth_mm"] = prod.depth_mm
    rep["fast_complement"] = comp is not None
    rep["_plate"] = plate  # (the plate's exact outline, for a drawing of the product: cad.export.dxf)
    rep["_tab"] = tab
    shape = fuse(parts) if len(parts) > 1 else parts[0]
    if cut_tools:
        shape = cut(shape, cut_tools, "cut the artwork into the plate")
    if prod.style == "stencil":
        material = footprint.difference(art)
        _, bars = stencil_bridges(material, prod.bridge_mm, footprint)
        if bars:
            bar_faces = [f for b in bars for f in polygon_faces(b, simplify_mm=OUTLINE_SIMPLIFY_MM)]
            shape = fuse([shape] + [prism(f, z0_mm=0.0, height_mm=base) for f in bar_faces], "fuse the stencil bridges")
        rep["bridges"] = len(bars)
    if hole is not None:
        shape = cut(shape, [cylinder(hole.x, hole.y, prod.hole_mm / 2, z0_mm=-1.0, height_mm=top_art + 2.0)], "drill the hole")
        rep["hole_xy_mm"] = [round(hole.x + dx, 4), round(hole.y + dy, 4)]
        rep["hole_mm"] = prod.hole_mm
        rep["hole_tab"] = tab is not None
        rep["_hole"] = (hole.x + dx, hole.y + dy, prod.hole_mm / 2)
    shape = unify(shape)
    if dx or dy:
        shape = translated(shape, dx, dy)
    # without a plate (only a chamfer or fillet asked for) each island of the artwork stays its own body
    return _finish(shape, rep, footprint, dx, dy, bodies=1 if plate is not None else len(regions.regions))


def _finish(shape, rep: dict, footprint, dx: float, dy: float, bodies: int = 1):
    """Check the product and wrap it: ``bodies`` separate solids (one, unless the artwork stands alone)."""
    solids = solids_of(shape)
    if len(solids) != bodies:
        want = "one" if bodies == 1 else str(bodies)
        raise SolidError(f"the product came out as {len(solids)} separate solids instead of {want}")
    shape = compound(solids)
    if not is_valid_shape(shape):
        raise SolidError("the product fails OpenCASCADE's BRepCheck")
    vol = shape_volume(shape)
    fx0, fy0, fx1, fy1 = footprint.bounds
    rep.update({"footprint_mm": [round(fx1 - fx0, 4), round(fy1 - fy0, 4)], "offset_mm": [round(dx, 6), round(dy, 6)],
                "_curved_mm2": curved_area(shape), "_footprint": footprint, "_offset": (dx, dy)})
    return Solid(shape=shape, volume_mm3=vol, faces=face_count(shape), solids=len(solids), report=rep)


def _cookie_cutter(regions: Regions, prod: ProductOptions, h: float, warnings: list):
    """A thin wall (``wall_mm``, height ``h``) along the outer silhouette and a flange (``flange_mm``) at its foot."""
    art = regions.geometry
    sil, merged = silhouette(art, prod.wall_mm)
    if merged:
        warnings.append("cookie cutter: separate islands were merged into one silhouette")
    if not merged and len(regions.regions) == 1:
        inner = regions.regions[0].shell.oriented(ccw=False)  # exact curves on the cutting side
    else:
        inner = Ring.from_points(np.asarray(sil.exterior.coords)).oriented(ccw=False)

    def ring_face(offset):
        out = sil.buffer(offset, quad_segs=16, join_style="round")
        out = Polygon(max(polygons_of(out), key=lambda q: q.area).exterior).simplify(OUTLINE_SIMPLIFY_MM, preserve_topology=True)
        shell = Ring.from_points(np.asarray(out.exterior.coords)).oriented(ccw=True)
        return region_face(Region(shell, (inner,))), out

    wall_face, _ = ring_face(prod.wall_mm)
    flange_face, outline = ring_face(prod.wall_mm + prod.flange_mm)
    flange_h = min(prod.base_thickness_mm, h)
    shape = fuse([prism(wall_face, z0_mm=0.0, height_mm=h), prism(flange_face, z0_mm=0.0, height_mm=flange_h)], "join the cutter wall and flange")
    shape = unify(shape)
    fx0, fy0, fx1, fy1 = outline.bounds
    dx, dy = -0.5 * (fx0 + fx1), -0.5 * (fy0 + fy1)
    if abs(dx) < 1e-9 and abs(dy) < 1e-9:
        dx = dy = 0.0
    if dx or dy:
        shape = translated(shape, dx, dy)
    rep = {"wall_mm": prod.wall_mm, "flange_mm": prod.flange_mm, "height_mm": h, "merged_islands": merged}
    return _finish(shape, rep, outline, dx, dy)


def _stroke_cutter(regions: Regions, prod: ProductOptions, h: float):
    """A cookie cutter whose wall is the artwork itself (strokes, height ``h``), on a flange that follows
    the strokes ``flange_mm`` out on each side. The strokes must be one connected drawing."""
    art = regions.geometry
    flange = shapely.union_all([art.buffer(prod.flange_mm, quad_segs=16, join_style="round")])
    polys = polygons_of(flange)
    if len(polys) != 1:
        raise SolidError(f"cookie cutter: the drawing is {len(polys)} separate pieces even with its "
                         f"{prod.flange_mm} mm flange; draw them connected or widen --flange")
    flange = polys[0].simplify(OUTLINE_SIMPLIFY_MM, preserve_topology=True)
    flange_h = min(prod.base_thickness_mm, h)
    flange_faces = polygon_faces(flange, simplify_mm=OUTLINE_SIMPLIFY_MM)
    wall = extrude(regions, thickness_mm=h).shape
    shape = fuse([wall] + [prism(f, z0_mm=0.0, height_mm=flange_h) for f in flange_faces],
                 "join the cutter's strokes and flange")
    shape = unify(shape)
    rep = {"wall_mm": None, "flange_mm": prod.flange_mm, "height_mm": h, "merged_islands": False}
    return _finish(shape, rep, flange, 0.0, 0.0)
