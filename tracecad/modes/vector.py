"""Vector sources (an SVG, or text set in a font): their exact curves -> regions -> the extrude or colour mode's
solids and files. Nothing is rasterised or traced.

:func:`build_vector` and :func:`build_vector_colours` make the same in-memory results as
:func:`tracecad.modes.extrude.build` and :func:`tracecad.modes.colours.build_multicolor`, so the
products, the checks and the writers are theirs.
"""

from __future__ import annotations

import os
import time

import shapely
from shapely.geometry import MultiPolygon

from cad.dxf_input import dxf_art, looks_like_dxf
from cad.plates import plate_outline
from cad.regions import CONTACT_GAP_MM, Regions, regions_from_polygons
from cad.vector.art import Art, art_partition, art_regions
from cad.vector.svg import read_svg
from tracecad.modes import product as product_mode
from tracecad.modes.colours import ColorBody, MultiConversion, printer_setup, write_multicolor
from tracecad.modes.common import report_entry, source_name, source_stem
from tracecad.modes.extrude import Conversion, write_outputs
from tracecad.options import ConvertOptions, parse_layer_heights
from tracer.errors import GeometryError, InvalidInputError

__all__ = ["read_art", "build_vector", "build_vector_colours", "convert_vector"]


def read_art(source, options: ConvertOptions, name: str) -> Art:
    """The SVG ``source`` (a path or bytes), or a DXF file, as artwork, within the segment budget of ``options``."""
    if looks_like_dxf(source):
        return dxf_art(source, name=name, max_segments=options.trace.max_segments)
    return read_svg(source, name=name, max_segments=options.trace.max_segments)


def _check_options(options: ConvertOptions, name: str) -> None:
    if options.mode != "extrude":
        raise InvalidInputError(f"{name}: --mode {options.mode} works on a picture's pixels; a vector source "
                                "is extruded (convert a render of it instead)")
    if options.photo.active or options.isolate.keep != "all":
        raise InvalidInputError(f"{name}: --crop, --perspective, --pick and --keep work on a photo's pixels; "
                                "a vector source has none (edit the drawing, or convert a render of it)")


def _size(options: ConvertOptions) -> dict:
    return dict(width_mm=options.width_mm, height_mm=options.height_mm, px_mm=options.px_mm,
                min_area_mm2=options.min_area_mm2, mirror=options.mirror)


def _notes(regions: Regions, options: ConvertOptions, caught: list[str]) -> None:
    rep = regions.report
    if rep.get("dropped_islands") or rep.get("dropped_holes"):
        caught.append(f"dropped {rep.get('dropped_islands', 0)} speck(s) and filled {rep.get('dropped_holes', 0)} "
                      f"pinhole(s) smaller than {options.min_area_mm2} mm²")
    if rep.get("contacts"):
        caught.append(f"separated {rep['contacts']} point(s) where the outline touches itself by a "
                      f"{CONTACT_GAP_MM:g} mm gap, so that the solid is manifold")
    if rep.get("repaired"):
        caught.append(f"repaired {rep['repaired']} self-intersecting, overlapping or touching region(s) as polylines")


def build_vector(art: Art, options: ConvertOptions, *, name: str | None = None) -> Conversion:
    """The union of what ``art`` paints as one extruded part (with its product, if any); solid and mesh on demand."""
    name = name or art.name or "<vector>"
    _check_options(options, name)
    timings: dict[str, float] = {}
    caught = list(art.warnings)
    t = time.perf_counter()
    try:
        regions = art_regions(art, **_size(options))
    except GeometryError as exc:
        raise GeometryError(f"{name}: {exc}") from None
    timings["regions"] = time.perf_counter() - t
    _notes(regions, options, caught)
    if options.product is not None:
        t = time.perf_counter()
        regions = product_mode.prepare(regions, options.product, caught)
        timings["printability"] = time.perf_counter() - t
    return Conversion(name=name, options=options, mask=None, outlines=None, regions=regions, timings=timings,
                      warnings=caught)


