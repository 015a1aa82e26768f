"""The ``tracecad`` command line: ``main(argv) -> exit code``; the parser, with every argparse type.

Exit codes: 0 every input converted (or every checked file valid); 1 some input failed (the others
were still converted); 2 usage error; 130 interrupted (Ctrl-C or SIGTERM; no partial file is left).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import signal
import sys
import threading
import traceback
from dataclasses import replace
from pathlib import Path

from cad.checks import check_file
from tracecad import batch, flags, textcmd
from tracecad.flags.types import nonneg, positive
from tracecad.options import (
    DEFAULT_FORMATS,
    DEFAULT_THICKNESS_MM,
    DEFAULT_WIDTH_MM,
    PRESETS,
    RELIEF_FORMATS,
    ConvertOptions,
)
from tracecad.process import process_setup
from tracecad.progress import make_progress
from tracecad.report import exit_code, print_summary, write_report
from tracecad.web.launch import WebExtraMissing, run_server
from tracecad.web.settings import ServerSettings
from tracer import __version__
from tracer.colorspace import parse_color
from tracer.errors import TracecadError
from tracer.types import IsolateParams, TraceParams

__all__ = ["main", "build_parser", "options_from_args", "expand_inputs", "IMAGE_SUFFIXES", "UsageError"]


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")
#: Inputs read as vector artwork (never rasterised); a folder's images and these are converted.
VECTOR_SUFFIXES = (".svg",)


EXAMPLES = """examples:
  tracecad convert logo.png -o out/                       # out/logo.step and out/logo.stl, 50 mm wide, 3 mm thick
  tracecad convert logo.png -o out/ --formats step,stl,3mf,svg --width 80 --thickness 2
  tracecad convert scans/ -o out/ --height 30 --json      # every image under scans/, JSON report on stdout
  tracecad convert sign.jpg -o out/ --invert --threshold 100
  tracecad convert logo.svg -o out/                       # an SVG's own curves, in its own size (mm)
  tracecad text "Alice" -o out/ --preset keychain         # text set in a font, as a keychain
  tracecad check out/logo.stl out/logo.step               # is each file a closed, valid solid?
"""


class UsageError(ValueError):
    """A usage error (a bad flag or value), raised instead of exiting by ``build_parser(raise_errors=True)``."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors exit 2 with one line, as argparse does
        self.print_usage(sys.stderr)
        self.exit(2, f"tracecad: error: {message}\n")


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message: str):  # for front ends that parse flags they built (tracecad.web)
        raise UsageError(message)


# --------------------------------------------------------------------------- the parser

