"""The extrude mode: image -> traced outline -> regions -> exact solid and prism mesh -> checked files.

:func:`build` runs the stages in memory (no output I/O); the mesh and the solid are built on demand,
so a mesh-only run never loads OpenCASCADE. :func:`write_outputs` writes the requested formats, all
or nothing. With a product (``options.product``) the solid is :func:`cad.products.build_product`'s
and the mesh its tessellation (:mod:`tracecad.modes.product` adds the printability check).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import tracer
from cad import checks
from cad.budget import check_brep_budget, segments_by_outer
from cad.checks import check_volume_mesh
from cad.export import dxf, parse_formats, prepare_out_dir, step, stl, svg, threemf, write_checked
from cad.mesh import Mesh, extrude_mesh
from cad.products import build_product
from cad.regions import Regions, to_regions
from cad.solid import Solid, extrude, face_types
from cad.tessellate import mesh_volume_tolerance, tessellate
from tracecad.modes import product as product_mode
from tracecad.modes.common import (
    collect_warnings,
    load_photo,
    output_paths,
    photo_report,
    report_entry,
    source_name,
    source_stem,
)
from tracecad.options import ConvertOptions
from tracer.debug import write_debug, write_or_warn
from tracer.errors import ExportError, TooComplexError, TracecadWarning
from tracer.types import Mask, Outlines

__all__ = ["Conversion", "build", "write_outputs", "finish", "convert_extrude"]


@dataclass(slots=True, eq=False)
class Conversion:
    """The in-memory result of :func:`build`: every stage's value, timings and warnings."""

    name: str
    options: ConvertOptions
    mask: Mask | None  # None for a vector source (SVG, text): nothing was traced
    outlines: Outlines | None
    regions: Regions
    timings: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    mesh_built: Mesh | None = None
    solid_built: Solid | None = None
    #: keyword arguments of :func:`cad.products.build_product` beyond the regions and options
    product_kw: dict = field(default_factory=dict)
    photo: dict = field(default_factory=dict)

    @property
    def mesh(self) -> Mesh:
        """The prism mesh at the chord tolerance (built on first use, then checked)."""
        if self.mesh_built is None:
            t = time.perf_counter()
            if self.is_product:  # tessellated B-rep of the product
                mesh = tessellate(self.solid.shape, self.options.tolerance_mm)
            else:
                mesh = extrude_mesh(self.regions, self.options.thickness_mm, tolerance_mm=self.options.tolerance_mm)
            check_volume_mesh(mesh, self.expected_volume_mm3, self.volume_tolerance_mm3, self.name)
            self.mesh_built = mesh
            self.timings["mesh"] = time.perf_counter() - t
        return self.mesh_built

    @property
    def solid(self) -> Solid:
        """The exact B-rep (built on first use: a mesh-only run never loads OCC)."""
        if self.solid_built is None:
            check_brep_budget([[ring.n_segments for ring in r.rings] for r in self.regions.regions],
                              max_segments=self.options.trace.max_segments,  # OCC's checks are quadratic per face
                              product=self.is_product)
            t = time.perf_counter()
            if self.options.product is not None and self.is_product:
                self.solid_built = build_product(self.regions, self.options.product,
                                                 thickness_mm=self.options.thickness_mm, warnings=self.warnings,
                                                 **self.product_kw)
            else:
                self.solid_built = extrude(self.regions, thickness_mm=self.options.thickness_mm)
            if self.solid_built.report.get("polyline_fallbacks"):
                self.warnings.append(f"{self.solid_built.report['polyline_fallbacks']} region(s) built from "
                                     "polylines because OpenCASCADE rejected their curves")
            self.timings["solid"] = time.perf_counter() - t
        return self.solid_built

    @property
    def is_product(self) -> bool:
        """Whether a product (plate, hole, rim, edges, stencil, cutter) is built rather than the plain prism."""
        return self.options.product is not None and self.options.product.builds_solid

    @property
    def expected_volume_mm3(self) -> float:
        if self.is_product:
            return self.solid.volume_mm3
        return self.regions.area_mm2 * self.options.thickness_mm

    @property
    def volume_tolerance_mm3(self) -> float:
        """How far a mesh volume may stray: the chord error along the whole outline, times thickness."""
        if self.is_product:
            return mesh_volume_tolerance(self.solid, self.options.tolerance_mm)
        perimeter = float(self.regions.geometry.length)
        return 1.0 * perimeter * self.options.tolerance_mm * self.options.thickness_mm + 1e-9

    def write_svg(self, tmp: Path, final: Path) -> None:
        """The SVG file: the footprint's outline, read back and checked by its area."""
        svg.write_svg(self.regions, tmp)
        area = svg.svg_area_mm2(tmp)
        if abs(area - self.regions.area_mm2) > 1e-4 * self.regions.area_mm2 + 1e-6:
            raise ExportError(f"{final.name}: the SVG reads back with area {area:.4f} mm², "
                              f"expected {self.regions.area_mm2:.4f}")

    def write_dxf(self, tmp: Path, final: Path) -> None:
        """The DXF file: the footprint's outlines (and a product's plate), read back and checked."""
        opts = self.options
        if self.is_product:  # the artwork and the plate, in the frame of the product's solid
            assert opts.product is not None
            layers = product_mode.drawing_layers(self.regions, opts.product, self.solid)
        else:
            layers = dxf.footprint_layers(self.regions)
        dxf.write_dxf(layers, tmp, curves=opts.dxf_curves, tolerance_mm=opts.tolerance_mm)
        dxf.check_dxf(tmp, layers, curves=opts.dxf_curves, tolerance_mm=opts.tolerance_mm, name=final.name)

    def report(self) -> dict:
        reg = self.regions
        solid, mesh = self.solid_built, self.mesh_built
        out = {
            "width_mm": round(reg.width_mm, 6), "height_mm": round(reg.height_mm, 6),
            "thickness_mm": self.options.thickness_mm, "area_mm2": round(reg.area_mm2, 6),
            "volume_mm3": round(solid.volume_mm3 if solid is not None else self.expected_volume_mm3, 6),
            "bodies": len(reg.regions), "holes": reg.n_holes,
            "contours": sum(len(r.rings) for r in reg.regions), "curve_segments": reg.n_segments,
            "curve_segments_by_kind": reg.segment_kinds(),
            "fit_tolerance_mm": reg.report.get("fit_tolerance_mm"),
            "fit_deviation_mm": reg.report.get("fit_deviation_mm"),
            "step_faces": solid.faces if solid is not None else None,
            "step_faces_by_type": face_types(solid.shape) if solid is not None else None,
            "triangles": mesh.n_triangles if mesh is not None else None,
            "px_mm": reg.px_mm,
            "dropped_specks": reg.report.get("dropped_islands", 0) + reg.report.get("dropped_holes", 0),
            "repaired_regions": reg.report.get("repaired", 0),
            "working_size": self.mask.info.get("working_size") if self.mask is not None and hasattr(self.mask, "info") else None,
            "tips_restored": self.mask.info.get("tips_restored", 0) if self.mask is not None and hasattr(self.mask, "info") else 0,
        }
        if self.options.product is not None:  # product and printability ("thin_features") fields
            out.update(product_mode.product_report(self.options.product, reg, solid))
        out.update(self.photo)
        return out


