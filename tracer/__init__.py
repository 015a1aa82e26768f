"""tracer: raster image -> vector outlines (the first half of tracecad).

Stages: :func:`load_image` -> :func:`isolate` -> :func:`trace`. All
coordinates are in source-image pixels, y down. ``tracer`` never imports
``cad``.
"""

from tracer.errors import *  # noqa: F401,F403
from tracer.errors import __all__ as _errors_all
from tracer.isolate import ink_field, isolate
from tracer.load import load_image
from tracer.strategies import alpha_carries_shape
from tracer.trace import trace
from tracer.types import Contour, Image, IsolateParams, Mask, Outlines, TraceParams

__version__ = "0.1.0"

__all__ = ["load_image", "isolate", "ink_field", "alpha_carries_shape", "trace", "Image", "Mask", "Contour",
           "Outlines", "IsolateParams", "TraceParams", "__version__", *_errors_all]
