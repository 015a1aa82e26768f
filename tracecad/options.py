"""Every option of a conversion, each default written once.

:class:`ConvertOptions` gathers them: the size and thickness, the isolation and trace parameters
(:class:`tracer.IsolateParams`, :class:`tracer.TraceParams`), the colour options, the 2.5D modes'
:class:`ReliefParams`, and a product (:class:`cad.products.ProductOptions`, with the documented
:data:`PRESETS`). Invalid values and options that cannot go together raise
:class:`tracer.InvalidInputError` when the object is made, so a batch refuses them once, up front.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from cad.export import parse_formats
from cad.export.dxf import CURVES as DXF_CURVES
from cad.export.slicers import SLICERS
from cad.mesh import DEFAULT_TOLERANCE_MM
from cad.products import ProductOptions
from cad.regions import DEFAULT_WIDTH_MM
from cad.strokes import CAPS
from tracer.errors import InvalidInputError
from tracer.load import DEFAULT_MAX_PIXELS
from tracer.photo import PhotoParams
from tracer.types import IsolateParams, TraceParams

__all__ = ["ConvertOptions", "ReliefParams", "StrokeParams", "SVG_CONTENTS", "ProductOptions", "PRESETS", "MODES", "OUTLINES", "apply_preset",
           "parse_layer_heights", "DEFAULT_WIDTH_MM", "DEFAULT_THICKNESS_MM", "DEFAULT_FORMATS",
           "RELIEF_FORMATS", "DEFAULT_MIN_AREA_MM2", "DEFAULT_TOLERANCE_MM"]

#: Height of an extrusion (mm) when neither --thickness nor a preset gives one.
DEFAULT_THICKNESS_MM = 3.0
#: The formats that keep the fitted lines, arcs and curves (the fit's auto default applies when one is written).
CURVE_FORMATS = frozenset({"step", "svg", "dxf"})

#: Files written when --formats is not given: for extrusions, and for the 2.5D modes.
DEFAULT_FORMATS = ("step", "stl")
RELIEF_FORMATS = ("stl", "3mf")
#: Islands and holes smaller than this (mm²) are dropped or filled.
DEFAULT_MIN_AREA_MM2 = 0.02


MODES = ("extrude", "relief", "lithophane", "stroke")
#: What an SVG holds in --mode stroke: the strokes' outline (filled) or the centrelines (open paths).
SVG_CONTENTS = ("outline", "centerline")


OUTLINES = ("auto", "rect", "subject")


#: mode -> (min_height, max_height, base, frame) of the 2.5D modes.
RELIEF_DEFAULTS = {
    "relief": (0.0, 2.0, 1.0, 0.0),
    "lithophane": (0.8, 3.0, 0.0, 3.0),
}


@dataclass(frozen=True, slots=True)
class ReliefParams:
    """Options of the 2.5D modes (None: the mode's default; see :meth:`resolved`).

    min_height_mm, max_height_mm : relief height above the base (relief, default 0 and 2) or panel
        thickness (lithophane, default 0.8 and 3.0) for the lowest and highest level.
    base_mm : plate under the relief (relief only, default 1).
    gamma : the level is ``value ** gamma`` (value: brightness for a relief, darkness for a lithophane).
    smooth_mm : Gaussian smoothing of the heights (sigma, mm); 0 = none.
    invert_heights : swap high and low.
    pitch_mm : grid spacing; the image is downsampled to it.
    curve_angle_deg, curve_radius_mm : bend the panel round a cylinder (any two of width, angle, radius).
    frame_mm : width of a border at full height (lithophane default 3, relief default 0).
    outline : "rect" (the whole image), "subject" (follow the isolated subject), "auto" (subject when
        the alpha channel carries a shape).
    simplify : merge triangles of flat areas, within the mesh tolerance.
    """

    min_height_mm: float | None = None
    max_height_mm: float | None = None
    base_mm: float | None = None
    gamma: float = 1.0
    smooth_mm: float = 0.0
    invert_heights: bool = False
    pitch_mm: float = 0.2
    curve_angle_deg: float | None = None
    curve_radius_mm: float | None = None
    frame_mm: float | None = None
    outline: str = "auto"
    simplify: bool = True

    def __post_init__(self) -> None:
        for name in ("gamma", "pitch_mm"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise InvalidInputError(f"{name} must be a positive number, got {v}")
        if self.pitch_mm < 0.01:
            raise InvalidInputError(f"pitch_mm must be at least 0.01 mm, got {self.pitch_mm}")
        for name in ("min_height_mm", "max_height_mm", "base_mm", "smooth_mm", "frame_mm"):
            v = getattr(self, name)
            if v is not None and not (np.isfinite(v) and v >= 0):
                raise InvalidInputError(f"{name} must be a number >= 0, got {v}")
        if self.curve_angle_deg is not None and not (0 < self.curve_angle_deg <= 360):
            raise InvalidInputError(f"curve_angle_deg must be in (0, 360], got {self.curve_angle_deg}")
        if self.curve_radius_mm is not None and not (np.isfinite(self.curve_radius_mm) and self.curve_radius_mm > 0):
            raise InvalidInputError(f"curve_radius_mm must be a positive number, got {self.curve_radius_mm}")
        if self.outline not in OUTLINES:
            raise InvalidInputError(f"outline must be one of {', '.join(OUTLINES)}, got {self.outline!r}")

    def heights(self) -> tuple[float, float, float, float]:
        """``(min_height_mm, max_height_mm, base_mm, frame_mm)`` of :meth:`resolved` parameters."""
        lo, hi, base, frame = self.min_height_mm, self.max_height_mm, self.base_mm, self.frame_mm
        if lo is None or hi is None or base is None or frame is None:
            raise ValueError("heights() needs the parameters resolved() returns")
        return lo, hi, base, frame

    @property
    def curved(self) -> bool:
        return self.curve_angle_deg is not None or self.curve_radius_mm is not None

    def resolved(self, mode: str) -> ReliefParams:
        """The same options with the mode's defaults filled in, checked for consistency."""
        if mode not in RELIEF_DEFAULTS:
            raise InvalidInputError(f"mode must be relief or lithophane here, got {mode!r}")
        lo, hi, base, frame = RELIEF_DEFAULTS[mode]
        if mode == "lithophane" and self.base_mm:
            raise InvalidInputError("--base does not apply to lithophanes (their thinnest part is --min-height)")
        lo = lo if self.min_height_mm is None else self.min_height_mm
        hi = hi if self.max_height_mm is None else self.max_height_mm
        base = base if self.base_mm is None else self.base_mm
        frame = frame if self.frame_mm is None else self.frame_mm
        out = replace(self, min_height_mm=lo, max_height_mm=hi, base_mm=base, frame_mm=frame)
        if hi < lo:
            raise InvalidInputError(f"max height {hi} mm is below min height {lo} mm "
                                    "(use --invert-heights to swap high and low)")
        if base + lo <= 0:
            what = "--min-height" if mode == "lithophane" else "--base + --min-height"
            raise InvalidInputError(f"{what} must be above 0 mm, or the thinnest part would have no thickness")
        if self.curved and self.outline == "subject":
            raise InvalidInputError("a curved panel is rectangular: --relief-outline subject cannot be bent")
        return out


@dataclass(frozen=True, slots=True)
class StrokeParams:
    """Options of ``--mode stroke`` (centrelines of line art drawn at one width).

    width_mm : the stroke width; None measures it: the median ink width of the drawing, in mm.
    cap : the ends of open lines, "round", "butt" or "square" (joins are always round).
    svg_content : "outline" (the strokes' filled outline) or "centerline" (the centrelines as open paths), in
        the SVG and the DXF.
    """

    width_mm: float | None = None
    cap: str = "round"
    svg_content: str = "outline"

    def __post_init__(self) -> None:
        if self.width_mm is not None and not (np.isfinite(self.width_mm) and self.width_mm > 0):
            raise InvalidInputError(f"the stroke width must be a positive number of mm or auto, got {self.width_mm}")
        if self.cap not in CAPS:
            raise InvalidInputError(f"unknown cap {self.cap!r} (choose from {', '.join(CAPS)})")
        if self.svg_content not in SVG_CONTENTS:
            raise InvalidInputError(f"unknown SVG content {self.svg_content!r} (choose from {', '.join(SVG_CONTENTS)})")


@dataclass(frozen=True, slots=True)
class ConvertOptions:
    """Every option of a conversion, with its default written once.

    Sizes are in mm. Exactly one of ``width_mm`` / ``height_mm`` / ``px_mm``
    may be set; with none, the subject is ``DEFAULT_WIDTH_MM`` (50 mm) wide.
    """

    width_mm: float | None = None
    height_mm: float | None = None
    px_mm: float | None = None
    thickness_mm: float = DEFAULT_THICKNESS_MM
    formats: tuple[str, ...] = DEFAULT_FORMATS
    tolerance_mm: float = DEFAULT_TOLERANCE_MM
    min_area_mm2: float = DEFAULT_MIN_AREA_MM2
    # --fit-tolerance: refit the trace with lines, arcs and cubics within this distance (mm); None (auto)
    # = a tenth of a source pixel at the output size (more over 512 px, and on a wobbling trace) when a curve
    # format is written (see fit_mm), 0 = keep potrace's curves
    fit_tolerance_mm: float | None = None
    mirror: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    isolate: IsolateParams = IsolateParams()
    trace: TraceParams = TraceParams()
    debug_dir: str | None = None
    # --colors (tracecad.modes.colours): None = single body; an int N or "auto" = one body per colour
    colors: int | str | None = None
    layer_heights: str | tuple | None = None
    enclosed_background: str | None = None
    color_distance: float | None = None
    # the printer set-up of the --colors 3MF (tracecad.modes.slicer): the slicer whose project files are
    # written, colours on extruders, the palette cap, and colour changes on the layer grid
    slicer: str = "prusa"
    extruders: str | tuple | None = None
    max_colors: int | None = None
    color_changes: bool = False
    layer_height_mm: float = 0.2
    # --mode relief|lithophane (tracecad.modes.relief): grey levels become heights; "extrude" is the traced outline
    mode: str = "extrude"
    relief: ReliefParams = ReliefParams()
    # --mode stroke (tracecad.modes.stroke): centrelines of line art drawn at one width
    stroke: StrokeParams = StrokeParams()
    # --preset/--plate/--nozzle ... (tracecad.modes.product): a plate, hole, rim, stencil, stamp or cookie cutter
    # around the artwork, and the printability check; None = the plain extrusion
    product: ProductOptions | None = None
    # --crop/--perspective/--aspect/--pick (tracer.photo): what is done to a photo before isolation
    photo: PhotoParams = PhotoParams()
    # --dxf-curves (cad.export.dxf): "spline" writes the exact curves, "polyline" closed polylines within tolerance_mm
    dxf_curves: str = "spline"

    def fit_mm(self) -> float | None:
        """The fit tolerance to build with (:func:`cad.regions.to_regions`): ``fit_tolerance_mm``, except
        that auto (None) fits only when a format that keeps curves is written (STEP, SVG, DXF). Meshes
        alone (STL, 3MF) keep potrace's curves: the fit would cost more than the rest of the conversion
        and change the tessellated footprint by a fraction of a pixel."""
        if self.fit_tolerance_mm is None and not CURVE_FORMATS & set(self.formats):
            return 0.0
        return self.fit_tolerance_mm

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
        if self.fit_tolerance_mm is not None and not (np.isfinite(self.fit_tolerance_mm) and self.fit_tolerance_mm >= 0):
            raise InvalidInputError(f"fit_tolerance_mm must be >= 0, got {self.fit_tolerance_mm}")
        if self.dxf_curves not in DXF_CURVES:
            raise InvalidInputError(f"dxf_curves must be one of {', '.join(DXF_CURVES)}, got {self.dxf_curves!r}")
        self._check_combinations()

    def _check_combinations(self) -> None:
        """Options that cannot go together: one usage error up front, not the same error for every input."""
        if self.mode == "stroke" and self.colors is not None:
            raise InvalidInputError("--colors cannot be combined with --mode stroke")
        if self.mode != "stroke" and self.stroke != StrokeParams():
            raise InvalidInputError("stroke options (--stroke-width, --cap, --svg-content) need --mode stroke")
        if self.mode in RELIEF_DEFAULTS:
            if self.colors is not None:
                raise InvalidInputError(f"--colors cannot be combined with --mode {self.mode}")
            if self.product is not None:
                raise InvalidInputError(f"product presets (--preset, --plate, ...) cannot be combined with --mode {self.mode}")
            for fmt in ("svg", "dxf"):
                if fmt in self.formats:
                    raise InvalidInputError(f"--formats {fmt} is not available in --mode {self.mode} "
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
        if self.colors is not None and (self.photo.pick or self.isolate.keep != "all"):
            raise InvalidInputError("--pick and --keep choose one subject; they cannot be combined with --colors")
        if self.photo.pick:
            iso, plain = self.isolate, IsolateParams()
            clash = [flag for flag, field in (("--threshold", "threshold"), ("--invert", "invert"),
                                              ("--method", "method"), ("--color", "color"), ("--alpha", "use_alpha"))
                     if getattr(iso, field) != getattr(plain, field)]
            if clash:
                raise InvalidInputError(f"{', '.join(clash)} cannot be combined with --pick, which takes the subject's "
                                        "colour from the picked point")
            if self.mode != "extrude" and self.relief.outline == "rect":
                raise InvalidInputError("--pick chooses a subject: with --mode relief or lithophane it needs "
                                        "--relief-outline subject")
        if self.slicer not in SLICERS:
            raise InvalidInputError(f"--slicer must be one of {', '.join(SLICERS)}, got {self.slicer!r}")
        if not (np.isfinite(self.layer_height_mm) and self.layer_height_mm > 0):
            raise InvalidInputError(f"--layer-height must be a positive number, got {self.layer_height_mm}")
        if self.max_colors is not None and not (isinstance(self.max_colors, int) and 1 <= self.max_colors <= 24):
            raise InvalidInputError(f"--max-colors must be from 1 to 24, got {self.max_colors!r}")
        needs = [flag for flag, on in (("--extruders", self.extruders is not None),
                                       ("--max-colors", self.max_colors is not None),
                                       ("--color-changes", self.color_changes)) if on]
        if needs and self.colors is None:
            raise InvalidInputError(f"{', '.join(needs)} needs --colors N or --colors auto")
        if self.color_changes and self.extruders is not None:
            raise InvalidInputError("--extruders cannot be combined with --color-changes, which prints every "
                                    "colour with one extruder")
        prod = self.product
        if self.colors is not None and prod is not None and prod.builds_solid and (
                prod.plate == "none" or prod.style != "emboss" or prod.hole_mm or prod.rim_mm or prod.chamfer_mm
                or prod.fillet_mm):
            raise InvalidInputError("with --colors only --plate (with --margin, --base-thickness, --corner-radius) "
                                    "is supported; --style, --hole, --rim, --chamfer and --fillet are not")


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


def apply_preset(options: ConvertOptions, name: str) -> ConvertOptions:
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


def parse_layer_heights(text) -> tuple:
    """``"3,2"`` -> ``(3.0, 2.0)``; ``"#000000=3,#ea5a47=2"`` -> ``(("#000000", 3.0), ...)``."""
    if text is None:
        return ()
    if isinstance(text, (tuple, list)):
        items = list(text)
    else:
        items = [s.strip() for s in str(text).split(",") if s.strip()]
    out = []
    for item in items:
        if isinstance(item, (tuple, list)):
            key, val = item
        elif isinstance(item, str) and "=" in item:
            key, val = item.split("=", 1)
            key = key.strip().lower()
            if not re.fullmatch(r"#?[0-9a-f]{6}", key):
                raise InvalidInputError(f"--layer-heights: {key!r} is not a colour like #ea5a47")
            key = key if key.startswith("#") else "#" + key
        else:
            key, val = None, item
        try:
            h = float(val)
        except (TypeError, ValueError):
            raise InvalidInputError(f"--layer-heights: {val!r} is not a height in mm") from None
        if not (np.isfinite(h) and h > 0):
            raise InvalidInputError(f"--layer-heights: heights must be positive, got {val!r}")
        out.append((key, h) if key else h)
    kinds = {isinstance(x, tuple) for x in out}
    if len(kinds) > 1:
        raise InvalidInputError("--layer-heights: give either a plain list or colour=height pairs, not both")
    return tuple(out)
