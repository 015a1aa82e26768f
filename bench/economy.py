"""Economy benchmark: curve segments per image against the original SVG's, and surface types of simple shapes.

Corpus part (skipped cleanly without the evaluation corpus): for every mono item's image of the
given kind, the traced and fitted outline's segment count over the truth SVG's path segment count,
per category (median, p90). Fidelity is measured by ``bench/fidelity.py`` (the corpus's score.py).

Geometric part (always): circles, rings, rounded rectangles and regular polygons drawn with 8x
supersampling at 512 px; the share of the side-wall area on planes and cylinders, and how many
cylindrical faces each full circle became.

Usage::

    nice -n 15 .venv/bin/python bench/economy.py [--corpus DIR] [--kind png512] [--items a,b] [--no-corpus]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cad.solid import extrude  # noqa: E402
from tracecad.modes.extrude import build  # noqa: E402
from tracecad.options import ConvertOptions  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
SS = 8


def svg_segments(path: Path) -> int:
    """Segments of every path in an SVG (lines, arcs and curves), as its designer drew them."""
    from svgpathtools import svg2paths

    paths, _ = svg2paths(str(path))
    return sum(len(p) for p in paths)


def _pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def corpus_rows(corpus: Path, kind: str, items: set[str] | None, options: ConvertOptions) -> list[dict]:
    manifest = json.loads((corpus / "manifest.json").read_text())
    rows = []
    for item in manifest["items"] if isinstance(manifest, dict) and "items" in manifest else manifest:
        if item.get("set") != "mono" or (items and item["name"] not in items):
            continue
        img = next((i for i in item["images"] if i["kind"] == kind), None)
        if img is None:
            continue
        conv = build(corpus / img["path"], options)
        truth = svg_segments(corpus / item["truth_svg"])
        rows.append({"name": item["name"], "category": item.get("category", ""), "segments": conv.regions.n_segments,
                     "truth": truth, "ratio": conv.regions.n_segments / max(truth, 1),
                     "kinds": conv.regions.segment_kinds()})
        print(f"{item['name']:<24} {rows[-1]['segments']:>6} / {truth:<6} = {rows[-1]['ratio']:.2f}  {rows[-1]['kinds']}",
              flush=True)
    return rows


def _draw(kind: str, size: int = 512) -> Image.Image:
    big = Image.new("L", (size * SS, size * SS), 255)
    d = ImageDraw.Draw(big)
    c, s = size * SS / 2, SS
    if kind.startswith("circle"):
        d.ellipse([c - 190 * s, c - 190 * s, c + 190 * s, c + 190 * s], fill=0)
    elif kind.startswith("ring"):
        d.ellipse([c - 200 * s, c - 200 * s, c + 200 * s, c + 200 * s], fill=0)
        d.ellipse([c - 110 * s, c - 110 * s, c + 110 * s, c + 110 * s], fill=255)
    elif kind.startswith("rrect"):
        d.rounded_rectangle([60 * s, 130 * s, 452 * s, 382 * s], radius=50 * s, fill=0)
    else:  # polygon-N
        n = int(kind.split("-")[1])
        d.polygon([(c + 200 * s * math.cos(2 * math.pi * k / n + 0.13), c + 200 * s * math.sin(2 * math.pi * k / n + 0.13))
                   for k in range(n)], fill=0)
    return big.resize((size, size), Image.LANCZOS)


def surface_shares(shape) -> tuple[dict[str, float], int]:
    """Side-wall area by surface type (the planes at the top and bottom left out), and the cylinder count."""
    from OCP.BRepAdaptor import BRepAdaptor_Surface
    from OCP.BRepGProp import BRepGProp
    from OCP.GeomAbs import GeomAbs_Cylinder, GeomAbs_Plane
    from OCP.GProp import GProp_GProps
    from OCP.TopAbs import TopAbs_FACE
    from OCP.TopExp import TopExp_Explorer
    from OCP.TopoDS import TopoDS

    area = {"plane": 0.0, "cylinder": 0.0, "other": 0.0}
    cylinders = 0
    ex = TopExp_Explorer(shape, TopAbs_FACE)
    while ex.More():
        f = TopoDS.Face_s(ex.Current())
        ad = BRepAdaptor_Surface(f)
        t = ad.GetType()
        if t == GeomAbs_Plane and abs(ad.Plane().Axis().Direction().Z()) > 0.5:
            ex.Next()
            continue  # top or bottom
        props = GProp_GProps()
        BRepGProp.SurfaceProperties_s(f, props)
        key = "plane" if t == GeomAbs_Plane else "cylinder" if t == GeomAbs_Cylinder else "other"
        cylinders += key == "cylinder"
        area[key] += props.Mass()
        ex.Next()
    total = sum(area.values()) or 1.0
    return {k: v / total for k, v in area.items()}, cylinders


GEOMETRIC = ("circle", "ring", "rrect", "polygon-3", "polygon-4", "polygon-5", "polygon-6", "polygon-8")
FULL_CIRCLES = {"circle": 1, "ring": 2}


def geometric_rows(options: ConvertOptions) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in GEOMETRIC:
            path = Path(tmp) / f"{kind}.png"
            _draw(kind).save(path)
            conv = build(path, options)
            solid = extrude(conv.regions, thickness_mm=3)
            shares, cyl = surface_shares(solid.shape)
            row = {"shape": kind, "segments": conv.regions.n_segments, "kinds": conv.regions.segment_kinds(),
                   "planes_cylinders": shares["plane"] + shares["cylinder"], "cylinder_faces": cyl}
            if kind in FULL_CIRCLES:
                row["cylinder_faces_per_circle"] = cyl / FULL_CIRCLES[kind]
            rows.append(row)
            print(f"{kind:<10} {row['segments']:>4} segments {row['kinds']}  planes+cylinders "
                  f"{100 * row['planes_cylinders']:.1f} %  cylinder faces {cyl}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--kind", default="png512")
    ap.add_argument("--items", default="")
    ap.add_argument("--no-corpus", action="store_true")
    ap.add_argument("--fit-tolerance", type=float, default=None)
    args = ap.parse_args(argv)
    options = ConvertOptions(formats=("stl",), fit_tolerance_mm=args.fit_tolerance)
    print("== geometric shapes at 512 px")
    geo = geometric_rows(options)
    share = sum(r["planes_cylinders"] for r in geo) / len(geo)
    print(f"mean share of side-wall area on planes and cylinders: {100 * share:.1f} % (target >= 90 %)")
    if args.no_corpus:
        return 0
    if not (args.corpus / "manifest.json").exists():
        print(f"evaluation corpus not found at {args.corpus}: corpus rows skipped")
        return 0
    print(f"== corpus, {args.kind}: fitted segments / truth SVG segments")
    rows = corpus_rows(args.corpus, args.kind, set(filter(None, args.items.split(","))) or None, options)
    if not rows:
        print("no corpus items matched")
        return 0
    for cat in sorted({r["category"] for r in rows}) + ["all"]:
        ratios = [r["ratio"] for r in rows if cat == "all" or r["category"] == cat]
        print(f"{cat:<14} n={len(ratios):>2}  median {statistics.median(ratios):.2f}  p90 {_pct(ratios, 0.9):.2f}")
    ratios = [r["ratio"] for r in rows]
    print(f"targets: median <= 1.5 (is {statistics.median(ratios):.2f}), p90 <= 3 (is {_pct(ratios, 0.9):.2f}); "
          f"mean ratio {np.mean(ratios):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
