"""cad: outlines -> exact B-rep solid -> checked STEP, STL, 3MF and SVG files.

Stages: :func:`to_regions` (pixels -> mm, the only y-flip), :func:`extrude`
(OCC B-rep), :func:`extrude_mesh` (prism mesh), and the writers in
:mod:`cad.export`. :func:`convert` runs the whole pipeline on one file.
"""

from cad.mesh import Mesh, check_mesh, extrude_mesh
from cad.pipeline import ConvertOptions, Conversion, build, convert, write_outputs
from cad.regions import Region, Regions, Ring, to_regions
from tracer.errors import *  # noqa: F401,F403


def extrude(regions, *, thickness_mm: float, z0_mm: float = 0.0):
    """Exact B-rep extrusion (imports OpenCASCADE on first use); see :func:`cad.solid.extrude`."""
    from cad.solid import extrude as _extrude

    return _extrude(regions, thickness_mm=thickness_mm, z0_mm=z0_mm)


__all__ = ["Mesh", "check_mesh", "extrude_mesh", "extrude", "ConvertOptions", "Conversion", "build", "convert",
           "write_outputs", "Region", "Regions", "Ring", "to_regions"]
