"""Robustness and triangle budget of --mode relief / lithophane over the evaluation corpus's images (see bench/README.md) or any image folder.

For every image, builds (in memory) a subject-outline relief, a rectangular relief, a flat and a
curved lithophane, and records whether each mesh is a closed volume (cad.mesh.check_mesh and
trimesh.is_volume), its triangle count next to the raw grid's (the simplifier's saving) and the time.

    nice -n 10 .venv/bin/python bench/relief.py --images ../shared/corpus/images --glob '*.512.png'

Skips cleanly when the folder is absent.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CASES = {
    "relief-subject": dict(mode="relief", relief=dict(outline="subject")),
    "relief-subject-frame": dict(mode="relief", relief=dict(outline="subject", frame_mm=1.0)),
    "relief-rect": dict(mode="relief", relief=dict(outline="rect")),
    "litho-flat": dict(mode="lithophane", relief=dict(outline="rect")),
    "litho-curved": dict(mode="lithophane", relief=dict(outline="rect", curve_angle_deg=120.0)),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", default="../shared/corpus/images")
    ap.add_argument("--glob", default="*.512.png")
    ap.add_argument("--width", type=float, default=50.0)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--cases", default=",".join(CASES))
    a = ap.parse_args(argv)
    folder = Path(a.images)
    if not folder.is_dir():
        print(f"skipped: {folder} not found")
        return 0
    import trimesh

    from cad.mesh import check_mesh
    from tracecad import ConvertOptions
    from tracecad.modes.relief import build_relief
    from tracecad.options import ReliefParams

    files = sorted(folder.glob(a.glob))[: a.limit or None]
    cases = [c for c in a.cases.split(",") if c]
    stats = {c: {"ok": 0, "fail": [], "tri": [], "raw": [], "sec": []} for c in cases}
    for f in files:
        for c in cases:
            spec = CASES[c]
            opts = ConvertOptions(mode=spec["mode"], width_mm=a.width, relief=ReliefParams(**spec["relief"]),
                                  formats=("stl",))
            t = time.perf_counter()
            try:
                res = build_relief(f, opts)
                rep = check_mesh(res.mesh)
                tm = trimesh.Trimesh(res.mesh.vertices, res.mesh.faces)
                assert rep.is_volume and tm.is_volume, "not a closed volume"
            except Exception as exc:  # noqa: BLE001 - a benchmark records every failure
                stats[c]["fail"].append(f"{f.name}: {exc}")
                continue
            stats[c]["sec"].append(time.perf_counter() - t)
            nx, ny = res.report["grid"]
            stats[c]["ok"] += 1
            stats[c]["tri"].append(rep.triangles)
            stats[c]["raw"].append(4 * nx * ny + 4 * (nx + ny))
    print(f"{len(files)} images from {folder} ({a.glob}), width {a.width} mm, pitch 0.2 mm, tolerance 0.01 mm")
    print(f"{'case':22} {'closed':>8} {'median tris':>12} {'raw grid tris':>14} {'ratio':>7} {'median s':>9} {'max s':>7}")
    for c in cases:
        s = stats[c]
        n = s["ok"] + len(s["fail"])
        if s["ok"]:
            ratio = float(np.median(np.array(s["tri"]) / np.array(s["raw"])))
            print(f"{c:22} {s['ok']:>4}/{n:<3} {int(np.median(s['tri'])):>12} {int(np.median(s['raw'])):>14} "
                  f"{ratio:>7.3f} {np.median(s['sec']):>9.2f} {max(s['sec']):>7.2f}")
        else:
            print(f"{c:22} {0:>4}/{n:<3}")
        for msg in s["fail"]:
            print(f"    FAIL {msg}")
    return 1 if any(stats[c]["fail"] for c in cases) else 0


if __name__ == "__main__":
    sys.exit(main())
