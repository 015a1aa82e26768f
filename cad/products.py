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

The mesh for STL/3MF is the tessellated B-rep (:func:`tessellate`), welded
along the shared edge discretisation, so it is watertight by construction
and checked like every mesh.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

import numpy as np
import shapely
from shapely.geometry import Point, Polygon, box

from tracer.errors import InvalidInputError, SolidError

__all__ = ["ProductOptions", "PRESETS", "PLATES", "STYLES", "build_product", "tessellate", "prepare",
           "add_arguments", "update_options", "product_report"]

PLATES = ("none", "rect", "rounded", "circle", "ellipse", "contour")
STYLES = ("emboss", "deboss", "stencil", "cutter")
#: Offset outlines (contour plates, cutter walls, tabs, bridges) are polylines simplified to this (mm):
#: half the default chord tolerance, and it keeps BRepCheck (quadratic in the edges of a wire) fast.
OUTLINE_SIMPLIFY_MM = 0.005

#: Each preset is a set of defaults; every explicit flag overrides it.
PRESETS: dict[str, dict] = {
    "badge": dict(plate="circle", style="emboss", margin_mm=3.0, base_thickness_mm=2.0, thickness_mm=1.2,
                  rim_mm=1.2),
    "keychain": dict(plate="contour", style="emboss", margin_mm=2.5, base_thickness_mm=2.0, thickness_mm=1.0,
                     hole_mm=4.0),
    "sign": dict(plate="rounded", style="emboss", margin_mm=6.0, base_thickness_mm=3.0, thickness_mm=2.0,
                 rim_mm=2.0, hole_mm=0.0),
    "stamp": dict(plate="rect", style="emboss", margin_mm=3.0, base_thickness_mm=8.0, thickness_mm=2.0,
                  mirror=True, chamfer_mm=0.0),
    "cookie-cutter": dict(style="cutter", thickness_mm=12.0, wall_mm=0.8, flange_mm=4.0, base_thickness_mm=1.6),
    "stencil": dict(plate="rect", style="stencil", margin_mm=8.0, base_thickness_mm=1.0, bridge_mm=1.0),
}


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


# --------------------------------------------------------------------------- CLI hook

_FLAG_FIELDS = {  # argparse dest -> ProductOptions field
    "plate": "plate", "style": "style", "margin": "margin_mm", "base_thickness": "base_thickness_mm",
    "depth": "depth_mm", "corner_radius": "corner_radius_mm", "hole": "hole_mm", "hole_at": "hole_at",
    "hole_clearance": "hole_clearance_mm", "rim": "rim_mm", "chamfer": "chamfer_mm", "fillet": "fillet_mm",
    "bridge": "bridge_mm", "wall": "wall_mm", "flange": "flange_mm", "nozzle": "nozzle_mm",
    "min_feature": "min_feature_mm", "preview_png": "preview",
}


