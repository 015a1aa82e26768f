"""Flags of the fitting stage: the traced outline refitted with few lines, circular arcs and cubics."""

from __future__ import annotations

import argparse
import math

__all__ = ["add_arguments", "apply"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("fitting (few lines, arcs and curves: CAD-clean STEP)")
    g.add_argument("--fit-tolerance", type=_tolerance, default=None, metavar="MM|auto",
                   help="refit the traced outline with the fewest lines, circular arcs, ellipses and Bézier curves that "
                        "stay within MM of it (auto, the default: a tenth of a source pixel at the output size, "
                        "a little more on a subject over 512 px across, up to three times that where the trace "
                        "wobbles, and on a photo or a JPEG a fit of the trace smoothed over a few pixels, when a "
                        "STEP, SVG or DXF is written; lines "
                        "and arcs, least-squares fits, may stray one and a half times as far); 0 keeps potrace's "
                        "curves")


def _tolerance(text: str) -> float | str:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a distance in mm or 'auto', got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a distance in mm >= 0 or 'auto', got {text!r}")
    return value


def apply(args: argparse.Namespace, kw: dict) -> None:
    if args.fit_tolerance == "auto":
        kw["fit_tolerance_mm"] = None
    elif args.fit_tolerance is not None:
        kw["fit_tolerance_mm"] = float(args.fit_tolerance)
