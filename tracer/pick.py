"""``--pick X,Y`` and ``--keep``: the subject is the colour region under a point; keep its largest parts.

:func:`pick_field` gives the isolation a coverage field: 1 on the pixels whose colour is within the
tolerance (CIE Delta E 1976) of the colour under a picked point *and* connected to it, 0 elsewhere,
and on the region's edge the fraction of each pixel that the region covers, read from its colour
between the region's colour and the colour just outside (an anti-aliased or slightly blurred edge
is a mix of the two), so the outline is placed to a fraction of a pixel. :func:`keep_parts` keeps
all, the largest, or the N largest connected parts of a mask.
"""

from __future__ import annotations

import numpy as np

from tracer.colorspace import to_lab
from tracer.errors import InvalidInputError
from tracer.opencv import load_cv2
from tracer.types import Image

__all__ = ["pick_field", "keep_parts", "parse_keep", "KEEP_CHOICES"]

KEEP_CHOICES = ("all", "largest")
#: The colour under a picked point is the median of this many pixels square around it (noise, JPEG).
SAMPLE_SIDE = 3
#: Below this RGB distance between the region's colour and its surroundings the edge is cut at the pixel.
MIN_EDGE_CONTRAST = 0.04


def parse_keep(value) -> str | int:
    """``"all"``, ``"largest"`` or a whole number N >= 1 -> the value of ``IsolateParams.keep``."""
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    else:
        t = str(value).strip().lower()
        if t in KEEP_CHOICES:
            return t
        try:
            n = int(t)
        except ValueError:
            raise InvalidInputError(f"--keep wants all, largest or a number of parts N, got {value!r}") from None
    if n < 1:
        raise InvalidInputError(f"--keep N wants N >= 1, got {value!r}")
    return n


def pick_field(image: Image, points, tolerance: float) -> tuple[np.ndarray, float, dict]:
    """``(coverage, 0.5, info)``: the picked regions as a coverage field (see the module docstring).

    ``points`` are ``(x, y)`` in the image's source pixels; ``tolerance`` is a Delta E."""
    cv2 = load_cv2()
    if not tolerance > 0:
        raise InvalidInputError(f"--color-tolerance must be > 0, got {tolerance}")
    rgb = image.pixels
    h, w = rgb.shape[:2]
    lab = to_lab(rgb).astype(np.float32)
    region = np.zeros((h, w), np.uint8)
    colours = []
    picked = []
    for x, y in points:
        c, r = int(x / image.scale), int(y / image.scale)
        if not (0 <= c < w and 0 <= r < h):
            raise InvalidInputError(f"{image.name}: the --pick point {x:g},{y:g} lies outside the {w}x{h} picture")
        k = SAMPLE_SIDE // 2
        patch = lab[max(0, r - k):r + k + 1, max(0, c - k):c + k + 1].reshape(-1, 3)
        key = np.median(patch, axis=0)
        near = (np.linalg.norm(lab - key, axis=2) <= tolerance).astype(np.uint8)
        seed = (c, r)
        if not near[r, c]:  # a speck of another colour under the point: start from the nearest matching pixel
            rr, cc = np.nonzero(near[max(0, r - k):r + k + 1, max(0, c - k):c + k + 1])
            if not len(rr):
                raise InvalidInputError(f"{image.name}: the colour under --pick {x:g},{y:g} is not uniform there "
                                        "(raise --color-tolerance)")
            seed = (max(0, c - k) + int(cc[0]), max(0, r - k) + int(rr[0]))
        flood = np.zeros((h + 2, w + 2), np.uint8)
        flood[1:-1, 1:-1] = 1 - near  # floodFill stops at non-zero mask pixels
        cv2.floodFill(near.copy(), flood, seed, 1, flags=4 | (2 << 8) | cv2.FLOODFILL_MASK_ONLY)
        region |= (flood[1:-1, 1:-1] == 2).astype(np.uint8)
        rgb_key = np.median(rgb[max(0, r - k):r + k + 1, max(0, c - k):c + k + 1].reshape(-1, 3), axis=0)
        colours.append("#" + "".join(f"{int(round(v * 255)):02x}" for v in rgb_key))
        picked.append([round(float(x), 2), round(float(y), 2)])
    field = _edge_coverage(rgb, region)
    info = {"source": "pick", "picks": picked, "pick_colors": colours, "color_tolerance": float(tolerance),
            "ink": 1.0, "paper": 0.0, "level": 0.5}
    return field, 0.5, info


def _edge_coverage(rgb: np.ndarray, region: np.ndarray) -> np.ndarray:
    """1 inside ``region``, 0 outside, and on its edge (one pixel either side) the covered fraction of each
    pixel: the projection of its colour onto the line from the colour outside to the colour inside (local
    means over the pixels two steps into and out of the region)."""
    cv2 = load_cv2()
    k3 = np.ones((3, 3), np.uint8)
    inner = cv2.erode(region, k3)
    core = cv2.erode(inner, k3)
    grown = cv2.dilate(region, k3)
    outer = cv2.dilate(grown, k3) & (1 - grown)
    edge = (grown & (1 - inner)).astype(bool)
    field = region.astype(np.float32)
    if not edge.any():
        return field

    def local_mean(sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        wsum = cv2.boxFilter(sel.astype(np.float32), -1, (7, 7), normalize=False)
        csum = cv2.boxFilter(rgb * sel[..., None].astype(np.float32), -1, (7, 7), normalize=False)
        return csum / np.maximum(wsum, 1e-6)[..., None], wsum

    a, wa = local_mean(core if core.any() else region)
    b, wb = local_mean(outer)
    rows, cols = np.nonzero(edge)
    av, bv, pv = a[rows, cols], b[rows, cols], rgb[rows, cols]
    d = av - bv
    n2 = np.einsum("ij,ij->i", d, d)
    ok = (wa[rows, cols] > 0) & (wb[rows, cols] > 0) & (n2 > MIN_EDGE_CONTRAST ** 2)
    t = np.clip(np.einsum("ij,ij->i", pv - bv, d) / np.maximum(n2, 1e-12), 0.0, 1.0)
    vals = np.where(ok, t, field[rows, cols])
    field[rows, cols] = vals
    return field


def keep_parts(mask: np.ndarray, keep: str | int) -> tuple[np.ndarray, int, int]:
    """``(mask, parts found, parts kept)``: only the largest part (``"largest"``), the N largest (an int), or
    all (``"all"``). Parts are 8-connected; holes stay with the part around them."""
    if keep == "all":
        return mask, -1, -1
    cv2 = load_cv2()
    n, labels, stats, _ = cv2.connectedComponentsWithStats(np.ascontiguousarray(mask, np.uint8), connectivity=8)
    parts = n - 1
    want = 1 if keep == "largest" else int(keep)
    if parts <= want:
        return mask, parts, parts
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = np.argsort(-areas, kind="stable")[:want] + 1
    lut = np.zeros(n, bool)
    lut[order] = True
    return lut[labels], parts, want
