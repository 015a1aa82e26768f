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
FEATURE_MODULES: tuple[str, ...] = ("cad.relief", "cad.products", "cad.multicolor")

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
    c.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="image files, folders (searched recursively) or globs (default: the --manifest's inputs)")
    c.add_argument("-o", "--output", "--out-dir", dest="out_dir", default="out", help="output folder (created if missing; default: out)")
    c.add_argument("--formats", default="step,stl", help="comma list of step, stl, 3mf, svg (default: step,stl; stl,3mf with --mode relief or lithophane)")
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
    g.add_argument("--method", choices=("otsu", "adaptive", "color", "grabcut"), default="otsu",
                   help="otsu (global, default; uneven paper is flattened automatically), adaptive (always "
                        "flatten the illumination), color (pixels near --color), grabcut (subject in front of a "
                        "photographed background)")
    g.add_argument("--color", metavar="'#RRGGBB'", help="the subject's colour for --method color (implies it)")
    g.add_argument("--color-tolerance", type=_positive, default=30.0, metavar="DE",
                   help="CIE Lab distance (Delta E) still counted as the --color (default 30)")
    g.add_argument("--denoise", choices=("auto", "none", "median", "bilateral"), default="auto",
                   help="noise filter, radius following the resolution (default auto: median when the image is noisy)")
    g.add_argument("--debug-dir", metavar="DIR", help="write NAME.mask.png and NAME.overlay.png (outline on the input) here")
    g.add_argument("--alpha", dest="use_alpha", action=argparse.BooleanOptionalAction, default=None,
                   help="use the alpha channel as the shape (default: when it carries one)")
    g.add_argument("--upsample", type=_positive, metavar="K", help="working pixels per source pixel (default: automatic)")
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
    import importlib

    for mod in FEATURE_MODULES:
        importlib.import_module(mod).add_arguments(c)
    b = c.add_argument_group("batch")  # cad/batch.py
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

    k = sub.add_parser("check", help="check that STEP/STL/3MF files are valid closed solids")
    k.add_argument("files", nargs="+", metavar="FILE")
    k.add_argument("--json", action="store_true")
    k.add_argument("--debug", action="store_true")
    return p


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
            found = sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES
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


def options_from_args(a):
    from dataclasses import replace

    from cad.pipeline import ConvertOptions
    from tracer.types import IsolateParams, TraceParams

    method = "color" if a.color and a.method == "otsu" else a.method
    if method == "color" and not a.color:
        raise ValueError("--method color needs --color '#RRGGBB'")
    if a.color:
        from tracer.isolate import parse_color

        parse_color(a.color)  # a malformed colour is a usage error, not one error per input
    iso = IsolateParams(threshold=a.threshold, invert=a.invert, use_alpha=a.use_alpha, upsample=a.upsample,
                        method=method, color=a.color, color_tolerance=a.color_tolerance, denoise=a.denoise,
                        restore_tips=a.restore_tips)
    tp = TraceParams()
    tkw = {k: getattr(a, k) for k in ("turdsize", "alphamax", "opttolerance", "turnpolicy", "max_segments")
           if getattr(a, k) is not None}
    tp = replace(tp, **tkw)
    kw = dict(width_mm=a.width, height_mm=a.height, px_mm=a.px_mm, thickness_mm=a.thickness,
              formats=a.formats, mirror=a.mirror, isolate=iso, trace=tp, debug_dir=a.debug_dir)
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
    from cad.batch import _target

    return _target(path, root)