def build_parser(*, raise_errors: bool = False) -> argparse.ArgumentParser:
    """The ``tracecad`` parser: ``convert`` (every option group), ``check`` and ``serve``.

    With ``raise_errors`` a usage error raises :class:`UsageError` instead of printing and exiting."""
    parser_class = _RaisingParser if raise_errors else _Parser
    p = parser_class(prog="tracecad", description="Turn a raster image into a solid: STEP for CAD, STL and 3MF for slicers, SVG.",
                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"tracecad {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=parser_class)

    c = sub.add_parser("convert", help="convert images and SVGs to solids", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="image or SVG files, folders (searched recursively) or globs (default: the --manifest's inputs)")
    c.add_argument("-o", "--output", "--out-dir", dest="out_dir", default="out", help="output folder (created if missing; default: out)")
    # None marks "not given": the mode picks its default (a faceted STEP of a photo relief would be too large)
    c.add_argument("--formats", default=None,
                   help=f"comma list of step, stl, 3mf, svg, dxf (default: {','.join(DEFAULT_FORMATS)}; "
                        f"{','.join(RELIEF_FORMATS)} with --mode relief or lithophane)")
    size = c.add_mutually_exclusive_group()
    size.add_argument("--width", type=positive, metavar="MM", help=f"width of the subject's bounding box (default {DEFAULT_WIDTH_MM:g})")
    size.add_argument("--height", type=positive, metavar="MM", help="height of the subject's bounding box instead")
    size.add_argument("--px-mm", type=positive, metavar="MM", help="millimetres per source pixel instead")
    # None marks "not given": a preset's artwork height is not overridden by the default
    c.add_argument("--thickness", type=positive, default=None, metavar="MM",
                   help=f"extrusion height (default {DEFAULT_THICKNESS_MM:g})")
    c.add_argument("--tolerance", type=positive, default=None, metavar="MM",
                   help="mesh chord tolerance for STL/3MF (default 0.01)")
    c.add_argument("--min-area", type=nonneg, default=None, metavar="MM2",
                   help="drop islands and fill holes smaller than this (default 0.02 mm²)")
    c.add_argument("--mirror", action="store_true", help="mirror the part (for stamps); never done otherwise")
    g = c.add_argument_group("isolation")
    g.add_argument("--threshold", type=float, metavar="N", help="ink threshold on luminance 0..255 (default: automatic)")
    g.add_argument("--invert", action="store_true", help="swap subject and background")
    g.add_argument("--method", choices=("otsu", "adaptive", "color", "grabcut"), default="otsu",
                   help="otsu (global, default; uneven paper is flattened automatically), adaptive (always "
                        "flatten the illumination), color (pixels near --color), grabcut (subject in front of a "
                        "photographed background)")
    g.add_argument("--color", metavar="'#RRGGBB'", help="the subject's colour for --method color (implies it)")
    g.add_argument("--color-tolerance", type=positive, default=30.0, metavar="DE",
                   help="CIE Lab distance (Delta E) still counted as the --color (default 30)")
    g.add_argument("--denoise", choices=("auto", "none", "median", "bilateral"), default="auto",
                   help="noise filter, radius following the resolution (default auto: median when the image is noisy)")
    g.add_argument("--debug-dir", metavar="DIR", help="write NAME.mask.png and NAME.overlay.png (outline on the input) here")
    g.add_argument("--alpha", dest="use_alpha", action=argparse.BooleanOptionalAction, default=None,
                   help="use the alpha channel as the shape (default: when it carries one)")
    g.add_argument("--upsample", type=positive, metavar="K", help="working pixels per source pixel (default: automatic)")
    g.add_argument("--tips", dest="restore_tips", action=argparse.BooleanOptionalAction, default=True,
                   help="give thin tapers and V notches back the tips that a blur (or, on a clean render, "
                        "the sub-pixel fill) cut short (default on)")
    g.add_argument("--max-pixels", type=int, default=None, metavar="N", help="refuse or reduce images above N pixels (default 40e6)")
    t = c.add_argument_group("potrace")
    t.add_argument("--turdsize", type=int, default=None, help="suppress speckles up to this many working pixels (default 2)")
    t.add_argument("--alphamax", type=float, default=None, help="corner threshold, 0 (polygon) .. 1.3334 (smooth) (default 1.0)")
    t.add_argument("--opttolerance", type=float, default=None, help="curve optimisation tolerance in working pixels (default 0.2)")
    t.add_argument("--turnpolicy", default=None, choices=("minority", "majority", "black", "white", "left", "right", "random"))
    t.add_argument("--max-segments", type=int, default=None, help="refuse outlines with more curve segments (default 200000)")
    for group in flags.GROUPS:
        group.add_arguments(c)
    b = c.add_argument_group("batch")
    b.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                   help="parallel worker processes (default: the CPU count)")
    b.add_argument("--report", metavar="FILE", help="write a report of every input: JSON, or CSV when FILE ends in .csv")
    b.add_argument("--skip-existing", action="store_true",
                   help="skip inputs whose outputs all exist (resume a batch); finished files are left untouched")
    b.add_argument("--manifest", metavar="CSV", help="per-input width/height/thickness/preset (columns: input,width,...)")
    b.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="local worker processes (default) or a Dask distributed cluster (pip install 'tracecad[dask]')")
    b.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address for --executor dask, e.g. tcp://host:8786")
    c.add_argument("--json", action="store_true", help="print one JSON document with a report per input on stdout")
    c.add_argument("--debug", action="store_true", help="show tracebacks")
    c.add_argument("-q", "--quiet", action="store_true", help="no summary table")

    textcmd.add_parser(sub, parser_class)

    k = sub.add_parser("check", help="check that STEP/STL/3MF files are valid closed solids")
    k.add_argument("files", nargs="+", metavar="FILE")
    k.add_argument("--json", action="store_true")
    k.add_argument("--debug", action="store_true")

    w = sub.add_parser("serve", help="run the web app on this computer (pip install 'tracecad[web]')")
    w.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this computer only)")
    w.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free port)")
    w.add_argument("--open", action="store_true", help="open the page in the web browser")
    w.add_argument("--workers", type=int, default=2, metavar="N",
                   help="conversions run at once, each in its own process; the rest wait (default 2)")
    w.add_argument("--max-upload-mb", type=positive, default=25.0, metavar="MB", help="largest upload (default 25)")
    w.add_argument("--time-limit", type=positive, default=120.0, metavar="S",
                   help="longest conversion in seconds; a slower one is stopped with an error (default 120)")
    return p


