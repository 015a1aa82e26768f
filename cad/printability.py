"""Printability against the nozzle: narrowest feature, smallest gap, where they are, and thickening.

A slicer drops (or merges) strokes it cannot fill with at least one or two
extrusion lines. The footprint is measured morphologically, in mm:

* an *opening* with a disc of radius ``r`` (erode then dilate by ``r``)
  keeps every part of the shape that a disc of diameter ``2r`` can reach;
  what it removes is thinner than ``2r`` there;
* a removed piece counts as a *thin spot* when the lost material reaches at
  least ``r`` beyond what the opening kept: a vanishing stroke or dot, or a
  spike sharper than about 60 degrees. Ordinary corners (their tips lose
  less than ``0.42 r``) are not reported;
* the width of a thin spot is the diameter of its largest inscribed circle.

The same measure on the complement (inside a frame around the subject)
gives the gaps and holes that would close up. ``--min-feature MM`` thickens
each thin stroke by a local offset (a buffer of the thin spot only) so that
it is at least ``MM`` wide; wide parts keep their exact curves.

Everything here is 2D (shapely) and imports nothing heavy.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from cad.regions import Regions, polygons_of, regions_from_polygons

__all__ = ["analyse", "thin_spots", "narrowest", "thicken", "thicken_regions", "write_preview",
           "DEFAULT_NOZZLE_MM", "RISK_FACTOR", "MAX_LISTED"]

DEFAULT_NOZZLE_MM = 0.4
#: A feature narrower than RISK_FACTOR x nozzle is at risk (two perimeters do not fit).
RISK_FACTOR = 2.0
#: At most this many spots of each kind are listed in the report (the narrowest first).
MAX_LISTED = 50
#: The narrowest feature is searched up to this many times the risk width, gaps up to GAP_CAP_FACTOR times
#: (``None`` in the report: nothing narrower).
FEATURE_CAP_FACTOR = 8.0
GAP_CAP_FACTOR = 4.0
_QUAD = 8


def _opening(geom, r: float):
    return geom.buffer(-r, quad_segs=_QUAD).buffer(r, quad_segs=_QUAD)


def _reach(piece: Polygon, kept, r: float) -> float:
    """How far the lost ``piece`` extends beyond the ``kept`` shape (max over its densified boundary)."""
    if kept.is_empty:
        return float("inf")
    ring = shapely.segmentize(piece.exterior, max(r / 4, 1e-4))
    pts = shapely.points(np.asarray(ring.coords))
    return float(shapely.distance(pts, kept).max())


def _lost_pieces(geom, width_mm: float) -> list[Polygon]:
    """The pieces of ``geom`` a disc of diameter ``width_mm`` cannot reach that count as thin spots."""
    r = width_mm / 2.0
    geom = shapely.make_valid(geom) if not geom.is_valid else geom
    kept = _opening(geom, r)
    lost = geom.difference(kept.buffer(1e-9 * max(1.0, width_mm)))
    eps = (width_mm * 1e-3) ** 2
    # an ordinary corner rounded by the nozzle loses less than r: not a lost feature. A piece touches the
    # kept shape (or is alone), so it cannot reach further than its own diameter: small ones are skipped cheaply.
    out = []
    for p in polygons_of(lost):
        if p.area <= eps:
            continue
        x0, y0, x1, y1 = p.bounds
        if kept.is_empty or (np.hypot(x1 - x0, y1 - y0) >= r and _reach(p, kept, r) >= r):
            out.append(p)
    return out


def _describe(pieces: list[Polygon], width_mm: float) -> list[dict]:
    spots = []
    for piece in pieces:
        mic = shapely.maximum_inscribed_circle(piece, tolerance=max(width_mm * 1e-3, 1e-4))
        c = mic.coords[0]
        spots.append({"x_mm": round(float(c[0]), 4), "y_mm": round(float(c[1]), 4),
                      "width_mm": round(2.0 * float(mic.length), 4), "area_mm2": round(float(piece.area), 5),
                      "bounds": [round(float(b), 4) for b in piece.bounds], "_geom": piece})
    spots.sort(key=lambda s: s["width_mm"])
    return spots


def thin_spots(geom, width_mm: float) -> list[dict]:
    """Places where ``geom`` is narrower than ``width_mm``: ``[{x_mm, y_mm, width_mm, area_mm2, bounds}]``.

    Sorted narrowest first. ``geom`` is a shapely (Multi)Polygon in mm.
    """
    return _describe(_lost_pieces(geom, width_mm), width_mm)


def narrowest(geom, threshold_mm: float, *, cap_factor: float = FEATURE_CAP_FACTOR, steps: int = 4) -> tuple[float | None, list[dict]]:
    """The narrowest feature width of ``geom`` (mm) and the spots thinner than ``threshold_mm``.

    When nothing is thinner than the threshold, the width is searched up to
    ``cap_factor x threshold`` (geometric bisection, then measured exactly
    with the inscribed circle); ``None`` means "wider than the cap".
    """
    spots = thin_spots(geom, threshold_mm)
    if spots:
        return spots[0]["width_mm"], spots
    # scan upwards (the "reaches beyond" test is not monotonic over a wide range: a short stroke
    # between two blobs stops counting once the disc is as large as the stroke is long), then bisect
    lo, hi, found = threshold_mm, None, []
    w = threshold_mm
    while w < threshold_mm * cap_factor:
        w = min(w * 1.5, threshold_mm * cap_factor)
        found = _lost_pieces(geom, w)
        if found:
            hi = w
            break
        lo = w
    if hi is None:
        return None, []
    for _ in range(steps):
        mid = (lo * hi) ** 0.5
        pieces = _lost_pieces(geom, mid)
        if pieces:
            hi, found = mid, pieces
        else:
            lo = mid
    # nothing was lost at ``lo``: a piece's inscribed circle can be smaller (a tapering cusp), but the
    # feature as a whole is at least ``lo`` wide
    return round(max(_describe(found, hi)[0]["width_mm"], lo), 4), []


def _complement(geom, margin: float):
    x0, y0, x1, y1 = geom.bounds
    return box(x0 - margin, y0 - margin, x1 + margin, y1 + margin).difference(geom)


def analyse(geom, *, nozzle_mm: float = DEFAULT_NOZZLE_MM, risk_factor: float = RISK_FACTOR) -> dict:
    """Measure ``geom`` against the nozzle: the report that ``--json`` prints (without shapely objects)."""
    threshold = risk_factor * nozzle_mm
    feat_w, feats = narrowest(geom, threshold)
    # gaps: the complement inside a frame twice as wide as the widest gap searched for
    comp = _complement(geom, 2 * GAP_CAP_FACTOR * threshold)
    gap_w, gaps = narrowest(comp, threshold, cap_factor=GAP_CAP_FACTOR)

    def public(spots, kind):
        return [{"kind": kind, **{k: v for k, v in s.items() if not k.startswith("_")}} for s in spots[:MAX_LISTED]]

    return {
        "nozzle_mm": nozzle_mm, "risk_below_mm": threshold,
        "narrowest_feature_mm": feat_w, "smallest_gap_mm": gap_w,
        "thin_features": public(feats, "feature"), "thin_gaps": public(gaps, "gap"),
        "n_thin_features": len(feats), "n_thin_gaps": len(gaps),
        "ok": not feats and not gaps,
    }


def thicken(geom: BaseGeometry, min_feature_mm: float) -> tuple[BaseGeometry, int]:
    """Grow every stroke of ``geom`` narrower than ``min_feature_mm`` to at least that width.

    Each thin spot is buffered by half the missing width (plus 1 %), so the
    stroke's centre line stays put and wide parts are untouched. Returns the
    new geometry and the number of spots grown.
    """
    spots = thin_spots(geom, min_feature_mm)
    if not spots:
        return geom, 0
    grow = []
    for s in spots:
        delta = max(min_feature_mm - s["width_mm"], 0.0) / 2.0 + 0.01 * min_feature_mm
        grow.append(s["_geom"].buffer(delta, quad_segs=_QUAD))
    out = shapely.union_all([geom, *grow])
    return shapely.make_valid(out), len(spots)


def thicken_regions(regions, min_feature_mm: float):
    """:func:`thicken` applied to :class:`cad.regions.Regions`; untouched regions keep their exact curves.

    Returns ``(regions, n_spots)``.
    """

    geom = regions.geometry
    new, n = thicken(geom, min_feature_mm)
    if n == 0:
        return regions, 0
    added = new.difference(geom)
    tol = 1e-3
    polys = [Polygon(r.shell.flatten(tol), [h.flatten(tol) for h in r.holes]) for r in regions.regions]
    touched = {i for i, p in enumerate(polys) if p.distance(added) <= 1e-6}
    kept = [r for i, r in enumerate(regions.regions) if i not in touched]
    kept_polys = [p for i, p in enumerate(polys) if i not in touched]
    grown = shapely.make_valid(shapely.union_all([added, *[polys[i] for i in touched]]))
    new_regs = regions_from_polygons(MultiPolygon(polygons_of(grown)), simplify=1e-4)
    new_polys = [Polygon(r.shell.flatten(tol), [h.flatten(tol) for h in r.holes]) for r in new_regs]
    mp = shapely.orient_polygons(MultiPolygon(kept_polys + new_polys), exterior_cw=False)
    if not mp.is_valid:
        mp = shapely.make_valid(mp)
    report = dict(regions.report)
    report["thickened_spots"] = n
    return Regions(regions=tuple(kept) + tuple(new_regs), geometry=mp, px_mm=regions.px_mm, report=report), n


def write_preview(geom, report: dict, path: str | os.PathLike[str], *, outline=None, size_px: int = 1200) -> Path:
    """A PNG of the footprint (dark) with thin features circled red and thin gaps blue. Written atomically."""
    from PIL import Image, ImageDraw

    path = Path(path)
    ref = outline if outline is not None and not outline.is_empty else geom
    x0, y0, x1, y1 = ref.bounds
    pad = 0.05 * max(x1 - x0, y1 - y0) + 1.0
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    s = size_px / max(x1 - x0, y1 - y0)
    w, h = int(np.ceil((x1 - x0) * s)), int(np.ceil((y1 - y0) * s))
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)

    def px(coords):
        a = np.asarray(coords)[:, :2]
        return [((x - x0) * s, (y1 - y) * s) for x, y in a]

    def fill(g, color, hole_color):
        for p in sorted(polygons_of(g), key=lambda q: -q.area):
            d.polygon(px(p.exterior.coords), fill=color)
            for i in p.interiors:
                d.polygon(px(i.coords), fill=hole_color)

    if outline is not None and not outline.is_empty:
        fill(outline, (215, 215, 215), (255, 255, 255))
    fill(geom, (60, 60, 60), (215, 215, 215) if outline is not None else (255, 255, 255))
    for key, color in (("thin_features", (230, 30, 30)), ("thin_gaps", (30, 90, 230))):
        for spot in report.get(key, []):
            bx0, by0, bx1, by1 = spot["bounds"]
            rad = max(6.0, 0.5 * max(bx1 - bx0, by1 - by0) * s + 4)
            cx, cy = (spot["x_mm"] - x0) * s, (y1 - spot["y_mm"]) * s
            d.ellipse([cx - rad, cy - rad, cx + rad, cy + rad], outline=color, width=3)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        img.save(tmp, format="PNG")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
