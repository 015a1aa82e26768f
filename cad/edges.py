"""Chamfers and fillets on the top edges of prisms, and the child process that runs them.

Where OpenCASCADE cannot treat a part (a stroke thinner than twice the size, a traced corner tighter
than the chamfer), the part is tried again with its convex corners rounded, then left sharp with a
warning. OpenCASCADE's fillet builder (``BRepFilletAPI``) can crash the whole process on some traced
outlines (a segmentation fault inside ``Build``; the IEEE logo at 512 px with ``--chamfer 0.3``
did). A crash must cost one part its treated edges and a warning, never the run or the batch, so
the parts are treated here, one after the other, in a child interpreter; the parent restarts it
after the part it died on (:func:`treat_isolated`).

Protocol: the parent writes ``in<i>.brep`` for every part into a folder and runs
``python -m cad.edges KIND SIZE Z_TOP FOLDER FIRST COUNT``; the child prints ``done <i>``
after each part and writes ``out<i>.brep`` for those it could treat.

Fault injection for the tests: with ``TRACECAD_FAULT_EDGE_PART=<i>`` in the environment the child
kills itself with SIGSEGV when it reaches part ``i``, as OpenCASCADE did.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Polygon

from cad.geometry import fit_arc
from cad.mesh import DEFAULT_TOLERANCE_MM, check_mesh
from cad.occ import solids_of
from cad.regions import Region, Ring
from cad.solid import is_valid_shape, prism, region_face, shape_volume
from cad.tessellate import curved_area, tessellate

__all__ = ["treat_edges", "treat_all", "treat_isolated", "rounded_prism", "top_edges", "MAX_TREATED_EDGES",
           "ROUND_CORNERS_FACTOR"]


#: Parts with more top edges than this are not chamfered/filleted (OCC takes seconds and usually fails).
MAX_TREATED_EDGES = 400


#: A traced outline rounds a sharp corner with a curve far tighter than any chamfer or fillet, which
#: OpenCASCADE then cannot follow. Such a part is treated again with its convex corners rounded to
#: this many times the size (an opening of its footprint) ...
ROUND_CORNERS_FACTOR = 1.3


#: ... refitted with Béziers within the first of these (mm) that OpenCASCADE then treats: its builder
#: fails or succeeds on slight differences of the curves, and each is far below a print's resolution ...
ROUND_FITS_MM = (0.005, 0.01, 0.02)


#: ... when that keeps its holes and one piece, and at least this fraction of its area.
ROUND_KEEP_AREA = 0.99


def top_edges(shape, z: float) -> list:
    """Edges lying in the plane Z = ``z`` (the top outline of a prism)."""
    from OCP.Bnd import Bnd_Box
    from OCP.BRepBndLib import BRepBndLib
    from OCP.TopAbs import TopAbs_EDGE
    from OCP.TopExp import TopExp_Explorer
    from OCP.TopoDS import TopoDS

    out, ex = [], TopExp_Explorer(shape, TopAbs_EDGE)
    seen = set()
    while ex.More():
        e = TopoDS.Edge_s(ex.Current())
        ex.Next()
        h = e.__hash__()
        if h in seen:
            continue
        seen.add(h)
        bb = Bnd_Box()
        BRepBndLib.Add_s(e, bb)
        _, _, zmin, _, _, zmax = bb.Get()
        if abs(zmin - z) < 1e-4 and abs(zmax - z) < 1e-4:
            out.append(e)
    return out


def treat_edges(solid, z_top: float, size: float, kind: str):
    """Chamfer or fillet the top edges of one solid; ``None`` if OCC fails or the result is not a valid, smaller solid."""
    from OCP.BRepFilletAPI import BRepFilletAPI_MakeChamfer, BRepFilletAPI_MakeFillet

    edges = top_edges(solid, z_top)
    if not edges:
        return None
    try:
        op = BRepFilletAPI_MakeChamfer(solid) if kind == "chamfer" else BRepFilletAPI_MakeFillet(solid)
        for e in edges:
            op.Add(size, e)
        op.Build()
        if not op.IsDone():
            return None
        out = op.Shape()
    except Exception:  # OCC raises Standard_Failure subclasses for features too small
        return None
    if len(solids_of(out)) != 1 or not is_valid_shape(out):
        return None
    vol = shape_volume(out)
    if not vol < shape_volume(solid):
        return None
    # BRepCheck passes some treated parts whose faces do not triangulate to the solid (a corner
    # patch off its boundary): the mesh of the treated part must be a closed volume of its volume.
    mesh = check_mesh(tessellate(out, DEFAULT_TOLERANCE_MM))
    if not mesh.is_volume or abs(mesh.volume_mm3 - vol) > curved_area(out) * DEFAULT_TOLERANCE_MM + 1e-6 * vol + 1e-9:
        return None
    return solids_of(out)[0]


def treat_all(solids: list, z_top: float, size: float, kind: str, what: str, warnings: list,
               rounded=None, isolate: bool = False) -> list:
    """Edge-treat each solid; where OpenCASCADE fails, leave that part's edges sharp and warn.

    ``rounded(i, fit_mm)``, when given, is solid ``i`` with its convex corners rounded and refitted within
    ``fit_mm`` (:func:`rounded_prism`), or None: tried where the solid as it is cannot be treated, with
    each of :data:`ROUND_FITS_MM` in turn. ``isolate``: treat in child processes
    (:func:`treat_isolated`; traced outlines can crash OpenCASCADE's fillet builder).
    """
    if size <= 0:
        return solids

    def treat(parts: list) -> list:
        if isolate:
            return treat_isolated(parts, z_top, size, kind)
        return [treat_edges(part, z_top, size, kind) for part in parts]

    def small(part) -> bool:
        return len(top_edges(part, z_top)) <= MAX_TREATED_EDGES

    res: list = [None] * len(solids)
    todo = [i for i, part in enumerate(solids) if small(part)]
    for i, t in zip(todo, treat([solids[i] for i in todo])):
        res[i] = t
    rounded_n = 0
    for fit_mm in ROUND_FITS_MM if rounded is not None else ():
        retry = {}
        for i in (i for i, t in enumerate(res) if t is None):
            part = rounded(i, fit_mm)
            if part is not None and small(part):
                retry[i] = part
        for i, t in zip(retry, treat(list(retry.values()))):
            if t is not None:
                res[i] = t
                rounded_n += 1
    skipped = sum(t is None for t in res)
    if rounded_n:
        warnings.append(f"the convex corners of {rounded_n} {what} part(s) were rounded to "
                        f"{ROUND_CORNERS_FACTOR * size:g} mm so that the {size:g} mm {kind} fits along them")
    if skipped:
        warnings.append(f"OpenCASCADE could not {kind} {skipped} of {len(solids)} {what} part(s) at {size:g} mm "
                        "(curves too fine or features too thin); their top edges were left sharp")
    return [s_ if t is None else t for s_, t in zip(solids, res)]


def rounded_prism(region, size: float, z0: float, h: float, fit_mm: float = ROUND_FITS_MM[0]):
    """The prism of ``region`` with its convex corners rounded to ``ROUND_CORNERS_FACTOR * size`` and its
    outline refitted within ``fit_mm``, or None when the rounding would change the part (a piece thinner
    than that vanishes, splits off or closes a hole)."""
    flat = fit_mm / 2
    poly = Polygon(region.shell.flatten(flat), [hole.flatten(flat) for hole in region.holes])
    r = ROUND_CORNERS_FACTOR * size
    opened = poly.buffer(-r, quad_segs=32).buffer(r, quad_segs=32)
    if (opened.geom_type != "Polygon" or len(opened.interiors) != len(region.holes)
            or opened.area < ROUND_KEEP_AREA * poly.area):
        return None
    opened = shapely.orient_polygons(opened, exterior_cw=False)

    def ring(coords, ccw: bool):
        p = np.asarray(coords)
        return Ring(*fit_arc(p, fit_mm)).oriented(ccw=ccw)  # (a closed run: first point = last)

    try:
        face = region_face(Region(ring(opened.exterior.coords, True), tuple(ring(q.coords, False) for q in opened.interiors)))
    except Exception:  # noqa: BLE001 - OCC refuses the refitted outline: the part stays as it is
        return None
    return prism(face, z0_mm=z0, height_mm=h)


# --------------------------------------------------------------------------- the child process

#: A child that has not finished its parts after this many seconds is stopped (the part it was on fails).
CHILD_TIMEOUT_S = 300.0


def _write(shape, path: Path) -> None:
    from OCP.BRepTools import BRepTools

    if not BRepTools.Write_s(shape, str(path)):
        raise OSError(f"could not write {path}")


def _read(path: Path):
    from OCP.BRep import BRep_Builder
    from OCP.BRepTools import BRepTools
    from OCP.TopoDS import TopoDS_Shape

    shape = TopoDS_Shape()
    if not BRepTools.Read_s(shape, str(path), BRep_Builder()):
        raise OSError(f"could not read {path}")
    return shape


def treat_isolated(solids: list, z_top: float, size: float, kind: str) -> list:
    """:func:`treat_edges` of every solid, in child processes: the treated solid or None."""
    results: list = [None] * len(solids)
    if not solids:
        return results
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)  # (the child imports this very package)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with tempfile.TemporaryDirectory(prefix="tracecad-edges-") as tmp:
        folder = Path(tmp)
        for i, s in enumerate(solids):
            _write(s, folder / f"in{i}.brep")
        first = 0
        while first < len(solids):
            cmd = [sys.executable, "-m", "cad.edges", kind, repr(size), repr(z_top), str(folder),
                   str(first), str(len(solids))]
            try:
                run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=CHILD_TIMEOUT_S)
                out, code = run.stdout, run.returncode
            except subprocess.TimeoutExpired as exc:
                partial = exc.stdout or ""
                out, code = (partial.decode() if isinstance(partial, bytes) else partial), -1
            done = [int(line.split()[1]) for line in out.splitlines() if line.startswith("done ")]
            for i in done:
                path = folder / f"out{i}.brep"
                if path.exists():
                    results[i] = _read(path)
            if code == 0:
                break
            first = (max(done) + 1 if done else first) + 1  # (the part it died on, or hung on, fails)
    return results


def worker_main(argv: list[str]) -> int:
    """The child's side of :func:`treat_isolated` (``python -m cad.edges KIND SIZE Z_TOP FOLDER FIRST COUNT``)."""
    kind, size, z_top, folder, first, count = argv
    folder_p = Path(folder)
    fault = os.environ.get("TRACECAD_FAULT_EDGE_PART")
    for i in range(int(first), int(count)):
        if fault == str(i):
            os.kill(os.getpid(), signal.SIGSEGV)
        out = treat_edges(_read(folder_p / f"in{i}.brep"), float(z_top), float(size), kind)
        if out is not None:
            _write(out, folder_p / f"out{i}.brep")
        print(f"done {i}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(worker_main(sys.argv[1:]))
