"""What every mode shares: the input's name and stem, warnings, loading, output paths and report entries."""

from __future__ import annotations

import glob
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import tracer
from tracecad.options import ConvertOptions
from tracer.errors import TracecadWarning
from tracer.photo import Prepared, prepare
from tracer.types import Image, IsolateParams

__all__ = ["source_name", "source_stem", "collect_warnings", "load_for", "load_photo", "photo_report", "output_path", "output_paths",
           "body_output_paths", "expected_outputs",
           "report_entry", "PER_BODY_FORMATS"]

#: With --colors these formats are written once per colour body (``STEM_<i>_<rrggbb>.<ext>``);
#: every other format is one file per input.
PER_BODY_FORMATS = ("stl", "svg")


def source_name(source, name: str | None) -> str:
    """The name used in messages: ``name``, else the path, else ``<bytes>``."""
    if name is not None:
        return name
    return "<bytes>" if isinstance(source, (bytes, bytearray)) else str(source)


def source_stem(source) -> str:
    """The default stem of an input's output files: the file's stem, or ``image`` for bytes."""
    return Path(str(source)).stem if not isinstance(source, (bytes, bytearray)) else "image"


@contextmanager
def collect_warnings(caught: list[str]) -> Iterator[None]:
    """Record every :class:`TracecadWarning` raised inside the block (once each, in order) into ``caught``."""
    with warnings.catch_warnings(record=True) as wlist:
        warnings.simplefilter("always", TracecadWarning)
        try:
            yield
        finally:
            caught.extend(str(w.message) for w in wlist if issubclass(w.category, TracecadWarning))


def load_for(source, options: ConvertOptions, name: str, timings: dict) -> tuple[Image, IsolateParams]:
    """Load the image (timed into ``timings["load"]``), crop and rectify it (:func:`load_photo`), and the
    isolation parameters for its output width."""
    prepared, iso = load_photo(source, options, name, timings)
    return prepared.image, iso


def load_photo(source, options: ConvertOptions, name: str, timings: dict) -> tuple[Prepared, IsolateParams]:
    """Load the image, apply ``options.photo`` (crop, perspective; timed into ``timings["photo"]``), and the
    isolation parameters for its output width with the picked points moved into the prepared picture.
    The photo's warnings (a focal length that disagrees with EXIF) are raised as :class:`TracecadWarning`."""
    t = time.perf_counter()
    image = tracer.load_image(source, max_pixels=options.max_pixels, name=name)
    timings["load"] = time.perf_counter() - t
    iso = options.isolate
    if iso.width_mm is None:
        iso = replace(iso, width_mm=options.width_mm)
    if not options.photo.active:
        return Prepared(image, image, (0, 0, *image.size)), iso
    t = time.perf_counter()
    prepared = prepare(image, options.photo)
    timings["photo"] = time.perf_counter() - t
    for w in prepared.warnings:
        warnings.warn(w, TracecadWarning)
    if prepared.picks:
        iso = replace(iso, pick=prepared.picks)
    return prepared, iso


def photo_report(prepared: Prepared, mask_info: dict | None, options: ConvertOptions) -> dict:
    """The ``photo`` entry of the report (crop, perspective, picks, parts kept), or ``{}`` when none was asked."""
    out = dict(prepared.report)
    if mask_info:
        if "pick_colors" in mask_info:
            out["pick_colors"] = mask_info["pick_colors"]
        if "parts" in mask_info:
            out["keep"] = options.isolate.keep
            out["parts"], out["parts_kept"] = mask_info["parts"], mask_info["parts_kept"]
    return {"photo": out} if out else {}


def output_path(out_dir: str | os.PathLike[str], name: str, fmt: str) -> Path:
    """Where a file goes: ``OUT/<name>.<format>``, for every mode."""
    return Path(out_dir) / f"{name}.{fmt}"


def output_paths(out_dir: str | os.PathLike[str], stem: str, formats) -> dict[str, Path]:
    """Each format's file of one input: ``OUT/STEM.<format>``."""
    return {f: output_path(out_dir, stem, f) for f in formats}


def body_output_paths(out_dir: str | os.PathLike[str], stem: str, formats, body_names: list[str]
                      ) -> dict[str, Path | list[Path]]:
    """With one body per colour: the formats of :data:`PER_BODY_FORMATS` get one file per body,
    ``OUT/<body name>.<format>``; the others one file, ``OUT/STEM.<format>``."""
    return {f: [output_path(out_dir, b, f) for b in body_names] if f in PER_BODY_FORMATS
            else output_path(out_dir, stem, f) for f in formats}


def expected_outputs(options: ConvertOptions, out_dir: str | os.PathLike[str], stem: str) -> list[Path | str]:
    """The files a finished conversion leaves, before it runs (for ``--skip-existing``): paths, and for
    the per-colour files (named after colours not known yet) a glob pattern that must match."""
    per_body = options.colors is not None and options.mode == "extrude"
    out: list[Path | str] = []
    for fmt in options.formats:
        if per_body and fmt in PER_BODY_FORMATS:
            out.append(str(output_path(out_dir, f"{glob.escape(stem)}_*_[0-9a-f]*", fmt)))
        else:
            out.append(output_path(out_dir, stem, fmt))
    return out


def report_entry(name: str, outputs: dict[str, str], report: dict, warnings_: list[str], timings: dict,
                 t0: float) -> dict:
    """The report entry of a converted input (what ``--json`` prints for it): status, outputs, the mode's
    report fields, warnings, and the timings with their total since ``t0``."""
    seconds = {k: round(v, 4) for k, v in timings.items()}
    seconds["total"] = round(time.perf_counter() - t0, 4)
    entry: dict = {"input": name, "status": "ok", "error": None, "outputs": outputs}
    entry.update(report)
    entry["warnings"] = warnings_
    entry["seconds"] = seconds
    return entry
