"""One-call conversion: image file -> regions -> solid/mesh -> checked files.

:func:`build` runs the stages in memory (no output I/O); :func:`write_outputs`
writes the requested formats atomically; :func:`convert` does both and
returns the report entry that ``--json`` prints.
"""

from __future__ import annotations

import os
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

import tracer
from cad import mesh as M
from cad.export import Staging, parse_formats
from cad.regions import Regions, to_regions
from cad.relief import MODES, ReliefParams
from tracer.errors import ExportError, InvalidInputError, TooComplexError, TracecadError, TracecadWarning
from tracer.types import IsolateParams, TraceParams

__all__ = ["ConvertOptions", "Conversion", "build", "write_outputs", "convert", "output_paths"]


@dataclass(frozen=True, slots=True)
class ConvertOptions:
    """Every option of a conversion, with its default written once.

    Sizes are in mm. Exactly one of ``width_mm`` / ``height_mm`` / ``px_mm``
    may be set; with none, the subject is 50 mm wide.
    """

    width_mm: float | None = None
    height_mm: float | None = None
    px_mm: float | None = None
    thickness_mm: float = 3.0
    formats: tuple[str, ...] = ("step", "stl")
    tolerance_mm: float = M.DEFAULT_TOLERANCE_MM
    min_area_mm2: float = 0.02
    mirror: bool = False
    max_pixels: int = tracer.load.DEFAULT_MAX_PIXELS
    isolate: IsolateParams = IsolateParams()
    trace: TraceParams = TraceParams()
    debug_dir: str | None = None
    # --colors (cad/multicolor.py): None = single body; an int N or "auto" = one body per colour
    colors: int | str | None = None
    layer_heights: str | tuple | None = None
    enclosed_background: str | None = None
    color_distance: float | None = None
    # --mode relief|lithophane (cad/relief.py): grey levels become heights; "extrude" is the traced outline
    mode: str = "extrude"
    relief: ReliefParams = ReliefParams()
    # --preset/--plate/--nozzle ... (cad/products.py): a plate, hole, rim, stencil, stamp or cookie cutter around
    # the artwork, and the printability check; None = the plain extrusion
    product: object = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "formats", parse_formats(self.formats))
        if self.mode not in MODES:
            raise InvalidInputError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if sum(v is not None for v in (self.width_mm, self.height_mm, self.px_mm)) > 1:
            raise InvalidInputError("give only one of --width, --height and --px-mm")
        for name in ("width_mm", "height_mm", "px_mm", "thickness_mm", "tolerance_mm"):
            v = getattr(self, name)
            if v is not None and not (np.isfinite(v) and v > 0):
                raise InvalidInputError(f"{name} must be a positive number, got {v}")
        if self.min_area_mm2 < 0:
            raise InvalidInputError(f"min_area_mm2 must be >= 0, got {self.min_area_mm2}")
        self._check_combinations()

    def _check_combinations(self) -> None:
        """Options that cannot go together: one usage error up front, not the same error for every input."""
        if self.mode != "extrude":
            if self.colors is not None:
                raise InvalidInputError(f"--colors cannot be combined with --mode {self.mode}")
            if self.product is not None:
                raise InvalidInputError(f"product presets (--preset, --plate, ...) cannot be combined with --mode {self.mode}")
            if "svg" in self.formats:
                raise InvalidInputError(f"--formats svg is not available in --mode {self.mode} "
                                        "(it has no single outline); choose from step, stl, 3mf")
            self.relief.resolved(self.mode)  # (heights that contradict each other, a bent subject outline)
        if self.colors is not None:  # the picture is split by colour, not isolated: these would do nothing
            iso, plain = self.isolate, IsolateParams()
            ignored = [flag for flag, field in (("--threshold", "threshold"), ("--invert", "invert"),
                                                ("--method", "method"), ("--color", "color"),
                                                ("--color-tolerance", "color_tolerance"), ("--denoise", "denoise"),
                                                ("--no-tips", "restore_tips"))
                       if getattr(iso, field) != getattr(plain, field)]
            if ignored:
                raise InvalidInputError(f"{', '.join(ignored)} cannot be combined with --colors, which separates "
                                        "the picture by colour instead of isolating one subject")
        prod = self.product
        if self.colors is not None and prod is not None and getattr(prod, "builds_solid", False) and (
                prod.plate == "none" or prod.style != "emboss" or prod.hole_mm or prod.rim_mm or prod.chamfer_mm
                or prod.fillet_mm):
            raise InvalidInputError("with --colors only --plate (with --margin, --base-thickness, --corner-radius) "
                                    "is supported; --style, --hole, --rim, --chamfer and --fillet are not")


