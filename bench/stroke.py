"""Centrelines of line art (--mode stroke) against drawings whose centrelines are known.

A synthetic set is generated: lines, arcs, circles, spirals, an X, a T, a grid and letters of a
single-stroke font defined below as polylines; each drawn with a round pen 2-12 px wide, rendered
with exact anti-aliasing (a pixel's grey is the fraction of it the ink covers), then kept clean,
blurred (Gaussian sigma 1 px), saved as JPEG quality 50, or made photo-like (ink not black, paper
lit unevenly, a slight blur, noise, JPEG quality 85). The truth graph (junctions, free ends,
branches) is computed from the true centrelines with shapely's noding, so a corner of one stroke
is not a node and a crossing is one junction.

Each image is isolated like the extrude mode's (tracer.isolate, two working pixels per pixel) and
followed by two methods on the same mask:

* tracecad: :func:`tracer.centerline.centerlines`;
* baseline: scikit-image's ``skeletonize`` and its pixel path (pixel centres; the graph of the raw
  skeleton, walked by :func:`tracer.skeleton.pixel_graph`, with no pruning or merging).

Measures per drawing: the symmetric Hausdorff p95 between the centrelines and the truth (px);
the share of true free ends with a found end within 1 px; whether the junction and branch counts
equal the truth's; the longest spur (a found end more than 1 px from every true end, measured as
its distance from the true centreline) against the line width; and the footprint IoU of the
centrelines buffered to the true width against the true stroke.

    nice -n 10 .venv/bin/python bench/stroke.py              # the full set (about 2-4 min)
    .venv/bin/python bench/stroke.py --quick                 # a third of it
    .venv/bin/python bench/stroke.py --json out.json         # per-drawing rows too
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import shapely  # noqa: E402
from PIL import Image as PILImage  # noqa: E402
from shapely.geometry import LineString, Point  # noqa: E402

import tracer  # noqa: E402
from tracer.centerline import centerlines  # noqa: E402
from tracer.skeleton import pixel_graph  # noqa: E402

SIZE = 256
WIDTHS = (2.0, 4.0, 7.0, 12.0)
CONDITIONS = ("clean", "blurred", "jpeg50", "photo")

# A single-stroke font on a unit box (x right, y down), one list of polylines per letter.
FONT = {
    "A": [[(0.0, 1.0), (0.5, 0.0), (1.0, 1.0)], [(0.25, 0.5), (0.75, 0.5)]],
    "E": [[(1.0, 0.0), (0.0, 0.0), (0.0, 1.0), (1.0, 1.0)], [(0.0, 0.5), (0.8, 0.5)]],
    "F": [[(1.0, 0.0), (0.0, 0.0), (0.0, 1.0)], [(0.0, 0.5), (0.75, 0.5)]],
    "H": [[(0.0, 0.0), (0.0, 1.0)], [(1.0, 0.0), (1.0, 1.0)], [(0.0, 0.5), (1.0, 0.5)]],
    "K": [[(0.0, 0.0), (0.0, 1.0)], [(1.0, 0.0), (0.0, 0.55)], [(0.3, 0.385), (1.0, 1.0)]],
    "L": [[(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)]],
    "M": [[(0.0, 1.0), (0.0, 0.0), (0.5, 0.6), (1.0, 0.0), (1.0, 1.0)]],
    "N": [[(0.0, 1.0), (0.0, 0.0), (1.0, 1.0), (1.0, 0.0)]],
    "T": [[(0.0, 0.0), (1.0, 0.0)], [(0.5, 0.0), (0.5, 1.0)]],
    "V": [[(0.0, 0.0), (0.5, 1.0), (1.0, 0.0)]],
    "W": [[(0.0, 0.0), (0.25, 1.0), (0.5, 0.35), (0.75, 1.0), (1.0, 0.0)]],
    "X": [[(0.0, 0.0), (1.0, 1.0)], [(0.0, 1.0), (1.0, 0.0)]],
    "Y": [[(0.0, 0.0), (0.5, 0.5), (1.0, 0.0)], [(0.5, 0.5), (0.5, 1.0)]],
    "Z": [[(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]],
    "O": [[(0.5 + 0.5 * np.cos(a), 0.5 + 0.5 * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 121)]],
    "S": [[(0.5 + 0.45 * np.cos(a), 0.27 + 0.25 * np.sin(a)) for a in np.linspace(-0.1 * np.pi, -1.5 * np.pi, 60)]
          + [(0.5 + 0.45 * np.cos(a), 0.75 + 0.25 * np.sin(a)) for a in np.linspace(-0.5 * np.pi, 0.9 * np.pi, 60)]],
    "P": [[(0.0, 1.0), (0.0, 0.0), (0.55, 0.0)]
          + [(0.55 + 0.27 * np.cos(a), 0.27 + 0.27 * np.sin(a)) for a in np.linspace(-0.5 * np.pi, 0.5 * np.pi, 40)]
          + [(0.0, 0.54)]],
}


def arc(cx, cy, r, a0, a1, n=120):
    return [(cx + r * np.cos(a), cy + r * np.sin(a)) for a in np.linspace(a0, a1, n)]


def shapes() -> dict[str, list]:
    """Drawings in pixels (y down) on a SIZE x SIZE page."""
    c = SIZE / 2
    out: dict[str, list] = {
        "line": [[(40, 60), (216, 190)]],
        "lines": [[(30, 40), (220, 52)], [(40, 110), (200, 215)], [(235, 90), (150, 230)]],
        "arc": [arc(c, c + 20, 90, np.radians(200), np.radians(340))],
        "circle": [arc(c, c, 90, 0, 2 * np.pi, 241)],
        "spiral": [[(c + (30 + 70 * t / (4 * np.pi)) * np.cos(t), c + (30 + 70 * t / (4 * np.pi)) * np.sin(t))
                    for t in np.linspace(0, 4 * np.pi, 400)]],
        "x": [[(40, 40), (216, 216)], [(40, 216), (216, 40)]],
        "t": [[(30, 50), (226, 56)], [(128, 53), (132, 226)]],
        "grid": [[(40, 90), (216, 94)], [(40, 170), (216, 166)], [(92, 30), (88, 226)], [(168, 30), (172, 226)]],
    }
    for ch, strokes in FONT.items():
        out[f"letter_{ch}"] = [[(48 + 160 * x, 40 + 176 * y) for x, y in s] for s in strokes]
    return out


def render(paths, width: float) -> np.ndarray:
    """Exact anti-aliasing: grey = 1 - covered fraction of each pixel; float (SIZE, SIZE) in [0, 1]."""
    geom = shapely.union_all([LineString(p) for p in paths]).buffer(width / 2, quad_segs=32)
    x0, y0, x1, y1 = (int(v) for v in (max(geom.bounds[0], 0), max(geom.bounds[1], 0),
                                      min(geom.bounds[2] + 1, SIZE), min(geom.bounds[3] + 1, SIZE)))
    rows, cols = np.mgrid[y0:y1, x0:x1]
    boxes = shapely.box(cols.ravel(), rows.ravel(), cols.ravel() + 1, rows.ravel() + 1)
    shapely.prepare(geom)
    hit = shapely.intersects(geom, boxes)
    cover = np.zeros(SIZE * SIZE)
    idx = (rows.ravel() * SIZE + cols.ravel())[hit]
    cover[idx] = shapely.area(shapely.intersection(boxes[hit], geom))
    return 1.0 - cover.reshape(SIZE, SIZE)


def degrade(grey: np.ndarray, condition: str, rng: np.random.Generator) -> np.ndarray:
    """The rendered drawing under a condition, as uint8 grey."""
    import cv2

    g = grey.astype(np.float32)
    if condition == "blurred":
        g = cv2.GaussianBlur(g, (0, 0), 1.0)
    elif condition == "photo":
        yy, xx = np.mgrid[:SIZE, :SIZE] / SIZE
        paper = 0.93 - 0.25 * xx * yy - 0.1 * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2)  # uneven light, vignette
        g = 0.18 + (paper - 0.18) * g  # ink is dark grey, not black
        g = cv2.GaussianBlur(g.astype(np.float32), (0, 0), 0.7)
        g = g + rng.normal(0, 0.03, g.shape)
    u8 = np.clip(np.round(g * 255), 0, 255).astype(np.uint8)
    if condition in ("jpeg50", "photo"):
        buf = io.BytesIO()
        PILImage.fromarray(u8).save(buf, format="JPEG", quality=50 if condition == "jpeg50" else 85)
        u8 = np.asarray(PILImage.open(io.BytesIO(buf.getvalue())).convert("L"))
    return u8


def truth_graph(paths) -> tuple[int, int, np.ndarray, int]:
    """(junctions, branches, free ends (k, 2), loops) of the true centrelines."""
    # noded (crossings and self-crossings split), with the points where a stroke starts on another snapped
    noded = shapely.node(shapely.set_precision(shapely.MultiLineString([LineString(p) for p in paths]), 1e-3))
    segs = list(getattr(noded, "geoms", [noded]))
    degree: dict[tuple, int] = {}
    for s in segs:  # a loop from a node back to it counts twice there
        for p in (s.coords[0], s.coords[-1]):
            key = (round(p[0], 6), round(p[1], 6))
            degree[key] = degree.get(key, 0) + 1
    merged = shapely.line_merge(noded)
    branches = len(getattr(merged, "geoms", [merged]))
    ends = np.array([k for k, d in degree.items() if d == 1]).reshape(-1, 2)
    return sum(d >= 3 for d in degree.values()), branches, ends, 0


def sample(lines: list[np.ndarray]) -> tuple[np.ndarray, object]:
    geoms = [LineString(p) if len(p) > 1 else Point(p[0]) for p in lines]
    union = shapely.union_all(geoms)
    pts = np.concatenate([np.asarray(g.segmentize(0.5).coords) for g in geoms])
    return pts, union


def score(found_lines, found_ends, n_junctions, n_branches, paths, width) -> dict:
    t_junctions, t_branches, t_ends, _ = truth_graph(paths)
    truth_pts, truth = sample([np.asarray(p, float) for p in paths])
    ours_pts, ours = sample(found_lines)
    d1 = shapely.distance(shapely.points(ours_pts), truth)
    d2 = shapely.distance(shapely.points(truth_pts), ours)
    ends_ok = [bool(len(found_ends)) and float(np.hypot(*(found_ends - e).T).min()) <= 1.0 for e in t_ends]
    spur = 0.0
    for e in found_ends:
        if not len(t_ends) or np.hypot(*(t_ends - e).T).min() > 1.0:
            spur = max(spur, float(truth.distance(Point(e))))
    true_stroke = truth.buffer(width / 2, quad_segs=32)
    our_stroke = ours.buffer(width / 2, quad_segs=32)
    iou = true_stroke.intersection(our_stroke).area / true_stroke.union(our_stroke).area
    return {"hausdorff_p95": float(max(np.percentile(d1, 95), np.percentile(d2, 95))),
            "ends_within_1px": float(np.mean(ends_ok)) if ends_ok else 1.0,
            "topology": n_junctions == t_junctions and n_branches == t_branches,
            "spur_over_width": spur / width, "iou": float(iou)}


def run_ours(mask) -> tuple:
    cl = centerlines(mask)
    lines = [s.points() for s in cl.strokes]
    return lines, cl.endpoints, len(cl.junctions), cl.branches, cl.ink_width_px


def run_baseline(mask) -> tuple:
    from skimage.morphology import skeletonize

    skel = skeletonize(np.array(mask.pixels))
    g = pixel_graph(skel)
    s = mask.scale
    lines = [np.stack([(b.pixels[:, 1] + 0.5) * s, (b.pixels[:, 0] + 0.5) * s], axis=1) for b in g.branches]
    lines += [np.array([[(c + 0.5) * s, (r + 0.5) * s]]) for (r, c), k in zip(g.pos, g.kind) if k == "end"
              and not any(b.a >= 0 for b in g.branches)] if not g.branches else []
    ends = np.array([((c + 0.5) * s, (r + 0.5) * s) for (r, c), k in zip(g.pos, g.kind) if k == "end"]).reshape(-1, 2)
    junctions = sum(k == "junction" for k in g.kind)
    return lines, ends, junctions, len(g.branches), float("nan")


def summarise(rows: list[dict], method: str) -> dict:
    r = [x[method] for x in rows]
    return {
        "drawings": len(r),
        "hausdorff_p95_median": float(np.median([x["hausdorff_p95"] for x in r])),
        "hausdorff_p95_le_0.5": float(np.mean([x["hausdorff_p95"] <= 0.5 for x in r])),
        "ends_within_1px": float(np.mean([x["ends_within_1px"] for x in r])),
        "topology_equal": float(np.mean([x["topology"] for x in r])),
        "no_spur_over_width": float(np.mean([x["spur_over_width"] <= 1.0 for x in r])),
        "iou_mean": float(np.mean([x["iou"] for x in r])),
        "iou_ge_0.97": float(np.mean([x["iou"] >= 0.97 for x in r])),
        "seconds_median": float(np.median([x["seconds"] for x in r])),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="every third drawing")
    ap.add_argument("--only", default="", help="comma list of drawing names")
    ap.add_argument("--json", default="", help="write the per-drawing rows here")
    a = ap.parse_args(argv)
    try:
        import skimage  # noqa: F401
    except ImportError:
        print("bench/stroke.py needs scikit-image for the baseline (the bench extra: make setup-bench)")
        return 0
    rng = np.random.default_rng(21)
    drawings = shapes()
    if a.only:
        drawings = {k: v for k, v in drawings.items() if k in a.only.split(",")}
    cases = [(n, w, c) for n in drawings for w in WIDTHS for c in CONDITIONS]
    if a.quick:
        cases = cases[::3]
    rows = []
    for name, width, cond in cases:
        grey = degrade(render(drawings[name], width), cond, rng)
        mask = tracer.isolate(tracer.Image(grey), params=tracer.IsolateParams(upsample=2))
        row: dict = {"drawing": name, "width": width, "condition": cond}
        for method, fn in (("tracecad", run_ours), ("baseline", run_baseline)):
            t = time.perf_counter()
            try:
                lines, ends, nj, nb, ink = fn(mask)
                row[method] = score(lines, ends, nj, nb, drawings[name], width)
                row[method]["ink_width_px"] = ink
            except Exception as exc:  # a failure scores as the worst result
                row[method] = {"hausdorff_p95": float("inf"), "ends_within_1px": 0.0, "topology": False,
                               "spur_over_width": float("inf"), "iou": 0.0, "error": repr(exc)}
            row[method]["seconds"] = time.perf_counter() - t
        rows.append(row)
    print(f"{len(rows)} drawings ({len(drawings)} shapes x widths {', '.join(f'{w:g}' for w in WIDTHS)} px x "
          f"{', '.join(CONDITIONS)}{', every third' if a.quick else ''})\n")
    head = ("method", "Hausdorff p95 median (px)", "p95 <= 0.5 px", "ends within 1 px", "junctions+branches equal",
            "no spur > width", "IoU mean", "IoU >= 0.97", "median s")
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for scope, sel in [("all", rows)] + [(c, [r for r in rows if r["condition"] == c]) for c in CONDITIONS]:
        for method in ("tracecad", "baseline"):
            if not sel:
                continue
            s = summarise(sel, method)
            print(f"| {method} ({scope}) | {s['hausdorff_p95_median']:.2f} | {s['hausdorff_p95_le_0.5']:.0%} | "
                  f"{s['ends_within_1px']:.0%} | {s['topology_equal']:.0%} | {s['no_spur_over_width']:.0%} | "
                  f"{s['iou_mean']:.4f} | {s['iou_ge_0.97']:.0%} | {s['seconds_median']:.3f} |")
    widths = [abs(r["tracecad"]["ink_width_px"] - r["width"]) for r in rows if "ink_width_px" in r["tracecad"]]
    print(f"\nmeasured ink width: median error {np.median(widths):.2f} px, p95 {np.percentile(widths, 95):.2f} px")
    worst = sorted(rows, key=lambda r: -r["tracecad"]["hausdorff_p95"])[:8]
    print("worst tracecad drawings (Hausdorff p95 px, topology):",
          ", ".join(f"{r['drawing']}/{r['width']:g}/{r['condition']} {r['tracecad']['hausdorff_p95']:.2f} "
                    f"{'ok' if r['tracecad']['topology'] else 'TOPO'}" for r in worst))
    bad_topo = [r for r in rows if not r["tracecad"]["topology"]]
    print("tracecad topology misses:", ", ".join(f"{r['drawing']}/{r['width']:g}/{r['condition']}" for r in bad_topo))
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
