"""Flags of the fitting stage: the traced outline refitted with few lines, circular arcs and cubics."""

from __future__ import annotations

import argparse
import math

from tracer.errors import InvalidInputError

__all__ = ["add_arguments", "apply"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("fitting (few lines, arcs and curves: CAD-clean STEP)")
    g.add_argument("--fit-tolerance", type=float, default=None, metavar="MM",
                   help="refit the traced outline with the fewest lines, circular arcs and Bézier curves that "
                        "stay within MM of it (default: a twentieth of a source pixel at the output size; lines "
                        "and arcs, least-squares fits, may stray twice as far; 0 keeps the traced curves)")


def apply(args: argparse.Namespace, kw: dict) -> None:
    if args.fit_tolerance is not None:
        if not (math.isfinite(args.fit_tolerance) and args.fit_tolerance >= 0):
            raise InvalidInputError(f"--fit-tolerance must be a distance in mm >= 0, got {args.fit_tolerance}")
        kw["fit_tolerance_mm"] = float(args.fit_tolerance)
