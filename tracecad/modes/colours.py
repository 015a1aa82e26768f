"""The colour mode (``--colors``): one aligned body per colour, a coloured 3MF and STEP, an STL per colour.

Pipeline::

    load -> tracer.colors.label_colors (Lab k-means, background, fringes, sub-pixel partition)
         -> potrace per colour and for the whole subject
         -> cad.partition: the traced outlines noded into a partition of the subject, shared
            boundaries fitted once (lines, arcs and cubics with --fit-tolerance, else Béziers)
         -> per-colour Regions in mm (same frame as the extrude mode)
         -> per-colour prism meshes (manifold3d) and exact B-rep solids (OCC)
         -> one 3MF (one named, coloured object per colour), one STEP (named, coloured
            solids through XCAF) and one STL per colour, all checked, all or nothing.

Heights are flat (every colour ``thickness_mm``) or per colour (``layer_heights``), like a layered
sign; ``--plate`` adds a base plate under the colours.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

import tracer
from cad import geometry
from cad.budget import check_brep_budget
from cad.checks import check_volume_mesh
from cad.export import dxf, parse_formats, prepare_out_dir, write_checked
from cad.export.slicers import ColorChange, Project, read_project
from cad.export.step import read_colored_step, write_colored_step
from cad.export.stl import read_stl, write_stl
from cad.export.svg import svg_area_mm2, svg_text
from cad.export.threemf import Part, read_3mf, write_3mf
from cad.fit import default_fit_px, fit_grain
from cad.fitshared import ChainFitter
from cad.geometry import fit_arc
from cad.mesh import Mesh, extrude_mesh
from cad.partition import (
    CURVE_FIT_MAX_SOURCE_PX,
    CURVE_FIT_PX,
    PINCH_DISK_MM,
    area_polygons,
    contour_polygons,
    curve_partition,
    fix_pinches,
    partition,
    simplify_partition,
)
from cad.plates import plate_outline
from cad.regions import FINE_TOLERANCE_FRACTION, Regions, regions_from_polygons, to_regions
from cad.solid import Solid, count_solids, extrude, face_types, is_valid_shape, shape_volume
from tracecad.modes.common import (
    body_output_paths,
    collect_warnings,
    load_photo,
    photo_report,
    report_entry,
    source_name,
    source_stem,
)
from tracecad.modes.slicer import assign_extruders, merge_palette, parse_extruders, plan_color_changes
from tracecad.options import ConvertOptions, parse_layer_heights
from tracer.colors import BACKGROUND, ColorLabels, ColorParams, label_colors
from tracer.colorspace import to_lab
from tracer.debug import write_debug, write_labels, write_or_warn
from tracer.errors import ExportError, GeometryError, InvalidInputError, TracecadWarning

__all__ = ["ColorBody", "MultiConversion", "build_multicolor", "write_multicolor", "convert_colours", "printer_setup"]


def _heights(spec: tuple, hexes: list[str], lab: np.ndarray, default: float) -> list[float]:
    """Height per colour: positional, or by the nearest listed colour (Delta E < 12)."""
    if not spec:
        return [default] * len(hexes)
    if not isinstance(spec[0], tuple):
        if len(spec) > len(hexes):
            raise InvalidInputError(f"--layer-heights lists {len(spec)} heights but the image has "
                                    f"{len(hexes)} colour(s): {', '.join(hexes)}")
        return [float(spec[i]) if i < len(spec) else default for i in range(len(hexes))]
    keys = [k for k, _ in spec]
    klab = to_lab(np.array([[int(k[i:i + 2], 16) / 255.0 for i in (1, 3, 5)] for k in keys]))
    out = [default] * len(hexes)
    used = set()
    for i in range(len(hexes)):
        d = np.linalg.norm(klab - lab[i], axis=1)
        j = int(np.argmin(d))
        if d[j] < 12.0:
            out[i] = float(spec[j][1])
            used.add(j)
    missing = [keys[j] for j in range(len(keys)) if j not in used]
    if missing:
        raise InvalidInputError(f"--layer-heights: no colour of the image is near {', '.join(missing)} "
                                f"(the colours are {', '.join(hexes)})")
    return out


@dataclass(slots=True, eq=False)
class ColorBody:
    """One colour of the part: its footprint (mm), its height range and, on demand, mesh and solid."""

    name: str
    color: str
    regions: Regions
    z0_mm: float
    height_mm: float
    tolerance_mm: float
    is_base: bool = False  # the base plate under the colours (not a colour of the image)
    mesh_built: Mesh | None = None
    solid_built: Solid | None = None

    @property
    def area_mm2(self) -> float:
        return self.regions.area_mm2

    @property
    def expected_volume_mm3(self) -> float:
        return self.area_mm2 * self.height_mm

    @property
    def volume_tolerance_mm3(self) -> float:
        return float(self.regions.geometry.length) * self.tolerance_mm * self.height_mm + 1e-9

    @property
    def mesh(self) -> Mesh:
        """The body's prism mesh (built on first use, then checked)."""
        if self.mesh_built is None:
            mesh = extrude_mesh(self.regions, self.height_mm, tolerance_mm=self.tolerance_mm, z0_mm=self.z0_mm)
            check_volume_mesh(mesh, self.expected_volume_mm3, self.volume_tolerance_mm3, self.name)
            self.mesh_built = mesh
        return self.mesh_built

    @property
    def solid(self) -> Solid:
        """The body's exact B-rep (built on first use)."""
        if self.solid_built is None:
            self.solid_built = extrude(self.regions, thickness_mm=self.height_mm, z0_mm=self.z0_mm)
        return self.solid_built


