"""What a web worker process does: the photo for display, a preview (isolate + trace + the overlay) or a
conversion.

:func:`worker_main` is the entry point of a spawned process: it answers tasks sent over its pipe,
one at a time, until the pipe closes. A task never raises: the answer is ``{"ok": ...}`` or
``{"error": one sentence, "kind": the error's class name}``.
"""

from __future__ import annotations

import base64
import signal
import time

import numpy as np

import tracer
from cad.regions import Regions, to_regions
from cad.vector.art import art_regions
from cad.vector.svg import looks_like_svg
from tracecad.modes.common import collect_warnings, load_photo, photo_report
from tracecad.modes.vector import read_art
from tracecad.options import ConvertOptions
from tracecad.pipeline import convert, error_entry
from tracecad.process import keep_freed_memory, single_threaded_blas
from tracecad.web.source import check_photo_range, oriented_size, source_picture
from tracer.debug import overlay_picture
from tracer.errors import TracecadError

__all__ = ["worker_main", "run_task", "preview", "check_photo"]


def check_photo(source: bytes, options: ConvertOptions, name: str) -> None:
    """Refuse photo options outside the photo (:class:`~tracecad.web.source.PhotoRangeError`) from its header."""
    if options.photo.active and not looks_like_svg(source):
        size = oriented_size(source)
        if size is not None:
            check_photo_range(options.photo, size, name)


def preview(source: bytes, options: ConvertOptions, name: str) -> dict:
    """The live trace: the outline drawn over the image (a PNG data URL) and the subject's size in mm.

    Only load, isolate, trace and the regions: no solid, no mesh, no file."""
    import cv2  # (lazy: start-up time)

    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    caught: list[str] = []
    if looks_like_svg(source):  # a vector source: its regions drawn, nothing traced
        art = read_art(source, options, name)
        regions = art_regions(art, width_mm=options.width_mm, height_mm=options.height_mm, px_mm=options.px_mm,
                              min_area_mm2=options.min_area_mm2, mirror=options.mirror)
        rgb = _regions_picture(regions)
        outlines = None
        caught = list(art.warnings)
        photo: dict = {}
    else:
        with collect_warnings(caught):
            prepared, iso = load_photo(source, options, name, timings)
            image = prepared.image
            mask = tracer.isolate(image, params=iso)
            outlines = tracer.trace(mask, params=options.trace)
            regions = to_regions(outlines, width_mm=options.width_mm, height_mm=options.height_mm,
                                 px_mm=options.px_mm, min_area_mm2=options.min_area_mm2, mirror=options.mirror,
                                 fit_tolerance_mm=options.fit_mm())
        rgb = overlay_picture(image, outlines, prepared)
        photo = photo_report(prepared, mask.info, options)
    ok, png = cv2.imencode(".png", rgb[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise RuntimeError("the overlay could not be encoded as PNG")
    return {
        "overlay": "data:image/png;base64," + base64.b64encode(png.tobytes()).decode("ascii"),
        "overlay_size": [int(rgb.shape[1]), int(rgb.shape[0])],
        "width_mm": round(regions.width_mm, 3), "height_mm": round(regions.height_mm, 3),
        "contours": len(outlines.contours) if outlines is not None else sum(len(r.rings) for r in regions.regions),
        "holes": regions.n_holes,
        "warnings": caught, "seconds": round(time.perf_counter() - t0, 4),
        **photo,
    }


def _regions_picture(regions: Regions, long_px: int = 768) -> np.ndarray:
    """An RGB picture of vector regions: the shape in grey, its outline in red, seen from +Z."""
    import cv2  # (lazy: start-up time)

    x0, y0, x1, y1 = regions.bounds
    pad = 0.05 * max(x1 - x0, y1 - y0)
    s = long_px / (max(x1 - x0, y1 - y0) + 2 * pad)
    w, h = int(round((x1 - x0 + 2 * pad) * s)), int(round((y1 - y0 + 2 * pad) * s))
    rgb = np.full((h, w, 3), 255, np.uint8)
    tol = 0.25 / s

    def px(ring) -> np.ndarray:
        p = ring.flatten(tol)
        return np.round(np.column_stack([(p[:, 0] - x0 + pad) * s, (y1 + pad - p[:, 1]) * s]) * 16).astype(np.int32)

    rings = [px(r) for reg in regions.regions for r in reg.rings]
    cv2.fillPoly(rgb, rings, (200, 200, 200), lineType=cv2.LINE_AA, shift=4)
    cv2.polylines(rgb, rings, True, (220, 40, 40), 1, lineType=cv2.LINE_AA, shift=4)
    return rgb


def run_task(task: dict) -> dict:
    """Run one task (``kind`` "source", "preview" or "convert"); never raises."""
    name = task.get("name", "image")
    try:
        if task["kind"] == "source":
            if looks_like_svg(task["source"]):
                return {"ok": {"vector": True}}
            return {"ok": source_picture(task["source"], max_pixels=task["options"].max_pixels, name=name)}
        if task["kind"] in ("preview", "convert"):
            check_photo(task["source"], task["options"], name)
        if task["kind"] == "preview":
            return {"ok": preview(task["source"], task["options"], name)}
        if task["kind"] == "convert":
            return {"ok": convert(task["source"], task["out_dir"], task["options"], stem=task["stem"], name=name)}
        return {"error": f"unknown task {task['kind']!r}", "kind": "internal"}
    except TracecadError as exc:
        return {"error": error_entry(name, exc)["error"], "kind": type(exc).__name__}
    except MemoryError:
        return {"error": f"{name}: the image needs more memory than this computer has", "kind": "MemoryError"}
    except Exception as exc:  # noqa: BLE001 - one sentence for the page; the worker goes on
        return {"error": error_entry(name, exc)["error"], "kind": "internal"}


def worker_main(conn) -> None:
    """A spawned worker: answer tasks from ``conn`` until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops its workers
    single_threaded_blas()
    keep_freed_memory()
    try:
        import cv2  # (lazy: start-up time)

        cv2.setNumThreads(1)
    except ImportError:
        pass
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        result = run_task(task)
        try:
            conn.send(result)
        except (OSError, ValueError):
            return
