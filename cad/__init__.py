"""cad: outlines -> exact B-rep solid -> checked STEP, STL, 3MF and SVG files.

Stages: :func:`to_regions` (pixels -> mm, the only y-flip), :func:`extrude`
(OCC B-rep), :func:`extrude_mesh` (prism mesh), and the writers in
:mod:`cad.export`. The application (options, modes, batches, the command line)
is the :mod:`tracecad` package.
"""

import warnings

from cad.mesh import Mesh, check_mesh, extrude_mesh
from cad.regions import Region, Regions, Ring, to_regions
from cad.solid import extrude  # (OpenCASCADE is loaded on the first solid, not here)
from tracer.errors import *  # noqa: F401,F403

#: Names that moved to the ``tracecad`` package; ``cad.<name>`` still works, with a FutureWarning.
MOVED_TO_TRACECAD = ("convert", "ConvertOptions", "Conversion", "build", "write_outputs")


def __getattr__(name: str):
    if name in MOVED_TO_TRACECAD:
        warnings.warn(f"cad.{name} moved to tracecad.{name}; the cad name will be removed in the next release",
                      FutureWarning, stacklevel=2)
        import tracecad  # the one import of the application from cad: this shim, kept for one release

        return getattr(tracecad, name)
    raise AttributeError(f"module 'cad' has no attribute {name!r}")


__all__ = ["Mesh", "check_mesh", "extrude_mesh", "extrude", "Region", "Regions", "Ring", "to_regions"]
