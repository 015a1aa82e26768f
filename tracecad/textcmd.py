"""``tracecad text "Alice" -o out/``: text set in a font, as a solid, with every product option.

The glyph outlines (:func:`cad.vector.text.text_art`) go through the same regions, solids, products,
checks and files as an SVG (:func:`tracecad.modes.vector.convert_vector`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import traceback

from cad.vector.text import ALIGNS, text_art
from tracecad.flags import product
from tracecad.flags.types import nonneg, positive
from tracecad.jobs import BatchResult
from tracecad.modes.vector import convert_vector
from tracecad.options import DEFAULT_FORMATS, DEFAULT_THICKNESS_MM, DEFAULT_WIDTH_MM, ConvertOptions
from tracecad.pipeline import error_entry
from tracecad.report import exit_code, print_summary
from tracer import __version__
from tracer.errors import TracecadError

__all__ = ["add_parser", "cmd_text", "text_stem"]

EXAMPLES = """examples:
  tracecad text "Alice" -o out/                               # out/Alice.step and .stl, 50 mm wide, 3 mm thick
  tracecad text "Alice" -o out/ --preset keychain             # a keychain tag with a hole
  tracecad text "Bob\\nSmith" -o out/ --size-mm 12 --align center --font "DejaVu Serif:bold"
"""


def add_parser(sub, parser_class) -> argparse.ArgumentParser:
    """Add ``text`` to the ``tracecad`` subcommands."""
    t = sub.add_parser("text", help="set text in a font and make it a solid", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("text", metavar="TEXT", help=r"the text; \n (or a real newline) starts a new line")
    t.add_argument("-o", "--output", "--out-dir", dest="out_dir", default="out", help="output folder (default: out)")
    t.add_argument("--name", metavar="STEM", help="file name stem (default: from the text)")
    t.add_argument("--font", metavar="NAME|FILE",
                   help="a font file, or a family fontconfig knows, e.g. 'DejaVu Serif:bold' (default DejaVu Sans Bold)")
    size = t.add_mutually_exclusive_group()
    size.add_argument("--width", type=positive, metavar="MM", help=f"width of the text's bounding box (default {DEFAULT_WIDTH_MM:g})")
    size.add_argument("--height", type=positive, metavar="MM", help="height of the text's bounding box instead")
    size.add_argument("--size-mm", type=positive, metavar="MM", help="font size (one em) in mm instead")
    t.add_argument("--line-spacing", type=positive, default=1.0, metavar="F",
                   help="line height as a multiple of the font's own (default 1)")
    t.add_argument("--align", choices=ALIGNS, default="left", help="alignment of the lines (default left)")
    t.add_argument("--formats", default=None, help=f"comma list of step, stl, 3mf, svg (default: {','.join(DEFAULT_FORMATS)})")
    t.add_argument("--thickness", type=positive, default=None, metavar="MM",
                   help=f"extrusion height (default {DEFAULT_THICKNESS_MM:g})")
    t.add_argument("--tolerance", type=positive, default=None, metavar="MM", help="mesh chord tolerance (default 0.01)")
    t.add_argument("--min-area", type=nonneg, default=None, metavar="MM2", help="drop islands and holes smaller than this")
    t.add_argument("--mirror", action="store_true", help="mirror the part (for stamps)")
    t.add_argument("--max-segments", type=int, default=200_000, help="refuse text with more curve segments")
    product.add_arguments(t)
    t.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    t.add_argument("--debug", action="store_true", help="show tracebacks")
    t.add_argument("-q", "--quiet", action="store_true", help="no summary table")
    return t


def text_stem(text: str) -> str:
    """A file name from the text: its first words, letters, digits, ``-`` and ``_`` only."""
    stem = re.sub(r"[^\w-]+", "_", text.replace("\\n", " ").strip(), flags=re.UNICODE).strip("_")[:40]
    return stem or "text"


def _options(args: argparse.Namespace) -> ConvertOptions:
    kw: dict = dict(width_mm=args.width, height_mm=args.height, thickness_mm=args.thickness, formats=args.formats,
                    mirror=args.mirror)
    if args.tolerance is not None:
        kw["tolerance_mm"] = args.tolerance
    if args.min_area is not None:
        kw["min_area_mm2"] = args.min_area
    product.apply(args, kw)
    if kw.get("formats") is None:
        kw.pop("formats")
    opts = ConvertOptions(**kw)
    if args.max_segments < 1:
        raise ValueError(f"--max-segments must be at least 1, got {args.max_segments}")
    return opts


def cmd_text(args: argparse.Namespace) -> int:
    """Set the text, build, write and report it; exit 0, 1 (could not be converted) or 2 (usage)."""
    try:
        options = _options(args)
    except (TracecadError, ValueError) as exc:
        print(f"tracecad: error: {exc}", file=sys.stderr)
        return 2
    name = repr(args.text.replace("\\n", "\n"))
    t0 = time.perf_counter()
    try:
        art = text_art(args.text, font=args.font, line_spacing=args.line_spacing, align=args.align,
                       size_mm=args.size_mm, max_segments=args.max_segments)
        entry = convert_vector(None, args.out_dir, options, stem=args.name or text_stem(args.text), name=name, art=art)
    except TracecadError as exc:
        entry = error_entry(name, exc)
        if args.debug:
            traceback.print_exc()
    result = BatchResult(entries=[entry], seconds=time.perf_counter() - t0, jobs=1, executor="local")
    if args.json:
        json.dump({"tracecad": __version__, "results": result.entries}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        if entry["status"] != "ok":
            print(f"tracecad: error: {entry['error']}", file=sys.stderr)
        for w in entry.get("warnings", []):
            print(f"tracecad: warning: {w}", file=sys.stderr)
        if not args.quiet and entry["status"] == "ok":
            print_summary(result)
    return exit_code(result)
