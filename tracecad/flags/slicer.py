"""Flags of the printer set-up of ``--colors``: the slicer, extruders, palette cap and colour changes."""

from __future__ import annotations

import argparse

from cad.export.slicers import SLICERS
from tracecad.flags.types import positive
from tracecad.modes.slicer import parse_extruders

__all__ = ["add_arguments", "apply"]


def _max_colors(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of colours, got {text!r}") from None
    if not 1 <= n <= 24:
        raise argparse.ArgumentTypeError(f"--max-colors must be from 1 to 24, got {text!r}")
    return n


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("slicer set-up of the colour 3MF (with --colors)")
    g.add_argument("--slicer", choices=SLICERS, default=None,
                   help="whose project files the 3MF carries: prusa (PrusaSlicer, default) or bambu/orca "
                        "(Bambu Studio, OrcaSlicer); each opens it as one object with a part per colour")
    g.add_argument("--extruders", default=None, metavar="MAP",
                   help="colours on extruders or filament slots, e.g. '#000000=1,#ea5a47=3' "
                        "(default: by area, largest first)")
    g.add_argument("--max-colors", type=_max_colors, default=None, metavar="N",
                   help="merge the colours down to N (e.g. 4 for one AMS): Ward merging in CIE Lab, never into "
                        "the background; the report lists the merged colours")
    g.add_argument("--color-changes", "--colour-changes", dest="color_changes", action="store_true",
                   help="for a single-nozzle printer: stack the colours in height bands and write a filament "
                        "change where each starts (needs a plate or --layer-heights)")
    g.add_argument("--layer-height", type=positive, default=None, metavar="MM",
                   help="layer height the colour changes snap to (default 0.2)")


def apply(args: argparse.Namespace, kw: dict) -> None:
    if args.slicer is not None:
        kw["slicer"] = "bambu" if args.slicer == "orca" else args.slicer
    if args.extruders is not None:
        parse_extruders(args.extruders)  # validate early: a usage error, not a per-file one
        kw["extruders"] = args.extruders
    if args.max_colors is not None:
        kw["max_colors"] = args.max_colors
    if args.color_changes:
        kw["color_changes"] = True
    if args.layer_height is not None:
        kw["layer_height_mm"] = float(args.layer_height)