@dataclass(slots=True, eq=False)
class MultiConversion:
    """The in-memory result of :func:`build_multicolor`."""

    name: str
    options: ConvertOptions
    labels: ColorLabels | None  # None for a vector source: its colours are its fills
    bodies: list[ColorBody]
    union_mm: BaseGeometry  # shapely geometry of the whole subject's traced outline, mm
    px_mm: float
    timings: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    info: dict = field(default_factory=dict)
    photo: dict = field(default_factory=dict)

    def overlap_mm2(self) -> float:
        """Total pairwise intersection area between the footprints of bodies that share heights."""
        bs = [b for b in self.bodies if not b.is_base]
        return float(sum(a.regions.geometry.intersection(b.regions.geometry).area
                         for i, a in enumerate(bs) for b in bs[i + 1:]
                         if min(a.z0_mm + a.height_mm, b.z0_mm + b.height_mm) - max(a.z0_mm, b.z0_mm) > 1e-9))

    def report(self) -> dict:
        bounds = np.array([b.regions.bounds for b in self.bodies])
        xmin, ymin = bounds[:, 0].min(), bounds[:, 1].min()
        xmax, ymax = bounds[:, 2].max(), bounds[:, 3].max()
        solids = [b.solid_built for b in self.bodies if b.solid_built is not None]
        meshes = [b.mesh_built for b in self.bodies if b.mesh_built is not None]
        union_area = float(self.union_mm.area)
        colours: list[dict] = []
        setup = self.info["printer"]
        for b in self.bodies:
            colours.append({
                "name": b.name, "color": b.color, "area_mm2": round(b.area_mm2, 6),
                "z_mm": [round(b.z0_mm, 6), round(b.z0_mm + b.height_mm, 6)],
                "volume_mm3": round(b.solid_built.volume_mm3 if b.solid_built is not None else b.expected_volume_mm3, 6),
                "bodies": len(b.regions.regions), "holes": b.regions.n_holes,
                "triangles": b.mesh_built.n_triangles if b.mesh_built is not None else None,
                "step_faces": b.solid_built.faces if b.solid_built is not None else None, "base_plate": b.is_base,
                "extruder": setup["extruders"][len(colours)]})
        return {
            "width_mm": round(float(xmax - xmin), 6), "height_mm": round(float(ymax - ymin), 6),
            "thickness_mm": max(b.z0_mm + b.height_mm for b in self.bodies),
            "area_mm2": round(sum(b.area_mm2 for b in self.bodies if not b.is_base), 6),
            "volume_mm3": round(sum(c["volume_mm3"] for c in colours), 6),
            "bodies": sum(len(b.regions.regions) for b in self.bodies),
            "holes": sum(b.regions.n_holes for b in self.bodies),
            "contours": sum(len(r.rings) for b in self.bodies for r in b.regions.regions),
            "curve_segments": sum(b.regions.n_segments for b in self.bodies),
            "curve_segments_by_kind": _sum_counts(b.regions.segment_kinds() for b in self.bodies),
            "fit_tolerance_mm": self.info.get("fit_tolerance_mm", 0.0),
            "fit_deviation_mm": self.info.get("fit_deviation_mm", 0.0),
            "step_faces": sum(s.faces for s in solids) if len(solids) == len(self.bodies) else None,
            "step_faces_by_type": (_sum_counts(face_types(s.shape) for s in solids)
                                   if len(solids) == len(self.bodies) else None),
            "triangles": sum(m.n_triangles for m in meshes) if len(meshes) == len(self.bodies) else None,
            "px_mm": self.px_mm, "dropped_specks": self.info.get("merged_specks", 0),
            "repaired_regions": 0,
            "working_size": self.info.get("working_size"),
            "background": self.info.get("background"),
            "union_area_mm2": round(union_area, 6),
            "overlap_mm2": round(self.overlap_mm2(), 9),
            "colors": colours,
            **self.photo,
            "slicer": setup["slicer"],
            "filaments": setup["filaments"],
            "merged_colors": setup["merged_colors"],
            "color_changes": [{"z_mm": c.z_mm, "print_z_mm": c.print_z_mm, "layer": c.layer, "color": c.color,
                               "text": f"at {c.z_mm:.2f} mm change to {c.color} (layer {c.layer})"}
                              for c in setup["changes"]],
            "layer_height_mm": setup["layer_height_mm"] if setup["changes"] else None,
        }


