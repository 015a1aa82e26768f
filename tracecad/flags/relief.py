"""Flags of ``--mode relief|lithophane``: the group and its translation into :class:`ConvertOptions` fields."""

from __future__ import annotations

import argparse

from tracecad.flags.types import nonneg, positive
from tracecad.options import DEFAULT_FORMATS, MODES, OUTLINES, RELIEF_FORMATS, ReliefParams
from tracer.errors import InvalidInputError

__all__ = ["add_arguments", "apply"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("relief and lithophane (--mode relief|lithophane)")
    g.add_argument("--mode", choices=MODES, default="extrude",
                   help="extrude the traced outline (default), grey levels as heights (relief), "
                        "a backlit lithophane (dark = thick), or the centrelines of line art drawn at one "
                        "width (stroke)")
    g.add_argument("--min-height", type=nonneg, default=None, metavar="MM",
                   help="lowest level: height above the base (relief, default 0) or thickness (lithophane, 0.8)")
    g.add_argument("--max-height", type=nonneg, default=None, metavar="MM",
                   help="highest level: height above the base (relief, default 2) or thickness (lithophane, 3.0)")
    g.add_argument("--base", type=nonneg, default=None, metavar="MM", help="plate under a relief (default 1)")
    g.add_argument("--gamma", type=positive, default=None, help="level = value^gamma (default 1)")
    g.add_argument("--smooth", type=nonneg, default=None, metavar="MM", help="Gaussian smoothing sigma (default 0)")
    g.add_argument("--invert-heights", action="store_true", help="swap high and low")
    g.add_argument("--pitch", type=positive, default=None, metavar="MM",
                   help="grid spacing; the image is downsampled to it (default 0.2)")
    g.add_argument("--curve-angle", type=positive, default=None, metavar="DEG",
                   help="bend the panel round a cylinder over this angle (up to 360)")
    g.add_argument("--curve-radius", type=positive, default=None, metavar="MM", help="inner radius of the bent panel")
    g.add_argument("--frame", type=nonneg, default=None, metavar="MM",
                   help="border at full height (lithophane default 3, relief 0)")
    g.add_argument("--relief-outline", choices=OUTLINES, default=None,
                   help="rect (whole image), subject (follow the isolated subject), auto (subject when the alpha "
                        "channel carries a shape; default)")
    g.add_argument("--no-simplify", dest="relief_simplify", action="store_false", default=True,
                   help="keep every grid triangle (default: merge flat areas within --tolerance)")


def apply(args: argparse.Namespace, kw: dict) -> None:
    mode = args.mode
    kw["mode"] = mode
    if kw.get("formats") is None:
        kw["formats"] = RELIEF_FORMATS if mode in ("relief", "lithophane") else DEFAULT_FORMATS
    fields = {"min_height_mm": args.min_height, "max_height_mm": args.max_height, "base_mm": args.base,
              "gamma": args.gamma, "smooth_mm": args.smooth, "pitch_mm": args.pitch,
              "curve_angle_deg": args.curve_angle, "curve_radius_mm": args.curve_radius, "frame_mm": args.frame,
              "outline": args.relief_outline}
    given = {k: v for k, v in fields.items() if v is not None}
    if args.invert_heights:
        given["invert_heights"] = True
    if not args.relief_simplify:
        given["simplify"] = False
    if mode not in ("relief", "lithophane"):
        if given:
            raise InvalidInputError("relief options (--min-height, --pitch, --frame, ...) need --mode relief or lithophane")
        return
    kw["relief"] = ReliefParams(**given)
