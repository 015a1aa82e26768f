"""Economy: curve segments per image against the original SVG's, and surface types of geometric artwork.

Corpus part (skipped cleanly without the evaluation corpus): every mono item of each kind is traced
once; its outline becomes regions as traced (``--fit-tolerance 0``) and fitted (the default
tolerance, or ``--fit-tolerance MM``), side by side, both dropping specks below the CLI's default
``--min-area`` as a conversion does. Each count is divided by the truth SVG's path
segments (the designer's count); median and p90 per category. Beside it, the IoU of each footprint
with the truth, aligned as the corpus's ``score.py`` aligns them (its truth polygons, both centred on
their bounding boxes, 50 mm wide), fit off and on, and the time of building the regions.
``bench/fidelity.py`` scores the written STL files through the CLI instead.

Geometric part (always): the artwork of ``tests/shapes.py`` (circles, rings, a rounded rectangle,
regular polygons, a plate with holes, an ellipse) at 512 px; the share of the side-wall area on
analytic surfaces (planes, cylinders, elliptic cylinders), the segments of each full circle, and
BRepCheck, volume and mesh checks.

Lettering part (``--lettering``, instead of the corpus): strings set in the system's DejaVu fonts
(``fonts-dejavu-core``) by :mod:`cad.vector.text` (fontTools), rasterised from the exact glyph outlines
with anti-aliasing at 512 px on the long side, traced and fitted as the corpus items are; segments
against the font's own (a quadratic or a line each), IoU against the glyph outlines.

Colour part (``--colors``, instead of the others): every item of the corpus's colour set through
``--colors auto`` with the fit off and on; curve segments of all bodies, per-colour IoU
(``bench/color_fidelity.py``), union IoU, overlap and watertightness of the written 3MF. The truth SVG's
count is of its stacked artwork (a stroke drawn once over a fill); a partition needs more: each stroke has
two edges, a boundary between two colours is a segment of both bodies, and what a later shape covers is
cut off. So each item is also compared with its truth partition (the visible area of each truth colour,
``truth.truth_layers``), every ring of it fitted by the same stage from the exact geometry.

Usage::

    nice -n 15 .venv/bin/python bench/economy.py [--corpus DIR] [--kind png512 --kind jpeg35 ...]
                                                 [--items a,b] [--no-corpus] [--fit-tolerance MM]
                                                 [--lettering]
    nice -n 15 .venv/bin/python bench/economy.py --colors [--kind png512] [--items a,b]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import shapely  # noqa: E402
from shapely import affinity  # noqa: E402

import tracer  # noqa: E402
from cad.mesh import check_mesh, extrude_mesh  # noqa: E402
from cad.regions import to_regions  # noqa: E402
from cad.solid import extrude, face_areas, face_types, is_valid_shape  # noqa: E402
from tracecad.options import DEFAULT_MIN_AREA_MM2  # noqa: E402

sys.path.append(str(ROOT / "tests"))  # after the packages: tests/ holds folders named like them
import shapes  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
WIDTH_MM = 50.0


def svg_segments(path: Path) -> int:
    """Segments of every path in an SVG (lines, arcs and curves), as its designer drew them."""
    from svgpathtools import svg2paths

    paths, _ = svg2paths(str(path))
    return sum(len(p) for p in paths)


def _pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def _truth(corpus: Path, item: dict):
    """The truth footprint as ``score.py`` builds it (None without its dependencies)."""
    sys.path.insert(0, str(corpus))
    try:
        import score  # the evaluation corpus's scorer
    except ImportError:
        return None
    return score.truth_mm(item, corpus, WIDTH_MM)


def _iou(geom, want) -> float:
    minx, miny, maxx, maxy = geom.bounds  # centred on its bounding box, as score.py does
    g = affinity.translate(geom, -(minx + maxx) / 2, -(miny + maxy) / 2)
    return shapely.intersection(g, want).area / shapely.union(g, want).area


def _corpus_images(corpus: Path, subset: str, kind: str, items: set[str] | None):
    """(item, image) of each corpus item of the set ``subset`` (``mono``, ``color``) with an image of ``kind``,
    only the named ``items`` if given."""
    for item in json.loads((corpus / "manifest.json").read_text())["items"]:
        if item.get("set") != subset or (items and item["name"] not in items):
            continue
        img = next((i for i in item["images"] if i["kind"] == kind), None)
        if img is not None:
            yield item, img


def _row(name: str, category: str, truth: int, traced, fitted, seconds: float, iou_off: float, iou_on: float,
         **extra) -> dict:
    """One image's figures: segments traced and fitted against the truth's, fit time, IoU fit off and on."""
    return {"name": name, "category": category, "truth": truth, "traced": traced.n_segments,
            "fitted": fitted.n_segments, "kinds": fitted.segment_kinds(),
            "traced_ratio": traced.n_segments / max(truth, 1), "ratio": fitted.n_segments / max(truth, 1),
            "seconds": seconds, "iou_off": iou_off, "iou_on": iou_on, **extra}


def corpus_rows(corpus: Path, kind: str, items: set[str] | None, fit_mm: float | None) -> list[dict]:
    rows = []
    for item, img in _corpus_images(corpus, "mono", kind, items):
        outlines = tracer.trace(tracer.isolate(tracer.load_image(corpus / img["path"])))
        t = time.perf_counter()
        traced = to_regions(outlines, width_mm=WIDTH_MM, fit_tolerance_mm=0, min_area_mm2=DEFAULT_MIN_AREA_MM2)
        t_traced = time.perf_counter() - t
        t = time.perf_counter()
        fitted = to_regions(outlines, width_mm=WIDTH_MM, fit_tolerance_mm=fit_mm, min_area_mm2=DEFAULT_MIN_AREA_MM2)
        seconds = time.perf_counter() - t
        truth = svg_segments(corpus / item["truth_svg"])
        want = _truth(corpus, item)
        iou_off, iou_on = (_iou(traced.geometry, want), _iou(fitted.geometry, want)) if want is not None else (np.nan,) * 2
        row = _row(item["name"], item.get("category", ""), truth, traced, fitted, seconds, iou_off, iou_on,
                   deviation_px=fitted.report["fit_deviation_mm"] / fitted.px_mm, seconds_traced=t_traced)
        rows.append(row)
        print(f"{item['name']:<22} truth {truth:>5}  traced {row['traced']:>5} ({row['traced_ratio']:5.2f}x)  "
              f"fitted {row['fitted']:>5} ({row['ratio']:5.2f}x)  {row['kinds']}  dev {row['deviation_px']:.2f} px  "
              f"IoU {iou_off:.4f} -> {iou_on:.4f} ({iou_on - iou_off:+.4f})  {seconds:.2f} s", flush=True)
    return rows


def _summary(kind: str, rows: list[dict]) -> None:
    print(f"-- {kind}: segments / the truth SVG's segments")
    for cat in sorted({r["category"] for r in rows}) + ["all"]:
        sel = [r for r in rows if cat == "all" or r["category"] == cat]
        t, f = [r["traced_ratio"] for r in sel], [r["ratio"] for r in sel]
        print(f"{cat:<14} n={len(sel):>2}  traced median {statistics.median(t):5.2f} p90 {_pct(t, 0.9):5.2f}   "
              f"fitted median {statistics.median(f):5.2f} p90 {_pct(f, 0.9):5.2f}")
    tot_t, tot_f = sum(r["traced"] for r in rows), sum(r["fitted"] for r in rows)
    d = [r["iou_on"] - r["iou_off"] for r in rows]
    worst = min(rows, key=lambda r: r["iou_on"] - r["iou_off"])
    print(f"segments in all: traced {tot_t}, fitted {tot_f} ({tot_t / max(tot_f, 1):.1f}x fewer); "
          f"fit time median {statistics.median(r['seconds'] for r in rows):.2f} s, max {max(r['seconds'] for r in rows):.2f} s")
    print(f"IoU with the truth: mean {statistics.mean(r['iou_off'] for r in rows):.5f} off, "
          f"{statistics.mean(r['iou_on'] for r in rows):.5f} on ({statistics.mean(d):+.5f}); "
          f"worst item {worst['name']} {min(d):+.4f} (targets: mean >= -0.0005, item >= -0.005)")


#: Held-out lettering: (font file in /usr/share/fonts/truetype/dejavu, text). Short strings, so the glyphs
#: are 60 to 120 px tall at 512 px.
LETTERING = (("DejaVuSans-Bold.ttf", "Hamburg"), ("DejaVuSans.ttf", "0123456789"),
             ("DejaVuSerif.ttf", "Quixotic"), ("DejaVuSans-Oblique.ttf", "waxy fjord"),
             ("DejaVuSansMono.ttf", "{[#@&%]}"), ("DejaVuSerif-Bold.ttf", "RSVP?"),
             ("DejaVuSansCondensed-Bold.ttf", "SALE 50%"), ("DejaVuSerif-Italic.ttf", "Bodega"))
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
LETTERING_PX = 512
#: Margin around the lettering in the rendered image, as a share of the long side.
LETTERING_MARGIN = 0.06
#: Supersampling of the anti-aliased render (each pixel's grey level is its covered share, to 1/64).
LETTERING_SS = 8


def render_geometry(geom, size_px: int, path: Path) -> None:
    """Write ``geom`` (mm, y up) as an anti-aliased black-on-white PNG ``size_px`` on its long side."""
    from PIL import Image, ImageDraw

    minx, miny, maxx, maxy = geom.bounds
    inner = size_px * (1 - 2 * LETTERING_MARGIN)
    s = inner / max(maxx - minx, maxy - miny)
    w = int(round((maxx - minx) * s + 2 * LETTERING_MARGIN * size_px))
    h = int(round((maxy - miny) * s + 2 * LETTERING_MARGIN * size_px))
    m, k = LETTERING_MARGIN * size_px, LETTERING_SS
    img = Image.new("L", (w * k, h * k), 0)
    draw = ImageDraw.Draw(img)

    def pts(ring):
        xy = np.asarray(ring.coords)
        return [((x - minx) * s * k + m * k, (maxy - y) * s * k + m * k) for x, y in xy]

    polys = list(geom.geoms) if hasattr(geom, "geoms") else [geom]
    for poly in polys:
        draw.polygon(pts(poly.exterior), fill=255)
        for hole in poly.interiors:
            draw.polygon(pts(hole), fill=0)
    cover = np.asarray(img, np.float64).reshape(h, k, w, k).mean(axis=(1, 3)) / 255.0
    Image.fromarray(np.round(255 * (1 - cover)).astype(np.uint8), "L").save(path)


def lettering_rows(fit_mm: float | None, items: set[str] | None) -> list[dict]:
    """Each :data:`LETTERING` string rendered at 512 px, traced, fit off and on: segments against the font's
    own, IoU against the glyph outlines (both 50 mm wide, centred on their bounding boxes)."""
    from cad.vector.art import art_regions
    from cad.vector.text import text_art

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for font, text in LETTERING:
            name = f"{font.rsplit('.', 1)[0]}:{text}"
            if not (FONT_DIR / font).is_file() or (items and name not in items and text not in items):
                continue
            art = text_art(text, font=str(FONT_DIR / font))
            truth = sum(len(c) for p in art.paints for c, _ in p.rings)
            geom = art_regions(art, width_mm=WIDTH_MM).geometry
            minx, miny, maxx, maxy = geom.bounds
            want = affinity.translate(geom, -(minx + maxx) / 2, -(miny + maxy) / 2)
            path = Path(tmp) / "text.png"
            render_geometry(geom, LETTERING_PX, path)
            outlines = tracer.trace(tracer.isolate(tracer.load_image(path)))
            traced = to_regions(outlines, width_mm=WIDTH_MM, fit_tolerance_mm=0)
            t = time.perf_counter()
            fitted = to_regions(outlines, width_mm=WIDTH_MM, fit_tolerance_mm=fit_mm)
            seconds = time.perf_counter() - t
            iou_off, iou_on = _iou(traced.geometry, want), _iou(fitted.geometry, want)
            row = _row(name, "lettering", truth, traced, fitted, seconds, iou_off, iou_on)
            rows.append(row)
            print(f"{name:<34} font {truth:>4}  traced {row['traced']:>5} ({row['traced_ratio']:5.2f}x)  "
                  f"fitted {row['fitted']:>4} ({row['ratio']:5.2f}x)  {row['kinds']}  "
                  f"IoU {iou_off:.4f} -> {iou_on:.4f} ({iou_on - iou_off:+.4f})  {seconds:.2f} s", flush=True)
    return rows


def _circle_segments(regions) -> list[int]:
    """The segment count of each ring that is a full circle (every segment an arc about one centre)."""
    out = []
    for region in regions.regions:
        for ring in (region.shell, *region.holes):
            if ring.arcs is not None and np.isfinite(ring.arcs[:, 2]).all():
                c = ring.arcs[:, :2]
                if np.abs(c - c[0]).max() <= 1e-6 * max(1.0, float(np.abs(c).max())):
                    out.append(len(ring.ctrl))
    return out


def geometric_rows(fit_mm: float | None) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (_, circles) in shapes.GEOMETRIC.items():
            path = Path(tmp) / f"{name}.png"
            path.write_bytes(shapes.geometric_png(name))
            outlines = tracer.trace(tracer.isolate(tracer.load_image(path)))
            traced = to_regions(outlines, width_mm=WIDTH_MM, fit_tolerance_mm=0)
            regions = to_regions(outlines, width_mm=WIDTH_MM, fit_tolerance_mm=fit_mm)
            solid = extrude(regions, thickness_mm=3.0)
            areas, types = face_areas(solid.shape), face_types(solid.shape)
            cap = 2 * regions.area_mm2  # the planar top and bottom
            side = sum(areas.values()) - cap
            share = (areas["plane"] - cap + areas["cylinder"] + areas["elliptic_cylinder"]) / side
            ok = (is_valid_shape(solid.shape) and abs(solid.volume_mm3 - 3.0 * regions.area_mm2) <= 1e-6 * solid.volume_mm3
                  and check_mesh(extrude_mesh(regions, 3.0)).is_volume)
            row = {"shape": name, "traced": traced.n_segments, "segments": regions.n_segments,
                   "kinds": regions.segment_kinds(), "side_faces": sum(types.values()) - 2,
                   "planes_cylinders": share, "cylinders": types["cylinder"], "circles": circles,
                   "circle_segments": _circle_segments(regions), "checks": ok}
            rows.append(row)
            per = f"  segments per full circle {row['circle_segments']}" if circles else ""
            print(f"{name:<18} traced {row['traced']:>4} -> {row['segments']:>3} segments {row['kinds']}  "
                  f"side faces {row['side_faces']:>3}  planes, cylinders, elliptic cylinders {100 * share:5.1f} %{per}  "
                  f"valid/volume/watertight {ok}", flush=True)
    return rows


def partition_segments(layers: dict) -> int:
    """Segments of the truth partition: every ring of each truth colour's visible area (source pixels, exact
    up to the truth's flattening) fitted by the colour fit's stage at the default tolerance and grain, whole."""
    from cad.fit import default_fit_px, fit_grain
    from cad.fitshared import ChainFitter
    from cad.geometry import fit_arc

    x0, y0, x1, y1 = shapely.union_all(list(layers.values())).bounds
    grain = fit_grain(max(x1 - x0, y1 - y0))
    total = 0
    for geom in layers.values():
        for poly in shapely.get_parts(geom):
            if poly.geom_type != "Polygon":
                continue
            for ring in (poly.exterior, *poly.interiors):
                fitter = ChainFitter(px=1.0, grain=grain, fallback=fit_arc)
                ctrl, _, _ = fitter(np.asarray(ring.coords), default_fit_px(grain), loop=True)
                total += len(ctrl)
    return total


def colour_rows(corpus: Path, kind: str, items: set[str] | None, fit_mm: float | None) -> list[dict]:
    """The corpus's colour items through ``--colors auto`` with the fit off and on, side by side: curve
    segments of all bodies and per-colour IoU (``bench/color_fidelity.py``'s scoring of the written 3MF)."""
    import color_fidelity

    sys.path.insert(0, str(corpus))
    import truth  # the corpus's truth reader

    rows = []
    for item, img in _corpus_images(corpus, "color", kind, items):
        layers = truth.truth_layers(corpus / item["truth_svg"], img["width"])
        got = {}
        for label, fit in (("traced", 0.0), ("fitted", fit_mm)):
            with tempfile.TemporaryDirectory() as tmp:
                got[label] = color_fidelity.score_file(corpus / img["path"], layers, WIDTH_MM, Path(tmp),
                                                       # an SVG beside the 3MF: the fit's default applies
                                                       {"fit_tolerance_mm": fit, "formats": ("3mf", "svg")})  # where curves are kept
        tr, fi = got["traced"], got["fitted"]
        ious = {c: (v["iou"], fi["per_color"][c]["iou"]) for c, v in tr["per_color"].items()}
        row = {"name": item["name"], "truth": svg_segments(corpus / item["truth_svg"]),
               "partition": partition_segments(layers),
               "traced": tr["curve_segments"], "fitted": fi["curve_segments"], "kinds": fi["segment_kinds"],
               "iou_traced": [a for a, _ in ious.values()], "iou_fitted": [b for _, b in ious.values()],
               "union_iou": (tr["union_iou"], fi["union_iou"]), "overlap_pct": fi["overlap_pct"],
               "watertight": fi["watertight"], "seconds": (tr["seconds"], fi["seconds"])}
        rows.append(row)
        d = statistics.mean(row["iou_fitted"]) - statistics.mean(row["iou_traced"])
        print(f"{item['name']:<28} truth {row['truth']:>4} (as a partition {row['partition']:>4})  traced {row['traced']:>5}  fitted {row['fitted']:>5} "
              f"({row['traced'] / max(row['fitted'], 1):4.1f}x fewer) {row['kinds']}  per-colour IoU "
              f"{statistics.mean(row['iou_traced']):.4f} -> {statistics.mean(row['iou_fitted']):.4f} ({d:+.4f})  "
              f"union {row['union_iou'][0]:.4f} -> {row['union_iou'][1]:.4f}  overlap {row['overlap_pct']:.4f} %  "
              f"watertight {row['watertight']}  {row['seconds'][0]:.1f} s -> {row['seconds'][1]:.1f} s", flush=True)
    return rows


def colour_summary(rows: list[dict]) -> None:
    before = [v for r in rows for v in r["iou_traced"]]
    after = [v for r in rows for v in r["iou_fitted"]]
    drops = [b - a for r in rows for a, b in zip(r["iou_traced"], r["iou_fitted"])]
    tot_t, tot_f = sum(r["traced"] for r in rows), sum(r["fitted"] for r in rows)
    ratio = [r["traced"] / max(r["fitted"], 1) for r in rows]
    print(f"colours: {len(rows)} items, {len(before)} colours; mean per-colour IoU {statistics.mean(before):.5f} -> "
          f"{statistics.mean(after):.5f} ({statistics.mean(after) - statistics.mean(before):+.5f}), worst colour change "
          f"{min(drops):+.4f}; segments {tot_t} -> {tot_f} ({tot_t / max(tot_f, 1):.2f}x fewer, per item median "
          f"{statistics.median(ratio):.2f}x); segments / the truth SVG's: traced median "
          f"{statistics.median(r['traced'] / max(r['truth'], 1) for r in rows):.2f}, fitted median "
          f"{statistics.median(r['fitted'] / max(r['truth'], 1) for r in rows):.2f}; segments / the truth partition's: "
          f"traced median {statistics.median(r['traced'] / max(r['partition'], 1) for r in rows):.2f}, fitted median "
          f"{statistics.median(r['fitted'] / max(r['partition'], 1) for r in rows):.2f} (all items "
          f"{tot_f / max(sum(r['partition'] for r in rows), 1):.2f}); max overlap "
          f"{max(r['overlap_pct'] for r in rows):.4f} %; all watertight {all(r['watertight'] for r in rows)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--kind", action="append", help="image kind (repeatable; default png512)")
    ap.add_argument("--items", default="")
    ap.add_argument("--no-corpus", action="store_true")
    ap.add_argument("--fit-tolerance", type=float, default=None, metavar="MM")
    ap.add_argument("--colors", action="store_true",
                    help="the corpus's colour items through --colors, fit off and on (per-colour IoU, segments)")
    ap.add_argument("--lettering", action="store_true",
                    help="strings in the DejaVu fonts at 512 px instead of the corpus (segments against the font's)")
    args = ap.parse_args(argv)
    if args.lettering:
        print(f"== lettering at {LETTERING_PX} px")
        rows = lettering_rows(args.fit_tolerance, set(filter(None, args.items.split(","))) or None)
        if rows:
            _summary("lettering", rows)
        else:
            print(f"no DejaVu fonts in {FONT_DIR} (fonts-dejavu-core): nothing to measure")
        return 0
    if args.colors:
        if not (args.corpus / "manifest.json").exists():
            print(f"evaluation corpus not found at {args.corpus}: nothing to measure")
            return 0
        for kind in args.kind or ["png512"]:
            print(f"== colour items, {kind}: --colors auto, --fit-tolerance 0 vs {args.fit_tolerance or 'auto'}")
            rows = colour_rows(args.corpus, kind, set(filter(None, args.items.split(","))) or None, args.fit_tolerance)
            if rows:
                colour_summary(rows)
        return 0
    print("== geometric artwork at 512 px")
    geo = geometric_rows(args.fit_tolerance)
    print(f"side-wall area on planes, cylinders and elliptic cylinders: lowest {100 * min(r['planes_cylinders'] for r in geo):.1f} %, "
          f"mean {100 * statistics.mean(r['planes_cylinders'] for r in geo):.1f} % (target >= 90 %); "
          f"full circles of 1 or 2 segments: {sum(n <= 2 for r in geo for n in r['circle_segments'])} of "
          f"{sum(r['circles'] for r in geo)}")
    if args.no_corpus:
        return 0
    if not (args.corpus / "manifest.json").exists():
        print(f"evaluation corpus not found at {args.corpus}: corpus rows skipped")
        return 0
    items = set(filter(None, args.items.split(","))) or None
    for kind in args.kind or ["png512"]:
        print(f"== corpus, {kind}")
        rows = corpus_rows(args.corpus, kind, items, args.fit_tolerance)
        if not rows:
            print("no corpus items matched")
            continue
        _summary(kind, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