def _sum_counts(counts) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in counts:
        for k, v in c.items():
            out[k] = out.get(k, 0) + v
    return out


def _color_params(options: ConvertOptions) -> ColorParams:
    n = options.colors
    kw: dict[str, int | str | float] = {}
    if isinstance(n, int) and not isinstance(n, bool):
        kw["colors"] = n
    elif n not in ("auto", None, True):
        raise InvalidInputError(f"colors must be a number or 'auto', got {n!r}")
    if options.enclosed_background:
        kw["enclosed_background"] = options.enclosed_background
    if options.color_distance:
        kw["merge_delta_e"] = float(options.color_distance)
    return ColorParams(**kw)  # type: ignore[arg-type]  # (each key is a field of that type)


def build_multicolor(source, options: ConvertOptions, *, name: str | None = None, stem: str = "part"
                     ) -> MultiConversion:
    """Quantise, trace and partition ``source`` into one body per colour (meshes and solids on demand)."""
    name = source_name(source, name)
    if options.mode != "extrude":
        raise InvalidInputError(f"--colors makes one extruded body per colour; it cannot be combined with "
                                f"--mode {options.mode}")
    timings: dict[str, float] = {}
    caught: list[str] = []
    with collect_warnings(caught):
        prepared, iso = load_photo(source, options, name, timings)
        image = prepared.image
        t = time.perf_counter()
        labels = label_colors(image, params=_color_params(options), isolate=iso)
        merged: list[tuple[str, list[str]]] = []
        if options.max_colors is not None:
            labels, merged = merge_palette(labels, options.max_colors)
        timings["colors"] = time.perf_counter() - t
        t = time.perf_counter()
        union_outlines = tracer.trace(labels.mask(None), params=options.trace)
        # The frame (scale, centre, y-flip, mirror) is the single-colour pipeline's, from to_regions.
        frame = to_regions(union_outlines, width_mm=options.width_mm, height_mm=options.height_mm,
                           px_mm=options.px_mm, min_area_mm2=0.0, mirror=options.mirror, fit_tolerance_mm=0)
        s = frame.px_mm
        tol_px = 0.5 * options.tolerance_mm / s
        union_px = contour_polygons(union_outlines, tol_px)
        colour_px = []
        for k in labels.colors:
            colour_px.append(contour_polygons(tracer.trace(labels.mask(k), params=options.trace), tol_px))
        timings["trace"] = time.perf_counter() - t
        if options.debug_dir:  # the subject's mask and outline, and the colour partition
            debug_dir = options.debug_dir
            failed = write_or_warn(debug_dir, lambda: (
                write_debug(debug_dir, stem, image, labels.mask(None), union_outlines, prepared),
                write_labels(debug_dir, stem, labels.labels, labels.palette.rgb, BACKGROUND)))
            if failed:
                warnings.warn(failed, TracecadWarning)
        t = time.perf_counter()
        lab_img = labels.labels
        index_of = {k: i for i, k in enumerate(labels.colors)}
        lut = np.full(int(max(labels.colors)) + 2, -1, np.int64)
        for k, i in index_of.items():
            lut[k] = i

        def label_at(x, y):
            r = np.clip((np.asarray(y) / labels.scale).astype(np.int64), 0, lab_img.shape[0] - 1)
            c = np.clip((np.asarray(x) / labels.scale).astype(np.int64), 0, lab_img.shape[1] - 1)
            v = lab_img[r, c].astype(np.int64)
            return np.where(v == BACKGROUND, -1, lut[np.maximum(v, 0)])

        min_area_px = max(options.min_area_mm2 / s**2, 1e-9)
        grid_px = 1e-6 / s  # a 1 nm precision grid (in px) for the overlay: exact noding, far below any tolerance
        parts, pinfo = partition(colour_px, union_px, label_at, min_area=min_area_px, grid=grid_px)
        parts = simplify_partition(parts, options.tolerance_mm / s, grid_px)
        pinches = fix_pinches(parts, PINCH_DISK_MM / s, grid_px)
        pinfo["pinches"] = pinches
        timings["partition"] = time.perf_counter() - t
    # px (y down) -> mm (y up, centred): the same affine map to_regions applied to the whole outline.
    bx = np.array([geometry.curve_bounds(c.ctrl) for c in union_outlines.contours if c.parent < 0])
    cx, cy = 0.5 * (bx[:, 0].min() + bx[:, 2].max()), 0.5 * (bx[:, 1].min() + bx[:, 3].max())
    sx = -s if options.mirror else s
    affine = [sx, 0.0, 0.0, -s, -cx * sx, cy * s]
    union_mm = shapely.affinity.affine_transform(union_px, affine)
    fb = frame.bounds
    ub = union_mm.bounds
    if max(abs(fb[0] - ub[0]), abs(fb[2] - ub[2]), abs(fb[1] - ub[1]), abs(fb[3] - ub[3])) > 2 * options.tolerance_mm + 1e-6:
        raise GeometryError(f"{name}: the colour outlines do not line up with the subject's frame "
                            f"(bounds {ub} vs {fb})")
    hexes = [labels.hex(k) for k in labels.colors]
    lab = to_lab(np.array([labels.palette.rgb[k] for k in labels.colors]))
    heights = _heights(parse_layer_heights(options.layer_heights), hexes, lab, options.thickness_mm)
    parts_mm = [shapely.affinity.affine_transform(g, affine) for g in parts]
    t = time.perf_counter()
    # The boundaries between colours are known to about a working pixel (the label raster's step),
    # so they are fitted within CURVE_FIT_PX of it (at most CURVE_FIT_MAX_SOURCE_PX where the raster
    # resolves that; --tolerance if coarser): fitting closer only follows the staircase of the raster
    # with more faces (a soft 3000 px picture, not upsampled: 7781 segments at a quarter pixel, 1098 at
    # one pixel).
    fit_px = CURVE_FIT_PX * labels.scale  # (source px)
    if 0.5 * labels.scale <= CURVE_FIT_MAX_SOURCE_PX:
        fit_px = min(fit_px, CURVE_FIT_MAX_SOURCE_PX)
    inner_tol = max(options.tolerance_mm, fit_px * s)
    fine = FINE_TOLERANCE_FRACTION * max(union_mm.bounds[2] - union_mm.bounds[0], 1e-9)
    fitter, fit_mm = None, 0.0
    curves = flat = None
    fit_option = options.fit_mm()
    if fit_option is None or fit_option > 0:
        # The fitting stage (cad.fit) on each shared boundary once: lines, arcs and cubics. Its default
        # tolerance and grain follow the subject's size in source pixels, as for a single outline. Every
        # boundary, the subject's outline included, is traced from the same label raster, so each is fitted
        # within that raster's precision (a fit closer than that follows the raster's staircase).
        ub = union_px.bounds
        grain = fit_grain(max(ub[2] - ub[0], ub[3] - ub[1]))
        fit_mm = default_fit_px(grain) * s if fit_option is None else float(fit_option)
        chain_tol = max(fit_mm, inner_tol)
        fitter = ChainFitter(px=s, grain=grain * s, fallback=fit_arc, wide=max(fit_mm, options.tolerance_mm),
                             extent=union_mm.bounds)
        curves, flat = _curves(parts_mm, chain_tol, chain_tol, fine, fitter)
    if curves is None:  # no fit asked for, or its curves cross: Béziers
        fitter = None
        curves, flat = _curves(parts_mm, options.tolerance_mm, inner_tol, fine, None)
    timings["curves"] = time.perf_counter() - t
    if curves is None:
        caught.append("the shared colour boundaries are kept as polylines (a fitted curve would have crossed another)")
    bodies: list[ColorBody] = []
    dropped_colours = []
    for i, g_mm in enumerate(parts_mm):
        if g_mm.is_empty or g_mm.area <= 0:
            dropped_colours.append(hexes[i])
            continue
        if curves is not None and flat is not None:
            regs = curves[i]
            geom = MultiPolygon(flat[i])
        else:
            regs = regions_from_polygons(g_mm)
            geom = MultiPolygon(area_polygons(g_mm))
        geom = shapely.orient_polygons(geom, exterior_cw=False)
        regions = Regions(regions=tuple(regs), geometry=geom, px_mm=s, report={})
        bodies.append(ColorBody(name=f"{stem}_{len(bodies) + 1}_{hexes[i][1:]}", color=hexes[i], regions=regions,
                                z0_mm=0.0, height_mm=heights[i], tolerance_mm=options.tolerance_mm))
    if not bodies:
        raise GeometryError(f"{name}: no colour has any area left")
    plate = _base_plate(options, union_mm, labels, stem, s)
    if plate is not None:
        for b in bodies:
            b.z0_mm = plate.height_mm
        bodies.insert(0, plate)
    setup = printer_setup(options, bodies, frame if curves is not None else None)
    bodies = setup.pop("bodies")
    caught += setup.pop("warnings")
    for keep, gone in merged:
        caught.append(f"--max-colors merged {', '.join(gone)} into {keep}")
    setup["merged_colors"] = [{"color": keep, "merged": gone} for keep, gone in merged]
    if dropped_colours:
        caught.append(f"colour(s) {', '.join(dropped_colours)} had no area left after the partition")
    if labels.info.get("merged_specks"):
        caught.append(f"merged {labels.info['merged_specks']} colour speck(s) into their neighbours")
    if pinfo.get("dropped_area", 0) > 0:
        caught.append(f"dropped {pinfo['dropped_area'] * s * s:.4f} mm² of isolated specks")
    info = dict(labels.info)
    info.update(pinfo)
    info["printer"] = setup
    info["fit_tolerance_mm"] = fit_mm
    info["fit_deviation_mm"] = fitter.deviation if fitter is not None and curves is not None else 0.0
    return MultiConversion(name=name, options=options, labels=labels, bodies=bodies, union_mm=union_mm, px_mm=s,
                           timings=timings, warnings=caught, info=info, photo=photo_report(prepared, None, options))


