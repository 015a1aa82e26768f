"""Flags of the products (plates, styles, presets) and the printability check."""

from __future__ import annotations

import argparse

from cad.products import PLATES, STYLES
from tracecad.flags.types import nonneg, xy
from tracecad.options import DEFAULT_THICKNESS_MM, PRESETS, ProductOptions

__all__ = ["add_arguments", "apply"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("products (badge, keychain, sign, stamp, stencil, cookie cutter) and printability")
    g.add_argument("--preset", choices=tuple(PRESETS), help="a documented set of defaults; any flag overrides it")
    g.add_argument("--plate", choices=PLATES, help="base plate under the artwork (default none)")
    g.add_argument("--style", choices=STYLES, help="emboss (raised, default), deboss (engraved), stencil (cut through), cutter (cookie cutter)")
    g.add_argument("--margin", type=nonneg, metavar="MM", help="plate margin around the artwork (default 3)")
    g.add_argument("--base-thickness", type=nonneg, metavar="MM", help="plate thickness; flange height for cutters (default 2)")
    g.add_argument("--depth", type=nonneg, metavar="MM", help="engraving depth for --style deboss (default 1)")
    g.add_argument("--corner-radius", type=nonneg, metavar="MM", help="corner radius of --plate rounded (default: a quarter of the short side, at most 5)")
    g.add_argument("--hole", type=nonneg, metavar="D", help="keychain/hanging hole diameter (0: none)")
    g.add_argument("--hole-at", type=xy, metavar="X,Y", help="hole centre in mm (default: placed automatically)")
    g.add_argument("--hole-clearance", type=nonneg, metavar="MM", help="distance kept between the hole and the artwork (default 1)")
    g.add_argument("--rim", type=nonneg, metavar="MM", help="border rim width on the plate's edge (0: none)")
    g.add_argument("--chamfer", type=nonneg, metavar="MM", help="chamfer on the top edges of the artwork and the plate")
    g.add_argument("--fillet", type=nonneg, metavar="MM", help="fillet on the top edges instead")
    g.add_argument("--bridge", type=nonneg, metavar="MM", help="stencil bridge width (default 1)")
    g.add_argument("--wall", type=nonneg, metavar="MM", help="cookie cutter wall thickness (default 0.8)")
    g.add_argument("--flange", type=nonneg, metavar="MM", help="cookie cutter flange width (default 4)")
    g.add_argument("--nozzle", type=nonneg, metavar="MM", help="nozzle diameter for the printability check (default 0.4)")
    g.add_argument("--min-feature", type=nonneg, metavar="MM", help="thicken strokes narrower than this")
    g.add_argument("--preview-png", action="store_true", default=None,
                   help="also write OUTDIR/<stem>.thin.png marking thin features (red) and gaps (blue)")


_FLAG_FIELDS = {  # argparse dest -> ProductOptions field
    "plate": "plate", "style": "style", "margin": "margin_mm", "base_thickness": "base_thickness_mm",
    "depth": "depth_mm", "corner_radius": "corner_radius_mm", "hole": "hole_mm", "hole_at": "hole_at",
    "hole_clearance": "hole_clearance_mm", "rim": "rim_mm", "chamfer": "chamfer_mm", "fillet": "fillet_mm",
    "bridge": "bridge_mm", "wall": "wall_mm", "flange": "flange_mm", "nozzle": "nozzle_mm",
    "min_feature": "min_feature_mm", "preview_png": "preview",
}


def apply(args: argparse.Namespace, kw: dict) -> None:
    """Fill ``kw['product']`` (and preset ``thickness_mm``/``mirror``) from the parsed flags."""
    preset = args.preset
    given = {f: getattr(args, dest) for dest, f in _FLAG_FIELDS.items() if getattr(args, dest, None) is not None}
    base = dict(PRESETS.get(preset, {}))
    if kw.get("thickness_mm") is None:
        kw["thickness_mm"] = base.get("thickness_mm", DEFAULT_THICKNESS_MM)
    if base.get("mirror"):
        kw["mirror"] = True
    if preset is None and not given:
        return
    prod = {k: v for k, v in base.items() if k not in ("thickness_mm", "mirror")}
    prod.update(given)
    if "bridge_mm" not in given and "nozzle_mm" in given:
        prod.setdefault("bridge_mm", max(1.0, 2 * given["nozzle_mm"]))
    kw["product"] = ProductOptions(preset=preset, **prod)