@dataclass(slots=True, eq=False)
class Conversion:
    """The in-memory result of :func:`build`: every stage's value, timings and warnings."""

    name: str
    options: ConvertOptions
    mask: object
    outlines: object
    regions: Regions
    timings: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    _mesh: M.Mesh | None = None
    _solid: object = None

    @property
    def mesh(self) -> M.Mesh:
        """The prism mesh at the chord tolerance (built on first use, then checked)."""
        if self._mesh is None:
            t = time.perf_counter()
            if self._is_product:  # tessellated B-rep of the product (cad/products.py)
                from cad.products import tessellate

                mesh = tessellate(self.solid.shape, self.options.tolerance_mm)
            else:
                mesh = M.extrude_mesh(self.regions, self.options.thickness_mm, tolerance_mm=self.options.tolerance_mm)
            check_volume_mesh(mesh, self.expected_volume_mm3, self.volume_tolerance_mm3, self.name)
            self._mesh = mesh
            self.timings["mesh"] = time.perf_counter() - t
        return self._mesh

    @property
    def solid(self):
        """The exact B-rep (built on first use: a mesh-only run never loads OCC)."""
        if self._solid is None:
            from cad.solid import extrude
            from tracer.budget import check_brep_budget

            check_brep_budget([[ring.n_segments for ring in r.rings] for r in self.regions.regions],
                              max_segments=self.options.trace.max_segments,  # OCC's checks are quadratic per face
                              product=self._is_product)
            t = time.perf_counter()
            if self._is_product:
                from cad.products import build_product

                self._solid = build_product(self.regions, self.options, self.warnings)
            else:
                self._solid = extrude(self.regions, thickness_mm=self.options.thickness_mm)
            if self._solid.report.get("polyline_fallbacks"):
                self.warnings.append(f"{self._solid.report['polyline_fallbacks']} region(s) built from polylines "
                                     "because OpenCASCADE rejected their curves")
            self.timings["solid"] = time.perf_counter() - t
        return self._solid

    @property
    def _is_product(self) -> bool:
        return self.options.product is not None and self.options.product.builds_solid

    @property
    def expected_volume_mm3(self) -> float:
        if self._is_product:
            return self.solid.volume_mm3
        return self.regions.area_mm2 * self.options.thickness_mm

    @property
    def volume_tolerance_mm3(self) -> float:
        """How far a mesh volume may stray: the chord error along the whole outline, times thickness."""
        if self._is_product:
            from cad.products import mesh_volume_tolerance

            return mesh_volume_tolerance(self.solid, self.options.tolerance_mm)
        perimeter = float(self.regions.geometry.length)
        return 1.0 * perimeter * self.options.tolerance_mm * self.options.thickness_mm + 1e-9

    def report(self) -> dict:
        reg = self.regions
        out = {
            "width_mm": round(reg.width_mm, 6), "height_mm": round(reg.height_mm, 6),
            "thickness_mm": self.options.thickness_mm, "area_mm2": round(reg.area_mm2, 6),
            "volume_mm3": round(self._solid.volume_mm3 if self._solid is not None else self.expected_volume_mm3, 6),
            "bodies": len(reg.regions), "holes": reg.n_holes,
            "contours": sum(len(r.rings) for r in reg.regions), "curve_segments": reg.n_segments,
            "step_faces": self._solid.faces if self._solid is not None else None,
            "triangles": self._mesh.n_triangles if self._mesh is not None else None,
            "px_mm": reg.px_mm, "dropped_specks": reg.report.get("dropped_islands", 0) + reg.report.get("dropped_holes", 0),
            "repaired_regions": reg.report.get("repaired", 0),
            "working_size": self.mask.info.get("working_size") if hasattr(self.mask, "info") else None,
            "tips_restored": self.mask.info.get("tips_restored", 0) if hasattr(self.mask, "info") else 0,
        }
        if self.options.product is not None:  # product and printability ("thin_features") fields
            from cad.products import product_report

            out.update(product_report(self))
        return out