def _curves(parts_mm: list, tol: float, inner_tol: float, fine: float, fitter):
    """The partition's shared curves (:func:`cad.partition.curve_partition`) and each colour's regions
    flattened at ``fine`` (what the checks and exports read), or (None, None) if they would cross."""
    curves = curve_partition(parts_mm, tol, inner_tol, fit=fitter, flatten=fine)
    if curves is None:
        return None, None
    flat = [[Polygon(r.shell.flatten(fine), [h.flatten(fine) for h in r.holes]) for r in regs] for regs in curves]
    if not all(p.is_valid for ps in flat for p in ps):
        return None, None  # (valid when flattened for the fit, crossing at the finer flattening)
    return curves, flat


def printer_setup(options: ConvertOptions, bodies: list[ColorBody], whole: Regions | None) -> dict:
    """Colour changes (restacked bodies) or extruders: what the 3MF tells the slicer, and the report's terms."""
    warns: list[str] = []
    changes: list[ColorChange] = []
    if options.color_changes:
        bodies, changes, start, warns = plan_color_changes(
            bodies, options.layer_height_mm, min_area_mm2=max(options.min_area_mm2, 1e-6),
            tolerance_mm=options.tolerance_mm, whole=whole)
        extruders = [1] * len(bodies)
        filaments = [start]
    else:
        slot, filaments = assign_extruders([b.color for b in bodies], [b.area_mm2 for b in bodies],
                                           parse_extruders(options.extruders))
        extruders = [slot[b.color] for b in bodies]
    return {"bodies": bodies, "warnings": warns, "extruders": extruders, "filaments": filaments,
            "changes": changes, "slicer": "bambu" if options.slicer in ("bambu", "orca") else "prusa",
            "layer_height_mm": options.layer_height_mm}