def _mm(text: str) -> float:
    import argparse

    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (v >= 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return v


def _xy(text: str) -> tuple[float, float]:
    import argparse

    try:
        x, y = (float(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y in mm, got {text!r}") from None
    return x, y


def add_arguments(parser) -> None:
    g = parser.add_argument_group("products (badge, keychain, sign, stamp, stencil, cookie cutter) and printability")
    g.add_argument("--preset", choices=tuple(PRESETS), help="a documented set of defaults; any flag overrides it")
    g.add_argument("--plate", choices=PLATES, help="base plate under the artwork (default none)")
    g.add_argument("--style", choices=STYLES, help="emboss (raised, default), deboss (engraved), stencil (cut through), cutter (cookie cutter)")
    g.add_argument("--margin", type=_mm, metavar="MM", help="plate margin around the artwork (default 3)")
    g.add_argument("--base-thickness", type=_mm, metavar="MM", help="plate thickness; flange height for cutters (default 2)")
    g.add_argument("--depth", type=_mm, metavar="MM", help="engraving depth for --style deboss (default 1)")
    g.add_argument("--corner-radius", type=_mm, metavar="MM", help="corner radius of --plate rounded (default: a quarter of the short side, at most 5)")
    g.add_argument("--hole", type=_mm, metavar="D", help="keychain/hanging hole diameter (0: none)")
    g.add_argument("--hole-at", type=_xy, metavar="X,Y", help="hole centre in mm (default: placed automatically)")
    g.add_argument("--hole-clearance", type=_mm, metavar="MM", help="distance kept between the hole and the artwork (default 1)")
    g.add_argument("--rim", type=_mm, metavar="MM", help="border rim width on the plate's edge (0: none)")
    g.add_argument("--chamfer", type=_mm, metavar="MM", help="chamfer on the top edges of the artwork and the plate")
    g.add_argument("--fillet", type=_mm, metavar="MM", help="fillet on the top edges instead")
    g.add_argument("--bridge", type=_mm, metavar="MM", help="stencil bridge width (default 1)")
    g.add_argument("--wall", type=_mm, metavar="MM", help="cookie cutter wall thickness (default 0.8)")
    g.add_argument("--flange", type=_mm, metavar="MM", help="cookie cutter flange width (default 4)")
    g.add_argument("--nozzle", type=_mm, metavar="MM", help="nozzle diameter for the printability check (default 0.4)")
    g.add_argument("--min-feature", type=_mm, metavar="MM", help="thicken strokes narrower than this")
    g.add_argument("--preview-png", action="store_true", default=None,
                   help="also write OUTDIR/<stem>.thin.png marking thin features (red) and gaps (blue)")
    # The artwork height of a preset must not be overridden by --thickness's default.
    parser.set_defaults(thickness=None)


def update_options(args, kw: dict) -> None:
    """Fill ``kw['product']`` (and preset ``thickness_mm``/``mirror``) from the parsed flags."""
    preset = getattr(args, "preset", None)
    given = {f: getattr(args, dest) for dest, f in _FLAG_FIELDS.items() if getattr(args, dest, None) is not None}
    base = dict(PRESETS.get(preset, {}))
    if kw.get("thickness_mm") is None:
        kw["thickness_mm"] = base.get("thickness_mm", 3.0)
    if base.get("mirror"):
        kw["mirror"] = True
    if preset is None and not given:
        return
    prod = {k: v for k, v in base.items() if k not in ("thickness_mm", "mirror")}
    prod.update(given)
    if "bridge_mm" not in given and "nozzle_mm" in given:
        prod.setdefault("bridge_mm", max(1.0, 2 * given["nozzle_mm"]))
    kw["product"] = ProductOptions(preset=preset, **prod)


# --------------------------------------------------------------------------- 2D preparation and report

def prepare(regions, options, warnings: list):
    """Thicken thin strokes (``--min-feature``) and run the printability check; returns the regions to build.

    The findings are stored in ``regions.report['printability']``.
    """
    from cad import printability as P
    from cad.regions import Regions

    prod: ProductOptions = options.product
    report = dict(regions.report)
    if prod.min_feature_mm:
        regions, n = P.thicken_regions(regions, prod.min_feature_mm)
        report = dict(regions.report)
        if n:
            warnings.append(f"thickened {n} stroke(s) narrower than {prod.min_feature_mm:g} mm (--min-feature)")
    geometry = regions.geometry
    if prod.style == "cutter":
        # a cookie cutter follows the outer silhouette only: holes and the artwork's own strokes do not print
        import shapely
        from shapely.geometry import Polygon

        geometry = shapely.union_all([Polygon(p.exterior) for p in getattr(geometry, "geoms", [geometry])])
    found = P.analyse(geometry, nozzle_mm=prod.nozzle_mm)
    found["thickened_spots"] = report.get("thickened_spots", 0)
    found["min_feature_mm"] = prod.min_feature_mm
    report["printability"] = found
    nf, ng = found["n_thin_features"], found["n_thin_gaps"]
    if nf:
        s = found["thin_features"][0]
        warnings.append(f"{nf} feature(s) narrower than {found['risk_below_mm']:g} mm, the narrowest "
                        f"{s['width_mm']:.2f} mm at ({s['x_mm']:.1f}, {s['y_mm']:.1f}) mm: a {prod.nozzle_mm:g} mm "
                        f"nozzle may drop them (try --min-feature {found['risk_below_mm']:g})")
    if ng:
        s = found["thin_gaps"][0]
        warnings.append(f"{ng} gap(s) or hole(s) narrower than {found['risk_below_mm']:g} mm, the smallest "
                        f"{s['width_mm']:.2f} mm at ({s['x_mm']:.1f}, {s['y_mm']:.1f}) mm: they may close up when printed")
    return Regions(regions=regions.regions, geometry=regions.geometry, px_mm=regions.px_mm, report=report)


def product_report(conv) -> dict:
    """The ``--json`` fields of a product: ``product`` and ``printability`` / ``thin_features``."""
    prod: ProductOptions = conv.options.product
    out: dict = {}
    pr = conv.regions.report.get("printability")
    if pr is not None:
        out["printability"] = {k: v for k, v in pr.items() if k not in ("thin_features", "thin_gaps")}
        out["thin_features"] = pr["thin_features"] + pr["thin_gaps"]
    if prod.builds_solid and conv._solid is not None:
        rep = conv._solid.report
        out["product"] = {"preset": prod.preset, "plate": prod.plate, "style": prod.style,
                          "base_thickness_mm": prod.base_thickness_mm, "solids": conv._solid.solids,
                          **{k: v for k, v in rep.items() if not k.startswith("_")}}
    elif prod.builds_solid:
        out["product"] = {"preset": prod.preset, "plate": prod.plate, "style": prod.style}
    return out


# --------------------------------------------------------------------------- OCC helpers

def _gp():
    from OCP import gp

    return gp


def _check(op, what: str):
    if not op.IsDone():
        raise SolidError(f"OpenCASCADE could not {what}")
    return op.Shape()


def _fuse(shapes: list, what: str = "fuse the parts"):
    """Fuse many shapes in one general Boolean operation."""
    from OCP.BRepAlgoAPI import BRepAlgoAPI_Fuse

    if len(shapes) == 1:
        return shapes[0]
    return _boolean(BRepAlgoAPI_Fuse(), shapes[0], shapes[1:], what)


def _boolean(op, shape, tools_: list, what: str):
    """Run the general Boolean ``op`` (fuse or cut) of ``shape`` with ``tools_``, serially, and check it."""
    from OCP.TopTools import TopTools_ListOfShape

    args, tools = TopTools_ListOfShape(), TopTools_ListOfShape()
    args.Append(shape)
    for s in tools_:
        tools.Append(s)
    op.SetArguments(args)
    op.SetTools(tools)
    op.SetRunParallel(False)
    op.Build()
    return _check(op, what)


def _cut(shape, tools_: list, what: str = "cut the part"):
    from OCP.BRepAlgoAPI import BRepAlgoAPI_Cut

    if not tools_:
        return shape
    return _boolean(BRepAlgoAPI_Cut(), shape, tools_, what)


def _unify(shape):
    """Merge coplanar faces and collinear edges left by the Booleans (keeps the STEP small)."""
    from OCP.ShapeUpgrade import ShapeUpgrade_UnifySameDomain

    u = ShapeUpgrade_UnifySameDomain(shape, True, True, False)
    u.Build()
    return u.Shape()


def _wire_face(edges):
    from OCP.BRepBuilderAPI import BRepBuilderAPI_MakeFace, BRepBuilderAPI_MakeWire

    mw = BRepBuilderAPI_MakeWire()
    for e in edges:
        mw.Add(e)
    if not mw.IsDone():
        raise SolidError("OpenCASCADE could not build the plate outline")
    mf = BRepBuilderAPI_MakeFace(mw.Wire(), True)
    return _check(mf, "build the plate face")


def _rect_face(x0, y0, x1, y1):
    from OCP.BRepBuilderAPI import BRepBuilderAPI_MakeEdge

    gp = _gp()
    p = [gp.gp_Pnt(x0, y0, 0), gp.gp_Pnt(x1, y0, 0), gp.gp_Pnt(x1, y1, 0), gp.gp_Pnt(x0, y1, 0)]
    return _wire_face([BRepBuilderAPI_MakeEdge(p[i], p[(i + 1) % 4]).Edge() for i in range(4)])


def _rounded_face(x0, y0, x1, y1, r):
    from OCP.BRepBuilderAPI import BRepBuilderAPI_MakeEdge
    from OCP.GC import GC_MakeArcOfCircle

    r = min(r, 0.5 * (x1 - x0), 0.5 * (y1 - y0))
    if r <= 1e-6:
        return _rect_face(x0, y0, x1, y1)
    gp = _gp()
    P = lambda x, y: gp.gp_Pnt(float(x), float(y), 0.0)  # noqa: E731
    k = 1 - math.sqrt(0.5)
    edges = []
    corners = [((x1 - r, y0 + r), (x1 - r, y0), (x1, y0 + r), (x1 - r * k, y0 + r * k)),
               ((x1 - r, y1 - r), (x1, y1 - r), (x1 - r, y1), (x1 - r * k, y1 - r * k)),
               ((x0 + r, y1 - r), (x0 + r, y1), (x0, y1 - r), (x0 + r * k, y1 - r * k)),
               ((x0 + r, y0 + r), (x0, y0 + r), (x0 + r, y0), (x0 + r * k, y0 + r * k))]
    for i, (_, a, b, mid) in enumerate(corners):
        edges.append(BRepBuilderAPI_MakeEdge(GC_MakeArcOfCircle(P(*a), P(*mid), P(*b)).Value()).Edge())
        nxt = corners[(i + 1) % 4][1]
        if math.dist(b, nxt) > 1e-9:
            edges.append(BRepBuilderAPI_MakeEdge(P(*b), P(*nxt)).Edge())
    return _wire_face(edges)


def _ellipse_face(a, b, cx=0.0, cy=0.0):
    from OCP.BRepBuilderAPI import BRepBuilderAPI_MakeEdge

    gp = _gp()
    if abs(a - b) < 1e-9:
        circ = gp.gp_Circ(gp.gp_Ax2(gp.gp_Pnt(cx, cy, 0), gp.gp_Dir(0, 0, 1)), a)
        return _wire_face([BRepBuilderAPI_MakeEdge(circ).Edge()])
    if a >= b:
        ax = gp.gp_Ax2(gp.gp_Pnt(cx, cy, 0), gp.gp_Dir(0, 0, 1), gp.gp_Dir(1, 0, 0))
        el = gp.gp_Elips(ax, a, b)
    else:
        ax = gp.gp_Ax2(gp.gp_Pnt(cx, cy, 0), gp.gp_Dir(0, 0, 1), gp.gp_Dir(0, 1, 0))
        el = gp.gp_Elips(ax, b, a)
    return _wire_face([BRepBuilderAPI_MakeEdge(el).Edge()])


def _poly_faces(geom):
    """OCC faces of a shapely (Multi)Polygon (polyline edges)."""
    from cad.regions import regions_from_polygons
    from cad.solid import _face

    return [_face(r) for r in regions_from_polygons(geom, simplify=OUTLINE_SIMPLIFY_MM)]


def _prism(face, z0: float, h: float):
    from cad.solid import _prism as prism

    return prism(face, h, z0)


def _cylinder(x, y, r, z0, h):
    from OCP.BRepPrimAPI import BRepPrimAPI_MakeCylinder

    gp = _gp()
    return BRepPrimAPI_MakeCylinder(gp.gp_Ax2(gp.gp_Pnt(x, y, z0), gp.gp_Dir(0, 0, 1)), r, h).Shape()


def _solids(shape) -> list:
    from OCP.TopAbs import TopAbs_SOLID
    from OCP.TopExp import TopExp_Explorer
    from OCP.TopoDS import TopoDS

    out, ex = [], TopExp_Explorer(shape, TopAbs_SOLID)
    while ex.More():
        out.append(TopoDS.Solid_s(ex.Current()))
        ex.Next()
    return out


def _top_edges(shape, z: float) -> list:
    """Edges lying in the plane Z = ``z`` (the top outline of a prism)."""
    from OCP.Bnd import Bnd_Box
    from OCP.BRepBndLib import BRepBndLib
    from OCP.TopAbs import TopAbs_EDGE
    from OCP.TopExp import TopExp_Explorer
    from OCP.TopoDS import TopoDS

    out, ex = [], TopExp_Explorer(shape, TopAbs_EDGE)
    seen = set()
    while ex.More():
        e = TopoDS.Edge_s(ex.Current())
        ex.Next()
        h = e.__hash__()
        if h in seen:
            continue
        seen.add(h)
        bb = Bnd_Box()
        BRepBndLib.Add_s(e, bb)
        _, _, zmin, _, _, zmax = bb.Get()
        if abs(zmin - z) < 1e-4 and abs(zmax - z) < 1e-4:
            out.append(e)
    return out


def _edge_treat(solid, z_top: float, size: float, kind: str):
    """Chamfer or fillet the top edges of one solid; ``None`` if OCC fails or the result is not a valid, smaller solid."""
    from OCP.BRepFilletAPI import BRepFilletAPI_MakeChamfer, BRepFilletAPI_MakeFillet

    from cad.solid import is_valid_shape, shape_volume

    edges = _top_edges(solid, z_top)
    if not edges:
        return None
    try:
        op = BRepFilletAPI_MakeChamfer(solid) if kind == "chamfer" else BRepFilletAPI_MakeFillet(solid)
        for e in edges:
            op.Add(size, e)
        op.Build()
        if not op.IsDone():
            return None
        out = op.Shape()
    except Exception:  # OCC raises Standard_Failure subclasses for features too small
        return None
    if len(_solids(out)) != 1 or not is_valid_shape(out):
        return None
    vol = shape_volume(out)
    if not vol < shape_volume(solid):
        return None
    # BRepCheck passes some treated parts whose faces do not triangulate to the solid (a corner
    # patch off its boundary): the mesh of the treated part must be a closed volume of its volume.
    from cad.mesh import DEFAULT_TOLERANCE_MM, check_mesh

    mesh = check_mesh(tessellate(out, DEFAULT_TOLERANCE_MM))
    if not mesh.is_volume or abs(mesh.volume_mm3 - vol) > _curved_area(out) * DEFAULT_TOLERANCE_MM + 1e-6 * vol + 1e-9:
        return None
    return _solids(out)[0]


def _treat_all(solids: list, z_top: float, size: float, kind: str, what: str, warnings: list,
               rounded=None, isolate: bool = False) -> list:
    """Edge-treat each solid; where OpenCASCADE fails, leave that part's edges sharp and warn.

    ``rounded(i)``, when given, is solid ``i`` with its convex corners rounded (:func:`_rounded_prism`),
    or None: tried where the solid as it is cannot be treated. ``isolate``: treat in child processes
    (:mod:`cad._edge_worker`; traced outlines can crash OpenCASCADE's fillet builder).
    """
    if size <= 0:
        return solids

    def treat(parts: list) -> list:
        if isolate:
            from cad._edge_worker import treat_isolated

            return treat_isolated(parts, z_top, size, kind)
        return [_edge_treat(part, z_top, size, kind) for part in parts]

    def small(part) -> bool:
        return len(_top_edges(part, z_top)) <= MAX_TREATED_EDGES

    res: list = [None] * len(solids)
    todo = [i for i, part in enumerate(solids) if small(part)]
    for i, t in zip(todo, treat([solids[i] for i in todo])):
        res[i] = t
    rounded_n = 0
    if rounded is not None:
        retry = {}
        for i in (i for i, t in enumerate(res) if t is None):
            part = rounded(i)
            if part is not None and small(part):
                retry[i] = part
        for i, t in zip(retry, treat(list(retry.values()))):
            if t is not None:
                res[i] = t
                rounded_n += 1
    skipped = sum(t is None for t in res)
    if rounded_n:
        warnings.append(f"the convex corners of {rounded_n} {what} part(s) were rounded to "
                        f"{ROUND_CORNERS_FACTOR * size:g} mm so that the {size:g} mm {kind} fits along them")
    if skipped:
        warnings.append(f"OpenCASCADE could not {kind} {skipped} of {len(solids)} {what} part(s) at {size:g} mm "
                        "(curves too fine or features too thin); their top edges were left sharp")
    return [s_ if t is None else t for s_, t in zip(solids, res)]


#: Parts with more top edges than this are not chamfered/filleted (OCC takes seconds and usually fails).
MAX_TREATED_EDGES = 400
#: A traced outline rounds a sharp corner with a curve far tighter than any chamfer or fillet, which
#: OpenCASCADE then cannot follow. Such a part is treated again with its convex corners rounded to
#: this many times the size (an opening of its footprint) ...
ROUND_CORNERS_FACTOR = 1.3
#: ... refitted with Béziers within this (mm) ...
ROUND_FIT_MM = 0.005
#: ... when that keeps its holes and one piece, and at least this fraction of its area.
ROUND_KEEP_AREA = 0.99


def _rounded_prism(region, size: float, z0: float, h: float):
    """The prism of ``region`` with its convex corners rounded to ``ROUND_CORNERS_FACTOR * size``, or None
    when the rounding would change the part (a piece thinner than that vanishes, splits off or closes a hole)."""
    from cad.geometry import fit_arc
    from cad.regions import Region, Ring
    from cad.solid import _face

    flat = ROUND_FIT_MM / 2
    poly = Polygon(region.shell.flatten(flat), [hole.flatten(flat) for hole in region.holes])
    r = ROUND_CORNERS_FACTOR * size
    opened = poly.buffer(-r, quad_segs=32).buffer(r, quad_segs=32)
    if (opened.geom_type != "Polygon" or len(opened.interiors) != len(region.holes)
            or opened.area < ROUND_KEEP_AREA * poly.area):
        return None
    opened = shapely.orient_polygons(opened, exterior_cw=False)

    def ring(coords, ccw: bool):
        p = np.asarray(coords)
        return Ring(*fit_arc(p, ROUND_FIT_MM)).oriented(ccw=ccw)  # (a closed run: first point = last)

    try:
        face = _face(Region(ring(opened.exterior.coords, True), tuple(ring(q.coords, False) for q in opened.interiors)))
    except Exception:  # noqa: BLE001 - OCC refuses the refitted outline: the part stays as it is
        return None
    return _prism(face, z0, h)


# --------------------------------------------------------------------------- 2D layout

@dataclass(slots=True)
class _Plate:
    kind: str
    poly: object                       # shapely outline of the plate (fine polyline)
    params: tuple = ()
    tab: object = None                 # shapely tab added for the hole
    extra: list = field(default_factory=list)

    def faces(self, inset: float = 0.0) -> list:
        """Exact OCC face(s) of the plate outline, offset inwards by ``inset`` (without the tab)."""
        if self.kind == "rect":
            x0, y0, x1, y1 = self.params
            return [_rect_face(x0 + inset, y0 + inset, x1 - inset, y1 - inset)]
        if self.kind == "rounded":
            x0, y0, x1, y1, r = self.params
            return [_rounded_face(x0 + inset, y0 + inset, x1 - inset, y1 - inset, max(r - inset, 0.0))]
        if self.kind in ("circle", "ellipse"):
            a, b = self.params
            return [_ellipse_face(a - inset, b - inset)]
        return _poly_faces(self.poly.buffer(-inset, quad_segs=16) if inset else self.poly)

    def inner_poly(self, inset: float):
        if self.kind == "rect":
            x0, y0, x1, y1 = self.params
            return box(x0 + inset, y0 + inset, x1 - inset, y1 - inset)
        if self.kind in ("circle", "ellipse"):
            a, b = self.params
            return _ellipse_poly(a - inset, b - inset)
        return self.poly.buffer(-inset, quad_segs=16)


def _ellipse_poly(a, b, n=256):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return Polygon(np.c_[a * np.cos(t), b * np.sin(t)])


def _rounded_poly(x0, y0, x1, y1, r):
    r = min(r, 0.5 * (x1 - x0), 0.5 * (y1 - y0))
    if r <= 1e-6:
        return box(x0, y0, x1, y1)
    return box(x0 + r, y0 + r, x1 - r, y1 - r).buffer(r, quad_segs=32)


def _plate_outline(kind: str, art, margin: float, corner: float | None) -> _Plate:
    x0, y0, x1, y1 = art.bounds
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    if kind == "rect":
        p = (x0 - margin, y0 - margin, x1 + margin, y1 + margin)
        return _Plate("rect", box(*p), p)
    if kind == "rounded":
        p = (x0 - margin, y0 - margin, x1 + margin, y1 + margin)
        r = corner if corner is not None else min(5.0, 0.25 * min(p[2] - p[0], p[3] - p[1]))
        return _Plate("rounded", _rounded_poly(*p, r), (*p, r))
    hull = np.asarray(art.convex_hull.exterior.coords) - (cx, cy)
    if kind == "circle":
        r = float(np.hypot(*hull.T).max()) + margin
        return _Plate("circle", _ellipse_poly(r, r), (r, r))
    if kind == "ellipse":
        hw, hh = max(0.5 * (x1 - x0), 1e-6), max(0.5 * (y1 - y0), 1e-6)
        s = float(np.sqrt((hull[:, 0] / hw) ** 2 + (hull[:, 1] / hh) ** 2).max())
        a, b = s * hw + margin, s * hh + margin
        return _Plate("ellipse", _ellipse_poly(a, b), (a, b))
    if kind == "contour":
        sil = shapely.union_all([Polygon(p.exterior) for p in _polys(art)])
        poly = sil.buffer(margin, quad_segs=16)
        parts = _polys(poly)
        if len(parts) > 1:  # islands further apart than twice the margin: close the gaps
            d = margin
            while len(_polys(poly)) > 1 and d < 1e4:
                d *= 2
                poly = sil.buffer(margin + d, quad_segs=16).buffer(-d, quad_segs=16)
        poly = Polygon(max(_polys(poly), key=lambda q: q.area).exterior)
        return _Plate("contour", poly.simplify(OUTLINE_SIMPLIFY_MM, preserve_topology=True))
    raise InvalidInputError(f"unknown plate {kind!r}")


def _polys(geom) -> list:
    if geom is None or geom.is_empty:
        return []
    if geom.geom_type == "Polygon":
        return [geom]
    return [p for g in getattr(geom, "geoms", []) for p in _polys(g)]


def _place_hole(plate: _Plate, art, prod: ProductOptions, warnings: list):
    """Centre of the hole and, when the plate has no room for it, a tab (shapely) that holds it."""
    r = prod.hole_mm / 2
    ring = max(1.5, 2 * prod.nozzle_mm, 0.5 * r)  # material kept around the hole
    keep_out = art.buffer(r + prod.hole_clearance_mm, quad_segs=16)
    if prod.hole_at is not None:
        c = Point(prod.hole_at)
        if c.buffer(r).intersects(art):
            warnings.append(f"the hole at {prod.hole_at[0]:g},{prod.hole_at[1]:g} cuts into the artwork")
        if plate.poly.buffer(-ring).contains(c):
            return c, None
        return c, _tab(plate, c, r + ring)
    inner = plate.inner_poly(prod.rim_mm) if prod.rim_mm else plate.poly
    room = inner.buffer(-(r + ring), quad_segs=16).difference(keep_out)
    if not room.is_empty and room.area > 1e-6:
        top = room.bounds[3]
        band = room.intersection(box(room.bounds[0] - 1, top - max(0.5, 0.05 * r), room.bounds[2] + 1, top + 1))
        if band.is_empty:
            band = room
        from shapely.ops import nearest_points

        c = nearest_points(band, Point(0.0, top))[0]
        return c, None
    # no room on the plate: a tab above the artwork, at its centre line
    x = 0.0
    strip = keep_out.intersection(box(x - 1e-3, -1e6, x + 1e-3, 1e6))
    y = (strip.bounds[3] if not strip.is_empty else keep_out.bounds[3])
    return Point(x, y), _tab(plate, Point(x, y), r + ring)


def _tab(plate: _Plate, c: Point, R: float):
    """A disc of radius ``R`` at ``c`` joined to the plate by a straight strip."""
    from shapely.ops import nearest_points

    disc = c.buffer(R, quad_segs=32)
    if plate.poly.contains(disc):
        return None
    p = nearest_points(plate.poly, c)[0]
    v = np.array([p.x - c.x, p.y - c.y])
    n = float(np.hypot(*v))
    if n < 1e-9:
        return disc
    u = v / n
    far = np.array([c.x, c.y]) + u * (n + R)  # overlap the plate by R
    strip = shapely.LineString([(c.x, c.y), tuple(far)]).buffer(R, cap_style="flat")
    return shapely.union_all([disc, strip])


def _bridges(material, width: float, within) -> tuple[object, list]:
    """Join every island of ``material`` to the rest with straight bridges ``width`` wide; returns (material, bridges)."""
    from shapely.ops import nearest_points

    bridges = []
    for _ in range(4 * len(_polys(material)) + 4):
        parts = sorted(_polys(material), key=lambda q: -q.area)
        if len(parts) <= 1:
            return material, bridges
        island = parts[-1]
        rest = shapely.union_all(parts[:-1])
        a, b = nearest_points(island, rest)
        v = np.array([b.x - a.x, b.y - a.y])
        n = float(np.hypot(*v))
        u = v / n if n > 1e-12 else np.array([1.0, 0.0])
        ext = max(width, 0.5)  # reach into both pieces so the bridge fuses with them
        p0 = np.array([a.x, a.y]) - u * ext
        p1 = np.array([b.x, b.y]) + u * ext
        bar = shapely.LineString([tuple(p0), tuple(p1)]).buffer(width / 2, cap_style="flat").intersection(within)
        bridges.append(bar)
        material = shapely.union_all([material, bar])
    raise SolidError("could not hold every island of the stencil with bridges")


def _silhouette(art, wall: float):
    """Outer silhouette for a cookie cutter: holes ignored, islands merged by a closing; returns (polygon, merged)."""
    shells = shapely.union_all([Polygon(p.exterior) for p in _polys(art)])
    if len(_polys(shells)) == 1:
        return Polygon(_polys(shells)[0].exterior), False
    d = max(wall, 0.5)
    sil = shells
    while len(_polys(sil)) > 1 and d < 1e4:
        sil = shells.buffer(d, quad_segs=16).buffer(-d, quad_segs=16)
        d *= 1.5
    sil = max(_polys(sil), key=lambda q: q.area)
    return Polygon(sil.exterior).simplify(OUTLINE_SIMPLIFY_MM, preserve_topology=True), True


def _translate_regions(regions, dx: float, dy: float):
    from cad.regions import Region, Regions, Ring

    if dx == 0 and dy == 0:
        return regions

    def mv(r: Ring) -> Ring:
        c = r.ctrl.copy()
        c[..., 0] += dx
        c[..., 1] += dy
        return Ring(c, r.is_line, r.exact)

    regs = tuple(Region(mv(g.shell), tuple(mv(h) for h in g.holes)) for g in regions.regions)
    geom = shapely.affinity.translate(regions.geometry, dx, dy)
    return Regions(regions=regs, geometry=geom, px_mm=regions.px_mm, report=regions.report)


# --------------------------------------------------------------------------- the product

def build_product(regions, options, warnings: list):
    """The product's exact B-rep as a :class:`cad.solid.Solid` (one solid), checked with BRepCheck.

    ``regions`` is the artwork; ``options.thickness_mm`` its height (emboss),
    the wall height (cutter) or ignored (deboss, stencil).
    """
    import shapely.affinity  # noqa: F401

    from cad.solid import extrude, shape_volume

    prod: ProductOptions = options.product
    h = options.thickness_mm
    base = prod.base_thickness_mm
    art = regions.geometry
    rep: dict = {}

    if prod.style == "cutter":
        return _cookie_cutter(regions, prod, h, warnings)

    plate = _plate_outline(prod.plate, art, prod.margin_mm, prod.corner_radius_mm) if prod.plate != "none" else None
    hole = tab = None
    if prod.hole_mm > 0:
        if plate is None:
            plate_for_hole = _Plate("contour", art.convex_hull)
        else:
            plate_for_hole = plate
        hole, tab = _place_hole(plate_for_hole, art, prod, warnings)
        if plate is None:
            raise InvalidInputError("--hole needs a plate (--plate rect, rounded, circle, ellipse or contour)")
    footprint = plate.poly if plate is not None else art
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
        comp = _complement_faces(plate.faces(), regions)
    if comp is not None:
        if prod.style == "stencil":
            parts += [_prism(f, 0.0, base) for f in comp]
        else:
            parts += [_prism(f, 0.0, base - prod.depth_mm) for f in plate.faces()]
            parts += [_prism(f, base - prod.depth_mm, prod.depth_mm) for f in comp]
    if plate is not None and comp is None:
        plate_solids = [_prism(f, 0.0, base) for f in plate.faces()]
        if tab is not None:
            plate_solids += [_prism(f, 0.0, base) for f in _poly_faces(tab)]
            plate_solids = _solids(_unify(_fuse(plate_solids, "join the hole's tab to the plate")))
        kind = "chamfer" if prod.chamfer_mm else "fillet"
        if treat and not prod.rim_mm:
            plate_solids = _treat_all(plate_solids, base, treat, kind, "plate", warnings,
                                      isolate=plate.kind == "contour")
        parts += plate_solids
    if plate is not None:
        kind = "chamfer" if prod.chamfer_mm else "fillet"
        if prod.rim_mm:
            outer = plate.faces()
            inner = plate.faces(prod.rim_mm)
            rim = _cut(_fuse([_prism(f, base, h) for f in outer]), [_prism(f, base - 1.0, h + 2.0) for f in inner],
                       "cut the rim")
            rim_solids = _solids(rim)
            if treat:
                rim_solids = _treat_all(rim_solids, base + h, treat, kind, "rim", warnings,
                                        isolate=plate.kind == "contour")
            parts += rim_solids
    # artwork
    cut_tools = []
    if prod.style == "emboss":
        z0 = base if plate is not None else 0.0
        art_solids = _solids(extrude(regions, thickness_mm=h, z0_mm=z0).shape)
        treat = prod.chamfer_mm or prod.fillet_mm
        if treat:
            by_region = len(art_solids) == len(regions.regions)  # (one prism per region, in order)
            art_solids = _treat_all(art_solids, z0 + h, treat, "chamfer" if prod.chamfer_mm else "fillet",
                                    "artwork", warnings,
                                    rounded=(lambda i: _rounded_prism(regions.regions[i], treat, z0, h))
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
    shape = _fuse(parts) if len(parts) > 1 else parts[0]
    if cut_tools:
        shape = _cut(shape, cut_tools, "cut the artwork into the plate")
    if prod.style == "stencil":
        material = footprint.difference(art)
        _, bars = _bridges(material, prod.bridge_mm, footprint)
        if bars:
            bar_faces = [f for b in bars for f in _poly_faces(b)]
            shape = _fuse([shape] + [_prism(f, 0.0, base) for f in bar_faces], "fuse the stencil bridges")
        rep["bridges"] = len(bars)
    if hole is not None:
        shape = _cut(shape, [_cylinder(hole.x, hole.y, prod.hole_mm / 2, -1.0, top_art + 2.0)], "drill the hole")
        rep["hole_xy_mm"] = [round(hole.x + dx, 4), round(hole.y + dy, 4)]
        rep["hole_mm"] = prod.hole_mm
        rep["hole_tab"] = tab is not None
    shape = _unify(shape)
    if dx or dy:
        shape = _move(shape, dx, dy)
    # without a plate (only a chamfer or fillet asked for) each island of the artwork stays its own body
    return _finish(shape, rep, footprint, dx, dy, bodies=1 if plate is not None else len(regions.regions))


def _complement_faces(plate_faces: list, regions):
    """Faces of (plate minus artwork) with the artwork's exact rings, or ``None`` when OCC rejects them.

    The plate face gets every artwork shell as a hole; every artwork hole becomes a face of its own,
    with the artwork islands directly inside it as its holes.
    """
    from OCP.BRepBuilderAPI import BRepBuilderAPI_MakeFace
    from OCP.BRepTools import BRepTools
    from OCP.TopoDS import TopoDS

    from cad.solid import _wire, is_valid_shape

    if len(plate_faces) != 1:
        return None
    regs = regions.regions
    tol = 1e-3
    holes = [(i, h, Polygon(h.flatten(tol))) for i, r in enumerate(regs) for h in r.holes]
    probe = [Point(*r.shell.ctrl[0, 0]) for r in regs]  # a point of the region itself (on its shell)
    parent: dict[int, int] = {}  # region -> index into holes of the smallest hole holding it
    for j, pt in enumerate(probe):
        best = None
        for k, (i, _, hp) in enumerate(holes):
            if i != j and hp.contains(pt) and (best is None or hp.area < holes[best][2].area):
                best = k
        if best is not None:
            parent[j] = best
    try:
        faces = []
        mf = BRepBuilderAPI_MakeFace(BRepTools.OuterWire_s(TopoDS.Face_s(plate_faces[0])), True)
        for j, r in enumerate(regs):
            if j not in parent:
                mf.Add(_wire(r.shell.oriented(ccw=False)))
        faces.append(mf.Face())
        for k, (_, h, _) in enumerate(holes):
            mf = BRepBuilderAPI_MakeFace(_wire(h.oriented(ccw=True)), True)
            for j, r in enumerate(regs):
                if parent.get(j) == k:
                    mf.Add(_wire(r.shell.oriented(ccw=False)))
            faces.append(mf.Face())
    except SolidError:  # an outline OCC cannot take as exact curves: use the Boolean route
        return None
    if not all(is_valid_shape(f) for f in faces):
        return None
    return faces


def _move(shape, dx, dy):
    from OCP.BRepBuilderAPI import BRepBuilderAPI_Transform

    gp = _gp()
    tr = gp.gp_Trsf()
    tr.SetTranslation(gp.gp_Vec(dx, dy, 0.0))
    return BRepBuilderAPI_Transform(shape, tr, True).Shape()


def _curved_area(shape) -> float:
    """Area (mm²) of the shape's faces that are not planes.

    Only curved faces can stray from their triangles (a planar face's mesh lies in its plane), so a
    mesh volume check allows (this area) x chord tolerance (:func:`mesh_volume_tolerance`)."""
    from OCP.BRepAdaptor import BRepAdaptor_Surface
    from OCP.BRepGProp import BRepGProp
    from OCP.GeomAbs import GeomAbs_Plane
    from OCP.GProp import GProp_GProps
    from OCP.TopAbs import TopAbs_FACE
    from OCP.TopExp import TopExp_Explorer
    from OCP.TopoDS import TopoDS

    curved = 0.0
    ex = TopExp_Explorer(shape, TopAbs_FACE)
    while ex.More():
        f = TopoDS.Face_s(ex.Current())
        ex.Next()
        if BRepAdaptor_Surface(f).GetType() != GeomAbs_Plane:
            props = GProp_GProps()
            BRepGProp.SurfaceProperties_s(f, props)
            curved += float(props.Mass())
    return curved


def _finish(shape, rep: dict, footprint, dx: float, dy: float, bodies: int = 1):
    """Check the product and wrap it: ``bodies`` separate solids (one, unless the artwork stands alone)."""
    from cad.solid import Solid, compound, face_count, is_valid_shape, shape_volume

    solids = _solids(shape)
    if len(solids) != bodies:
        want = "one" if bodies == 1 else str(bodies)
        raise SolidError(f"the product came out as {len(solids)} separate solids instead of {want}")
    shape = compound(solids)
    if not is_valid_shape(shape):
        raise SolidError("the product fails OpenCASCADE's BRepCheck")
    vol = shape_volume(shape)
    fx0, fy0, fx1, fy1 = footprint.bounds
    rep.update({"footprint_mm": [round(fx1 - fx0, 4), round(fy1 - fy0, 4)], "offset_mm": [round(dx, 6), round(dy, 6)],
                "_curved_mm2": _curved_area(shape), "_footprint": footprint})
    return Solid(shape=shape, volume_mm3=vol, faces=face_count(shape), solids=len(solids), report=rep)


def _cookie_cutter(regions, prod: ProductOptions, h: float, warnings: list):
    """A thin wall (``wall_mm``, height ``h``) along the outer silhouette and a flange (``flange_mm``) at its foot."""
    from cad.regions import Region, Ring
    from cad.solid import _face

    art = regions.geometry
    sil, merged = _silhouette(art, prod.wall_mm)
    if merged:
        warnings.append("cookie cutter: separate islands were merged into one silhouette")
    if not merged and len(regions.regions) == 1:
        inner = regions.regions[0].shell.oriented(ccw=False)  # exact curves on the cutting side
    else:
        inner = Ring.from_points(np.asarray(sil.exterior.coords)).oriented(ccw=False)

    def ring_face(offset):
        out = sil.buffer(offset, quad_segs=16, join_style="round")
        out = Polygon(max(_polys(out), key=lambda q: q.area).exterior).simplify(OUTLINE_SIMPLIFY_MM, preserve_topology=True)
        shell = Ring.from_points(np.asarray(out.exterior.coords)).oriented(ccw=True)
        return _face(Region(shell, (inner,))), out

    wall_face, _ = ring_face(prod.wall_mm)
    flange_face, outline = ring_face(prod.wall_mm + prod.flange_mm)
    flange_h = min(prod.base_thickness_mm, h)
    shape = _fuse([_prism(wall_face, 0.0, h), _prism(flange_face, 0.0, flange_h)], "join the cutter wall and flange")
    shape = _unify(shape)
    fx0, fy0, fx1, fy1 = outline.bounds
    dx, dy = -0.5 * (fx0 + fx1), -0.5 * (fy0 + fy1)
    if abs(dx) < 1e-9 and abs(dy) < 1e-9:
        dx = dy = 0.0
    if dx or dy:
        shape = _move(shape, dx, dy)
    rep = {"wall_mm": prod.wall_mm, "flange_mm": prod.flange_mm, "height_mm": h, "merged_islands": merged}
    return _finish(shape, rep, outline, dx, dy)


# --------------------------------------------------------------------------- B-rep -> mesh

def tessellate(shape, tolerance_mm: float):
    """Triangulate the B-rep at the chord tolerance into one welded, outward-wound :class:`cad.mesh.Mesh`.

    Vertices are shared through the topology: every node on an edge gets the
    id of (edge, position along the edge), every node on a vertex the
    vertex's id, so the faces meeting at an edge use the same vertices and the
    mesh is watertight exactly where the B-rep is closed.
    """
    from OCP.BRep import BRep_Tool
    from OCP.BRepMesh import BRepMesh_IncrementalMesh
    from OCP.TopAbs import TopAbs_EDGE, TopAbs_FACE, TopAbs_REVERSED, TopAbs_VERTEX
    from OCP.TopExp import TopExp, TopExp_Explorer
    from OCP.TopLoc import TopLoc_Location
    from OCP.TopoDS import TopoDS
    from OCP.TopTools import TopTools_IndexedMapOfShape

    from cad.mesh import Mesh

    mesher = BRepMesh_IncrementalMesh(shape, float(tolerance_mm), False, 0.35, True)
    mesher.Perform()
    vmap, emap = TopTools_IndexedMapOfShape(), TopTools_IndexedMapOfShape()
    TopExp.MapShapes_s(shape, TopAbs_VERTEX, vmap)
    TopExp.MapShapes_s(shape, TopAbs_EDGE, emap)
    vpts = np.array([[BRep_Tool.Pnt_s(TopoDS.Vertex_s(vmap.FindKey(i))).Coord()[k] for k in range(3)]
                     for i in range(1, vmap.Extent() + 1)]) if vmap.Extent() else np.zeros((0, 3))
    keys: dict = {}
    coords: list = []

    def gid(key, xyz):
        i = keys.get(key)
        if i is None:
            i = keys[key] = len(coords)
            coords.append(xyz)
        return i

    tris = []
    ex = TopExp_Explorer(shape, TopAbs_FACE)
    fi = 0
    while ex.More():
        face = TopoDS.Face_s(ex.Current())
        ex.Next()
        fi += 1
        loc = TopLoc_Location()
        tri = BRep_Tool.Triangulation_s(face, loc)
        if tri is None:
            raise SolidError("OpenCASCADE could not triangulate a face of the solid")
        trsf = loc.Transformation()
        n = tri.NbNodes()
        pts = np.empty((n, 3))
        for i in range(1, n + 1):
            p = tri.Node(i).Transformed(trsf)
            pts[i - 1] = (p.X(), p.Y(), p.Z())
        ids = np.full(n, -1, dtype=np.int64)
        eex = TopExp_Explorer(face, TopAbs_EDGE)
        while eex.More():
            edge = TopoDS.Edge_s(eex.Current())
            eex.Next()
            if BRep_Tool.Degenerated_s(edge):
                continue
            poly = BRep_Tool.PolygonOnTriangulation_s(edge, tri, loc)
            if poly is None:
                raise SolidError("OpenCASCADE left an edge of the solid without a discretisation")
            ei = emap.FindIndex(edge)
            nodes = poly.Nodes()
            params = poly.Parameters() if poly.HasParameters() else None
            m = nodes.Length()
            order = list(range(1, m + 1))
            if params is not None and m > 1 and params.Value(1) > params.Value(m):
                order.reverse()
            v1, v2 = TopExp.FirstVertex_s(edge), TopExp.LastVertex_s(edge)
            vi = [vmap.FindIndex(v1) - 1, vmap.FindIndex(v2) - 1]
            for k, j in enumerate(order):
                node = nodes.Value(j) - 1
                if k == 0 or k == m - 1:
                    p = pts[node]
                    v = min(vi, key=lambda q: float(np.sum((vpts[q] - p) ** 2)))
                    ids[node] = gid(("v", v), vpts[v])
                else:
                    ids[node] = gid(("e", ei, k), pts[node])
        for i in range(n):
            if ids[i] < 0:
                ids[i] = gid(("f", fi, i), pts[i])
        nt = tri.NbTriangles()
        t = np.empty((nt, 3), dtype=np.int64)
        for i in range(1, nt + 1):
            a, b, c = tri.Triangle(i).Get()
            t[i - 1] = (a - 1, b - 1, c - 1)
        t = ids[t]
        if face.Orientation() == TopAbs_REVERSED:
            t = t[:, ::-1]
        tris.append(t)
    faces = np.concatenate(tris) if tris else np.zeros((0, 3), dtype=np.int64)
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])]
    return Mesh(np.asarray(coords, dtype=np.float64), faces)


def mesh_volume_tolerance(solid, tolerance_mm: float) -> float:
    """How far the tessellated volume may stray: every point of a curved face within the chord tolerance."""
    # plus the float32 rounding of STL/3MF coordinates (relative 6e-8 each)
    return float(solid.report.get("_curved_mm2", 0.0)) * tolerance_mm + 1e-6 * abs(solid.volume_mm3) + 1e-9


# --------------------------------------------------------------------------- presets for the batch manifest, preview

def apply_preset(options, name: str):
    """``options`` with preset ``name`` applied (used by the batch manifest's ``preset`` column).

    The preset sets the product, the artwork height and the mirror; the
    nozzle, --min-feature and preview settings already given are kept.
    """
    if name not in PRESETS:
        raise InvalidInputError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    base = dict(PRESETS[name])
    keep = {}
    if options.product is not None:
        keep = {k: getattr(options.product, k) for k in ("nozzle_mm", "min_feature_mm", "preview")}
    prod = ProductOptions(preset=name, **{k: v for k, v in base.items() if k not in ("thickness_mm", "mirror")}, **keep)
    return replace(options, product=prod, thickness_mm=base.get("thickness_mm", options.thickness_mm),
                   mirror=options.mirror or bool(base.get("mirror")))


def write_preview(conv, out_dir, stem: str):
    """``OUTDIR/<stem>.thin.png``: the artwork (dark) on the plate (grey), thin features circled red, gaps blue."""
    from pathlib import Path

    from cad.printability import write_preview as draw

    report = conv.regions.report.get("printability", {})
    outline = None
    if conv._solid is not None:
        rep = conv._solid.report
        outline = rep.get("_footprint")
        if outline is not None and rep.get("hole_xy_mm"):
            (hx, hy), (dx, dy) = rep["hole_xy_mm"], rep["offset_mm"]
            outline = outline.difference(Point(hx - dx, hy - dy).buffer(rep["hole_mm"] / 2, quad_segs=32))
    return draw(conv.regions.geometry, report, Path(out_dir) / f"{stem}.thin.png", outline=outline)
