"""tracecad: an image -> a solid that a slicer prints and a CAD program edits.

The application: :class:`ConvertOptions` (every option, each default written once) and
:func:`convert` (one input -> checked STEP, STL, 3MF and SVG files, and its report entry), on top
of the libraries :mod:`tracer` (image -> outlines) and :mod:`cad` (outlines -> solids -> files).
The command line is :mod:`tracecad.cli`; batches are :mod:`tracecad.batch`.

>>> from tracecad import ConvertOptions, convert
>>> entry = convert("logo.png", "out", ConvertOptions(width_mm=40, formats=("step", "stl")))  # doctest: +SKIP
"""

from tracecad.options import PRESETS, ConvertOptions, ProductOptions, ReliefParams, apply_preset
from tracecad.pipeline import Conversion, build, convert, error_entry, write_outputs
from tracer import __version__
from tracer.errors import *  # noqa: F401,F403
from tracer.errors import __all__ as _errors_all

__all__ = ["convert", "build", "write_outputs", "Conversion", "ConvertOptions", "ProductOptions", "ReliefParams",
           "PRESETS", "apply_preset", "error_entry", "__version__", *_errors_all]