def _base_plate(options: ConvertOptions, union_mm, labels: ColorLabels, stem: str, px_mm: float) -> ColorBody | None:
    """The base plate body of ``--plate`` (:mod:`cad.plates`), or None. The colours then stand on it."""
    prod = options.product  # (ConvertOptions refused every other product with --colors)
    if prod is None or prod.plate == "none":
        return None
    outline = plate_outline(prod.plate, union_mm, prod.margin_mm, prod.corner_radius_mm).poly
    regs = regions_from_polygons(outline)
    geom = shapely.orient_polygons(MultiPolygon(area_polygons(outline)), exterior_cw=False)
    bg = labels.info.get("background", "")
    color = bg if isinstance(bg, str) and bg.startswith("#") else "#808080"
    return ColorBody(name=f"{stem}_base_{color[1:]}", color=color,
                     regions=Regions(regions=tuple(regs), geometry=geom, px_mm=px_mm, report={}),
                     z0_mm=0.0, height_mm=prod.base_thickness_mm, tolerance_mm=options.tolerance_mm, is_base=True)


def write_multicolor(conv: MultiConversion, out_dir: str | os.PathLike[str], stem: str, formats=None
                     ) -> dict[str, Path | list[Path]]:
    """Write and check every requested format: one 3MF and one STEP holding every colour, one STL and one
    SVG per colour, one DXF with a layer per colour. All or nothing."""
    formats = parse_formats(formats or conv.options.formats)
    out_dir = prepare_out_dir(out_dir)
    bodies = conv.bodies
    finals = body_output_paths(out_dir, stem, formats, [b.name for b in bodies])
    t0 = time.perf_counter()
    if "step" in formats:  # OCC's checks grow with the square of a face's segments: refused before any file
        check_brep_budget([[ring.n_segments for ring in r.rings] for b in bodies for r in b.regions.regions],
                          max_segments=conv.options.trace.max_segments)

    setup = conv.info["printer"]
    project = Project(name=stem, extruders=tuple(setup["extruders"]), filament_colors=tuple(setup["filaments"]),
                      layer_height_mm=setup["layer_height_mm"], color_changes=tuple(setup["changes"]))

    def threemf(tmp: Path, final: Path) -> None:
        write_3mf([Part(b.name, b.mesh, b.color) for b in bodies], tmp, layout=setup["slicer"], project=project)
        back = read_project(tmp)
        if (back["object"] != stem or [e for _, e in back["parts"]] != list(project.extruders)
                or back["filament_colors"] != list(project.filament_colors)
                or [round(z, 6) for z, _ in back["color_changes"]] != [c.print_z_mm for c in project.color_changes]):
            raise ExportError(f"{final.name}: the slicer project files did not read back as written")
        unit, parts = read_3mf(tmp)
        if unit != "millimeter" or len(parts) != len(bodies):
            raise ExportError(f"{final.name}: the 3MF did not read back as {len(bodies)} parts in mm")
        for b, (pname, pmesh, pcolor) in zip(bodies, parts):
            if pname != b.name or (pcolor or "").lower() != b.color.lower():
                raise ExportError(f"{final.name}: part {b.name} read back as {pname!r} {pcolor!r}")
            check_volume_mesh(pmesh, b.expected_volume_mm3, b.volume_tolerance_mm3 * 1.5, final.name)

    def stl(b: ColorBody, tmp: Path, final: Path) -> None:
        write_stl(b.mesh, tmp)
        check_volume_mesh(read_stl(tmp), b.expected_volume_mm3, b.volume_tolerance_mm3 * 1.5, final.name)

    def svg(b: ColorBody, tmp: Path, final: Path) -> None:
        tmp.write_text(svg_text(b.regions, fill=b.color), encoding="utf-8")
        area = svg_area_mm2(tmp)
        if abs(area - b.area_mm2) > 1e-4 * b.area_mm2 + 1e-6:
            raise ExportError(f"{final.name}: the SVG reads back with area {area:.4f} mm², "
                              f"expected {b.area_mm2:.4f}")

    files: list[tuple[Path, Callable[[Path], None]]] = []
    for fmt, final in finals.items():
        if isinstance(final, list):  # one file per colour
            per_body = stl if fmt == "stl" else svg
            files += [(fin, partial(per_body, b, final=fin)) for b, fin in zip(bodies, final)]
        elif fmt == "3mf":
            files.append((final, partial(threemf, final=final)))
        elif fmt == "step":
            files.append((final, partial(_write_checked_step, bodies, final=final)))
        elif fmt == "dxf":
            files.append((final, partial(_write_checked_dxf, bodies, conv.options, final=final)))
    write_checked(files)
    conv.timings["export"] = time.perf_counter() - t0
    return finals


