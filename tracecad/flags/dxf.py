"""Flags of the DXF output (``--formats dxf``): how its curves are written."""

from __future__ import annotations

import argparse

from cad.export.dxf import CURVES
from tracer.errors import InvalidInputError

__all__ = ["add_arguments", "apply"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("DXF (--formats dxf: the footprint for laser cutters, CNC and CAD sketches)")
    g.add_argument("--dxf-curves", choices=CURVES, default=None,
                   help="spline (default): the exact curves, a LINE or cubic SPLINE per segment joined end to "
                        "end; polyline: one closed LWPOLYLINE per outline, within --tolerance")


def apply(args: argparse.Namespace, kw: dict) -> None:
    if args.dxf_curves is None:
        return
    formats = kw.get("formats")
    if formats is None or "dxf" not in str(formats).lower():  # (it would change nothing)
        raise InvalidInputError("--dxf-curves needs --formats with dxf, e.g. --formats step,dxf")
    kw["dxf_curves"] = args.dxf_curves