def build_vector_colours(art: Art, options: ConvertOptions, *, name: str | None = None, stem: str = "part"
                         ) -> MultiConversion:
    """One body per fill colour, in paint order (a later shape covers an earlier one); ``--plate`` adds a base."""
    name = name or art.name or "<vector>"
    _check_options(options, name)
    if isinstance(options.colors, int) and not isinstance(options.colors, bool):
        raise InvalidInputError(f"{name}: a vector source has its own colours; use --colors auto")
    caught = list(art.warnings)
    t = time.perf_counter()
    try:
        parts, union = art_partition(art, **_size(options))
    except GeometryError as exc:
        raise GeometryError(f"{name}: {exc}") from None
    timings = {"regions": time.perf_counter() - t}
    if options.max_colors is not None and len(parts) > options.max_colors:
        raise InvalidInputError(f"{name}: the drawing has {len(parts)} fill colours ({', '.join(c for c, _ in parts)}), "
                                f"more than --max-colors {options.max_colors}; recolour it, or raise --max-colors")
    heights = _heights(options, [c for c, _ in parts])
    bodies: list[ColorBody] = []
    for (color, regs), h in zip(parts, heights):
        _notes(regs, options, caught)
        bodies.append(ColorBody(name=f"{stem}_{len(bodies) + 1}_{color[1:]}", color=color, regions=regs, z0_mm=0.0,
                                height_mm=h, tolerance_mm=options.tolerance_mm))
    prod = options.product
    if prod is not None and prod.plate != "none":
        outline = plate_outline(prod.plate, union.geometry, prod.margin_mm, prod.corner_radius_mm).poly
        geom = shapely.orient_polygons(MultiPolygon([p for p in shapely.get_parts(outline) if p.area > 0]),
                                       exterior_cw=False)
        base = Regions(regions=tuple(regions_from_polygons(outline)), geometry=geom, px_mm=union.px_mm, report={})
        for b in bodies:
            b.z0_mm = prod.base_thickness_mm
        bodies.insert(0, ColorBody(name=f"{stem}_base_808080", color="#808080", regions=base, z0_mm=0.0,
                                   height_mm=prod.base_thickness_mm, tolerance_mm=options.tolerance_mm, is_base=True))
    setup = printer_setup(options, bodies, union)  # extruders, or colour changes (restacked bodies)
    bodies = setup.pop("bodies")
    caught += setup.pop("warnings")
    setup["merged_colors"] = []
    return MultiConversion(name=name, options=options, labels=None, bodies=bodies, union_mm=union.geometry,
                           px_mm=union.px_mm, timings=timings, warnings=caught,
                           info={"colours": len(parts), "printer": setup})


def _heights(options: ConvertOptions, colors: list[str]) -> list[float]:
    spec = parse_layer_heights(options.layer_heights)
    if not spec:
        return [options.thickness_mm] * len(colors)
    if not isinstance(spec[0], tuple):
        if len(spec) > len(colors):
            raise InvalidInputError(f"--layer-heights lists {len(spec)} heights but the drawing has "
                                    f"{len(colors)} colour(s): {', '.join(colors)}")
        return [float(spec[i]) if i < len(spec) else options.thickness_mm for i in range(len(colors))]
    by = {k: v for k, v in spec}
    missing = [k for k in by if k not in colors]
    if missing:
        raise InvalidInputError(f"--layer-heights: the drawing has no fill {', '.join(missing)} "
                                f"(its colours are {', '.join(colors)})")
    return [by.get(c, options.thickness_mm) for c in colors]


def convert_vector(source, out_dir: str | os.PathLike[str], options: ConvertOptions, *, stem: str | None = None,
                   name: str | None = None, art: Art | None = None) -> dict:
    """Build, write and report one vector input (``art``, or the SVG ``source``): the extrude or colour
    mode's report entry."""
    t0 = time.perf_counter()
    name = source_name(source, name)
    stem = source_stem(source) if stem is None else stem
    if art is None:
        t = time.perf_counter()
        art = read_art(source, options, name)
        load_s = time.perf_counter() - t
    else:
        load_s = 0.0
    if options.colors is not None:
        multi = build_vector_colours(art, options, name=name, stem=stem)
        multi.timings["load"] = load_s
        outputs = write_multicolor(multi, out_dir, stem)
        flat: dict[str, str] = {}
        for k, v in outputs.items():
            if isinstance(v, list):
                flat.update({f"{k}:{b.name}": str(p) for b, p in zip(multi.bodies, v)})
            else:
                flat[k] = str(v)
        report = multi.report()
        for c, b in zip(report["colors"], multi.bodies):
            c["outputs"] = {k.split(":")[0]: p for k, p in flat.items() if k.endswith(":" + b.name)}
        report["source"] = "vector"
        if report["overlap_mm2"] > 1e-6 * max(report["area_mm2"], 1e-9):  # (a region repaired as a polyline)
            multi.warnings.append(f"colour bodies overlap by {report['overlap_mm2']:.6f} mm²")
        return report_entry(multi.name, flat, report, multi.warnings, multi.timings, t0)
    conv = build_vector(art, options, name=name)
    conv.timings["load"] = load_s
    written = write_outputs(conv, out_dir, stem)
    outs = {k: str(v) for k, v in written.items()}
    if options.product is not None and options.product.preview:
        outs["thin_png"] = str(product_mode.write_thin_png(conv.regions, conv.solid_built, out_dir, stem))
    report = conv.report()
    report["source"] = "vector"
    return report_entry(conv.name, outs, report, conv.warnings, conv.timings, t0)