def cmd_convert(a) -> int:
    """Plan the jobs (cad/batch.py), run them in-process, in worker processes or on Dask, report."""
    from cad import batch
    from tracer.errors import TracecadError

    try:
        options = options_from_args(a)
    except (TracecadError, ValueError) as exc:
        print(f"tracecad: error: {exc}", file=sys.stderr)
        return 2
    if a.jobs is not None and a.jobs < 1:
        print(f"tracecad: error: --jobs must be at least 1, got {a.jobs}", file=sys.stderr)
        return 2
    if a.executor == "dask":
        if not a.scheduler:
            print("tracecad: error: --executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)",
                  file=sys.stderr)
            return 2
        try:
            import distributed  # noqa: F401
        except ImportError:
            print("tracecad: error: --executor dask needs the dask extra: pip install 'tracecad[dask]'",
                  file=sys.stderr)
            return 2
    elif a.scheduler:
        print("tracecad: error: --scheduler is only used with --executor dask", file=sys.stderr)
        return 2
    items = a.inputs
    if not items:  # the manifest lists the inputs (relative to its folder)
        if not a.manifest:
            print("tracecad: error: give an INPUT (image, folder or glob), or a --manifest that lists them",
                  file=sys.stderr)
            return 2
        try:
            rows = batch.read_manifest(a.manifest)
        except batch.ManifestError as exc:
            print(f"tracecad: error: {exc}", file=sys.stderr)
            return 2
        base = Path(a.manifest).parent
        items = [str(base / row.key) for row in rows]
    try:
        inputs = expand_inputs(items)
    except ValueError as exc:
        print(f"tracecad: error: {exc}", file=sys.stderr)
        return 2
    if not inputs:
        print("tracecad: error: no input images found", file=sys.stderr)
        return 2
    preset_options = None
    if hasattr(a, "preset"):  # the products feature is present: a manifest row may name a preset

        def preset_options(name: str):
            from cad.products import PRESETS

            if name not in PRESETS:
                raise ValueError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
            return options_from_args(argparse.Namespace(**{**vars(a), "preset": name}))

    try:
        jobs, notes = batch.plan(inputs, a.out_dir, options, manifest=a.manifest, debug=a.debug,
                                 preset_options=preset_options)
    except (batch.ManifestError, TracecadError) as exc:
        print(f"tracecad: error: {exc}", file=sys.stderr)
        return 2
    for n in notes:
        print(f"tracecad: warning: {n}", file=sys.stderr)
    progress = batch.make_progress(quiet=a.quiet, n_inputs=len(jobs), debug=a.debug)
    try:
        result = batch.run(jobs, n_jobs=a.jobs, executor=a.executor, scheduler=a.scheduler,
                           skip_existing=a.skip_existing, progress=progress)
    except KeyboardInterrupt as exc:
        result = getattr(exc, "batch_result", None)
        if result is None:
            raise
    except (OSError, ValueError, RuntimeError) as exc:  # e.g. the Dask scheduler cannot be reached
        print(f"tracecad: error: {exc}", file=sys.stderr)
        if a.debug:
            traceback.print_exc()
        return 1
    for e in result.entries:
        e.pop("_traceback", None)
    if a.report:
        try:
            batch.write_report(a.report, result, _version())
        except (OSError, TracecadError) as exc:
            print(f"tracecad: error: {a.report}: cannot write the report ({exc})", file=sys.stderr)
            return 2 if not result.interrupted else 130
    if result.interrupted:
        done = result.count("ok")
        print(f"tracecad: interrupted after {done} of {len(jobs)} input(s); no partial file was left "
              "(rerun with --skip-existing to resume)", file=sys.stderr)
        return 130
    if a.json:
        json.dump({"tracecad": _version(), "results": result.entries}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif not a.quiet:
        _print_table(result)
    return batch.exit_code(result)


def _version() -> str:
    from tracer import __version__

    return __version__


def _print_table(result) -> None:
    from cad.batch import print_summary

    print_summary(result)


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


def single_threaded_blas() -> None:
    """Run NumPy's BLAS on one thread in this process and in the workers it spawns.

    tracecad's matrix products are small (a few thousand rows by 25 columns); a
    multi-threaded OpenBLAS gains nothing on them, and its idle threads spin:
    on a busy machine (or next to a second batch worker) that doubles the CPU
    time of isolation. A thread count the user set in the environment is kept
    (``tracer.isolate`` itself always runs its products on one thread, so that
    its masks do not depend on the count).
    """
    if any(v in os.environ for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")):
        return
    os.environ["OPENBLAS_NUM_THREADS"] = "1"  # read by NumPy in spawned workers when it loads
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a dependency, but the limit is only an optimisation
        return
    threadpool_limits(1, user_api="blas")


#: glibc's largest mmap threshold (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit): freed blocks up to it stay in the heap ...
MMAP_THRESHOLD_BYTES = 32 << 20
#: ... and the heap is not trimmed back to the system below this much free space at its top.
TRIM_THRESHOLD_BYTES = 1 << 30


def keep_freed_memory() -> bool:
    """Have glibc reuse freed blocks for the next image instead of unmapping them and faulting them in again.

    Isolation allocates and frees raster-sized temporaries (a 2048 px logo's
    4096² working mask is 16 MB) for every image. By default glibc maps such
    blocks fresh or trims the heap after them, and the page faults cost more
    than the work: measured 30 -> 22 ms of isolation per 2048 px logo and 50 ->
    35 ms per 1024 px photo. Blocks above 32 MB (a 40 MP image's) are still
    mapped and returned, so the peak memory is unchanged; smaller freed blocks
    stay in the process for the next image. Thresholds set in the environment
    (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``) are kept, and other
    C libraries are left alone. Returns whether the thresholds were set.
    """
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # (malloc.h)
    return bool(mallopt(m_mmap_threshold, MMAP_THRESHOLD_BYTES)) and bool(mallopt(m_trim_threshold, TRIM_THRESHOLD_BYTES))


def process_setup() -> None:
    """What ``tracecad`` sets for its own process: BLAS on one thread, freed memory kept for the next image."""
    single_threaded_blas()
    keep_freed_memory()


def main(argv=None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    if a.command is None:
        parser.print_help(sys.stderr)
        return 2
    process_setup()
    import signal
    import threading

    prev_term = None
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (kill, a service manager, a CI timeout) unwinds like Ctrl-C: every Staging block
        # deletes its temporary files, so no partial file is left. SIGKILL cannot be caught: its
        # temporary may stay and is swept by the next write of the same file.
        prev_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if a.command == "convert":
            return cmd_convert(a)
        if a.command == "check":
            return cmd_check(a)
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
