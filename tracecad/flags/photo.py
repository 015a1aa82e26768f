"""Flags for photos of real things: ``--crop``, ``--perspective``, ``--aspect``, ``--pick``, ``--keep``."""

from __future__ import annotations

import argparse
import re
from dataclasses import replace

from tracer.errors import InvalidInputError
from tracer.photo import PhotoParams, parse_aspect, parse_corners, parse_crop, parse_point
from tracer.pick import parse_keep

__all__ = ["add_arguments", "apply"]


def _usage(parse):
    """An argparse type from a parser that raises :class:`InvalidInputError`: a malformed value exits 2."""
    def convert(text: str):
        try:
            return parse(text)
        except InvalidInputError as exc:
            # argparse names the flag itself: "argument --crop: wants X,Y,W,H ..."
            raise argparse.ArgumentTypeError(re.sub(r"^--[a-z-]+ ", "", str(exc))) from None
    convert.__name__ = parse.__name__.replace("parse_", "")
    return convert


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("photos (crop, rectify, pick the subject; coordinates in the photo's pixels)")
    g.add_argument("--crop", type=_usage(parse_crop), default=None, metavar="X,Y,W,H",
                   help="keep only this box, in pixels or percent (e.g. 5%%,5%%,90%%,90%%); applied first, "
                        "after the EXIF orientation")
    g.add_argument("--perspective", type=_usage(parse_corners), default=None, metavar="auto|X1,Y1,...,X4,Y4",
                   help="rectify a flat subject photographed at an angle: auto finds the sheet's or sign's edge, "
                        "or give its four corners; --width then sizes the rectified subject")
    g.add_argument("--aspect", type=_usage(parse_aspect), default=None, metavar="W:H",
                   help="the rectified quadrilateral's real width:height (default: estimated from the picture)")
    g.add_argument("--pick", type=_usage(parse_point), action="append", default=None, metavar="X,Y",
                   help="the subject is the region of the colour under this point, within --color-tolerance, "
                        "connected to it (repeat to add regions)")
    g.add_argument("--keep", type=_usage(parse_keep), default=None, metavar="all|largest|N",
                   help="keep all connected parts of the subject (default), the largest, or the N largest")


def apply(args: argparse.Namespace, kw: dict) -> None:
    if args.aspect is not None and args.perspective is None:
        raise InvalidInputError("--aspect needs --perspective (it is the rectified subject's width:height)")
    photo = PhotoParams(crop=args.crop, perspective=args.perspective, aspect=args.aspect,
                        pick=tuple(args.pick or ()))
    if photo.active:
        kw["photo"] = photo
    if args.keep is not None and args.keep != "all":
        kw["isolate"] = replace(kw["isolate"], keep=args.keep)