def _write_checked_dxf(bodies: list[ColorBody], options: ConvertOptions, tmp: Path, final: Path) -> None:
    """One layer per colour (``COLOR_rrggbb``, its true colour that colour) and the base plate on ``PLATE``."""
    layers: list[dxf.Layer] = []
    for b in bodies:
        layer = dxf.colour_layer(b.color, b.regions, name=dxf.PLATE if b.is_base else None)
        taken = {x.name.upper() for x in layers}  # (DXF layer names ignore case)
        name, k = layer.name, 2
        while name.upper() in taken:  # two bodies of one colour (a filled enclosed background)
            name, k = f"{layer.name}_{k}", k + 1
        layers.append(replace(layer, name=name))
    dxf.write_dxf(layers, tmp, curves=options.dxf_curves, tolerance_mm=options.tolerance_mm)
    dxf.check_dxf(tmp, layers, curves=options.dxf_curves, tolerance_mm=options.tolerance_mm, name=final.name)


def _write_checked_step(bodies: list[ColorBody], tmp: Path, final: Path) -> None:
    items = [(b.name, b.color, b.solid.shape) for b in bodies]
    write_colored_step(items, tmp)
    back = read_colored_step(tmp)
    if len(back) != len(bodies):
        raise ExportError(f"{final.name}: the STEP file read back with {len(back)} products, expected {len(bodies)}")
    for b, (name, color, shape) in zip(bodies, back):
        vol = shape_volume(shape)
        if name != b.name or color != b.color:
            raise ExportError(f"{final.name}: body {b.name} ({b.color}) read back as {name!r} ({color})")
        if count_solids(shape) != b.solid.solids or abs(vol - b.solid.volume_mm3) > 1e-6 * b.solid.volume_mm3 + 1e-9:
            raise ExportError(f"{final.name}: body {b.name} did not read back as the same solid "
                              f"({count_solids(shape)} solids, {vol:.4f} mm³)")
        if not is_valid_shape(shape):
            raise ExportError(f"{final.name}: body {b.name} reads back as an invalid shape")


