"""Colour fidelity benchmark for ``--colors``: per-colour IoU, union IoU, overlap, watertightness.

For every item of the corpus's ``color`` set (8 OpenMoji emoji with their SVG truth) and each
image kind asked for, this converts the image in-process exactly as
``tracecad convert IMAGE --colors auto --formats 3mf --width 50`` does, reads the written 3MF
back, and measures on the file:

* per-colour IoU: each body's footprint (the mesh cut at half its height) against the truth
  layer of its colour (``truth.truth_layers``); bodies and truth colours are paired by the
  smallest total CIE Delta E (Hungarian); a truth colour without a body scores 0;
* union IoU: all bodies together against the whole truth shape;
* overlap: total pairwise intersection area of the bodies, as % of the union area;
* watertight: every object of the 3MF is a closed, consistently wound volume.

Footprint and truth are aligned as ``score.py`` aligns them: both centred on their bounding
boxes, the truth scaled to the ``--width`` of the part, y up.

Usage::

    nice -n 10 .venv/bin/python bench/color_fidelity.py [--kind png512 --kind jpeg35 ...]
                                                       [--items a,b] [--width 50] [--json]

Exits 0 with a message when the evaluation corpus (see bench/README.md) is absent. Thresholds
reported as ``meets_targets``: mean per-colour IoU >= 0.97, union IoU >= 0.99, overlap < 0.5 %,
every body watertight.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
KINDS = ("png512", "png2048", "jpeg35", "photo")
TARGETS = {"mean_iou": 0.97, "union_iou": 0.99, "overlap_pct": 0.5}


def _footprint(mesh, z: float):
    """The mesh's cross-section at height ``z`` as a shapely geometry (mm)."""
    import manifold3d
    import shapely
    from shapely.geometry import Polygon

    m = manifold3d.Manifold(manifold3d.Mesh(vert_properties=np.asarray(mesh.vertices, np.float32),
                                            tri_verts=np.asarray(mesh.faces, np.uint32)))
    geom = Polygon()
    for ring in m.slice(float(z)).to_polygons():
        if len(ring) >= 3:
            geom = shapely.symmetric_difference(geom, shapely.make_valid(Polygon(ring)))
    return shapely.make_valid(geom)


def _hex_lab(hexes):
    from tracer.colorspace import to_lab

    return to_lab(np.array([[int(h[i:i + 2], 16) / 255.0 for i in (1, 3, 5)] for h in hexes], np.float32))


def score_item(item: dict, kind: str, width_mm: float, workdir: Path) -> dict:
    import truth  # truth.py of the evaluation corpus

    img = next(i for i in item["images"] if i["kind"] == kind)
    layers = truth.truth_layers(CORPUS / item["truth_svg"], img["width"])
    r = score_file(CORPUS / img["path"], layers, width_mm, workdir)
    return {"item": item["name"], "kind": kind, **r}