def build(source, options: ConvertOptions = ConvertOptions(), *, name: str | None = None) -> Conversion:
    """Run load -> isolate -> trace -> regions in memory. The mesh and solid are built on demand."""
    name = source_name(source, name)
    timings: dict[str, float] = {}
    caught: list[str] = []
    with collect_warnings(caught):
        prepared, iso = load_photo(source, options, name, timings)
        image = prepared.image
        t = time.perf_counter()
        mask = tracer.isolate(image, params=iso)
        timings["isolate"] = time.perf_counter() - t
        t = time.perf_counter()
        outlines = tracer.trace(mask, params=options.trace)
        timings["trace"] = time.perf_counter() - t
        if "step" in options.formats:  # an over-budget B-rep is refused now, not after the regions are cleaned
            check_brep_budget(segments_by_outer(outlines), max_segments=options.trace.max_segments)
        if options.debug_dir:  # --debug-dir: the mask and the outline drawn on the input
            debug_dir = options.debug_dir
            failed = write_or_warn(debug_dir, lambda: write_debug(
                debug_dir, Path(name).stem if name else "image", image, mask, outlines, prepared))
            if failed:
                warnings.warn(failed, TracecadWarning)
        t = time.perf_counter()
        regions = to_regions(outlines, width_mm=options.width_mm, height_mm=options.height_mm,
                             px_mm=options.px_mm, min_area_mm2=options.min_area_mm2, mirror=options.mirror,
                             fit_tolerance_mm=options.fit_mm())
        if regions.n_segments > options.trace.max_segments:  # repairs (polylines) can add segments
            raise TooComplexError(
                f"{name}: the cleaned outline has {regions.n_segments} segments, above the budget of "
                f"{options.trace.max_segments} (raise --max-segments, or simplify with a larger --turdsize / --min-area)")
        timings["regions"] = time.perf_counter() - t
    if image.scale != 1.0:
        caught.append(f"image decoded reduced by {image.scale:g}x to stay under the pixel limit")
    rep = regions.report
    if rep.get("dropped_islands") or rep.get("dropped_holes"):
        caught.append(f"dropped {rep.get('dropped_islands', 0)} speck(s) and filled {rep.get('dropped_holes', 0)} "
                      f"pinhole(s) smaller than {options.min_area_mm2} mm²")
    if rep.get("repaired"):
        caught.append(f"repaired {rep['repaired']} self-intersecting, overlapping or touching region(s) as polylines")
    if options.product is not None:  # --min-feature thickening and the printability check
        t = time.perf_counter()
        regions = product_mode.prepare(regions, options.product, caught)
        timings["printability"] = time.perf_counter() - t
    return Conversion(name=name, options=options, mask=mask, outlines=outlines, regions=regions,
                      timings=timings, warnings=caught, photo=photo_report(prepared, mask.info, options))


