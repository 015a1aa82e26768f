"""The product mode's application side: the printability check before the build, the report fields,
and the thin-feature preview. The product itself (plate, hole, rim, edges, stencil, cutter) is
:func:`cad.products.build_product`, which :mod:`tracecad.modes.extrude` calls."""

from __future__ import annotations

import os
from pathlib import Path

import shapely
from shapely.geometry import Point, Polygon

from cad import printability
from cad.products import ProductOptions
from cad.regions import Regions
from cad.solid import Solid

__all__ = ["prepare", "product_report", "write_thin_png"]


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
