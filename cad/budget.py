"""The exact B-rep's complexity budget (OpenCASCADE), checked before the solid is built.

OpenCASCADE's BRepCheck compares every edge of a face with every other
(measured: time grows with the square of the segments of one region, about
1.2 s for 1 300 and 42 s for 7 000 segments on a loaded 2-core machine), so
the sum over regions of (segments of the region)² may not exceed
``(BREP_SEGMENTS_FRACTION * max_segments)²``: one region of 10 000 segments
at the default budget. Meshes (STL, 3MF) are linear and not limited by it.
The pixel-level budget that runs before potrace is :mod:`tracer.budget`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tracer.errors import TooComplexError
from tracer.types import Outlines

__all__ = ["check_brep_budget", "brep_cost", "segments_by_outer", "BREP_SEGMENTS_FRACTION"]

#: One region of up to this fraction of ``max_segments`` fits the B-rep budget (quadratic cost).
BREP_SEGMENTS_FRACTION = 0.05


def brep_cost(segments_per_ring_per_region: Iterable[Sequence[int]]) -> int:
    """Sum over regions of (segments of the region)², the quadratic part of building and checking the B-rep."""
    return int(sum(sum(r) ** 2 for r in segments_per_ring_per_region))


def check_brep_budget(segments_per_ring_per_region: Sequence[Sequence[int]], *, max_segments: int, name: str = "",
                      product: bool = False) -> int:
    """Refuse (``TooComplexError``) a B-rep whose faces are too intricate to build and check in bounded time.

    ``product``: the B-rep is a product's (a plate, a hole, ...), which every format is made from, so
    writing only meshes is not offered as a way out.
    """
    cost = brep_cost(segments_per_ring_per_region)
    side = BREP_SEGMENTS_FRACTION * max_segments
    if cost > side * side:
        worst = max(sum(r) for r in segments_per_ring_per_region)
        prefix = f"{name}: " if name else ""
        what, way_out = (("the product's exact solid (its meshes are made from it too)", "")
                         if product else ("the exact STEP solid", "write only meshes (--formats stl,3mf), "))
        raise TooComplexError(
            f"{prefix}{what} is over budget: its largest region has {worst} curve segments and "
            f"OpenCASCADE's checks grow with the square of that (cost {cost:.3g} > {side * side:.3g}); {way_out}"
            f"simplify (a larger --alphamax or --opttolerance, --upsample 1), or raise --max-segments")
    return cost


def segments_by_outer(outlines: Outlines) -> list[list[int]]:
    """Per outer contour of a trace, the segment counts of it and its holes (the regions-to-be)."""
    groups: dict[int, list[int]] = {}
    for i, c in enumerate(outlines.contours):
        key = c.parent if c.is_hole and c.parent >= 0 else i
        groups.setdefault(key, []).append(c.n_segments)
    return list(groups.values())
