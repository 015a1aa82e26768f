"""The ``tracecad`` command line: ``main(argv) -> exit code``, no logic of its own.

Exit codes: 0 every input converted (or every checked file valid); 1 some
input failed (the others were still converted); 2 usage error.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import traceback
from pathlib import Path

__all__ = ["main", "IMAGE_SUFFIXES", "FEATURE_MODULES"]

#: Modules that add their own ``convert`` options. Each defines
#: ``add_arguments(parser)`` (an argument group of its own) and
#: ``update_options(args, kw)`` (puts its fields into the ConvertOptions
#: keyword dict). They must import nothing heavy at module level.
FEATURE_MODULES: tuple[str, ...] = ()

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")

EXAMPLES = """examples:
  tracecad convert logo.png -o out/                       # out/logo.step and out/logo.stl, 50 mm wide, 3 mm thick
  tracecad convert logo.png -o out/ --formats step,stl,3mf,svg --width 80 --thickness 2
  tracecad convert scans/ -o out/ --height 30 --json      # every image under scans/, JSON report on stdout
  tracecad convert sign.jpg -o out/ --invert --threshold 100
  tracecad check out/logo.stl out/logo.step               # is each file a closed, valid solid?
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors exit 2 with one line, as argparse does
        self.print_usage(sys.stderr)
        self.exit(2, f"tracecad: error: {message}\n")


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (v > 0 and v < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return v


def _nonneg(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (v >= 0 and v < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return v


def build_parser() -> argparse.ArgumentParser:
    from tracer import __version__

    p = _Parser(prog="tracecad", description="Turn a raster image into a solid: STEP for CAD, STL and 3MF for slicers, SVG.",
                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"tracecad {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    c = sub.add_parser("convert", help="convert images to solids", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders (searched recursively) or globs")
    c.add_argument("-o", "--output", "--out-dir", dest="out_dir", default="out", help="output folder (created if missing; default: out)")
    c.add_argument("--formats", default="step,stl", help="comma list of step, stl, 3mf, svg (default: step,stl)")
    size = c.add_mutually_exclusive_group()
    size.add_argument("--width", type=_positive, metavar="MM", help="width of the subject's bounding box (default 50)")
    size.add_argument("--height", type=_positive, metavar="MM", help="height of the subject's bounding box instead")
    size.add_argument("--px-mm", type=_positive, metavar="MM", help="millimetres per source pixel instead")
    c.add_argument("--thickness", type=_positive, default=3.0, metavar="MM", help="extrusion height (default 3)")
    c.add_argument("--tolerance", type=_positive, default=None, metavar="MM",
                   help="mesh chord tolerance for STL/3MF (default 0.01)")
    c.add_argument("--min-area", type=_nonneg, default=None, metavar="MM2",
                   help="drop islands and fill holes smaller than this (default 0.02 mm²)")
    c.add_argument("--mirror", action="store_true", help="mirror the part (for stamps); never done otherwise")
    g = c.add_argument_group("isolation")
    g.add_argument("--threshold", type=float, metavar="N", help="ink threshold on luminance 0..255 (default: automatic)")
    g.add_argument("--invert", action="store_true", help="swap subject and background")
    g.add_argument("--method", choices=("otsu", "adaptive"), default="otsu",
                   help="otsu (global, default) or adaptive (uneven lighting)")
    g.add_argument("--alpha", dest="use_alpha", action=argparse.BooleanOptionalAction, default=None,
                   help="use the alpha channel as the shape (default: when it carries one)")
    g.add_argument("--upsample", type=_positive, metavar="K", help="working pixels per source pixel (default: automatic)")
    g.add_argument("--max-pixels", type=int, default=None, metavar="N", help="refuse or reduce images above N pixels (default 40e6)")
    t = c.add_argument_group("potrace")
    t.add_argument("--turdsize", type=int, default=None, help="suppress speckles up to this many working pixels (default 2)")
    t.add_argument("--alphamax", type=float, default=None, help="corner threshold, 0 (polygon) .. 1.3334 (smooth) (default 1.0)")
    t.add_argument("--opttolerance", type=float, default=None, help="curve optimisation tolerance in working pixels (default 0.2)")
    t.add_argument("--turnpolicy", default=None, choices=("minority", "majority", "black", "white", "left", "right", "random"))
    t.add_argument("--max-segments", type=int, default=None, help="refuse outlines with more curve segments (default 200000)")
    import importlib

    for mod in FEATURE_MODULES:
        importlib.import_module(mod).add_arguments(c)
    c.add_argument("--json", action="store_true", help="print one JSON document with a report per input on stdout")
    c.add_argument("--debug", action="store_true", help="show tracebacks")
    c.add_argument("-q", "--quiet", action="store_true", help="no summary table")

    k = sub.add_parser("check", help="check that STEP/STL/3MF files are valid closed solids")
    k.add_argument("files", nargs="+", metavar="FILE")
    k.add_argument("--json", action="store_true")
    k.add_argument("--debug", action="store_true")
    return p


def expand_inputs(items: list[str]) -> list[tuple[Path, Path | None]]:
    """Files, folders (recursive) and globs -> ``[(path, root)]``; ``root`` is the folder given, if any."""
    out: list[tuple[Path, Path | None]] = []
    seen = set()

    def add(p: Path, root: Path | None) -> None:
        key = os.path.abspath(p)
        if key not in seen:
            seen.add(key)
            out.append((p, root))

    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES
                           and not any(part.startswith(".") for part in q.relative_to(p).parts))
            for q in found:
                add(q, p)
        elif not p.exists() and any(ch in item for ch in "*?["):
            for q in sorted(glob.glob(item, recursive=True)):
                if Path(q).is_file():
                    add(Path(q), None)
        else:
            add(p, None)  # missing files are reported by the loader, one sentence each
    return out


def options_from_args(a):
    from dataclasses import replace

    from cad.pipeline import ConvertOptions
    from tracer.types import IsolateParams, TraceParams

    iso = IsolateParams(threshold=a.threshold, invert=a.invert, use_alpha=a.use_alpha, upsample=a.upsample,
                        method=a.method)
    tp = TraceParams()
    tkw = {k: getattr(a, k) for k in ("turdsize", "alphamax", "opttolerance", "turnpolicy", "max_segments")
           if getattr(a, k) is not None}
    tp = replace(tp, **tkw)
    kw = dict(width_mm=a.width, height_mm=a.height, px_mm=a.px_mm, thickness_mm=a.thickness,
              formats=a.formats, mirror=a.mirror, isolate=iso, trace=tp)
    if a.tolerance is not None:
        kw["tolerance_mm"] = a.tolerance
    if a.min_area is not None:
        kw["min_area_mm2"] = a.min_area
    if a.max_pixels is not None:
        kw["max_pixels"] = a.max_pixels
    import importlib

    for mod in FEATURE_MODULES:
        importlib.import_module(mod).update_options(a, kw)
    return ConvertOptions(**kw)


def _stem_for(path: Path, root: Path | None) -> tuple[Path, str]:
    """Output sub-folder and stem: the input's folder structure below ``root`` is mirrored."""
    if root is None:
        return Path(), path.stem
    rel = path.relative_to(root)
    return rel.parent, rel.stem


def cmd_convert(a) -> int:
    from cad.pipeline import convert, error_entry
    from tracer.errors import TracecadError

    try:
        options = options_from_args(a)
    except (TracecadError, ValueError) as exc:
        print(f"tracecad: error: {exc}", file=sys.stderr)
        return 2
    inputs = expand_inputs(a.inputs)
    if not inputs:
        print("tracecad: error: no input images found", file=sys.stderr)
        return 2
    entries = []
    for path, root in inputs:
        sub, stem = _stem_for(path, root)
        name = str(path)
        try:
            entry = convert(path, Path(a.out_dir) / sub, options, stem=stem, name=name)
        except KeyboardInterrupt:
            print("tracecad: interrupted; no partial file was left", file=sys.stderr)
            return 130
        except Exception as exc:  # one sentence per failing input; the batch goes on
            entry = error_entry(name, exc)
            print(f"tracecad: error: {entry['error']}", file=sys.stderr)
            if a.debug:
                traceback.print_exc()
        else:
            for w in entry.get("warnings", []):
                print(f"tracecad: warning: {name}: {w}", file=sys.stderr)
        entries.append(entry)
    failed = sum(e["status"] != "ok" for e in entries)
    if a.json:
        json.dump({"tracecad": _version(), "results": entries}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif not a.quiet:
        _print_table(entries)
    return 1 if failed else 0


def _version() -> str:
    from tracer import __version__

    return __version__


def _print_table(entries: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="tracecad", show_lines=False)
    for col in ("input", "status", "size mm", "bodies", "holes", "segments", "faces", "seconds"):
        table.add_column(col, overflow="fold")
    for e in entries:
        if e["status"] == "ok":
            table.add_row(Path(e["input"]).name, "ok", f"{e['width_mm']:.1f} x {e['height_mm']:.1f} x {e['thickness_mm']:g}",
                          str(e["bodies"]), str(e["holes"]), str(e["curve_segments"]),
                          str(e["step_faces"] if e["step_faces"] is not None else "-"), f"{e['seconds']['total']:.2f}")
        else:
            table.add_row(Path(e["input"]).name, "[red]error[/red]", e["error"], "", "", "", "", "")
    Console(width=max(100, Console().width)).print(table)


def cmd_check(a) -> int:
    from cad.checks import check_file

    results = []
    for f in a.files:
        try:
            results.append(check_file(f))
        except Exception as exc:
            results.append({"file": f, "ok": False, "error": str(exc) if str(exc).startswith(f) else f"{f}: {exc}"})
            if a.debug:
                traceback.print_exc()
    if a.json:
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for r in results:
            if r["ok"]:
                print(f"{r['file']}: ok, {r['kind']}, {r['solids']} solid(s), volume {r['volume_mm3']:.3f} mm³")
            else:
                print(f"{r['file']}: NOT a valid closed solid: {r.get('error') or r.get('problem')}")
    return 0 if all(r["ok"] for r in results) else 1


def main(argv=None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    if a.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        if a.command == "convert":
            return cmd_convert(a)
        if a.command == "check":
            return cmd_check(a)
    except KeyboardInterrupt:
        print("tracecad: interrupted", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
