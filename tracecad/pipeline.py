"""One call per input: :func:`convert` picks the mode, and a failure becomes :func:`error_entry`'s entry.

The CLI, the batch runner and any other front end go through :func:`convert`; it returns the report
entry that ``--json`` prints and raises :class:`tracer.TracecadError` (one sentence naming the input)
when the input cannot be converted.
"""

from __future__ import annotations

import os

from cad.vector.svg import looks_like_svg
from tracecad.modes.colours import convert_colours
from tracecad.modes.extrude import Conversion, build, convert_extrude, write_outputs
from tracecad.modes.relief import convert_relief
from tracecad.modes.vector import convert_vector
from tracecad.options import ConvertOptions
from tracer.errors import TracecadError

__all__ = ["convert", "error_entry", "build", "write_outputs", "Conversion"]


def convert(source, out_dir: str | os.PathLike[str], options: ConvertOptions = ConvertOptions(), *,
            stem: str | None = None, name: str | None = None) -> dict:
    """Convert one image or SVG (a path or its bytes) and write its outputs to ``out_dir`` as ``<stem>.<format>``.

    An SVG (by its ``.svg`` name, or bytes that hold one) is read as vector artwork, never rasterised.
    Returns the report entry; raises :class:`tracer.TracecadError` on failure, leaving no file behind."""
    if looks_like_svg(source):
        return convert_vector(source, out_dir, options, stem=stem, name=name)
    if options.mode != "extrude":  # grey levels as heights
        return convert_relief(source, out_dir, options, stem=stem, name=name)
    if options.colors is not None:  # one body per colour
        return convert_colours(source, out_dir, options, stem=stem, name=name)
    return convert_extrude(source, out_dir, options, stem=stem, name=name)


def error_entry(name: str, exc: BaseException) -> dict:
    """The report entry of an input that failed: one sentence that starts with the input's name."""
    msg = str(exc) if isinstance(exc, TracecadError) else f"{type(exc).__name__}: {exc}"
    if not msg.startswith(name):
        msg = f"{name}: {msg}"
    return {"input": name, "status": "error", "error": msg, "outputs": {}}
