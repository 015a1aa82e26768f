"""Flags of ``--mode stroke``: the stroke width, its caps and what an SVG holds."""

from __future__ import annotations

import argparse

from cad.strokes import CAPS
from tracecad.options import SVG_CONTENTS, StrokeParams
from tracer.errors import InvalidInputError

__all__ = ["add_arguments", "apply", "stroke_width"]


def stroke_width(text: str) -> float | None:
    """``auto`` -> None (measured from the image); otherwise a positive number of mm."""
    if text.strip().lower() == "auto":
        return None
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a width in mm or auto, got {text!r}") from None
    if not v > 0 or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive width in mm, got {text!r}")
    return v


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("line art as strokes (--mode stroke)")
    g.add_argument("--stroke-width", type=stroke_width, default=None, metavar="MM|auto",
                   help="width of every stroke (default auto: the median ink width measured in the image)")
    g.add_argument("--cap", choices=CAPS, default=None, help="ends of open lines (default round; joins are round)")
    g.add_argument("--svg-content", choices=SVG_CONTENTS, default=None,
                   help="with --formats svg or dxf: the strokes' filled outline (default) or the centrelines as open paths")


def apply(args: argparse.Namespace, kw: dict) -> None:
    given = {k: v for k, v in (("width_mm", args.stroke_width), ("cap", args.cap),
                               ("svg_content", args.svg_content)) if v is not None}
    if args.mode != "stroke":
        if given:
            raise InvalidInputError("stroke options (--stroke-width, --cap, --svg-content) need --mode stroke")
        return
    kw["stroke"] = StrokeParams(**given)