def score_file(src: Path, layers: dict, width_mm: float, workdir: Path, options: dict | None = None) -> dict:
    """Convert ``src`` with ``--colors auto --formats 3mf --width width_mm`` (plus ``options``, ConvertOptions
    fields), read the 3MF back and score it against ``layers`` ({"#rrggbb": shapely geometry, any unit,
    y down}): per-colour IoU, union IoU, overlap, watertightness (see the module docstring)."""
    import shapely
    import shapely.affinity
    from scipy.optimize import linear_sum_assignment

    from cad import check_mesh
    from cad.export.threemf import read_3mf
    from tracecad import ConvertOptions
    from tracecad.modes.colours import convert_colours

    t0 = time.perf_counter()
    opts = ConvertOptions(**{"colors": "auto", "width_mm": width_mm, "formats": ("3mf",), **(options or {})})
    entry = convert_colours(src, workdir, opts, stem=src.stem, name=str(src))
    seconds = time.perf_counter() - t0
    unit, parts = read_3mf(entry["outputs"]["3mf"])
    watertight = all(check_mesh(m).is_volume for _, m, _ in parts)
    feet, colours = [], []
    for (_, mesh, color), c in zip(parts, entry["colors"]):
        z0, z1 = c["z_mm"]
        feet.append(_footprint(mesh, 0.5 * (z0 + z1)))
        colours.append((color or c["color"]).lower())
    t_union = shapely.union_all(list(layers.values()))
    x0, y0, x1, y1 = t_union.bounds
    s = width_mm / (x1 - x0)
    aff = [s, 0, 0, -s, -0.5 * (x0 + x1) * s, 0.5 * (y0 + y1) * s]
    tl = {c: shapely.affinity.affine_transform(g, aff) for c, g in layers.items()}
    t_union = shapely.affinity.affine_transform(t_union, aff)
    union = shapely.union_all(feet)
    ux0, uy0, ux1, uy1 = union.bounds
    shift = (-(ux0 + ux1) / 2, -(uy0 + uy1) / 2)
    feet = [shapely.affinity.translate(f, *shift) for f in feet]
    union = shapely.affinity.translate(union, *shift)
    tcols = list(tl)
    cost = np.linalg.norm(_hex_lab(colours)[:, None] - _hex_lab(tcols)[None], axis=2)
    rows, cols = linear_sum_assignment(cost)
    per = {}
    for r, c in zip(rows, cols):
        a, b = feet[r], tl[tcols[c]]
        per[tcols[c]] = {"body": colours[r], "delta_e": round(float(cost[r, c]), 1),
                         "iou": round(float(a.intersection(b).area / a.union(b).area), 5)}
    for c in tcols:
        per.setdefault(c, {"body": None, "delta_e": None, "iou": 0.0})
    extra = [colours[r] for r in range(len(colours)) if r not in set(rows)]
    overlap = sum(feet[i].intersection(feet[j]).area for i in range(len(feet)) for j in range(i + 1, len(feet)))
    return {"colors_truth": len(tcols), "bodies": len(parts),
            "per_color": per, "extra_bodies": extra,
            "mean_iou": round(float(np.mean([v["iou"] for v in per.values()])), 5),
            "union_iou": round(float(union.intersection(t_union).area / union.union(t_union).area), 5),
            "overlap_pct": round(100.0 * overlap / union.area, 5), "watertight": watertight,
            "curve_segments": entry.get("curve_segments"), "segment_kinds": entry.get("curve_segments_by_kind"),
            "seconds": round(seconds, 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", action="append", choices=KINDS, help="image kind (repeatable; default png512)")
    ap.add_argument("--items", default=None, help="comma list of item names (default: the whole color set)")
    ap.add_argument("--width", type=float, default=50.0, help="part width in mm (default 50)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    a = ap.parse_args(argv)
    if not (CORPUS / "truth.py").exists() or not (CORPUS / "manifest.json").exists():
        print(f"color_fidelity: {CORPUS} is absent; nothing to measure (skipped)")
        return 0
    sys.path.insert(0, str(CORPUS))
    sys.path.insert(0, str(ROOT))
    try:
        import truth  # noqa: F401
    except ImportError as exc:
        print(f"color_fidelity: the corpus scorer needs {exc.name} (pip install svgelements); skipped")
        return 0
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    items = [it for it in manifest["items"] if it.get("set") == "color"]
    if a.items:
        want = set(a.items.split(","))
        items = [it for it in items if it["name"] in want]
    kinds = a.kind or ["png512"]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            for it in items:
                try:
                    r = score_item(it, kind, a.width, Path(tmp))
                except Exception as exc:  # a failure is a result: it counts as IoU 0
                    r = error_row(it["name"], kind, exc, [])
                r["colors_truth"] = len(it.get("colors", []))
                results.append(r)
                if not a.json:
                    print_row(r)
    report(results, kinds, as_json=a.json)
    return 0


def summarise(results: list[dict], kinds) -> dict:
    """Per kind: mean per-colour IoU (over every truth colour), item and union IoU means and worsts,
    overlap, watertightness, colour counts, errors, and whether the targets are met."""
    summary = {}
    for kind in kinds:
        rs = [r for r in results if r["kind"] == kind]
        layer_ious = [v["iou"] for r in rs for v in r["per_color"].values()]
        summary[kind] = {
            "items": len(rs),
            "mean_per_color_iou": round(float(np.mean(layer_ious)) if layer_ious else 0.0, 5),
            "mean_item_iou": round(float(np.mean([r["mean_iou"] for r in rs])), 5),
            "worst_item_iou": round(float(min(r["mean_iou"] for r in rs)), 5),
            "mean_union_iou": round(float(np.mean([r["union_iou"] for r in rs])), 5),
            "worst_union_iou": round(float(min(r["union_iou"] for r in rs)), 5),
            "max_overlap_pct": max((r["overlap_pct"] or 0.0) for r in rs),
            "all_watertight": all(r["watertight"] for r in rs),
            "colour_count_right": sum(r["bodies"] == r["colors_truth"] for r in rs),
            "errors": sum("error" in r for r in rs),
        }
        s = summary[kind]
        s["meets_targets"] = (s["mean_per_color_iou"] >= TARGETS["mean_iou"] and s["worst_union_iou"] >= TARGETS["union_iou"]
                              and s["max_overlap_pct"] < TARGETS["overlap_pct"] and s["all_watertight"])
    return summary


def print_row(r: dict) -> None:
    if "error" in r:
        print(f"{r['kind']:8s} {r['item']:34s} ERROR {r['error']}")
        return
    cols = " ".join(f"{c}:{v['iou']:.3f}" for c, v in r["per_color"].items())
    extra = f" extra {r['extra_bodies']}" if r["extra_bodies"] else ""
    print(f"{r['kind']:8s} {r['item']:34s} bodies {r['bodies']}/{r['colors_truth']} mean {r['mean_iou']:.4f} "
          f"union {r['union_iou']:.4f} overlap {r['overlap_pct']:.4f}% watertight {r['watertight']} "
          f"{r['seconds']:.1f}s  {cols}{extra}")


def error_row(item: str, kind: str, exc: BaseException, colours) -> dict:
    """The result row of an item whose conversion failed: zero IoU for each of its ``colours``."""
    return {"item": item, "kind": kind, "error": f"{type(exc).__name__}: {exc}", "mean_iou": 0.0,
            "union_iou": 0.0, "overlap_pct": None, "watertight": False,
            "per_color": {c: {"iou": 0.0} for c in colours}, "bodies": 0, "colors_truth": len(colours)}


def report(results: list[dict], kinds, *, as_json: bool) -> None:
    """Print the summary per kind (with ``as_json``, one JSON document of the rows and the summary)."""
    summary = summarise(results, kinds)
    if as_json:
        json.dump({"results": results, "summary": summary}, sys.stdout, indent=2)
        print()
    else:
        for kind, s in summary.items():
            print(f"\n{kind}: " + ", ".join(f"{k} {v}" for k, v in s.items()))


if __name__ == "__main__":
    sys.exit(main())