# --------------------------------------------------------------------------- commands

def expand_inputs(items: list[str]) -> list[tuple[Path, Path | None]]:
    """Files, folders (recursive) and globs -> ``[(path, root)]``; ``root`` is the folder given, if any.

    A folder that holds no images, or a pattern that matches no file, is a :class:`ValueError` naming it
    (a mistyped folder is a usage error, not an empty batch)."""
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
            found = sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES + VECTOR_SUFFIXES
                           and not any(part.startswith(".") for part in q.relative_to(p).parts))
            if not found:
                raise ValueError(f"{item.rstrip('/') or '/'}/: no images found in this folder")
            for q in found:
                add(q, p)
        elif not p.exists() and any(ch in item for ch in "*?["):
            matched = [Path(q) for q in sorted(glob.glob(item, recursive=True)) if Path(q).is_file()]
            if not matched:
                raise ValueError(f"{item}: no files match this pattern")
            for q in matched:
                add(q, None)
        else:
            add(p, None)  # missing files are reported by the loader, one sentence each
    return out


def options_from_args(args: argparse.Namespace) -> ConvertOptions:
    """The parsed command line -> :class:`ConvertOptions` (raises ``ValueError`` or ``InvalidInputError``)."""
    method = "color" if args.color and args.method == "otsu" else args.method
    if method == "color" and not args.color:
        raise ValueError("--method color needs --color '#RRGGBB'")
    if args.color:
        parse_color(args.color)  # a malformed colour is a usage error, not one error per input
    iso = IsolateParams(threshold=args.threshold, invert=args.invert, use_alpha=args.use_alpha, upsample=args.upsample,
                        method=method, color=args.color, color_tolerance=args.color_tolerance, denoise=args.denoise,
                        restore_tips=args.restore_tips)
    tp = TraceParams()
    tkw = {k: getattr(args, k) for k in ("turdsize", "alphamax", "opttolerance", "turnpolicy", "max_segments")
           if getattr(args, k) is not None}
    tp = replace(tp, **tkw)
    kw = dict(width_mm=args.width, height_mm=args.height, px_mm=args.px_mm, thickness_mm=args.thickness,
              formats=args.formats, mirror=args.mirror, isolate=iso, trace=tp, debug_dir=args.debug_dir)
    if args.tolerance is not None:
        kw["tolerance_mm"] = args.tolerance
    if args.min_area is not None:
        kw["min_area_mm2"] = args.min_area
    if args.max_pixels is not None:
        kw["max_pixels"] = args.max_pixels
    for group in flags.GROUPS:
        group.apply(args, kw)
    return ConvertOptions(**kw)


