"""2.5D modes: grayscale relief and lithophanes (``--mode relief`` / ``--mode lithophane``).

The image's grey levels become heights on a regular grid (``pitch_mm``
apart; the source is box-filtered down to that pitch), and
:mod:`cad.heightmap` closes the grid into a watertight solid with a flat
bottom at Z = 0. manifold3d then cuts it to the subject's outline (when the
outline follows the subject), adds the frame, and simplifies flat areas
within the mesh tolerance; :func:`cad.mesh.check_mesh` checks the result and
every file again after it is read back, before it gets its final name.

* relief: brightness (``invert_heights``: darkness) -> height between
  ``min_height_mm`` and ``max_height_mm`` on top of a ``base_mm`` plate.
* lithophane: darkness -> thickness between ``min_height_mm`` (0.8) and
  ``max_height_mm`` (3.0), a frame, flat or bent round a cylinder.

Frames: like every tracecad part, millimetres, bottom at Z = 0, centred on
the origin, and seen from +Z it reads like the image (image x -> +X, image
y -> -Y). A curved panel stands upright instead: the cylinder's axis is the
Z axis, the panel's inner (flat) face lies on ``curve_radius_mm``, its
middle faces -Y, and seen from -Y (outside) it reads like the image.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import shapely

import tracer
from cad import geometry, heightmap
from cad.export import parse_formats, prepare_out_dir, write_checked
from cad.export.step import read_step, write_step
from cad.export.stl import read_stl, write_stl
from cad.export.threemf import Part, read_3mf, write_3mf
from cad.mesh import Mesh, check_mesh
from cad.regions import to_regions
from cad.solid import count_solids, faceted_solid, is_valid_shape, shape_volume
from tracecad.modes.common import load_photo, output_paths, photo_report, report_entry, source_name, source_stem
from tracecad.options import DEFAULT_WIDTH_MM, ConvertOptions, ReliefParams
from tracer.debug import write_debug, write_heights, write_or_warn
from tracer.errors import ExportError, GeometryError, InvalidInputError, TracecadWarning

__all__ = ["ReliefResult", "build_relief", "write_relief", "convert_relief", "MAX_GRID_NODES", "STEP_MAX_FACETS"]


#: Grids above this many nodes are coarsened (with a warning): ~2 M nodes is a 280 x 280 mm panel at 0.2 mm.
MAX_GRID_NODES = 2_000_000


#: A faceted STEP solid above this many triangles is refused (the STEP file would be ~2.5 kB per facet).
STEP_MAX_FACETS = 60_000


@dataclass(slots=True, eq=False)
class ReliefResult:
    """The in-memory result of :func:`build_relief`."""

    name: str
    mesh: Mesh
    report: dict
    expected_volume_mm3: float
    volume_tolerance_mm3: float
    warnings: list
    timings: dict


def _levels(image, p: ReliefParams, mode: str, *, weight_alpha: bool):
    """The per-pixel level field in [0, 1] before gamma, and the weights for sampling (or None)."""
    lum = image.luminance().astype(np.float32)
    field = lum if mode == "relief" else 1.0 - lum  # lithophane: dark is thick
    if p.invert_heights:
        field = 1.0 - field
    alpha = image.alpha
    if alpha is not None and not weight_alpha:
        field = field * alpha  # transparent pixels are the lowest / thinnest
        alpha = None
    return field, alpha


def _panel_size(image, options, p: ReliefParams, frame: float, *, frame_x: float) -> tuple[float, float]:
    """Total panel width and height (mm, frame included) for a rectangular outline."""
    cols, rows = image.source_size
    if options.px_mm is not None:
        wi, hi = cols * options.px_mm, rows * options.px_mm
    elif options.height_mm is not None:
        hi = options.height_mm - 2 * frame
        if hi <= 0:
            raise InvalidInputError(f"--height {options.height_mm:g} mm leaves no room inside a {frame:g} mm frame")
        wi = hi * cols / rows
    else:
        w = options.width_mm
        if w is None and p.curve_angle_deg is not None and p.curve_radius_mm is not None:
            w = p.curve_radius_mm * math.radians(p.curve_angle_deg)
        elif w is None:
            w = DEFAULT_WIDTH_MM
        wi = w - 2 * frame_x
        if wi <= 0:
            raise InvalidInputError(f"a {w:g} mm wide panel leaves no room inside a {frame:g} mm frame")
        hi = wi * rows / cols
    return wi + 2 * frame_x, hi + 2 * frame


def _curve(width: float, p: ReliefParams, options) -> tuple[float, float]:
    """(radius, angle in degrees) of a curved panel whose flat width is ``width``."""
    if p.curve_angle_deg is not None and p.curve_radius_mm is not None:
        if any(v is not None for v in (options.width_mm, options.height_mm, options.px_mm)):
            raise InvalidInputError("give at most two of the panel size (--width/--height/--px-mm), "
                                    "--curve-angle and --curve-radius")
        return p.curve_radius_mm, p.curve_angle_deg
    if p.curve_radius_mm is not None:
        angle = math.degrees(width / p.curve_radius_mm)
        if angle > 360 + 1e-9:
            raise InvalidInputError(f"a {width:.1f} mm wide panel would wrap {angle:.0f}° round a "
                                    f"{p.curve_radius_mm:g} mm radius; use a larger radius or a smaller width")
        return p.curve_radius_mm, angle
    assert p.curve_angle_deg is not None  # (a curved panel has an angle, a radius or both)
    return width / math.radians(p.curve_angle_deg), p.curve_angle_deg


def _pitch(extent_x: float, extent_y: float, pitch: float, warn: list) -> float:
    nodes = (extent_x / pitch + 1) * (extent_y / pitch + 1)
    if nodes > MAX_GRID_NODES:
        new = pitch * math.sqrt(nodes / MAX_GRID_NODES) * 1.01
        warn.append(f"pitch raised from {pitch:g} to {new:.3f} mm to stay under {MAX_GRID_NODES} grid nodes")
        return new
    return pitch


def _smooth(z: np.ndarray, sigma_nodes: float, periodic: bool) -> np.ndarray:
    if sigma_nodes <= 0:
        return z
    import cv2  # (lazy: cv2 costs start-up time)

    if periodic:
        pad = int(math.ceil(3 * sigma_nodes)) + 1
        zz = np.concatenate([z[:, -pad:], z, z[:, :pad]], axis=1)
        out = cv2.GaussianBlur(zz.astype(np.float32), (0, 0), sigma_nodes, borderType=cv2.BORDER_REPLICATE)
        return out[:, pad:-pad].astype(np.float64)
    return cv2.GaussianBlur(z.astype(np.float32), (0, 0), sigma_nodes, borderType=cv2.BORDER_REPLICATE).astype(np.float64)


def _alive_contours(outlines, scale: float, min_area_mm2: float) -> np.ndarray:
    """Which contours :func:`cad.regions.to_regions` keeps at ``scale`` (same rule: area and parent)."""
    alive = np.ones(len(outlines.contours), bool)
    if min_area_mm2 > 0:
        min_px = min_area_mm2 / scale**2
        for i, c in enumerate(outlines.contours):
            if (c.parent >= 0 and not alive[c.parent]) or abs(geometry.signed_area(c.ctrl)) < min_px:
                alive[i] = False
    return alive


def _subject_frame(outlines, regions) -> tuple[float, float]:
    """The pixel point that :func:`to_regions` put at the origin (the subject's bbox centre), checked."""
    if "origin_px" in regions.report:  # the fitted outline's box, as to_regions recorded it
        return regions.report["origin_px"]
    s = regions.px_mm
    alive = _alive_contours(outlines, s, regions.report.get("min_area_mm2", 0.0))
    boxes = np.array([geometry.curve_bounds(c.ctrl) for i, c in enumerate(outlines.contours) if alive[i] and c.parent < 0])
    if len(boxes) == 0:
        raise GeometryError("nothing to build: the outline is empty")
    u0, v0, u1, v1 = boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()
    if abs((u1 - u0) * s - regions.width_mm) > 1e-3 * regions.width_mm + 1e-6 or \
            abs((v1 - v0) * s - regions.height_mm) > 1e-3 * regions.height_mm + 1e-6:
        raise GeometryError("could not place the height field on the subject's outline (bounding boxes differ)")
    return 0.5 * (u0 + u1), 0.5 * (v0 + v1)


def _cross_section(regions, tolerance_mm: float):
    import manifold3d

    contours = [ring.flatten(tolerance_mm) for r in regions.regions for ring in r.rings]
    return manifold3d.CrossSection(contours, manifold3d.FillRule.Positive)


def build_relief(source, options: ConvertOptions, *, name: str | None = None) -> ReliefResult:
    """Image -> checked, watertight relief or lithophane mesh in memory (no files)."""
    name = source_name(source, name)
    mode = options.mode
    p = options.relief.resolved(mode)
    timings: dict[str, float] = {}
    warn: list[str] = []
    with warnings.catch_warnings(record=True) as wlist:
        warnings.simplefilter("always", TracecadWarning)
        prepared, iso_photo = load_photo(source, options, name, timings)
    warn.extend(str(w.message) for w in wlist if issubclass(w.category, TracecadWarning))
    image = prepared.image
    if image.scale != 1.0:
        warn.append(f"image decoded reduced by {image.scale:g}x to stay under the pixel limit")
    t = time.perf_counter()
    outline = p.outline
    if outline == "auto":
        outline = "subject" if (tracer.alpha_carries_shape(image) and not p.curved) else "rect"
    min_height, max_height, base, frame = p.heights()
    lo = base + min_height
    hi = base + max_height
    rows_d, cols_d = image.pixels.shape[:2]
    dec = image.scale  # source pixels per decoded pixel
    report: dict = {"mode": mode, "outline": outline, **photo_report(prepared, None, options)}
    regions = None
    periodic = False
    if outline == "rect":
        field, weights = _levels(image, p, mode, weight_alpha=False)
        full_turn = p.curve_angle_deg is not None and p.curve_angle_deg >= 360.0 - 1e-9
        width, height = _panel_size(image, options, p, frame, frame_x=0.0 if full_turn else frame)
        radius = angle = None
        if p.curved:
            radius, angle = _curve(width, p, options)
            if abs(angle - 360.0) < 1e-6:  # a closed tube: the grid wraps round, no side walls or side frame
                periodic = True
                width = 2 * math.pi * radius
        pitch = _pitch(width, height, p.pitch_mm, warn)
        nx, ny = max(2, round(width / pitch)), max(2, round(height / pitch))
        px_, py_ = width / nx, height / ny
        kx = 0 if periodic else round(frame / px_)
        ky = round(frame / py_)
        if frame > 0 and (ky == 0 or (kx == 0 and not periodic)):
            warn.append(f"the {frame:g} mm frame is narrower than half the pitch and was left out")
        if ny - 2 * ky < 1 or (not periodic and nx - 2 * kx < 1):
            raise InvalidInputError(f"the panel is {width:.3g} x {height:.3g} mm: inside its {frame:g} mm frame no "
                                    f"row or column of the {pitch:.3g} mm grid is left for the image "
                                    "(make it larger, or lower --frame or --pitch)")
        x0, y0 = -width / 2, height / 2
        xs = x0 + np.arange(nx if periodic else nx + 1) * px_
        ys = y0 - np.arange(ny + 1) * py_
        inner_w, inner_h = width - 2 * kx * px_, height - 2 * ky * py_
        u = (xs - (x0 + kx * px_)) / inner_w * cols_d
        v = ((y0 - ky * py_) - ys) / inner_h * rows_d
        if options.mirror:
            u = cols_d - u
        step_px = max(px_ * cols_d / inner_w, py_ * rows_d / inner_h)
        level = heightmap.sample_nodes(field, u, v, step_px=step_px, weights=weights)
    else:
        if p.curved:
            raise InvalidInputError("a curved panel is rectangular: --relief-outline subject cannot be bent")
        iso = iso_photo
        if iso.width_mm is None:
            iso = replace(iso, width_mm=options.width_mm)
        # The heights live on a grid of --pitch; an outline traced finer than a quarter of it buys nothing.
        iso = replace(iso, target_px_mm=max(iso.target_px_mm, p.pitch_mm / 4))
        with warnings.catch_warnings(record=True) as wlist:
            warnings.simplefilter("always", TracecadWarning)
            mask = tracer.isolate(image, params=iso)
            outlines = tracer.trace(mask, params=options.trace)
            regions = to_regions(outlines, width_mm=options.width_mm, height_mm=options.height_mm,
                                 px_mm=options.px_mm, min_area_mm2=options.min_area_mm2, mirror=options.mirror,
                                 fit_tolerance_mm=options.fit_mm())
        warn.extend(str(w.message) for w in wlist if issubclass(w.category, TracecadWarning))
        if options.debug_dir:  # the subject's mask and outline, as in the extrude mode
            debug_dir = options.debug_dir
            failed = write_or_warn(debug_dir, lambda: write_debug(debug_dir, Path(name).stem, image, mask, outlines, prepared))
            if failed:
                warn.append(failed)
        regions.report.setdefault("min_area_mm2", options.min_area_mm2)
        cx, cy = _subject_frame(outlines, regions)
        s = regions.px_mm
        bx0, by0, bx1, by1 = regions.bounds
        margin = frame + 2 * p.pitch_mm
        pitch = _pitch(bx1 - bx0 + 2 * margin, by1 - by0 + 2 * margin, p.pitch_mm, warn)
        nx = int(math.ceil((bx1 - bx0 + 2 * margin) / pitch)) + 1
        ny = int(math.ceil((by1 - by0 + 2 * margin) / pitch)) + 1
        px_ = py_ = pitch
        sx = -1.0 if options.mirror else 1.0
        field, weights = _levels(image, p, mode, weight_alpha=True)
        width, height = bx1 - bx0, by1 - by0
        radius = angle = None
        kx = ky = 0
    timings["sample"] = time.perf_counter() - t

    # A subject's outline is cut out of the grid by a boolean. Where an outline vertex falls (almost) on a
    # grid line, the exact result can hold vertices closer than float32 can tell apart, which the STL would
    # merge; the grid is therefore offset by an irrational fraction of the pitch, and offset again if needed.
    shifts = [(0.0, 0.0)] if regions is None else [(0.3183099, 0.2763932), (0.6180340, 0.4142136),
                                                   (0.1415927, 0.7320508)]
    # As a last resort the exact, unsimplified mesh is kept.
    tol_mm = options.tolerance_mm if p.simplify else 0.0
    plan = [(shift, tol_mm) for shift in shifts]
    if p.simplify:
        plan.append((shifts[0], 0.0))
    debug = None
    if options.debug_dir:  # --debug-dir: the height field as a picture

        def debug(z):
            debug_dir = options.debug_dir
            failed = write_or_warn(debug_dir, lambda: write_heights(debug_dir, Path(name).stem, z))
            if failed:
                warn.append(failed)

    for attempt, ((fx, fy), simplify) in enumerate(plan):
        if regions is not None:
            t = time.perf_counter()
            x0, y0 = bx0 - margin - fx * pitch, by1 + margin + fy * pitch
            xs = x0 + np.arange(nx + 1) * px_
            ys = y0 - np.arange(ny + 1) * py_
            level = heightmap.sample_nodes(field, (cx + sx * xs / s) / dec, (cy - ys / s) / dec,
                                   step_px=pitch / (s * dec), weights=weights)
            timings["sample"] += time.perf_counter() - t
        mesh, rep, expected, top_area, width, height = _mesh_once(
            level, p, options, regions, xs=xs, ys=ys, x0=x0, y0=y0, px_=px_, py_=py_, nx=nx, ny=ny, kx=kx, ky=ky,
            lo=lo, hi=hi, frame=frame, periodic=periodic, radius=radius, width=width, height=height, timings=timings,
            simplify=simplify, debug=debug)
        if rep.is_volume:
            break
    report["simplified_mm"] = simplify
    tol = 1e-5 * abs(expected) + 1e-3  # float32 vertices against manifold's double-precision volume
    if not rep.is_volume:
        raise ExportError(f"{name}: the {mode} mesh is not a closed volume (watertight={rep.watertight}, "
                          f"winding={rep.winding_consistent})")
    if abs(rep.volume_mm3 - expected) > tol:
        raise ExportError(f"{name}: the {mode} mesh volume {rep.volume_mm3:.3f} mm³ does not match the "
                          f"solid's {expected:.3f} mm³ (tolerance {tol:.3f})")
    if attempt:
        report["mesh_attempts"] = attempt + 1
    bmin, bmax = mesh.vertices.min(axis=0), mesh.vertices.max(axis=0)
    report.update({
        "width_mm": round(float(width), 6), "height_mm": round(float(height), 6),
        "thickness_mm": round(float(hi), 6), "min_thickness_mm": round(float(lo), 6),
        "area_mm2": round(float(regions.area_mm2 if regions is not None else width * height), 6),
        "volume_mm3": round(rep.volume_mm3, 6), "bodies": rep.bodies, "holes": rep.genus,
        "contours": sum(len(r.rings) for r in regions.regions) if regions is not None else 1,
        "curve_segments": regions.n_segments if regions is not None else 0,
        "step_faces": None, "triangles": rep.triangles,
        "grid": [int(nx), int(ny)], "pitch_mm": round(float(max(px_, py_)), 6),
        "frame_mm": round(float(kx * px_ if not periodic else ky * py_), 6) if regions is None else frame,
        "curve_radius_mm": None if radius is None else round(radius, 6),
        "curve_angle_deg": None if angle is None else round(angle, 6),
        "bbox_mm": [[round(float(a), 6) for a in bmin], [round(float(a), 6) for a in bmax]],
    })
    return ReliefResult(name=name, mesh=mesh, report=report, expected_volume_mm3=rep.volume_mm3,
                        volume_tolerance_mm3=1e-5 * rep.volume_mm3 + 1e-4 * top_area, warnings=warn, timings=timings)


def _mesh_once(level, p, options, regions, *, xs, ys, x0, y0, px_, py_, nx, ny, kx, ky, lo, hi, frame, periodic,
               radius, width, height, timings, simplify, debug=None):
    """Levels on the grid -> (mesh, check report, expected volume, top area, width, height).

    ``debug(z)``, when given, sees the final node heights (``--debug-dir``)."""
    t = time.perf_counter()
    level = _smooth(level, p.smooth_mm / min(px_, py_), periodic)
    level = np.clip(level, 0.0, 1.0) ** p.gamma
    z = lo + level * (hi - lo)
    if regions is not None and frame > 0:
        gx, gy = np.meshgrid(xs, ys)
        z[~shapely.contains_xy(regions.geometry, gx, gy)] = hi
    if kx or ky:
        fr = np.zeros(z.shape, bool)
        if ky:
            fr[:ky + 1] = fr[-ky - 1:] = True
        if kx:
            fr[:, :kx + 1] = fr[:, -kx - 1:] = True
        z[fr] = hi
    if debug is not None:
        debug(z)
    verts, faces = heightmap.grid_mesh(z, pitch_x=px_, pitch_y=py_, x0=x0, y0=y0, periodic=periodic)
    grid_volume = Mesh(verts, faces).volume()
    top_area = (nx * px_) * (ny * py_)
    if p.curved:
        verts = verts.copy()
        verts[:, 1] += height / 2  # flat y -> Z from 0
        verts = heightmap.bend_to_cylinder(verts, radius_mm=radius)
        grid_volume = Mesh(verts, faces).volume()
        top_area *= 1 + hi / radius
    solid = heightmap.to_manifold(verts, faces)
    timings["grid"] = timings.get("grid", 0.0) + time.perf_counter() - t
    t = time.perf_counter()
    if simplify > 0:
        # Flat areas merge; every surface moves by less than the tolerance, so the volume may change by at
        # most tolerance x top area. Done on the plain height field, before any cut: simplifying a cut
        # outline could bring thin features into contact.
        solid = solid.simplify(simplify)
        change = abs(solid.volume() - grid_volume)
        if change > simplify * top_area * 1.05 + 1e-6 * grid_volume:
            raise ExportError(f"simplifying changed the volume by {change:.3f} mm³, more than the tolerance allows")
    if regions is not None:
        import manifold3d

        cs = _cross_section(regions, options.tolerance_mm)
        if frame > 0:  # the frame is part of the height field (full height outside the subject): one cut, no union
            cs = cs.offset(frame, manifold3d.JoinType.Round, 2.0, 0)
            b = cs.bounds()
            width, height = b[2] - b[0], b[3] - b[1]
        prism = manifold3d.Manifold.extrude(cs, hi + 2.0).translate((0.0, 0.0, -1.0))
        solid = solid ^ prism
        if frame > 0:
            solid = solid.translate((-(b[0] + b[2]) / 2, -(b[1] + b[3]) / 2, 0.0))
    expected = solid.volume()
    mesh = heightmap.from_manifold(solid)
    rep = check_mesh(mesh)
    timings["mesh"] = timings.get("mesh", 0.0) + time.perf_counter() - t
    return mesh, rep, expected, top_area, width, height


def write_relief(result: ReliefResult, out_dir: str | os.PathLike[str], stem: str, formats) -> dict[str, str]:
    """Write, read back, check and atomically rename each format (stl, 3mf, step). All or nothing."""
    formats = parse_formats(formats)
    out_dir = prepare_out_dir(out_dir)
    finals = output_paths(out_dir, stem, formats)
    want, tol = result.expected_volume_mm3, result.volume_tolerance_mm3

    def check(mesh: Mesh, final: Path) -> None:
        rep = check_mesh(mesh)
        if not rep.is_volume or abs(rep.volume_mm3 - want) > tol:
            raise ExportError(f"{final.name}: the file did not read back as the same closed mesh "
                              f"(watertight={rep.watertight}, volume {rep.volume_mm3:.3f} mm³, expected {want:.3f})")

    def stl(tmp: Path, final: Path) -> None:
        write_stl(result.mesh, tmp)
        check(read_stl(tmp), final)

    def threemf(tmp: Path, final: Path) -> None:
        write_3mf([Part(stem, result.mesh)], tmp)
        unit, parts = read_3mf(tmp)
        if unit != "millimeter" or len(parts) != 1:
            raise ExportError(f"{final.name}: the 3MF did not read back as one part in millimetres")
        check(parts[0][1], final)

    writers: dict[str, Callable[..., None]] = {
        "stl": stl, "3mf": threemf, "step": partial(_write_step, result)}
    written = write_checked([(final, partial(writers[fmt], final=final)) for fmt, final in finals.items()])
    return {f: str(p) for f, p in zip(finals, written)}


def _write_step(result: ReliefResult, tmp: Path, final: Path) -> None:
    n = result.mesh.n_triangles
    if n > STEP_MAX_FACETS:
        raise ExportError(f"{final.name}: a faceted STEP of {n} triangles is too large (limit {STEP_MAX_FACETS}); "
                          "write stl/3mf, or raise --pitch or --tolerance")
    solid = faceted_solid(result.mesh)
    vol = shape_volume(solid)
    if not is_valid_shape(solid) or abs(vol - result.mesh.volume()) > 1e-6 * abs(vol) + 1e-6:
        raise ExportError(f"{final.name}: the faceted solid is not valid (volume {vol:.3f} mm³)")
    write_step(solid, tmp, name=final.stem)
    back = read_step(tmp)
    bvol = shape_volume(back)
    if count_solids(back) != 1 or abs(bvol - vol) > 1e-6 * abs(vol) + 1e-6 or not is_valid_shape(back):
        raise ExportError(f"{final.name}: the STEP file did not read back as the same solid "
                          f"({count_solids(back)} solids, {bvol:.4f} mm³)")
    result.report["step_faces"] = n


def convert_relief(source, out_dir: str | os.PathLike[str], options: ConvertOptions, *, stem: str | None = None,
                   name: str | None = None) -> dict:
    """``--mode relief|lithophane``: build, write and report (the same entry shape as the extrude mode)."""
    t0 = time.perf_counter()
    stem = source_stem(source) if stem is None else stem
    formats = parse_formats(options.formats)  # (ConvertOptions refused svg, --colors and products here)
    result = build_relief(source, options, name=name)
    t = time.perf_counter()
    outputs = write_relief(result, out_dir, stem, formats)
    result.timings["export"] = time.perf_counter() - t
    return report_entry(result.name, outputs, result.report, result.warnings, result.timings, t0)