def check_volume_mesh(mesh: M.Mesh, expected_mm3: float, tolerance_mm3: float, name: str) -> M.MeshReport:
    """Raise :class:`ExportError` unless ``mesh`` is a closed, consistently wound volume of the right size."""
    rep = M.check_mesh(mesh)
    if not rep.watertight:
        raise ExportError(f"{name}: the mesh is not watertight ({rep.degenerate} degenerate triangles)")
    if not rep.winding_consistent:
        raise ExportError(f"{name}: the mesh winding is inconsistent")
    if not abs(rep.volume_mm3 - expected_mm3) <= tolerance_mm3:
        raise ExportError(f"{name}: the mesh volume {rep.volume_mm3:.3f} mm³ does not match the solid's "
                          f"{expected_mm3:.3f} mm³ (tolerance {tolerance_mm3:.3f})")
    return rep


def source_name(source, name: str | None) -> str:
    """The name used in messages: ``name``, else the path, else ``<bytes>``."""
    if name is not None:
        return name
    return "<bytes>" if isinstance(source, (bytes, bytearray)) else str(source)


@contextmanager
def collect_warnings(caught: list[str]):
    """Record every :class:`TracecadWarning` raised inside the block (once each, in order) into ``caught``."""
    with warnings.catch_warnings(record=True) as wlist:
        warnings.simplefilter("always", TracecadWarning)
        try:
            yield
        finally:
            caught.extend(str(w.message) for w in wlist if issubclass(w.category, TracecadWarning))


def load_for(source, options: ConvertOptions, name: str, timings: dict) -> tuple:
    """Load the image (timed into ``timings["load"]``) and the isolation parameters for its output width."""
    t = time.perf_counter()
    image = tracer.load_image(source, max_pixels=options.max_pixels, name=name)
    timings["load"] = time.perf_counter() - t
    iso = options.isolate
    if iso.width_mm is None:
        iso = replace(iso, width_mm=options.width_mm)
    return image, iso


def build(source, options: ConvertOptions = ConvertOptions(), *, name: str | None = None) -> Conversion:
    """Run load -> isolate -> trace -> regions in memory. The mesh and solid are built on demand."""
    name = source_name(source, name)
    timings: dict[str, float] = {}
    caught: list[str] = []
    with collect_warnings(caught):
        image, iso = load_for(source, options, name, timings)
        t = time.perf_counter()
        mask = tracer.isolate(image, params=iso)
        timings["isolate"] = time.perf_counter() - t
        t = time.perf_counter()
        outlines = tracer.trace(mask, params=options.trace)
        timings["trace"] = time.perf_counter() - t
        if "step" in options.formats:  # an over-budget B-rep is refused now, not after the regions are cleaned
            from tracer.budget import check_brep_budget, segments_by_outer

            check_brep_budget(segments_by_outer(outlines), max_segments=options.trace.max_segments)
        if options.debug_dir:  # --debug-dir: the mask and the outline drawn on the input
            from tracer.debug import attempt, write_debug

            failed = attempt(options.debug_dir, lambda: write_debug(
                options.debug_dir, Path(name).stem if name else "image", image, mask, outlines))
            if failed:
                warnings.warn(failed, TracecadWarning)
        t = time.perf_counter()
        regions = to_regions(outlines, width_mm=options.width_mm, height_mm=options.height_mm,
                             px_mm=options.px_mm, min_area_mm2=options.min_area_mm2, mirror=options.mirror)
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
    if options.product is not None:  # --min-feature thickening and the printability check (cad/products.py)
        from cad.products import prepare

        t = time.perf_counter()
        regions = prepare(regions, options, caught)
        timings["printability"] = time.perf_counter() - t
    conv = Conversion(name=name, options=options, mask=mask, outlines=outlines, regions=regions,
                      timings=timings, warnings=caught)
    return conv


def output_paths(out_dir: str | os.PathLike[str], stem: str, formats) -> dict[str, Path]:
    return {f: Path(out_dir) / f"{stem}.{f}" for f in parse_formats(formats)}