def convert_colours(source, out_dir: str | os.PathLike[str], options: ConvertOptions, *, stem: str | None = None,
                    name: str | None = None) -> dict:
    """Build, write and report one input with one body per colour: the extrude mode's report entry plus
    ``colors`` (each colour's area, height, volume and files)."""
    t0 = time.perf_counter()
    stem = source_stem(source) if stem is None else stem
    conv = build_multicolor(source, options, name=name, stem=stem)
    outputs = write_multicolor(conv, out_dir, stem)
    flat: dict[str, str] = {}
    for k, v in outputs.items():  # one string per file: "stl:<body name>" for the per-colour files
        if isinstance(v, Path):
            flat[k] = str(v)
        else:
            flat.update({f"{k}:{b.name}": str(p) for b, p in zip(conv.bodies, v)})
    report = conv.report()
    for c, b in zip(report["colors"], conv.bodies):
        c["outputs"] = {k.split(":")[0]: p for k, p in flat.items() if k.endswith(":" + b.name)}
    overlap = report["overlap_mm2"]
    if overlap > 1e-6 * max(report["area_mm2"], 1e-9):
        conv.warnings.append(f"colour bodies overlap by {overlap:.6f} mm²")
    return report_entry(conv.name, flat, report, conv.warnings, conv.timings, t0)
