"""Printer set-up of the colour mode: the palette merged to what the printer holds (``--max-colors``),
colours on extruders (``--extruders``), and colour changes for a single nozzle (``--color-changes``).

* :func:`merge_palette` merges the part's colours (never the background) by Ward's criterion in CIE
  Lab until ``n`` are left; each merged group prints in its largest member's colour.
* :func:`assign_extruders` gives each distinct colour an extruder: the listed ones where the map says,
  the others the free slots in order of area (largest first).
* :func:`plan_color_changes` restacks a stacked design into one height band per colour, each band's
  footprint being everything at or above it, snaps the bands to the layer grid and lists the swaps;
  a design that cannot be printed that way is refused in one sentence.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from cad.export.slicers import ColorChange
from cad.partition import area_polygons
from cad.regions import Regions, regions_from_polygons
from tracer.colors import BACKGROUND, ColorLabels
from tracer.colorspace import to_lab
from tracer.errors import InvalidInputError

__all__ = ["parse_extruders", "merge_palette", "assign_extruders", "plan_color_changes", "MAX_EXTRUDERS"]

#: Highest extruder (or filament slot) number accepted by ``--extruders``.
MAX_EXTRUDERS = 64
#: A colour of ``--extruders`` names the nearest colour of the picture within this CIE Delta E.
MATCH_DELTA_E = 12.0


def parse_extruders(text) -> tuple[tuple[str, int], ...]:
    """``"#000000=1,#ea5a47=3"`` -> ``(("#000000", 1), ("#ea5a47", 3))``; a malformed map is a usage error."""
    if text is None:
        return ()
    items = list(text) if isinstance(text, (tuple, list)) else [s.strip() for s in str(text).split(",") if s.strip()]
    out: list[tuple[str, int]] = []
    for item in items:
        if isinstance(item, (tuple, list)):
            key, val = item
        elif "=" in item:
            key, val = item.split("=", 1)
        else:
            raise InvalidInputError(f"--extruders: {item!r} is not COLOUR=N, like '#ea5a47=3'")
        key = str(key).strip().lower()
        key = key if key.startswith("#") else "#" + key
        if not re.fullmatch(r"#[0-9a-f]{6}", key):
            raise InvalidInputError(f"--extruders: {key!r} is not a colour like #ea5a47")
        try:
            slot = int(str(val).strip())
        except ValueError:
            raise InvalidInputError(f"--extruders: {val!r} is not an extruder number") from None
        if not 1 <= slot <= MAX_EXTRUDERS:
            raise InvalidInputError(f"--extruders: extruder numbers go from 1 to {MAX_EXTRUDERS}, got {slot}")
        if any(k == key for k, _ in out):
            raise InvalidInputError(f"--extruders: {key} is listed twice")
        out.append((key, slot))
    return tuple(out)


def _lab(hexes: list[str]) -> np.ndarray:
    return to_lab(np.array([[int(h[i:i + 2], 16) / 255.0 for i in (1, 3, 5)] for h in hexes]))


def merge_palette(labels: ColorLabels, n: int) -> tuple[ColorLabels, list[tuple[str, list[str]]]]:
    """Merge the part's colours down to ``n`` (Ward in CIE Lab; the background is never a candidate).
    Returns the relabelled partition and, per merged group, ``(printed colour, [merged colours])``."""
    colors = list(labels.colors)
    if n < 1:
        raise InvalidInputError(f"--max-colors must be at least 1, got {n}")
    if len(colors) <= n:
        return labels, []
    area = np.array([np.count_nonzero(labels.labels == k) for k in colors], np.float64)
    lab = to_lab(np.array([labels.palette.rgb[k] for k in colors])).astype(np.float64)
    groups = [[i] for i in range(len(colors))]
    w, c = area.copy(), lab.copy()
    alive = list(range(len(colors)))
    while len(alive) > n:
        best = None
        for a in range(len(alive)):
            for b in range(a + 1, len(alive)):
                i, j = alive[a], alive[b]
                cost = w[i] * w[j] / (w[i] + w[j]) * float(np.sum((c[i] - c[j]) ** 2))
                if best is None or cost < best[0]:
                    best = (cost, i, j)
        _, i, j = best  # type: ignore[misc]
        c[i] = (w[i] * c[i] + w[j] * c[j]) / (w[i] + w[j])
        w[i] += w[j]
        groups[i] += groups[j]
        alive.remove(j)
    lut = np.arange(int(max(colors)) + 1)
    merged: list[tuple[str, list[str]]] = []
    for g in (groups[i] for i in alive):
        keep = max(g, key=lambda m: area[m])  # printed in its largest member's colour
        for m in g:
            lut[colors[m]] = colors[keep]
        if len(g) > 1:
            merged.append((labels.hex(colors[keep]), [labels.hex(colors[m]) for m in g if m != keep]))
    new = labels.labels.copy()
    fg = new != BACKGROUND
    new[fg] = lut[new[fg]]
    present = [k for k in colors if k in {colors[max(groups[i], key=lambda m: area[m])] for i in alive}]
    areas = {k: np.count_nonzero(new == k) for k in present}
    order = tuple(sorted(present, key=lambda k: -areas[k]))
    info = dict(labels.info)
    info["colors"] = [labels.hex(k) for k in order]
    return replace(labels, labels=new, colors=order, info=info), merged


def assign_extruders(colors: list[str], areas: list[float], spec: tuple[tuple[str, int], ...]
                     ) -> tuple[dict[str, int], list[str]]:
    """Extruder per distinct colour (``colors`` with their total ``areas``) and the filament colour of
    each extruder 1..n (an extruder no colour uses gets a grey no other slot has, from #808080 up)."""
    distinct: dict[str, float] = {}
    for col, a in zip(colors, areas):
        distinct[col] = distinct.get(col, 0.0) + a
    ordered = sorted(distinct, key=lambda k: -distinct[k])
    slot: dict[str, int] = {}
    if spec:
        lab = _lab(ordered)
        klab = _lab([k for k, _ in spec])
        for (key, s), kl in zip(spec, klab):
            d = np.linalg.norm(lab - kl, axis=1)
            i = int(np.argmin(d))
            if d[i] >= MATCH_DELTA_E:
                raise InvalidInputError(f"--extruders: no colour of the image is near {key} "
                                        f"(the colours are {', '.join(ordered)})")
            if ordered[i] in slot:
                raise InvalidInputError(f"--extruders: {key} and another listed colour both name {ordered[i]}")
            slot[ordered[i]] = s
    free = (s for s in range(1, MAX_EXTRUDERS + len(ordered) + 1) if s not in set(slot.values()))
    for col in ordered:
        if col not in slot:
            slot[col] = next(free)
    n = max(slot.values())
    filaments = [""] * n
    for col, s in slot.items():
        filaments[s - 1] = col
    greys = (f"#{v:02x}{v:02x}{v:02x}" for v in range(0x80, 0x100))
    for i in range(n):  # an unused slot: a grey of its own (slicers number a 3MF's distinct colours)
        if not filaments[i]:
            filaments[i] = next(g for g in greys if g not in slot)
    return slot, filaments


def _snap(z: float, layer: float) -> int:
    return int(math.floor(z / layer + 0.5 + 1e-9))


def plan_color_changes(bodies: list, layer_mm: float, *, min_area_mm2: float = 0.02, tolerance_mm: float = 0.01,
                       whole: Regions | None = None) -> tuple[list, list[ColorChange], str, list[str]]:
    """Restack ``bodies`` (:class:`tracecad.modes.colours.ColorBody`, the base plate first if any) for a
    single nozzle: one band per colour on the ``layer_mm`` grid. The band under every colour is ``whole``
    (the subject's own outline, with its curves) when given; a band under some of them is their union,
    within ``tolerance_mm``. Returns the new bodies (bottom band first), the colour changes, the colour
    to start with, and warnings (the heights that were snapped)."""
    if not layer_mm > 0:
        raise InvalidInputError(f"--layer-height must be a positive number, got {layer_mm}")
    plate = bodies[0] if bodies and bodies[0].is_base else None
    art = [b for b in bodies if not b.is_base]
    z0 = plate.z0_mm + plate.height_mm if plate is not None else 0.0
    by_colour: dict[str, list] = {}
    for b in art:
        by_colour.setdefault(b.color, []).append(b)
    tops = {col: max(b.z0_mm + b.height_mm for b in bs) for col, bs in by_colour.items()}
    snapped: list[str] = []

    def grid(z: float) -> int:
        n = _snap(z, layer_mm)
        if abs(n * layer_mm - z) > 1e-6:
            snapped.append(f"{z:g} -> {round(n * layer_mm, 6):g} mm")
        return n

    n0 = grid(z0) if plate is not None else 0
    if plate is not None and n0 < 1:
        raise InvalidInputError(f"--color-changes: the plate ({z0:.2f} mm) is thinner than one {layer_mm:g} mm layer")
    levels = sorted(((grid(t), col) for col, t in tops.items()), key=lambda x: x[0])
    for (na, ca), (nb, cb) in zip(levels, levels[1:]):
        if na == nb:
            raise InvalidInputError(
                f"--color-changes: {ca} and {cb} fill the same height band (up to {na * layer_mm:.2f} mm), and a "
                "single nozzle prints one colour per layer; give them different --layer-heights")
    if levels and levels[0][0] <= n0:
        raise InvalidInputError(f"--color-changes: {levels[0][1]} is not above the plate's top "
                                f"({n0 * layer_mm:.2f} mm) on the {layer_mm:g} mm layer grid")
    out: list = []
    if plate is not None:
        out.append(replace(plate, height_mm=n0 * layer_mm, mesh_built=None, solid_built=None))
    changes: list[ColorChange] = []
    start = plate.color if plate is not None else (levels[0][1] if levels else "")
    below = n0
    for k, (n, col) in enumerate(levels):
        above = [b for c2 in (c for _, c in levels[k:]) for b in by_colour[c2]]
        if len(above) == len(by_colour[col]) == 1:  # the top band: the colour's own footprint, with its curves
            regions = above[0].regions
        elif len(above) == len(art) and whole is not None:
            regions = whole
        else:
            regions = _regions(_union([b.regions.geometry for b in above], min_area_mm2, tolerance_mm),
                               above[0].regions.px_mm)
        first = by_colour[col][0]
        out.append(replace(first, regions=regions, z0_mm=below * layer_mm, height_mm=(n - below) * layer_mm,
                           mesh_built=None, solid_built=None))
        if plate is not None or k > 0:
            changes.append(ColorChange(z_mm=round(below * layer_mm, 6), print_z_mm=round((below + 1) * layer_mm, 6),
                                       layer=below + 1, color=col))
        below = n
    warnings = [f"heights snapped to the {layer_mm:g} mm layer grid: {', '.join(dict.fromkeys(snapped))}"] if snapped else []
    return out, changes, start, warnings


def _union(geoms: list, min_area_mm2: float, tolerance_mm: float):
    """The union of neighbouring colours, without the hairline gaps along their shared boundaries (each
    colour's curves are flattened on their own): holes and islands under ``min_area_mm2`` (the size below
    which every conversion fills holes and drops specks) go, and the outline keeps a vertex only where it
    leaves the line by more than ``tolerance_mm`` (the meshes' chord tolerance)."""
    u = shapely.unary_union(geoms).buffer(0)
    polys = []
    for p in area_polygons(u):
        if p.area >= min_area_mm2:
            holes = [h for h in p.interiors if Polygon(h).area >= min_area_mm2]
            polys.append(Polygon(p.exterior, holes))
    return shapely.simplify(MultiPolygon(polys), tolerance_mm)


def _regions(geom, px_mm: float) -> Regions:
    polys = MultiPolygon(area_polygons(geom))
    return Regions(regions=tuple(regions_from_polygons(polys)),
                   geometry=shapely.orient_polygons(polys, exterior_cw=False), px_mm=px_mm, report={})
