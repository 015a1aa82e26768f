"""The stroke mode: line art -> centrelines -> strokes of one width -> regions -> solid, mesh and files.

The image is isolated like the extrude mode's (:func:`tracer.isolate`, on a raster two working pixels
per source pixel unless ``--upsample`` says otherwise), its ink is followed down the middle
(:func:`tracer.centerline.centerlines`), and each centreline is drawn at the chosen width
(:func:`cad.strokes.stroke_regions`). From the regions on everything is the extrude mode's:
products (a cookie cutter uses the strokes as its wall), the printability check, STEP, STL, 3MF and
the outline SVG and DXF; ``--svg-content centerline`` writes the centrelines as open paths instead.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

import tracer
from cad.export import dxf_paths, svg
from cad.strokes import StrokeSet, flatten_path, stroke_regions
from tracecad.modes import product as product_mode
from tracecad.modes.common import collect_warnings, load_for, source_name, source_stem
from tracecad.modes.extrude import Conversion, finish
from tracecad.options import ConvertOptions
from tracer.centerline import Centerlines, centerlines
from tracer.errors import ExportError, TooComplexError
from tracer.types import Outlines

__all__ = ["StrokeConversion", "build", "convert_stroke", "STROKE_UPSAMPLE"]

#: Working pixels per source pixel of the stroke mode's mask (the centring reads the edges between them).
STROKE_UPSAMPLE = 2


@dataclass(slots=True, eq=False)
class StrokeConversion(Conversion):
    """A :class:`~tracecad.modes.extrude.Conversion` whose regions are strokes along centrelines."""

    centerlines: Centerlines | None = None
    strokes: StrokeSet | None = None

    def write_svg(self, tmp: Path, final: Path) -> None:
        """The outline SVG, or with ``--svg-content centerline`` the centrelines as open paths."""
        if self.options.stroke.svg_content != "centerline":
            Conversion.write_svg(self, tmp, final)
            return
        ss = self.strokes
        assert ss is not None
        svg.write_centerline_svg(ss.paths, self.regions.bounds, tmp, stroke_mm=ss.stroke_mm, cap=ss.cap)
        count, length = svg.svg_open_paths(tmp)
        want = sum(_path_length(c, closed) for c, closed in ss.paths)
        if count != len(ss.paths) or abs(length - want) > 1e-3 * want + 1e-6:
            raise ExportError(f"{final.name}: the SVG reads back as {count} paths {length:.4f} mm long, "
                              f"expected {len(ss.paths)} paths {want:.4f} mm long")

    def write_dxf(self, tmp: Path, final: Path) -> None:
        """The outline DXF, or with ``--svg-content centerline`` the centrelines as open chains on ``CENTERLINE``
        (in the frame of the STEP and STL: a product's offset applied)."""
        if self.options.stroke.svg_content != "centerline":
            Conversion.write_dxf(self, tmp, final)
            return
        ss = self.strokes
        assert ss is not None
        dx, dy = self.solid.report["_offset"] if self.is_product else (0.0, 0.0)
        paths = [(c + np.array([dx, dy]), closed) for c, closed in ss.paths]
        opts = self.options
        written = dxf_paths.write_dxf_paths(paths, tmp, curves=opts.dxf_curves, tolerance_mm=opts.tolerance_mm)
        n_closed = sum(1 for c, closed in paths if closed or np.array_equal(c[0, 0], c[-1, 3]))
        want = dxf_paths.paths_length(paths) if opts.dxf_curves == "spline" else written
        dxf_paths.check_dxf_paths(tmp, open_paths=len(paths) - n_closed, closed_paths=n_closed, length_mm=want,
                                  curves=opts.dxf_curves, name=final.name)

    def report(self) -> dict:
        out = Conversion.report(self)
        cl, ss = self.centerlines, self.strokes
        assert cl is not None and ss is not None
        out.update({
            "centerlines": len(cl.strokes), "branches": cl.branches, "junctions": len(cl.junctions),
            "endpoints": len(cl.endpoints), "ink_width_px": round(cl.ink_width_px, 4),
            "ink_width_mm": round(cl.ink_width_px * ss.frame.scale, 6), "stroke_width_mm": round(ss.stroke_mm, 6),
            "stroke_width_auto": self.options.stroke.width_mm is None, "cap": ss.cap,
        })
        return out


def _path_length(ctrl: np.ndarray, closed: bool) -> float:
    pts = flatten_path(ctrl, closed, 1e-4)
    return float(np.hypot(*np.diff(pts, axis=0).T).sum())


def build(source, options: ConvertOptions = ConvertOptions(mode="stroke"), *, name: str | None = None
          ) -> StrokeConversion:
    """Run load -> isolate -> centrelines -> strokes -> regions in memory. The mesh and solid are built on demand."""
    name = source_name(source, name)
    timings: dict[str, float] = {}
    caught: list[str] = []
    with collect_warnings(caught):
        image, iso = load_for(source, options, name, timings)
        if iso.upsample is None:
            cols, rows = image.source_size
            k = STROKE_UPSAMPLE if cols * rows * STROKE_UPSAMPLE ** 2 <= iso.max_working_px else 1
            iso = replace(iso, upsample=float(k))
        t = time.perf_counter()
        mask = tracer.isolate(image, params=iso)
        timings["isolate"] = time.perf_counter() - t
        t = time.perf_counter()
        lines = centerlines(mask)
        timings["centerlines"] = time.perf_counter() - t
        if lines.n_segments > options.trace.max_segments:
            raise TooComplexError(f"{name}: the centrelines have {lines.n_segments} segments, above the budget of "
                                  f"{options.trace.max_segments} (raise --max-segments)")
        t = time.perf_counter()
        st = options.stroke
        strokes = stroke_regions([(s.ctrl, s.closed) for s in lines.strokes], cap=st.cap,
                                 stroke_mm=st.width_mm, stroke_px=lines.ink_width_px if st.width_mm is None else None,
                                 width_mm=options.width_mm, height_mm=options.height_mm, px_mm=options.px_mm,
                                 mirror=options.mirror)
        regions = strokes.regions
        if regions.n_segments > options.trace.max_segments:
            raise TooComplexError(
                f"{name}: the strokes' outline has {regions.n_segments} segments, above the budget of "
                f"{options.trace.max_segments} (raise --max-segments, or draw wider strokes)")
        timings["strokes"] = time.perf_counter() - t
    if image.scale != 1.0:
        caught.append(f"image decoded reduced by {image.scale:g}x to stay under the pixel limit")
    if options.product is not None:  # --min-feature thickening and the printability check
        t = time.perf_counter()
        regions = product_mode.prepare(regions, options.product, caught)
        timings["printability"] = time.perf_counter() - t
    return StrokeConversion(name=name, options=options, mask=mask,
                            outlines=Outlines(contours=(), source_size=lines.source_size), regions=regions,
                            timings=timings, warnings=caught, product_kw={"art_is_wall": True},
                            centerlines=lines, strokes=strokes)


def convert_stroke(source, out_dir: str | os.PathLike[str], options: ConvertOptions, *, stem: str | None = None,
                   name: str | None = None) -> dict:
    """Build, write and report one input in the stroke mode (with its product, if any)."""
    t0 = time.perf_counter()
    stem = source_stem(source) if stem is None else stem
    return finish(build(source, options, name=name), out_dir, stem, t0)