def write_outputs(conv: Conversion, out_dir: str | os.PathLike[str], stem: str, formats=None) -> dict[str, Path]:
    """Write, check and atomically rename every requested format. All or nothing."""
    formats = parse_formats(formats or conv.options.formats)
    out_dir = prepare_out_dir(out_dir)
    finals = output_paths(out_dir, stem, formats)
    t0 = time.perf_counter()

    def stl_file(tmp: Path, final: Path) -> None:
        mesh = conv.mesh  # checked when built: closed, consistently wound, the solid's volume
        stl.write_stl(mesh, tmp)
        # The file is read back. When it holds that checked mesh bit for bit (the usual case: the
        # mesher's coordinates are float32 values), the check of the mesh is the check of the file;
        # otherwise the file's own triangles are checked.
        if not stl.holds_mesh(tmp, mesh):
            back = stl.read_stl(tmp)
            check_volume_mesh(back, conv.expected_volume_mm3, conv.volume_tolerance_mm3 * 1.5, final.name)

    def threemf_file(tmp: Path, final: Path) -> None:
        threemf.write_3mf([threemf.Part(stem, conv.mesh)], tmp)
        unit, parts = threemf.read_3mf(tmp)
        if unit != "millimeter" or len(parts) != 1:
            raise ExportError(f"{final.name}: the 3MF did not read back as one part in millimetres")
        check_volume_mesh(parts[0][1], conv.expected_volume_mm3, conv.volume_tolerance_mm3 * 1.5, final.name)

    def step_file(tmp: Path, final: Path) -> None:
        # The in-memory solid already passed BRepCheck and volume = area x thickness
        # (cad.solid.extrude). The file is re-read as text: complete, every entity
        # defined once, every reference resolved, millimetres, the same solid and face
        # counts. Rebuilding the shapes from the file (and a second BRepCheck) cost more
        # than everything else in a STEP+STL+3MF run; `tracecad check` and the tests
        # still do the full round trip (docs/reliability.md explains the choice).
        solid = conv.solid
        step.write_step(solid.shape, tmp, name=final.stem)
        step.verify_step(tmp, solids=solid.solids, faces=solid.faces)

    writers: dict[str, Callable[..., None]] = {"stl": stl_file, "3mf": threemf_file, "step": step_file, "svg": conv.write_svg,
                                               "dxf": conv.write_dxf}

    def strict() -> None:
        if checks.strict_enabled():  # TRACECAD_STRICT=1: independent invariants, before any rename
            checks.self_check(conv.name, conv.regions, conv.outlines, mesh=conv.mesh_built, solid=conv.solid_built,
                              product=conv.is_product)

    files = [(final, partial(writers[fmt], final=final)) for fmt, final in finals.items()]
    written = write_checked(files, before_commit=strict)
    conv.timings["export"] = time.perf_counter() - t0
    return dict(zip(finals, written))


def convert_extrude(source, out_dir: str | os.PathLike[str], options: ConvertOptions, *, stem: str | None = None,
                    name: str | None = None) -> dict:
    """Build, write and report one input in the extrude mode (with its product, if any)."""
    t0 = time.perf_counter()
    stem = source_stem(source) if stem is None else stem
    return finish(build(source, options, name=name), out_dir, stem, t0)


def finish(conv: Conversion, out_dir: str | os.PathLike[str], stem: str, t0: float) -> dict:
    """Write a built conversion's files (and its ``<stem>.thin.png`` when asked), and its report entry;
    ``t0`` is when the input's conversion started."""
    outputs: dict[str, Path] = write_outputs(conv, out_dir, stem)
    product = conv.options.product
    if product is not None and product.preview:  # <stem>.thin.png
        outputs["thin_png"] = product_mode.write_thin_png(conv.regions, conv.solid_built, out_dir, stem)
    return report_entry(conv.name, {k: str(v) for k, v in outputs.items()}, conv.report(), conv.warnings,
                        conv.timings, t0)