def cmd_convert(args: argparse.Namespace) -> int:
    """Plan the jobs (:mod:`tracecad.batch`), run them in-process, in worker processes or on Dask, report."""
    try:
        options = options_from_args(args)
    except (TracecadError, ValueError) as exc:
        print(f"tracecad: error: {exc}", file=sys.stderr)
        return 2
    if args.jobs is not None and args.jobs < 1:
        print(f"tracecad: error: --jobs must be at least 1, got {args.jobs}", file=sys.stderr)
        return 2
    if args.executor == "dask":
        if not args.scheduler:
            print("tracecad: error: --executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)",
                  file=sys.stderr)
            return 2
        try:
            import distributed  # noqa: F401
        except ImportError:
            print("tracecad: error: --executor dask needs the dask extra: pip install 'tracecad[dask]'",
                  file=sys.stderr)
            return 2
    elif args.scheduler:
        print("tracecad: error: --scheduler is only used with --executor dask", file=sys.stderr)
        return 2
    items = args.inputs
    if not items:  # the manifest lists the inputs (relative to its folder)
        if not args.manifest:
            print("tracecad: error: give an INPUT (image, folder or glob), or a --manifest that lists them",
                  file=sys.stderr)
            return 2
        try:
            rows = batch.read_manifest(args.manifest)
        except batch.ManifestError as exc:
            print(f"tracecad: error: {exc}", file=sys.stderr)
            return 2
        base = Path(args.manifest).parent
        items = [str(base / row.key) for row in rows]
    try:
        inputs = expand_inputs(items)
    except ValueError as exc:
        print(f"tracecad: error: {exc}", file=sys.stderr)
        return 2
    if not inputs:
        print("tracecad: error: no input images found", file=sys.stderr)
        return 2
    def preset_options(name: str) -> ConvertOptions:  # a manifest row's preset, as if --preset NAME were given
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
        return options_from_args(argparse.Namespace(**{**vars(args), "preset": name}))

    try:
        jobs, notes = batch.plan(inputs, args.out_dir, options, manifest=args.manifest, debug=args.debug,
                                 preset_options=preset_options)
    except (batch.ManifestError, TracecadError) as exc:
        print(f"tracecad: error: {exc}", file=sys.stderr)
        return 2
    for n in notes:
        print(f"tracecad: warning: {n}", file=sys.stderr)
    progress = make_progress(quiet=args.quiet, n_inputs=len(jobs), debug=args.debug)
    try:
        result = batch.run(jobs, n_jobs=args.jobs, executor=args.executor, scheduler=args.scheduler,
                           skip_existing=args.skip_existing, progress=progress)
    except batch.BatchInterrupted as exc:
        result = exc.batch_result
    except (OSError, ValueError, RuntimeError) as exc:  # e.g. the Dask scheduler cannot be reached
        print(f"tracecad: error: {exc}", file=sys.stderr)
        if args.debug:
            traceback.print_exc()
        return 1
    for e in result.entries:
        e.pop("_traceback", None)
    if args.report:
        try:
            write_report(args.report, result, __version__)
        except (OSError, TracecadError) as exc:
            print(f"tracecad: error: {args.report}: cannot write the report ({exc})", file=sys.stderr)
            return 2 if not result.interrupted else 130
    if result.interrupted:
        done = result.count("ok")
        print(f"tracecad: interrupted after {done} of {len(jobs)} input(s); no partial file was left "
              "(rerun with --skip-existing to resume)", file=sys.stderr)
        return 130
    if args.json:
        json.dump({"tracecad": __version__, "results": result.entries}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif not args.quiet:
        print_summary(result)
    return exit_code(result)


def cmd_check(args: argparse.Namespace) -> int:
    """``tracecad check FILE...``: is each file a valid closed solid? 0 when all are, 1 otherwise."""
    results = []
    for f in args.files:
        try:
            results.append(check_file(f))
        except Exception as exc:
            results.append({"file": f, "ok": False, "error": str(exc) if str(exc).startswith(f) else f"{f}: {exc}"})
            if args.debug:
                traceback.print_exc()
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for r in results:
            if r["ok"]:
                print(f"{r['file']}: ok, {r['kind']}, {r['solids']} solid(s), volume {r['volume_mm3']:.3f} mm³")
            else:
                print(f"{r['file']}: NOT a valid closed solid: {r.get('error') or r.get('problem')}")
    return 0 if all(r["ok"] for r in results) else 1


def cmd_serve(args: argparse.Namespace) -> int:
    """``tracecad serve``: the web app (:mod:`tracecad.web`) until Ctrl-C."""
    if args.workers < 1:
        print(f"tracecad: error: --workers must be at least 1, got {args.workers}", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        print(f"tracecad: error: --port must be from 0 to 65535, got {args.port}", file=sys.stderr)
        return 2
    settings = ServerSettings(workers=args.workers, max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
                              time_limit_s=args.time_limit)
    try:
        return run_server(settings, host=args.host, port=args.port, open_browser=args.open)
    except WebExtraMissing as exc:
        print(f"tracecad: error: {exc}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    """Run ``tracecad`` with ``argv`` (default: the command line); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    process_setup()
    prev_term = None
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (kill, a service manager, a CI timeout) unwinds like Ctrl-C: every Staging block
        # deletes its temporary files, so no partial file is left. SIGKILL cannot be caught: its
        # temporary may stay and is swept by the next write of the same file.
        prev_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if args.command == "convert":
            return cmd_convert(args)
        if args.command == "check":
            return cmd_check(args)
        if args.command == "text":
            return textcmd.cmd_text(args)
        if args.command == "serve":
            return cmd_serve(args)
    except KeyboardInterrupt:
        print("tracecad: interrupted", file=sys.stderr)
        return 130
    finally:
        if prev_term is not None:
            signal.signal(signal.SIGTERM, prev_term)
    return 2


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
