"""Thin line art: rings, bars, a target and a frame drawn with strokes 3 to 8 px wide at 512 px, traced and fitted.

Thin subjects have a long outline for their area, so a fit that strays costs IoU directly; their rings and bars
must still come out as circles and lines. Each drawing is made exactly (shapely), rendered anti-aliased at 512 px
(as ``bench/economy.py --lettering`` renders lettering), traced, and built as regions with the fit off
(``--fit-tolerance 0``) and on (the default), side by side: segments by kind, the rings that are full circles
(every segment an arc about one centre), and the IoU with the drawing (both 50 mm wide, centred on their boxes).

Usage::

    nice -n 15 .venv/bin/python bench/line_art.py [--fit-tolerance MM]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
import shapely  # noqa: E402
from economy import WIDTH_MM, render_geometry  # noqa: E402
from shapely import affinity  # noqa: E402
from shapely.geometry import LineString, Point, box  # noqa: E402

import tracer  # noqa: E402
from cad.regions import to_regions  # noqa: E402


def ring(x: float, y: float, r: float, w: float):
    """A ring of mid radius ``r`` and stroke ``w`` (units of a 512-unit canvas)."""
    return Point(x, y).buffer(r + w / 2, 256).difference(Point(x, y).buffer(r - w / 2, 256))


def bar(x0: float, y0: float, x1: float, y1: float, w: float):
    """A straight stroke ``w`` wide with square ends."""
    return LineString([(x0, y0), (x1, y1)]).buffer(w / 2, cap_style="flat")


#: name -> (drawing, rings in it that are full circles when fitted well)
DRAWINGS = {
    "rings": (shapely.union_all([ring(100, 100, 60, 4), ring(260, 100, 70, 6), ring(420, 110, 40, 3),
                                 ring(150, 300, 90, 8), ring(360, 320, 50, 5)]), 10),
    "bars": (shapely.union_all([bar(20, 20, 480, 20, 4), bar(20, 80, 470, 200, 5), bar(40, 300, 300, 460, 3),
                                bar(400, 250, 400, 480, 6), bar(100, 120, 200, 400, 4)]), 0),
    "target": (shapely.union_all([ring(256, 256, r, 5) for r in (40, 90, 140, 190)]
                                 + [bar(40, 256, 472, 256, 4), bar(256, 40, 256, 472, 4)]), 0),
    "frame": (box(20, 20, 480, 380).difference(box(26, 26, 474, 374)).union(ring(250, 200, 100, 6)), 2),
}


def iou(geom, want) -> float:
    """IoU of ``geom`` centred on its bounding box with ``want``."""
    minx, miny, maxx, maxy = geom.bounds
    g = affinity.translate(geom, -(minx + maxx) / 2, -(miny + maxy) / 2)
    return shapely.intersection(g, want).area / shapely.union(g, want).area


def full_circles(regions) -> int:
    """The rings of ``regions`` that are full circles: every segment an arc about one centre."""
    n = 0
    for region in regions.regions:
        for r in (region.shell, *region.holes):
            if r.arcs is not None and np.isfinite(r.arcs[:, 2]).all():
                c = r.arcs[:, :2]
                n += bool(np.abs(c - c[0]).max() <= 1e-6 * max(1.0, float(np.abs(c).max())))
    return n


def rows(fit_mm: float | None) -> list[dict]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (drawing, circles) in DRAWINGS.items():
            minx, _, maxx, _ = drawing.bounds
            geom = affinity.scale(drawing, WIDTH_MM / (maxx - minx), WIDTH_MM / (maxx - minx), origin=(0, 0))
            minx, miny, maxx, maxy = geom.bounds
            want = affinity.translate(geom, -(minx + maxx) / 2, -(miny + maxy) / 2)
            path = Path(tmp) / f"{name}.png"
            render_geometry(geom, 512, path)
            outlines = tracer.trace(tracer.isolate(tracer.load_image(path)))
            traced = to_regions(outlines, width_mm=WIDTH_MM, fit_tolerance_mm=0)
            fitted = to_regions(outlines, width_mm=WIDTH_MM, fit_tolerance_mm=fit_mm)
            row = {"name": name, "traced": traced.n_segments, "fitted": fitted.n_segments,
                   "kinds": fitted.segment_kinds(), "circles": full_circles(fitted), "want_circles": circles,
                   "iou_off": iou(traced.geometry, want), "iou_on": iou(fitted.geometry, want),
                   "area_per_px": want.area / want.length / fitted.px_mm}
            out.append(row)
            print(f"{name:<8} area/outline {row['area_per_px']:.1f} px  traced {row['traced']:>5}  fitted "
                  f"{row['fitted']:>4} {row['kinds']}  full circles {row['circles']} of {circles}  "
                  f"IoU {row['iou_off']:.4f} -> {row['iou_on']:.4f} ({row['iou_on'] - row['iou_off']:+.4f})", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit-tolerance", type=float, default=None, metavar="MM")
    args = ap.parse_args(argv)
    got = rows(args.fit_tolerance)
    d = [r["iou_on"] - r["iou_off"] for r in got]
    print(f"segments: traced {sum(r['traced'] for r in got)}, fitted {sum(r['fitted'] for r in got)}; full circles "
          f"{sum(r['circles'] for r in got)} of {sum(r['want_circles'] for r in got)}; mean IoU "
          f"{statistics.mean(r['iou_off'] for r in got):.5f} -> {statistics.mean(r['iou_on'] for r in got):.5f} "
          f"({statistics.mean(d):+.5f}), worst {min(d):+.4f}")
    return 0 if np.isfinite(d).all() else 1


if __name__ == "__main__":
    sys.exit(main())
