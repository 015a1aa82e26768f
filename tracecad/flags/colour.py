"""Flags of ``--colors``: one body per colour."""

from __future__ import annotations

import argparse

from tracecad.flags.types import colour_count
from tracecad.options import parse_layer_heights
from tracer.errors import InvalidInputError

__all__ = ["add_arguments", "apply"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("colours (one body per colour)")
    g.add_argument("--colors", "--colours", dest="colors", type=colour_count, default=None, metavar="N|auto",
                   help="quantise into N colours besides the background (auto: as many as are distinct); "
                        "writes one body per colour: a coloured 3MF and STEP, one STL per colour")
    g.add_argument("--layer-heights", default=None, metavar="LIST",
                   help="per-colour heights in mm, in the order of the report (largest area first), "
                        "e.g. 3,2,2.5, or by colour: '#000000=3,#ea5a47=2'; others get --thickness")
    g.add_argument("--enclosed-background", choices=("fill", "hole"), default=None,
                   help="areas of the background colour enclosed by the part: a body of that colour "
                        "(fill, default) or holes")
    g.add_argument("--color-distance", type=float, default=None, metavar="DE",
                   help="colours closer than this CIE Delta E are one colour (default 8)")


def apply(args: argparse.Namespace, kw: dict) -> None:
    if args.colors is not None:
        kw["colors"] = args.colors
    if args.layer_heights is not None:
        if args.colors is None:
            raise InvalidInputError("--layer-heights needs --colors N or --colors auto")
        parse_layer_heights(args.layer_heights)  # validate early: a usage error, not a per-file one
        kw["layer_heights"] = args.layer_heights
    if args.enclosed_background is not None:
        kw["enclosed_background"] = args.enclosed_background
    if args.color_distance is not None:
        if not args.color_distance > 0:
            raise InvalidInputError(f"--color-distance must be > 0, got {args.color_distance}")
        kw["color_distance"] = float(args.color_distance)