def write_outputs(conv: Conversion, out_dir: str | os.PathLike[str], stem: str, formats=None) -> dict[str, Path]:
    """Write, check and atomically rename every requested format. All or nothing."""
    from cad.export import fsync_file
    from cad.export.stl import holds_mesh, read_stl, write_stl

    formats = parse_formats(formats or conv.options.formats)
    from cad.export import prepare_out_dir

    out_dir = prepare_out_dir(out_dir)
    finals = output_paths(out_dir, stem, formats)
    t0 = time.perf_counter()
    with Staging() as stage:
        for fmt, final in finals.items():
            tmp = stage.path(final)
            try:
                if fmt == "stl":
                    mesh = conv.mesh  # checked when built: closed, consistently wound, the solid's volume
                    write_stl(mesh, tmp)
                    # The file is read back. When it holds that checked mesh bit for bit (the usual case: the
                    # mesher's coordinates are float32 values), the check of the mesh is the check of the file;
                    # otherwise the file's own triangles are checked.
                    if not holds_mesh(tmp, mesh):
                        back = read_stl(tmp)
                        check_volume_mesh(back, conv.expected_volume_mm3, conv.volume_tolerance_mm3 * 1.5, final.name)
                elif fmt == "3mf":
                    from cad.export.threemf import Part, read_3mf, write_3mf  # zipfile/xml only when asked for

                    write_3mf([Part(stem, conv.mesh)], tmp)
                    unit, parts = read_3mf(tmp)
                    if unit != "millimeter" or len(parts) != 1:
                        raise ExportError(f"{final.name}: the 3MF did not read back as one part in millimetres")
                    check_volume_mesh(parts[0][1], conv.expected_volume_mm3, conv.volume_tolerance_mm3 * 1.5, final.name)
                elif fmt == "step":
                    _write_checked_step(conv, tmp, final)
                elif fmt == "svg":
                    from cad.export.svg import svg_area_mm2, write_svg

                    write_svg(conv.regions, tmp)
                    area = svg_area_mm2(tmp)
                    if abs(area - conv.regions.area_mm2) > 1e-4 * conv.regions.area_mm2 + 1e-6:
                        raise ExportError(f"{final.name}: the SVG reads back with area {area:.4f} mm², "
                                          f"expected {conv.regions.area_mm2:.4f}")
                fsync_file(tmp)
            except OSError as exc:
                raise ExportError(f"{final}: cannot write ({exc.strerror or exc})") from exc
        from cad import checks

        if checks.strict_enabled():  # TRACECAD_STRICT=1: independent invariants, before any rename
            checks.self_check(conv)
        written = stage.commit()
    conv.timings["export"] = time.perf_counter() - t0
    return {f: p for f, p in zip(finals, written)}


def _write_checked_step(conv: Conversion, tmp: Path, final: Path) -> None:
    from cad.export.step import verify_step, write_step

    # The in-memory solid already passed BRepCheck and volume = area x thickness
    # (cad.solid.extrude). The file is re-read as text: complete, every entity
    # defined once, every reference resolved, millimetres, the same solid and face
    # counts. Rebuilding the shapes from the file (and a second BRepCheck) cost more
    # than everything else in a STEP+STL+3MF run; `tracecad check` and the tests
    # still do the full round trip (bench/RESULTS.md explains the choice).
    solid = conv.solid
    write_step(solid.shape, tmp, name=final.stem)
    verify_step(tmp, solids=solid.solids, faces=solid.faces)


def convert(source, out_dir: str | os.PathLike[str], options: ConvertOptions = ConvertOptions(), *,
            stem: str | None = None, name: str | None = None) -> dict:
    """Convert one image file and write its outputs. Raises :class:`TracecadError` on failure."""
    if options.mode != "extrude":  # grey levels as heights: cad/relief.py
        from cad.relief import convert_relief

        if stem is None:
            stem = Path(str(source)).stem if not isinstance(source, (bytes, bytearray)) else "image"
        return convert_relief(source, out_dir, options, stem=stem, name=name)
    if options.colors is not None:  # one body per colour: cad/multicolor.py
        from cad.multicolor import convert_multicolor

        return convert_multicolor(source, out_dir, options, stem=stem, name=name)
    t0 = time.perf_counter()
    if stem is None:
        stem = Path(str(source)).stem if not isinstance(source, (bytes, bytearray)) else "image"
    conv = build(source, options, name=name)
    outputs = write_outputs(conv, out_dir, stem)
    if options.product is not None and options.product.preview:  # <stem>.thin.png (cad/products.py)
        from cad.products import write_preview

        outputs["thin_png"] = write_preview(conv, out_dir, stem)
    entry = {"input": conv.name, "status": "ok", "error": None,
             "outputs": {k: str(v) for k, v in outputs.items()}}
    entry.update(conv.report())
    entry["warnings"] = conv.warnings
    entry["seconds"] = {k: round(v, 4) for k, v in conv.timings.items()}
    entry["seconds"]["total"] = round(time.perf_counter() - t0, 4)
    return entry


def error_entry(name: str, exc: BaseException) -> dict:
    msg = str(exc) if isinstance(exc, TracecadError) else f"{type(exc).__name__}: {exc}"
    if not msg.startswith(name):
        msg = f"{name}: {msg}"
    return {"input": name, "status": "error", "error": msg, "outputs": {}}
