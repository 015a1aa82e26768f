"""Colour quantisation: :class:`Image` -> :class:`ColorLabels`, a partition of the working raster by colour.

How a multi-colour image becomes one label per working pixel:

1. **Palette.** k-means in CIE Lab on the *flat* pixels only (pixels whose
   3x3 neighbourhood is nearly uniform), so anti-aliased fringes and blur
   never form a colour of their own. Clusters closer than ``merge_delta_e``
   (Delta E 1976) are merged, clusters with almost no pixels (a fraction of
   the subject's flat pixels, not the page's) are dropped, and with
   ``colors=N`` the closest clusters keep merging until N colours remain
   besides the background. On a lossy image a small cluster near a big one is
   the big one's compression noise, unless it forms a mode of its own
   (:func:`tracer.colormodes.absorb_satellites`).
2. **Background.** The transparent part when the alpha channel carries the
   shape, otherwise the palette colour that covers most of the image border.
   Only the part of it the page reaches from the border through more than a pinch (a
   corner contact or a gap thinner than ``NECK_PX``) is background: enclosed areas
   of the same colour (white rings of a target, white squares of a chequered
   flag) are a colour of the part (``enclosed_background="fill"``, default) or
   holes (``"hole"``).
3. **Fringes.** Each pixel is explained as a mix of at most two palette
   colours that occur near it (within ``fringe_px``); the mixing fraction is
   the pixel's coverage by each of the two. A dark-on-yellow edge therefore
   splits between black and yellow and never turns into a thin orange or
   brown sliver.
4. **Sub-pixel partition.** The per-colour coverage fields are interpolated
   onto the working raster (finer than the source for small images, as in
   :func:`tracer.isolate`) and every working pixel takes the colour of
   highest coverage: the boundary between two colours is where each covers
   half the pixel. Regions smaller than ``min_px`` source pixels are given to
   the neighbouring colour they touch most.

The result is a partition: each working pixel has exactly one label, so
colour masks never overlap and leave no gap inside the subject.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tracer.colormodes import absorb_satellites
from tracer.colorphoto import even_photo
from tracer.colorspace import hex_color, to_lab
from tracer.errors import EmptyMaskError, InvalidInputError
from tracer.isolate import working_factor
from tracer.opencv import load_cv2
from tracer.strategies import alpha_carries_shape, border_pixels
from tracer.types import Image, IsolateParams, Mask

__all__ = ["ColorParams", "Palette", "ColorLabels", "palette", "label_colors"]

#: Label of the background (transparent or border-connected background colour) in :attr:`ColorLabels.labels`.
BACKGROUND = -1


@dataclass(frozen=True, slots=True)
class ColorParams:
    """Options of :func:`label_colors`.

    colors : number of colours of the part (background excluded), or None to decide automatically;
        it is an upper bound: colours that are not distinct (``merge_delta_e``) are not split.
    merge_delta_e : clusters whose Lab centres are closer than this are one colour.
    flat_delta_e : a pixel is flat when its 3x3 neighbourhood spans less than this (Lab Delta E);
        raised automatically on noisy images.
    min_cluster_fraction : palette clusters with fewer flat pixels than this fraction of the subject's
        flat pixels (the page's excluded) are dropped.
    min_px : colour regions smaller than this many source pixels are merged into a neighbour.
    fringe_px : how far (source pixels) a colour may be mixed into an anti-aliased edge pixel.
    enclosed_background : "fill" (areas of the background colour enclosed by the part are a colour
        of the part) or "hole" (they are holes).
    max_colors : refuse palettes larger than this.
    """

    colors: int | None = None
    merge_delta_e: float = 8.0
    flat_delta_e: float = 6.0
    min_cluster_fraction: float = 0.0005
    min_px: float = 12.0
    fringe_px: int = 2
    enclosed_background: str = "fill"
    max_colors: int = 24

    def __post_init__(self) -> None:
        if self.colors is not None and not (isinstance(self.colors, int) and 1 <= self.colors <= self.max_colors):
            raise InvalidInputError(f"colors must be an integer from 1 to {self.max_colors} (or auto), got {self.colors!r}")
        if self.enclosed_background not in ("fill", "hole"):
            raise InvalidInputError(f"enclosed_background must be 'fill' or 'hole', got {self.enclosed_background!r}")
        if self.fringe_px < 1:
            raise InvalidInputError(f"fringe_px must be >= 1, got {self.fringe_px}")


@dataclass(frozen=True, slots=True, eq=False)
class Palette:
    """Colours in sRGB ``[0, 1]`` (K, 3) and Lab (K, 3); ``background`` indexes it, or is -1 (transparent)."""

    rgb: np.ndarray
    lab: np.ndarray
    background: int
    counts: np.ndarray  # flat pixels per colour

    @property
    def hex(self) -> list[str]:
        return [hex_color(c) for c in self.rgb]

    def __len__(self) -> int:
        return len(self.rgb)


@dataclass(frozen=True, slots=True, eq=False)
class ColorLabels:
    """A partition of the working raster: ``labels`` (rows, cols) int16, a palette index or :data:`BACKGROUND`.

    One working pixel is ``scale`` source pixels wide (as :attr:`tracer.Mask.scale`).
    ``colors`` lists the palette indices that occur in the part, largest area first.
    """

    labels: np.ndarray
    scale: float
    source_size: tuple[int, int]
    palette: Palette
    colors: tuple[int, ...]
    info: dict = field(default_factory=dict)

    def mask(self, index: int | None = None) -> Mask:
        """The :class:`Mask` of palette colour ``index``, or of the whole subject when ``index`` is None."""
        px = self.labels != BACKGROUND if index is None else self.labels == index
        return Mask(pixels=px, scale=self.scale, source_size=self.source_size, info=dict(self.info))

    def hex(self, index: int) -> str:
        return hex_color(self.palette.rgb[index])

    def area_px(self, index: int | None = None) -> float:
        """Area in source pixels² of a colour (or of the subject)."""
        px = self.labels != BACKGROUND if index is None else self.labels == index
        return float(np.count_nonzero(px)) * self.scale**2


#: A background-coloured area joined to the page only through a neck narrower than this (source
#: pixels: a corner contact, a hairline gap in an outline) is enclosed by the subject, not page.
NECK_PX = 2.0

#: Flat pixels spread this far (Delta E, 90th percentile) from their colour: a lossy image.
LOSSY_NOISE_DELTA_E = 0.05
#: On a lossy image, a cluster within SATELLITE_DISTANCE * merge_delta_e of a much larger colour may
#: be that colour's compression noise (:func:`tracer.colormodes.absorb_satellites`).
SATELLITE_DISTANCE = 2.0

#: sRGB -> Y'CbCr (BT.601) and the weight of the chroma channels when explaining a pixel of a lossy
#: (JPEG-like) image as a mix; lossless art keeps full weight.
_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)
CHROMA_WEIGHT = 0.35
#: A pixel explained worse than this (weighted Y'CbCr distance) looks for colours further away.
MAX_MIX_RESIDUAL = 0.06

#: The palette of an image of up to PALETTE_ALL_PX pixels (2048 x 2048) is fitted on every pixel.
#: A larger image's is fitted on about PALETTE_SAMPLE_PX pixels sampled on a jittered grid (one
#: pixel at a seeded random place in each s x s block), each judged flat on its own full-resolution
#: 3x3 neighbourhood, as every pixel of a smaller image is.
PALETTE_ALL_PX = 1 << 22
PALETTE_SAMPLE_PX = 1 << 20
#: The full-resolution mixing works on bands of rows of about this many pixels (bounded memory).
BAND_PX = 1 << 21


def _span2(lab: np.ndarray) -> np.ndarray:
    """Squared Delta E spanned by each pixel's 3x3 neighbourhood (per channel max - min)."""
    cv2 = load_cv2()
    k = np.ones((3, 3), np.uint8)
    span2 = np.zeros(lab.shape[:2], np.float32)
    for c in range(3):
        ch = np.ascontiguousarray(lab[..., c])
        span2 += (cv2.dilate(ch, k) - cv2.erode(ch, k)) ** 2
    return span2


def _sample_grid(h: int, w: int, limit: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """At most about ``limit`` pixel positions: one at a seeded random place in each s x s block
    (a jittered grid: even coverage, no aliasing with periodic patterns), in row-major order."""
    s = int(np.ceil(np.sqrt(h * w / limit)))
    rng = np.random.default_rng(seed)
    r0 = np.arange(0, h, s)
    c0 = np.arange(0, w, s)
    bh = np.minimum(s, h - r0)  # blocks at the bottom and right edges may be smaller
    bw = np.minimum(s, w - c0)
    rows = r0[:, None] + (rng.random((len(r0), len(c0))) * bh[:, None]).astype(np.int64)
    cols = c0[None, :] + (rng.random((len(r0), len(c0))) * bw[None, :]).astype(np.int64)
    return rows.ravel(), cols.ravel()


def _palette_pixels(image: Image, transparent: bool) -> dict:
    """The pixels the palette is fitted on: every pixel of an image up to PALETTE_ALL_PX, else a
    jittered-grid sample of about PALETTE_SAMPLE_PX. Returns flat (n, 3) ``lab`` and ``rgb``, (n,)
    ``span2`` (see :func:`_span2`), ``opaque`` and ``inner`` (opaque with an opaque 3x3 neighbourhood; None when not transparent),
    and ``border_lab``, the Lab of (a sample of) the image border."""
    h, w = image.shape
    alpha = image.alpha if transparent else None
    if h * w <= max(PALETTE_ALL_PX, PALETTE_SAMPLE_PX):
        rgb = image.rgb_rows(0, h)
        lab = to_lab(rgb)
        out = {"lab": lab.reshape(-1, 3), "rgb": rgb.reshape(-1, 3), "span2": _span2(lab).ravel(),
               "border_lab": border_pixels(lab).reshape(-1, 3), "opaque": None, "inner": None}
        if alpha is not None:
            opaque = alpha >= 0.5
            inner = load_cv2().erode(opaque.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
            out["opaque"], out["inner"] = opaque.ravel(), inner.ravel()
        return out
    rows, cols = _sample_grid(h, w, PALETTE_SAMPLE_PX)
    # Each sample with its 3x3 neighbourhood (clamped at the image edge, which is what the
    # dilation and erosion of the full image do there): 9 x n pixels to Lab.
    offs = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    nr = [np.clip(rows + dy, 0, h - 1) for dy, _ in offs]
    nc = [np.clip(cols + dx, 0, w - 1) for _, dx in offs]
    rgb9 = np.stack([image.rgb_at(r, c) for r, c in zip(nr, nc)])  # (9, n, 3)
    lab9 = to_lab(rgb9)
    span2 = np.zeros(len(rows), np.float32)
    for c in range(3):
        span2 += (lab9[..., c].max(axis=0) - lab9[..., c].min(axis=0)) ** 2
    out = {"lab": np.ascontiguousarray(lab9[4]), "rgb": np.ascontiguousarray(rgb9[4]), "span2": span2,
           "opaque": None, "inner": None}
    del lab9, rgb9
    if alpha is not None:
        out["opaque"] = alpha[rows, cols] >= 0.5
        out["inner"] = np.logical_and.reduce([alpha[r, c] >= 0.5 for r, c in zip(nr, nc)])
    # The border: a strided copy of the image, its border band as border_pixels takes it.
    s = int(np.ceil(np.sqrt(h * w / PALETTE_SAMPLE_PX)))
    b = max(1, min(h, w) // 50)
    br = np.concatenate([np.arange(0, b), np.arange(max(b, h - b), h)])[::s]
    bc = np.concatenate([np.arange(0, b), np.arange(max(b, w - b), w)])[::s]
    allr, allc = np.arange(0, h, s), np.arange(0, w, s)
    pr = np.concatenate([np.repeat(br, len(allc)), np.repeat(allr, len(bc))])
    pc = np.concatenate([np.tile(allc, len(br)), np.tile(bc, len(allr))])
    out["border_lab"] = to_lab(image.rgb_at(pr, pc))
    return out


def _kmeans(samples: np.ndarray, k: int) -> np.ndarray:
    cv2 = load_cv2()
    k = max(1, min(k, len(samples)))
    cv2.setRNGSeed(12345)
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 0.05)
    _, _, centres = cv2.kmeans(np.ascontiguousarray(samples, np.float32), k, None, crit, 2, cv2.KMEANS_PP_CENTERS)
    return centres.astype(np.float64)


def _assign(x: np.ndarray, centres: np.ndarray, chunk: int = 1 << 18) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centre (the first on a tie) and its squared distance for each row of ``x`` (float32,
    summed over the channels in order, as ``((x - c) ** 2).sum(axis=1)`` does)."""
    lab_idx = np.empty(len(x), np.int32)
    d2 = np.empty(len(x), np.float32)
    c = centres.astype(np.float32)
    for s in range(0, len(x), chunk):
        xt = np.asarray(x[s:s + chunk], np.float32).T.copy()  # (3, n): contiguous channels
        n = xt.shape[1]
        best = np.full(n, np.inf, np.float32)
        arg = np.zeros(n, np.int32)
        d = np.empty(n, np.float32)
        e = np.empty(n, np.float32)
        for k in range(len(c)):
            np.subtract(xt[0], c[k, 0], out=d)
            np.multiply(d, d, out=d)
            for ch in (1, 2):
                np.subtract(xt[ch], c[k, ch], out=e)
                np.multiply(e, e, out=e)
                d += e
            upd = d < best
            np.copyto(best, d, where=upd)
            arg[upd] = k
        lab_idx[s:s + chunk] = arg
        d2[s:s + chunk] = best
    return lab_idx, d2


def _merge(centres: np.ndarray, weights: np.ndarray, *, max_distance: float, max_count: int | None):
    """Agglomerate centres: merge the closest pair while it is closer than ``max_distance``
    or while there are more than ``max_count`` clusters. Returns (centres, weights, groups)."""
    cs = [c.copy() for c in centres]
    ws = [float(w) for w in weights]
    groups = [[i] for i in range(len(cs))]
    while len(cs) > 1:
        c = np.array(cs)
        d = np.linalg.norm(c[:, None] - c[None], axis=2)
        np.fill_diagonal(d, np.inf)
        i, j = np.unravel_index(np.argmin(d), d.shape)
        too_many = max_count is not None and len(cs) > max_count
        if not (d[i, j] < max_distance or too_many):
            break
        if too_many and not d[i, j] < max_distance:
            # Ward cost: merge the pair whose union adds the least variance (small clusters go first).
            w = np.array(ws)
            cost = (w[:, None] * w[None] / (w[:, None] + w[None] + 1e-12)) * d**2
            i, j = np.unravel_index(np.argmin(cost), cost.shape)
        i, j = min(i, j), max(i, j)
        wi, wj = ws[i], ws[j]
        cs[i] = (cs[i] * wi + cs[j] * wj) / max(wi + wj, 1e-12)
        ws[i] = wi + wj
        groups[i] += groups[j]
        del cs[j], ws[j], groups[j]
    return np.array(cs), np.array(ws), groups


def _refine(x: np.ndarray, centres: np.ndarray, rounds: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd rounds of ``centres`` on the samples ``x``; returns the used centres and their counts."""
    for _ in range(rounds):
        idx, _ = _assign(x, centres)
        new = np.array([x[idx == i].mean(axis=0, dtype=np.float64) if np.any(idx == i) else centres[i] for i in range(len(centres))])
        if np.allclose(new, centres, atol=1e-3):
            break
        centres = new
    idx, _ = _assign(x, centres)
    counts = np.bincount(idx, minlength=len(centres)).astype(np.float64)
    used = counts > 0
    return centres[used], counts[used]


def palette(image: Image, params: ColorParams = ColorParams(), *, use_alpha: bool | None = None) -> tuple[Palette, dict]:
    """The image's palette (background included unless it is transparent) and what was decided.

    Fitted on every pixel of an image up to PALETTE_ALL_PX pixels, on a jittered-grid sample of
    PALETTE_SAMPLE_PX of a larger one (counts are then in sampled pixels: only their ratios matter).
    ``use_alpha`` (``--alpha/--no-alpha``): the transparent part is the background, or is not;
    None: when the alpha channel carries a shape."""
    info: dict = {}
    if use_alpha and image.alpha is None:
        raise InvalidInputError(f"{image.name}: --alpha was asked for but the image has no alpha channel")
    transparent = alpha_carries_shape(image) if use_alpha is None else bool(use_alpha)
    px = _palette_pixels(image, transparent)
    lab, rgb, span2 = px["lab"], px["rgb"], px["span2"]
    opaque = px["opaque"] if px["opaque"] is not None else np.ones(len(lab), bool)
    flat_t = params.flat_delta_e
    flat = (span2 < flat_t**2) & opaque
    if transparent:  # a pixel next to the transparent part is a fringe
        flat &= px["inner"]
    # Noisy images (JPEG, photos): too few flat pixels -> raise the threshold up to 4 times.
    for _ in range(4):
        if flat.sum() >= 0.25 * opaque.sum():
            break
        flat_t *= 1.6
        flat = (span2 < flat_t**2) & opaque
    info["flat_delta_e"] = round(flat_t, 2)
    samples = lab[flat]
    if len(samples) < 16:
        raise EmptyMaskError(f"{image.name}: no area of flat colour found; the image is too noisy or too small "
                             "for --colors")
    rng = np.random.default_rng(0)
    if len(samples) > 120_000:
        samples = samples[rng.choice(len(samples), 120_000, replace=False)]
    k0 = min(params.max_colors + 8, 24)
    if params.colors is not None:
        k0 = max(k0, params.colors + 2)
    centres = _kmeans(samples, k0)
    idx, _ = _assign(samples, centres)
    counts = np.bincount(idx, minlength=len(centres)).astype(np.float64)
    keep = counts > 0
    centres, counts = centres[keep], counts[keep]
    # Drop clusters with almost no pixels (they are fringes that happened to be flat, or noise).
    # "Almost none" is relative to the subject: the page (most of the border, or transparent)
    # would otherwise raise the bar for small colours of a small subject on a large page.
    subject_samples = float(len(samples))
    if not transparent:
        b_idx, _ = _assign(px["border_lab"], centres)
        subject_samples -= counts[int(np.bincount(b_idx, minlength=len(centres)).argmax())]
    min_count = max(4.0, params.min_cluster_fraction * max(subject_samples, 0.05 * len(samples)))
    small = counts < min_count
    if small.all():
        small[np.argmax(counts)] = False
    centres, counts = centres[~small], counts[~small]
    centres, counts, _ = _merge(centres, counts, max_distance=params.merge_delta_e, max_count=None)
    # Refine: every flat pixel to its nearest centre; the colour is the mean sRGB of its flat pixels.
    all_flat_lab = lab[flat]
    all_flat_rgb = rgb[flat]
    centres, counts = _refine(all_flat_lab, centres)
    _, d2 = _assign(all_flat_lab, centres)
    noise = float(np.sqrt(np.percentile(d2, 90)))  # 0 for lossless flat art
    # The refined centres can end up closer than merge_delta_e; and on lossy images the chroma
    # noise of JPEG splits a colour into a big cluster and small satellites a little further away.
    merged, _, _ = _merge(centres, counts, max_distance=params.merge_delta_e, max_count=None)
    if noise > LOSSY_NOISE_DELTA_E:
        merged = absorb_satellites(merged, _refine(all_flat_lab, merged)[1], all_flat_lab,
                                   max_distance=SATELLITE_DISTANCE * params.merge_delta_e,
                                   min_mode_distance=params.merge_delta_e)
    if len(merged) != len(centres):
        centres, counts = _refine(all_flat_lab, merged)
        _, d2 = _assign(all_flat_lab, centres)
        noise = float(np.sqrt(np.percentile(d2, 90)))
    idx, _ = _assign(all_flat_lab, centres)
    mean_rgb = np.array([all_flat_rgb[idx == i].mean(axis=0, dtype=np.float64) for i in range(len(centres))])
    info["noise_delta_e"] = round(noise, 3)
    if len(centres) > params.max_colors + (0 if transparent else 1):
        raise InvalidInputError(f"{image.name}: the image has more than {params.max_colors} distinct flat colours; "
                                "give --colors N to merge them")
    if transparent:
        background = -1
        info["background"] = "transparent"
    else:
        b_idx, _ = _assign(px["border_lab"], centres)
        background = int(np.bincount(b_idx, minlength=len(centres)).argmax())
        info["background"] = hex_color(mean_rgb[background])
    pal = Palette(rgb=mean_rgb, lab=to_lab(mean_rgb).astype(np.float64), background=background, counts=counts)
    info["palette"] = pal.hex
    return pal, info


def _reduce(pal: Palette, n: int) -> tuple[Palette, np.ndarray]:
    """Merge the part's colours (never the background) down to ``n`` (Ward); returns the merged
    palette and the map fine index -> merged index. The fine palette still decides the boundaries."""
    K = len(pal)
    rest = np.array([i for i in range(K) if i != pal.background])
    if len(rest) <= n:
        return pal, np.arange(K)
    _, _, groups = _merge(pal.lab[rest], pal.counts[rest], max_distance=0.0, max_count=n)
    groups = [[int(rest[g]) for g in grp] for grp in groups]
    if pal.background >= 0:
        groups = [[pal.background], *groups]
    lut = np.zeros(K, np.int64)
    means, counts = [], []
    for gi, grp in enumerate(groups):
        lut[grp] = gi
        w = pal.counts[grp]
        means.append((pal.rgb[grp] * w[:, None]).sum(axis=0) / max(w.sum(), 1e-12))
        counts.append(w.sum())
    rgb = np.array(means)
    merged = Palette(rgb=rgb, lab=to_lab(rgb).astype(np.float64), background=0 if pal.background >= 0 else -1,
                     counts=np.array(counts))
    return merged, lut


def _coverage(image: Image, pal: Palette, params: ColorParams, transparent: bool, flat_t: float,
              noise_delta_e: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each source pixel as a mix of at most two palette colours: ``(a, b, t)``, (rows, cols) int8
    (int16 for 127 colours or more) colour indices and float32 fraction of ``b`` (``a == b`` and ``t == 0`` for a single colour).
    :func:`_coverage_channel` turns them into the coverage of one colour.

    Computed on bands of rows (BAND_PX pixels) with a margin of rows the band's result cannot
    depend on (the 3x3 flatness test and the widest search radius), so a large image never holds
    full-size float copies of its RGB, Lab or Y'CbCr values; every pixel gets the same result as
    from the whole image at once."""
    h, w = image.shape
    K = len(pal)
    idx_type = np.int8 if K < 127 else np.int16
    a_lab = np.zeros((h, w), idx_type)
    b_lab = np.zeros((h, w), idx_type)
    t_mix = np.zeros((h, w), np.float32)
    margin = 4 * int(params.fringe_px) + 1
    step = h if h * w <= BAND_PX else max(1, BAND_PX // w)
    alpha = image.alpha if (transparent and image.alpha is not None) else None
    for r0 in range(0, h, step):
        r1 = min(h, r0 + step)
        e0, e1 = max(0, r0 - margin), min(h, r1 + margin)
        a, b, t = _coverage_band(image.rgb_rows(e0, e1), None if alpha is None else alpha[e0:e1], pal, params,
                                 flat_t, noise_delta_e)
        a_lab[r0:r1], b_lab[r0:r1], t_mix[r0:r1] = a[r0 - e0:r1 - e0], b[r0 - e0:r1 - e0], t[r0 - e0:r1 - e0]
    return a_lab, b_lab, t_mix


def _coverage_channel(k: int, K: int, mix: tuple, alpha: np.ndarray | None, rows: slice = slice(None)) -> np.ndarray:
    """Coverage (float32, [0, 1]) of palette colour ``k`` (``k == K``: the transparent part) on
    ``rows`` of the source raster, from the mixes of :func:`_coverage` and the clipped alpha."""
    a_lab, b_lab, t_mix = (m[rows] for m in mix)
    if k == K:
        return (1.0 - alpha[rows]) if alpha is not None else np.zeros(a_lab.shape, np.float32)
    cov = np.zeros(a_lab.shape, np.float32)
    sel = a_lab == k
    cov[sel] = 1.0 - t_mix[sel]
    sel = b_lab == k
    cov[sel] += t_mix[sel]
    if alpha is not None:
        cov *= alpha[rows]
    return cov


def _coverage_band(rgb: np.ndarray, alpha: np.ndarray | None, pal: Palette, params: ColorParams, flat_t: float,
                   noise_delta_e: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_coverage` of one band of rows (``rgb`` float32, ``alpha`` raw or None)."""
    cv2 = load_cv2()
    h, w = rgb.shape[:2]
    K = len(pal)
    lab = to_lab(rgb)
    lab_idx, d2 = _assign(lab.reshape(-1, 3), pal.lab)
    lab_idx, d2 = lab_idx.reshape(h, w), d2.reshape(h, w)
    # Core pixels: close to a palette colour, and flat, or very close (thin strokes have no flat pixel).
    flat = _span2(lab) < flat_t**2
    del lab
    tight = max(4.0, 0.6 * flat_t)
    core = ((d2 < (2.0 * flat_t) ** 2) & flat) | (d2 < tight**2)
    del d2, flat
    if alpha is not None:
        core &= alpha >= 0.5
    # Mixing is linear in sRGB, hence in any linear transform of it: work in Y'CbCr with the chroma
    # weighted down, because JPEG halves the chroma resolution and smears colour across edges
    # while the luma edge stays sharp.
    cw = CHROMA_WEIGHT if noise_delta_e > LOSSY_NOISE_DELTA_E else 1.0  # lossless art: every channel is exact
    m = _YCC * np.array([[1.0], [cw], [cw]], np.float32)
    pix = _per_pixel_transform(rgb, m)
    pal_w = _per_pixel_transform(pal.rgb.astype(np.float32), m)
    best = np.full((h, w), np.inf, np.float32)
    a_lab = np.zeros((h, w), np.int8 if K < 127 else np.int16)
    b_lab = np.zeros((h, w), a_lab.dtype)
    t_mix = np.zeros((h, w), np.float32)
    cores = [(core & (lab_idx == k)).astype(np.uint8) for k in range(K)]
    del core, lab_idx
    r = int(params.fringe_px)
    todo = np.ones((h, w), bool)
    # The colours found within r pixels explain a pixel; a pixel they explain badly (JPEG ringing,
    # blur, a core too far away) looks further (2r, 4r), and finally every colour competes.
    for radius in (r, 2 * r, 4 * r, None):
        if radius is None:
            allowed = np.broadcast_to(todo, (K, h, w))
        else:
            kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * radius + 1, 2 * radius + 1))
            allowed = np.stack([cv2.dilate(c, kernel).astype(bool) & todo for c in cores])
        _mix(pix, pal_w, allowed, best, a_lab, b_lab, t_mix)
        todo = best > MAX_MIX_RESIDUAL**2
        if not todo.any():
            break
    return a_lab, b_lab, t_mix


def _per_pixel_transform(px: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``px @ m.T`` for (..., 3) pixels, summed channel by channel: every pixel's result is the same
    whatever the array's shape, which a BLAS matrix product does not promise (its blocking and
    vector lanes change the rounding), so a band of rows gives the whole image's values."""
    m = np.asarray(m, np.float32)
    return np.stack([px[..., 0] * m[i, 0] + px[..., 1] * m[i, 1] + px[..., 2] * m[i, 2] for i in range(3)], axis=-1)


def _mix(pix, pal_w, allowed, best, a_lab, b_lab, t_mix) -> None:
    """Explain each allowed pixel as one palette colour or a mix of two (in place, keeping the best fit).

    ``best``, ``a_lab``, ``b_lab`` and ``t_mix`` are C-contiguous (rows, cols) arrays, ``pix`` (rows, cols, 3).
    A colour allowed on much of the raster is fitted on the whole of it (no gathering), else on the
    allowed pixels only: the residuals are the same either way."""
    K = len(pal_w)
    pf = pix.reshape(-1, 3)
    bf, af, cf, tf = best.ravel(), a_lab.ravel(), b_lab.ravel(), t_mix.ravel()
    for a in range(K):
        sel = allowed[a]
        n = np.count_nonzero(sel)
        if not n:
            continue
        if 4 * n > sel.size:
            r2 = ((pix - pal_w[a]) ** 2).sum(axis=2)
            upd = sel & (r2 < best)
            best[upd], a_lab[upd], b_lab[upd], t_mix[upd] = r2[upd], a, a, 0.0
            continue
        ii = np.flatnonzero(sel)
        r2 = ((pf[ii] - pal_w[a]) ** 2).sum(axis=1)
        ii, r2 = ii[r2 < bf[ii]], r2[r2 < bf[ii]]
        bf[ii], af[ii], cf[ii], tf[ii] = r2, a, a, 0.0
    for a in range(K):
        for b in range(a + 1, K):
            sel = allowed[a] & allowed[b]
            ii = np.flatnonzero(sel)
            if not len(ii):
                continue
            p = pf[ii]
            ca, cb = pal_w[a], pal_w[b]
            d = cb - ca
            dd = float(d @ d)
            if dd <= 1e-12:
                continue
            t = np.clip(((p - ca) * d).sum(axis=1) / dd, 0.0, 1.0)
            r2 = (((ca + t[:, None] * d) - p) ** 2).sum(axis=1)
            upd = r2 < bf[ii] - 1e-9
            ii = ii[upd]
            bf[ii], af[ii], cf[ii], tf[ii] = r2[upd], a, b, t[upd]


def label_colors(image: Image, *, params: ColorParams = ColorParams(),
                 isolate: IsolateParams = IsolateParams()) -> ColorLabels:
    """Partition the image into colour labels on the working raster (see the module docstring).

    ``isolate`` supplies the working-resolution policy (``upsample``, ``target_px_mm``, ``width_mm``).
    """
    cv2 = load_cv2()
    paper_info: dict = {}
    if not isolate.use_alpha:  # a photographed print: its uneven light and its sensor noise taken out
        image, paper_info = even_photo(image)
    pal, info = palette(image, params, use_alpha=isolate.use_alpha)
    info.update(paper_info)
    transparent = pal.background < 0
    mix = _coverage(image, pal, params, transparent, info["flat_delta_e"], info.get("noise_delta_e", 0.0))
    alpha = np.clip(image.alpha, 0, 1).astype(np.float32) if (transparent and image.alpha is not None) else None
    K = len(pal)
    bg_channel = K if transparent else pal.background
    h, w = mix[0].shape
    # Each source pixel's dominant colour (its channel of highest coverage, the first on a tie),
    # band by band: where the subject is, and which channels cover anything at all.
    sub_rows = np.zeros(h, bool)
    sub_cols = np.zeros(w, bool)
    used = np.zeros(K + 1, bool)
    step = max(1, BAND_PX // max(w, 1))
    for r0 in range(0, h, step):
        band = slice(r0, min(h, r0 + step))
        cov = np.stack([_coverage_channel(k, K, mix, alpha, band) for k in range(K + 1)])
        used |= cov.reshape(K + 1, -1).any(axis=1)
        subject = cov.argmax(axis=0) != bg_channel
        del cov
        sub_rows[band] = subject.any(axis=1)
        sub_cols |= subject.any(axis=0)
    if not sub_rows.any():
        raise EmptyMaskError(f"{image.name}: no subject found: every pixel has the background colour "
                             f"{info.get('background')}")
    rows = np.flatnonzero(sub_rows)
    cols = np.flatnonzero(sub_cols)
    subject_px = float(max(cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1))
    kf = working_factor(subject_px, isolate, h * w)
    if kf > 1 and isolate.upsample is None:  # K coverage fields: round the factor down, not up
        want = (isolate.width_mm or 50.0) / isolate.target_px_mm
        kf = float(min(kf, max(1, round(want / subject_px))))
    crop = (slice(None), slice(None))
    if kf > 1:
        kk = int(round(kf))
        size, interp, scale = (w * kk, h * kk), cv2.INTER_LINEAR, 1.0 / kk
    elif kf < 1:
        d = int(round(1.0 / kf))
        crop = (slice(0, (h // d) * d), slice(0, (w // d) * d))
        size, interp, scale = (w // d, h // d), cv2.INTER_AREA, float(d)
    else:
        size, interp, scale = (w, h), None, 1.0
    best = np.full((size[1], size[0]), -np.inf, np.float32)
    labels = np.zeros((size[1], size[0]), np.int16)
    for k in range(K + 1):
        if not used[k]:
            continue
        f = _coverage_channel(k, K, mix, alpha)[crop]
        if interp is not None:
            f = cv2.resize(np.ascontiguousarray(f), size, interpolation=interp)
        upd = f > best
        best[upd] = f[upd]
        labels[upd] = k
        del f, upd
    del best, mix, alpha
    # Background: the background channel, where connected to the image border through more than a
    # pinch (a corner contact or a gap thinner than NECK_PX source pixels).
    bg = labels == bg_channel
    outside = _outside(bg, max(1, int(round(0.5 * NECK_PX / scale))))
    labels[outside] = BACKGROUND
    enclosed = bg & ~outside
    if enclosed.any() and (transparent or params.enclosed_background == "hole"):
        labels[enclosed] = BACKGROUND
    info["enclosed_background_px"] = round(float(enclosed.sum()) * scale**2, 1)
    if params.colors is not None and len(pal) - (0 if transparent else 1) > params.colors:
        merged, lut = _reduce(pal, params.colors)
        fg = labels != BACKGROUND
        labels[fg] = lut[labels[fg]].astype(np.int16)
        pal = merged
        info["palette"] = pal.hex
    min_work_px = max(1, int(round(params.min_px / scale**2)))
    labels, n_merged = _absorb_specks(labels, min_work_px)
    info["merged_specks"] = n_merged
    present = [int(k) for k in np.unique(labels) if k != BACKGROUND]
    if not present:
        raise EmptyMaskError(f"{image.name}: no subject left after colour quantisation")
    areas = {k: int(np.count_nonzero(labels == k)) for k in present}
    order = tuple(sorted(present, key=lambda k: -areas[k]))
    info.update(working_size=(int(labels.shape[1]), int(labels.shape[0])), working_scale=scale,
                colors=[hex_color(pal.rgb[k]) for k in order])
    return ColorLabels(labels=labels, scale=scale * image.scale, source_size=image.source_size,
                       palette=pal, colors=order, info=info)


def _outside(bg: np.ndarray, r: int) -> np.ndarray:
    """The part of ``bg`` (background-coloured working pixels) that is the page around the subject.

    Connected to the image border is not enough: two squares of a chequer touch the page at
    their corners, and an outline drawn with a hairline gap still encloses what it draws. So the
    page is what a disk of radius ``r`` (working px) can reach from the border without touching
    the subject (an opening by reconstruction), plus the slivers it leaves that touch only the
    page (sharp corners of the page). Everything else of that colour is enclosed by the subject.
    """
    cv2 = load_cv2()
    h, w = bg.shape
    pad = r + 1
    padded = np.pad(bg, pad, constant_values=True).astype(np.uint8)  # the page goes on beyond the image
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    core = cv2.erode(padded, disk)
    n, comp = cv2.connectedComponents(core, connectivity=4)
    seeds = (comp == comp[0, 0]) & (core > 0)  # the frame of padding is one component, the page's
    page = cv2.dilate(seeds.astype(np.uint8), disk).astype(bool)[pad:pad + h, pad:pad + w] & bg
    inner_core = ((core > 0) & ~seeds)[pad:pad + h, pad:pad + w]
    rest = bg & ~page
    if not rest.any():
        return page
    # Pixels of that colour no disk reached: enclosed if they hold an enclosed core (an area of
    # their own) or touch only the subject; slivers beside the page (corners) are the page.
    n, comp = cv2.connectedComponents(rest.astype(np.uint8), connectivity=4)
    has_core = np.zeros(n, bool)
    has_core[np.unique(comp[inner_core & rest])] = True
    near_page = cv2.dilate(page.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    touches = np.zeros(n, bool)
    touches[np.unique(comp[near_page & rest])] = True
    sliver = touches & ~has_core
    sliver[0] = False
    return page | sliver[comp]


def _absorb_specks(labels: np.ndarray, min_px: int) -> tuple[np.ndarray, int]:
    """Give every connected colour region smaller than ``min_px`` working pixels to the colour
    (or background) it borders most. Returns the new labels and how many regions moved."""
    cv2 = load_cv2()
    labels = labels.copy()
    merged = 0
    k3 = np.ones((3, 3), np.uint8)
    h, w = labels.shape
    for _ in range(3):
        moved = 0
        for k in np.unique(labels):
            if k == BACKGROUND:
                continue
            m = (labels == k).astype(np.uint8)
            n, comp, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
            small = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] < min_px) + 1
            for c in small:
                x, y, cw, ch = stats[c, :4]
                x0, y0, x1, y1 = max(0, x - 1), max(0, y - 1), min(w, x + cw + 1), min(h, y + ch + 1)
                sub = comp[y0:y1, x0:x1] == c
                ring = cv2.dilate(sub.astype(np.uint8), k3).astype(bool) & ~sub
                around = labels[y0:y1, x0:x1][ring]
                around = around[around != k]
                if len(around) == 0:
                    continue
                vals, cnt = np.unique(around, return_counts=True)
                labels[y0:y1, x0:x1][sub] = vals[np.argmax(cnt)]
                moved += 1
        merged += moved
        if not moved:
            break
    return labels, merged
