"""``tracecad check``: is a STEP, STL or 3MF file a valid closed solid?"""

from __future__ import annotations

from pathlib import Path

from cad.mesh import check_mesh

__all__ = ["check_file"]


def check_file(path: str | Path) -> dict:
    """Report on one file: ``ok`` is True when it is a closed, consistently wound solid of positive volume."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    suffix = p.suffix.lower()
    if suffix in (".step", ".stp"):
        from cad.export.step import read_step
        from cad.solid import count_solids, is_valid_shape, shape_volume

        shape = read_step(p)
        n, valid, vol = count_solids(shape), is_valid_shape(shape), shape_volume(shape)
        ok = n > 0 and valid and vol > 0
        problem = None if ok else ("no solid" if n == 0 else "fails BRepCheck" if not valid else "non-positive volume")
        return {"file": str(p), "kind": "step", "ok": ok, "solids": n, "valid": valid, "volume_mm3": vol, "problem": problem}
    if suffix == ".stl":
        from cad.export.stl import read_stl

        meshes = [read_stl(p)]
        unit = "millimeter"
    elif suffix == ".3mf":
        from cad.export.threemf import read_3mf

        unit, parts = read_3mf(p)
        meshes = [m for _, m, _ in parts]
    else:
        raise ValueError(f"{p}: unknown file type {suffix!r} (expected .step, .stp, .stl or .3mf)")
    reps = [check_mesh(m) for m in meshes]
    ok = bool(reps) and all(r.is_volume for r in reps)
    problem = None
    if not ok:
        bad = next((r for r in reps if not r.is_volume), None)
        if bad is None:
            problem = "no mesh"
        elif not bad.watertight:
            problem = "not watertight"
        elif not bad.winding_consistent:
            problem = "inconsistent winding"
        else:
            problem = "non-positive volume"
    return {"file": str(p), "kind": suffix[1:], "ok": ok, "unit": unit, "solids": sum(r.bodies for r in reps),
            "triangles": sum(r.triangles for r in reps), "watertight": all(r.watertight for r in reps),
            "winding_consistent": all(r.winding_consistent for r in reps),
            "volume_mm3": sum(r.volume_mm3 for r in reps), "genus": sum(max(r.genus, 0) for r in reps),
            "problem": problem}
