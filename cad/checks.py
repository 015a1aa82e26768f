"""``tracecad check`` (is a STEP, STL or 3MF file a valid closed solid?) and the strict self-checks.

:func:`check_file` judges any file, ours or not: a mesh must be watertight
(every edge shared by exactly two triangles), consistently wound, free of
degenerate triangles and non-finite coordinates, with positive volume; a STEP
file must hold at least one solid, pass OpenCASCADE's BRepCheck, and every
solid must have a closed shell and positive volume.

Strict mode (``TRACECAD_STRICT=1`` in the environment, or
``cad.checks.STRICT = True``) makes :func:`tracecad.modes.extrude.write_outputs` run
:func:`self_check` before any file gets its final name: topology and
validity invariants that the pipeline guarantees by construction are
verified again, independently (the test suite runs with it on, as trimesh
does with ``tol.strict``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from shapely import union_all
from shapely.geometry import Polygon

from cad.export.step import read_step
from cad.export.stl import read_stl
from cad.export.threemf import read_3mf
from cad.mesh import Mesh, MeshReport, check_mesh, overlap_volume
from cad.solid import count_solids, is_valid_shape, shape_volume
from tracer.errors import ExportError, GeometryError, SolidError, TracecadError

__all__ = ["check_file", "check_volume_mesh", "strict_enabled", "self_check", "STRICT"]

#: Strict self-checks in the pipeline (also switched on by the environment variable TRACECAD_STRICT=1).
STRICT = False

SUFFIXES = (".step", ".stp", ".stl", ".3mf")


def strict_enabled() -> bool:
    return STRICT or os.environ.get("TRACECAD_STRICT", "").strip() not in ("", "0", "false", "no")


# --------------------------------------------------------------------------- tracecad check

def check_file(path: str | Path) -> dict:
    """Report on one file. ``ok`` is True only for a valid closed solid; ``problem`` says why not.

    Raises :class:`ExportError` (one sentence naming the file) when the file
    is missing, of an unknown type, or cannot be read as its type at all.
    """
    p = Path(path)
    if not p.exists():
        raise ExportError(f"{p}: no such file")
    if p.is_dir():
        raise ExportError(f"{p}: is a directory, not a STEP, STL or 3MF file")
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise ExportError(f"{p}: unknown file type {suffix or '(none)'!r} (expected .step, .stp, .stl or .3mf)")
    if not p.is_file():
        raise ExportError(f"{p}: is not a regular file")
    if p.stat().st_size == 0:
        raise ExportError(f"{p}: the file is empty (0 bytes)")
    if suffix in (".step", ".stp"):
        return _check_step(p)
    return _check_mesh_file(p, suffix)


def _check_step(p: Path) -> dict:

    head = p.read_bytes()[:64]
    if not head.lstrip().startswith(b"ISO-10303-21"):
        raise ExportError(f"{p}: not a STEP file (no ISO-10303-21 header)")
    try:
        shape = read_step(p)
    except TracecadError as exc:
        raise ExportError(f"{p}: not a readable STEP file") from exc
    from OCP.BRep import BRep_Tool
    from OCP.BRepCheck import BRepCheck_Analyzer
    from OCP.TopAbs import TopAbs_SHELL, TopAbs_SOLID
    from OCP.TopExp import TopExp_Explorer
    from OCP.TopoDS import TopoDS

    solids = []
    exp = TopExp_Explorer(shape, TopAbs_SOLID)
    while exp.More():
        solids.append(TopoDS.Solid_s(exp.Current()))
        exp.Next()
    problem = None
    volumes, open_shells = [], 0
    for s in solids:
        volumes.append(shape_volume(s))
        sh = TopExp_Explorer(s, TopAbs_SHELL)
        while sh.More():
            if not BRep_Tool.IsClosed_s(sh.Current()):
                open_shells += 1
            sh.Next()
    valid = bool(BRepCheck_Analyzer(shape).IsValid()) if solids else False
    if not solids:
        problem = "holds no solid (only surfaces or curves)"
    elif not valid:
        problem = "fails OpenCASCADE's BRepCheck (invalid geometry or topology)"
    elif open_shells:
        problem = f"{open_shells} shell(s) are not closed"
    elif not all(np.isfinite(v) and v > 0 for v in volumes):
        problem = "a solid has zero or negative volume (inside out)"
    return {"file": str(p), "kind": "step", "ok": problem is None, "solids": len(solids), "valid": valid,
            "volume_mm3": float(sum(volumes)), "problem": problem}


def _check_mesh_file(p: Path, suffix: str) -> dict:
    try:
        if suffix == ".stl":
            meshes = [read_stl(p)]
            unit = "millimeter"
        else:
            unit, parts = read_3mf(p)
            meshes = [m for _, m, _ in parts]
        for m in meshes:
            if len(m.faces) and (m.faces.min() < 0 or m.faces.max() >= len(m.vertices)):
                raise ExportError("a triangle refers to a vertex that does not exist")
    except Exception as exc:  # noqa: BLE001 - any reader failure is the file's fault
        detail = str(exc).replace(str(p), "").strip(": ") or type(exc).__name__
        raise ExportError(f"{p}: not a readable {suffix[1:].upper()} file ({detail})") from exc
    finite = all(np.isfinite(m.vertices).all() for m in meshes)
    reps = [check_mesh(m) for m in meshes] if finite else []
    problem = None
    if not meshes or sum(len(m.faces) for m in meshes) == 0:
        problem = "holds no triangles"
    elif not finite:
        problem = "has non-finite (NaN or infinite) coordinates"
    else:
        bad = next((r for r in reps if not r.is_volume), None)
        if bad is not None:
            if bad.degenerate:
                problem = f"not watertight: {bad.degenerate} degenerate triangle(s)"
            elif not bad.watertight:
                problem = "not watertight (open or non-manifold edges)"
            elif not bad.winding_consistent:
                problem = "inconsistent winding (some triangles are flipped)"
            else:
                problem = "zero or negative volume (inside out)"
    overlap = None
    if problem is None and sum(r.bodies for r in reps) > 1:
        overlap = overlap_volume(meshes)
        if overlap:
            problem = (f"bodies pass through each other ({overlap:.3f} mm³ lies inside two of them; "
                       "a slicer prints their union)")
    return {"file": str(p), "kind": suffix[1:], "ok": problem is None, "unit": unit,
            "solids": sum(r.bodies for r in reps), "triangles": int(sum(len(m.faces) for m in meshes)),
            "watertight": bool(reps) and all(r.watertight for r in reps),
            "winding_consistent": bool(reps) and all(r.winding_consistent for r in reps),
            "volume_mm3": float(sum(r.volume_mm3 for r in reps)),
            "genus": int(sum(max(r.genus, 0) for r in reps)), "overlap_mm3": overlap, "problem": problem}


# --------------------------------------------------------------------------- strict self-checks

def check_volume_mesh(mesh: Mesh, expected_mm3: float, tolerance_mm3: float, name: str) -> MeshReport:
    """Raise :class:`ExportError` unless ``mesh`` is a closed, consistently wound volume of the right size."""
    rep = check_mesh(mesh)
    if not rep.watertight:
        raise ExportError(f"{name}: the mesh is not watertight ({rep.degenerate} degenerate triangles)")
    if not rep.winding_consistent:
        raise ExportError(f"{name}: the mesh winding is inconsistent")
    if not abs(rep.volume_mm3 - expected_mm3) <= tolerance_mm3:
        raise ExportError(f"{name}: the mesh volume {rep.volume_mm3:.3f} mm³ does not match the solid's "
                          f"{expected_mm3:.3f} mm³ (tolerance {tolerance_mm3:.3f})")
    return rep


def self_check(name: str, regions, outlines, *, mesh: Mesh | None = None, solid=None, product: bool = False) -> dict:
    """Verify a conversion's regions, mesh and solid independently; raise a typed error on any breach.

    * every region is a valid polygon of positive area, regions are pairwise
      disjoint (their union's area is the sum of their areas);
    * bodies - holes of the regions equals outer - hole contours of the trace
      when nothing was dropped or repaired (topology is preserved);
    * the mesh, if built, is a closed volume with one body per region and
      genus equal to the number of holes (products such as plates and
      keychain holes change the topology on purpose: there, only closed and valid);
    * the B-rep, if built, has one valid solid per region (BRepCheck on the
      whole compound, not only per face).

    Returns what was checked (for tests).
    """
    regs = regions
    done: dict[str, object] = {"regions": len(regs.regions)}
    polys = []
    for i, r in enumerate(regs.regions):
        shell = r.shell.flatten(1e-3)
        holes = [h.flatten(1e-3) for h in r.holes]
        poly = Polygon(shell, holes)
        if not poly.is_valid or not poly.area > 0:
            raise GeometryError(f"{name}: strict check: region {i} is not a valid polygon of positive area")
        polys.append(poly)
    if len(polys) > 1:
        total = sum(p.area for p in polys)
        union = union_all(polys).area
        if union < total * (1 - 1e-6) - 1e-9:
            raise GeometryError(f"{name}: strict check: regions overlap ({total - union:.6f} mm² counted twice)")
    rep = regs.report
    if not (rep.get("dropped_islands") or rep.get("dropped_holes") or rep.get("repaired")):
        contours = getattr(outlines, "contours", None)  # (a vector source has no traced outlines)
        if contours is not None and len(contours) and hasattr(contours[0], "is_hole"):
            euler_trace = sum(not c.is_hole for c in contours) - sum(c.is_hole for c in contours)
            euler_regions = len(regs.regions) - regs.n_holes
            if euler_trace != euler_regions:
                raise GeometryError(f"{name}: strict check: the regions have bodies - holes = {euler_regions}, "
                                    f"the traced outlines {euler_trace}")
            done["euler"] = euler_regions
    if mesh is not None:
        m = check_mesh(mesh)
        if not m.is_volume:
            raise ExportError(f"{name}: strict check: the mesh is not a closed volume")
        if not product and (m.bodies != len(regs.regions) or m.genus != regs.n_holes):
            raise ExportError(f"{name}: strict check: the mesh has {m.bodies} bodies and genus {m.genus}, "
                              f"expected {len(regs.regions)} and {regs.n_holes}")
        done["mesh"] = (m.bodies, m.genus)
    if solid is not None:
        shape = solid.shape
        n = count_solids(shape)
        if (not product and n != len(regs.regions)) or n == 0 or not is_valid_shape(shape):
            raise SolidError(f"{name}: strict check: the B-rep has {n} solids for {len(regs.regions)} regions "
                             "or fails BRepCheck")
        done["solid"] = n
    return done
