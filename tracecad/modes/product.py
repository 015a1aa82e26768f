"""The product mode's application side: the printability check before the build, the report fields,
the thin-feature preview and the layers of a product's drawing (DXF). The product itself (plate, hole, rim, edges, stencil, cutter) is
:func:`cad.products.build_product`, which :mod:`tracecad.modes.extrude` calls."""

from __future__ import annotations

import os
from pathlib import Path

import shapely
from shapely.geometry import Point, Polygon

from cad import printability
from cad.export import dxf
from cad.products import ProductOptions
from cad.regions import Regions
from cad.solid import Solid

__all__ = ["prepare", "product_report", "write_thin_png", "drawing_layers"]


def prepare(regions: Regions, prod: ProductOptions, warnings: list[str]) -> Regions:
    """Thicken thin strokes (``--min-feature``) and run the printability check; returns the regions to build.

    The findings are stored in ``regions.report['printability']``; warnings are appended to ``warnings``.
    """
    report = dict(regions.report)
    if prod.min_feature_mm:
        regions, n = printability.thicken_regions(regions, prod.min_feature_mm)
        report = dict(regions.report)
        if n:
            warnings.append(f"thickened {n} stroke(s) narrower than {prod.min_feature_mm:g} mm (--min-feature)")
    geometry = regions.geometry
    if prod.style == "cutter":
        # a cookie cutter follows the outer silhouette only: holes and the artwork's own strokes do not print
        geometry = shapely.union_all([Polygon(p.exterior) for p in getattr(geometry, "geoms", [geometry])])
    found = printability.analyse(geometry, nozzle_mm=prod.nozzle_mm)
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


def product_report(prod: ProductOptions, regions: Regions, solid: Solid | None) -> dict:
    """The ``--json`` fields of a product: ``product`` and ``printability`` / ``thin_features``.

    ``solid`` is the product's solid when it was built (a mesh-only run of a product builds it too)."""
    out: dict = {}
    pr = regions.report.get("printability")
    if pr is not None:
        out["printability"] = {k: v for k, v in pr.items() if k not in ("thin_features", "thin_gaps")}
        out["thin_features"] = pr["thin_features"] + pr["thin_gaps"]
    if prod.builds_solid and solid is not None:
        rep = solid.report
        out["product"] = {"preset": prod.preset, "plate": prod.plate, "style": prod.style,
                          "base_thickness_mm": prod.base_thickness_mm, "solids": solid.solids,
                          **{k: v for k, v in rep.items() if not k.startswith("_")}}
    elif prod.builds_solid:
        out["product"] = {"preset": prod.preset, "plate": prod.plate, "style": prod.style}
    return out


def write_thin_png(regions: Regions, solid: Solid | None, out_dir: str | os.PathLike[str], stem: str) -> Path:
    """``OUTDIR/<stem>.thin.png``: the artwork (dark) on the plate (grey), thin features circled red, gaps blue."""
    report = regions.report.get("printability", {})
    outline = None
    if solid is not None:
        rep = solid.report
        outline = rep.get("_footprint")
        if outline is not None and rep.get("hole_xy_mm"):
            (hx, hy), (dx, dy) = rep["hole_xy_mm"], rep["offset_mm"]
            outline = outline.difference(Point(hx - dx, hy - dy).buffer(rep["hole_mm"] / 2, quad_segs=32))
    return printability.write_preview(regions.geometry, report, Path(out_dir) / f"{stem}.thin.png", outline=outline)


def drawing_layers(regions: Regions, prod: ProductOptions, solid: Solid) -> list[dxf.Layer]:
    """The layers of a product's DXF, in the frame of its solid: the artwork (``OUTLINE``, ``HOLES``), the
    plate outline (``PLATE``) and the keychain hole (``PLATE_HOLES``), so the plate can be cut on its own.

    A rectangular, rounded, round or elliptic plate is exact; a contour plate, a plate with a tab for
    its hole and a cookie cutter's flange are the polylines the solid was built from.
    """
    rep = solid.report
    offset = rep["_offset"]
    layers = dxf.footprint_layers(regions, offset=offset)
    plate = rep.get("_plate")
    if prod.style != "cutter" and plate is None:  # (an artwork with chamfered edges only)
        return layers
    dx, dy = offset
    outline: tuple = ()
    holes: tuple = ()
    if plate is None or rep.get("_tab") is not None or plate.kind == "contour":  # (plate None: a cutter's flange)
        outline, holes = dxf.polygon_loops(rep["_footprint"], offset=offset)
    elif plate.kind in ("rect", "rounded"):
        x0, y0, x1, y1 = plate.params[:4]
        r = plate.params[4] if plate.kind == "rounded" else 0.0
        outline = (dxf.rounded_rect_loop(x0 + dx, y0 + dy, x1 + dx, y1 + dy, r),)
    else:  # circle, ellipse: centred on the origin before the offset (cad.plates.plate_outline)
        a, b = plate.params
        outline = (dxf.Circle(dx, dy, a) if abs(a - b) < 1e-9 else dxf.Ellipse(dx, dy, a, b),)
    if rep.get("_hole") is not None:
        hx, hy, hr = rep["_hole"]
        holes += (dxf.Circle(hx, hy, hr),)
    return layers + dxf.plate_layers(outline, holes)
